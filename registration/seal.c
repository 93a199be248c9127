/* registration/seal.c — AES-256-GCM sealing of stored legacy passwords.
 *
 * A sealed value is nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes).
 * The owner's bare JID is the additional authenticated data: it is not stored
 * in the value, but the value only opens under the same JID. */
#define G_LOG_DOMAIN "pg-seal"
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC under -std=c11 */

#include "registration/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)

#define NONCE_BYTES 12
#define TAG_BYTES 16

struct PgSealKey
{
  unsigned char bytes[PG_SEAL_KEY_BYTES];
};

G_DEFINE_QUARK (pg - seal - error - quark, pg_seal_error)

/* Sets a PG_SEAL_ERROR_CRYPTO error carrying OpenSSL's first queued reason,
 * and empties OpenSSL's error queue so that it does not leak into later calls. */
static void
set_crypto_error (GError **error, const char *what)
{
  unsigned long code = ERR_get_error ();
  char reason[256] = "no OpenSSL reason";

  if (code != 0)
    ERR_error_string_n (code, reason, sizeof reason);
  ERR_clear_error ();
  g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_CRYPTO, "%s: %s", what, reason);
}

static void
set_key_file_errno (GError **error, const char *what, const char *path, int saved_errno)
{
  g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_KEY_FILE, "cannot %s key file %s: %s", what, path,
               g_strerror (saved_errno));
}

/* Reads exactly @len bytes; a short file is reported by the caller's size check. */
static gboolean
read_fully (int fd, unsigned char *buf, size_t len, const char *path, GError **error)
{
  size_t done = 0;

  while (done < len)
    {
      ssize_t n = read (fd, buf + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_key_file_errno (error, "read", path, errno);
          return FALSE;
        }
      if (n == 0)
        {
          g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_KEY_FILE,
                       "key file %s changed size while being read", path);
          return FALSE;
        }
      done += (size_t)n;
    }
  return TRUE;
}

static gboolean
write_fully (int fd, const unsigned char *buf, size_t len, const char *path, GError **error)
{
  size_t done = 0;

  while (done < len)
    {
      ssize_t n = write (fd, buf + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_key_file_errno (error, "write", path, errno);
          return FALSE;
        }
      done += (size_t)n;
    }
  return TRUE;
}

/* Creates @path with O_EXCL, mode 0600, and fills @key with fresh random
 * bytes written to it. Sets *@exists (and no error) when another process
 * created the file first, so that the caller loads that one instead. */
static gboolean
create_key_file (const char *path, PgSealKey *key, gboolean *exists, GError **error)
{
  int fd;
  gboolean ok;

  *exists = FALSE;
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      *exists = (errno == EEXIST);
      if (!*exists)
        set_key_file_errno (error, "create", path, errno);
      return FALSE;
    }

  if (RAND_bytes (key->bytes, sizeof key->bytes) != 1)
    {
      set_crypto_error (error, "cannot generate a key");
      ok = FALSE;
    }
  else
    {
      ok = write_fully (fd, key->bytes, sizeof key->bytes, path, error);
    }
  if (ok && fsync (fd) != 0)
    {
      set_key_file_errno (error, "sync", path, errno);
      ok = FALSE;
    }
  if (close (fd) != 0 && ok)
    {
      set_key_file_errno (error, "close", path, errno);
      ok = FALSE;
    }
  if (!ok)
    {
      /* A partial key file would be refused (wrong size) on every later start. */
      (void)unlink (path);
      return FALSE;
    }

  g_message ("created a new key file %s; back it up with the database, stored "
             "passwords cannot be read without it",
             path);
  return TRUE;
}

/* Reads the key at @path into @key. Sets *@missing (and no error) when
 * @path does not exist, so that the caller creates it. */
static gboolean
read_key_file (const char *path, PgSealKey *key, gboolean *missing, GError **error)
{
  struct stat st;
  int fd;
  gboolean ok;

  *missing = FALSE;
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      *missing = (errno == ENOENT);
      if (!*missing)
        set_key_file_errno (error, "open", path, errno);
      return FALSE;
    }

  /* fstat on the open descriptor: what is checked is what is read. */
  if (fstat (fd, &st) != 0)
    {
      set_key_file_errno (error, "stat", path, errno);
      ok = FALSE;
    }
  else if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_KEY_FILE, "key file %s is not a regular file", path);
      ok = FALSE;
    }
  else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    {
      g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_KEY_FILE,
                   "key file %s has mode %04o, which lets group or others access it; "
                   "run chmod 600 %s",
                   path, (unsigned)(st.st_mode & 07777), path);
      ok = FALSE;
    }
  else if (st.st_size != PG_SEAL_KEY_BYTES)
    {
      g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_KEY_FILE,
                   "key file %s is %lld bytes long; a key file holds exactly %d bytes", path,
                   (long long)st.st_size, PG_SEAL_KEY_BYTES);
      ok = FALSE;
    }
  else
    {
      ok = read_fully (fd, key->bytes, sizeof key->bytes, path, error);
    }
  close (fd);
  return ok;
}

PgSealKey *
pg_seal_key_load (const char *path, GError **error)
{
  g_autoptr (PgSealKey) key = NULL;
  gboolean missing;
  gboolean exists;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  key = g_new0 (PgSealKey, 1);
  if (read_key_file (path, key, &missing, error))
    return g_steal_pointer (&key);
  if (!missing)
    return NULL;
  if (create_key_file (path, key, &exists, error))
    return g_steal_pointer (&key);
  if (!exists)
    return NULL;
  /* Lost a creation race against another process: use the key it wrote. */
  if (read_key_file (path, key, &missing, error))
    return g_steal_pointer (&key);
  if (missing)
    set_key_file_errno (error, "open", path, ENOENT);
  return NULL;
}

void
pg_seal_key_free (PgSealKey *key)
{
  if (key == NULL)
    return;
  OPENSSL_cleanse (key, sizeof *key);
  g_free (key);
}

static void
wipe_free (void *buf, size_t len)
{
  OPENSSL_cleanse (buf, len);
  g_free (buf);
}

/* Sets up @ctx for AES-256-GCM with @key, @nonce and the @aad string. */
static gboolean
init_gcm (EVP_CIPHER_CTX *ctx, gboolean encrypt, const PgSealKey *key, const unsigned char *nonce,
          const char *aad, GError **error)
{
  size_t aad_len = strlen (aad);
  int len;
  int ok;

  if (aad_len > INT_MAX)
    {
      g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_CRYPTO, "associated data too long");
      return FALSE;
    }
  ok = EVP_CipherInit_ex (ctx, EVP_aes_256_gcm (), NULL, NULL, NULL, encrypt ? 1 : 0) == 1
       && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1
       && EVP_CipherInit_ex (ctx, NULL, NULL, key->bytes, nonce, -1) == 1
       && EVP_CipherUpdate (ctx, NULL, &len, (const unsigned char *)aad, (int)aad_len) == 1;
  if (!ok)
    set_crypto_error (error, "cannot set up AES-256-GCM");
  return ok;
}

GBytes *
pg_seal (const PgSealKey *key, const char *plaintext, const char *aad, GError **error)
{
  g_autoptr (EVP_CIPHER_CTX) ctx = NULL;
  g_autofree unsigned char *blob = NULL; /* holds no secret: nonce, ciphertext, tag */
  size_t text_len;
  size_t blob_len;
  int len;
  int final_len;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (plaintext != NULL, NULL);
  g_return_val_if_fail (aad != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  text_len = strlen (plaintext);
  if (text_len > INT_MAX - NONCE_BYTES - TAG_BYTES)
    {
      g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_CRYPTO, "value too long to seal");
      return NULL;
    }
  blob_len = NONCE_BYTES + text_len + TAG_BYTES;
  blob = g_malloc (blob_len);

  ctx = EVP_CIPHER_CTX_new ();
  if (ctx == NULL)
    {
      set_crypto_error (error, "cannot allocate a cipher context");
      return NULL;
    }
  if (RAND_bytes (blob, NONCE_BYTES) != 1)
    {
      set_crypto_error (error, "cannot generate a nonce");
      return NULL;
    }
  if (!init_gcm (ctx, TRUE, key, blob, aad, error))
    return NULL;
  if (EVP_EncryptUpdate (ctx, blob + NONCE_BYTES, &len, (const unsigned char *)plaintext, (int)text_len) != 1
      || EVP_EncryptFinal_ex (ctx, blob + NONCE_BYTES + len, &final_len) != 1
      || (size_t)len + (size_t)final_len != text_len
      || EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, blob + NONCE_BYTES + text_len) != 1)
    {
      set_crypto_error (error, "cannot seal");
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&blob), blob_len);
}

char *
pg_unseal (const PgSealKey *key, GBytes *sealed, const char *aad, GError **error)
{
  g_autoptr (EVP_CIPHER_CTX) ctx = NULL;
  const unsigned char *blob;
  unsigned char tag[TAG_BYTES];
  size_t blob_len;
  size_t text_len;
  char *text;
  int len;
  int final_len;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (sealed != NULL, NULL);
  g_return_val_if_fail (aad != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  blob = g_bytes_get_data (sealed, &blob_len);
  if (blob_len < NONCE_BYTES + TAG_BYTES || blob_len > INT_MAX)
    {
      g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_AUTH_FAILED,
                   "sealed value is %zu bytes long; it cannot be a sealed value", blob_len);
      return NULL;
    }
  text_len = blob_len - NONCE_BYTES - TAG_BYTES;
  /* OpenSSL wants a writable tag buffer. */
  memcpy (tag, blob + NONCE_BYTES + text_len, TAG_BYTES);

  ctx = EVP_CIPHER_CTX_new ();
  if (ctx == NULL)
    {
      set_crypto_error (error, "cannot allocate a cipher context");
      return NULL;
    }
  if (!init_gcm (ctx, FALSE, key, blob, aad, error))
    return NULL;

  text = g_malloc (text_len + 1);
  if (EVP_DecryptUpdate (ctx, (unsigned char *)text, &len, blob + NONCE_BYTES, (int)text_len) != 1
      || EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) != 1)
    {
      set_crypto_error (error, "cannot open sealed value");
      wipe_free (text, text_len + 1);
      return NULL;
    }
  if (EVP_DecryptFinal_ex (ctx, (unsigned char *)text + len, &final_len) != 1)
    {
      /* Tag mismatch is not an OpenSSL fault: do not report a queued reason. */
      ERR_clear_error ();
      wipe_free (text, text_len + 1);
      g_set_error (error, PG_SEAL_ERROR, PG_SEAL_ERROR_AUTH_FAILED,
                   "sealed value does not open: wrong key, wrong owner, or altered");
      return NULL;
    }
  text[text_len] = '\0';
  return text;
}

void
pg_seal_free_secret (char *secret)
{
  if (secret == NULL)
    return;
  OPENSSL_cleanse (secret, strlen (secret));
  g_free (secret);
}
