/* registration/store-settings.c — per-user settings (schema 3). */
#define G_LOG_DOMAIN "pg-store"

#include "registration/store-private.h"

gboolean
pg_store_put_setting (PgStore *store, const char *bare_jid, const char *key, const char *value,
                      GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && key != NULL && value != NULL, FALSE);
  g_autoptr (sqlite3_stmt) stmt
      = pg_store_prepare (store->db,
                          "INSERT INTO settings (bare_jid, key, value) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (bare_jid, key) DO UPDATE SET value = excluded.value",
                          bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL || sqlite3_bind_text (stmt, 2, key, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || sqlite3_bind_text (stmt, 3, value, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || !pg_store_step_done (store->db, stmt, error))
    {
      if (error != NULL && *error == NULL)
        pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
      g_prefix_error (error, "storing setting %s of %s: ", key, bare_jid);
      return FALSE;
    }
  return TRUE;
}

char *
pg_store_dup_setting (PgStore *store, const char *bare_jid, const char *key, GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && key != NULL, NULL);
  g_autoptr (sqlite3_stmt) stmt
      = pg_store_prepare (store->db, "SELECT value FROM settings WHERE bare_jid = ?1 AND key = ?2", bare_jid,
                          PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return NULL;
  if (sqlite3_bind_text (stmt, 2, key, -1, SQLITE_TRANSIENT) != SQLITE_OK)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
      return NULL;
    }
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "statement failed");
      g_prefix_error (error, "reading setting %s of %s: ", key, bare_jid);
    }
  return NULL;
}

gboolean
pg_store_setting_enabled (PgStore *store, const char *bare_jid, const char *key)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *value = pg_store_dup_setting (store, bare_jid, key, &error);
  if (error != NULL)
    g_warning ("%s", error->message);
  return g_strcmp0 (value, "false") != 0;
}
