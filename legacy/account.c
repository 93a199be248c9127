/* legacy/account.c — PgPurpleAccount: one PurpleAccount behind legacy/account.h:
 * its creation, login life cycle and events (commands: account-commands.c).
 *
 * Events come from libpurple's UI ops and signals (purple-conn.c,
 * purple-conv.c, purple-blist.c, purple-request.c), which find the
 * PgPurpleAccount through the PurpleAccount's ui_data slot and raise events
 * through the pg_purple_account_emit_*() functions below.
 *
 * The call-stack contract.  libpurple calls us from deep inside a
 * protocol: its input handler is parsing a line, and after our callback
 * returns it goes on using its connection.  Ending that connection from
 * inside the callback (purple_account_disconnect(), purple_accounts_delete())
 * would free what the protocol is still using.  The owner may nevertheless
 * call any command from inside any event, pg_purple_account_free() included:
 *  - Events are counted while they run (emit_depth).  pg_purple_account_free(),
 *    pg_purple_account_disconnect() and pg_purple_account_connect() called during an
 *    event only record what the owner wants and finish in an idle
 *    callback, when libpurple is no longer on the stack.  A PgPurpleAccount
 *    freed that way stops raising events at once and leaves the login
 *    table at once (so the username may be used again right away);
 *    the struct itself lives until the idle has torn the login down.
 *  - The disconnected event never runs inside libpurple either: the
 *    reason is recorded in report_disconnect_reason, the end of the
 *    connection in the disconnected UI op, and the event is raised from an
 *    idle once libpurple has destroyed the connection.  The account is then
 *    disabled, so libpurple cannot start the login again by itself (it
 *    connects enabled accounts whenever their status becomes "online").
 *  - libpurple 2.14 has no automatic reconnection in its core (that lives
 *    in Pidgin's UI), and purplegate installs no network_connected op.
 * Outside events (the owner's own timers and stream callbacks) every
 * command acts synchronously. */
#define G_LOG_DOMAIN "pg-account"

#include "legacy/account-private.h"

#include <string.h>

/* clang-format 14 would put spaces around the dashes of the quark's name. */
/* clang-format off */
G_DEFINE_QUARK (pg-account-error-quark, pg_account_error)
/* clang-format on */

/* How many events are running right now (see the contract above).  One
 * number for all accounts: an event of one account may tear down another,
 * and libpurple's lists are shared. */
static guint emit_depth;

/* Accounts freed during an event whose teardown idle has not run yet;
 * libpurple's shutdown must not outlive them. */
static GSList *pending_teardowns;

PgPurpleAccount *
pg_purple_account_from_purple (PurpleAccount *account)
{
  PgPurpleAccount *pg = account != NULL ? account->ui_data : NULL;

  return pg != NULL && !pg->dying ? pg : NULL;
}

PgPurpleAccount *
pg_purple_account_from_connection (PurpleConnection *gc)
{
  return gc != NULL ? pg_purple_account_from_purple (purple_connection_get_account (gc)) : NULL;
}

static void teardown (PgPurpleAccount *account);

/* purple_core_quit() (pg_purple_free()) is starting.  Owners free their
 * accounts first; whatever is left must not fire into a dead libpurple.
 * @data: the PgPurple's login table (see pg_purple_account_new()). */
static void
core_quitting (gpointer data)
{
  GHashTable *logins = data;
  GHashTableIter iter;
  gpointer value;

  while (pending_teardowns != NULL)
    teardown (pending_teardowns->data);
  g_hash_table_iter_init (&iter, logins);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgPurpleAccount *account = value;

      g_warning ("%s: libpurple shuts down before the account was freed",
                 purple_account_get_username (account->purple));
      account->quiet = TRUE;
      g_clear_handle_id (&account->apply_id, g_source_remove);
      g_clear_handle_id (&account->disconnected_id, g_source_remove);
      g_clear_handle_id (&account->login_timer_id, g_source_remove);
    }
}

void
pg_purple_account_install_ui_ops (PgPurple *purple)
{
  static int handle;

  purple_signal_connect (purple_get_core (), "quitting", &handle, PURPLE_CALLBACK (core_quitting),
                         pg_purple_get_logins (purple));
  pg_purple_conn_install ();
  pg_purple_conv_install ();
  pg_purple_blist_install ();
  pg_purple_request_install ();
  pg_purple_certificate_install ();
  pg_purple_account_confirm_install ();
  pg_purple_chat_install ();
  pg_purple_chat_irc_install ();
  pg_purple_away_irc_install ();
  pg_purple_privmsg_irc_install ();
  pg_purple_chat_jabber_install ();
  pg_purple_carbons_install ();
  pg_purple_roomlist_install ();
}

/* ---- events ------------------------------------------------------------ */

static gboolean
may_emit (PgPurpleAccount *account)
{
  return !account->dying && !account->quiet;
}

void
pg_purple_account_emit_connected (PgPurpleAccount *account)
{
  g_clear_handle_id (&account->login_timer_id, g_source_remove);
  if (!may_emit (account) || account->events.connected == NULL)
    return;
  g_info ("%s: logged in", purple_account_get_username (account->purple));
  emit_depth++;
  account->events.connected (account->owner);
  emit_depth--;
}

PgShow
pg_purple_account_show_from_presence (PurplePresence *presence)
{
  PurpleStatus *status;

  if (presence == NULL || !purple_presence_is_online (presence))
    return PG_SHOW_OFFLINE;
  status = purple_presence_get_active_status (presence);
  switch (purple_status_type_get_primitive (purple_status_get_type (status)))
    {
    case PURPLE_STATUS_AVAILABLE:
      /* prpl-jabber's "free for chat" is an available status of its own. */
      return g_strcmp0 (purple_status_get_id (status), "freeforchat") == 0 ? PG_SHOW_CHAT : PG_SHOW_AVAILABLE;
    case PURPLE_STATUS_AWAY:
      return PG_SHOW_AWAY;
    case PURPLE_STATUS_EXTENDED_AWAY:
      return PG_SHOW_XA;
    case PURPLE_STATUS_UNAVAILABLE:
      return PG_SHOW_DND;
    case PURPLE_STATUS_INVISIBLE: /* never shown as present */
    case PURPLE_STATUS_OFFLINE:
    case PURPLE_STATUS_UNSET:
      return PG_SHOW_OFFLINE;
    default: /* mobile, tune, mood: independent extras of an online contact */
      return PG_SHOW_AVAILABLE;
    }
}

void
pg_purple_account_emit_contact_status (PgPurpleAccount *account, PurpleBuddy *buddy)
{
  PurplePresence *presence = purple_buddy_get_presence (buddy);
  PurpleStatus *status = purple_presence_get_active_status (presence);
  const char *text = status != NULL ? purple_status_get_attr_string (status, "message") : NULL;
  PgShow show = pg_purple_account_show_from_presence (presence);

  if (!may_emit (account) || account->events.contact_status == NULL)
    return;
  g_debug ("%s: contact %s is now %d", purple_account_get_username (account->purple),
           purple_buddy_get_name (buddy), show);
  emit_depth++;
  account->events.contact_status (account->owner, purple_buddy_get_name (buddy),
                                  purple_buddy_get_alias_only (buddy), show,
                                  text != NULL && *text != '\0' ? text : NULL);
  emit_depth--;
}

void
pg_purple_account_emit_contact_listed (PgPurpleAccount *account, const char *name, const char *alias)
{
  if (!may_emit (account) || account->events.contact_listed == NULL)
    return;
  emit_depth++;
  account->events.contact_listed (account->owner, name, alias);
  emit_depth--;
}

void
pg_purple_account_emit_contact_unlisted (PgPurpleAccount *account, const char *name)
{
  if (!may_emit (account) || account->events.contact_unlisted == NULL)
    return;
  emit_depth++;
  account->events.contact_unlisted (account->owner, name);
  emit_depth--;
}

void
pg_purple_account_emit_sent_confirmed (PgPurpleAccount *account, guint64 serial)
{
  if (!may_emit (account) || account->events.sent_confirmed == NULL)
    return;
  emit_depth++;
  account->events.sent_confirmed (account->owner, serial);
  emit_depth--;
}

void
pg_purple_account_emit_refused (PgPurpleAccount *account, guint64 tag)
{
  if (!may_emit (account) || account->events.refused == NULL)
    return;
  emit_depth++;
  account->events.refused (account->owner, tag);
  emit_depth--;
}

void
pg_purple_account_emit_chat (PgPurpleAccount *account, const PgChatEvent *event)
{
  if (!may_emit (account) || account->events.chat == NULL)
    return;
  /* Where an occupant is written to privately, said with the occupant:
   * the protocol knows it only while the chat is open. */
  g_autofree char *member = NULL;
  PgChatEvent with_member;
  const char *nick = event->kind == PG_CHAT_EVENT_OCCUPANT  ? event->nick
                     : event->kind == PG_CHAT_EVENT_RENAMED ? event->new_nick
                                                            : NULL;
  if (nick != NULL && event->member == NULL && event->chat != NULL)
    {
      member = pg_purple_account_dup_chat_member_name (account, event->chat, nick);
      with_member = *event;
      with_member.member = member;
      event = &with_member;
    }
  emit_depth++;
  account->events.chat (account->owner, event);
  emit_depth--;
}

void
pg_purple_account_emit_message (PgPurpleAccount *account, const char *from, const char *html)
{
  if (!may_emit (account) || account->events.message == NULL)
    return;
  emit_depth++;
  account->events.message (account->owner, from, html);
  emit_depth--;
}

void
pg_purple_account_emit_own_message (PgPurpleAccount *account, const char *to, gboolean chat, const char *html,
                                    gint64 when)
{
  if (!may_emit (account) || account->events.own_message == NULL)
    return;
  g_debug ("%s: own message to %s sent elsewhere", purple_account_get_username (account->purple), to);
  emit_depth++;
  account->events.own_message (account->owner, to, chat, html, when);
  emit_depth--;
}

void
pg_purple_account_emit_chat_state (PgPurpleAccount *account, const char *from, PgChatState state)
{
  if (!may_emit (account) || account->events.chat_state == NULL)
    return;
  emit_depth++;
  account->events.chat_state (account->owner, from, state);
  emit_depth--;
}

void
pg_purple_account_emit_authorization_requested (PgPurpleAccount *account, const char *from, const char *alias,
                                                const char *message)
{
  if (!may_emit (account) || account->events.authorization_requested == NULL)
    return;
  emit_depth++;
  account->events.authorization_requested (account->owner, from, alias, message);
  emit_depth--;
}

void
pg_purple_account_emit_question (PgPurpleAccount *account, const PgQuestion *question)
{
  if (!may_emit (account) || account->events.question == NULL)
    return;
  emit_depth++;
  account->events.question (account->owner, question);
  emit_depth--;
}

void
pg_purple_account_emit_question_closed (PgPurpleAccount *account, guint32 id)
{
  if (!may_emit (account) || account->events.question_closed == NULL)
    return;
  emit_depth++;
  account->events.question_closed (account->owner, id);
  emit_depth--;
}

/* ---- the login ---------------------------------------------------------- */

static void
forget_failure (PgPurpleAccount *account)
{
  account->failed = FALSE;
  account->auth_hint = FALSE;
  g_clear_pointer (&account->failure_reason, g_free);
}

void
pg_purple_account_login_failed (PgPurpleAccount *account, PgAccountFailure failure, const char *text)
{
  if (account->quiet || account->failed)
    return; /* libpurple reports one error per connection; keep the first */
  account->failed = TRUE;
  account->failure = failure;
  account->failure_reason = g_strdup (text != NULL ? text : "connection error");
}

static gboolean
emit_disconnected (gpointer data)
{
  PgPurpleAccount *account = data;
  PgAccountFailure failure = account->failed ? account->failure : PG_ACCOUNT_FAILURE_NETWORK;
  g_autofree char *reason = g_steal_pointer (&account->failure_reason);
  g_autofree char *line = NULL;

  account->disconnected_id = 0;
  forget_failure (account);
  account->want_online = FALSE;
  /* The connection is gone; keep libpurple from starting it again. */
  purple_account_set_enabled (account->purple, PG_ACCOUNT_UI, FALSE);
  if (reason == NULL)
    reason = g_strdup ("the connection was closed");
  line = g_strdelimit (g_strdup (reason), "\r\n", ' '); /* IRC adds the ERROR line */
  g_message ("%s: login ended: %s", purple_account_get_username (account->purple), line);
  if (account->events.disconnected != NULL && may_emit (account))
    {
      emit_depth++;
      account->events.disconnected (account->owner, failure, reason);
      emit_depth--;
    }
  return G_SOURCE_REMOVE;
}

void
pg_purple_account_login_closed (PgPurpleAccount *account)
{
  g_clear_handle_id (&account->login_timer_id, g_source_remove);
  if (account->quiet || account->disconnected_id != 0)
    return;
  account->disconnected_id = g_idle_add (emit_disconnected, account);
}

/* Raises disconnected without any connection, from an idle. */
static void
fail_later (PgPurpleAccount *account, PgAccountFailure failure, const char *text)
{
  forget_failure (account);
  pg_purple_account_login_failed (account, failure, text);
  pg_purple_account_login_closed (account);
}

/* The login's deadline passed (see PG_ACCOUNT_LOGIN_TIMEOUT_S).  Runs
 * from the main loop, so the connection can be ended here. */
static gboolean
login_timed_out (gpointer data)
{
  PgPurpleAccount *account = data;

  account->login_timer_id = 0;
  g_message ("%s: no login after %u s", purple_account_get_username (account->purple),
             account->login_timeout_s);
  pg_purple_account_login_failed (account, PG_ACCOUNT_FAILURE_NETWORK, "the login timed out");
  if (!purple_account_is_disconnected (account->purple))
    purple_account_disconnect (account->purple); /* disconnected op: the event follows */
  else
    pg_purple_account_login_closed (account);
  return G_SOURCE_REMOVE;
}

static void
start_login (PgPurpleAccount *account)
{
  PurplePlugin *prpl = purple_find_prpl (purple_account_get_protocol_id (account->purple));
  PurplePluginProtocolInfo *info = prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (prpl) : NULL;
  gboolean need_password
      = info != NULL && !(info->options & (OPT_PROTO_NO_PASSWORD | OPT_PROTO_PASSWORD_OPTIONAL));

  forget_failure (account);
  account->quiet = FALSE;
  if (need_password && (account->password == NULL || *account->password == '\0'))
    {
      /* libpurple would ask for one through request_fields, which we cancel. */
      fail_later (account, PG_ACCOUNT_FAILURE_AUTH, "a password is required");
      return;
    }
  g_info ("%s: logging in", purple_account_get_username (account->purple));
  purple_account_set_password (account->purple, account->password);
  purple_account_set_enabled (account->purple, PG_ACCOUNT_UI, TRUE);
  if (purple_account_is_disconnected (account->purple))
    purple_account_connect (account->purple);
  if (purple_account_is_disconnected (account->purple))
    fail_later (account, PG_ACCOUNT_FAILURE_OTHER, "the login could not be started");
  else if (!purple_account_is_connected (account->purple))
    account->login_timer_id = g_timeout_add_seconds (account->login_timeout_s, login_timed_out, account);
}

/* Ends the current login, if any, without events. */
static void
end_login (PgPurpleAccount *account)
{
  PurpleAccount *purple = account->purple;

  account->quiet = TRUE;
  g_clear_handle_id (&account->disconnected_id, g_source_remove);
  g_clear_handle_id (&account->login_timer_id, g_source_remove);
  purple_account_set_enabled (purple, PG_ACCOUNT_UI, FALSE);
  /* set_enabled() leaves a connection alone that already has a fatal
   * error and waits for libpurple's own disconnect timeout. */
  if (!purple_account_is_disconnected (purple))
    purple_account_disconnect (purple);
  forget_failure (account);
  account->quiet = FALSE;
}

static void
apply (PgPurpleAccount *account)
{
  g_clear_handle_id (&account->apply_id, g_source_remove);
  gpointer previous = pg_purple_activity_enter (account->owner);
  if (account->restart || !account->want_online)
    {
      account->restart = FALSE;
      end_login (account);
    }
  if (account->want_online && purple_account_is_disconnected (account->purple))
    start_login (account);
  pg_purple_activity_leave (previous);
}

static gboolean
apply_idle (gpointer data)
{
  PgPurpleAccount *account = data;

  account->apply_id = 0;
  apply (account);
  return G_SOURCE_REMOVE;
}

/* Applies want_online now, or after the running event (see the top). */
static void
apply_soon (PgPurpleAccount *account)
{
  if (emit_depth == 0)
    apply (account);
  else if (account->apply_id == 0)
    account->apply_id = g_idle_add (apply_idle, account);
}

/* ---- creation and teardown --------------------------------------------- */

static gboolean
parse_bool (const char *value)
{
  return g_ascii_strcasecmp (value, "true") == 0 || g_ascii_strcasecmp (value, "yes") == 0
         || strcmp (value, "1") == 0;
}

static PurpleAccountOption *
find_option (const char *protocol_id, const char *key)
{
  PurplePlugin *prpl = purple_find_prpl (protocol_id);

  for (GList *l = PURPLE_PLUGIN_PROTOCOL_INFO (prpl)->protocol_options; l != NULL; l = l->next)
    if (g_strcmp0 (purple_account_option_get_setting (l->data), key) == 0)
      return l->data;
  return NULL;
}

/* Sets each pair with the type the protocol declares (already checked). */
static void
apply_settings (PurpleAccount *purple, const char *protocol_id, const char *const *keys,
                const char *const *values)
{
  for (size_t i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      PurpleAccountOption *option = find_option (protocol_id, keys[i]);
      gint64 number = 0;

      /* purplegate's own options (pg_purple_dup_options()) are read back by
       * the glue; the protocol ignores settings it does not know. */
      switch (option != NULL ? purple_account_option_get_type (option) : PURPLE_PREF_STRING)
        {
        case PURPLE_PREF_BOOLEAN:
          purple_account_set_bool (purple, keys[i], parse_bool (values[i]));
          break;
        case PURPLE_PREF_INT:
          g_ascii_string_to_signed (values[i], 10, G_MININT, G_MAXINT, &number, NULL);
          purple_account_set_int (purple, keys[i], (int)number);
          break;
        default: /* strings and list values */
          purple_account_set_string (purple, keys[i], values[i]);
          break;
        }
    }
}

/* The key of @account's login in the PgPurple's login table: protocol id
 * and username normalised by the protocol, which is how libpurple's
 * purple_accounts_find() tells two accounts apart.
 *
 * Why a table of our own: purple_accounts_find() and purple_account_new()
 * (which calls it) compare against every account in libpurple's list,
 * normalising both names each time, so N logins cost O(N^2) -- 72 % of the
 * login storm's instructions at N = 200.  Our accounts therefore never join
 * that list (purple_accounts_add()): nothing in libpurple needs them there
 * to connect, and what iterates it (accounts.xml, saved statuses, restoring
 * statuses at startup) is what purplegate wants left alone anyway.
 * Caller owns the key (g_free). */
static char *
login_key (PurpleAccount *account)
{
  return g_strconcat (purple_account_get_protocol_id (account), "\n",
                      purple_normalize (account, purple_account_get_username (account)), NULL);
}

PgPurpleAccount *
pg_purple_account_find (PgPurple *purple, const char *protocol_id, const char *username)
{
  PurpleAccount *probe;
  g_autofree char *key = NULL;

  g_return_val_if_fail (purple != NULL && protocol_id != NULL && username != NULL, NULL);

  probe = purple_account_new (username, protocol_id);
  key = login_key (probe);
  purple_account_destroy (probe);
  return g_hash_table_lookup (pg_purple_get_logins (purple), key);
}

char *
pg_purple_normalize_name (PgPurple *purple, const char *protocol_id, const char *name)
{
  g_return_val_if_fail (purple != NULL && protocol_id != NULL && name != NULL, NULL);
  PurpleAccount *probe = purple_account_new ("probe", protocol_id);
  char *normalized = g_strdup (purple_normalize (probe, name));
  purple_account_destroy (probe);
  return normalized;
}

char *
pg_purple_dup_login_key (PgPurple *purple, const char *protocol_id, const char *username)
{
  g_return_val_if_fail (purple != NULL && protocol_id != NULL && username != NULL, NULL);
  PurpleAccount *probe = purple_account_new (username, protocol_id);
  char *key = login_key (probe);
  purple_account_destroy (probe);
  return key;
}

GHashTable *
pg_purple_account_kicks (PgPurpleAccount *account)
{
  if (account->kicks == NULL)
    account->kicks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)pg_kick_free);
  return account->kicks;
}

/* Gives the login's name back at once, even when the struct lives on
 * until a deferred teardown. */
static void
forget_login (PgPurpleAccount *account)
{
  if (account->login_key == NULL)
    return;
  g_hash_table_remove (account->logins, account->login_key);
  g_clear_pointer (&account->login_key, g_free);
}

PgPurpleAccount *
pg_purple_account_new (PgPurple *purple, const char *protocol_id, const char *username, const char *password,
                       const char *const *setting_keys, const char *const *setting_values,
                       const PgAccountEvents *events, gpointer owner, GError **error)
{
  PurpleAccount *account;
  PgPurpleAccount *pg;
  g_autofree char *key = NULL;
  GHashTable *logins;

  g_return_val_if_fail (purple != NULL && protocol_id != NULL && username != NULL, NULL);
  g_return_val_if_fail (events != NULL, NULL);
  g_return_val_if_fail ((setting_keys == NULL) == (setting_values == NULL), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pg_purple_check_protocol (purple, protocol_id, error))
    return NULL;
  for (size_t i = 0; setting_keys != NULL && setting_keys[i] != NULL; i++)
    {
      g_return_val_if_fail (setting_values[i] != NULL, NULL);
      if (!pg_purple_check_setting (purple, protocol_id, setting_keys[i], setting_values[i], error))
        return NULL;
    }

  /* Never in libpurple's account list (see login_key()), so this scans
   * nothing and always creates a new account. */
  account = purple_account_new (username, protocol_id);
  key = login_key (account);
  logins = pg_purple_get_logins (purple);
  if (g_hash_table_contains (logins, key))
    {
      purple_account_destroy (account);
      g_set_error (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_EXISTS, "the %s login \"%s\" is already in use",
                   protocol_id, username);
      return NULL;
    }
  apply_settings (account, protocol_id, setting_keys, setting_values);
  /* Safe: accounts.xml lists only accounts in libpurple's list, and
   * purple-core.c keeps the file from ever being written anyway. */
  purple_account_set_remember_password (account, TRUE);
  purple_account_set_password (account, password);
  purple_account_set_enabled (account, PG_ACCOUNT_UI, FALSE);

  pg = g_new0 (PgPurpleAccount, 1);
  pg->purple = account;
  pg->events = *events;
  pg->owner = owner;
  pg->password = g_strdup (password);
  pg->login_timeout_s = PG_ACCOUNT_LOGIN_TIMEOUT_S;
  g_queue_init (&pg->auths);
  pg->core = purple;
  pg->logins = logins;
  pg->login_key = g_steal_pointer (&key);
  account->ui_data = pg;
  g_hash_table_insert (logins, pg->login_key, pg);
  g_debug ("%s: account created (%s)", username, protocol_id);
  return pg;
}

static void
wipe_password (PgPurpleAccount *account)
{
  if (account->password != NULL)
    memset (account->password, 0, strlen (account->password));
  g_clear_pointer (&account->password, g_free);
}

static void
teardown (PgPurpleAccount *account)
{
  PurpleAccount *purple = account->purple;

  g_clear_handle_id (&account->teardown_id, g_source_remove);
  pending_teardowns = g_slist_remove (pending_teardowns, account);
  account->quiet = TRUE;
  purple->ui_data = NULL; /* callbacks of what follows find no PgPurpleAccount */
  /* Our close_account_request op frees each pending authorization. */
  purple_account_request_close_with_account (purple);
  g_queue_clear_full (&account->auths, g_free); /* none should be left */
  pg_purple_request_forget_account (account);
  purple_account_set_enabled (purple, PG_ACCOUNT_UI, FALSE);
  if (!purple_account_is_disconnected (purple))
    purple_account_disconnect (purple);
  /* Removes the buddies, conversations and the account itself (it is in
   * no account list: see login_key()). */
  purple_accounts_delete (purple);
  forget_login (account);
  wipe_password (account);
  g_free (account->failure_reason);
  g_clear_pointer (&account->kicks, g_hash_table_unref);
  g_clear_pointer (&account->bans, g_ptr_array_unref);
  g_free (account->chantypes);
  g_free (account);
}

static gboolean
teardown_idle (gpointer data)
{
  PgPurpleAccount *account = data;

  account->teardown_id = 0;
  teardown (account);
  return G_SOURCE_REMOVE;
}

void
pg_purple_account_free (PgPurpleAccount *account)
{
  if (account == NULL)
    return;
  g_return_if_fail (!account->dying);

  g_debug ("%s: account freed", purple_account_get_username (account->purple));
  account->dying = TRUE;
  account->quiet = TRUE;
  memset (&account->events, 0, sizeof account->events);
  account->owner = NULL;
  g_clear_handle_id (&account->apply_id, g_source_remove);
  g_clear_handle_id (&account->disconnected_id, g_source_remove);
  g_clear_handle_id (&account->login_timer_id, g_source_remove);
  pg_purple_account_marks_free (account);
  pg_purple_account_refusals_free (account);
  pg_purple_away_irc_free (account);
  if (emit_depth == 0)
    {
      teardown (account);
      return;
    }
  /* Inside an event: libpurple is on the stack (see the top). */
  forget_login (account);
  account->teardown_id = g_idle_add (teardown_idle, account);
  pending_teardowns = g_slist_prepend (pending_teardowns, account);
}

/* ---- commands ----------------------------------------------------------- */

void
pg_purple_account_connect (PgPurpleAccount *account)
{
  g_return_if_fail (account != NULL && !account->dying);

  account->want_online = TRUE;
  g_clear_handle_id (&account->disconnected_id, g_source_remove); /* a stale login's */
  apply_soon (account);
}

void
pg_purple_account_disconnect (PgPurpleAccount *account)
{
  g_return_if_fail (account != NULL && !account->dying);

  account->want_online = FALSE;
  account->quiet = TRUE; /* until the login is down */
  g_clear_handle_id (&account->disconnected_id, g_source_remove);
  if (!purple_account_is_disconnected (account->purple))
    account->restart = TRUE;
  apply_soon (account);
}

gboolean
pg_purple_account_is_connected (PgPurpleAccount *account)
{
  g_return_val_if_fail (account != NULL, FALSE);

  return !account->dying && purple_account_is_connected (account->purple);
}
