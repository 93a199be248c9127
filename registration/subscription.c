/* registration/subscription.c — presence between a user and the transport. */
#define G_LOG_DOMAIN "pg-subscription"
#include "build-config.h"

#include "registration/subscription.h"

void
pg_subscription_request (PgTransport *transport, const char *bare_jid)
{
  pg_transport_send_presence (transport, bare_jid, "subscribe");
}

void
pg_subscription_cancel (PgTransport *transport, const char *bare_jid)
{
  pg_transport_send_presence (transport, bare_jid, "unsubscribe");
  pg_transport_send_presence (transport, bare_jid, "unsubscribed");
  pg_transport_send_presence (transport, bare_jid, "unavailable");
}

static PgRouteResult
on_subscribe (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  /* RFC 6121 §3.1.3: approve registered users at once; deny everyone else
   * (XEP-0100 never lets an unregistered JID subscribe to the transport). */
  gboolean registered = pg_transport_is_registered (transport, request->from_bare);
  pg_transport_send_presence (transport, request->from_bare, registered ? "subscribed" : "unsubscribed");
  return PG_HANDLED;
}

static PgRouteResult
on_probe (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  /* XEP-0100 §4.4.1: the transport shows available only while a legacy login runs;
   * legacy/session answers probes of users who have one. */
  gboolean registered = pg_transport_is_registered (transport, request->from_bare);
  pg_transport_send_presence (transport, request->from_bare, registered ? "unavailable" : "unsubscribed");
  return PG_HANDLED;
}

static PgRouteResult
on_ignored (const PgRouteRequest *request, gpointer user_data)
{
  /* Acknowledgements of our own requests need no answer (RFC 6121 §3.1.5). */
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_PRESENCE, "subscribe", NULL, NULL, PG_TARGET_DOMAIN, on_subscribe },
  { PG_KIND_PRESENCE, "probe", NULL, NULL, PG_TARGET_DOMAIN, on_probe },
  { PG_KIND_PRESENCE, "subscribed", NULL, NULL, PG_TARGET_DOMAIN, on_ignored },
  { PG_KIND_PRESENCE, "unsubscribe", NULL, NULL, PG_TARGET_DOMAIN, on_ignored },
  { PG_KIND_PRESENCE, "unsubscribed", NULL, NULL, PG_TARGET_DOMAIN, on_ignored },
};

void
pg_subscription_register (PgTransport *transport)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
}
