/* tests/unit/test-account.c — PgPurpleAccount against a real IRC server.
 *
 * The test starts Debian's inspircd itself (own config in a temp dir, a
 * free port on 127.0.0.1, no DNS or ident lookups, no flood control) and
 * talks to it as "bob" through a raw socket, while the account under test
 * logs in as "alice" through libpurple's prpl-irc.  Everything stays on
 * 127.0.0.1 (prpl-irc does no DNS for an IP literal), so the test runs
 * with or without a private network namespace:
 *   unshare -n sh -c 'ip link set lo up; tests/unit/test-account'
 * Without inspircd the IRC tests are skipped.  libpurple is initialised
 * once per process; /account/zz-shutdown, added last, ends it.
 * The ISON path (a contact leaving without a shared channel is noticed
 * at prpl-irc's next 45 s poll) only runs with -m slow. */
#define _POSIX_C_SOURCE 200809L
#define G_LOG_DOMAIN "pg-test-account"

#include "legacy/account-private.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define ALICE "alice@127.0.0.1"
#define WAIT_MS 15000

static PgPurple *purple;
static char *user_dir;
static GPtrArray *notices; /* info messages of domain "pg-purple" */

/* ---- inspircd --------------------------------------------------------- */

typedef struct
{
  GPid pid;
  int port;
  char *dir;
} Ircd;

static Ircd *open_ircd, *password_ircd;

static char *
find_inspircd (void)
{
  char *path = g_find_program_in_path ("inspircd");

  if (path == NULL && g_file_test ("/usr/sbin/inspircd", G_FILE_TEST_IS_EXECUTABLE))
    path = g_strdup ("/usr/sbin/inspircd");
  return path;
}

static int
free_port (void)
{
  g_autoptr (GSocket) sock
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (sock, any, FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
die_with_parent (gpointer data)
{
  (void)data;
  prctl (PR_SET_PDEATHSIG, SIGTERM); /* no orphan if an assertion aborts us */
}

static gboolean
port_open (int port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;

  g_socket_client_set_enable_proxy (client, FALSE);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", (guint16)port, NULL, NULL);
  return conn != NULL;
}

/* Starts inspircd on a free port; @password: a connect-class password. */
static Ircd *
ircd_start (const char *password)
{
  g_autofree char *binary = find_inspircd ();
  g_autoptr (GError) error = NULL;
  g_autofree char *conf = NULL, *conf_path = NULL, *motd = NULL, *pw = NULL;
  Ircd *ircd;
  const char *argv[7];
  int argc = 0;

  if (binary == NULL)
    return NULL;
  ircd = g_new0 (Ircd, 1);
  ircd->dir = g_dir_make_tmp ("pg-test-ircd-XXXXXX", &error);
  g_assert_no_error (error);
  ircd->port = free_port ();
  motd = g_build_filename (ircd->dir, "motd", NULL);
  g_assert_true (g_file_set_contents (motd, "purplegate test server\n", -1, NULL));
  pw = password != NULL ? g_strdup_printf (" password=\"%s\"", password) : g_strdup ("");
  conf = g_strdup_printf (
      "<server name=\"irc.localhost\" description=\"purplegate test\" network=\"PgTest\">\n"
      "<admin name=\"test\" nick=\"test\" email=\"test@localhost\">\n"
      "<bind address=\"127.0.0.1\" port=\"%d\" type=\"clients\">\n"
      "<connect name=\"main\" allow=\"*\"%s timeout=\"60\" threshold=\"1000000\"\n"
      "  commandrate=\"1000000\" fakelag=\"no\" pingfreq=\"600\" hardsendq=\"1048576\"\n"
      "  softsendq=\"1048576\" recvq=\"65536\" localmax=\"1000\" globalmax=\"1000\"\n"
      "  resolvehostnames=\"no\" useident=\"no\">\n"
      "<dns server=\"127.0.0.1\" timeout=\"1\">\n"
      "<pid file=\"%s/inspircd.pid\">\n"
      "<log method=\"file\" type=\"* -USERINPUT -USEROUTPUT\" level=\"default\"\n"
      "  target=\"%s/inspircd.log\">\n"
      "<options prefixquit=\"Quit: \" syntaxhints=\"no\" announcets=\"yes\" pingwarning=\"15\">\n"
      "<security hideserver=\"\" userstats=\"Pu\" flatlinks=\"no\" maxtargets=\"20\">\n"
      "<performance quietbursts=\"yes\" softlimit=\"1024\" somaxconn=\"128\">\n"
      "<whowas groupsize=\"10\" maxgroups=\"1000\" maxkeep=\"3d\">\n"
      "<files motd=\"%s\">\n",
      ircd->port, pw, ircd->dir, ircd->dir, motd);
  conf_path = g_build_filename (ircd->dir, "inspircd.conf", NULL);
  g_assert_true (g_file_set_contents (conf_path, conf, -1, NULL));

  argv[argc++] = binary;
  argv[argc++] = "--config";
  argv[argc++] = conf_path;
  argv[argc++] = "--nofork";
  if (getuid () == 0)
    argv[argc++] = "--runasroot";
  argv[argc] = NULL;
  g_spawn_async (NULL, (char **)argv, NULL,
                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                 die_with_parent, NULL, &ircd->pid, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 200 && !port_open (ircd->port); i++)
    g_usleep (50 * 1000);
  g_assert_true (port_open (ircd->port));
  return ircd;
}

static void
remove_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        remove_tree (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

/* Stops the server by its PID (never by name) and removes its files. */
static void
ircd_stop (Ircd *ircd)
{
  if (ircd == NULL)
    return;
  kill (ircd->pid, SIGTERM);
  waitpid (ircd->pid, NULL, 0);
  g_spawn_close_pid (ircd->pid);
  remove_tree (ircd->dir);
  g_free (ircd->dir);
  g_free (ircd);
}

static Ircd *
get_open_ircd (void)
{
  if (open_ircd == NULL)
    open_ircd = ircd_start (NULL);
  if (open_ircd == NULL)
    g_test_skip ("inspircd is not installed");
  return open_ircd;
}

/* ---- libpurple and the main loop ---------------------------------------- */

static PgPurple *
get_purple (void)
{
  g_autoptr (GError) error = NULL;

  if (purple != NULL)
    return purple;
  user_dir = g_dir_make_tmp ("pg-test-account-XXXXXX", &error);
  g_assert_no_error (error);
  purple = pg_purple_new (user_dir, &error);
  g_assert_no_error (error);
  return purple;
}

static gboolean
wake (gpointer data)
{
  (void)data;
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @done(@data) or @timeout_ms; returns done. */
static gboolean
run_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  guint waker = g_timeout_add (20, wake, NULL);
  gboolean ok;

  while (!(ok = done (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (waker);
  return ok;
}

static gboolean
never (gpointer data)
{
  (void)data;
  return FALSE;
}

static void
run_for (guint ms)
{
  run_until (never, NULL, ms);
}

/* ---- the owner: records events as strings ------------------------------- */

typedef struct
{
  GPtrArray *events;
  PgPurpleAccount *account;
  /* What some tests make the owner do from inside an event. */
  gboolean free_on_connected;
  gboolean disconnect_on_message;
  gboolean authorize_at_once;
  PgPurpleAccount *replacement;
} Owner;

static void
record (Owner *owner, char *event)
{
  g_test_message ("event: %s", event);
  g_ptr_array_add (owner->events, event);
}

static void
on_connected (gpointer data)
{
  Owner *owner = data;
  g_autoptr (GError) error = NULL;

  record (owner, g_strdup ("connected"));
  if (owner->free_on_connected)
    {
      char port[16];
      const char *keys[] = { "port", NULL }, *values[] = { port, NULL };
      static const PgAccountEvents none = { 0 };

      g_snprintf (port, sizeof port, "%d", open_ircd->port);
      pg_purple_account_free (owner->account);
      owner->account = NULL;
      /* The username is free again at once, though teardown waits. */
      owner->replacement
          = pg_purple_account_new (purple, "prpl-irc", ALICE, NULL, keys, values, &none, NULL, &error);
      g_assert_no_error (error);
    }
}

static const char *const failure_names[] = { "network", "auth", "other" };

static void
on_disconnected (gpointer data, PgAccountFailure failure, const char *reason)
{
  record (data, g_strdup_printf ("disconnected %s %s", failure_names[failure], reason));
}

static void
on_contact_status (gpointer data, const char *name, const char *alias, PgShow show, const char *text)
{
  (void)alias;
  record (data, g_strdup_printf ("status %s %d %s", name, show, text != NULL ? text : "-"));
}

static void
on_contact_listed (gpointer data, const char *name, const char *alias)
{
  (void)alias;
  record (data, g_strdup_printf ("listed %s", name));
}

static void
on_contact_unlisted (gpointer data, const char *name)
{
  record (data, g_strdup_printf ("unlisted %s", name));
}

static void
on_message (gpointer data, const char *from, const char *html)
{
  Owner *owner = data;

  record (owner, g_strdup_printf ("message %s %s", from, html));
  if (owner->disconnect_on_message)
    pg_purple_account_disconnect (owner->account);
}

static void
on_chat_state (gpointer data, const char *from, PgChatState state)
{
  record (data, g_strdup_printf ("state %s %d", from, state));
}

static void
on_authorization (gpointer data, const char *from, const char *alias, const char *message)
{
  Owner *owner = data;

  record (owner, g_strdup_printf ("auth %s %s %s", from, alias, message));
  if (owner->authorize_at_once)
    pg_purple_account_authorize (owner->account, from, TRUE);
}

static void
on_sent_confirmed (gpointer data, guint64 serial)
{
  record (data, g_strdup_printf ("confirmed %" G_GUINT64_FORMAT, serial));
}

static void
on_refused (gpointer data, guint64 tag)
{
  record (data, g_strdup_printf ("refused %" G_GUINT64_FORMAT, tag));
}

static const PgAccountEvents events = {
  .sent_confirmed = on_sent_confirmed,
  .refused = on_refused,
  .connected = on_connected,
  .disconnected = on_disconnected,
  .contact_status = on_contact_status,
  .contact_listed = on_contact_listed,
  .contact_unlisted = on_contact_unlisted,
  .message = on_message,
  .chat_state = on_chat_state,
  .authorization_requested = on_authorization,
};

typedef struct
{
  Owner *owner;
  const char *prefix;
} Wanted;

static const char *
find_event (Owner *owner, const char *prefix)
{
  for (guint i = 0; i < owner->events->len; i++)
    if (g_str_has_prefix (owner->events->pdata[i], prefix))
      return owner->events->pdata[i];
  return NULL;
}

static gboolean
has_event (gpointer data)
{
  Wanted *wanted = data;

  return find_event (wanted->owner, wanted->prefix) != NULL;
}

/* Waits for an event starting with @prefix; returns it (borrowed). */
static const char *
wait_event (Owner *owner, const char *prefix)
{
  Wanted wanted = { owner, prefix };

  if (!run_until (has_event, &wanted, WAIT_MS))
    g_error ("no event \"%s\" within %d ms", prefix, WAIT_MS);
  return find_event (owner, prefix);
}

static Owner *
owner_new (void)
{
  Owner *owner = g_new0 (Owner, 1);

  owner->events = g_ptr_array_new_with_free_func (g_free);
  return owner;
}

static void
owner_free (Owner *owner)
{
  pg_purple_account_free (owner->account);
  pg_purple_account_free (owner->replacement);
  run_for (50); /* let QUIT reach the server before the nick is reused */
  g_ptr_array_unref (owner->events);
  g_free (owner);
}

static PgPurpleAccount *
new_alice (Owner *owner, const Ircd *ircd, const char *password)
{
  g_autoptr (GError) error = NULL;
  char port[16];
  /* Debian's prpl-irc 2.14.12 queues every line it sends and flushes the
   * queue from a one-second timer, by default one line per
   * ratelimit-interval (2 s); 0 sends the whole queue at each tick. */
  const char *keys[] = { "port", "autodetect_utf8", "ratelimit-interval", NULL };
  const char *values[] = { port, "true", "0", NULL };

  g_snprintf (port, sizeof port, "%d", ircd != NULL ? ircd->port : 1);
  owner->account = pg_purple_account_new (get_purple (), "prpl-irc", ALICE, password, keys, values, &events,
                                          owner, &error);
  g_assert_no_error (error);
  return owner->account;
}

/* alice, logged in to the open server. */
static Owner *
alice_online (void)
{
  Owner *owner = owner_new ();

  new_alice (owner, open_ircd, NULL);
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  g_assert_true (pg_purple_account_is_connected (owner->account));
  return owner;
}

/* ---- bob: a raw IRC client ---------------------------------------------- */

typedef struct
{
  GSocketConnection *conn;
  GSocket *sock;
  GString *buf;
} Peer;

static void
peer_send (Peer *peer, const char *line)
{
  g_autofree char *data = g_strconcat (line, "\r\n", NULL);

  g_assert_cmpint (g_socket_send (peer->sock, data, strlen (data), NULL, NULL), ==, (gssize)strlen (data));
}

/* The next line from the server (PINGs answered), running the main loop
 * meanwhile; NULL on timeout or EOF. */
static char *
peer_line (Peer *peer, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      char *end = strstr (peer->buf->str, "\r\n");

      if (end != NULL)
        {
          char *line = g_strndup (peer->buf->str, (gsize)(end - peer->buf->str));

          g_string_erase (peer->buf, 0, end - peer->buf->str + 2);
          if (g_str_has_prefix (line, "PING "))
            {
              line[1] = 'O';
              peer_send (peer, line);
              g_free (line);
              continue;
            }
          return line;
        }
      if (g_get_monotonic_time () > deadline)
        return NULL;
      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (g_socket_condition_timed_wait (peer->sock, G_IO_IN, 10 * 1000, NULL, NULL))
        {
          char data[4096];
          gssize n = g_socket_receive (peer->sock, data, sizeof data, NULL, NULL);

          if (n <= 0)
            return NULL;
          g_string_append_len (peer->buf, data, n);
        }
    }
}

/* The first line containing @needle; fails the test after WAIT_MS. */
static char *
peer_expect (Peer *peer, const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)WAIT_MS * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      char *line = peer_line (peer, 200);

      if (line == NULL)
        continue;
      g_test_message ("%s", line);
      if (strstr (line, needle) != NULL)
        return line;
      g_free (line);
    }
  g_error ("the peer never read \"%s\"", needle);
  return NULL;
}

static Peer *
peer_new (const Ircd *ircd, const char *nick)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *nick_line = g_strconcat ("NICK ", nick, NULL);
  g_autofree char *user_line = g_strdup_printf ("USER %s 0 * :%s", nick, nick);
  Peer *peer = g_new0 (Peer, 1);

  g_socket_client_set_enable_proxy (client, FALSE);
  peer->conn = g_socket_client_connect_to_host (client, "127.0.0.1", (guint16)ircd->port, NULL, &error);
  g_assert_no_error (error);
  peer->sock = g_socket_connection_get_socket (peer->conn);
  peer->buf = g_string_new (NULL);
  peer_send (peer, nick_line);
  peer_send (peer, user_line);
  g_free (peer_expect (peer, " 001 "));
  return peer;
}

static void
peer_free (Peer *peer)
{
  if (peer == NULL)
    return;
  g_object_unref (peer->conn);
  g_string_free (peer->buf, TRUE);
  g_free (peer);
}

/* Quits and waits until the server has closed the link. */
static void
peer_quit (Peer *peer)
{
  char *line;

  peer_send (peer, "QUIT :bye");
  while ((line = peer_line (peer, 2000)) != NULL)
    g_free (line);
  peer_free (peer);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_new_exists (void)
{
  g_autoptr (GError) error = NULL;
  Owner *owner = owner_new ();
  const char *bad_keys[] = { "port", NULL }, *bad_values[] = { "not-a-number", NULL };
  PgPurpleAccount *second;

  new_alice (owner, NULL, NULL);
  second = pg_purple_account_new (purple, "prpl-irc", ALICE, NULL, NULL, NULL, &events, owner, &error);
  g_assert_null (second);
  g_assert_error (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_EXISTS);
  g_clear_error (&error);
  /* Usernames compare the way the protocol normalizes them. */
  second = pg_purple_account_new (purple, "prpl-irc", "ALICE@127.0.0.1", NULL, NULL, NULL, &events, owner,
                                  &error);
  g_assert_error (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_EXISTS);
  g_clear_error (&error);

  second = pg_purple_account_new (purple, "prpl-irc", "carol@127.0.0.1", NULL, bad_keys, bad_values, &events,
                                  owner, &error);
  g_assert_null (second);
  g_assert_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_BAD_SETTING);
  g_assert_null (strstr (error->message, "not-a-number")); /* values may be secrets */
  g_clear_error (&error);
  second
      = pg_purple_account_new (purple, "prpl-nonexistent", ALICE, NULL, NULL, NULL, &events, owner, &error);
  g_assert_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_UNKNOWN_PROTOCOL);
  g_clear_error (&error);

  pg_purple_account_free (g_steal_pointer (&owner->account));
  new_alice (owner, NULL, NULL); /* free gave the name back */
  g_assert_false (pg_purple_account_is_connected (owner->account));
  owner_free (owner);
}

static void
test_settings_typed (void)
{
  g_autoptr (GError) error = NULL;
  const char *keys[] = { "port", "ssl", "realname", NULL };
  const char *values[] = { "7000", "yes", "Alice A.", NULL };
  PgPurpleAccount *account
      = pg_purple_account_new (get_purple (), "prpl-irc", ALICE, "pw", keys, values, &events, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (purple_account_get_int (account->purple, "port", 0), ==, 7000);
  g_assert_true (purple_account_get_bool (account->purple, "ssl", FALSE));
  g_assert_cmpstr (purple_account_get_string (account->purple, "realname", NULL), ==, "Alice A.");
  g_assert_true (purple_account_get_remember_password (account->purple));
  g_assert_false (purple_account_get_enabled (account->purple, PG_ACCOUNT_UI));
  g_assert_true (account->purple->ui_data == account);
  /* purplegate keeps its own login table, not libpurple's account list
   * (O(N) per lookup). */
  g_assert_null (purple_accounts_get_all ());
  g_assert_true (pg_purple_account_find (get_purple (), "prpl-irc", ALICE) == account);
  g_assert_true (pg_purple_account_find (get_purple (), "prpl-irc", "ALICE@127.0.0.1") == account);
  g_assert_null (pg_purple_account_find (get_purple (), "prpl-jabber", ALICE));
  pg_purple_account_free (account);
  g_assert_null (pg_purple_account_find (get_purple (), "prpl-irc", ALICE));
}

static void
test_login_and_logout (void)
{
  Owner *owner;

  if (get_open_ircd () == NULL)
    return;
  owner = alice_online ();
  g_assert_true (purple_account_get_enabled (owner->account->purple, PG_ACCOUNT_UI));
  pg_purple_account_disconnect (owner->account);
  g_assert_false (pg_purple_account_is_connected (owner->account));
  g_assert_false (purple_account_get_enabled (owner->account->purple, PG_ACCOUNT_UI));
  run_for (300);
  g_assert_null (find_event (owner, "disconnected"));

  /* Log in again with the same account, then free it while online. */
  g_ptr_array_set_size (owner->events, 0);
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  pg_purple_account_free (g_steal_pointer (&owner->account));
  run_for (300);
  g_assert_null (find_event (owner, "disconnected"));
  owner_free (owner);
}

static gboolean
html_equals_text (const char *event, const char *prefix, const char *text)
{
  g_autofree char *plain = purple_markup_strip_html (event + strlen (prefix));

  g_test_message ("html: %s → plain: %s", event + strlen (prefix), plain);
  return strcmp (plain, text) == 0;
}

static void
test_message_receive (void)
{
  Owner *owner;
  Peer *bob;
  const char *event;

  if (get_open_ircd () == NULL)
    return;
  owner = alice_online ();
  bob = peer_new (open_ircd, "bob");

  peer_send (bob, "PRIVMSG alice :hello <b>&amp;");
  event = wait_event (owner, "message bob ");
  g_assert_true (html_equals_text (event, "message bob ", "hello <b>&amp;"));
  g_assert_cmpstr (event, ==, "message bob hello &lt;b&gt;&amp;amp;");

  peer_send (bob, "PRIVMSG alice :caf\xc3\xa9 \xe2\x98\x83 \"it's\"");
  event = wait_event (owner, "message bob caf");
  g_assert_true (html_equals_text (event, "message bob ", "caf\xc3\xa9 \xe2\x98\x83 \"it's\""));

  /* mIRC bold arrives as markup. */
  peer_send (bob, "PRIVMSG alice :\002bold\002 text");
  event = wait_event (owner, "message bob <B>");
  g_assert_true (html_equals_text (event, "message bob ", "bold text"));

  /* The messages are taken before libpurple opens a conversation for
   * them; one opened otherwise has its history kept short, and is swept
   * when idle. */
  g_assert_null (purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, "bob", owner->account->purple));
  PurpleConversation *conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, owner->account->purple, "bob");
  peer_send (bob, "PRIVMSG alice :with a conversation");
  wait_event (owner, "message bob with a conversation");
  g_assert_true (
      conv == purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, "bob", owner->account->purple));
  g_assert_cmpuint (g_list_length (purple_conversation_get_message_history (conv)), ==, 0);
  g_assert_cmpuint (pg_purple_conv_sweep (3600), ==, 0);
  g_assert_cmpuint (pg_purple_conv_sweep (0), >=, 1);
  g_assert_null (purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, "bob", owner->account->purple));
  peer_send (bob, "PRIVMSG alice :again");
  wait_event (owner, "message bob again");

  peer_quit (bob);
  owner_free (owner);
}

static void
test_message_send (void)
{
  g_autoptr (GError) error = NULL;
  Owner *owner;
  Peer *bob;
  char *line;

  if (get_open_ircd () == NULL)
    return;
  owner = owner_new ();
  new_alice (owner, open_ircd, NULL);
  g_assert_false (pg_purple_account_send_message (owner->account, 0, "bob", "early", &error));
  g_assert_error (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_OFFLINE);
  g_clear_error (&error);
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  bob = peer_new (open_ircd, "bob");

  g_assert_true (pg_purple_account_send_message (owner->account, 0, "bob", "hi & <there>", &error));
  g_assert_no_error (error);
  line = peer_expect (bob, "PRIVMSG bob :");
  g_assert_true (g_str_has_suffix (line, " PRIVMSG bob :hi & <there>"));
  g_free (line);

  g_assert_true (
      pg_purple_account_send_message (owner->account, 0, "bob", "it's \"quoted\" &amp; x", &error));
  line = peer_expect (bob, "PRIVMSG bob :");
  g_assert_true (g_str_has_suffix (line, " PRIVMSG bob :it's \"quoted\" &amp; x"));
  g_free (line);

  /* Lines become separate messages (IRC has no line breaks). */
  g_assert_true (pg_purple_account_send_message (owner->account, 0, "bob", "one\ntwo\r\nthree", &error));
  line = peer_expect (bob, "PRIVMSG bob :");
  g_assert_true (g_str_has_suffix (line, ":one"));
  g_free (line);
  line = peer_expect (bob, "PRIVMSG bob :");
  g_assert_true (g_str_has_suffix (line, ":two"));
  g_free (line);
  line = peer_expect (bob, "PRIVMSG bob :");
  g_assert_true (g_str_has_suffix (line, ":three"));
  g_free (line);

  /* IRC has no typing notifications: a no-op. */
  pg_purple_account_send_chat_state (owner->account, "bob", PG_CHAT_STATE_COMPOSING);
  /* No message may have come back to alice as an echo. */
  run_for (200);
  g_assert_null (find_event (owner, "message"));

  /* Messages to someone away are answered by the server (301). */
  peer_send (bob, "AWAY :back at 3 & <later>");
  g_free (peer_expect (bob, " 306 "));
  g_assert_true (pg_purple_account_send_message (owner->account, 0, "bob", "ping", &error));
  g_free (peer_expect (bob, "PRIVMSG bob :ping"));
  g_assert_cmpstr (wait_event (owner, "message bob "), ==,
                   "message bob (auto-reply) back at 3 &amp; &lt;later&gt;");

  peer_quit (bob);
  owner_free (owner);
}

/* pg_purple_account_confirm_sent(): the PING goes behind the messages through
 * prpl-irc's queue, the server's PONG becomes the sent_confirmed event, and
 * nothing of it reaches the peer or the owner as a message. */
static void
test_confirm_sent (void)
{
  g_autoptr (GError) error = NULL;
  Owner *owner;
  Peer *bob;
  char *line;
  guint64 first, second;

  if (get_open_ircd () == NULL)
    return;
  owner = owner_new ();
  new_alice (owner, open_ircd, NULL);
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, 1), ==, PG_CONFIRM_UNAVAILABLE);
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  bob = peer_new (open_ircd, "bob");

  g_assert_true (pg_purple_account_send_message (owner->account, 0, "bob", "before the first", &error));
  first = 7;
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, first), ==, PG_CONFIRM_ASKED);
  g_assert_true (pg_purple_account_send_message (owner->account, 0, "bob", "before the second", &error));
  second = 8;
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, second), ==, PG_CONFIRM_ASKED);
  g_autofree char *want_first = g_strdup_printf ("confirmed %" G_GUINT64_FORMAT, first);
  g_autofree char *want_second = g_strdup_printf ("confirmed %" G_GUINT64_FORMAT, second);
  g_assert_cmpstr (wait_event (owner, want_second), ==, want_second);
  g_assert_nonnull (find_event (owner, want_first));
  line = peer_expect (bob, "PRIVMSG bob :");
  g_assert_true (g_str_has_suffix (line, ":before the first"));
  g_free (line);
  line = peer_expect (bob, "PRIVMSG bob :");
  /* The PING line ended where it should: the next message is intact. */
  g_assert_true (g_str_has_suffix (line, ":before the second"));
  g_free (line);
  run_for (200);
  g_assert_null (find_event (owner, "message"));

  peer_quit (bob);
  owner_free (owner);
}

/* pg_purple_account_confirm_sent() tells a protocol without the round trip
 * (prpl-jabber: settled on taking) from an IRC login that cannot be asked,
 * not yet or no longer connected: the messages it took may be lost with
 * prpl-irc's queue, and nothing answers. */
static void
test_confirm_sent_unavailable (void)
{
  g_autoptr (GError) error = NULL;
  Owner *owner;
  Ircd *ircd;

  PgPurpleAccount *jabber = pg_purple_account_new (get_purple (), "prpl-jabber", "alice@example.org/pg", "pw",
                                                   NULL, NULL, &events, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pg_purple_account_confirm_sent (jabber, 1), ==, PG_CONFIRM_NO_ROUND_TRIP);
  pg_purple_account_free (jabber);

  if ((ircd = ircd_start (NULL)) == NULL)
    {
      g_test_skip ("inspircd is not installed");
      return;
    }
  owner = owner_new ();
  new_alice (owner, ircd, NULL);
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, 1), ==, PG_CONFIRM_UNAVAILABLE);
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, 2), ==, PG_CONFIRM_ASKED);
  wait_event (owner, "confirmed 2");

  g_assert_true (pg_purple_account_send_message (owner->account, 3, "bob", "lost with the queue", &error));
  ircd_stop (ircd); /* the server goes away under a live login */
  wait_event (owner, "disconnected ");
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, 4), ==, PG_CONFIRM_UNAVAILABLE);
  run_for (200);
  g_assert_null (find_event (owner, "confirmed 4"));
  owner_free (owner);
}

/* The index of the first event starting with @prefix, or -1. */
static gint
event_index (Owner *owner, const char *prefix)
{
  for (guint i = 0; i < owner->events->len; i++)
    if (g_str_has_prefix (owner->events->pdata[i], prefix))
      return (gint)i;
  return -1;
}

/* A 401 refuses the message whose line it answers, and that one only: not
 * the one the contact got before leaving, not one to someone else, and a
 * message of two lines (two 401s) once; the refused event comes before the
 * confirmation that closes the window. */
static void
test_refused_after_quit (void)
{
  g_autoptr (GError) error = NULL;
  Owner *owner;
  Peer *bob, *carol;

  if (get_open_ircd () == NULL)
    return;
  owner = alice_online ();
  bob = peer_new (open_ircd, "bob");
  carol = peer_new (open_ircd, "carol");

  g_assert_true (pg_purple_account_send_message (owner->account, 1, "bob", "got it", &error));
  g_free (peer_expect (bob, "PRIVMSG bob :got it"));
  peer_quit (bob);
  g_assert_true (pg_purple_account_send_message (owner->account, 2, "Bob", "gone", &error));
  g_assert_true (pg_purple_account_send_message (owner->account, 3, "carol", "here", &error));
  g_assert_true (pg_purple_account_send_message (owner->account, 4, "bob", "two\nlines", &error));
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, 9), ==, PG_CONFIRM_ASKED);
  g_free (peer_expect (carol, "PRIVMSG carol :here"));
  wait_event (owner, "confirmed 9");
  g_assert_cmpint (event_index (owner, "refused 1"), ==, -1);
  g_assert_cmpint (event_index (owner, "refused 3"), ==, -1);
  gint second = event_index (owner, "refused 2"), fourth = event_index (owner, "refused 4");
  g_assert_cmpint (second, >=, 0);
  g_assert_cmpint (fourth, >, second);
  g_assert_cmpint (event_index (owner, "confirmed 9"), >, fourth);
  guint refusals = 0;
  for (guint i = 0; i < owner->events->len; i++)
    refusals += g_str_has_prefix (owner->events->pdata[i], "refused ");
  g_assert_cmpuint (refusals, ==, 2);

  peer_quit (carol);
  owner_free (owner);
}

/* Counts the 401s prpl-irc reads. */
static void
count_401 (PurpleConnection *gc, char **text, gpointer data)
{
  (void)gc;
  if (text != NULL && *text != NULL && strstr (*text, " 401 ") != NULL)
    ++*(guint *)data;
}

static gboolean
is_positive (gpointer data)
{
  return *(guint *)data > 0;
}

/* A 401 answers a line written before it came: a message to the contact
 * written after it, once the contact is there, is not refused; nor is any
 * message by a 401 that answers another line (a WHOIS). */
static void
test_refused_before_join (void)
{
  static int handle;
  g_autoptr (GError) error = NULL;
  Owner *owner;
  Peer *dave;
  guint read_401 = 0;

  if (get_open_ircd () == NULL)
    return;
  owner = alice_online ();
  purple_signal_connect (purple_plugins_find_with_id ("prpl-irc"), "irc-receiving-text", &handle,
                         PURPLE_CALLBACK (count_401), &read_401);
  g_assert_true (pg_purple_account_send_message (owner->account, 1, "dave", "not yet", &error));
  g_assert_true (run_until (is_positive, &read_401, WAIT_MS));
  purple_signals_disconnect_by_handle (&handle);
  dave = peer_new (open_ircd, "dave");
  g_assert_true (pg_purple_account_send_message (owner->account, 2, "dave", "now", &error));
  g_free (peer_expect (dave, "PRIVMSG dave :now"));
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, 5), ==, PG_CONFIRM_ASKED);
  wait_event (owner, "confirmed 5");
  g_assert_cmpint (event_index (owner, "refused 1"), >=, 0);
  g_assert_cmpint (event_index (owner, "refused 2"), ==, -1);

  /* A WHOIS of dave once dave has left, while a message dave got waits
   * for its confirmation. */
  g_assert_true (pg_purple_account_send_message (owner->account, 3, "dave", "again", &error));
  g_free (peer_expect (dave, "PRIVMSG dave :again"));
  peer_quit (dave);
  PurpleConnection *gc = purple_account_get_connection (owner->account->purple);
  PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc))->send_raw (gc, "WHOIS dave\r\n", -1);
  g_assert_cmpint (pg_purple_account_confirm_sent (owner->account, 6), ==, PG_CONFIRM_ASKED);
  wait_event (owner, "confirmed 6");
  g_assert_cmpint (event_index (owner, "refused 3"), ==, -1);

  owner_free (owner);
}

static void
join_channel (PgPurpleAccount *account, const char *channel)
{
  GHashTable *components = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (components, (gpointer) "channel", (gpointer)channel);
  serv_join_chat (purple_account_get_connection (account->purple), components);
  g_hash_table_unref (components);
}

static void
test_contact_presence (void)
{
  Owner *owner;
  Peer *bob;
  char *line;

  if (get_open_ircd () == NULL)
    return;
  owner = alice_online ();
  bob = peer_new (open_ircd, "bob");

  pg_purple_account_add_contact (owner->account, "bob", "Bob B.");
  wait_event (owner, "listed bob");
  wait_event (owner, "status bob 1 -"); /* ISON at once */
  g_assert_nonnull (purple_find_buddy (owner->account->purple, "bob"));

  /* IRC tells about a QUIT only to those sharing a channel. */
  peer_send (bob, "JOIN #pg");
  g_free (peer_expect (bob, " 366 "));
  join_channel (owner->account, "#pg");
  line = peer_expect (bob, "JOIN");
  g_assert_nonnull (strstr (line, "alice"));
  g_free (line);
  peer_quit (bob);
  wait_event (owner, "status bob 0");

  /* Our own removal is not reported back as unlisted. */
  pg_purple_account_remove_contact (owner->account, "bob");
  g_assert_null (purple_find_buddy (owner->account->purple, "bob"));
  run_for (100);
  g_assert_null (find_event (owner, "unlisted"));

  /* A removal from elsewhere (a server-side list) is. */
  pg_purple_account_add_contact (owner->account, "carol", NULL);
  purple_blist_remove_buddy (purple_find_buddy (owner->account->purple, "carol"));
  wait_event (owner, "unlisted carol");
  owner_free (owner);
}

/* Contacts restored before login are watched from login on, and every
 * listed contact is reported after login. */
static void
test_contact_restore (void)
{
  Owner *owner;
  Peer *dave;

  if (get_open_ircd () == NULL)
    return;
  dave = peer_new (open_ircd, "dave");
  owner = owner_new ();
  new_alice (owner, open_ircd, NULL);
  pg_purple_account_restore_contact (owner->account, "dave", NULL);
  g_assert_null (find_event (owner, "listed"));
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  wait_event (owner, "listed dave");
  wait_event (owner, "status dave 1");
  peer_quit (dave);
  owner_free (owner);
}

/* prpl-irc polls with ISON every 45 s; a contact that shares no channel
 * with us is seen leaving only then. */
static void
test_contact_ison_offline (void)
{
  Owner *owner;
  Peer *erin;
  Wanted wanted;

  if (!g_test_slow ())
    {
      g_test_skip ("waits for prpl-irc's 45 s ISON poll; run with -m slow");
      return;
    }
  if (get_open_ircd () == NULL)
    return;
  owner = alice_online ();
  erin = peer_new (open_ircd, "erin");
  pg_purple_account_add_contact (owner->account, "erin", NULL);
  wait_event (owner, "status erin 1");
  peer_quit (erin);
  wanted = (Wanted){ owner, "status erin 0" };
  g_assert_true (run_until (has_event, &wanted, 60 * 1000));
  owner_free (owner);
}

/* bob asks WHOIS alice; returns alice's away text (owned) or NULL. */
static char *
whois_away (Peer *peer)
{
  char *away = NULL, *line;

  peer_send (peer, "WHOIS alice");
  while ((line = peer_expect (peer, " 3")) != NULL && strstr (line, " 318 ") == NULL)
    {
      const char *text = strstr (line, " 301 bob alice :");

      if (text != NULL)
        away = g_strdup (text + strlen (" 301 bob alice :"));
      g_free (line);
    }
  g_free (line);
  return away;
}

/* prpl-irc (Debian 2.14.12) queues what it sends and flushes the queue
 * from a one-second timer: a status change reaches the server up to a
 * second later.  Asks until @expected (NULL: not away) shows. */
static void
assert_away_becomes (Peer *peer, const char *expected)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)WAIT_MS * 1000;
  g_autofree char *away = NULL;

  while (g_get_monotonic_time () < deadline)
    {
      g_free (away);
      away = whois_away (peer);
      if (g_strcmp0 (away, expected) == 0)
        return;
      run_for (250);
    }
  g_error ("alice's away message is \"%s\", not \"%s\"", away, expected);
}

static void
test_status_away (void)
{
  Owner *owner;
  Peer *bob;

  if (get_open_ircd () == NULL)
    return;
  owner = owner_new ();
  new_alice (owner, open_ircd, NULL);
  /* Set before login: prpl-irc applies it once connected. */
  pg_purple_account_set_status (owner->account, PG_SHOW_XA, "gone fishing");
  g_assert_false (purple_account_get_enabled (owner->account->purple, PG_ACCOUNT_UI));
  g_assert_true (purple_account_is_disconnected (owner->account->purple));
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  bob = peer_new (open_ircd, "bob");
  assert_away_becomes (bob, "gone fishing");

  pg_purple_account_set_status (owner->account, PG_SHOW_AWAY, "lunch");
  assert_away_becomes (bob, "lunch");
  pg_purple_account_set_status (owner->account, PG_SHOW_DND, NULL); /* IRC: away, default text */
  assert_away_becomes (bob, "Away");
  pg_purple_account_set_status (owner->account, PG_SHOW_AVAILABLE, "ignored by IRC");
  assert_away_becomes (bob, NULL);

  pg_purple_account_set_status (owner->account, PG_SHOW_OFFLINE, NULL); /* ignored */
  g_assert_true (pg_purple_account_is_connected (owner->account));
  peer_quit (bob);
  owner_free (owner);
}

/* IRC has no typing notifications: the signals are raised here the way
 * protocols that have them raise them. */
static void
test_typing (void)
{
  Owner *owner;
  PurpleConnection *gc;

  if (get_open_ircd () == NULL)
    return;
  owner = alice_online ();
  gc = purple_account_get_connection (owner->account->purple);
  serv_got_typing (gc, "bob", 0, PURPLE_TYPING);
  wait_event (owner, "state bob 2");
  serv_got_typing (gc, "bob", 0, PURPLE_TYPED);
  wait_event (owner, "state bob 3");
  serv_got_typing_stopped (gc, "bob");
  wait_event (owner, "state bob 1");
  owner_free (owner);
}

static int allowed, denied;

static void
allow_cb (void *data)
{
  (void)data;
  allowed++;
}

static void
deny_cb (void *data)
{
  (void)data;
  denied++;
}

static void
test_authorization (void)
{
  Owner *owner;
  PurpleAccount *pa;

  if (get_open_ircd () == NULL)
    return;
  owner = alice_online ();
  pa = owner->account->purple;
  allowed = denied = 0;

  purple_account_request_authorization (pa, "carol", NULL, "Carol", "let me in", FALSE, allow_cb, deny_cb,
                                        NULL);
  wait_event (owner, "auth carol Carol let me in");
  pg_purple_account_authorize (owner->account, "dave", TRUE); /* none pending: ignored */
  g_assert_cmpint (allowed + denied, ==, 0);
  pg_purple_account_authorize (owner->account, "CAROL", TRUE); /* IRC names ignore case */
  g_assert_cmpint (allowed, ==, 1);
  pg_purple_account_authorize (owner->account, "carol", FALSE); /* answered already */
  g_assert_cmpint (denied, ==, 0);

  purple_account_request_authorization (pa, "dave", NULL, NULL, NULL, FALSE, allow_cb, deny_cb, NULL);
  pg_purple_account_authorize (owner->account, "dave", FALSE);
  g_assert_cmpint (denied, ==, 1);

  /* Answered from inside the event itself. */
  owner->authorize_at_once = TRUE;
  purple_account_request_authorization (pa, "erin", NULL, NULL, NULL, FALSE, allow_cb, deny_cb, NULL);
  g_assert_cmpint (allowed, ==, 2);
  owner->authorize_at_once = FALSE;

  /* libpurple closes what is pending when the login ends. */
  purple_account_request_authorization (pa, "frank", NULL, NULL, NULL, FALSE, allow_cb, deny_cb, NULL);
  g_assert_cmpuint (owner->account->auths.length, ==, 1);
  pg_purple_account_disconnect (owner->account);
  g_assert_cmpuint (owner->account->auths.length, ==, 0);
  pg_purple_account_authorize (owner->account, "frank", TRUE);
  g_assert_cmpint (allowed, ==, 2);
  owner_free (owner);
}

static int action_chosen = -1, inputs_cancelled, fields_cancelled, choice_made = -1;
static int notices_closed;

static void
action_cb (void *data, int index)
{
  (void)data;
  action_chosen = index;
}

static void
input_cb (void *data, const char *text)
{
  (void)data;
  g_assert_cmpstr (text, ==, "default");
  inputs_cancelled++;
}

static void
fields_cb (void *data, PurpleRequestFields *fields)
{
  (void)data;
  g_assert_nonnull (fields);
  fields_cancelled++;
}

static void
choice_cb (void *data, int value)
{
  (void)data;
  choice_made = value;
}

static void
notice_closed (gpointer data)
{
  (void)data;
  notices_closed++;
}

static gboolean
action_answered (gpointer data)
{
  (void)data;
  return action_chosen >= 0;
}

static void
test_request_policy (void)
{
  PurpleRequestFields *fields;
  void *ui_handle;
  int handle;

  get_purple ();

  /* The x509 verifier's question about an untrusted certificate. */
  action_chosen = -1;
  purple_request_action (&handle, "SSL Certificate Verification", "Accept certificate for x?", "self-signed",
                         0, NULL, NULL, NULL, NULL, 3, "Accept", G_CALLBACK (action_cb), "Reject",
                         G_CALLBACK (action_cb), "_View Certificate...", G_CALLBACK (action_cb));
  g_assert_cmpint (action_chosen, ==, -1); /* never from inside libpurple */
  g_assert_true (run_until (action_answered, NULL, 1000));
  g_assert_cmpint (action_chosen, ==, 1);

  action_chosen = -1;
  purple_request_action_with_icon (&handle, "t", "p", NULL, 0, NULL, NULL, NULL, NULL, 0, NULL, 2, "_Accept",
                                   G_CALLBACK (action_cb), "Cancel", G_CALLBACK (action_cb));
  g_assert_true (run_until (action_answered, NULL, 1000));
  g_assert_cmpint (action_chosen, ==, 1);

  /* Nothing negative to choose: the default action. */
  action_chosen = -1;
  purple_request_action (&handle, "t", "p", NULL, 1, NULL, NULL, NULL, NULL, 2, "One", G_CALLBACK (action_cb),
                         "Two", G_CALLBACK (action_cb));
  g_assert_true (run_until (action_answered, NULL, 1000));
  g_assert_cmpint (action_chosen, ==, 1);

  /* Closed before the answer: never answered. */
  action_chosen = -1;
  purple_request_action (&handle, "t", "p", NULL, 0, NULL, NULL, NULL, NULL, 1, "Cancel",
                         G_CALLBACK (action_cb));
  purple_request_close_with_handle (&handle);
  run_for (50);
  g_assert_cmpint (action_chosen, ==, -1);

  inputs_cancelled = 0;
  purple_request_input (&handle, "t", "Password?", NULL, "default", FALSE, TRUE, NULL, "OK",
                        G_CALLBACK (input_cb), "Cancel", G_CALLBACK (input_cb), NULL, NULL, NULL, NULL);
  run_for (50);
  g_assert_cmpint (inputs_cancelled, ==, 1);

  fields_cancelled = 0;
  fields = purple_request_fields_new ();
  purple_request_fields_add_group (fields, purple_request_field_group_new (NULL));
  purple_request_fields (&handle, "t", "p", NULL, fields, "OK", G_CALLBACK (fields_cb), "Cancel",
                         G_CALLBACK (fields_cb), NULL, NULL, NULL, NULL);
  run_for (50);
  g_assert_cmpint (fields_cancelled, ==, 1);

  choice_made = -1;
  ui_handle = purple_request_choice (&handle, "t", "p", NULL, 2, "OK", G_CALLBACK (choice_cb), "Cancel", NULL,
                                     NULL, NULL, NULL, NULL, "a", 1, "b", 2, NULL);
  g_assert_nonnull (ui_handle);
  run_for (50);
  g_assert_cmpint (choice_made, ==, 2);

  notices_closed = 0;
  g_ptr_array_set_size (notices, 0);
  purple_notify_message (&handle, PURPLE_NOTIFY_MSG_ERROR, "Connection Error", "<b>Unable</b> to connect",
                         "try later", notice_closed, NULL);
  purple_notify_formatted (&handle, "MOTD", "MOTD", NULL, "<b>hello</b>", notice_closed, NULL);
  g_assert_cmpint (notices_closed, ==, 0);
  run_for (50);
  g_assert_cmpint (notices_closed, ==, 2);
  g_assert_cmpuint (notices->len, ==, 2);
  g_assert_cmpstr (notices->pdata[0], ==,
                   "libpurple error: Connection Error — Unable to connect — try later");
}

static void
test_failure_network (void)
{
  Owner *owner;
  Ircd *ircd;
  const char *event;

  get_purple ();
  if ((ircd = ircd_start (NULL)) == NULL)
    {
      g_test_skip ("inspircd is not installed");
      return;
    }
  owner = owner_new ();
  new_alice (owner, ircd, NULL);
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  ircd_stop (ircd); /* the server goes away under a live login */
  event = wait_event (owner, "disconnected ");
  g_assert_true (g_str_has_prefix (event, "disconnected network "));
  g_assert_false (pg_purple_account_is_connected (owner->account));
  g_assert_false (purple_account_get_enabled (owner->account->purple, PG_ACCOUNT_UI));

  /* Nobody listening at all. */
  g_ptr_array_set_size (owner->events, 0);
  pg_purple_account_connect (owner->account);
  event = wait_event (owner, "disconnected ");
  g_assert_true (g_str_has_prefix (event, "disconnected network "));
  g_assert_null (find_event (owner, "connected"));
  owner_free (owner);
}

static void
test_failure_password (void)
{
  Owner *owner;
  const char *event;

  get_purple ();
  if (password_ircd == NULL)
    password_ircd = ircd_start ("secretpw");
  if (password_ircd == NULL)
    {
      g_test_skip ("inspircd is not installed");
      return;
    }
  owner = owner_new ();
  new_alice (owner, password_ircd, "wrongpw");
  pg_purple_account_connect (owner->account);
  event = wait_event (owner, "disconnected ");
  /* prpl-irc turns InspIRCd's "ERROR :Closing link: … [Access denied by
   * configuration]" into a network error: nothing says it was the password. */
  g_assert_true (g_str_has_prefix (event, "disconnected network "));
  g_assert_nonnull (strstr (event, "Access denied"));
  pg_purple_account_free (g_steal_pointer (&owner->account));

  new_alice (owner, password_ircd, "secretpw");
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  owner_free (owner);
}

/* A server that refuses the password with 464, as most ircds do: it
 * reads the registration, answers, and closes the link (in a thread). */
static gpointer
fake_ircd_thread (gpointer data)
{
  GSocket *listener = data;
  g_autoptr (GSocket) client = g_socket_accept (listener, NULL, NULL);
  g_autoptr (GString) seen = g_string_new (NULL);
  const char *reply = ":fake.localhost 464 alice :Password incorrect\r\n"
                      "ERROR :Closing link: (alice@127.0.0.1) [Bad password]\r\n";
  char buf[512];
  gssize n;

  if (client == NULL)
    return NULL;
  while (strstr (seen->str, "NICK ") == NULL
         && (n = g_socket_receive (client, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len (seen, buf, n);
  g_socket_send (client, reply, strlen (reply), NULL, NULL);
  g_socket_shutdown (client, FALSE, TRUE, NULL);
  while (g_socket_receive (client, buf, sizeof buf, NULL, NULL) > 0)
    ; /* until the client hangs up: no reset races */
  return NULL;
}

static void
test_failure_password_464 (void)
{
  g_autoptr (GSocket) listener
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  Ircd fake = { 0 };
  Owner *owner = owner_new ();
  GThread *thread;
  const char *event;

  get_purple ();
  g_assert_true (g_socket_bind (listener, any, TRUE, &error));
  g_assert_true (g_socket_listen (listener, &error));
  bound = g_socket_get_local_address (listener, NULL);
  fake.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  thread = g_thread_new ("fake-ircd", fake_ircd_thread, listener);
  new_alice (owner, &fake, "wrongpw");
  pg_purple_account_connect (owner->account);
  event = wait_event (owner, "disconnected ");
  g_assert_true (g_str_has_prefix (event, "disconnected auth "));
  owner_free (owner);
  g_thread_join (thread);
}

/* A server that accepts and never answers: the login's deadline ends it. */
static void
test_failure_timeout (void)
{
  g_autoptr (GSocket) listener
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  Ircd silent = { 0 };
  Owner *owner = owner_new ();
  const char *event;

  get_purple ();
  g_assert_true (g_socket_bind (listener, any, TRUE, NULL));
  g_assert_true (g_socket_listen (listener, NULL));
  bound = g_socket_get_local_address (listener, NULL);
  silent.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  new_alice (owner, &silent, NULL);
  owner->account->login_timeout_s = 1;
  pg_purple_account_connect (owner->account);
  event = wait_event (owner, "disconnected ");
  g_assert_cmpstr (event, ==, "disconnected network the login timed out");
  g_assert_true (purple_account_is_disconnected (owner->account->purple));
  owner_free (owner);
}

static void
test_password_required (void)
{
  g_autoptr (GError) error = NULL;
  Owner *owner = owner_new ();
  const char *event;

  owner->account = pg_purple_account_new (get_purple (), "prpl-novell", "alice", NULL, NULL, NULL, &events,
                                          owner, &error);
  g_assert_no_error (error);
  pg_purple_account_connect (owner->account);
  event = wait_event (owner, "disconnected ");
  g_assert_cmpstr (event, ==, "disconnected auth a password is required");
  owner_free (owner);
}

/* The owner may free the account, or log out, from inside any event. */
static void
test_free_inside_event (void)
{
  Owner *owner;
  Peer *bob;

  if (get_open_ircd () == NULL)
    return;
  owner = owner_new ();
  new_alice (owner, open_ircd, NULL);
  owner->free_on_connected = TRUE;
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  g_assert_null (owner->account);
  g_assert_nonnull (owner->replacement);
  run_for (200); /* the deferred teardown */
  g_assert_true (pg_purple_account_find (purple, "prpl-irc", ALICE) == owner->replacement);
  pg_purple_account_free (g_steal_pointer (&owner->replacement));
  g_ptr_array_set_size (owner->events, 0);
  owner->free_on_connected = FALSE;

  owner->account = NULL;
  new_alice (owner, open_ircd, NULL);
  owner->disconnect_on_message = TRUE;
  pg_purple_account_connect (owner->account);
  wait_event (owner, "connected");
  bob = peer_new (open_ircd, "bob");
  peer_send (bob, "PRIVMSG alice :bye now");
  wait_event (owner, "message bob bye now");
  run_for (200); /* the deferred logout */
  g_assert_false (pg_purple_account_is_connected (owner->account));
  g_assert_null (find_event (owner, "disconnected"));
  peer_quit (bob);
  owner_free (owner);
}

static void
test_shutdown (void)
{
  g_autofree char *accounts = NULL;

  get_purple ();
  g_assert_null (purple_accounts_get_all ());
  /* every test freed its accounts */
  g_assert_cmpuint (g_hash_table_size (pg_purple_get_logins (purple)), ==, 0);
  pg_purple_free (g_steal_pointer (&purple));
  accounts = g_build_filename (user_dir, "accounts.xml", NULL);
  g_assert_false (g_file_test (accounts, G_FILE_TEST_EXISTS));
}

static void
capture_notice (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if ((level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_INFO)
    g_ptr_array_add (notices, g_strdup (message));
  else
    g_log_default_handler (domain, level, message, data);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  signal (SIGPIPE, SIG_IGN); /* as purplegate does: peers hang up */
  notices = g_ptr_array_new_with_free_func (g_free);
  g_log_set_handler ("pg-purple", G_LOG_LEVEL_MASK, capture_notice, NULL);

  g_test_add_func ("/account/new/exists", test_new_exists);
  g_test_add_func ("/account/new/settings-typed", test_settings_typed);
  g_test_add_func ("/account/login/login-logout", test_login_and_logout);
  g_test_add_func ("/account/message/receive", test_message_receive);
  g_test_add_func ("/account/message/send", test_message_send);
  g_test_add_func ("/account/message/confirm-sent", test_confirm_sent);
  g_test_add_func ("/account/message/confirm-sent-unavailable", test_confirm_sent_unavailable);
  g_test_add_func ("/account/message/refused-after-quit", test_refused_after_quit);
  g_test_add_func ("/account/message/refused-before-join", test_refused_before_join);
  g_test_add_func ("/account/contact/presence", test_contact_presence);
  g_test_add_func ("/account/contact/restore", test_contact_restore);
  g_test_add_func ("/account/contact/ison-offline", test_contact_ison_offline);
  g_test_add_func ("/account/status/away", test_status_away);
  g_test_add_func ("/account/typing/signals", test_typing);
  g_test_add_func ("/account/authorization/answer", test_authorization);
  g_test_add_func ("/account/request/policy", test_request_policy);
  g_test_add_func ("/account/failure/network", test_failure_network);
  g_test_add_func ("/account/failure/password", test_failure_password);
  g_test_add_func ("/account/failure/password-464", test_failure_password_464);
  g_test_add_func ("/account/failure/password-required", test_password_required);
  g_test_add_func ("/account/failure/timeout", test_failure_timeout);
  g_test_add_func ("/account/free/inside-event", test_free_inside_event);
  g_test_add_func ("/account/zz-shutdown/no-accounts-left", test_shutdown); /* last */
  ret = g_test_run ();

  pg_purple_free (purple);
  ircd_stop (open_ircd);
  ircd_stop (password_ircd);
  if (user_dir != NULL)
    remove_tree (user_dir);
  g_free (user_dir);
  g_ptr_array_unref (notices);
  return ret;
}
