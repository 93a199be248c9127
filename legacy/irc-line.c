/* legacy/irc-line.c — IRC lines split into nick, command and parameters. */
#define G_LOG_DOMAIN "pg-irc-line"
#include "build-config.h"

#include "legacy/irc-line.h"

#include <string.h>

void
pg_irc_line_clear (PgIrcLine *line)
{
  g_clear_pointer (&line->nick, g_free);
  g_clear_pointer (&line->command, g_free);
  g_clear_pointer (&line->params, g_ptr_array_unref);
}

const char *
pg_irc_line_param (const PgIrcLine *line, guint i)
{
  return line->params != NULL && i < line->params->len ? g_ptr_array_index (line->params, i) : NULL;
}

const char *
pg_irc_line_peek_command (const char *text, gsize *len)
{
  const char *p = text;

  if (*p == '@')
    {
      p = strchr (p, ' ');
      if (p == NULL)
        return NULL;
      p++;
    }
  if (*p == ':')
    {
      p += strcspn (p, " \r\n");
      while (*p == ' ')
        p++;
    }
  *len = strcspn (p, " \r\n");
  return *len > 0 ? p : NULL;
}

gboolean
pg_irc_line_command_is (const char *text, const char *command)
{
  gsize len;
  const char *p = pg_irc_line_peek_command (text, &len);
  return p != NULL && len == strlen (command) && strncmp (p, command, len) == 0;
}

/* The length of the run of printable ASCII at @p up to a space or the
 * end; G_MAXSIZE when a byte of it is not printable ASCII. */
static gsize
printable_word (const char *p)
{
  gsize n = 0;
  for (; p[n] != ' ' && p[n] != '\0'; n++)
    if ((guchar)p[n] <= 0x20 || (guchar)p[n] >= 0x7F)
      return G_MAXSIZE;
  return n;
}

gboolean
pg_irc_privmsg_peek (const char *text, PgIrcPrivmsg *msg)
{
  if (text[0] != ':')
    return FALSE;
  gsize prefix = printable_word (text + 1);
  if (prefix == G_MAXSIZE || prefix == 0 || text[1 + prefix] != ' ')
    return FALSE;
  const char *bang = memchr (text + 1, '!', prefix);
  if (bang == NULL || bang == text + 1)
    return FALSE;
  const char *p = text + 1 + prefix + 1;
  if (strncmp (p, "PRIVMSG ", 8) != 0)
    return FALSE;
  p += 8;
  gsize target = printable_word (p);
  if (target == G_MAXSIZE || target == 0 || p[0] == ':' || strncmp (p + target, " :", 2) != 0)
    return FALSE;
  const char *body = p + target + 2;
  if (*body == '\0')
    return FALSE;
  for (const char *b = body; *b != '\0'; b++)
    if ((guchar)*b < 0x20)
      return FALSE;
  msg->nick = text + 1;
  msg->nick_len = (gsize)(bang - (text + 1));
  msg->target = p;
  msg->target_len = target;
  msg->text = body;
  return TRUE;
}

gboolean
pg_irc_line_is_numeric (const char *text)
{
  gsize len;
  const char *p = pg_irc_line_peek_command (text, &len);
  return p != NULL && len == 3 && g_ascii_isdigit (p[0]) && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2]);
}

gboolean
pg_irc_line_parse (const char *text, PgIrcLine *line)
{
  const char *p = text;
  gsize n;

  memset (line, 0, sizeof *line);
  if (*p == '@') /* IRCv3 message tags */
    {
      p = strchr (p, ' ');
      if (p == NULL)
        return FALSE;
      p++;
    }
  if (*p == ':')
    {
      n = strcspn (p + 1, " !@\r\n");
      line->nick = g_strndup (p + 1, n);
      p += 1 + n;
      p += strcspn (p, " \r\n");
      if (*p != ' ')
        {
          pg_irc_line_clear (line);
          return FALSE;
        }
      while (*p == ' ')
        p++;
    }
  n = strcspn (p, " \r\n");
  if (n == 0)
    {
      pg_irc_line_clear (line);
      return FALSE;
    }
  line->command = g_strndup (p, n);
  p += n;
  line->params = g_ptr_array_new_with_free_func (g_free);
  while (*p == ' ')
    {
      p++;
      if (*p == ':')
        {
          g_ptr_array_add (line->params, g_strndup (p + 1, strcspn (p + 1, "\r\n")));
          break;
        }
      n = strcspn (p, " \r\n");
      if (n == 0)
        continue; /* several spaces in a row */
      g_ptr_array_add (line->params, g_strndup (p, n));
      p += n;
    }
  return TRUE;
}

gboolean
pg_irc_nick_valid (const char *nick, guint max_len)
{
  static const char special[] = "[]\\`_^{|}";
  guint limit = max_len > 0 ? max_len : 9;
  if (nick[0] == '\0' || strlen (nick) > limit
      || !(g_ascii_isalpha (nick[0]) || strchr (special, nick[0]) != NULL))
    return FALSE;
  for (const char *p = nick + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr (special, *p) == NULL && *p != '-')
      return FALSE;
  return TRUE;
}

gboolean
pg_irc_userhost_reply_parse (const char *reply, char **nick, gboolean *away)
{
  const char *equals = strchr (reply, '=');
  if (equals == NULL || (equals[1] != '+' && equals[1] != '-'))
    return FALSE;
  /* '*' marks an IRC operator; it is no part of the nick. */
  gsize len = (gsize)(equals - reply);
  if (len > 0 && reply[len - 1] == '*')
    len--;
  if (len == 0 || memchr (reply, ' ', len) != NULL)
    return FALSE;
  *nick = g_strndup (reply, len);
  *away = equals[1] == '-';
  return TRUE;
}

char *
pg_irc_strip_formatting (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));
  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '\x02':
      case '\x0f':
      case '\x16':
      case '\x1d':
      case '\x1f':
        break;
      case '\x03':
        for (int digits = 0; digits < 2 && g_ascii_isdigit (p[1]); digits++)
          p++;
        if (p[1] == ',' && g_ascii_isdigit (p[2]))
          {
            p++;
            for (int digits = 0; digits < 2 && g_ascii_isdigit (p[1]); digits++)
              p++;
          }
        break;
      default:
        g_string_append_c (out, *p);
      }
  return g_string_free (out, FALSE);
}

static char
fold_char (char c)
{
  switch (c)
    {
    case '[':
      return '{';
    case ']':
      return '}';
    case '\\':
      return '|';
    case '~':
      return '^';
    default:
      return g_ascii_tolower (c);
    }
}

char *
pg_irc_nick_fold (const char *nick)
{
  char *folded = g_strdup (nick);
  for (char *p = folded; *p != '\0'; p++)
    *p = fold_char (*p);
  return folded;
}

gboolean
pg_irc_nick_equal (const char *folded, const char *nick, gssize len)
{
  gsize n = len < 0 ? strlen (nick) : (gsize)len;
  for (gsize i = 0; i < n; i++)
    if (folded[i] == '\0' || folded[i] != fold_char (nick[i]))
      return FALSE;
  return folded[n] == '\0';
}

/* The line length prpl-irc cuts at (irc_cmd_privmsg()): its own limit of
 * 512 bytes, less the target and 64 bytes for the rest of the line. */
#define PRIVMSG_LIMIT 512
#define PRIVMSG_MARGIN 64

guint
pg_irc_privmsg_lines (const char *nick, const char *text)
{
  gssize limit = (gssize)PRIVMSG_LIMIT - (gssize)strlen (nick) - PRIVMSG_MARGIN;
  guint lines = 0;

  /* irc_cmd_privmsg(): a line up to each line break (libpurple's markup
   * made each of CR LF, CR and LF one LF), or to the last whole character
   * within the limit; the break itself is skipped. */
  for (const char *cur = text; *cur != '\0';)
    {
      gsize length = strcspn (cur, "\r\n");
      const char *end = cur + length;
      if (limit > 0 && (gssize)length > limit)
        (void)g_utf8_validate (cur, limit, &end);
      if (end == cur && length > 0)
        break; /* nothing whole fits: prpl-irc would not get further either */
      lines++;
      cur = end;
      if (*cur == '\r' && *++cur == '\n')
        cur++;
      else if (*cur == '\n')
        cur++;
    }
  return lines;
}
