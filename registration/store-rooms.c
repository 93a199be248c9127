/* registration/store-rooms.c — the rooms of logins that stay connected
 * while their users are offline, and those rooms' backlogs (schema 6):
 * what a restart must not lose (README "Staying connected"). Every change
 * is one transaction. */
#define G_LOG_DOMAIN "pg-store"

#include "registration/store-private.h"

void
pg_store_room_free (PgStoreRoom *room)
{
  if (room == NULL)
    return;
  g_free (room->room);
  g_free (room->name);
  g_free (room->nick);
  g_free (room);
}

void
pg_store_backlog_entry_free (PgStoreBacklogEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->id);
  g_free (entry->nick);
  g_free (entry->body);
  g_free (entry);
}

static gboolean
bind_text (PgStore *store, sqlite3_stmt *stmt, int index, const char *text, GError **error)
{
  int rc = text != NULL ? sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT)
                        : sqlite3_bind_null (stmt, index);
  return rc == SQLITE_OK || pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
}

gboolean
pg_store_put_room (PgStore *store, const char *bare_jid, const char *room, const char *name, const char *nick,
                   GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && room != NULL && name != NULL && nick != NULL,
                        FALSE);
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (
      store,
      "INSERT INTO rooms (bare_jid, room, name, nick) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT (bare_jid, room) DO UPDATE SET name = excluded.name, nick = excluded.nick",
      bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL || !bind_text (store, stmt, 2, room, error) || !bind_text (store, stmt, 3, name, error)
      || !bind_text (store, stmt, 4, nick, error) || !pg_store_step_done (store, stmt, error))
    {
      g_prefix_error (error, "remembering room %s of %s: ", room, bare_jid);
      return FALSE;
    }
  return TRUE;
}

/* Deletes the rows of @bare_jid (and @room, when not NULL) from the rooms
 * and their backlogs, inside the caller's transaction. */
static gboolean
delete_rows (PgStore *store, const char *bare_jid, const char *room, GError **error)
{
  static const char *const by_room[] = {
    "DELETE FROM rooms WHERE bare_jid = ?1 AND room = ?2",
    "DELETE FROM room_backlog WHERE bare_jid = ?1 AND room = ?2",
  };
  static const char *const by_user[] = {
    "DELETE FROM rooms WHERE bare_jid = ?1",
    "DELETE FROM room_backlog WHERE bare_jid = ?1",
  };
  for (guint i = 0; i < G_N_ELEMENTS (by_room); i++)
    {
      g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (
          store, room != NULL ? by_room[i] : by_user[i], bare_jid, PG_STORE_ERROR_IO, error);
      if (stmt == NULL || (room != NULL && !bind_text (store, stmt, 2, room, error))
          || !pg_store_step_done (store, stmt, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
pg_store_delete_room (PgStore *store, const char *bare_jid, const char *room, GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && room != NULL, FALSE);
  if (!pg_store_begin (store, error)
      || !pg_store_finish (store, delete_rows (store, bare_jid, room, error), error))
    {
      g_prefix_error (error, "forgetting room %s of %s: ", room, bare_jid);
      return FALSE;
    }
  return TRUE;
}

gboolean
pg_store_delete_rooms (PgStore *store, const char *bare_jid, GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL, FALSE);
  if (!pg_store_begin (store, error)
      || !pg_store_finish (store, delete_rows (store, bare_jid, NULL, error), error))
    {
      g_prefix_error (error, "forgetting the rooms of %s: ", bare_jid);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
pg_store_list_rooms (PgStore *store, const char *bare_jid, GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL, NULL);
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (
      store, "SELECT room, name, nick FROM rooms WHERE bare_jid = ?1 ORDER BY room", bare_jid,
      PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return NULL;
  g_autoptr (GPtrArray) rooms = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_store_room_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PgStoreRoom *room = g_new0 (PgStoreRoom, 1);
      room->room = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
      room->name = g_strdup ((const char *)sqlite3_column_text (stmt, 1));
      room->nick = g_strdup ((const char *)sqlite3_column_text (stmt, 2));
      g_ptr_array_add (rooms, room);
    }
  if (rc != SQLITE_DONE)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "listing rooms");
      return NULL;
    }
  return g_steal_pointer (&rooms);
}

/* The insertion and the trimming, inside the caller's transaction. */
static gboolean
add_and_trim (PgStore *store, const char *bare_jid, const char *room, const PgStoreBacklogEntry *entry,
              guint max_messages, gint64 oldest_us, GError **error)
{
  g_autoptr (PgStoreCachedStmt) insert = pg_store_prepare_cached (
      store,
      "INSERT INTO room_backlog (bare_jid, room, id, nick, body, stamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      bare_jid, PG_STORE_ERROR_IO, error);
  if (insert == NULL || !bind_text (store, insert, 2, room, error)
      || !bind_text (store, insert, 3, entry->id, error) || !bind_text (store, insert, 4, entry->nick, error)
      || !bind_text (store, insert, 5, entry->body, error)
      || sqlite3_bind_int64 (insert, 6, entry->stamp_us) != SQLITE_OK
      || !pg_store_step_done (store, insert, error))
    return FALSE;
  g_autoptr (PgStoreCachedStmt) trim = pg_store_prepare_cached (
      store,
      "DELETE FROM room_backlog WHERE bare_jid = ?1 AND room = ?2 AND (stamp < ?3 OR seq NOT IN"
      " (SELECT seq FROM room_backlog WHERE bare_jid = ?1 AND room = ?2 ORDER BY seq DESC LIMIT ?4))",
      bare_jid, PG_STORE_ERROR_IO, error);
  return trim != NULL && bind_text (store, trim, 2, room, error)
         && sqlite3_bind_int64 (trim, 3, oldest_us) == SQLITE_OK
         && sqlite3_bind_int64 (trim, 4, max_messages) == SQLITE_OK
         && pg_store_step_done (store, trim, error);
}

gboolean
pg_store_backlog_add (PgStore *store, const char *bare_jid, const char *room,
                      const PgStoreBacklogEntry *entry, guint max_messages, gint64 oldest_us, GError **error)
{
  g_return_val_if_fail (
      store != NULL && bare_jid != NULL && room != NULL && entry != NULL && entry->body != NULL, FALSE);
  if (!pg_store_begin (store, error)
      || !pg_store_finish (store, add_and_trim (store, bare_jid, room, entry, max_messages, oldest_us, error),
                           error))
    {
      if (error != NULL && *error == NULL)
        pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
      g_prefix_error (error, "keeping a message of room %s for %s: ", room, bare_jid);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
pg_store_backlog_list (PgStore *store, const char *bare_jid, const char *room, GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && room != NULL, NULL);
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (
      store, "SELECT id, nick, body, stamp FROM room_backlog WHERE bare_jid = ?1 AND room = ?2 ORDER BY seq",
      bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL || !bind_text (store, stmt, 2, room, error))
    return NULL;
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_store_backlog_entry_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PgStoreBacklogEntry *entry = g_new0 (PgStoreBacklogEntry, 1);
      entry->id = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
      entry->nick = g_strdup ((const char *)sqlite3_column_text (stmt, 1));
      entry->body = g_strdup ((const char *)sqlite3_column_text (stmt, 2));
      entry->stamp_us = sqlite3_column_int64 (stmt, 3);
      g_ptr_array_add (entries, entry);
    }
  if (rc != SQLITE_DONE)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "listing a room's backlog");
      return NULL;
    }
  return g_steal_pointer (&entries);
}
