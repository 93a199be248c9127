/* transport/config.c — loading and validating the INI file. */
#define G_LOG_DOMAIN "pg-config"
#include "build-config.h"

#include "transport/config.h"

#include "transport/jid.h"
#include "transport/xml-parser.h"

#include <string.h>

G_DEFINE_QUARK (pg - config - error - quark, pg_config_error)

typedef enum
{
  KEY_STRING,
  KEY_DOMAIN,
  KEY_PORT,
  KEY_SECONDS,
  KEY_BYTES,
  KEY_COUNT,    /* a number of messages */
  KEY_DURATION, /* seconds, up to days */
  KEY_JID_LIST,
  KEY_DOMAIN_LIST,
  KEY_LOG_LEVEL,
  KEY_WORKERS,      /* "auto" or a number of processes */
  KEY_CERTIFICATES, /* "ask" or "system" */
  KEY_NAME_LIST,    /* names separated by ',' or ';' (they may hold spaces) */
  KEY_STAY,         /* "off", "on" or "ask" */
} KeyType;

/* The contract of purplegate.conf(5); anything else in the file is an error. */
static const struct
{
  const char *group;
  const char *key;
  KeyType type;
  gboolean required;
  gsize offset;
} keys[] = {
  { "component", "jid", KEY_DOMAIN, TRUE, G_STRUCT_OFFSET (PgConfig, component_jid) },
  { "component", "host", KEY_STRING, FALSE, G_STRUCT_OFFSET (PgConfig, host) },
  { "component", "port", KEY_PORT, FALSE, G_STRUCT_OFFSET (PgConfig, port) },
  { "component", "secret", KEY_STRING, TRUE, G_STRUCT_OFFSET (PgConfig, secret) },
  { "legacy", "protocol", KEY_STRING, TRUE, G_STRUCT_OFFSET (PgConfig, protocol) },
  { "legacy", "name", KEY_STRING, FALSE, G_STRUCT_OFFSET (PgConfig, legacy_name) },
  { "legacy", "username_suffix", KEY_STRING, FALSE, G_STRUCT_OFFSET (PgConfig, username_suffix) },
  { "database", "path", KEY_STRING, FALSE, G_STRUCT_OFFSET (PgConfig, database_path) },
  { "database", "key_file", KEY_STRING, FALSE, G_STRUCT_OFFSET (PgConfig, key_file) },
  { "admin", "jids", KEY_JID_LIST, FALSE, G_STRUCT_OFFSET (PgConfig, admin_jids) },
  { "registration", "allowed_domains", KEY_DOMAIN_LIST, FALSE, G_STRUCT_OFFSET (PgConfig, allowed_domains) },
  { "registration", "verify_timeout_s", KEY_SECONDS, FALSE, G_STRUCT_OFFSET (PgConfig, verify_timeout_s) },
  { "limits", "max_stanza_bytes", KEY_BYTES, FALSE, G_STRUCT_OFFSET (PgConfig, max_stanza_bytes) },
  { "limits", "outbox_max_per_user", KEY_COUNT, FALSE, G_STRUCT_OFFSET (PgConfig, outbox_max_per_user) },
  { "limits", "outbox_expiry_s", KEY_DURATION, FALSE, G_STRUCT_OFFSET (PgConfig, outbox_expiry_s) },
  { "limits", "session_grace_s", KEY_DURATION, FALSE, G_STRUCT_OFFSET (PgConfig, session_grace_s) },
  { "groupchat", "history_messages", KEY_COUNT, FALSE, G_STRUCT_OFFSET (PgConfig, history_messages) },
  { "groupchat", "history_max_age_s", KEY_DURATION, FALSE, G_STRUCT_OFFSET (PgConfig, history_max_age_s) },
  { "groupchat", "join_timeout_s", KEY_SECONDS, FALSE, G_STRUCT_OFFSET (PgConfig, join_timeout_s) },
  { "workers", "count", KEY_WORKERS, FALSE, G_STRUCT_OFFSET (PgConfig, workers) },
  { "workers", "max_logins", KEY_COUNT, FALSE, G_STRUCT_OFFSET (PgConfig, max_logins_per_worker) },
  { "log", "level", KEY_LOG_LEVEL, FALSE, G_STRUCT_OFFSET (PgConfig, log_level) },
  { "legacy", "certificates", KEY_CERTIFICATES, FALSE, G_STRUCT_OFFSET (PgConfig, certificates) },
  { "registration", "question_timeout_s", KEY_SECONDS, FALSE,
    G_STRUCT_OFFSET (PgConfig, question_timeout_s) },
  { "registration", "user_options", KEY_NAME_LIST, FALSE, G_STRUCT_OFFSET (PgConfig, user_options) },
  { "registration", "stay_connected", KEY_STAY, FALSE, G_STRUCT_OFFSET (PgConfig, stay_connected) },
};

/* Groups whose keys are not fixed by this file. */
#define FREE_GROUP "legacy-settings"

static const char *const log_levels[] = {
  [PG_LOG_ERROR] = "error",
  [PG_LOG_WARNING] = "warning",
  [PG_LOG_INFO] = "info",
  [PG_LOG_DEBUG] = "debug",
};

gboolean
pg_config_parse_log_level (const char *text, PgLogLevel *level)
{
  for (guint i = 0; i < G_N_ELEMENTS (log_levels); i++)
    if (g_ascii_strcasecmp (text, log_levels[i]) == 0)
      {
        *level = (PgLogLevel)i;
        return TRUE;
      }
  return FALSE;
}

static gboolean fail (GError **error, PgConfigError code, const PgConfig *config, const char *group,
                      const char *key, const char *format, ...) G_GNUC_PRINTF (6, 7);

static gboolean
fail (GError **error, PgConfigError code, const PgConfig *config, const char *group, const char *key,
      const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *problem = g_strdup_vprintf (format, args);
  va_end (args);
  if (key != NULL)
    g_set_error (error, PG_CONFIG_ERROR, code, "%s: [%s] %s: %s", config->path, group, key, problem);
  else
    g_set_error (error, PG_CONFIG_ERROR, code, "%s: [%s]: %s", config->path, group, problem);
  return FALSE;
}

static gboolean
parse_number (const char *text, guint64 min, guint64 max, guint64 *out)
{
  return g_ascii_string_to_unsigned (text, 10, min, max, out, NULL);
}

static GStrv
split_list (const char *text)
{
  g_auto (GStrv) parts = g_strsplit_set (text, ";, ", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  for (guint i = 0; parts[i] != NULL; i++)
    if (*parts[i] != '\0')
      g_strv_builder_add (builder, parts[i]);
  return g_strv_builder_end (builder);
}

static gboolean
set_value (PgConfig *config, guint index, const char *value, GError **error)
{
  const char *group = keys[index].group, *key = keys[index].key;
  gpointer field = G_STRUCT_MEMBER_P (config, keys[index].offset);
  guint64 number;

  switch (keys[index].type)
    {
    case KEY_STRING:
      g_free (*(char **)field);
      *(char **)field = g_strdup (value);
      return TRUE;
    case KEY_DOMAIN:
      {
        g_autoptr (GError) local = NULL;
        g_autoptr (PgJid) jid = pg_jid_parse (value, &local);
        if (jid == NULL || pg_jid_get_node (jid) != NULL || pg_jid_get_resource (jid) != NULL)
          return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key, "'%s' is not a bare domain%s%s",
                       value, local ? ": " : "", local ? local->message : "");
        g_free (*(char **)field);
        *(char **)field = g_strdup (pg_jid_get_domain (jid));
        return TRUE;
      }
    case KEY_PORT:
      if (!parse_number (value, 1, 65535, &number))
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key,
                     "'%s' is not a port number (1-65535)", value);
      *(guint16 *)field = (guint16)number;
      return TRUE;
    case KEY_SECONDS:
      if (!parse_number (value, 1, 3600, &number))
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key,
                     "'%s' is not a number of seconds (1-3600)", value);
      *(guint *)field = (guint)number;
      return TRUE;
    case KEY_BYTES:
      if (!parse_number (value, PG_XML_MIN_STANZA_BYTES, 64 * 1024 * 1024, &number))
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key,
                     "'%s' is not a size in bytes between %d and %d", value, PG_XML_MIN_STANZA_BYTES,
                     64 * 1024 * 1024);
      *(gsize *)field = (gsize)number;
      return TRUE;
    case KEY_COUNT:
      if (!parse_number (value, 1, PG_CONFIG_OUTBOX_MAX_LIMIT, &number))
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key,
                     "'%s' is not a number of messages (1-%d)", value, PG_CONFIG_OUTBOX_MAX_LIMIT);
      *(guint *)field = (guint)number;
      return TRUE;
    case KEY_DURATION:
      if (!parse_number (value, 1, PG_CONFIG_OUTBOX_EXPIRY_LIMIT_S, &number))
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key,
                     "'%s' is not a number of seconds (1-%d)", value, PG_CONFIG_OUTBOX_EXPIRY_LIMIT_S);
      *(guint *)field = (guint)number;
      return TRUE;
    case KEY_JID_LIST:
    case KEY_DOMAIN_LIST:
      {
        g_auto (GStrv) items = split_list (value);
        for (guint i = 0; items[i] != NULL; i++)
          {
            g_autoptr (GError) local = NULL;
            g_autoptr (PgJid) jid = pg_jid_parse (items[i], &local);
            gboolean domain_only = keys[index].type == KEY_DOMAIN_LIST;
            if (jid == NULL || pg_jid_get_resource (jid) != NULL
                || (domain_only && pg_jid_get_node (jid) != NULL))
              return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key, "'%s' is not a %s", items[i],
                           domain_only ? "domain" : "bare JID");
            g_free (items[i]);
            items[i] = pg_jid_dup_bare (jid);
          }
        g_strfreev (*(GStrv *)field);
        *(GStrv *)field = g_steal_pointer (&items);
        return TRUE;
      }
    case KEY_WORKERS:
      if (g_ascii_strcasecmp (value, "auto") == 0)
        *(guint *)field = PG_CONFIG_WORKERS_AUTO;
      else if (parse_number (value, 0, PG_CONFIG_WORKERS_LIMIT, &number))
        *(guint *)field = (guint)number;
      else
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key,
                     "'%s' is neither auto nor a number of processes (0-%d)", value, PG_CONFIG_WORKERS_LIMIT);
      return TRUE;
    case KEY_CERTIFICATES:
      if (g_ascii_strcasecmp (value, "ask") == 0)
        *(PgCertificates *)field = PG_CERTIFICATES_ASK;
      else if (g_ascii_strcasecmp (value, "system") == 0)
        *(PgCertificates *)field = PG_CERTIFICATES_SYSTEM;
      else
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key, "'%s' is neither ask nor system",
                     value);
      return TRUE;
    case KEY_STAY:
      if (g_ascii_strcasecmp (value, "ask") == 0)
        *(PgStayConnected *)field = PG_STAY_CONNECTED_ASK;
      else if (g_ascii_strcasecmp (value, "off") == 0)
        *(PgStayConnected *)field = PG_STAY_CONNECTED_OFF;
      else if (g_ascii_strcasecmp (value, "on") == 0)
        *(PgStayConnected *)field = PG_STAY_CONNECTED_ON;
      else
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key, "'%s' is not one of off, on, ask",
                     value);
      return TRUE;
    case KEY_LOG_LEVEL:
      if (!pg_config_parse_log_level (value, (PgLogLevel *)field))
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, key,
                     "'%s' is not one of error, warning, info, debug", value);
      return TRUE;
    case KEY_NAME_LIST:
      {
        g_auto (GStrv) parts = g_strsplit_set (value, ",;", -1);
        g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
        for (guint i = 0; parts[i] != NULL; i++)
          if (*g_strstrip (parts[i]) != '\0')
            g_strv_builder_add (builder, parts[i]);
        g_strfreev (*(GStrv *)field);
        *(GStrv *)field = g_strv_builder_end (builder);
        return TRUE;
      }
    default:
      break;
    }
  g_assert_not_reached ();
}

/* GKeyFile has no end-of-line comments, but operators copy annotated
 * examples ("port = 5347   # default"): a '#' standing alone between
 * whitespace starts one; "#chan" or "a#b" are values. */
static void
strip_comment (char *value)
{
  for (char *p = value; *p != '\0'; p++)
    if (*p == '#' && p > value && g_ascii_isspace (p[-1]) && (p[1] == '\0' || g_ascii_isspace (p[1])))
      {
        *p = '\0';
        break;
      }
  g_strstrip (value);
}

static gboolean
read_group (PgConfig *config, GKeyFile *file, const char *group, GError **error)
{
  gsize n_keys = 0;
  g_auto (GStrv) names = g_key_file_get_keys (file, group, &n_keys, NULL);
  for (gsize i = 0; i < n_keys; i++)
    {
      g_autoptr (GError) local = NULL;
      g_autofree char *value = g_key_file_get_string (file, group, names[i], &local);
      if (value == NULL)
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, group, names[i], "%s", local->message);
      strip_comment (value);

      guint index = G_N_ELEMENTS (keys);
      for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
        if (strcmp (keys[k].group, group) == 0 && strcmp (keys[k].key, names[i]) == 0)
          index = k;
      if (index == G_N_ELEMENTS (keys))
        return fail (error, PG_CONFIG_ERROR_UNKNOWN_KEY, config, group, names[i], "unknown key");
      if (*value == '\0')
        {
          if (keys[index].required)
            return fail (error, PG_CONFIG_ERROR_MISSING, config, group, names[i], "must not be empty");
          continue;
        }
      if (!set_value (config, index, value, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_legacy_settings (PgConfig *config, GKeyFile *file, GError **error)
{
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) values = g_strv_builder_new ();
  gsize n_keys = 0;
  g_auto (GStrv) keys_found = g_key_file_get_keys (file, FREE_GROUP, &n_keys, NULL);
  for (gsize i = 0; i < n_keys; i++)
    {
      g_autoptr (GError) local = NULL;
      g_autofree char *value = g_key_file_get_string (file, FREE_GROUP, keys_found[i], &local);
      if (value == NULL)
        return fail (error, PG_CONFIG_ERROR_BAD_VALUE, config, FREE_GROUP, keys_found[i], "%s",
                     local->message);
      strip_comment (value);
      g_strv_builder_add (names, keys_found[i]);
      g_strv_builder_add (values, value);
    }
  config->legacy_setting_keys = g_strv_builder_end (names);
  config->legacy_setting_values = g_strv_builder_end (values);
  return TRUE;
}

PgConfig *
pg_config_load (const char *path, GError **error)
{
  g_autoptr (PgConfig) config = g_new0 (PgConfig, 1);
  config->path = g_strdup (path);
  config->host = g_strdup ("127.0.0.1");
  config->port = 5347;
  config->legacy_name = NULL;
  config->username_suffix = g_strdup ("");
  config->database_path = g_strdup ("purplegate.db");
  config->key_file = g_strdup ("purplegate.key");
  config->admin_jids = g_new0 (char *, 1);
  config->allowed_domains = g_new0 (char *, 1);
  config->user_options = g_new0 (char *, 1);
  config->verify_timeout_s = 30;
  config->question_timeout_s = PG_CONFIG_QUESTION_TIMEOUT_DEFAULT_S;
  config->certificates = PG_CERTIFICATES_ASK;
  config->stay_connected = PG_STAY_CONNECTED_ASK;
  config->max_stanza_bytes = 512 * 1024;
  config->outbox_max_per_user = PG_CONFIG_OUTBOX_MAX_DEFAULT;
  config->outbox_expiry_s = PG_CONFIG_OUTBOX_EXPIRY_DEFAULT_S;
  config->session_grace_s = PG_CONFIG_SESSION_GRACE_DEFAULT_S;
  config->history_messages = PG_CONFIG_HISTORY_MESSAGES_DEFAULT;
  config->history_max_age_s = PG_CONFIG_HISTORY_MAX_AGE_DEFAULT_S;
  config->join_timeout_s = PG_CONFIG_JOIN_TIMEOUT_DEFAULT_S;
  config->workers = PG_CONFIG_WORKERS_AUTO;
  config->log_level = PG_LOG_INFO;

  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, PG_CONFIG_ERROR, PG_CONFIG_ERROR_READ, "%s: %s", path, local->message);
      return NULL;
    }

  g_auto (GStrv) groups = g_key_file_get_groups (file, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      gboolean known = strcmp (groups[i], FREE_GROUP) == 0;
      for (guint k = 0; k < G_N_ELEMENTS (keys) && !known; k++)
        known = strcmp (keys[k].group, groups[i]) == 0;
      if (!known)
        {
          fail (error, PG_CONFIG_ERROR_UNKNOWN_KEY, config, groups[i], NULL, "unknown group");
          return NULL;
        }
      if (strcmp (groups[i], FREE_GROUP) == 0 ? !read_legacy_settings (config, file, error)
                                              : !read_group (config, file, groups[i], error))
        return NULL;
    }

  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    if (keys[k].required && *(char **)G_STRUCT_MEMBER_P (config, keys[k].offset) == NULL)
      {
        fail (error, PG_CONFIG_ERROR_MISSING, config, keys[k].group, keys[k].key, "required key is missing");
        return NULL;
      }
  if (config->legacy_setting_keys == NULL)
    {
      config->legacy_setting_keys = g_new0 (char *, 1);
      config->legacy_setting_values = g_new0 (char *, 1);
    }
  return g_steal_pointer (&config);
}

void
pg_config_free (PgConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_free (config->component_jid);
  g_free (config->host);
  if (config->secret != NULL)
    memset (config->secret, 0, strlen (config->secret));
  g_free (config->secret);
  g_free (config->protocol);
  g_free (config->legacy_name);
  g_free (config->username_suffix);
  g_strfreev (config->legacy_setting_keys);
  g_strfreev (config->legacy_setting_values);
  g_free (config->database_path);
  g_free (config->key_file);
  g_strfreev (config->admin_jids);
  g_strfreev (config->allowed_domains);
  g_strfreev (config->user_options);
  g_free (config);
}

gboolean
pg_config_domain_allowed (const PgConfig *config, const char *domain)
{
  if (config->allowed_domains[0] == NULL)
    return TRUE;
  return g_strv_contains ((const char *const *)config->allowed_domains, domain);
}

gboolean
pg_config_user_option_allowed (const PgConfig *config, const char *option_id)
{
  return g_strv_contains ((const char *const *)config->user_options, option_id);
}

gboolean
pg_config_is_admin (const PgConfig *config, const char *bare_jid)
{
  return g_strv_contains ((const char *const *)config->admin_jids, bare_jid);
}
