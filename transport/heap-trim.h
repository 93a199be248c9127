/* transport/heap-trim.h — gives the heap pages that the C library's
 * allocator holds free back to the system.
 *
 * A burst (a login storm, the check logins of a wave of registrations, a
 * burst of frames from a worker) allocates much that is freed soon after,
 * between allocations that stay.  glibc's malloc returns memory to the
 * system only from the top of its heap, so the freed pages in the middle
 * stay resident; malloc_trim() releases every whole free page.  A process
 * that keeps a PgHeapTrim releases them at start (what start-up freed) and
 * then whenever the allocator holds more than a threshold free, checked
 * every few seconds.  Without glibc's malloc_trim() and mallinfo2() this
 * does nothing. */
#pragma once
#include <glib.h>

typedef struct PgHeapTrim PgHeapTrim;

/* Trims now, then checks every PG_HEAP_TRIM_INTERVAL_S on the
 * thread-default main context.  Caller owns the result
 * (pg_heap_trim_free()). */
PgHeapTrim *pg_heap_trim_new (void);
void pg_heap_trim_free (PgHeapTrim *trim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgHeapTrim, pg_heap_trim_free)

/* Releases the allocator's free pages now, whatever it holds free. */
void pg_heap_trim_now (void);
