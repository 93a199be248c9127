/* daemon/main.c — command line, logging, and the process life cycle. */
#define G_LOG_DOMAIN "purplegate"
#include "build-config.h"

#include "daemon/daemon.h"
#include "legacy/purple-core.h"
#include "transport/config.h"
#include "transport/i18n.h"
#include "transport/legacy-option.h"
#include "legacy/backend.h"
#include "legacy/names.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <unistd.h>

typedef struct
{
  PgLogLevel level;
  const char *process; /* "" in the main process, "worker PID " in a worker */
} LogSettings;

/* Workers log at the main process's level. */
#define WORKER_LOG_LEVEL_ENV "PURPLEGATE_WORKER_LOG_LEVEL"

static PgLogLevel
level_of (GLogLevelFlags flags)
{
  if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return PG_LOG_ERROR;
  if (flags & G_LOG_LEVEL_WARNING)
    return PG_LOG_WARNING;
  if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
    return PG_LOG_INFO;
  return PG_LOG_DEBUG;
}

static const char *
level_name (GLogLevelFlags flags)
{
  static const char *const names[] = { "error", "warning", "info", "debug" };
  return names[level_of (flags)];
}

/* One line per event on stderr: time, level, domain, message. */
static GLogWriterOutput
write_log (GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer data)
{
  const LogSettings *settings = data;
  if (level_of (flags) > settings->level)
    return G_LOG_WRITER_HANDLED;
  const char *domain = NULL, *message = NULL;
  for (gsize i = 0; i < n_fields; i++)
    {
      if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (strcmp (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }
  /* Debug output of the libraries underneath (GIO, dconf…) is noise to an
   * operator; purplegate's own domains all start with "pg". */
  if (level_of (flags) == PG_LOG_DEBUG && domain != NULL && !g_str_has_prefix (domain, "pg"))
    return G_LOG_WRITER_HANDLED;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  fprintf (stderr, "%s %s %s%s: %s\n", stamp, level_name (flags), settings->process,
           domain ? domain : "purplegate", message ? message : "");
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static int
check_config (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PgConfig) config = pg_config_load (path, &error);
  if (config == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  /* libpurple knows the protocols and their options; a throw-away directory
   * keeps the check from touching the real state. */
  g_autofree char *scratch = g_dir_make_tmp ("purplegate-check-XXXXXX", &error);
  if (scratch == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  g_autofree char *purple_dir = g_build_filename (scratch, "purple", NULL);
  g_autoptr (PgPurple) purple = pg_purple_new (purple_dir, &error);
  gboolean ok = purple != NULL && pg_purple_check_protocol (purple, config->protocol, &error);
  if (!ok && error != NULL && purple != NULL)
    g_prefix_error (&error, "%s: [legacy] protocol: ", path);
  for (guint i = 0; ok && config->legacy_setting_keys[i] != NULL; i++)
    {
      ok = pg_purple_check_setting (purple, config->protocol, config->legacy_setting_keys[i],
                                    config->legacy_setting_values[i], &error);
      if (!ok)
        g_prefix_error (&error, "%s: [legacy-settings] %s: ", path, config->legacy_setting_keys[i]);
    }
  for (guint i = 0; ok && config->legacy_plugins[i] != NULL; i++)
    {
      ok = pg_purple_check_plugin (purple, config->legacy_plugins[i], &error);
      if (!ok)
        g_prefix_error (&error, "%s: [legacy] plugins: ", path);
    }
  if (ok)
    {
      g_autoptr (GPtrArray) options = pg_purple_dup_options (purple, config->protocol, &error);
      ok = options != NULL
           && pg_legacy_option_check_ids (options, (const char *const *)config->user_options,
                                          config->protocol, &error)
           && pg_legacy_option_check_suffix (options, (const char *const *)config->user_options,
                                             config->username_suffix, config->protocol, &error);
      if (!ok)
        g_prefix_error (&error, "%s: [registration] user_options: ", path);
    }
  g_clear_pointer (&purple, pg_purple_free);
  remove_tree (scratch);
  if (!ok)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  printf ("%s: configuration OK\n", path);
  return 0;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  /* A closed legacy socket must be an error return, not a dead process. */
  signal (SIGPIPE, SIG_IGN);
  /* Past RLIMIT_FSIZE a write must fail with EFBIG (sqlite reports it and
   * the store answers internal-server-error), not kill every session. */
  signal (SIGXFSZ, SIG_IGN);

  static LogSettings log_settings = { PG_LOG_INFO, "" };
  /* The names process (legacy/names.h): fd 3 is its link, then its
   * directory, the plugins' directory and the paths it must not read. */
  if (argc >= 4 && strcmp (argv[1], "--names-worker") == 0)
    {
      const char *level = g_getenv (WORKER_LOG_LEVEL_ENV);
      if (level != NULL)
        pg_config_parse_log_level (level, &log_settings.level);
      static char process[32];
      g_snprintf (process, sizeof process, "names %d ", (int)getpid ());
      log_settings.process = process;
      g_log_set_writer_func (write_log, &log_settings, NULL);
      return pg_names_worker_main (3, argv[2], argv[3], (const char *const *)argv + 4);
    }
  /* A worker (legacy/backend.h): fd 3 is its link, then its directory,
   * the plugins' directory and the paths it must not read. */
  if (argc >= 4 && strcmp (argv[1], "--worker") == 0)
    {
      const char *level = g_getenv (WORKER_LOG_LEVEL_ENV);
      if (level != NULL)
        pg_config_parse_log_level (level, &log_settings.level);
      static char process[32];
      g_snprintf (process, sizeof process, "worker %d ", (int)getpid ());
      log_settings.process = process;
      g_log_set_writer_func (write_log, &log_settings, NULL);
      return pg_worker_main (3, argv[2], argv[3], (const char *const *)argv + 4);
    }

  g_autofree char *config_path = NULL;
  g_autofree char *log_level = NULL;
  gboolean show_version = FALSE, only_check = FALSE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &only_check, "Validate the configuration and exit", NULL },
    { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
      "error, warning, info or debug (overrides [log] level)", "LEVEL" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                "An XMPP gateway (XEP-0100 transport) to legacy networks through libpurple.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }
  if (show_version)
    {
      printf ("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
      return 0;
    }
  if (config_path == NULL)
    {
      fprintf (stderr, "%s: --config FILE is required (see --help)\n", g_get_prgname ());
      return 2;
    }

  if (log_level != NULL && !pg_config_parse_log_level (log_level, &log_settings.level))
    {
      fprintf (stderr, "--log-level: '%s' is not one of error, warning, info, debug\n", log_level);
      return 2;
    }
  g_log_set_writer_func (write_log, &log_settings, NULL);

  if (only_check)
    return check_config (config_path);

  PgConfig *config = pg_config_load (config_path, &error);
  if (config == NULL)
    {
      g_critical ("%s", error->message);
      return 1;
    }
  if (log_level == NULL)
    log_settings.level = config->log_level;
  static const char *const level_names[] = { "error", "warning", "info", "debug" };
  g_setenv (WORKER_LOG_LEVEL_ENV, level_names[log_settings.level], TRUE);

  g_autoptr (PgTransport) transport = pg_daemon_new (config, &error);
  if (transport == NULL)
    {
      g_critical ("cannot start: %s", error->message);
      return 1;
    }
  return pg_daemon_run (transport);
}
