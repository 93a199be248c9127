/* transport/gateway.h — XEP-0100 §6 jabber:iq:gateway: legacy address → JID. */
#pragma once
#include "transport/transport.h"

#define PG_NS_GATEWAY "jabber:iq:gateway"

void pg_gateway_register (PgTransport *transport);
