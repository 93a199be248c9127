/* tests/unit/test-seal.c — key files and AES-256-GCM sealing. */
#define _POSIX_C_SOURCE 200809L

#include "registration/seal.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct
{
  char *dir;
  char *key_path;
} Fixture;

static void
fixture_set_up (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("pg-test-seal-XXXXXX", &error);
  g_assert_no_error (error);
  f->key_path = g_build_filename (f->dir, "purplegate.key", NULL);
}

static void
fixture_tear_down (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_free (f->key_path);
  g_free (f->dir);
}

static PgSealKey *
load_key (const char *path)
{
  g_autoptr (GError) error = NULL;
  PgSealKey *key = pg_seal_key_load (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (key);
  return key;
}

static void
write_key_file (const char *path, gsize len, int mode)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *bytes = g_malloc0 (len + 1);

  memset (bytes, 'k', len);
  g_file_set_contents_full (path, bytes, (gssize)len, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

static GBytes *
seal (const PgSealKey *key, const char *text, const char *aad)
{
  g_autoptr (GError) error = NULL;
  GBytes *sealed = pg_seal (key, text, aad, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sealed);
  return sealed;
}

static void
assert_unseal_fails (const PgSealKey *key, GBytes *sealed, const char *aad)
{
  g_autoptr (GError) error = NULL;
  char *text = pg_unseal (key, sealed, aad, &error);

  g_assert_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_AUTH_FAILED);
  g_assert_null (text);
}

static void
test_key_create (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgSealKey) key = load_key (f->key_path);
  g_autoptr (PgSealKey) again = NULL;
  g_autoptr (GBytes) sealed = NULL;
  char *text;
  struct stat st;

  g_assert_cmpint (g_stat (f->key_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (st.st_size, ==, PG_SEAL_KEY_BYTES);

  /* Loading again reads the same key back. */
  again = load_key (f->key_path);
  sealed = seal (key, "hunter2", "user@example.org");
  text = pg_unseal (again, sealed, "user@example.org", NULL);
  g_assert_cmpstr (text, ==, "hunter2");
  pg_seal_free_secret (text);
}

static void
test_key_permissions (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  static const int modes[] = { 0644, 0640, 0604, 0660, 0610, 0602 };

  for (gsize i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *mode = g_strdup_printf ("%04o", modes[i]);
      PgSealKey *key;

      write_key_file (f->key_path, PG_SEAL_KEY_BYTES, modes[i]);
      key = pg_seal_key_load (f->key_path, &error);
      g_assert_null (key);
      g_assert_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_KEY_FILE);
      g_assert_nonnull (strstr (error->message, f->key_path));
      g_assert_nonnull (strstr (error->message, mode));
      g_assert_nonnull (strstr (error->message, "chmod 600"));
      g_assert_cmpint (g_unlink (f->key_path), ==, 0);
    }

  /* 0400 is private too. */
  write_key_file (f->key_path, PG_SEAL_KEY_BYTES, 0400);
  pg_seal_key_free (load_key (f->key_path));
}

static void
test_key_size (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  static const gsize sizes[] = { 0, 1, 16, PG_SEAL_KEY_BYTES - 1, PG_SEAL_KEY_BYTES + 1, 64 };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GError) error = NULL;
      PgSealKey *key;

      write_key_file (f->key_path, sizes[i], 0600);
      key = pg_seal_key_load (f->key_path, &error);
      g_assert_null (key);
      g_assert_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_KEY_FILE);
      g_assert_nonnull (strstr (error->message, f->key_path));
      g_assert_cmpint (g_unlink (f->key_path), ==, 0);
    }
}

static void
test_key_unreadable_dir (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "missing-dir", "purplegate.key", NULL);
  PgSealKey *key = pg_seal_key_load (path, &error);

  g_assert_null (key);
  g_assert_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_KEY_FILE);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_round_trip (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  static const char *const texts[] = {
    "", "p", "hunter2", "pässwörd ☃ 密码", "a password with spaces and \"quotes\"",
  };
  g_autoptr (PgSealKey) key = load_key (f->key_path);
  g_autofree char *long_text = g_strnfill (100000, 'x');

  for (gsize i = 0; i <= G_N_ELEMENTS (texts); i++)
    {
      const char *text = i < G_N_ELEMENTS (texts) ? texts[i] : long_text;
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) sealed = seal (key, text, "user@example.org");
      char *opened;

      g_assert_cmpuint (g_bytes_get_size (sealed), ==, 12 + strlen (text) + 16);
      opened = pg_unseal (key, sealed, "user@example.org", &error);
      g_assert_no_error (error);
      g_assert_cmpstr (opened, ==, text);
      pg_seal_free_secret (opened);
    }
  pg_seal_free_secret (NULL);
}

static void
test_nonce (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgSealKey) key = load_key (f->key_path);
  g_autoptr (GBytes) a = seal (key, "same text", "user@example.org");
  g_autoptr (GBytes) b = seal (key, "same text", "user@example.org");

  g_assert_false (g_bytes_equal (a, b));
  /* The nonces themselves differ, not just the tags. */
  g_assert_true (memcmp (g_bytes_get_data (a, NULL), g_bytes_get_data (b, NULL), 12) != 0);
}

static void
test_wrong_key (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autofree char *other_path = g_build_filename (f->dir, "other.key", NULL);
  g_autoptr (PgSealKey) key = load_key (f->key_path);
  g_autoptr (PgSealKey) other = load_key (other_path);
  g_autoptr (GBytes) sealed = seal (key, "hunter2", "user@example.org");

  assert_unseal_fails (other, sealed, "user@example.org");
}

static void
test_wrong_aad (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  static const char *const aads[] = { "other@example.org", "user@example.or", "", "USER@example.org" };
  g_autoptr (PgSealKey) key = load_key (f->key_path);
  g_autoptr (GBytes) sealed = seal (key, "hunter2", "user@example.org");

  for (gsize i = 0; i < G_N_ELEMENTS (aads); i++)
    assert_unseal_fails (key, sealed, aads[i]);
}

static void
test_tampered (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgSealKey) key = load_key (f->key_path);
  g_autoptr (GBytes) sealed = seal (key, "hunter2", "user@example.org");
  gsize len;
  const guint8 *orig = g_bytes_get_data (sealed, &len);

  /* Every byte — nonce, ciphertext, tag — is covered. */
  for (gsize i = 0; i < len; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (orig, len);
      g_autoptr (GBytes) tampered = NULL;

      copy[i] ^= 0x01;
      tampered = g_bytes_new (copy, len);
      assert_unseal_fails (key, tampered, "user@example.org");
    }
}

static void
test_truncated (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr (PgSealKey) key = load_key (f->key_path);
  g_autoptr (GBytes) sealed = seal (key, "hunter2", "user@example.org");
  g_autoptr (GBytes) longer = NULL;
  g_autoptr (GByteArray) extended = g_byte_array_new ();

  for (gsize len = 0; len < g_bytes_get_size (sealed); len++)
    {
      g_autoptr (GBytes) truncated = g_bytes_new_from_bytes (sealed, 0, len);
      assert_unseal_fails (key, truncated, "user@example.org");
    }

  g_byte_array_append (extended, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed));
  g_byte_array_append (extended, (const guint8 *)"x", 1);
  longer = g_byte_array_free_to_bytes (g_steal_pointer (&extended));
  assert_unseal_fails (key, longer, "user@example.org");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/seal/key/create", test_key_create);
  ADD ("/seal/key/permissions", test_key_permissions);
  ADD ("/seal/key/size", test_key_size);
  ADD ("/seal/key/unreadable", test_key_unreadable_dir);
  ADD ("/seal/round-trip", test_round_trip);
  ADD ("/seal/nonce", test_nonce);
  ADD ("/seal/unseal/wrong-key", test_wrong_key);
  ADD ("/seal/unseal/wrong-aad", test_wrong_aad);
  ADD ("/seal/unseal/tampered", test_tampered);
  ADD ("/seal/unseal/truncated", test_truncated);
#undef ADD

  return g_test_run ();
}
