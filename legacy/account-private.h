/* legacy/account-private.h — what account.c and the libpurple UI-ops files
 * (purple-conn.c, purple-conv.c, purple-blist.c, purple-request.c) share.
 * Nothing outside legacy/ includes this, except the account unit test. */
#pragma once
#include <purple.h>

#include "legacy/purple-account.h"

#define PG_ACCOUNT_UI "purplegate" /* the UI id given to purple_core_init() */

/* A login not connected after this long is ended with a network failure:
 * libpurple has no deadline of its own, and some protocol failures leave a
 * login waiting forever (prpl-irc when the server hangs up during
 * registration, or a server that accepts and never answers). */
#define PG_ACCOUNT_LOGIN_TIMEOUT_S 60

/* An authorization request libpurple is waiting for us to answer. */
typedef struct PgAccountMarks PgAccountMarks;
typedef struct PgIrcAway PgIrcAway;
typedef struct PgIrcRefusals PgIrcRefusals;

typedef struct
{
  PgPurpleAccount *account; /* not a reference: the account closes these first */
  char *name;               /* normalized remote user */
  PurpleAccountRequestAuthorizationCb allow_cb, deny_cb;
  gpointer data; /* libpurple's user_data for the callbacks */
} PgPendingAuth;

struct PgPurpleAccount
{
  PurpleAccount *purple; /* ui_data points back here until teardown */
  PgAccountEvents events;
  gpointer owner;
  char *password; /* owned; wiped when freed */

  gboolean want_online; /* the owner's last connect/disconnect */
  gboolean restart;     /* a deferred disconnect must end the current login */
  gboolean quiet;       /* our own logout is under way: no events */
  gboolean dying;       /* pg_purple_account_free() was called; teardown pending */
  gboolean removing;    /* our remove_contact(): buddy-removed is ours */
  gboolean restoring;   /* our restore_contact(): buddy-added is ours */
  /* Our own send is under way: what the protocol writes back as sent now
   * (prpl-irc's /me, its channel messages) is its echo, not a message the
   * user sent from another client. */
  guint sending;

  /* Why the current login failed, from report_disconnect_reason. */
  gboolean failed;
  PgAccountFailure failure;
  char *failure_reason;
  gboolean auth_hint; /* the protocol refused the password (IRC 464) */

  guint login_timeout_s; /* PG_ACCOUNT_LOGIN_TIMEOUT_S; tests shorten it */
  guint login_timer_id;  /* the login's deadline, until connected */
  guint apply_id;        /* idle: deferred connect/disconnect */
  guint disconnected_id; /* idle: the disconnected event */
  guint teardown_id;     /* idle: deferred pg_purple_account_free() */

  GQueue auths; /* PgPendingAuth, oldest first */

  guint64 confirm_serial; /* the last pg_purple_account_confirm_sent() of this login */
  /* pg_purple_account_mark_sent() (account-mark.c); NULL until a mark
   * function is set. */
  PgAccountMarks *marks;
  /* Which messages the IRC server refused (account-refused.c); NULL until
   * the first message of the login. */
  PgIrcRefusals *refusals;

  /* "chat\nnick" (normalised) of KICK lines prpl-irc is about to handle:
   * libpurple reports a kick as a plain departure (purple-chat-irc.c). */
  GHashTable *kicks; /* PgKick; NULL until the first (pg_purple_account_kicks()) */
  /* Recent channel bans (IRC MODE +b), to tell a ban from a kick; NULL
   * until the first. */
  GPtrArray *bans;
  /* ISUPPORT of the IRC server (005): channel prefixes, lengths. */
  char *chantypes;
  guint channel_len;
  guint nick_len;
  /* The server refused the nick during the login (purple-chat-irc.c). */
  gboolean nick_refused;
  /* IRC contacts' away state (purple-away-irc.c); NULL but while an IRC
   * login is signed on. */
  PgIrcAway *irc_away;

  /* libpurple's requests of this login shown to its user, by question id
   * (purple-request.c): values borrowed, the requests are libpurple's UI
   * handles. NULL until the first. */
  GHashTable *questions;
  guint32 last_question_id;

  PgPurple *core;     /* borrowed */
  GHashTable *logins; /* the PgPurple's login table (borrowed) */
  char *login_key;    /* owned (the key in @logins too); NULL once left */
};

/* The PgPurpleAccount behind a libpurple account or connection; NULL for
 * accounts that are not ours or are being torn down. O(1). */
PgPurpleAccount *pg_purple_account_from_purple (PurpleAccount *account);
PgPurpleAccount *pg_purple_account_from_connection (PurpleConnection *gc);

/* Installs every ops table and signal handler once, after
 * purple_core_init() (called from pg_purple_new()). */
void pg_purple_account_install_ui_ops (PgPurple *purple);
/* Every PgPurpleAccount not yet freed, by login key (protocol id and normalised
 * username; see account.c); owned by @purple, values borrowed. */
GHashTable *pg_purple_get_logins (PgPurple *purple);
/* The live PgPurpleAccount using the login @username on @protocol_id, compared
 * the way libpurple compares usernames; NULL if none. For tests. */
PgPurpleAccount *pg_purple_account_find (PgPurple *purple, const char *protocol_id, const char *username);
void pg_purple_conn_install (void);
void pg_purple_conv_install (void);
void pg_purple_blist_install (void);
void pg_purple_request_install (void);
void pg_purple_account_confirm_install (void);
/* The serial of an IRC PONG line whose token is @prefix and a number, or 0
 * (account-confirm.c). */
guint64 pg_purple_irc_pong_serial (const char *line, const char *prefix);
void pg_purple_account_mark_install (void);
/* The token of the PING of a confirmation: this, then the serial. */
#define PG_CONFIRM_TOKEN_PREFIX "pg-confirm-"
/* The message @tag (the owner's, 0: none) is being handed to prpl-irc: the
 * lines it makes are counted as they are written, for the 401s that may
 * answer them (account-refused.c). */
void pg_purple_account_track_message (PgPurpleAccount *account, guint64 tag, const char *to,
                                      const char *text);
/* The PONG of confirmation @serial was read on @gc: the refused events of
 * the messages the 401s read before it refused, oldest first. */
void pg_purple_account_refusals_confirmed (PgPurpleAccount *account, PurpleConnection *gc, guint64 serial);
void pg_purple_account_refused_install (void);
/* Drops what account-refused.c tracks of @account's login. */
void pg_purple_account_refusals_free (PgPurpleAccount *account);
/* Drops the marks of @account (account-mark.c), timers included. */
void pg_purple_account_marks_free (PgPurpleAccount *account);
void pg_purple_chat_install (void);
/* Around a message of ours to the chat @conv (purple-chat.c): a protocol
 * that does not write it back at once (prpl-irc does) reflects it later
 * under our nick (a legacy XMPP room), and that reflection is ours, not a
 * message the user sent from another client. */
void pg_purple_chat_begin_send (PurpleConversation *conv);
void pg_purple_chat_end_send (PurpleConversation *conv);
/* The chat refused a message of ours: no reflection will come for it. */
void pg_purple_chat_reflection_lost (PurpleConversation *conv);
/* A message (HTML) from @nick, another member, in the chat @conv: what
 * receiving-chat-msg passes on (purple-privmsg-irc.c reads it earlier). */
void pg_purple_chat_message_in (PurpleConversation *conv, const char *nick, const char *html);
void pg_purple_chat_irc_install (void);
/* IRC contacts' away state: away-notify and the bounded check
 * (purple-away-irc.c). */
void pg_purple_away_irc_install (void);
/* Drops the away state of @account's login, timer included. */
void pg_purple_away_irc_free (PgPurpleAccount *account);
/* Plain messages of others taken before prpl-irc (purple-privmsg-irc.c). */
void pg_purple_privmsg_irc_install (void);
void pg_purple_chat_jabber_install (void);
void pg_purple_carbons_install (void); /* purple-carbons.c */
void pg_purple_roomlist_install (void);

/* Events, raised by the ops files. Each checks that the account wants
 * events; the owner may call pg_purple_account_free() from inside any of them
 * (the struct then stays valid until the deferred teardown). */
void pg_purple_account_emit_connected (PgPurpleAccount *account);
/* Sends the login's NickServ password, if it has one (purple-nickserv.c). */
void pg_purple_nickserv_identify (PurpleConnection *gc);
void pg_purple_account_emit_contact_status (PgPurpleAccount *account, PurpleBuddy *buddy);
void pg_purple_account_emit_contact_listed (PgPurpleAccount *account, const char *name, const char *alias);
void pg_purple_account_emit_contact_unlisted (PgPurpleAccount *account, const char *name);
void pg_purple_account_emit_message (PgPurpleAccount *account, const char *from, const char *html);
void pg_purple_account_emit_chat_state (PgPurpleAccount *account, const char *from, PgChatState state);
void pg_purple_account_emit_authorization_requested (PgPurpleAccount *account, const char *from,
                                                     const char *alias, const char *message);
void pg_purple_account_emit_sent_confirmed (PgPurpleAccount *account, guint64 serial);
void pg_purple_account_emit_refused (PgPurpleAccount *account, guint64 tag);
void pg_purple_account_emit_chat (PgPurpleAccount *account, const PgChatEvent *event);
void pg_purple_account_emit_question (PgPurpleAccount *account, const PgQuestion *question);
void pg_purple_account_emit_question_closed (PgPurpleAccount *account, guint32 id);
void pg_purple_account_emit_own_message (PgPurpleAccount *account, const char *to, gboolean chat,
                                         const char *html, gint64 when);

/* A KICK line seen before libpurple reports the departure. */
typedef struct
{
  gboolean banned; /* a matching MODE +b came shortly before */
  char *actor;
  char *reason;
} PgKick;
void pg_kick_free (PgKick *kick);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgKick, pg_kick_free)
/* @account's kicks, made at the first (most logins never see one).
 * Borrowed. */
GHashTable *pg_purple_account_kicks (PgPurpleAccount *account);

/* Plain text as libpurple markup (escaped, <br> for line breaks). Owned. */
char *pg_purple_account_text_to_html (const char *text);
/* Sends a XEP-0245 "/me " @text on @conv as the protocol's action through
 * its "me" command; FALSE when it is no action or the protocol has none. */
gboolean pg_purple_account_send_action (PgPurpleAccount *account, PurpleConversation *conv, const char *text);

/* Group chats, shared by purple-chat.c and purple-chat-irc.c. */
/* The normalised name of a chat conversation (cached on it). Borrowed. */
const char *pg_purple_chat_key (PurpleConversation *conv);
/* Our open chat conversation called @chat on @account (any spelling), or NULL. */
PurpleConversation *pg_purple_chat_find (PurpleAccount *account, const char *chat);
/* The chat's modes as last reported (purple-chat-irc.c keeps them). */
void pg_purple_chat_set_modes (PurpleConversation *conv, PgChatModes modes);
PgChatModes pg_purple_chat_get_modes (PurpleConversation *conv);

/* Connection life cycle, from purple-conn.c. */
/* report_disconnect_reason: why the login is ending (the first reason of a
 * login counts). */
void pg_purple_account_login_failed (PgPurpleAccount *account, PgAccountFailure failure, const char *text);
/* The disconnected op: libpurple is destroying the connection; the
 * disconnected event follows from an idle. */
void pg_purple_account_login_closed (PgPurpleAccount *account);

/* Authorization requests, from purple-request.c (account UI ops).
 * Takes ownership of @pending. */
void pg_purple_account_add_pending_auth (PgPurpleAccount *account, PgPendingAuth *pending);
/* libpurple closed @pending (close_account_request): forget it unanswered. */
void pg_purple_account_close_pending_auth (PgPendingAuth *pending);

/* Questions (purple-request.c): the account is going away; its open
 * requests are answered as if nobody were asked (declined). */
void pg_purple_request_forget_account (PgPurpleAccount *account);
/* Certificates (purple-certificate.c): wraps libpurple's x509 "tls_cached"
 * verifier so that the request it makes is known as a certificate question
 * of the login whose TLS handshake asks. */
void pg_purple_certificate_install (void);
typedef struct
{
  PgPurpleAccount *account; /* NULL: not one of our logins */
  const char *host;         /* borrowed from libpurple */
  char *subject;
  char *fingerprint;
} PgPurpleCertificateCheck;
/* The certificate check under way (the verifier asks synchronously from
 * start_verification), or NULL. Borrowed. */
const PgPurpleCertificateCheck *pg_purple_certificate_get_check (void);
/* Drops what libpurple's "tls_peers" cache learnt of @host from an accepted
 * question: acceptance is per user, kept by the session layer. */
void pg_purple_certificate_forget (const char *host);

/* PgShow for a contact's libpurple presence (invisible counts as offline). */
PgShow pg_purple_account_show_from_presence (PurplePresence *presence);

/* Destroys IM conversations of our accounts without a message for
 * @max_idle_s seconds (purple-conv.c runs it every minute); returns how
 * many went. Tests call it with 0. */
guint pg_purple_conv_sweep (gint64 max_idle_s);
