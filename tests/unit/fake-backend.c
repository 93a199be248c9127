/* tests/unit/fake-backend.c — the legacy backend that records commands and
 * raises events on request (tests/unit/fake-backend.h). */
#define G_LOG_DOMAIN "pg-fake-backend"
#include "build-config.h"

#include "tests/unit/fake-backend.h"

#include <string.h>

struct PgFakeBackend
{
  PgBackend *backend;
  GPtrArray *commands; /* PgFakeCommand */
  GPtrArray *accounts; /* PgAccount, borrowed: those that exist, oldest first */
  GHashTable *nicks;   /* PgAccount → our nick on its connection (owned) */
  PgConfirm confirm;   /* what confirm_sent answers */
  guint64 last_serial;
};

static void
command_free (PgFakeCommand *command)
{
  g_free (command->username);
  g_free (command->name);
  g_strfreev (command->args);
  g_free (command->line);
  g_free (command);
}

static PgFakeBackend *
fake_of (PgAccount *account)
{
  return account->backend->ops_data;
}

/* Ends the arguments of record(), which may be NULL strings themselves. */
static const char fake_end = 0;
#define FAKE_END ((const char *)&fake_end)

/* Records command @name of @account with the argument strings that follow,
 * up to FAKE_END (NULL strings written "(null)"). */

static void
record (PgAccount *account, const char *name, ...)
{
  PgFakeBackend *fake = fake_of (account);
  PgFakeCommand *command = g_new0 (PgFakeCommand, 1);
  g_autoptr (GStrvBuilder) args = g_strv_builder_new ();
  GString *line = g_string_new (name);
  va_list ap;

  va_start (ap, name);
  for (const char *arg = va_arg (ap, const char *); arg != FAKE_END; arg = va_arg (ap, const char *))
    {
      const char *text = arg != NULL ? arg : "(null)";
      g_strv_builder_add (args, text);
      g_string_append_printf (line, " %s", text);
    }
  va_end (ap);
  command->username = g_strdup (account->username);
  command->name = g_strdup (name);
  command->args = g_strv_builder_end (args);
  command->line = g_string_free (line, FALSE);
  g_debug ("%s: %s", command->username, command->line);
  g_ptr_array_add (fake->commands, command);
}

static char *
u64 (guint64 value)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT, value);
}

/* ---- the ops ---- */

static void
fake_start (PgAccount *account, const char *password, const char *const *setting_keys,
            const char *const *setting_values)
{
  g_ptr_array_add (fake_of (account)->accounts, account);
  g_autofree char *settings = setting_keys != NULL ? g_strjoinv (",", (char **)setting_keys) : NULL;
  record (account, "start", account->protocol_id, password, settings, FAKE_END);
}

static void
fake_free (PgAccount *account)
{
  PgFakeBackend *fake = fake_of (account);
  record (account, "free", FAKE_END);
  g_ptr_array_remove (fake->accounts, account);
  g_hash_table_remove (fake->nicks, account);
}

static void
fake_connect (PgAccount *account)
{
  record (account, "connect", FAKE_END);
}

static void
fake_set_status (PgAccount *account, PgShow show, const char *message)
{
  g_autofree char *show_text = u64 (show);
  record (account, "set_status", show_text, message, FAKE_END);
}

static void
fake_send_message (PgAccount *account, guint64 tag, const char *to, const char *text)
{
  g_autofree char *tag_text = u64 (tag);
  record (account, "send_message", tag_text, to, text, FAKE_END);
}

static PgConfirm
fake_confirm_sent (PgAccount *account, guint64 serial)
{
  static const char *const answers[] = {
    [PG_CONFIRM_ASKED] = "promised",
    [PG_CONFIRM_NO_ROUND_TRIP] = "refused",
    [PG_CONFIRM_UNAVAILABLE] = "unavailable",
  };
  PgFakeBackend *fake = fake_of (account);
  g_autofree char *serial_text = u64 (serial);
  record (account, "confirm_sent", serial_text, answers[fake->confirm], FAKE_END);
  if (fake->confirm == PG_CONFIRM_ASKED)
    fake->last_serial = serial;
  return fake->confirm;
}

static void
fake_send_chat_state (PgAccount *account, const char *to, PgChatState state)
{
  g_autofree char *state_text = u64 (state);
  record (account, "send_chat_state", to, state_text, FAKE_END);
}

static void
fake_join_chat (PgAccount *account, const char *chat, const char *nick, const char *password)
{
  record (account, "join_chat", chat, nick, password, FAKE_END);
}

static void
fake_leave_chat (PgAccount *account, const char *chat)
{
  record (account, "leave_chat", chat, FAKE_END);
}

static void
fake_send_chat (PgAccount *account, const char *chat, const char *text)
{
  record (account, "send_chat", chat, text, FAKE_END);
}

static void
fake_set_chat_topic (PgAccount *account, const char *chat, const char *topic)
{
  record (account, "set_chat_topic", chat, topic, FAKE_END);
}

static void
fake_kick_chat (PgAccount *account, const char *chat, const char *nick, const char *reason)
{
  record (account, "kick_chat", chat, nick, reason, FAKE_END);
}

static void
fake_invite_chat (PgAccount *account, const char *chat, const char *who, const char *message)
{
  record (account, "invite_chat", chat, who, message, FAKE_END);
}

static void
fake_set_chat_nick (PgAccount *account, const char *chat, const char *nick)
{
  record (account, "set_chat_nick", chat, nick, FAKE_END);
}

static void
fake_list_chats (PgAccount *account)
{
  record (account, "list_chats", FAKE_END);
}

static gboolean
fake_set_nick (PgAccount *account, const char *nick)
{
  record (account, "set_nick", nick, FAKE_END);
  return TRUE;
}

static void
fake_restore_contact (PgAccount *account, const char *name, const char *alias)
{
  record (account, "restore_contact", name, alias, FAKE_END);
}

static void
fake_add_contact (PgAccount *account, const char *name, const char *alias)
{
  record (account, "add_contact", name, alias, FAKE_END);
}

static void
fake_remove_contact (PgAccount *account, const char *name)
{
  record (account, "remove_contact", name, FAKE_END);
}

static void
fake_authorize (PgAccount *account, const char *name, gboolean allow)
{
  record (account, "authorize", name, allow ? "allow" : "deny", FAKE_END);
}

/* Questions about the connection are answered, not recorded: the code asks
 * them at will, and they change nothing. The answers are IRC's. */
static gboolean
fake_is_chat_name (PgAccount *account, const char *name)
{
  return name != NULL && name[0] == '#';
}

static gboolean
fake_has_connection_nick (PgAccount *account)
{
  return TRUE;
}

static char *
fake_dup_nick (PgAccount *account)
{
  const char *nick = g_hash_table_lookup (fake_of (account)->nicks, account);
  return g_strdup (nick != NULL ? nick : account->username);
}

static char *
fake_normalize (PgAccount *account, const char *name)
{
  return g_utf8_casefold (name, -1);
}

static const PgBackendOps fake_ops = {
  .start = fake_start,
  .free = fake_free,
  .connect = fake_connect,
  .set_status = fake_set_status,
  .send_message = fake_send_message,
  .confirm_sent = fake_confirm_sent,
  .send_chat_state = fake_send_chat_state,
  .join_chat = fake_join_chat,
  .leave_chat = fake_leave_chat,
  .send_chat = fake_send_chat,
  .set_chat_topic = fake_set_chat_topic,
  .kick_chat = fake_kick_chat,
  .invite_chat = fake_invite_chat,
  .set_chat_nick = fake_set_chat_nick,
  .list_chats = fake_list_chats,
  .set_nick = fake_set_nick,
  .restore_contact = fake_restore_contact,
  .add_contact = fake_add_contact,
  .remove_contact = fake_remove_contact,
  .authorize = fake_authorize,
  .is_chat_name = fake_is_chat_name,
  .has_connection_nick = fake_has_connection_nick,
  .dup_nick = fake_dup_nick,
  .normalize = fake_normalize,
};

/* ---- the fake ---- */

PgFakeBackend *
pg_fake_backend_new (void)
{
  PgFakeBackend *fake = g_new0 (PgFakeBackend, 1);
  fake->backend = pg_backend_new_with_ops (NULL, &fake_ops, fake);
  fake->commands = g_ptr_array_new_with_free_func ((GDestroyNotify)command_free);
  fake->accounts = g_ptr_array_new ();
  fake->nicks = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  fake->confirm = PG_CONFIRM_ASKED;
  return fake;
}

void
pg_fake_backend_free (PgFakeBackend *fake)
{
  if (fake == NULL)
    return;
  g_assert_cmpuint (fake->accounts->len, ==, 0);
  pg_backend_free (fake->backend);
  g_ptr_array_unref (fake->commands);
  g_ptr_array_unref (fake->accounts);
  g_hash_table_unref (fake->nicks);
  g_free (fake);
}

PgBackend *
pg_fake_backend_get_backend (PgFakeBackend *fake)
{
  return fake->backend;
}

void
pg_fake_backend_set_round_trip (PgFakeBackend *fake, gboolean round_trip)
{
  fake->confirm = round_trip ? PG_CONFIRM_ASKED : PG_CONFIRM_NO_ROUND_TRIP;
}

void
pg_fake_backend_set_confirm (PgFakeBackend *fake, PgConfirm answer)
{
  fake->confirm = answer;
}

guint64
pg_fake_backend_get_last_serial (PgFakeBackend *fake)
{
  return fake->last_serial;
}

GPtrArray *
pg_fake_backend_get_commands (PgFakeBackend *fake)
{
  return fake->commands;
}

void
pg_fake_backend_clear (PgFakeBackend *fake)
{
  g_ptr_array_set_size (fake->commands, 0);
}

char *
pg_fake_backend_dup_log (PgFakeBackend *fake, const char *name)
{
  GString *log = g_string_new (NULL);
  for (guint i = 0; i < fake->commands->len; i++)
    {
      const PgFakeCommand *command = g_ptr_array_index (fake->commands, i);
      if (name == NULL || strcmp (command->name, name) == 0)
        g_string_append_printf (log, "%s\n", command->line);
    }
  return g_string_free (log, FALSE);
}

guint
pg_fake_backend_count (PgFakeBackend *fake, const char *name)
{
  guint n = 0;
  for (guint i = 0; i < fake->commands->len; i++)
    n += strcmp (((const PgFakeCommand *)g_ptr_array_index (fake->commands, i))->name, name) == 0;
  return n;
}

PgAccount *
pg_fake_backend_get_account (PgFakeBackend *fake)
{
  return fake->accounts->len > 0 ? g_ptr_array_index (fake->accounts, fake->accounts->len - 1) : NULL;
}

guint
pg_fake_backend_count_accounts (PgFakeBackend *fake)
{
  return fake->accounts->len;
}

/* ---- events ---- */

void
pg_fake_account_connected (PgAccount *account)
{
  account->events.connected (account->owner);
}

void
pg_fake_account_disconnected (PgAccount *account, PgAccountFailure failure, const char *reason)
{
  account->events.disconnected (account->owner, failure, reason);
}

void
pg_fake_account_contact_status (PgAccount *account, const char *name, const char *alias, PgShow show,
                                const char *status_text)
{
  account->events.contact_status (account->owner, name, alias, show, status_text);
}

void
pg_fake_account_contact_listed (PgAccount *account, const char *name, const char *alias)
{
  account->events.contact_listed (account->owner, name, alias);
}

void
pg_fake_account_contact_unlisted (PgAccount *account, const char *name)
{
  account->events.contact_unlisted (account->owner, name);
}

void
pg_fake_account_message (PgAccount *account, const char *from, const char *html)
{
  account->events.message (account->owner, from, html);
}

void
pg_fake_account_own_message (PgAccount *account, const char *to, gboolean chat, const char *html, gint64 when)
{
  account->events.own_message (account->owner, to, chat, html, when);
}

void
pg_fake_account_chat_state (PgAccount *account, const char *from, PgChatState state)
{
  account->events.chat_state (account->owner, from, state);
}

void
pg_fake_account_authorization_requested (PgAccount *account, const char *from, const char *alias,
                                         const char *message)
{
  account->events.authorization_requested (account->owner, from, alias, message);
}

void
pg_fake_account_sent_confirmed (PgAccount *account, guint64 serial)
{
  account->events.sent_confirmed (account->owner, serial);
}

void
pg_fake_account_refused (PgAccount *account, guint64 tag)
{
  account->events.refused (account->owner, tag);
}

void
pg_fake_account_chat (PgAccount *account, const PgChatEvent *event)
{
  PgFakeBackend *fake = fake_of (account);
  /* Our nick on the connection follows, as the real backends keep it. */
  if (event->kind == PG_CHAT_EVENT_NICK && event->new_nick != NULL)
    g_hash_table_insert (fake->nicks, account, g_strdup (event->new_nick));
  account->events.chat (account->owner, event);
}

void
pg_fake_account_send_failed (PgAccount *account, guint64 tag, gboolean offline, const char *reason)
{
  account->events.send_failed (account->owner, tag, offline, reason);
}
