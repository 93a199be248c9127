/* tests/fuzz/fuzz-adhoc-form.c — XEP-0050 submissions as transport/adhoc.c
 * reads them: the <command/> attributes, its jabber:x:data payload parsed
 * without an expected FORM_TYPE (only 'submit' and 'cancel' count), and what
 * handlers read from it (values, text-multi, booleans). Checked:
 *   - the accessors agree with one another and with the tree;
 *   - a form rebuilt from the parsed values with pg_form_add() and
 *     pg_form_add_field() serialises, parses back to itself, and reads back
 *     the same values (handlers echo submitted text into their answers);
 *   - the bad-payload error reply (with the XEP-0050 condition) serialises
 *     to XML that parses back to itself. */
#define G_LOG_DOMAIN "pg-fuzz-adhoc-form"

#include "tests/fuzz/fuzz-common.h"

#include "transport/forms.h"
#include "transport/stanza.h"

#include <string.h>

/* transport/adhoc.h's PG_NS_COMMANDS, without the transport it pulls in. */
#define NS_COMMANDS "http://jabber.org/protocol/commands"

/* Every distinct var of @x's fields, in order, first occurrence only. */
static GPtrArray *
list_vars (const xmlNode *x)
{
  GPtrArray *vars = g_ptr_array_new ();

  for (xmlNode *field = x->children; field != NULL; field = field->next)
    {
      const char *var = pg_stanza_is (field, "field", PG_NS_DATA) ? pg_stanza_get_attr (field, "var") : NULL;
      gboolean seen = FALSE;

      for (guint i = 0; var != NULL && i < vars->len && !seen; i++)
        seen = strcmp (g_ptr_array_index (vars, i), var) == 0;
      if (var != NULL && !seen)
        g_ptr_array_add (vars, (gpointer)var);
    }
  return vars;
}

/* The values of the first field @var of @x, straight from the tree. */
static GPtrArray *
tree_values (const xmlNode *x, const char *var)
{
  for (xmlNode *field = x->children; field != NULL; field = field->next)
    if (pg_stanza_is (field, "field", PG_NS_DATA) && g_strcmp0 (pg_stanza_get_attr (field, "var"), var) == 0)
      {
        GPtrArray *values = g_ptr_array_new_with_free_func (g_free);

        for (xmlNode *value = field->children; value != NULL; value = value->next)
          if (pg_stanza_is (value, "value", PG_NS_DATA))
            g_ptr_array_add (values, pg_stanza_dup_text (value));
        return values;
      }
  return NULL;
}

static void
check_accessors (const xmlNode *x, const PgForm *form, GPtrArray *vars)
{
  for (guint i = 0; i < vars->len; i++)
    {
      const char *var = g_ptr_array_index (vars, i);
      g_autoptr (GPtrArray) values = tree_values (x, var);
      const char *first = pg_form_get_value (form, var);
      g_autofree char *text = pg_form_dup_text (form, var);
      g_autofree char *text_again = pg_form_dup_text (form, var);
      g_autoptr (GString) joined = g_string_new (NULL);
      gboolean value = FALSE;
      g_autoptr (GError) error = NULL;

      for (guint k = 0; k < values->len; k++)
        g_string_append_printf (joined, "%s%s", k > 0 ? "\n" : "",
                                (const char *)g_ptr_array_index (values, k));
      PG_FUZZ_CHECK (first != NULL
                         && strcmp (first, values->len > 0 ? g_ptr_array_index (values, 0) : "") == 0,
                     "field '%s': first value '%s'", var, first);
      PG_FUZZ_CHECK (text != NULL && strcmp (text, joined->str) == 0, "field '%s': text '%s', want '%s'", var,
                     text, joined->str);
      PG_FUZZ_CHECK (strcmp (text, text_again) == 0, "dup_text is not repeatable");

      gboolean ok = pg_form_get_boolean (form, var, TRUE, &value, &error);
      gboolean is_true = strcmp (first, "1") == 0 || strcmp (first, "true") == 0;
      gboolean is_false = strcmp (first, "0") == 0 || strcmp (first, "false") == 0;
      PG_FUZZ_CHECK (ok == (is_true || is_false) && (ok ? error == NULL && value == is_true : error != NULL),
                     "field '%s': '%s' read as boolean %d/%d", var, first, ok, value);
    }
  /* Absent fields: NULL and the fallback. */
  gboolean value = FALSE;
  if (pg_form_get_value (form, "pg-fuzz-absent") == NULL)
    PG_FUZZ_CHECK (pg_form_dup_text (form, "pg-fuzz-absent") == NULL
                       && pg_form_get_boolean (form, "pg-fuzz-absent", TRUE, &value, NULL) && value,
                   "absent field");
}

/* A handler's answer echoing the submission: same type, same fields. The
 * answer is added to @out, to be parsed back with the others in one go
 * (pg_fuzz_check_reparses_all() asserts that the tree comes back as built,
 * so what is read from the built tree here is what a peer would read). */
static void
check_rebuilt (const xmlNode *x, const PgForm *form, GPtrArray *vars, GPtrArray *out)
{
  PgStanza *iq = pg_stanza_new ("iq", "irc.example.org", "romeo@example.org/orchard", "result", "c1");
  xmlNode *command = pg_stanza_add_child (iq, "command", NS_COMMANDS);
  pg_stanza_set_attr (command, "node", pg_stanza_get_attr (x->parent, "node"));
  pg_stanza_set_attr (command, "status", "executing");
  const char *form_type = pg_form_get_value (form, "FORM_TYPE");
  g_autofree char *title = pg_stanza_dup_child_text (x, "title", PG_NS_DATA);
  g_autofree char *instructions = pg_stanza_dup_child_text (x, "instructions", PG_NS_DATA);
  xmlNode *rebuilt = pg_form_add (command, pg_form_get_type (form), title, instructions, form_type);

  g_ptr_array_add (out, iq);
  for (guint i = 0; i < vars->len; i++)
    {
      const char *var = g_ptr_array_index (vars, i);
      g_autoptr (GPtrArray) values = tree_values (x, var);

      if (strcmp (var, "FORM_TYPE") == 0)
        continue;
      xmlNode *field = pg_form_add_field (rebuilt, var, "text-multi", var, i % 2, NULL);
      for (guint k = 0; k < values->len; k++)
        pg_stanza_add_text_child (field, "value", NULL, g_ptr_array_index (values, k));
    }
  pg_stanza_set_attr (pg_stanza_add_text_child (command, "note", NULL, title), "type", "info");

  g_autoptr (GError) error = NULL;
  g_autoptr (PgForm) form_again = pg_form_parse (rebuilt, form_type, &error);
  PG_FUZZ_CHECK (form_again != NULL, "rebuilt form refused: %s", error->message);
  PG_FUZZ_CHECK (strcmp (pg_form_get_type (form_again), pg_form_get_type (form)) == 0, "type changed");
  for (guint i = 0; i < vars->len; i++)
    {
      const char *var = g_ptr_array_index (vars, i);
      if (strcmp (var, "FORM_TYPE") == 0)
        continue; /* only its first value is echoed */
      g_autofree char *before = pg_form_dup_text (form, var);
      g_autofree char *after = pg_form_dup_text (form_again, var);
      PG_FUZZ_CHECK (g_strcmp0 (before, after) == 0, "field '%s': '%s' came back as '%s'", var, before,
                     after);
    }
  g_autofree char *title_again = pg_stanza_dup_child_text (rebuilt, "title", PG_NS_DATA);
  PG_FUZZ_CHECK (g_strcmp0 (title, title_again) == 0, "title '%s' came back as '%s'", title, title_again);
  PG_FUZZ_CHECK (g_strcmp0 (form_type, pg_form_get_value (form_again, "FORM_TYPE")) == 0,
                 "FORM_TYPE changed");
}

/* transport/adhoc.c read_form() and reply_error(). */
static void
check_command (const xmlNode *stanza, xmlNode *command, GPtrArray *out)
{
  xmlNode *x = pg_stanza_find_child (command, "x", PG_NS_DATA);
  g_autoptr (GError) error = NULL;
  g_autoptr (PgForm) form = NULL;
  const char *problem = NULL;

  if (x == NULL)
    return;
  form = pg_form_parse (x, NULL, &error);
  if (form == NULL)
    {
      PG_FUZZ_CHECK (error != NULL && error->domain == PG_FORM_ERROR && error->code == PG_FORM_ERROR_BAD_TYPE,
                     "refusal without expected FORM_TYPE: %s", error ? error->message : "no error");
      problem = error->message;
    }
  else
    {
      g_autoptr (GPtrArray) vars = list_vars (x);

      check_accessors (x, form, vars);
      check_rebuilt (x, form, vars, out);
      if (!g_str_equal (pg_form_get_type (form), "submit")
          && !g_str_equal (pg_form_get_type (form), "cancel"))
        problem = "a command form must be of type 'submit'";
    }
  if (problem != NULL)
    {
      PgStanza *reply = pg_stanza_error_reply (stanza, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, problem);
      pg_stanza_add_child (pg_stanza_get_error (reply), "bad-payload", NS_COMMANDS);
      g_ptr_array_add (out, reply);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GPtrArray) stanzas = NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);

  pg_fuzz_init ();
  stanzas = pg_fuzz_parse_stanzas (data, size);
  for (guint i = 0; i < stanzas->len; i++)
    {
      const xmlNode *stanza = g_ptr_array_index (stanzas, i);
      xmlNode *payload = pg_stanza_first_element (stanza);

      if (payload == NULL)
        continue;
      if (pg_stanza_is (payload, "command", NS_COMMANDS))
        check_command (stanza, payload, out);
      else if (pg_stanza_find_child (payload, "x", PG_NS_DATA) != NULL)
        check_command (stanza, payload, out); /* message forms, XEP-0128 extensions */
    }
  pg_fuzz_check_reparses_all (out);
  pg_fuzz_input_done ();
  return 0;
}
