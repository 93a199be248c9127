/* legacy/purple-core.c — libpurple initialised once, quietly, for a daemon.
 *
 * What keeps libpurple quiet and credentials off disk:
 *  - prefs.xml is written before purple_core_init(), which reads it while
 *    subsystems start (network init would otherwise start UPnP discovery),
 *    and the same prefs are set again afterwards in case the file was bad.
 *    Sounds need no pref: without PurpleSoundUiOps libpurple plays none.
 *  - blist.xml: libpurple saves the buddy list only after purple_blist_load();
 *    purplegate creates an empty list and never loads it (its store owns
 *    contacts).
 *  - accounts.xml would hold usernames, settings and, for accounts that
 *    "remember" it, the password; libpurple 2.14 has no switch to stop
 *    saving it.  purplegate occupies "accounts.xml.save" with a directory:
 *    purple_util_write_data_to_file() always writes that temporary file
 *    first and then renames it, so every save fails (logged at debug level)
 *    and accounts.xml never exists, whatever an account remembers.  A stale
 *    accounts.xml is removed before init, so libpurple loads no accounts.
 *  - libpurple's D-Bus server would publish its whole API, passwords
 *    included, on the session bus; see keep_off_session_bus(). */
#define G_LOG_DOMAIN "pg-purple-core"
#include "build-config.h"

#include "legacy/purple-core.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <purple.h>
#include <string.h>

#include "legacy/account-private.h"
#include "legacy/purple-debug.h"
#include "legacy/purple-eventloop.h"
#include "transport/legacy-option.h"

#define UI_ID "purplegate"

struct PgPurple
{
  char *user_dir;
  GHashTable *ui_info; /* static strings, for purple_core_get_ui_info() */
  GHashTable *logins;  /* login key → PgPurpleAccount, both borrowed; account.c keeps it */
  PgPurpleActivityFunc activity_func;
  gpointer activity_data;
  gpointer active; /* pg_purple_activity_get() */
  PgPurpleSocketFunc socket_func;
  gpointer socket_data;
};

/* libpurple keeps all of its state in process globals and cannot be
 * initialised twice, so there is at most one PgPurple.  This pointer marks
 * it; the core UI ops take no user data, so get_ui_info() reads it too. */
static PgPurple *instance;

typedef struct
{
  const char *path;
  PurplePrefType type; /* PURPLE_PREF_BOOLEAN or PURPLE_PREF_STRING */
  const char *value;   /* "0"/"1" for booleans */
} QuietPref;

static const QuietPref quiet_prefs[] = {
  { "/purple/network/map_ports", PURPLE_PREF_BOOLEAN, "0" }, /* no UPnP, NAT-PMP */
  { "/purple/network/auto_ip", PURPLE_PREF_BOOLEAN, "0" },   /* no public-IP lookup */
  { "/purple/network/stun_server", PURPLE_PREF_STRING, "" },
  { "/purple/network/turn_server", PURPLE_PREF_STRING, "" },
  { "/purple/away/away_when_idle", PURPLE_PREF_BOOLEAN, "0" },
  { "/purple/away/idle_reporting", PURPLE_PREF_STRING, "none" },
  { "/purple/away/auto_reply", PURPLE_PREF_STRING, "never" },
  { "/purple/logging/log_ims", PURPLE_PREF_BOOLEAN, "0" },
  { "/purple/logging/log_chats", PURPLE_PREF_BOOLEAN, "0" },
  { "/purple/logging/log_system", PURPLE_PREF_BOOLEAN, "0" },
};

/* Files that must never be written; see the comment at the top. */
static const char *const unsaved_files[] = { "accounts.xml", "blist.xml" };

G_DEFINE_QUARK (pg - purple - error - quark, pg_purple_error)

static gboolean
set_errno_error (GError **error, const char *what, const char *path, int saved_errno)
{
  g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_INIT, "%s %s: %s", what, path,
               g_strerror (saved_errno));
  return FALSE;
}

/* Removes a stale @name (libpurple would load it) and blocks its saving. */
static gboolean
block_saving (const char *dir, const char *name, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *guard = g_strconcat (path, ".save", NULL);

  if (g_unlink (path) != 0 && errno != ENOENT)
    return set_errno_error (error, "cannot remove", path, errno);
  if (g_file_test (guard, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (g_unlink (guard) != 0 && errno != ENOENT)
    return set_errno_error (error, "cannot remove", guard, errno);
  if (g_mkdir (guard, 0700) != 0)
    return set_errno_error (error, "cannot create", guard, errno);
  return TRUE;
}

static gboolean
prepare_user_dir (const char *dir, GError **error)
{
  GStatBuf st;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    return set_errno_error (error, "cannot create", dir, errno);
  if (g_stat (dir, &st) != 0)
    return set_errno_error (error, "cannot stat", dir, errno);
  if (!S_ISDIR (st.st_mode))
    return set_errno_error (error, "not a directory:", dir, ENOTDIR);
  if ((st.st_mode & 0077) != 0 && g_chmod (dir, 0700) != 0)
    return set_errno_error (error, "cannot make private", dir, errno);
  for (size_t i = 0; i < G_N_ELEMENTS (unsaved_files); i++)
    if (!block_saving (dir, unsaved_files[i], error))
      return FALSE;
  return TRUE;
}

/* prefs.xml as libpurple 2.14 writes it: nested <pref name=…> elements
 * under <pref version='1' name='/'>, leaves with type and value. */
static char *
quiet_prefs_to_xml (void)
{
  GString *xml = g_string_new ("<?xml version='1.0' encoding='UTF-8' ?>\n\n"
                               "<pref version='1' name='/'>\n");
  g_auto (GStrv) open = NULL; /* path components of the open elements */
  guint depth = 0;

  for (size_t i = 0; i < G_N_ELEMENTS (quiet_prefs); i++)
    {
      const QuietPref *pref = &quiet_prefs[i];
      g_auto (GStrv) parts = g_strsplit (pref->path + 1, "/", -1);
      guint parents = g_strv_length (parts) - 1;
      guint common = 0;
      g_autofree char *leaf = NULL;

      while (common < depth && common < parents && strcmp (open[common], parts[common]) == 0)
        common++;
      for (; depth > common; depth--)
        g_string_append_printf (xml, "%*s</pref>\n", (int)depth * 2, "");
      for (; depth < parents; depth++)
        {
          g_autofree char *elem = g_markup_printf_escaped ("<pref name='%s'>", parts[depth]);
          g_string_append_printf (xml, "%*s%s\n", (int)(depth + 1) * 2, "", elem);
        }
      leaf = g_markup_printf_escaped ("<pref name='%s' type='%s' value='%s'/>", parts[parents],
                                      pref->type == PURPLE_PREF_BOOLEAN ? "bool" : "string", pref->value);
      g_string_append_printf (xml, "%*s%s\n", (int)(depth + 1) * 2, "", leaf);
      g_strfreev (open);
      open = g_steal_pointer (&parts);
    }
  for (; depth > 0; depth--)
    g_string_append_printf (xml, "%*s</pref>\n", (int)depth * 2, "");
  g_string_append (xml, "</pref>\n");
  return g_string_free (xml, FALSE);
}

static gboolean
write_prefs (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, "prefs.xml", NULL);
  g_autofree char *xml = quiet_prefs_to_xml ();

  if (!g_file_set_contents_full (path, xml, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    {
      g_prefix_error (error, "cannot write libpurple prefs: ");
      return FALSE;
    }
  return TRUE;
}

static void
apply_quiet_prefs (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (quiet_prefs); i++)
    {
      const QuietPref *pref = &quiet_prefs[i];

      if (pref->type == PURPLE_PREF_BOOLEAN)
        purple_prefs_set_bool (pref->path, strcmp (pref->value, "1") == 0);
      else
        purple_prefs_set_string (pref->path, pref->value);
    }
}

/* libpurple 2.14 links libdbus and, inside purple_core_init(), exports its
 * API (PurpleAccountGetPassword among it) as im.pidgin.purple.PurpleService
 * on the session bus if it finds one, to every process of the user.  A
 * daemon has no business there, so the bus addresses are made unusable
 * before init.  purplegate itself uses no D-Bus. */
static void
keep_off_session_bus (void)
{
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "disabled:", TRUE);
  g_unsetenv ("DBUS_STARTER_ADDRESS");
  g_unsetenv ("DBUS_STARTER_BUS_TYPE");
}

/* libpurple files every object it creates -- account, presence, each
 * status and status attribute, connection, buddy -- in three process-wide
 * hash tables that give its D-Bus API numeric ids for them: about 35
 * objects, 0.8 KiB and 10,000 instructions per login.  The ids are read
 * only by that D-Bus API, which keep_off_session_bus() keeps from ever
 * connecting (libpurple emits nothing on D-Bus without a connection).
 * libpurple calls these two through its PLT, so the definitions in
 * purplegate's executable take their place (ELF symbol interposition) and
 * the registry stays empty.  With a libpurple built without D-Bus they are
 * simply never called.  The type stays opaque: its header needs libdbus. */
struct _PurpleDBusType;
void purple_dbus_register_pointer (gpointer node, struct _PurpleDBusType *type);
void purple_dbus_unregister_pointer (gpointer node);

void
purple_dbus_register_pointer (gpointer node, struct _PurpleDBusType *type)
{
  (void)node, (void)type;
}

void
purple_dbus_unregister_pointer (gpointer node)
{
  (void)node;
}

static GHashTable *
get_ui_info (void)
{
  return instance != NULL ? instance->ui_info : NULL;
}

static PurpleCoreUiOps core_ops = {
  .get_ui_info = get_ui_info,
};

PgPurple *
pg_purple_new (const char *user_dir, GError **error)
{
  return pg_purple_new_with_plugins (user_dir, NULL, error);
}

PgPurple *
pg_purple_new_with_plugins (const char *user_dir, const char *plugin_dir, GError **error)
{
  PgPurple *purple;

  g_return_val_if_fail (user_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (instance != NULL)
    {
      g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_INIT,
                   "libpurple is already initialised in this process (user directory %s)",
                   instance->user_dir);
      return NULL;
    }
  if (!prepare_user_dir (user_dir, error) || !write_prefs (user_dir, error))
    return NULL;
  if (!pg_purple_eventloop_init (error))
    return NULL;

  purple = g_new0 (PgPurple, 1);
  purple->user_dir = g_strdup (user_dir);
  purple->ui_info = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (purple->ui_info, (char *)"name", (char *)UI_ID);
  g_hash_table_insert (purple->ui_info, (char *)"version", (char *)PACKAGE_VERSION);
  purple->logins = g_hash_table_new (g_str_hash, g_str_equal);
  instance = purple;

  keep_off_session_bus ();
  purple_util_set_user_dir (user_dir);
  /* libpurple's core probes only its own library directory; the plugins
   * folder of the user directory (searched first) holds protocols installed
   * for this instance alone, as Pidgin's ~/.purple/plugins does. A worker
   * is given the main process's folder. */
  g_autofree char *plugins_dir = g_build_filename (user_dir, "plugins", NULL);
  purple_plugins_add_search_path (plugin_dir != NULL && *plugin_dir != '\0' ? plugin_dir : plugins_dir);
  purple_debug_set_enabled (FALSE); /* else libpurple also prints to stdout */
  purple_debug_set_ui_ops (pg_purple_debug_get_ui_ops ());
  purple_eventloop_set_ui_ops (pg_purple_eventloop_get_ui_ops ());
  purple_core_set_ui_ops (&core_ops);
  if (!purple_core_init (UI_ID))
    {
      g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_INIT, "purple_core_init() failed");
      instance = NULL;
      pg_purple_eventloop_shutdown ();
      g_hash_table_unref (purple->ui_info);
      g_hash_table_unref (purple->logins);
      g_free (purple->user_dir);
      g_free (purple);
      return NULL;
    }
  purple_debug_set_unsafe (FALSE); /* PURPLE_UNSAFE_DEBUG logs passwords */
  apply_quiet_prefs ();
  purple_set_blist (purple_blist_new ()); /* never loaded, so never saved */
  pg_purple_account_install_ui_ops (purple);
  g_info ("libpurple %s initialised in %s", purple_core_get_version (), user_dir);
  return purple;
}

void
pg_purple_free (PgPurple *purple)
{
  if (purple == NULL)
    return;
  g_return_if_fail (purple == instance);

  purple_core_quit ();
  pg_purple_eventloop_shutdown (); /* with what libpurple left behind */
  instance = NULL;
  g_hash_table_unref (purple->ui_info);
  g_hash_table_unref (purple->logins);
  g_free (purple->user_dir);
  g_free (purple);
}

static char *
dup_protocol_ids (void)
{
  GString *ids = g_string_new (NULL);

  for (GList *l = purple_plugins_get_protocols (); l != NULL; l = l->next)
    {
      PurplePlugin *plugin = l->data;

      if (plugin->info == NULL || plugin->info->id == NULL)
        continue;
      g_string_append_printf (ids, "%s%s", ids->len > 0 ? ", " : "", plugin->info->id);
    }
  return g_string_free (ids, FALSE);
}

GHashTable *
pg_purple_get_logins (PgPurple *purple)
{
  return purple->logins;
}

gboolean
pg_purple_check_protocol (PgPurple *purple, const char *protocol_id, GError **error)
{
  g_autofree char *ids = NULL;

  g_return_val_if_fail (purple != NULL && protocol_id != NULL, FALSE);

  if (purple_find_prpl (protocol_id) != NULL)
    return TRUE;
  ids = dup_protocol_ids ();
  g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_UNKNOWN_PROTOCOL,
               "no libpurple protocol \"%s\"; available: %s", protocol_id, ids);
  return FALSE;
}

static char *
dup_plugin_ids (void)
{
  GString *ids = g_string_new (NULL);

  for (GList *l = purple_plugins_get_all (); l != NULL; l = l->next)
    {
      PurplePlugin *plugin = l->data;

      if (plugin->info == NULL || plugin->info->id == NULL || plugin->info->type != PURPLE_PLUGIN_STANDARD)
        continue;
      g_string_append_printf (ids, "%s%s", ids->len > 0 ? ", " : "", plugin->info->id);
    }
  if (ids->len == 0)
    g_string_append (ids, "none");
  return g_string_free (ids, FALSE);
}

static PurplePlugin *
find_plugin (const char *plugin_id, GError **error)
{
  PurplePlugin *plugin = purple_plugins_find_with_id (plugin_id);

  if (plugin != NULL && plugin->info != NULL && plugin->info->type == PURPLE_PLUGIN_STANDARD)
    return plugin;
  g_autofree char *ids = dup_plugin_ids ();
  g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_UNKNOWN_PLUGIN,
               "no libpurple plugin \"%s\" is installed; available: %s", plugin_id, ids);
  return NULL;
}

gboolean
pg_purple_check_plugin (PgPurple *purple, const char *plugin_id, GError **error)
{
  g_return_val_if_fail (purple != NULL && plugin_id != NULL, FALSE);
  return find_plugin (plugin_id, error) != NULL;
}

gboolean
pg_purple_load_plugins (PgPurple *purple, const char *const *plugin_ids, GError **error)
{
  g_return_val_if_fail (purple != NULL, FALSE);

  for (guint i = 0; plugin_ids != NULL && plugin_ids[i] != NULL; i++)
    {
      PurplePlugin *plugin = find_plugin (plugin_ids[i], error);

      if (plugin == NULL)
        return FALSE;
      if (purple_plugin_is_loaded (plugin))
        continue;
      if (!purple_plugin_load (plugin))
        {
          g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_UNKNOWN_PLUGIN,
                       "the libpurple plugin \"%s\" did not load: %s", plugin_ids[i],
                       plugin->error != NULL ? plugin->error : "no reason given");
          return FALSE;
        }
      g_info ("libpurple plugin %s loaded", plugin_ids[i]);
    }
  return TRUE;
}

char *
pg_purple_dup_protocol_name (PgPurple *purple, const char *protocol_id)
{
  PurplePlugin *plugin;

  g_return_val_if_fail (purple != NULL && protocol_id != NULL, NULL);

  plugin = purple_find_prpl (protocol_id);
  if (plugin == NULL || plugin->info == NULL)
    return NULL;
  return g_strdup (plugin->info->name);
}

static gboolean
parse_bool (const char *value)
{
  static const char *const words[] = { "true", "false", "1", "0", "yes", "no" };

  for (size_t i = 0; i < G_N_ELEMENTS (words); i++)
    if (g_ascii_strcasecmp (value, words[i]) == 0)
      return TRUE;
  return FALSE;
}

/* Checks @value against @option's type.  Errors never quote the value: a
 * setting may be a secret. */
static gboolean
check_option_value (PurpleAccountOption *option, const char *protocol_id, const char *value, GError **error)
{
  const char *key = purple_account_option_get_setting (option);
  GString *values;

  switch (purple_account_option_get_type (option))
    {
    case PURPLE_PREF_BOOLEAN:
      if (parse_bool (value))
        return TRUE;
      g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_BAD_SETTING,
                   "setting \"%s\" of %s must be true, false, yes, no, 1 or 0", key, protocol_id);
      return FALSE;
    case PURPLE_PREF_INT:
      if (g_ascii_string_to_signed (value, 10, G_MININT, G_MAXINT, NULL, NULL))
        return TRUE;
      g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_BAD_SETTING,
                   "setting \"%s\" of %s must be an integer", key, protocol_id);
      return FALSE;
    case PURPLE_PREF_STRING_LIST:
      values = g_string_new (NULL);
      for (GList *l = purple_account_option_get_list (option); l != NULL; l = l->next)
        {
          PurpleKeyValuePair *pair = l->data;

          if (g_strcmp0 (pair->value, value) == 0)
            {
              g_string_free (values, TRUE);
              return TRUE;
            }
          g_string_append_printf (values, "%s%s", values->len > 0 ? ", " : "", (const char *)pair->value);
        }
      g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_BAD_SETTING,
                   "setting \"%s\" of %s must be one of: %s", key, protocol_id, values->str);
      g_string_free (values, TRUE);
      return FALSE;
    default:
      return TRUE; /* strings take anything */
    }
}

/* purplegate's own options of @protocol_id, which its glue applies (none of
 * the protocol's). */
static gboolean
is_own_option (const char *protocol_id, const char *key)
{
  return strcmp (protocol_id, "prpl-irc") == 0 && strcmp (key, PG_PURPLE_NICKSERV_PASSWORD) == 0;
}

static PgLegacyOption *
option_from_purple (PurpleAccountOption *option)
{
  const char *id = purple_account_option_get_setting (option);
  const char *label = purple_account_option_get_text (option);
  g_autofree char *default_value = NULL;
  g_autoptr (GStrvBuilder) values = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) labels = g_strv_builder_new ();
  PgLegacyOptionType type;

  switch (purple_account_option_get_type (option))
    {
    case PURPLE_PREF_BOOLEAN:
      type = PG_LEGACY_OPTION_BOOL;
      default_value = g_strdup (purple_account_option_get_default_bool (option) ? "true" : "false");
      break;
    case PURPLE_PREF_INT:
      type = PG_LEGACY_OPTION_INT;
      default_value = g_strdup_printf ("%d", purple_account_option_get_default_int (option));
      break;
    case PURPLE_PREF_STRING_LIST:
      type = PG_LEGACY_OPTION_LIST;
      default_value = g_strdup (purple_account_option_get_default_list_value (option));
      for (GList *l = purple_account_option_get_list (option); l != NULL; l = l->next)
        {
          PurpleKeyValuePair *pair = l->data;

          g_strv_builder_add (values, pair->value != NULL ? pair->value : "");
          g_strv_builder_add (labels, pair->key != NULL ? pair->key : "");
        }
      break;
    default:
      type = PG_LEGACY_OPTION_STRING;
      default_value = g_strdup (purple_account_option_get_default_string (option));
      break;
    }
  g_auto (GStrv) value_strv = g_strv_builder_end (values);
  g_auto (GStrv) label_strv = g_strv_builder_end (labels);
  return pg_legacy_option_new (id, label, type, default_value, (const char *const *)value_strv,
                               (const char *const *)label_strv,
                               type == PG_LEGACY_OPTION_STRING && purple_account_option_get_masked (option));
}

GPtrArray *
pg_purple_dup_options (PgPurple *purple, const char *protocol_id, GError **error)
{
  if (!pg_purple_check_protocol (purple, protocol_id, error))
    return NULL;
  GPtrArray *options = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_legacy_option_free);
  PurplePlugin *plugin = purple_find_prpl (protocol_id);
  for (GList *l = PURPLE_PLUGIN_PROTOCOL_INFO (plugin)->protocol_options; l != NULL; l = l->next)
    g_ptr_array_add (options, option_from_purple (l->data));
  /* The parts of the user name, in libpurple's order (the order of the
   * composed name). */
  for (GList *l = PURPLE_PLUGIN_PROTOCOL_INFO (plugin)->user_splits; l != NULL; l = l->next)
    {
      PurpleAccountUserSplit *split = l->data;
      if (purple_account_user_split_get_text (split) != NULL
          && purple_account_user_split_get_separator (split))
        g_ptr_array_add (options,
                         pg_legacy_option_new_split (purple_account_user_split_get_text (split),
                                                     purple_account_user_split_get_default_value (split),
                                                     purple_account_user_split_get_separator (split)));
    }
  if (strcmp (protocol_id, "prpl-irc") == 0)
    g_ptr_array_add (options, pg_legacy_option_new (PG_PURPLE_NICKSERV_PASSWORD, "NickServ password",
                                                    PG_LEGACY_OPTION_STRING, NULL, NULL, NULL, TRUE));
  return options;
}

gboolean
pg_purple_check_setting (PgPurple *purple, const char *protocol_id, const char *key, const char *value,
                         GError **error)
{
  PurplePlugin *plugin;
  GList *options;
  g_autoptr (GString) names = NULL;

  g_return_val_if_fail (key != NULL && value != NULL, FALSE);
  if (!pg_purple_check_protocol (purple, protocol_id, error))
    return FALSE;

  if (is_own_option (protocol_id, key))
    return TRUE;
  plugin = purple_find_prpl (protocol_id);
  options = PURPLE_PLUGIN_PROTOCOL_INFO (plugin)->protocol_options;
  for (GList *l = options; l != NULL; l = l->next)
    {
      PurpleAccountOption *option = l->data;

      if (g_strcmp0 (purple_account_option_get_setting (option), key) == 0)
        return check_option_value (option, protocol_id, value, error);
    }
  /* Every login checks its settings again: the list of valid names is
   * built only for the error. */
  names = g_string_new (NULL);
  for (GList *l = options; l != NULL; l = l->next)
    g_string_append_printf (names, "%s%s", names->len > 0 ? ", " : "",
                            purple_account_option_get_setting (l->data));
  g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_BAD_SETTING,
               "%s has no setting \"%s\"; valid settings: %s", protocol_id, key,
               names->len > 0 ? names->str : "(none)");
  return FALSE;
}

gboolean
pg_purple_protocol_password_optional (PgPurple *purple, const char *protocol_id)
{
  PurplePlugin *plugin = purple_find_prpl (protocol_id);
  if (plugin == NULL)
    return FALSE;
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (plugin);
  return (info->options & (OPT_PROTO_NO_PASSWORD | OPT_PROTO_PASSWORD_OPTIONAL)) != 0;
}

void
pg_purple_set_activity_func (PgPurple *purple, PgPurpleActivityFunc func, gpointer data)
{
  purple->activity_func = func;
  purple->activity_data = data;
}

gpointer
pg_purple_activity_get (void)
{
  return instance != NULL ? instance->active : NULL;
}

gpointer
pg_purple_activity_enter (gpointer owner)
{
  if (instance == NULL)
    return NULL;
  gpointer previous = instance->active;
  if (owner != previous)
    {
      instance->active = owner;
      if (instance->activity_func != NULL)
        instance->activity_func (owner, instance->activity_data);
    }
  return previous;
}

void
pg_purple_activity_leave (gpointer previous)
{
  pg_purple_activity_enter (previous);
}

void
pg_purple_set_socket_func (PgPurple *purple, PgPurpleSocketFunc func, gpointer data)
{
  purple->socket_func = func;
  purple->socket_data = data;
}

void
pg_purple_socket_watched (gpointer owner, int fd)
{
  if (instance != NULL && instance->socket_func != NULL && owner != NULL)
    instance->socket_func (owner, fd, instance->socket_data);
}
