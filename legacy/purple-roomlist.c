/* legacy/purple-roomlist.c — the legacy network's list of rooms, from
 * libpurple's roomlist API (prpl-irc: LIST), for service discovery.
 *
 * add_room     → LISTED, up to PG_ACCOUNT_CHAT_LIST_MAX rooms; then the
 *                listing is cancelled (a big IRC network lists tens of
 *                thousands of channels, and libpurple keeps them all).
 * in_progress  → LIST_END when it turns FALSE.
 * The protocol holds the list; nothing here keeps a reference. */
#define G_LOG_DOMAIN "pg-purple-chat"

#include "legacy/account-private.h"

#include <string.h>

#define COUNT_DATA "pg-listed"

static PgPurpleAccount *
list_account (PurpleRoomlist *list)
{
  return list != NULL ? pg_purple_account_from_purple (list->account) : NULL;
}

static void
list_end (PgPurpleAccount *account)
{
  PgChatEvent event = { .kind = PG_CHAT_EVENT_LIST_END };
  pg_purple_account_emit_chat (account, &event);
}

void
pg_purple_account_list_chats (PgPurpleAccount *account)
{
  PurpleConnection *gc;

  g_return_if_fail (account != NULL);
  gc = !account->dying && pg_purple_account_is_connected (account)
           ? purple_account_get_connection (account->purple)
           : NULL;
  PurplePluginProtocolInfo *info
      = gc != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc)) : NULL;
  /* prpl-jabber asks which conference server to list first: no list without one. */
  if (info == NULL || info->roomlist_get_list == NULL
      || g_strcmp0 (purple_account_get_protocol_id (account->purple), "prpl-irc") != 0)
    {
      list_end (account);
      return;
    }
  PurpleRoomlist *list = purple_roomlist_get_list (gc);
  if (list == NULL)
    list_end (account);
}

static void
add_room (PurpleRoomlist *list, PurpleRoomlistRoom *room)
{
  PgPurpleAccount *account = list_account (list);
  guint count = GPOINTER_TO_UINT (list->ui_data);

  if (account == NULL || purple_roomlist_room_get_type (room) != PURPLE_ROOMLIST_ROOMTYPE_ROOM)
    return;
  if (count >= PG_ACCOUNT_CHAT_LIST_MAX)
    return;
  list->ui_data = GUINT_TO_POINTER (count + 1);
  PgChatEvent event = { .kind = PG_CHAT_EVENT_LISTED, .name = purple_roomlist_room_get_name (room) };
  /* The fields are the protocol's (prpl-irc: channel, users, topic). */
  GList *fields = purple_roomlist_get_fields (list);
  GList *values = purple_roomlist_room_get_fields (room);
  for (; fields != NULL && values != NULL; fields = fields->next, values = values->next)
    {
      PurpleRoomlistField *field = fields->data;
      if (purple_roomlist_field_get_type (field) == PURPLE_ROOMLIST_FIELD_INT)
        event.users = GPOINTER_TO_UINT (values->data);
      else if (purple_roomlist_field_get_type (field) == PURPLE_ROOMLIST_FIELD_STRING
               && !purple_roomlist_field_get_hidden (field) && event.text == NULL)
        event.text = values->data;
    }
  if (event.name != NULL)
    pg_purple_account_emit_chat (account, &event);
  if (count + 1 == PG_ACCOUNT_CHAT_LIST_MAX)
    purple_roomlist_cancel_get_list (list); /* in_progress FALSE follows */
}

static void
in_progress (PurpleRoomlist *list, gboolean flag)
{
  PgPurpleAccount *account = list_account (list);

  if (account != NULL && !flag)
    list_end (account);
}

static PurpleRoomlistUiOps roomlist_ops = {
  .add_room = add_room,
  .in_progress = in_progress,
};

void
pg_purple_roomlist_install (void)
{
  purple_roomlist_set_ui_ops (&roomlist_ops);
}
