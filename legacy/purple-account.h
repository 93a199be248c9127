/* legacy/purple-account.h — one legacy login in this process, on libpurple:
 * the in-process implementation of the backend interface (legacy/account.h),
 * used by the main process with [workers] count = 0 and by every worker.
 * Commands here may answer at once (return values, GError); the backend
 * layer (legacy/backend.c) turns those answers into events. */
#pragma once
#include <glib.h>

#include "legacy/account.h"
#include "legacy/purple-core.h"

typedef struct PgPurpleAccount PgPurpleAccount;

/* Creates (not connects) the login @username on @protocol_id with
 * @password (may be NULL) and the [legacy-settings] pairs (NULL-terminated,
 * same length; typed by the protocol's option list). Fails with
 * PG_ACCOUNT_ERROR_EXISTS when this legacy username is already in use.
 * Caller owns the account; pg_purple_account_free() logs out silently (no
 * disconnected event) and forgets it in libpurple. */
PgPurpleAccount *pg_purple_account_new (PgPurple *purple, const char *protocol_id, const char *username,
                                        const char *password, const char *const *setting_keys,
                                        const char *const *setting_values, const PgAccountEvents *events,
                                        gpointer owner, GError **error);
void pg_purple_account_free (PgPurpleAccount *account);

/* Starts the login; events follow. */
void pg_purple_account_connect (PgPurpleAccount *account);
/* Ends the login without a disconnected event. */
void pg_purple_account_disconnect (PgPurpleAccount *account);
gboolean pg_purple_account_is_connected (PgPurpleAccount *account);

void pg_purple_account_set_status (PgPurpleAccount *account, PgShow show, const char *message);

/* Sends @text (plain UTF-8; escaped for libpurple here). Returns TRUE once
 * the protocol has taken the message for sending. The refused event names
 * it by @tag (0: not at all). */
gboolean pg_purple_account_send_message (PgPurpleAccount *account, guint64 tag, const char *to,
                                         const char *text, GError **error);
/* Asks the legacy server to confirm that it has processed every message
 * sent so far on this login: PG_CONFIRM_ASKED when a sent_confirmed event
 * with @serial (from a sequence the caller keeps rising) follows once it
 * has; PG_CONFIRM_NO_ROUND_TRIP when the protocol has no such round trip;
 * PG_CONFIRM_UNAVAILABLE when it has one but the login is being freed, is
 * not connected, or the request could not be written (legacy/account.h). */
PgConfirm pg_purple_account_confirm_sent (PgPurpleAccount *account, guint64 serial);
/* Where the protocol has a round trip (IRC), marks what it was handed so
 * far with @tag (the caller's, rising): the function of
 * pg_purple_account_set_mark_func() is called with @processed FALSE once
 * every message up to the mark is written in full to the connection, and,
 * where marks have a round trip (pg_purple_account_set_mark_round_trip(),
 * the default), with @processed TRUE once the legacy server answered that
 * it has processed them.  Either is called with the greatest tag so far
 * (marks asked for in a row may be reported as one).  Unlike
 * pg_purple_account_confirm_sent(), the answer is a call in this process,
 * for a worker to note where a crash cannot lose it (legacy/sent-note.h).
 * FALSE (nothing follows) without a function, when the login is not
 * connected, or for other protocols. */
typedef void (*PgPurpleAccountMarkFunc) (guint64 tag, gboolean processed, gpointer data);
void pg_purple_account_set_mark_func (PgPurpleAccount *account, PgPurpleAccountMarkFunc func, gpointer data);
gboolean pg_purple_account_mark_sent (PgPurpleAccount *account, guint64 tag);
/* Whether marks ask the server to answer (TRUE, the default: a line more
 * each way) or are only written (a line the server ignores without answer):
 * for a caller to whom written is enough (the main process holds the
 * connection too, legacy/held-socket.h).  Applies to marks queued after. */
void pg_purple_account_set_mark_round_trip (PgPurpleAccount *account, gboolean round_trip);
/* TRUE when marks of @account can follow (a mark function is set, and the
 * protocol is IRC), connected or not. */
gboolean pg_purple_account_is_marked (PgPurpleAccount *account);
/* Only where the protocol has typing notifications; otherwise a no-op. */
void pg_purple_account_send_chat_state (PgPurpleAccount *account, const char *to, PgChatState state);

/* Group chats.  @chat is the chat's legacy name as the user wrote it; the
 * protocol's chat_info_defaults() turns it into what a join needs.  Every
 * outcome comes back as a PgChatEvent.  @nick is used where the protocol
 * has a nick per chat; @password may be NULL. */
void pg_purple_account_join_chat (PgPurpleAccount *account, const char *chat, const char *nick,
                                  const char *password);
/* Leaves @chat (no event follows). */
void pg_purple_account_leave_chat (PgPurpleAccount *account, const char *chat);
/* Sends @text to @chat; a text starting with "/me " is sent as the
 * protocol's action where it has one. FALSE with @error when the protocol
 * refused at once (not joined, offline). */
gboolean pg_purple_account_send_chat (PgPurpleAccount *account, const char *chat, const char *text,
                                      GError **error);
/* The refusal a failed pg_purple_account_send_chat() stands for: not
 * joined when the login is offline (or @error is NULL), else the message's
 * own (too long, not allowed…). */
PgChatRefusal pg_purple_account_chat_refusal (const GError *error);
void pg_purple_account_set_chat_topic (PgPurpleAccount *account, const char *chat, const char *topic);
void pg_purple_account_kick_chat (PgPurpleAccount *account, const char *chat, const char *nick,
                                  const char *reason);
void pg_purple_account_invite_chat (PgPurpleAccount *account, const char *chat, const char *who,
                                    const char *message);
/* Asks for the nick @nick in @chat (on IRC: for the whole connection). */
void pg_purple_account_set_chat_nick (PgPurpleAccount *account, const char *chat, const char *nick);
/* The name to write to privately to reach @nick of @chat (prpl-jabber:
 * room@server/nick; IRC: the nick). Caller owns it (g_free). */
char *pg_purple_account_dup_chat_member_name (PgPurpleAccount *account, const char *chat, const char *nick);
/* TRUE when @name looks like a chat name to the protocol (IRC: it starts
 * with one of the server's channel prefixes, CHANTYPES); FALSE when unknown. */
gboolean pg_purple_account_is_chat_name (PgPurpleAccount *account, const char *name);
/* Asks the network for its list of rooms (libpurple's roomlist, IRC LIST):
 * LISTED events, at most PG_ACCOUNT_CHAT_LIST_MAX, then LIST_END (at once
 * where the protocol has no list). */
#define PG_ACCOUNT_CHAT_LIST_MAX 200
void pg_purple_account_list_chats (PgPurpleAccount *account);
/* TRUE when the protocol has one nick per connection, not per chat (IRC). */
gboolean pg_purple_account_has_connection_nick (PgPurpleAccount *account);
/* Our nick on the connection. Caller owns it (g_free); NULL when offline. */
char *pg_purple_account_dup_nick (PgPurpleAccount *account);
/* Asks for @nick on the connection (IRC NICK): a NICK event or a
 * NICK_IN_USE / BAD_NICK refusal (with @chat NULL) follows. FALSE when the
 * protocol has no such thing or @nick breaks its rules (nothing is sent). */
gboolean pg_purple_account_set_nick (PgPurpleAccount *account, const char *nick);

/* Puts @name on the local contact list only, without telling the legacy
 * server: called before pg_purple_account_connect() to restore stored contacts,
 * which protocols without server-side lists (IRC) then watch from login on. */
void pg_purple_account_restore_contact (PgPurpleAccount *account, const char *name, const char *alias);
/* Adds @name (with @alias, may be NULL) to the legacy contact list and asks
 * for its presence; removing takes it off. */
void pg_purple_account_add_contact (PgPurpleAccount *account, const char *name, const char *alias);
void pg_purple_account_remove_contact (PgPurpleAccount *account, const char *name);
/* Answers a pending authorization_requested; ignored when none is pending. */
void pg_purple_account_authorize (PgPurpleAccount *account, const char *name, gboolean allow);
/* Answers a question event (@answer borrowed; purple-request.c); ignored
 * when the question is no longer open. */
void pg_purple_account_answer_question (PgPurpleAccount *account, const PgQuestionAnswer *answer);

/* The protocol's canonical form of a contact name (purple_normalize), for
 * comparing names. Caller owns it (g_free). */
char *pg_purple_account_normalize (PgPurpleAccount *account, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgPurpleAccount, pg_purple_account_free)

/* @name as the protocol @protocol_id normalises it, without a login (for
 * comparing names of logins served elsewhere). Caller owns it (g_free). */
char *pg_purple_normalize_name (PgPurple *purple, const char *protocol_id, const char *name);
/* What tells two logins apart: the protocol and the username as the
 * protocol normalises it. Caller owns it (g_free). */
char *pg_purple_dup_login_key (PgPurple *purple, const char *protocol_id, const char *username);

/* Ends the login the way the protocol lets everything the server sent
 * before arrive first (IRC: QUIT, after which the server closes the
 * connection): TRUE when the disconnected event follows; FALSE when the
 * protocol has no such thing or the login is not connected. */
gboolean pg_purple_account_logout (PgPurpleAccount *account, const char *message);

/* What the backend layer answers pg_account_is_chat_name() and friends from
 * for a login in another process. Strings borrowed from @account. */
typedef struct
{
  gboolean connection_nick; /* pg_purple_account_has_connection_nick() */
  gboolean round_trip;      /* the protocol has pg_purple_account_confirm_sent()'s round trip */
  const char *chantypes;    /* the server's channel prefixes; NULL: not said */
  guint nick_len;           /* the server's NICKLEN; 0: not said */
} PgPurpleAccountInfo;
void pg_purple_account_get_info (PgPurpleAccount *account, PgPurpleAccountInfo *info);
