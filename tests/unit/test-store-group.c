/* tests/unit/test-store-group.c — the group commit of the outbox: what a
 * pass queues or deletes is written at the end of the pass, before its
 * output; another kind of change writes it first; a pass whose write fails
 * is written by the next, and its ids are never given again. */
#define _POSIX_C_SOURCE 200809L

#include "registration/store.h"
#include "tests/unit/store-snapshot.h"
#include "transport/pass-end.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/resource.h>

#define USER "u@example.org"

typedef struct
{
  char *dir;
  char *path;
  char *key;
  PgStore *store;
} Fixture;

static void
fixture_set_up (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("pg-test-store-group-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "purplegate.db", NULL);
  f->key = g_build_filename (f->dir, "purplegate.key", NULL);
  f->store = pg_store_open (f->path, f->key, &error);
  g_assert_no_error (error);
  g_assert_true (pg_store_put_user (f->store, USER, "u", NULL, &error));
  g_assert_no_error (error);
  pg_store_group_enable (f->store);
}

static void
fixture_tear_down (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  const char *name;

  pg_store_free (f->store);
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *p = g_build_filename (f->dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->key);
  g_free (f->dir);
}

/* Messages of the outbox a restart would find. */
static int
committed_rows (Fixture *f)
{
  g_autoptr (PgStoreSnapshot) other = pg_store_snapshot_open (f->path, f->key);
  return (int)(pg_store_outbox_count (other->store, USER, PG_OUTBOX_TO_USER, NULL)
               + pg_store_outbox_count (other->store, USER, PG_OUTBOX_TO_LEGACY, NULL));
}

static gint64
queue (Fixture *f, PgOutboxDirection direction, const char *body)
{
  g_autoptr (GError) error = NULL;
  PgStoreOutboxItem item = {
    .bare_jid = (char *)USER,
    .direction = direction,
    .peer = (char *)"bob",
    .body = (char *)body,
    .created = 1,
  };
  gint64 id = pg_store_outbox_add (f->store, &item, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

/* One pass of the main loop ends: pass-end sources run before it polls. */
static void
end_pass (void)
{
  g_main_context_iteration (NULL, FALSE);
}

static void
test_commit_at_pass_end (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  gint64 a = queue (f, PG_OUTBOX_TO_LEGACY, "one");
  gint64 b = queue (f, PG_OUTBOX_TO_LEGACY, "two");

  g_assert_cmpint (b, >, a);
  /* The store's own connection reads its group. */
  g_assert_cmpint (pg_store_outbox_count (f->store, USER, PG_OUTBOX_TO_LEGACY, NULL), ==, 2);
  g_assert_cmpint (committed_rows (f), ==, 0);
  end_pass ();
  g_assert_cmpint (committed_rows (f), ==, 2);

  gint64 ids[] = { a, b };
  g_autoptr (GError) error = NULL;
  g_assert_true (pg_store_outbox_delete (f->store, ids, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (committed_rows (f), ==, 2);
  end_pass ();
  g_assert_cmpint (committed_rows (f), ==, 1);
}

typedef struct
{
  Fixture *f;
  int seen; /* rows committed when the pass's output was written, -1: not yet */
} Output;

static void
write_output (gpointer data)
{
  Output *out = data;
  if (out->seen < 0)
    out->seen = committed_rows (out->f);
}

/* Output written at the end of a pass (a stanza, a frame to a worker) leaves
 * after the pass's changes are committed, whichever source came first. */
static void
test_commit_before_output (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  Output out = { f, -1 };
  GSource *writer = pg_pass_end_add (PG_PASS_END_WRITE, write_output, &out);

  pg_store_free (f->store);
  g_autoptr (GError) error = NULL;
  f->store = pg_store_open (f->path, f->key, &error);
  g_assert_no_error (error);
  pg_store_group_enable (f->store); /* attached after the writer */
  queue (f, PG_OUTBOX_TO_LEGACY, "one");
  end_pass ();
  g_assert_cmpint (out.seen, ==, 1);
  g_source_destroy (writer);
  g_source_unref (writer);
}

static void
test_other_changes_commit_first (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  queue (f, PG_OUTBOX_TO_LEGACY, "one");
  g_assert_cmpint (committed_rows (f), ==, 0);
  /* A setting is a transaction of its own, and the group goes first. */
  g_assert_true (pg_store_put_setting (f->store, USER, "receipts", "false", &error));
  g_assert_no_error (error);
  g_assert_cmpint (committed_rows (f), ==, 1);

  /* A message to a user is never grouped: the caller keeps it on failure. */
  queue (f, PG_OUTBOX_TO_USER, "to the user");
  g_assert_cmpint (committed_rows (f), ==, 2);
}

static void
test_full_refused_in_group (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PgStoreOutboxItem item = {
    .bare_jid = (char *)USER,
    .direction = PG_OUTBOX_TO_LEGACY,
    .peer = (char *)"bob",
    .body = (char *)"x",
    .created = 1,
  };

  g_assert_cmpint (pg_store_outbox_add (f->store, &item, 1, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpint (pg_store_outbox_add (f->store, &item, 1, &error), ==, 0);
  g_assert_error (error, PG_STORE_ERROR, PG_STORE_ERROR_FULL);
  end_pass ();
  /* The refused one undid itself only. */
  g_assert_cmpint (committed_rows (f), ==, 1);
}

/* A pass whose write fails (disk full) keeps its messages in memory, where
 * they are being delivered: the next write that succeeds stores them, and
 * their ids are never given again. */
static void
test_failed_write_caught_up (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  struct rlimit old, tight;
  g_autofree char *journal = g_strconcat (f->path, "-outbox", NULL);
  GStatBuf st;

  gint64 first = queue (f, PG_OUTBOX_TO_LEGACY, "committed");
  end_pass ();
  gint64 lost = queue (f, PG_OUTBOX_TO_LEGACY, "in the failed pass");
  g_assert_cmpint (lost, >, first);

  /* The pass appends to the journal: past the file size limit, it fails. */
  g_assert_cmpint (g_stat (journal, &st), ==, 0);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &old), ==, 0);
  tight = old;
  tight.rlim_cur = (rlim_t)st.st_size;
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &tight), ==, 0);
  g_test_expect_message ("pg-store", G_LOG_LEVEL_WARNING, "*cannot write the outbox changes of a pass*");
  end_pass ();
  g_test_assert_expected_messages ();
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &old), ==, 0);
  g_assert_cmpint (committed_rows (f), ==, 1);
  g_assert_cmpint (pg_store_outbox_count (f->store, USER, PG_OUTBOX_TO_LEGACY, NULL), ==, 2);

  /* The next pass writes the whole journal again. */
  gint64 next = queue (f, PG_OUTBOX_TO_LEGACY, "after the failure");
  g_assert_cmpint (next, >, lost);
  end_pass ();
  g_assert_cmpint (committed_rows (f), ==, 3);
  g_autoptr (GError) error = NULL;
  gint64 ids[] = { first, next };
  g_assert_true (pg_store_outbox_delete (f->store, ids, 2, &error));
  g_assert_no_error (error);
  end_pass ();
  g_assert_cmpint (committed_rows (f), ==, 1);
  g_assert_cmpint (queue (f, PG_OUTBOX_TO_USER, "to the user"), >, next);

  /* A restart gives ids above all of them too. */
  g_autoptr (PgStoreSnapshot) restarted = pg_store_snapshot_open (f->path, f->key);
  PgStoreOutboxItem item = {
    .bare_jid = (char *)USER,
    .direction = PG_OUTBOX_TO_LEGACY,
    .peer = (char *)"bob",
    .body = (char *)"after the restart",
    .created = 1,
  };
  g_assert_cmpint (pg_store_outbox_add (restarted->store, &item, 100, &error), >, next + 1);
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/store-group/commit-at-pass-end", test_commit_at_pass_end);
  ADD ("/store-group/commit-before-output", test_commit_before_output);
  ADD ("/store-group/other-changes-commit-first", test_other_changes_commit_first);
  ADD ("/store-group/full-refused-in-group", test_full_refused_in_group);
  ADD ("/store-group/failed-write-caught-up", test_failed_write_caught_up);
  return g_test_run ();
}
