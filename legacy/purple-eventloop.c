/* legacy/purple-eventloop.c — libpurple's eventloop UI ops on the GLib main
 * loop: timeouts map to GLib timeout sources, input watches to Unix fd
 * sources on the default main context. */
#define G_LOG_DOMAIN "pg-purple-loop"

#include "legacy/purple-eventloop.h"

#include "legacy/purple-core.h"

#include <glib-unix.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* GLib reports HUP, ERR and NVAL whatever was asked for; they wake either
 * kind of watch so that the protocol's read or write sees the failure. */
#define READ_COND (G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_NVAL)
#define WRITE_COND (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL)

typedef struct
{
  PurpleInputFunction func;
  gpointer data;
  PurpleInputCondition cond; /* what libpurple asked for */
  gpointer owner;            /* the login active when it was made */
} InputClosure;

/* libpurple's timeouts get a closure as their GLib user data, never the
 * protocol's own pointer: pg_purple_eventloop_flush() finds prpl-irc's send
 * timer by that pointer, and prpl-irc's other timers (the 45 s ISON poll)
 * go through here. */
typedef struct
{
  GSourceFunc func;
  gpointer data;
  gpointer owner; /* the login active when it was made */
} TimeoutClosure;

static gboolean
timeout_invoke (gpointer user_data)
{
  TimeoutClosure *closure = user_data;
  gpointer previous = pg_purple_activity_enter (closure->owner);
  gboolean again = closure->func (closure->data);
  pg_purple_activity_leave (previous);
  return again;
}

static TimeoutClosure *
timeout_closure_new (GSourceFunc function, gpointer data)
{
  TimeoutClosure *closure = g_new (TimeoutClosure, 1);

  closure->func = function;
  closure->data = data;
  closure->owner = pg_purple_activity_get ();
  return closure;
}

static guint
timeout_add (guint interval, GSourceFunc function, gpointer data)
{
  return g_timeout_add_full (G_PRIORITY_DEFAULT, interval, timeout_invoke,
                             timeout_closure_new (function, data), g_free);
}

static guint
timeout_add_seconds (guint interval, GSourceFunc function, gpointer data)
{
  return g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, interval, timeout_invoke,
                                     timeout_closure_new (function, data), g_free);
}

void
pg_purple_eventloop_flush (PurpleConnection *gc)
{
  PurplePlugin *prpl;
  gpointer irc;
  GSource *sender;

  g_return_if_fail (gc != NULL);

  /* prpl-irc 2.14 only queues a line (irc_send_len()); a timer it starts
   * at login with g_timeout_add_seconds (1, ..., irc) on GLib directly,
   * irc being the connection's protocol data, writes the queue as far as
   * its rate limit (account options ratelimit-interval, ratelimit-burst)
   * allows.  Making that timer due now moves no line past the limit, it
   * only saves the wait for the next whole-second tick; the timer re-arms
   * itself for one second after. */
  prpl = purple_connection_get_prpl (gc);
  if (prpl == NULL || g_strcmp0 (purple_plugin_get_id (prpl), "prpl-irc") != 0)
    return;
  irc = purple_connection_get_protocol_data (gc);
  if (irc == NULL)
    return;
  sender = g_main_context_find_source_by_funcs_user_data (NULL, &g_timeout_funcs, irc);
  if (sender != NULL)
    g_source_set_ready_time (sender, 0);
}

/* libpurple and its protocols sometimes remove a handle whose one-shot
 * timeout already returned FALSE; g_source_remove() would log a critical
 * for that, so a missing source is answered with FALSE instead. */
static gboolean
source_remove (guint handle)
{
  GSource *source = handle ? g_main_context_find_source_by_id (NULL, handle) : NULL;

  if (source == NULL)
    return FALSE;
  g_source_destroy (source);
  return TRUE;
}

static gboolean
input_invoke (int fd, GIOCondition condition, gpointer user_data)
{
  InputClosure *closure = user_data;
  int cond = 0;

  if (condition & READ_COND)
    cond |= PURPLE_INPUT_READ;
  if (condition & WRITE_COND)
    cond |= PURPLE_INPUT_WRITE;
  cond &= closure->cond;
  if (cond != 0)
    {
      gpointer previous = pg_purple_activity_enter (closure->owner);
      closure->func (closure->data, fd, (PurpleInputCondition)cond);
      pg_purple_activity_leave (previous);
    }
  return G_SOURCE_CONTINUE; /* libpurple removes its watches itself */
}

static guint
input_add (int fd, PurpleInputCondition cond, PurpleInputFunction func, gpointer user_data)
{
  InputClosure *closure;
  GIOCondition io_cond = 0;
  int one = 1;

  g_return_val_if_fail (fd >= 0 && func != NULL, 0);

  /* Protocols write short lines and stanzas and then wait for the answer;
   * with Nagle's algorithm and delayed ACKs each such exchange can stall
   * for up to 40 ms.  libpurple has no hook at connect time, so the flag
   * is set whenever a socket gets a watch.  Pipes and Unix sockets refuse
   * it (ENOTSOCK, EOPNOTSUPP), which is fine: only TCP sockets take it. */
  gboolean tcp = setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;

  if (cond & PURPLE_INPUT_READ)
    io_cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
  if (cond & PURPLE_INPUT_WRITE)
    io_cond |= G_IO_OUT | G_IO_HUP | G_IO_ERR;

  closure = g_new0 (InputClosure, 1);
  closure->func = func;
  closure->data = user_data;
  closure->cond = cond;
  closure->owner = pg_purple_activity_get ();
  if (tcp && (cond & PURPLE_INPUT_READ))
    pg_purple_socket_watched (closure->owner, fd);

  /* A bare fd source, not a GIOChannel watch: one allocation less per
   * legacy connection, and the fd stays libpurple's to close.  The source
   * frees the closure when it is removed. */
  GSource *source = g_unix_fd_source_new (fd, io_cond);
  /* GLib takes a source's fds out of the poll set while it dispatches,
   * unless it may recurse, and puts them back after: two wake-ups of the
   * loop and one more poll of every fd per read of a legacy socket.
   * Nothing runs a nested main loop from a protocol's callback. */
  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, G_SOURCE_FUNC (input_invoke), closure, g_free);
  guint id = g_source_attach (source, NULL);
  g_source_unref (source);
  return id;
}

static int
input_get_error (int fd, int *error)
{
  socklen_t len = sizeof *error;

  return getsockopt (fd, SOL_SOCKET, SO_ERROR, error, &len);
}

static PurpleEventLoopUiOps eventloop_ops = {
  .timeout_add = timeout_add,
  .timeout_remove = source_remove,
  .input_add = input_add,
  .input_remove = source_remove,
  .input_get_error = input_get_error,
  .timeout_add_seconds = timeout_add_seconds,
};

PurpleEventLoopUiOps *
pg_purple_eventloop_get_ui_ops (void)
{
  return &eventloop_ops;
}
