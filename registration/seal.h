/* registration/seal.h — sealing stored legacy passwords: AES-256-GCM with a
 * random 96-bit nonce per value, under a 32-byte key kept in a 0600 file. */
#pragma once
#include <glib.h>

#define PG_SEAL_ERROR (pg_seal_error_quark ())
GQuark pg_seal_error_quark (void);
typedef enum
{
  PG_SEAL_ERROR_KEY_FILE,    /* unreadable, wrong size, or permissions wider than 0600 */
  PG_SEAL_ERROR_CRYPTO,      /* OpenSSL failure */
  PG_SEAL_ERROR_AUTH_FAILED, /* wrong key, tampered or truncated blob */
} PgSealError;

#define PG_SEAL_KEY_BYTES 32

typedef struct PgSealKey PgSealKey;

/* Loads the key from @path, creating it (0600, RAND_bytes) when it does not
 * exist. Refuses a file that is not exactly 32 bytes or is readable or
 * writable by group or others. Caller owns the key; pg_seal_key_free() wipes it. */
PgSealKey *pg_seal_key_load (const char *path, GError **error);
void pg_seal_key_free (PgSealKey *key);

/* Seals @plaintext; @aad (the owner's bare JID) is authenticated, not stored,
 * so a sealed value copied onto another row does not open.
 * Returns nonce ‖ ciphertext ‖ tag; caller owns it (g_bytes_unref). */
GBytes *pg_seal (const PgSealKey *key, const char *plaintext, const char *aad, GError **error);
/* Opens a value made by pg_seal(). Caller owns the string; free it with
 * pg_seal_free_secret(), which wipes it. */
char *pg_unseal (const PgSealKey *key, GBytes *sealed, const char *aad, GError **error);
void pg_seal_free_secret (char *secret);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgSealKey, pg_seal_key_free)
