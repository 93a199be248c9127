/* legacy/account.h — the legacy backend interface: one legacy login.
 *
 * This is the line between the session manager and libpurple: commands go
 * down (log in, log out, send, set status, add/remove contact, authorize),
 * events come up through PgAccountEvents. Commands return nothing the
 * legacy side computes: what they lead to comes back as events, so the
 * same interface serves a login in this process and one in a worker
 * process (legacy/backend.h). Nothing here exposes a libpurple type. */
#pragma once
#include <glib.h>

#include "legacy/question.h"

/* XMPP <show/> values plus offline; the account maps them to libpurple
 * status primitives and back. */
typedef enum
{
  PG_SHOW_OFFLINE,
  PG_SHOW_AVAILABLE,
  PG_SHOW_CHAT,
  PG_SHOW_AWAY,
  PG_SHOW_XA,
  PG_SHOW_DND,
} PgShow;

/* XEP-0085 states (NONE: the network reported nothing we can map). */
typedef enum
{
  PG_CHAT_STATE_NONE,
  PG_CHAT_STATE_ACTIVE,
  PG_CHAT_STATE_COMPOSING,
  PG_CHAT_STATE_PAUSED,
  PG_CHAT_STATE_INACTIVE,
  PG_CHAT_STATE_GONE,
} PgChatState;

typedef enum
{
  PG_ACCOUNT_FAILURE_NETWORK,  /* worth retrying later: unreachable, reset, timeout */
  PG_ACCOUNT_FAILURE_AUTH,     /* credentials refused: retrying will not help */
  PG_ACCOUNT_FAILURE_OTHER,    /* any other fatal error (name in use, TLS…) */
  PG_ACCOUNT_FAILURE_CONFLICT, /* another login of this gateway uses the legacy username */
  /* The process serving the login ended (a crash in libpurple or a
   * protocol plugin): worth retrying at once. */
  PG_ACCOUNT_FAILURE_INTERNAL,
  /* The login was present at too many crashes of its process: not retried. */
  PG_ACCOUNT_FAILURE_QUARANTINED,
} PgAccountFailure;

#define PG_ACCOUNT_ERROR (pg_account_error_quark ())
GQuark pg_account_error_quark (void);
typedef enum
{
  PG_ACCOUNT_ERROR_OFFLINE, /* not connected */
  PG_ACCOUNT_ERROR_SEND,    /* the protocol refused to send */
  PG_ACCOUNT_ERROR_EXISTS,  /* another login already uses this legacy username */
} PgAccountError;

typedef struct PgAccount PgAccount;

/* ---- group chats (legacy/account-chat.c, purple-chat.c) ---- */

/* An occupant's standing, from the protocol's own (IRC: ~ & @ % +). */
typedef enum
{
  PG_CHAT_RANK_NONE,
  PG_CHAT_RANK_VOICE,
  PG_CHAT_RANK_HALFOP,
  PG_CHAT_RANK_OP,
  PG_CHAT_RANK_FOUNDER,
} PgChatRank;

/* What the legacy network refused, and why. */
typedef enum
{
  /* a join */
  PG_CHAT_REFUSED_NOT_FOUND, /* no such chat, or the protocol has none */
  PG_CHAT_REFUSED_BAD_NAME,  /* not a name the network takes for a chat */
  PG_CHAT_REFUSED_KEY,       /* wrong or missing key */
  PG_CHAT_REFUSED_BANNED,
  PG_CHAT_REFUSED_INVITE_ONLY,
  PG_CHAT_REFUSED_FULL,
  PG_CHAT_REFUSED_REGISTERED_ONLY, /* only for registered (identified) nicks */
  PG_CHAT_REFUSED_TOO_MANY,        /* the user is in as many chats as allowed */
  /* in a chat */
  PG_CHAT_REFUSED_NICK_IN_USE,
  PG_CHAT_REFUSED_BAD_NICK,
  PG_CHAT_REFUSED_CANNOT_SEND,  /* moderated, or messages from outside refused */
  PG_CHAT_REFUSED_NOT_OPERATOR, /* topic, kick, invite need a privilege */
  PG_CHAT_REFUSED_NOT_JOINED,
  PG_CHAT_REFUSED_NO_SUCH_NICK, /* kick or invite of someone not there */
  PG_CHAT_REFUSED_MESSAGE,      /* a message or a subject change, the network did not say which */
} PgChatRefusal;

/* Channel modes that change what a room is (PgChatEvent.modes). */
typedef enum
{
  PG_CHAT_MODE_MODERATED = 1 << 0,    /* only voiced occupants speak (IRC +m) */
  PG_CHAT_MODE_INVITE_ONLY = 1 << 1,  /* +i */
  PG_CHAT_MODE_KEY = 1 << 2,          /* +k */
  PG_CHAT_MODE_TOPIC_LOCKED = 1 << 3, /* +t */
  PG_CHAT_MODE_NO_OUTSIDE = 1 << 4,   /* +n */
  PG_CHAT_MODE_LIMIT = 1 << 5,        /* +l */
} PgChatModes;

typedef enum
{
  PG_CHAT_EVENT_JOINED,        /* our join is complete: @nick is ours, occupants known */
  PG_CHAT_EVENT_REFUSED,       /* @refusal, @text (the network's words; may be NULL) */
  PG_CHAT_EVENT_OCCUPANT,      /* @nick is there with @rank; @arrived: just came in */
  PG_CHAT_EVENT_OCCUPANT_LEFT, /* @nick left; @text: part/quit message; @kicked, @banned */
  PG_CHAT_EVENT_RENAMED,       /* @nick is now @new_nick (ours too) */
  PG_CHAT_EVENT_MESSAGE,       /* from @nick, @text in libpurple markup; @delayed: history */
  PG_CHAT_EVENT_TOPIC,         /* @text set by @nick (NULL: known at join) */
  PG_CHAT_EVENT_LEFT,          /* we are out without asking: @kicked, @banned, @text */
  PG_CHAT_EVENT_INVITED,       /* @nick invites us; @password, @text may be NULL */
  PG_CHAT_EVENT_MODES,         /* @modes is the chat's mode set now */
  PG_CHAT_EVENT_NICK,          /* our nick on the connection is now @new_nick (was @nick); @chat NULL */
  PG_CHAT_EVENT_SENT,          /* the chat took our oldest message not yet confirmed (its echo) */
  PG_CHAT_EVENT_INVITE_SENT,   /* the network sent our invitation on (IRC 341) */
  PG_CHAT_EVENT_LISTED,        /* the network's room list has @name (@text: topic, @users); @chat NULL */
  PG_CHAT_EVENT_LIST_END,      /* the room list is complete (or cut at PG_ACCOUNT_CHAT_LIST_MAX) */
} PgChatEventKind;

/* One group-chat event; strings are borrowed for the call. @chat is the
 * protocol's normalised chat name (pg_account_normalize()). */
typedef struct
{
  PgChatEventKind kind;
  const char *chat;
  const char *nick;
  const char *new_nick;
  const char *text;
  const char *password;
  PgChatRank rank;
  PgChatRefusal refusal;
  PgChatModes modes;
  gboolean arrived;
  gboolean kicked;
  gboolean banned;    /* kicked after a ban that matches the nick */
  gboolean delayed;   /* a message of the legacy room's own history */
  const char *name;   /* LISTED: the chat's name as the network spells it */
  guint users;        /* LISTED: how many are in it, where the network says */
  const char *actor;  /* OCCUPANT_LEFT, LEFT when kicked: who did it (NULL: unknown) */
  const char *reason; /* and why */
  const char *member; /* OCCUPANT (@nick), RENAMED (@new_nick): the name to write to
                       * privately (prpl-jabber: room@server/nick; IRC: the nick) */
} PgChatEvent;

/* Every callback gets the @owner given to pg_account_new(). Strings are
 * borrowed for the duration of the call. Contact names are the protocol's
 * own spelling (libpurple buddy names). */
typedef struct
{
  void (*connected) (gpointer owner);
  /* The login ended without pg_account_disconnect(): @reason is for humans. */
  void (*disconnected) (gpointer owner, PgAccountFailure failure, const char *reason);
  /* A contact's presence changed (or is first known after login). */
  void (*contact_status) (gpointer owner, const char *name, const char *alias, PgShow show,
                          const char *status_text);
  /* A contact is on the legacy contact list (server-side lists, or a contact
   * we added); reported for each existing contact after login too. */
  void (*contact_listed) (gpointer owner, const char *name, const char *alias);
  /* The legacy side removed a contact from the list. */
  void (*contact_unlisted) (gpointer owner, const char *name);
  /* An incoming one-to-one message; @html is libpurple's markup. */
  void (*message) (gpointer owner, const char *from, const char *html);
  void (*chat_state) (gpointer owner, const char *from, PgChatState state);
  /* A legacy user asks to see our presence; answer with pg_account_authorize(). */
  void (*authorization_requested) (gpointer owner, const char *from, const char *alias, const char *message);
  /* The legacy server processed everything sent on this login before
   * pg_account_confirm_sent() returned @serial (and so before every smaller
   * serial of this login). */
  void (*sent_confirmed) (gpointer owner, guint64 serial);
  /* The legacy server refused the message pg_account_send_message() was
   * given with @tag: nobody of its recipient's name is online (IRC 401).
   * It comes before the sent_confirmed event of the first confirmation
   * asked for after the message. */
  void (*refused) (gpointer owner, guint64 tag);
  /* Everything about group chats (PgChatEvent). */
  void (*chat) (gpointer owner, const PgChatEvent *event);
  /* pg_account_send_message() @tag was not sent: @offline (the login is
   * ending; the disconnected event follows) or refused by the protocol
   * for good (too large…), @reason for humans. */
  void (*send_failed) (gpointer owner, guint64 tag, gboolean offline, const char *reason);
  /* The process serving the login ended (a crash: the disconnected event
   * with PG_ACCOUNT_FAILURE_INTERNAL follows at once) after the legacy
   * server had processed every message pg_account_send_message() was given
   * up to the one with @tag, or received them in full on a connection that
   * outlived the process and was then ended so that the server reads them
   * (legacy/held-socket.h), though no sent_confirmed event said so yet:
   * they are not to be sent again.  Only logins in worker processes, on
   * IRC, raise it (legacy/sent-note.h). */
  void (*sent_processed) (gpointer owner, guint64 tag);
  /* libpurple asks the user something (legacy/question.h): answer with
   * pg_account_answer_question(); unanswered, the login waits. @question
   * is borrowed for the call. */
  void (*question) (gpointer owner, const PgQuestion *question);
  /* libpurple withdrew question @id (its connection went): no answer. */
  void (*question_closed) (gpointer owner, guint32 id);
  /* The user wrote @html (libpurple's markup) from another client of the
   * legacy account (a carbon copy of prpl-jabber's, a room's reflection
   * under the user's nick): to the contact @to, or with @chat to the chat
   * @to (its normalised name). @when: the network's time of it (unix s)
   * when the network reports it late, 0 when live. Comes in order with the
   * other events of the login; never for what this login sent itself
   * (pg_account_send_message(), pg_account_send_chat()). */
  void (*own_message) (gpointer owner, const char *to, gboolean chat, const char *html, gint64 when);
} PgAccountEvents;

typedef struct PgBackend PgBackend;

/* Creates (not connects) the login @username on @protocol_id with
 * @password (may be NULL) and the [legacy-settings] pairs (NULL-terminated,
 * same length; typed by the protocol's option list) on @backend. Another
 * login of the gateway with the same legacy username ends with a
 * disconnected event (PG_ACCOUNT_FAILURE_CONFLICT) after
 * pg_account_connect(). Caller owns the account; pg_account_free() logs
 * out silently (no more events). */
PgAccount *pg_account_new (PgBackend *backend, const char *protocol_id, const char *username,
                           const char *password, const char *const *setting_keys,
                           const char *const *setting_values, const PgAccountEvents *events, gpointer owner);
void pg_account_free (PgAccount *account);

/* Starts the login; events follow. */
void pg_account_connect (PgAccount *account);
void pg_account_set_status (PgAccount *account, PgShow show, const char *message);

/* Sends @text (plain UTF-8) to @to. Nothing follows when the protocol
 * takes it; a send_failed event with @tag when it does not. */
void pg_account_send_message (PgAccount *account, guint64 tag, const char *to, const char *text);
/* What pg_account_confirm_sent() could do. */
typedef enum
{
  /* Asked: the sent_confirmed event reports the serial once the legacy
   * server has processed the messages. */
  PG_CONFIRM_ASKED,
  /* The protocol has no such round trip (only IRC has one, for now): that
   * it took the messages is all that will ever be known of them. */
  PG_CONFIRM_NO_ROUND_TRIP,
  /* The protocol has one, but it cannot be asked now: the login is not
   * connected, is ending, or its connection failed. Nothing is known of
   * the messages (prpl-irc loses the lines still in its queue with the
   * connection); the disconnected event follows unless the owner ends the
   * login itself, and a confirmation asked later on this login, if it
   * lives on, covers them. */
  PG_CONFIRM_UNAVAILABLE,
} PgConfirm;

/* Asks the legacy server to confirm that it has processed every message
 * sent so far on this login. With PG_CONFIRM_ASKED, *@serial is the serial
 * that the sent_confirmed event reports once it has; otherwise it is 0. A
 * protocol's taking a message is no proof it reached the server (prpl-irc
 * queues lines and loses its queue with the connection). */
PgConfirm pg_account_confirm_sent (PgAccount *account, guint64 *serial);
/* Before a clean stop: ends the login so that everything the legacy server
 * sent before arrives first (IRC: QUIT, then the server closes). TRUE when
 * a disconnected event follows; FALSE when the protocol has no such thing
 * (nothing is done). */
gboolean pg_account_logout (PgAccount *account, const char *message);
/* Only where the protocol has typing notifications; otherwise a no-op. */
void pg_account_send_chat_state (PgAccount *account, const char *to, PgChatState state);

/* Group chats.  @chat is the chat's legacy name as the user wrote it; the
 * protocol's chat_info_defaults() turns it into what a join needs.  Every
 * outcome comes back as a PgChatEvent.  @nick is used where the protocol
 * has a nick per chat; @password may be NULL. */
void pg_account_join_chat (PgAccount *account, const char *chat, const char *nick, const char *password);
/* Leaves @chat (no event follows). */
void pg_account_leave_chat (PgAccount *account, const char *chat);
/* Sends @text to @chat; a text starting with "/me " is sent as the
 * protocol's action where it has one. A refusal comes back as a REFUSED
 * chat event (NOT_JOINED, MESSAGE). */
void pg_account_send_chat (PgAccount *account, const char *chat, const char *text);
void pg_account_set_chat_topic (PgAccount *account, const char *chat, const char *topic);
void pg_account_kick_chat (PgAccount *account, const char *chat, const char *nick, const char *reason);
void pg_account_invite_chat (PgAccount *account, const char *chat, const char *who, const char *message);
/* Asks for the nick @nick in @chat (on IRC: for the whole connection). */
void pg_account_set_chat_nick (PgAccount *account, const char *chat, const char *nick);
/* Asks the network for its list of rooms (libpurple's roomlist, IRC LIST):
 * LISTED events, at most PG_ACCOUNT_CHAT_LIST_MAX, then LIST_END (at once
 * where the protocol has no list). */
#define PG_ACCOUNT_CHAT_LIST_MAX 200
void pg_account_list_chats (PgAccount *account);
/* Asks for @nick on the connection (IRC NICK): a NICK event or a
 * NICK_IN_USE / BAD_NICK refusal (with @chat NULL) follows. FALSE when the
 * protocol has no such thing or @nick breaks its rules (nothing is sent). */
gboolean pg_account_set_nick (PgAccount *account, const char *nick);

/* What is known of the login's connection, as the legacy side last reported
 * it (these ask nothing of the legacy side). */
/* TRUE when @name looks like a chat name to the protocol (IRC: it starts
 * with one of the server's channel prefixes, CHANTYPES); FALSE when unknown. */
gboolean pg_account_is_chat_name (PgAccount *account, const char *name);
/* TRUE when the protocol has one nick per connection, not per chat (IRC). */
gboolean pg_account_has_connection_nick (PgAccount *account);
/* Our nick on the connection. Caller owns it (g_free); NULL when offline. */
char *pg_account_dup_nick (PgAccount *account);
/* The longest nick the server takes (IRC: ISUPPORT NICKLEN, known once
 * connected); 0 when it did not say or the protocol has no such limit. */
guint pg_account_get_nick_len (PgAccount *account);
/* The protocol's canonical form of a contact or chat name, for comparing
 * names. Caller owns it (g_free). */
char *pg_account_normalize (PgAccount *account, const char *name);

/* Puts @name on the local contact list only, without telling the legacy
 * server: called before pg_account_connect() to restore stored contacts,
 * which protocols without server-side lists (IRC) then watch from login on. */
void pg_account_restore_contact (PgAccount *account, const char *name, const char *alias);
/* Adds @name (with @alias, may be NULL) to the legacy contact list and asks
 * for its presence; removing takes it off. */
void pg_account_add_contact (PgAccount *account, const char *name, const char *alias);
void pg_account_remove_contact (PgAccount *account, const char *name);
/* Answers a pending authorization_requested; ignored when none is pending. */
void pg_account_authorize (PgAccount *account, const char *name, gboolean allow);
/* Answers a question event (@answer borrowed); ignored when the question
 * is no longer open. */
void pg_account_answer_question (PgAccount *account, const PgQuestionAnswer *answer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgAccount, pg_account_free)
