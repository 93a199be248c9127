/* registration/inband.h — XEP-0077 in-band registration on the component's
 * address (XEP-0100 §4.1–4.3: register, edit, unregister). */
#pragma once
#include "transport/transport.h"

#define PG_NS_REGISTER "jabber:iq:register"

/* Adds the routes; @transport->registration_hooks must be set. */
void pg_inband_register (PgTransport *transport);
/* TRUE when @bare_jid (prepared) is registered; a store failure is logged
 * and counts as not registered. The @transport->is_registered of a
 * process that keeps registrations. */
gboolean pg_inband_is_registered (PgTransport *transport, const char *bare_jid);
/* Unregisters @bare_jid as <remove/> does (XEP-0100 §4.3): ends the
 * session, deletes the registration and everything stored with it, then
 * sends @reply (borrowed, may be NULL) and the unsubscribe, unsubscribed and
 * unavailable presences from the transport and every stored contact. Sets
 * *@existed (not NULL); nothing is sent when there was no registration.
 * FALSE and @error when the store failed. */
gboolean pg_inband_unregister (PgTransport *transport, const char *bare_jid, const xmlNode *reply,
                               gboolean *existed, GError **error);
