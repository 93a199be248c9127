/* legacy/own-copy.c — carbons of what the user wrote elsewhere
 * (legacy/own-copy.h). */
#define G_LOG_DOMAIN "pg-own-copy"
#include "build-config.h"

#include "legacy/own-copy.h"

#include "legacy/session-private.h"
#include "transport/jid.h"
#include "transport/privilege.h"
#include "transport/stanza.h"

#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_HINTS "urn:xmpp:hints"
#define NS_DELAY "urn:xmpp:delay"

gboolean
pg_own_copy_privileged (PgTransport *transport, const char *bare_jid)
{
  return transport->privilege != NULL && pg_privilege_message_outgoing (transport->privilege)
         && pg_privilege_manages (transport->privilege, bare_jid);
}

/* XEP-0280 §5.2, §8: the user's message to @contact_jid, forwarded in a
 * <sent/> carbon from the user's bare JID to @to, then wrapped for the
 * server (XEP-0356 §5.1). */
static xmlNode *
new_carbon (PgTransport *transport, const PgStoreOutboxItem *item, const char *id, const char *contact_jid,
            const char *to)
{
  PgStanza *carbon = pg_stanza_new ("message", item->bare_jid, to, "chat", NULL);
  xmlNode *forwarded
      = pg_stanza_add_child (pg_stanza_add_child (carbon, "sent", NS_CARBONS), "forwarded", PG_NS_FORWARD);
  /* XEP-0297 §3: when the legacy network gave it to us, if that was a while ago. */
  if (g_get_real_time () / G_USEC_PER_SEC - item->created >= 2)
    {
      g_autoptr (GDateTime) created = g_date_time_new_from_unix_utc (item->created);
      g_autofree char *stamp = g_date_time_format (created, "%Y-%m-%dT%H:%M:%SZ");
      pg_stanza_set_attr (pg_stanza_add_child (forwarded, "delay", NS_DELAY), "stamp", stamp);
    }
  xmlNode *inner = pg_stanza_add_child (forwarded, "message", PG_NS_CLIENT);
  pg_stanza_set_attr (inner, "from", item->bare_jid);
  pg_stanza_set_attr (inner, "to", contact_jid);
  pg_stanza_set_attr (inner, "type", "chat");
  pg_stanza_set_attr (inner, "id", id);
  pg_stanza_add_text_child (inner, "body", NULL, item->body);
  /* The copy is one already: XEP-0280 §6 keeps the server from copying it
   * to the user's other resources again (XEP-0334 §4.3 for servers that
   * read hints). */
  pg_stanza_add_child (carbon, "private", NS_CARBONS);
  pg_stanza_add_child (carbon, "no-copy", NS_HINTS);
  xmlNode *wrapped = pg_privilege_wrap_message (transport->privilege, transport->config->component_jid,
                                                pg_privilege_server (transport->privilege), carbon);
  if (wrapped != NULL)
    {
      g_autofree char *wrapper_id = g_strconcat (PG_OWN_COPY_ID_PREFIX, id != NULL ? id : "unqueued", NULL);
      pg_stanza_set_attr (wrapped, "id", wrapper_id);
    }
  return wrapped;
}

static void
free_text (gpointer text)
{
  g_string_free (text, TRUE);
}

GPtrArray *
pg_own_copy_write_carbons (PgTransport *transport, const PgStoreOutboxItem *item, const char *id)
{
  g_autofree char *contact_jid = pg_transport_contact_jid (transport, item->peer);
  if (contact_jid == NULL)
    return NULL;
  PgSession *session = pg_sessions_lookup (transport->sessions, item->bare_jid);
  g_autoptr (GPtrArray) resources
      = session != NULL ? pg_session_dup_resources (session) : g_ptr_array_new_with_free_func (g_free);
  /* XEP-0280 §8: each copy to the resource that gets it; with none known,
   * to the bare JID, which the server delivers or stores. */
  if (resources->len == 0)
    g_ptr_array_add (resources, NULL);
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (free_text);
  for (guint i = 0; i < resources->len; i++)
    {
      const char *resource = g_ptr_array_index (resources, i);
      g_autofree char *to
          = resource != NULL ? g_strconcat (item->bare_jid, "/", resource, NULL) : g_strdup (item->bare_jid);
      g_autoptr (PgStanza) stanza = new_carbon (transport, item, id, contact_jid, to);
      if (stanza == NULL)
        continue;
      GString *text = g_string_sized_new (512);
      pg_stanza_serialize (stanza, text);
      g_ptr_array_add (texts, text);
    }
  return texts->len > 0 ? g_steal_pointer (&texts) : NULL;
}
