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
