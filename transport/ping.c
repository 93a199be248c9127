/* transport/ping.c — XEP-0199 answers, pings to our own address, and the
 * link keepalive.
 *
 * A ping to the component's own address goes through the server, which
 * routes it back to us: that alone proves the link works both ways, and,
 * since the server handles one stream's stanzas in order, that it has
 * handled everything written before the ping (legacy/outbox.h relies on
 * it). So it is not answered: a second trip would prove nothing more, and
 * a server that is stopping may route the ping but not the answer. */
#define G_LOG_DOMAIN "pg-ping"
#include "build-config.h"

#include "transport/ping.h"

typedef struct
{
  PgPingBackFunc back;
  gpointer user_data;
} Waiter;

struct PgPing
{
  PgTransport *transport;
  guint interval_id;
  guint timeout_id;
  guint64 serial;
  char *outstanding_id; /* of the keepalive */
  GHashTable *waiting;  /* id → Waiter: our own pings on their way */
};

/* The self-ping @id is back (routed, or answered by the server). */
static gboolean
ping_back (PgPing *ping, const char *id)
{
  Waiter waiter;
  Waiter *found = id != NULL ? g_hash_table_lookup (ping->waiting, id) : NULL;
  if (found == NULL)
    return FALSE;
  waiter = *found;
  g_autofree char *owned = g_strdup (id);
  pg_ping_self_cancel (ping->transport, owned);
  waiter.back (owned, waiter.user_data);
  return TRUE;
}

static PgRouteResult
on_ping (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  if (g_strcmp0 (request->from_bare, transport->config->component_jid) == 0
      && ping_back (transport->ping, request->id))
    return PG_HANDLED;
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static void
on_answer (const PgRouteRequest *response, gpointer user_data)
{
  ping_back (user_data, response->id);
}

char *
pg_ping_self (PgTransport *transport, const char *prefix, PgPingBackFunc back, gpointer user_data)
{
  PgPing *ping = transport->ping;
  char *id = g_strdup_printf ("%s%" G_GUINT64_FORMAT, prefix, ++ping->serial);
  g_autoptr (PgStanza) iq
      = pg_stanza_new ("iq", transport->config->component_jid, transport->config->component_jid, "get", id);
  pg_stanza_add_child (iq, "ping", PG_NS_PING);
  if (!pg_stream_send (transport->stream, iq))
    {
      g_free (id);
      return NULL;
    }
  Waiter *waiter = g_new (Waiter, 1);
  *waiter = (Waiter){ back, user_data };
  g_hash_table_insert (ping->waiting, g_strdup (id), waiter);
  pg_router_expect_response (transport->router, id, on_answer, ping);
  return id;
}

void
pg_ping_self_cancel (PgTransport *transport, const char *id)
{
  if (g_hash_table_remove (transport->ping->waiting, id))
    pg_router_cancel_response (transport->router, id);
}

static const PgRoute routes[] = {
  { PG_KIND_IQ, "get", PG_NS_PING, "ping", PG_TARGET_DOMAIN, on_ping },
};

static const char *const features[] = { PG_NS_PING, NULL };

static void
clear_outstanding (PgPing *ping)
{
  g_clear_handle_id (&ping->timeout_id, g_source_remove);
  if (ping->outstanding_id != NULL)
    pg_ping_self_cancel (ping->transport, ping->outstanding_id);
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
on_keepalive_back (const char *id, gpointer user_data)
{
  PgPing *ping = user_data;
  g_clear_handle_id (&ping->timeout_id, g_source_remove);
  g_clear_pointer (&ping->outstanding_id, g_free);
  g_debug ("keepalive %s back", id);
}

static gboolean
on_interval (gpointer data)
{
  PgPing *ping = data;
  if (ping->outstanding_id != NULL)
    return G_SOURCE_CONTINUE;
  ping->outstanding_id = pg_ping_self (ping->transport, "pg-keepalive-", on_keepalive_back, ping);
  if (ping->outstanding_id != NULL)
    ping->timeout_id = g_timeout_add_seconds (PG_PING_TIMEOUT_S, on_timeout, ping);
  return G_SOURCE_CONTINUE;
}

void
pg_ping_register (PgTransport *transport)
{
  transport->ping = g_new0 (PgPing, 1);
  transport->ping->transport = transport;
  transport->ping->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
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
  g_hash_table_unref (ping->waiting);
  g_free (ping);
}
