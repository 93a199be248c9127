/* transport/heap-trim.c — free heap pages back to the system
 * (transport/heap-trim.h). */
#define G_LOG_DOMAIN "pg-heap"
#include "build-config.h"

#include "transport/heap-trim.h"

#if defined HAVE_MALLOC_H && defined HAVE_MALLOC_TRIM && defined HAVE_MALLINFO2
#include <malloc.h>
#define PG_HEAP_CAN_TRIM 1
#endif

/* Seconds between two checks: one wake-up, a walk over the allocator's
 * free lists, nothing more when there is little to give back. */
#define PG_HEAP_TRIM_INTERVAL_S 5
/* Free bytes in the heap above which a check trims: below it, a trim would
 * give back a few pages that the next allocations fault in again. */
#define PG_HEAP_TRIM_SPARE_BYTES (256 * 1024)

struct PgHeapTrim
{
  GSource *source; /* the check; NULL without glibc's functions */
};

void
pg_heap_trim_now (void)
{
#ifdef PG_HEAP_CAN_TRIM
  malloc_trim (0);
#endif
}

static gboolean
check (gpointer data)
{
  (void)data;
#ifdef PG_HEAP_CAN_TRIM
  struct mallinfo2 info = mallinfo2 ();
  if (info.fordblks >= PG_HEAP_TRIM_SPARE_BYTES)
    malloc_trim (0);
#endif
  return G_SOURCE_CONTINUE;
}

PgHeapTrim *
pg_heap_trim_new (void)
{
  PgHeapTrim *trim = g_new0 (PgHeapTrim, 1);

  pg_heap_trim_now ();
#ifdef PG_HEAP_CAN_TRIM
  trim->source = g_timeout_source_new_seconds (PG_HEAP_TRIM_INTERVAL_S);
  g_source_set_callback (trim->source, check, trim, NULL);
  g_source_attach (trim->source, g_main_context_get_thread_default ());
#endif
  return trim;
}

void
pg_heap_trim_free (PgHeapTrim *trim)
{
  if (trim == NULL)
    return;
  if (trim->source != NULL)
    {
      g_source_destroy (trim->source);
      g_source_unref (trim->source);
    }
  g_free (trim);
}
