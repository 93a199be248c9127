/* registration/store-journal.c — the messages users wrote to legacy
 * contacts, waiting for the legacy server's confirmation: kept in memory
 * and in an append-only file beside the database (registration/store.h).
 *
 * Such a message is stored when it arrives and deleted a fraction of a
 * second later, once the legacy server confirmed it.  In sqlite each of
 * those changes rewrote the outbox's pages in the WAL (two writes per
 * page, several pages per commit) and cost half the main process's
 * instructions per message.  Here a change is a record appended to a
 * buffer, and the buffer is written with one write() per pass, where the
 * group commit ran: written before the pass's output, it survives a crash
 * of the process as a WAL commit with synchronous=NORMAL does.
 *
 * The file: an 8-byte magic, then records of
 *   u32 length, u32 check (of the payload), payload
 * (little-endian).  The payload's first byte is its kind: ADD (id,
 * created, expires, receipt, then bare_jid, peer, body, xmpp_id and
 * sender as u32 length + 1 — 0 for NULL — and bytes), DELETE (id), or
 * FLOOR (the highest id handed out so far).  Reading stops at the first
 * record that is cut short or does not match its check: the tail a crash
 * left half-written.  When the file holds mostly deleted rows, or a write
 * failed, the live rows are written whole to a new file that replaces it. */
#define G_LOG_DOMAIN "pg-store"
#include "build-config.h"

#include "registration/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "PGOUTBX\001"
#define MAGIC_LEN 8
#define HEAD_LEN 8 /* length and check */
/* A record longer than this is damage: bodies are bounded far below. */
#define MAX_PAYLOAD (64u << 20)
/* The file is rewritten when it is past this size and holds more than
 * REWRITE_RATIO times the live rows' bytes. */
#define REWRITE_MIN_BYTES (1u << 20)
#define REWRITE_RATIO 4

enum
{
  KIND_ADD = 1,
  KIND_DELETE = 2,
  KIND_FLOOR = 3,
};

typedef struct
{
  PgStoreOutboxItem item; /* direction is always PG_OUTBOX_TO_LEGACY */
  GList link;             /* in its user's queue; data points back here */
  gsize bytes;            /* its ADD record's size in the file */
} Row;

struct PgStoreJournal
{
  char *path;
  int fd;
  gsize file_size; /* bytes of whole records in the file */
  gsize live_bytes;
  GHashTable *rows;  /* &row->item.id → Row */
  GHashTable *users; /* bare_jid → GQueue of its rows, oldest first */
  GString *pending;  /* records not written yet */
  gboolean rewrite;  /* the file lacks changes: write it whole */
  gint64 max_id;     /* the highest id recorded or handed out */
};

static void
row_free (gpointer data)
{
  Row *row = data;
  pg_store_outbox_item_clear (&row->item);
  g_free (row);
}

static void
queue_free (gpointer queue)
{
  /* The links are the rows' own: freed with the rows. */
  g_slice_free (GQueue, queue);
}

/* FNV-1a: detects a torn or overwritten record, nothing more is asked. */
static guint32
check_of (const guint8 *p, gsize n)
{
  guint32 h = 2166136261u ^ (guint32)n;
  for (gsize i = 0; i < n; i++)
    h = (h ^ p[i]) * 16777619u;
  return h;
}

/* ---- encoding ---- */

/* Writers into a record whose size was reserved at once: a GString
 * append per field cost more than the rest of queueing a message. */
static guint8 *
put_u32 (guint8 *p, guint32 v)
{
  guint32 le = GUINT32_TO_LE (v);
  memcpy (p, &le, 4);
  return p + 4;
}

static guint8 *
put_i64 (guint8 *p, gint64 v)
{
  guint64 le = GUINT64_TO_LE ((guint64)v);
  memcpy (p, &le, 8);
  return p + 8;
}

static guint8 *
put_str (guint8 *p, const char *s, gsize n)
{
  p = put_u32 (p, s != NULL ? (guint32)n + 1 : 0);
  if (n > 0)
    memcpy (p, s, n);
  return p + n;
}

/* Reserves a record of @payload bytes at the end of @out; returns where
 * the payload goes. */
static guint8 *
reserve_record (GString *out, gsize payload)
{
  gsize start = out->len;
  g_string_set_size (out, start + HEAD_LEN + payload);
  return (guint8 *)out->str + start + HEAD_LEN;
}

/* Fills in the head of the record whose @payload bytes end @out. */
static gsize
seal_record (GString *out, gsize payload)
{
  guint8 *head = (guint8 *)out->str + out->len - payload - HEAD_LEN;
  put_u32 (put_u32 (head, (guint32)payload), check_of (head + HEAD_LEN, payload));
  return HEAD_LEN + payload;
}

static gsize
encode_add (GString *out, const PgStoreOutboxItem *item)
{
  const char *strs[] = { item->bare_jid, item->peer, item->body, item->xmpp_id, item->sender };
  gsize lens[G_N_ELEMENTS (strs)];
  gsize payload = 1 + 3 * 8 + 1;

  for (gsize i = 0; i < G_N_ELEMENTS (strs); i++)
    {
      lens[i] = strs[i] != NULL ? strlen (strs[i]) : 0;
      payload += 4 + lens[i];
    }
  guint8 *p = reserve_record (out, payload);
  *p++ = KIND_ADD;
  p = put_i64 (p, item->id);
  p = put_i64 (p, item->created);
  p = put_i64 (p, item->expires);
  *p++ = item->receipt ? 1 : 0;
  for (gsize i = 0; i < G_N_ELEMENTS (strs); i++)
    p = put_str (p, strs[i], lens[i]);
  return seal_record (out, payload);
}

static void
encode_id (GString *out, guint8 kind, gint64 id)
{
  guint8 *p = reserve_record (out, 1 + 8);
  *p = kind;
  put_i64 (p + 1, id);
  seal_record (out, 1 + 8);
}

/* ---- decoding ---- */

typedef struct
{
  const guint8 *p, *end;
} Reader;

static gboolean
get_i64 (Reader *r, gint64 *v)
{
  guint64 le;
  if (r->end - r->p < 8)
    return FALSE;
  memcpy (&le, r->p, 8);
  r->p += 8;
  *v = (gint64)GUINT64_FROM_LE (le);
  return TRUE;
}

static gboolean
get_str (Reader *r, char **s)
{
  guint32 le, n;
  if (r->end - r->p < 4)
    return FALSE;
  memcpy (&le, r->p, 4);
  r->p += 4;
  n = GUINT32_FROM_LE (le);
  if (n == 0)
    return TRUE;
  if ((gsize)(r->end - r->p) < n - 1 || memchr (r->p, '\0', n - 1) != NULL)
    return FALSE;
  *s = g_strndup ((const char *)r->p, n - 1);
  r->p += n - 1;
  return TRUE;
}

/* ---- the rows ---- */

static void
link_row (PgStoreJournal *journal, Row *row)
{
  GQueue *queue = g_hash_table_lookup (journal->users, row->item.bare_jid);
  GList *after;

  if (queue == NULL)
    {
      queue = g_slice_new0 (GQueue);
      g_hash_table_insert (journal->users, g_strdup (row->item.bare_jid), queue);
    }
  row->link.data = row;
  /* Ids grow: a new row goes last, but for rows read back out of order. */
  for (after = queue->tail; after != NULL && ((Row *)after->data)->item.id > row->item.id;
       after = after->prev)
    ;
  if (after == NULL)
    g_queue_push_head_link (queue, &row->link);
  else
    g_queue_insert_after_link (queue, after, &row->link);
  g_hash_table_insert (journal->rows, &row->item.id, row);
  journal->live_bytes += row->bytes;
  journal->max_id = MAX (journal->max_id, row->item.id);
}

static void
unlink_row (PgStoreJournal *journal, Row *row)
{
  GQueue *queue = g_hash_table_lookup (journal->users, row->item.bare_jid);

  g_queue_unlink (queue, &row->link);
  journal->live_bytes -= row->bytes;
  if (g_queue_is_empty (queue))
    g_hash_table_remove (journal->users, row->item.bare_jid); /* frees the queue */
  g_hash_table_remove (journal->rows, &row->item.id);         /* frees the row */
}

static Row *
row_new (const PgStoreOutboxItem *item, gint64 id)
{
  Row *row = g_new0 (Row, 1);
  g_autofree PgStoreOutboxItem *copy = pg_store_outbox_item_dup (item);

  row->item = *copy; /* the strings move into the row */
  row->item.id = id;
  row->item.direction = PG_OUTBOX_TO_LEGACY;
  row->item.loss = PG_OUTBOX_LOSS_NONE;
  row->item.lost = 0;
  return row;
}

/* Applies one record's payload; FALSE when it does not parse. */
static gboolean
apply (PgStoreJournal *journal, const guint8 *payload, gsize n)
{
  Reader r = { payload + 1, payload + n };
  gint64 id;

  if (n < 1 || !get_i64 (&r, &id) || id <= 0)
    return FALSE;
  switch (payload[0])
    {
    case KIND_ADD:
      {
        g_autoptr (PgStoreOutboxItem) item = g_new0 (PgStoreOutboxItem, 1);
        if (!get_i64 (&r, &item->created) || !get_i64 (&r, &item->expires) || r.p >= r.end)
          return FALSE;
        item->receipt = *r.p++ != 0;
        if (!get_str (&r, &item->bare_jid) || !get_str (&r, &item->peer) || !get_str (&r, &item->body)
            || !get_str (&r, &item->xmpp_id) || !get_str (&r, &item->sender) || r.p != r.end
            || item->bare_jid == NULL || item->peer == NULL || item->body == NULL)
          return FALSE;
        if (!g_hash_table_contains (journal->rows, &id))
          {
            Row *row = row_new (item, id);
            row->bytes = HEAD_LEN + n;
            link_row (journal, row);
          }
        return TRUE;
      }
    case KIND_DELETE:
      {
        Row *row = g_hash_table_lookup (journal->rows, &id);
        if (r.p != r.end)
          return FALSE;
        if (row != NULL)
          unlink_row (journal, row);
        journal->max_id = MAX (journal->max_id, id);
        return TRUE;
      }
    case KIND_FLOOR:
      if (r.p != r.end)
        return FALSE;
      journal->max_id = MAX (journal->max_id, id);
      return TRUE;
    default:
      return FALSE;
    }
}

/* Reads the records of @data; returns the end of the last whole one. */
static gsize
replay (PgStoreJournal *journal, const guint8 *data, gsize size)
{
  gsize at = MAGIC_LEN;

  while (size - at >= HEAD_LEN)
    {
      guint32 n, check;
      memcpy (&n, data + at, 4);
      memcpy (&check, data + at + 4, 4);
      n = GUINT32_FROM_LE (n);
      if (n == 0 || n > MAX_PAYLOAD || size - at - HEAD_LEN < n
          || GUINT32_FROM_LE (check) != check_of (data + at + HEAD_LEN, n)
          || !apply (journal, data + at + HEAD_LEN, n))
        break;
      at += HEAD_LEN + n;
    }
  return at;
}

/* ---- the file ---- */

static gboolean
fail_errno (GError **error, int errsv, const char *what, const char *path)
{
  g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_IO, "%s %s: %s", what, path, g_strerror (errsv));
  return FALSE;
}

static gboolean
write_all (int fd, const char *p, gsize n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          if (w == 0)
            errno = EIO;
          return FALSE;
        }
      p += w;
      n -= (gsize)w;
    }
  return TRUE;
}

static gint
by_id (gconstpointer a, gconstpointer b)
{
  gint64 x = (*(Row *const *)a)->item.id, y = (*(Row *const *)b)->item.id;
  return x < y ? -1 : x > y;
}

/* Every live row, oldest first; the rows stay the journal's. */
static GPtrArray *
rows_by_id (PgStoreJournal *journal)
{
  GPtrArray *rows = g_ptr_array_sized_new (g_hash_table_size (journal->rows));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, journal->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (rows, value);
  g_ptr_array_sort (rows, by_id);
  return rows;
}

/* Writes the live rows to a new file that replaces the journal: synced
 * before the rename, so that a crash leaves the old file or the new one. */
static gboolean
rewrite (PgStoreJournal *journal, GError **error)
{
  g_autofree char *tmp = g_strconcat (journal->path, ".new", NULL);
  g_autofree char *dir = g_path_get_dirname (journal->path);
  g_autoptr (GString) out = g_string_sized_new (journal->live_bytes + MAGIC_LEN + 64);
  g_autoptr (GPtrArray) rows = rows_by_id (journal);
  gsize live = 0;
  int fd, dfd, errsv;

  g_string_append_len (out, MAGIC, MAGIC_LEN);
  /* Ids handed out with nothing left of them stay used. */
  if (journal->max_id > 0)
    encode_id (out, KIND_FLOOR, journal->max_id);
  for (guint i = 0; i < rows->len; i++)
    {
      Row *row = rows->pdata[i];
      row->bytes = encode_add (out, &row->item);
      live += row->bytes;
    }
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail_errno (error, errno, "cannot create", tmp);
  if (!write_all (fd, out->str, out->len) || fdatasync (fd) != 0)
    {
      errsv = errno;
      close (fd);
      g_unlink (tmp);
      return fail_errno (error, errsv, "cannot write", tmp);
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0 || rename (tmp, journal->path) != 0)
    {
      errsv = errno;
      close (fd);
      g_unlink (tmp);
      return fail_errno (error, errsv, "cannot replace", journal->path);
    }
  /* The rename itself survives a power cut once the directory is synced. */
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      (void)fsync (dfd);
      close (dfd);
    }
  close (journal->fd);
  journal->fd = fd;
  journal->file_size = out->len;
  journal->live_bytes = live;
  g_string_truncate (journal->pending, 0);
  journal->rewrite = FALSE;
  return TRUE;
}

gboolean
pg_store_journal_flush (PgStoreJournal *journal, GError **error)
{
  if (journal->rewrite
      || (journal->file_size + journal->pending->len > REWRITE_MIN_BYTES
          && journal->file_size + journal->pending->len > REWRITE_RATIO * journal->live_bytes))
    {
      journal->rewrite = TRUE;
      return rewrite (journal, error);
    }
  if (journal->pending->len == 0)
    return TRUE;
  if (write_all (journal->fd, journal->pending->str, journal->pending->len))
    {
      journal->file_size += journal->pending->len;
      g_string_truncate (journal->pending, 0);
      return TRUE;
    }
  int errsv = errno;
  /* What was written of it would stop every record after it from being
   * read: cut it off, and write the whole file next time, since what it
   * held is lost from the file but not from memory. */
  if (ftruncate (journal->fd, (off_t)journal->file_size) != 0)
    g_debug ("cannot cut %s back: %s", journal->path, g_strerror (errno));
  g_string_truncate (journal->pending, 0);
  journal->rewrite = TRUE;
  return fail_errno (error, errsv, "cannot write", journal->path);
}

gboolean
pg_store_journal_has_pending (PgStoreJournal *journal)
{
  return journal->pending->len > 0 || journal->rewrite;
}

PgStoreJournal *
pg_store_journal_open (const char *path, GError **error)
{
  g_autoptr (PgStoreJournal) journal = g_new0 (PgStoreJournal, 1);
  g_autofree guint8 *data = NULL;
  struct stat st;
  gsize size = 0, good;

  journal->path = g_strdup (path);
  journal->rows = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, row_free);
  journal->users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, queue_free);
  journal->pending = g_string_new (NULL);
  journal->fd = open (path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (journal->fd < 0)
    {
      fail_errno (error, errno, "cannot open", path);
      return NULL;
    }
  /* Two processes appending to one file would make it unreadable. */
  if (flock (journal->fd, LOCK_EX | LOCK_NB) != 0)
    {
      fail_errno (error, errno, "cannot lock (is another purplegate using it?)", path);
      return NULL;
    }
  if (fstat (journal->fd, &st) != 0)
    {
      fail_errno (error, errno, "cannot read", path);
      return NULL;
    }
  if ((st.st_mode & 077) != 0 && fchmod (journal->fd, 0600) != 0)
    {
      fail_errno (error, errno, "cannot make private", path);
      return NULL;
    }
  if (st.st_size > 0 && !g_file_get_contents (path, (char **)&data, &size, error))
    return NULL;
  if (size == 0)
    {
      if (!write_all (journal->fd, MAGIC, MAGIC_LEN) || fdatasync (journal->fd) != 0)
        {
          fail_errno (error, errno, "cannot write", path);
          return NULL;
        }
      journal->file_size = MAGIC_LEN;
      return g_steal_pointer (&journal);
    }
  if (size < MAGIC_LEN || memcmp (data, MAGIC, MAGIC_LEN) != 0)
    {
      g_set_error (error, PG_STORE_ERROR, PG_STORE_ERROR_OPEN,
                   "%s is not a purplegate outbox file (it does not start as one)", path);
      return NULL;
    }
  good = replay (journal, data, size);
  if (good < size)
    {
      g_warning ("%s: dropped the last %" G_GSIZE_FORMAT " bytes, a record cut short or damaged (what a "
                 "crash in the middle of a write leaves); %u messages read before them",
                 path, size - good, g_hash_table_size (journal->rows));
      if (ftruncate (journal->fd, (off_t)good) != 0)
        journal->rewrite = TRUE;
    }
  journal->file_size = good;
  g_info ("%s: %u messages to legacy contacts waiting", path, g_hash_table_size (journal->rows));
  if (!pg_store_journal_flush (journal, error))
    return NULL;
  return g_steal_pointer (&journal);
}

void
pg_store_journal_free (PgStoreJournal *journal)
{
  if (journal == NULL)
    return;
  if (journal->fd >= 0)
    close (journal->fd);
  g_hash_table_unref (journal->users);
  g_hash_table_unref (journal->rows);
  g_string_free (journal->pending, TRUE);
  g_free (journal->path);
  g_free (journal);
}

gint64
pg_store_journal_max_id (PgStoreJournal *journal)
{
  return journal->max_id;
}

void
pg_store_journal_add (PgStoreJournal *journal, const PgStoreOutboxItem *item, gint64 id)
{
  Row *row = row_new (item, id);
  row->bytes = encode_add (journal->pending, &row->item);
  link_row (journal, row);
}

gboolean
pg_store_journal_remove (PgStoreJournal *journal, gint64 id)
{
  Row *row = g_hash_table_lookup (journal->rows, &id);

  if (row == NULL)
    return FALSE;
  unlink_row (journal, row);
  encode_id (journal->pending, KIND_DELETE, id);
  return TRUE;
}

void
pg_store_journal_forget (PgStoreJournal *journal, gint64 id)
{
  Row *row = g_hash_table_lookup (journal->rows, &id);

  if (row != NULL)
    unlink_row (journal, row);
  /* Its ADD may be in the buffer or in the file: only a rewrite drops both. */
  journal->rewrite = TRUE;
}

guint
pg_store_journal_remove_user (PgStoreJournal *journal, const char *bare_jid)
{
  GQueue *queue;
  guint n = 0;

  /* The user's queue goes with its last row. */
  while ((queue = g_hash_table_lookup (journal->users, bare_jid)) != NULL)
    {
      pg_store_journal_remove (journal, ((Row *)queue->head->data)->item.id);
      n++;
    }
  return n;
}

guint
pg_store_journal_count (PgStoreJournal *journal, const char *bare_jid)
{
  GQueue *queue;

  if (bare_jid == NULL)
    return g_hash_table_size (journal->rows);
  queue = g_hash_table_lookup (journal->users, bare_jid);
  return queue != NULL ? queue->length : 0;
}

void
pg_store_journal_list (PgStoreJournal *journal, const char *bare_jid, gint64 after_id, guint limit,
                       GPtrArray *into)
{
  if (bare_jid != NULL)
    {
      GQueue *queue = g_hash_table_lookup (journal->users, bare_jid);
      for (GList *l = queue != NULL ? queue->head : NULL; l != NULL && (limit == 0 || into->len < limit);
           l = l->next)
        if (((Row *)l->data)->item.id > after_id)
          g_ptr_array_add (into, pg_store_outbox_item_dup (&((Row *)l->data)->item));
      return;
    }
  g_autoptr (GPtrArray) rows = rows_by_id (journal);
  for (guint i = 0; i < rows->len && (limit == 0 || into->len < limit); i++)
    if (((Row *)rows->pdata[i])->item.id > after_id)
      g_ptr_array_add (into, pg_store_outbox_item_dup (&((Row *)rows->pdata[i])->item));
}

void
pg_store_journal_list_expired (PgStoreJournal *journal, gint64 now, GPtrArray *into)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, journal->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const PgStoreOutboxItem *item = &((Row *)value)->item;
      if (item->expires > 0 && item->expires <= now)
        g_ptr_array_add (into, pg_store_outbox_item_dup (item));
    }
}

gint64
pg_store_journal_next_expiry (PgStoreJournal *journal, gint64 after)
{
  GHashTableIter iter;
  gpointer value;
  gint64 next = 0;

  g_hash_table_iter_init (&iter, journal->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      gint64 expires = ((Row *)value)->item.expires;
      if (expires > after && (next == 0 || expires < next))
        next = expires;
    }
  return next;
}
