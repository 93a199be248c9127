/* legacy/own-copy.c — carbons of what the user wrote elsewhere
 * (legacy/own-copy.h). */
#define G_LOG_DOMAIN "pg-own-copy"
#include "build-config.h"

#include "legacy/own-copy.h"

gboolean
pg_own_copy_privileged (PgTransport *transport, const char *bare_jid)
{
  (void)transport;
  (void)bare_jid;
  return FALSE;
}

GPtrArray *
pg_own_copy_new_carbons (PgTransport *transport, const PgStoreOutboxItem *item, const char *id)
{
  (void)transport;
  (void)item;
  (void)id;
  return NULL;
}
