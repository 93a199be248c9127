/* legacy/backend.h — where legacy logins run: in this process, or in
 * supervised worker processes.
 *
 * A backend serves the accounts of legacy/account.h. The in-process one
 * runs libpurple here ([workers] count = 0, for debugging); the worker one
 * starts [workers] count processes (this executable with --worker), places
 * each login on the least loaded, and speaks to them over a socketpair
 * (legacy/wire.h). A worker that ends is started again with backoff; its
 * logins end with PG_ACCOUNT_FAILURE_INTERNAL (their sessions log in again
 * at once), and a login present at PG_BACKEND_QUARANTINE_CRASHES crashes
 * within PG_BACKEND_QUARANTINE_WINDOW_S is refused from then on
 * (PG_ACCOUNT_FAILURE_QUARANTINED) until the gateway restarts. */
#pragma once
#include <glib.h>

#include "legacy/account.h"
#include "legacy/purple-core.h"

typedef struct PgNames PgNames; /* legacy/names.h */

#define PG_BACKEND_QUARANTINE_CRASHES 3
#define PG_BACKEND_QUARANTINE_WINDOW_S 600
/* Read once when the workers start, a number of milliseconds every restart
 * of a worker waits instead of the backoff (for tests that end workers many
 * times; not an operator setting). */
#define PG_BACKEND_RESTART_MS_ENV "PURPLEGATE_WORKER_RESTART_MS"

typedef struct
{
  guint workers;          /* 0: libpurple in this process */
  guint max_logins;       /* per worker; 0: no limit */
  const char *purple_dir; /* libpurple's user directory; workers use subdirectories */
  /* Files a worker must not be able to open (the store, the key file). */
  const char *const *private_paths;
  /* libpurple plugins to load by id before any login, in this process or
   * in every worker ([legacy] plugins); NULL or empty: none. */
  const char *const *plugins;
} PgBackendOptions;

/* Creates the backend. When @options->workers is 0, @purple (borrowed,
 * initialised in this process) runs the logins and normalises names; else
 * @purple is NULL (no libpurple code runs in this process) and @names
 * (borrowed, a names process: legacy/names.h) normalises them. Both must
 * outlive the backend. Caller owns the backend; pg_backend_free() ends
 * every worker (SIGTERM, then SIGKILL after a grace). */
PgBackend *pg_backend_new (PgPurple *purple, PgNames *names, const PgBackendOptions *options, GError **error);
void pg_backend_free (PgBackend *backend);

typedef struct
{
  guint index;    /* 1-based */
  int pid;        /* 0 while not running */
  guint logins;   /* accounts placed on it now */
  guint restarts; /* times started again after it ended */
  guint crashes;  /* of those, ended by a signal or an unexpected exit */
} PgBackendWorkerStats;

typedef struct
{
  guint workers;     /* configured (0: in-process) */
  guint logins;      /* accounts that exist */
  guint restarts;    /* sum over the workers */
  guint quarantined; /* logins refused for repeated crashes */
} PgBackendStats;

/* Before a clean stop: waits, running the main loop, up to @timeout_ms
 * until every worker has forwarded what its legacy servers had already
 * sent (in this process, libpurple reads its sockets as the loop runs). */
#define PG_BACKEND_SYNC_MS 1000
void pg_backend_sync (PgBackend *backend, guint timeout_ms);

PgBackendStats pg_backend_get_stats (PgBackend *backend);
/* The worker serving @account (its index, 1-based); 0 when the login is in
 * this process or on no worker. */
guint pg_backend_get_account_worker (PgAccount *account);
/* One entry per worker, by index. Caller owns the array (g_array_unref). */
GArray *pg_backend_dup_worker_stats (PgBackend *backend);

/* The entry point of a worker process (purplegate --worker): restricts
 * what the process may open to what libpurple needs, its own @purple_dir
 * (read-write) and @plugin_dir (read-only; may be NULL), then serves
 * the main process on the socket @fd until it closes or says stop. A path
 * of @private_paths that stays readable is logged. Returns the exit status. */
int pg_worker_main (int fd, const char *purple_dir, const char *plugin_dir, const char *const *private_paths);
