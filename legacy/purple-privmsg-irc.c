/* legacy/purple-privmsg-irc.c — the plain PRIVMSGs of others, read before
 * prpl-irc parses them.
 *
 * A line from an IRC contact or a channel member is most of what a login
 * receives.  prpl-irc 2.14 splits every line into copies, converts it from
 * the account's encodings, escapes the text to HTML a byte at a time,
 * compares the target with our nick by Unicode collation, normalises the
 * sender's name to look a conversation up, and passes the message through
 * serv_got_im() or serv_got_chat_in() and their signals: about twenty
 * thousand instructions, where the message itself needs a few hundred.
 *
 * At "irc-receiving-text", after the other readers (this handler runs
 * last), a PRIVMSG that prpl-irc would turn into nothing but a plain
 * message (irc-line.h, pg_irc_privmsg_peek(): no CTCP, no formatting) to
 * our nick, or to a channel conversation of the login, is handed on as
 * libpurple would hand it on (HTML-escaped, as irc_escape_privmsg() does)
 * to the same events purple-conv.c and purple-chat.c raise, and the line
 * prpl-irc then reads is one it ignores.  Everything else is left to
 * prpl-irc: our own nick's lines (echoes), a target that is neither our
 * nick as spelt nor a chat joined, texts its encodings setting would
 * convert, senders the privacy settings refuse. */
#define G_LOG_DOMAIN "pg-purple-privmsg"

#include "legacy/account-private.h"
#include "legacy/irc-line.h"
#include "transport/ascii.h"

#include <string.h>

/* What prpl-irc reads instead of a line taken here: an unknown numeric
 * (irc_msg_default() logs it at debug level, nothing more). */
static char taken[] = ":purplegate 999 pg-privmsg";

/* Longest nick or channel name copied out of a line; longer ones are left
 * to prpl-irc. */
#define NAME_MAX_BYTES 128

/* Whether prpl-irc's conversion of @text from the account's encodings
 * (irc_recv_convert()) would leave it as it is: ASCII is the same in all
 * of them; other valid UTF-8 when UTF-8 is the first or detected. */
static gboolean
text_as_received (PurpleAccount *purple, const char *text)
{
  gsize len = strlen (text);
  gsize ascii = pg_ascii_prefix (text, len);
  if (ascii == len)
    return TRUE;
  if (!g_utf8_validate_len (text + ascii, len - ascii, NULL))
    return FALSE;
  if (purple_account_get_bool (purple, "autodetect_utf8", FALSE))
    return TRUE;
  const char *encodings = purple_account_get_string (purple, "encoding", "UTF-8");
  while (*encodings == ' ')
    encodings++;
  return g_ascii_strncasecmp (encodings, "UTF-8", 5) == 0 && (encodings[5] == ',' || encodings[5] == '\0');
}

static gboolean
take (PurpleConnection *gc, PgPurpleAccount *account, const PgIrcPrivmsg *msg)
{
  char nick[NAME_MAX_BYTES], target[NAME_MAX_BYTES];
  const char *own = purple_connection_get_display_name (gc);

  if (own == NULL || msg->nick_len >= sizeof nick || msg->target_len >= sizeof target)
    return FALSE;
  memcpy (nick, msg->nick, msg->nick_len);
  nick[msg->nick_len] = '\0';
  memcpy (target, msg->target, msg->target_len);
  target[msg->target_len] = '\0';
  /* Our own line, written back by the server: prpl-irc flags it as sent. */
  if (g_ascii_strcasecmp (nick, own) == 0 || !text_as_received (account->purple, msg->text))
    return FALSE;
  if (strcmp (target, own) == 0)
    {
      if (!purple_privacy_check (account->purple, nick))
        return FALSE;
      g_autofree char *html = g_markup_escape_text (msg->text, -1);
      pg_purple_account_emit_message (account, nick, html);
      return TRUE;
    }
  if (!pg_purple_account_is_chat_name (account, target))
    return FALSE;
  /* serv_got_chat_in() passes on only what comes to a chat still joined. */
  PurpleConversation *conv = pg_purple_chat_find (account->purple, target);
  if (conv == NULL || purple_conv_chat_has_left (PURPLE_CONV_CHAT (conv)))
    return FALSE;
  const char *chat_nick = purple_conv_chat_get_nick (PURPLE_CONV_CHAT (conv));
  if (chat_nick == NULL || g_ascii_strcasecmp (chat_nick, nick) == 0)
    return FALSE;
  g_autofree char *html = g_markup_escape_text (msg->text, -1);
  pg_purple_chat_message_in (conv, nick, html);
  return TRUE;
}

static void
irc_receiving_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgIrcPrivmsg msg;

  (void)data;
  if (text == NULL || *text == NULL || !pg_irc_privmsg_peek (*text, &msg))
    return;
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  if (account == NULL || account->dying || !PURPLE_CONNECTION_IS_CONNECTED (gc))
    return;
  if (take (gc, account, &msg))
    *text = taken;
}

void
pg_purple_privmsg_irc_install (void)
{
  static int handle;
  PurplePlugin *irc = purple_plugins_find_with_id ("prpl-irc");

  if (irc == NULL)
    return;
  /* Last of the readers: they see the line as the server sent it. */
  purple_signal_connect_priority (irc, "irc-receiving-text", &handle, PURPLE_CALLBACK (irc_receiving_text),
                                  NULL, PURPLE_SIGNAL_PRIORITY_HIGHEST);
}
