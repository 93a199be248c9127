/* legacy/purple-chat-jabber.c — what prpl-jabber 2.14 does not tell about
 * rooms of a legacy XMPP server, read from the stanzas it receives (its
 * "jabber-receiving-presence" and "jabber-receiving-message" signals, before
 * it handles them).
 *
 * - Kicks and bans: prpl-jabber reports an occupant removed with status
 *   307 or 301 as one who left ("Kicked (reason)"), and the user's own
 *   removal as the chat ending; the codes are noted here the way
 *   purple-chat-irc.c notes KICK lines.
 * - Refusals: an error from the room to a subject change or a message is
 *   written into the conversation only; it becomes a REFUSED event. */
#define G_LOG_DOMAIN "pg-purple-chat"

#include "legacy/account-private.h"

#include <string.h>

#define NS_MUC_USER "http://jabber.org/protocol/muc#user"

static gboolean
has_status (xmlnode *x, const char *code)
{
  for (xmlnode *status = xmlnode_get_child (x, "status"); status != NULL;
       status = xmlnode_get_next_twin (status))
    if (g_strcmp0 (xmlnode_get_attrib (status, "code"), code) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
receiving_presence (PurpleConnection *gc, const char *type, const char *from, xmlnode *presence,
                    gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  xmlnode *x;

  (void)data;
  if (account == NULL || from == NULL || g_strcmp0 (type, "unavailable") != 0
      || (x = xmlnode_get_child_with_namespace (presence, "x", NS_MUC_USER)) == NULL)
    return FALSE;
  gboolean banned = has_status (x, "301");
  if (!banned && !has_status (x, "307"))
    return FALSE;
  const char *slash = strchr (from, '/');
  if (slash == NULL)
    return FALSE;
  g_autofree char *room = g_strndup (from, (gsize)(slash - from));
  g_autofree char *chat = g_strdup (purple_normalize (account->purple, room));
  g_autofree char *nick = g_strdup (purple_normalize (account->purple, slash + 1));
  xmlnode *item = xmlnode_get_child (x, "item");
  xmlnode *actor = item != NULL ? xmlnode_get_child (item, "actor") : NULL;
  xmlnode *reason = item != NULL ? xmlnode_get_child (item, "reason") : NULL;
  PgKick *kick = g_new0 (PgKick, 1);
  kick->banned = banned;
  kick->actor = actor != NULL ? g_strdup (xmlnode_get_attrib (actor, "nick")) : NULL;
  kick->reason = reason != NULL ? xmlnode_get_data (reason) : NULL;
  g_hash_table_replace (pg_purple_account_kicks (account), g_strconcat (chat, "\n", nick, NULL), kick);
  return FALSE;
}

static gboolean
receiving_message (PurpleConnection *gc, const char *type, const char *id, const char *from, const char *to,
                   xmlnode *message, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  xmlnode *error;

  (void)id;
  (void)to;
  (void)data;
  if (account == NULL || from == NULL || g_strcmp0 (type, "error") != 0 || strchr (from, '/') != NULL
      || (error = xmlnode_get_child (message, "error")) == NULL)
    return FALSE;
  PurpleConversation *conv = pg_purple_chat_find (account->purple, from);
  if (conv == NULL)
    return FALSE; /* not a room we are in */
  xmlnode *text = xmlnode_get_child (error, "text");
  g_autofree char *words = text != NULL ? xmlnode_get_data (text) : NULL;
  /* Servers need not send the refused stanza back (Prosody does not). */
  gboolean subject = xmlnode_get_child (message, "subject") != NULL;
  gboolean body = xmlnode_get_child (message, "body") != NULL;
  PgChatEvent event = { .kind = PG_CHAT_EVENT_REFUSED,
                        .chat = pg_purple_chat_key (conv),
                        .refusal = body      ? PG_CHAT_REFUSED_CANNOT_SEND
                                   : subject ? PG_CHAT_REFUSED_NOT_OPERATOR
                                             : PG_CHAT_REFUSED_MESSAGE,
                        .text = words };
  if (!subject) /* a message of ours: its reflection will not come */
    pg_purple_chat_reflection_lost (conv);
  pg_purple_account_emit_chat (account, &event);
  return FALSE;
}

void
pg_purple_chat_jabber_install (void)
{
  static int handle;
  PurplePlugin *jabber = purple_plugins_find_with_id ("prpl-jabber");

  if (jabber == NULL)
    return;
  purple_signal_connect (jabber, "jabber-receiving-presence", &handle, PURPLE_CALLBACK (receiving_presence),
                         NULL);
  purple_signal_connect (jabber, "jabber-receiving-message", &handle, PURPLE_CALLBACK (receiving_message),
                         NULL);
}
