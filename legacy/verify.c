/* legacy/verify.c — a throw-away legacy login per registration. */
#define G_LOG_DOMAIN "pg-verify"
#include "build-config.h"

#include "legacy/verify.h"

#include "legacy/account.h"
#include "transport/i18n.h"

typedef struct
{
  PgTransport *transport;
  char *bare_jid;
  PgAccount *account;
  guint timeout_id;
  guint idle_id;
  gboolean ok;
  PgErrorCondition condition;
  char *reason;
  gint64 started;
  PgVerifyDone done;
  gpointer data;
  GDestroyNotify destroy;
} Verification;

static gboolean
finish_idle (gpointer data)
{
  Verification *verification = data;
  verification->idle_id = 0;
  /* Freed outside libpurple's callback stack. */
  g_clear_pointer (&verification->account, pg_account_free);
  g_message ("%s: legacy credentials %s in %.1f s%s%s", verification->bare_jid,
             verification->ok ? "accepted" : "refused",
             (g_get_monotonic_time () - verification->started) / 1e6, verification->ok ? "" : ": ",
             verification->ok ? "" : verification->reason);
  verification->done (verification->ok, verification->condition, verification->reason, verification->data);
  if (verification->destroy != NULL)
    verification->destroy (verification->data);
  g_free (verification->bare_jid);
  g_free (verification->reason);
  g_free (verification);
  return G_SOURCE_REMOVE;
}

static void
finish (Verification *verification, gboolean ok, PgErrorCondition condition, const char *reason)
{
  if (verification->idle_id != 0)
    return; /* already decided */
  g_clear_handle_id (&verification->timeout_id, g_source_remove);
  verification->ok = ok;
  verification->condition = condition;
  verification->reason = g_strdup (reason);
  verification->idle_id = g_idle_add (finish_idle, verification);
}

static void
on_connected (gpointer owner)
{
  finish (owner, TRUE, PG_ERR_UNDEFINED_CONDITION, NULL);
}

static void
on_disconnected (gpointer owner, PgAccountFailure failure, const char *reason)
{
  /* Unreachable networks are worth a retry by the user; refusals are not. */
  finish (owner, FALSE,
          failure == PG_ACCOUNT_FAILURE_CONFLICT   ? PG_ERR_CONFLICT
          : failure == PG_ACCOUNT_FAILURE_NETWORK  ? PG_ERR_REMOTE_SERVER_TIMEOUT
          : failure == PG_ACCOUNT_FAILURE_INTERNAL ? PG_ERR_INTERNAL_SERVER_ERROR
                                                   : PG_ERR_NOT_ACCEPTABLE,
          reason);
}

static gboolean
on_timeout (gpointer data)
{
  Verification *verification = data;
  verification->timeout_id = 0;
  finish (verification, FALSE, PG_ERR_REMOTE_SERVER_TIMEOUT,
          N_ ("The legacy network did not answer in time."));
  return G_SOURCE_REMOVE;
}

/* Nobody answers a question during registration: it fails, naming the
 * question, and the login (freed) declines it. */
static void
on_question (gpointer owner, const PgQuestion *question)
{
  const char *what = question->primary != NULL ? question->primary : question->title;
  g_autofree char *reason = g_strdup_printf (
      "the legacy server asked: %s%s%s%s; register with the ad-hoc command to answer it", what ? what : "",
      question->fingerprint != NULL ? " (SHA-256 fingerprint " : "",
      question->fingerprint != NULL ? question->fingerprint : "", question->fingerprint != NULL ? ")" : "");
  finish (owner, FALSE, PG_ERR_NOT_ACCEPTABLE, reason);
}

static const PgAccountEvents events = {
  .connected = on_connected,
  .disconnected = on_disconnected,
  .question = on_question,
};

void
pg_verify_start (PgTransport *transport, const char *bare_jid, const char *username, const char *password,
                 PgVerifyDone done, gpointer data, GDestroyNotify destroy)
{
  Verification *verification = g_new0 (Verification, 1);
  verification->transport = transport;
  verification->bare_jid = g_strdup (bare_jid);
  verification->started = g_get_monotonic_time ();
  verification->done = done;
  verification->data = data;
  verification->destroy = destroy;

  PgConfig *config = transport->config;
  g_autofree char *legacy_username = g_strconcat (username, config->username_suffix, NULL);
  verification->account
      = pg_account_new (transport->backend, config->protocol, legacy_username, password,
                        (const char *const *)config->legacy_setting_keys,
                        (const char *const *)config->legacy_setting_values, &events, verification);
  g_message ("%s: checking legacy credentials with a login", bare_jid);
  verification->timeout_id = g_timeout_add_seconds (config->verify_timeout_s, on_timeout, verification);
  pg_account_connect (verification->account);
}
