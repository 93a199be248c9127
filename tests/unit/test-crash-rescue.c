/* The private messages read from a crashed worker's IRC connection
 * (legacy/crash-rescue.h). */
#include "legacy/crash-rescue.h"

typedef struct
{
  const char *name;
  const char *line;
  const char *from; /* NULL: not a message for us */
  const char *html;
} Case;

static const Case cases[] = {
  { "privmsg", ":alice!a@host PRIVMSG bob :hello there", "alice", "hello there" },
  { "case-insensitive-nick", ":alice!a@host PRIVMSG BOB :hi", "alice", "hi" },
  { "rfc1459-case", ":alice!a@host PRIVMSG b{b} :hi", "alice", "hi" },
  { "escaped", ":alice!a@host PRIVMSG bob :<b>&amp;", "alice", "&lt;b&gt;&amp;amp;" },
  { "formatting",
    ":alice!a@host PRIVMSG bob :\x02"
    "bold\x02 \x03"
    "4,12red\x03 \x1funder",
    "alice", "bold red under" },
  { "action",
    ":alice!a@host PRIVMSG bob :\x01"
    "ACTION waves\x01",
    "alice", "/me waves" },
  { "other-ctcp", ":alice!a@host PRIVMSG bob :\x01VERSION\x01", NULL, NULL },
  { "channel", ":alice!a@host PRIVMSG #chan :hi all", NULL, NULL },
  { "other-nick", ":alice!a@host PRIVMSG carol :hi", NULL, NULL },
  { "notice", ":alice!a@host NOTICE bob :hi", NULL, NULL },
  { "no-prefix", "PRIVMSG bob :hi", NULL, NULL },
  { "tail-of-a-line", "llo there", NULL, NULL },
  { "tail-with-colon", "bob :hello", NULL, NULL },
  { "empty-text", ":alice!a@host PRIVMSG bob :", NULL, NULL },
  { "ping", "PING :server", NULL, NULL },
};

static const char own_nick[] = "b[b]";

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *from = NULL;
  const char *nick = g_str_has_suffix (c->name, "rfc1459-case") ? own_nick : "bob";
  g_autofree char *html = pg_crash_rescue_irc_message (c->line, nick, &from);
  g_assert_cmpstr (html, ==, c->html);
  g_assert_cmpstr (from, ==, c->from);
}

static void
test_invalid_utf8 (void)
{
  g_autofree char *from = NULL;
  g_autofree char *html = pg_crash_rescue_irc_message (":alice!a@h PRIVMSG bob :caf\xe9", "bob", &from);
  g_assert_nonnull (html);
  g_assert_true (g_utf8_validate (html, -1, NULL));
  g_assert_cmpstr (from, ==, "alice");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/crash-rescue/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  g_test_add_func ("/crash-rescue/invalid-utf8", test_invalid_utf8);
  return g_test_run ();
}
