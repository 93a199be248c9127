/* transport/version.h — XEP-0092 software version of the component. */
#pragma once
#include "transport/transport.h"

#define PG_NS_VERSION "jabber:iq:version"

void pg_version_register (PgTransport *transport);
