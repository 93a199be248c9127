/* transport/legacy-option.c — account options as data and as XEP-0004
 * fields (XEP-0004 §3.3 field types, XEP-0122 §3.2 xs:integer). */
#define G_LOG_DOMAIN "pg-legacy-option"
#include "build-config.h"

#include "transport/legacy-option.h"

#include "transport/i18n.h"
#include "transport/stanza.h"

#include <string.h>

G_DEFINE_QUARK (pg - legacy - option - error - quark, pg_legacy_option_error)

static const char *const type_names[] = {
  [PG_LEGACY_OPTION_BOOL] = "bool",
  [PG_LEGACY_OPTION_INT] = "int",
  [PG_LEGACY_OPTION_STRING] = "string",
  [PG_LEGACY_OPTION_LIST] = "list",
};

/* Separates the choices, and a choice's value from its label, on the
 * link: control characters no protocol puts in an option. */
#define CHOICE_SEP "\x1e"
#define LABEL_SEP "\x1f"

PgLegacyOption *
pg_legacy_option_new (const char *id, const char *label, PgLegacyOptionType type, const char *default_value,
                      const char *const *choice_values, const char *const *choice_labels, gboolean masked)
{
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail ((choice_values == NULL) == (choice_labels == NULL), NULL);
  PgLegacyOption *option = g_new0 (PgLegacyOption, 1);
  option->id = g_strdup (id);
  option->label = g_strdup (label != NULL ? label : id);
  option->type = type;
  option->default_value = g_strdup (default_value != NULL ? default_value : "");
  option->choice_values = choice_values != NULL ? g_strdupv ((char **)choice_values) : g_new0 (char *, 1);
  option->choice_labels = choice_labels != NULL ? g_strdupv ((char **)choice_labels) : g_new0 (char *, 1);
  option->masked = masked;
  return option;
}

PgLegacyOption *
pg_legacy_option_new_split (const char *label, const char *default_value, char separator)
{
  g_return_val_if_fail (label != NULL && separator != '\0', NULL);
  g_autofree char *lower = g_ascii_strdown (label, -1);
  g_strdelimit (lower, " \t", '-');
  g_autofree char *id = g_strconcat (PG_LEGACY_OPTION_SPLIT_PREFIX, lower, NULL);
  PgLegacyOption *option
      = pg_legacy_option_new (id, label, PG_LEGACY_OPTION_STRING, default_value, NULL, NULL, FALSE);
  option->separator = separator;
  return option;
}

void
pg_legacy_option_free (PgLegacyOption *option)
{
  if (option == NULL)
    return;
  g_free (option->id);
  g_free (option->label);
  g_free (option->default_value);
  g_strfreev (option->choice_values);
  g_strfreev (option->choice_labels);
  g_free (option);
}

void
pg_legacy_option_to_strings (const PgLegacyOption *option, GPtrArray *out)
{
  g_autoptr (GString) choices = g_string_new (NULL);
  for (guint i = 0; option->choice_values[i] != NULL; i++)
    g_string_append_printf (choices, "%s%s" LABEL_SEP "%s", i > 0 ? CHOICE_SEP : "", option->choice_values[i],
                            option->choice_labels[i]);
  g_ptr_array_add (out, g_strdup (option->id));
  g_ptr_array_add (out, g_strdup (option->label));
  g_ptr_array_add (out, g_strdup (type_names[option->type]));
  g_ptr_array_add (out, g_strdup (option->default_value));
  g_ptr_array_add (out, g_strdup (option->masked ? "1" : "0"));
  g_ptr_array_add (out, g_string_free (g_steal_pointer (&choices), FALSE));
  g_ptr_array_add (out, g_strndup (&option->separator, option->separator != '\0'));
}

PgLegacyOption *
pg_legacy_option_from_strings (const char *const *strings, GError **error)
{
  guint type = G_N_ELEMENTS (type_names);
  for (guint i = 0; i < G_N_ELEMENTS (type_names); i++)
    if (strcmp (strings[2], type_names[i]) == 0)
      type = i;
  if (*strings[0] == '\0' || type == G_N_ELEMENTS (type_names) || strlen (strings[6]) > 1
      || (*strings[6] != '\0' && type != PG_LEGACY_OPTION_STRING))
    {
      g_set_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_MALFORMED,
                   "an option described as \"%s\", type \"%s\"", strings[0], strings[2]);
      return NULL;
    }
  g_autoptr (GStrvBuilder) values = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) labels = g_strv_builder_new ();
  g_auto (GStrv) choices = *strings[5] != '\0' ? g_strsplit (strings[5], CHOICE_SEP, -1) : g_new0 (char *, 1);
  for (guint i = 0; choices[i] != NULL; i++)
    {
      const char *sep = strchr (choices[i], LABEL_SEP[0]);
      if (sep == NULL)
        {
          g_set_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_MALFORMED,
                       "a choice of option \"%s\" without a label", strings[0]);
          return NULL;
        }
      g_autofree char *value = g_strndup (choices[i], (gsize)(sep - choices[i]));
      g_strv_builder_add (values, value);
      g_strv_builder_add (labels, sep + 1);
    }
  g_auto (GStrv) value_strv = g_strv_builder_end (values);
  g_auto (GStrv) label_strv = g_strv_builder_end (labels);
  PgLegacyOption *option = pg_legacy_option_new (
      strings[0], strings[1], (PgLegacyOptionType)type, strings[3], (const char *const *)value_strv,
      (const char *const *)label_strv, strcmp (strings[4], "1") == 0);
  option->separator = strings[6][0];
  return option;
}

const PgLegacyOption *
pg_legacy_option_find (const GPtrArray *options, const char *id)
{
  for (guint i = 0; options != NULL && i < options->len; i++)
    {
      const PgLegacyOption *option = g_ptr_array_index (options, i);
      if (strcmp (option->id, id) == 0)
        return option;
    }
  return NULL;
}

gboolean
pg_legacy_option_check_ids (const GPtrArray *options, const char *const *ids, const char *protocol_id,
                            GError **error)
{
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      if (pg_legacy_option_find (options, ids[i]) != NULL)
        continue;
      g_autoptr (GString) names = g_string_new (NULL);
      for (guint k = 0; k < options->len; k++)
        g_string_append_printf (names, "%s%s", k > 0 ? ", " : "",
                                ((const PgLegacyOption *)g_ptr_array_index (options, k))->id);
      g_set_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID,
                   "%s has no account option \"%s\"; its options: %s", protocol_id, ids[i],
                   names->len > 0 ? names->str : "(none)");
      return FALSE;
    }
  return TRUE;
}

gboolean
pg_legacy_option_any_split (const GPtrArray *options, const char *const *ids)
{
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      const PgLegacyOption *option = pg_legacy_option_find (options, ids[i]);
      if (option != NULL && option->separator != '\0')
        return TRUE;
    }
  return FALSE;
}

/* The separators of the user-name parts of @options after the @i-th. */
static char *
dup_later_separators (const GPtrArray *options, guint i)
{
  GString *separators = g_string_new (NULL);
  for (guint k = i + 1; options != NULL && k < options->len; k++)
    {
      const PgLegacyOption *option = g_ptr_array_index (options, k);
      if (option->separator != '\0')
        g_string_append_c (separators, option->separator);
    }
  return g_string_free (separators, FALSE);
}

GHashTable *
pg_legacy_option_parse_suffix (const GPtrArray *options, const char *suffix, GError **error)
{
  g_autoptr (GHashTable) values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *rest = suffix != NULL ? suffix : "";
  for (guint i = 0; options != NULL && i < options->len && *rest != '\0'; i++)
    {
      const PgLegacyOption *option = g_ptr_array_index (options, i);
      if (option->separator == '\0' || *rest != option->separator)
        continue;
      g_autofree char *later = dup_later_separators (options, i);
      gsize length = *later != '\0' ? strcspn (rest + 1, later) : strlen (rest + 1);
      g_hash_table_replace (values, g_strdup (option->id), g_strndup (rest + 1, length));
      rest += 1 + length;
    }
  if (*rest != '\0')
    {
      g_set_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID,
                   "\"%s\" is not made of the parts of the user name", rest);
      return NULL;
    }
  return g_steal_pointer (&values);
}

char *
pg_legacy_option_compose_username (const GPtrArray *options, const char *username, GHashTable *values)
{
  GString *composed = g_string_new (username);
  for (guint i = 0; options != NULL && i < options->len; i++)
    {
      const PgLegacyOption *option = g_ptr_array_index (options, i);
      const char *value = values != NULL ? g_hash_table_lookup (values, option->id) : NULL;
      if (option->separator != '\0' && value != NULL && *value != '\0')
        g_string_append_printf (composed, "%c%s", option->separator, value);
    }
  return g_string_free (composed, FALSE);
}

gboolean
pg_legacy_option_check_suffix (const GPtrArray *options, const char *const *ids, const char *suffix,
                               const char *protocol_id, GError **error)
{
  if (!pg_legacy_option_any_split (options, ids))
    return TRUE;
  g_autoptr (GHashTable) values = pg_legacy_option_parse_suffix (options, suffix, error);
  if (values != NULL)
    return TRUE;
  g_autoptr (GString) parts = g_string_new (NULL);
  for (guint i = 0; i < options->len; i++)
    {
      const PgLegacyOption *option = g_ptr_array_index (options, i);
      if (option->separator != '\0')
        g_string_append_printf (parts, "%c%s", option->separator, option->id);
    }
  g_prefix_error (error,
                  "[legacy] username_suffix must be made of the user-name parts of %s (%s) when users may "
                  "set one: ",
                  protocol_id, parts->str);
  return FALSE;
}

/* @text in @lang, where @i18n knows it. Borrowed. */
static const char *
translate (PgI18n *i18n, const char *lang, const char *text)
{
  return i18n != NULL ? pg_i18n_translate (i18n, lang, text) : text;
}

xmlNode *
pg_legacy_option_add_field (const PgLegacyOption *option, xmlNode *form, const char *var, PgI18n *i18n,
                            const char *lang, const char *value)
{
  static const char *const field_types[] = {
    [PG_LEGACY_OPTION_BOOL] = "boolean",
    [PG_LEGACY_OPTION_INT] = "text-single",
    [PG_LEGACY_OPTION_STRING] = "text-single",
    [PG_LEGACY_OPTION_LIST] = "list-single",
  };
  xmlNode *field = pg_stanza_add_child (form, "field", NULL);
  pg_stanza_set_attr (field, "var", var);
  pg_stanza_set_attr (field, "type", option->masked ? "text-private" : field_types[option->type]);
  pg_stanza_set_attr (field, "label", translate (i18n, lang, option->label));
  if (option->type == PG_LEGACY_OPTION_INT)
    {
      /* XEP-0122 §3.2: the client may check it before sending. */
      xmlNode *validate = pg_stanza_add_child (field, "validate", PG_NS_DATA_VALIDATE);
      pg_stanza_set_attr (validate, "datatype", "xs:integer");
      pg_stanza_add_child (validate, "basic", NULL);
    }
  /* A secret is never sent back, as the password is not (XEP-0077 §3.1). */
  if (!option->masked)
    {
      const char *shown = value != NULL ? value : option->default_value;
      if (*shown != '\0' || option->type == PG_LEGACY_OPTION_BOOL)
        pg_stanza_add_text_child (field, "value", NULL, *shown != '\0' ? shown : "false");
    }
  for (guint i = 0; option->type == PG_LEGACY_OPTION_LIST && option->choice_values[i] != NULL; i++)
    {
      xmlNode *choice = pg_stanza_add_child (field, "option", NULL);
      pg_stanza_set_attr (choice, "label", translate (i18n, lang, option->choice_labels[i]));
      pg_stanza_add_text_child (choice, "value", NULL, option->choice_values[i]);
    }
  return field;
}

char *
pg_legacy_option_parse (const PgLegacyOption *option, const char *text, GError **error)
{
  g_return_val_if_fail (text != NULL, NULL);
  switch (option->type)
    {
    case PG_LEGACY_OPTION_BOOL:
      /* XEP-0004 §3.3 boolean. */
      if (strcmp (text, "1") == 0 || strcmp (text, "true") == 0)
        return g_strdup ("true");
      if (strcmp (text, "0") == 0 || strcmp (text, "false") == 0)
        return g_strdup ("false");
      g_set_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID,
                   "the option \"%s\" must be true or false", option->id);
      return NULL;
    case PG_LEGACY_OPTION_INT:
      {
        gint64 number;
        g_autofree char *stripped = g_strstrip (g_strdup (text));
        if (!g_ascii_string_to_signed (stripped, 10, G_MININT, G_MAXINT, &number, NULL))
          {
            g_set_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID,
                         "the option \"%s\" must be a whole number", option->id);
            return NULL;
          }
        return g_strdup_printf ("%" G_GINT64_FORMAT, number);
      }
    case PG_LEGACY_OPTION_LIST:
      if (g_strv_contains ((const char *const *)option->choice_values, text))
        return g_strdup (text);
      g_set_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID,
                   "the option \"%s\" must be one of the choices offered", option->id);
      return NULL;
    case PG_LEGACY_OPTION_STRING:
    default:
      if (!g_utf8_validate (text, -1, NULL) || strpbrk (text, "\r\n") != NULL)
        {
          g_set_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID,
                       "the option \"%s\" must be one line of text", option->id);
          return NULL;
        }
      return g_strdup (text);
    }
}
