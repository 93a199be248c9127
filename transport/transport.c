/* transport/transport.c — sending through the context's component stream. */
#define G_LOG_DOMAIN "pg-transport"
#include "build-config.h"

#include "transport/transport.h"

#include "transport/jid.h"

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

/* Beyond this many names the cache starts again: a bound on memory that
 * costs one preparation per name afterwards. */
#define CONTACT_JIDS_MAX 4096

char *
pg_transport_contact_jid (PgTransport *transport, const char *legacy_name)
{
  const char *known;

  g_return_val_if_fail (transport != NULL && legacy_name != NULL, NULL);
  if (transport->contact_jids == NULL)
    transport->contact_jids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  known = g_hash_table_lookup (transport->contact_jids, legacy_name);
  if (known != NULL)
    return g_strdup (known);
  char *jid = pg_jid_for_legacy_name (legacy_name, transport->config->component_jid, NULL);
  if (jid == NULL)
    return NULL;
  if (g_hash_table_size (transport->contact_jids) >= CONTACT_JIDS_MAX)
    g_hash_table_remove_all (transport->contact_jids);
  g_hash_table_insert (transport->contact_jids, g_strdup (legacy_name), g_strdup (jid));
  return jid;
}

void
pg_transport_clear_caches (PgTransport *transport)
{
  g_clear_pointer (&transport->contact_jids, g_hash_table_unref);
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
