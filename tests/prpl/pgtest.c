/* tests/prpl/pgtest.c — prpl-pgtest, a libpurple 2 protocol plugin for
 * purplegate's integration tests: no network, and it misbehaves on demand.
 *
 * Built by `make check` as tests/prpl/pgtest.so; tests/integration/harness.py
 * installs it in the plugins folder of purplegate's libpurple user directory.
 *
 * Logins succeed from the main loop, right after they start, except:
 *   refuse…      → PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED
 *   crashlogin…  → SIGSEGV inside the login
 *   needpin…     → refused ("PgTest: wrong PIN") unless the account option
 *                  "pin" (masked) is 1234
 *   askcode…     → first asks for a one-time code (purple_request_input):
 *                  123456 logs in, another code or Cancel refuses
 * Every buddy of the account is online.  Messages to these names do
 * something; to any other name they are taken and go nowhere:
 *   echo   answers with the same text
 *   files  answers, for each space-separated path of the text, one line
 *          "PATH: readable" or "PATH: denied (REASON)" (what this process
 *          may read: open(2), and opendir(3) for directories)
 *   pid    answers with the process id, in decimal
 *   crash  SIGSEGV at once
 *   abort  abort() at once
 *   ask    asks the user a question of fields (purple_request_fields: a
 *          required string "code", an integer "count"); "ask" answers
 *          "code=CODE count=N", or "cancelled"
 *   code   asks for one line of text (purple_request_input, "Type the
 *          word" and the text of the message); "code" answers
 *          "TEXT: ANSWER", or "TEXT: cancelled"
 * Answers and presence arrive from the main loop, as a network's would. */
#define G_LOG_DOMAIN "pgtest"

#include <purple.h> /* defines PURPLE_PLUGINS: PURPLE_INIT_PLUGIN exports purple_init_plugin */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PGTEST_ID "prpl-pgtest"

typedef enum
{
  EVENT_IM,     /* a message from @who */
  EVENT_ONLINE, /* @who is available */
} EventKind;

typedef struct
{
  EventKind kind;
  char *who;
  char *html; /* EVENT_IM: libpurple markup */
} Event;

/* A connection's protocol data. */
typedef struct
{
  PurpleConnection *gc;
  guint login_id;  /* pending end of the login */
  guint events_id; /* pending delivery of the head of @events */
  GQueue events;   /* Event*, owned, in arrival order */
  GSList *words;   /* Word* (below), owned: questions of "code" not answered yet */
} Connection;

/* What a sanitizer must not turn into something else: the write below is a
 * null pointer store on purpose (UndefinedBehaviorSanitizer would report it
 * and exit), and AddressSanitizer's own SIGSEGV handler would print a report
 * and exit(1) where the process must die of the signal. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PGTEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PGTEST_ASAN 1
#endif

__attribute__ ((no_sanitize ("undefined"))) static void
crash (void)
{
#ifdef PGTEST_ASAN
  signal (SIGSEGV, SIG_DFL);
#endif
  volatile int *volatile nowhere = NULL;
  *nowhere = 1;
  abort (); /* never reached; the write does not return */
}

/* What "code" asked, with the connection: the answer names it. */
typedef struct
{
  PurpleConnection *gc;
  char *text;
} Word;

static void
word_free (Word *word)
{
  g_free (word->text);
  g_free (word);
}

static void
event_free (Event *event)
{
  g_free (event->who);
  g_free (event->html);
  g_free (event);
}

/* Takes the head event off the queue before delivering it, and delivers
 * one per main loop turn: what purplegate does on a message or a presence
 * may end the connection, and this Connection with it. */
static gboolean
deliver_next (gpointer data)
{
  Connection *conn = data;
  PurpleConnection *gc = conn->gc;
  Event *event = g_queue_pop_head (&conn->events);

  conn->events_id = g_queue_is_empty (&conn->events) ? 0 : purple_timeout_add (0, deliver_next, conn);
  if (event->kind == EVENT_IM)
    serv_got_im (gc, event->who, event->html, 0, time (NULL));
  else
    purple_prpl_got_user_status (purple_connection_get_account (gc), event->who, "available", NULL);
  event_free (event);
  return FALSE;
}

/* Queues an event; takes @html. */
static void
queue_event (Connection *conn, EventKind kind, const char *who, char *html)
{
  Event *event = g_new0 (Event, 1);

  event->kind = kind;
  event->who = g_strdup (who);
  event->html = html;
  g_queue_push_tail (&conn->events, event);
  if (conn->events_id == 0)
    conn->events_id = purple_timeout_add (0, deliver_next, conn);
}

/* ---- login ---- */

static gboolean
finish_login (gpointer data)
{
  Connection *conn = data;
  PurpleConnection *gc = conn->gc;
  PurpleAccount *account = purple_connection_get_account (gc);
  GSList *buddies;

  conn->login_id = 0;
  if (g_str_has_prefix (purple_account_get_username (account), "refuse"))
    {
      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED,
                                      "PgTest refuses this user");
      return FALSE;
    }
  if (g_str_has_prefix (purple_account_get_username (account), "needpin")
      && g_strcmp0 (purple_account_get_string (account, "pin", ""), "1234") != 0)
    {
      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED, "PgTest: wrong PIN");
      return FALSE;
    }
  /* Queued first: the state change below may already end the connection. */
  buddies = purple_find_buddies (account, NULL);
  for (GSList *l = buddies; l != NULL; l = l->next)
    queue_event (conn, EVENT_ONLINE, purple_buddy_get_name (l->data), NULL);
  g_slist_free (buddies);
  purple_connection_set_state (gc, PURPLE_CONNECTED);
  return FALSE;
}

static void
code_given (gpointer data, const char *code)
{
  Connection *conn = purple_connection_get_protocol_data (data);

  if (conn == NULL)
    return;
  if (g_strcmp0 (code, "123456") != 0)
    {
      purple_connection_error_reason (conn->gc, PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED,
                                      "PgTest: wrong one-time code");
      return;
    }
  conn->login_id = purple_timeout_add (0, finish_login, conn);
}

static void
code_refused (gpointer data, const char *code)
{
  Connection *conn = purple_connection_get_protocol_data (data);

  if (conn != NULL)
    purple_connection_error_reason (conn->gc, PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED,
                                    "PgTest: no one-time code given");
}

static void
pgtest_login (PurpleAccount *account)
{
  PurpleConnection *gc = purple_account_get_connection (account);
  Connection *conn;

  if (g_str_has_prefix (purple_account_get_username (account), "crashlogin"))
    crash ();
  conn = g_new0 (Connection, 1);
  conn->gc = gc;
  g_queue_init (&conn->events);
  purple_connection_set_protocol_data (gc, conn);
  if (g_str_has_prefix (purple_account_get_username (account), "askcode"))
    purple_request_input (gc, "PgTest login", "Type the one-time code", "PgTest sent it to your phone.", NULL,
                          FALSE, FALSE, NULL, "_OK", G_CALLBACK (code_given), "_Cancel",
                          G_CALLBACK (code_refused), account, NULL, NULL, gc);
  else
    conn->login_id = purple_timeout_add (0, finish_login, conn);
}

static void
pgtest_close (PurpleConnection *gc)
{
  Connection *conn = purple_connection_get_protocol_data (gc);

  if (conn == NULL)
    return;
  if (conn->login_id != 0)
    purple_timeout_remove (conn->login_id);
  if (conn->events_id != 0)
    purple_timeout_remove (conn->events_id);
  g_queue_clear_full (&conn->events, (GDestroyNotify)event_free);
  g_slist_free_full (conn->words, (GDestroyNotify)word_free);
  purple_connection_set_protocol_data (gc, NULL);
  g_free (conn);
}

/* ---- messages ---- */

static char *
describe_access (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int saved_errno;
  struct stat st;

  if (fd < 0)
    {
      saved_errno = errno;
      return g_strdup_printf ("%s: denied (%s)", path, g_strerror (saved_errno));
    }
  if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    {
      DIR *dir = opendir (path);

      if (dir == NULL)
        {
          saved_errno = errno;
          close (fd);
          return g_strdup_printf ("%s: denied (%s)", path, g_strerror (saved_errno));
        }
      closedir (dir);
    }
  close (fd);
  return g_strdup_printf ("%s: readable", path);
}

/* One line per path of @html, as markup. */
static char *
files_answer (const char *html)
{
  char *text = purple_markup_strip_html (html);
  char **paths = g_strsplit_set (text, " \t\r\n", -1);
  GString *answer = g_string_new (NULL);

  for (char **p = paths; *p != NULL; p++)
    {
      char *line, *escaped;

      if (**p == '\0')
        continue;
      line = describe_access (*p);
      escaped = g_markup_escape_text (line, -1);
      g_string_append_printf (answer, "%s%s", answer->len > 0 ? "<br>" : "", escaped);
      g_free (escaped);
      g_free (line);
    }
  g_strfreev (paths);
  g_free (text);
  return g_string_free (answer, FALSE);
}

static void
asked_ok (gpointer data, PurpleRequestFields *fields)
{
  PurpleConnection *gc = data;
  Connection *conn = purple_connection_get_protocol_data (gc);

  if (conn != NULL)
    queue_event (conn, EVENT_IM, "ask",
                 g_markup_printf_escaped ("code=%s count=%d",
                                          purple_request_fields_get_string (fields, "code"),
                                          purple_request_fields_get_integer (fields, "count")));
}

static void
asked_cancel (gpointer data, PurpleRequestFields *fields)
{
  Connection *conn = purple_connection_get_protocol_data (data);

  if (conn != NULL)
    queue_event (conn, EVENT_IM, "ask", g_strdup ("cancelled"));
}

static void
ask (PurpleConnection *gc)
{
  PurpleRequestFields *fields = purple_request_fields_new ();
  PurpleRequestFieldGroup *group = purple_request_field_group_new (NULL);
  PurpleRequestField *code = purple_request_field_string_new ("code", "Code sent to your phone", NULL, FALSE);

  purple_request_field_set_required (code, TRUE);
  purple_request_field_group_add_field (group, code);
  purple_request_field_group_add_field (group, purple_request_field_int_new ("count", "How many", 1));
  purple_request_fields_add_group (fields, group);
  purple_request_fields (gc, "PgTest question", "Enter the code", NULL, fields, "_Send",
                         G_CALLBACK (asked_ok), "_Cancel", G_CALLBACK (asked_cancel),
                         purple_connection_get_account (gc), NULL, NULL, gc);
}

/* libpurple calls back only while the connection lives: it closes the
 * requests of a connection that ends, and pgtest_close frees their words. */
static void
word_answer (Word *word, const char *answer)
{
  Connection *conn = purple_connection_get_protocol_data (word->gc);

  queue_event (conn, EVENT_IM, "code", g_markup_printf_escaped ("%s: %s", word->text, answer));
  conn->words = g_slist_remove (conn->words, word);
  word_free (word);
}

static void
word_given (gpointer data, const char *answer)
{
  word_answer (data, answer);
}

static void
word_refused (gpointer data, const char *answer)
{
  word_answer (data, "cancelled");
}

static int
pgtest_send_im (PurpleConnection *gc, const char *who, const char *message, PurpleMessageFlags flags)
{
  Connection *conn = purple_connection_get_protocol_data (gc);

  if (g_ascii_strcasecmp (who, "crash") == 0)
    crash ();
  if (g_ascii_strcasecmp (who, "abort") == 0)
    abort ();
  if (g_ascii_strcasecmp (who, "echo") == 0)
    queue_event (conn, EVENT_IM, "echo", g_strdup (message));
  else if (g_ascii_strcasecmp (who, "files") == 0)
    queue_event (conn, EVENT_IM, "files", files_answer (message));
  else if (g_ascii_strcasecmp (who, "ask") == 0)
    ask (gc);
  else if (g_ascii_strcasecmp (who, "code") == 0)
    {
      Word *word = g_new0 (Word, 1);

      word->gc = gc;
      word->text = purple_markup_strip_html (message);
      conn->words = g_slist_prepend (conn->words, word);
      purple_request_input (gc, "PgTest word", "Type the word", word->text, NULL, FALSE, FALSE, NULL, "_OK",
                            G_CALLBACK (word_given), "_Cancel", G_CALLBACK (word_refused),
                            purple_connection_get_account (gc), who, NULL, word);
    }
  else if (g_ascii_strcasecmp (who, "pid") == 0)
    queue_event (conn, EVENT_IM, "pid", g_strdup_printf ("%ld", (long)getpid ()));
  return 1;
}

/* ---- buddies, statuses, names ---- */

/* The list lives in libpurple only: nothing to tell a server. */
static void
pgtest_add_buddy (PurpleConnection *gc, PurpleBuddy *buddy, PurpleGroup *group)
{
  queue_event (purple_connection_get_protocol_data (gc), EVENT_ONLINE, purple_buddy_get_name (buddy), NULL);
}

static void
pgtest_remove_buddy (PurpleConnection *gc, PurpleBuddy *buddy, PurpleGroup *group)
{
}

static GList *
pgtest_status_types (PurpleAccount *account)
{
  GList *types = NULL;

  types = g_list_append (types, purple_status_type_new_with_attrs (
                                    PURPLE_STATUS_AVAILABLE, "available", NULL, TRUE, TRUE, FALSE, "message",
                                    "Message", purple_value_new (PURPLE_TYPE_STRING), NULL));
  types = g_list_append (types, purple_status_type_new_with_attrs (
                                    PURPLE_STATUS_AWAY, "away", NULL, TRUE, TRUE, FALSE, "message", "Message",
                                    purple_value_new (PURPLE_TYPE_STRING), NULL));
  types = g_list_append (
      types, purple_status_type_new_full (PURPLE_STATUS_OFFLINE, "offline", NULL, TRUE, TRUE, FALSE));
  return types;
}

static const char *
pgtest_list_icon (PurpleAccount *account, PurpleBuddy *buddy)
{
  return "pgtest";
}

/* libpurple expects a buffer that stays valid until the next call. */
static const char *
pgtest_normalize (const PurpleAccount *account, const char *who)
{
  static char *last;

  g_free (last);
  last = g_ascii_strdown (who, -1);
  return last;
}

/* ---- the plugin ---- */

static PurplePluginProtocolInfo prpl_info = {
  .options = OPT_PROTO_PASSWORD_OPTIONAL,
  .icon_spec = NO_BUDDY_ICONS,
  .list_icon = pgtest_list_icon,
  .status_types = pgtest_status_types,
  .login = pgtest_login,
  .close = pgtest_close,
  .send_im = pgtest_send_im,
  .add_buddy = pgtest_add_buddy,
  .remove_buddy = pgtest_remove_buddy,
  .normalize = pgtest_normalize,
  .struct_size = sizeof (PurplePluginProtocolInfo),
};

static PurplePluginInfo plugin_info = {
  .magic = PURPLE_PLUGIN_MAGIC,
  .major_version = PURPLE_MAJOR_VERSION,
  .minor_version = PURPLE_MINOR_VERSION,
  .type = PURPLE_PLUGIN_PROTOCOL,
  .priority = PURPLE_PRIORITY_DEFAULT,
  .id = (char *)PGTEST_ID,
  .name = (char *)"PgTest",
  .version = (char *)"1",
  .summary = (char *)"purplegate test protocol",
  .description = (char *)"A protocol without a network, for purplegate's tests.",
  .author = (char *)"purplegate",
  .extra_info = &prpl_info,
};

static void
init_plugin (PurplePlugin *plugin)
{
  PurpleAccountOption *pin = purple_account_option_string_new ("PIN", "pin", "");

  /* A setting for [legacy-settings] to set; nothing reads it. */
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options,
                                              purple_account_option_string_new ("Greeting", "greeting", ""));
  /* A secret the logins of needpin… need. */
  purple_account_option_set_masked (pin, TRUE);
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options, pin);
}

PURPLE_INIT_PLUGIN (pgtest, init_plugin, plugin_info)
