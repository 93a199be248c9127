/* legacy/account-mark.c — pg_purple_account_mark_sent(): which of the
 * messages handed to prpl-irc the IRC server has processed, known as soon
 * as possible.
 *
 * A confirmation (account-confirm.c) asks the same thing, but for the
 * outbox's batches, 100 ms after their first message, and its answer
 * travels to the main process as a frame: a worker that crashes meanwhile
 * leaves messages the server had processed unconfirmed, and they would be
 * sent twice.  A mark is a PING with a token of its own queued through
 * prpl-irc's send_raw right behind each batch of messages the worker was
 * handed: prpl-irc writes its queue in order, the server processes one
 * client's lines in order, so its PONG proves every message before the
 * PING processed, one round trip after the batch was written.  The PONG
 * is read with "irc-receiving-text" (prpl-irc ignores a PONG whose argument
 * has no space, irc_msg_pong); the worker writes what it proves into its
 * sent note (legacy/sent-note.h) at once.
 *
 * Not written is not the test: a worker that dies with unread input has
 * its kernel reset the connection and drop what it still held, and a
 * server may not process what it received from a client that is gone; the
 * answer to the PING is what counts.
 *
 * One mark at a time waits in prpl-irc's queue ("irc-sending-text" says
 * when it is written): a mark asked for meanwhile follows once it is, so
 * that under prpl-irc's rate limit marks take no more of its lines than
 * the messages do. */
#define G_LOG_DOMAIN "pg-account"

#include "legacy/account-private.h"
#include "legacy/purple-eventloop.h"

#include <string.h>

#define TOKEN_PREFIX "pg-mark-"

typedef struct
{
  guint64 serial; /* of the PING */
  guint64 tag;    /* the last message before it */
} Mark;

struct PgAccountMarks
{
  PgPurpleAccountMarkFunc func;
  gpointer data;
  PurpleConnection *gc; /* the connection the marks are of (compared only) */
  guint64 serial;       /* of the last PING */
  guint64 wanted;       /* the last tag asked to be marked */
  char *queued;         /* the PING waiting in prpl-irc's queue; NULL: none */
  GArray *sent;         /* Mark, oldest first: queued or written, not answered */
  guint requeue_id;
};

static gboolean
is_marked_protocol (PurpleConnection *gc)
{
  PurplePlugin *prpl = gc != NULL ? purple_connection_get_prpl (gc) : NULL;

  return prpl != NULL && g_strcmp0 (purple_plugin_get_id (prpl), "prpl-irc") == 0
         && PURPLE_PLUGIN_PROTOCOL_INFO (prpl)->send_raw != NULL;
}

/* Forgets every mark (of a connection that is gone) for those of @gc. */
static void
marks_reset (PgAccountMarks *marks, PurpleConnection *gc)
{
  marks->gc = gc;
  marks->wanted = 0;
  g_clear_pointer (&marks->queued, g_free);
  g_array_set_size (marks->sent, 0);
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

/* Queues a PING for everything asked so far; FALSE when prpl-irc would
 * not take it. */
static gboolean
queue_mark (PgAccountMarks *marks, PurpleConnection *gc)
{
  Mark mark = { ++marks->serial, marks->wanted };
  /* send_raw writes the bytes as given: the line ends here. */
  g_autofree char *line = g_strdup_printf ("PING " TOKEN_PREFIX "%" G_GUINT64_FORMAT "\r\n", mark.serial);

  if (PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc))->send_raw (gc, line, -1) < 0)
    return FALSE;
  marks->queued = g_steal_pointer (&line);
  g_array_append_val (marks->sent, mark);
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
  guint64 last = marks->sent->len > 0 ? g_array_index (marks->sent, Mark, marks->sent->len - 1).tag : 0;

  marks->requeue_id = 0;
  if (gc != NULL && gc == marks->gc && marks->queued == NULL && marks->wanted > last)
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

void
pg_purple_account_set_mark_func (PgPurpleAccount *account, PgPurpleAccountMarkFunc func, gpointer data)
{
  g_return_if_fail (account != NULL);

  if (account->marks == NULL)
    {
      account->marks = g_new0 (PgAccountMarks, 1);
      account->marks->sent = g_array_new (FALSE, FALSE, sizeof (Mark));
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
  g_array_unref (marks->sent);
  g_free (marks);
  account->marks = NULL;
}

static void
irc_sending_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  PgAccountMarks *marks = account != NULL ? account->marks : NULL;

  (void)data;
  if (marks == NULL || marks->queued == NULL || gc != marks->gc || text == NULL || *text == NULL
      || strcmp (*text, marks->queued) != 0)
    return;
  g_clear_pointer (&marks->queued, g_free);
  /* Not from here: prpl-irc is taking lines off its queue. */
  if (marks->requeue_id == 0)
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
  if (marks == NULL || marks->sent->len == 0 || gc != marks->gc || text == NULL || *text == NULL
      || (serial = pg_purple_irc_pong_serial (*text, TOKEN_PREFIX)) == 0)
    return;
  /* Only this login's own tokens: a PONG can only answer our own PING. */
  while (n < marks->sent->len && g_array_index (marks->sent, Mark, n).serial <= serial)
    processed = MAX (processed, g_array_index (marks->sent, Mark, n++).tag);
  g_array_remove_range (marks->sent, 0, n);
  if (processed > 0 && marks->func != NULL)
    marks->func (processed, marks->data);
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
