/* tests/unit/test-question.c — libpurple's questions: the worker-link round
 * trip, the XEP-0004 form of each field type, reading submitted forms and
 * plain-text replies (legacy/question.h, legacy/question-form.h). */
#define G_LOG_DOMAIN "pg-test-question"
#include "build-config.h"

#include "legacy/question-form.h"
#include "transport/stanza.h"

#include <libxml/parser.h>
#include <string.h>

static PgQuestion *
fields_question (void)
{
  const char *const colours[] = { "red", "green", "blue", NULL };
  PgQuestion *q = pg_question_new (PG_QUESTION_FIELDS);
  q->id = 7;
  q->title = g_strdup ("Account");
  q->primary = g_strdup ("Tell us more");
  pg_question_add_field (q, "name", PG_QUESTION_FIELD_TEXT, "Name", "Ann", NULL, TRUE);
  pg_question_add_field (q, "bio", PG_QUESTION_FIELD_TEXT_MULTI, "Bio", "a\nb", NULL, FALSE);
  pg_question_add_field (q, "code", PG_QUESTION_FIELD_TEXT_PRIVATE, "Code", NULL, NULL, TRUE);
  pg_question_add_field (q, "age", PG_QUESTION_FIELD_INTEGER, "Age", "3", NULL, FALSE);
  pg_question_add_field (q, "ok", PG_QUESTION_FIELD_BOOLEAN, "Agree", "0", NULL, FALSE);
  pg_question_add_field (q, "colour", PG_QUESTION_FIELD_CHOICE, "Colour", "1", colours, FALSE);
  pg_question_add_field (q, "many", PG_QUESTION_FIELD_LIST_MULTI, "Many", "0\n2", colours, FALSE);
  pg_question_add_field (q, "note", PG_QUESTION_FIELD_LABEL, "Read this", NULL, NULL, FALSE);
  const char *const buttons[] = { "OK", "Cancel", NULL };
  g_strfreev (q->actions);
  q->actions = g_strdupv ((char **)buttons);
  q->cancel_action = 1;
  return q;
}

static PgQuestion *
certificate_question (void)
{
  const char *const buttons[] = { "Accept", "Reject", NULL };
  PgQuestion *q = pg_question_new (PG_QUESTION_CERTIFICATE);
  q->id = 3;
  q->primary = g_strdup ("Accept certificate for legacy.example?");
  q->host = g_strdup ("legacy.example");
  q->subject = g_strdup ("CN=legacy.example");
  q->fingerprint = g_strdup ("AA:BB");
  g_strfreev (q->actions);
  q->actions = g_strdupv ((char **)buttons);
  q->cancel_action = 1;
  return q;
}

static void
test_variant_round_trip (void)
{
  g_autoptr (PgQuestion) q = fields_question ();
  g_autoptr (PgQuestion) copy = pg_question_copy (q);
  g_assert_nonnull (copy);
  g_assert_cmpuint (copy->id, ==, 7);
  g_assert_cmpint (copy->kind, ==, PG_QUESTION_FIELDS);
  g_assert_cmpstr (copy->title, ==, "Account");
  g_assert_null (copy->secondary);
  g_assert_cmpuint (copy->fields->len, ==, q->fields->len);
  const PgQuestionField *colour = pg_question_find_field (copy, "colour");
  g_assert_cmpint (colour->type, ==, PG_QUESTION_FIELD_CHOICE);
  g_assert_cmpstr (colour->options[2], ==, "blue");
  g_assert_null (pg_question_find_field (copy, "name")->options);
  g_assert_cmpstr (copy->actions[1], ==, "Cancel");
  g_assert_cmpint (copy->cancel_action, ==, 1);
  g_assert_cmpuint (pg_question_count_inputs (copy), ==, 7);

  g_autoptr (PgQuestionAnswer) a = pg_question_answer_new (7, 0);
  pg_question_answer_set (a, "name", "Bob");
  g_autoptr (GVariant) v = g_variant_ref_sink (pg_question_answer_to_variant (a));
  g_autoptr (PgQuestionAnswer) back = pg_question_answer_from_variant (v);
  g_assert_cmpuint (back->id, ==, 7);
  g_assert_cmpstr (g_hash_table_lookup (back->values, "name"), ==, "Bob");
  g_autoptr (GVariant) wrong = g_variant_ref_sink (g_variant_new ("(s)", "x"));
  g_assert_null (pg_question_from_variant (wrong));
  g_assert_null (pg_question_answer_from_variant (wrong));
}

static xmlNode *
field_of (xmlNode *x, const char *var)
{
  for (xmlNode *f = x->children; f != NULL; f = f->next)
    if (g_strcmp0 (pg_stanza_get_attr (f, "var"), var) == 0)
      return f;
  return NULL;
}

static void
test_form_mapping (void)
{
  const char *const no_dirs[] = { NULL };
  g_autoptr (PgI18n) i18n = pg_i18n_new (no_dirs);
  g_autoptr (PgQuestion) q = fields_question ();
  g_autoptr (PgStanza) parent = pg_stanza_new ("command", NULL, NULL, NULL, NULL);
  xmlNode *x = pg_question_add_form (parent, q, i18n, NULL);
  static const struct
  {
    const char *var, *type;
  } cases[] = {
    { "name", "text-single" },  { "bio", "text-multi" },
    { "code", "text-private" }, { "age", "text-single" },
    { "ok", "boolean" },        { "colour", "list-single" },
    { "many", "list-multi" },   { PG_QUESTION_FORM_ACTION, "list-single" },
  };
  g_assert_cmpstr (pg_stanza_get_attr (x, "type"), ==, "form");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      xmlNode *f = field_of (x, cases[i].var);
      g_assert_nonnull (f);
      g_assert_cmpstr (pg_stanza_get_attr (f, "type"), ==, cases[i].type);
    }
  g_assert_nonnull (pg_stanza_find_child (field_of (x, "name"), "required", PG_NS_DATA));
  xmlNode *validate = pg_stanza_find_child (field_of (x, "age"), "validate", PG_NS_XDATA_VALIDATE);
  g_assert_nonnull (validate);
  g_assert_cmpstr (pg_stanza_get_attr (validate, "datatype"), ==, "xs:integer");
  g_assert_cmpuint (pg_stanza_count_elements (field_of (x, "bio")), ==, 2); /* two <value/>s */
  g_autofree char *s = pg_stanza_to_string (x);
  g_assert_nonnull (strstr (s, "fixed"));
  g_assert_nonnull (strstr (s, "Read this"));
  g_assert_nonnull (strstr (s, "blue"));

  g_autoptr (PgQuestion) c = certificate_question ();
  g_autoptr (PgStanza) parent2 = pg_stanza_new ("command", NULL, NULL, NULL, NULL);
  xmlNode *cx = pg_question_add_form (parent2, c, i18n, NULL);
  g_autofree char *fp = pg_stanza_dup_child_text (field_of (cx, "fingerprint"), "value", PG_NS_DATA);
  g_assert_cmpstr (fp, ==, "AA:BB");
  g_assert_cmpstr (pg_stanza_get_attr (field_of (cx, "host"), "type"), ==, "fixed");
}

static PgForm *
submitted (xmlDoc **doc, const char *fields_xml)
{
  g_autofree char *xml = g_strdup_printf ("<x xmlns='jabber:x:data' type='submit'>%s</x>", fields_xml);
  *doc = xmlReadMemory (xml, (int)strlen (xml), "x.xml", "UTF-8", XML_PARSE_NONET | XML_PARSE_NOBLANKS);
  g_assert_nonnull (*doc);
  return pg_form_parse (xmlDocGetRootElement (*doc), NULL, NULL);
}

static void
test_form_answers (void)
{
  static const struct
  {
    const char *fields;
    GQuark domain;
    int code; /* -1: accepted */
  } cases[] = {
    { "<field var='name'><value>Zed</value></field><field var='code'><value>1234</value></field>", 0, -1 },
    { "<field var='name'><value>Zed</value></field>", 0, PG_QUESTION_FORM_ERROR_MISSING },
    { "<field var='name'><value>Z</value></field><field var='code'><value>1</value></field>"
      "<field var='age'><value>x1</value></field>",
      0, PG_QUESTION_FORM_ERROR_INVALID },
    { "<field var='name'><value>Z</value></field><field var='code'><value>1</value></field>"
      "<field var='colour'><value>9</value></field>",
      0, PG_QUESTION_FORM_ERROR_INVALID },
    { "<field var='pg-action'><value>1</value></field>", 0, -1 }, /* Cancel: nothing required */
    { "<field var='pg-action'><value>5</value></field>", 0, PG_QUESTION_FORM_ERROR_INVALID },
  };
  g_autoptr (PgQuestion) q = fields_question ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      xmlDoc *doc = NULL;
      g_autoptr (PgForm) form = submitted (&doc, cases[i].fields);
      g_autoptr (GError) error = NULL;
      g_autoptr (PgQuestionAnswer) a = pg_question_answer_from_form (q, form, &error);
      if (cases[i].code < 0)
        g_assert_no_error (error);
      else
        g_assert_error (error, PG_QUESTION_FORM_ERROR, cases[i].code);
      xmlFreeDoc (doc);
    }
  xmlDoc *doc = NULL;
  g_autoptr (PgForm) form = submitted (&doc, "<field var='name'><value>Zed</value></field>"
                                             "<field var='code'><value>77</value></field>"
                                             "<field var='ok'><value>true</value></field>"
                                             "<field var='many'><value>1</value><value>2</value></field>");
  g_autoptr (PgQuestionAnswer) a = pg_question_answer_from_form (q, form, NULL);
  g_assert_cmpint (a->action, ==, 0);
  g_assert_cmpstr (g_hash_table_lookup (a->values, "ok"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (a->values, "many"), ==, "1\n2");
  g_assert_false (g_hash_table_contains (a->values, "age")); /* XEP-0004 §3.5: default stays */
  xmlFreeDoc (doc);
}

static void
test_text_answers (void)
{
  g_autoptr (PgQuestion) cert = certificate_question ();
  g_autoptr (PgQuestion) input = pg_question_new (PG_QUESTION_INPUT);
  const char *const ok_cancel[] = { "OK", "Cancel", NULL };
  g_strfreev (input->actions);
  input->actions = g_strdupv ((char **)ok_cancel);
  input->cancel_action = 1;
  pg_question_add_field (input, "text", PG_QUESTION_FIELD_TEXT_PRIVATE, NULL, NULL, NULL, TRUE);
  g_autoptr (PgQuestion) choice = pg_question_copy (input);
  g_ptr_array_set_size (choice->fields, 0);
  const char *const opts[] = { "SMS", "Call", NULL };
  pg_question_add_field (choice, "choice", PG_QUESTION_FIELD_CHOICE, NULL, "0", opts, TRUE);
  g_autoptr (PgQuestion) many = fields_question ();

  static const struct
  {
    int which; /* 0 cert, 1 input, 2 choice, 3 fields */
    const char *text;
    int action;        /* -1: an error */
    const char *value; /* of the single field */
  } cases[] = {
    { 0, "1", 0, NULL },      { 0, "2", 1, NULL },      { 0, " reject ", 1, NULL },
    { 0, "Accept", 0, NULL }, { 0, "yes", 0, NULL },    { 0, "NO", 1, NULL },
    { 0, "3", -1, NULL },     { 0, "maybe", -1, NULL }, { 1, "123456", 0, "123456" },
    { 1, "  ", -1, NULL },    { 2, "2", 0, "1" },       { 2, "sms", 0, "0" },
    { 2, "4", -1, NULL },     { 3, "Ann", -1, NULL },
  };
  const PgQuestion *questions[] = { cert, input, choice, many };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const PgQuestion *q = questions[cases[i].which];
      g_autoptr (GError) error = NULL;
      g_autoptr (PgQuestionAnswer) a = pg_question_answer_from_text (q, cases[i].text, &error);
      if (cases[i].action < 0)
        {
          g_assert_null (a);
          g_assert_nonnull (error);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint (a->action, ==, cases[i].action);
      if (cases[i].value != NULL)
        g_assert_cmpstr (g_hash_table_lookup (a->values, ((PgQuestionField *)q->fields->pdata[0])->id), ==,
                         cases[i].value);
    }
  g_assert_false (pg_question_takes_text (many));
  g_assert_true (pg_question_takes_text (cert));
}

static void
test_message (void)
{
  const char *const no_dirs[] = { NULL };
  g_autoptr (PgI18n) i18n = pg_i18n_new (no_dirs);
  g_autoptr (PgQuestion) cert = certificate_question ();
  g_autofree char *body
      = pg_question_dup_message (cert, 4, "XMPP", "Answer pending questions", 300, i18n, NULL);
  g_assert_nonnull (strstr (body, "question 4"));
  g_assert_nonnull (strstr (body, "legacy.example"));
  g_assert_nonnull (strstr (body, "AA:BB"));
  g_assert_nonnull (strstr (body, "1. Accept"));
  g_assert_nonnull (strstr (body, "2. Reject"));
  g_assert_nonnull (strstr (body, "300"));
  /* How a reply picks this question among several. */
  g_assert_nonnull (strstr (body, "“#4 ”"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/question/variant/round-trip", test_variant_round_trip);
  g_test_add_func ("/question/form/mapping", test_form_mapping);
  g_test_add_func ("/question/form/answers", test_form_answers);
  g_test_add_func ("/question/text/answers", test_text_answers);
  g_test_add_func ("/question/text/message", test_message);
  return g_test_run ();
}
