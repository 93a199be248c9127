/* legacy/backend-private.h — what the backend layer's files share:
 * backend.c (the interface and the in-process backend),
 * backend-workers.c (logins in worker processes) and names.c (the names
 * process). */
#pragma once
#include "legacy/backend.h"
#include "legacy/name-cache.h"
#include "legacy/names.h"
#include "legacy/purple-account.h"

typedef struct PgWorkerPool PgWorkerPool;
typedef struct PgWorker PgWorker;

/* The operations every backend implements, one per command of
 * legacy/account.h; @account is the front struct below. */
typedef struct
{
  void (*start) (PgAccount *account, const char *password, const char *const *setting_keys,
                 const char *const *setting_values);
  void (*free) (PgAccount *account);
  void (*connect) (PgAccount *account);
  void (*set_status) (PgAccount *account, PgShow show, const char *message);
  void (*send_message) (PgAccount *account, guint64 tag, const char *to, const char *text);
  /* PG_CONFIRM_ASKED when a sent_confirmed event with @serial will follow */
  PgConfirm (*confirm_sent) (PgAccount *account, guint64 serial);
  gboolean (*logout) (PgAccount *account, const char *message); /* may be NULL: none */
  void (*send_chat_state) (PgAccount *account, const char *to, PgChatState state);
  void (*join_chat) (PgAccount *account, const char *chat, const char *nick, const char *password);
  void (*leave_chat) (PgAccount *account, const char *chat);
  void (*send_chat) (PgAccount *account, const char *chat, const char *text);
  void (*set_chat_topic) (PgAccount *account, const char *chat, const char *topic);
  void (*kick_chat) (PgAccount *account, const char *chat, const char *nick, const char *reason);
  void (*invite_chat) (PgAccount *account, const char *chat, const char *who, const char *message);
  void (*set_chat_nick) (PgAccount *account, const char *chat, const char *nick);
  void (*list_chats) (PgAccount *account);
  gboolean (*set_nick) (PgAccount *account, const char *nick);
  void (*restore_contact) (PgAccount *account, const char *name, const char *alias);
  void (*add_contact) (PgAccount *account, const char *name, const char *alias);
  void (*remove_contact) (PgAccount *account, const char *name);
  void (*authorize) (PgAccount *account, const char *name, gboolean allow);
  gboolean (*is_chat_name) (PgAccount *account, const char *name);
  gboolean (*has_connection_nick) (PgAccount *account);
  char *(*dup_nick) (PgAccount *account);
  char *(*normalize) (PgAccount *account, const char *name);
  guint (*get_nick_len) (PgAccount *account);                                   /* may be NULL: 0 */
  void (*answer_question) (PgAccount *account, const PgQuestionAnswer *answer); /* may be NULL */
} PgBackendOps;

struct PgBackend
{
  const PgBackendOps *ops;
  gpointer ops_data;   /* of a backend made by pg_backend_new_with_ops() */
  PgPurple *purple;    /* borrowed; NULL with workers */
  PgNames *names;      /* borrowed; NULL in-process */
  PgWorkerPool *pool;  /* NULL: in-process */
  guint64 last_serial; /* of pg_account_confirm_sent(), for every login */
  guint accounts;
};

/* What a worker last said of a login's connection (PG_WIRE_INFO). */
typedef struct
{
  gboolean connected;
  gboolean connection_nick;
  gboolean round_trip;
  char *chantypes;
  guint nick_len;
  char *nick;
} PgAccountMirror;

struct PgAccount
{
  PgBackend *backend;
  PgAccountEvents events;
  gpointer owner;
  char *protocol_id;
  char *username;
  /* in this process */
  PgPurpleAccount *local;
  char *conflict;  /* why the login could not be created; reported on connect */
  GQueue deferred; /* Deferred (backend.c): answers given after the command */
  guint deferred_id;
  /* in a worker */
  PgWorker *worker;
  guint32 id;
  char *login_key;
  PgAccountMirror mirror;
  PgNameCache *named; /* names its worker normalised (PG_WIRE_NAMES); NULL: none yet */
};

/* A backend whose logins are served by @ops (borrowed, must outlive it),
 * with @ops_data for their use: for the unit tests' fake backend. @purple
 * (borrowed) may be NULL when @ops never needs libpurple. Caller owns the
 * backend (pg_backend_free()). */
PgBackend *pg_backend_new_with_ops (PgPurple *purple, const PgBackendOps *ops, gpointer ops_data);

/* backend-workers.c */
extern const PgBackendOps pg_backend_worker_ops;
PgWorkerPool *pg_worker_pool_new (PgBackend *backend, const PgBackendOptions *options, GError **error);
void pg_worker_pool_free (PgWorkerPool *pool);
void pg_worker_pool_sync (PgWorkerPool *pool, guint timeout_ms);
void pg_worker_pool_fill_stats (PgWorkerPool *pool, PgBackendStats *stats);
GArray *pg_worker_pool_dup_stats (PgWorkerPool *pool);
/* The index of the worker @account is on, or 0. */
guint pg_worker_pool_get_index (PgAccount *account);

/* How long a process of the backend (a worker, the names process) waits
 * before it starts again, after it ran @ran_s and waited @last_ms the time
 * before: at once after a long run, else twice as long as the last time,
 * up to a maximum, so that one that cannot start does not spin; always
 * @fixed_ms when it is not negative. */
guint pg_backend_next_restart_ms (int fixed_ms, guint last_ms, gint64 ran_s);
/* PG_BACKEND_RESTART_MS_ENV's number of milliseconds, or -1 (unset, or not
 * a number: logged). */
int pg_backend_get_fixed_restart_ms (void);

/* backend.c: runs @account's disconnected event from the main loop. */
void pg_backend_defer_disconnected (PgAccount *account, PgAccountFailure failure, const char *reason);
