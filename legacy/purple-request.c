/* legacy/purple-request.c — libpurple's questions and notices, answered
 * without a person, and its authorization requests handed to the owner.
 *
 * Requests (request UI ops): a daemon agrees to nothing on its own.
 *  - action: the action labelled Cancel/Reject/Deny/Decline/No, if any,
 *    else the default one.  This is what rejects an untrusted server
 *    certificate: the x509 "tls_cached" verifier asks Accept/Reject (with
 *    request_action_with_icon, answered the same way).
 *  - input, fields, file, folder: cancelled.  choice: the default value.
 *  Answers are given from an idle, like a person clicking later: libpurple
 *  is deep in a protocol when it asks (the certificate check runs inside
 *  the TLS handshake), and an answer there could end the connection under
 *  its caller.  libpurple may close a request first (the connection went);
 *  then it is never answered.
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

#include <string.h>

#define NOTICE_DOMAIN "pg-purple"
#define LIBPURPLE_TEXTDOMAIN "pidgin" /* libpurple's _() */

typedef struct
{
  PurpleRequestType type;
  GCallback cb; /* the answer to give; NULL: none, just close */
  gpointer data;
  int value;                   /* action index or choice value */
  char *text;                  /* input: the default value */
  PurpleRequestFields *fields; /* fields: the UI owns them, destroys on close */
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
request_free (Request *request)
{
  g_clear_handle_id (&request->idle_id, g_source_remove);
  if (request->fields != NULL)
    purple_request_fields_destroy (request->fields);
  g_free (request->text);
  g_free (request);
}

static gboolean
answer (gpointer data)
{
  Request *request = data;

  request->idle_id = 0;
  request->answering = TRUE;
  if (request->cb != NULL)
    switch (request->type)
      {
      case PURPLE_REQUEST_ACTION:
        ((PurpleRequestActionCb)request->cb) (request->data, request->value);
        break;
      case PURPLE_REQUEST_CHOICE:
        ((PurpleRequestChoiceCb)request->cb) (request->data, request->value);
        break;
      case PURPLE_REQUEST_INPUT:
        ((PurpleRequestInputCb)request->cb) (request->data, request->text);
        break;
      case PURPLE_REQUEST_FIELDS:
        ((PurpleRequestFieldsCb)request->cb) (request->data, request->fields);
        break;
      case PURPLE_REQUEST_FILE:
      case PURPLE_REQUEST_FOLDER:
        ((PurpleRequestFileCb)request->cb) (request->data, NULL);
        break;
      default:
        break;
      }
  request->answering = FALSE;
  if (request->closed)
    request_free (request);
  else
    purple_request_close (request->type, request); /* calls close_request */
  return G_SOURCE_REMOVE;
}

static Request *
request_new (PurpleRequestType type, GCallback cb, gpointer data, const char *title, const char *primary)
{
  Request *request = g_new0 (Request, 1);

  request->type = type;
  request->cb = cb;
  request->data = data;
  request->idle_id = g_idle_add (answer, request);
  g_debug ("request %d answered without asking: %s%s%s", type, title != NULL ? title : "",
           title != NULL && primary != NULL ? ": " : "", primary != NULL ? primary : "");
  return request;
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
  request_free (request);
}

/* Words of refusal, as libpurple labels its buttons (mnemonics included). */
static const char *const negative_labels[]
    = { "Cancel", "_Cancel", "Reject", "_Reject", "Deny", "_Deny", "Decline", "_Decline", "No", "_No" };

static gboolean
is_negative (const char *label)
{
  g_autofree char *plain = NULL;

  if (label == NULL)
    return FALSE;
  for (size_t i = 0; i < G_N_ELEMENTS (negative_labels); i++)
    if (strcmp (label, g_dgettext (LIBPURPLE_TEXTDOMAIN, negative_labels[i])) == 0)
      return TRUE;
  plain = g_strdup (label);
  g_strdelimit (plain, "_", ' ');
  g_strstrip (plain);
  for (size_t i = 0; i < G_N_ELEMENTS (negative_labels); i++)
    if (g_ascii_strcasecmp (plain, negative_labels[i]) == 0)
      return TRUE;
  return FALSE;
}

static void *
choose_action (const char *title, const char *primary, int default_action, void *user_data,
               size_t action_count, va_list actions)
{
  GCallback chosen_cb = NULL, default_cb = NULL, last_cb = NULL;
  int chosen = -1, last = -1;
  Request *request;

  for (size_t i = 0; i < action_count; i++)
    {
      const char *label = va_arg (actions, const char *);
      GCallback cb = va_arg (actions, GCallback);

      if (chosen < 0 && is_negative (label))
        chosen = (int)i, chosen_cb = cb;
      if ((int)i == default_action)
        default_cb = cb;
      last = (int)i, last_cb = cb;
    }
  if (chosen < 0 && default_action >= 0 && default_action < (int)action_count)
    chosen = default_action, chosen_cb = default_cb;
  if (chosen < 0) /* no default either: the last action is the usual escape */
    chosen = last, chosen_cb = last_cb;
  request = request_new (PURPLE_REQUEST_ACTION, chosen_cb, user_data, title, primary);
  request->value = chosen;
  return request;
}

static void *
request_action (const char *title, const char *primary, const char *secondary, int default_action,
                PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data,
                size_t action_count, va_list actions)
{
  (void)secondary, (void)account, (void)who, (void)conv;
  return choose_action (title, primary, default_action, user_data, action_count, actions);
}

static void *
request_action_with_icon (const char *title, const char *primary, const char *secondary, int default_action,
                          PurpleAccount *account, const char *who, PurpleConversation *conv,
                          gconstpointer icon_data, gsize icon_size, void *user_data, size_t action_count,
                          va_list actions)
{
  (void)secondary, (void)account, (void)who, (void)conv, (void)icon_data, (void)icon_size;
  return choose_action (title, primary, default_action, user_data, action_count, actions);
}

static void *
request_input (const char *title, const char *primary, const char *secondary, const char *default_value,
               gboolean multiline, gboolean masked, gchar *hint, const char *ok_text, GCallback ok_cb,
               const char *cancel_text, GCallback cancel_cb, PurpleAccount *account, const char *who,
               PurpleConversation *conv, void *user_data)
{
  Request *request = request_new (PURPLE_REQUEST_INPUT, cancel_cb, user_data, title, primary);

  (void)secondary, (void)multiline, (void)masked, (void)hint, (void)ok_text, (void)ok_cb;
  (void)cancel_text, (void)account, (void)who, (void)conv;
  request->text = g_strdup (default_value);
  return request;
}

static void *
request_choice (const char *title, const char *primary, const char *secondary, int default_value,
                const char *ok_text, GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
                PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data,
                va_list choices)
{
  Request *request = request_new (PURPLE_REQUEST_CHOICE, ok_cb, user_data, title, primary);

  (void)secondary, (void)ok_text, (void)cancel_text, (void)cancel_cb, (void)account;
  (void)who, (void)conv, (void)choices;
  request->value = default_value;
  return request;
}

static void *
request_fields (const char *title, const char *primary, const char *secondary, PurpleRequestFields *fields,
                const char *ok_text, GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
                PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data)
{
  Request *request = request_new (PURPLE_REQUEST_FIELDS, cancel_cb, user_data, title, primary);

  (void)secondary, (void)ok_text, (void)ok_cb, (void)cancel_text, (void)account;
  (void)who, (void)conv;
  request->fields = fields;
  return request;
}

static void *
request_file (const char *title, const char *filename, gboolean savedialog, GCallback ok_cb,
              GCallback cancel_cb, PurpleAccount *account, const char *who, PurpleConversation *conv,
              void *user_data)
{
  (void)filename, (void)savedialog, (void)ok_cb, (void)account, (void)who, (void)conv;
  return request_new (PURPLE_REQUEST_FILE, cancel_cb, user_data, title, NULL);
}

static void *
request_folder (const char *title, const char *dirname, GCallback ok_cb, GCallback cancel_cb,
                PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data)
{
  (void)dirname, (void)ok_cb, (void)account, (void)who, (void)conv;
  return request_new (PURPLE_REQUEST_FOLDER, cancel_cb, user_data, title, NULL);
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
