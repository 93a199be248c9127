/* transport/disco.h — XEP-0030 service discovery of the component's address. */
#pragma once
#include "transport/transport.h"

#define PG_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define PG_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

/* Adds the disco#info/#items routes and features to @transport's router. */
void pg_disco_register (PgTransport *transport);
/* Answers item-not-found for disco nodes no module claimed; call after every
 * module that publishes nodes has registered. */
void pg_disco_register_fallback (PgTransport *transport);
/* The XMPP registrar's gateway type for a libpurple protocol id ("prpl-irc"
 * → "irc"); unknown protocols give their id without "prpl-". Owned. */
char *pg_disco_dup_gateway_type (const char *protocol_id);
