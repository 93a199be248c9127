/* legacy/purple-certificate.c — which login an untrusted certificate's
 * question belongs to.
 *
 * libpurple's TLS code verifies every server certificate with the x509
 * "tls_cached" verifier, which asks through purple_request_action() with no
 * account, its handle being the TLS connection. To show that question to
 * the right user, its start_verification is wrapped: the check under way
 * (login, host, subject, SHA-256 fingerprint) is known while it runs, and
 * the verifier asks synchronously from there (libpurple 2.14
 * certificate.c: start_verify → unknown_peer → complete → user_auth).
 *
 * An accepted certificate goes into libpurple's "tls_peers" cache, which
 * every login of the process shares and which would then trust the host
 * for all of them: it is dropped again at once (pg_purple_certificate_forget);
 * what a user accepted is remembered by the session layer, per user. */
#define G_LOG_DOMAIN "pg-purple-certificate"

#include "legacy/account-private.h"

/* libpurple's verifier and request ops carry no user data that reaches the
 * request: the one check under way, only during start_verification. */
static PgPurpleCertificateCheck *current;
static void (*tls_cached_start) (PurpleCertificateVerificationRequest *vrq);

/* The login whose TLS connection @vrq checks: protocols give their
 * PurpleConnection as the TLS connection's callback data (prpl-jabber,
 * prpl-irc). Compared with the live connections before it is trusted as
 * one; a walk over them once per TLS handshake. */
static PgPurpleAccount *
account_of (PurpleCertificateVerificationRequest *vrq)
{
  PurpleSslConnection *gsc = vrq->cb_data;
  if (gsc == NULL)
    return NULL;
  for (GList *l = purple_connections_get_all (); l != NULL; l = l->next)
    if (l->data == gsc->connect_cb_data)
      return pg_purple_account_from_connection (l->data);
  return NULL;
}

static char *
hex_pairs (GByteArray *bytes)
{
  GString *text = g_string_new (NULL);
  for (guint i = 0; bytes != NULL && i < bytes->len; i++)
    g_string_append_printf (text, "%s%02X", i > 0 ? ":" : "", bytes->data[i]);
  return g_string_free (text, FALSE);
}

static void
start_verification (PurpleCertificateVerificationRequest *vrq)
{
  PgPurpleCertificateCheck check = { .account = account_of (vrq), .host = vrq->subject_name };
  PgPurpleCertificateCheck *outer = current;

  if (vrq->cert_chain != NULL)
    {
      PurpleCertificate *crt = vrq->cert_chain->data;
      GByteArray *sha256 = purple_certificate_get_fingerprint_sha256 (crt, FALSE);
      check.subject = purple_certificate_get_subject_name (crt);
      check.fingerprint = hex_pairs (sha256);
      if (sha256 != NULL)
        g_byte_array_free (sha256, TRUE);
    }
  current = &check;
  tls_cached_start (vrq); /* may end the request: nothing of vrq after this */
  current = outer;
  g_free (check.subject);
  g_free (check.fingerprint);
}

const PgPurpleCertificateCheck *
pg_purple_certificate_get_check (void)
{
  return current;
}

void
pg_purple_certificate_forget (const char *host)
{
  PurpleCertificatePool *peers = purple_certificate_find_pool ("x509", "tls_peers");
  if (peers != NULL && host != NULL && purple_certificate_pool_contains (peers, host))
    purple_certificate_pool_delete (peers, host);
}

void
pg_purple_certificate_install (void)
{
  PurpleCertificateVerifier *verifier = purple_certificate_find_verifier ("x509", "tls_cached");
  if (verifier == NULL || verifier->start_verification == start_verification)
    return;
  tls_cached_start = verifier->start_verification;
  verifier->start_verification = start_verification;
}
