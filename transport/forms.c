/* transport/forms.c — XEP-0004 data forms. */
#define G_LOG_DOMAIN "pg-forms"
#include "build-config.h"

#include "transport/forms.h"

#include "transport/stanza.h"

#include <string.h>

G_DEFINE_QUARK (pg - form - error - quark, pg_form_error)

struct PgForm
{
  char *type;
  GHashTable *fields; /* var → GPtrArray of values */
};

xmlNode *
pg_form_add (xmlNode *parent, const char *type, const char *title, const char *instructions,
             const char *form_type)
{
  xmlNode *x = pg_stanza_add_child (parent, "x", PG_NS_DATA);
  pg_stanza_set_attr (x, "type", type);
  if (title != NULL)
    pg_stanza_add_text_child (x, "title", NULL, title);
  if (instructions != NULL)
    pg_stanza_add_text_child (x, "instructions", NULL, instructions);
  if (form_type != NULL)
    pg_form_add_field (x, "FORM_TYPE", "hidden", NULL, FALSE, form_type);
  return x;
}

xmlNode *
pg_form_add_field (xmlNode *form, const char *var, const char *type, const char *label, gboolean required,
                   const char *value)
{
  xmlNode *field = pg_stanza_add_child (form, "field", NULL);
  pg_stanza_set_attr (field, "var", var);
  pg_stanza_set_attr (field, "type", type);
  pg_stanza_set_attr (field, "label", label);
  if (required)
    pg_stanza_add_child (field, "required", NULL);
  if (value != NULL)
    pg_stanza_add_text_child (field, "value", NULL, value);
  return field;
}

static const char *const form_types[] = { "form", "submit", "cancel", "result" };

PgForm *
pg_form_parse (const xmlNode *x, const char *expected_form_type, GError **error)
{
  const char *type = pg_stanza_get_attr (x, "type");
  gboolean known = FALSE;
  for (guint i = 0; type != NULL && i < G_N_ELEMENTS (form_types) && !known; i++)
    known = strcmp (form_types[i], type) == 0;
  if (!pg_stanza_is (x, "x", PG_NS_DATA) || !known)
    {
      g_set_error (error, PG_FORM_ERROR, PG_FORM_ERROR_BAD_TYPE,
                   "form type '%s' is not one of form, submit, cancel, result", type ? type : "");
      return NULL;
    }

  g_autoptr (PgForm) form = g_new0 (PgForm, 1);
  form->type = g_strdup (type);
  form->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  for (xmlNode *field = x->children; field != NULL; field = field->next)
    {
      if (!pg_stanza_is (field, "field", PG_NS_DATA))
        continue;
      const char *var = pg_stanza_get_attr (field, "var");
      if (var == NULL || g_hash_table_contains (form->fields, var))
        continue; /* fixed fields have no var; a repeated var is ignored */
      GPtrArray *values = g_ptr_array_new_with_free_func (g_free);
      for (xmlNode *value = field->children; value != NULL; value = value->next)
        if (pg_stanza_is (value, "value", PG_NS_DATA))
          g_ptr_array_add (values, pg_stanza_dup_text (value));
      g_hash_table_insert (form->fields, g_strdup (var), values);
    }

  /* XEP-0068 §5: FORM_TYPE identifies the form even without type='hidden'. */
  const char *form_type = pg_form_get_value (form, "FORM_TYPE");
  if (expected_form_type != NULL && form_type != NULL && strcmp (form_type, expected_form_type) != 0)
    {
      g_set_error (error, PG_FORM_ERROR, PG_FORM_ERROR_BAD_FORM_TYPE, "FORM_TYPE '%s' is not '%s'", form_type,
                   expected_form_type);
      return NULL;
    }
  return g_steal_pointer (&form);
}

void
pg_form_free (PgForm *form)
{
  if (form == NULL)
    return;
  g_free (form->type);
  g_clear_pointer (&form->fields, g_hash_table_unref);
  g_free (form);
}

const char *
pg_form_get_type (const PgForm *form)
{
  return form->type;
}

const char *
pg_form_get_value (const PgForm *form, const char *var)
{
  GPtrArray *values = g_hash_table_lookup (form->fields, var);
  if (values == NULL)
    return NULL;
  return values->len > 0 ? g_ptr_array_index (values, 0) : "";
}

char *
pg_form_dup_text (const PgForm *form, const char *var)
{
  GPtrArray *values = g_hash_table_lookup (form->fields, var);
  if (values == NULL)
    return NULL;
  g_ptr_array_add (values, NULL);
  char *joined = g_strjoinv ("\n", (char **)values->pdata);
  g_ptr_array_remove_index (values, values->len - 1);
  return joined;
}

gboolean
pg_form_get_boolean (const PgForm *form, const char *var, gboolean fallback, gboolean *value, GError **error)
{
  const char *text = pg_form_get_value (form, var);
  if (text == NULL)
    *value = fallback;
  else if (strcmp (text, "1") == 0 || strcmp (text, "true") == 0)
    *value = TRUE;
  else if (strcmp (text, "0") == 0 || strcmp (text, "false") == 0)
    *value = FALSE;
  else
    {
      g_set_error (error, PG_FORM_ERROR, PG_FORM_ERROR_INVALID, "field '%s': '%s' is not a boolean", var,
                   text);
      return FALSE;
    }
  return TRUE;
}
