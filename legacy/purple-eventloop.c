/* legacy/purple-eventloop.c — libpurple's eventloop UI ops on the GLib main
 * loop, with two GSources for all of libpurple's watches and timeouts.
 *
 * Why not one GLib source per watch and per timeout, as GLib's own helpers
 * do: with a login per legacy user a process has hundreds of them, and
 * every main-loop pass prepares, checks and polls each one — most of a
 * worker's CPU went to that bookkeeping and to the kernel polling every
 * socket, for a pass that serves a few lines.  Here a pass costs the same
 * whatever the number of logins:
 *  - input watches live in one epoll set (level-triggered, so that a
 *    watch behaves as with poll()); GLib polls only the epoll fd, and the
 *    source's dispatch asks epoll which sockets are ready;
 *  - timeouts live in one GSequence ordered by due time; GLib asks the
 *    source only for the earliest.
 *
 * Handles are the glue's own, from HANDLE_BASE up: see handle_remove().
 *
 * libpurple's UI ops take no user data, so the state is one static Loop,
 * made by pg_purple_eventloop_init() and freed by
 * pg_purple_eventloop_shutdown(), which purple-core.c calls around
 * libpurple's core init and quit; its GSources carry a pointer to it and
 * only the UI ops and pg_purple_eventloop_flush() read the static pointer. */
#define G_LOG_DOMAIN "pg-purple-loop"

#include "legacy/purple-eventloop.h"

#include "legacy/purple-core.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* GLib hands out source ids from 1 up and never comes near this in a
 * process's life; the glue's handles start here, so that a purple handle
 * given to g_source_remove() finds no GLib source (GLib logs "Source ID
 * … was not found") instead of removing an unrelated one. */
#define HANDLE_BASE 0x40000000u

/* At most this many ready sockets or due timeouts are served in one
 * dispatch, so that other sources (the XMPP stream, the worker's pipe)
 * get their turn; the rest stay ready for the next pass. */
#define IO_BATCH 64
#define TIMEOUT_BATCH 64

/* poll() reports hang-ups and errors whatever was asked for, and so does
 * epoll; they wake either kind of watch so that the protocol's read or
 * write sees the failure. */
#define EPOLL_READ (EPOLLIN | EPOLLHUP | EPOLLERR)
#define EPOLL_WRITE (EPOLLOUT | EPOLLHUP | EPOLLERR)

typedef struct
{
  guint handle;
  int fd;
  PurpleInputCondition cond; /* what libpurple asked for */
  PurpleInputFunction func;
  gpointer data;
  gpointer owner; /* the login active when it was made */
} Watch;

/* The watches of one fd: epoll takes an fd once, so a read and a write
 * watch on it are registered as the union of their events. */
typedef struct
{
  int fd;
  /* Tags the fd's epoll events: an event read in the same batch as the
   * fd was dropped or found closed belongs to an earlier file with this
   * number and is ignored (see io_serve()). */
  guint32 serial;
  gboolean registered; /* in the epoll set (as far as the glue knows) */
  GPtrArray *watches;  /* Watch, borrowed from Loop.watches */
} FdWatches;

typedef struct
{
  guint handle;
  guint64 order;  /* ties between equal due times go to the older */
  gint64 due;     /* monotonic µs */
  guint interval; /* ms, or s if seconds */
  gboolean seconds;
  GSourceFunc func;
  gpointer data;
  gpointer owner;        /* the login active when it was made */
  GSequenceIter *queued; /* in Loop.queue, or NULL while it runs */
} Timer;

typedef struct Loop Loop;

typedef struct
{
  GSource source;
  Loop *loop;
} LoopSource;

struct Loop
{
  int epoll_fd;
  GSource *io;         /* polls epoll_fd, dispatches the watches */
  gpointer io_tag;     /* epoll_fd in io */
  guint stale_passes;  /* dispatches in a row that read a stale event */
  GHashTable *watches; /* handle → Watch, owned */
  GHashTable *fds;     /* fd → FdWatches, owned */
  guint32 next_serial;
  GSource *clock;     /* dispatches the timers */
  GHashTable *timers; /* handle → Timer, owned */
  GSequence *queue;   /* Timer, borrowed, by due then order */
  guint64 next_order;
  guint next_handle;
  /* prpl-irc connection data → the GLib timer that writes its queue
   * (pg_purple_eventloop_flush()), referenced: finding it walks every
   * source of the main context, once per line sent otherwise. */
  GHashTable *irc_senders;
};

static Loop *loop;

static guint
handle_new (Loop *self)
{
  guint handle;

  do
    {
      handle = self->next_handle++;
      if (self->next_handle == 0) /* after four billion handles */
        self->next_handle = HANDLE_BASE;
    }
  while (g_hash_table_contains (self->watches, GUINT_TO_POINTER (handle))
         || g_hash_table_contains (self->timers, GUINT_TO_POINTER (handle)));
  return handle;
}

/* ---- Timeouts --------------------------------------------------------------- */

static gint
timer_compare (gconstpointer a, gconstpointer b, gpointer data)
{
  const Timer *x = a, *y = b;

  (void)data;
  if (x->due != y->due)
    return x->due < y->due ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static void
timer_free (gpointer data)
{
  Timer *timer = data;

  if (timer->queued != NULL)
    g_sequence_remove (timer->queued);
  g_free (timer);
}

/* Queues @timer for @interval after @now.  Seconds timeouts fall due on a
 * whole second, as GLib's do, so that the logins' periodic timers wake
 * the process together rather than each on its own. */
static void
timer_queue (Loop *self, Timer *timer, gint64 now)
{
  if (timer->seconds)
    timer->due = (now + (gint64)timer->interval * G_USEC_PER_SEC + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC
                 * G_USEC_PER_SEC;
  else
    timer->due = now + (gint64)timer->interval * 1000;
  timer->order = self->next_order++;
  timer->queued = g_sequence_insert_sorted (self->queue, timer, timer_compare, NULL);
}

static Timer *
timer_first (Loop *self)
{
  GSequenceIter *first = g_sequence_get_begin_iter (self->queue);

  return g_sequence_iter_is_end (first) ? NULL : g_sequence_get (first);
}

/* The source has no ready time: prepare() tells GLib how long it may
 * sleep.  Setting a ready time on each change of the earliest timer would
 * wake the context (an eventfd write) every time a login adds one. */
static gboolean
clock_prepare (GSource *source, gint *timeout)
{
  Timer *first = timer_first (((LoopSource *)source)->loop);
  gint64 now;

  *timeout = -1;
  if (first == NULL)
    return FALSE;
  now = g_source_get_time (source);
  if (first->due <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  *timeout = (gint)MIN ((first->due - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
clock_check (GSource *source)
{
  Timer *first = timer_first (((LoopSource *)source)->loop);

  return first != NULL && first->due <= g_source_get_time (source);
}

static gboolean
clock_dispatch (GSource *source, GSourceFunc unused, gpointer unused_data)
{
  Loop *self = ((LoopSource *)source)->loop;
  gint64 now = g_source_get_time (source);
  guint due[TIMEOUT_BATCH];
  guint n = 0;
  Timer *timer;

  (void)unused, (void)unused_data;
  /* Taken off the queue first: what a callback adds or re-arms for now
   * waits for the next pass rather than running again in this one. */
  while (n < TIMEOUT_BATCH && (timer = timer_first (self)) != NULL && timer->due <= now)
    {
      g_sequence_remove (timer->queued);
      timer->queued = NULL;
      due[n++] = timer->handle;
    }
  for (guint i = 0; i < n; i++)
    {
      /* Looked up by handle: an earlier callback may have removed it. */
      timer = g_hash_table_lookup (self->timers, GUINT_TO_POINTER (due[i]));
      if (timer == NULL)
        continue;
      gpointer previous = pg_purple_activity_enter (timer->owner);
      gboolean again = timer->func (timer->data);
      pg_purple_activity_leave (previous);
      /* And again: the callback may have removed it, its own or not. */
      timer = g_hash_table_lookup (self->timers, GUINT_TO_POINTER (due[i]));
      if (timer == NULL)
        continue;
      if (again)
        timer_queue (self, timer, now);
      else
        g_hash_table_remove (self->timers, GUINT_TO_POINTER (due[i]));
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs clock_funcs = {
  .prepare = clock_prepare,
  .check = clock_check,
  .dispatch = clock_dispatch,
};

static guint
timer_add (guint interval, gboolean seconds, GSourceFunc func, gpointer data)
{
  Timer *timer;

  g_return_val_if_fail (loop != NULL && func != NULL, 0);

  timer = g_new0 (Timer, 1);
  timer->handle = handle_new (loop);
  timer->interval = interval;
  timer->seconds = seconds;
  timer->func = func;
  timer->data = data;
  timer->owner = pg_purple_activity_get ();
  g_hash_table_insert (loop->timers, GUINT_TO_POINTER (timer->handle), timer);
  timer_queue (loop, timer, g_get_monotonic_time ());
  return timer->handle;
}

static guint
timeout_add (guint interval, GSourceFunc function, gpointer data)
{
  return timer_add (interval, FALSE, function, data);
}

static guint
timeout_add_seconds (guint interval, GSourceFunc function, gpointer data)
{
  return timer_add (interval, TRUE, function, data);
}

/* ---- Input watches ---------------------------------------------------------- */

static void
fd_watches_free (gpointer data)
{
  FdWatches *fdw = data;

  g_ptr_array_unref (fdw->watches);
  g_free (fdw);
}

/* Tells epoll what @fdw's watches want now, or drops the fd if none is
 * left.  libpurple may close a socket before it removes the watch (epoll
 * then forgets the fd by itself) and a new socket may get the same number
 * while a forgotten watch still names it: a MOD that finds no fd is
 * retried as an ADD, and the other way round. */
static void
fd_watches_sync (Loop *self, FdWatches *fdw)
{
  struct epoll_event event = { 0 };
  int fd = fdw->fd;

  if (fdw->watches->len == 0)
    {
      (void)epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, &event); /* ENOENT, EBADF: closed */
      g_hash_table_remove (self->fds, GINT_TO_POINTER (fd));
      return;
    }
  for (guint i = 0; i < fdw->watches->len; i++)
    {
      Watch *watch = g_ptr_array_index (fdw->watches, i);

      if (watch->cond & PURPLE_INPUT_READ)
        event.events |= EPOLLIN;
      if (watch->cond & PURPLE_INPUT_WRITE)
        event.events |= EPOLLOUT;
    }
  if (fdw->registered)
    {
      event.data.u64 = (guint64)fdw->serial << 32 | (guint32)fd;
      if (epoll_ctl (self->epoll_fd, EPOLL_CTL_MOD, fd, &event) == 0 || errno != ENOENT)
        return;                          /* EBADF: closed, and the watch forgotten */
      fdw->serial = self->next_serial++; /* the kernel's is a new file */
      fdw->registered = FALSE;
    }
  event.data.u64 = (guint64)fdw->serial << 32 | (guint32)fd;
  if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0
      || (errno == EEXIST && epoll_ctl (self->epoll_fd, EPOLL_CTL_MOD, fd, &event) == 0))
    fdw->registered = TRUE;
  else if (errno != EBADF) /* a forgotten watch of a closed fd stays quiet */
    g_warning ("cannot watch fd %d: %s", fd, g_strerror (errno));
}

/* Serves the watches of one ready fd; FALSE if the event is stale. */
static gboolean
io_serve (Loop *self, const struct epoll_event *event)
{
  int fd = (int)(guint32)event->data.u64;
  FdWatches *fdw = g_hash_table_lookup (self->fds, GINT_TO_POINTER (fd));
  guint handles_buf[8], *handles = handles_buf, n;
  int cond = 0;

  if (fdw == NULL || fdw->serial != (guint32)(event->data.u64 >> 32))
    return FALSE;
  if (event->events & EPOLL_READ)
    cond |= PURPLE_INPUT_READ;
  if (event->events & EPOLL_WRITE)
    cond |= PURPLE_INPUT_WRITE;

  /* Callbacks may remove any watch and add new ones: the fd's watches are
   * noted by handle and each looked up again when its turn comes. */
  n = fdw->watches->len;
  if (n > G_N_ELEMENTS (handles_buf))
    handles = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    handles[i] = ((Watch *)g_ptr_array_index (fdw->watches, i))->handle;
  for (guint i = 0; i < n; i++)
    {
      Watch *watch = g_hash_table_lookup (self->watches, GUINT_TO_POINTER (handles[i]));
      int wanted = watch != NULL && watch->fd == fd ? cond & (int)watch->cond : 0;

      if (wanted == 0)
        continue;
      gpointer previous = pg_purple_activity_enter (watch->owner);
      watch->func (watch->data, fd, (PurpleInputCondition)wanted);
      pg_purple_activity_leave (previous);
    }
  if (handles != handles_buf)
    g_free (handles);
  return TRUE;
}

/* epoll forgets an fd when its file is closed, not when the number is:
 * libpurple forks its DNS resolvers without exec, and a resolver holds
 * every socket the process had then.  A socket closed before its watch was
 * removed can so stay in the epoll set, out of reach (EPOLL_CTL_DEL needs
 * the number, which is gone or names another file), and if it is ready
 * it keeps the epoll fd readable: the loop would spin.  Such an event
 * comes back at every pass, where one for a watch removed during the same
 * dispatch comes once; after two passes in a row a new epoll set is made
 * from the watches there are. */
static void
io_rebuild (Loop *self)
{
  int fresh = epoll_create1 (EPOLL_CLOEXEC);
  GHashTableIter iter;
  gpointer fdw;

  self->stale_passes = 0;
  if (fresh < 0)
    {
      g_warning ("epoll_create1: %s", g_strerror (errno));
      return;
    }
  g_debug ("a closed socket stayed in the epoll set: making a new one");
  g_source_remove_unix_fd (self->io, self->io_tag);
  close (self->epoll_fd);
  self->epoll_fd = fresh;
  self->io_tag = g_source_add_unix_fd (self->io, fresh, G_IO_IN);
  g_hash_table_iter_init (&iter, self->fds);
  while (g_hash_table_iter_next (&iter, NULL, &fdw))
    {
      ((FdWatches *)fdw)->registered = FALSE;
      fd_watches_sync (self, fdw);
    }
}

static gboolean
io_dispatch (GSource *source, GSourceFunc unused, gpointer unused_data)
{
  Loop *self = ((LoopSource *)source)->loop;
  struct epoll_event events[IO_BATCH];
  int n;

  (void)unused, (void)unused_data;
  /* Level-triggered: what is left ready past the batch keeps the epoll fd
   * readable, and epoll hands out ready fds in turn. */
  n = epoll_wait (self->epoll_fd, events, IO_BATCH, 0);
  if (n < 0 && errno != EINTR)
    g_warning ("epoll_wait: %s", g_strerror (errno));
  gboolean stale = FALSE;
  for (int i = 0; i < n; i++)
    stale |= !io_serve (self, &events[i]);
  if (!stale)
    self->stale_passes = 0;
  else if (++self->stale_passes >= 2)
    io_rebuild (self);
  return G_SOURCE_CONTINUE;
}

/* No prepare or check: GLib dispatches the source when its one polled fd,
 * the epoll fd, is readable. */
static GSourceFuncs io_funcs = {
  .dispatch = io_dispatch,
};

static guint
input_add (int fd, PurpleInputCondition cond, PurpleInputFunction func, gpointer user_data)
{
  FdWatches *fdw;
  Watch *watch;
  int one = 1;

  g_return_val_if_fail (loop != NULL && fd >= 0 && func != NULL, 0);

  /* Protocols write short lines and stanzas and then wait for the answer;
   * with Nagle's algorithm and delayed ACKs each such exchange can stall
   * for up to 40 ms.  libpurple has no hook at connect time, so the flag
   * is set whenever a socket gets a watch.  Pipes and Unix sockets refuse
   * it (ENOTSOCK, EOPNOTSUPP), which is fine: only TCP sockets take it. */
  gboolean tcp = setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;

  watch = g_new0 (Watch, 1);
  watch->handle = handle_new (loop);
  watch->fd = fd;
  watch->cond = cond;
  watch->func = func;
  watch->data = user_data;
  watch->owner = pg_purple_activity_get ();
  g_hash_table_insert (loop->watches, GUINT_TO_POINTER (watch->handle), watch);
  if (tcp && (cond & PURPLE_INPUT_READ))
    pg_purple_socket_watched (watch->owner, fd);

  fdw = g_hash_table_lookup (loop->fds, GINT_TO_POINTER (fd));
  if (fdw == NULL)
    {
      fdw = g_new0 (FdWatches, 1);
      fdw->fd = fd;
      fdw->serial = loop->next_serial++;
      fdw->watches = g_ptr_array_new ();
      g_hash_table_insert (loop->fds, GINT_TO_POINTER (fd), fdw);
    }
  g_ptr_array_add (fdw->watches, watch);
  fd_watches_sync (loop, fdw);
  return watch->handle;
}

static gboolean
watch_remove (Loop *self, guint handle)
{
  Watch *watch = g_hash_table_lookup (self->watches, GUINT_TO_POINTER (handle));
  FdWatches *fdw;

  if (watch == NULL)
    return FALSE;
  fdw = g_hash_table_lookup (self->fds, GINT_TO_POINTER (watch->fd));
  g_ptr_array_remove (fdw->watches, watch);
  fd_watches_sync (self, fdw);
  g_hash_table_remove (self->watches, GUINT_TO_POINTER (handle));
  return TRUE;
}

static int
input_get_error (int fd, int *error)
{
  socklen_t len = sizeof *error;

  return getsockopt (fd, SOL_SOCKET, SO_ERROR, error, &len);
}

/* ---- Removal, flush, lifetime ----------------------------------------------- */

/* purple_input_remove() and purple_timeout_remove(): either kind of
 * handle, as when both were GLib source ids.  libpurple and its protocols
 * sometimes remove a one-shot timeout that already returned FALSE: an
 * unknown handle is answered with FALSE, quietly.  An id below HANDLE_BASE
 * is GLib's (a protocol's g_timeout_add() id given to libpurple's remove):
 * it is removed from GLib, as before the glue had handles of its own. */
static gboolean
handle_remove (guint handle)
{
  if (handle == 0)
    return FALSE;
  if (handle < HANDLE_BASE)
    {
      GSource *source = g_main_context_find_source_by_id (NULL, handle);

      if (source == NULL)
        return FALSE;
      g_source_destroy (source);
      return TRUE;
    }
  if (loop == NULL)
    return FALSE;
  return watch_remove (loop, handle) || g_hash_table_remove (loop->timers, GUINT_TO_POINTER (handle));
}

static gboolean
sender_gone (gpointer key, gpointer value, gpointer data)
{
  (void)key;
  (void)data;
  return g_source_is_destroyed (value);
}

/* The timer of @irc; NULL when it has none. A timer found is that of the
 * live connection @irc points to while it is not destroyed: the
 * connection removes it when it ends. */
static GSource *
irc_sender (Loop *self, gpointer irc)
{
  GSource *sender = g_hash_table_lookup (self->irc_senders, irc);

  if (sender != NULL && !g_source_is_destroyed (sender))
    return sender;
  sender = g_main_context_find_source_by_funcs_user_data (NULL, &g_timeout_funcs, irc);
  if (sender == NULL)
    return NULL;
  /* Ended connections leave destroyed timers behind: dropped in bulk. */
  if (g_hash_table_size (self->irc_senders) >= 2 * g_list_length (purple_connections_get_all ()) + 16)
    g_hash_table_foreach_remove (self->irc_senders, sender_gone, NULL);
  g_hash_table_replace (self->irc_senders, irc, g_source_ref (sender));
  return sender;
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
  sender = loop != NULL ? irc_sender (loop, irc) : NULL;
  if (sender != NULL)
    g_source_set_ready_time (sender, 0);
}

static GSource *
loop_source_new (Loop *self, GSourceFuncs *funcs, const char *name)
{
  GSource *source = g_source_new (funcs, sizeof (LoopSource));

  ((LoopSource *)source)->loop = self;
  g_source_set_name (source, name);
  /* GLib takes a source's fds out of the poll set while it dispatches,
   * unless it may recurse, and puts them back after: two more wake-ups
   * of the loop.  Nothing runs a nested main loop from a protocol's
   * callback. */
  g_source_set_can_recurse (source, TRUE);
  g_source_attach (source, NULL);
  return source;
}

gboolean
pg_purple_eventloop_init (GError **error)
{
  int epoll_fd;

  g_return_val_if_fail (loop == NULL, FALSE);

  epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (epoll_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno), "epoll_create1: %s",
                   g_strerror (saved_errno));
      return FALSE;
    }
  loop = g_new0 (Loop, 1);
  loop->epoll_fd = epoll_fd;
  loop->watches = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  loop->fds = g_hash_table_new_full (NULL, NULL, NULL, fd_watches_free);
  loop->timers = g_hash_table_new_full (NULL, NULL, NULL, timer_free);
  loop->irc_senders = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)g_source_unref);
  loop->queue = g_sequence_new (NULL);
  loop->next_handle = HANDLE_BASE;
  loop->io = loop_source_new (loop, &io_funcs, "libpurple input watches");
  loop->io_tag = g_source_add_unix_fd (loop->io, epoll_fd, G_IO_IN);
  loop->clock = loop_source_new (loop, &clock_funcs, "libpurple timeouts");
  return TRUE;
}

void
pg_purple_eventloop_shutdown (void)
{
  if (loop == NULL)
    return;
  g_source_destroy (loop->io);
  g_source_unref (loop->io);
  g_source_destroy (loop->clock);
  g_source_unref (loop->clock);
  g_hash_table_unref (loop->watches);
  g_hash_table_unref (loop->fds);
  g_hash_table_unref (loop->timers); /* each takes itself off the queue */
  g_hash_table_unref (loop->irc_senders);
  g_sequence_free (loop->queue);
  close (loop->epoll_fd);
  g_clear_pointer (&loop, g_free);
}

static PurpleEventLoopUiOps eventloop_ops = {
  .timeout_add = timeout_add,
  .timeout_remove = handle_remove,
  .input_add = input_add,
  .input_remove = handle_remove,
  .input_get_error = input_get_error,
  .timeout_add_seconds = timeout_add_seconds,
};

PurpleEventLoopUiOps *
pg_purple_eventloop_get_ui_ops (void)
{
  return &eventloop_ops;
}
