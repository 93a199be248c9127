/* legacy/session-nick.c — a new nick for a login that is up. Where the
 * protocol has one nick per connection (IRC), "Change nick" asks the
 * network for it (NICK) without logging in again; the network's answer
 * decides: its echo of the change, or a refusal (433 in use, 432 refused)
 * told as precisely as a registration's check tells it. */
#define G_LOG_DOMAIN "pg-session-nick"
#include "build-config.h"

#include "legacy/session-private.h"
#include "legacy/verify.h"
#include "registration/user-options.h"
#include "transport/i18n.h"

#include <string.h>

struct PgNickChange
{
  PgSession *session; /* NULL once decided */
  char *nick;         /* asked for */
  char *lang;
  guint timeout_id;
  PgVerifyDone done;
  gpointer data;
  GDestroyNotify destroy;
};

static void
change_free (PgNickChange *change)
{
  g_clear_handle_id (&change->timeout_id, g_source_remove);
  if (change->destroy != NULL)
    change->destroy (change->data);
  g_free (change->nick);
  g_free (change->lang);
  g_free (change);
}

/* Tells the outcome and ends @change. */
static void
finish (PgNickChange *change, gboolean ok, PgErrorCondition condition, const char *text)
{
  if (change->session != NULL)
    change->session->nick_change = NULL;
  change->session = NULL;
  g_clear_handle_id (&change->timeout_id, g_source_remove);
  change->done (ok, condition, text, NULL, change->data);
  change_free (change);
}

static gboolean
on_timeout (gpointer data)
{
  PgNickChange *change = data;
  PgTransport *transport = change->session->transport;
  change->timeout_id = 0;
  finish (
      change, FALSE, PG_ERR_REMOTE_SERVER_TIMEOUT,
      pg_i18n_translate (transport->i18n, change->lang, N_ ("The legacy network did not answer in time.")));
  return G_SOURCE_REMOVE;
}

static gboolean
already_yours (gpointer data)
{
  finish (data, TRUE, PG_ERR_UNDEFINED_CONDITION, NULL);
  return G_SOURCE_REMOVE;
}

/* The part of a legacy user name after its nick (prpl-irc: "@server"). */
static const char *
after_nick (const char *legacy_username)
{
  return legacy_username + strcspn (legacy_username, "@");
}

gboolean
pg_sessions_change_nick (PgTransport *transport, const char *bare_jid, const char *legacy_username,
                         const char *lang, PgVerifyDone done, gpointer data, GDestroyNotify destroy)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  if (session == NULL || session->state != PG_SESSION_ONLINE || session->nick_change != NULL
      || !pg_account_has_connection_nick (session->account))
    return FALSE;
  /* Only the nick changes: another server needs another login. */
  g_autoptr (PgStoreUser) user = pg_store_get_user (transport->store, bare_jid, NULL);
  g_autofree char *refusal = NULL;
  g_autofree char *current
      = user != NULL
            ? pg_user_options_dup_legacy_username (transport, bare_jid, NULL, user->username, NULL, &refusal)
            : NULL;
  if (current == NULL || strcmp (after_nick (current), after_nick (legacy_username)) != 0)
    return FALSE;

  PgNickChange *change = g_new0 (PgNickChange, 1);
  change->session = session;
  change->nick = g_strndup (legacy_username, strcspn (legacy_username, "@"));
  change->lang = g_strdup (lang);
  change->done = done;
  change->data = data;
  change->destroy = destroy;
  /* Spelled as asked: a change of case is a change too. */
  g_autofree char *have = pg_account_dup_nick (session->account);
  if (g_strcmp0 (have, change->nick) == 0)
    {
      /* The network gave it already (the nick came back after a collision). */
      change->session = NULL;
      g_idle_add (already_yours, change);
      return TRUE;
    }
  if (!pg_account_set_nick (session->account, change->nick))
    {
      /* Against the protocol's rules: the check of a login tells why. */
      change->destroy = NULL;
      change_free (change);
      return FALSE;
    }
  g_message ("%s: asking the legacy network for another nick", bare_jid);
  change->timeout_id = g_timeout_add_seconds (transport->config->verify_timeout_s, on_timeout, change);
  session->nick_change = change;
  return TRUE;
}

gboolean
pg_session_nick_on_chat (PgSession *session, const PgChatEvent *event)
{
  PgNickChange *change = session->nick_change;
  if (change == NULL || event->chat != NULL)
    return FALSE;
  if (event->kind == PG_CHAT_EVENT_NICK && event->new_nick != NULL)
    {
      g_autofree char *got = pg_account_normalize (session->account, event->new_nick);
      g_autofree char *want = pg_account_normalize (session->account, change->nick);
      if (g_strcmp0 (got, want) == 0)
        {
          g_message ("%s: the legacy network gave the nick asked for", session->bare_jid);
          finish (change, TRUE, PG_ERR_UNDEFINED_CONDITION, NULL);
        }
      return FALSE; /* the rooms follow the nick too */
    }
  if (event->kind != PG_CHAT_EVENT_REFUSED
      || (event->refusal != PG_CHAT_REFUSED_NICK_IN_USE && event->refusal != PG_CHAT_REFUSED_BAD_NICK))
    return FALSE;
  PgErrorCondition condition;
  g_autofree char *text = pg_verify_dup_nick_refusal (session->transport, change->lang, change->nick,
                                                      event->refusal == PG_CHAT_REFUSED_BAD_NICK, event->text,
                                                      pg_account_get_nick_len (session->account), &condition);
  g_message ("%s: the legacy network refused the nick asked for", session->bare_jid);
  finish (change, FALSE, condition, text);
  return TRUE;
}

void
pg_session_nick_abort (PgSession *session)
{
  if (session->nick_change == NULL)
    return;
  finish (
      session->nick_change, FALSE, PG_ERR_RECIPIENT_UNAVAILABLE,
      pg_i18n_translate (session->transport->i18n, session->nick_change->lang,
                         N_ ("The legacy login ended before the network answered; your nick is unchanged.")));
}
