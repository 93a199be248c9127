/* legacy/question-form.c — questions as XEP-0004 forms and as plain text. */
#define G_LOG_DOMAIN "pg-question-form"
#include "build-config.h"

#include "legacy/question-form.h"

#include "transport/stanza.h"

#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (pg - question - form - error - quark, pg_question_form_error)

#define T(msgid) pg_i18n_translate (i18n, lang, msgid)

static const char *
form_type_of (PgQuestionFieldType type)
{
  switch (type)
    {
    case PG_QUESTION_FIELD_TEXT_MULTI:
      return "text-multi";
    case PG_QUESTION_FIELD_TEXT_PRIVATE:
      return "text-private";
    case PG_QUESTION_FIELD_BOOLEAN:
      return "boolean";
    case PG_QUESTION_FIELD_CHOICE:
      return "list-single";
    case PG_QUESTION_FIELD_LIST_MULTI:
      return "list-multi";
    case PG_QUESTION_FIELD_LABEL:
      return "fixed";
    case PG_QUESTION_FIELD_TEXT:
    case PG_QUESTION_FIELD_INTEGER:
    default:
      return "text-single";
    }
}

static void
add_options (xmlNode *field, const char *const *labels)
{
  for (guint i = 0; labels != NULL && labels[i] != NULL; i++)
    {
      g_autofree char *value = g_strdup_printf ("%u", i);
      xmlNode *option = pg_stanza_add_child (field, "option", NULL);
      pg_stanza_set_attr (option, "label", labels[i]);
      pg_stanza_add_text_child (option, "value", NULL, value);
    }
}

char *
pg_question_dup_instructions (const PgQuestion *question)
{
  GString *text = g_string_new (NULL);
  const char *parts[] = { question->primary, question->secondary };
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    if (parts[i] != NULL && *parts[i] != '\0')
      g_string_append_printf (text, "%s%s", text->len > 0 ? "\n" : "", parts[i]);
  return g_string_free (text, text->len == 0);
}

xmlNode *
pg_question_add_form (xmlNode *parent, const PgQuestion *question, PgI18n *i18n, const char *lang)
{
  g_autofree char *instructions = pg_question_dup_instructions (question);
  xmlNode *form = pg_form_add (parent, "form", question->title, instructions, NULL);
  pg_question_fill_form (form, question, i18n, lang);
  return form;
}

void
pg_question_fill_form (xmlNode *form, const PgQuestion *question, PgI18n *i18n, const char *lang)
{
  if (question->kind == PG_QUESTION_CERTIFICATE)
    {
      pg_form_add_field (form, "host", "fixed", T (N_ ("Host")), FALSE, question->host);
      pg_form_add_field (form, "subject", "fixed", T (N_ ("Certificate subject")), FALSE, question->subject);
      pg_form_add_field (form, "fingerprint", "fixed", T (N_ ("SHA-256 fingerprint")), FALSE,
                         question->fingerprint);
    }
  for (guint i = 0; i < question->fields->len; i++)
    {
      const PgQuestionField *field = g_ptr_array_index (question->fields, i);
      gboolean multi
          = field->type == PG_QUESTION_FIELD_LIST_MULTI || field->type == PG_QUESTION_FIELD_TEXT_MULTI;
      if (field->type == PG_QUESTION_FIELD_LABEL)
        {
          /* XEP-0004 §3.3: a fixed field's text is its value. */
          pg_form_add_field (form, NULL, "fixed", NULL, FALSE, field->label);
          continue;
        }
      xmlNode *node = pg_form_add_field (form, field->id, form_type_of (field->type), field->label,
                                         field->required, multi ? NULL : field->value);
      if (multi && field->value != NULL)
        {
          g_auto (GStrv) lines = g_strsplit (field->value, "\n", -1);
          for (guint l = 0; lines[l] != NULL; l++)
            pg_stanza_add_text_child (node, "value", NULL, lines[l]);
        }
      add_options (node, (const char *const *)field->options);
      if (field->type == PG_QUESTION_FIELD_INTEGER)
        {
          /* XEP-0122 §3.2: the datatype, validated as typed (basic). */
          xmlNode *validate = pg_stanza_add_child (node, "validate", PG_NS_XDATA_VALIDATE);
          pg_stanza_set_attr (validate, "datatype", "xs:integer");
          pg_stanza_add_child (validate, "basic", NULL);
        }
    }
  g_autofree char *chosen = g_strdup_printf ("%d", question->default_action);
  xmlNode *actions
      = pg_form_add_field (form, PG_QUESTION_FORM_ACTION, "list-single", T (N_ ("Answer")), TRUE, chosen);
  add_options (actions, (const char *const *)question->actions);
}

/* ---- reading answers ---- */

static gboolean
parse_index (const char *text, guint n, guint *index)
{
  char *end = NULL;
  if (text == NULL || !g_ascii_isdigit (*text))
    return FALSE;
  guint64 v = g_ascii_strtoull (text, &end, 10);
  if (*end != '\0' || v >= n)
    return FALSE;
  *index = (guint)v;
  return TRUE;
}

static gboolean
is_integer (const char *text)
{
  char *end = NULL;
  if (text == NULL || *text == '\0')
    return FALSE;
  g_ascii_strtoll (text, &end, 10);
  return *end == '\0';
}

/* @value for @field, checked and in the answer's spelling; NULL: invalid. */
static char *
checked_value (const PgQuestionField *field, const char *value)
{
  guint n = field->options != NULL ? g_strv_length (field->options) : 0;
  guint index;
  switch (field->type)
    {
    case PG_QUESTION_FIELD_INTEGER:
      return is_integer (value) ? g_strdup (value) : NULL;
    case PG_QUESTION_FIELD_BOOLEAN:
      if (g_strcmp0 (value, "1") == 0 || g_strcmp0 (value, "true") == 0)
        return g_strdup ("1");
      if (g_strcmp0 (value, "0") == 0 || g_strcmp0 (value, "false") == 0)
        return g_strdup ("0");
      return NULL;
    case PG_QUESTION_FIELD_CHOICE:
      return parse_index (value, n, &index) ? g_strdup_printf ("%u", index) : NULL;
    case PG_QUESTION_FIELD_LIST_MULTI:
      {
        g_auto (GStrv) parts = g_strsplit (value, "\n", -1);
        for (guint i = 0; parts[i] != NULL; i++)
          if (!parse_index (parts[i], n, &index))
            return NULL;
        return g_strdup (value);
      }
    default:
      return g_strdup (value);
    }
}

PgQuestionAnswer *
pg_question_answer_from_form (const PgQuestion *question, const PgForm *form, GError **error)
{
  guint n_actions = g_strv_length (question->actions);
  const char *action = pg_form_get_value (form, PG_QUESTION_FORM_ACTION);
  guint chosen = (guint)MAX (question->default_action, 0);

  if (action != NULL && *action != '\0' && !parse_index (action, n_actions, &chosen))
    {
      g_set_error_literal (error, PG_QUESTION_FORM_ERROR, PG_QUESTION_FORM_ERROR_INVALID,
                           N_ ("The answer is not one of the options."));
      return NULL;
    }
  g_autoptr (PgQuestionAnswer) answer = pg_question_answer_new (question->id, (int)chosen);
  gboolean declined = (int)chosen == question->cancel_action;
  for (guint i = 0; i < question->fields->len; i++)
    {
      const PgQuestionField *field = g_ptr_array_index (question->fields, i);
      if (field->type == PG_QUESTION_FIELD_LABEL)
        continue;
      g_autofree char *value = pg_form_dup_text (form, field->id);
      if (value == NULL || *value == '\0')
        {
          if (field->required && !declined && field->type != PG_QUESTION_FIELD_BOOLEAN)
            {
              g_set_error_literal (error, PG_QUESTION_FORM_ERROR, PG_QUESTION_FORM_ERROR_MISSING,
                                   N_ ("A required field is empty."));
              return NULL;
            }
          continue; /* XEP-0004 §3.5: the default stays */
        }
      g_autofree char *checked = checked_value (field, value);
      if (checked == NULL)
        {
          g_set_error_literal (error, PG_QUESTION_FORM_ERROR, PG_QUESTION_FORM_ERROR_INVALID,
                               field->type == PG_QUESTION_FIELD_INTEGER
                                   ? N_ ("A number field holds something else than a whole number.")
                                   : N_ ("The answer is not one of the options."));
          return NULL;
        }
      pg_question_answer_set (answer, field->id, checked);
    }
  return g_steal_pointer (&answer);
}

/* The only field to answer, or NULL (none, or several). */
static const PgQuestionField *
single_input (const PgQuestion *question)
{
  const PgQuestionField *found = NULL;
  for (guint i = 0; i < question->fields->len; i++)
    {
      const PgQuestionField *field = g_ptr_array_index (question->fields, i);
      if (field->type == PG_QUESTION_FIELD_LABEL)
        continue;
      if (found != NULL)
        return NULL;
      found = field;
    }
  return found;
}

gboolean
pg_question_takes_text (const PgQuestion *question)
{
  const PgQuestionField *field = single_input (question);
  return pg_question_count_inputs (question) == 0
         || (field != NULL && field->type != PG_QUESTION_FIELD_LIST_MULTI);
}

static const char *const yes_words[] = { "yes", "y", "ja", "j", "ok", "true", "1" };
static const char *const no_words[] = { "no", "n", "nein", "false", "0" };

static gboolean
is_one_of (const char *text, const char *const *words, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (g_ascii_strcasecmp (text, words[i]) == 0)
      return TRUE;
  return FALSE;
}

/* @text as a number from 1 or a label of @labels: the index, or -1. */
static int
pick (const char *text, const char *const *labels)
{
  guint n = labels != NULL ? g_strv_length ((char **)labels) : 0;
  guint index;
  if (g_ascii_isdigit (*text))
    {
      char *end = NULL;
      guint64 v = g_ascii_strtoull (text, &end, 10);
      if (*end == '\0' && v >= 1 && v <= n)
        return (int)v - 1;
    }
  for (index = 0; index < n; index++)
    {
      g_autofree char *a = g_utf8_casefold (text, -1);
      g_autofree char *b = g_utf8_casefold (labels[index], -1);
      if (strcmp (a, b) == 0)
        return (int)index;
    }
  return -1;
}

static PgQuestionAnswer *
invalid (GError **error, const char *msgid)
{
  g_set_error_literal (error, PG_QUESTION_FORM_ERROR, PG_QUESTION_FORM_ERROR_INVALID, msgid);
  return NULL;
}

PgQuestionAnswer *
pg_question_answer_from_text (const PgQuestion *question, const char *text, GError **error)
{
  g_autofree char *line = g_strstrip (g_strdup (text != NULL ? text : ""));
  const PgQuestionField *field = single_input (question);
  int ok = question->default_action != question->cancel_action ? question->default_action : 0;

  if (*line == '\0')
    return invalid (error, N_ ("The answer is empty."));
  if (!pg_question_takes_text (question))
    {
      g_set_error_literal (error, PG_QUESTION_FORM_ERROR, PG_QUESTION_FORM_ERROR_NEEDS_FORM,
                           N_ ("This question has several fields: answer it with the command."));
      return NULL;
    }
  if (field == NULL)
    {
      /* Buttons only. */
      int chosen = pick (line, (const char *const *)question->actions);
      if (chosen < 0 && is_one_of (line, yes_words, G_N_ELEMENTS (yes_words)))
        chosen = ok;
      if (chosen < 0 && is_one_of (line, no_words, G_N_ELEMENTS (no_words)))
        chosen = question->cancel_action;
      if (chosen < 0)
        return invalid (error, N_ ("The answer is not one of the options."));
      return pg_question_answer_new (question->id, chosen);
    }
  g_autoptr (PgQuestionAnswer) answer = pg_question_answer_new (question->id, ok);
  switch (field->type)
    {
    case PG_QUESTION_FIELD_CHOICE:
      {
        int chosen = pick (line, (const char *const *)field->options);
        if (chosen < 0)
          return invalid (error, N_ ("The answer is not one of the options."));
        g_autofree char *value = g_strdup_printf ("%d", chosen);
        pg_question_answer_set (answer, field->id, value);
      }
      break;
    case PG_QUESTION_FIELD_BOOLEAN:
      if (is_one_of (line, yes_words, G_N_ELEMENTS (yes_words)))
        pg_question_answer_set (answer, field->id, "1");
      else if (is_one_of (line, no_words, G_N_ELEMENTS (no_words)))
        pg_question_answer_set (answer, field->id, "0");
      else
        return invalid (error, N_ ("Answer yes or no."));
      break;
    case PG_QUESTION_FIELD_INTEGER:
      if (!is_integer (line))
        return invalid (error, N_ ("A number field holds something else than a whole number."));
      pg_question_answer_set (answer, field->id, line);
      break;
    default:
      /* Text as typed: a code, a name, a password. */
      pg_question_answer_set (answer, field->id, line);
      break;
    }
  return g_steal_pointer (&answer);
}

/* ---- the message ---- */

char *
pg_question_dup_message (const PgQuestion *question, guint number, const char *legacy_name,
                         const char *command, guint timeout_s, PgI18n *i18n, const char *lang)
{
  GString *body = g_string_new (NULL);
  const PgQuestionField *field = single_input (question);

  g_string_append_printf (body, T (N_ ("%s asks (question %u):")), legacy_name, number);
  if (question->title != NULL)
    g_string_append_printf (body, "\n%s", question->title);
  g_autofree char *instructions = pg_question_dup_instructions (question);
  if (instructions != NULL)
    g_string_append_printf (body, "\n%s", instructions);
  if (question->kind == PG_QUESTION_CERTIFICATE)
    {
      g_string_append_printf (body, "\n%s: %s", T (N_ ("Host")), question->host ? question->host : "");
      g_string_append_printf (body, "\n%s: %s", T (N_ ("Certificate subject")),
                              question->subject ? question->subject : "");
      g_string_append_printf (body, "\n%s: %s", T (N_ ("SHA-256 fingerprint")),
                              question->fingerprint ? question->fingerprint : "");
    }
  const char *const *options = field == NULL ? (const char *const *)question->actions
                               : field->type == PG_QUESTION_FIELD_CHOICE ? (const char *const *)field->options
                                                                         : NULL;
  if (options != NULL)
    for (guint i = 0; options[i] != NULL; i++)
      g_string_append_printf (body, "\n  %u. %s", i + 1, options[i]);
  g_string_append_c (body, '\n');
  if (!pg_question_takes_text (question))
    g_string_append (body, T (N_ ("Answer it with the command below.")));
  else if (field == NULL || field->type == PG_QUESTION_FIELD_CHOICE)
    g_string_append (body,
                     T (N_ ("Reply with the number of your choice, or answer it with the command below.")));
  else if (field->type == PG_QUESTION_FIELD_BOOLEAN)
    g_string_append (body, T (N_ ("Reply yes or no, or answer it with the command below.")));
  else
    g_string_append (body, T (N_ ("Reply with the answer, or answer it with the command below.")));
  if (pg_question_takes_text (question))
    {
      /* Which question a reply answers (README "Questions from the legacy
       * network"): its thread, its number, else the oldest. */
      g_string_append_c (body, '\n');
      g_string_append_printf (body,
                              T (N_ ("With several questions waiting, start the reply with “#%u ” to answer "
                                     "this one; a reply without a number answers the oldest question a "
                                     "reply can answer.")),
                              number);
    }
  g_string_append_c (body, '\n');
  g_string_append_printf (body,
                          T (N_ ("Command: “%s” on the gateway. Unanswered, the question is cancelled "
                                 "in %u seconds.")),
                          command, timeout_s);
  return g_string_free (body, FALSE);
}
