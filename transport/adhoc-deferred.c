/* transport/adhoc-deferred.c — command answers that wait for an outcome
 * elsewhere (a legacy login), sent later as XEP-0050 §3.6 notes or §4.4
 * errors. */
#define G_LOG_DOMAIN "pg-adhoc"
#include "build-config.h"

#include "transport/adhoc-private.h"
#include "transport/i18n.h"

struct PgAdhocDeferred
{
  PgAdhoc *adhoc;
  PgStanza *request; /* a copy, for the error */
  char *lang;
  PgStanza *reply;  /* the iq result, once the handler returned */
  xmlNode *answer;  /* its <command/> */
  char *session_id; /* the session waiting for the answer; NULL: none */
};

PgAdhocDeferred *
pg_adhoc_call_defer (PgAdhocCall *call)
{
  g_return_val_if_fail (call->deferred == NULL, call->deferred);
  PgAdhocDeferred *deferred = g_new0 (PgAdhocDeferred, 1);
  deferred->adhoc = call->adhoc;
  deferred->request = pg_stanza_copy (call->request->stanza);
  deferred->lang = g_strdup (call->request->lang);
  call->deferred = deferred;
  return deferred;
}

void
pg_adhoc_deferred_take (PgAdhocDeferred *deferred, PgStanza *reply, xmlNode *answer, const char *session_id)
{
  deferred->reply = reply;
  deferred->answer = answer;
  deferred->session_id = g_strdup (session_id);
}

/* After the answer went out: the session ends (or has a stage more), then
 * @deferred is freed. */
static void
deferred_free (PgAdhocDeferred *deferred, const xmlNode *stage, guint allowed, PgAdhocAction execute)
{
  if (deferred->session_id != NULL)
    pg_adhoc_session_resume (deferred->adhoc, deferred->session_id, stage, allowed, execute);
  pg_stanza_free (deferred->request);
  g_clear_pointer (&deferred->reply, pg_stanza_free);
  g_free (deferred->lang);
  g_free (deferred->session_id);
  g_free (deferred);
}

void
pg_adhoc_deferred_complete (PgAdhocDeferred *deferred, PgAdhocNoteType type, const char *text)
{
  static const char *const types[] = { "info", "warn", "error" };
  g_return_if_fail (deferred->reply != NULL);
  xmlNode *note = pg_stanza_add_text_child (deferred->answer, "note", NULL, text);
  pg_stanza_set_attr (note, "type", types[type]);
  pg_adhoc_send (deferred->adhoc, deferred->reply);
  deferred_free (deferred, NULL, 0, PG_ADHOC_EXECUTE);
}

void
pg_adhoc_deferred_continue (PgAdhocDeferred *deferred, const char *note, const xmlNode *form, guint allowed,
                            PgAdhocAction execute)
{
  g_return_if_fail (deferred->reply != NULL && deferred->session_id != NULL);
  g_return_if_fail (allowed != 0 && (allowed & ~(guint)(PG_ADHOC_NEXT | PG_ADHOC_COMPLETE)) == 0);
  g_return_if_fail (allowed & execute);
  xmlNode *answer = deferred->answer;
  pg_stanza_set_attr (answer, "status", "executing");
  if (note != NULL)
    {
      xmlNode *element = pg_stanza_add_text_child (answer, "note", NULL, note);
      pg_stanza_set_attr (element, "type", "info");
    }
  if (form != NULL)
    pg_stanza_add_copy (answer, form);
  pg_adhoc_add_actions (answer, allowed, execute);
  pg_adhoc_send (deferred->adhoc, deferred->reply);
  deferred_free (deferred, answer, allowed, execute);
}

void
pg_adhoc_deferred_fail (PgAdhocDeferred *deferred, PgErrorCondition condition, const char *text)
{
  g_autoptr (PgStanza) reply
      = pg_stanza_error_reply (deferred->request, condition, PG_ERR_TYPE_DEFAULT, text);
  xmlNode *error = pg_stanza_get_error (reply);
  xmlNode *node = error != NULL ? pg_stanza_find_child (error, "text", PG_NS_STANZAS) : NULL;
  if (node != NULL)
    pg_stanza_set_attr (node, "xml:lang",
                        pg_i18n_get_language (deferred->adhoc->transport->i18n, deferred->lang));
  pg_adhoc_send (deferred->adhoc, reply);
  deferred_free (deferred, NULL, 0, PG_ADHOC_EXECUTE);
}

const char *
pg_adhoc_call_get_lang (PgAdhocCall *call)
{
  return call->request->lang;
}

void
pg_adhoc_call_fail_text (PgAdhocCall *call, PgErrorCondition condition, const char *text)
{
  /* Sent at once; run_handler() then sends nothing more for this call. */
  PgAdhocDeferred *deferred = pg_adhoc_call_defer (call);
  call->deferred = NULL;
  call->answered = TRUE;
  pg_adhoc_deferred_fail (deferred, condition, text);
}
