/* registration/store.c — the sqlite store of registrations.
 *
 * Opening never writes to a file that is not ours: the file is first read in
 * one read transaction (not a database, a foreign database, a newer schema, a
 * key file that does not match), and only then switched to WAL and migrated.
 * Passwords are sealed with the owner's bare JID as associated data
 * (registration/seal.h), so the file never holds a plaintext password. */
#define G_LOG_DOMAIN "pg-store"
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC under -std=c11 */

#include "registration/store.h"

#include "registration/seal.h"
#include "registration/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 2000
/* A constant sealed under the key when the database is created: opening it
 * proves that the key file given is the one the passwords were sealed with. */
#define KEY_CHECK_AAD "purplegate-key-check"
#define KEY_CHECK_TEXT "purplegate key check"

G_DEFINE_QUARK (pg - store - error - quark, pg_store_error)

/* Schema migrations. Entry N takes the database from version N-1 to N in one
 * transaction, and its last statement sets schema_version.version to N. Never
 * edit a shipped migration: append one and raise PG_STORE_SCHEMA_VERSION.
 *
 * 0: a file with no schema objects at all (new, or an empty database).
 * 1: schema_version(version) — exactly one row;
 *    users(bare_jid TEXT PRIMARY KEY, username TEXT NOT NULL,
 *          password BLOB — sealed, or NULL —, created INTEGER NOT NULL — unix s);
 *    meta(key TEXT PRIMARY KEY, value BLOB), holding 'key_check': KEY_CHECK_TEXT
 *    sealed under the key file (written by write_key_check()).
 * 2: contacts(bare_jid → users ON DELETE CASCADE, name TEXT — the legacy
 *    spelling —, alias TEXT, PRIMARY KEY (bare_jid, name)): the legacy
 *    contacts of each user, known while they are offline and for protocols
 *    without server-side lists (IRC).
 * 3: settings(bare_jid → users ON DELETE CASCADE, key TEXT, value TEXT,
 *    PRIMARY KEY (bare_jid, key)): per-user settings (store-settings.c);
 *    no row means the default.
 * 4: contacts.pending_add INTEGER (0/1): the user added the contact while
 *    offline; the legacy server has not been told yet.
 * 5: outbox(id INTEGER PRIMARY KEY AUTOINCREMENT — ids never reused —,
 *    bare_jid → users ON DELETE CASCADE, direction 'to-user'|'to-legacy',
 *    peer TEXT — the legacy contact —, body TEXT — NULL in a loss report —,
 *    loss 'full'|'expired'|NULL, lost INTEGER — messages a report stands
 *    for —, xmpp_id, sender, receipt — to-legacy: the user's message id,
 *    full JID and receipt request —, created INTEGER, expires INTEGER —
 *    unix s, NULL: never): messages waiting for a link (store-outbox.c).
 * 6: rooms(bare_jid → users ON DELETE CASCADE, room TEXT — the room's bare
 *    JID —, name TEXT — the legacy chat —, nick TEXT, PRIMARY KEY (bare_jid,
 *    room)): rooms a login that stays connected is in, joined again after a
 *    restart; room_backlog(seq INTEGER PRIMARY KEY AUTOINCREMENT — order —,
 *    bare_jid → users ON DELETE CASCADE, room, id, nick, body, stamp INTEGER
 *    — unix µs): their messages, given as history (store-rooms.c).
 * Later tables holding per-user rows reference users(bare_jid) ON DELETE
 * CASCADE (foreign_keys is on), so that deleting a user deletes them too. */
static const char *const migrations[] = {
  NULL,
  "CREATE TABLE users (bare_jid TEXT PRIMARY KEY, username TEXT NOT NULL,"
  "                    password BLOB, created INTEGER NOT NULL);"
  "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB);"
  "CREATE TABLE schema_version (version INTEGER NOT NULL);"
  "INSERT INTO schema_version (version) VALUES (1);",
  "CREATE TABLE contacts (bare_jid TEXT NOT NULL REFERENCES users (bare_jid) ON DELETE CASCADE,"
  "                       name TEXT NOT NULL, alias TEXT, PRIMARY KEY (bare_jid, name));"
  "UPDATE schema_version SET version = 2;",
  "CREATE TABLE settings (bare_jid TEXT NOT NULL REFERENCES users (bare_jid) ON DELETE CASCADE,"
  "                       key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (bare_jid, key));"
  "UPDATE schema_version SET version = 3;",
  "ALTER TABLE contacts ADD COLUMN pending_add INTEGER NOT NULL DEFAULT 0;"
  "UPDATE schema_version SET version = 4;",
  "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "                     bare_jid TEXT NOT NULL REFERENCES users (bare_jid) ON DELETE CASCADE,"
  "                     direction TEXT NOT NULL CHECK (direction IN ('to-user', 'to-legacy')),"
  "                     peer TEXT NOT NULL, body TEXT,"
  "                     loss TEXT CHECK (loss IN ('full', 'expired')),"
  "                     lost INTEGER NOT NULL DEFAULT 0,"
  "                     xmpp_id TEXT, sender TEXT, receipt INTEGER NOT NULL DEFAULT 0,"
  "                     created INTEGER NOT NULL, expires INTEGER);"
  "CREATE INDEX outbox_by_user ON outbox (bare_jid, direction, id);"
  "CREATE INDEX outbox_by_expiry ON outbox (expires) WHERE expires IS NOT NULL;"
  "UPDATE schema_version SET version = 5;",
  "CREATE TABLE rooms (bare_jid TEXT NOT NULL REFERENCES users (bare_jid) ON DELETE CASCADE,"
  "                    room TEXT NOT NULL, name TEXT NOT NULL, nick TEXT NOT NULL,"
  "                    PRIMARY KEY (bare_jid, room));"
  "CREATE TABLE room_backlog (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "                           bare_jid TEXT NOT NULL REFERENCES users (bare_jid) ON DELETE CASCADE,"
  "                           room TEXT NOT NULL, id TEXT, nick TEXT, body TEXT NOT NULL,"
  "                           stamp INTEGER NOT NULL);"
  "CREATE INDEX room_backlog_by_room ON room_backlog (bare_jid, room, seq);"
  "UPDATE schema_version SET version = 6;",
  /* Every message queued and delivered updated it; the expiry's two
   * queries, run when the earliest row expires, read the table instead. */
  "DROP INDEX outbox_by_expiry;"
  "UPDATE schema_version SET version = 7;",
};
G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == PG_STORE_SCHEMA_VERSION + 1);

/* Sets @error with sqlite's message for the last failure on @db; returns FALSE. */
gboolean
pg_store_fail_db (GError **error, sqlite3 *db, PgStoreError code, const char *what)
{
  g_set_error (error, PG_STORE_ERROR, code, "%s: %s", what, sqlite3_errmsg (db));
  return FALSE;
}

/* Prepares constant @sql (never built from data) and binds @jid, when not
 * NULL, to ?1. */
sqlite3_stmt *
pg_store_prepare (sqlite3 *db, const char *sql, const char *jid, PgStoreError code, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK
      && (jid == NULL || sqlite3_bind_text (stmt, 1, jid, -1, SQLITE_TRANSIENT) == SQLITE_OK))
    return stmt;
  pg_store_fail_db (error, db, code, "cannot prepare statement");
  sqlite3_finalize (stmt);
  return NULL;
}

void
pg_store_stmt_reset (PgStoreCachedStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

PgStoreCachedStmt *
pg_store_prepare_cached (PgStore *store, const char *sql, const char *jid, PgStoreError code, GError **error)
{
  if (store->statements == NULL)
    store->statements = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, finalize_statement);
  sqlite3_stmt *stmt = g_hash_table_lookup (store->statements, sql);
  if (stmt == NULL)
    {
      stmt = pg_store_prepare (store->db, sql, NULL, code, error);
      if (stmt == NULL)
        return NULL;
      g_hash_table_insert (store->statements, (gpointer)sql, stmt);
    }
  if (jid != NULL && sqlite3_bind_text (stmt, 1, jid, -1, SQLITE_TRANSIENT) != SQLITE_OK)
    {
      pg_store_fail_db (error, store->db, code, "cannot bind parameter");
      pg_store_stmt_reset (stmt);
      return NULL;
    }
  return stmt;
}

gboolean
pg_store_begin (PgStore *store, GError **error)
{
  pg_store_group_commit (store);
  return sqlite3_exec (store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
         || pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot begin a transaction");
}

gboolean
pg_store_finish (PgStore *store, gboolean ok, GError **error)
{
  ok = ok
       && (sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK
           || pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot commit"));
  if (!ok && !sqlite3_get_autocommit (store->db))
    (void)sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  if (!ok)
    pg_store_forget_outbox_counts (store);
  return ok;
}

static gboolean
exec (sqlite3 *db, const char *sql, PgStoreError code, GError **error)
{
  return sqlite3_exec (db, sql, NULL, NULL, NULL) == SQLITE_OK
         || pg_store_fail_db (error, db, code, "statement failed");
}

gboolean
pg_store_step_done (PgStore *store, sqlite3_stmt *stmt, GError **error)
{
  if (!store->group_in_op
      && (store->group_open || (store->journal != NULL && pg_store_journal_has_pending (store->journal))))
    pg_store_group_commit (store);
  return sqlite3_step (stmt) == SQLITE_DONE
         || pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "statement failed");
}

static void
rollback (sqlite3 *db)
{
  if (!sqlite3_get_autocommit (db))
    (void)sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
}

/* Creates @path 0600 before sqlite opens it, and narrows the mode of the
 * file or its WAL files when an older setup left them readable by others. */
static gboolean
prepare_file (const char *path, GError **error)
{
  static const char *const suffixes[] = { "", "-wal", "-shm" };
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_OPEN, "cannot open database %s: %s", path,
                   g_strerror (errno));
      return FALSE;
    }
  close (fd);

  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *name = g_strconcat (path, suffixes[i], NULL);
      struct stat st;

      if (stat (name, &st) != 0 || !S_ISREG (st.st_mode) || (st.st_mode & 077) == 0)
        continue;
      if (chmod (name, 0600) != 0)
        {
          g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_OPEN,
                       "%s has mode %04o and cannot be made private: %s", name,
                       (unsigned)(st.st_mode & 07777), g_strerror (errno));
          return FALSE;
        }
      g_warning ("%s had mode %04o, open to group or others; changed it to 0600", name,
                 (unsigned)(st.st_mode & 07777));
    }
  return TRUE;
}

/* Reads the schema version in the current transaction: 0 for a file with no
 * schema objects; -1 and an error for a failure or a database not ours. */
static int
read_version (PgStore *store, PgStoreError code, GError **error)
{
  g_autoptr (sqlite3_stmt) objects = NULL;
  g_autoptr (sqlite3_stmt) version = NULL;

  objects = pg_store_prepare (store->db,
                              "SELECT count(*), coalesce(sum(type = 'table' AND name = 'schema_version'), 0)"
                              " FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                              NULL, code, error);
  if (objects == NULL)
    return -1;
  if (sqlite3_step (objects) != SQLITE_ROW)
    {
      pg_store_fail_db (error, store->db, code, "cannot read the schema");
      return -1;
    }
  if (sqlite3_column_int64 (objects, 0) == 0)
    return 0;
  if (sqlite3_column_int64 (objects, 1) == 0)
    {
      g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_SCHEMA,
                   "%s is not a purplegate database (it has tables but no schema_version); "
                   "leaving it alone",
                   store->path);
      return -1;
    }

  version = pg_store_prepare (store->db,
                              "SELECT count(*), sum(typeof(version) = 'integer'), min(version)"
                              " FROM schema_version",
                              NULL, code, error);
  if (version == NULL)
    return -1;
  if (sqlite3_step (version) != SQLITE_ROW)
    {
      pg_store_fail_db (error, store->db, code, "cannot read the schema version");
      return -1;
    }
  if (sqlite3_column_int64 (version, 0) != 1 || sqlite3_column_int64 (version, 1) != 1
      || sqlite3_column_int64 (version, 2) < 0 || sqlite3_column_int64 (version, 2) > G_MAXINT)
    {
      g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_SCHEMA,
                   "%s has a damaged schema_version table (not one integer row)", store->path);
      return -1;
    }
  return (int)sqlite3_column_int64 (version, 2);
}

/* Returns the sealed key check, or NULL and an error (none yet is an error:
 * every database past version 0 has one). */
static GBytes *
read_key_check (PgStore *store, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  int rc;

  stmt = pg_store_prepare (store->db, "SELECT value FROM meta WHERE key = 'key_check'", NULL,
                           PG_STORE_ERROR_OPEN, error);
  if (stmt == NULL)
    return NULL;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return g_bytes_new (sqlite3_column_blob (stmt, 0), (gsize)sqlite3_column_bytes (stmt, 0));
  if (rc == SQLITE_DONE)
    g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_SCHEMA, "%s has no key check", store->path);
  else
    pg_store_fail_db (error, store->db, PG_STORE_ERROR_OPEN, "cannot read the key check");
  return NULL;
}

/* Proves @check against the loaded key. */
static gboolean
verify_key_check (PgStore *store, GBytes *check, const char *key_file, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  char *text = pg_unseal (store->key, check, KEY_CHECK_AAD, &local_error);
  gboolean match = text != NULL && strcmp (text, KEY_CHECK_TEXT) == 0;

  pg_seal_free_secret (text);
  if (local_error != NULL && !g_error_matches (local_error, PG_SEAL_ERROR, PG_SEAL_ERROR_AUTH_FAILED))
    g_propagate_error (error, g_steal_pointer (&local_error)); /* OpenSSL failed */
  else if (!match)
    g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_WRONG_KEY,
                 "key file %s does not match database %s: its passwords were sealed with "
                 "another key",
                 key_file, store->path);
  return match;
}

/* PRAGMA quick_check in the current transaction: damage in any page of the
 * file, not only in the few that read_version() and the key check read, stops
 * the start before anything is written to it. */
static gboolean
check_pages (PgStore *store, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  const char *result;

  stmt = pg_store_prepare (store->db, "PRAGMA quick_check(1)", NULL, PG_STORE_ERROR_OPEN, error);
  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return pg_store_fail_db (error, store->db, PG_STORE_ERROR_OPEN, "cannot check the pages");
  result = (const char *)sqlite3_column_text (stmt, 0);
  if (g_strcmp0 (result, "ok") == 0)
    return TRUE;
  /* One log line: sqlite's report spans several. */
  g_autofree char *report = g_strdelimit (g_strdup (result != NULL ? result : "no result"), "\n", ' ');
  g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_OPEN,
               "the file is damaged (quick_check: %s); restore it from a backup", report);
  return FALSE;
}

/* Checks in one read transaction, writing nothing, that the file is empty or
 * ours, undamaged, at a version this build knows, then loads the key (created
 * only for a database without a key check) and proves it against the
 * database. Sets *@key_checked when there was a key check to prove it against. */
static gboolean
inspect (PgStore *store, const char *key_file, gboolean *key_checked, GError **error)
{
  g_autoptr (GBytes) check = NULL;
  GError *local_error = NULL;
  int version;

  if (!exec (store->db, "BEGIN DEFERRED", PG_STORE_ERROR_OPEN, error))
    return FALSE;
  version = read_version (store, PG_STORE_ERROR_OPEN, &local_error);
  if (version > PG_STORE_SCHEMA_VERSION)
    g_set_error (&local_error, PG_STORE_ERROR, PG_STORE_ERROR_SCHEMA,
                 "%s has schema version %d, newer than the %d this build knows; "
                 "use a newer purplegate",
                 store->path, version, PG_STORE_SCHEMA_VERSION);
  else if (version >= 1 && check_pages (store, &local_error))
    check = read_key_check (store, &local_error);
  rollback (store->db);
  if (local_error != NULL)
    {
      /* sqlite's own messages ("file is not a database") do not name the file. */
      if (g_error_matches (local_error, PG_STORE_ERROR, PG_STORE_ERROR_OPEN))
        g_prefix_error (&local_error, "cannot read database %s: ", store->path);
      g_propagate_error (error, local_error);
      return FALSE;
    }
  store->schema_version = version;

  /* A database whose key file is gone must not get a fresh, useless key. */
  if (check != NULL && !g_file_test (key_file, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_WRONG_KEY,
                   "key file %s of database %s is missing; restore it from the backup "
                   "made with the database",
                   key_file, store->path);
      return FALSE;
    }
  store->key = pg_seal_key_load (key_file, error);
  if (store->key == NULL)
    return FALSE;
  *key_checked = check != NULL;
  return check == NULL || verify_key_check (store, check, key_file, error);
}

static gboolean
write_key_check (PgStore *store, GError **error)
{
  g_autoptr (GBytes) check = pg_seal (store->key, KEY_CHECK_TEXT, KEY_CHECK_AAD, error);
  g_autoptr (sqlite3_stmt) stmt = NULL;

  if (check == NULL)
    return FALSE;
  stmt = pg_store_prepare (store->db, "INSERT INTO meta (key, value) VALUES ('key_check', ?1)", NULL,
                           PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return FALSE;
  if (sqlite3_bind_blob (stmt, 1, g_bytes_get_data (check, NULL), (int)g_bytes_get_size (check),
                         SQLITE_TRANSIENT)
      != SQLITE_OK)
    return pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind the key check");
  return pg_store_step_done (store, stmt, error);
}

/* Applies migration @to in its own write transaction. Another process may
 * have migrated meanwhile: the version is read again under the write lock. */
static gboolean
migrate_one (PgStore *store, int to, GError **error)
{
  int version;

  if (!exec (store->db, "BEGIN IMMEDIATE", PG_STORE_ERROR_IO, error))
    goto fail;
  version = read_version (store, PG_STORE_ERROR_IO, error);
  if (version >= to)
    {
      rollback (store->db);
      return TRUE;
    }
  if (version >= 0 && exec (store->db, migrations[to], PG_STORE_ERROR_IO, error)
      && (to != 1 || write_key_check (store, error)) && exec (store->db, "COMMIT", PG_STORE_ERROR_IO, error))
    return TRUE;

fail:
  rollback (store->db);
  g_prefix_error (error, "migrating %s to schema %d: ", store->path, to);
  return FALSE;
}

static gboolean
migrate (PgStore *store, const char *key_file, gboolean key_checked, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  int from = store->schema_version;
  g_autoptr (GBytes) check = NULL;
  gint64 users;

  for (int to = from + 1; to <= PG_STORE_SCHEMA_VERSION; to++)
    {
      if (!migrate_one (store, to, error))
        return FALSE;
      store->schema_version = to;
    }
  /* The key check was written just now, by us or by a process that raced us. */
  if (!key_checked
      && ((check = read_key_check (store, error)) == NULL
          || !verify_key_check (store, check, key_file, error)))
    return FALSE;
  if (from == store->schema_version)
    return TRUE;

  users = pg_store_count_users (store, error);
  if (users < 0)
    return FALSE;
  g_message ("migrated %s from schema %d to %d in %" G_GINT64_FORMAT " ms (%d migration%s, "
             "%" G_GINT64_FORMAT " users)",
             store->path, from, store->schema_version, (g_get_monotonic_time () - start) / 1000,
             store->schema_version - from, store->schema_version - from == 1 ? "" : "s", users);
  return TRUE;
}

/* The highest outbox id the database ever gave: AUTOINCREMENT's record of
 * it, or a row's when ids were given explicitly. */
static gint64
max_db_id (PgStore *store, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt
      = pg_store_prepare (store->db,
                          "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0),"
                          " coalesce((SELECT max(id) FROM outbox), 0))",
                          NULL, PG_STORE_ERROR_OPEN, error);

  if (stmt == NULL)
    return -1;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_OPEN, "cannot read the outbox's ids");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* Opens the journal of messages to legacy contacts (registration/store-journal.c)
 * beside the database, and moves there the ones the database holds (as
 * written by versions that kept them in the database): the journal is
 * synced before they leave the database, so that a crash in between
 * leaves them in both, and the next start moves them again. */
static gboolean
open_journal (PgStore *store, GError **error)
{
  g_autofree char *path = g_strconcat (store->path, "-outbox", NULL);
  g_autoptr (sqlite3_stmt) stmt = NULL;
  guint moved = 0;
  gint64 in_db;
  int rc;

  store->journal = pg_store_journal_open (path, error);
  if (store->journal == NULL)
    return FALSE;
  if ((in_db = max_db_id (store, error)) < 0)
    return FALSE;
  store->last_id = MAX (in_db, pg_store_journal_max_id (store->journal));

  stmt = pg_store_prepare (
      store->db,
      "SELECT id, bare_jid, peer, body, xmpp_id, sender, receipt, created, expires FROM outbox"
      " WHERE direction = 'to-legacy' AND body IS NOT NULL ORDER BY id",
      NULL, PG_STORE_ERROR_OPEN, error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PgStoreOutboxItem item = {
        .bare_jid = (char *)sqlite3_column_text (stmt, 1),
        .direction = PG_OUTBOX_TO_LEGACY,
        .peer = (char *)sqlite3_column_text (stmt, 2),
        .body = (char *)sqlite3_column_text (stmt, 3),
        .xmpp_id = (char *)sqlite3_column_text (stmt, 4),
        .sender = (char *)sqlite3_column_text (stmt, 5),
        .receipt = sqlite3_column_int (stmt, 6) != 0,
        .created = sqlite3_column_int64 (stmt, 7),
        .expires = sqlite3_column_int64 (stmt, 8),
      };
      gint64 id = sqlite3_column_int64 (stmt, 0);
      if (item.bare_jid == NULL || item.peer == NULL)
        continue;
      /* Moved already, when a crash stopped the last move halfway. */
      pg_store_journal_remove (store->journal, id);
      pg_store_journal_add (store->journal, &item, id);
      moved++;
    }
  if (rc != SQLITE_DONE)
    return pg_store_fail_db (error, store->db, PG_STORE_ERROR_OPEN, "cannot read the outbox");
  if (moved == 0)
    return TRUE;
  if (!pg_store_journal_flush (store->journal, error))
    return FALSE;
  if (!exec (store->db, "DELETE FROM outbox WHERE direction = 'to-legacy'", PG_STORE_ERROR_OPEN, error))
    return FALSE;
  g_message ("moved %u messages to legacy contacts from %s to %s", moved, store->path, path);
  return TRUE;
}

static PgStore *
open_store (const char *path, const char *key_file, GError **error)
{
  g_autoptr (PgStore) store = NULL;
  g_autoptr (sqlite3_stmt) wal = NULL;
  gboolean key_checked = FALSE;
  const char *mode;

  if (!prepare_file (path, error))
    return NULL;
  store = g_new0 (PgStore, 1);
  store->path = g_strdup (path);
  /* sqlite's allocation statistics take a global mutex on every malloc
   * and nothing reads them. Only possible before sqlite's initialisation
   * (the first open): later calls fail harmlessly. */
  (void)sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);
  /* No SQLITE_OPEN_CREATE: the file was created 0600 just above.
   * NOMUTEX: one thread uses a store, so the connection's own mutex is
   * pure cost, taken several times by every statement. */
  if (sqlite3_open_v2 (path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    {
      g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_OPEN, "cannot open database %s: %s", path,
                   store->db != NULL ? sqlite3_errmsg (store->db) : "out of memory");
      return NULL;
    }
  sqlite3_busy_timeout (store->db, BUSY_TIMEOUT_MS);
  /* Reads nothing, and must be set outside a transaction. */
  if (!exec (store->db, "PRAGMA foreign_keys = ON", PG_STORE_ERROR_OPEN, error))
    goto fail;
  if (!inspect (store, key_file, &key_checked, error))
    return NULL;

  /* The first write: WAL mode is stored in the file. synchronous=NORMAL is
   * safe with WAL: a power cut may lose the last commits, never consistency. */
  if (!exec (store->db, "PRAGMA synchronous = NORMAL", PG_STORE_ERROR_OPEN, error))
    goto fail;
  wal = pg_store_prepare (store->db, "PRAGMA journal_mode = WAL", NULL, PG_STORE_ERROR_OPEN, error);
  if (wal == NULL)
    goto fail;
  mode = sqlite3_step (wal) == SQLITE_ROW ? (const char *)sqlite3_column_text (wal, 0) : NULL;
  if (mode == NULL || g_ascii_strcasecmp (mode, "wal") != 0)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_OPEN, "cannot switch to WAL mode");
      goto fail;
    }
  g_clear_pointer (&wal, sqlite3_finalize);

  if (!migrate (store, key_file, key_checked, error))
    return NULL;
  if (!open_journal (store, error))
    goto fail;
  g_info ("opened %s at schema %d", path, store->schema_version);
  return g_steal_pointer (&store);

fail:
  g_prefix_error (error, "%s: ", path);
  return NULL;
}

PgStore *
pg_store_open (const char *path, const char *key_file, GError **error)
{
  PgStore *store;
  mode_t old_umask;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (key_file != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* sqlite creates -wal and -shm lazily, at the first transaction: keep them
   * (and a new key file) private for the whole of the opening. */
  old_umask = umask (077);
  store = open_store (path, key_file, error);
  umask (old_umask);
  return store;
}

void
pg_store_free (PgStore *store)
{
  if (store == NULL)
    return;
  if (store->group_source != NULL)
    {
      pg_store_group_commit (store);
      g_source_destroy (store->group_source);
      g_clear_pointer (&store->group_source, g_source_unref);
    }
  if (store->journal != NULL && pg_store_journal_has_pending (store->journal))
    {
      g_autoptr (GError) error = NULL;
      if (!pg_store_journal_flush (store->journal, &error))
        g_warning ("%s", error->message);
    }
  g_clear_pointer (&store->journal, pg_store_journal_free);
  g_clear_pointer (&store->statements, g_hash_table_unref);
  g_clear_pointer (&store->outbox_counts, g_hash_table_unref);
  if (sqlite3_close (store->db) != SQLITE_OK)
    g_warning ("closing %s: %s", store->path, sqlite3_errmsg (store->db));
  pg_seal_key_free (store->key);
  g_clear_pointer (&store->settings_cache, g_hash_table_unref);
  g_free (store->path);
  g_free (store);
}

int
pg_store_get_schema_version (PgStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return store->schema_version;
}

void
pg_store_user_free (PgStoreUser *user)
{
  if (user == NULL)
    return;
  g_free (user->bare_jid);
  g_free (user->username);
  g_free (user);
}

/* Re-registration (same @bare_jid) keeps the row's original `created`. */
gboolean
pg_store_put_user (PgStore *store, const char *bare_jid, const char *username, const char *password,
                   GError **error)
{
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (bare_jid != NULL, FALSE);
  g_return_val_if_fail (username != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (password != NULL && (sealed = pg_seal (store->key, password, bare_jid, error)) == NULL)
    return FALSE;
  /* One statement is one transaction. ?3 is NULL for a new user without a password. */
  stmt
      = pg_store_prepare (store->db,
                          password != NULL ? "INSERT INTO users (bare_jid, username, password, created)"
                                             " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (bare_jid) DO UPDATE"
                                             " SET username = excluded.username, password = excluded.password"
                                           : "INSERT INTO users (bare_jid, username, password, created)"
                                             " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (bare_jid) DO UPDATE"
                                             " SET username = excluded.username",
                          bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    goto fail;
  rc = sqlite3_bind_text (stmt, 2, username, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK && sealed != NULL)
    rc = sqlite3_bind_blob (stmt, 3, g_bytes_get_data (sealed, NULL), (int)g_bytes_get_size (sealed),
                            SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64 (stmt, 4, g_get_real_time () / G_USEC_PER_SEC);
  if (rc != SQLITE_OK)
    pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
  else if (pg_store_step_done (store, stmt, error))
    return TRUE;

fail:
  g_prefix_error (error, "storing the registration of %s: ", bare_jid);
  return FALSE;
}

/* Runs @sql with @bare_jid bound to ?1. Returns SQLITE_ROW (a row is ready),
 * SQLITE_DONE (no row), or SQLITE_ERROR with @error set. */
static int
query_user (PgStore *store, const char *sql, const char *bare_jid, PgStoreCachedStmt **stmt, GError **error)
{
  int rc;

  /* Cached: every presence and message of a user looks the user up. */
  *stmt = pg_store_prepare_cached (store, sql, bare_jid, PG_STORE_ERROR_IO, error);
  if (*stmt == NULL)
    return SQLITE_ERROR;
  rc = sqlite3_step (*stmt);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return rc;
  pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "statement failed");
  g_prefix_error (error, "reading the registration of %s: ", bare_jid);
  return SQLITE_ERROR;
}

PgStoreUser *
pg_store_get_user (PgStore *store, const char *bare_jid, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = NULL;
  PgStoreUser *user;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (bare_jid != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (query_user (store, "SELECT username, created FROM users WHERE bare_jid = ?1", bare_jid, &stmt, error)
      != SQLITE_ROW)
    return NULL;
  user = g_new0 (PgStoreUser, 1);
  user->bare_jid = g_strdup (bare_jid);
  user->username = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  user->created = sqlite3_column_int64 (stmt, 1);
  return user;
}

/* Returns NULL without an error when @bare_jid is not registered or has no
 * stored password (registered without one); NULL with an error only on a
 * failure: a statement failed, or the sealed value does not open (PG_SEAL_ERROR). */
char *
pg_store_dup_password (PgStore *store, const char *bare_jid, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = NULL;
  g_autoptr (GBytes) sealed = NULL;
  char *password;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (bare_jid != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (query_user (store, "SELECT password FROM users WHERE bare_jid = ?1", bare_jid, &stmt, error)
          != SQLITE_ROW
      || sqlite3_column_type (stmt, 0) == SQLITE_NULL)
    return NULL;
  sealed = g_bytes_new (sqlite3_column_blob (stmt, 0), (gsize)sqlite3_column_bytes (stmt, 0));
  password = pg_unseal (store->key, sealed, bare_jid, error);
  if (password == NULL)
    g_prefix_error (error, "opening the password of %s: ", bare_jid);
  return password;
}

gboolean
pg_store_delete_user (PgStore *store, const char *bare_jid, gboolean *existed, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (bare_jid != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (existed != NULL)
    *existed = FALSE;
  pg_store_forget_outbox_counts (store);
  /* Per-user rows of later tables go with it (ON DELETE CASCADE). */
  stmt = pg_store_prepare (store->db, "DELETE FROM users WHERE bare_jid = ?1", bare_jid, PG_STORE_ERROR_IO,
                           error);
  if (stmt == NULL || !pg_store_step_done (store, stmt, error))
    {
      g_prefix_error (error, "deleting the registration of %s: ", bare_jid);
      return FALSE;
    }
  if (existed != NULL)
    *existed = sqlite3_changes (store->db) > 0;
  pg_store_forget_settings (store);
  /* The journal's rows do not follow the database's cascade. */
  if (pg_store_journal_remove_user (store->journal, bare_jid) > 0
      && !pg_store_journal_flush (store->journal, error))
    {
      g_prefix_error (error, "deleting the queued messages of %s: ", bare_jid);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
pg_store_list_users (PgStore *store, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autoptr (GPtrArray) jids = NULL;
  int rc;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* BINARY collation: UTF-8 byte order, which is code point order. */
  stmt = pg_store_prepare (store->db, "SELECT bare_jid FROM users ORDER BY bare_jid", NULL, PG_STORE_ERROR_IO,
                           error);
  if (stmt == NULL)
    return NULL;
  jids = g_ptr_array_new_with_free_func (g_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (jids, g_strdup ((const char *)sqlite3_column_text (stmt, 0)));
  if (rc != SQLITE_DONE)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "listing users");
      return NULL;
    }
  return g_steal_pointer (&jids);
}

/* Returns -1 and sets @error on failure. */
gint64
pg_store_count_users (PgStore *store, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  stmt = pg_store_prepare (store->db, "SELECT count(*) FROM users", NULL, PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return -1;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "counting users");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}
