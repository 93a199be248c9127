/* legacy/purple-away-irc.c — the away state of IRC contacts, which
 * prpl-irc 2.14 never reports: it watches its buddies with ISON, which
 * tells on line or not, nothing more.  What is learnt here becomes the
 * buddy's libpurple status ("away" with its message, or "available"), so
 * it reaches the user as any contact's presence does (purple-blist.c).
 *
 * - IRCv3 away-notify: asked for after sign-on (CAP REQ, allowed after
 *   registration); the server then sends ":nick!u@h AWAY [:text]" for the
 *   users who share a channel with us.  prpl-irc negotiates capabilities
 *   only for SASL, during registration, so it never asks itself.
 * - For the other contacts (all of them without away-notify), a bounded
 *   check: on a timer, at most one line every PG_IRC_AWAY_CHECK_GAP_S
 *   seconds per login, and none while the previous one is unanswered.
 *   The line is USERHOST (RFC 1459 §6.2: '-' marks an away user) of up
 *   to five contacts that are on line, taken in turn, or the WHOIS of one
 *   contact USERHOST found away, for the away text (RPL_AWAY, 301).
 * - WHO replies (352, prpl-irc asks for them when it joins a channel) and
 *   the 301 a message to an away user brings give the state too.
 *
 * Replies to our own lines are read at "irc-receiving-text" before
 * prpl-irc and the other readers see them, and replaced by a line prpl-irc
 * ignores: prpl-irc would show a 301 as an automatic reply and a 401 as an
 * error.  (account-refused.c reads every 401 before: it matches them to the
 * lines written, this WHOIS among them.) */
#define G_LOG_DOMAIN "pg-purple-away"

#include "legacy/account-private.h"
#include "legacy/irc-line.h"

#include <string.h>

/* The least time between two check lines of one login, in seconds. */
#define PG_IRC_AWAY_CHECK_GAP_S 10
/* Contacts per USERHOST line: the most RFC 1459 §5.7 allows. */
#define USERHOST_MAX 5
/* Ticks an unanswered check line holds the next one back. */
#define PATIENCE_TICKS 6

struct PgIrcAway
{
  PgPurpleAccount *account; /* owns this */
  guint timer_id;
  gboolean cap_requested; /* CAP REQ sent, no answer yet */
  gboolean away_notify;   /* the server acknowledged away-notify */
  guint userhost_pending; /* USERHOST lines not answered yet */
  char *whois;            /* the nick of our WHOIS under way (normalised), or NULL */
  gboolean whois_away;    /* a 301 answered it */
  guint waited;           /* ticks the unanswered line has held the next back */
  gboolean whois_401;     /* its 401 (no such nick) was read */
  GQueue to_whois;        /* char *, nicks (as the server spells them) found away without their text */
  char *cursor;           /* the last contact checked (normalised), for turns */
};

/* What prpl-irc reads instead of a line that was ours: an unknown numeric
 * with no conversation named after its target (irc_msg_default). */
static char ignored[] = ":purplegate 999 pg-away";

/* ---- the buddy's status ------------------------------------------------- */

static gboolean
shown_away (PurpleBuddy *buddy, const char **text)
{
  PurplePresence *presence = purple_buddy_get_presence (buddy);
  PurpleStatus *status = purple_presence_get_active_status (presence);
  if (status == NULL
      || purple_status_type_get_primitive (purple_status_get_type (status)) != PURPLE_STATUS_AWAY)
    return FALSE;
  if (text != NULL)
    *text = purple_status_get_attr_string (status, "message");
  return TRUE;
}

/* Shows @nick away with @text (may be NULL), or available; only a change
 * is reported (prpl-irc's ISON alone says when the contact is off line). */
static void
set_away (PgPurpleAccount *account, const char *nick, gboolean away, const char *text)
{
  PurpleBuddy *buddy = purple_find_buddy (account->purple, nick);
  const char *shown = NULL;

  if (buddy == NULL || !PURPLE_BUDDY_IS_ONLINE (buddy))
    return;
  /* The server's bytes, before prpl-irc's charset conversion: made valid
   * UTF-8, without mIRC formatting, as the user's client shows statuses. */
  g_autofree char *valid = text != NULL ? g_utf8_make_valid (text, -1) : NULL;
  g_autofree char *plain = valid != NULL ? pg_irc_strip_formatting (valid) : NULL;
  text = plain;
  gboolean was_away = shown_away (buddy, &shown);
  if (away == was_away && (!away || g_strcmp0 (text != NULL ? text : "", shown != NULL ? shown : "") == 0))
    return;
  g_debug ("%s: contact %s is %s", purple_account_get_username (account->purple),
           purple_buddy_get_name (buddy), away ? "away" : "back");
  if (away)
    purple_prpl_got_user_status (account->purple, purple_buddy_get_name (buddy), "away", "message",
                                 text != NULL ? text : "", NULL);
  else
    purple_prpl_got_user_status (account->purple, purple_buddy_get_name (buddy), "available", NULL);
}

/* ---- the check ---------------------------------------------------------- */

static void
send_line (PurpleConnection *gc, const char *line)
{
  PurplePlugin *prpl = purple_connection_get_prpl (gc);
  PurplePluginProtocolInfo *info = prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (prpl) : NULL;

  if (info != NULL && info->send_raw != NULL)
    info->send_raw (gc, line, (int)strlen (line));
}

/* A name that is one word on an IRC line; others are not checked. */
static gboolean
safe_name (const char *name)
{
  return *name != '\0' && *name != ':' && strpbrk (name, " ,*?!@\r\n\t") == NULL;
}

/* TRUE when @nick is in a channel we are in: with away-notify, the server
 * tells its changes without asking. */
static gboolean
shares_channel (PgPurpleAccount *account, const char *nick)
{
  for (GList *l = purple_get_chats (); l != NULL; l = l->next)
    {
      PurpleConversation *conv = l->data;
      if (purple_conversation_get_account (conv) == account->purple
          && purple_conv_chat_find_user (PURPLE_CONV_CHAT (conv), nick))
        return TRUE;
    }
  return FALSE;
}

static gint
compare_names (gconstpointer a, gconstpointer b, gpointer data)
{
  (void)data;
  return strcmp (a, b);
}

/* The contacts to check: on line, one word, not told by away-notify.
 * Caller owns the tree: normalised name → the name as spelled. */
static GTree *
dup_checked (PgIrcAway *away)
{
  PgPurpleAccount *account = away->account;
  GTree *names = g_tree_new_full (compare_names, NULL, g_free, g_free);
  GSList *buddies = purple_find_buddies (account->purple, NULL);

  for (GSList *l = buddies; l != NULL; l = l->next)
    {
      PurpleBuddy *buddy = l->data;
      const char *name = purple_buddy_get_name (buddy);
      if (!PURPLE_BUDDY_IS_ONLINE (buddy) || !safe_name (name)
          || (away->away_notify && shares_channel (account, name)))
        continue;
      /* Copies of one contact (several groups) are one. */
      g_tree_replace (names, g_strdup (purple_normalize (account->purple, name)), g_strdup (name));
    }
  g_slist_free (buddies);
  return names;
}

static gboolean
tick (gpointer data)
{
  PgIrcAway *away = data;
  PurpleConnection *gc = purple_account_get_connection (away->account->purple);

  if (gc == NULL || !PURPLE_CONNECTION_IS_CONNECTED (gc))
    return G_SOURCE_CONTINUE;
  if (away->whois != NULL || away->userhost_pending > 0)
    {
      if (++away->waited < PATIENCE_TICKS)
        return G_SOURCE_CONTINUE;
      /* The server dropped it: the turn goes on. */
      g_clear_pointer (&away->whois, g_free);
      away->userhost_pending = 0;
    }
  away->waited = 0;
  g_autofree char *nick = g_queue_pop_head (&away->to_whois);
  if (nick != NULL)
    {
      g_autofree char *line = g_strdup_printf ("WHOIS %s\r\n", nick);
      away->whois = g_strdup (purple_normalize (away->account->purple, nick));
      away->whois_away = FALSE;
      away->whois_401 = FALSE;
      send_line (gc, line);
      return G_SOURCE_CONTINUE;
    }
  g_autoptr (GTree) names = dup_checked (away);
  /* The next ones after the cursor, from the start again at the end. */
  GTreeNode *node = away->cursor != NULL ? g_tree_upper_bound (names, away->cursor) : NULL;
  if (node == NULL)
    node = g_tree_node_first (names);
  if (node == NULL)
    return G_SOURCE_CONTINUE;
  g_autoptr (GString) line = g_string_new ("USERHOST");
  const char *last = NULL;
  for (guint n = 0; node != NULL && n < USERHOST_MAX; node = g_tree_node_next (node), n++)
    {
      g_string_append_printf (line, " %s", (const char *)g_tree_node_value (node));
      last = g_tree_node_key (node);
    }
  g_string_append (line, "\r\n");
  g_free (away->cursor);
  away->cursor = g_strdup (last);
  away->userhost_pending++;
  send_line (gc, line->str);
  return G_SOURCE_CONTINUE;
}

static void
queue_whois (PgIrcAway *away, const char *nick)
{
  PurpleAccount *purple = away->account->purple;
  g_autofree char *normalized = g_strdup (purple_normalize (purple, nick));

  if (g_strcmp0 (away->whois, normalized) == 0)
    return;
  for (GList *l = away->to_whois.head; l != NULL; l = l->next)
    if (strcmp (purple_normalize (purple, l->data), normalized) == 0)
      return;
  g_queue_push_tail (&away->to_whois, g_strdup (nick));
}

/* A contact's state seen as a flag (USERHOST, WHO): back at once; away
 * once its WHOIS gave the text. */
static void
seen (PgIrcAway *away, const char *nick, gboolean is_away)
{
  PurpleBuddy *buddy = purple_find_buddy (away->account->purple, nick);

  if (buddy == NULL || !PURPLE_BUDDY_IS_ONLINE (buddy) || !safe_name (nick))
    return;
  if (!is_away)
    set_away (away->account, nick, FALSE, NULL);
  else if (!shown_away (buddy, NULL))
    queue_whois (away, nick);
}

/* ---- what the server sends ---------------------------------------------- */

static gboolean
is_whois_target (PgIrcAway *away, const char *nick)
{
  return away->whois != NULL && nick != NULL
         && strcmp (purple_normalize (away->account->purple, nick), away->whois) == 0;
}

/* TRUE when the line was ours alone (prpl-irc must not read it). */
static gboolean
read_line (PgIrcAway *away, const PgIrcLine *line)
{
  PgPurpleAccount *account = away->account;
  const char *cmd = line->command;
  const char *target = pg_irc_line_param (line, 1);
  const char *last = line->params->len > 0 ? pg_irc_line_param (line, line->params->len - 1) : NULL;

  if (strcmp (cmd, "AWAY") == 0 && line->nick != NULL)
    {
      /* away-notify: a text sets away, none returns. */
      const char *text = pg_irc_line_param (line, 0);
      set_away (account, line->nick, text != NULL && *text != '\0', text);
      return TRUE;
    }
  if (strcmp (cmd, "CAP") == 0 && away->cap_requested && line->params->len >= 3)
    {
      const char *verb = pg_irc_line_param (line, 1);
      g_auto (GStrv) caps = g_strsplit (last, " ", -1);
      if (!g_strv_contains ((const char *const *)caps, "away-notify"))
        return FALSE;
      away->cap_requested = FALSE;
      away->away_notify = strcmp (verb, "ACK") == 0;
      g_debug ("%s: away-notify %s", purple_account_get_username (account->purple),
               away->away_notify ? "on" : "refused");
      return TRUE;
    }
  if (strcmp (cmd, "421") == 0 && away->cap_requested && g_strcmp0 (target, "CAP") == 0)
    {
      away->cap_requested = FALSE; /* a server without capabilities */
      return TRUE;
    }
  if (strcmp (cmd, "302") == 0 && away->userhost_pending > 0)
    {
      away->userhost_pending--;
      g_auto (GStrv) replies = g_strsplit (last != NULL ? last : "", " ", -1);
      for (guint i = 0; replies[i] != NULL; i++)
        {
          g_autofree char *nick = NULL;
          gboolean is_away;
          if (pg_irc_userhost_reply_parse (replies[i], &nick, &is_away))
            seen (away, nick, is_away);
        }
      return TRUE;
    }
  if (strcmp (cmd, "352") == 0 && line->params->len >= 7)
    {
      /* me #chan user host server nick flags :hops name — prpl-irc reads it too. */
      const char *flags = pg_irc_line_param (line, 6);
      if (flags[0] == 'G' || flags[0] == 'H')
        seen (away, pg_irc_line_param (line, 5), flags[0] == 'G');
      return FALSE;
    }
  if (strcmp (cmd, "301") == 0 && line->params->len >= 3)
    {
      set_away (account, target, TRUE, last);
      if (!is_whois_target (away, target))
        return FALSE; /* the automatic reply to a message: prpl-irc shows it */
      away->whois_away = TRUE;
      return TRUE;
    }
  if (is_whois_target (away, target) && strlen (cmd) == 3 && g_ascii_isdigit (cmd[0]))
    {
      /* The one 401 of the WHOIS is ours; another is the answer to a
       * message sent to the nick meanwhile (account-confirm.c). */
      if (strcmp (cmd, "401") == 0)
        {
          if (away->whois_401)
            return FALSE;
          away->whois_401 = TRUE;
        }
      if (strcmp (cmd, "318") == 0)
        {
          /* No 301 before the end: back in the meantime. */
          if (!away->whois_away)
            set_away (account, target, FALSE, NULL);
          g_clear_pointer (&away->whois, g_free);
        }
      return TRUE;
    }
  return FALSE;
}

static void
irc_receiving_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  g_auto (PgIrcLine) line = { 0 };

  (void)data;
  if (account == NULL || account->irc_away == NULL || text == NULL || *text == NULL
      || !(pg_irc_line_is_numeric (*text) || pg_irc_line_command_is (*text, "AWAY")
           || pg_irc_line_command_is (*text, "CAP"))
      || !pg_irc_line_parse (*text, &line))
    return;
  if (read_line (account->irc_away, &line))
    *text = ignored;
}

/* ---- life cycle ---------------------------------------------------------- */

void
pg_purple_away_irc_free (PgPurpleAccount *account)
{
  PgIrcAway *away = account->irc_away;

  if (away == NULL)
    return;
  account->irc_away = NULL;
  g_clear_handle_id (&away->timer_id, purple_timeout_remove);
  g_free (away->whois);
  g_queue_clear_full (&away->to_whois, g_free);
  g_free (away->cursor);
  g_free (away);
}

static void
signed_on (PurpleConnection *gc, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  PurplePlugin *prpl = purple_connection_get_prpl (gc);

  (void)data;
  if (account == NULL || prpl == NULL || g_strcmp0 (purple_plugin_get_id (prpl), "prpl-irc") != 0)
    return;
  pg_purple_away_irc_free (account);
  PgIrcAway *away = g_new0 (PgIrcAway, 1);
  away->account = account;
  g_queue_init (&away->to_whois);
  account->irc_away = away;
  away->cap_requested = TRUE;
  send_line (gc, "CAP REQ :away-notify\r\n");
  /* On the glue's clock (purple-eventloop.c), as libpurple's own timers:
   * a GLib source per login would be walked on every main-loop pass. */
  away->timer_id = purple_timeout_add_seconds (PG_IRC_AWAY_CHECK_GAP_S, tick, away);
}

static void
signing_off (PurpleConnection *gc, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);

  (void)data;
  if (account != NULL)
    pg_purple_away_irc_free (account);
}

void
pg_purple_away_irc_install (void)
{
  static int handle;
  PurplePlugin *irc = purple_plugins_find_with_id ("prpl-irc");
  void *connections = purple_connections_get_handle ();

  if (irc == NULL)
    return;
  /* Before the other readers of the signal: replies to our lines are
   * replaced before they read them. */
  purple_signal_connect_priority (irc, "irc-receiving-text", &handle, PURPLE_CALLBACK (irc_receiving_text),
                                  NULL, PURPLE_SIGNAL_PRIORITY_DEFAULT - 1);
  purple_signal_connect (connections, "signed-on", &handle, PURPLE_CALLBACK (signed_on), NULL);
  purple_signal_connect (connections, "signing-off", &handle, PURPLE_CALLBACK (signing_off), NULL);
}
