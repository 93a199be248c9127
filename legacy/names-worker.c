/* legacy/names-worker.c — the names process (legacy/names.h): libpurple
 * with every protocol plugin and no login, answering the main process's
 * questions about protocols and names, one at a time.
 *
 * It is started fresh (exec) as the workers are, with nothing but its
 * socket, its own libpurple user directory and the plugins' directory, and
 * restricts itself as they do (legacy/sandbox.h) before libpurple starts.
 * It needs no main loop: between two questions nothing of libpurple's
 * runs. */
#define G_LOG_DOMAIN "pg-names"
#include "build-config.h"

#include "legacy/names.h"

#include "legacy/names-link.h"
#include "legacy/purple-account.h"
#include "legacy/sandbox.h"
#include "transport/legacy-option.h"

#include <gio/gio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The answer to one request: its code and strings (set by the caller). */
static guint32
answer (PgPurple *purple, guint32 op, char **args, GPtrArray *out)
{
  g_autoptr (GError) error = NULL;
  guint n = g_strv_length (args);
  switch (op)
    {
    case PG_NAMES_NORMALIZE:
      if (n != 2)
        break;
      g_ptr_array_add (out, pg_purple_normalize_name (purple, args[0], args[1]));
      return PG_NAMES_OK;
    case PG_NAMES_LOGIN_KEY:
      if (n != 2)
        break;
      g_ptr_array_add (out, pg_purple_dup_login_key (purple, args[0], args[1]));
      return PG_NAMES_OK;
    case PG_NAMES_PROTOCOL:
      if (n != 1)
        break;
      if (!pg_purple_check_protocol (purple, args[0], &error))
        {
          g_ptr_array_add (out, g_strdup (error->message));
          return PG_NAMES_ERROR;
        }
      g_ptr_array_add (out, pg_purple_dup_protocol_name (purple, args[0]));
      g_ptr_array_add (out, g_strdup (pg_purple_protocol_password_optional (purple, args[0]) ? "1" : "0"));
      return PG_NAMES_OK;
    case PG_NAMES_SETTING:
      if (n != 3)
        break;
      if (pg_purple_check_setting (purple, args[0], args[1], args[2], &error))
        return PG_NAMES_OK;
      g_ptr_array_add (out, g_strdup (error->message));
      return PG_NAMES_ERROR;
    case PG_NAMES_PLUGIN:
      if (n != 1)
        break;
      if (pg_purple_check_plugin (purple, args[0], &error))
        return PG_NAMES_OK;
      g_ptr_array_add (out, g_strdup (error->message));
      return PG_NAMES_ERROR;
    case PG_NAMES_OPTIONS:
      {
        if (n != 1)
          break;
        g_autoptr (GPtrArray) options = pg_purple_dup_options (purple, args[0], &error);
        if (options == NULL)
          {
            g_ptr_array_add (out, g_strdup (error->message));
            return PG_NAMES_ERROR;
          }
        for (guint i = 0; i < options->len; i++)
          pg_legacy_option_to_strings (g_ptr_array_index (options, i), out);
        return PG_NAMES_OK;
      }
    default:
      break;
    }
  g_ptr_array_add (out, g_strdup ("a request that makes no sense"));
  return PG_NAMES_ERROR;
}

int
pg_names_worker_main (int fd, const char *purple_dir, const char *plugin_dir,
                      const char *const *private_paths)
{
  g_autoptr (GError) error = NULL;
  /* The main process ends us by closing the link. */
  if (!pg_sandbox_enter_child ())
    return 1;
  pg_sandbox_restrict (purple_dir, plugin_dir, private_paths);
  g_autoptr (PgPurple) purple = pg_purple_new_with_plugins (purple_dir, plugin_dir, &error);
  if (purple == NULL)
    {
      g_critical ("cannot start libpurple in the names process: %s", error->message);
      return 1;
    }
  g_autofree char *version = g_strdup_printf ("%u", (guint)PG_NAMES_LINK_VERSION);
  g_autofree char *pid = g_strdup_printf ("%d", (int)getpid ());
  const char *const hello[] = { version, pid, NULL };
  if (!pg_names_link_write (fd, PG_NAMES_HELLO, hello, -1, &error))
    {
      g_message ("the link to the main process ended (%s)", error->message);
      return 0;
    }
  for (;;)
    {
      guint32 op;
      g_auto (GStrv) args = NULL;
      if (!pg_names_link_read (fd, &op, &args, -1, &error))
        break;
      g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
      guint32 code = answer (purple, op, args, out);
      g_ptr_array_add (out, NULL);
      if (!pg_names_link_write (fd, code, (const char *const *)out->pdata, -1, &error))
        break;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    g_message ("the link to the main process ended (%s)", error->message);
  close (fd);
  return 0;
}
