/* legacy/names.c — the main process's side of legacy/names.h: answers from
 * libpurple in this process, or from the names process, which it starts,
 * asks synchronously, and starts again when it ends or hangs. */
#define G_LOG_DOMAIN "pg-names"
#include "build-config.h"

#include "legacy/names.h"

#include "legacy/backend-private.h"
#include "legacy/name-cache.h"
#include "legacy/names-link.h"
#include "transport/legacy-option.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long the names process has to exit once its link is closed. */
#define STOP_GRACE_MS 1000

typedef enum
{
  STATE_DOWN,     /* waiting for the restart */
  STATE_STARTING, /* started, its hello not yet read */
  STATE_READY,
} State;

struct PgNames
{
  PgPurple *purple; /* in-process; NULL with the names process */
  /* the names process */
  PgNamesSpawnFunc spawn;
  gpointer spawn_data;
  char *exe;
  char *dir;
  char *plugin_dir;
  GStrv private_paths;
  GSubprocess *process; /* NULL while not running or with @spawn */
  int pid;
  int fd;
  State state;
  guint call_ms;
  guint hello_id;   /* the watch for the hello of a restart */
  guint timeout_id; /* the bound on that hello */
  guint restart_id;
  guint restart_ms;
  int fixed_restart_ms; /* PG_BACKEND_RESTART_MS_ENV; -1: the backoff */
  gint64 started_at;    /* monotonic µs */
  gboolean failing;     /* the outage is logged; until the next hello */
  GCancellable *cancellable;
  GHashTable *caches; /* "n" or "k", protocol id → PgNameCache */
  PgNamesStats stats;
};

static void schedule_restart (PgNames *names);
static gboolean start (PgNames *names, GError **error);

/* ---- the process ---- */

static void
child_setup (gpointer data)
{
  (void)data;
  /* Never outlives the main process, even one killed with SIGKILL. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void on_exited (GObject *source, GAsyncResult *result, gpointer data);

static int
spawn_process (PgNames *names, GError **error)
{
  int fds[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s", g_strerror (saved));
      return -1;
    }
  if (g_mkdir_with_parents (names->dir, 0700) < 0)
    {
      int saved = errno;
      close (fds[0]);
      close (fds[1]);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", names->dir,
                   g_strerror (saved));
      return -1;
    }
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_fd (launcher, fds[1], 3);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, names->exe);
  g_ptr_array_add (argv, (char *)"--names-worker");
  g_ptr_array_add (argv, names->dir);
  g_ptr_array_add (argv, names->plugin_dir);
  for (guint i = 0; names->private_paths != NULL && names->private_paths[i] != NULL; i++)
    g_ptr_array_add (argv, names->private_paths[i]);
  g_ptr_array_add (argv, NULL);
  GSubprocess *process = g_subprocess_launcher_spawnv (launcher, (const char *const *)argv->pdata, error);
  if (process == NULL)
    {
      close (fds[0]);
      return -1;
    }
  names->process = process;
  const char *id = g_subprocess_get_identifier (process);
  names->pid = id != NULL ? atoi (id) : 0;
  g_subprocess_wait_async (g_object_ref (process), names->cancellable, on_exited, names);
  return fds[0];
}

/* The link is gone or broken: the process is made sure to end and started
 * again after the backoff; until it answers, names normalise to
 * themselves. */
static void
give_up (PgNames *names, const char *why)
{
  if (names->state == STATE_DOWN)
    return;
  if (!names->failing)
    g_warning ("the names process (pid %d) failed (%s); until it is back, names are compared as given",
               names->pid, why);
  names->failing = TRUE;
  names->state = STATE_DOWN;
  g_clear_handle_id (&names->hello_id, g_source_remove);
  g_clear_handle_id (&names->timeout_id, g_source_remove);
  if (names->fd >= 0)
    close (names->fd);
  names->fd = -1;
  if (names->process != NULL)
    g_subprocess_force_exit (names->process);
  g_clear_object (&names->process);
  names->pid = 0;
  schedule_restart (names);
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  GSubprocess *process = G_SUBPROCESS (source);
  g_autoptr (GError) error = NULL;
  if (!g_subprocess_wait_finish (process, result, &error))
    {
      g_object_unref (process);
      return; /* cancelled: names is going */
    }
  PgNames *names = data;
  if (process == names->process)
    {
      g_autofree char *why
          = g_subprocess_get_if_signaled (process)
                ? g_strdup_printf ("killed by signal %d", g_subprocess_get_term_sig (process))
                : g_strdup_printf ("exit status %d", g_subprocess_get_exit_status (process));
      give_up (names, why);
    }
  g_object_unref (process);
}

/* Reads the hello the process sends once libpurple is up. */
static gboolean
read_hello (PgNames *names, gint64 deadline, GError **error)
{
  guint32 code;
  g_auto (GStrv) strings = NULL;
  if (!pg_names_link_read (names->fd, &code, &strings, deadline, error))
    return FALSE;
  guint64 version;
  if (code != PG_NAMES_HELLO || g_strv_length (strings) != 2
      || !g_ascii_string_to_unsigned (strings[0], 10, 0, G_MAXUINT32, &version, NULL)
      || version != PG_NAMES_LINK_VERSION)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no hello of this version");
      return FALSE;
    }
  names->state = STATE_READY;
  if (names->failing)
    g_message ("the names process (pid %s) is back", strings[1]);
  else
    g_debug ("the names process (pid %s) is up", strings[1]);
  names->failing = FALSE;
  return TRUE;
}

static gboolean
on_hello (int fd, GIOCondition condition, gpointer data)
{
  PgNames *names = data;
  g_autoptr (GError) error = NULL;
  (void)fd;
  (void)condition;
  names->hello_id = 0;
  g_clear_handle_id (&names->timeout_id, g_source_remove);
  /* The frame is coming: a short bound for the rest. */
  if (!read_hello (names, g_get_monotonic_time () + (gint64)names->call_ms * 1000, &error))
    give_up (names, error->message);
  return G_SOURCE_REMOVE;
}

static gboolean
on_hello_timeout (gpointer data)
{
  PgNames *names = data;
  names->timeout_id = 0;
  give_up (names, "it did not start in time");
  return G_SOURCE_REMOVE;
}

static gboolean
start (PgNames *names, GError **error)
{
  int fd = names->spawn != NULL ? names->spawn (names->spawn_data, error) : spawn_process (names, error);
  if (fd < 0)
    return FALSE;
  names->fd = fd;
  names->state = STATE_STARTING;
  names->started_at = g_get_monotonic_time ();
  return TRUE;
}

static gboolean
restart (gpointer data)
{
  PgNames *names = data;
  g_autoptr (GError) error = NULL;
  names->restart_id = 0;
  names->stats.restarts++;
  if (!start (names, &error))
    {
      g_warning ("cannot start the names process again: %s", error->message);
      schedule_restart (names);
      return G_SOURCE_REMOVE;
    }
  g_message ("the names process started again (pid %d)", names->pid);
  /* Read from the main loop: nothing waits for it meanwhile. */
  names->hello_id = g_unix_fd_add (names->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_hello, names);
  names->timeout_id = g_timeout_add (PG_NAMES_START_MS, on_hello_timeout, names);
  return G_SOURCE_REMOVE;
}

static void
schedule_restart (PgNames *names)
{
  gint64 ran_s = (g_get_monotonic_time () - names->started_at) / G_USEC_PER_SEC;
  names->restart_ms = pg_backend_next_restart_ms (names->fixed_restart_ms, names->restart_ms, ran_s);
  names->restart_id = g_timeout_add (names->restart_ms, restart, names);
}

/* One round trip; NULL and @error when the process cannot answer now
 * (then it is started again) or @error's code is PG_NAMES_ERROR's. */
static GStrv
call (PgNames *names, guint32 op, const char *const *args, GError **error)
{
  if (names->state != STATE_READY)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "the names process is not running");
      return NULL;
    }
  names->stats.calls++;
  gint64 deadline = g_get_monotonic_time () + (gint64)names->call_ms * 1000;
  guint32 code;
  GStrv strings = NULL;
  g_autoptr (GError) link_error = NULL;
  if (!pg_names_link_write (names->fd, op, args, deadline, &link_error)
      || !pg_names_link_read (names->fd, &code, &strings, deadline, &link_error))
    {
      give_up (names, link_error->message);
      g_propagate_prefixed_error (error, g_steal_pointer (&link_error), "the names process: ");
      return NULL;
    }
  if (code == PG_NAMES_OK)
    return strings;
  if (code == PG_NAMES_ERROR && strings[0] != NULL)
    g_set_error_literal (
        error, PG_PURPLE_ERROR,
        op == PG_NAMES_SETTING ? PG_PURPLE_ERROR_BAD_SETTING : PG_PURPLE_ERROR_UNKNOWN_PROTOCOL, strings[0]);
  else
    {
      give_up (names, "it sent a frame that makes no sense");
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the names process made no sense");
    }
  g_strfreev (strings);
  return NULL;
}

/* ---- life cycle ---- */

static PgNames *
names_alloc (void)
{
  PgNames *names = g_new0 (PgNames, 1);
  names->fd = -1;
  names->call_ms = PG_NAMES_CALL_MS;
  names->fixed_restart_ms = pg_backend_get_fixed_restart_ms ();
  names->caches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)pg_name_cache_free);
  names->cancellable = g_cancellable_new ();
  return names;
}

PgNames *
pg_names_new_local (PgPurple *purple)
{
  g_return_val_if_fail (purple != NULL, NULL);
  PgNames *names = names_alloc ();
  names->purple = purple;
  return names;
}

/* Starts the process and waits for it to be ready, the first time. */
static gboolean
first_start (PgNames *names, GError **error)
{
  if (!start (names, error))
    return FALSE;
  if (!read_hello (names, g_get_monotonic_time () + (gint64)PG_NAMES_START_MS * 1000, error))
    {
      g_prefix_error (error, "the names process did not start: ");
      return FALSE;
    }
  return TRUE;
}

PgNames *
pg_names_new_process (const char *purple_dir, const char *const *private_paths, GError **error)
{
  g_return_val_if_fail (purple_dir != NULL, NULL);
  g_autoptr (PgNames) names = names_alloc ();
  names->exe = g_file_read_link ("/proc/self/exe", error);
  if (names->exe == NULL)
    return NULL;
  names->dir = g_build_filename (purple_dir, "names", NULL);
  names->plugin_dir = g_build_filename (purple_dir, "plugins", NULL);
  names->private_paths = g_strdupv ((char **)private_paths);
  if (!first_start (names, error))
    return NULL;
  g_message ("the names process started (pid %d)", names->pid);
  return g_steal_pointer (&names);
}

PgNames *
pg_names_new_with_spawn (PgNamesSpawnFunc spawn, gpointer data, guint call_ms, GError **error)
{
  g_return_val_if_fail (spawn != NULL, NULL);
  g_autoptr (PgNames) names = names_alloc ();
  names->spawn = spawn;
  names->spawn_data = data;
  names->call_ms = call_ms;
  if (!first_start (names, error))
    return NULL;
  return g_steal_pointer (&names);
}

void
pg_names_free (PgNames *names)
{
  if (names == NULL)
    return;
  g_clear_handle_id (&names->hello_id, g_source_remove);
  g_clear_handle_id (&names->timeout_id, g_source_remove);
  g_clear_handle_id (&names->restart_id, g_source_remove);
  /* The end of its link ends the process; the main loop may no longer
   * run: look without reaping (GLib's child watch does that). */
  if (names->fd >= 0)
    close (names->fd);
  if (names->process != NULL)
    {
      gint64 deadline = g_get_monotonic_time () + STOP_GRACE_MS * 1000;
      siginfo_t info = { 0 };
      while (g_get_monotonic_time () < deadline
             && waitid (P_PID, (id_t)names->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0)
        g_usleep (5000);
      if (info.si_pid == 0)
        g_subprocess_force_exit (names->process);
      g_clear_object (&names->process);
    }
  g_cancellable_cancel (names->cancellable);
  g_clear_object (&names->cancellable);
  g_hash_table_unref (names->caches);
  g_free (names->exe);
  g_free (names->dir);
  g_free (names->plugin_dir);
  g_strfreev (names->private_paths);
  g_free (names);
}

/* ---- protocol facts ---- */

gboolean
pg_names_check_protocol (PgNames *names, const char *protocol_id, GError **error)
{
  if (names->purple != NULL)
    return pg_purple_check_protocol (names->purple, protocol_id, error);
  const char *const args[] = { protocol_id, NULL };
  g_auto (GStrv) answer = call (names, PG_NAMES_PROTOCOL, args, error);
  return answer != NULL;
}

gboolean
pg_names_check_plugin (PgNames *names, const char *plugin_id, GError **error)
{
  if (names->purple != NULL)
    return pg_purple_check_plugin (names->purple, plugin_id, error);
  const char *const args[] = { plugin_id, NULL };
  g_auto (GStrv) answer = call (names, PG_NAMES_PLUGIN, args, error);
  return answer != NULL;
}

char *
pg_names_dup_protocol_name (PgNames *names, const char *protocol_id)
{
  if (names->purple != NULL)
    return pg_purple_dup_protocol_name (names->purple, protocol_id);
  const char *const args[] = { protocol_id, NULL };
  g_auto (GStrv) answer = call (names, PG_NAMES_PROTOCOL, args, NULL);
  return answer != NULL && g_strv_length (answer) == 2 ? g_strdup (answer[0]) : NULL;
}

gboolean
pg_names_protocol_password_optional (PgNames *names, const char *protocol_id)
{
  if (names->purple != NULL)
    return pg_purple_protocol_password_optional (names->purple, protocol_id);
  const char *const args[] = { protocol_id, NULL };
  g_auto (GStrv) answer = call (names, PG_NAMES_PROTOCOL, args, NULL);
  return answer != NULL && g_strv_length (answer) == 2 && g_strcmp0 (answer[1], "1") == 0;
}

gboolean
pg_names_check_setting (PgNames *names, const char *protocol_id, const char *key, const char *value,
                        GError **error)
{
  if (names->purple != NULL)
    return pg_purple_check_setting (names->purple, protocol_id, key, value, error);
  const char *const args[] = { protocol_id, key, value, NULL };
  g_auto (GStrv) answer = call (names, PG_NAMES_SETTING, args, error);
  return answer != NULL;
}

GPtrArray *
pg_names_dup_options (PgNames *names, const char *protocol_id, GError **error)
{
  if (names->purple != NULL)
    return pg_purple_dup_options (names->purple, protocol_id, error);
  const char *const args[] = { protocol_id, NULL };
  g_auto (GStrv) answer = call (names, PG_NAMES_OPTIONS, args, error);
  if (answer == NULL)
    return NULL;
  guint n = g_strv_length (answer);
  if (n % PG_LEGACY_OPTION_STRINGS != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the names process sent a broken option list");
      return NULL;
    }
  g_autoptr (GPtrArray) options = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_legacy_option_free);
  for (guint i = 0; i < n; i += PG_LEGACY_OPTION_STRINGS)
    {
      PgLegacyOption *option = pg_legacy_option_from_strings ((const char *const *)answer + i, error);
      if (option == NULL)
        return NULL;
      g_ptr_array_add (options, option);
    }
  return g_steal_pointer (&options);
}

/* ---- names ---- */

static PgNameCache *
get_cache (PgNames *names, const char *kind, const char *protocol_id)
{
  g_autofree char *key = g_strconcat (kind, protocol_id, NULL);
  PgNameCache *cache = g_hash_table_lookup (names->caches, key);
  if (cache == NULL)
    {
      cache = pg_name_cache_new (PG_NAMES_CACHE_SIZE);
      g_hash_table_insert (names->caches, g_steal_pointer (&key), cache);
    }
  return cache;
}

/* @name as the names process maps it with @op, cached; NULL when it
 * cannot say now. */
static char *
ask (PgNames *names, guint32 op, const char *kind, const char *protocol_id, const char *name)
{
  PgNameCache *cache = get_cache (names, kind, protocol_id);
  const char *cached = pg_name_cache_lookup (cache, name);
  if (cached != NULL)
    return g_strdup (cached);
  const char *const args[] = { protocol_id, name, NULL };
  g_auto (GStrv) answer = call (names, op, args, NULL);
  if (answer == NULL || g_strv_length (answer) != 1)
    {
      names->stats.fallbacks++;
      return NULL;
    }
  pg_name_cache_insert (cache, name, answer[0]);
  return g_strdup (answer[0]);
}

char *
pg_names_normalize (PgNames *names, const char *protocol_id, const char *name)
{
  g_return_val_if_fail (names != NULL && protocol_id != NULL && name != NULL, NULL);
  if (names->purple != NULL)
    return pg_purple_normalize_name (names->purple, protocol_id, name);
  char *normalized = ask (names, PG_NAMES_NORMALIZE, "n", protocol_id, name);
  return normalized != NULL ? normalized : g_strdup (name);
}

char *
pg_names_dup_login_key (PgNames *names, const char *protocol_id, const char *username)
{
  g_return_val_if_fail (names != NULL && protocol_id != NULL && username != NULL, NULL);
  if (names->purple != NULL)
    return pg_purple_dup_login_key (names->purple, protocol_id, username);
  char *key = ask (names, PG_NAMES_LOGIN_KEY, "k", protocol_id, username);
  return key != NULL ? key : g_strconcat (protocol_id, "\n", username, NULL);
}

PgNamesStats
pg_names_get_stats (PgNames *names)
{
  PgNamesStats stats = names->stats;
  stats.pid = names->state == STATE_READY ? names->pid : 0;
  stats.cached = 0;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, names->caches);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    stats.cached += pg_name_cache_size (value);
  return stats;
}
