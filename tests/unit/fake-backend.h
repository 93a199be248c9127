/* tests/unit/fake-backend.h — a legacy backend for unit tests, behind the
 * same ops table as the real ones (legacy/backend-private.h).
 *
 * It runs nothing: every command a login gets is recorded, with its
 * arguments, and every event of legacy/account.h is raised by the test
 * when it chooses (pg_fake_account_*()), so the session manager and the
 * outbox can be driven through any sequence a real backend could
 * produce. No libpurple is needed. */
#pragma once
#include "legacy/backend-private.h"

typedef struct PgFakeBackend PgFakeBackend;

/* One command as a login received it. */
typedef struct
{
  char *username; /* the login's legacy username */
  char *name;     /* "start", "free", "connect", "send_message", "confirm_sent"… */
  /* Its arguments as text, in the order of legacy/account.h (a password,
   * tag or serial included; NULL strings as "(null)"), NULL-terminated. */
  char **args;
  char *line; /* name and args joined by spaces */
} PgFakeCommand;

/* Caller owns the fake (pg_fake_backend_free(), which frees its backend:
 * every account must be freed first). */
PgFakeBackend *pg_fake_backend_new (void);
void pg_fake_backend_free (PgFakeBackend *fake);
/* The backend to give pg_account_new() (borrowed from @fake). */
PgBackend *pg_fake_backend_get_backend (PgFakeBackend *fake);

/* Whether confirm_sent promises a sent_confirmed event (the default, as on
 * IRC) or not (as on protocols without a round trip). */
void pg_fake_backend_set_round_trip (PgFakeBackend *fake, gboolean round_trip);
/* What confirm_sent answers from now on (recorded as "promised", "refused"
 * or "unavailable"): PG_CONFIRM_UNAVAILABLE plays an IRC login whose
 * connection is going. */
void pg_fake_backend_set_confirm (PgFakeBackend *fake, PgConfirm answer);
/* The serial of the last confirm_sent that was promised; 0 when none. */
guint64 pg_fake_backend_get_last_serial (PgFakeBackend *fake);

/* Every command since the last pg_fake_backend_clear(), oldest first
 * (PgFakeCommand, borrowed from @fake). */
GPtrArray *pg_fake_backend_get_commands (PgFakeBackend *fake);
void pg_fake_backend_clear (PgFakeBackend *fake);
/* The lines of the recorded commands named @name (NULL: all), each
 * followed by '\n'; "" when none. Caller owns the string (g_free). */
char *pg_fake_backend_dup_log (PgFakeBackend *fake, const char *name);
/* How many recorded commands are named @name. */
guint pg_fake_backend_count (PgFakeBackend *fake, const char *name);

/* The newest account that exists (borrowed), or NULL. */
PgAccount *pg_fake_backend_get_account (PgFakeBackend *fake);
/* Accounts that exist now. */
guint pg_fake_backend_count_accounts (PgFakeBackend *fake);

/* The events of legacy/account.h, raised on @account at once (the owner
 * may free @account inside). Strings are borrowed. */
void pg_fake_account_connected (PgAccount *account);
void pg_fake_account_disconnected (PgAccount *account, PgAccountFailure failure, const char *reason);
void pg_fake_account_contact_status (PgAccount *account, const char *name, const char *alias, PgShow show,
                                     const char *status_text);
void pg_fake_account_contact_listed (PgAccount *account, const char *name, const char *alias);
void pg_fake_account_contact_unlisted (PgAccount *account, const char *name);
void pg_fake_account_message (PgAccount *account, const char *from, const char *html);
void pg_fake_account_chat_state (PgAccount *account, const char *from, PgChatState state);
void pg_fake_account_own_message (PgAccount *account, const char *to, gboolean chat, const char *html,
                                  gint64 when);
void pg_fake_account_authorization_requested (PgAccount *account, const char *from, const char *alias,
                                              const char *message);
void pg_fake_account_sent_confirmed (PgAccount *account, guint64 serial);
void pg_fake_account_refused (PgAccount *account, guint64 tag);
void pg_fake_account_chat (PgAccount *account, const PgChatEvent *event);
void pg_fake_account_send_failed (PgAccount *account, guint64 tag, gboolean offline, const char *reason);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgFakeBackend, pg_fake_backend_free)
