/* registration/store-group.c — the group commit: the outbox changes of one
 * pass of the main loop written together (registration/store.h).
 *
 * Messages to legacy contacts, queued and deleted, are records of the
 * journal (registration/store-journal.c), written with one write() per
 * pass.  Deleted messages to users share one transaction per pass: in WAL
 * mode a commit appends every page it changed to the log, so a pass that
 * delivers many messages writes each page once.  The commit runs from a
 * pass-end source of the commit stage, so it precedes the pass's output:
 * a message is handed on, and a receipt sent, only once the change behind
 * it is written. */
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
  g_autoptr (GError) error = NULL;

  g_return_if_fail (store != NULL);

  if (store->journal != NULL && pg_store_journal_has_pending (store->journal)
      && !pg_store_journal_flush (store->journal, &error))
    g_warning ("%s: cannot write the outbox changes of a pass: %s; messages to contacts queued meanwhile "
               "are delivered unprotected (lost if purplegate stops before the legacy server has them, "
               "unless a later write succeeds), and delivered ones may be sent again after a lost login",
               store->path, error->message);
  if (!store->group_open)
    return;
  store->group_open = FALSE;
  if (exec (store, "COMMIT", "cannot commit", NULL))
    return;
  g_warning ("%s: cannot commit the outbox changes of a pass: %s; delivered messages to users may be "
             "sent again",
             store->path, sqlite3_errmsg (store->db));
  (void)sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  pg_store_forget_outbox_counts (store);
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
    return TRUE;
  if (sqlite3_get_autocommit (store->db))
    {
      /* sqlite rolled the whole group back (disk full, I/O error): its
       * deleted rows are back, as when its commit fails. */
      g_warning ("%s: the outbox changes of a pass were undone: %s", store->path, sqlite3_errmsg (store->db));
      store->group_open = FALSE;
      pg_store_forget_outbox_counts (store);
      return FALSE;
    }
  if (!store->group_op_savepoint)
    return FALSE; /* its statement changed nothing, or sqlite undid it */
  (void)exec (store, "ROLLBACK TO pg_group_op", "cannot undo a change", NULL);
  pg_store_forget_outbox_counts (store);
  (void)exec (store, "RELEASE pg_group_op", "cannot undo a change", NULL);
  return FALSE;
}
