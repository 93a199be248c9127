/* transport/adhoc-call.c — what a command handler reads and answers
 * during one request (transport/adhoc.h, "during a handler call"). */
#define G_LOG_DOMAIN "pg-adhoc"
#include "build-config.h"

#include "transport/adhoc-private.h"

#include "transport/i18n.h"

#include <string.h>

PgTransport *
pg_adhoc_call_get_transport (PgAdhocCall *call)
{
  return call->adhoc->transport;
}

const char *
pg_adhoc_call_get_requester (PgAdhocCall *call)
{
  return call->request->from_bare;
}

guint
pg_adhoc_call_get_stage (PgAdhocCall *call)
{
  return call->stage;
}

PgAdhocAction
pg_adhoc_call_get_action (PgAdhocCall *call)
{
  return call->action;
}

const PgForm *
pg_adhoc_call_get_form (PgAdhocCall *call)
{
  return call->form;
}

const char *
pg_adhoc_call_translate (PgAdhocCall *call, const char *msgid)
{
  return pg_adhoc_translate (call->adhoc, call->request->lang, msgid);
}

void
pg_adhoc_call_set_data (PgAdhocCall *call, const char *key, const char *value)
{
  g_hash_table_replace (call->data, g_strdup (key), g_strdup (value));
}

const char *
pg_adhoc_call_get_data (PgAdhocCall *call, const char *key)
{
  return g_hash_table_lookup (call->data, key);
}

void
pg_adhoc_call_set_object (PgAdhocCall *call, gpointer object, GDestroyNotify destroy)
{
  gpointer *slot = call->session != NULL ? &call->session->object : &call->object;
  GDestroyNotify *slot_destroy
      = call->session != NULL ? &call->session->object_destroy : &call->object_destroy;
  if (*slot_destroy != NULL)
    (*slot_destroy) (*slot);
  *slot = object;
  *slot_destroy = destroy;
}

gpointer
pg_adhoc_call_get_object (PgAdhocCall *call)
{
  return call->session != NULL ? call->session->object : call->object;
}

GPtrArray *
pg_adhoc_call_dup_jids (PgAdhocCall *call, const char *var)
{
  g_autofree char *text = call->form != NULL ? pg_form_dup_text (call->form, var) : NULL;
  g_auto (GStrv) values = g_strsplit (text != NULL ? text : "", "\n", -1);
  g_autoptr (GPtrArray) jids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; values[i] != NULL; i++)
    {
      const char *value = g_strstrip (values[i]);
      if (*value == '\0')
        continue;
      g_autofree char *bare = pg_jid_prepare_bare (value, NULL);
      if (bare == NULL)
        {
          pg_adhoc_call_fail (call, PG_ERR_NOT_ACCEPTABLE, NULL, N_ ("A value is not a valid JID."));
          return NULL;
        }
      gboolean seen = FALSE;
      for (guint j = 0; j < jids->len && !seen; j++)
        seen = strcmp (g_ptr_array_index (jids, j), bare) == 0;
      if (!seen)
        g_ptr_array_add (jids, g_steal_pointer (&bare));
    }
  if (jids->len == 0)
    {
      pg_adhoc_call_fail (call, PG_ERR_BAD_REQUEST, "bad-payload", N_ ("Enter at least one JID."));
      return NULL;
    }
  return g_steal_pointer (&jids);
}

xmlNode *
pg_adhoc_call_add_form (PgAdhocCall *call, const char *type, const char *title, const char *instructions,
                        const char *form_type)
{
  return pg_form_add (call->answer, type, title, instructions, form_type);
}

void
pg_adhoc_call_add_note (PgAdhocCall *call, PgAdhocNoteType type, const char *text)
{
  static const char *const types[] = { "info", "warn", "error" };
  xmlNode *note = pg_stanza_add_text_child (call->answer, "note", NULL, text);
  pg_stanza_set_attr (note, "type", types[type]);
}

void
pg_adhoc_call_continue (PgAdhocCall *call, guint allowed, PgAdhocAction execute)
{
  g_return_if_fail (allowed != 0 && (allowed & ~(guint)(PG_ADHOC_NEXT | PG_ADHOC_COMPLETE)) == 0);
  g_return_if_fail (allowed & execute);
  call->executing = TRUE;
  call->allowed = allowed | (call->stage > 0 ? PG_ADHOC_PREV : 0);
  call->execute = execute;
}

void
pg_adhoc_call_fail (PgAdhocCall *call, PgErrorCondition condition, const char *specific, const char *text)
{
  call->failed = TRUE;
  call->condition = condition;
  call->specific = specific;
  g_free (call->text);
  call->text = g_strdup (text);
}
