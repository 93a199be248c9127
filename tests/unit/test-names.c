/* tests/unit/test-names.c — the main process's side of the names process
 * (legacy/names.h) over a scripted other end: normalised names are cached
 * (bounded, the least recently used evicted), protocol facts and their
 * errors come through, and a names process that hangs or ends gives the
 * name unchanged within the bound, is started again, and answers again. */
#include "build-config.h"

#include "legacy/backend.h"
#include "legacy/name-cache.h"
#include "legacy/names-link.h"
#include "legacy/names.h"

#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CALL_MS 200

typedef enum
{
  SERVE, /* answers: names lowercased */
  HANG,  /* never answers */
  CRASH, /* closes the link at the first request */
  GONE,  /* ends before its hello */
} Mode;

typedef struct
{
  Mode modes[4]; /* of each start in turn; SERVE after them */
  guint starts;
  gint requests; /* atomic: answered by any of them */
  GPtrArray *threads;
} Script;

typedef struct
{
  Script *script;
  Mode mode;
  int fd;
} Peer;

static gpointer
serve (gpointer data)
{
  Peer *peer = data;
  if (peer->mode == GONE)
    {
      close (peer->fd);
      g_free (peer);
      return NULL;
    }
  {
    const char *const hello[] = { "1", "4242", NULL };
    pg_names_link_write (peer->fd, PG_NAMES_HELLO, hello, -1, NULL);
  }
  for (;;)
    {
      guint32 op;
      g_auto (GStrv) args = NULL;
      /* Returns at the end of the link: the main side closed it. */
      if (!pg_names_link_read (peer->fd, &op, &args, -1, NULL))
        break;
      if (peer->mode == CRASH)
        break;
      if (peer->mode == HANG)
        continue;
      g_atomic_int_inc (&peer->script->requests);
      if (op == PG_NAMES_NORMALIZE || op == PG_NAMES_LOGIN_KEY)
        {
          g_autofree char *lower = g_ascii_strdown (args[1], -1);
          g_autofree char *key = g_strconcat (args[0], "\n", lower, NULL);
          const char *const out[] = { op == PG_NAMES_NORMALIZE ? lower : key, NULL };
          pg_names_link_write (peer->fd, PG_NAMES_OK, out, -1, NULL);
        }
      else if (op == PG_NAMES_PROTOCOL && strcmp (args[0], "prpl-test") == 0)
        {
          const char *const out[] = { "Test", "1", NULL };
          pg_names_link_write (peer->fd, PG_NAMES_OK, out, -1, NULL);
        }
      else if (op == PG_NAMES_SETTING && strcmp (args[1], "port") == 0)
        pg_names_link_write (peer->fd, PG_NAMES_OK, NULL, -1, NULL);
      else
        {
          const char *const out[] = { "no such thing", NULL };
          pg_names_link_write (peer->fd, PG_NAMES_ERROR, out, -1, NULL);
        }
    }
  close (peer->fd);
  g_free (peer);
  return NULL;
}

static int
spawn (gpointer data, GError **error)
{
  Script *script = data;
  int fds[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  Peer *peer = g_new0 (Peer, 1);
  peer->script = script;
  peer->mode = script->starts < G_N_ELEMENTS (script->modes) ? script->modes[script->starts] : SERVE;
  peer->fd = fds[1];
  script->starts++;
  g_ptr_array_add (script->threads, g_thread_new ("names-peer", serve, peer));
  return fds[0];
}

static void
script_join (Script *script)
{
  for (guint i = 0; i < script->threads->len; i++)
    g_thread_join (g_ptr_array_index (script->threads, i));
  g_ptr_array_unref (script->threads);
}

/* Runs the main loop until @names answers again (restarted, said hello). */
static void
wait_back (PgNames *names, Script *script, guint starts)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      if (script->starts >= starts)
        {
          /* The hello is read from the main loop. */
          g_main_context_iteration (NULL, FALSE);
          g_autofree char *probe = pg_names_normalize (names, "prpl-test", "Probe");
          if (strcmp (probe, "probe") == 0)
            return;
        }
      g_usleep (1000);
    }
  g_assert_not_reached ();
}

static void
test_cache_evicts_least_recently_used (void)
{
  g_autoptr (PgNameCache) cache = pg_name_cache_new (3);
  pg_name_cache_insert (cache, "A", "a");
  pg_name_cache_insert (cache, "B", "b");
  pg_name_cache_insert (cache, "C", "c");
  g_assert_cmpstr (pg_name_cache_lookup (cache, "A"), ==, "a"); /* now the newest */
  pg_name_cache_insert (cache, "D", "d");
  g_assert_cmpuint (pg_name_cache_size (cache), ==, 3);
  g_assert_null (pg_name_cache_lookup (cache, "B"));
  g_assert_cmpstr (pg_name_cache_lookup (cache, "A"), ==, "a");
  g_assert_cmpstr (pg_name_cache_lookup (cache, "C"), ==, "c");
  g_assert_cmpstr (pg_name_cache_lookup (cache, "D"), ==, "d");
  pg_name_cache_insert (cache, "C", "c2");
  g_assert_cmpuint (pg_name_cache_size (cache), ==, 3);
  g_assert_cmpstr (pg_name_cache_lookup (cache, "C"), ==, "c2");
  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *name = g_strdup_printf ("N%u", i);
      pg_name_cache_insert (cache, name, "n");
    }
  g_assert_cmpuint (pg_name_cache_size (cache), ==, 3);
  g_assert_cmpstr (pg_name_cache_lookup (cache, "N99"), ==, "n");
  g_assert_null (pg_name_cache_lookup (cache, "A"));
}

static void
test_names_are_cached (void)
{
  Script script = { .threads = g_ptr_array_new () };
  g_autoptr (GError) error = NULL;
  PgNames *names = pg_names_new_with_spawn (spawn, &script, CALL_MS, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *a = pg_names_normalize (names, "prpl-test", "#Chan");
      g_assert_cmpstr (a, ==, "#chan");
    }
  g_assert_cmpint (g_atomic_int_get (&script.requests), ==, 1);
  /* Login keys are cached apart from names. */
  g_autofree char *key = pg_names_dup_login_key (names, "prpl-test", "Alice");
  g_assert_cmpstr (key, ==, "prpl-test\nalice");
  g_autofree char *again = pg_names_dup_login_key (names, "prpl-test", "Alice");
  g_assert_cmpstr (again, ==, "prpl-test\nalice");
  g_assert_cmpint (g_atomic_int_get (&script.requests), ==, 2);
  PgNamesStats stats = pg_names_get_stats (names);
  g_assert_cmpuint (stats.cached, ==, 2);
  g_assert_cmpuint (stats.calls, ==, 2);
  g_assert_cmpuint (stats.fallbacks, ==, 0);
  pg_names_free (names);
  script_join (&script);
}

static void
test_protocol_facts (void)
{
  Script script = { .threads = g_ptr_array_new () };
  g_autoptr (GError) error = NULL;
  PgNames *names = pg_names_new_with_spawn (spawn, &script, CALL_MS, &error);
  g_assert_no_error (error);
  g_assert_true (pg_names_check_protocol (names, "prpl-test", &error));
  g_assert_no_error (error);
  g_autofree char *name = pg_names_dup_protocol_name (names, "prpl-test");
  g_assert_cmpstr (name, ==, "Test");
  g_assert_true (pg_names_protocol_password_optional (names, "prpl-test"));
  g_assert_false (pg_names_check_protocol (names, "prpl-none", &error));
  g_assert_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_UNKNOWN_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "no such thing");
  g_clear_error (&error);
  g_assert_true (pg_names_check_setting (names, "prpl-test", "port", "6667", &error));
  g_assert_false (pg_names_check_setting (names, "prpl-test", "nope", "1", &error));
  g_assert_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_BAD_SETTING);
  pg_names_free (names);
  script_join (&script);
}

/* A names process that hangs or ends: the name itself, within the bound,
 * and at once while it is down; the answers come back after its restart,
 * and what was answered unchanged was not cached. */
static void
check_fallback (Mode mode)
{
  Script script = { .modes = { mode }, .threads = g_ptr_array_new () };
  g_autoptr (GError) error = NULL;
  PgNames *names = pg_names_new_with_spawn (spawn, &script, CALL_MS, &error);
  g_assert_no_error (error);
  /* Logged once for the outage, not for each name. */
  g_test_expect_message ("pg-names", G_LOG_LEVEL_WARNING, "the names process * failed *");
  gint64 start = g_get_monotonic_time ();
  g_autofree char *a = pg_names_normalize (names, "prpl-test", "#Chan");
  g_assert_cmpstr (a, ==, "#Chan");
  g_assert_cmpint (g_get_monotonic_time () - start, <, (CALL_MS + 1000) * 1000);
  start = g_get_monotonic_time ();
  g_autofree char *b = pg_names_normalize (names, "prpl-test", "#Other");
  g_assert_cmpstr (b, ==, "#Other");
  g_assert_cmpint (g_get_monotonic_time () - start, <, CALL_MS * 1000 / 2);
  g_autofree char *key = pg_names_dup_login_key (names, "prpl-test", "Alice");
  g_assert_cmpstr (key, ==, "prpl-test\nAlice");
  g_assert_cmpuint (pg_names_get_stats (names).fallbacks, ==, 3);
  g_test_assert_expected_messages ();
  wait_back (names, &script, 2);
  g_autofree char *c = pg_names_normalize (names, "prpl-test", "#Chan");
  g_assert_cmpstr (c, ==, "#chan");
  g_assert_cmpuint (pg_names_get_stats (names).restarts, ==, 1);
  pg_names_free (names);
  script_join (&script);
}

static void
test_hang_falls_back_and_restarts (void)
{
  check_fallback (HANG);
}

static void
test_crash_falls_back_and_restarts (void)
{
  check_fallback (CRASH);
}

static void
test_no_hello_is_an_error (void)
{
  Script script = { .modes = { GONE }, .threads = g_ptr_array_new () };
  g_autoptr (GError) error = NULL;
  g_assert_null (pg_names_new_with_spawn (spawn, &script, CALL_MS, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  script_join (&script);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* legacy/backend.h: restarts without the backoff. */
  g_setenv (PG_BACKEND_RESTART_MS_ENV, "0", TRUE);
  g_test_add_func ("/names/cache-evicts-least-recently-used", test_cache_evicts_least_recently_used);
  g_test_add_func ("/names/names-are-cached", test_names_are_cached);
  g_test_add_func ("/names/protocol-facts", test_protocol_facts);
  g_test_add_func ("/names/hang-falls-back-and-restarts", test_hang_falls_back_and_restarts);
  g_test_add_func ("/names/crash-falls-back-and-restarts", test_crash_falls_back_and_restarts);
  g_test_add_func ("/names/no-hello", test_no_hello_is_an_error);
  return g_test_run ();
}
