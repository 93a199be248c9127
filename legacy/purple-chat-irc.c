/* legacy/purple-chat-irc.c — what prpl-irc 2.14 does not tell about
 * channels, read from the lines it receives ("irc-receiving-text", before
 * prpl-irc handles them).
 *
 * - Join refusals: 471 (full) and 475 (bad key) fall through to prpl-irc's
 *   default handler, 473/474 and others become notices nobody reads; each
 *   becomes a REFUSED event with the server's own words.
 * - Refusals inside a channel: 404 (cannot send), 482 (not operator),
 *   442 (not on channel), 441 (no such nick there); 433/432 after a nick
 *   change we asked for.
 * - Channel modes: 324 and MODE lines, for the room's features.
 * - RPL_ISUPPORT (005): which names are channels, how long names may be.
 * - NICK of our own: prpl-irc tells only the chats we are in.
 * - The nick refused during the login: prpl-irc takes another one by
 *   itself after 433 (bob → bob1) and gives up after 432 with a text
 *   blaming the characters.  Both become a REFUSED event (@chat NULL)
 *   before the login's outcome, so that the registration check and the
 *   session know the nick they asked for is not the one they have; after
 *   432 the login goes on under a stand-in nick, so that the server's
 *   RPL_ISUPPORT (NICKLEN) still arrives and says whether the length was
 *   the fault.
 * - KICK: libpurple reports a kicked occupant as one who left; the line is
 *   noted here so that the departure that follows counts as a kick, or as
 *   a ban when a MODE +b matching the nick came shortly before (the usual
 *   "kick-ban" of IRC clients). */
#define G_LOG_DOMAIN "pg-purple-chat"

#include "legacy/account-private.h"
#include "legacy/irc-line.h"

#include <string.h>

static void
refuse (PgPurpleAccount *account, const char *chat, PgChatRefusal refusal, const char *text)
{
  PgChatEvent event = { .kind = PG_CHAT_EVENT_REFUSED, .refusal = refusal, .text = text };

  event.chat = chat != NULL ? purple_normalize (account->purple, chat) : NULL;
  pg_purple_account_emit_chat (account, &event);
}

static PgChatModes
mode_bit (char c)
{
  switch (c)
    {
    case 'm':
      return PG_CHAT_MODE_MODERATED;
    case 'i':
      return PG_CHAT_MODE_INVITE_ONLY;
    case 'k':
      return PG_CHAT_MODE_KEY;
    case 't':
      return PG_CHAT_MODE_TOPIC_LOCKED;
    case 'n':
      return PG_CHAT_MODE_NO_OUTSIDE;
    case 'l':
      return PG_CHAT_MODE_LIMIT;
    default:
      return 0;
    }
}

/* A ban is taken as the reason of a kick that follows within this long. */
#define BAN_KICK_WINDOW_US (10 * G_USEC_PER_SEC)

typedef struct
{
  gint64 at;   /* monotonic µs */
  char text[]; /* "chat\nnick-glob", normalised */
} Ban;

static void
note_ban (PgPurpleAccount *account, const char *chat, const char *mask)
{
  gint64 now = g_get_monotonic_time ();
  gsize nick_len = strcspn (mask, "!");
  g_autofree char *nick = g_strndup (mask, nick_len);
  g_autofree char *text = g_strconcat (chat, "\n", purple_normalize (account->purple, nick), NULL);

  if (account->bans == NULL)
    account->bans = g_ptr_array_new_with_free_func (g_free);
  while (account->bans->len > 0
         && now - ((Ban *)g_ptr_array_index (account->bans, 0))->at > BAN_KICK_WINDOW_US)
    g_ptr_array_remove_index (account->bans, 0);
  Ban *ban = g_malloc (sizeof (Ban) + strlen (text) + 1);
  ban->at = now;
  strcpy (ban->text, text);
  g_ptr_array_add (account->bans, ban);
}

static gboolean
banned (PgPurpleAccount *account, const char *chat, const char *nick)
{
  g_autofree char *text = g_strconcat (chat, "\n", nick, NULL);
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; account->bans != NULL && i < account->bans->len; i++)
    {
      Ban *ban = g_ptr_array_index (account->bans, i);
      if (now - ban->at <= BAN_KICK_WINDOW_US && g_pattern_match_simple (ban->text, text))
        return TRUE;
    }
  return FALSE;
}

/* Applies "+mnt-k" (the parameters of prefix modes are not needed:
 * occupant ranks come through libpurple); bans are noted. */
static void
apply_modes (PurpleConversation *conv, const char *changes, const PgIrcLine *line, guint first_arg)
{
  PgPurpleAccount *owner = pg_purple_account_from_purple (purple_conversation_get_account (conv));
  guint arg = first_arg;
  PgChatModes modes = pg_purple_chat_get_modes (conv);
  gboolean adding = TRUE;

  for (const char *c = changes; *c != '\0'; c++)
    {
      if (*c == '+' || *c == '-')
        adding = *c == '+';
      else if (adding)
        modes |= mode_bit (*c);
      else
        modes &= ~mode_bit (*c);
      /* Modes with a parameter (RFC 2811 §4): list and prefix modes always,
       * the key always, the limit when set. */
      if (strchr ("beIovhqak", *c) != NULL || (*c == 'l' && adding))
        {
          const char *value = line != NULL ? pg_irc_line_param (line, arg) : NULL;
          if (*c == 'b' && adding && value != NULL && owner != NULL)
            note_ban (owner, pg_purple_chat_key (conv), value);
          arg++;
        }
    }
  if (modes == pg_purple_chat_get_modes (conv))
    return;
  pg_purple_chat_set_modes (conv, modes);
  PgPurpleAccount *account = pg_purple_account_from_purple (purple_conversation_get_account (conv));
  PgChatEvent event = { .kind = PG_CHAT_EVENT_MODES, .modes = modes, .chat = pg_purple_chat_key (conv) };
  if (account != NULL)
    pg_purple_account_emit_chat (account, &event);
}

/* CHANTYPES, CHANNELLEN and NICKLEN of an RPL_ISUPPORT line. */
static void
read_isupport (PgPurpleAccount *account, const PgIrcLine *line)
{
  for (guint i = 1; i + 1 < line->params->len; i++)
    {
      const char *token = pg_irc_line_param (line, i);
      guint64 number;
      if (g_str_has_prefix (token, "CHANTYPES="))
        {
          g_free (account->chantypes);
          account->chantypes = g_strdup (token + strlen ("CHANTYPES="));
        }
      else if (g_str_has_prefix (token, "CHANNELLEN=")
               && g_ascii_string_to_unsigned (token + strlen ("CHANNELLEN="), 10, 1, 1000, &number, NULL))
        account->channel_len = (guint)number;
      else if (g_str_has_prefix (token, "NICKLEN=")
               && g_ascii_string_to_unsigned (token + strlen ("NICKLEN="), 10, 1, 1000, &number, NULL))
        account->nick_len = (guint)number;
    }
}

/* After 432 during the login: a nick of RFC 2812's shortest length (9)
 * that no user picks, so that the login completes. */
static void
send_stand_in_nick (PurpleConnection *gc)
{
  PurplePlugin *prpl = purple_connection_get_prpl (gc);
  PurplePluginProtocolInfo *info = prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (prpl) : NULL;
  if (info == NULL || info->send_raw == NULL)
    return;
  g_autofree char *line = g_strdup_printf ("NICK pg%06u\r\n", g_random_int_range (0, 1000000));
  info->send_raw (gc, line, (int)strlen (line));
}

/* Refusals of a join or inside a channel, by numeric. */
static const struct
{
  const char *numeric;
  PgChatRefusal refusal;
} refusals[] = {
  { "403", PG_CHAT_REFUSED_NOT_FOUND },    { "405", PG_CHAT_REFUSED_TOO_MANY },
  { "471", PG_CHAT_REFUSED_FULL },         { "473", PG_CHAT_REFUSED_INVITE_ONLY },
  { "474", PG_CHAT_REFUSED_BANNED },       { "475", PG_CHAT_REFUSED_KEY },
  { "476", PG_CHAT_REFUSED_BAD_NAME },     { "477", PG_CHAT_REFUSED_REGISTERED_ONLY },
  { "479", PG_CHAT_REFUSED_BAD_NAME },     { "404", PG_CHAT_REFUSED_CANNOT_SEND },
  { "482", PG_CHAT_REFUSED_NOT_OPERATOR }, { "442", PG_CHAT_REFUSED_NOT_JOINED },
  { "437", PG_CHAT_REFUSED_NICK_IN_USE },
};

/* The lines read below; the rest (PRIVMSG, JOIN, NAMES…) are not split. */
static gboolean
wanted (const char *text)
{
  static const char *const commands[] = { "MODE", "KICK", "NICK" };
  static const char numerics[][4] = { "005", "341", "441", "433", "432", "324" };
  gsize len;
  const char *command = pg_irc_line_peek_command (text, &len);

  if (command == NULL)
    return FALSE;
  if (len == 3)
    {
      for (guint i = 0; i < G_N_ELEMENTS (refusals); i++)
        if (strncmp (command, refusals[i].numeric, 3) == 0)
          return TRUE;
      for (guint i = 0; i < G_N_ELEMENTS (numerics); i++)
        if (strncmp (command, numerics[i], 3) == 0)
          return TRUE;
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (len == strlen (commands[i]) && strncmp (command, commands[i], len) == 0)
      return TRUE;
  return FALSE;
}

static void
irc_receiving_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  g_auto (PgIrcLine) line = { 0 };

  (void)data;
  if (account == NULL || text == NULL || *text == NULL || !wanted (*text)
      || !pg_irc_line_parse (*text, &line))
    return;
  const char *cmd = line.command;
  /* Numerics: parameter 0 is our nick, 1 the channel (or nick), last the text. */
  const char *target = pg_irc_line_param (&line, 1);
  const char *words = line.params->len > 2 ? pg_irc_line_param (&line, line.params->len - 1) : NULL;

  for (guint i = 0; i < G_N_ELEMENTS (refusals); i++)
    if (strcmp (cmd, refusals[i].numeric) == 0 && target != NULL)
      {
        /* 437 names a nick or a channel ("temporarily unavailable"). */
        gboolean nick = refusals[i].refusal == PG_CHAT_REFUSED_NICK_IN_USE
                        && !pg_purple_account_is_chat_name (account, target);
        refuse (account, nick ? NULL : target,
                nick                             ? refusals[i].refusal
                : cmd[2] == '7' && cmd[1] == '3' ? PG_CHAT_REFUSED_FULL
                                                 : refusals[i].refusal,
                words);
        return;
      }
  if (strcmp (cmd, "005") == 0)
    {
      read_isupport (account, &line);
      return;
    }
  if (strcmp (cmd, "341") == 0 && line.params->len > 2) /* me nick #chan: the invitation went out */
    {
      PgChatEvent event = { .kind = PG_CHAT_EVENT_INVITE_SENT,
                            .chat = purple_normalize (account->purple, pg_irc_line_param (&line, 2)) };
      pg_purple_account_emit_chat (account, &event);
    }
  else if (strcmp (cmd, "441") == 0 && line.params->len > 3) /* me nick #chan :text */
    refuse (account, pg_irc_line_param (&line, 2), PG_CHAT_REFUSED_NO_SUCH_NICK, words);
  else if ((strcmp (cmd, "433") == 0 || strcmp (cmd, "432") == 0) && PURPLE_CONNECTION_IS_CONNECTED (gc))
    refuse (account, NULL, cmd[2] == '3' ? PG_CHAT_REFUSED_NICK_IN_USE : PG_CHAT_REFUSED_BAD_NICK, words);
  else if (strcmp (cmd, "433") == 0 && !account->nick_refused)
    {
      /* prpl-irc goes on with bob1 by itself: only the first refusal is
       * about the nick that was asked for. */
      account->nick_refused = TRUE;
      refuse (account, NULL, PG_CHAT_REFUSED_NICK_IN_USE, words);
    }
  else if (strcmp (cmd, "432") == 0 && !account->nick_refused)
    {
      /* prpl-irc would end the login; it reads a line it ignores instead
       * (an unknown numeric), and the login goes on under a stand-in. */
      static char ignored[] = ":purplegate 999 * :nick refused";
      account->nick_refused = TRUE;
      refuse (account, NULL, PG_CHAT_REFUSED_BAD_NICK, words);
      *text = ignored;
      send_stand_in_nick (gc);
    }
  else if (strcmp (cmd, "324") == 0 && line.params->len > 2) /* me #chan +modes args */
    {
      PurpleConversation *conv = pg_purple_chat_find (account->purple, target);
      if (conv != NULL)
        apply_modes (conv, pg_irc_line_param (&line, 2), &line, 3);
    }
  else if (strcmp (cmd, "MODE") == 0 && line.params->len > 1)
    {
      PurpleConversation *conv = pg_purple_chat_find (account->purple, pg_irc_line_param (&line, 0));
      if (conv != NULL)
        apply_modes (conv, pg_irc_line_param (&line, 1), &line, 2);
    }
  else if (strcmp (cmd, "KICK") == 0 && line.params->len > 1)
    {
      g_autofree char *chat = g_strdup (purple_normalize (account->purple, pg_irc_line_param (&line, 0)));
      g_autofree char *nick = g_strdup (purple_normalize (account->purple, pg_irc_line_param (&line, 1)));
      PgKick *kick = g_new0 (PgKick, 1);
      kick->banned = banned (account, chat, nick);
      kick->actor = g_strdup (line.nick);
      kick->reason = g_strdup (pg_irc_line_param (&line, 2));
      g_hash_table_replace (pg_purple_account_kicks (account), g_strconcat (chat, "\n", nick, NULL), kick);
    }
  else if (strcmp (cmd, "NICK") == 0 && line.nick != NULL && line.params->len > 0)
    {
      /* Ours: the connection's nick changed (prpl-irc tells only the chats). */
      const char *own = purple_connection_get_display_name (gc);
      if (own != NULL && purple_utf8_strcasecmp (own, line.nick) == 0)
        {
          PgChatEvent event
              = { .kind = PG_CHAT_EVENT_NICK, .nick = line.nick, .new_nick = pg_irc_line_param (&line, 0) };
          pg_purple_account_emit_chat (account, &event);
        }
    }
}

void
pg_purple_chat_irc_install (void)
{
  static int handle;
  PurplePlugin *irc = purple_plugins_find_with_id ("prpl-irc");

  if (irc != NULL)
    purple_signal_connect (irc, "irc-receiving-text", &handle, PURPLE_CALLBACK (irc_receiving_text), NULL);
}
