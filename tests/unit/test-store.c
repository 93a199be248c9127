/* tests/unit/test-store.c — the sqlite store: creation, migrations, refusals
 * that leave foreign files untouched, registrations, sealed passwords. */
#define _POSIX_C_SOURCE 200809L

#include "registration/seal.h"
#include "registration/store.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#define CANARY "Sup3rSecretPassw0rd-canary"
#define CANARY2 "An0therSecretPassw0rd-canary"

typedef struct
{
  char *dir;
  char *db;
  char *key;
} Fixture;

static void
fixture_set_up (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("pg-test-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "purplegate.db", NULL);
  f->key = g_build_filename (f->dir, "purplegate.key", NULL);
}

static void
fixture_tear_down (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_free (f->db);
  g_free (f->key);
  g_free (f->dir);
}

static PgStore *
open_store (const char *db, const char *key)
{
  g_autoptr (GError) error = NULL;
  PgStore *store = pg_store_open (db, key, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static void
put_user (PgStore *store, const char *jid, const char *username, const char *password)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (pg_store_put_user (store, jid, username, password, &error));
  g_assert_no_error (error);
}

static void
assert_password (PgStore *store, const char *jid, const char *expected)
{
  g_autoptr (GError) error = NULL;
  char *password = pg_store_dup_password (store, jid, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, expected);
  pg_seal_free_secret (password);
}

static void
assert_username (PgStore *store, const char *jid, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PgStoreUser) user = pg_store_get_user (store, jid, &error);

  g_assert_no_error (error);
  g_assert_nonnull (user);
  g_assert_cmpstr (user->bare_jid, ==, jid);
  g_assert_cmpstr (user->username, ==, expected);
}

static gint64
count_users (PgStore *store)
{
  g_autoptr (GError) error = NULL;
  gint64 n = pg_store_count_users (store, &error);

  g_assert_no_error (error);
  return n;
}

/* Runs constant @sql on @path with a plain sqlite connection. */
static void
raw_exec (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  char *message = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}

/* SHA-256 of @path's bytes, or NULL when it does not exist. */
static char *
checksum (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *)contents, len);
}

static int
file_mode (const char *path)
{
  struct stat st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

/* Whether @path (absent counts as no) holds @needle anywhere in its bytes. */
static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *contents = NULL;
  gsize len;
  gsize needle_len = strlen (needle);

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return FALSE;
  for (gsize i = 0; i + needle_len <= len; i++)
    if (memcmp (contents + i, needle, needle_len) == 0)
      return TRUE;
  return FALSE;
}

static void
assert_refused (Fixture *f, const char *key, PgStoreError code)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *before = checksum (f->db);
  g_autofree char *after = NULL;
  g_autoptr (PgStore) store = pg_store_open (f->db, key, &error);

  g_assert_null (store);
  g_assert_error (error, PG_STORE_ERROR, (int)code);
  g_assert_nonnull (strstr (error->message, f->db));
  g_test_message ("refused: %s", error->message);
  after = checksum (f->db);
  g_assert_cmpstr (before, ==, after);
}

static void
test_create (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = NULL;
  g_autoptr (GPtrArray) jids = NULL;
  g_autofree char *wal = g_strconcat (f->db, "-wal", NULL);
  g_autofree char *shm = g_strconcat (f->db, "-shm", NULL);
  g_autofree char *outbox = g_strconcat (f->db, "-outbox", NULL);
  mode_t old_umask;

  /* Private whatever the process umask. */
  old_umask = umask (0);
  store = open_store (f->db, f->key);
  umask (old_umask);
  g_assert_cmpint (pg_store_get_schema_version (store), ==, PG_STORE_SCHEMA_VERSION);
  g_assert_cmpint (pg_store_get_schema_version (store), ==, PG_STORE_SCHEMA_VERSION);
  g_assert_cmpint (count_users (store), ==, 0);
  jids = pg_store_list_users (store, NULL);
  g_assert_cmpuint (jids->len, ==, 0);

  put_user (store, "user@example.org", "user", "pw");
  g_assert_cmpint (file_mode (f->db), ==, 0600);
  g_assert_cmpint (file_mode (f->key), ==, 0600);
  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
  g_assert_cmpint (file_mode (wal) & 077, ==, 0);
  g_assert_cmpint (file_mode (shm) & 077, ==, 0);
  g_assert_cmpint (file_mode (outbox), ==, 0600);
}

static void
test_reopen (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autoptr (PgStore) again = NULL;

  put_user (store, "a@example.org", "alice", "pw-a");
  put_user (store, "b@example.org", "bob", NULL);
  g_clear_pointer (&store, pg_store_free);

  again = open_store (f->db, f->key);
  g_assert_cmpint (pg_store_get_schema_version (again), ==, PG_STORE_SCHEMA_VERSION);
  g_assert_cmpint (count_users (again), ==, 2);
  assert_username (again, "a@example.org", "alice");
  assert_password (again, "a@example.org", "pw-a");
  assert_password (again, "b@example.org", NULL);
}

static void
test_fix_mode (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);

  put_user (store, "a@example.org", "alice", "pw-a");
  g_clear_pointer (&store, pg_store_free);

  g_assert_cmpint (g_chmod (f->db, 0644), ==, 0);
  g_test_expect_message ("pg-store", G_LOG_LEVEL_WARNING, "*had mode 0644*");
  store = open_store (f->db, f->key);
  g_test_assert_expected_messages ();
  g_assert_cmpint (file_mode (f->db), ==, 0600);
  assert_password (store, "a@example.org", "pw-a");
}

static const char *const version_0_files[] = {
  NULL,                                                         /* no file at all */
  "",                                                           /* sqlite3_open + nothing */
  "SELECT 1;",                                                  /* a no-op statement */
  "PRAGMA user_version = 0; CREATE TABLE t (x); DROP TABLE t;", /* a header, no tables */
};

static void
test_migrate_0 (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  for (gsize i = 0; i < G_N_ELEMENTS (version_0_files); i++)
    {
      g_autoptr (PgStore) store = NULL;

      g_test_message ("version 0 file: %s", version_0_files[i] ? version_0_files[i] : "none");
      if (version_0_files[i] != NULL)
        {
          raw_exec (f->db, version_0_files[i]);
          g_assert_true (g_file_test (f->db, G_FILE_TEST_IS_REGULAR));
          g_assert_cmpint (g_chmod (f->db, 0600), ==, 0);
        }
      store = open_store (f->db, f->key);
      g_assert_cmpint (pg_store_get_schema_version (store), ==, PG_STORE_SCHEMA_VERSION);
      put_user (store, "a@example.org", "alice", "pw-a");
      assert_password (store, "a@example.org", "pw-a");
      g_clear_pointer (&store, pg_store_free);
      g_assert_cmpint (g_unlink (f->db), ==, 0);
    }
}

static void
test_refuse_foreign (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  raw_exec (f->db, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);"
                   "INSERT INTO accounts (name) VALUES ('someone');");
  g_assert_cmpint (g_chmod (f->db, 0600), ==, 0);
  assert_refused (f, f->key, PG_STORE_ERROR_SCHEMA);
  /* Nothing was created for it either. */
  g_assert_false (g_file_test (f->key, G_FILE_TEST_EXISTS));
}

static void
test_refuse_not_database (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GString) text = g_string_new (NULL);

  for (int i = 0; i < 200; i++)
    g_string_append (text, "this is a text file, not an sqlite database\n");
  g_assert_true (
      g_file_set_contents_full (f->db, text->str, (gssize)text->len, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  assert_refused (f, f->key, PG_STORE_ERROR_OPEN);
  g_assert_false (g_file_test (f->key, G_FILE_TEST_EXISTS));
}

static const struct
{
  const char *name;
  const char *sql;
} damaged[] = {
  { "newer", "UPDATE schema_version SET version = version + 1;" },
  { "much-newer", "UPDATE schema_version SET version = 1000000;" },
  { "two-rows", "INSERT INTO schema_version (version) VALUES (1);" },
  { "no-row", "DELETE FROM schema_version;" },
  { "not-integer", "UPDATE schema_version SET version = 'one';" },
  { "no-key-check", "DELETE FROM meta;" },
};

static void
test_refuse_schema (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  for (gsize i = 0; i < G_N_ELEMENTS (damaged); i++)
    {
      g_autoptr (PgStore) store = open_store (f->db, f->key);

      g_test_message ("damaged schema: %s", damaged[i].name);
      put_user (store, "a@example.org", "alice", "pw-a");
      g_clear_pointer (&store, pg_store_free);
      raw_exec (f->db, damaged[i].sql);
      assert_refused (f, f->key, PG_STORE_ERROR_SCHEMA);
      g_assert_cmpint (g_unlink (f->db), ==, 0);
    }
}

static void
test_refuse_wrong_key (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autofree char *other = g_build_filename (f->dir, "other.key", NULL);
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autoptr (GError) error = NULL;

  put_user (store, "a@example.org", "alice", "pw-a");
  g_clear_pointer (&store, pg_store_free);
  pg_seal_key_free (pg_seal_key_load (other, &error));
  g_assert_no_error (error);

  assert_refused (f, other, PG_STORE_ERROR_WRONG_KEY);
  store = pg_store_open (f->db, other, &error);
  g_assert_error (error, PG_STORE_ERROR, PG_STORE_ERROR_WRONG_KEY);
  g_assert_nonnull (strstr (error->message, other));
  g_assert_nonnull (strstr (error->message, f->db));
  g_assert_null (store);

  /* The right key still opens it, with everything in place. */
  store = open_store (f->db, f->key);
  assert_password (store, "a@example.org", "pw-a");
}

static void
test_refuse_missing_key (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);

  put_user (store, "a@example.org", "alice", "pw-a");
  g_clear_pointer (&store, pg_store_free);
  g_assert_cmpint (g_unlink (f->key), ==, 0);

  assert_refused (f, f->key, PG_STORE_ERROR_WRONG_KEY);
  /* No fresh key was made up in its place. */
  g_assert_false (g_file_test (f->key, G_FILE_TEST_EXISTS));
}

static void
test_users (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  static const char *const sorted[] = { "a@example.org", "b@example.org", "c@example.org" };
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autoptr (GPtrArray) jids = NULL;
  g_autoptr (PgStoreUser) user = NULL;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gboolean existed = FALSE;
  char *password;

  put_user (store, "c@example.org", "carol", "pw-c");
  put_user (store, "a@example.org", "alice", "pw-a");
  put_user (store, "b@example.org", "bob", "pw-b");
  g_assert_cmpint (count_users (store), ==, 3);
  jids = pg_store_list_users (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (jids->len, ==, G_N_ELEMENTS (sorted));
  for (guint i = 0; i < jids->len; i++)
    g_assert_cmpstr (g_ptr_array_index (jids, i), ==, sorted[i]);

  user = pg_store_get_user (store, "b@example.org", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (user->username, ==, "bob");
  g_assert_cmpint (user->created, >=, now - 5);
  g_assert_cmpint (user->created, <=, now + 5);
  assert_password (store, "b@example.org", "pw-b");

  g_assert_true (pg_store_delete_user (store, "b@example.org", &existed, &error));
  g_assert_no_error (error);
  g_assert_true (existed);
  g_assert_true (pg_store_delete_user (store, "b@example.org", &existed, &error));
  g_assert_no_error (error);
  g_assert_false (existed);
  g_assert_true (pg_store_delete_user (store, "nobody@example.org", NULL, &error));
  g_assert_no_error (error);

  /* Not registered: NULL without an error. */
  g_clear_pointer (&user, pg_store_user_free);
  user = pg_store_get_user (store, "b@example.org", &error);
  g_assert_no_error (error);
  g_assert_null (user);
  password = pg_store_dup_password (store, "b@example.org", &error);
  g_assert_no_error (error);
  g_assert_null (password);
  g_assert_cmpint (count_users (store), ==, 2);
  assert_password (store, "a@example.org", "pw-a");
  assert_password (store, "c@example.org", "pw-c");
}

static void
test_reregister (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autoptr (PgStoreUser) before = NULL;
  g_autoptr (PgStoreUser) after = NULL;

  put_user (store, "a@example.org", "alice", "old-pw");
  before = pg_store_get_user (store, "a@example.org", NULL);
  put_user (store, "a@example.org", "alice2", "new-pw");
  after = pg_store_get_user (store, "a@example.org", NULL);
  g_assert_cmpstr (after->username, ==, "alice2");
  g_assert_cmpint (after->created, ==, before->created);
  assert_password (store, "a@example.org", "new-pw");
  g_assert_cmpint (count_users (store), ==, 1);
}

static void
test_keep_password (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);

  put_user (store, "a@example.org", "alice", "pw-a");
  put_user (store, "a@example.org", "alice-renamed", NULL);
  assert_username (store, "a@example.org", "alice-renamed");
  assert_password (store, "a@example.org", "pw-a");

  /* A new user without a password has none. */
  put_user (store, "b@example.org", "bob", NULL);
  assert_username (store, "b@example.org", "bob");
  assert_password (store, "b@example.org", NULL);
  put_user (store, "b@example.org", "bob", "pw-b");
  assert_password (store, "b@example.org", "pw-b");
}

static void
test_injection (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  static const char *const jids[] = {
    "robert'); DROP TABLE users;--@example.org",
    "x' OR '1'='1@example.org",
    "\"; DELETE FROM users; --@example.org",
    "%@example.org",
    "_@example.org",
    "a\\27b@example.org",
    "?1@example.org",
  };
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autoptr (GPtrArray) listed = NULL;
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (jids); i++)
    put_user (store, jids[i], jids[i], jids[i]);
  g_assert_cmpint (count_users (store), ==, G_N_ELEMENTS (jids));
  for (gsize i = 0; i < G_N_ELEMENTS (jids); i++)
    {
      assert_username (store, jids[i], jids[i]);
      assert_password (store, jids[i], jids[i]);
    }
  listed = pg_store_list_users (store, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (jids); i++)
    g_assert_true (g_ptr_array_find_with_equal_func (listed, jids[i], g_str_equal, NULL));
  g_assert_null (pg_store_get_user (store, "%", &error));
  g_assert_no_error (error);

  g_assert_true (pg_store_delete_user (store, jids[1], NULL, &error));
  g_assert_cmpint (count_users (store), ==, G_N_ELEMENTS (jids) - 1);
}

static void
test_no_plaintext (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  static const char *const suffixes[] = { "", "-wal", "-shm", "-journal", "-outbox" };
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autofree char *wal = g_strconcat (f->db, "-wal", NULL);

  put_user (store, "a@example.org", "Us3rname-canary", CANARY);
  /* While open, the row lives in the WAL file: the scan does find its
   * (unsealed) username there, and not the password. */
  g_assert_true (file_contains (wal, "Us3rname-canary"));
  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *path = g_strconcat (f->db, suffixes[i], NULL);
      g_assert_false (file_contains (path, CANARY));
    }
  put_user (store, "a@example.org", "Us3rname-canary", CANARY2);
  put_user (store, "b@example.org", "bob", CANARY);
  g_assert_true (pg_store_delete_user (store, "b@example.org", NULL, NULL));
  assert_password (store, "a@example.org", CANARY2);
  g_clear_pointer (&store, pg_store_free);

  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *path = g_strconcat (f->db, suffixes[i], NULL);
      g_assert_false (file_contains (path, CANARY));
      g_assert_false (file_contains (path, CANARY2));
    }
  /* The scan would see it: the row itself is in the file. */
  g_assert_true (file_contains (f->db, "Us3rname-canary"));
}

static void
test_bound_to_row (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autoptr (GError) error = NULL;
  char *password;

  put_user (store, "a@example.org", "alice", "pw-a");
  put_user (store, "b@example.org", "bob", NULL);
  g_clear_pointer (&store, pg_store_free);
  /* Alice's sealed password copied onto Bob's row does not open for Bob. */
  raw_exec (f->db, "UPDATE users SET password = (SELECT password FROM users"
                   " WHERE bare_jid = 'a@example.org') WHERE bare_jid = 'b@example.org';");

  store = open_store (f->db, f->key);
  password = pg_store_dup_password (store, "b@example.org", &error);
  g_assert_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_AUTH_FAILED);
  g_assert_nonnull (strstr (error->message, "b@example.org"));
  g_assert_null (password);
  assert_password (store, "a@example.org", "pw-a");
}

static void
test_settings (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autoptr (GError) error = NULL;

  put_user (store, "a@example.org", "alice", "pw-a");
  put_user (store, "b@example.org", "bob", "pw-b");
  /* Never stored: no value, and boolean settings are on. */
  g_assert_null (pg_store_dup_setting (store, "a@example.org", PG_SETTING_TYPING, &error));
  g_assert_no_error (error);
  g_assert_true (pg_store_setting_enabled (store, "a@example.org", PG_SETTING_TYPING));

  g_assert_true (pg_store_put_setting (store, "a@example.org", PG_SETTING_TYPING, "false", &error));
  g_assert_true (pg_store_put_setting (store, "a@example.org", PG_SETTING_RECEIPTS, "false", &error));
  g_assert_true (pg_store_put_setting (store, "a@example.org", PG_SETTING_RECEIPTS, "true", &error));
  g_assert_true (pg_store_put_setting (store, "b@example.org", PG_SETTING_TYPING, "false", &error));
  g_assert_no_error (error);
  g_assert_false (pg_store_setting_enabled (store, "a@example.org", PG_SETTING_TYPING));
  g_assert_true (pg_store_setting_enabled (store, "a@example.org", PG_SETTING_RECEIPTS));
  g_autofree char *value = pg_store_dup_setting (store, "a@example.org", PG_SETTING_RECEIPTS, &error);
  g_assert_cmpstr (value, ==, "true");

  /* Only for registered users, and gone with them. */
  g_assert_false (pg_store_put_setting (store, "c@example.org", PG_SETTING_TYPING, "false", &error));
  g_assert_error (error, PG_STORE_ERROR, PG_STORE_ERROR_IO);
  g_clear_error (&error);
  g_assert_true (pg_store_delete_user (store, "a@example.org", NULL, &error));
  put_user (store, "a@example.org", "alice", "pw-a");
  g_assert_true (pg_store_setting_enabled (store, "a@example.org", PG_SETTING_TYPING));
  g_assert_false (pg_store_setting_enabled (store, "b@example.org", PG_SETTING_TYPING));
}

/* A database of schema 2 (before settings, pending contacts and the outbox)
 * keeps its users and contacts through migrations 3, 4 and 5. */
static void
test_migrate_2 (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  put_user (store, "a@example.org", "alice", "pw-a");
  g_assert_true (pg_store_put_contact (store, "a@example.org", "bob", "Bob", NULL));
  g_clear_pointer (&store, pg_store_free);
  raw_exec (f->db, "DROP TABLE room_backlog; DROP TABLE rooms; DROP TABLE outbox; DROP TABLE settings;"
                   " ALTER TABLE contacts DROP COLUMN pending_add; UPDATE schema_version SET version = 2;");

  store = open_store (f->db, f->key);
  g_assert_cmpint (pg_store_get_schema_version (store), ==, PG_STORE_SCHEMA_VERSION);
  assert_password (store, "a@example.org", "pw-a");
  g_assert_true (pg_store_put_setting (store, "a@example.org", PG_SETTING_TYPING, "false", NULL));
  g_assert_false (pg_store_setting_enabled (store, "a@example.org", PG_SETTING_TYPING));

  g_autoptr (GPtrArray) contacts = pg_store_list_contacts (store, "a@example.org", NULL);
  g_assert_cmpuint (contacts->len, ==, 1);
  PgStoreContact *bob = g_ptr_array_index (contacts, 0);
  g_assert_cmpstr (bob->alias, ==, "Bob");
  g_assert_false (bob->pending_add);
  g_assert_true (pg_store_set_contact_pending (store, "a@example.org", "bob", TRUE, NULL));
  g_autoptr (GPtrArray) again = pg_store_list_contacts (store, "a@example.org", NULL);
  g_assert_true (((PgStoreContact *)g_ptr_array_index (again, 0))->pending_add);
  g_assert_cmpint (pg_store_outbox_count (store, "a@example.org", PG_OUTBOX_TO_USER, NULL), ==, 0);
  g_assert_true (pg_store_put_room (store, "a@example.org", "#x@gw", "#x", "alice", NULL));
}

/* Rooms of logins that stay connected and their backlogs: trimmed to the
 * newest and the young enough as each message goes in, gone with the room
 * and with the user. */
static void
test_rooms_backlog (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgStore) store = open_store (f->db, f->key);
  g_autoptr (GError) error = NULL;
  put_user (store, "a@example.org", "alice", "pw-a");
  put_user (store, "b@example.org", "bob", "pw-b");

  g_assert_true (pg_store_put_room (store, "a@example.org", "#x@gw", "#x", "alice", &error));
  g_assert_true (pg_store_put_room (store, "a@example.org", "#x@gw", "#x", "alice2", &error));
  g_assert_true (pg_store_put_room (store, "b@example.org", "#y@gw", "#y", "bob", &error));
  g_autoptr (GPtrArray) rooms = pg_store_list_rooms (store, "a@example.org", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rooms->len, ==, 1);
  g_assert_cmpstr (((PgStoreRoom *)g_ptr_array_index (rooms, 0))->nick, ==, "alice2");

  /* Five messages one second apart, at most three kept, none older than
   * the second. */
  for (gint64 i = 1; i <= 5; i++)
    {
      g_autofree char *body = g_strdup_printf ("m%" G_GINT64_FORMAT, i);
      PgStoreBacklogEntry entry
          = { .id = NULL, .nick = (char *)"n", .body = body, .stamp_us = i * G_USEC_PER_SEC };
      g_assert_true (
          pg_store_backlog_add (store, "a@example.org", "#x@gw", &entry, 3, 2 * G_USEC_PER_SEC, &error));
    }
  PgStoreBacklogEntry other = { .id = (char *)"i", .nick = NULL, .body = (char *)"other", .stamp_us = 9 };
  g_assert_true (pg_store_backlog_add (store, "b@example.org", "#y@gw", &other, 3, 0, &error));
  g_autoptr (GPtrArray) kept = pg_store_backlog_list (store, "a@example.org", "#x@gw", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (kept->len, ==, 3);
  g_assert_cmpstr (((PgStoreBacklogEntry *)g_ptr_array_index (kept, 0))->body, ==, "m3");
  g_assert_cmpstr (((PgStoreBacklogEntry *)g_ptr_array_index (kept, 2))->body, ==, "m5");
  g_assert_cmpint (((PgStoreBacklogEntry *)g_ptr_array_index (kept, 2))->stamp_us, ==, 5 * G_USEC_PER_SEC);
  g_assert_null (((PgStoreBacklogEntry *)g_ptr_array_index (kept, 0))->id);

  /* An age bound alone trims too. */
  PgStoreBacklogEntry late = { .nick = (char *)"n", .body = (char *)"m6", .stamp_us = 6 * G_USEC_PER_SEC };
  g_assert_true (
      pg_store_backlog_add (store, "a@example.org", "#x@gw", &late, 10, 5 * G_USEC_PER_SEC, &error));
  g_clear_pointer (&kept, g_ptr_array_unref);
  kept = pg_store_backlog_list (store, "a@example.org", "#x@gw", &error);
  g_assert_cmpuint (kept->len, ==, 2);

  g_assert_true (pg_store_delete_room (store, "a@example.org", "#x@gw", &error));
  g_clear_pointer (&kept, g_ptr_array_unref);
  kept = pg_store_backlog_list (store, "a@example.org", "#x@gw", &error);
  g_assert_cmpuint (kept->len, ==, 0);
  g_clear_pointer (&rooms, g_ptr_array_unref);
  rooms = pg_store_list_rooms (store, "a@example.org", &error);
  g_assert_cmpuint (rooms->len, ==, 0);

  /* Deleting the user deletes theirs; the other user's stay. */
  g_assert_true (pg_store_delete_user (store, "b@example.org", NULL, &error));
  g_clear_pointer (&kept, g_ptr_array_unref);
  kept = pg_store_backlog_list (store, "b@example.org", "#y@gw", &error);
  g_assert_cmpuint (kept->len, ==, 0);
  g_clear_pointer (&rooms, g_ptr_array_unref);
  rooms = pg_store_list_rooms (store, "b@example.org", &error);
  g_assert_cmpuint (rooms->len, ==, 0);
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/store/create/new", test_create);
  ADD ("/store/create/reopen", test_reopen);
  ADD ("/store/create/fix-mode", test_fix_mode);
  ADD ("/store/migrate/from-version-0", test_migrate_0);
  ADD ("/store/migrate/from-version-2", test_migrate_2);
  ADD ("/store/settings/put-get-cascade", test_settings);
  ADD ("/store/refuse/foreign", test_refuse_foreign);
  ADD ("/store/refuse/not-a-database", test_refuse_not_database);
  ADD ("/store/refuse/schema", test_refuse_schema);
  ADD ("/store/refuse/wrong-key", test_refuse_wrong_key);
  ADD ("/store/refuse/missing-key", test_refuse_missing_key);
  ADD ("/store/users/crud", test_users);
  ADD ("/store/users/reregister", test_reregister);
  ADD ("/store/users/keep-password", test_keep_password);
  ADD ("/store/users/injection", test_injection);
  ADD ("/store/sealed/no-plaintext", test_no_plaintext);
  ADD ("/store/sealed/bound-to-row", test_bound_to_row);
  ADD ("/store/rooms/backlog", test_rooms_backlog);
#undef ADD

  return g_test_run ();
}
