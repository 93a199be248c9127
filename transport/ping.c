/* transport/ping.c — XEP-0199 answers and the link keepalive.
 *
 * The keepalive pings the component's own address: the server routes it back
 * to us, we answer it, and the answer comes back again, so a round trip
 * proves both directions of the link without knowing the server's domain. */
#define G_LOG_DOMAIN "pg-ping"
#include "build-config.h"

#include "transport/ping.h"

struct PgPing {
  PgTransport *transport;
  guint interval_id;
  guint timeout_id;
  guint64 serial;
  char *outstanding_id;
};

static PgRouteResult
on_ping (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  {PG_KIND_IQ, "get", PG_NS_PING, "ping", PG_TARGET_DOMAIN, on_ping},
};

static const char *const features[] = {PG_NS_PING, NULL};

static void
clear_outstanding (PgPing *ping)
{
  g_clear_handle_id (&ping->timeout_id, g_source_remove);
  if (ping->outstanding_id != NULL)
    pg_router_cancel_response (ping->transport->router, ping->outstanding_id);
  g_clear_pointer (&ping->outstanding_id, g_free);
}

static gboolean
on_timeout (gpointer data)
{
  PgPing *ping = data;
  ping->timeout_id = 0;
  g_warning ("no answer to the keepalive ping within %d s: reconnecting", PG_PING_TIMEOUT_S);
  clear_outstanding (ping);
  pg_stream_reconnect (ping->transport->stream, "connection-timeout", "keepalive ping unanswered");
  return G_SOURCE_REMOVE;
}

static void
on_pong (const PgRouteRequest *response, gpointer user_data)
{
  PgPing *ping = user_data;
  g_clear_handle_id (&ping->timeout_id, g_source_remove);
  g_clear_pointer (&ping->outstanding_id, g_free);
  g_debug ("keepalive answered (%s)", response->type);
}

static gboolean
on_interval (gpointer data)
{
  PgPing *ping = data;
  PgTransport *transport = ping->transport;
  if (ping->outstanding_id != NULL)
    return G_SOURCE_CONTINUE;
  ping->outstanding_id = g_strdup_printf ("pg-keepalive-%" G_GUINT64_FORMAT, ++ping->serial);
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", transport->config->component_jid,
                                           transport->config->component_jid, "get", ping->outstanding_id);
  pg_stanza_add_child (iq, "ping", PG_NS_PING);
  pg_router_expect_response (transport->router, ping->outstanding_id, on_pong, ping);
  pg_transport_send (transport, iq);
  ping->timeout_id = g_timeout_add_seconds (PG_PING_TIMEOUT_S, on_timeout, ping);
  return G_SOURCE_CONTINUE;
}

void
pg_ping_register (PgTransport *transport)
{
  transport->ping = g_new0 (PgPing, 1);
  transport->ping->transport = transport;
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
  pg_router_add_features (transport->router, features);
}

void
pg_ping_link_up (PgTransport *transport)
{
  PgPing *ping = transport->ping;
  pg_ping_link_down (transport);
  ping->interval_id = g_timeout_add_seconds (PG_PING_INTERVAL_S, on_interval, ping);
}

void
pg_ping_link_down (PgTransport *transport)
{
  PgPing *ping = transport->ping;
  g_clear_handle_id (&ping->interval_id, g_source_remove);
  clear_outstanding (ping);
}

void
pg_ping_free (PgPing *ping)
{
  if (ping == NULL)
    return;
  g_clear_handle_id (&ping->interval_id, g_source_remove);
  g_clear_handle_id (&ping->timeout_id, g_source_remove);
  g_free (ping->outstanding_id);
  g_free (ping);
}
