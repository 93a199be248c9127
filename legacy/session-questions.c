/* legacy/session-questions.c — libpurple's questions, asked of the user.
 *
 * A question event becomes a message from the gateway (type chat, with a
 * <thread/> naming the question, so that a reply finds it) and a pending
 * entry of the ad-hoc command PG_NODE_QUESTIONS, which shows it as a
 * XEP-0004 form. A plain-text reply answers what one line can answer
 * (legacy/question-form.h); "#N answer" picks question N when several
 * wait, else the oldest that takes text is answered. Unanswered after
 * [registration] question_timeout_s, a question is declined; a question
 * of a login that ended is withdrawn.
 *
 * Certificates ([legacy] certificates, purplegate.conf(5)): under "system"
 * an untrusted certificate is declined at once; under "ask" it is asked,
 * unless the user accepted this host's certificate with the same SHA-256
 * fingerprint before (a per-user setting in the store). A declined
 * certificate makes the login's failure say which certificate and why. */
#define G_LOG_DOMAIN "pg-session-questions"
#include "build-config.h"

#include "legacy/session-questions.h"

#include "legacy/question-form.h"
#include "legacy/session-private.h"
#include "transport/adhoc.h"
#include "transport/i18n.h"

#include <string.h>

#define THREAD_PREFIX "pg-question-"
#define COMMAND_NAME N_ ("Answer pending questions")

typedef struct
{
  PgSession *session;
  PgQuestion *question;
  guint number; /* for the user */
  guint timeout_id;
} PgPendingQuestion;

static const char *tr (PgSession *session, const char *msgid) G_GNUC_FORMAT (2);

static const char *
tr (PgSession *session, const char *msgid)
{
  return pg_i18n_translate (session->transport->i18n, session->lang, msgid);
}

static void
pending_free (PgPendingQuestion *pending)
{
  g_clear_handle_id (&pending->timeout_id, g_source_remove);
  pg_question_free (pending->question);
  g_free (pending);
}

/* A chat message from the gateway to the user. */
static void
tell (PgSession *session, const char *thread, const char *body)
{
  PgTransport *transport = session->transport;
  g_autoptr (PgStanza) message
      = pg_stanza_new ("message", transport->config->component_jid, session->bare_jid, "chat", NULL);
  pg_stanza_set_attr (message, "xml:lang", pg_i18n_get_language (transport->i18n, session->lang));
  pg_stanza_add_text_child (message, "body", NULL, body);
  if (thread != NULL)
    pg_stanza_add_text_child (message, "thread", NULL, thread);
  pg_transport_send (transport, message);
}

static void
tell_about (PgSession *session, PgPendingQuestion *pending, const char *text)
{
  g_autofree char *thread = g_strdup_printf (THREAD_PREFIX "%u", pending->number);
  tell (session, thread, text);
}

char *
pg_questions_dup_certificate_key (const PgQuestion *question)
{
  return g_strconcat (PG_SETTING_CERTIFICATE_PREFIX, question->host != NULL ? question->host : "", NULL);
}

/* Why the login is going to fail, for its failure report: @why (taken)
 * and @advice, a msgid. */
static void
refuse_certificate (PgSession *session, char *why, const char *advice)
{
  g_free (session->question_refusal);
  session->question_refusal = why;
  session->question_advice = advice;
}

#define CERTIFICATE_ARGS(q)                                                                                  \
  (q)->host != NULL ? (q)->host : "", (q)->subject != NULL ? (q)->subject : "",                              \
      (q)->fingerprint != NULL ? (q)->fingerprint : ""
#define ADVICE_RECONNECT N_ ("Reconnect to be asked again (command “Reconnect to the legacy network now”).")

char *
pg_questions_dup_certificate_refusal (PgTransport *transport, const PgQuestion *question, const char *lang,
                                      guint timeout_s)
{
  PgI18n *i18n = transport->i18n;
  if (timeout_s > 0)
    return g_strdup_printf (pg_i18n_translate (i18n, lang,
                                               N_ ("The certificate of %s (subject %s, SHA-256 fingerprint "
                                                   "%s) is not trusted: it was not accepted within %u "
                                                   "seconds.")),
                            CERTIFICATE_ARGS (question), timeout_s);
  return g_strdup_printf (pg_i18n_translate (i18n, lang,
                                             N_ ("The certificate of %s (subject %s, SHA-256 "
                                                 "fingerprint %s) is not trusted: you rejected it.")),
                          CERTIFICATE_ARGS (question));
}

PgCertificateVerdict
pg_questions_judge_certificate (PgTransport *transport, const char *bare_jid, const PgQuestion *question,
                                const char *lang, char **why)
{
  g_autofree char *key = pg_questions_dup_certificate_key (question);
  g_autofree char *accepted
      = bare_jid != NULL ? pg_store_dup_setting (transport->store, bare_jid, key, NULL) : NULL;
  if (accepted != NULL && g_strcmp0 (accepted, question->fingerprint) == 0)
    return PG_CERTIFICATE_TRUSTED;
  if (transport->config->certificates != PG_CERTIFICATES_SYSTEM)
    return PG_CERTIFICATE_ASK;
  *why = g_strdup_printf (pg_i18n_translate (transport->i18n, lang,
                                             N_ ("The certificate of %s (subject %s, SHA-256 "
                                                 "fingerprint %s) is not trusted by the system's "
                                                 "certificate authorities, and this gateway accepts "
                                                 "no other.")),
                          CERTIFICATE_ARGS (question));
  return PG_CERTIFICATE_DISTRUSTED;
}

static void
give_answer (PgSession *session, const PgQuestion *question, const PgQuestionAnswer *answer)
{
  if (question->kind == PG_QUESTION_CERTIFICATE && question->host != NULL && question->fingerprint != NULL)
    {
      if (answer->action != question->cancel_action)
        {
          g_autoptr (GError) error = NULL;
          g_autofree char *key = pg_questions_dup_certificate_key (question);
          if (!pg_store_put_setting (session->transport->store, session->bare_jid, key, question->fingerprint,
                                     &error))
            g_warning ("%s: cannot remember the certificate of %s: %s", session->bare_jid, question->host,
                       error->message);
          g_message ("%s: certificate of %s accepted", session->bare_jid, question->host);
        }
      else
        refuse_certificate (
            session, pg_questions_dup_certificate_refusal (session->transport, question, session->lang, 0),
            ADVICE_RECONNECT);
    }
  if (session->account != NULL)
    pg_account_answer_question (session->account, answer);
}

static PgPendingQuestion *
find_pending (PgSession *session, guint number)
{
  for (guint i = 0; session->questions != NULL && i < session->questions->len; i++)
    {
      PgPendingQuestion *pending = g_ptr_array_index (session->questions, i);
      if (pending->number == number)
        return pending;
    }
  return NULL;
}

static void
drop (PgSession *session, PgPendingQuestion *pending)
{
  g_ptr_array_remove (session->questions, pending); /* frees it */
}

static gboolean
on_timeout (gpointer data)
{
  PgPendingQuestion *pending = data;
  PgSession *session = pending->session;
  PgTransport *transport = session->transport;
  const PgQuestion *question = pending->question;
  guint seconds = transport->config->question_timeout_s;

  pending->timeout_id = 0;
  g_message ("%s: question %u not answered in %u s: declined", session->bare_jid, pending->number, seconds);
  g_autofree char *thread = g_strdup_printf (THREAD_PREFIX "%u", pending->number);
  g_autofree char *text = g_strdup_printf (
      tr (session, N_ ("Question %u was not answered within %u seconds and is cancelled.")), pending->number,
      seconds);
  tell (session, thread, text);
  if (question->kind == PG_QUESTION_CERTIFICATE)
    refuse_certificate (session,
                        pg_questions_dup_certificate_refusal (transport, question, session->lang, seconds),
                        ADVICE_RECONNECT);
  g_autoptr (PgQuestionAnswer) answer
      = pg_question_answer_new (question->id, pg_question_get_declining_action (question));
  if (session->account != NULL)
    pg_account_answer_question (session->account, answer);
  drop (session, pending);
  return G_SOURCE_REMOVE;
}

void
pg_questions_on_question (gpointer owner, const PgQuestion *question)
{
  PgSession *session = owner;
  PgTransport *transport = session->transport;

  if (question->kind == PG_QUESTION_CERTIFICATE)
    {
      char *why = NULL;
      switch (pg_questions_judge_certificate (transport, session->bare_jid, question, session->lang, &why))
        {
        case PG_CERTIFICATE_TRUSTED:
          {
            g_autoptr (PgQuestionAnswer) answer
                = pg_question_answer_new (question->id, pg_question_get_accepting_action (question));
            g_info ("%s: certificate of %s accepted before", session->bare_jid, question->host);
            pg_account_answer_question (session->account, answer);
            return;
          }
        case PG_CERTIFICATE_DISTRUSTED:
          {
            g_autoptr (PgQuestionAnswer) answer
                = pg_question_answer_new (question->id, pg_question_get_declining_action (question));
            refuse_certificate (session, why, N_ ("Tell the gateway's operator."));
            pg_account_answer_question (session->account, answer);
            return;
          }
        case PG_CERTIFICATE_ASK:
        default:
          break;
        }
    }
  if (session->questions == NULL)
    session->questions = g_ptr_array_new_with_free_func ((GDestroyNotify)pending_free);
  if (session->questions->len >= PG_QUESTIONS_MAX_PENDING)
    {
      g_autoptr (PgQuestionAnswer) answer
          = pg_question_answer_new (question->id, pg_question_get_declining_action (question));
      g_warning ("%s: %u questions of the legacy login pending: a new one declined", session->bare_jid,
                 session->questions->len);
      pg_account_answer_question (session->account, answer);
      return;
    }
  PgPendingQuestion *pending = g_new0 (PgPendingQuestion, 1);
  pending->session = session;
  pending->question = pg_question_copy (question);
  pending->number = ++session->questions_asked;
  pending->timeout_id = g_timeout_add_seconds (transport->config->question_timeout_s, on_timeout, pending);
  g_ptr_array_add (session->questions, pending);
  g_message ("%s: question %u from the legacy login (kind %d)", session->bare_jid, pending->number,
             question->kind);
  g_autofree char *thread = g_strdup_printf (THREAD_PREFIX "%u", pending->number);
  g_autofree char *body = pg_question_dup_message (
      question, pending->number, transport->legacy_name, tr (session, COMMAND_NAME),
      transport->config->question_timeout_s, transport->i18n, session->lang);
  tell (session, thread, body);
}

static PgPendingQuestion *
find_by_id (PgSession *session, guint32 id)
{
  for (guint i = 0; session->questions != NULL && i < session->questions->len; i++)
    {
      PgPendingQuestion *pending = g_ptr_array_index (session->questions, i);
      if (pending->question->id == id)
        return pending;
    }
  return NULL;
}

void
pg_questions_on_closed (gpointer owner, guint32 id)
{
  PgSession *session = owner;
  PgPendingQuestion *pending = find_by_id (session, id);
  if (pending == NULL)
    return;
  g_autofree char *text = g_strdup_printf (
      tr (session, N_ ("Question %u was withdrawn by the legacy network.")), pending->number);
  tell_about (session, pending, text);
  drop (session, pending);
}

void
pg_questions_withdraw_all (PgSession *session, gboolean tell_user)
{
  if (session->questions == NULL)
    return;
  for (guint i = 0; tell_user && i < session->questions->len; i++)
    {
      PgPendingQuestion *pending = g_ptr_array_index (session->questions, i);
      g_autofree char *text = g_strdup_printf (
          tr (session, N_ ("Question %u was withdrawn: the legacy login ended.")), pending->number);
      tell_about (session, pending, text);
    }
  g_clear_pointer (&session->questions, g_ptr_array_unref);
}

/* ---- plain-text replies ---- */

static PgPendingQuestion *
addressed (PgSession *session, const xmlNode *stanza, char **body)
{
  g_autofree char *thread = pg_stanza_dup_child_text (stanza, "thread", NULL);
  if (thread != NULL && g_str_has_prefix (thread, THREAD_PREFIX))
    {
      PgPendingQuestion *pending
          = find_pending (session, (guint)g_ascii_strtoull (thread + strlen (THREAD_PREFIX), NULL, 10));
      if (pending != NULL)
        return pending;
    }
  if (**body == '#' && g_ascii_isdigit ((*body)[1]))
    {
      char *end = NULL;
      guint number = (guint)g_ascii_strtoull (*body + 1, &end, 10);
      PgPendingQuestion *pending = find_pending (session, number);
      if (pending != NULL && (*end == '\0' || g_ascii_isspace (*end)))
        {
          char *rest = g_strdup (g_strstrip (end));
          g_free (*body);
          *body = rest;
          return pending;
        }
    }
  for (guint i = 0; i < session->questions->len; i++)
    {
      PgPendingQuestion *pending = g_ptr_array_index (session->questions, i);
      if (pg_question_takes_text (pending->question))
        return pending;
    }
  return g_ptr_array_index (session->questions, 0);
}

static PgRouteResult
on_reply (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgSession *session = pg_sessions_lookup (sessions, request->from_bare);
  if (session == NULL || session->questions == NULL || session->questions->len == 0
      || g_strcmp0 (request->type, "error") == 0)
    return PG_PASS;
  char *body = pg_stanza_dup_child_text (request->stanza, "body", NULL);
  if (body == NULL || *g_strstrip (body) == '\0')
    {
      g_free (body);
      return PG_PASS;
    }
  PgPendingQuestion *pending = addressed (session, request->stanza, &body);
  g_autofree char *text = body;
  g_autoptr (GError) error = NULL;
  g_autoptr (PgQuestionAnswer) answer = pg_question_answer_from_text (pending->question, text, &error);
  g_autofree char *thread = g_strdup_printf (THREAD_PREFIX "%u", pending->number);
  if (answer == NULL)
    {
      g_autofree char *reply
          = g_strdup_printf (tr (session, N_ ("Question %u: %s")), pending->number,
                             pg_i18n_translate (session->transport->i18n, session->lang, error->message));
      tell (session, thread, reply);
      return PG_HANDLED;
    }
  g_message ("%s: question %u answered by a reply", session->bare_jid, pending->number);
  give_answer (session, pending->question, answer);
  g_autofree char *ack = g_strdup_printf (tr (session, N_ ("Question %u answered.")), pending->number);
  drop (session, pending);
  tell (session, thread, ack);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_MESSAGE, NULL, NULL, NULL, PG_TARGET_DOMAIN, on_reply },
};

void
pg_questions_add_routes (PgTransport *transport, PgSessions *sessions)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), sessions);
}

/* ---- the ad-hoc command ---- */

static char *
summary (const PgPendingQuestion *pending)
{
  const PgQuestion *question = pending->question;
  const char *what = question->primary != NULL ? question->primary : question->title;
  return g_strdup_printf ("%u: %s", pending->number, what != NULL ? what : "");
}

static void
show_question (PgAdhocCall *call, PgSession *session, PgPendingQuestion *pending)
{
  g_autofree char *instructions = pg_question_dup_instructions (pending->question);
  g_autofree char *number = g_strdup_printf ("%u", pending->number);
  xmlNode *form = pg_adhoc_call_add_form (call, "form", pending->question->title, instructions, NULL);
  pg_question_fill_form (form, pending->question, session->transport->i18n, session->lang);
  pg_adhoc_call_set_data (call, "question", number);
  pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
}

static void
answer_command (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  PgSession *session = pg_sessions_lookup (transport->sessions, pg_adhoc_call_get_requester (call));
  guint n = session != NULL && session->questions != NULL ? session->questions->len : 0;
  const char *chosen = pg_adhoc_call_get_data (call, "question");
  const PgForm *submitted = pg_adhoc_call_get_form (call);

  if (pg_adhoc_call_get_stage (call) == 0)
    {
      if (n == 0)
        {
          pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO,
                                  pg_adhoc_call_translate (call, N_ ("No questions are pending.")));
          return;
        }
      if (n == 1)
        {
          show_question (call, session, g_ptr_array_index (session->questions, 0));
          return;
        }
      xmlNode *form = pg_adhoc_call_add_form (
          call, "form", pg_adhoc_call_translate (call, COMMAND_NAME),
          pg_adhoc_call_translate (call, N_ ("Choose the question to answer.")), NULL);
      xmlNode *list = pg_form_add_field (form, "question", "list-single",
                                         pg_adhoc_call_translate (call, N_ ("Question")), TRUE, NULL);
      for (guint i = 0; i < n; i++)
        {
          PgPendingQuestion *pending = g_ptr_array_index (session->questions, i);
          g_autofree char *label = summary (pending);
          g_autofree char *value = g_strdup_printf ("%u", pending->number);
          xmlNode *option = pg_stanza_add_child (list, "option", NULL);
          pg_stanza_set_attr (option, "label", label);
          pg_stanza_add_text_child (option, "value", NULL, value);
        }
      pg_adhoc_call_continue (call, PG_ADHOC_NEXT, PG_ADHOC_NEXT);
      return;
    }
  if (chosen == NULL)
    {
      /* The choice among several. */
      const char *value = submitted != NULL ? pg_form_get_value (submitted, "question") : NULL;
      PgPendingQuestion *pending = session != NULL && value != NULL
                                       ? find_pending (session, (guint)g_ascii_strtoull (value, NULL, 10))
                                       : NULL;
      if (pending == NULL)
        {
          pg_adhoc_call_fail (call, PG_ERR_NOT_ACCEPTABLE, NULL, N_ ("No such question is pending."));
          return;
        }
      show_question (call, session, pending);
      return;
    }
  PgPendingQuestion *pending
      = session != NULL ? find_pending (session, (guint)g_ascii_strtoull (chosen, NULL, 10)) : NULL;
  if (pending == NULL)
    {
      /* XEP-0050 §3.6: completed, with an error note. */
      pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_ERROR,
                              pg_adhoc_call_translate (call, N_ ("The question is no longer pending: it was "
                                                                 "answered, cancelled or withdrawn.")));
      return;
    }
  if (submitted == NULL)
    {
      pg_adhoc_call_fail (call, PG_ERR_BAD_REQUEST, "bad-payload", N_ ("The answer form is missing."));
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (PgQuestionAnswer) answer = pg_question_answer_from_form (pending->question, submitted, &error);
  if (answer == NULL)
    {
      if (g_error_matches (error, PG_QUESTION_FORM_ERROR, PG_QUESTION_FORM_ERROR_MISSING))
        pg_adhoc_call_fail (call, PG_ERR_BAD_REQUEST, "bad-payload", error->message);
      else
        pg_adhoc_call_fail (call, PG_ERR_NOT_ACCEPTABLE, NULL, error->message); /* XEP-0004 §4 */
      return;
    }
  g_message ("%s: question %u answered with the command", session->bare_jid, pending->number);
  give_answer (session, pending->question, answer);
  g_autofree char *note
      = g_strdup_printf (pg_adhoc_call_translate (call, N_ ("Question %u answered.")), pending->number);
  drop (session, pending);
  pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, note);
}

static const PgAdhocCommand commands[] = {
  {
      .node = PG_NODE_QUESTIONS,
      .name = COMMAND_NAME,
      .access = PG_ADHOC_ACCESS_REGISTERED,
      .handler = answer_command,
  },
};

void
pg_session_questions_register (PgTransport *transport)
{
  pg_adhoc_add_commands (transport, commands, G_N_ELEMENTS (commands));
}
