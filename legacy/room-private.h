/* legacy/room-private.h — legacy group chats as XEP-0045 rooms: what
 * room.c (room state, legacy events → stanzas) and room-routes.c (the
 * user's stanzas → legacy commands) share.
 *
 * A room is per user: the user's resources that joined it share one legacy
 * join (one nick: on IRC the connection's), and each gets the occupant
 * list, its own presence, the room's backlog as history and the subject.
 * Rooms live in memory with their session; after a restart, clients learn
 * through XEP-0410 self-ping that they must join again. A login that stays
 * connected while its user is offline (README "Staying connected") keeps
 * its rooms with no resource in them; they and their backlogs are kept in
 * the store too, and joined again after a restart. */
#pragma once
#include "legacy/session-private.h"

#define PG_NS_MUC "http://jabber.org/protocol/muc"
#define PG_NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define PG_NS_MUC_ADMIN "http://jabber.org/protocol/muc#admin"
#define PG_NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define PG_NS_CONFERENCE "jabber:x:conference"
#define PG_NS_DELAY "urn:xmpp:delay"
#define PG_NS_SID "urn:xmpp:sid:0"

/* Rooms one user may be in (or joining) through the gateway at once. */
#define PG_ROOMS_MAX_PER_USER 200

/* XEP-0045 status codes used here. */
enum
{
  PG_MUC_STATUS_REAL_JID = 100,
  PG_MUC_STATUS_SELF = 110,
  PG_MUC_STATUS_NICK_ASSIGNED = 210,
  PG_MUC_STATUS_BANNED = 301,
  PG_MUC_STATUS_NICK_CHANGED = 303,
  PG_MUC_STATUS_KICKED = 307,
  PG_MUC_STATUS_SHUTDOWN = 332,
  PG_MUC_STATUS_TECHNICAL = 333,
};

/* What a joining resource asked of the history (XEP-0045 §7.2.13); -1: no limit. */
typedef struct
{
  gint maxstanzas;
  gint maxchars;
  gint64 since_us; /* real time */
} PgHistoryWish;

typedef struct
{
  char *resource;   /* of the user */
  char *jid;        /* the user's full JID */
  char *asked_nick; /* the nick it joined with */
  char *join_id;    /* the join presence's id, echoed (may be NULL) */
  PgHistoryWish history;
} PgRoomMember;

typedef struct
{
  char *nick;
  char *member; /* the legacy name to write to privately; NULL: the nick */
  PgChatRank rank;
} PgOccupant;

/* One allocation: the strings follow the entry (a line of a busy room
 * adds one and drops the oldest). */
typedef struct
{
  GList link; /* in PgRoom.backlog; data is the entry */
  char *id;   /* the live copies' id, kept by the history's */
  char *nick;
  char *text;
  gint64 stamp_us; /* real time */
} PgBacklogEntry;

/* What a pending stanza of the user asked for. */
typedef enum
{
  PG_ROOM_SEND = 1 << 0, /* a groupchat message */
  PG_ROOM_TOPIC = 1 << 1,
  PG_ROOM_KICK = 1 << 2,
  PG_ROOM_INVITE = 1 << 3,
  PG_ROOM_NICK = 1 << 4,
} PgRoomAction;

/* A message or command of the user waiting for the network's verdict. */
typedef struct
{
  PgRoomAction action;
  char *resource;
  xmlNode *stanza; /* a copy: the error reply is built from it */
  gint64 at;       /* monotonic µs */
  guint64 serial;  /* PG_ROOM_SEND: the confirmation covering it; 0: none asked yet */
} PgRoomPending;

typedef struct PgRoom PgRoom;
struct PgRoom
{
  PgSession *session;
  char *jid;          /* the room's bare JID, prepared */
  char *name;         /* the legacy chat name (unescaped localpart) */
  char *key;          /* the protocol's normalised name, once the join went out */
  char *nick;         /* our legacy nick in it, once joined */
  char *password;     /* the key the join used, for invitations */
  gboolean nick_wait; /* the connection's nick is being changed to the one asked, then the join goes */
  gboolean join_sent;
  gboolean joined;       /* the legacy join completed */
  GHashTable *occupants; /* nick → PgOccupant (ours included) */
  GPtrArray *members;    /* PgRoomMember: resources in the room */
  GPtrArray *waiting;    /* PgRoomMember: resources waiting for the legacy join */
  char *subject;         /* NULL: none known */
  char *subject_by;
  GQueue backlog; /* PgBacklogEntry, oldest first */
  PgChatModes modes;
  guint join_timeout_id;
  /* PgRoomPending, oldest first: the user's messages until the network
   * confirms it processed them (a refusal names no message: it answers the
   * oldest one not confirmed), then kicks, topics, invitations and nick
   * changes until they take effect, are refused or time out. */
  GQueue pending;
  guint confirm_id; /* idle: one confirmation for the messages of a main-loop iteration */
  guint pending_timeout_id;
  guint32 id_prefix; /* ids of legacy messages: prefix-counter */
  guint64 id_counter;
  /* Joined again for a login that stays connected, with no resource
   * waiting: the nick to ask for. NULL otherwise. */
  char *hold_nick;
  /* The last resource left while still available: the room is left when it
   * still is once this fires (a leave, not a logout). */
  guint release_id;
  char *released_by;
};

/* room.c */
/* The room at @jid (prepared bare) of @session, or NULL. */
PgRoom *pg_room_lookup (PgSession *session, const char *jid);
/* The room at @jid, created (not joined) when new, for the legacy @name. */
PgRoom *pg_room_ensure (PgSession *session, const char *jid, const char *name);
PgRoomMember *pg_room_find_member (PgRoom *room, const char *resource);
/* Whether @resource waits for the room's legacy join. */
gboolean pg_room_is_waiting (PgRoom *room, const char *resource);
/* @join_id may be NULL. */
PgRoomMember *pg_room_member_new (const char *bare_jid, const char *resource, const char *asked_nick,
                                  const char *join_id, const PgHistoryWish *history);
void pg_room_member_free (PgRoomMember *member);
/* Takes @resource out of the room's members and waiting joins, silently;
 * the room stays. */
void pg_room_forget_resource (PgRoom *room, const char *resource);
/* @member (owned) enters the room: at once when the legacy join is done,
 * else when it is; the legacy join goes out when the login is up. */
void pg_room_add_member (PgRoom *room, PgRoomMember *member);
/* @resource leaves: its own unavailable presence; the legacy chat is left
 * with the last one. May free @room. */
void pg_room_remove_member (PgRoom *room, const char *resource, gboolean tell);
/* The user's own message @stanza (borrowed), body @body, reflected to
 * every resource in the room (XEP-0045 §7.4) and kept in the backlog. */
void pg_room_reflect (PgRoom *room, const xmlNode *stanza, const char *body);
/* The user's presence @stanza (show, status) in the room, to every joined
 * resource with 110 (§7.7). */
void pg_room_reflect_presence (PgRoom *room, const xmlNode *stanza);
/* Remembers @stanza (copied) of @resource, which asked for @action, until
 * the network answers. */
void pg_room_expect (PgRoom *room, PgRoomAction action, const char *resource, const xmlNode *stanza);
/* Sends @stanza_owned from the room (or an occupant) to the user's @resource. */
void pg_room_send_to (PgRoom *room, const char *resource, xmlNode *stanza_owned);
/* The error reply to @stanza (borrowed) from the room (RFC 6120 §8.3.1,
 * XEP-0045: by the room). Caller owns it. */
xmlNode *pg_room_error_reply (PgRoom *room, const xmlNode *stanza, PgErrorCondition condition,
                              PgErrorType type, const char *text);
/* The occupant full JID of @nick. Owned. */
char *pg_room_dup_occupant_jid (PgRoom *room, const char *nick);
/* The room's occupant called @nick in any case (IRC nicks are
 * case-insensitive), or NULL. Borrowed. */
PgOccupant *pg_room_find_occupant (PgRoom *room, const char *nick);
/* Our own standing in the room. */
PgChatRank pg_room_own_rank (PgRoom *room);
/* XEP-0045 affiliation and role of @rank in @room. Static strings. */
const char *pg_room_affiliation (PgRoom *room, PgChatRank rank);
const char *pg_room_role (PgRoom *room, PgChatRank rank);

/* Account events about chats (owner is the PgSession). */
void pg_rooms_on_chat (gpointer owner, const PgChatEvent *event);
/* @text (plain) the user sent to the chat @chat (normalised) from another
 * legacy client: the user's own groupchat message to every resource in the
 * room, kept in the backlog; @when (unix s) the network's time when it
 * came late, else 0. */
void pg_rooms_on_own_message (PgSession *session, const char *chat, const char *text, gint64 when);
/* The legacy server processed what was sent before confirmation @serial. */
void pg_rooms_on_confirmed (PgSession *session, guint64 serial);
/* The login is up: the joins that waited for it go out, and for a login
 * that stays connected, those of the rooms kept in the store. */
void pg_rooms_on_connected (PgSession *session);
/* The user is offline and the login stays: every joined room is kept in
 * the store, to be joined again after a restart. */
void pg_rooms_remember_all (PgSession *session);
/* The login is gone (or the session ends): every resource leaves every
 * room with status @code (333: the legacy connection, 332: the gateway
 * stops) and @reason; joins still waiting fail with @condition, except
 * after a network failure (@condition remote-server-timeout), when they
 * wait for the reconnection within their timeout. */
void pg_rooms_drop_all (PgSession *session, PgErrorCondition condition, const char *reason, guint code);
/* Answers the disco#items @request to the gateway (borrowed): the rooms the
 * user is in and the legacy network's list, fetched when it is older than
 * five minutes (the answer waits for it, five seconds at most). */
void pg_rooms_answer_items (PgSession *session, const xmlNode *request);
/* Frees the session's rooms silently (the session ends). */
void pg_rooms_free (PgSession *session);
/* A private message @text from the legacy user @name: when the user last
 * wrote to them from a room, it goes to every resource in that room from
 * the occupant JID (XEP-0045 §7.5) and TRUE is returned. */
gboolean pg_rooms_deliver_private (PgSession *session, const char *name, const char *text);
/* Answers from @name come from @occupant_jid from now on; NULL: from the
 * contact again. */
void pg_rooms_set_private_peer (PgSession *session, const char *name, const char *occupant_jid);

/* room-routes.c */
void pg_rooms_add_routes (PgTransport *transport);
