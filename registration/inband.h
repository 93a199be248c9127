/* registration/inband.h — XEP-0077 in-band registration on the component's
 * address (XEP-0100 §4.1–4.3: register, edit, unregister). */
#pragma once
#include "transport/forms.h"
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
/* A registration being checked (pg_inband_submit()), valid until its
 * PgInbandDone is called. */
typedef struct PgInbandCheck PgInbandCheck;
/* The checking login asks the user something (a certificate to trust, a
 * one-time code): @form is a jabber:x:data form of type "form" asking it,
 * @summary the question in one line; both borrowed for the call, in the
 * language of the request. Answer with pg_inband_answer(), or give up
 * with pg_inband_abandon(); unanswered for [registration]
 * question_timeout_s, the registration is refused. */
typedef void (*PgInbandAsk) (PgInbandCheck *check, const xmlNode *form, const char *summary, gpointer data);
/* Registers @bare_jid with @username and @password (NULL or empty: none,
 * or the stored one for a change) and the account options @options
 * (pg_user_options_read(), borrowed; NULL: none) as a XEP-0077 set does (XEP-0100 §4.1,
 * §4.2): the protocol's rules that need no login first, then a real
 * legacy login with those options; only then the registration is stored
 * (with the certificates the user accepted during the check), @done (ok)
 * called, the transport's subscription request sent (new registrations)
 * and the user's login started with what is stored. A refused change
 * keeps the old registration. A question of the checking login goes to
 * @ask; with @ask NULL (XEP-0077, which has no second form) it refuses
 * the registration with a text naming the question and the ad-hoc command
 * that can answer it. Returns NULL when refused at once: *@condition and
 * *@text (owned, in @lang; NULL: no text), and neither @done nor
 * @destroy is called. Otherwise the check (borrowed, valid until @done),
 * and @done is called once, later, and then @destroy (may be NULL) on
 * @data. */
PgInbandCheck *pg_inband_submit (PgTransport *transport, const char *bare_jid, const char *lang,
                                 const char *username, const char *password, GHashTable *options,
                                 PgInbandDone done, PgInbandAsk ask, gpointer data, GDestroyNotify destroy,
                                 PgErrorCondition *condition, char **text);
/* Answers the question @check asked last with the submitted @form. FALSE
 * when the form does not answer it: the question stays, *@condition and
 * *@text (owned, in the request's language) say why. */
gboolean pg_inband_answer (PgInbandCheck *check, const PgForm *form, PgErrorCondition *condition,
                           char **text);
/* The user gave up (cancelled the command): the registration is refused;
 * its PgInbandDone follows, not before this returns. */
void pg_inband_abandon (PgInbandCheck *check);
