/* tests/unit/test-forms.c — XEP-0004 data forms: building and reading. */
#define G_LOG_DOMAIN "pg-test-forms"

#include "transport/forms.h"
#include "transport/stanza.h"

#include <libxml/parser.h>
#include <string.h>

/* A parsed document whose root is freed with the document. */
typedef struct
{
  xmlDoc *doc;
} Parsed;

static xmlNode *
parse_x (Parsed *p, const char *xml)
{
  p->doc = xmlReadMemory (xml, (int)strlen (xml), "form.xml", "UTF-8",
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
  g_assert_nonnull (p->doc);
  return xmlDocGetRootElement (p->doc);
}

static void
parsed_clear (Parsed *p)
{
  g_clear_pointer (&p->doc, xmlFreeDoc);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Parsed, parsed_clear)

/* ---- building ---- */

static void
test_build_form (void)
{
  g_autoptr (PgStanza) iq
      = pg_stanza_new ("iq", "irc.example.org", "romeo@montague.lit/orchard", "result", "reg1");
  xmlNode *query = pg_stanza_add_child (iq, "query", "jabber:iq:register");
  pg_stanza_add_text_child (query, "instructions", NULL, "Use the form");
  xmlNode *x
      = pg_form_add (query, "form", "IRC registration", "Enter your nick & password", "jabber:iq:register");
  xmlNode *username = pg_form_add_field (x, "username", "text-single", "Nickname", TRUE, NULL);
  pg_form_add_field (x, "password", "text-private", "Password", TRUE, NULL);
  pg_form_add_field (x, "{urn:example:purplegate}server", "text-single", NULL, FALSE, "irc.example.net");
  pg_form_add_field (x, "x-empty", "text-single", NULL, FALSE, "");

  g_assert_true (pg_stanza_is (x, "x", PG_NS_DATA));
  g_assert_true (x->parent == query);
  g_assert_true (pg_stanza_is (username, "field", PG_NS_DATA));
  g_assert_true (username->parent == x);
  g_assert_true (pg_stanza_is (pg_stanza_first_element (username), "required", PG_NS_DATA));

  g_autofree char *bytes = pg_stanza_to_string (iq);
  g_assert_cmpstr (bytes, ==,
                   "<iq from='irc.example.org' to='romeo@montague.lit/orchard' type='result' id='reg1'>"
                   "<query xmlns='jabber:iq:register'><instructions>Use the form</instructions>"
                   "<x xmlns='jabber:x:data' type='form'>"
                   "<title>IRC registration</title>"
                   "<instructions>Enter your nick &amp; password</instructions>"
                   "<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>"
                   "<field var='username' type='text-single' label='Nickname'><required/></field>"
                   "<field var='password' type='text-private' label='Password'><required/></field>"
                   "<field var='{urn:example:purplegate}server' type='text-single'>"
                   "<value>irc.example.net</value></field>"
                   "<field var='x-empty' type='text-single'><value/></field>"
                   "</x></query></iq>");
}

static void
test_build_minimal (void)
{
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", NULL, NULL, "result", NULL);
  xmlNode *command = pg_stanza_add_child (iq, "command", "http://jabber.org/protocol/commands");
  xmlNode *x = pg_form_add (command, "result", NULL, NULL, NULL);
  /* A fixed field has no var. */
  pg_form_add_field (x, NULL, "fixed", NULL, FALSE, "Done.");

  g_autofree char *bytes = pg_stanza_to_string (iq);
  g_assert_cmpstr (bytes, ==,
                   "<iq type='result'><command xmlns='http://jabber.org/protocol/commands'>"
                   "<x xmlns='jabber:x:data' type='result'><field type='fixed'><value>Done.</value></field>"
                   "</x></command></iq>");
}

static void
test_build_round_trip (void)
{
  /* What we build, we read back. */
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", NULL, NULL, "set", NULL);
  xmlNode *x = pg_form_add (iq, "submit", NULL, NULL, "jabber:iq:register");
  pg_form_add_field (x, "username", NULL, NULL, FALSE, "romeo");
  pg_form_add_field (x, "flag", "boolean", NULL, FALSE, "true");

  g_autoptr (GError) error = NULL;
  g_autoptr (PgForm) form = pg_form_parse (x, "jabber:iq:register", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pg_form_get_type (form), ==, "submit");
  g_assert_cmpstr (pg_form_get_value (form, "FORM_TYPE"), ==, "jabber:iq:register");
  g_assert_cmpstr (pg_form_get_value (form, "username"), ==, "romeo");
  gboolean flag = FALSE;
  g_assert_true (pg_form_get_boolean (form, "flag", FALSE, &flag, &error));
  g_assert_no_error (error);
  g_assert_true (flag);
}

/* ---- parsing ---- */

static const char submit_form[]
    = "<x xmlns='jabber:x:data' type='submit'>"
      "<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>"
      "<field var='username' type='text-single'><value>romeo</value></field>"
      "<field var='empty'><value/></field>"
      "<field var='novalue'/>"
      "<field var='multi' type='text-multi'><value>line 1</value><value>line 2</value><value/>"
      "<value>line 4</value></field>"
      "<field type='fixed'><value>no var</value></field>"
      "<field var='dup'><value>first</value></field><field var='dup'><value>second</value></field>"
      "<field var='escaped'><value>a &amp; b &lt;c&gt; \xe2\x98\xba</value></field>"
      "<field var='foreign'><value xmlns='urn:other'>not a value</value><value>real</value></field>"
      "<other xmlns='urn:other' var='ignored'><value>x</value></other>"
      "<field xmlns='urn:other' var='other-ns'><value>x</value></field>"
      "</x>";

static void
test_parse_values (void)
{
  g_auto (Parsed) p = { NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (PgForm) form = pg_form_parse (parse_x (&p, submit_form), "jabber:iq:register", &error);
  g_assert_no_error (error);
  g_assert_nonnull (form);

  g_assert_cmpstr (pg_form_get_type (form), ==, "submit");
  g_assert_cmpstr (pg_form_get_value (form, "username"), ==, "romeo");
  g_assert_null (pg_form_get_value (form, "missing"));
  g_assert_cmpstr (pg_form_get_value (form, "empty"), ==, "");
  g_assert_cmpstr (pg_form_get_value (form, "novalue"), ==, "");
  g_assert_cmpstr (pg_form_get_value (form, "multi"), ==, "line 1");
  /* A repeated var: the first field counts. */
  g_assert_cmpstr (pg_form_get_value (form, "dup"), ==, "first");
  g_assert_cmpstr (pg_form_get_value (form, "escaped"), ==, "a & b <c> \xe2\x98\xba");
  g_assert_cmpstr (pg_form_get_value (form, "foreign"), ==, "real");
  g_assert_null (pg_form_get_value (form, "ignored"));
  g_assert_null (pg_form_get_value (form, "other-ns"));
  /* The form outlives the document it came from. */
  parsed_clear (&p);
  g_assert_cmpstr (pg_form_get_value (form, "username"), ==, "romeo");
}

static void
test_parse_text_multi (void)
{
  g_auto (Parsed) p = { NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (PgForm) form = pg_form_parse (parse_x (&p, submit_form), NULL, &error);
  g_assert_no_error (error);

  static const struct
  {
    const char *var;
    const char *joined; /* NULL: absent */
  } cases[] = {
    { "multi", "line 1\nline 2\n\nline 4" },
    { "username", "romeo" },
    { "empty", "" },
    { "novalue", "" },
    { "dup", "first" },
    { "missing", NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *joined = pg_form_dup_text (form, cases[i].var);
      g_assert_cmpstr (joined, ==, cases[i].joined);
      /* Asking twice gives the same (the form is not changed by it). */
      g_autofree char *again = pg_form_dup_text (form, cases[i].var);
      g_assert_cmpstr (again, ==, cases[i].joined);
    }
  g_assert_cmpstr (pg_form_get_value (form, "multi"), ==, "line 1");
}

typedef struct
{
  const char *name;
  const char *xml;
  const char *expected_form_type;
  int code; /* -1: parses */
} FormTypeCase;

#define FIELD_FT(attrs, value) "<field var='FORM_TYPE'" attrs "><value>" value "</value></field>"

static const FormTypeCase form_type_cases[] = {
  { "hidden-match",
    "<x xmlns='jabber:x:data' type='submit'>" FIELD_FT (" type='hidden'", "jabber:iq:register") "</x>",
    "jabber:iq:register", -1 },
  /* XEP-0068 §5: no type attribute, still the FORM_TYPE. */
  { "untyped-match", "<x xmlns='jabber:x:data' type='submit'>" FIELD_FT ("", "jabber:iq:register") "</x>",
    "jabber:iq:register", -1 },
  { "untyped-mismatch", "<x xmlns='jabber:x:data' type='submit'>" FIELD_FT ("", "urn:xmpp:other") "</x>",
    "jabber:iq:register", PG_FORM_ERROR_BAD_FORM_TYPE },
  { "hidden-mismatch",
    "<x xmlns='jabber:x:data' type='submit'>" FIELD_FT (" type='hidden'", "jabber:iq:search") "</x>",
    "jabber:iq:register", PG_FORM_ERROR_BAD_FORM_TYPE },
  { "text-single-mismatch",
    "<x xmlns='jabber:x:data' type='submit'>" FIELD_FT (" type='text-single'", "jabber:iq:search") "</x>",
    "jabber:iq:register", PG_FORM_ERROR_BAD_FORM_TYPE },
  { "case-matters",
    "<x xmlns='jabber:x:data' type='submit'>" FIELD_FT (" type='hidden'", "Jabber:IQ:Register") "</x>",
    "jabber:iq:register", PG_FORM_ERROR_BAD_FORM_TYPE },
  { "empty-value", "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value/></field></x>",
    "jabber:iq:register", PG_FORM_ERROR_BAD_FORM_TYPE },
  { "absent", "<x xmlns='jabber:x:data' type='submit'><field var='a'><value>1</value></field></x>",
    "jabber:iq:register", -1 },
  { "nothing-expected", "<x xmlns='jabber:x:data' type='submit'>" FIELD_FT ("", "urn:xmpp:other") "</x>",
    NULL, -1 },
  { "type-missing", "<x xmlns='jabber:x:data'>" FIELD_FT ("", "jabber:iq:register") "</x>",
    "jabber:iq:register", PG_FORM_ERROR_BAD_TYPE },
  { "type-unknown", "<x xmlns='jabber:x:data' type='bogus'/>", NULL, PG_FORM_ERROR_BAD_TYPE },
  { "type-case", "<x xmlns='jabber:x:data' type='Submit'/>", NULL, PG_FORM_ERROR_BAD_TYPE },
  { "type-empty", "<x xmlns='jabber:x:data' type=''/>", NULL, PG_FORM_ERROR_BAD_TYPE },
  { "wrong-namespace", "<x xmlns='jabber:x:oob' type='submit'/>", NULL, PG_FORM_ERROR_BAD_TYPE },
  { "no-namespace", "<x type='submit'/>", NULL, PG_FORM_ERROR_BAD_TYPE },
  { "wrong-element", "<form xmlns='jabber:x:data' type='submit'/>", NULL, PG_FORM_ERROR_BAD_TYPE },
  { "type-form", "<x xmlns='jabber:x:data' type='form'/>", NULL, -1 },
  { "type-cancel", "<x xmlns='jabber:x:data' type='cancel'/>", NULL, -1 },
  { "type-result", "<x xmlns='jabber:x:data' type='result'/>", NULL, -1 },
};

static void
test_parse_form_type (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (form_type_cases); i++)
    {
      const FormTypeCase *c = &form_type_cases[i];
      g_auto (Parsed) p = { NULL };
      g_autoptr (GError) error = NULL;
      g_test_message ("case %s", c->name);

      xmlNode *x = parse_x (&p, c->xml);
      g_autoptr (PgForm) form = pg_form_parse (x, c->expected_form_type, &error);
      if (c->code >= 0)
        {
          g_assert_error (error, PG_FORM_ERROR, c->code);
          g_assert_null (form);
          continue;
        }
      g_assert_no_error (error);
      g_assert_nonnull (form);
      g_assert_cmpstr (pg_form_get_type (form), ==, pg_stanza_get_attr (x, "type"));
    }
}

static void
test_parse_boolean (void)
{
  static const struct
  {
    const char *field; /* NULL: field absent */
    gboolean fallback;
    gboolean ok;
    gboolean value;
  } cases[] = {
    { "<value>1</value>", FALSE, TRUE, TRUE },
    { "<value>true</value>", FALSE, TRUE, TRUE },
    { "<value>0</value>", TRUE, TRUE, FALSE },
    { "<value>false</value>", TRUE, TRUE, FALSE },
    { NULL, TRUE, TRUE, TRUE },
    { NULL, FALSE, TRUE, FALSE },
    /* xs:boolean is exactly these four lexical forms. */
    { "<value>TRUE</value>", FALSE, FALSE, FALSE },
    { "<value>yes</value>", FALSE, FALSE, FALSE },
    { "<value>2</value>", FALSE, FALSE, FALSE },
    { "<value> 1</value>", FALSE, FALSE, FALSE },
    { "<value/>", TRUE, FALSE, FALSE },
    { "", TRUE, FALSE, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *xml = g_strdup_printf (
          "<x xmlns='jabber:x:data' type='submit'>%s%s%s</x>",
          cases[i].field != NULL ? "<field var='flag' type='boolean'>" : "",
          cases[i].field != NULL ? cases[i].field : "", cases[i].field != NULL ? "</field>" : "");
      g_auto (Parsed) p = { NULL };
      g_autoptr (GError) error = NULL;
      g_test_message ("%s", xml);

      g_autoptr (PgForm) form = pg_form_parse (parse_x (&p, xml), NULL, &error);
      g_assert_no_error (error);
      gboolean value = !cases[i].value;
      gboolean ok = pg_form_get_boolean (form, "flag", cases[i].fallback, &value, &error);
      if (!cases[i].ok)
        {
          g_assert_false (ok);
          g_assert_error (error, PG_FORM_ERROR, PG_FORM_ERROR_INVALID);
          continue;
        }
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpint (value, ==, cases[i].value);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/forms/build/form", test_build_form);
  g_test_add_func ("/forms/build/minimal", test_build_minimal);
  g_test_add_func ("/forms/build/round-trip", test_build_round_trip);
  g_test_add_func ("/forms/parse/values", test_parse_values);
  g_test_add_func ("/forms/parse/text-multi", test_parse_text_multi);
  g_test_add_func ("/forms/parse/form-type", test_parse_form_type);
  g_test_add_func ("/forms/parse/boolean", test_parse_boolean);

  return g_test_run ();
}
