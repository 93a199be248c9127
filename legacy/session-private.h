/* legacy/session-private.h — what session.c and contacts.c share. */
#pragma once
#include "legacy/account.h"
#include "legacy/session.h"
#include "registration/store.h"

typedef enum
{
  PG_SESSION_OFFLINE,
  PG_SESSION_CONNECTING,
  PG_SESSION_ONLINE,
  PG_SESSION_RECONNECT_WAIT,
} PgSessionState;

typedef struct
{
  char *name;  /* the protocol's spelling */
  char *jid;   /* escape(name)@component, prepared */
  char *alias; /* may be NULL */
  PgShow show; /* last known; PG_SHOW_OFFLINE until the network says */
  char *status;
  gboolean stored;      /* on the user's list in the store */
  gboolean pending_add; /* stored while offline, not yet sent to the legacy server */
  gboolean announced;   /* we sent the user an available presence from it */
  gboolean authorization_pending;
} PgContact;

typedef struct PgSession PgSession;
typedef struct PgNickChange PgNickChange; /* session-nick.c */

/* Where the roster synchronisation of a login stands (roster-sync.c). */
typedef enum
{
  PG_ROSTER_SYNC_NONE,    /* not synchronised: no permission, or no login */
  PG_ROSTER_SYNC_READING, /* the roster was asked for */
  PG_ROSTER_SYNC_DONE,    /* in step: changes are pushed as they come */
} PgRosterSync;

struct PgSession
{
  PgSessions *sessions;
  PgTransport *transport;
  char *bare_jid;
  PgSessionState state;
  GSList *resources; /* Resource (session.c), oldest first: wins a priority tie */
  PgAccount *account;
  GHashTable *contacts; /* contact JID → PgContact; NULL until the first (contacts.c) */
  /* legacy name → PgContact (borrowed): events name contacts the protocol's
   * way, and preparing their JID per message cost more than the message. */
  GHashTable *contacts_by_name;
  guint retry_id;
  guint backoff_s;
  /* The last resource left: the login closes when this fires, unless the
   * user is back first or the link to the XMPP server drops meanwhile. */
  guint logout_id;
  gboolean ever_connected;
  gboolean login_refused; /* credentials refused: wait for new ones */
  gboolean logging_out;   /* a clean stop waits for the login's end */
  /* No resource is left and the login stays for the user (README "Staying
   * connected"): messages go to the server's offline store and the rooms'
   * backlogs until the user is back. */
  gboolean held;
  const char *lang; /* of the last available presence, for headlines;
                     * borrowed from transport->i18n; NULL: English */
  /* The user's messages handed to this login (outbox-legacy.c), oldest
   * first, until the legacy server confirms them. */
  GQueue legacy_sent;       /* PgStoreOutboxItem */
  gint64 legacy_sent_upto;  /* the highest outbox row handed to this login */
  gint64 legacy_asked_upto; /* the rows a confirmation was asked for */
  GArray *legacy_confirms;  /* PgOutboxConfirm asked for, oldest first */
  guint legacy_confirm_id;  /* timeout: the next confirmation */
                            /* Group chats (room.c): room JID → PgRoom (owned), the protocol's
                             * normalised chat name → PgRoom (borrowed), and legacy names written to
                             * privately from a room → the occupant JID their answers come from. */
  GHashTable *rooms;
  GHashTable *rooms_by_key;
  GHashTable *private_peers;
  /* Contact JIDs (bare, prepared) the user last wrote to without a chat
   * state: no more states go to the user from them (XEP-0085 §5.1) until
   * the user sends one (chat.c). NULL until the first. */
  GHashTable *stateless_peers;
  /* The nick (normalised) the user was told the network gave instead of
   * the registered one; NULL: none (session.c). */
  char *nick_told;
  /* The legacy network's room list, for disco#items (room.c), or NULL. */
  struct PgChatList *chat_list;
  /* libpurple's questions waiting for the user (session-questions.c):
   * PgPendingQuestion, oldest first; NULL until the first. */
  GPtrArray *questions;
  guint questions_asked; /* numbers the questions for the user */
  /* Why the login will fail: a certificate question was declined
   * (session-questions.c). Owned; NULL: none. */
  char *question_refusal;
  const char *question_advice; /* msgid to go with it */
  /* A nick asked of the network for "Change nick" (session-nick.c), or NULL. */
  PgNickChange *nick_change;
  PgRosterSync roster_sync;
  char *roster_read_id; /* of the roster get on its way; owned */
};

struct PgSessions
{
  PgTransport *transport;
  GHashTable *by_jid; /* bare JID → PgSession */
  /* After the link to the XMPP server came back: when the resources that
   * have not said they are still there are dropped. */
  guint recheck_id;
};

/* contacts.c — account events about contacts (owner is the PgSession). */
void pg_contacts_on_status (gpointer owner, const char *name, const char *alias, PgShow show,
                            const char *status_text);
void pg_contacts_on_listed (gpointer owner, const char *name, const char *alias);
void pg_contacts_on_unlisted (gpointer owner, const char *name);
void pg_contacts_on_authorization (gpointer owner, const char *from, const char *alias, const char *message);
/* Loads the user's stored contacts into @session->contacts. */
void pg_contacts_load (PgSession *session);
/* After login: tells the legacy server about contacts added while offline
 * (the others were restored into the local list before connecting). */
void pg_contacts_subscribe_all (PgSession *session);
/* @contact asks the user for a subscription (XEP-0100 §5.1), named. */
void pg_contacts_ask_subscription (PgSession *session, PgContact *contact);
/* Sends unavailable from every contact announced available. */
void pg_contacts_all_offline (PgSession *session);
/* The contact called @name, created (not stored) when new. Borrowed; NULL
 * when no JID can carry the name. */
PgContact *pg_contacts_ensure (PgSession *session, const char *name, const char *alias);
/* The contact for @jid (prepared bare), or NULL. Borrowed. */
PgContact *pg_contacts_lookup (PgSession *session, const char *jid);
/* The legacy name a contact JID stands for (the stored spelling when known,
 * else the XEP-0106 unescaped localpart). Owned. */
char *pg_contacts_dup_legacy_name (PgSession *session, const PgJid *jid);
void pg_contact_free (PgContact *contact);

/* Routes for subscriptions to contacts and probes, added by session.c. */
void pg_contacts_add_routes (PgTransport *transport, PgSessions *sessions);

/* roster-sync.c — the roster kept in step with the contact list when the
 * host server grants the roster permission (XEP-0356 §4.3). */
/* TRUE when the user's roster is set by purplegate: no subscription
 * requests for legacy contacts then. */
gboolean pg_roster_sync_applies (PgSession *session);
/* The login has its contact list: reads the roster and pushes what differs. */
void pg_roster_sync_start (PgSession *session);
/* The login ended: an answer still on its way is ignored. */
void pg_roster_sync_stop (PgSession *session);
/* @contact (new or renamed) goes on the roster, once the roster is in step. */
void pg_roster_sync_contact (PgSession *session, const PgContact *contact);
/* The contact @jid leaves the roster, once the roster is in step. */
void pg_roster_sync_remove (PgSession *session, const char *jid);
/* After an unregistration: every contact of @contacts (PgStoreContact) is
 * removed from the roster. FALSE (nothing sent) without the permission. */
gboolean pg_roster_sync_goodbye (PgTransport *transport, const char *bare_jid, const GPtrArray *contacts);

/* chat.c — one-to-one messages both ways. */
void pg_chat_on_message (gpointer owner, const char *from, const char *html);
void pg_chat_on_state (gpointer owner, const char *from, PgChatState state);
/* What the user wrote from another legacy client (legacy/account.h). */
void pg_chat_on_own_message (gpointer owner, const char *to, gboolean chat, const char *html, gint64 when);
void pg_chat_add_routes (PgTransport *transport, PgSessions *sessions);
/* Whether messages from the contact @contact_jid (bare, prepared) to the
 * user @bare_jid carry chat states: the user's typing setting is on, and
 * the user's last message to that contact had a chat state, or there was
 * none yet (XEP-0085 §5.1). */
gboolean pg_chat_states_wanted (PgTransport *transport, const char *bare_jid, const char *contact_jid);

/* session-questions.c — account events about questions (owner is the
 * PgSession), and the user's answers. */
void pg_questions_on_question (gpointer owner, const PgQuestion *question);
void pg_questions_on_closed (gpointer owner, guint32 id);
/* The login ended: pending questions are withdrawn, with a note to the
 * user when @tell. */
void pg_questions_withdraw_all (PgSession *session, gboolean tell);
/* Plain-text replies to the gateway's address, added by session.c. */
void pg_questions_add_routes (PgTransport *transport, PgSessions *sessions);

/* session-nick.c — the answer to a nick asked for: TRUE when @event (a
 * connection-wide refusal) was the answer and is nobody else's. */
gboolean pg_session_nick_on_chat (PgSession *session, const PgChatEvent *event);
/* The login ends: a nick asked for gets no answer. */
void pg_session_nick_abort (PgSession *session);

/* session.c */
PgSession *pg_sessions_lookup (PgSessions *sessions, const char *bare_jid);
/* The names of the user's available resources that told the transport
 * (not the bare JID's presence), oldest first. Caller owns the array. */
GPtrArray *pg_session_dup_resources (PgSession *session);
/* Whether @bare_jid's login stays up while they are offline: [registration]
 * stay_connected, and the user's own setting when it is "ask". */
gboolean pg_sessions_stays_connected (PgTransport *transport, const char *bare_jid);
/* Whether @resource of the user is available. */
gboolean pg_session_has_resource (PgSession *session, const char *resource);
/* The session of @request's sender with its resource known (an available
 * presence, to a room for instance, counts as logging in); NULL when the
 * sender is not registered. */
PgSession *pg_sessions_ensure_resource (PgSessions *sessions, const PgRouteRequest *request);
/* @resource left a room: if it came online only by joining rooms and is in
 * none now, it is gone. */
void pg_sessions_left_room (PgSession *session, const char *resource);
void pg_session_send (PgSession *session, xmlNode *stanza_owned);
