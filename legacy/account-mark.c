/* legacy/account-mark.c — pg_purple_account_mark_sent(): which of the
 * messages handed to prpl-irc the IRC server has received.
 *
 * A confirmation (account-confirm.c) proves what the server processed, but
 * only a round trip later: a worker that crashes meanwhile leaves messages
 * that reached the server unconfirmed, and they would be sent twice.  The
 * mark closes that gap from this side.  prpl-irc writes its queue in order
 * from a timer, emitting "irc-sending-text" for each line just before the
 * write, so a marker line queued behind a batch of messages is written
 * right after them.  When it comes, the handler notes where its end lies
 * in the connection's byte stream (what the server's TCP acknowledged plus
 * what the kernel still holds, SIOCOUTQ, plus the line) and sends, instead
 * of the marker, as many bytes of empty lines, which servers ignore (RFC
 * 2812 §2.3.1: empty messages are silently ignored); the length is the
 * marker's, so prpl-irc does not take the line for partly written.  Once
 * the server's TCP has acknowledged every byte up to there, the messages
 * before the marker are the server's: written is not enough, since a
 * process that dies with unread input has the kernel reset the connection
 * and drop what it still held.  Acknowledgements are polled, at once and
 * then at growing intervals while any mark waits.
 *
 * Only plain TCP connections are marked: on TLS the connection's socket is
 * not at hand (prpl-irc keeps it to itself), and what was sent and not
 * confirmed is sent again, as without marks.
 *
 * One marker at a time waits in prpl-irc's queue: a mark asked for while
 * one waits is queued once that one is written, so that under prpl-irc's
 * rate limit markers do not take more of its lines than the messages. */
#define G_LOG_DOMAIN "pg-account"

#include "legacy/account-private.h"
#include "legacy/purple-eventloop.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define MARKER_PREFIX "PGMARK pg-mark-"
/* Acknowledgements are looked for this long after the first look, doubling
 * up to the maximum: about a round trip passes between writing a mark and
 * knowing it received. */
#define POLL_FIRST_MS 1
#define POLL_MAX_MS 64

typedef struct
{
  guint64 tag;
  guint64 end; /* the byte of the connection's stream the marker ends at */
} Mark;

struct PgAccountMarks
{
  PgPurpleAccountReceivedFunc func;
  gpointer data;
  PurpleConnection *gc; /* the connection the marks are of (compared only) */
  guint64 serial;       /* of the last marker line */
  guint64 wanted;       /* the last tag asked to be marked */
  char *queued;         /* the marker waiting in prpl-irc's queue; NULL: none */
  guint64 queued_tag;
  char *written;   /* the marker just written, while a rest of it may follow */
  GArray *waiting; /* Mark, oldest first: written, not acknowledged yet */
  guint poll_id;
  guint poll_ms;
  guint requeue_id;
};

/* The login's plain TCP socket: prpl-irc's read watch of the connection is
 * gc->inpa (on TLS, it is the TLS connection's, and gc->inpa is 0). */
static int
connection_socket (PurpleConnection *gc)
{
  return gc->inpa > 0 ? pg_purple_eventloop_get_input_fd ((guint)gc->inpa) : -1;
}

/* Where the bytes written on @fd so far end in its stream, and how far the
 * peer acknowledged them; FALSE when @fd is no TCP socket that says so. */
static gboolean
stream_state (int fd, guint64 *written, guint64 *acked)
{
  struct tcp_info info;
  socklen_t len = sizeof info;
  int unacked = 0;

  memset (&info, 0, sizeof info);
  if (fd < 0 || getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0
      || len < offsetof (struct tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked
      || ioctl (fd, SIOCOUTQ, &unacked) < 0 || unacked < 0)
    return FALSE;
  *acked = info.tcpi_bytes_acked;
  *written = info.tcpi_bytes_acked + (guint64)unacked;
  return TRUE;
}

static gboolean
is_marked_protocol (PurpleConnection *gc)
{
  PurplePlugin *prpl = gc != NULL ? purple_connection_get_prpl (gc) : NULL;

  return prpl != NULL && g_strcmp0 (purple_plugin_get_id (prpl), "prpl-irc") == 0
         && PURPLE_PLUGIN_PROTOCOL_INFO (prpl)->send_raw != NULL;
}

/* Forgets every mark (of a connection that is gone). */
static void
marks_reset (PgAccountMarks *marks, PurpleConnection *gc)
{
  marks->gc = gc;
  marks->wanted = 0;
  g_clear_pointer (&marks->queued, g_free);
  g_clear_pointer (&marks->written, g_free);
  g_array_set_size (marks->waiting, 0);
  g_clear_handle_id (&marks->poll_id, g_source_remove);
  g_clear_handle_id (&marks->requeue_id, g_source_remove);
}

/* The live connection of @account the marks are of, or NULL (then the
 * marks are forgotten). */
static PurpleConnection *
marks_connection (PgPurpleAccount *account)
{
  PgAccountMarks *marks = account->marks;
  PurpleConnection *gc = !account->dying && pg_purple_account_is_connected (account)
                             ? purple_account_get_connection (account->purple)
                             : NULL;

  if (gc == NULL || gc != marks->gc)
    {
      marks_reset (marks, gc);
      return NULL;
    }
  return gc;
}

static gboolean poll_acks (gpointer data);

/* Reports what the server acknowledged; TRUE while marks wait. */
static gboolean
check_acks (PgPurpleAccount *account)
{
  PgAccountMarks *marks = account->marks;
  PurpleConnection *gc = marks_connection (account);
  guint64 written, acked, received = 0;
  guint n = 0;

  if (gc == NULL || !stream_state (connection_socket (gc), &written, &acked))
    {
      g_array_set_size (marks->waiting, 0);
      return FALSE;
    }
  while (n < marks->waiting->len && g_array_index (marks->waiting, Mark, n).end <= acked)
    received = g_array_index (marks->waiting, Mark, n++).tag;
  g_array_remove_range (marks->waiting, 0, n);
  if (n > 0 && marks->func != NULL)
    marks->func (received, marks->data);
  return marks->waiting->len > 0;
}

static void
arm_poll (PgPurpleAccount *account, guint ms)
{
  PgAccountMarks *marks = account->marks;

  g_clear_handle_id (&marks->poll_id, g_source_remove);
  marks->poll_ms = ms;
  marks->poll_id = g_timeout_add (ms, poll_acks, account);
}

static gboolean
poll_acks (gpointer data)
{
  PgPurpleAccount *account = data;
  PgAccountMarks *marks = account->marks;

  marks->poll_id = 0;
  if (check_acks (account))
    arm_poll (account, MIN (marks->poll_ms * 2, POLL_MAX_MS));
  return G_SOURCE_REMOVE;
}

/* Queues a marker for everything asked so far; FALSE when prpl-irc would
 * not take it. */
static gboolean
queue_marker (PgPurpleAccount *account, PurpleConnection *gc)
{
  PgAccountMarks *marks = account->marks;
  /* send_raw writes the bytes as given: the line ends here. */
  g_autofree char *line = g_strdup_printf (MARKER_PREFIX "%" G_GUINT64_FORMAT "\r\n", ++marks->serial);

  if (PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc))->send_raw (gc, line, -1) < 0)
    return FALSE;
  marks->queued = g_steal_pointer (&line);
  marks->queued_tag = marks->wanted;
  pg_purple_eventloop_flush (gc);
  return TRUE;
}

static gboolean
requeue (gpointer data)
{
  PgPurpleAccount *account = data;
  PgAccountMarks *marks = account->marks;
  PurpleConnection *gc = marks_connection (account);

  marks->requeue_id = 0;
  if (gc != NULL && marks->queued == NULL && marks->wanted > marks->queued_tag)
    queue_marker (account, gc);
  return G_SOURCE_REMOVE;
}

gboolean
pg_purple_account_mark_sent (PgPurpleAccount *account, guint64 tag)
{
  g_return_val_if_fail (account != NULL, FALSE);

  if (account->marks == NULL || account->dying || !pg_purple_account_is_connected (account))
    return FALSE;
  PurpleConnection *gc = purple_account_get_connection (account->purple);
  guint64 written, acked;
  if (!is_marked_protocol (gc) || !stream_state (connection_socket (gc), &written, &acked))
    return FALSE;
  PgAccountMarks *marks = account->marks;
  if (gc != marks->gc)
    marks_reset (marks, gc);
  marks->wanted = MAX (marks->wanted, tag);
  if (marks->queued == NULL && marks->requeue_id == 0)
    return queue_marker (account, gc);
  return TRUE;
}

void
pg_purple_account_set_received_func (PgPurpleAccount *account, PgPurpleAccountReceivedFunc func,
                                     gpointer data)
{
  g_return_if_fail (account != NULL);

  if (account->marks == NULL)
    {
      account->marks = g_new0 (PgAccountMarks, 1);
      account->marks->waiting = g_array_new (FALSE, FALSE, sizeof (Mark));
    }
  account->marks->func = func;
  account->marks->data = data;
}

void
pg_purple_account_marks_free (PgPurpleAccount *account)
{
  PgAccountMarks *marks = account->marks;

  if (marks == NULL)
    return;
  marks_reset (marks, NULL);
  g_array_unref (marks->waiting);
  g_free (marks);
  account->marks = NULL;
}

/* A line of @len bytes that servers ignore. Owned. */
static char *
empty_lines (gsize len)
{
  char *text = g_malloc (len + 1);

  memset (text, '\n', len);
  text[len] = '\0';
  return text;
}

static void
irc_sending_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  PgAccountMarks *marks = account != NULL ? account->marks : NULL;

  (void)data;
  if (marks == NULL || text == NULL || *text == NULL || gc != marks->gc)
    return;
  gsize len = strlen (*text);
  if (marks->queued != NULL && strcmp (*text, marks->queued) == 0)
    {
      guint64 written, acked;
      if (stream_state (connection_socket (gc), &written, &acked))
        {
          Mark mark = { marks->queued_tag, written + len };
          g_array_append_val (marks->waiting, mark);
          if (marks->poll_id == 0)
            arm_poll (account, POLL_FIRST_MS);
        }
      g_free (marks->written);
      marks->written = g_steal_pointer (&marks->queued);
      g_free (*text);
      *text = empty_lines (len);
      /* Not from here: prpl-irc is taking lines off its queue. */
      if (marks->wanted > marks->queued_tag && marks->requeue_id == 0)
        marks->requeue_id = g_idle_add (requeue, account);
      return;
    }
  /* What a partial write left of the marker comes next, alone. */
  if (marks->written != NULL && len > 0 && len < strlen (marks->written)
      && g_str_has_suffix (marks->written, *text))
    {
      g_free (*text);
      *text = empty_lines (len);
      return;
    }
  g_clear_pointer (&marks->written, g_free);
}

void
pg_purple_account_mark_install (void)
{
  static int handle;
  PurplePlugin *irc = purple_plugins_find_with_id ("prpl-irc");

  if (irc != NULL)
    purple_signal_connect (irc, "irc-sending-text", &handle, PURPLE_CALLBACK (irc_sending_text), NULL);
}
