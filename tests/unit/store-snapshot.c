/* tests/unit/store-snapshot.c — a store's files as a crash leaves them. */
#include "tests/unit/store-snapshot.h"

#include <glib/gstdio.h>

static void
copy_if_there (const char *from, const char *to)
{
  g_autofree char *data = NULL;
  gsize size;

  if (!g_file_test (from, G_FILE_TEST_EXISTS))
    return;
  g_assert_true (g_file_get_contents (from, &data, &size, NULL));
  g_assert_true (
      g_file_set_contents_full (to, data, (gssize)size, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
}

PgStoreSnapshot *
pg_store_snapshot_open (const char *db_path, const char *key_path)
{
  PgStoreSnapshot *snapshot = g_new0 (PgStoreSnapshot, 1);
  static const char *const suffixes[] = { "", "-wal", "-outbox" };
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("pg-test-snapshot-XXXXXX", &error);
  g_autofree char *db = NULL, *key = NULL;

  g_assert_no_error (error);
  db = g_build_filename (dir, "purplegate.db", NULL);
  key = g_build_filename (dir, "purplegate.key", NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *from = g_strconcat (db_path, suffixes[i], NULL);
      g_autofree char *to = g_strconcat (db, suffixes[i], NULL);
      copy_if_there (from, to);
    }
  copy_if_there (key_path, key);
  snapshot->store = pg_store_open (db, key, &error);
  g_assert_no_error (error);
  snapshot->dir = dir;
  return snapshot;
}

void
pg_store_snapshot_free (PgStoreSnapshot *snapshot)
{
  g_autofree char *dir = snapshot->dir;
  g_autoptr (GDir) d = NULL;
  const char *name;

  pg_store_free (snapshot->store);
  g_free (snapshot);
  d = g_dir_open (dir, 0, NULL);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}
