/* legacy/verify.c — a throw-away legacy login per registration, and the
 * checks of a username that need no login.
 *
 * Where the protocol has one nick per connection (IRC), the login is only
 * a success when the network took the nick that was asked for: prpl-irc
 * logs in as bob1 when bob is in use (purple-chat-irc.c reports the
 * refusal), and that is a conflict, not a registration. */
#define G_LOG_DOMAIN "pg-verify"
#include "build-config.h"

#include "legacy/verify.h"

#include "legacy/account.h"
#include "legacy/irc-line.h"
#include "legacy/names.h"
#include "legacy/session.h"
#include "transport/i18n.h"

#include <string.h>

typedef struct
{
  PgTransport *transport;
  char *bare_jid;
  char *nick; /* the name asked for, without the configured suffix */
  char *lang;
  PgAccount *account;
  guint timeout_id;
  guint idle_id;
  gboolean ok;
  PgErrorCondition condition;
  char *text; /* for the user, in @lang */
  gint64 started;
  /* What the network said of the nick during the login. */
  gboolean nick_refused;
  PgChatRefusal nick_refusal;
  char *nick_words;
  PgVerifyDone done;
  gpointer data;
  GDestroyNotify destroy;
} Verification;

static const char *translate (PgTransport *transport, const char *lang, const char *msgid) G_GNUC_FORMAT (3);

static const char *
translate (PgTransport *transport, const char *lang, const char *msgid)
{
  return pg_i18n_translate (transport->i18n, lang, msgid);
}

/* The nick part of a legacy username (prpl-irc: "nick@server"). Owned. */
static char *
dup_nick_part (const char *legacy_username)
{
  return g_strndup (legacy_username, strcspn (legacy_username, "@"));
}

static char *
too_long_text (PgTransport *transport, const char *lang, const char *nick, guint limit)
{
  return g_strdup_printf (
      translate (transport, lang,
                 N_ ("“%s” is too long for this network: a nick may have at most %u characters.")),
      nick, limit);
}

char *
pg_verify_check_username (PgTransport *transport, const char *username, const char *lang,
                          PgErrorCondition *condition)
{
  PgConfig *config = transport->config;
  *condition = PG_ERR_NOT_ACCEPTABLE;
  g_autofree char *legacy_username = g_strconcat (username, config->username_suffix, NULL);
  g_autofree char *normalized = pg_names_normalize (transport->names, config->protocol, legacy_username);
  if (normalized == NULL || *normalized == '\0' || strpbrk (username, "\r\n") != NULL)
    return g_strdup_printf (translate (transport, lang, N_ ("“%s” is not a valid username on this network.")),
                            username);
  if (g_strcmp0 (config->protocol, "prpl-irc") != 0)
    return NULL;
  /* RFC 2812 §2.3.1; the length only where a login of this gateway has
   * heard the server's NICKLEN. */
  g_autofree char *nick = dup_nick_part (legacy_username);
  if (!pg_irc_nick_valid (nick, G_MAXUINT))
    return g_strdup_printf (
        translate (
            transport, lang,
            N_ ("“%s” is not a valid IRC nick: it must start with a letter or one of [ ] \\ ` _ ^ { | } "
                "and may contain only letters, digits, those characters and -, no spaces.")),
        nick);
  guint limit = pg_sessions_get_nick_len (transport);
  if (limit > 0 && strlen (nick) > limit)
    return too_long_text (transport, lang, nick, limit);
  return NULL;
}

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
             verification->ok ? "" : verification->text);
  verification->done (verification->ok, verification->condition, verification->text, verification->data);
  if (verification->destroy != NULL)
    verification->destroy (verification->data);
  g_free (verification->bare_jid);
  g_free (verification->nick);
  g_free (verification->lang);
  g_free (verification->nick_words);
  g_free (verification->text);
  g_free (verification);
  return G_SOURCE_REMOVE;
}

/* Takes @text (owned, for the user). */
static void
finish (Verification *verification, gboolean ok, PgErrorCondition condition, char *text)
{
  if (verification->idle_id != 0)
    {
      g_free (text);
      return; /* already decided */
    }
  g_clear_handle_id (&verification->timeout_id, g_source_remove);
  verification->ok = ok;
  verification->condition = condition;
  verification->text = text;
  verification->idle_id = g_idle_add (finish_idle, verification);
}

/* Why the nick asked for is not ours, for the user. */
static char *
dup_nick_refusal (Verification *verification, PgErrorCondition *condition)
{
  PgTransport *transport = verification->transport;
  const char *lang = verification->lang;
  if (verification->nick_refused && verification->nick_refusal == PG_CHAT_REFUSED_BAD_NICK)
    {
      *condition = PG_ERR_NOT_ACCEPTABLE;
      guint limit = verification->account != NULL ? pg_account_get_nick_len (verification->account) : 0;
      if (limit > 0 && strlen (verification->nick) > limit)
        return too_long_text (transport, lang, verification->nick, limit);
      return g_strdup_printf (translate (transport, lang, N_ ("The network refused the nick %s: %s")),
                              verification->nick,
                              verification->nick_words != NULL ? verification->nick_words : "");
    }
  *condition = PG_ERR_CONFLICT;
  return g_strdup_printf (translate (transport, lang, N_ ("%s is in use on this network; choose another.")),
                          verification->nick);
}

static void
on_connected (gpointer owner)
{
  Verification *verification = owner;
  PgAccount *account = verification->account;
  if (pg_account_has_connection_nick (account))
    {
      g_autofree char *nick = pg_account_dup_nick (account);
      g_autofree char *have = nick != NULL ? pg_account_normalize (account, nick) : NULL;
      g_autofree char *want = pg_account_normalize (account, verification->nick);
      if (g_strcmp0 (have, want) != 0)
        {
          PgErrorCondition condition;
          char *text = dup_nick_refusal (verification, &condition);
          finish (verification, FALSE, condition, text);
          return;
        }
    }
  finish (verification, TRUE, PG_ERR_UNDEFINED_CONDITION, NULL);
}

static void
on_disconnected (gpointer owner, PgAccountFailure failure, const char *reason)
{
  Verification *verification = owner;
  if (verification->nick_refused)
    {
      PgErrorCondition condition;
      char *text = dup_nick_refusal (verification, &condition);
      finish (verification, FALSE, condition, text);
      return;
    }
  /* Unreachable networks are worth a retry by the user; refusals are not. */
  finish (verification, FALSE,
          failure == PG_ACCOUNT_FAILURE_CONFLICT   ? PG_ERR_CONFLICT
          : failure == PG_ACCOUNT_FAILURE_NETWORK  ? PG_ERR_REMOTE_SERVER_TIMEOUT
          : failure == PG_ACCOUNT_FAILURE_INTERNAL ? PG_ERR_INTERNAL_SERVER_ERROR
                                                   : PG_ERR_NOT_ACCEPTABLE,
          g_strdup (reason));
}

static void
on_chat (gpointer owner, const PgChatEvent *event)
{
  Verification *verification = owner;
  if (event->kind != PG_CHAT_EVENT_REFUSED || event->chat != NULL || verification->nick_refused
      || (event->refusal != PG_CHAT_REFUSED_NICK_IN_USE && event->refusal != PG_CHAT_REFUSED_BAD_NICK))
    return;
  verification->nick_refused = TRUE;
  verification->nick_refusal = event->refusal;
  verification->nick_words = g_strdup (event->text);
}

static gboolean
on_timeout (gpointer data)
{
  Verification *verification = data;
  verification->timeout_id = 0;
  finish (verification, FALSE, PG_ERR_REMOTE_SERVER_TIMEOUT,
          g_strdup (translate (verification->transport, verification->lang,
                               N_ ("The legacy network did not answer in time."))));
  return G_SOURCE_REMOVE;
}

/* Nobody answers a question during registration: it fails, naming the
 * question, and the login (freed) declines it. */
static void
on_question (gpointer owner, const PgQuestion *question)
{
  Verification *verification = owner;
  const char *what = question->primary != NULL ? question->primary : question->title;
  g_autofree char *asked
      = question->fingerprint != NULL
            ? g_strdup_printf ("%s (SHA-256 %s)", what != NULL ? what : "", question->fingerprint)
            : g_strdup (what != NULL ? what : "");
  /* TRANSLATORS: %s is the question the legacy server asked, in its words. */
  finish (verification, FALSE, PG_ERR_NOT_ACCEPTABLE,
          g_strdup_printf (translate (verification->transport, verification->lang,
                                      N_ ("The legacy server asked: %s. Register with the ad-hoc command "
                                          "Register to answer it.")),
                           asked));
}

static const PgAccountEvents events = {
  .connected = on_connected,
  .disconnected = on_disconnected,
  .chat = on_chat,
  .question = on_question,
};

void
pg_verify_start (PgTransport *transport, const char *bare_jid, const char *username, const char *password,
                 const char *const *setting_keys, const char *const *setting_values, const char *lang,
                 PgVerifyDone done, gpointer data, GDestroyNotify destroy)
{
  Verification *verification = g_new0 (Verification, 1);
  verification->transport = transport;
  verification->bare_jid = g_strdup (bare_jid);
  verification->lang = g_strdup (lang);
  verification->started = g_get_monotonic_time ();
  verification->done = done;
  verification->data = data;
  verification->destroy = destroy;

  PgConfig *config = transport->config;
  g_autofree char *legacy_username = g_strconcat (username, config->username_suffix, NULL);
  verification->nick = dup_nick_part (legacy_username);
  verification->account = pg_account_new (transport->backend, config->protocol, legacy_username, password,
                                          setting_keys, setting_values, &events, verification);
  g_message ("%s: checking legacy credentials with a login", bare_jid);
  verification->timeout_id = g_timeout_add_seconds (config->verify_timeout_s, on_timeout, verification);
  pg_account_connect (verification->account);
}
