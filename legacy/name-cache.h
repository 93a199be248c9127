/* legacy/name-cache.h — a bounded map from names to their normal forms, so
 * that comparing names in the main process costs no round trip to the
 * process that normalises them (legacy/names.h) once a name was seen.
 *
 * At most its capacity of entries; adding one more evicts the one used
 * longest ago. */
#pragma once
#include <glib.h>

typedef struct PgNameCache PgNameCache;

/* A cache of at most @capacity (> 0) entries. Caller owns it. */
PgNameCache *pg_name_cache_new (guint capacity);
void pg_name_cache_free (PgNameCache *cache);

/* The normal form of @name, or NULL when it is not cached (borrowed from
 * the cache: valid until the next pg_name_cache_insert()). A hit makes the
 * entry the most recently used. */
const char *pg_name_cache_lookup (PgNameCache *cache, const char *name);
/* Remembers that @name normalises to @normalized (both copied); replaces
 * what was there. */
void pg_name_cache_insert (PgNameCache *cache, const char *name, const char *normalized);
guint pg_name_cache_size (PgNameCache *cache);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgNameCache, pg_name_cache_free)
