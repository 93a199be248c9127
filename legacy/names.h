/* legacy/names.h — what the main process asks of a protocol besides its
 * logins: whether it exists, its display name, whether its password is
 * optional, whether a [legacy-settings] key is one of its options, and how
 * it normalises names (room keys, nick comparisons, the key that tells two
 * logins apart).
 *
 * In-process ([workers] count = 0) libpurple here answers. With workers, no
 * libpurple code runs in the main process: the names process answers, a
 * libpurple process of its own (this executable with --names-worker, no
 * logins, restricted as the workers are, README "Legacy worker
 * processes"), which the main process asks synchronously, waiting at most
 * PG_NAMES_CALL_MS. Normalised names are cached (PG_NAMES_CACHE_SIZE per
 * protocol), so the steady state costs no round trip. If the names process
 * ends or does not answer in time, it is started again with the workers'
 * backoff and, until it answers again, a name normalises to itself: two
 * different names are never taken for one (two spellings of one name may
 * be taken for two). That is logged once per outage. */
#pragma once
#include <glib.h>

#include "legacy/purple-core.h"

#define PG_NAMES_CALL_MS 1000
#define PG_NAMES_START_MS 30000
#define PG_NAMES_CACHE_SIZE 4096
/* Names a worker normalised in its events (PG_WIRE_NAMES, legacy/wire.h)
 * are cached per login, at most this many: a worker's word holds only for
 * its own logins. */
#define PG_NAMES_LOGIN_CACHE_SIZE 512

typedef struct PgNames PgNames;

/* Answers from @purple (borrowed, must outlive the result), in this
 * process. Caller owns the result (pg_names_free()). */
PgNames *pg_names_new_local (PgPurple *purple);

/* Starts the names process with @purple_dir/names as its libpurple user
 * directory, the plugins of @purple_dir/plugins, and @private_paths (may be
 * NULL) it must not be able to open; waits up to PG_NAMES_START_MS for it
 * to be ready. Caller owns the result; pg_names_free() ends the process. */
PgNames *pg_names_new_process (const char *purple_dir, const char *const *private_paths, GError **error);

/* Starts the other end of a names link: returns the main process's end
 * (a socket), or -1 and @error. */
typedef int (*PgNamesSpawnFunc) (gpointer data, GError **error);
/* As pg_names_new_process(), with @spawn (called again at each restart)
 * in place of the process and @call_ms in place of PG_NAMES_CALL_MS: for
 * the unit tests. */
PgNames *pg_names_new_with_spawn (PgNamesSpawnFunc spawn, gpointer data, guint call_ms, GError **error);

void pg_names_free (PgNames *names);

gboolean pg_names_check_protocol (PgNames *names, const char *protocol_id, GError **error);
/* Checks that @plugin_id names an installed libpurple plugin ([legacy] plugins). */
gboolean pg_names_check_plugin (PgNames *names, const char *plugin_id, GError **error);
/* The protocol's display name ("IRC"), or NULL; caller owns it (g_free). */
char *pg_names_dup_protocol_name (PgNames *names, const char *protocol_id);
gboolean pg_names_protocol_password_optional (PgNames *names, const char *protocol_id);
/* As pg_purple_check_setting() (legacy/purple-core.h). */
gboolean pg_names_check_setting (PgNames *names, const char *protocol_id, const char *key, const char *value,
                                 GError **error);
/* As pg_purple_dup_options() (legacy/purple-core.h): the protocol's
 * account options, NULL and @error when it cannot say. Caller owns it. */
GPtrArray *pg_names_dup_options (PgNames *names, const char *protocol_id, GError **error);

/* @name as @protocol_id normalises it; @name itself while the names
 * process cannot say. Caller owns it (g_free). */
char *pg_names_normalize (PgNames *names, const char *protocol_id, const char *name);
/* What tells two logins apart (pg_purple_dup_login_key()); the protocol
 * and @username as given while the names process cannot say. Caller owns
 * it (g_free). */
char *pg_names_dup_login_key (PgNames *names, const char *protocol_id, const char *username);
typedef struct
{
  int pid;         /* of the names process; 0 while it does not run or in-process */
  guint restarts;  /* times it was started again */
  guint fallbacks; /* names answered unchanged because it could not say */
  guint calls;     /* round trips made to it */
  guint cached;    /* names in the caches */
} PgNamesStats;

PgNamesStats pg_names_get_stats (PgNames *names);

/* The entry point of the names process (purplegate --names-worker):
 * restricts itself as a worker does (pg_worker_main(), legacy/backend.h),
 * then answers the main process on the socket @fd until it closes.
 * Returns the exit status. */
int pg_names_worker_main (int fd, const char *purple_dir, const char *plugin_dir,
                          const char *const *private_paths);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgNames, pg_names_free)
