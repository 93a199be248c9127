/* legacy/backend.c — the legacy backend interface (legacy/account.h) over
 * its two implementations, and the in-process one: libpurple in this
 * process, whose immediate answers become events given from the main loop
 * (never from inside the command, which the caller may not expect). */
#define G_LOG_DOMAIN "pg-backend"
#include "build-config.h"

#include "legacy/backend-private.h"

#include <string.h>

/* ---- answers given later ---- */

typedef enum
{
  DEFERRED_DISCONNECTED,
  DEFERRED_SEND_FAILED,
  DEFERRED_CHAT_REFUSED,
} DeferredKind;

typedef struct
{
  DeferredKind kind;
  PgAccountFailure failure;
  guint64 tag;
  gboolean offline;
  char *chat;
  PgChatRefusal refusal;
  char *text;
} Deferred;

static void
deferred_free (Deferred *deferred)
{
  g_free (deferred->chat);
  g_free (deferred->text);
  g_free (deferred);
}

static gboolean
run_deferred (gpointer data)
{
  PgAccount *account = data;
  account->deferred_id = 0;
  /* One at a time: the owner may free the account from any of them. */
  Deferred *deferred = g_queue_pop_head (&account->deferred);
  if (deferred == NULL)
    return G_SOURCE_REMOVE;
  if (!g_queue_is_empty (&account->deferred))
    account->deferred_id = g_idle_add (run_deferred, account);
  switch (deferred->kind)
    {
    case DEFERRED_DISCONNECTED:
      if (account->events.disconnected != NULL)
        account->events.disconnected (account->owner, deferred->failure, deferred->text);
      break;
    case DEFERRED_SEND_FAILED:
      if (account->events.send_failed != NULL)
        account->events.send_failed (account->owner, deferred->tag, deferred->offline, deferred->text);
      break;
    case DEFERRED_CHAT_REFUSED:
    default:
      {
        PgChatEvent event = { .kind = PG_CHAT_EVENT_REFUSED,
                              .chat = deferred->chat,
                              .refusal = deferred->refusal,
                              .text = deferred->text };
        if (account->events.chat != NULL)
          account->events.chat (account->owner, &event);
      }
      break;
    }
  deferred_free (deferred);
  return G_SOURCE_REMOVE;
}

static void
defer (PgAccount *account, Deferred *deferred)
{
  g_queue_push_tail (&account->deferred, deferred);
  if (account->deferred_id == 0)
    account->deferred_id = g_idle_add (run_deferred, account);
}

void
pg_backend_defer_disconnected (PgAccount *account, PgAccountFailure failure, const char *reason)
{
  Deferred *deferred = g_new0 (Deferred, 1);
  deferred->kind = DEFERRED_DISCONNECTED;
  deferred->failure = failure;
  deferred->text = g_strdup (reason);
  defer (account, deferred);
}

/* ---- in this process ---- */

static void
local_start (PgAccount *account, const char *password, const char *const *setting_keys,
             const char *const *setting_values)
{
  g_autoptr (GError) error = NULL;
  account->local
      = pg_purple_account_new (account->backend->purple, account->protocol_id, account->username, password,
                               setting_keys, setting_values, &account->events, account->owner, &error);
  if (account->local == NULL)
    account->conflict = g_strdup (error->message);
}

static void
local_free (PgAccount *account)
{
  g_clear_pointer (&account->local, pg_purple_account_free);
}

static void
local_connect (PgAccount *account)
{
  if (account->local != NULL)
    pg_purple_account_connect (account->local);
  else
    pg_backend_defer_disconnected (account, PG_ACCOUNT_FAILURE_CONFLICT, account->conflict);
}

static void
local_set_status (PgAccount *account, PgShow show, const char *message)
{
  if (account->local != NULL)
    pg_purple_account_set_status (account->local, show, message);
}

static void
local_send_message (PgAccount *account, guint64 tag, const char *to, const char *text)
{
  g_autoptr (GError) error = NULL;
  if (account->local == NULL || pg_purple_account_send_message (account->local, tag, to, text, &error))
    return;
  Deferred *deferred = g_new0 (Deferred, 1);
  deferred->kind = DEFERRED_SEND_FAILED;
  deferred->tag = tag;
  deferred->offline = g_error_matches (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_OFFLINE);
  deferred->text = g_strdup (error->message);
  defer (account, deferred);
}

static PgConfirm
local_confirm_sent (PgAccount *account, guint64 serial)
{
  /* No login could be made: its disconnected event is on its way. */
  if (account->local == NULL)
    return PG_CONFIRM_UNAVAILABLE;
  return pg_purple_account_confirm_sent (account->local, serial);
}

static gboolean
local_logout (PgAccount *account, const char *message)
{
  return account->local != NULL && pg_purple_account_logout (account->local, message);
}

static void
local_send_chat_state (PgAccount *account, const char *to, PgChatState state)
{
  if (account->local != NULL)
    pg_purple_account_send_chat_state (account->local, to, state);
}

static void
local_join_chat (PgAccount *account, const char *chat, const char *nick, const char *password)
{
  if (account->local != NULL)
    pg_purple_account_join_chat (account->local, chat, nick, password);
}

static void
local_leave_chat (PgAccount *account, const char *chat)
{
  if (account->local != NULL)
    pg_purple_account_leave_chat (account->local, chat);
}

static void
local_send_chat (PgAccount *account, const char *chat, const char *text)
{
  g_autoptr (GError) error = NULL;
  if (account->local != NULL && pg_purple_account_send_chat (account->local, chat, text, &error))
    return;
  Deferred *deferred = g_new0 (Deferred, 1);
  deferred->kind = DEFERRED_CHAT_REFUSED;
  deferred->chat = g_strdup (chat);
  deferred->refusal = pg_purple_account_chat_refusal (error);
  deferred->text = g_strdup (error != NULL ? error->message : "the legacy login is not connected");
  defer (account, deferred);
}

static void
local_set_chat_topic (PgAccount *account, const char *chat, const char *topic)
{
  if (account->local != NULL)
    pg_purple_account_set_chat_topic (account->local, chat, topic);
}

static void
local_kick_chat (PgAccount *account, const char *chat, const char *nick, const char *reason)
{
  if (account->local != NULL)
    pg_purple_account_kick_chat (account->local, chat, nick, reason);
}

static void
local_invite_chat (PgAccount *account, const char *chat, const char *who, const char *message)
{
  if (account->local != NULL)
    pg_purple_account_invite_chat (account->local, chat, who, message);
}

static void
local_set_chat_nick (PgAccount *account, const char *chat, const char *nick)
{
  if (account->local != NULL)
    pg_purple_account_set_chat_nick (account->local, chat, nick);
}

static void
local_list_chats (PgAccount *account)
{
  if (account->local != NULL)
    pg_purple_account_list_chats (account->local);
}

static gboolean
local_set_nick (PgAccount *account, const char *nick)
{
  return account->local != NULL && pg_purple_account_set_nick (account->local, nick);
}

static void
local_restore_contact (PgAccount *account, const char *name, const char *alias)
{
  if (account->local != NULL)
    pg_purple_account_restore_contact (account->local, name, alias);
}

static void
local_add_contact (PgAccount *account, const char *name, const char *alias)
{
  if (account->local != NULL)
    pg_purple_account_add_contact (account->local, name, alias);
}

static void
local_remove_contact (PgAccount *account, const char *name)
{
  if (account->local != NULL)
    pg_purple_account_remove_contact (account->local, name);
}

static void
local_authorize (PgAccount *account, const char *name, gboolean allow)
{
  if (account->local != NULL)
    pg_purple_account_authorize (account->local, name, allow);
}

static void
local_answer_question (PgAccount *account, const PgQuestionAnswer *answer)
{
  if (account->local != NULL)
    pg_purple_account_answer_question (account->local, answer);
}

static gboolean
local_is_chat_name (PgAccount *account, const char *name)
{
  return account->local != NULL && pg_purple_account_is_chat_name (account->local, name);
}

static gboolean
local_has_connection_nick (PgAccount *account)
{
  return account->local != NULL && pg_purple_account_has_connection_nick (account->local);
}

static char *
local_dup_nick (PgAccount *account)
{
  return account->local != NULL ? pg_purple_account_dup_nick (account->local) : NULL;
}

static char *
local_normalize (PgAccount *account, const char *name)
{
  return account->local != NULL
             ? pg_purple_account_normalize (account->local, name)
             : pg_purple_normalize_name (account->backend->purple, account->protocol_id, name);
}

static guint
local_get_nick_len (PgAccount *account)
{
  PgPurpleAccountInfo info = { 0 };
  if (account->local != NULL)
    pg_purple_account_get_info (account->local, &info);
  return info.nick_len;
}

static const PgBackendOps local_ops = {
  .start = local_start,
  .free = local_free,
  .connect = local_connect,
  .set_status = local_set_status,
  .send_message = local_send_message,
  .confirm_sent = local_confirm_sent,
  .logout = local_logout,
  .send_chat_state = local_send_chat_state,
  .join_chat = local_join_chat,
  .leave_chat = local_leave_chat,
  .send_chat = local_send_chat,
  .set_chat_topic = local_set_chat_topic,
  .kick_chat = local_kick_chat,
  .invite_chat = local_invite_chat,
  .set_chat_nick = local_set_chat_nick,
  .list_chats = local_list_chats,
  .set_nick = local_set_nick,
  .restore_contact = local_restore_contact,
  .add_contact = local_add_contact,
  .remove_contact = local_remove_contact,
  .authorize = local_authorize,
  .is_chat_name = local_is_chat_name,
  .has_connection_nick = local_has_connection_nick,
  .dup_nick = local_dup_nick,
  .normalize = local_normalize,
  .get_nick_len = local_get_nick_len,
  .answer_question = local_answer_question,
};

/* ---- the backend ---- */

PgBackend *
pg_backend_new (PgPurple *purple, PgNames *names, const PgBackendOptions *options, GError **error)
{
  g_return_val_if_fail (options != NULL, NULL);
  g_return_val_if_fail (options->workers > 0 ? names != NULL : purple != NULL, NULL);
  PgBackend *backend = g_new0 (PgBackend, 1);
  backend->purple = purple;
  backend->names = names;
  backend->ops = &local_ops;
  if (options->workers == 0 && !pg_purple_load_plugins (purple, options->plugins, error))
    {
      g_free (backend);
      return NULL;
    }
  if (options->workers > 0)
    {
      backend->pool = pg_worker_pool_new (backend, options, error);
      if (backend->pool == NULL)
        {
          g_free (backend);
          return NULL;
        }
      backend->ops = &pg_backend_worker_ops;
    }
  return backend;
}

PgBackend *
pg_backend_new_with_ops (PgPurple *purple, const PgBackendOps *ops, gpointer ops_data)
{
  g_return_val_if_fail (ops != NULL, NULL);
  PgBackend *backend = g_new0 (PgBackend, 1);
  backend->purple = purple;
  backend->ops = ops;
  backend->ops_data = ops_data;
  return backend;
}

void
pg_backend_free (PgBackend *backend)
{
  if (backend == NULL)
    return;
  if (backend->accounts > 0)
    g_warning ("%u legacy logins outlive their backend", backend->accounts);
  g_clear_pointer (&backend->pool, pg_worker_pool_free);
  g_free (backend);
}

void
pg_backend_sync (PgBackend *backend, guint timeout_ms)
{
  if (backend->pool != NULL)
    pg_worker_pool_sync (backend->pool, timeout_ms);
}

PgBackendStats
pg_backend_get_stats (PgBackend *backend)
{
  PgBackendStats stats = { .logins = backend->accounts };
  if (backend->pool != NULL)
    pg_worker_pool_fill_stats (backend->pool, &stats);
  return stats;
}

guint
pg_backend_get_account_worker (PgAccount *account)
{
  return account != NULL && account->backend->pool != NULL ? pg_worker_pool_get_index (account) : 0;
}

GArray *
pg_backend_dup_worker_stats (PgBackend *backend)
{
  return backend->pool != NULL ? pg_worker_pool_dup_stats (backend->pool)
                               : g_array_new (FALSE, TRUE, sizeof (PgBackendWorkerStats));
}

/* ---- the interface ---- */

PgAccount *
pg_account_new (PgBackend *backend, const char *protocol_id, const char *username, const char *password,
                const char *const *setting_keys, const char *const *setting_values,
                const PgAccountEvents *events, gpointer owner)
{
  g_return_val_if_fail (backend != NULL && protocol_id != NULL && username != NULL && events != NULL, NULL);
  PgAccount *account = g_new0 (PgAccount, 1);
  account->backend = backend;
  account->events = *events;
  account->owner = owner;
  account->protocol_id = g_strdup (protocol_id);
  account->username = g_strdup (username);
  g_queue_init (&account->deferred);
  backend->accounts++;
  backend->ops->start (account, password, setting_keys, setting_values);
  return account;
}

void
pg_account_free (PgAccount *account)
{
  if (account == NULL)
    return;
  account->backend->ops->free (account);
  account->backend->accounts--;
  g_clear_handle_id (&account->deferred_id, g_source_remove);
  g_queue_clear_full (&account->deferred, (GDestroyNotify)deferred_free);
  g_free (account->protocol_id);
  g_free (account->username);
  g_free (account->conflict);
  g_free (account->login_key);
  g_clear_pointer (&account->named, pg_name_cache_free);
  g_free (account->mirror.chantypes);
  g_free (account->mirror.nick);
  g_free (account);
}

void
pg_account_connect (PgAccount *account)
{
  account->backend->ops->connect (account);
}

void
pg_account_set_status (PgAccount *account, PgShow show, const char *message)
{
  account->backend->ops->set_status (account, show, message);
}

void
pg_account_send_message (PgAccount *account, guint64 tag, const char *to, const char *text)
{
  account->backend->ops->send_message (account, tag, to, text);
}

PgConfirm
pg_account_confirm_sent (PgAccount *account, guint64 *serial)
{
  guint64 next = account->backend->last_serial + 1;
  PgConfirm outcome = account->backend->ops->confirm_sent (account, next);
  *serial = 0;
  if (outcome == PG_CONFIRM_ASKED)
    {
      account->backend->last_serial = next;
      *serial = next;
    }
  return outcome;
}

gboolean
pg_account_logout (PgAccount *account, const char *message)
{
  return account->backend->ops->logout != NULL && account->backend->ops->logout (account, message);
}

void
pg_account_send_chat_state (PgAccount *account, const char *to, PgChatState state)
{
  account->backend->ops->send_chat_state (account, to, state);
}

void
pg_account_join_chat (PgAccount *account, const char *chat, const char *nick, const char *password)
{
  account->backend->ops->join_chat (account, chat, nick, password);
}

void
pg_account_leave_chat (PgAccount *account, const char *chat)
{
  account->backend->ops->leave_chat (account, chat);
}

void
pg_account_send_chat (PgAccount *account, const char *chat, const char *text)
{
  account->backend->ops->send_chat (account, chat, text);
}

void
pg_account_set_chat_topic (PgAccount *account, const char *chat, const char *topic)
{
  account->backend->ops->set_chat_topic (account, chat, topic);
}

void
pg_account_kick_chat (PgAccount *account, const char *chat, const char *nick, const char *reason)
{
  account->backend->ops->kick_chat (account, chat, nick, reason);
}

void
pg_account_invite_chat (PgAccount *account, const char *chat, const char *who, const char *message)
{
  account->backend->ops->invite_chat (account, chat, who, message);
}

void
pg_account_set_chat_nick (PgAccount *account, const char *chat, const char *nick)
{
  account->backend->ops->set_chat_nick (account, chat, nick);
}

void
pg_account_list_chats (PgAccount *account)
{
  account->backend->ops->list_chats (account);
}

gboolean
pg_account_set_nick (PgAccount *account, const char *nick)
{
  return account->backend->ops->set_nick (account, nick);
}

gboolean
pg_account_is_chat_name (PgAccount *account, const char *name)
{
  return account->backend->ops->is_chat_name (account, name);
}

gboolean
pg_account_has_connection_nick (PgAccount *account)
{
  return account->backend->ops->has_connection_nick (account);
}

char *
pg_account_dup_nick (PgAccount *account)
{
  return account->backend->ops->dup_nick (account);
}

guint
pg_account_get_nick_len (PgAccount *account)
{
  return account->backend->ops->get_nick_len != NULL ? account->backend->ops->get_nick_len (account) : 0;
}

char *
pg_account_normalize (PgAccount *account, const char *name)
{
  return account->backend->ops->normalize (account, name);
}

void
pg_account_restore_contact (PgAccount *account, const char *name, const char *alias)
{
  account->backend->ops->restore_contact (account, name, alias);
}

void
pg_account_add_contact (PgAccount *account, const char *name, const char *alias)
{
  account->backend->ops->add_contact (account, name, alias);
}

void
pg_account_remove_contact (PgAccount *account, const char *name)
{
  account->backend->ops->remove_contact (account, name);
}

void
pg_account_authorize (PgAccount *account, const char *name, gboolean allow)
{
  account->backend->ops->authorize (account, name, allow);
}

void
pg_account_answer_question (PgAccount *account, const PgQuestionAnswer *answer)
{
  if (account->backend->ops->answer_question != NULL)
    account->backend->ops->answer_question (account, answer);
}
