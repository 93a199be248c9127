/* legacy/question.c — the question model and its worker-link form. */
#define G_LOG_DOMAIN "pg-question"
#include "build-config.h"

#include "legacy/question.h"

#include <string.h>

/* (id, kind, title, primary, secondary,
 *  fields (id, type, label, value, options, required),
 *  actions, default action, cancel action, host, subject, fingerprint) */
#define QUESTION_TYPE PG_QUESTION_VARIANT_TYPE
#define ANSWER_TYPE PG_QUESTION_ANSWER_VARIANT_TYPE

static void
field_free (PgQuestionField *field)
{
  g_free (field->id);
  g_free (field->label);
  g_free (field->value);
  g_strfreev (field->options);
  g_free (field);
}

PgQuestion *
pg_question_new (PgQuestionKind kind)
{
  PgQuestion *question = g_new0 (PgQuestion, 1);
  question->kind = kind;
  question->fields = g_ptr_array_new_with_free_func ((GDestroyNotify)field_free);
  question->actions = g_new0 (char *, 1);
  question->cancel_action = -1;
  return question;
}

void
pg_question_free (PgQuestion *question)
{
  if (question == NULL)
    return;
  g_free (question->title);
  g_free (question->primary);
  g_free (question->secondary);
  g_ptr_array_unref (question->fields);
  g_strfreev (question->actions);
  g_free (question->host);
  g_free (question->subject);
  g_free (question->fingerprint);
  g_free (question);
}

PgQuestion *
pg_question_copy (const PgQuestion *question)
{
  g_autoptr (GVariant) variant = g_variant_ref_sink (pg_question_to_variant (question));
  return pg_question_from_variant (variant);
}

PgQuestionField *
pg_question_add_field (PgQuestion *question, const char *id, PgQuestionFieldType type, const char *label,
                       const char *value, const char *const *options, gboolean required)
{
  PgQuestionField *field = g_new0 (PgQuestionField, 1);
  field->id = g_strdup (id);
  field->type = type;
  field->label = g_strdup (label);
  field->value = g_strdup (value);
  field->options = options != NULL ? g_strdupv ((char **)options) : NULL;
  field->required = required;
  g_ptr_array_add (question->fields, field);
  return field;
}

const PgQuestionField *
pg_question_find_field (const PgQuestion *question, const char *id)
{
  for (guint i = 0; i < question->fields->len; i++)
    {
      const PgQuestionField *field = g_ptr_array_index (question->fields, i);
      if (strcmp (field->id, id) == 0)
        return field;
    }
  return NULL;
}

guint
pg_question_count_inputs (const PgQuestion *question)
{
  guint n = 0;
  for (guint i = 0; i < question->fields->len; i++)
    n += ((PgQuestionField *)g_ptr_array_index (question->fields, i))->type != PG_QUESTION_FIELD_LABEL;
  return n;
}

GVariant *
pg_question_to_variant (const PgQuestion *question)
{
  GVariantBuilder fields;
  g_variant_builder_init (&fields, G_VARIANT_TYPE ("a(sumsmsasb)"));
  for (guint i = 0; i < question->fields->len; i++)
    {
      const PgQuestionField *field = g_ptr_array_index (question->fields, i);
      const char *const none[] = { NULL };
      g_variant_builder_add (
          &fields, "(sumsms^asb)", field->id, (guint32)field->type, field->label, field->value,
          field->options != NULL ? (const char *const *)field->options : none, field->required);
    }
  return g_variant_new ("(uumsmsmsa(sumsmsasb)^asiimsmsms)", question->id, (guint32)question->kind,
                        question->title, question->primary, question->secondary, &fields, question->actions,
                        question->default_action, question->cancel_action, question->host, question->subject,
                        question->fingerprint);
}

PgQuestion *
pg_question_from_variant (GVariant *variant)
{
  if (variant == NULL || !g_variant_is_of_type (variant, G_VARIANT_TYPE (QUESTION_TYPE)))
    return NULL;
  guint32 kind;
  g_autoptr (GVariantIter) fields = NULL;
  PgQuestion *question = pg_question_new (PG_QUESTION_INPUT);
  g_strfreev (question->actions);
  g_variant_get (variant, "(uumsmsmsa(sumsmsasb)^asiimsmsms)", &question->id, &kind, &question->title,
                 &question->primary, &question->secondary, &fields, &question->actions,
                 &question->default_action, &question->cancel_action, &question->host, &question->subject,
                 &question->fingerprint);
  question->kind = MIN (kind, PG_QUESTION_CERTIFICATE);
  const char *id, *label, *value;
  g_autofree const char **options = NULL;
  guint32 type;
  gboolean required;
  while (g_variant_iter_next (fields, "(&sum&sm&s^a&sb)", &id, &type, &label, &value, &options, &required))
    {
      pg_question_add_field (question, id, MIN (type, PG_QUESTION_FIELD_LABEL), label, value,
                             options[0] != NULL ? options : NULL, required);
      g_clear_pointer (&options, g_free);
    }
  return question;
}

PgQuestionAnswer *
pg_question_answer_new (guint32 id, int action)
{
  PgQuestionAnswer *answer = g_new0 (PgQuestionAnswer, 1);
  answer->id = id;
  answer->action = action;
  answer->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return answer;
}

void
pg_question_answer_free (PgQuestionAnswer *answer)
{
  if (answer == NULL)
    return;
  g_hash_table_unref (answer->values);
  g_free (answer);
}

void
pg_question_answer_set (PgQuestionAnswer *answer, const char *field_id, const char *value)
{
  g_hash_table_replace (answer->values, g_strdup (field_id), g_strdup (value));
}

GVariant *
pg_question_answer_to_variant (const PgQuestionAnswer *answer)
{
  GVariantBuilder values;
  GHashTableIter iter;
  gpointer key, value;
  g_variant_builder_init (&values, G_VARIANT_TYPE ("a{ss}"));
  g_hash_table_iter_init (&iter, answer->values);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_variant_builder_add (&values, "{ss}", key, value);
  return g_variant_new (ANSWER_TYPE, answer->id, answer->action, &values);
}

PgQuestionAnswer *
pg_question_answer_from_variant (GVariant *variant)
{
  if (variant == NULL || !g_variant_is_of_type (variant, G_VARIANT_TYPE (ANSWER_TYPE)))
    return NULL;
  guint32 id;
  int action;
  g_autoptr (GVariantIter) values = NULL;
  g_variant_get (variant, ANSWER_TYPE, &id, &action, &values);
  PgQuestionAnswer *answer = pg_question_answer_new (id, action);
  const char *key, *value;
  while (g_variant_iter_next (values, "{&s&s}", &key, &value))
    pg_question_answer_set (answer, key, value);
  return answer;
}

int
pg_question_get_accepting_action (const PgQuestion *question)
{
  if (question->default_action != question->cancel_action)
    return question->default_action;
  return question->cancel_action == 0 ? 1 : 0;
}

int
pg_question_get_declining_action (const PgQuestion *question)
{
  return question->cancel_action >= 0 ? question->cancel_action : question->default_action;
}
