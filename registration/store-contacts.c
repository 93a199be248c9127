/* registration/store-contacts.c — the legacy contacts of each user. */
#define G_LOG_DOMAIN "pg-store"

#include "registration/store-private.h"

void
pg_store_contact_free (PgStoreContact *contact)
{
  if (contact == NULL)
    return;
  g_free (contact->name);
  g_free (contact->alias);
  g_free (contact);
}

gboolean
pg_store_put_contact (PgStore *store, const char *bare_jid, const char *name, const char *alias,
                      GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt
      = pg_store_prepare_cached (store,
                                 "INSERT INTO contacts (bare_jid, name, alias) VALUES (?1, ?2, ?3)"
                                 " ON CONFLICT (bare_jid, name) DO UPDATE SET alias = excluded.alias",
                                 bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL || sqlite3_bind_text (stmt, 2, name, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || sqlite3_bind_text (stmt, 3, alias, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || !pg_store_step_done (store, stmt, error))
    {
      if (error != NULL && *error == NULL)
        pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
      g_prefix_error (error, "storing a contact of %s: ", bare_jid);
      return FALSE;
    }
  return TRUE;
}

gboolean
pg_store_set_contact_pending (PgStore *store, const char *bare_jid, const char *name, gboolean pending,
                              GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (
      store, "UPDATE contacts SET pending_add = ?3 WHERE bare_jid = ?1 AND name = ?2", bare_jid,
      PG_STORE_ERROR_IO, error);
  if (stmt == NULL || sqlite3_bind_text (stmt, 2, name, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || sqlite3_bind_int (stmt, 3, pending ? 1 : 0) != SQLITE_OK || !pg_store_step_done (store, stmt, error))
    {
      if (error != NULL && *error == NULL)
        pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
      g_prefix_error (error, "marking a contact of %s: ", bare_jid);
      return FALSE;
    }
  return TRUE;
}

gboolean
pg_store_delete_contact (PgStore *store, const char *bare_jid, const char *name, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (
      store, "DELETE FROM contacts WHERE bare_jid = ?1 AND name = ?2", bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL || sqlite3_bind_text (stmt, 2, name, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || !pg_store_step_done (store, stmt, error))
    {
      if (error != NULL && *error == NULL)
        pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
      g_prefix_error (error, "deleting a contact of %s: ", bare_jid);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
pg_store_list_contacts (PgStore *store, const char *bare_jid, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (
      store, "SELECT name, alias, pending_add FROM contacts WHERE bare_jid = ?1 ORDER BY name", bare_jid,
      PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return NULL;
  g_autoptr (GPtrArray) contacts = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_store_contact_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PgStoreContact *contact = g_new0 (PgStoreContact, 1);
      contact->name = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
      contact->alias = g_strdup ((const char *)sqlite3_column_text (stmt, 1));
      contact->pending_add = sqlite3_column_int (stmt, 2) != 0;
      g_ptr_array_add (contacts, contact);
    }
  if (rc != SQLITE_DONE)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "listing contacts");
      return NULL;
    }
  return g_steal_pointer (&contacts);
}
