/* legacy/session.h — the per-user session manager (XEP-0100 §4.4, §4.5).
 *
 * One PgSession per registered bare JID with at least one available
 * resource, or whose login stays connected while they are offline (README
 * "Staying connected"); it owns exactly one legacy login (legacy/account.h) and moves
 * offline → connecting → online → reconnect-wait → offline. Several
 * resources share the login; the highest-priority one sets the legacy
 * status. The session translates account events into stanzas and the user's
 * presence, subscriptions and messages into account commands. */
#pragma once
#include "registration/hooks.h"
#include "transport/transport.h"

/* Reconnection after network failures: 1 s doubling to 5 min, with jitter so
 * that many users do not reconnect in step. */
#define PG_SESSION_BACKOFF_MIN_S 1
#define PG_SESSION_BACKOFF_MAX_S 300

typedef struct PgSessions PgSessions;

/* Adds the routes of legacy group chats as XEP-0045 rooms (room-routes.c);
 * before every other module's, since rooms share the contacts' addresses. */
void pg_rooms_register (PgTransport *transport);
/* Creates the session table of @transport and adds its routes. */
void pg_sessions_register (PgTransport *transport);
/* Logs every session out silently; called by pg_daemon_free(). */
void pg_sessions_free (PgSessions *sessions);

/* Sends <presence type='probe'/> to every registered user (on start and
 * after the component stream reconnects), and opens the logins of users
 * who stay connected that are not open. Sessions that outlived the link
 * end [limits] session_grace_s later unless their users are back or stay
 * connected. */
void pg_sessions_probe_all (PgTransport *transport);
/* The component stream went down: sessions stay, their users' presence
 * unknown until the link is back (pg_sessions_probe_all()). */
void pg_sessions_link_down (PgTransport *transport);
/* Shutdown: every contact and the transport go unavailable for every
 * online user, then the legacy logins close. */
void pg_sessions_stop_all (PgTransport *transport);
/* Before a clean stop: asks every legacy login that can to end so that what
 * its server sent before arrives first (pg_account_logout()), and waits for
 * them, running the main loop, up to @timeout_ms. */
#define PG_SESSIONS_LOGOUT_MS 1500
void pg_sessions_logout_all (PgTransport *transport, guint timeout_ms);
/* Asks every legacy login to confirm at once what it was handed
 * (pg_outbox_drain()); returns the messages that wait for a confirmation. */
guint pg_sessions_confirm_sent (PgTransport *transport);
/* The host server granted privileges (transport/privilege.h), on a new
 * stream: logins that are online bring their users' rosters in step. */
void pg_sessions_privilege_granted (PgTransport *transport);
/* Ends the user's session, if any, without telling the user (unregistering). */
void pg_sessions_close (PgTransport *transport, const char *bare_jid);
/* After an unregistration: every contact of @contacts (PgStoreContact, as
 * listed before the row was deleted) sends unavailable, unsubscribe and
 * unsubscribed to the user (XEP-0100 §4.3), or, when the host server lets
 * purplegate set the user's roster (XEP-0356 §4.3), leaves the roster. */
void pg_sessions_say_goodbye (PgTransport *transport, const char *bare_jid, const GPtrArray *contacts);
/* Closes the user's login (contacts go offline) and keeps it closed until
 * pg_sessions_credentials_changed(): while credentials are being checked. */
void pg_sessions_pause (PgTransport *transport, const char *bare_jid);
/* The user's credentials changed (or a check ended): a session logs in
 * again with what is stored. */
void pg_sessions_credentials_changed (PgTransport *transport, const char *bare_jid);
/* The change_nick hook of registration/hooks.h (session-nick.c): asks the
 * network for the nick of @legacy_username on the user's online login,
 * where the protocol has one nick per connection and only the nick
 * changes. FALSE when there is no such login (nothing is done); else
 * @done follows, not before this returns. */
gboolean pg_sessions_change_nick (PgTransport *transport, const char *bare_jid, const char *legacy_username,
                                  const char *lang, PgVerifyDone done, gpointer data, GDestroyNotify destroy);

typedef struct
{
  guint online; /* sessions with a connected login */
  guint total;  /* sessions in any state */
  guint held;   /* sessions kept for users who are offline (README "Staying connected") */
} PgSessionCounts;
PgSessionCounts pg_sessions_count (PgTransport *transport);
/* The longest nick the legacy server takes, as an online login of this
 * gateway heard it (IRC NICKLEN); 0 when none has. */
guint pg_sessions_get_nick_len (PgTransport *transport);

/* Bare JIDs of the users with a session, sorted. Caller owns the array
 * (g_ptr_array_unref frees the strings). */
GPtrArray *pg_sessions_dup_jids (PgTransport *transport);
/* The state of @bare_jid's legacy login: "offline", "connecting", "online"
 * or "reconnect-wait"; NULL when they have no session. Static string. */
const char *pg_sessions_get_state (PgTransport *transport, const char *bare_jid);
/* Whether @bare_jid's login is kept while they are offline (README
 * "Staying connected"). */
gboolean pg_sessions_is_held (PgTransport *transport, const char *bare_jid);
/* The legacy worker process serving @bare_jid's login (1-based); 0 when
 * there is none or libpurple runs in the main process. */
guint pg_sessions_get_worker (PgTransport *transport, const char *bare_jid);
/* Ends @bare_jid's session as an administrator asks (XEP-0133 end-user
 * session): contacts go unavailable, then the transport, with @status (an
 * English msgid, translated for the user), and the legacy login closes.
 * The user's next available presence logs in again. FALSE: no session. */
gboolean pg_sessions_end (PgTransport *transport, const char *bare_jid, const char *status);
/* Closes and reopens @bare_jid's legacy login now, forgetting any backoff
 * or refused login. FALSE when they have no session. */
gboolean pg_sessions_reconnect (PgTransport *transport, const char *bare_jid);
