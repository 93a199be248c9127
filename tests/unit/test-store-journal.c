/* tests/unit/test-store-journal.c — the messages users wrote to legacy
 * contacts, kept in the outbox journal beside the database: what a crash
 * leaves is read back (a half-written last record dropped, nothing before
 * it), the file stays bounded, a foreign or locked file is refused, and
 * rows an older version kept in the database move into it once. */
#define _POSIX_C_SOURCE 200809L

#include "registration/store.h"
#include "tests/unit/store-snapshot.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <sys/stat.h>

#define USER "u@example.org"

typedef struct
{
  char *dir;
  char *db;
  char *key;
  char *journal;
  PgStore *store;
} Fixture;

static PgStore *
open_store (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  PgStore *store = pg_store_open (f->db, f->key, &error);
  g_assert_no_error (error);
  return store;
}

static void
set_up (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("pg-test-store-journal-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "purplegate.db", NULL);
  f->key = g_build_filename (f->dir, "purplegate.key", NULL);
  f->journal = g_strconcat (f->db, "-outbox", NULL);
  f->store = open_store (f);
  g_assert_true (pg_store_put_user (f->store, USER, "u", NULL, &error));
  g_assert_no_error (error);
}

static void
tear_down (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  const char *name;

  g_clear_pointer (&f->store, pg_store_free);
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *p = g_build_filename (f->dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (f->dir);
  g_free (f->journal);
  g_free (f->db);
  g_free (f->key);
  g_free (f->dir);
}

static gint64
queue (PgStore *store, const char *body)
{
  g_autoptr (GError) error = NULL;
  PgStoreOutboxItem item = {
    .bare_jid = (char *)USER,
    .direction = PG_OUTBOX_TO_LEGACY,
    .peer = (char *)"bob",
    .body = (char *)body,
    .xmpp_id = (char *)"x1",
    .sender = (char *)USER "/phone",
    .receipt = TRUE,
    .created = 42,
    .expires = 4242,
  };
  gint64 id = pg_store_outbox_add (store, &item, 100000, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static GPtrArray *
rows_of (PgStore *store)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *rows = pg_store_outbox_list (store, USER, PG_OUTBOX_TO_LEGACY, 0, 0, &error);
  g_assert_no_error (error);
  return rows;
}

static const PgStoreOutboxItem *
at (GPtrArray *rows, guint i)
{
  return g_ptr_array_index (rows, i);
}

static gsize
file_size (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (gsize)st.st_size;
}

/* Every field comes back after a crash, in order, without the deleted. */
static void
test_read_back (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 a = queue (f->store, "one");
  gint64 b = queue (f->store, "two ünïcödé <&>\n");
  gint64 c = queue (f->store, "three");

  g_assert_true (pg_store_outbox_delete_of (f->store, USER, PG_OUTBOX_TO_LEGACY, &b, 1, &error));
  g_assert_no_error (error);
  g_autoptr (PgStoreSnapshot) crashed = pg_store_snapshot_open (f->db, f->key);
  g_autoptr (GPtrArray) rows = rows_of (crashed->store);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpint (at (rows, 0)->id, ==, a);
  g_assert_cmpint (at (rows, 1)->id, ==, c);
  g_assert_cmpstr (at (rows, 0)->body, ==, "one");
  g_assert_cmpstr (at (rows, 0)->peer, ==, "bob");
  g_assert_cmpstr (at (rows, 0)->xmpp_id, ==, "x1");
  g_assert_cmpstr (at (rows, 0)->sender, ==, USER "/phone");
  g_assert_true (at (rows, 0)->receipt);
  g_assert_cmpint (at (rows, 0)->created, ==, 42);
  g_assert_cmpint (at (rows, 0)->expires, ==, 4242);
  g_assert_cmpint (at (rows, 0)->direction, ==, PG_OUTBOX_TO_LEGACY);
  /* A deleted id is not given again. */
  g_assert_cmpint (queue (crashed->store, "four"), >, c);
  /* Nobody else may read the messages. */
  GStatBuf st;
  g_assert_cmpint (g_stat (f->journal, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

/* A crash in the middle of a write leaves part of the last record: it is
 * dropped, the ones before it are kept, and writing goes on after them. */
static void
test_torn_tail (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autofree char *whole = NULL;
  gsize size;

  queue (f->store, "kept");
  gsize before = file_size (f->journal);
  queue (f->store, "cut short");
  g_clear_pointer (&f->store, pg_store_free);
  g_assert_true (g_file_get_contents (f->journal, &whole, &size, NULL));
  g_assert_cmpuint (size, >, before + 10);
  for (gsize cut = before + 1; cut < size; cut += (size - before) / 4 + 1)
    {
      g_assert_true (g_file_set_contents_full (f->journal, whole, (gssize)cut, G_FILE_SET_CONTENTS_CONSISTENT,
                                               0600, NULL));
      g_test_expect_message ("pg-store", G_LOG_LEVEL_WARNING, "*dropped the last*1 messages read before*");
      f->store = open_store (f);
      g_test_assert_expected_messages ();
      g_autoptr (GPtrArray) rows = rows_of (f->store);
      g_assert_cmpuint (rows->len, ==, 1);
      g_assert_cmpstr (at (rows, 0)->body, ==, "kept");
      g_assert_cmpuint (file_size (f->journal), ==, before);
      queue (f->store, "after");
      g_clear_pointer (&f->store, pg_store_free);
      f->store = open_store (f);
      g_autoptr (GPtrArray) again = rows_of (f->store);
      g_assert_cmpuint (again->len, ==, 2);
      g_assert_cmpstr (at (again, 1)->body, ==, "after");
      g_clear_pointer (&f->store, pg_store_free);
    }
  /* A flipped byte in the last record: the same. */
  whole[size - 2] ^= 0x20;
  g_assert_true (
      g_file_set_contents_full (f->journal, whole, (gssize)size, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
  g_test_expect_message ("pg-store", G_LOG_LEVEL_WARNING, "*dropped the last*");
  f->store = open_store (f);
  g_test_assert_expected_messages ();
  g_autoptr (GPtrArray) rows = rows_of (f->store);
  g_assert_cmpuint (rows->len, ==, 1);
}

/* Messages come and go all day: the file is rewritten with the live ones
 * when it is mostly deleted rows. */
static void
test_bounded (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = g_strnfill (400, 'x');
  gint64 keep = queue (f->store, "stays");

  for (int i = 0; i < 20000; i++)
    {
      gint64 id = queue (f->store, body);
      g_assert_true (pg_store_outbox_delete (f->store, &id, 1, &error));
      g_assert_no_error (error);
    }
  /* 20,000 × ~500 bytes went through; the file holds about 1 MiB at most. */
  g_assert_cmpuint (file_size (f->journal), <, 2u << 20);
  g_autoptr (PgStoreSnapshot) crashed = pg_store_snapshot_open (f->db, f->key);
  g_autoptr (GPtrArray) rows = rows_of (crashed->store);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpint (at (rows, 0)->id, ==, keep);
  g_assert_cmpint (queue (crashed->store, "next"), >, keep + 20000);
}

static void
test_refused (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  /* Two processes appending would corrupt it. */
  PgStore *second = pg_store_open (f->db, f->key, &error);
  g_assert_null (second);
  g_assert_error (error, PG_STORE_ERROR, PG_STORE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "another purplegate"));
  g_clear_error (&error);

  g_clear_pointer (&f->store, pg_store_free);
  g_assert_true (g_file_set_contents (f->journal, "SQLite format 3", -1, NULL));
  g_assert_null (pg_store_open (f->db, f->key, &error));
  g_assert_error (error, PG_STORE_ERROR, PG_STORE_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, "not a purplegate outbox file"));
}

/* Versions before the journal kept these messages in the database: they
 * move into the journal with their ids, once, and nothing is lost if that
 * is interrupted. */
static void
test_moved_from_database (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  sqlite3 *db;

  g_clear_pointer (&f->store, pg_store_free);
  g_unlink (f->journal);
  g_assert_cmpint (sqlite3_open (f->db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
                                 "INSERT INTO outbox (id, bare_jid, direction, peer, body, xmpp_id, sender,"
                                 " receipt, created, expires) VALUES"
                                 " (7, '" USER "', 'to-legacy', 'bob', 'old one', 'o1', '" USER
                                 "/pc', 1, 5, 50),"
                                 " (9, '" USER "', 'to-user', 'bob', 'to the user', NULL, NULL, 0, 5, 50),"
                                 " (11, '" USER "', 'to-legacy', 'carol', 'old two', NULL, NULL, 0, 6, NULL)",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  sqlite3_close (db);

  g_test_expect_message ("pg-store", G_LOG_LEVEL_MESSAGE, "*moved 2 messages to legacy contacts*");
  f->store = open_store (f);
  g_test_assert_expected_messages ();
  g_autoptr (GPtrArray) rows = rows_of (f->store);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpint (at (rows, 0)->id, ==, 7);
  g_assert_cmpstr (at (rows, 0)->sender, ==, USER "/pc");
  g_assert_cmpint (at (rows, 0)->expires, ==, 50);
  g_assert_cmpint (at (rows, 1)->id, ==, 11);
  g_assert_cmpstr (at (rows, 1)->peer, ==, "carol");
  g_assert_cmpint (at (rows, 1)->expires, ==, 0);
  g_assert_cmpint (pg_store_outbox_count (f->store, USER, PG_OUTBOX_TO_USER, NULL), ==, 1);
  g_assert_cmpint (queue (f->store, "new"), >, 11);

  g_clear_pointer (&f->store, pg_store_free);
  f->store = open_store (f); /* nothing left to move */
  g_autoptr (GPtrArray) again = rows_of (f->store);
  g_assert_cmpuint (again->len, ==, 3);
}

/* A user's deletion takes their queued messages too. */
static void
test_user_deleted (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  queue (f->store, "one");
  queue (f->store, "two");
  g_assert_true (pg_store_delete_user (f->store, USER, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pg_store_outbox_count (f->store, NULL, PG_OUTBOX_TO_LEGACY, NULL), ==, 0);
  g_autoptr (PgStoreSnapshot) crashed = pg_store_snapshot_open (f->db, f->key);
  g_assert_cmpint (pg_store_outbox_count (crashed->store, NULL, PG_OUTBOX_TO_LEGACY, NULL), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/store-journal/read-back", test_read_back);
  ADD ("/store-journal/torn-tail", test_torn_tail);
  ADD ("/store-journal/bounded", test_bounded);
  ADD ("/store-journal/refused", test_refused);
  ADD ("/store-journal/moved-from-database", test_moved_from_database);
  ADD ("/store-journal/user-deleted", test_user_deleted);
  return g_test_run ();
}
