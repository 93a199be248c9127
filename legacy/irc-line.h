/* legacy/irc-line.h — one IRC line (RFC 1459 §2.3.1) split into the
 * sender's nick, the command and the parameters, for the lines prpl-irc
 * receives and purplegate reads beside it (purple-chat-irc.c). */
#pragma once
#include <glib.h>

typedef struct
{
  char *nick;        /* the prefix up to '!' or '@'; NULL without a prefix */
  char *command;     /* "PRIVMSG", "404"…; never empty */
  GPtrArray *params; /* char *, the trailing one (after " :") last */
} PgIrcLine;

/* Splits @text (one line; tags, a CR or LF at its end are ignored) into
 * @line, which the caller clears with pg_irc_line_clear(). FALSE (and
 * @line empty) when there is no command. No parameter contains a space,
 * except the trailing one; none contains CR or LF. */
gboolean pg_irc_line_parse (const char *text, PgIrcLine *line);
void pg_irc_line_clear (PgIrcLine *line);
/* The command of the line @text, read in place (@len bytes; NULL when it
 * has none), and whether it is @command: the readers beside prpl-irc pass
 * over the lines they leave to it (PRIVMSG, JOIN: most of all) without
 * splitting them. Borrowed. */
const char *pg_irc_line_peek_command (const char *text, gsize *len);
gboolean pg_irc_line_command_is (const char *text, const char *command);
/* A PRIVMSG from another user that prpl-irc 2.14 would pass on as plain
 * text, read in place: the sender's nick, the one target and the text
 * (to the end of the line). Borrowed from the line. */
typedef struct
{
  const char *nick;
  gsize nick_len;
  const char *target;
  gsize target_len;
  const char *text;
} PgIrcPrivmsg;

/* Fills @msg from @text when it is ":nick!user@host PRIVMSG target :text"
 * with no tags, a nick and a target of printable ASCII, and a text that is
 * not empty and has no byte below 0x20: no CTCP (an action, a request), no
 * mIRC formatting, no line break. FALSE for every other line, which is
 * prpl-irc's to read. */
gboolean pg_irc_privmsg_peek (const char *text, PgIrcPrivmsg *msg);
/* Whether the command of @text is a numeric reply ("005", "474"…). */
gboolean pg_irc_line_is_numeric (const char *text);
/* Parameter @i, or NULL. Borrowed. */
const char *pg_irc_line_param (const PgIrcLine *line, guint i);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PgIrcLine, pg_irc_line_clear)

/* One reply of RPL_USERHOST (RFC 1459 §6.2, 302), "nick[*]=(+|-)host":
 * sets @nick (caller owns it, g_free) and @away ('-': the user is away).
 * FALSE, and nothing set, when @reply is not of that form. */
gboolean pg_irc_userhost_reply_parse (const char *reply, char **nick, gboolean *away);

/* @text without mIRC's bold, colour (with its numbers), reset, reverse,
 * italic and underline codes. Caller owns it (g_free). */
char *pg_irc_strip_formatting (const char *text);

/* RFC 2812 §2.3.1: nickname = ( letter / special ) *( letter / digit /
 * special / "-" ), at most @max_len (9 when 0: the server did not say). */
gboolean pg_irc_nick_valid (const char *nick, guint max_len);

/* @nick folded by the casemapping "rfc1459" (RFC 1459 §2.2: "{}|" are the
 * lower case of "[]\", and InspIRCd takes '^' for that of '~'), so that
 * two spellings of one nick compare equal. Caller owns it (g_free). */
char *pg_irc_nick_fold (const char *nick);

/* How many PRIVMSG lines prpl-irc 2.14 sends @text (plain UTF-8, the lines
 * of the message separated by CR LF, CR or LF) to @nick in: a line for each
 * of them, empty ones included but for a last one, each cut where it would
 * make the IRC line longer than RFC 1459 §2.3's 512 bytes less a margin of
 * 64 for the prefix the server adds; 0 for an empty text. */
guint pg_irc_privmsg_lines (const char *nick, const char *text);

/* TRUE when @nick (@len bytes, or up to its NUL when -1) folds to @folded
 * (pg_irc_nick_fold()). */
gboolean pg_irc_nick_equal (const char *folded, const char *nick, gssize len);
