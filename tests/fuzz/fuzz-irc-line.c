/* tests/fuzz/fuzz-irc-line.c — IRC lines from the legacy server
 * (legacy/irc-line.c): any input either has no command, or splits into a
 * non-empty command and parameters, none of which holds CR or LF, and none
 * but the last holds a space; every byte read is inside the input.  Each
 * word of the last parameter, read as a USERHOST reply, gives a nick
 * without space or '=' or none. */
#define G_LOG_DOMAIN "pg-fuzz-irc-line"

#include "tests/fuzz/fuzz-common.h"

#include "legacy/irc-line.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_auto (PgIrcLine) line = { 0 };

  pg_fuzz_init ();
  text = pg_fuzz_dup_string (data, size);
  if (!pg_irc_line_parse (text, &line))
    {
      PG_FUZZ_CHECK (line.command == NULL && line.params == NULL && line.nick == NULL,
                     "refused, not cleared");
      return 0;
    }
  PG_FUZZ_CHECK (line.command != NULL && *line.command != '\0', "empty command");
  PG_FUZZ_CHECK (strpbrk (line.command, " \r\n") == NULL, "command '%s'", line.command);
  for (guint i = 0; i < line.params->len; i++)
    {
      const char *param = pg_irc_line_param (&line, i);
      PG_FUZZ_CHECK (strpbrk (param, "\r\n") == NULL, "parameter %u holds a line break", i);
      PG_FUZZ_CHECK (i + 1 == line.params->len || (*param != '\0' && strchr (param, ' ') == NULL),
                     "middle parameter %u is '%s'", i, param);
    }
  if (line.params->len > 0)
    {
      g_auto (GStrv) words = g_strsplit (pg_irc_line_param (&line, line.params->len - 1), " ", -1);
      for (guint i = 0; words[i] != NULL; i++)
        {
          g_autofree char *nick = NULL;
          gboolean away = FALSE;
          if (pg_irc_userhost_reply_parse (words[i], &nick, &away))
            PG_FUZZ_CHECK (*nick != '\0' && strpbrk (nick, " =") == NULL, "USERHOST nick '%s'", nick);
          else
            PG_FUZZ_CHECK (nick == NULL, "refused USERHOST reply set a nick");
        }
    }
  return 0;
}
