/* tests/unit/test-legacy-option.c — account options as XEP-0004 fields
 * (XEP-0004 §3.3, XEP-0122) and reading submitted values back. */
#define G_LOG_DOMAIN "pg-test-legacy-option"

#include "transport/forms.h"
#include "transport/legacy-option.h"
#include "transport/stanza.h"

#include <string.h>

static PgLegacyOption *
make (PgLegacyOptionType type, const char *default_value, gboolean masked)
{
  static const char *const values[] = { "UTF-8", "ISO-8859-1", NULL };
  static const char *const labels[] = { "Unicode", "Latin 1", NULL };
  gboolean list = type == PG_LEGACY_OPTION_LIST;
  return pg_legacy_option_new ("opt", "An option", type, default_value, list ? values : NULL,
                               list ? labels : NULL, masked);
}

/* ---- option → field ---- */

static const struct
{
  const char *name;
  PgLegacyOptionType type;
  const char *default_value;
  gboolean masked;
  const char *value; /* shown; NULL: the default */
  const char *field_type;
  const char *shown; /* the <value/>, NULL: none */
  gboolean validate; /* XEP-0122 xs:integer */
  guint choices;
} field_cases[] = {
  { "bool", PG_LEGACY_OPTION_BOOL, "true", FALSE, NULL, "boolean", "true", FALSE, 0 },
  { "bool-value", PG_LEGACY_OPTION_BOOL, "true", FALSE, "false", "boolean", "false", FALSE, 0 },
  { "int", PG_LEGACY_OPTION_INT, "6667", FALSE, NULL, "text-single", "6667", TRUE, 0 },
  { "string", PG_LEGACY_OPTION_STRING, "", FALSE, "Alice", "text-single", "Alice", FALSE, 0 },
  { "string-empty", PG_LEGACY_OPTION_STRING, "", FALSE, NULL, "text-single", NULL, FALSE, 0 },
  { "list", PG_LEGACY_OPTION_LIST, "UTF-8", FALSE, NULL, "list-single", "UTF-8", FALSE, 2 },
  { "secret", PG_LEGACY_OPTION_STRING, "", TRUE, "hunter2", "text-private", NULL, FALSE, 0 },
};

static void
test_field (gconstpointer data)
{
  guint i = GPOINTER_TO_UINT (data);
  g_autoptr (PgLegacyOption) option
      = make (field_cases[i].type, field_cases[i].default_value, field_cases[i].masked);
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", "a.example", "b.example", "result", "x1");
  xmlNode *form = pg_form_add (iq, "form", NULL, NULL, NULL);
  xmlNode *field = pg_legacy_option_add_field (option, form, "option:opt", NULL, NULL, field_cases[i].value);
  g_assert_cmpstr (pg_stanza_get_attr (field, "var"), ==, "option:opt");
  g_assert_cmpstr (pg_stanza_get_attr (field, "type"), ==, field_cases[i].field_type);
  g_assert_cmpstr (pg_stanza_get_attr (field, "label"), ==, "An option");
  g_autofree char *shown = pg_stanza_dup_child_text (field, "value", NULL);
  g_assert_cmpstr (shown, ==, field_cases[i].shown);
  xmlNode *validate = pg_stanza_find_child (field, "validate", PG_NS_DATA_VALIDATE);
  g_assert_true ((validate != NULL) == field_cases[i].validate);
  if (validate != NULL)
    g_assert_cmpstr (pg_stanza_get_attr (validate, "datatype"), ==, "xs:integer");
  guint choices = 0;
  for (xmlNode *n = field->children; n != NULL; n = n->next)
    if (n->type == XML_ELEMENT_NODE && strcmp ((const char *)n->name, "option") == 0)
      choices++;
  g_assert_cmpuint (choices, ==, field_cases[i].choices);
}

/* ---- submitted text → value ---- */

static const struct
{
  const char *name;
  PgLegacyOptionType type;
  const char *text;
  const char *value; /* NULL: refused */
} parse_cases[] = {
  { "bool-1", PG_LEGACY_OPTION_BOOL, "1", "true" },
  { "bool-true", PG_LEGACY_OPTION_BOOL, "true", "true" },
  { "bool-0", PG_LEGACY_OPTION_BOOL, "0", "false" },
  { "bool-false", PG_LEGACY_OPTION_BOOL, "false", "false" },
  { "bool-yes", PG_LEGACY_OPTION_BOOL, "yes", NULL },
  { "int", PG_LEGACY_OPTION_INT, " 42 ", "42" },
  { "int-negative", PG_LEGACY_OPTION_INT, "-3", "-3" },
  { "int-word", PG_LEGACY_OPTION_INT, "many", NULL },
  { "int-too-big", PG_LEGACY_OPTION_INT, "99999999999", NULL },
  { "list", PG_LEGACY_OPTION_LIST, "ISO-8859-1", "ISO-8859-1" },
  { "list-label", PG_LEGACY_OPTION_LIST, "Latin 1", NULL },
  { "string", PG_LEGACY_OPTION_STRING, "Alice Liddell", "Alice Liddell" },
  { "string-newline", PG_LEGACY_OPTION_STRING, "a\r\nQUIT", NULL },
};

static void
test_parse (gconstpointer data)
{
  guint i = GPOINTER_TO_UINT (data);
  g_autoptr (PgLegacyOption) option = make (parse_cases[i].type, NULL, FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree char *value = pg_legacy_option_parse (option, parse_cases[i].text, &error);
  g_assert_cmpstr (value, ==, parse_cases[i].value);
  if (parse_cases[i].value == NULL)
    {
      g_assert_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID);
      /* Errors name the option, never the value (it may be a secret). */
      g_assert_nonnull (strstr (error->message, "\"opt\""));
      g_assert_null (strstr (error->message, parse_cases[i].text));
    }
  else
    g_assert_no_error (error);
}

/* ---- the link's strings ---- */

static void
test_strings_round_trip (void)
{
  g_autoptr (PgLegacyOption) option = make (PG_LEGACY_OPTION_LIST, "UTF-8", FALSE);
  g_autoptr (PgLegacyOption) secret = make (PG_LEGACY_OPTION_STRING, "", TRUE);
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  pg_legacy_option_to_strings (option, strings);
  pg_legacy_option_to_strings (secret, strings);
  g_assert_cmpuint (strings->len, ==, 2 * PG_LEGACY_OPTION_STRINGS);
  g_ptr_array_add (strings, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PgLegacyOption) back
      = pg_legacy_option_from_strings ((const char *const *)strings->pdata, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->id, ==, "opt");
  g_assert_cmpint (back->type, ==, PG_LEGACY_OPTION_LIST);
  g_assert_cmpstr (back->default_value, ==, "UTF-8");
  g_assert_cmpstrv (back->choice_values, option->choice_values);
  g_assert_cmpstrv (back->choice_labels, option->choice_labels);
  g_assert_false (back->masked);
  g_autoptr (PgLegacyOption) back_secret = pg_legacy_option_from_strings (
      (const char *const *)strings->pdata + PG_LEGACY_OPTION_STRINGS, &error);
  g_assert_no_error (error);
  g_assert_true (back_secret->masked);
  g_assert_cmpuint (g_strv_length (back_secret->choice_values), ==, 0);

  const char *const broken[] = { "x", "X", "float", "", "0", "", "", NULL };
  g_assert_null (pg_legacy_option_from_strings (broken, &error));
  g_assert_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_MALFORMED);
}

/* ---- user-name parts ---- */

/* prpl-jabber's parts (a domain after '@', a resource after '/') after an
 * ordinary option. */
static GPtrArray *
jabber_like (void)
{
  GPtrArray *options = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_legacy_option_free);
  g_ptr_array_add (options, pg_legacy_option_new ("port", "Connect port", PG_LEGACY_OPTION_INT, "5222", NULL,
                                                  NULL, FALSE));
  g_ptr_array_add (options, pg_legacy_option_new_split ("Domain", NULL, '@'));
  g_ptr_array_add (options, pg_legacy_option_new_split ("Resource", "", '/'));
  return options;
}

static void
test_split_ids_and_strings (void)
{
  g_autoptr (PgLegacyOption) split = pg_legacy_option_new_split ("Server name", "irc.example.net", '@');
  g_assert_cmpstr (split->id, ==, "split:server-name");
  g_assert_cmpint (split->type, ==, PG_LEGACY_OPTION_STRING);
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  pg_legacy_option_to_strings (split, strings);
  g_ptr_array_add (strings, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PgLegacyOption) back
      = pg_legacy_option_from_strings ((const char *const *)strings->pdata, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->separator, ==, '@');
  g_assert_cmpstr (back->default_value, ==, "irc.example.net");
}

static void
test_split_suffix (void)
{
  g_autoptr (GPtrArray) options = jabber_like ();
  static const struct
  {
    const char *suffix;
    const char *domain; /* NULL: not given */
    const char *resource;
    gboolean ok;
  } cases[] = {
    { "", NULL, NULL, TRUE },
    { "@example.net", "example.net", NULL, TRUE },
    { "@example.net/gw", "example.net", "gw", TRUE },
    { "/gw", NULL, "gw", TRUE },
    { "@example.net/gw/x", "example.net", "gw/x", TRUE },
    { "example.net", NULL, NULL, FALSE },
    { "/gw@example.net", NULL, "gw@example.net", TRUE },
    { "-irc", NULL, NULL, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GHashTable) values = pg_legacy_option_parse_suffix (options, cases[i].suffix, &error);
      if (!cases[i].ok)
        {
          g_assert_null (values);
          g_assert_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpstr (g_hash_table_lookup (values, "split:domain"), ==, cases[i].domain);
      g_assert_cmpstr (g_hash_table_lookup (values, "split:resource"), ==, cases[i].resource);
      /* Composed again, the suffix comes back. */
      g_autofree char *name = pg_legacy_option_compose_username (options, "alice", values);
      g_autofree char *expected = g_strconcat ("alice", cases[i].suffix, NULL);
      g_assert_cmpstr (name, ==, expected);
    }
}

static void
test_split_check_suffix (void)
{
  g_autoptr (GPtrArray) options = jabber_like ();
  const char *const with_part[] = { "port", "split:resource", NULL };
  const char *const without[] = { "port", NULL };
  g_autoptr (GError) error = NULL;
  g_assert_true (pg_legacy_option_any_split (options, with_part));
  g_assert_false (pg_legacy_option_any_split (options, without));
  /* Only checked when users may set a part. */
  g_assert_true (pg_legacy_option_check_suffix (options, without, "-irc", "prpl-jabber", &error));
  g_assert_true (pg_legacy_option_check_suffix (options, with_part, "@example.net", "prpl-jabber", &error));
  g_assert_no_error (error);
  g_assert_false (pg_legacy_option_check_suffix (options, with_part, "-irc", "prpl-jabber", &error));
  g_assert_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "@split:domain/split:resource"));
}

static void
test_check_ids (void)
{
  g_autoptr (GPtrArray) options = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_legacy_option_free);
  g_ptr_array_add (options, pg_legacy_option_new ("realname", "Real name", PG_LEGACY_OPTION_STRING, NULL,
                                                  NULL, NULL, FALSE));
  g_ptr_array_add (options,
                   pg_legacy_option_new ("port", "Port", PG_LEGACY_OPTION_INT, "6667", NULL, NULL, FALSE));
  g_autoptr (GError) error = NULL;
  const char *const good[] = { "realname", "port", NULL };
  g_assert_true (pg_legacy_option_check_ids (options, good, "prpl-irc", &error));
  g_assert_no_error (error);
  const char *const bad[] = { "realname", "nick name", NULL };
  g_assert_false (pg_legacy_option_check_ids (options, bad, "prpl-irc", &error));
  g_assert_error (error, PG_LEGACY_OPTION_ERROR, PG_LEGACY_OPTION_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "\"nick name\""));
  g_assert_nonnull (strstr (error->message, "realname, port"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (field_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/legacy-option/field/%s", field_cases[i].name);
      g_test_add_data_func (path, GUINT_TO_POINTER (i), test_field);
    }
  for (guint i = 0; i < G_N_ELEMENTS (parse_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/legacy-option/parse/%s", parse_cases[i].name);
      g_test_add_data_func (path, GUINT_TO_POINTER (i), test_parse);
    }
  g_test_add_func ("/legacy-option/strings/round-trip", test_strings_round_trip);
  g_test_add_func ("/legacy-option/check-ids/unknown", test_check_ids);
  g_test_add_func ("/legacy-option/split/ids-and-strings", test_split_ids_and_strings);
  g_test_add_func ("/legacy-option/split/suffix", test_split_suffix);
  g_test_add_func ("/legacy-option/split/check-suffix", test_split_check_suffix);
  return g_test_run ();
}
