/* legacy/verify.c — a throw-away legacy login per registration, and the
 * checks of a username that need no login.
 *
 * Where the protocol has one nick per connection (IRC), the login is only
 * a success when the network took the nick that was asked for: prpl-irc
 * logs in as bob1 when bob is in use (purple-chat-irc.c reports the
 * refusal), and that is a conflict, not a registration.
 *
 * A question the login asks (a certificate to trust, a one-time code) is
 * part of the check: it goes to the registration as a form, one at a
 * time, and the check waits for the answer up to [registration]
 * question_timeout_s instead of verify_timeout_s. Certificates are judged
 * first as a user's login judges them ([legacy] certificates, accepted
 * before); one the user accepts is remembered with the registration. */
#define G_LOG_DOMAIN "pg-verify"
#include "build-config.h"

#include "legacy/verify.h"

#include "legacy/account.h"
#include "legacy/irc-line.h"
#include "legacy/names.h"
#include "legacy/question-form.h"
#include "legacy/session-questions.h"
#include "legacy/session.h"
#include "transport/i18n.h"

#include <string.h>

struct PgVerification
{
  PgTransport *transport;
  char *bare_jid;
  gboolean registered; /* @bare_jid has a registration (a change) */
  char *nick;          /* the name asked for, without the configured suffix */
  char *lang;
  PgAccount *account;
  guint timeout_id; /* verify_timeout_s, or question_timeout_s while a question waits */
  guint idle_id;
  guint ask_id; /* the head question goes to @ask from an idle: never inside pg_verify_start() */
  gboolean ok;
  PgErrorCondition condition;
  char *text; /* for the user, in @lang */
  gint64 started;
  /* What the network said of the nick during the login. */
  gboolean nick_refused;
  PgChatRefusal nick_refusal;
  char *nick_words;
  /* The login's questions (PgQuestion), oldest first: the head is asked. */
  GQueue questions;
  /* Why the login will fail: a certificate declined (owned; NULL: none). */
  char *refusal;
  GHashTable *settings; /* to keep with the registration: accepted certificates */
  PgVerifyDone done;
  PgVerifyAsk ask;
  gpointer data;
  GDestroyNotify destroy;
};
typedef struct PgVerification Verification;

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
pg_verify_check_username (PgTransport *transport, const char *username, const char *legacy_username,
                          const char *lang, PgErrorCondition *condition)
{
  PgConfig *config = transport->config;
  *condition = PG_ERR_NOT_ACCEPTABLE;
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
  g_clear_handle_id (&verification->ask_id, g_source_remove);
  /* Freed outside libpurple's callback stack. */
  g_clear_pointer (&verification->account, pg_account_free);
  g_message ("%s: legacy credentials %s in %.1f s%s%s", verification->bare_jid,
             verification->ok ? "accepted" : "refused",
             (g_get_monotonic_time () - verification->started) / 1e6, verification->ok ? "" : ": ",
             verification->ok ? "" : verification->text);
  verification->done (verification->ok, verification->condition, verification->text,
                      verification->ok ? verification->settings : NULL, verification->data);
  if (verification->destroy != NULL)
    verification->destroy (verification->data);
  g_queue_clear_full (&verification->questions, (GDestroyNotify)pg_question_free);
  g_clear_pointer (&verification->settings, g_hash_table_unref);
  g_free (verification->bare_jid);
  g_free (verification->nick);
  g_free (verification->lang);
  g_free (verification->nick_words);
  g_free (verification->refusal);
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

static gboolean
decided (const Verification *verification)
{
  return verification->idle_id != 0;
}

char *
pg_verify_dup_nick_refusal (PgTransport *transport, const char *lang, const char *nick, gboolean bad,
                            const char *words, guint nick_len, PgErrorCondition *condition)
{
  if (bad)
    {
      *condition = PG_ERR_NOT_ACCEPTABLE;
      if (nick_len > 0 && strlen (nick) > nick_len)
        return too_long_text (transport, lang, nick, nick_len);
      return g_strdup_printf (translate (transport, lang, N_ ("The network refused the nick %s: %s")), nick,
                              words != NULL ? words : "");
    }
  *condition = PG_ERR_CONFLICT;
  return g_strdup_printf (translate (transport, lang, N_ ("%s is in use on this network; choose another.")),
                          nick);
}

/* Why the nick asked for is not ours, for the user. */
static char *
dup_nick_refusal (Verification *verification, PgErrorCondition *condition)
{
  gboolean bad = verification->nick_refused && verification->nick_refusal == PG_CHAT_REFUSED_BAD_NICK;
  guint limit = verification->account != NULL ? pg_account_get_nick_len (verification->account) : 0;
  return pg_verify_dup_nick_refusal (verification->transport, verification->lang, verification->nick, bad,
                                     verification->nick_words, limit, condition);
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
  if (verification->refusal != NULL)
    {
      /* A declined certificate says more than the protocol's TLS error. */
      finish (verification, FALSE, PG_ERR_NOT_ACCEPTABLE, g_steal_pointer (&verification->refusal));
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

/* The question in one line, the legacy network's words. Owned. */
static char *
dup_summary (const PgQuestion *question)
{
  const char *what = question->primary != NULL ? question->primary : question->title;
  return question->fingerprint != NULL
             ? g_strdup_printf ("%s (SHA-256 %s)", what != NULL ? what : "", question->fingerprint)
             : g_strdup (what != NULL ? what : "");
}

static gboolean on_question_timeout (gpointer data);

static gboolean
ask_idle (gpointer data)
{
  Verification *verification = data;
  PgTransport *transport = verification->transport;
  const PgQuestion *question = g_queue_peek_head (&verification->questions);
  verification->ask_id = 0;
  if (question == NULL || decided (verification))
    return G_SOURCE_REMOVE;
  g_autoptr (PgStanza) holder = pg_stanza_new ("message", NULL, NULL, NULL, NULL);
  xmlNode *form = pg_question_add_form (holder, question, transport->i18n, verification->lang);
  g_autofree char *summary = dup_summary (question);
  g_message ("%s: the checking login asks a question (kind %d)", verification->bare_jid, question->kind);
  verification->ask (verification, form, summary, verification->data);
  return G_SOURCE_REMOVE;
}

/* Asks the head question, or waits for the login again when none is left. */
static void
ask_next (Verification *verification)
{
  PgTransport *transport = verification->transport;
  g_clear_handle_id (&verification->timeout_id, g_source_remove);
  if (g_queue_is_empty (&verification->questions))
    {
      verification->timeout_id
          = g_timeout_add_seconds (transport->config->verify_timeout_s, on_timeout, verification);
      return;
    }
  verification->timeout_id
      = g_timeout_add_seconds (transport->config->question_timeout_s, on_question_timeout, verification);
  if (verification->ask_id == 0)
    verification->ask_id = g_idle_add (ask_idle, verification);
}

/* Gives @answer to the head question and asks the next. */
static void
answer_head (Verification *verification, const PgQuestionAnswer *answer)
{
  g_autoptr (PgQuestion) question = g_queue_pop_head (&verification->questions);
  pg_account_answer_question (verification->account, answer);
  if (!decided (verification))
    ask_next (verification);
}

static gboolean
on_question_timeout (gpointer data)
{
  Verification *verification = data;
  PgTransport *transport = verification->transport;
  const PgQuestion *question = g_queue_peek_head (&verification->questions);
  guint seconds = transport->config->question_timeout_s;
  verification->timeout_id = 0;
  g_autofree char *summary = dup_summary (question);
  char *text = question->kind == PG_QUESTION_CERTIFICATE
                   ? pg_questions_dup_certificate_refusal (transport, question, verification->lang, seconds)
                   /* TRANSLATORS: %s is the question, in the legacy network's words. */
                   : g_strdup_printf (translate (transport, verification->lang,
                                                 N_ ("The legacy network's question “%s” was not answered "
                                                     "within %u seconds.")),
                                      summary, seconds);
  finish (verification, FALSE, PG_ERR_NOT_ACCEPTABLE, text);
  g_autoptr (PgQuestionAnswer) answer
      = pg_question_answer_new (question->id, pg_question_get_declining_action (question));
  answer_head (verification, answer);
  return G_SOURCE_REMOVE;
}

static void
on_question (gpointer owner, const PgQuestion *question)
{
  Verification *verification = owner;
  PgTransport *transport = verification->transport;
  int action = -1;
  if (decided (verification) || verification->questions.length >= PG_QUESTIONS_MAX_PENDING)
    action = pg_question_get_declining_action (question); /* on its way out, or asking without end */
  else if (question->kind == PG_QUESTION_CERTIFICATE)
    {
      char *why = NULL;
      switch (pg_questions_judge_certificate (transport,
                                              verification->registered ? verification->bare_jid : NULL,
                                              question, verification->lang, &why))
        {
        case PG_CERTIFICATE_TRUSTED:
          action = pg_question_get_accepting_action (question);
          break;
        case PG_CERTIFICATE_DISTRUSTED:
          g_free (verification->refusal);
          verification->refusal = why;
          action = pg_question_get_declining_action (question);
          break;
        case PG_CERTIFICATE_ASK:
        default:
          break;
        }
    }
  if (action >= 0)
    {
      g_autoptr (PgQuestionAnswer) answer = pg_question_answer_new (question->id, action);
      pg_account_answer_question (verification->account, answer);
      return;
    }
  g_queue_push_tail (&verification->questions, pg_question_copy (question));
  if (verification->questions.length == 1)
    ask_next (verification);
}

static void
on_question_closed (gpointer owner, guint32 id)
{
  Verification *verification = owner;
  for (GList *l = verification->questions.head; l != NULL; l = l->next)
    {
      PgQuestion *question = l->data;
      if (question->id != id)
        continue;
      gboolean asked = l == verification->questions.head;
      g_queue_delete_link (&verification->questions, l);
      pg_question_free (question);
      if (asked && !decided (verification))
        ask_next (verification);
      return;
    }
}

gboolean
pg_verify_answer (PgVerification *verification, const PgForm *form, PgErrorCondition *condition, char **text)
{
  PgTransport *transport = verification->transport;
  const PgQuestion *question = g_queue_peek_head (&verification->questions);
  *condition = PG_ERR_NOT_ACCEPTABLE;
  if (question == NULL || decided (verification))
    {
      *text = g_strdup (translate (transport, verification->lang,
                                   N_ ("The question is no longer pending: it was answered, cancelled or "
                                       "withdrawn.")));
      return FALSE;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (PgQuestionAnswer) answer = pg_question_answer_from_form (question, form, &error);
  if (answer == NULL)
    {
      if (g_error_matches (error, PG_QUESTION_FORM_ERROR, PG_QUESTION_FORM_ERROR_MISSING))
        *condition = PG_ERR_BAD_REQUEST;
      *text = g_strdup (translate (transport, verification->lang, error->message));
      return FALSE;
    }
  if (question->kind == PG_QUESTION_CERTIFICATE && question->host != NULL && question->fingerprint != NULL)
    {
      if (answer->action != question->cancel_action)
        {
          if (verification->settings == NULL)
            verification->settings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
          g_hash_table_replace (verification->settings, pg_questions_dup_certificate_key (question),
                                g_strdup (question->fingerprint));
        }
      else
        {
          g_free (verification->refusal);
          verification->refusal
              = pg_questions_dup_certificate_refusal (transport, question, verification->lang, 0);
        }
    }
  g_message ("%s: the checking login's question answered", verification->bare_jid);
  answer_head (verification, answer);
  return TRUE;
}

void
pg_verify_stop (PgVerification *verification, PgErrorCondition condition, const char *text)
{
  g_message ("%s: the check of legacy credentials is abandoned", verification->bare_jid);
  finish (verification, FALSE, condition, g_strdup (text));
}

static const PgAccountEvents events = {
  .connected = on_connected,
  .disconnected = on_disconnected,
  .chat = on_chat,
  .question = on_question,
  .question_closed = on_question_closed,
};

PgVerification *
pg_verify_start (PgTransport *transport, const char *bare_jid, const char *username, const char *password,
                 const char *const *setting_keys, const char *const *setting_values, const char *lang,
                 PgVerifyDone done, PgVerifyAsk ask, gpointer data, GDestroyNotify destroy)
{
  g_return_val_if_fail (ask != NULL, NULL);
  Verification *verification = g_new0 (Verification, 1);
  verification->transport = transport;
  verification->bare_jid = g_strdup (bare_jid);
  verification->registered = pg_transport_is_registered (transport, bare_jid);
  verification->lang = g_strdup (lang);
  verification->started = g_get_monotonic_time ();
  verification->done = done;
  verification->ask = ask;
  verification->data = data;
  verification->destroy = destroy;
  g_queue_init (&verification->questions);

  PgConfig *config = transport->config;
  verification->nick = dup_nick_part (username);
  verification->account = pg_account_new (transport->backend, config->protocol, username, password,
                                          setting_keys, setting_values, &events, verification);
  g_message ("%s: checking legacy credentials with a login", bare_jid);
  verification->timeout_id = g_timeout_add_seconds (config->verify_timeout_s, on_timeout, verification);
  pg_account_connect (verification->account);
  return verification;
}
