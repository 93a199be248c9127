/* transport/gateway.c — jabber:iq:gateway (XEP-0100 §6.3). */
#define G_LOG_DOMAIN "pg-gateway"
#include "build-config.h"

#include "transport/gateway.h"

#include "transport/i18n.h"

static PgRouteResult
on_get (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgI18n *i18n = transport->i18n;
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  /* XEP-0100 §6.3: the texts follow the request's xml:lang. */
  pg_stanza_set_attr (reply, "xml:lang", pg_i18n_get_language (i18n, request->lang));
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_GATEWAY);
  g_autofree char *desc = g_strdup_printf (
      pg_i18n_translate (i18n, request->lang,
                         N_ ("Please enter the %s address of the contact you would like to add.")),
      transport->legacy_name);
  pg_stanza_add_text_child (query, "desc", NULL, desc);
  pg_stanza_add_text_child (query, "prompt", NULL,
                            pg_i18n_translate (i18n, request->lang, N_ ("Contact ID")));
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static PgRouteResult
on_set (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  g_autofree char *address = pg_stanza_dup_child_text (request->payload, "prompt", PG_NS_GATEWAY);
  g_autoptr (GError) error = NULL;
  g_autofree char *jid = NULL;
  if (address != NULL)
    jid = pg_jid_for_legacy_name (address, transport->config->component_jid, &error);
  if (jid == NULL)
    {
      pg_router_reply_error (transport->router, request->stanza, PG_ERR_JID_MALFORMED, PG_ERR_TYPE_DEFAULT,
                             error != NULL ? error->message : "no <prompt/> with a legacy address");
      return PG_HANDLED;
    }
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_GATEWAY);
  pg_stanza_add_text_child (query, "jid", NULL, jid);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_IQ, "get", PG_NS_GATEWAY, "query", PG_TARGET_DOMAIN, on_get },
  { PG_KIND_IQ, "set", PG_NS_GATEWAY, "query", PG_TARGET_DOMAIN, on_set },
};

static const char *const features[] = { PG_NS_GATEWAY, NULL };

void
pg_gateway_register (PgTransport *transport)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
  pg_router_add_features (transport->router, features);
}
