/* transport/ping.h — XEP-0199: answering pings, and pinging our own address
 * through the server every PG_PING_INTERVAL_S to find a dead link. */
#pragma once
#include "transport/transport.h"

#define PG_NS_PING "urn:xmpp:ping"
#define PG_PING_INTERVAL_S 60
#define PG_PING_TIMEOUT_S 30

void pg_ping_register (PgTransport *transport);
/* Starts the keepalive once the stream is ready; stops it when it goes down. */
void pg_ping_link_up (PgTransport *transport);
void pg_ping_link_down (PgTransport *transport);
void pg_ping_free (PgPing *ping);
