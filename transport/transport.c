/* transport/transport.c — sending through the context's component stream. */
#define G_LOG_DOMAIN "pg-transport"
#include "build-config.h"

#include "transport/transport.h"

void
pg_transport_send (PgTransport *transport, const xmlNode *stanza)
{
  pg_stream_send (transport->stream, stanza);
}

void
pg_transport_send_presence (PgTransport *transport, const char *to, const char *type)
{
  g_autoptr (PgStanza) presence
      = pg_stanza_new ("presence", transport->config->component_jid, to, type, NULL);
  pg_transport_send (transport, presence);
}

gboolean
pg_transport_is_registered (PgTransport *transport, const char *bare_jid)
{
  return transport->is_registered != NULL && transport->is_registered (transport, bare_jid);
}

static gboolean
stop_deadline (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

guint
pg_transport_wait_stop (PgTransport *transport, guint timeout_ms, PgPendingFunc pending, gpointer user_data,
                        gint64 *elapsed_ms)
{
  gint64 start = g_get_monotonic_time ();
  gboolean expired = FALSE;
  guint left;
  guint deadline = g_timeout_add (timeout_ms, stop_deadline, &expired);
  while ((left = pending (user_data)) > 0 && !expired && transport->stop_signals < 2)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (deadline);
  if (elapsed_ms != NULL)
    *elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  return left;
}
