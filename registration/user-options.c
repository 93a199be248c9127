/* registration/user-options.c — per-user account options. The operator
 * decides which options users may set; everything else stays as
 * [legacy-settings] has it, whatever a user submits (README "Account
 * options"). */
#define G_LOG_DOMAIN "pg-user-options"
#include "build-config.h"

#include "registration/user-options.h"

#include "registration/seal.h"
#include "registration/store.h"
#include "transport/i18n.h"
#include "transport/legacy-option.h"

#include <string.h>

/* The labels of prpl-irc's and prpl-jabber's account options, user-name
 * parts and choices, as libpurple 2.14 spells them (and purplegate's own
 * option, legacy/purple-core.h), so that the catalogues translate them:
 * libpurple's own catalogue is not loaded. */
static const char *const known_labels[] G_GNUC_UNUSED = {
  /* prpl-irc */
  N_ ("Port"),
  N_ ("Encodings"),
  N_ ("Auto-detect incoming UTF-8"),
  N_ ("Ident name"),
  N_ ("Real name"),
  N_ ("Use SSL"),
  N_ ("Authenticate with SASL"),
  N_ ("SASL login name"),
  N_ ("Allow plaintext SASL auth over unencrypted connection"),
  N_ ("Seconds between sending messages"),
  N_ ("Maximum messages to send at once"),
  N_ ("NickServ password"),
  N_ ("Server"),
  /* prpl-jabber */
  N_ ("Connection security"),
  N_ ("Require encryption"),
  N_ ("Use encryption if available"),
  N_ ("Use old-style SSL"),
  N_ ("Allow plaintext auth over unencrypted streams"),
  N_ ("Connect port"),
  N_ ("Connect server"),
  N_ ("File transfer proxies"),
  N_ ("BOSH URL"),
  N_ ("Show Custom Smileys"),
  N_ ("Domain"),
  N_ ("Resource"),
};

static char *
setting_key (const PgLegacyOption *option)
{
  return g_strconcat (PG_USER_OPTION_SETTING_PREFIX, option->id, NULL);
}

static char *
field_var (const PgLegacyOption *option)
{
  return g_strconcat (PG_USER_OPTION_VAR_PREFIX, option->id, NULL);
}

/* The operator's values of the user-name parts: [legacy] username_suffix
 * split at their separators (checked at start-up). Owned; never NULL. */
static GHashTable *
dup_operator_parts (PgTransport *transport)
{
  GHashTable *values
      = pg_legacy_option_parse_suffix (transport->legacy_options, transport->config->username_suffix, NULL);
  return values != NULL ? values : g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* The operator's value of @option: [legacy-settings]' or, for a user-name
 * part, username_suffix's; NULL when none. Owned. */
static char *
dup_operator_value (PgTransport *transport, const PgLegacyOption *option)
{
  const PgConfig *config = transport->config;
  if (option->separator != '\0')
    {
      g_autoptr (GHashTable) parts = dup_operator_parts (transport);
      return g_strdup (g_hash_table_lookup (parts, option->id));
    }
  for (guint i = 0; config->legacy_setting_keys[i] != NULL; i++)
    if (strcmp (config->legacy_setting_keys[i], option->id) == 0)
      return g_strdup (config->legacy_setting_values[i]);
  return NULL;
}

/* The separators of the protocol's user-name parts, each once. Owned. */
static char *
dup_separators (PgTransport *transport)
{
  GString *separators = g_string_new (NULL);
  for (guint i = 0; transport->legacy_options != NULL && i < transport->legacy_options->len; i++)
    {
      const PgLegacyOption *option = g_ptr_array_index (transport->legacy_options, i);
      if (option->separator != '\0' && strchr (separators->str, option->separator) == NULL)
        g_string_append_c (separators, option->separator);
    }
  return g_string_free (separators, FALSE);
}

/* @separators as the user reads them: "“@”, “/”". Owned. */
static char *
dup_quoted (const char *separators)
{
  GString *quoted = g_string_new (NULL);
  for (const char *c = separators; *c != '\0'; c++)
    g_string_append_printf (quoted, "%s“%c”", quoted->len > 0 ? ", " : "", *c);
  return g_string_free (quoted, FALSE);
}

/* @bare_jid's value of @option: owned (pg_seal_free_secret()), NULL when
 * not set or unreadable (logged). */
static char *
dup_user_value (PgTransport *transport, const char *bare_jid, const PgLegacyOption *option)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *key = setting_key (option);
  char *value = option->masked ? pg_store_dup_sealed_setting (transport->store, bare_jid, key, &error)
                               : pg_store_dup_setting (transport->store, bare_jid, key, &error);
  if (error != NULL)
    g_warning ("%s: the option %s is not used: %s", bare_jid, option->id, error->message);
  if (value != NULL && *value == '\0')
    g_clear_pointer (&value, pg_seal_free_secret);
  return value;
}

void
pg_user_options_add_fields (PgTransport *transport, xmlNode *form, const char *bare_jid, const char *lang)
{
  const PgConfig *config = transport->config;
  for (guint i = 0; config->user_options[i] != NULL; i++)
    {
      const PgLegacyOption *option
          = pg_legacy_option_find (transport->legacy_options, config->user_options[i]);
      if (option == NULL)
        continue; /* checked at start-up */
      g_autofree char *value = NULL;
      if (bare_jid != NULL && !option->masked)
        {
          g_autofree char *key = setting_key (option);
          value = pg_store_dup_setting (transport->store, bare_jid, key, NULL);
        }
      g_autofree char *fixed = dup_operator_value (transport, option);
      const char *shown = value != NULL && *value != '\0' ? value : fixed;
      g_autofree char *var = field_var (option);
      /* libpurple's labels are English; the catalogue knows them. */
      const char *label = pg_i18n_translate (transport->i18n, lang, option->label);
      pg_legacy_option_add_field (option, form, var, transport->i18n, lang, shown);
      if (option->masked && bare_jid != NULL)
        {
          /* An empty secret field keeps the stored secret: forgetting it
           * is a field of its own, offered while there is one. */
          g_autofree char *stored = dup_user_value (transport, bare_jid, option);
          if (stored == NULL)
            continue;
          pg_seal_free_secret (g_steal_pointer (&stored));
          g_autofree char *clear_var = g_strconcat (PG_USER_OPTION_CLEAR_PREFIX, option->id, NULL);
          /* TRANSLATORS: %s is the label of a secret option, "NickServ password". */
          g_autofree char *clear_label = g_strdup_printf (
              pg_i18n_translate (transport->i18n, lang, N_ ("Forget the stored %s")), label);
          pg_form_add_field (form, clear_var, "boolean", clear_label, FALSE, "false");
        }
    }
}

GHashTable *
pg_user_options_read (PgTransport *transport, const PgForm *form, const char *lang,
                      PgErrorCondition *condition, char **text)
{
  g_autoptr (GHashTable) values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; form != NULL && transport->legacy_options != NULL && i < transport->legacy_options->len;
       i++)
    {
      const PgLegacyOption *option = g_ptr_array_index (transport->legacy_options, i);
      g_autofree char *var = field_var (option);
      g_autofree char *clear_var = g_strconcat (PG_USER_OPTION_CLEAR_PREFIX, option->id, NULL);
      const char *submitted = pg_form_get_value (form, var);
      gboolean clear = FALSE;
      if (!pg_form_get_boolean (form, clear_var, FALSE, &clear, NULL))
        {
          *condition = PG_ERR_NOT_ACCEPTABLE;
          *text = g_strdup_printf (
              pg_i18n_translate (transport->i18n, lang, N_ ("The option \"%s\" must be true or false.")),
              clear_var);
          return NULL;
        }
      if (submitted == NULL && !clear)
        continue;
      if (!pg_config_user_option_allowed (transport->config, option->id))
        {
          *condition = PG_ERR_NOT_ACCEPTABLE;
          *text = g_strdup_printf (
              pg_i18n_translate (transport->i18n, lang,
                                 N_ ("The option \"%s\" is set by the gateway's operator.")),
              option->id);
          return NULL;
        }
      if (submitted == NULL || *submitted == '\0')
        {
          /* An empty secret keeps the stored one, as an empty password does
           * (XEP-0077 §3.3), unless it is to be forgotten. */
          if (!option->masked || clear)
            g_hash_table_replace (values, g_strdup (option->id), g_strdup (""));
          continue;
        }
      g_autofree char *value = pg_legacy_option_parse (option, submitted, NULL);
      g_autofree char *separators = option->separator != '\0' ? dup_separators (transport) : NULL;
      if (value != NULL && separators != NULL && value[strcspn (value, separators)] != '\0')
        {
          /* A user-name part holds no separator: it would end there. */
          g_autofree char *quoted = dup_quoted (separators);
          *condition = PG_ERR_NOT_ACCEPTABLE;
          *text = g_strdup_printf (
              pg_i18n_translate (transport->i18n, lang, N_ ("The option \"%s\" must not contain %s.")),
              option->id, quoted);
          return NULL;
        }
      if (value == NULL)
        {
          *condition = PG_ERR_NOT_ACCEPTABLE;
          *text = g_strdup_printf (
              pg_i18n_translate (
                  transport->i18n, lang,
                  option->type == PG_LEGACY_OPTION_BOOL  ? N_ ("The option \"%s\" must be true or false.")
                  : option->type == PG_LEGACY_OPTION_INT ? N_ ("The option \"%s\" must be a whole number.")
                  : option->type == PG_LEGACY_OPTION_LIST
                      ? N_ ("The option \"%s\" must be one of the choices offered.")
                      : N_ ("The option \"%s\" must be one line of text.")),
              option->id);
          return NULL;
        }
      g_hash_table_replace (values, g_strdup (option->id), g_steal_pointer (&value));
    }
  return g_steal_pointer (&values);
}

gboolean
pg_user_options_store (PgTransport *transport, const char *bare_jid, GHashTable *values, GError **error)
{
  if (values == NULL)
    return TRUE;
  GHashTableIter iter;
  gpointer id, value;
  g_hash_table_iter_init (&iter, values);
  while (g_hash_table_iter_next (&iter, &id, &value))
    {
      const PgLegacyOption *option = pg_legacy_option_find (transport->legacy_options, id);
      g_autofree char *key = setting_key (option);
      gboolean ok = option->masked && *(const char *)value != '\0'
                        ? pg_store_put_sealed_setting (transport->store, bare_jid, key, value, error)
                        : pg_store_put_setting (transport->store, bare_jid, key, value, error);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

void
pg_user_options_dup_login_settings (PgTransport *transport, const char *bare_jid, GHashTable *submitted,
                                    GStrv *keys, GStrv *values)
{
  const PgConfig *config = transport->config;
  g_autoptr (GPtrArray) key_array = g_ptr_array_new ();
  g_autoptr (GPtrArray) value_array = g_ptr_array_new ();
  for (guint i = 0; config->legacy_setting_keys[i] != NULL; i++)
    {
      g_ptr_array_add (key_array, g_strdup (config->legacy_setting_keys[i]));
      g_ptr_array_add (value_array, g_strdup (config->legacy_setting_values[i]));
    }
  /* Only what the operator allows now: a value kept from an earlier
   * configuration that allowed more is not used. */
  for (guint i = 0; (bare_jid != NULL || submitted != NULL) && config->user_options[i] != NULL; i++)
    {
      const PgLegacyOption *option
          = pg_legacy_option_find (transport->legacy_options, config->user_options[i]);
      if (option == NULL || option->separator != '\0')
        continue; /* user-name parts are in the name, not settings */
      const char *given = submitted != NULL ? g_hash_table_lookup (submitted, option->id) : NULL;
      /* "" puts the option back to the operator's value. */
      char *value = given != NULL      ? (*given != '\0' ? g_strdup (given) : NULL)
                    : bare_jid != NULL ? dup_user_value (transport, bare_jid, option)
                                       : NULL;
      if (value == NULL)
        continue;
      guint at = key_array->len;
      for (guint k = 0; k < key_array->len; k++)
        if (strcmp (g_ptr_array_index (key_array, k), option->id) == 0)
          at = k;
      if (at == key_array->len)
        {
          g_ptr_array_add (key_array, g_strdup (option->id));
          g_ptr_array_add (value_array, value);
        }
      else
        {
          pg_seal_free_secret (g_ptr_array_index (value_array, at));
          g_ptr_array_index (value_array, at) = value;
        }
    }
  g_ptr_array_add (key_array, NULL);
  g_ptr_array_add (value_array, NULL);
  *keys = (GStrv)g_ptr_array_free (g_steal_pointer (&key_array), FALSE);
  *values = (GStrv)g_ptr_array_free (g_steal_pointer (&value_array), FALSE);
}

void
pg_user_options_free_values (GStrv values)
{
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    pg_seal_free_secret (values[i]);
  g_free (values);
}

char *
pg_user_options_dup_legacy_username (PgTransport *transport, const char *bare_jid, GHashTable *submitted,
                                     const char *username, const char *lang, char **refusal)
{
  const PgConfig *config = transport->config;
  if (!pg_legacy_option_any_split (transport->legacy_options, (const char *const *)config->user_options))
    return g_strconcat (username, config->username_suffix, NULL);
  g_autofree char *separators = dup_separators (transport);
  if (username[strcspn (username, separators)] != '\0')
    {
      g_autofree char *quoted = dup_quoted (separators);
      *refusal = g_strdup_printf (
          pg_i18n_translate (
              transport->i18n, lang,
              N_ ("The username must not contain %s: the other parts of the name have fields of their own.")),
          quoted);
      return NULL;
    }
  /* Each part: the user's value where allowed, else the operator's, else
   * the protocol's default. */
  g_autoptr (GHashTable) values = dup_operator_parts (transport);
  for (guint i = 0; i < transport->legacy_options->len; i++)
    {
      const PgLegacyOption *option = g_ptr_array_index (transport->legacy_options, i);
      if (option->separator == '\0')
        continue;
      const char *given = submitted != NULL ? g_hash_table_lookup (submitted, option->id) : NULL;
      g_autofree char *mine = NULL;
      if (given == NULL && bare_jid != NULL && pg_config_user_option_allowed (config, option->id))
        mine = dup_user_value (transport, bare_jid, option);
      const char *value = given != NULL && *given != '\0' ? given : mine;
      if (value != NULL)
        g_hash_table_replace (values, g_strdup (option->id), g_strdup (value));
      else if (!g_hash_table_contains (values, option->id))
        g_hash_table_replace (values, g_strdup (option->id), g_strdup (option->default_value));
    }
  return pg_legacy_option_compose_username (transport->legacy_options, username, values);
}
