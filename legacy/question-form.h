/* legacy/question-form.h — a libpurple question (legacy/question.h) as the
 * user sees it: a XEP-0004 form, a message in plain text, and the answers
 * read back from either.
 *
 * Field types map to XEP-0004 §3.3 types: text → text-single, multi-line
 * text → text-multi, masked text → text-private, integer → text-single
 * with a XEP-0122 xs:integer datatype, boolean → boolean, choice →
 * list-single, multiple choice → list-multi (option values are indexes),
 * labels → fixed. The buttons become the list-single PG_QUESTION_FORM_ACTION.
 * A certificate's host, subject and fingerprint are fixed fields. */
#pragma once
#include "legacy/question.h"
#include "transport/forms.h"
#include "transport/i18n.h"

/* The var of the list-single field holding the buttons. */
#define PG_QUESTION_FORM_ACTION "pg-action"
#define PG_NS_XDATA_VALIDATE "http://jabber.org/protocol/xdata-validate"

#define PG_QUESTION_FORM_ERROR (pg_question_form_error_quark ())
GQuark pg_question_form_error_quark (void);
typedef enum
{
  PG_QUESTION_FORM_ERROR_INVALID,    /* a value does not fit its field */
  PG_QUESTION_FORM_ERROR_MISSING,    /* a required field is empty */
  PG_QUESTION_FORM_ERROR_NEEDS_FORM, /* too much to answer in one line of text */
} PgQuestionFormError;
/* The errors' messages are English msgids (N_()), for the caller to
 * translate. */

/* Appends the form of @question to @parent, its labels and instructions
 * in @lang. Returns it, borrowed. */
xmlNode *pg_question_add_form (xmlNode *parent, const PgQuestion *question, PgI18n *i18n, const char *lang);
/* Adds the fields of @question to the form @form (a jabber:x:data <x/>). */
void pg_question_fill_form (xmlNode *form, const PgQuestion *question, PgI18n *i18n, const char *lang);
/* The primary and secondary texts, one per line, or NULL. Owned. */
char *pg_question_dup_instructions (const PgQuestion *question);
/* The answer a submitted @form gives, or NULL with @error. Caller owns it. */
PgQuestionAnswer *pg_question_answer_from_form (const PgQuestion *question, const PgForm *form,
                                                GError **error);

/* TRUE when a line of text can answer @question (one field at most). */
gboolean pg_question_takes_text (const PgQuestion *question);
/* The answer @text gives: a button or option by its number (from 1) or its
 * label, yes/no for the default and the declining button or a boolean,
 * the text itself for a text or number. NULL with @error. Caller owns it. */
PgQuestionAnswer *pg_question_answer_from_text (const PgQuestion *question, const char *text, GError **error);

/* The body of the message that asks @question in @lang, saying how to
 * answer it (@number: the question's number for the user; @command: the
 * ad-hoc command's name, translated here; @timeout_s). Caller owns it. */
char *pg_question_dup_message (const PgQuestion *question, guint number, const char *legacy_name,
                               const char *command, guint timeout_s, PgI18n *i18n, const char *lang);
