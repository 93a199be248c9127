/* registration/store-group.c — the group commit: the outbox changes of one
 * pass of the main loop in one transaction (registration/store.h).
 *
 * In WAL mode a commit appends every page the transaction changed to the
 * log, and the log is copied back into the database (and synced) every
 * thousand pages: a message queued and a message deleted, each in a
 * transaction of its own, wrote the outbox's table and both its indexes
 * twice per message.  Grouped, a pass that handles many messages writes
 * each of those pages once.  The commit runs from a pass-end source of
 * the commit stage, so it precedes the pass's output: a message is handed
 * on, and a receipt sent, only once the change behind it is committed. */
#define G_LOG_DOMAIN "pg-store"
#include "build-config.h"

#include "registration/store-private.h"
#include "transport/pass-end.h"

/* Runs constant @sql, a statement prepared once: they run for every
 * change, and sqlite3_exec() would parse them each time. */
static gboolean
exec (PgStore *store, const char *sql, const char *what, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (store, sql, NULL, PG_STORE_ERROR_IO, error);

  return stmt != NULL
         && (sqlite3_step (stmt) == SQLITE_DONE
             || pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, what));
}

void
pg_store_group_commit (PgStore *store)
{
  g_return_if_fail (store != NULL);

  if (!store->group_open)
    return;
  store->group_open = FALSE;
  if (exec (store, "COMMIT", "cannot commit", NULL))
    {
      pg_store_id_floor_settle (store, TRUE);
      store->group_max_id = 0;
      return;
    }
  g_warning ("%s: cannot commit the outbox changes of a pass: %s; messages to contacts queued meanwhile are "
             "delivered unprotected (lost if purplegate stops before the legacy server has them), and "
             "delivered ones may be sent again after a lost login",
             store->path, sqlite3_errmsg (store->db));
  (void)sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  pg_store_forget_outbox_counts (store);
  store->id_floor = MAX (store->id_floor, store->group_max_id);
  pg_store_id_floor_settle (store, FALSE);
  store->group_max_id = 0;
}

static void
commit_at_pass_end (gpointer data)
{
  pg_store_group_commit (data);
}

void
pg_store_group_enable (PgStore *store)
{
  g_return_if_fail (store != NULL);
  if (store->group_source == NULL)
    store->group_source = pg_pass_end_add (PG_PASS_END_COMMIT, commit_at_pass_end, store);
}

gboolean
pg_store_group_op_begin (PgStore *store, gboolean one_statement, GError **error)
{
  g_return_val_if_fail (store->group_source != NULL && !store->group_in_op, FALSE);

  if (!store->group_open)
    {
      if (!exec (store, "BEGIN IMMEDIATE", "cannot begin a transaction", error))
        return FALSE;
      store->group_open = TRUE;
    }
  /* sqlite undoes a statement that fails by itself: a savepoint, two more
   * statements for every message, only for changes of several. */
  if (!one_statement && !exec (store, "SAVEPOINT pg_group_op", "cannot begin a change", error))
    return FALSE;
  store->group_in_op = TRUE;
  store->group_op_savepoint = !one_statement;
  return TRUE;
}

gboolean
pg_store_group_op_end (PgStore *store, gboolean ok, GError **error)
{
  g_return_val_if_fail (store->group_in_op, FALSE);

  store->group_in_op = FALSE;
  if (ok
      && (!store->group_op_savepoint || exec (store, "RELEASE pg_group_op", "cannot keep a change", error)))
    {
      /* Ids of a change kept are handed out: a failed group keeps them unused. */
      store->group_max_id = MAX (store->group_max_id, sqlite3_last_insert_rowid (store->db));
      return TRUE;
    }
  if (sqlite3_get_autocommit (store->db))
    {
      /* sqlite rolled the whole group back (disk full, I/O error): as when
       * its commit fails, the ids it handed out stay unused. */
      g_warning ("%s: the outbox changes of a pass were undone: %s", store->path, sqlite3_errmsg (store->db));
      store->group_open = FALSE;
      store->id_floor = MAX (store->id_floor, store->group_max_id);
      store->group_max_id = 0;
      pg_store_forget_outbox_counts (store);
      pg_store_id_floor_settle (store, FALSE);
      return FALSE;
    }
  if (!store->group_op_savepoint)
    return FALSE; /* its statement changed nothing, or sqlite undid it */
  (void)exec (store, "ROLLBACK TO pg_group_op", "cannot undo a change", NULL);
  pg_store_forget_outbox_counts (store);
  (void)exec (store, "RELEASE pg_group_op", "cannot undo a change", NULL);
  pg_store_id_floor_settle (store, FALSE);
  return FALSE;
}

static gboolean
step_with_floor (PgStore *store, const char *sql, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (store, sql, NULL, PG_STORE_ERROR_IO, error);

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_bind_int64 (stmt, 1, store->id_floor) != SQLITE_OK || sqlite3_step (stmt) != SQLITE_DONE)
    return pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "keeping outbox ids unused");
  return TRUE;
}

gboolean
pg_store_keep_id_floor (PgStore *store, GError **error)
{
  if (store->id_floor == 0 || store->id_floor_written)
    return TRUE;
  /* AUTOINCREMENT takes the next id above sqlite_sequence's; the row is
   * missing when the failed group held the outbox's first insert ever. */
  if (!step_with_floor (store, "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'outbox'", error))
    return FALSE;
  if (sqlite3_changes (store->db) == 0
      && !step_with_floor (store, "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?1)", error))
    return FALSE;
  store->id_floor_written = TRUE;
  return TRUE;
}

void
pg_store_id_floor_settle (PgStore *store, gboolean committed)
{
  if (committed && store->id_floor_written)
    store->id_floor = 0;
  store->id_floor_written = FALSE;
}
