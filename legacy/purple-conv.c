/* legacy/purple-conv.c — one-to-one messages and typing, from libpurple's
 * conversation signals.
 *
 * receiving-im-msg  → message event.  serv_got_im() emits it exactly once
 *                     per incoming message, after its privacy check; the
 *                     handler takes the message and says it is handled, so
 *                     that libpurple neither creates nor writes to a
 *                     conversation nor runs pounces and auto-replies for
 *                     it (most of the cost of a message in a worker).
 *                     Messages we send never pass here (they go through
 *                     serv_send_im() directly), and messages flagged SEND
 *                     or REMOTE_SEND are left to libpurple and to
 *                     wrote-im-msg, which sees them all.
 * wrote-im-msg      → own_message event for what a conversation is given
 *                     as sent by the account (SEND, REMOTE_SEND): copies of
 *                     what the user sent from another client, which
 *                     protocols pass to serv_got_im() or write so
 *                     (prpl-jabber's carbons are read earlier, in
 *                     purple-carbons.c).  What we send ourselves is written
 *                     back only while we send (prpl-irc's /me): that echo
 *                     is dropped.
 * buddy-typing, buddy-typed, buddy-typing-stopped
 *                   → chat_state COMPOSING, PAUSED, ACTIVE.  libpurple emits
 *                     them with or without a conversation (and when a
 *                     conversation's typing timeout runs out); the
 *                     "stopped" it adds when a contact goes offline is
 *                     dropped.
 *
 * No conversation UI ops are installed.  Conversations still come to be
 * (a protocol opens one, an own message is written to one); their history
 * is cleared on each message, and conversations idle for ten minutes are
 * destroyed by a sweep that runs once a minute while any IM conversation
 * exists. */
#define G_LOG_DOMAIN "pg-purple-conv"

#include "legacy/account-private.h"

#define ACTIVE_KEY "pg-active" /* conversation data: last activity, s + 1 */
#define IDLE_LIMIT_S (10 * 60) /* conversations quiet this long go */
#define SWEEP_INTERVAL_S 60

static int handle;     /* owns our signal connections */
static guint sweep_id; /* the sweep's timeout, while IM conversations exist */

static gint64
now_s (void)
{
  return g_get_monotonic_time () / G_USEC_PER_SEC;
}

static void
touch (PurpleConversation *conv)
{
  purple_conversation_set_data (conv, ACTIVE_KEY, GSIZE_TO_POINTER ((gsize)now_s () + 1));
}

guint
pg_purple_conv_sweep (gint64 max_idle_s)
{
  GList *ims = g_list_copy (purple_get_ims ()); /* destroying edits the list */
  gint64 now = now_s ();
  guint destroyed = 0;

  for (GList *l = ims; l != NULL; l = l->next)
    {
      PurpleConversation *conv = l->data;
      gsize stamp = GPOINTER_TO_SIZE (purple_conversation_get_data (conv, ACTIVE_KEY));

      if (pg_purple_account_from_purple (purple_conversation_get_account (conv)) == NULL)
        continue; /* not ours, or going with its account anyway */
      if (stamp != 0 && now - ((gint64)stamp - 1) < max_idle_s)
        continue;
      purple_conversation_destroy (conv);
      destroyed++;
    }
  g_list_free (ims);
  if (destroyed > 0)
    g_debug ("destroyed %u idle conversations", destroyed);
  return destroyed;
}

static gboolean
sweep (gpointer data)
{
  (void)data;
  pg_purple_conv_sweep (IDLE_LIMIT_S);
  if (purple_get_ims () != NULL)
    return G_SOURCE_CONTINUE;
  sweep_id = 0;
  return G_SOURCE_REMOVE;
}

static void
conversation_created (PurpleConversation *conv, gpointer data)
{
  (void)data;
  if (purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_IM)
    return;
  touch (conv);
  if (sweep_id == 0)
    sweep_id = g_timeout_add_seconds (SWEEP_INTERVAL_S, sweep, NULL);
}

/* TRUE: the message is taken, serv_got_im() goes no further. */
static gboolean
receiving_im (PurpleAccount *purple, char **sender, char **message, PurpleConversation *conv,
              PurpleMessageFlags *flags, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_purple (purple);
  g_autofree char *html = NULL;

  (void)data;
  if (account == NULL || sender == NULL || *sender == NULL || message == NULL || *message == NULL
      || flags == NULL || (*flags & (PURPLE_MESSAGE_SEND | PURPLE_MESSAGE_REMOTE_SEND)))
    return FALSE;
  if (conv != NULL)
    {
      touch (conv);
      purple_conversation_clear_message_history (conv);
    }
  const char *text = *message;
  /* prpl-irc's answer to a message to someone away (301), for instance. */
  if (*flags & PURPLE_MESSAGE_AUTO_RESP)
    text = html = g_strconcat ("(auto-reply) ", *message, NULL);
  pg_purple_account_emit_message (account, *sender, text);
  return TRUE;
}

static void
wrote_im (PurpleAccount *purple, const char *who, const char *message, PurpleConversation *conv,
          PurpleMessageFlags flags, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_purple (purple);

  (void)who; /* the user's own name (prpl-jabber: the other client's full JID) */
  (void)data;
  if (account == NULL || conv == NULL || message == NULL
      || !(flags & (PURPLE_MESSAGE_SEND | PURPLE_MESSAGE_REMOTE_SEND)) || account->sending > 0)
    return;
  touch (conv);
  /* The signal has no time; the history got the message just before, newest first. */
  GList *history = purple_conversation_get_message_history (conv);
  gint64 when = (flags & PURPLE_MESSAGE_DELAYED) && history != NULL
                    ? (gint64)purple_conversation_message_get_timestamp (history->data)
                    : 0;
  purple_conversation_clear_message_history (conv);
  /* The conversation is named after the contact (prpl-jabber: the bare JID). */
  pg_purple_account_emit_own_message (account, purple_conversation_get_name (conv), FALSE, message, when);
}

static void
typing (PurpleAccount *purple, const char *name, PgChatState state)
{
  PgPurpleAccount *account = pg_purple_account_from_purple (purple);

  if (account == NULL || name == NULL)
    return;
  /* The carbons plugin leaves a sent copy without its body, which
   * prpl-jabber takes for our own other client stopping typing: we are no
   * contact of ours. */
  g_autofree char *self = g_strdup (purple_normalize (purple, purple_account_get_username (purple)));
  if (g_strcmp0 (purple_normalize (purple, name), self) == 0)
    return;
  pg_purple_account_emit_chat_state (account, name, state);
}

static void
buddy_typing (PurpleAccount *purple, const char *name, gpointer data)
{
  (void)data;
  typing (purple, name, PG_CHAT_STATE_COMPOSING);
}

static void
buddy_typed (PurpleAccount *purple, const char *name, gpointer data)
{
  (void)data;
  typing (purple, name, PG_CHAT_STATE_PAUSED);
}

static void
buddy_typing_stopped (PurpleAccount *purple, const char *name, gpointer data)
{
  PurpleBuddy *buddy = name != NULL ? purple_find_buddy (purple, name) : NULL;

  (void)data;
  /* libpurple also says "stopped typing" of every contact that goes
   * offline; that is no chat state. */
  if (buddy != NULL && !purple_presence_is_online (purple_buddy_get_presence (buddy)))
    return;
  typing (purple, name, PG_CHAT_STATE_ACTIVE);
}

static void
core_quitting (gpointer data)
{
  (void)data;
  g_clear_handle_id (&sweep_id, g_source_remove);
}

void
pg_purple_conv_install (void)
{
  void *convs = purple_conversations_get_handle ();

  purple_signal_connect (convs, "conversation-created", &handle, PURPLE_CALLBACK (conversation_created),
                         NULL);
  purple_signal_connect (convs, "receiving-im-msg", &handle, PURPLE_CALLBACK (receiving_im), NULL);
  purple_signal_connect (convs, "wrote-im-msg", &handle, PURPLE_CALLBACK (wrote_im), NULL);
  purple_signal_connect (convs, "buddy-typing", &handle, PURPLE_CALLBACK (buddy_typing), NULL);
  purple_signal_connect (convs, "buddy-typed", &handle, PURPLE_CALLBACK (buddy_typed), NULL);
  purple_signal_connect (convs, "buddy-typing-stopped", &handle, PURPLE_CALLBACK (buddy_typing_stopped),
                         NULL);
  purple_signal_connect (purple_get_core (), "quitting", &handle, PURPLE_CALLBACK (core_quitting), NULL);
}
