/* legacy/crash-rescue.c — see legacy/crash-rescue.h. */
#include "build-config.h"

#include "legacy/crash-rescue.h"

#include "legacy/irc-line.h"

#include <string.h>

/* RFC 1459 §2.2: {}| are the lower case of []\. */
static gboolean
irc_nick_equal (const char *a, const char *b)
{
  static const char upper[] = "[]\\";
  static const char lower[] = "{}|";
  for (; *a != '\0' && *b != '\0'; a++, b++)
    {
      char x = g_ascii_tolower (*a), y = g_ascii_tolower (*b);
      const char *p;
      if ((p = strchr (upper, x)) != NULL)
        x = lower[p - upper];
      if ((p = strchr (upper, y)) != NULL)
        y = lower[p - upper];
      if (x != y)
        return FALSE;
    }
  return *a == *b;
}

char *
pg_crash_rescue_irc_message (const char *line, const char *own_nick, char **from)
{
  g_auto (PgIrcLine) parsed = { 0 };

  g_return_val_if_fail (line != NULL && from != NULL, NULL);
  if (own_nick == NULL || line[0] != ':' || !pg_irc_line_parse (line, &parsed) || parsed.nick == NULL
      || g_strcmp0 (parsed.command, "PRIVMSG") != 0 || parsed.params->len != 2
      || !irc_nick_equal (pg_irc_line_param (&parsed, 0), own_nick))
    return NULL;
  g_autofree char *valid = g_utf8_make_valid (pg_irc_line_param (&parsed, 1), -1);
  const char *text = valid;
  g_autofree char *action = NULL;
  if (text[0] == '\x01')
    {
      /* CTCP: only an ACTION is something said. */
      if (!g_str_has_prefix (text, "\x01"
                                   "ACTION "))
        return NULL;
      action = g_strconcat ("/me ",
                            text
                                + strlen ("\x01"
                                          "ACTION "),
                            NULL);
      char *end = strchr (action, '\x01');
      if (end != NULL)
        *end = '\0';
      text = action;
    }
  g_autofree char *plain = pg_irc_strip_formatting (text);
  if (plain[0] == '\0')
    return NULL;
  *from = g_strdup (parsed.nick);
  return g_markup_escape_text (plain, -1);
}
