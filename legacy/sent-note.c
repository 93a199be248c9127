/* legacy/sent-note.c — the note of what a worker's logins had delivered
 * (legacy/sent-note.h): written by the worker, read by the main process. */
#define G_LOG_DOMAIN "pg-workers"
#include "build-config.h"

#include "legacy/sent-note.h"

#include "legacy/worker-file.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct
{
  guint32 id;
  guint32 padding;
  guint64 tags[2]; /* PgSentNoteKind → tag; the header: the magic, 0 */
} Slot;

G_STATIC_ASSERT (sizeof (Slot) == 24);

#define SLOTS (PG_SENT_NOTE_BYTES / sizeof (Slot))

struct PgSentNote
{
  Slot *slots;       /* mapped; slots[0] is the header */
  GHashTable *index; /* login id → slot number */
  GArray *free;      /* slot numbers given back, reused first */
  guint next;        /* the first slot never used */
};

PgSentNote *
pg_sent_note_open (const char *dir, GError **error)
{
  void *map = pg_worker_file_map (dir, PG_SENT_NOTE_FILE, PG_SENT_NOTE_BYTES, error);
  if (map == NULL)
    return NULL;
  PgSentNote *note = g_new0 (PgSentNote, 1);
  note->slots = map;
  note->slots[0].id = PG_SENT_NOTE_VERSION;
  note->slots[0].tags[0] = PG_SENT_NOTE_MAGIC;
  note->index = g_hash_table_new (NULL, NULL);
  note->free = g_array_new (FALSE, FALSE, sizeof (guint));
  note->next = 1;
  return note;
}

void
pg_sent_note_set (PgSentNote *note, guint32 id, PgSentNoteKind kind, guint64 tag)
{
  gpointer found;
  guint n;

  g_return_if_fail (note != NULL && id != 0
                    && (kind == PG_SENT_NOTE_WRITTEN || kind == PG_SENT_NOTE_PROCESSED));
  if (g_hash_table_lookup_extended (note->index, GUINT_TO_POINTER (id), NULL, &found))
    n = GPOINTER_TO_UINT (found);
  else
    {
      if (tag == 0)
        return;
      if (note->free->len > 0)
        {
          n = g_array_index (note->free, guint, note->free->len - 1);
          g_array_set_size (note->free, note->free->len - 1);
        }
      else if (note->next < SLOTS)
        n = note->next++;
      else
        return; /* full: this login's messages are sent again after a crash */
      g_hash_table_insert (note->index, GUINT_TO_POINTER (id), GUINT_TO_POINTER (n));
      /* A reused slot forgets its tags before it names the new login. */
      __atomic_store_n (&note->slots[n].tags[PG_SENT_NOTE_WRITTEN], 0, __ATOMIC_RELEASE);
      __atomic_store_n (&note->slots[n].tags[PG_SENT_NOTE_PROCESSED], 0, __ATOMIC_RELEASE);
      __atomic_store_n (&note->slots[n].id, id, __ATOMIC_RELEASE);
    }
  __atomic_store_n (&note->slots[n].tags[kind], tag, __ATOMIC_RELEASE);
}

void
pg_sent_note_forget (PgSentNote *note, guint32 id)
{
  gpointer found;

  g_return_if_fail (note != NULL);
  if (!g_hash_table_steal_extended (note->index, GUINT_TO_POINTER (id), NULL, &found))
    return;
  guint n = GPOINTER_TO_UINT (found);
  __atomic_store_n (&note->slots[n].id, 0, __ATOMIC_RELEASE);
  g_array_append_val (note->free, n);
}

void
pg_sent_note_free (PgSentNote *note, gboolean clean)
{
  if (note == NULL)
    return;
  if (clean)
    memset (note->slots, 0, note->next * sizeof (Slot));
  munmap (note->slots, PG_SENT_NOTE_BYTES);
  g_hash_table_unref (note->index);
  g_array_unref (note->free);
  g_free (note);
}

GHashTable *
pg_sent_note_parse (const guint8 *data, gsize len)
{
  Slot slot;

  if (data == NULL || len < 2 * sizeof (Slot))
    return NULL;
  memcpy (&slot, data, sizeof slot);
  if (slot.id != PG_SENT_NOTE_VERSION || slot.tags[0] != PG_SENT_NOTE_MAGIC)
    return NULL;
  GHashTable *tags = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  for (gsize offset = sizeof (Slot); offset + sizeof (Slot) <= len; offset += sizeof (Slot))
    {
      memcpy (&slot, data + offset, sizeof slot);
      PgSentNoteEntry entry = { slot.tags[PG_SENT_NOTE_WRITTEN], slot.tags[PG_SENT_NOTE_PROCESSED] };
      if (slot.id == 0 || (entry.written == 0 && entry.processed == 0))
        continue;
      /* One slot per login; were there two, the smaller claims less. */
      PgSentNoteEntry *known = g_hash_table_lookup (tags, GUINT_TO_POINTER (slot.id));
      if (known != NULL)
        {
          known->written = MIN (known->written, entry.written);
          known->processed = MIN (known->processed, entry.processed);
        }
      else
        g_hash_table_insert (tags, GUINT_TO_POINTER (slot.id), g_memdup2 (&entry, sizeof entry));
    }
  if (g_hash_table_size (tags) == 0)
    g_clear_pointer (&tags, g_hash_table_unref);
  return tags;
}

GHashTable *
pg_sent_note_take (const char *dir)
{
  gsize len = 0;
  g_autofree char *data = pg_worker_file_take (dir, PG_SENT_NOTE_FILE, PG_SENT_NOTE_BYTES, &len);

  if (data == NULL)
    return NULL;
  return pg_sent_note_parse ((const guint8 *)data, len);
}
