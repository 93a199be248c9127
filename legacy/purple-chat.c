/* legacy/purple-chat.c — group chats from libpurple's generic chat API.
 *
 * chat-joined          → the join is under way; it is reported complete
 *                        (PG_CHAT_EVENT_JOINED) once our own nick is among
 *                        the occupants (prpl-irc adds the NAMES list in one
 *                        batch, prpl-jabber adds our own presence last), from
 *                        an idle so that the rest of that batch is in first,
 *                        or after JOIN_SETTLE_MS when it never shows.
 * chat-buddy-joined, chat-buddy-flags, chat-buddy-left
 *                      → OCCUPANT, OCCUPANT_LEFT.
 * chat_rename_user op  → RENAMED (libpurple has no signal for it).
 * chat-topic-changed   → TOPIC.
 * receiving-chat-msg   → MESSAGE, taken (libpurple writes none of them to
 *                        the conversation); our own messages (flag SEND, or our nick)
 *                        are not: the echo of what we sent (prpl-irc's
 *                        SEND while we send, a legacy XMPP room's
 *                        reflection while one of ours awaits it) confirms
 *                        it (SENT); the rest the user sent from another
 *                        client (a bouncer's echo, another client in the
 *                        same legacy room): own_message.  The room's own
 *                        history (DELAYED) says so; our own messages in
 *                        it are left out.
 * chat-left            → LEFT (we did not ask: kicked, or the chat ended).
 * chat-invited         → INVITED; the invitation is then declined on the
 *                        libpurple side, the user answers by joining.
 * chat-join-failed     → REFUSED (NOT_FOUND).
 *
 * Every chat conversation caches its normalised name; events carry it. */
#define G_LOG_DOMAIN "pg-purple-chat"

#include "legacy/account-private.h"

#include <string.h>

#define KEY_DATA "pg-chat-key"         /* normalised name, owned */
#define SETTLE_DATA "pg-chat-settle"   /* source id of the join's completion */
#define MODES_DATA "pg-chat-modes"     /* PgChatModes + 1 */
#define ECHOED_DATA "pg-chat-echoed"   /* non-NULL: our send under way was written back */
#define AWAITED_DATA "pg-chat-awaited" /* our messages whose reflection is to come */
#define JOIN_SETTLE_MS 3000

static int handle;

const char *
pg_purple_chat_key (PurpleConversation *conv)
{
  const char *key = purple_conversation_get_data (conv, KEY_DATA);

  if (key == NULL)
    {
      char *normalized = g_strdup (
          purple_normalize (purple_conversation_get_account (conv), purple_conversation_get_name (conv)));
      purple_conversation_set_data (conv, KEY_DATA, normalized);
      key = normalized;
    }
  return key;
}

PurpleConversation *
pg_purple_chat_find (PurpleAccount *account, const char *chat)
{
  /* The name as the conversation has it, among the few of the login's
   * connection, before libpurple's lookup of any spelling, which
   * normalises the name (Unicode case folding): on the way of every
   * channel line. */
  PurpleConnection *gc = purple_account_get_connection (account);
  for (GSList *l = gc != NULL ? gc->buddy_chats : NULL; l != NULL; l = l->next)
    if (strcmp (purple_conversation_get_name (l->data), chat) == 0)
      return l->data;
  return purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, chat, account);
}

void
pg_purple_chat_set_modes (PurpleConversation *conv, PgChatModes modes)
{
  purple_conversation_set_data (conv, MODES_DATA, GUINT_TO_POINTER ((guint)modes + 1));
}

PgChatModes
pg_purple_chat_get_modes (PurpleConversation *conv)
{
  guint stored = GPOINTER_TO_UINT (purple_conversation_get_data (conv, MODES_DATA));

  return stored > 0 ? (PgChatModes)(stored - 1) : 0;
}

static PgPurpleAccount *
chat_account (PurpleConversation *conv)
{
  if (conv == NULL || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return NULL;
  return pg_purple_account_from_purple (purple_conversation_get_account (conv));
}

static PgChatRank
rank_from_flags (PurpleConvChatBuddyFlags flags)
{
  if (flags & PURPLE_CBFLAGS_FOUNDER)
    return PG_CHAT_RANK_FOUNDER;
  if (flags & PURPLE_CBFLAGS_OP)
    return PG_CHAT_RANK_OP;
  if (flags & PURPLE_CBFLAGS_HALFOP)
    return PG_CHAT_RANK_HALFOP;
  if (flags & PURPLE_CBFLAGS_VOICE)
    return PG_CHAT_RANK_VOICE;
  return PG_CHAT_RANK_NONE;
}

static void
emit (PurpleConversation *conv, PgChatEvent *event)
{
  PgPurpleAccount *account = chat_account (conv);

  if (account == NULL)
    return;
  event->chat = pg_purple_chat_key (conv);
  pg_purple_account_emit_chat (account, event);
}

static gboolean
is_own_nick (PurpleConversation *conv, const char *name)
{
  const char *own = purple_conv_chat_get_nick (PURPLE_CONV_CHAT (conv));
  PurpleAccount *account = purple_conversation_get_account (conv);

  if (own == NULL || name == NULL)
    return FALSE;
  /* libpurple keeps our nick normalised (purple_conv_chat_set_nick()):
   * one normalisation per message, not two. */
  return g_strcmp0 (own, purple_normalize (account, name)) == 0;
}

/* Our nick as the occupant list spells it. Borrowed. */
static const char *
own_spelling (PurpleConversation *conv)
{
  const char *own = purple_conv_chat_get_nick (PURPLE_CONV_CHAT (conv));
  if (own == NULL)
    return NULL;
  /* libpurple finds it by name (case-folded) at once, usually. */
  PurpleConvChatBuddy *buddy = purple_conv_chat_cb_find (PURPLE_CONV_CHAT (conv), own);
  if (buddy != NULL && is_own_nick (conv, purple_conv_chat_cb_get_name (buddy)))
    return purple_conv_chat_cb_get_name (buddy);
  for (GList *l = purple_conv_chat_get_users (PURPLE_CONV_CHAT (conv)); l != NULL; l = l->next)
    {
      const char *name = purple_conv_chat_cb_get_name (l->data);
      if (is_own_nick (conv, name))
        return name;
    }
  return own;
}

/* ---- joining ---- */

static gboolean
complete_join (gpointer data)
{
  PurpleConversation *conv = data;
  PgChatEvent event = { .kind = PG_CHAT_EVENT_JOINED };

  purple_conversation_set_data (conv, SETTLE_DATA, NULL);
  /* libpurple keeps our nick normalised ("carol"); the occupant list has
   * it as the network spells it ("Carol"). */
  event.nick = own_spelling (conv);
  emit (conv, &event);
  return G_SOURCE_REMOVE;
}

static void
settle_join (PurpleConversation *conv, guint delay_ms)
{
  guint id = GPOINTER_TO_UINT (purple_conversation_get_data (conv, SETTLE_DATA));

  if (id != 0)
    g_source_remove (id);
  id = delay_ms == 0 ? g_idle_add (complete_join, conv) : g_timeout_add (delay_ms, complete_join, conv);
  purple_conversation_set_data (conv, SETTLE_DATA, GUINT_TO_POINTER (id));
}

static gboolean
joining (PurpleConversation *conv)
{
  return purple_conversation_get_data (conv, SETTLE_DATA) != NULL;
}

static void
chat_joined (PurpleConversation *conv, gpointer data)
{
  PgPurpleAccount *account = chat_account (conv);

  (void)data;
  if (account == NULL)
    return;
  pg_purple_chat_key (conv);
  settle_join (conv, purple_conv_chat_find_user (PURPLE_CONV_CHAT (conv),
                                                 purple_conv_chat_get_nick (PURPLE_CONV_CHAT (conv)))
                         ? 0
                         : JOIN_SETTLE_MS);
  /* prpl-irc does not ask for the channel's modes by itself. */
  PurpleConnection *gc = purple_account_get_connection (account->purple);
  PurplePlugin *prpl = gc != NULL ? purple_connection_get_prpl (gc) : NULL;
  if (prpl != NULL && g_strcmp0 (purple_plugin_get_id (prpl), "prpl-irc") == 0
      && PURPLE_PLUGIN_PROTOCOL_INFO (prpl)->send_raw != NULL)
    {
      g_autofree char *line = g_strdup_printf ("MODE %s\r\n", purple_conversation_get_name (conv));
      PURPLE_PLUGIN_PROTOCOL_INFO (prpl)->send_raw (gc, line, -1);
    }
}

static void
join_failed (PurpleConnection *gc, GHashTable *components, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  PurplePluginProtocolInfo *info;
  PgChatEvent event = { .kind = PG_CHAT_EVENT_REFUSED, .refusal = PG_CHAT_REFUSED_NOT_FOUND };

  (void)data;
  if (account == NULL || components == NULL)
    return;
  info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  g_autofree char *name = info->get_chat_name != NULL ? info->get_chat_name (components) : NULL;
  if (name == NULL)
    return;
  event.chat = purple_normalize (account->purple, name);
  event.text = "the legacy network refused the join";
  pg_purple_account_emit_chat (account, &event);
}

/* ---- occupants ---- */

static void
buddy_joined (PurpleConversation *conv, const char *name, PurpleConvChatBuddyFlags flags,
              gboolean new_arrival, gpointer data)
{
  PgChatEvent event = {
    .kind = PG_CHAT_EVENT_OCCUPANT, .nick = name, .rank = rank_from_flags (flags), .arrived = new_arrival
  };

  (void)data;
  if (chat_account (conv) == NULL)
    return;
  emit (conv, &event);
  if (joining (conv) && is_own_nick (conv, name))
    settle_join (conv, 0);
}

static void
buddy_flags (PurpleConversation *conv, const char *name, PurpleConvChatBuddyFlags old_flags,
             PurpleConvChatBuddyFlags new_flags, gpointer data)
{
  PgChatEvent event = { .kind = PG_CHAT_EVENT_OCCUPANT, .nick = name, .rank = rank_from_flags (new_flags) };

  (void)data;
  if (rank_from_flags (old_flags) != event.rank)
    emit (conv, &event);
}

void
pg_kick_free (PgKick *kick)
{
  g_free (kick->actor);
  g_free (kick->reason);
  g_free (kick);
}

/* The KICK of @nick seen on the way in, taken out; NULL if none. Owned. */
static PgKick *
take_kick (PgPurpleAccount *account, PurpleConversation *conv, const char *nick)
{
  g_autofree char *n = g_strdup (purple_normalize (account->purple, nick));
  g_autofree char *key = g_strconcat (pg_purple_chat_key (conv), "\n", n, NULL);
  PgKick *kick = NULL;
  gpointer stored_key = NULL;

  if (account->kicks != NULL
      && g_hash_table_steal_extended (account->kicks, key, &stored_key, (gpointer *)&kick))
    g_free (stored_key);
  return kick;
}

static void
describe_kick (PgChatEvent *event, const PgKick *kick)
{
  if (kick == NULL)
    return;
  event->kicked = TRUE;
  event->banned = kick->banned;
  event->actor = kick->actor;
  event->reason = kick->reason;
}

static void
buddy_left (PurpleConversation *conv, const char *name, const char *reason, gpointer data)
{
  PgPurpleAccount *account = chat_account (conv);
  PgChatEvent event = { .kind = PG_CHAT_EVENT_OCCUPANT_LEFT, .nick = name, .text = reason };

  (void)data;
  if (account == NULL)
    return;
  g_autoptr (PgKick) kick = take_kick (account, conv, name);
  describe_kick (&event, kick);
  /* prpl-irc words a departure "quit: text" or gives the part message. */
  if (reason != NULL && g_str_has_prefix (reason, "quit: "))
    event.text = reason + 6;
  if (event.text != NULL && *event.text == '\0')
    event.text = NULL;
  emit (conv, &event);
}

static void
chat_rename_user (PurpleConversation *conv, const char *old_name, const char *new_name, const char *new_alias)
{
  PgChatEvent event = { .kind = PG_CHAT_EVENT_RENAMED, .nick = old_name, .new_nick = new_name };

  (void)new_alias;
  emit (conv, &event);
}

static void
topic_changed (PurpleConversation *conv, const char *who, const char *topic, gpointer data)
{
  PgChatEvent event = { .kind = PG_CHAT_EVENT_TOPIC, .nick = who, .text = topic != NULL ? topic : "" };

  (void)data;
  emit (conv, &event);
}

/* ---- messages ---- */

void
pg_purple_chat_begin_send (PurpleConversation *conv)
{
  purple_conversation_set_data (conv, ECHOED_DATA, NULL);
}

void
pg_purple_chat_end_send (PurpleConversation *conv)
{
  gsize awaited = GPOINTER_TO_SIZE (purple_conversation_get_data (conv, AWAITED_DATA));

  if (purple_conversation_get_data (conv, ECHOED_DATA) == NULL)
    purple_conversation_set_data (conv, AWAITED_DATA, GSIZE_TO_POINTER (awaited + 1));
  purple_conversation_set_data (conv, ECHOED_DATA, NULL);
}

void
pg_purple_chat_reflection_lost (PurpleConversation *conv)
{
  gsize awaited = GPOINTER_TO_SIZE (purple_conversation_get_data (conv, AWAITED_DATA));

  if (awaited > 0)
    purple_conversation_set_data (conv, AWAITED_DATA, GSIZE_TO_POINTER (awaited - 1));
}

/* TRUE (and one fewer awaited) when a reflection of ours was to come. */
static gboolean
take_awaited (PurpleConversation *conv)
{
  if (purple_conversation_get_data (conv, AWAITED_DATA) == NULL)
    return FALSE;
  pg_purple_chat_reflection_lost (conv);
  return TRUE;
}

/* Taken before libpurple writes it to the conversation (returns TRUE:
 * handled), which would cost more than all the rest of the message's way:
 * the conversation's history, a buddy lookup for an alias, and a search of
 * the text for our nick.  libpurple has already set SEND on a message from
 * our own nick (serv_got_chat_in(): the comparison of is_own_nick()). */
static gboolean
receiving_chat (PurpleAccount *purple, char **sender_in, char **message_in, PurpleConversation *conv,
                PurpleMessageFlags *flags_in, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_purple (purple);
  const char *sender = sender_in != NULL ? *sender_in : NULL;
  const char *message = message_in != NULL ? *message_in : NULL;
  PurpleMessageFlags flags = flags_in != NULL ? *flags_in : 0;
  PgChatEvent event = { .kind = PG_CHAT_EVENT_MESSAGE, .nick = sender, .text = message };

  (void)data;
  if (conv == NULL || sender == NULL || message == NULL || account == NULL)
    return FALSE;
  if (flags & PURPLE_MESSAGE_SYSTEM)
    return TRUE;
  /* prpl-irc writes what we send back at once, with SEND: the room
   * reflects what the user sent itself. */
  if ((flags & PURPLE_MESSAGE_SEND) && account->sending > 0)
    {
      purple_conversation_set_data (conv, ECHOED_DATA, GINT_TO_POINTER (1));
      return TRUE;
    }
  if (flags & PURPLE_MESSAGE_SEND)
    {
      /* The room's history from before we came: ours or not, no news. */
      if (flags & PURPLE_MESSAGE_DELAYED)
        return TRUE;
      /* The room's reflection: proof it took our message. */
      PgChatEvent sent = { .kind = PG_CHAT_EVENT_SENT };
      if (take_awaited (conv))
        emit (conv, &sent);
      else
        /* Nothing of ours awaits it: the user wrote it elsewhere. */
        pg_purple_account_emit_own_message (account, pg_purple_chat_key (conv), TRUE, message, 0);
      return TRUE;
    }
  event.delayed = (flags & PURPLE_MESSAGE_DELAYED) != 0;
  emit (conv, &event);
  return TRUE;
}

void
pg_purple_chat_message_in (PurpleConversation *conv, const char *nick, const char *html)
{
  PgChatEvent event = { .kind = PG_CHAT_EVENT_MESSAGE, .nick = nick, .text = html };
  emit (conv, &event);
}

static void
chat_left (PurpleConversation *conv, gpointer data)
{
  PgPurpleAccount *account = chat_account (conv);
  PgChatEvent event = { .kind = PG_CHAT_EVENT_LEFT };

  (void)data;
  if (account == NULL)
    return;
  g_autoptr (PgKick) kick = take_kick (account, conv, purple_conv_chat_get_nick (PURPLE_CONV_CHAT (conv)));
  describe_kick (&event, kick);
  emit (conv, &event);
}

static gint
chat_invited (PurpleAccount *purple, const char *inviter, const char *chat, const char *message,
              GHashTable *components, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_purple (purple);
  PgChatEvent event = { .kind = PG_CHAT_EVENT_INVITED, .nick = inviter, .text = message };

  (void)data;
  if (account == NULL || chat == NULL)
    return 0;
  event.chat = purple_normalize (purple, chat);
  if (components != NULL)
    event.password = g_hash_table_lookup (components, "password");
  pg_purple_account_emit_chat (account, &event);
  return -1;
}

static void
deleting (PurpleConversation *conv, gpointer data)
{
  guint id;

  (void)data;
  if (purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return;
  id = GPOINTER_TO_UINT (purple_conversation_get_data (conv, SETTLE_DATA));
  if (id != 0)
    g_source_remove (id);
  g_free (purple_conversation_get_data (conv, KEY_DATA));
  purple_conversation_set_data (conv, KEY_DATA, NULL);
}

static PurpleConversationUiOps conv_ops = {
  .chat_rename_user = chat_rename_user,
};

void
pg_purple_chat_install (void)
{
  void *convs = purple_conversations_get_handle ();

  purple_conversations_set_ui_ops (&conv_ops);
  purple_signal_connect (convs, "chat-joined", &handle, PURPLE_CALLBACK (chat_joined), NULL);
  purple_signal_connect (convs, "chat-join-failed", &handle, PURPLE_CALLBACK (join_failed), NULL);
  purple_signal_connect (convs, "chat-buddy-joined", &handle, PURPLE_CALLBACK (buddy_joined), NULL);
  purple_signal_connect (convs, "chat-buddy-flags", &handle, PURPLE_CALLBACK (buddy_flags), NULL);
  purple_signal_connect (convs, "chat-buddy-left", &handle, PURPLE_CALLBACK (buddy_left), NULL);
  purple_signal_connect (convs, "chat-topic-changed", &handle, PURPLE_CALLBACK (topic_changed), NULL);
  /* Last of the handlers: others may still rewrite the message first. */
  purple_signal_connect_priority (convs, "receiving-chat-msg", &handle, PURPLE_CALLBACK (receiving_chat),
                                  NULL, PURPLE_SIGNAL_PRIORITY_HIGHEST);
  purple_signal_connect (convs, "chat-left", &handle, PURPLE_CALLBACK (chat_left), NULL);
  purple_signal_connect (convs, "chat-invited", &handle, PURPLE_CALLBACK (chat_invited), NULL);
  purple_signal_connect (convs, "deleting-conversation", &handle, PURPLE_CALLBACK (deleting), NULL);
}
