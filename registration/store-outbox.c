/* registration/store-outbox.c — the persistent outbox: messages waiting
 * for the component link or for a user's legacy login, and reports of
 * messages that were not kept.  Messages to users and the reports are rows
 * of the database (schema 5), each change a transaction or part of the
 * pass's group (registration/store-group.c); messages to legacy contacts
 * are rows of the journal (registration/store-journal.c). */
#define G_LOG_DOMAIN "pg-store"

#include "registration/store-private.h"

#include <string.h>

static const char *const directions[] = {
  [PG_OUTBOX_TO_USER] = "to-user",
  [PG_OUTBOX_TO_LEGACY] = "to-legacy",
};

static const char *const losses[] = {
  [PG_OUTBOX_LOSS_NONE] = NULL,
  [PG_OUTBOX_LOSS_FULL] = "full",
  [PG_OUTBOX_LOSS_EXPIRED] = "expired",
};

#define COLUMNS "id, bare_jid, direction, peer, body, loss, lost, xmpp_id, sender, receipt, created, expires"

void
pg_store_outbox_item_clear (PgStoreOutboxItem *item)
{
  g_free (item->bare_jid);
  g_free (item->peer);
  g_free (item->body);
  g_free (item->xmpp_id);
  g_free (item->sender);
}

void
pg_store_outbox_item_free (PgStoreOutboxItem *item)
{
  if (item == NULL)
    return;
  pg_store_outbox_item_clear (item);
  g_free (item);
}

PgStoreOutboxItem *
pg_store_outbox_item_dup (const PgStoreOutboxItem *item)
{
  PgStoreOutboxItem *copy = g_new (PgStoreOutboxItem, 1);

  *copy = *item;
  copy->bare_jid = g_strdup (item->bare_jid);
  copy->peer = g_strdup (item->peer);
  copy->body = g_strdup (item->body);
  copy->xmpp_id = g_strdup (item->xmpp_id);
  copy->sender = g_strdup (item->sender);
  return copy;
}

/* Writes the journal's changes now, unless the pass's group commit will. */
static gboolean
journal_written (PgStore *store, GError **error)
{
  return store->group_source != NULL || pg_store_journal_flush (store->journal, error);
}

static gboolean
bind_failed (PgStore *store, GError **error)
{
  return pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "cannot bind parameter");
}

static PgStoreOutboxItem *
read_item (sqlite3_stmt *stmt)
{
  PgStoreOutboxItem *item = g_new0 (PgStoreOutboxItem, 1);
  const char *loss = (const char *)sqlite3_column_text (stmt, 5);

  item->id = sqlite3_column_int64 (stmt, 0);
  item->bare_jid = g_strdup ((const char *)sqlite3_column_text (stmt, 1));
  item->direction = g_strcmp0 ((const char *)sqlite3_column_text (stmt, 2), "to-legacy") == 0
                        ? PG_OUTBOX_TO_LEGACY
                        : PG_OUTBOX_TO_USER;
  item->peer = g_strdup ((const char *)sqlite3_column_text (stmt, 3));
  item->body = g_strdup ((const char *)sqlite3_column_text (stmt, 4));
  item->loss = g_strcmp0 (loss, "full") == 0      ? PG_OUTBOX_LOSS_FULL
               : g_strcmp0 (loss, "expired") == 0 ? PG_OUTBOX_LOSS_EXPIRED
                                                  : PG_OUTBOX_LOSS_NONE;
  item->lost = (guint)sqlite3_column_int64 (stmt, 6);
  item->xmpp_id = g_strdup ((const char *)sqlite3_column_text (stmt, 7));
  item->sender = g_strdup ((const char *)sqlite3_column_text (stmt, 8));
  item->receipt = sqlite3_column_int (stmt, 9) != 0;
  item->created = sqlite3_column_int64 (stmt, 10);
  item->expires = sqlite3_column_int64 (stmt, 11); /* NULL reads as 0: never */
  return item;
}

static GPtrArray *
read_items (PgStore *store, sqlite3_stmt *stmt, GError **error)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_store_outbox_item_free);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (items, read_item (stmt));
  if (rc != SQLITE_DONE)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "reading the outbox");
      return NULL;
    }
  return g_steal_pointer (&items);
}

static gint64
count_rows (PgStore *store, const char *bare_jid, PgOutboxDirection direction, GError **error)
{
  /* Separate statements: one made to serve both could not use the index. */
  const char *sql
      = bare_jid == NULL
            ? "SELECT count(*) FROM outbox WHERE direction = ?2 AND body IS NOT NULL"
            : "SELECT count(*) FROM outbox WHERE bare_jid = ?1 AND direction = ?2 AND body IS NOT NULL";
  g_autoptr (PgStoreCachedStmt) stmt
      = pg_store_prepare_cached (store, sql, bare_jid, PG_STORE_ERROR_IO, error);

  if (stmt == NULL)
    return -1;
  if (sqlite3_bind_text (stmt, 2, directions[direction], -1, SQLITE_STATIC) != SQLITE_OK)
    {
      bind_failed (store, error);
      return -1;
    }
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "counting the outbox");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

void
pg_store_forget_outbox_counts (PgStore *store)
{
  if (store->outbox_counts != NULL)
    g_hash_table_remove_all (store->outbox_counts);
}

/* Adds @delta to the count of @bare_jid's messages to them, when it is known. */
static void
recount (PgStore *store, const char *bare_jid, gint64 delta)
{
  GHashTable *counts = store->outbox_counts;
  gpointer stored;

  if (counts != NULL && bare_jid != NULL && g_hash_table_lookup_extended (counts, bare_jid, NULL, &stored))
    g_hash_table_insert (counts, g_strdup (bare_jid),
                         GSIZE_TO_POINTER ((gsize)MAX ((gint64)GPOINTER_TO_SIZE (stored) + delta, 1)));
}

static gint64
count_messages (PgStore *store, const char *bare_jid, PgOutboxDirection direction, GError **error)
{
  GHashTable **counts = &store->outbox_counts;
  gpointer stored;

  if (direction == PG_OUTBOX_TO_LEGACY)
    return pg_store_journal_count (store->journal, bare_jid);
  if (bare_jid == NULL)
    return count_rows (store, NULL, direction, error);
  if (*counts != NULL && g_hash_table_lookup_extended (*counts, bare_jid, NULL, &stored))
    return (gint64)GPOINTER_TO_SIZE (stored) - 1;
  gint64 n = count_rows (store, bare_jid, direction, error);
  if (n < 0)
    return n;
  if (*counts == NULL)
    *counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (*counts, g_strdup (bare_jid), GSIZE_TO_POINTER ((gsize)n + 1));
  return n;
}

gint64
pg_store_outbox_count (PgStore *store, const char *bare_jid, PgOutboxDirection direction, GError **error)
{
  g_return_val_if_fail (store != NULL, -1);
  return count_messages (store, bare_jid, direction, error);
}

static gint64
insert (PgStore *store, const PgStoreOutboxItem *item, PgOutboxLoss loss, guint lost, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = pg_store_prepare_cached (
      store,
      "INSERT INTO outbox (bare_jid, direction, peer, body, loss, lost, xmpp_id, sender, receipt,"
      " created, expires, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
      item->bare_jid, PG_STORE_ERROR_IO, error);
  gint64 id = ++store->last_id; /* not given again even if the insert fails */

  if (stmt == NULL)
    return 0;
  if (sqlite3_bind_text (stmt, 2, directions[item->direction], -1, SQLITE_STATIC) != SQLITE_OK
      || sqlite3_bind_text (stmt, 3, item->peer, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || sqlite3_bind_text (stmt, 4, item->body, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || sqlite3_bind_text (stmt, 5, losses[loss], -1, SQLITE_STATIC) != SQLITE_OK
      || sqlite3_bind_int64 (stmt, 6, lost) != SQLITE_OK
      || sqlite3_bind_text (stmt, 7, item->xmpp_id, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || sqlite3_bind_text (stmt, 8, item->sender, -1, SQLITE_TRANSIENT) != SQLITE_OK
      || sqlite3_bind_int (stmt, 9, item->receipt ? 1 : 0) != SQLITE_OK
      || sqlite3_bind_int64 (stmt, 10, item->created) != SQLITE_OK
      || (item->expires > 0 ? sqlite3_bind_int64 (stmt, 11, item->expires) : sqlite3_bind_null (stmt, 11))
             != SQLITE_OK
      || sqlite3_bind_int64 (stmt, 12, id) != SQLITE_OK)
    {
      bind_failed (store, error);
      return 0;
    }
  if (!pg_store_step_done (store, stmt, error))
    return 0;
  if (item->body != NULL)
    recount (store, item->bare_jid, 1);
  return id;
}

gint64
pg_store_outbox_add (PgStore *store, const PgStoreOutboxItem *item, guint max, GError **error)
{
  return pg_store_outbox_add_counted (store, item, max, NULL, error);
}

gint64
pg_store_outbox_add_counted (PgStore *store, const PgStoreOutboxItem *item, guint max, guint *queued_before,
                             GError **error)
{
  gint64 queued = -1, id = 0;

  g_return_val_if_fail (store != NULL && item != NULL, 0);
  g_return_val_if_fail (item->bare_jid != NULL && item->peer != NULL && item->body != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (item->direction == PG_OUTBOX_TO_LEGACY)
    {
      queued = pg_store_journal_count (store->journal, item->bare_jid);
      if (queued >= max)
        goto refused;
      id = ++store->last_id;
      pg_store_journal_add (store->journal, item, id);
      if (!journal_written (store, error))
        {
          pg_store_journal_forget (store->journal, id);
          goto fail;
        }
    }
  else
    {
      if (!pg_store_begin (store, error))
        goto fail;
      queued = count_messages (store, item->bare_jid, item->direction, error);
      if (queued >= 0 && queued < max)
        id = insert (store, item, PG_OUTBOX_LOSS_NONE, 0, error);
      if (!pg_store_finish (store, id > 0, error))
        goto refused;
    }
  if (queued_before != NULL)
    *queued_before = (guint)queued;
  return id;

refused:
  if (queued >= (gint64)max)
    {
      g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_FULL, "the outbox of %s holds %u messages already",
                   item->bare_jid, max);
      return 0;
    }
fail:
  g_prefix_error (error, "queueing a message for %s: ", item->bare_jid);
  return 0;
}

/* add_loss inside the caller's transaction. */
static gint64
add_loss (PgStore *store, const char *bare_jid, const char *peer, PgOutboxLoss loss, guint count,
          gint64 sent_upto, GError **error)
{
  g_autoptr (PgStoreCachedStmt) last
      = pg_store_prepare_cached (store,
                                 "SELECT id, peer, loss FROM outbox WHERE bare_jid = ?1 "
                                 "AND direction = 'to-user' ORDER BY id DESC LIMIT 1",
                                 bare_jid, PG_STORE_ERROR_IO, error);
  int rc;

  if (last == NULL)
    return 0;
  rc = sqlite3_step (last);
  if (rc == SQLITE_ROW && sqlite3_column_int64 (last, 0) > sent_upto
      && g_strcmp0 ((const char *)sqlite3_column_text (last, 1), peer) == 0
      && g_strcmp0 ((const char *)sqlite3_column_text (last, 2), losses[loss]) == 0)
    {
      gint64 id = sqlite3_column_int64 (last, 0);
      g_autoptr (PgStoreCachedStmt) update = pg_store_prepare_cached (
          store, "UPDATE outbox SET lost = lost + ?2 WHERE id = ?1", NULL, PG_STORE_ERROR_IO, error);
      if (update == NULL)
        return 0;
      if (sqlite3_bind_int64 (update, 1, id) != SQLITE_OK
          || sqlite3_bind_int64 (update, 2, count) != SQLITE_OK)
        {
          bind_failed (store, error);
          return 0;
        }
      return pg_store_step_done (store, update, error) ? id : 0;
    }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "reading the outbox");
      return 0;
    }

  PgStoreOutboxItem report = {
    .bare_jid = (char *)bare_jid,
    .direction = PG_OUTBOX_TO_USER,
    .peer = (char *)peer,
    .created = g_get_real_time () / G_USEC_PER_SEC,
  };
  return insert (store, &report, loss, count, error);
}

gint64
pg_store_outbox_add_loss (PgStore *store, const char *bare_jid, const char *peer, PgOutboxLoss loss,
                          guint count, gint64 sent_upto, GError **error)
{
  gint64 id;

  g_return_val_if_fail (store != NULL && bare_jid != NULL && peer != NULL, 0);
  g_return_val_if_fail (loss != PG_OUTBOX_LOSS_NONE, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (pg_store_begin (store, error)
      && (id = add_loss (store, bare_jid, peer, loss, count, sent_upto, error)) > 0
      && pg_store_finish (store, TRUE, error))
    return id;
  pg_store_finish (store, FALSE, NULL);
  g_prefix_error (error, "recording lost messages of %s: ", bare_jid);
  return 0;
}

GPtrArray *
pg_store_outbox_list (PgStore *store, const char *bare_jid, PgOutboxDirection direction, gint64 after_id,
                      guint limit, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (direction == PG_OUTBOX_TO_LEGACY)
    {
      GPtrArray *items = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_store_outbox_item_free);
      pg_store_journal_list (store->journal, bare_jid, after_id, limit, items);
      return items;
    }
  stmt = pg_store_prepare_cached (store,
                                  "SELECT " COLUMNS " FROM outbox WHERE (?1 IS NULL OR bare_jid = ?1)"
                                  " AND direction = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
                                  bare_jid, PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return NULL;
  /* ?1 stays NULL (every user) unless pg_store_prepare() bound @bare_jid. */
  if (sqlite3_bind_text (stmt, 2, directions[direction], -1, SQLITE_STATIC) != SQLITE_OK
      || sqlite3_bind_int64 (stmt, 3, after_id) != SQLITE_OK
      || sqlite3_bind_int64 (stmt, 4, limit > 0 ? (gint64)limit : -1) != SQLITE_OK)
    {
      bind_failed (store, error);
      return NULL;
    }
  return read_items (store, stmt, error);
}

static gint
by_id (gconstpointer a, gconstpointer b)
{
  gint64 x = (*(PgStoreOutboxItem *const *)a)->id, y = (*(PgStoreOutboxItem *const *)b)->id;
  return x < y ? -1 : x > y;
}

GPtrArray *
pg_store_outbox_list_expired (PgStore *store, gint64 now, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stmt = pg_store_prepare_cached (store,
                                  "SELECT " COLUMNS " FROM outbox WHERE expires IS NOT NULL AND expires <= ?1"
                                  " ORDER BY id",
                                  NULL, PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return NULL;
  if (sqlite3_bind_int64 (stmt, 1, now) != SQLITE_OK)
    {
      bind_failed (store, error);
      return NULL;
    }
  g_autoptr (GPtrArray) items = read_items (store, stmt, error);
  if (items == NULL)
    return NULL;
  pg_store_journal_list_expired (store->journal, now, items);
  g_ptr_array_sort (items, by_id);
  return g_steal_pointer (&items);
}

/* Takes the row @id out of its owner's count, read from the row, before
 * it is deleted. */
static gboolean
uncount (PgStore *store, gint64 id, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt
      = pg_store_prepare_cached (store, "SELECT bare_jid FROM outbox WHERE id = ?1 AND body IS NOT NULL",
                                 NULL, PG_STORE_ERROR_IO, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_bind_int64 (stmt, 1, id) != SQLITE_OK)
    return bind_failed (store, error);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    recount (store, (const char *)sqlite3_column_text (stmt, 0), -1);
  else if (rc != SQLITE_DONE)
    return pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "reading the outbox");
  return TRUE;
}

/* Deletes the database's rows @ids inside the caller's transaction:
 * @owner's messages, or (@owner NULL) anybody's rows. */
static gboolean
delete_ids (PgStore *store, const gint64 *ids, guint n_ids, const char *owner, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt
      = pg_store_prepare_cached (store, "DELETE FROM outbox WHERE id = ?1", NULL, PG_STORE_ERROR_IO, error);
  gboolean look_up
      = owner == NULL && store->outbox_counts != NULL && g_hash_table_size (store->outbox_counts) > 0;

  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < n_ids; i++)
    {
      if (look_up && !uncount (store, ids[i], error))
        return FALSE;
      if (sqlite3_bind_int64 (stmt, 1, ids[i]) != SQLITE_OK)
        return bind_failed (store, error);
      if (!pg_store_step_done (store, stmt, error))
        return FALSE;
      if (owner != NULL && sqlite3_changes (store->db) > 0)
        recount (store, owner, -1);
      sqlite3_reset (stmt);
    }
  return TRUE;
}

/* Deletes @ids, rows of the journal or (unless @journal_only) of the database. */
static gboolean
delete_rows (PgStore *store, const gint64 *ids, guint n_ids, const char *owner, gboolean journal_only,
             GError **error)
{
  g_autoptr (GArray) in_db = g_array_new (FALSE, FALSE, sizeof (gint64));
  gboolean journal_changed = FALSE;

  for (guint i = 0; i < n_ids; i++)
    if (pg_store_journal_remove (store->journal, ids[i]))
      journal_changed = TRUE;
    else if (!journal_only)
      g_array_append_val (in_db, ids[i]);
  if (journal_changed && !journal_written (store, error))
    goto fail;
  if (in_db->len == 0)
    return TRUE;
  /* Their deletion follows what was delivered: grouped. */
  if (store->group_source != NULL)
    {
      if (pg_store_group_op_begin (store, in_db->len == 1, error)
          && pg_store_group_op_end (
              store, delete_ids (store, (const gint64 *)(void *)in_db->data, in_db->len, owner, error),
              error))
        return TRUE;
    }
  else if (pg_store_begin (store, error)
           && delete_ids (store, (const gint64 *)(void *)in_db->data, in_db->len, owner, error)
           && pg_store_finish (store, TRUE, error))
    return TRUE;
  else
    pg_store_finish (store, FALSE, NULL);
fail:
  g_prefix_error (error, "deleting %u outbox rows: ", n_ids);
  return FALSE;
}

gboolean
pg_store_outbox_delete (PgStore *store, const gint64 *ids, guint n_ids, GError **error)
{
  g_return_val_if_fail (store != NULL && (ids != NULL || n_ids == 0), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return delete_rows (store, ids, n_ids, NULL, FALSE, error);
}

gboolean
pg_store_outbox_delete_of (PgStore *store, const char *bare_jid, PgOutboxDirection direction,
                           const gint64 *ids, guint n_ids, GError **error)
{
  g_return_val_if_fail (store != NULL && bare_jid != NULL && (ids != NULL || n_ids == 0), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return delete_rows (store, ids, n_ids, direction == PG_OUTBOX_TO_USER ? bare_jid : NULL,
                      direction == PG_OUTBOX_TO_LEGACY, error);
}

gboolean
pg_store_outbox_expire_to_user (PgStore *store, PgStoreOutboxItem *const *items, guint n_items,
                                gint64 sent_upto, GError **error)
{
  g_return_val_if_fail (store != NULL && (items != NULL || n_items == 0), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_items == 0)
    return TRUE;
  if (!pg_store_begin (store, error))
    goto fail;
  for (guint i = 0; i < n_items; i++)
    {
      const PgStoreOutboxItem *item = items[i];
      if (item->direction != PG_OUTBOX_TO_USER || item->body == NULL)
        continue; /* reports never expire; to-legacy rows are bounced */
      if (!delete_ids (store, &item->id, 1, item->bare_jid, error)
          || add_loss (store, item->bare_jid, item->peer, PG_OUTBOX_LOSS_EXPIRED, 1, sent_upto, error) == 0)
        goto fail;
    }
  if (pg_store_finish (store, TRUE, error))
    return TRUE;

fail:
  pg_store_finish (store, FALSE, NULL);
  g_prefix_error (error, "expiring %u outbox rows: ", n_items);
  return FALSE;
}

gint64
pg_store_outbox_next_expiry (PgStore *store, gint64 after, GError **error)
{
  g_autoptr (PgStoreCachedStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, -1);
  stmt = pg_store_prepare_cached (store, "SELECT coalesce(min(expires), 0) FROM outbox WHERE expires > ?1",
                                  NULL, PG_STORE_ERROR_IO, error);
  if (stmt == NULL)
    return -1;
  if (sqlite3_bind_int64 (stmt, 1, after) != SQLITE_OK)
    {
      bind_failed (store, error);
      return -1;
    }
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pg_store_fail_db (error, store->db, PG_STORE_ERROR_IO, "reading the outbox");
      return -1;
    }
  gint64 in_db = sqlite3_column_int64 (stmt, 0);
  gint64 in_journal = pg_store_journal_next_expiry (store->journal, after);
  return in_db == 0 || (in_journal != 0 && in_journal < in_db) ? in_journal : in_db;
}
