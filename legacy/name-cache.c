/* legacy/name-cache.c — the bounded name cache: a hash table for lookups,
 * and a queue of its entries, most recently used first, for eviction. */
#define G_LOG_DOMAIN "pg-names"
#include "build-config.h"

#include "legacy/name-cache.h"

typedef struct
{
  char *name;
  char *normalized;
  GList link; /* in the queue; its data is the entry */
} Entry;

struct PgNameCache
{
  guint capacity;
  GHashTable *entries; /* name (owned by the entry) → Entry */
  GQueue order;        /* of Entry.link, most recently used at the head */
};

static void
entry_free (Entry *entry)
{
  g_free (entry->name);
  g_free (entry->normalized);
  g_free (entry);
}

PgNameCache *
pg_name_cache_new (guint capacity)
{
  g_return_val_if_fail (capacity > 0, NULL);
  PgNameCache *cache = g_new0 (PgNameCache, 1);
  cache->capacity = capacity;
  cache->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)entry_free);
  g_queue_init (&cache->order);
  return cache;
}

void
pg_name_cache_free (PgNameCache *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_unref (cache->entries);
  g_free (cache);
}

const char *
pg_name_cache_lookup (PgNameCache *cache, const char *name)
{
  Entry *entry = g_hash_table_lookup (cache->entries, name);
  if (entry == NULL)
    return NULL;
  g_queue_unlink (&cache->order, &entry->link);
  g_queue_push_head_link (&cache->order, &entry->link);
  return entry->normalized;
}

void
pg_name_cache_insert (PgNameCache *cache, const char *name, const char *normalized)
{
  Entry *entry = g_hash_table_lookup (cache->entries, name);
  if (entry != NULL)
    {
      g_queue_unlink (&cache->order, &entry->link);
      g_hash_table_steal (cache->entries, name);
      entry_free (entry);
    }
  while (g_hash_table_size (cache->entries) >= cache->capacity)
    {
      GList *oldest = g_queue_pop_tail_link (&cache->order);
      g_hash_table_remove (cache->entries, ((Entry *)oldest->data)->name);
    }
  entry = g_new0 (Entry, 1);
  entry->name = g_strdup (name);
  entry->normalized = g_strdup (normalized);
  entry->link.data = entry;
  g_queue_push_head_link (&cache->order, &entry->link);
  g_hash_table_insert (cache->entries, entry->name, entry);
}

guint
pg_name_cache_size (PgNameCache *cache)
{
  return g_hash_table_size (cache->entries);
}
