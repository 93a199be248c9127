/* registration/inband.h — XEP-0077 in-band registration on the component's
 * address (XEP-0100 §4.1–4.3: register, edit, unregister). */
#pragma once
#include "transport/transport.h"

#define PG_NS_REGISTER "jabber:iq:register"

void pg_inband_register (PgTransport *transport);
