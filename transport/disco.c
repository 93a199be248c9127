/* transport/disco.c — XEP-0030 on the component's address. */
#define G_LOG_DOMAIN "pg-disco"
#include "build-config.h"

#include "transport/disco.h"

#include <string.h>

/* Registrar disco-categories 'gateway' types for libpurple's protocols. */
static const struct
{
  const char *protocol;
  const char *type;
} gateway_types[] = {
  { "prpl-aim", "aim" },
  { "prpl-icq", "icq" },
  { "prpl-irc", "irc" },
  { "prpl-jabber", "xmpp" },
  { "prpl-msn", "msn" },
  { "prpl-yahoo", "yahoo" },
  { "prpl-yahoojp", "yahoo" },
  { "prpl-gg", "gadu-gadu" },
  { "prpl-qq", "qq" },
  { "prpl-simple", "simple" },
  { "prpl-meanwhile", "sametime" },
  { "prpl-myspace", "myspaceim" },
  { "prpl-telegram", "telegram" },
  { "prpl-discord", "discord" },
  { "prpl-facebook", "facebook" },
  { "prpl-skypeweb", "skype" },
  { "prpl-steam", "steam" },
  { "prpl-signal", "signal" },
  { "prpl-mattermost", "mattermost" },
};

char *
pg_disco_dup_gateway_type (const char *protocol_id)
{
  for (guint i = 0; i < G_N_ELEMENTS (gateway_types); i++)
    if (strcmp (gateway_types[i].protocol, protocol_id) == 0)
      return g_strdup (gateway_types[i].type);
  const char *name = g_str_has_prefix (protocol_id, "prpl-") ? protocol_id + 5 : protocol_id;
  return g_ascii_strdown (name, -1);
}

static PgRouteResult
on_info (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  const char *node = pg_stanza_get_attr (request->payload, "node");
  if (node != NULL)
    return PG_PASS; /* nodes belong to the modules that publish them */

  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_DISCO_INFO);
  xmlNode *identity = pg_stanza_add_child (query, "identity", NULL);
  g_autofree char *type = pg_disco_dup_gateway_type (transport->config->protocol);
  pg_stanza_set_attr (identity, "category", "gateway");
  pg_stanza_set_attr (identity, "type", type);
  pg_stanza_set_attr (identity, "name", transport->legacy_name);
  const char *const *features = pg_router_get_features (transport->router);
  /* XEP-0045 §6.2: a gateway with rooms is a chat service too. */
  if (g_strv_contains (features, "http://jabber.org/protocol/muc"))
    {
      g_autofree char *name = g_strdup_printf (
          strcmp (transport->config->protocol, "prpl-irc") == 0 ? "%s channels" : "%s rooms",
          transport->legacy_name);
      identity = pg_stanza_add_child (query, "identity", NULL);
      pg_stanza_set_attr (identity, "category", "conference");
      pg_stanza_set_attr (identity, "type", "text");
      pg_stanza_set_attr (identity, "name", name);
    }
  for (guint i = 0; features[i] != NULL; i++)
    pg_stanza_set_attr (pg_stanza_add_child (query, "feature", NULL), "var", features[i]);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static PgRouteResult
on_items (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  if (pg_stanza_get_attr (request->payload, "node") != NULL)
    return PG_PASS;
  /* Nothing to list on the address itself: an empty result, never an error. */
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  pg_stanza_add_child (reply, "query", PG_NS_DISCO_ITEMS);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static PgRouteResult
on_unknown_node (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  pg_router_reply_error (transport->router, request->stanza, PG_ERR_ITEM_NOT_FOUND, PG_ERR_TYPE_DEFAULT,
                         NULL);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_IQ, "get", PG_NS_DISCO_INFO, "query", PG_TARGET_DOMAIN, on_info },
  { PG_KIND_IQ, "get", PG_NS_DISCO_ITEMS, "query", PG_TARGET_DOMAIN, on_items },
};

/* Last resort for nodes no module claimed; added after every other module. */
static const PgRoute fallback_routes[] = {
  { PG_KIND_IQ, "get", PG_NS_DISCO_INFO, "query", PG_TARGET_DOMAIN, on_unknown_node },
  { PG_KIND_IQ, "get", PG_NS_DISCO_ITEMS, "query", PG_TARGET_DOMAIN, on_unknown_node },
};

static const char *const features[] = {
  PG_NS_DISCO_INFO,
  PG_NS_DISCO_ITEMS,
  "jid\\20escaping", /* XEP-0106 §6: the var is literally backslash-2-0 */
  NULL,
};

void
pg_disco_register (PgTransport *transport)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
  pg_router_add_features (transport->router, features);
}

void
pg_disco_register_fallback (PgTransport *transport)
{
  pg_router_add_routes (transport->router, fallback_routes, G_N_ELEMENTS (fallback_routes), transport);
}
