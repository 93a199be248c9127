/* tests/unit/test-purple-eventloop.c — libpurple's eventloop UI ops (one
 * epoll source for the input watches, one source for the timeouts), driven
 * through purple_input_add() and purple_timeout_add() on socketpairs,
 * without the rest of libpurple. */
#define G_LOG_DOMAIN "pg-test-purple-loop"

#include "legacy/purple-eventloop.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANDLE_BASE 0x40000000u

/* Wakes the loop now and then, so that a test waiting for a callback that
 * never comes fails at its deadline instead of hanging. */
static gboolean
tick (gpointer data)
{
  (void)data;
  return G_SOURCE_CONTINUE;
}

/* Runs the default main context until *@counter reaches @target (or 5 s
 * pass: then the caller's assertion fails). */
static void
run_until (const int *counter, int target)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint ticker = g_timeout_add (10, tick, NULL);

  while (*counter < target && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (ticker);
}

/* A few passes that must serve nothing more. */
static void
run_passes (int passes)
{
  for (int i = 0; i < passes; i++)
    g_main_context_iteration (NULL, FALSE);
}

static void
make_pair (int sv[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), ==, 0);
}

typedef struct
{
  int calls;
  PurpleInputCondition cond; /* of the last call */
  int fd;
  guint remove[4]; /* handles its callback removes (0: none) */
  gboolean drain;  /* reads what is there */
  int *total;      /* counts calls of several watches, or NULL */
} Watched;

static void
on_input (gpointer data, gint fd, PurpleInputCondition cond)
{
  Watched *w = data;
  char buf[64];

  w->calls++;
  w->cond = cond;
  w->fd = fd;
  if (w->total != NULL)
    (*w->total)++;
  if (w->drain && (cond & PURPLE_INPUT_READ))
    while (read (fd, buf, sizeof buf) > 0)
      ;
  for (guint i = 0; i < G_N_ELEMENTS (w->remove); i++)
    if (w->remove[i] != 0)
      purple_input_remove (w->remove[i]);
}

/* A read and a write watch on one fd: each is called for its own
 * condition only, and either can go while the other stays. */
static void
test_read_write_one_fd (void)
{
  Watched r = { .drain = TRUE }, wr = { 0 };
  int sv[2], total = 0;
  guint rid, wid;

  make_pair (sv);
  r.total = wr.total = &total;
  rid = purple_input_add (sv[0], PURPLE_INPUT_READ, on_input, &r);
  wid = purple_input_add (sv[0], PURPLE_INPUT_WRITE, on_input, &wr);
  g_assert_cmpuint (rid, >=, HANDLE_BASE);
  g_assert_cmpuint (wid, >=, HANDLE_BASE);
  g_assert_cmpuint (rid, !=, wid);

  run_until (&wr.calls, 1); /* a fresh socket is writable */
  g_assert_cmpint (wr.cond, ==, PURPLE_INPUT_WRITE);
  g_assert_cmpint (wr.fd, ==, sv[0]);
  g_assert_cmpint (r.calls, ==, 0);

  g_assert_true (purple_input_remove (wid));
  run_passes (5);
  g_assert_cmpint (r.calls, ==, 0);
  total = 0;
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);
  run_until (&r.calls, 1);
  g_assert_cmpint (r.cond, ==, PURPLE_INPUT_READ);
  run_passes (5);
  g_assert_cmpint (total, ==, 1); /* the write watch is gone, the read drained */

  g_assert_true (purple_input_remove (rid));
  g_assert_false (purple_input_remove (rid));
  close (sv[0]);
  close (sv[1]);
}

/* A hang-up wakes a read watch (the read then sees end of file). */
static void
test_hangup (void)
{
  Watched r = { 0 };
  int sv[2];
  guint id;

  make_pair (sv);
  id = purple_input_add (sv[0], PURPLE_INPUT_READ, on_input, &r);
  close (sv[1]);
  run_until (&r.calls, 1);
  g_assert_cmpint (r.cond, ==, PURPLE_INPUT_READ);
  g_assert_true (purple_input_remove (id));
  close (sv[0]);
}

/* Callbacks remove their own watch, another ready one (on another fd or
 * on the same), and add new ones, within one dispatch. */
static void
test_remove_in_callback (void)
{
  Watched a = { .drain = TRUE }, b = { .drain = TRUE }, c = { 0 };
  int p[2], q[2], total = 0;
  guint ida, idb, idc;

  make_pair (p);
  make_pair (q);
  a.total = b.total = c.total = &total;
  ida = purple_input_add (p[0], PURPLE_INPUT_READ, on_input, &a);
  idb = purple_input_add (q[0], PURPLE_INPUT_READ, on_input, &b);
  idc = purple_input_add (q[0], PURPLE_INPUT_WRITE, on_input, &c);
  /* Whichever runs first takes all three away. */
  a.remove[0] = b.remove[0] = c.remove[0] = ida;
  a.remove[1] = b.remove[1] = c.remove[1] = idb;
  a.remove[2] = b.remove[2] = c.remove[2] = idc;
  g_assert_cmpint (write (p[1], "x", 1), ==, 1);
  g_assert_cmpint (write (q[1], "x", 1), ==, 1);
  run_until (&total, 1);
  run_passes (5);
  g_assert_cmpint (total, ==, 1);
  g_assert_false (purple_input_remove (ida));
  g_assert_false (purple_input_remove (idb));
  g_assert_false (purple_input_remove (idc));
  close (p[0]), close (p[1]), close (q[0]), close (q[1]);
}

typedef struct
{
  int fd;
  guint handle; /* of the watch it adds */
  Watched *added;
} Adder;

static void
add_from_callback (gpointer data, gint fd, PurpleInputCondition cond)
{
  Adder *adder = data;

  (void)cond;
  g_assert_true (purple_input_remove (adder->handle)); /* its own */
  adder->handle = purple_input_add (fd, PURPLE_INPUT_READ, on_input, adder->added);
}

static void
test_add_in_callback (void)
{
  Watched added = { .drain = TRUE };
  Adder adder = { .added = &added };
  int sv[2];

  make_pair (sv);
  adder.handle = purple_input_add (sv[0], PURPLE_INPUT_WRITE, add_from_callback, &adder);
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);
  run_until (&added.calls, 1);
  g_assert_cmpint (added.cond, ==, PURPLE_INPUT_READ);
  g_assert_true (purple_input_remove (adder.handle));
  close (sv[0]);
  close (sv[1]);
}

/* libpurple closes a socket and forgets its watch: epoll drops the fd by
 * itself, the loop does not spin on it, and a new socket with the same
 * number gets a watch that works. */
static void
test_closed_fd_reused (void)
{
  Watched stale = { 0 }, fresh = { .drain = TRUE };
  int sv[2], old_fd;
  guint stale_id, fresh_id;

  make_pair (sv);
  old_fd = sv[0];
  stale_id = purple_input_add (sv[0], PURPLE_INPUT_READ, on_input, &stale);
  close (sv[0]);
  close (sv[1]);
  run_passes (5);
  g_assert_cmpint (stale.calls, ==, 0);

  make_pair (sv);
  g_assert_cmpint (sv[0], ==, old_fd); /* the lowest free number again */
  fresh_id = purple_input_add (sv[0], PURPLE_INPUT_READ, on_input, &fresh);
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);
  run_until (&fresh.calls, 1);
  g_assert_cmpint (fresh.fd, ==, sv[0]);

  /* Late removal of the forgotten watch leaves the new one watched. */
  g_assert_true (purple_input_remove (stale_id));
  g_assert_cmpint (write (sv[1], "y", 1), ==, 1);
  run_until (&fresh.calls, 2);
  g_assert_cmpint (fresh.calls, ==, 2);
  g_assert_true (purple_input_remove (fresh_id));
  close (sv[0]);
  close (sv[1]);

  /* And once all of its watches are gone, the number can come back. */
  make_pair (sv);
  fresh_id = purple_input_add (sv[0], PURPLE_INPUT_READ, on_input, &fresh);
  g_assert_cmpint (write (sv[1], "z", 1), ==, 1);
  run_until (&fresh.calls, 3);
  g_assert_cmpint (fresh.calls, ==, 3);
  g_assert_true (purple_input_remove (fresh_id));
  close (sv[0]);
  close (sv[1]);
}

/* A socket closed before its watch is removed while its file lives on
 * (here a dup; in purplegate, libpurple's forked DNS resolvers) stays in
 * the epoll set where no DEL reaches it: the loop must not spin on it,
 * and the other watches go on. */
static void
test_closed_fd_kept_open (void)
{
  Watched gone = { 0 }, live = { .drain = TRUE };
  int sv[2], other[2], copy;
  guint gone_id, live_id;
  gboolean busy = TRUE;

  make_pair (sv);
  make_pair (other);
  copy = dup (sv[0]);
  gone_id = purple_input_add (sv[0], PURPLE_INPUT_READ, on_input, &gone);
  live_id = purple_input_add (other[0], PURPLE_INPUT_READ, on_input, &live);
  close (sv[0]);
  g_assert_true (purple_input_remove (gone_id));
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1); /* copy is readable for good */
  for (int i = 0; i < 10 && busy; i++)
    busy = g_main_context_iteration (NULL, FALSE);
  g_assert_false (busy);
  g_assert_cmpint (gone.calls, ==, 0);

  g_assert_cmpint (write (other[1], "y", 1), ==, 1);
  run_until (&live.calls, 1);
  g_assert_cmpint (live.calls, ==, 1);
  g_assert_true (purple_input_remove (live_id));
  close (copy), close (sv[1]), close (other[0]), close (other[1]);
}

/* More ready sockets than one dispatch serves: all are served. */
static void
test_many_ready (void)
{
  enum
  {
    N = 150
  };
  int pairs[N][2], total = 0;
  Watched w[N];
  guint ids[N];

  memset (w, 0, sizeof w);
  for (int i = 0; i < N; i++)
    {
      make_pair (pairs[i]);
      w[i].drain = TRUE;
      w[i].total = &total;
      ids[i] = purple_input_add (pairs[i][0], PURPLE_INPUT_READ, on_input, &w[i]);
      g_assert_cmpint (write (pairs[i][1], "x", 1), ==, 1);
    }
  run_until (&total, N);
  for (int i = 0; i < N; i++)
    {
      g_assert_cmpint (w[i].calls, ==, 1);
      g_assert_true (purple_input_remove (ids[i]));
      close (pairs[i][0]);
      close (pairs[i][1]);
    }
}

/* ---- Timeouts ---------------------------------------------------------------- */

typedef struct
{
  GString *log;
  int *done;
} Order;

typedef struct
{
  Order *order;
  char name;
  int repeats; /* returns TRUE this many times */
  guint remove[2];
  int calls;
} Timed;

static gboolean
on_timeout (gpointer data)
{
  Timed *t = data;

  t->calls++;
  g_string_append_c (t->order->log, t->name);
  (*t->order->done)++;
  for (guint i = 0; i < G_N_ELEMENTS (t->remove); i++)
    if (t->remove[i] != 0)
      purple_timeout_remove (t->remove[i]);
  return t->calls <= t->repeats;
}

static void
test_timeout_order (void)
{
  int done = 0;
  Order order = { g_string_new (NULL), &done };
  Timed d = { .order = &order, .name = 'd' }, b = { .order = &order, .name = 'b' },
        c = { .order = &order, .name = 'c' }, a = { .order = &order, .name = 'a' };
  Timed a2 = { .order = &order, .name = 'A' };

  g_assert_cmpuint (purple_timeout_add (60, on_timeout, &d), >=, HANDLE_BASE);
  purple_timeout_add (20, on_timeout, &b);
  purple_timeout_add (40, on_timeout, &c);
  purple_timeout_add (0, on_timeout, &a);
  purple_timeout_add (0, on_timeout, &a2); /* same time: the older first */
  run_until (&done, 5);
  g_assert_cmpstr (order.log->str, ==, "aAbcd");
  g_string_free (order.log, TRUE);
}

static void
test_timeout_repeat (void)
{
  int done = 0;
  Order order = { g_string_new (NULL), &done };
  Timed r = { .order = &order, .name = 'r', .repeats = 3 };
  guint id;
  gint64 start = g_get_monotonic_time ();

  id = purple_timeout_add (10, on_timeout, &r);
  run_until (&done, 4);
  g_assert_cmpint (r.calls, ==, 4);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 40 * 1000); /* each after its interval */
  run_passes (3);
  g_assert_false (purple_timeout_remove (id)); /* it ended itself */
  g_string_free (order.log, TRUE);
}

/* A zero timeout that repeats runs once per pass, not in a busy loop
 * inside one dispatch. */
static void
test_timeout_zero_repeat (void)
{
  int done = 0;
  Order order = { g_string_new (NULL), &done };
  Timed z = { .order = &order, .name = 'z', .repeats = 1000 };
  guint id = purple_timeout_add (0, on_timeout, &z);

  g_main_context_iteration (NULL, FALSE);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (z.calls, <=, 2);
  g_assert_true (purple_timeout_remove (id));
  g_string_free (order.log, TRUE);
}

/* A callback removes itself (and asks to repeat) and another due one. */
static void
test_timeout_remove_in_callback (void)
{
  int done = 0;
  Order order = { g_string_new (NULL), &done };
  Timed first = { .order = &order, .name = '1', .repeats = 100 }, second = { .order = &order, .name = '2' },
        later = { .order = &order, .name = '3' };
  guint id1, id2, id3;

  id1 = purple_timeout_add (0, on_timeout, &first);
  id2 = purple_timeout_add (0, on_timeout, &second);
  id3 = purple_timeout_add (30, on_timeout, &later);
  first.remove[0] = id1;
  first.remove[1] = id2;
  run_until (&done, 2);
  g_assert_cmpstr (order.log->str, ==, "13");
  g_assert_false (purple_timeout_remove (id1));
  g_assert_false (purple_timeout_remove (id2));
  g_assert_false (purple_timeout_remove (id3));
  g_string_free (order.log, TRUE);
}

static void
test_timeout_seconds (void)
{
  int done = 0;
  Order order = { g_string_new (NULL), &done };
  Timed s = { .order = &order, .name = 's' };
  gint64 start = g_get_monotonic_time ();

  purple_timeout_add_seconds (1, on_timeout, &s);
  run_until (&done, 1);
  g_assert_cmpint (s.calls, ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC - 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  g_string_free (order.log, TRUE);
}

static gboolean
glib_timeout (gpointer data)
{
  (*(int *)data)++;
  return G_SOURCE_REMOVE;
}

/* Unknown handles are answered with FALSE, quietly; a purple handle given
 * to g_source_remove() removes nothing of GLib's; a GLib id given to
 * libpurple's remove removes that GLib source, as it did. */
static void
test_handles (void)
{
  int done = 0, glib_calls = 0;
  Order order = { g_string_new (NULL), &done };
  Timed t = { .order = &order, .name = 't' };
  guint id, glib_id;

  g_assert_false (purple_input_remove (0));
  g_assert_false (purple_timeout_remove (0));
  g_assert_false (purple_input_remove (HANDLE_BASE + 12345));
  g_assert_false (purple_timeout_remove (HANDLE_BASE + 12345));
  g_assert_false (purple_timeout_remove (HANDLE_BASE - 1));

  id = purple_timeout_add (0, on_timeout, &t);
  g_test_expect_message ("GLib", G_LOG_LEVEL_CRITICAL, "*Source ID*was not found*");
  g_source_remove (id);
  g_test_assert_expected_messages ();
  run_until (&done, 1);
  g_assert_cmpint (t.calls, ==, 1);

  glib_id = g_timeout_add (0, glib_timeout, &glib_calls);
  g_assert_cmpuint (glib_id, <, HANDLE_BASE);
  g_assert_true (purple_timeout_remove (glib_id));
  run_passes (3);
  g_assert_cmpint (glib_calls, ==, 0);
  g_string_free (order.log, TRUE);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_assert_true (pg_purple_eventloop_init (&error));
  g_assert_no_error (error);
  purple_eventloop_set_ui_ops (pg_purple_eventloop_get_ui_ops ());

  g_test_add_func ("/purple-eventloop/input/read-write-one-fd", test_read_write_one_fd);
  g_test_add_func ("/purple-eventloop/input/hangup", test_hangup);
  g_test_add_func ("/purple-eventloop/input/remove-in-callback", test_remove_in_callback);
  g_test_add_func ("/purple-eventloop/input/add-in-callback", test_add_in_callback);
  g_test_add_func ("/purple-eventloop/input/closed-fd-reused", test_closed_fd_reused);
  g_test_add_func ("/purple-eventloop/input/closed-fd-kept-open", test_closed_fd_kept_open);
  g_test_add_func ("/purple-eventloop/input/many-ready", test_many_ready);
  g_test_add_func ("/purple-eventloop/timeout/order", test_timeout_order);
  g_test_add_func ("/purple-eventloop/timeout/repeat", test_timeout_repeat);
  g_test_add_func ("/purple-eventloop/timeout/zero-repeat", test_timeout_zero_repeat);
  g_test_add_func ("/purple-eventloop/timeout/remove-in-callback", test_timeout_remove_in_callback);
  g_test_add_func ("/purple-eventloop/timeout/seconds", test_timeout_seconds);
  g_test_add_func ("/purple-eventloop/handles", test_handles);
  ret = g_test_run ();

  pg_purple_eventloop_shutdown ();
  g_assert_false (purple_timeout_remove (HANDLE_BASE)); /* after shutdown: quietly */
  return ret;
}
