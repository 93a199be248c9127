/* legacy/account-mark.c — pg_purple_account_mark_sent(): which of the
 * messages handed to prpl-irc are written in full to the connection, and
 * which the IRC server has processed, known as soon as possible.
 *
 * A confirmation (account-confirm.c) asks the server, but for the outbox's
 * batches, 100 ms after their first message, and its answer travels to the
 * main process as a frame: a worker that crashes meanwhile leaves messages
 * the server had received unconfirmed, and they would be sent twice.  A
 * mark is a line queued through prpl-irc's send_raw right behind each batch
 * of messages the worker was handed.  prpl-irc writes its queue in order,
 * emitting "irc-sending-text" for each line just before its write, and puts
 * back at the head what a short write left of a line: when the mark's line
 * comes, every line before it is written in full.  That is what counts
 * where the main process holds the connection too (legacy/held-socket.h):
 * after a crash it ends the connection the way a client does (the server
 * reads everything, then the end), and the server processes every line
 * written.  There the mark is sent as that many bytes of empty lines,
 * which servers ignore without answer (RFC 2812 §2.3.1: empty messages are
 * silently ignored); the length stays the line's, so prpl-irc does not take
 * the line for partly written.
 *
 * Elsewhere (the main process could not take the connection) written is
 * not enough: a worker that dies with unread input has its kernel reset
 * the connection and drop what it still held, and a server may not process
 * what it received from a client that is gone.  The mark is then a PING
 * with a token of its own: the server processes one client's lines in
 * order, so its PONG proves every message before the PING processed, one
 * round trip after the batch was written.  The PONG is read with
 * "irc-receiving-text" (prpl-irc ignores a PONG whose argument has no
 * space, irc_msg_pong).  Either way the worker writes what a mark proves
 * into its sent note (legacy/sent-note.h) at once.
 *
 * One mark at a time waits in prpl-irc's queue: a mark asked for meanwhile
 * follows once it is written, so that under prpl-irc's rate limit marks
 * take no more of its lines than the messages do. */
#define G_LOG_DOMAIN "pg-account"

#include "legacy/account-private.h"
#include "legacy/purple-eventloop.h"

#include <string.h>

#define TOKEN_PREFIX "pg-mark-"

typedef struct
{
  guint64 serial; /* of the line */
  guint64 tag;    /* the last message before it */
  gboolean ask;   /* a PING, answered; else empty lines once written */
} Mark;

struct PgAccountMarks
{
  PgPurpleAccountMarkFunc func;
  gpointer data;
  gboolean round_trip;  /* marks are PINGs (pg_purple_account_set_mark_round_trip()) */
  PurpleConnection *gc; /* the connection the marks are of (compared only) */
  guint64 serial;       /* of the last mark line */
  guint64 wanted;       /* the last tag asked to be marked */
  char *queued;         /* the line waiting in prpl-irc's queue; NULL: none */
  Mark queued_mark;
  char *blanked; /* the line just sent as empty lines, while a rest of it may follow */
  GArray *asked; /* Mark, oldest first: PINGs written, not answered */
  guint requeue_id;
};

static gboolean
is_marked_protocol (PurpleConnection *gc)
{
  PurplePlugin *prpl = gc != NULL ? purple_connection_get_prpl (gc) : NULL;

  return prpl != NULL && g_strcmp0 (purple_plugin_get_id (prpl), "prpl-irc") == 0
         && PURPLE_PLUGIN_PROTOCOL_INFO (prpl)->send_raw != NULL;
}

gboolean
pg_purple_account_is_marked (PgPurpleAccount *account)
{
  g_return_val_if_fail (account != NULL, FALSE);

  return account->marks != NULL
         && g_strcmp0 (purple_account_get_protocol_id (account->purple), "prpl-irc") == 0;
}

/* Forgets every mark (of a connection that is gone) for those of @gc. */
static void
marks_reset (PgAccountMarks *marks, PurpleConnection *gc)
{
  marks->gc = gc;
  marks->wanted = 0;
  memset (&marks->queued_mark, 0, sizeof marks->queued_mark);
  g_clear_pointer (&marks->queued, g_free);
  g_clear_pointer (&marks->blanked, g_free);
  g_array_set_size (marks->asked, 0);
  g_clear_handle_id (&marks->requeue_id, g_source_remove);
}

/* The live connection of @account, or NULL. */
static PurpleConnection *
live_connection (PgPurpleAccount *account)
{
  if (account->dying || !pg_purple_account_is_connected (account))
    return NULL;
  return purple_account_get_connection (account->purple);
}

/* Queues a mark for everything asked so far; FALSE when prpl-irc would
 * not take it. */
static gboolean
queue_mark (PgAccountMarks *marks, PurpleConnection *gc)
{
  Mark mark = { ++marks->serial, marks->wanted, marks->round_trip };
  /* send_raw writes the bytes as given: the line ends here. */
  g_autofree char *line = g_strdup_printf ("PING " TOKEN_PREFIX "%" G_GUINT64_FORMAT "\r\n", mark.serial);

  if (PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc))->send_raw (gc, line, -1) < 0)
    return FALSE;
  marks->queued = g_steal_pointer (&line);
  marks->queued_mark = mark;
  pg_purple_eventloop_flush (gc);
  return TRUE;
}

/* The last mark queued is written: the next may follow. */
static gboolean
requeue (gpointer data)
{
  PgPurpleAccount *account = data;
  PgAccountMarks *marks = account->marks;
  PurpleConnection *gc = live_connection (account);

  marks->requeue_id = 0;
  if (gc != NULL && gc == marks->gc && marks->queued == NULL && marks->wanted > marks->queued_mark.tag)
    queue_mark (marks, gc);
  return G_SOURCE_REMOVE;
}

gboolean
pg_purple_account_mark_sent (PgPurpleAccount *account, guint64 tag)
{
  g_return_val_if_fail (account != NULL, FALSE);

  PgAccountMarks *marks = account->marks;
  PurpleConnection *gc = live_connection (account);
  if (marks == NULL || !is_marked_protocol (gc))
    return FALSE;
  if (gc != marks->gc)
    marks_reset (marks, gc);
  marks->wanted = MAX (marks->wanted, tag);
  if (marks->queued == NULL && marks->requeue_id == 0)
    return queue_mark (marks, gc);
  return TRUE;
}

static PgAccountMarks *
marks_of (PgPurpleAccount *account)
{
  if (account->marks == NULL)
    {
      account->marks = g_new0 (PgAccountMarks, 1);
      account->marks->asked = g_array_new (FALSE, FALSE, sizeof (Mark));
      account->marks->round_trip = TRUE;
    }
  return account->marks;
}

void
pg_purple_account_set_mark_func (PgPurpleAccount *account, PgPurpleAccountMarkFunc func, gpointer data)
{
  g_return_if_fail (account != NULL);

  PgAccountMarks *marks = marks_of (account);
  marks->func = func;
  marks->data = data;
}

void
pg_purple_account_set_mark_round_trip (PgPurpleAccount *account, gboolean round_trip)
{
  g_return_if_fail (account != NULL);

  marks_of (account)->round_trip = round_trip;
}

void
pg_purple_account_marks_free (PgPurpleAccount *account)
{
  PgAccountMarks *marks = account->marks;

  if (marks == NULL)
    return;
  marks_reset (marks, NULL);
  g_array_unref (marks->asked);
  g_free (marks);
  account->marks = NULL;
}

/* @len bytes of line ends. */
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
  if (marks == NULL || gc != marks->gc || text == NULL || *text == NULL)
    return;
  if (marks->queued == NULL || strcmp (*text, marks->queued) != 0)
    {
      /* What a short write left of a blanked mark comes next, alone; it is
       * prpl-irc's copy of the line, not the empty lines. */
      if (marks->blanked != NULL)
        {
          gsize len = strlen (*text);
          if (len > 0 && len <= strlen (marks->blanked) && g_str_has_suffix (marks->blanked, *text))
            {
              g_free (*text);
              *text = empty_lines (len);
              return;
            }
          g_clear_pointer (&marks->blanked, g_free);
        }
      return;
    }
  Mark mark = marks->queued_mark;
  if (mark.ask)
    {
      g_array_append_val (marks->asked, mark);
      g_clear_pointer (&marks->queued, g_free);
    }
  else
    {
      g_free (marks->blanked);
      marks->blanked = g_steal_pointer (&marks->queued);
      g_free (*text);
      *text = empty_lines (strlen (marks->blanked));
    }
  if (marks->func != NULL)
    marks->func (mark.tag, FALSE, marks->data);
  /* Not from here: prpl-irc is taking lines off its queue. */
  if (marks->requeue_id == 0 && marks->wanted > mark.tag)
    marks->requeue_id = g_idle_add (requeue, account);
}

static void
irc_receiving_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  PgAccountMarks *marks = account != NULL ? account->marks : NULL;
  guint64 serial, processed = 0;
  guint n = 0;

  (void)data;
  if (marks == NULL || marks->asked->len == 0 || gc != marks->gc || text == NULL || *text == NULL
      || (serial = pg_purple_irc_pong_serial (*text, TOKEN_PREFIX)) == 0)
    return;
  /* Only this login's own tokens: a PONG can only answer our own PING. */
  while (n < marks->asked->len && g_array_index (marks->asked, Mark, n).serial <= serial)
    processed = MAX (processed, g_array_index (marks->asked, Mark, n++).tag);
  g_array_remove_range (marks->asked, 0, n);
  if (processed > 0 && marks->func != NULL)
    marks->func (processed, TRUE, marks->data);
}

void
pg_purple_account_mark_install (void)
{
  static int handle;
  PurplePlugin *irc = purple_plugins_find_with_id ("prpl-irc");

  /* The signals are prpl-irc's own, registered when the plugin was probed. */
  if (irc != NULL)
    {
      purple_signal_connect (irc, "irc-sending-text", &handle, PURPLE_CALLBACK (irc_sending_text), NULL);
      purple_signal_connect (irc, "irc-receiving-text", &handle, PURPLE_CALLBACK (irc_receiving_text), NULL);
    }
}
