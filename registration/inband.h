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

/* The outcome of pg_inband_submit(): @text (for the user, in the language
 * of the request) says why not when !@ok. */
typedef void (*PgInbandDone) (gboolean ok, PgErrorCondition condition, const char *text, gpointer data);
/* Registers @bare_jid with @username and @password (NULL or empty: none,
 * or the stored one for a change) and the account options @options
 * (pg_user_options_read(), borrowed; NULL: none) as a XEP-0077 set does (XEP-0100 §4.1,
 * §4.2): the protocol's rules that need no login first, then a real
 * legacy login; only then the registration is stored, @done (ok) called,
 * the transport's subscription request sent (new registrations) and the
 * user's login started with what is stored. A refused change keeps the
 * old registration. Returns FALSE when refused at once: *@condition and
 * *@text (owned, in @lang; NULL: no text), and neither @done nor
 * @destroy is called. Otherwise @done is called once, later, and then
 * @destroy (may be NULL) on @data. */
gboolean pg_inband_submit (PgTransport *transport, const char *bare_jid, const char *lang,
                           const char *username, const char *password, GHashTable *options, PgInbandDone done,
                           gpointer data, GDestroyNotify destroy, PgErrorCondition *condition, char **text);
