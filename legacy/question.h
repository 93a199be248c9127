/* legacy/question.h — a question libpurple asks a login's user (its request
 * API: input, choice, action, fields; certificate trust), and the answer.
 *
 * The glue (legacy/purple-request.c) describes each request as a PgQuestion
 * and raises the question event (legacy/account.h); the answer comes back
 * through pg_account_answer_question().  Both cross the worker link as
 * GVariants (pg_question_to_variant()).  Nothing here is libpurple's: the
 * session layer shows questions as XEP-0004 forms (legacy/question-form.h). */
#pragma once
#include <glib.h>

typedef enum
{
  PG_QUESTION_INPUT,       /* one text to type */
  PG_QUESTION_CHOICE,      /* one of several options */
  PG_QUESTION_ACTION,      /* one of several buttons */
  PG_QUESTION_FIELDS,      /* a form of typed fields */
  PG_QUESTION_CERTIFICATE, /* trust an unverified TLS certificate? (an action) */
} PgQuestionKind;

typedef enum
{
  PG_QUESTION_FIELD_TEXT,
  PG_QUESTION_FIELD_TEXT_MULTI,
  PG_QUESTION_FIELD_TEXT_PRIVATE, /* a password or a code: masked */
  PG_QUESTION_FIELD_INTEGER,
  PG_QUESTION_FIELD_BOOLEAN,
  PG_QUESTION_FIELD_CHOICE,     /* one of @options; the value is the option's index */
  PG_QUESTION_FIELD_LIST_MULTI, /* some of @options; values are indexes, one per line */
  PG_QUESTION_FIELD_LABEL,      /* text to read, nothing to answer */
} PgQuestionFieldType;

typedef struct
{
  char *id; /* unique within the question */
  PgQuestionFieldType type;
  char *label;   /* may be NULL */
  char *value;   /* the default: text, a number, "1"/"0", option indexes; may be NULL */
  GStrv options; /* CHOICE, LIST_MULTI: the labels; NULL otherwise */
  gboolean required;
} PgQuestionField;

/* Every string is owned; free with pg_question_free(). */
typedef struct
{
  guint32 id; /* unique within the login */
  PgQuestionKind kind;
  char *title;       /* may be NULL */
  char *primary;     /* may be NULL */
  char *secondary;   /* may be NULL */
  GPtrArray *fields; /* PgQuestionField */
  /* The buttons, in libpurple's order (for INPUT, CHOICE and FIELDS: OK
   * then Cancel). Mnemonic underscores removed. */
  GStrv actions;
  int default_action;
  int cancel_action; /* the button that declines (Cancel, Reject…), or -1 */
  /* CERTIFICATE: the host asked for, the certificate's subject and its
   * SHA-256 fingerprint (hex pairs joined by ':'). NULL otherwise. */
  char *host;
  char *subject;
  char *fingerprint;
} PgQuestion;

/* The user's answer. */
typedef struct
{
  guint32 id;         /* the question's */
  int action;         /* the button pressed: an index of actions */
  GHashTable *values; /* field id → text, as PgQuestionField.value; owned */
} PgQuestionAnswer;

PgQuestion *pg_question_new (PgQuestionKind kind);
void pg_question_free (PgQuestion *question);
/* A deep copy. Caller owns it. */
PgQuestion *pg_question_copy (const PgQuestion *question);
/* Appends a field; @options (NULL-terminated, copied) may be NULL.
 * Returns it, borrowed. */
PgQuestionField *pg_question_add_field (PgQuestion *question, const char *id, PgQuestionFieldType type,
                                        const char *label, const char *value, const char *const *options,
                                        gboolean required);
/* The field called @id, or NULL. Borrowed. */
const PgQuestionField *pg_question_find_field (const PgQuestion *question, const char *id);
/* The fields an answer fills (not labels). */
guint pg_question_count_inputs (const PgQuestion *question);
/* The first button that does not decline, and the one that declines (the
 * default when none does): indexes of @question->actions. */
int pg_question_get_accepting_action (const PgQuestion *question);
int pg_question_get_declining_action (const PgQuestion *question);

/* As the worker link carries them (of these GVariant types). The variant
 * is floating; a variant that is not of the type gives NULL. */
#define PG_QUESTION_VARIANT_TYPE "(uumsmsmsa(sumsmsasb)asiimsmsms)"
#define PG_QUESTION_ANSWER_VARIANT_TYPE "(uia{ss})"
GVariant *pg_question_to_variant (const PgQuestion *question);
PgQuestion *pg_question_from_variant (GVariant *variant);

/* An answer pressing @action with no values yet. Free with
 * pg_question_answer_free(). */
PgQuestionAnswer *pg_question_answer_new (guint32 id, int action);
void pg_question_answer_free (PgQuestionAnswer *answer);
void pg_question_answer_set (PgQuestionAnswer *answer, const char *field_id, const char *value);
GVariant *pg_question_answer_to_variant (const PgQuestionAnswer *answer);
PgQuestionAnswer *pg_question_answer_from_variant (GVariant *variant);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgQuestion, pg_question_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgQuestionAnswer, pg_question_answer_free)
