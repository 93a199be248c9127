/* registration/store-settings.c — per-user settings (schema 3). */
#define G_LOG_DOMAIN "pg-store"

#include "registration/store-private.h"

#include <string.h>

/* The cache's key of @key of @bare_jid, "<bare_jid>\x1f<key>", written to
 * @out, which has room for @jid_len + @key_len + 2 bytes. */
static char *
write_cache_key (char *out, const char *bare_jid, gsize jid_len, const char *key, gsize key_len)
{
  memcpy (out, bare_jid, jid_len);
  out[jid_len] = '\x1f';
  memcpy (out + jid_len + 1, key, key_len + 1);
  return out;
}

static char *
cache_key (const char *bare_jid, const char *key)
{
  gsize jid_len = strlen (bare_jid), key_len = strlen (key);
  return write_cache_key (g_malloc (jid_len + key_len + 2), bare_jid, jid_len, key, key_len);
}

static void
remember (PgStore *store, const char *bare_jid, const char *key, const char *value)
{
  if (store->settings_cache == NULL)
    store->settings_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_replace (store->settings_cache, cache_key (bare_jid, key), g_strdup (value ? value : ""));
}

void
pg_store_forget_settings (PgStore *store)
{
  if (store->settings_cache != NULL)
    g_hash_table_remove_all (store->settings_cache);
}

gboolean
pg_store_put_setting (PgStore *store, const char *bare_jid, const char *key, const char *value,
                      GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && key != NULL && value != NULL, FALSE);
  g_autoptr (PgStoreCachedStmt) stmt
      = pg_store_prepare_cached (store,
                                 "INSERT INTO settings (bare_jid, key, value) VALUES (?1, ?2, ?3)"
                                 " ON CONFLICT (bare_jid, key) DO UPDATE SET value = excluded.value",
                                 bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL || sqlite3_bind_text (stmt, 2, key, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || sqlite3_bind_text (stmt, 3, value, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || !pg_store_step_done (store, stmt, error))
    {
      if (error != NULL && *error == NULL)
        pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
      g_prefix_error (error, "storing setting %s of %s: ", key, bare_jid);
      return FALSE;
    }
  remember (store, bare_jid, key, value);
  return TRUE;
}

/* The cached value of @key ("" when known to be unset), or NULL when the
 * cache does not know it; borrowed.  Settings are read on the path of
 * every message: the key is put together on the stack when it fits. */
static const char *
peek_cached (PgStore *store, const char *bare_jid, const char *key)
{
  if (store->settings_cache == NULL)
    return NULL;
  gsize jid_len = strlen (bare_jid), key_len = strlen (key);
  char stack[256];
  g_autofree char *heap = NULL;
  char *ck = jid_len + key_len + 2 <= sizeof stack ? stack : (heap = g_malloc (jid_len + key_len + 2));
  return g_hash_table_lookup (store->settings_cache, write_cache_key (ck, bare_jid, jid_len, key, key_len));
}

char *
pg_store_dup_setting (PgStore *store, const char *bare_jid, const char *key, GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && key != NULL, NULL);
  const char *cached = peek_cached (store, bare_jid, key);
  if (cached != NULL)
    return *cached != '\0' ? g_strdup (cached) : NULL;
  g_autoptr (PgStoreCachedStmt) stmt
      = pg_store_prepare_cached (store, "SELECT value FROM settings WHERE bare_jid = ?1 AND key = ?2",
                                 bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return NULL;
  if (sqlite3_bind_text (stmt, 2, key, -1, SQLITE_TRANSIENT) != SQLITE_OK)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
      return NULL;
    }
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      remember (store, bare_jid, key, (const char *)sqlite3_column_text (stmt, 0));
      return g_strdup ((const char *)sqlite3_column_text (stmt, 0));
    }
  if (rc == SQLITE_DONE)
    remember (store, bare_jid, key, NULL);
  else
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "statement failed");
      g_prefix_error (error, "reading setting %s of %s: ", key, bare_jid);
    }
  return NULL;
}

gboolean
pg_store_setting_is (PgStore *store, const char *bare_jid, const char *key, const char *value)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && key != NULL && value != NULL && *value != '\0',
                        FALSE);
  const char *cached = peek_cached (store, bare_jid, key);
  if (cached != NULL)
    return strcmp (cached, value) == 0;
  g_autoptr (GError) error = NULL;
  g_autofree char *stored = pg_store_dup_setting (store, bare_jid, key, &error);
  if (error != NULL)
    g_warning ("%s", error->message);
  return g_strcmp0 (stored, value) == 0;
}

gboolean
pg_store_setting_enabled (PgStore *store, const char *bare_jid, const char *key)
{
  return !pg_store_setting_is (store, bare_jid, key, "false");
}

/* A sealed setting's value: a marker, then base64 of the sealed bytes, so
 * the text column never holds the secret. */
#define SEALED_PREFIX "sealed:"

static char *
sealed_aad (const char *bare_jid, const char *key)
{
  /* Bound to its owner and its key: a value copied to another row does not
   * open. */
  return g_strconcat (bare_jid, "\x1f", key, NULL);
}

gboolean
pg_store_put_sealed_setting (PgStore *store, const char *bare_jid, const char *key, const char *secret,
                             GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && key != NULL && secret != NULL, FALSE);
  g_autofree char *aad = sealed_aad (bare_jid, key);
  g_autoptr (GBytes) sealed = pg_seal (store->key, secret, aad, error);
  if (sealed == NULL)
    return FALSE;
  gsize size;
  const guchar *data = g_bytes_get_data (sealed, &size);
  g_autofree char *encoded = g_base64_encode (data, size);
  g_autofree char *value = g_strconcat (SEALED_PREFIX, encoded, NULL);
  return pg_store_put_setting (store, bare_jid, key, value, error);
}

char *
pg_store_dup_sealed_setting (PgStore *store, const char *bare_jid, const char *key, GError **error)
{
  g_autofree char *value = pg_store_dup_setting (store, bare_jid, key, error);
  if (value == NULL || *value == '\0')
    return NULL;
  if (!g_str_has_prefix (value, SEALED_PREFIX))
    {
      g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_AUTH_FAILED, "setting %s of %s is not sealed", key,
                   bare_jid);
      return NULL;
    }
  gsize size;
  g_autofree guchar *data = g_base64_decode (value + strlen (SEALED_PREFIX), &size);
  g_autoptr (GBytes) sealed = g_bytes_new_take (g_steal_pointer (&data), size);
  g_autofree char *aad = sealed_aad (bare_jid, key);
  char *secret = pg_unseal (store->key, sealed, aad, error);
  if (secret == NULL)
    g_prefix_error (error, "opening setting %s of %s: ", key, bare_jid);
  return secret;
}
