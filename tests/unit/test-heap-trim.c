/* tests/unit/test-heap-trim.c — the allocator's free pages go back to the
 * system (transport/heap-trim.h): after a burst of blocks freed between
 * blocks that stay, the process's anonymous memory falls on a trim. */
#include "build-config.h"

#include "transport/heap-trim.h"

#include <stdio.h>
#include <string.h>

#define BLOCKS 512
#define BLOCK_BYTES 8192

/* Under AddressSanitizer its own allocator is in use: nothing to measure. */
#if defined HAVE_MALLOC_TRIM && defined HAVE_MALLINFO2 && !defined __SANITIZE_ADDRESS__
#define TRIM_MEASURABLE 1
#endif

#ifdef TRIM_MEASURABLE
/* RssAnon of this process, in KiB; -1 when unknown. */
static gint64
rss_anon_kib (void)
{
  g_autofree char *status = NULL;
  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  const char *line = strstr (status, "\nRssAnon:");
  return line != NULL ? g_ascii_strtoll (line + strlen ("\nRssAnon:"), NULL, 10) : -1;
}
#endif

static void
test_gives_back (void)
{
#ifndef TRIM_MEASURABLE
  g_test_skip ("glibc's allocator is not the one in use");
#else
  gpointer burst[BLOCKS], stay[BLOCKS];
  for (guint i = 0; i < BLOCKS; i++)
    {
      burst[i] = g_malloc (BLOCK_BYTES);
      memset (burst[i], 1, BLOCK_BYTES);
      stay[i] = g_malloc (32); /* keeps the freed blocks off the heap's top */
    }
  for (guint i = 0; i < BLOCKS; i++)
    g_free (burst[i]);
  gint64 before = rss_anon_kib ();
  if (before < 0)
    {
      g_test_skip ("no /proc/self/status");
      for (guint i = 0; i < BLOCKS; i++)
        g_free (stay[i]);
      return;
    }
  pg_heap_trim_now ();
  gint64 after = rss_anon_kib ();
  /* The blocks were 4 MiB, one small block apart: most pages are whole. */
  g_assert_cmpint (before - after, >=, BLOCKS * BLOCK_BYTES / 1024 / 2);
  for (guint i = 0; i < BLOCKS; i++)
    g_free (stay[i]);
#endif
}

static void
test_new_free (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  PgHeapTrim *trim = pg_heap_trim_new ();
  g_assert_nonnull (trim);
  pg_heap_trim_free (trim);
  g_main_context_pop_thread_default (context);
  pg_heap_trim_free (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/heap-trim/gives-back", test_gives_back);
  g_test_add_func ("/heap-trim/new-free", test_new_free);
  return g_test_run ();
}
