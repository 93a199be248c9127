/* transport/forms.h — XEP-0004 data forms: building forms, reading submissions. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#define PG_NS_DATA "jabber:x:data"

#define PG_FORM_ERROR (pg_form_error_quark ())
GQuark pg_form_error_quark (void);
typedef enum
{
  PG_FORM_ERROR_BAD_TYPE,      /* <x type> missing or not form/submit/cancel/result */
  PG_FORM_ERROR_BAD_FORM_TYPE, /* FORM_TYPE differs from the expected one */
  PG_FORM_ERROR_INVALID,       /* a field value does not fit its type */
} PgFormError;

/* Appends <x xmlns='jabber:x:data' type=@type> to @parent with an optional
 * title, instructions and hidden FORM_TYPE. Returns it, borrowed. */
xmlNode *pg_form_add (xmlNode *parent, const char *type, const char *title, const char *instructions,
                      const char *form_type);
/* Appends a field; @label, @value may be NULL. Returns it, borrowed. */
xmlNode *pg_form_add_field (xmlNode *form, const char *var, const char *type, const char *label,
                            gboolean required, const char *value);

typedef struct PgForm PgForm;

/* Reads the form @x (borrowed). With @expected_form_type set, a FORM_TYPE
 * field naming another form type is an error. Caller owns the result. */
PgForm *pg_form_parse (const xmlNode *x, const char *expected_form_type, GError **error);
void pg_form_free (PgForm *form);
/* "form", "submit", "cancel" or "result". Borrowed. */
const char *pg_form_get_type (const PgForm *form);
/* First value of field @var, or NULL when absent. Borrowed. */
const char *pg_form_get_value (const PgForm *form, const char *var);
/* All values of @var joined by '\n' (text-multi), or NULL. Owned. */
char *pg_form_dup_text (const PgForm *form, const char *var);
/* XEP-0004 §3.3 boolean: 0, 1, false, true. FALSE + error otherwise;
 * @fallback when the field is absent. */
gboolean pg_form_get_boolean (const PgForm *form, const char *var, gboolean fallback, gboolean *value,
                              GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgForm, pg_form_free)
