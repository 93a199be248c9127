/* tests/fuzz/replay.c — main() for the fuzz targets when they are built
 * without libFuzzer (make check): runs LLVMFuzzerTestOneInput() once on
 * every file of the given files and directories, or by default of
 * PG_FUZZ_CORPUS_DIR/<name>, <name> being the program's name without its
 * "fuzz-" prefix (tests/fuzz/fuzz-jid replays tests/fuzz/corpus/jid).
 * Reports in TAP, one test per input; a crash or a broken property aborts
 * the program, which the TAP driver reports as an error. */
#define G_LOG_DOMAIN "pg-fuzz-replay"

#include "tests/fuzz/fuzz-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static void
add_path (GPtrArray *files, const char *path)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_ptr_array_add (files, g_strdup (path));
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    return;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add (names, g_build_filename (path, name, NULL));
  /* A stable order, so that a failure names the same input every time. */
  g_ptr_array_sort (names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (files, g_strdup (g_ptr_array_index (names, i)));
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *program = g_path_get_basename (argv[0]);
  const char *name = g_str_has_prefix (program, "fuzz-") ? program + strlen ("fuzz-") : program;

  if (argc > 1)
    for (int i = 1; i < argc; i++)
      add_path (files, argv[i]);
  else
    {
      const char *corpus = g_getenv ("PG_FUZZ_CORPUS_DIR");
      g_autofree char *dir = NULL;

      dir = g_build_filename (corpus != NULL ? corpus : PG_FUZZ_CORPUS_DIR, name, NULL);
      add_path (files, dir);
    }
  if (files->len == 0)
    {
      printf ("1..1\nnot ok 1 - no inputs to replay for %s\n", name);
      return 1;
    }

  int status = 0;
  g_autofree char *root = g_strconcat (g_getenv ("PG_FUZZ_CORPUS_DIR") ?: PG_FUZZ_CORPUS_DIR, "/", NULL);
  printf ("1..%u\n", files->len);
  fflush (stdout);
  for (guint i = 0; i < files->len; i++)
    {
      const char *file = g_ptr_array_index (files, i);
      /* Named as in the corpus ("jid/valid-01") when it comes from there. */
      const char *shown = g_str_has_prefix (file, root) ? file + strlen (root) : file;
      g_autofree char *contents = NULL;
      g_autofree uint8_t *copy = NULL;
      gsize size = 0;
      g_autoptr (GError) error = NULL;

      if (!g_file_get_contents (file, &contents, &size, &error))
        {
          printf ("not ok %u - %s: %s\n", i + 1, shown, error->message);
          status = 1;
          continue;
        }
      /* An exact-size copy, so that the sanitizers see reads past the end. */
      copy = g_malloc (MAX (size, 1));
      memcpy (copy, contents, size);
      printf ("# %s (%" G_GSIZE_FORMAT " bytes)\n", shown, size);
      fflush (stdout);
      LLVMFuzzerTestOneInput (copy, size);
      printf ("ok %u - %s\n", i + 1, shown);
      fflush (stdout);
    }
  return status;
}
