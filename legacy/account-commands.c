/* legacy/account-commands.c — what the owner asks of a logged-in
 * PgPurpleAccount: status, messages, typing, the contact list, authorization
 * answers.  The login itself (connect, disconnect, free) and the events
 * are in account.c. */
#define G_LOG_DOMAIN "pg-account-commands"

#include "legacy/account-private.h"
#include "legacy/purple-eventloop.h"

#include <errno.h>
#include <string.h>

/* The protocol's status type for @show, falling back to the nearest one
 * the protocol has (IRC has only available and away). */
static PurpleStatusType *
find_status_type (PurpleAccount *account, PgShow show)
{
  static const PurpleStatusPrimitive away[]
      = { PURPLE_STATUS_AWAY, PURPLE_STATUS_EXTENDED_AWAY, PURPLE_STATUS_UNAVAILABLE, 0 };
  static const PurpleStatusPrimitive xa[]
      = { PURPLE_STATUS_EXTENDED_AWAY, PURPLE_STATUS_AWAY, PURPLE_STATUS_UNAVAILABLE, 0 };
  static const PurpleStatusPrimitive dnd[]
      = { PURPLE_STATUS_UNAVAILABLE, PURPLE_STATUS_AWAY, PURPLE_STATUS_EXTENDED_AWAY, 0 };
  static const PurpleStatusPrimitive available[] = { PURPLE_STATUS_AVAILABLE, 0 };
  const PurpleStatusPrimitive *wanted = available;
  PurpleStatusType *type;

  if (show == PG_SHOW_CHAT && (type = purple_account_get_status_type (account, "freeforchat")))
    return type;
  if (show == PG_SHOW_AWAY)
    wanted = away;
  else if (show == PG_SHOW_XA)
    wanted = xa;
  else if (show == PG_SHOW_DND)
    wanted = dnd;
  for (; *wanted != 0; wanted++)
    if ((type = purple_account_get_status_type_with_primitive (account, *wanted)) != NULL
        && purple_status_type_is_user_settable (type))
      return type;
  return purple_account_get_status_type_with_primitive (account, PURPLE_STATUS_AVAILABLE);
}

void
pg_purple_account_set_status (PgPurpleAccount *account, PgShow show, const char *message)
{
  PurpleStatusType *type;
  const char *id;

  g_return_if_fail (account != NULL && !account->dying);

  if (show == PG_SHOW_OFFLINE)
    {
      g_debug ("offline is not a status to set; use pg_purple_account_disconnect()");
      return;
    }
  type = find_status_type (account->purple, show);
  if (type == NULL)
    return;
  id = purple_status_type_get_id (type);
  /* libpurple logs in an enabled account whose status becomes online. */
  if (purple_account_is_disconnected (account->purple))
    purple_account_set_enabled (account->purple, PG_ACCOUNT_UI, FALSE);
  if (message != NULL && *message != '\0' && purple_status_type_get_attr (type, "message") != NULL)
    purple_account_set_status (account->purple, id, TRUE, "message", message, NULL);
  else
    purple_account_set_status (account->purple, id, TRUE, NULL);
}

/* Plain text as libpurple markup: escaped, line breaks as <br>, the way
 * Pidgin's input hands text to protocols (IRC turns it back into text). */
char *
pg_purple_account_text_to_html (const char *text)
{
  GString *html = g_string_sized_new (strlen (text) + 16);
  const char *p = text;

  while (*p != '\0')
    {
      size_t n = strcspn (p, "\r\n");
      g_autofree char *escaped = g_markup_escape_text (p, (gssize)n);

      g_string_append (html, escaped);
      p += n;
      if (*p == '\0')
        break;
      g_string_append (html, "<br>");
      p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
    }
  return g_string_free (html, FALSE);
}

gboolean
pg_purple_account_send_message (PgPurpleAccount *account, guint64 tag, const char *to, const char *text,
                                GError **error)
{
  g_autofree char *html = NULL;
  PurpleConnection *gc;
  int ret;

  g_return_val_if_fail (account != NULL && to != NULL && text != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pg_purple_account_is_connected (account))
    {
      g_set_error (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_OFFLINE, "not logged in");
      return FALSE;
    }
  gc = purple_account_get_connection (account->purple);
  if (g_str_has_prefix (text, "/me ") && text[4] != '\0')
    {
      PurpleConversation *conv
          = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, to, account->purple);
      if (conv == NULL)
        conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, account->purple, to);
      if (pg_purple_account_send_action (account, conv, text))
        {
          pg_purple_account_track_message (account, tag, to, text + 4);
          return TRUE;
        }
    }
  html = pg_purple_account_text_to_html (text);
  account->sending++;
  ret = serv_send_im (gc, to, html, PURPLE_MESSAGE_SEND);
  account->sending--;
  pg_purple_eventloop_flush (gc); /* not at prpl-irc's next tick */
  if (ret < 0)
    {
      g_set_error (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_SEND,
                   "the protocol refused to send the message to %s: %s", to,
                   ret == -E2BIG ? "it is too large" : g_strerror (-ret));
      return FALSE;
    }
  /* prpl-irc writes the lines from its queue later, when they are seen. */
  pg_purple_account_track_message (account, tag, to, text);
  return TRUE; /* 0: taken, though the protocol had nothing to send */
}

void
pg_purple_account_send_chat_state (PgPurpleAccount *account, const char *to, PgChatState state)
{
  PurpleConnection *gc;
  PurpleTypingState typing = PURPLE_NOT_TYPING;

  g_return_if_fail (account != NULL && to != NULL);

  if (!pg_purple_account_is_connected (account))
    return;
  gc = purple_account_get_connection (account->purple);
  if (PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc))->send_typing == NULL)
    return;
  if (state == PG_CHAT_STATE_COMPOSING)
    typing = PURPLE_TYPING;
  else if (state == PG_CHAT_STATE_PAUSED)
    typing = PURPLE_TYPED;
  serv_send_typing (gc, to, typing);
}

void
pg_purple_account_add_contact (PgPurpleAccount *account, const char *name, const char *alias)
{
  PurpleBuddy *buddy;

  g_return_if_fail (account != NULL && !account->dying && name != NULL);

  buddy = purple_find_buddy (account->purple, name);
  if (buddy != NULL)
    {
      if (alias != NULL && g_strcmp0 (purple_buddy_get_local_buddy_alias (buddy), alias) != 0)
        purple_blist_alias_buddy (buddy, alias);
      /* A restored contact the server has not heard of yet (added while
       * offline): the protocol adds it now. */
      if (!purple_account_is_disconnected (account->purple))
        purple_account_add_buddy (account->purple, buddy);
      return;
    }
  buddy = purple_buddy_new (account->purple, name, alias);
  purple_blist_add_buddy (buddy, NULL, NULL, NULL); /* buddy-added: contact_listed */
  /* Offline, the buddy waits in the list: protocols pick the list up at
   * login (IRC asks ISON for all of it). */
  if (!purple_account_is_disconnected (account->purple))
    purple_account_add_buddy (account->purple, buddy);
}

void
pg_purple_account_restore_contact (PgPurpleAccount *account, const char *name, const char *alias)
{
  g_return_if_fail (account != NULL && !account->dying && name != NULL);

  if (purple_find_buddy (account->purple, name) != NULL)
    return;
  account->restoring = TRUE; /* the owner knows its own contacts */
  purple_blist_add_buddy (purple_buddy_new (account->purple, name, alias), NULL, NULL, NULL);
  account->restoring = FALSE;
}

void
pg_purple_account_remove_contact (PgPurpleAccount *account, const char *name)
{
  GSList *buddies;

  g_return_if_fail (account != NULL && !account->dying && name != NULL);

  buddies = purple_find_buddies (account->purple, name);
  account->removing = TRUE;
  for (GSList *l = buddies; l != NULL; l = l->next)
    {
      PurpleBuddy *buddy = l->data;

      purple_account_remove_buddy (account->purple, buddy, purple_buddy_get_group (buddy));
      purple_blist_remove_buddy (buddy);
    }
  account->removing = FALSE;
  g_slist_free (buddies);
}

void
pg_purple_account_add_pending_auth (PgPurpleAccount *account, PgPendingAuth *pending)
{
  pending->account = account;
  g_queue_push_tail (&account->auths, pending);
}

void
pg_purple_account_close_pending_auth (PgPendingAuth *pending)
{
  g_queue_remove (&pending->account->auths, pending);
  g_free (pending->name);
  g_free (pending);
}

void
pg_purple_account_authorize (PgPurpleAccount *account, const char *name, gboolean allow)
{
  g_autofree char *normalized = NULL;
  GQueue answer = G_QUEUE_INIT;

  g_return_if_fail (account != NULL && !account->dying && name != NULL);

  normalized = pg_purple_account_normalize (account, name);
  /* Take them all out first: a callback may add or close requests. */
  for (GList *l = account->auths.head, *next; l != NULL; l = next)
    {
      PgPendingAuth *pending = l->data;

      next = l->next;
      if (strcmp (pending->name, normalized) != 0)
        continue;
      g_queue_unlink (&account->auths, l);
      g_queue_push_tail_link (&answer, l);
    }
  if (answer.length == 0)
    g_debug ("no authorization request from %s is pending", name);
  while (answer.length > 0)
    {
      PgPendingAuth *pending = g_queue_pop_head (&answer);
      PurpleAccountRequestAuthorizationCb cb = allow ? pending->allow_cb : pending->deny_cb;

      if (cb != NULL)
        cb (pending->data); /* libpurple forgets the request; no close op follows */
      g_free (pending->name);
      g_free (pending);
    }
}

char *
pg_purple_account_normalize (PgPurpleAccount *account, const char *name)
{
  g_return_val_if_fail (account != NULL && name != NULL, NULL);

  return g_strdup (purple_normalize (account->purple, name));
}
