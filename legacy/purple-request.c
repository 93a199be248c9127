/* legacy/purple-request.c — libpurple's questions shown to the user of
 * the login that asks, its notices, and its authorization requests handed
 * to the owner.
 *
 * Requests (request UI ops): a request of one of our logins (its account,
 * or the certificate check of its TLS connection: purple-certificate.c)
 * becomes a question event (legacy/question.h); the answer
 * (pg_purple_account_answer_question) calls libpurple's callback.  Input,
 * choice and fields have two buttons for the answer: OK, then Cancel.  A
 * request of nobody's, file and folder requests, and the questions of a
 * login going away are answered without a person, as a daemon does: it
 * agrees to nothing on its own.
 *  - action: the action labelled Cancel/Reject/Deny/Decline/No, if any,
 *    else the default one (an untrusted certificate is rejected).
 *  - input, fields, file, folder: cancelled.  choice: the default value.
 *  Answers are given from an idle, like a person clicking later: libpurple
 *  is deep in a protocol when it asks (the certificate check runs inside
 *  the TLS handshake), and an answer there could end the connection under
 *  its caller.  libpurple may close a request first (the connection went);
 *  then it is never answered, and the user's question is withdrawn.
 * Notices (notify UI ops): logged at info level in domain "pg-purple" and
 *  closed from an idle, so that libpurple keeps no record of them.
 * Authorization (account UI ops): request_authorize becomes the
 *  authorization_requested event; the callbacks wait in the PgPurpleAccount until
 *  pg_purple_account_authorize() or libpurple's close_account_request.
 *  request_add ("someone not on your list added you", oscar and others) and
 *  notify_added are only logged: the authorization request, where the
 *  protocol has one, is what the owner answers. */
#define G_LOG_DOMAIN "pg-purple-request"

#include "legacy/account-private.h"

#include <stdlib.h>
#include <string.h>

#define NOTICE_DOMAIN "pg-purple"
#define LIBPURPLE_TEXTDOMAIN "pidgin" /* libpurple's _() */

/* Question buttons of input, choice and fields requests. */
#define ACTION_OK 0
#define ACTION_CANCEL 1

typedef struct
{
  PurpleRequestType type;
  gpointer data;               /* libpurple's user_data for the callbacks */
  GArray *cbs;                 /* GCallback: ACTION: per button; else OK, Cancel */
  GArray *map;                 /* int: ACTION: the question's buttons → libpurple's */
  GArray *choices;             /* int: CHOICE: option index → libpurple's value */
  int action;                  /* the answer: a libpurple button index, or OK/Cancel */
  int decline;                 /* the answer nobody gives: the same */
  int value;                   /* CHOICE: the value to give */
  char *text;                  /* INPUT: the text to give */
  PurpleRequestFields *fields; /* FIELDS: the UI owns them, destroys on close */
  char *trusted_host;          /* a certificate to drop from the shared cache once accepted */
  PgPurpleAccount *account;    /* asked of; NULL: answered without asking */
  guint32 id;                  /* the question's id in account->questions */
  guint idle_id;
  gboolean answering; /* inside cb */
  gboolean closed;    /* closed by libpurple while answering */
} Request;

typedef struct
{
  PurpleNotifyType type;
  guint idle_id;
} Notice;

/* ---- requests ----------------------------------------------------------- */

static void
detach (Request *request)
{
  if (request->account != NULL && request->account->questions != NULL)
    g_hash_table_remove (request->account->questions, GUINT_TO_POINTER (request->id));
  request->account = NULL;
}

static void
request_free (Request *request)
{
  g_clear_handle_id (&request->idle_id, g_source_remove);
  detach (request);
  if (request->fields != NULL)
    purple_request_fields_destroy (request->fields);
  g_array_unref (request->cbs);
  g_array_unref (request->map);
  g_array_unref (request->choices);
  g_free (request->text);
  g_free (request->trusted_host);
  g_free (request);
}

static GCallback
callback (Request *request, int index)
{
  return index >= 0 && (guint)index < request->cbs->len ? g_array_index (request->cbs, GCallback, index)
                                                        : NULL;
}

static gboolean
answer (gpointer data)
{
  Request *request = data;
  GCallback cb = callback (request, request->action);

  request->idle_id = 0;
  detach (request);
  request->answering = TRUE;
  if (cb != NULL)
    switch (request->type)
      {
      case PURPLE_REQUEST_ACTION:
        ((PurpleRequestActionCb)cb) (request->data, request->action);
        break;
      case PURPLE_REQUEST_CHOICE:
        ((PurpleRequestChoiceCb)cb) (request->data, request->value);
        break;
      case PURPLE_REQUEST_INPUT:
        ((PurpleRequestInputCb)cb) (request->data, request->text);
        break;
      case PURPLE_REQUEST_FIELDS:
        ((PurpleRequestFieldsCb)cb) (request->data, request->fields);
        break;
      case PURPLE_REQUEST_FILE:
      case PURPLE_REQUEST_FOLDER:
        ((PurpleRequestFileCb)cb) (request->data, NULL);
        break;
      default:
        break;
      }
  request->answering = FALSE;
  if (request->trusted_host != NULL)
    pg_purple_certificate_forget (request->trusted_host);
  if (request->closed)
    request_free (request);
  else
    purple_request_close (request->type, request); /* calls close_request */
  return G_SOURCE_REMOVE;
}

static Request *
request_new (PurpleRequestType type, gpointer data)
{
  Request *request = g_new0 (Request, 1);

  request->type = type;
  request->data = data;
  request->cbs = g_array_new (FALSE, TRUE, sizeof (GCallback));
  request->map = g_array_new (FALSE, TRUE, sizeof (int));
  request->choices = g_array_new (FALSE, TRUE, sizeof (int));
  request->decline = ACTION_CANCEL;
  return request;
}

/* Nobody is asked: @action (a button index, or OK/Cancel) from an idle. */
static Request *
answer_alone (Request *request, int action, const char *title, const char *primary)
{
  request->action = action;
  request->idle_id = g_idle_add (answer, request);
  g_debug ("request %d answered without asking: %s%s%s", request->type, title != NULL ? title : "",
           title != NULL && primary != NULL ? ": " : "", primary != NULL ? primary : "");
  return request;
}

static void
add_ok_cancel (Request *request, GCallback ok_cb, GCallback cancel_cb)
{
  g_array_append_val (request->cbs, ok_cb);
  g_array_append_val (request->cbs, cancel_cb);
}

/* Plain text of libpurple markup, or NULL. Owned. */
static char *
plain (const char *text)
{
  if (text == NULL || *text == '\0')
    return NULL;
  char *stripped = purple_markup_strip_html (text);
  return g_strstrip (stripped);
}

static PgQuestion *
question_new (PgQuestionKind kind, const char *title, const char *primary, const char *secondary)
{
  PgQuestion *question = pg_question_new (kind);
  question->title = plain (title);
  question->primary = plain (primary);
  question->secondary = plain (secondary);
  return question;
}

static void
set_buttons (PgQuestion *question, const char *ok_text, const char *cancel_text)
{
  g_autofree char *ok = ok_text != NULL ? purple_text_strip_mnemonic (ok_text) : g_strdup ("OK");
  g_autofree char *cancel
      = cancel_text != NULL ? purple_text_strip_mnemonic (cancel_text) : g_strdup ("Cancel");
  const char *const actions[] = { ok, cancel, NULL };
  g_strfreev (question->actions);
  question->actions = g_strdupv ((char **)actions);
  question->default_action = ACTION_OK;
  question->cancel_action = ACTION_CANCEL;
}

/* Shows @question (taken) to @account's user; @request waits for the answer. */
static Request *
ask (PgPurpleAccount *account, Request *request, PgQuestion *question)
{
  g_autoptr (PgQuestion) owned = question;

  if (account->questions == NULL)
    account->questions = g_hash_table_new (NULL, NULL);
  request->account = account;
  request->id = ++account->last_question_id;
  question->id = request->id;
  g_hash_table_insert (account->questions, GUINT_TO_POINTER (request->id), request);
  g_debug ("%s: question %u (kind %d) to the user", purple_account_get_username (account->purple),
           request->id, question->kind);
  pg_purple_account_emit_question (account, question);
  return request;
}

static PgPurpleAccount *
asker (PurpleAccount *purple, PurpleConversation *conv)
{
  if (purple == NULL && conv != NULL)
    purple = purple_conversation_get_account (conv);
  return purple != NULL ? pg_purple_account_from_purple (purple) : NULL;
}

/* Words of refusal, as libpurple labels its buttons (mnemonics included). */
static const char *const negative_labels[]
    = { "Cancel", "_Cancel", "Reject", "_Reject", "Deny", "_Deny", "Decline", "_Decline", "No", "_No" };

static gboolean
is_negative (const char *label)
{
  g_autofree char *plain_label = NULL;

  if (label == NULL)
    return FALSE;
  for (size_t i = 0; i < G_N_ELEMENTS (negative_labels); i++)
    if (strcmp (label, g_dgettext (LIBPURPLE_TEXTDOMAIN, negative_labels[i])) == 0)
      return TRUE;
  plain_label = g_strdup (label);
  g_strdelimit (plain_label, "_", ' ');
  g_strstrip (plain_label);
  for (size_t i = 0; i < G_N_ELEMENTS (negative_labels); i++)
    if (g_ascii_strcasecmp (plain_label, negative_labels[i]) == 0)
      return TRUE;
  return FALSE;
}

/* tls_cached's third button shows the certificate in a window: what it
 * would show is in the question already. */
static gboolean
is_view_certificate (const char *label)
{
  return label != NULL
         && (strcmp (label, g_dgettext (LIBPURPLE_TEXTDOMAIN, "_View Certificate...")) == 0
             || strcmp (label, "_View Certificate...") == 0);
}

static void *
choose_action (const char *title, const char *primary, const char *secondary, int default_action,
               PurpleAccount *purple, PurpleConversation *conv, void *user_data, size_t action_count,
               va_list actions)
{
  const PgPurpleCertificateCheck *check = pg_purple_certificate_get_check ();
  PgPurpleAccount *account = asker (purple, conv);
  Request *request = request_new (PURPLE_REQUEST_ACTION, user_data);
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  int refusal = -1;

  if (account == NULL && check != NULL)
    account = check->account;
  for (size_t i = 0; i < action_count; i++)
    {
      const char *label = va_arg (actions, const char *);
      GCallback cb = va_arg (actions, GCallback);

      g_array_append_val (request->cbs, cb);
      if (refusal < 0 && is_negative (label))
        refusal = (int)i;
      if (check != NULL && is_view_certificate (label))
        continue;
      int index = (int)i;
      g_array_append_val (request->map, index);
      g_ptr_array_add (labels, label != NULL ? purple_text_strip_mnemonic (label) : g_strdup (""));
    }
  request->decline = refusal;
  if (request->decline < 0 && default_action >= 0 && default_action < (int)action_count)
    request->decline = default_action;
  if (request->decline < 0) /* no default either: the last action is the usual escape */
    request->decline = (int)action_count - 1;
  if (account == NULL || request->map->len == 0)
    return answer_alone (request, request->decline, title, primary);

  PgQuestion *question = question_new (check != NULL ? PG_QUESTION_CERTIFICATE : PG_QUESTION_ACTION, title,
                                       primary, secondary);
  g_ptr_array_add (labels, NULL);
  g_strfreev (question->actions);
  question->actions = (GStrv)g_ptr_array_steal (labels, NULL);
  question->default_action = 0;
  question->cancel_action = -1;
  for (guint i = 0; i < request->map->len; i++)
    {
      int index = g_array_index (request->map, int, i);
      if (index == default_action)
        question->default_action = (int)i;
      if (index == refusal)
        question->cancel_action = (int)i;
    }
  if (check != NULL)
    {
      question->host = g_strdup (check->host);
      question->subject = g_strdup (check->subject);
      question->fingerprint = g_strdup (check->fingerprint);
      request->trusted_host = g_strdup (check->host);
    }
  return ask (account, request, question);
}

static void *
request_action (const char *title, const char *primary, const char *secondary, int default_action,
                PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data,
                size_t action_count, va_list actions)
{
  (void)who;
  return choose_action (title, primary, secondary, default_action, account, conv, user_data, action_count,
                        actions);
}

static void *
request_action_with_icon (const char *title, const char *primary, const char *secondary, int default_action,
                          PurpleAccount *account, const char *who, PurpleConversation *conv,
                          gconstpointer icon_data, gsize icon_size, void *user_data, size_t action_count,
                          va_list actions)
{
  (void)who, (void)icon_data, (void)icon_size;
  return choose_action (title, primary, secondary, default_action, account, conv, user_data, action_count,
                        actions);
}

static void *
request_input (const char *title, const char *primary, const char *secondary, const char *default_value,
               gboolean multiline, gboolean masked, gchar *hint, const char *ok_text, GCallback ok_cb,
               const char *cancel_text, GCallback cancel_cb, PurpleAccount *purple, const char *who,
               PurpleConversation *conv, void *user_data)
{
  PgPurpleAccount *account = asker (purple, conv);
  Request *request = request_new (PURPLE_REQUEST_INPUT, user_data);

  (void)hint, (void)who;
  add_ok_cancel (request, ok_cb, cancel_cb);
  request->text = g_strdup (default_value);
  if (account == NULL)
    return answer_alone (request, ACTION_CANCEL, title, primary);
  PgQuestion *question = question_new (PG_QUESTION_INPUT, title, primary, secondary);
  set_buttons (question, ok_text, cancel_text);
  pg_question_add_field (question, "text",
                         masked      ? PG_QUESTION_FIELD_TEXT_PRIVATE
                         : multiline ? PG_QUESTION_FIELD_TEXT_MULTI
                                     : PG_QUESTION_FIELD_TEXT,
                         NULL, masked ? NULL : default_value, NULL, TRUE);
  return ask (account, request, question);
}

static void *
request_choice (const char *title, const char *primary, const char *secondary, int default_value,
                const char *ok_text, GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
                PurpleAccount *purple, const char *who, PurpleConversation *conv, void *user_data,
                va_list choices)
{
  PgPurpleAccount *account = asker (purple, conv);
  Request *request = request_new (PURPLE_REQUEST_CHOICE, user_data);
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *selected = NULL;
  const char *label;

  (void)who;
  add_ok_cancel (request, ok_cb, cancel_cb);
  request->value = default_value;
  while ((label = va_arg (choices, const char *)) != NULL)
    {
      int value = va_arg (choices, int);
      if (value == default_value)
        selected = g_strdup_printf ("%u", labels->len);
      g_array_append_val (request->choices, value);
      g_ptr_array_add (labels, purple_text_strip_mnemonic (label));
    }
  if (account == NULL || labels->len == 0)
    return answer_alone (request, ACTION_OK, title, primary);
  g_ptr_array_add (labels, NULL);
  PgQuestion *question = question_new (PG_QUESTION_CHOICE, title, primary, secondary);
  set_buttons (question, ok_text, cancel_text);
  pg_question_add_field (question, "choice", PG_QUESTION_FIELD_CHOICE, NULL, selected,
                         (const char *const *)labels->pdata, TRUE);
  return ask (account, request, question);
}

/* The fields of @fields, in libpurple's order; ids are libpurple's. */
static void
add_fields (PgQuestion *question, PurpleRequestFields *fields)
{
  for (GList *g = purple_request_fields_get_groups (fields); g != NULL; g = g->next)
    {
      PurpleRequestFieldGroup *group = g->data;
      const char *group_title = purple_request_field_group_get_title (group);
      if (group_title != NULL && *group_title != '\0')
        {
          g_autofree char *id = g_strdup_printf ("pg-group-%u", question->fields->len);
          pg_question_add_field (question, id, PG_QUESTION_FIELD_LABEL, group_title, NULL, NULL, FALSE);
        }
      for (GList *f = purple_request_field_group_get_fields (group); f != NULL; f = f->next)
        {
          PurpleRequestField *field = f->data;
          const char *id = purple_request_field_get_id (field);
          const char *label = purple_request_field_get_label (field);
          gboolean required = purple_request_field_is_required (field);
          g_autofree char *value = NULL;
          g_autoptr (GPtrArray) options = g_ptr_array_new_with_free_func (g_free);
          PgQuestionFieldType type;

          if (!purple_request_field_is_visible (field) || id == NULL)
            continue;
          switch (purple_request_field_get_type (field))
            {
            case PURPLE_REQUEST_FIELD_STRING:
              type = purple_request_field_string_is_masked (field)      ? PG_QUESTION_FIELD_TEXT_PRIVATE
                     : purple_request_field_string_is_multiline (field) ? PG_QUESTION_FIELD_TEXT_MULTI
                                                                        : PG_QUESTION_FIELD_TEXT;
              if (type != PG_QUESTION_FIELD_TEXT_PRIVATE)
                value = g_strdup (purple_request_field_string_get_default_value (field));
              break;
            case PURPLE_REQUEST_FIELD_INTEGER:
              type = PG_QUESTION_FIELD_INTEGER;
              value = g_strdup_printf ("%d", purple_request_field_int_get_default_value (field));
              break;
            case PURPLE_REQUEST_FIELD_BOOLEAN:
              type = PG_QUESTION_FIELD_BOOLEAN;
              value = g_strdup (purple_request_field_bool_get_default_value (field) ? "1" : "0");
              break;
            case PURPLE_REQUEST_FIELD_CHOICE:
              type = PG_QUESTION_FIELD_CHOICE;
              for (GList *l = purple_request_field_choice_get_labels (field); l != NULL; l = l->next)
                g_ptr_array_add (options, g_strdup (l->data));
              value = g_strdup_printf ("%d", purple_request_field_choice_get_default_value (field));
              break;
            case PURPLE_REQUEST_FIELD_LIST:
              {
                GString *selected = g_string_new (NULL);
                type = purple_request_field_list_get_multi_select (field) ? PG_QUESTION_FIELD_LIST_MULTI
                                                                          : PG_QUESTION_FIELD_CHOICE;
                for (GList *l = purple_request_field_list_get_items (field); l != NULL; l = l->next)
                  {
                    if (purple_request_field_list_is_selected (field, l->data))
                      g_string_append_printf (selected, "%s%u", selected->len > 0 ? "\n" : "", options->len);
                    g_ptr_array_add (options, g_strdup (l->data));
                  }
                value = g_string_free (selected, selected->len == 0);
              }
              break;
            case PURPLE_REQUEST_FIELD_LABEL:
              type = PG_QUESTION_FIELD_LABEL;
              break;
            default:
              /* images, accounts, certificates: nothing a form can answer */
              g_debug ("request field %s of type %d left out", id, purple_request_field_get_type (field));
              continue;
            }
          if (options->len > 0)
            g_ptr_array_add (options, NULL);
          pg_question_add_field (question, id, type, label, value,
                                 options->len > 0 ? (const char *const *)options->pdata : NULL, required);
        }
    }
}

static void *
request_fields (const char *title, const char *primary, const char *secondary, PurpleRequestFields *fields,
                const char *ok_text, GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
                PurpleAccount *purple, const char *who, PurpleConversation *conv, void *user_data)
{
  PgPurpleAccount *account = asker (purple, conv);
  Request *request = request_new (PURPLE_REQUEST_FIELDS, user_data);

  (void)who;
  add_ok_cancel (request, ok_cb, cancel_cb);
  request->fields = fields;
  if (account == NULL)
    return answer_alone (request, ACTION_CANCEL, title, primary);
  PgQuestion *question = question_new (PG_QUESTION_FIELDS, title, primary, secondary);
  set_buttons (question, ok_text, cancel_text);
  add_fields (question, fields);
  return ask (account, request, question);
}

static void *
request_file (const char *title, const char *filename, gboolean savedialog, GCallback ok_cb,
              GCallback cancel_cb, PurpleAccount *account, const char *who, PurpleConversation *conv,
              void *user_data)
{
  Request *request = request_new (PURPLE_REQUEST_FILE, user_data);

  (void)filename, (void)savedialog, (void)account, (void)who, (void)conv;
  add_ok_cancel (request, ok_cb, cancel_cb);
  return answer_alone (request, ACTION_CANCEL, title, NULL);
}

static void *
request_folder (const char *title, const char *dirname, GCallback ok_cb, GCallback cancel_cb,
                PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data)
{
  Request *request = request_new (PURPLE_REQUEST_FOLDER, user_data);

  (void)dirname, (void)account, (void)who, (void)conv;
  add_ok_cancel (request, ok_cb, cancel_cb);
  return answer_alone (request, ACTION_CANCEL, title, NULL);
}

static void
close_request (PurpleRequestType type, void *ui_handle)
{
  Request *request = ui_handle;

  (void)type;
  if (request == NULL)
    return;
  if (request->answering)
    {
      request->closed = TRUE; /* answer() frees it when the callback returns */
      return;
    }
  if (request->account != NULL && request->idle_id == 0)
    {
      PgPurpleAccount *account = request->account;
      guint32 id = request->id;
      detach (request);
      pg_purple_account_emit_question_closed (account, id);
    }
  request_free (request);
}

/* Sets libpurple's field @field from the answer's @text. */
static void
set_field (PurpleRequestField *field, const char *text)
{
  switch (purple_request_field_get_type (field))
    {
    case PURPLE_REQUEST_FIELD_STRING:
      purple_request_field_string_set_value (field, text);
      break;
    case PURPLE_REQUEST_FIELD_INTEGER:
      purple_request_field_int_set_value (field, (int)g_ascii_strtoll (text, NULL, 10));
      break;
    case PURPLE_REQUEST_FIELD_BOOLEAN:
      purple_request_field_bool_set_value (field, strcmp (text, "1") == 0 || strcmp (text, "true") == 0);
      break;
    case PURPLE_REQUEST_FIELD_CHOICE:
      purple_request_field_choice_set_value (field, (int)g_ascii_strtoll (text, NULL, 10));
      break;
    case PURPLE_REQUEST_FIELD_LIST:
      {
        g_auto (GStrv) indexes = g_strsplit (text, "\n", -1);
        GList *items = purple_request_field_list_get_items (field);
        purple_request_field_list_clear_selected (field);
        for (guint i = 0; indexes[i] != NULL; i++)
          {
            const char *item = g_list_nth_data (items, (guint)g_ascii_strtoull (indexes[i], NULL, 10));
            if (*indexes[i] != '\0' && item != NULL)
              purple_request_field_list_add_selected (field, item);
          }
      }
      break;
    default:
      break;
    }
}

void
pg_purple_account_answer_question (PgPurpleAccount *account, const PgQuestionAnswer *reply)
{
  Request *request = account->questions != NULL
                         ? g_hash_table_lookup (account->questions, GUINT_TO_POINTER (reply->id))
                         : NULL;

  if (request == NULL || request->idle_id != 0)
    {
      g_debug ("question %u is not open", reply->id);
      return;
    }
  if (request->type == PURPLE_REQUEST_ACTION)
    {
      /* The question's buttons are a subset of libpurple's. */
      int index = reply->action >= 0 && (guint)reply->action < request->map->len
                      ? g_array_index (request->map, int, reply->action)
                      : -1;
      if (index < 0)
        return;
      request->action = index;
    }
  else
    request->action = reply->action == ACTION_OK ? ACTION_OK : ACTION_CANCEL;
  if (request->action == ACTION_OK || request->type == PURPLE_REQUEST_ACTION)
    {
      const char *text = g_hash_table_lookup (reply->values, "text");
      const char *choice = g_hash_table_lookup (reply->values, "choice");
      if (request->type == PURPLE_REQUEST_INPUT && text != NULL)
        {
          g_free (request->text);
          request->text = g_strdup (text);
        }
      if (request->type == PURPLE_REQUEST_CHOICE && choice != NULL)
        {
          guint index = (guint)g_ascii_strtoull (choice, NULL, 10);
          if (index < request->choices->len)
            request->value = g_array_index (request->choices, int, index);
        }
      if (request->type == PURPLE_REQUEST_FIELDS)
        {
          GHashTableIter iter;
          gpointer key, value;
          g_hash_table_iter_init (&iter, reply->values);
          while (g_hash_table_iter_next (&iter, &key, &value))
            {
              PurpleRequestField *field = purple_request_fields_get_field (request->fields, key);
              if (field != NULL)
                set_field (field, value);
            }
        }
    }
  g_debug ("question %u answered (button %d)", reply->id, request->action);
  request->idle_id = g_idle_add (answer, request);
}

void
pg_purple_request_forget_account (PgPurpleAccount *account)
{
  if (account->questions == NULL)
    return;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, account->questions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Request *request = value;
      request->account = NULL;
      /* Declined, as nobody is asked: cancel, or the refusing button. */
      request->action = request->decline;
      if (request->idle_id == 0)
        request->idle_id = g_idle_add (answer, request);
    }
  g_clear_pointer (&account->questions, g_hash_table_unref);
}

static PurpleRequestUiOps request_ops = {
  .request_input = request_input,
  .request_choice = request_choice,
  .request_action = request_action,
  .request_fields = request_fields,
  .request_file = request_file,
  .close_request = close_request,
  .request_folder = request_folder,
  .request_action_with_icon = request_action_with_icon,
};

/* ---- notices ------------------------------------------------------------ */

static gboolean
close_notice (gpointer data)
{
  Notice *notice = data;

  notice->idle_id = 0;
  purple_notify_close (notice->type, notice); /* calls close_notify */
  return G_SOURCE_REMOVE;
}

static void
close_notify (PurpleNotifyType type, void *ui_handle)
{
  Notice *notice = ui_handle;

  (void)type;
  if (notice == NULL)
    return;
  g_clear_handle_id (&notice->idle_id, g_source_remove);
  g_free (notice);
}

static Notice *
notice_new (PurpleNotifyType type)
{
  Notice *notice = g_new0 (Notice, 1);

  notice->type = type;
  notice->idle_id = g_idle_add (close_notice, notice);
  return notice;
}

/* One line for the log: markup stripped, line breaks folded. */
static char *
plain_line (const char *text)
{
  char *plain = purple_markup_strip_html (text != NULL ? text : "");

  g_strdelimit (plain, "\r\n\t", ' ');
  return g_strstrip (plain);
}

static void
log_notice (const char *kind, const char *title, const char *primary, const char *secondary)
{
  g_autofree char *t = plain_line (title);
  g_autofree char *p = plain_line (primary);
  g_autofree char *s = plain_line (secondary);

  g_log (NOTICE_DOMAIN, G_LOG_LEVEL_INFO, "libpurple %s: %s%s%s%s%s", kind, t, *t ? " — " : "", p,
         *s ? " — " : "", s);
}

static void *
notify_message (PurpleNotifyMsgType type, const char *title, const char *primary, const char *secondary)
{
  static const char *const kinds[] = { "error", "warning", "info" };

  log_notice ((guint)type < G_N_ELEMENTS (kinds) ? kinds[type] : "notice", title, primary, secondary);
  return notice_new (PURPLE_NOTIFY_MESSAGE);
}

static void *
notify_formatted (const char *title, const char *primary, const char *secondary, const char *text)
{
  g_autofree char *body = plain_line (text);

  log_notice ("notice", title, primary, secondary);
  g_log (NOTICE_DOMAIN, G_LOG_LEVEL_DEBUG, "libpurple notice text: %s", body);
  return notice_new (PURPLE_NOTIFY_FORMATTED);
}

static void *
notify_userinfo (PurpleConnection *gc, const char *who, PurpleNotifyUserInfo *user_info)
{
  (void)gc, (void)user_info;
  g_debug ("user info for %s dropped", who);
  return notice_new (PURPLE_NOTIFY_USERINFO);
}

static PurpleNotifyUiOps notify_ops = {
  .notify_message = notify_message,
  .notify_formatted = notify_formatted,
  .notify_userinfo = notify_userinfo,
  .close_notify = close_notify,
};

/* ---- authorization (account UI ops) -------------------------------------- */

static void *
request_authorize (PurpleAccount *purple, const char *remote_user, const char *id, const char *alias,
                   const char *message, gboolean on_list, PurpleAccountRequestAuthorizationCb authorize_cb,
                   PurpleAccountRequestAuthorizationCb deny_cb, void *user_data)
{
  PgPurpleAccount *account = pg_purple_account_from_purple (purple);
  PgPendingAuth *pending;

  (void)id, (void)on_list;
  if (account == NULL)
    return NULL; /* going away: libpurple closes the request with the account */
  pending = g_new0 (PgPendingAuth, 1);
  pending->name = pg_purple_account_normalize (account, remote_user);
  pending->allow_cb = authorize_cb;
  pending->deny_cb = deny_cb;
  pending->data = user_data;
  pg_purple_account_add_pending_auth (account, pending);
  /* The owner may answer at once; libpurple copes (it holds a reference
   * while this op runs) and then ignores the handle returned here. */
  pg_purple_account_emit_authorization_requested (account, remote_user, alias, message);
  return pending;
}

static void
close_account_request (void *ui_handle)
{
  if (ui_handle != NULL)
    pg_purple_account_close_pending_auth (ui_handle);
}

static void
request_add (PurpleAccount *purple, const char *remote_user, const char *id, const char *alias,
             const char *message)
{
  (void)id, (void)alias, (void)message;
  g_debug ("%s: %s added us to their list", purple_account_get_username (purple), remote_user);
}

static void
notify_added (PurpleAccount *purple, const char *remote_user, const char *id, const char *alias,
              const char *message)
{
  request_add (purple, remote_user, id, alias, message);
}

static PurpleAccountUiOps account_ops = {
  .notify_added = notify_added,
  .request_add = request_add,
  .request_authorize = request_authorize,
  .close_account_request = close_account_request,
};

void
pg_purple_request_install (void)
{
  purple_request_set_ui_ops (&request_ops);
  purple_notify_set_ui_ops (&notify_ops);
  purple_accounts_set_ui_ops (&account_ops);
}
