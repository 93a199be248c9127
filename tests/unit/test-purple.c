/* tests/unit/test-purple.c — libpurple core, eventloop and debug bridge.
 * libpurple cannot be initialised twice in a process: the tests share one
 * PgPurple (made on first use) and /purple/shutdown/…, added last, ends it.
 * Nothing here leaves loopback (no account connects), so the test needs no
 * network namespace; it also points D-Bus at a fake session bus of its own. */
#define G_LOG_DOMAIN "pg-test-purple"

#include "legacy/purple-core.h"
#include "legacy/purple-debug.h"
#include "legacy/purple-eventloop.h"

#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SECRET "hunter2"

static PgPurple *purple;
static char *user_dir;
static GPtrArray *captured; /* messages logged in domain "pg-purple" */

/* Captures libpurple's forwarded debug output instead of printing it. */
static void
capture_message (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  (void)domain, (void)level, (void)data;
  g_ptr_array_add (captured, g_strdup (message));
}

static gboolean
captured_contains (const char *needle)
{
  for (guint i = 0; i < captured->len; i++)
    if (strstr (captured->pdata[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

/* A session bus that libpurple must not use: its D-Bus server would export
 * the whole API there.  A thread counts connections and hangs up on each
 * at once (libdbus would otherwise wait for the bus to authenticate it). */
static gint bus_connections;

static gpointer
fake_bus_accept (gpointer data)
{
  int listener = GPOINTER_TO_INT (data), fd;

  while ((fd = accept (listener, NULL, NULL)) >= 0)
    {
      g_atomic_int_inc (&bus_connections);
      close (fd);
    }
  return NULL;
}

static void
fake_session_bus (void)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  g_autofree char *path = g_build_filename (user_dir, "bus", NULL);
  g_autofree char *address = g_strconcat ("unix:path=", path, NULL);
  int listener = socket (AF_UNIX, SOCK_STREAM, 0);

  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  g_assert_cmpint (bind (listener, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (listener, 4), ==, 0);
  g_thread_unref (g_thread_new ("fake-bus", fake_bus_accept, GINT_TO_POINTER (listener)));
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", address, TRUE);
}

static PgPurple *
get_purple (void)
{
  g_autoptr (GError) error = NULL;

  if (purple != NULL)
    return purple;
  user_dir = g_dir_make_tmp ("test-purple-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (user_dir, 0755), ==, 0); /* made private by init */
  fake_session_bus ();
  purple = pg_purple_new (user_dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (purple);
  return purple;
}

static void
assert_prefs_file_quiet (void)
{
  g_autofree char *path = g_build_filename (user_dir, "prefs.xml", NULL);
  g_autofree char *xml = NULL;

  g_assert_true (g_file_get_contents (path, &xml, NULL, NULL));
  g_assert_nonnull (strstr (xml, "<pref version='1' name='/'>"));
  g_assert_nonnull (strstr (xml, "<pref name='map_ports' type='bool' value='0'/>"));
  g_assert_nonnull (strstr (xml, "<pref name='auto_ip' type='bool' value='0'/>"));
}

static void
test_core_init (void)
{
  g_autoptr (GError) error = NULL;
  GStatBuf st;

  get_purple ();
  g_assert_cmpint (g_stat (user_dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  assert_prefs_file_quiet ();
  g_assert_false (purple_prefs_get_bool ("/purple/network/map_ports"));
  g_assert_false (purple_prefs_get_bool ("/purple/network/auto_ip"));
  g_assert_cmpstr (purple_prefs_get_string ("/purple/network/stun_server"), ==, "");
  g_assert_cmpstr (purple_prefs_get_string ("/purple/away/idle_reporting"), ==, "none");
  g_assert_false (purple_prefs_get_bool ("/purple/away/away_when_idle"));
  g_assert_false (purple_prefs_get_bool ("/purple/logging/log_ims"));
  /* libpurple parsed our file in purple_prefs_init(), before network init. */
  g_assert_true (captured_contains ("prefs: Finished reading"));
  g_assert_cmpstr (g_hash_table_lookup (purple_core_get_ui_info (), "name"), ==, "purplegate");
  g_assert_cmpint (g_atomic_int_get (&bus_connections), ==, 0);
  g_assert_null (pg_purple_new (user_dir, &error));
  g_assert_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_INIT);
}

static void
test_core_protocols (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;

  g_assert_true (pg_purple_check_protocol (get_purple (), "prpl-irc", &error));
  g_assert_no_error (error);
  g_assert_true (pg_purple_check_protocol (purple, "prpl-jabber", &error));
  g_assert_no_error (error);
  g_assert_false (pg_purple_check_protocol (purple, "prpl-nonexistent", &error));
  g_assert_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_UNKNOWN_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "prpl-nonexistent"));
  g_assert_nonnull (strstr (error->message, "prpl-irc")); /* lists what exists */
  name = pg_purple_dup_protocol_name (purple, "prpl-irc");
  g_assert_cmpstr (name, ==, "IRC");
  g_assert_null (pg_purple_dup_protocol_name (purple, "prpl-nonexistent"));
}

typedef struct
{
  const char *protocol_id, *key, *value;
  int code; /* -1: accepted */
  const char *in_message;
} SettingCase;

static const SettingCase setting_cases[] = {
  { "prpl-irc", "port", "6697", -1, NULL },
  { "prpl-irc", "port", "-1", -1, NULL },
  { "prpl-irc", "port", "abc", PG_PURPLE_ERROR_BAD_SETTING, "\"port\"" },
  { "prpl-irc", "port", "66x", PG_PURPLE_ERROR_BAD_SETTING, "integer" },
  { "prpl-irc", "port", "99999999999", PG_PURPLE_ERROR_BAD_SETTING, "\"port\"" },
  { "prpl-irc", "ssl", "true", -1, NULL },
  { "prpl-irc", "ssl", "No", -1, NULL },
  { "prpl-irc", "ssl", "0", -1, NULL },
  { "prpl-irc", "ssl", "maybe", PG_PURPLE_ERROR_BAD_SETTING, "\"ssl\"" },
  { "prpl-irc", "encoding", "UTF-8,ISO-8859-1", -1, NULL },
  { "prpl-irc", "nosuchkey", "x", PG_PURPLE_ERROR_BAD_SETTING, "\"nosuchkey\"" },
  { "prpl-irc", "nosuchkey", "x", PG_PURPLE_ERROR_BAD_SETTING, "prpl-irc" },
  { "prpl-irc", "nosuchkey", "x", PG_PURPLE_ERROR_BAD_SETTING, "port" },
  { "prpl-jabber", "connection_security", "require_tls", -1, NULL },
  { "prpl-jabber", "connection_security", "tls-please", PG_PURPLE_ERROR_BAD_SETTING, "opportunistic_tls" },
  { "prpl-nonexistent", "port", "1", PG_PURPLE_ERROR_UNKNOWN_PROTOCOL, "prpl-nonexistent" },
};

static void
test_core_settings (void)
{
  get_purple ();
  for (size_t i = 0; i < G_N_ELEMENTS (setting_cases); i++)
    {
      const SettingCase *c = &setting_cases[i];
      g_autoptr (GError) error = NULL;
      gboolean ok = pg_purple_check_setting (purple, c->protocol_id, c->key, c->value, &error);

      g_test_message ("%s %s=%s", c->protocol_id, c->key, c->value);
      if (c->code < 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          continue;
        }
      g_assert_false (ok);
      g_assert_error (error, PG_PURPLE_ERROR, c->code);
      g_assert_nonnull (strstr (error->message, c->in_message));
      g_assert_null (strstr (error->message, c->value)); /* values may be secrets */
    }
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
fail_timeout (gpointer data)
{
  (void)data;
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

static void
run_loop (GMainLoop *loop)
{
  guint guard = g_timeout_add_seconds (5, fail_timeout, NULL);

  g_main_loop_run (loop);
  g_source_remove (guard);
}

static void
test_loop_timeout (void)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint id;

  get_purple ();
  g_assert_cmpuint (purple_timeout_add (10, quit_loop, loop), !=, 0);
  run_loop (loop);
  id = purple_timeout_add_seconds (60, fail_timeout, NULL);
  g_assert_cmpuint (id, !=, 0);
  g_assert_true (purple_timeout_remove (id));
  g_assert_false (purple_timeout_remove (id)); /* stale handles are harmless */
}

typedef struct
{
  GMainLoop *loop;
  int calls;
  PurpleInputCondition cond;
} InputState;

static void
on_input (gpointer data, gint fd, PurpleInputCondition cond)
{
  InputState *state = data;
  char byte;

  if (cond & PURPLE_INPUT_READ)
    g_assert_cmpint (read (fd, &byte, 1), ==, 1);
  state->calls++;
  state->cond = cond;
  g_main_loop_quit (state->loop);
}

static void
test_loop_input (void)
{
  InputState state = { g_main_loop_new (NULL, FALSE), 0, 0 };
  int sv[2], err = -1;
  guint id;

  get_purple ();
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
  id = purple_input_add (sv[0], PURPLE_INPUT_READ, on_input, &state);
  g_assert_cmpuint (id, !=, 0);
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);
  run_loop (state.loop);
  g_assert_cmpint (state.calls, ==, 1);
  g_assert_cmpint (state.cond, ==, PURPLE_INPUT_READ);

  g_assert_true (purple_input_remove (id));
  g_assert_cmpint (write (sv[1], "y", 1), ==, 1);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (state.calls, ==, 1);

  g_assert_cmpint (purple_input_get_error (sv[0], &err), ==, 0);
  g_assert_cmpint (err, ==, 0);

  id = purple_input_add (sv[1], PURPLE_INPUT_WRITE, on_input, &state);
  run_loop (state.loop);
  g_assert_cmpint (state.cond, ==, PURPLE_INPUT_WRITE);
  g_assert_true (purple_input_remove (id));
  close (sv[0]);
  close (sv[1]);
  g_main_loop_unref (state.loop);
}

static void
noop_input (gpointer data, gint fd, PurpleInputCondition cond)
{
  (void)data, (void)fd, (void)cond;
}

/* A watched TCP socket gets TCP_NODELAY (needs loopback up). */
static void
test_loop_nodelay (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int server, client, flag = 0;
  guint id;

  get_purple ();
  server = socket (AF_INET, SOCK_STREAM, 0);
  client = socket (AF_INET, SOCK_STREAM, 0);
  g_assert_cmpint (bind (server, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (server, 1), ==, 0);
  g_assert_cmpint (getsockname (server, (struct sockaddr *)&addr, &len), ==, 0);
  g_assert_cmpint (connect (client, (struct sockaddr *)&addr, sizeof addr), ==, 0);

  id = purple_input_add (client, PURPLE_INPUT_READ, noop_input, NULL);
  len = sizeof flag;
  g_assert_cmpint (getsockopt (client, IPPROTO_TCP, TCP_NODELAY, &flag, &len), ==, 0);
  g_assert_cmpint (flag, !=, 0);
  g_assert_true (purple_input_remove (id));
  close (client);
  close (server);
}

/* Timers and watches run as the login that made them (the worker's crash
 * note names it), and the one active before is back afterwards. */
typedef struct
{
  GMainLoop *loop;
  gpointer seen_timer, seen_input;
  GPtrArray *changes; /* owners given to the activity func */
} OwnerState;

static void
note_activity (gpointer owner, gpointer data)
{
  g_ptr_array_add (((OwnerState *)data)->changes, owner);
}

static gboolean
owner_timeout (gpointer data)
{
  OwnerState *state = data;

  state->seen_timer = pg_purple_activity_get ();
  if (state->seen_input != NULL)
    g_main_loop_quit (state->loop);
  return G_SOURCE_REMOVE;
}

static void
owner_input (gpointer data, gint fd, PurpleInputCondition cond)
{
  OwnerState *state = data;

  (void)fd, (void)cond;
  state->seen_input = pg_purple_activity_get ();
  if (state->seen_timer != NULL)
    g_main_loop_quit (state->loop);
}

static void
test_loop_owner (void)
{
  OwnerState state = { g_main_loop_new (NULL, FALSE), NULL, NULL, g_ptr_array_new () };
  int login_a, login_b, sv[2];
  gpointer previous;
  guint id;

  pg_purple_set_activity_func (get_purple (), note_activity, &state);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
  previous = pg_purple_activity_enter (&login_a);
  g_assert_null (previous);
  purple_timeout_add (0, owner_timeout, &state);
  pg_purple_activity_leave (previous);
  previous = pg_purple_activity_enter (&login_b);
  id = purple_input_add (sv[0], PURPLE_INPUT_WRITE, owner_input, &state);
  pg_purple_activity_leave (previous);
  g_ptr_array_set_size (state.changes, 0);

  run_loop (state.loop);
  g_assert_true (state.seen_timer == &login_a);
  g_assert_true (state.seen_input == &login_b);
  g_assert_null (pg_purple_activity_get ());
  g_assert_cmpuint (state.changes->len, >=, 4); /* enter and leave, each */
  g_assert_null (g_ptr_array_index (state.changes, state.changes->len - 1));

  g_assert_true (purple_input_remove (id));
  pg_purple_set_activity_func (get_purple (), NULL, NULL);
  close (sv[0]);
  close (sv[1]);
  g_ptr_array_unref (state.changes);
  g_main_loop_unref (state.loop);
}

typedef struct
{
  const char *input, *expected; /* expected after "irc: " */
} MaskCase;

static const MaskCase mask_cases[] = {
  { "PASS " SECRET, "PASS ***" },
  { "<< PASS :" SECRET "\r\n", "<< PASS ***" },
  { "PASS " SECRET "\nNICK alice\n", "PASS ***\nNICK alice" },
  { "AUTHENTICATE aHVudGVyMg==", "AUTHENTICATE ***" },
  { "AUTH PLAIN aHVudGVyMg==", "AUTH ***" },
  { "PRIVMSG NickServ :IDENTIFY " SECRET, "PRIVMSG NickServ :IDENTIFY ***" },
  { "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAGh1bnRlcjI=</auth>",
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>***</auth>" },
  { "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'/>",
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'/>" },
  { "<query xmlns='jabber:iq:auth'><username>alice</username><password>" SECRET "</password></query>",
    "<query xmlns='jabber:iq:auth'><username>alice</username><password>***</password></query>" },
  { "password=" SECRET " user=alice", "password=*** user=alice" },
  { "Password: " SECRET, "Password: ***" },
  { "{\"password\":\"" SECRET "\"}", "{\"password\":\"***\"}" },
  { "turn_password='" SECRET "'", "turn_password='***'" },
  { "Connecting to irc.example.org:6697", "Connecting to irc.example.org:6697" },
  { "BYPASS mode", "BYPASS mode" },
  { "", "" },
};

static void
test_debug_mask (void)
{
  PurpleDebugUiOps *ops = pg_purple_debug_get_ui_ops ();

  for (size_t i = 0; i < G_N_ELEMENTS (mask_cases); i++)
    {
      g_autofree char *expected = g_strconcat ("irc: ", mask_cases[i].expected, NULL);

      g_ptr_array_set_size (captured, 0);
      ops->print (PURPLE_DEBUG_MISC, "irc", mask_cases[i].input);
      g_assert_cmpuint (captured->len, ==, 1);
      g_assert_cmpstr (captured->pdata[0], ==, expected);
      g_assert_false (captured_contains (SECRET));
    }
  g_assert_true (ops->is_enabled (PURPLE_DEBUG_INFO, "irc")); /* G_MESSAGES_DEBUG set */
}

static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL))
    return FALSE;
  return g_strstr_len (data, (gssize)len, needle) != NULL;
}

/* Every regular file below @dir is free of @needle. */
static void
assert_tree_free_of (const char *dir, const char *needle)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        assert_tree_free_of (path, needle);
      else if (file_contains (path, needle))
        g_error ("%s contains a password", path);
    }
}

static void
test_core_free (void)
{
  PurpleAccount *account;
  g_autofree char *accounts = NULL, *blist = NULL;

  get_purple ();
  account = purple_account_new ("alice@irc.example.org", "prpl-irc");
  purple_account_set_password (account, SECRET);
  /* The worst case: libpurple would save this password in accounts.xml. */
  purple_account_set_remember_password (account, TRUE);
  purple_accounts_add (account);
  purple_blist_add_buddy (purple_buddy_new (account, "bob", NULL), NULL, NULL, NULL);

  pg_purple_free (g_steal_pointer (&purple));
  assert_prefs_file_quiet ();
  accounts = g_build_filename (user_dir, "accounts.xml", NULL);
  blist = g_build_filename (user_dir, "blist.xml", NULL);
  g_assert_false (g_file_test (accounts, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (blist, G_FILE_TEST_EXISTS));
  assert_tree_free_of (user_dir, SECRET);
  g_assert_false (captured_contains (SECRET));
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

int
main (int argc, char **argv)
{
  int ret;

  /* Route all of libpurple's debug output through the masking ops. */
  g_setenv ("G_MESSAGES_DEBUG", "pg-purple", TRUE);
  g_test_init (&argc, &argv, NULL);
  captured = g_ptr_array_new_with_free_func (g_free);
  g_log_set_handler ("pg-purple", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION, capture_message,
                     NULL);

  g_test_add_func ("/purple/debug/mask", test_debug_mask);
  g_test_add_func ("/purple/core/init", test_core_init);
  g_test_add_func ("/purple/core/protocols", test_core_protocols);
  g_test_add_func ("/purple/core/settings", test_core_settings);
  g_test_add_func ("/purple/eventloop/timeout", test_loop_timeout);
  g_test_add_func ("/purple/eventloop/input", test_loop_input);
  g_test_add_func ("/purple/eventloop/nodelay", test_loop_nodelay);
  g_test_add_func ("/purple/eventloop/owner", test_loop_owner);
  g_test_add_func ("/purple/shutdown/no-password-on-disk", test_core_free); /* last */
  ret = g_test_run ();

  pg_purple_free (purple);
  if (user_dir != NULL)
    remove_tree (user_dir);
  g_free (user_dir);
  g_ptr_array_unref (captured);
  return ret;
}
