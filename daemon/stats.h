/* daemon/stats.h — the operators' statistics command: uptime, users,
 * legacy logins, stream traffic and resident memory, as a result form. */
#pragma once
#include "transport/transport.h"

#define PG_NODE_STATS "urn:purplegate:stats"

/* Adds the command to @transport->adhoc (pg_adhoc_register() first). */
void pg_stats_register (PgTransport *transport);

/* The VmRSS line of /proc/<pid>/status text @status, in KiB; -1 when there
 * is none or it does not parse. */
gint64 pg_stats_parse_vm_rss (const char *status);
