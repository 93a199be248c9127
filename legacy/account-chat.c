/* legacy/account-chat.c — group-chat commands of a PgPurpleAccount, on
 * libpurple's generic chat API (serv_join_chat(), serv_chat_send(), the
 * protocol's own /commands); events come back from purple-chat.c. */
#define G_LOG_DOMAIN "pg-account-commands"

#include "legacy/account-private.h"
#include "legacy/irc-line.h"
#include "legacy/purple-eventloop.h"

#include <errno.h>
#include <string.h>

static PurpleConnection *
connection (PgPurpleAccount *account)
{
  if (account == NULL || account->dying || !pg_purple_account_is_connected (account))
    return NULL;
  return purple_account_get_connection (account->purple);
}

static void
refuse (PgPurpleAccount *account, const char *chat, PgChatRefusal refusal, const char *text)
{
  PgChatEvent event = { .kind = PG_CHAT_EVENT_REFUSED, .refusal = refusal, .text = text };

  event.chat = purple_normalize (account->purple, chat);
  pg_purple_account_emit_chat (account, &event);
}

static gboolean
is_irc (PgPurpleAccount *account)
{
  return g_strcmp0 (purple_account_get_protocol_id (account->purple), "prpl-irc") == 0;
}

gboolean
pg_purple_account_is_chat_name (PgPurpleAccount *account, const char *name)
{
  g_return_val_if_fail (account != NULL && name != NULL, FALSE);
  if (!is_irc (account) || name[0] == '\0')
    return FALSE;
  /* The server's CHANTYPES; RFC 1459 §1.3's "#&" until it said. */
  return strchr (account->chantypes != NULL ? account->chantypes : "#&", name[0]) != NULL;
}

/* RFC 2812 §1.3: a channel name has no space, BEL, comma or colon, and is
 * at most CHANNELLEN long. */
static gboolean
irc_channel_name_valid (PgPurpleAccount *account, const char *name)
{
  guint limit = account->channel_len > 0 ? account->channel_len : 50;
  return strpbrk (name, " \a,:\r\n") == NULL && strlen (name) <= limit;
}

void
pg_purple_account_join_chat (PgPurpleAccount *account, const char *chat, const char *nick,
                             const char *password)
{
  PurpleConnection *gc = connection (account);
  PurplePluginProtocolInfo *info;

  g_return_if_fail (chat != NULL);
  if (gc == NULL)
    return;
  info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  if (info->chat_info == NULL || info->chat_info_defaults == NULL || info->join_chat == NULL)
    {
      refuse (account, chat, PG_CHAT_REFUSED_NOT_FOUND, "this legacy network has no group chats");
      return;
    }
  /* prpl-irc would send any name, or several ("#a,#b"), as it is. */
  if (is_irc (account) && !pg_purple_account_is_chat_name (account, chat))
    {
      refuse (account, chat, PG_CHAT_REFUSED_NOT_FOUND, "not a channel name on this IRC network");
      return;
    }
  if (is_irc (account) && !irc_channel_name_valid (account, chat))
    {
      refuse (account, chat, PG_CHAT_REFUSED_BAD_NAME,
              "IRC channel names have no spaces, commas or colons and are not that long");
      return;
    }
  GHashTable *components = info->chat_info_defaults (gc, chat);
  if (components == NULL)
    {
      refuse (account, chat, PG_CHAT_REFUSED_BAD_NAME, "not a group chat name on this legacy network");
      return;
    }
  /* The protocol's own entries say which component is the key and which
   * the nick; their identifiers are static strings of the protocol. */
  GList *entries = info->chat_info (gc);
  for (GList *l = entries; l != NULL; l = l->next)
    {
      struct proto_chat_entry *entry = l->data;
      if (entry->secret && password != NULL)
        g_hash_table_replace (components, (gpointer)entry->identifier, g_strdup (password));
      else if (nick != NULL
               && (g_strcmp0 (entry->identifier, "handle") == 0
                   || g_strcmp0 (entry->identifier, "nick") == 0))
        g_hash_table_replace (components, (gpointer)entry->identifier, g_strdup (nick));
    }
  g_list_free_full (entries, g_free);
  serv_join_chat (gc, components);
  g_hash_table_destroy (components);
  pg_purple_eventloop_flush (gc);
}

void
pg_purple_account_leave_chat (PgPurpleAccount *account, const char *chat)
{
  PurpleConversation *conv;

  g_return_if_fail (account != NULL && chat != NULL);
  if (account->dying)
    return;
  conv = pg_purple_chat_find (account->purple, chat);
  /* One we are out of already stays until the login ends (or is joined
   * again): it may be inside the protocol's own callback now. */
  if (conv == NULL || purple_conv_chat_has_left (PURPLE_CONV_CHAT (conv)))
    return;
  /* Destroying a chat not yet left leaves it on the protocol (serv_chat_leave). */
  purple_conversation_destroy (conv);
  PurpleConnection *gc = connection (account);
  if (gc != NULL)
    pg_purple_eventloop_flush (gc);
}

/* A joined chat conversation, or NULL. */
static PurpleConversation *
joined_chat (PgPurpleAccount *account, const char *chat)
{
  PurpleConversation *conv;

  if (connection (account) == NULL)
    return NULL;
  conv = pg_purple_chat_find (account->purple, chat);
  if (conv == NULL || purple_conv_chat_has_left (PURPLE_CONV_CHAT (conv)))
    return NULL;
  return conv;
}

/* @text on one line: protocols write a command's arguments, a topic or an
 * invitation's text into one protocol line as they are (prpl-irc does), so
 * a line break in what the user typed would start a command of its own.
 * Owned. */
static char *
one_line (const char *text)
{
  char *line = g_strdup (text != NULL ? text : "");
  g_strdelimit (line, "\r\n", ' ');
  return line;
}

/* Runs the protocol's /command @name with @args on @conv; FALSE when the
 * protocol has no such command or it failed. */
static gboolean
run_command (PurpleConversation *conv, const char *name, const char *args)
{
  g_autofree char *flat = one_line (args);
  g_autofree char *line = g_strdup_printf ("%s %s", name, flat);
  g_autofree char *markup = g_markup_escape_text (line, -1);
  g_autofree char *error = NULL;
  PurpleCmdStatus status = purple_cmd_do_command (conv, line, markup, &error);

  if (status != PURPLE_CMD_STATUS_OK)
    g_debug ("/%s: %d%s%s", name, status, error != NULL ? ": " : "", error != NULL ? error : "");
  pg_purple_eventloop_flush (purple_conversation_get_gc (conv));
  return status == PURPLE_CMD_STATUS_OK;
}

gboolean
pg_purple_account_send_action (PgPurpleAccount *account, PurpleConversation *conv, const char *text)
{
  /* XEP-0245: "/me " then the action; protocols without a "me" command
   * (prpl-jabber) take the text as it is. */
  if (!g_str_has_prefix (text, "/me ") || text[4] == '\0')
    return FALSE;
  account->sending++; /* prpl-irc writes the action back as sent */
  gboolean done = run_command (conv, "me", text + 4);
  account->sending--;
  return done;
}

PgChatRefusal
pg_purple_account_chat_refusal (const GError *error)
{
  return error == NULL || g_error_matches (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_OFFLINE)
             ? PG_CHAT_REFUSED_NOT_JOINED
             : PG_CHAT_REFUSED_MESSAGE;
}

gboolean
pg_purple_account_send_chat (PgPurpleAccount *account, const char *chat, const char *text, GError **error)
{
  PurpleConversation *conv;
  int ret;

  g_return_val_if_fail (account != NULL && chat != NULL && text != NULL, FALSE);
  conv = joined_chat (account, chat);
  if (conv == NULL)
    {
      g_set_error (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_OFFLINE, "not in %s", chat);
      return FALSE;
    }
  pg_purple_chat_begin_send (conv);
  if (pg_purple_account_send_action (account, conv, text))
    {
      pg_purple_chat_end_send (conv);
      return TRUE;
    }
  g_autofree char *html = pg_purple_account_text_to_html (text);
  PurpleConnection *gc = purple_conversation_get_gc (conv);
  account->sending++;
  ret = serv_chat_send (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)), html, PURPLE_MESSAGE_SEND);
  account->sending--;
  if (ret >= 0)
    pg_purple_chat_end_send (conv);
  pg_purple_eventloop_flush (gc);
  if (ret < 0)
    {
      g_set_error (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_SEND, "the protocol refused to send to %s: %s",
                   chat, ret == -E2BIG ? "the message is too large" : g_strerror (-ret));
      return FALSE;
    }
  return TRUE;
}

void
pg_purple_account_set_chat_topic (PgPurpleAccount *account, const char *chat, const char *topic)
{
  PurpleConversation *conv = joined_chat (account, chat);
  PurplePluginProtocolInfo *info;

  if (conv == NULL)
    {
      refuse (account, chat, PG_CHAT_REFUSED_NOT_JOINED, NULL);
      return;
    }
  PurpleConnection *gc = purple_conversation_get_gc (conv);
  info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  if (info->set_chat_topic == NULL)
    {
      refuse (account, chat, PG_CHAT_REFUSED_NOT_OPERATOR, "this legacy network has no topics to set");
      return;
    }
  g_autofree char *flat = one_line (topic);
  info->set_chat_topic (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)), flat);
  pg_purple_eventloop_flush (gc);
}

void
pg_purple_account_kick_chat (PgPurpleAccount *account, const char *chat, const char *nick, const char *reason)
{
  PurpleConversation *conv = joined_chat (account, chat);

  if (conv == NULL)
    {
      refuse (account, chat, PG_CHAT_REFUSED_NOT_JOINED, NULL);
      return;
    }
  g_autofree char *args
      = reason != NULL && *reason != '\0' ? g_strdup_printf ("%s %s", nick, reason) : g_strdup (nick);
  if (!run_command (conv, "kick", args))
    refuse (account, chat, PG_CHAT_REFUSED_NOT_OPERATOR, "this legacy network has no kick");
}

void
pg_purple_account_invite_chat (PgPurpleAccount *account, const char *chat, const char *who,
                               const char *message)
{
  PurpleConversation *conv = joined_chat (account, chat);

  if (conv == NULL)
    {
      refuse (account, chat, PG_CHAT_REFUSED_NOT_JOINED, NULL);
      return;
    }
  PurpleConnection *gc = purple_conversation_get_gc (conv);
  g_autofree char *flat = message != NULL ? one_line (message) : NULL;
  serv_chat_invite (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)), flat, who);
  pg_purple_eventloop_flush (gc);
}

void
pg_purple_account_set_chat_nick (PgPurpleAccount *account, const char *chat, const char *nick)
{
  PurpleConversation *conv = joined_chat (account, chat);

  if (conv == NULL)
    {
      refuse (account, chat, PG_CHAT_REFUSED_NOT_JOINED, NULL);
      return;
    }
  if (!run_command (conv, "nick", nick))
    refuse (account, chat, PG_CHAT_REFUSED_BAD_NICK, "this legacy network does not change nicks");
}

char *
pg_purple_account_dup_chat_member_name (PgPurpleAccount *account, const char *chat, const char *nick)
{
  PurpleConversation *conv = joined_chat (account, chat);

  if (conv == NULL)
    return g_strdup (nick);
  PurpleConnection *gc = purple_conversation_get_gc (conv);
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  char *real = NULL;
  if (info->get_cb_real_name != NULL)
    real = info->get_cb_real_name (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)), nick);
  return real != NULL ? real : g_strdup (nick);
}

gboolean
pg_purple_account_has_connection_nick (PgPurpleAccount *account)
{
  return is_irc (account);
}

char *
pg_purple_account_dup_nick (PgPurpleAccount *account)
{
  PurpleConnection *gc = connection (account);
  const char *nick = gc != NULL ? purple_connection_get_display_name (gc) : NULL;
  return g_strdup (nick);
}

gboolean
pg_purple_account_set_nick (PgPurpleAccount *account, const char *nick)
{
  PurpleConnection *gc = connection (account);
  if (gc == NULL || !is_irc (account) || !pg_irc_nick_valid (nick, account->nick_len))
    return FALSE;
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  if (info->send_raw == NULL)
    return FALSE;
  g_autofree char *line = g_strdup_printf ("NICK %s\r\n", nick);
  info->send_raw (gc, line, -1);
  pg_purple_eventloop_flush (gc);
  return TRUE;
}
