/* tests/unit/test-irc-line.c — IRC lines split into nick, command and
 * parameters (RFC 1459 §2.3.1), as prpl-irc receives them. */
#include "legacy/irc-line.h"

#include <string.h>

typedef struct
{
  const char *name;
  const char *text;
  const char *nick;            /* NULL: no prefix */
  const char *command;         /* NULL: refused */
  const char *const params[6]; /* NULL-terminated */
} Case;

static const Case cases[] = {
  { "numeric",
    ":irc.localhost 474 alice #chan :Cannot join channel (you're banned)\r\n",
    "irc.localhost",
    "474",
    { "alice", "#chan", "Cannot join channel (you're banned)", NULL } },
  { "user-prefix",
    ":bob!b@127.0.0.1 KICK #chan alice :out you go",
    "bob",
    "KICK",
    { "#chan", "alice", "out you go", NULL } },
  { "no-prefix", "PING :irc.localhost", NULL, "PING", { "irc.localhost", NULL } },
  { "mode-arguments", ":op!o@h MODE #chan +mb dnew!*@*", "op", "MODE", { "#chan", "+mb", "dnew!*@*", NULL } },
  { "nick-trailing", ":dalice!d@h NICK :dnew", "dalice", "NICK", { "dnew", NULL } },
  { "empty-trailing", ":s 332 me #chan :", "s", "332", { "me", "#chan", "", NULL } },
  { "colon-inside-trailing", ":s 372 me :- a: b :c", "s", "372", { "me", "- a: b :c", NULL } },
  { "spaces-in-a-row",
    ":s  005  me  CHANTYPES=#  :are supported",
    "s",
    "005",
    { "me", "CHANTYPES=#", "are supported", NULL } },
  { "tags", "@time=2026-12-06T00:00:00Z :bob!b@h PRIVMSG #c :hi", "bob", "PRIVMSG", { "#c", "hi", NULL } },
  { "host-prefix", ":nick@host JOIN #c", "nick", "JOIN", { "#c", NULL } },
  { "no-params", "QUIT", NULL, "QUIT", { NULL } },
  { "empty", "", NULL, NULL, { NULL } },
  { "prefix-only", ":irc.localhost", NULL, NULL, { NULL } },
  { "prefix-then-space", ":irc.localhost ", NULL, NULL, { NULL } },
  { "tags-only", "@a=b", NULL, NULL, { NULL } },
  { "line-end-only", "\r\n", NULL, NULL, { NULL } },
};

static void
test_parse (gconstpointer data)
{
  const Case *c = data;
  g_auto (PgIrcLine) line = { 0 };
  gboolean ok = pg_irc_line_parse (c->text, &line);

  g_assert_cmpint (ok, ==, c->command != NULL);
  /* Read in place, the command is the one the split finds, whole. */
  g_assert_false (pg_irc_line_command_is (c->text, "PRIVMS"));
  if (c->command != NULL)
    {
      g_assert_true (pg_irc_line_command_is (c->text, c->command));
      g_autofree char *longer = g_strconcat (c->command, "X", NULL);
      g_assert_false (pg_irc_line_command_is (c->text, longer));
      gboolean numeric = strlen (c->command) == 3 && g_ascii_isdigit (c->command[0])
                         && g_ascii_isdigit (c->command[1]) && g_ascii_isdigit (c->command[2]);
      g_assert_cmpint (pg_irc_line_is_numeric (c->text), ==, numeric);
    }
  else
    g_assert_false (pg_irc_line_is_numeric (c->text));
  if (!ok)
    {
      g_assert_null (line.command);
      g_assert_null (line.nick);
      g_assert_null (line.params);
      return;
    }
  g_assert_cmpstr (line.nick, ==, c->nick);
  g_assert_cmpstr (line.command, ==, c->command);
  guint n = 0;
  while (c->params[n] != NULL)
    n++;
  g_assert_cmpuint (line.params->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (pg_irc_line_param (&line, i), ==, c->params[i]);
  g_assert_null (pg_irc_line_param (&line, n));
}

typedef struct
{
  const char *name;
  const char *reply;
  const char *nick; /* NULL: refused */
  gboolean away;
} UserhostCase;

static const UserhostCase userhost_cases[] = {
  { "here", "bob=+b@127.0.0.1", "bob", FALSE },
  { "away", "bob=-b@127.0.0.1", "bob", TRUE },
  { "operator", "op*=-o@host", "op", TRUE },
  { "special-nick", "[x]|^y=+u@h", "[x]|^y", FALSE },
  { "no-flag", "bob=b@h", NULL, FALSE },
  { "no-equals", "bob", NULL, FALSE },
  { "empty-nick", "=+u@h", NULL, FALSE },
  { "only-star", "*=+u@h", NULL, FALSE },
  { "empty", "", NULL, FALSE },
};

static void
test_userhost (gconstpointer data)
{
  const UserhostCase *c = data;
  g_autofree char *nick = NULL;
  gboolean away = FALSE;

  g_assert_cmpint (pg_irc_userhost_reply_parse (c->reply, &nick, &away), ==, c->nick != NULL);
  g_assert_cmpstr (nick, ==, c->nick);
  g_assert_cmpint (away, ==, c->away);
}

static void
test_strip_formatting (void)
{
  static const char *const formatted[][2] = {
    { "plain text", "plain text" },
    { "\x02"
      "bold"
      "\x02 and \x1f"
      "under"
      "\x0f",
      "bold and under" },
    { "\x03"
      "4red\x03 \x03"
      "12,01blue on black\x03",
      "red blue on black" },
    { "\x03"
      "123",
      "3" },
    { "\x03,5", "" },
    { "\x16"
      "rev\x1d"
      "it",
      "revit" },
    { "", "" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (formatted); i++)
    {
      g_autofree char *plain = pg_irc_strip_formatting (formatted[i][0]);
      g_assert_cmpstr (plain, ==, formatted[i][1]);
    }
}

/* The command read in place, as the readers beside prpl-irc pass over
 * the lines they leave to it. */
static void
test_peek_command (void)
{
  g_assert_true (pg_irc_line_command_is (":bob!b@h PRIVMSG alice :hi", "PRIVMSG"));
  g_assert_true (pg_irc_line_command_is ("@time=x :bob!b@h  NOTICE alice :hi", "NOTICE"));
  g_assert_true (pg_irc_line_command_is ("PRIVMSG alice :no prefix", "PRIVMSG"));
  g_assert_false (pg_irc_line_command_is (":bob!b@h PRIVMSGX alice :hi", "PRIVMSG"));
  g_assert_false (pg_irc_line_command_is (":server 401 alice PRIVMSG :No such nick", "PRIVMSG"));
  g_assert_true (pg_irc_line_is_numeric (":server 401 alice PRIVMSG :No such nick"));
  g_assert_false (pg_irc_line_command_is (":bob!b@h AWAY :PRIVMSG ", "PRIVMSG"));
  g_assert_false (pg_irc_line_is_numeric (":bob!b@h AWAY :PRIVMSG "));
  gsize len = 0;
  g_assert_null (pg_irc_line_peek_command (":bob!b@h", &len));
  g_assert_null (pg_irc_line_peek_command ("@tags-only", &len));
  g_assert_null (pg_irc_line_peek_command ("", &len));
  const char *command = pg_irc_line_peek_command ("@a=b :n!u@h KICK #c bob", &len);
  g_assert_nonnull (command);
  g_assert_cmpuint (len, ==, 4);
  g_assert_cmpint (strncmp (command, "KICK", 4), ==, 0);
}

static void
test_nick_fold (void)
{
  static const char *const nicks[][2] = {
    { "Bob", "bob" }, { "[Bo]\\~", "{bo}|^" }, { "{bo}|^", "{bo}|^" }, { "a-b_c`", "a-b_c`" }, { "", "" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (nicks); i++)
    {
      g_autofree char *folded = pg_irc_nick_fold (nicks[i][0]);
      g_assert_cmpstr (folded, ==, nicks[i][1]);
      g_assert_true (pg_irc_nick_equal (nicks[i][1], nicks[i][0], -1));
    }
  g_assert_true (pg_irc_nick_equal ("bob", "BOB :text", 3));
  g_assert_false (pg_irc_nick_equal ("bob", "BOBBY", -1));
  g_assert_false (pg_irc_nick_equal ("bobby", "BOB", -1));
  g_assert_false (pg_irc_nick_equal ("bob", "bo", 2));
}

/* The lines of prpl-irc's irc_cmd_privmsg(): one a line of the text, empty
 * ones included but for a last one, and cut at 512 - nick - 64 bytes on a
 * character's boundary. */
static void
test_privmsg_lines (void)
{
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", ""), ==, 0);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", "one"), ==, 1);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", "one\n"), ==, 1);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", "\n"), ==, 1);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", "one\ntwo\r\nthree\rfour"), ==, 4);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", "one\n\ntwo"), ==, 3);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", "one\r\n\r\n"), ==, 2);
  /* 512 - 3 - 64 = 445 bytes a line. */
  g_autofree char *full = g_strnfill (445, 'x');
  g_autofree char *more = g_strnfill (446, 'x');
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", full), ==, 1);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", more), ==, 2);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bobby", full), ==, 2);
  /* "é" is two bytes: 222 of them fill 444, the 223rd goes on. */
  g_autoptr (GString) accents = g_string_new (NULL);
  for (guint i = 0; i < 223; i++)
    g_string_append (accents, "\xc3\xa9");
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", accents->str), ==, 2);
  g_string_truncate (accents, 444);
  g_assert_cmpuint (pg_irc_privmsg_lines ("bob", accents->str), ==, 1);
}

/* Plain PRIVMSGs from others are read in place; every other line is left
 * to prpl-irc. */
static void
test_privmsg_peek (void)
{
  static const struct
  {
    const char *line, *nick, *target, *text;
  } taken[] = {
    { ":dave!d@host PRIVMSG carol :hello there", "dave", "carol", "hello there" },
    { ":dave!~d@10.0.0.1 PRIVMSG #chan :a < b & c > 'd' \"e\"", "dave", "#chan", "a < b & c > 'd' \"e\"" },
    { ":d[a]ve!d@h PRIVMSG #c :\xc3\xa9t\xc3\xa9 :: x", "d[a]ve", "#c", "\xc3\xa9t\xc3\xa9 :: x" },
  };
  static const char *const left[] = {
    "PRIVMSG carol :no prefix",
    ":irc.example.org PRIVMSG carol :a server, no nick",
    ":!d@h PRIVMSG carol :empty nick",
    "@time=2024-01-01T00:00:00Z :dave!d@h PRIVMSG carol :tags",
    ":dave!d@h NOTICE carol :a notice",
    ":dave!d@h privmsg carol :lower case",
    ":dave!d@h PRIVMSG carol :",
    ":dave!d@h PRIVMSG carol no-colon",
    ":dave!d@h PRIVMSG carol :\001ACTION waves\001",
    ":dave!d@h PRIVMSG carol :\002bold\002",
    ":dave!d@h PRIVMSG carol :\00304red",
    ":dave!d@h PRIVMSG carol :tab\there",
    ":dave!d@h PRIVMSG carol :line\r\n",
    ":dave!d@h PRIVMSG :carol",
    ":dave!d@h PRIVMSG  carol :two spaces",
    ":d\xc3\xa9ve!d@h PRIVMSG carol :not ASCII nick",
    ":dave!d@h PRIVMSG #caf\xc3\xa9 :not ASCII target",
    ":dave!d@h PRIVMSG",
    ":dave!d@h",
    "",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (taken); i++)
    {
      PgIrcPrivmsg msg = { 0 };
      g_assert_true (pg_irc_privmsg_peek (taken[i].line, &msg));
      g_assert_cmpuint (msg.nick_len, ==, strlen (taken[i].nick));
      g_assert_cmpint (strncmp (msg.nick, taken[i].nick, msg.nick_len), ==, 0);
      g_assert_cmpuint (msg.target_len, ==, strlen (taken[i].target));
      g_assert_cmpint (strncmp (msg.target, taken[i].target, msg.target_len), ==, 0);
      g_assert_cmpstr (msg.text, ==, taken[i].text);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (left); i++)
    {
      PgIrcPrivmsg msg = { 0 };
      if (pg_irc_privmsg_peek (left[i], &msg))
        g_error ("taken: %s", left[i]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/irc-line/strip-formatting", test_strip_formatting);
  g_test_add_func ("/irc-line/peek-command", test_peek_command);
  g_test_add_func ("/irc-line/nick-fold", test_nick_fold);
  g_test_add_func ("/irc-line/privmsg-lines", test_privmsg_lines);
  g_test_add_func ("/irc-line/privmsg-peek", test_privmsg_peek);
  for (guint i = 0; i < G_N_ELEMENTS (userhost_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/irc-line/userhost/%s", userhost_cases[i].name);
      g_test_add_data_func (path, &userhost_cases[i], test_userhost);
    }
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/irc-line/parse/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_parse);
    }
  return g_test_run ();
}
