/* transport/version.c — XEP-0092. The operating system is never disclosed. */
#define G_LOG_DOMAIN "pg-version"
#include "build-config.h"

#include "transport/version.h"

static PgRouteResult
on_get (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_VERSION);
  pg_stanza_add_text_child (query, "name", NULL, PACKAGE_NAME);
  pg_stanza_add_text_child (query, "version", NULL, PACKAGE_VERSION);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static PgRouteResult
on_set (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  pg_router_reply_error (transport->router, request->stanza, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT,
                         "the version can only be read");
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_IQ, "get", PG_NS_VERSION, "query", PG_TARGET_DOMAIN, on_get },
  { PG_KIND_IQ, "set", PG_NS_VERSION, "query", PG_TARGET_DOMAIN, on_set },
};

static const char *const features[] = { PG_NS_VERSION, NULL };

void
pg_version_register (PgTransport *transport)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
  pg_router_add_features (transport->router, features);
}
