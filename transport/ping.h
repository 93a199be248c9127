/* transport/ping.h — XEP-0199: answering pings, pinging our own address
 * through the server (pg_ping_self()), and doing so every
 * PG_PING_INTERVAL_S to find a dead link. */
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

/* A ping to our own address came back @id: the server has handled every
 * stanza written before it, and the link works both ways. */
typedef void (*PgPingBackFunc) (const char *id, gpointer user_data);
/* Writes a ping from and to our own address, id @prefix and a serial; @back
 * runs once the server has routed it back to us (not answered: nobody
 * waits for that), or, should the server answer it itself, on that answer.
 * Returns the id (caller owns it, g_free), or NULL when the stream did not
 * take it. */
char *pg_ping_self (PgTransport *transport, const char *prefix, PgPingBackFunc back, gpointer user_data);
/* Forgets the ping @id (@back will not run); unknown ids are ignored. */
void pg_ping_self_cancel (PgTransport *transport, const char *id);
