/* registration/subscription.h — the user's presence subscription with the
 * transport itself (XEP-0100 §4.1.1 steps 9–12, §4.3). */
#pragma once
#include "transport/transport.h"

void pg_subscription_register (PgTransport *transport);
/* After a registration: ask for the user's presence (bare JIDs). */
void pg_subscription_request (PgTransport *transport, const char *bare_jid);
/* After an unregistration: unsubscribe, unsubscribed, unavailable. */
void pg_subscription_cancel (PgTransport *transport, const char *bare_jid);
