/* legacy/outbox.c — the persistent outbox towards the XMPP server: sending
 * stored rows in order, deleting them when the acknowledgement ping that
 * followed them comes back, and the one expiry timer of the whole outbox
 * (see legacy/outbox.h for the guarantee).  The queue towards the legacy
 * networks is in outbox-legacy.c. */
#define G_LOG_DOMAIN "pg-outbox"
#include "build-config.h"

#include "legacy/outbox.h"

#include "legacy/message.h"
#include "legacy/outbox-private.h"
#include "legacy/own-copy.h"
#include "legacy/session-private.h"
#include "transport/i18n.h"
#include "transport/ping.h"
#include "transport/xml-writer.h"

#include <string.h>

#define NS_DELAY "urn:xmpp:delay"
#define NS_SID "urn:xmpp:sid:0"
/* A to-legacy row whose expiry came while it was in flight is looked at
 * again this much later (the confirmation usually comes first). */
#define RECHECK_S 2

struct PgOutbox
{
  PgTransport *transport;
  gboolean link_up;
  /* To-user rows up to this id were written on the current link; the ones
   * still stored wait for their acknowledgement. */
  gint64 sent_upto;
  gboolean backlog; /* rows may wait above sent_upto */
  /* Written rows not followed by a ping yet: a row id (> 0), or minus the
   * serial of a row in @memory (< 0). */
  GArray *unacked;
  /* Rows written at once and not stored (see pg_outbox_to_user()), oldest
   * first, until their acknowledgement; always the newest rows in flight. */
  GQueue memory;
  gint64 memory_serial; /* of the last MemoryRow */
  gint64 boot;          /* makes their stanza ids unique across restarts */
  GQueue pings;         /* Ping written, oldest first */
  guint acking;         /* rows the pings cover */
  GHashTable *bouncing; /* ids of to-legacy rows whose bounce was written */
  guint ping_idle;      /* the ping source armed (idle or timeout) */
  gint64 last_ping_us;  /* monotonic time of the last ping written */
  guint expiry_id;
  gint64 expiry_at;  /* unix s of the armed timer */
  gboolean draining; /* pg_outbox_drain() */
  /* The host server refused a privileged copy on this stream: what users
   * write elsewhere goes marked from the contact until the next stream. */
  gboolean copies_refused;
};

/* An acknowledgement ping and the rows written before it. */
typedef struct
{
  char *id;
  GArray *rows; /* gint64 */
} Ping;

/* A to-user message written to the stream without being stored: it is
 * stored (row_id) when the link goes down before its acknowledgement, when
 * a row must be stored behind it, or when the stream could not hand it to
 * the kernel at once. */
typedef struct
{
  gint64 serial;
  gint64 row_id;          /* 0 until stored */
  PgStoreOutboxItem item; /* xmpp_id is its stanza id; id is 0 */
} MemoryRow;

static void
memory_row_free (MemoryRow *row)
{
  pg_store_outbox_item_clear (&row->item);
  g_free (row);
}

static void
ping_free (Ping *ping)
{
  g_free (ping->id);
  g_array_unref (ping->rows);
  g_free (ping);
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

char *
pg_outbox_dup_stanza_id (gint64 id)
{
  return g_strdup_printf ("pg-out-%" G_GINT64_FORMAT, id);
}

/* ---- the expiry timer ---- */

static gboolean on_expiry (gpointer data);

static void
arm_expiry (PgOutbox *outbox, gint64 at)
{
  gint64 now = now_s ();
  if (at <= 0 || (outbox->expiry_id != 0 && outbox->expiry_at <= at))
    return;
  g_clear_handle_id (&outbox->expiry_id, g_source_remove);
  outbox->expiry_at = MAX (at, now + 1);
  outbox->expiry_id = g_timeout_add_seconds ((guint)(outbox->expiry_at - now), on_expiry, outbox);
}

/* Arms the timer for the first expiry after @after (0: any); @recheck_s,
 * when not 0, is the latest wake-up wanted. */
static void
rearm_expiry (PgOutbox *outbox, gint64 after, gint64 recheck_s)
{
  g_autoptr (GError) error = NULL;
  gint64 next = pg_store_outbox_next_expiry (outbox->transport->store, after, &error);
  g_clear_handle_id (&outbox->expiry_id, g_source_remove);
  outbox->expiry_at = 0;
  if (next < 0)
    {
      g_warning ("cannot read the outbox: %s", error->message);
      next = now_s () + 60; /* try again later rather than never */
    }
  if (recheck_s > 0 && (next == 0 || next > now_s () + recheck_s))
    next = now_s () + recheck_s;
  arm_expiry (outbox, next);
}

void
pg_outbox_arm_expiry (PgTransport *transport, gint64 at)
{
  arm_expiry (transport->outbox, at);
}

/* ---- writing rows to the stream ---- */

static const char *
user_lang (PgTransport *transport, const char *bare_jid)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  return session != NULL ? session->lang : NULL;
}

/* XEP-0359: the same origin-id on every copy of a row. A copy can arrive
 * twice only when the XMPP server died between taking it and answering the
 * ping after it (legacy/outbox.h); clients that deduplicate by origin-id
 * then drop the second. The row's creation time keeps it unique when the
 * database, and so the row ids, start again. */
/* @value in @base (10 or 16, lowercase) at @out, which has room for 20
 * digits; returns how many. printf's machinery cost more than the rest of
 * an id, made twice per message. */
static gsize
put_number (char *out, guint64 value, guint base)
{
  char digits[20];
  gsize n = 0;
  do
    {
      digits[n++] = "0123456789abcdef"[value % base];
      value /= base;
    }
  while (value != 0);
  for (gsize i = 0; i < n; i++)
    out[i] = digits[n - 1 - i];
  return n;
}

static char *
origin_id (const PgStoreOutboxItem *item, const char *id)
{
  gsize len = strlen (id);
  char *out = g_malloc (len + 1 + 20 + 1);
  memcpy (out, id, len);
  out[len++] = '-';
  len += put_number (out + len, (guint64)item->created, 16);
  out[len] = '\0';
  return out;
}

/* "pg-out-m<boot, hex>-<serial>": a memory row's stanza id. */
static char *
memory_row_id (gint64 boot, gint64 serial)
{
  char *out = g_malloc (8 + 20 + 1 + 20 + 1);
  gsize len = 8;
  memcpy (out, "pg-out-m", 8);
  len += put_number (out + len, (guint64)boot, 16);
  out[len++] = '-';
  len += put_number (out + len, (guint64)serial, 10);
  out[len] = '\0';
  return out;
}

static PgStanza *
new_loss_report (PgTransport *transport, const PgStoreOutboxItem *item, const char *id)
{
  const char *lang = user_lang (transport, item->bare_jid);
  PgI18n *i18n = transport->i18n;
  g_autofree char *body = NULL;

  if (item->loss == PG_OUTBOX_LOSS_FULL)
    body = g_strdup_printf (pg_i18n_translate (i18n, lang,
                                               N_ ("%u message(s) from %s could not be kept: the "
                                                   "gateway's queue for you was full.")),
                            item->lost, item->peer);
  else
    body = g_strdup_printf (pg_i18n_translate (i18n, lang,
                                               N_ ("%u message(s) from %s expired before they could be "
                                                   "delivered.")),
                            item->lost, item->peer);
  PgStanza *headline
      = pg_stanza_new ("message", transport->config->component_jid, item->bare_jid, "headline", id);
  pg_stanza_set_attr (headline, "xml:lang", pg_i18n_get_language (i18n, lang));
  pg_stanza_add_text_child (headline, "subject", NULL,
                            pg_i18n_translate (i18n, lang, N_ ("Messages not delivered")));
  pg_stanza_add_text_child (headline, "body", NULL, body);
  g_autofree char *origin = origin_id (item, id);
  pg_stanza_set_attr (pg_stanza_add_child (headline, "origin-id", NS_SID), "id", origin);
  return headline;
}

/* The chat message of @item, written as text (the busiest stanza of all:
 * transport/xml-writer.h); FALSE when none can be. */
static gboolean
write_chat (PgTransport *transport, const PgStoreOutboxItem *item, const char *id, GString *out)
{
  g_autofree char *from = pg_transport_contact_jid (transport, item->peer);
  if (from == NULL)
    return FALSE; /* stored by an older build; cannot happen from chat.c */
  g_autofree char *origin = id != NULL ? origin_id (item, id) : NULL;
  /* To the bare JID, so the user's server delivers it or stores it offline. */
  pg_xml_write_start (out, "message", "from", from, "to", item->bare_jid, "type", "chat", "id", id, NULL);
  if (item->sender != NULL)
    {
      /* The user's own words, written elsewhere: from the contact, since
       * nothing else may speak for the user here, and marked so, never
       * bare as if the contact had said them. */
      g_autofree char *marked
          = g_strdup_printf (pg_i18n_translate (transport->i18n, user_lang (transport, item->bare_jid),
                                                N_ ("[you, from another client] %s")),
                             item->body);
      pg_xml_write_text (out, "body", marked);
    }
  else
    pg_xml_write_text (out, "body", item->body);
  if (pg_chat_states_wanted (transport, item->bare_jid, from))
    pg_xml_write_empty (out, "active", "xmlns", PG_NS_CHATSTATES, NULL);
  if (origin != NULL)
    pg_xml_write_empty (out, "origin-id", "xmlns", NS_SID, "id", origin, NULL);
  /* XEP-0203: the time the legacy network gave it to us, when that was a
   * while ago. */
  if (now_s () - item->created >= 2)
    {
      g_autoptr (GDateTime) created = g_date_time_new_from_unix_utc (item->created);
      g_autofree char *stamp = g_date_time_format (created, "%Y-%m-%dT%H:%M:%SZ");
      pg_xml_write_empty (out, "delay", "xmlns", NS_DELAY, "from", transport->config->component_jid, "stamp",
                          stamp, NULL);
    }
  pg_xml_write_end (out, "message");
  return TRUE;
}

static void
free_text (gpointer text)
{
  g_string_free (text, TRUE);
}

/* The stanzas of the message @item, each as text (GString): its chat
 * message, or for what the user wrote elsewhere, with the message
 * privilege, a carbon per resource (legacy/own-copy.h); NULL when none can
 * be. Caller owns the array. */
static GPtrArray *
write_message (PgTransport *transport, const PgStoreOutboxItem *item, const char *id)
{
  if (item->sender != NULL && !transport->outbox->copies_refused
      && pg_own_copy_privileged (transport, item->bare_jid))
    return pg_own_copy_write_carbons (transport, item, id);
  GString *text = g_string_sized_new (256);
  if (!write_chat (transport, item, id, text))
    {
      g_string_free (text, TRUE);
      return NULL;
    }
  GPtrArray *texts = g_ptr_array_new_with_free_func (free_text);
  g_ptr_array_add (texts, text);
  return texts;
}

/* Writes the stanzas @texts in order; FALSE when the stream did not take
 * one (those before it are out: a row of several goes again in full). */
static gboolean
send_texts (PgStream *stream, const GPtrArray *texts)
{
  for (guint i = 0; i < texts->len; i++)
    {
      const GString *text = g_ptr_array_index (texts, i);
      if (!pg_stream_send_text (stream, text->str, text->len))
        return FALSE;
    }
  return TRUE;
}

static void schedule_ping (PgOutbox *outbox);

/* Writes the stanza of row @id, as @text; FALSE when the stream did not
 * take it. */
static gboolean
write_row (PgOutbox *outbox, gint64 id, const GString *text)
{
  if (!pg_stream_send_text (outbox->transport->stream, text->str, text->len))
    return FALSE;
  g_array_append_val (outbox->unacked, id);
  schedule_ping (outbox);
  return TRUE;
}

/* write_row() for a stanza built as a tree. */
static gboolean
write_row_stanza (PgOutbox *outbox, gint64 id, const xmlNode *stanza)
{
  g_autoptr (GString) text = g_string_sized_new (256);
  pg_stanza_serialize (stanza, text);
  return write_row (outbox, id, text);
}

static gboolean
send_to_user (PgOutbox *outbox, const PgStoreOutboxItem *item)
{
  /* A row stored from memory keeps the id it was first written with. */
  g_autofree char *id = item->xmpp_id != NULL ? g_strdup (item->xmpp_id) : pg_outbox_dup_stanza_id (item->id);
  if (item->body == NULL)
    {
      g_autoptr (PgStanza) report = new_loss_report (outbox->transport, item, id);
      return write_row_stanza (outbox, item->id, report);
    }
  g_autoptr (GPtrArray) texts = write_message (outbox->transport, item, id);
  if (texts != NULL && !send_texts (outbox->transport->stream, texts))
    return FALSE;
  /* Written, or nothing can ever be sent for it: gone with the next
   * acknowledgement. */
  g_array_append_val (outbox->unacked, item->id);
  schedule_ping (outbox);
  return TRUE;
}

static guint
in_flight (PgOutbox *outbox)
{
  return outbox->unacked->len + outbox->acking;
}

/* Stores the rows of @memory not stored yet, in order: they get ids above
 * every stored row, which keeps the user's order, since memory rows are the
 * newest in flight.  While the link is up they count as written. */
static void
store_memory (PgOutbox *outbox)
{
  PgTransport *transport = outbox->transport;

  for (GList *l = outbox->memory.head; l != NULL; l = l->next)
    {
      MemoryRow *row = l->data;
      g_autoptr (GError) error = NULL;

      if (row->row_id != 0)
        continue;
      /* It was taken already: no limit applies. */
      row->row_id = pg_store_outbox_add (transport->store, &row->item, G_MAXUINT, &error);
      if (row->row_id <= 0)
        {
          row->row_id = 0;
          g_warning ("%s: cannot store a message in flight (lost if the link fails): %s", row->item.bare_jid,
                     error->message);
          continue;
        }
      arm_expiry (outbox, row->item.expires);
      if (outbox->link_up)
        outbox->sent_upto = MAX (outbox->sent_upto, row->row_id);
    }
}

/* Sends waiting to-user rows in order, while the window has room. */
static void
pump (PgOutbox *outbox)
{
  while (outbox->link_up && outbox->backlog && !outbox->draining && in_flight (outbox) < PG_OUTBOX_WINDOW
         && pg_stream_is_ready (outbox->transport->stream))
    {
      g_autoptr (GError) error = NULL;
      guint room = PG_OUTBOX_WINDOW - in_flight (outbox);
      g_autoptr (GPtrArray) rows = pg_store_outbox_list (outbox->transport->store, NULL, PG_OUTBOX_TO_USER,
                                                         outbox->sent_upto, room, &error);
      if (rows == NULL)
        {
          g_warning ("cannot read the outbox: %s", error->message);
          return; /* the next message or link event tries again */
        }
      if (rows->len < room)
        outbox->backlog = FALSE;
      for (guint i = 0; i < rows->len; i++)
        {
          const PgStoreOutboxItem *item = g_ptr_array_index (rows, i);
          if (!send_to_user (outbox, item))
            {
              outbox->backlog = TRUE;
              return;
            }
          outbox->sent_upto = item->id;
        }
      if (rows->len == 0)
        break;
    }
}

/* ---- acknowledgements ---- */

/* The ping @id is back (transport/ping.h): the server has routed every
 * stanza written before it. */
static void
on_ping_back (const char *id, gpointer user_data)
{
  PgOutbox *outbox = user_data;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) error = NULL;
  gboolean found = FALSE;

  for (GList *l = outbox->pings.head; l != NULL && !found; l = l->next)
    found = g_strcmp0 (((Ping *)l->data)->id, id) == 0;
  if (!found)
    return;
  /* They come back in order: this one settles every earlier ping too. */
  while (TRUE)
    {
      Ping *ping = g_queue_pop_head (&outbox->pings);
      gboolean last = g_strcmp0 (ping->id, id) == 0;
      pg_ping_self_cancel (outbox->transport, ping->id);
      g_array_append_vals (rows, ping->rows->data, ping->rows->len);
      ping_free (ping);
      if (last)
        break;
    }
  outbox->acking -= rows->len;
  /* Memory rows leave the queue; those stored meanwhile leave the store. */
  guint stored = 0;
  for (guint i = 0; i < rows->len; i++)
    {
      gint64 row_id = g_array_index (rows, gint64, i);
      if (row_id < 0)
        {
          MemoryRow *row = g_queue_pop_head (&outbox->memory);
          g_assert (row != NULL && row->serial == -row_id);
          row_id = row->row_id;
          memory_row_free (row);
        }
      if (row_id > 0)
        g_array_index (rows, gint64, stored++) = row_id;
    }
  g_array_set_size (rows, stored);
  if (rows->len > 0
      && !pg_store_outbox_delete (outbox->transport->store, (const gint64 *)(void *)rows->data, rows->len,
                                  &error))
    g_warning ("cannot delete delivered outbox rows (they may be sent again after a restart): %s",
               error->message);
  for (guint i = 0; i < rows->len; i++)
    g_hash_table_remove (outbox->bouncing, &g_array_index (rows, gint64, i));
  g_debug ("%u stored outbox rows acknowledged", rows->len);
  pump (outbox);
  schedule_ping (outbox);
}

/* Writes a ping covering the rows written since the last one (maybe none). */
static void
write_ping (PgOutbox *outbox)
{
  g_autofree char *id = pg_ping_self (outbox->transport, "pg-outbox-ack-", on_ping_back, outbox);
  if (id == NULL)
    return; /* the link is going down; link_down resets */
  Ping *ping = g_new0 (Ping, 1);
  ping->id = g_steal_pointer (&id);
  ping->rows = g_steal_pointer (&outbox->unacked);
  outbox->unacked = g_array_new (FALSE, FALSE, sizeof (gint64));
  outbox->acking += ping->rows->len;
  g_queue_push_tail (&outbox->pings, ping);
  outbox->last_ping_us = g_get_monotonic_time ();
}

static gboolean
send_ping (gpointer data)
{
  PgOutbox *outbox = data;

  outbox->ping_idle = 0;
  if (outbox->unacked->len > 0 && outbox->link_up
      && g_queue_get_length (&outbox->pings) < PG_OUTBOX_MAX_PINGS)
    write_ping (outbox);
  return G_SOURCE_REMOVE;
}

/* A ping after what was written in this main loop iteration, at most one
 * per PG_OUTBOX_PING_GAP_MS, and one after every PG_OUTBOX_PING_EVERY rows
 * of a burst, so that few rows wait on any one answer: a server that dies
 * has routed the rows it read, and the ping after them may be in what it
 * had not read yet; those rows come twice. At most PG_OUTBOX_MAX_PINGS
 * under way.  A ping costs more than a message (written, routed back,
 * parsed): under load the gap makes one cover many passes. */
static void
schedule_ping (PgOutbox *outbox)
{
  if (outbox->unacked->len >= PG_OUTBOX_PING_EVERY && outbox->link_up
      && g_queue_get_length (&outbox->pings) < PG_OUTBOX_MAX_PINGS)
    {
      g_clear_handle_id (&outbox->ping_idle, g_source_remove);
      write_ping (outbox);
      return;
    }
  if (outbox->ping_idle != 0 || outbox->unacked->len == 0
      || g_queue_get_length (&outbox->pings) >= PG_OUTBOX_MAX_PINGS)
    return;
  gint64 wait_us = outbox->last_ping_us + PG_OUTBOX_PING_GAP_MS * 1000 - g_get_monotonic_time ();
  if (wait_us > 0)
    outbox->ping_idle
        = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint)((wait_us + 999) / 1000), send_ping, outbox, NULL);
  else
    /* At default priority: an idle one would starve while the legacy
     * sockets keep the loop busy, and the window would fill up. */
    outbox->ping_idle = g_idle_add_full (G_PRIORITY_DEFAULT, send_ping, outbox, NULL);
}

/* ---- bounces of to-legacy rows ---- */

gboolean
pg_outbox_is_bouncing (PgTransport *transport, gint64 id)
{
  return g_hash_table_contains (transport->outbox->bouncing, &id);
}

gboolean
pg_outbox_bounce (PgTransport *transport, const PgStoreOutboxItem *item, PgErrorCondition condition,
                  const char *text)
{
  PgOutbox *outbox = transport->outbox;
  if (!outbox->link_up || g_hash_table_contains (outbox->bouncing, &item->id))
    return FALSE;
  g_autofree char *contact = pg_transport_contact_jid (transport, item->peer);
  /* The user's message as it was, to build the error reply to it. */
  g_autoptr (PgStanza) original = pg_stanza_new ("message", item->sender, contact, "chat", item->xmpp_id);
  g_autoptr (PgStanza) reply = pg_stanza_error_reply (original, condition, PG_ERR_TYPE_DEFAULT, text);
  /* RFC 6120 §8.3.1: the original content, so the sender sees which
   * message it was. */
  pg_stanza_add_text_child (reply, "body", NULL, item->body);
  pg_i18n_localize_error (transport->i18n, reply, user_lang (transport, item->bare_jid));
  if (!write_row_stanza (outbox, item->id, reply))
    return FALSE;
  gint64 *key = g_new (gint64, 1);
  *key = item->id;
  g_hash_table_add (outbox->bouncing, key);
  transport->stats.outbox_bounced++;
  g_info ("%s: bounced a queued message to %s (%s)", item->bare_jid, item->peer,
          pg_error_condition_to_string (condition));
  return TRUE;
}

/* ---- expiry ---- */

static void
expire (PgOutbox *outbox)
{
  PgTransport *transport = outbox->transport;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = pg_store_outbox_list_expired (transport->store, now_s (), &error);
  g_autoptr (GPtrArray) to_user = g_ptr_array_new ();
  gboolean waiting = FALSE;
  guint bounced = 0;

  if (rows == NULL)
    {
      g_warning ("cannot read the outbox: %s", error->message);
      return;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      PgStoreOutboxItem *item = g_ptr_array_index (rows, i);
      if (item->direction == PG_OUTBOX_TO_USER)
        {
          if (outbox->link_up && item->id <= outbox->sent_upto)
            waiting = TRUE; /* written: the acknowledgement decides */
          else
            g_ptr_array_add (to_user, item);
          continue;
        }
      PgSession *session = pg_sessions_lookup (transport->sessions, item->bare_jid);
      if (g_hash_table_contains (outbox->bouncing, &item->id))
        continue;
      if (session != NULL && pg_outbox_legacy_in_flight (session, item->id))
        {
          waiting = TRUE; /* handed to the login: its confirmation decides */
          continue;
        }
      if (in_flight (outbox) >= PG_OUTBOX_WINDOW)
        {
          waiting = TRUE; /* bounces keep to the window too */
          continue;
        }
      g_autofree char *text
          = g_strdup_printf ("not delivered: the legacy login was not connected within %u s",
                             transport->config->outbox_expiry_s);
      if (pg_outbox_bounce (transport, item, PG_ERR_REMOTE_SERVER_TIMEOUT, text))
        bounced++;
      else
        waiting = TRUE; /* no stream: bounced once it is back */
    }
  if (to_user->len > 0)
    {
      store_memory (outbox); /* the loss reports come after them */
      if (pg_store_outbox_expire_to_user (transport->store, (PgStoreOutboxItem *const *)to_user->pdata,
                                          to_user->len, outbox->link_up ? outbox->sent_upto : 0, &error))
        g_message ("%u queued messages to users expired; the users will be told", to_user->len);
      else
        g_warning ("%s", error->message);
      outbox->backlog = TRUE;
      pump (outbox);
    }
  if (bounced > 0)
    g_message ("%u queued messages to legacy contacts expired and were bounced", bounced);
  /* Rows that expired and had to wait (in flight, or no stream for the
   * bounce) are looked at again RECHECK_S later while the link is up, and by
   * pg_outbox_link_up() otherwise: the timer never spins on them. */
  rearm_expiry (outbox, now_s (), waiting && outbox->link_up ? RECHECK_S : 0);
}

static gboolean
on_expiry (gpointer data)
{
  PgOutbox *outbox = data;
  outbox->expiry_id = 0;
  outbox->expiry_at = 0;
  expire (outbox);
  return G_SOURCE_REMOVE;
}

/* ---- link events and the entry point ---- */

void
pg_outbox_link_up (PgTransport *transport)
{
  PgOutbox *outbox = transport->outbox;
  outbox->link_up = TRUE;
  outbox->sent_upto = 0;
  outbox->backlog = TRUE;
  pump (outbox);
  expire (outbox);
}

void
pg_outbox_backed_up (PgTransport *transport)
{
  store_memory (transport->outbox);
}

void
pg_outbox_link_down (PgTransport *transport)
{
  PgOutbox *outbox = transport->outbox;
  guint waiting = in_flight (outbox);

  outbox->link_up = FALSE;
  outbox->copies_refused = FALSE; /* the next stream's grant decides */
  /* Unacknowledged memory rows wait in the store like the others. */
  store_memory (outbox);
  g_queue_clear_full (&outbox->memory, (GDestroyNotify)memory_row_free);
  outbox->sent_upto = 0;
  outbox->backlog = TRUE;
  g_clear_handle_id (&outbox->ping_idle, g_source_remove);
  outbox->last_ping_us = 0; /* the next link's first ping goes at once */
  for (Ping *ping; (ping = g_queue_pop_head (&outbox->pings)) != NULL;)
    {
      pg_ping_self_cancel (transport, ping->id);
      ping_free (ping);
    }
  outbox->acking = 0;
  g_array_set_size (outbox->unacked, 0);
  g_hash_table_remove_all (outbox->bouncing);
  transport->stats.outbox_resent += waiting;
  if (waiting > 0)
    g_message ("%u outbox rows written without acknowledgement will be sent again", waiting);
}

/* The fast path: with nothing stored waiting and room in the window, the
 * message is written at the end of this pass of the main loop and kept in
 * memory only, until its acknowledgement; see MemoryRow for when it is
 * stored after all.  A message the kernel has taken reaches the server
 * even if purplegate dies right after, and one that dies with the pass
 * dies with the legacy input this pass read it from; so the guarantee of
 * legacy/outbox.h holds without the two store transactions per message.
 * When the kernel stops taking what is written, the rows are stored
 * (pg_outbox_backed_up()).  FALSE: store it. */
static gboolean
send_from_memory (PgOutbox *outbox, const PgStoreOutboxItem *item)
{
  PgTransport *transport = outbox->transport;

  if (!outbox->link_up || outbox->backlog || outbox->draining || in_flight (outbox) >= PG_OUTBOX_WINDOW
      || !pg_stream_is_ready (transport->stream))
    return FALSE;
  MemoryRow *row = g_new0 (MemoryRow, 1);
  row->serial = ++outbox->memory_serial;
  row->item = *item;
  row->item.bare_jid = g_strdup (item->bare_jid);
  row->item.peer = g_strdup (item->peer);
  row->item.body = g_strdup (item->body);
  row->item.sender = g_strdup (item->sender);
  row->item.xmpp_id = memory_row_id (outbox->boot, row->serial);
  g_autoptr (GPtrArray) texts = write_message (transport, &row->item, row->item.xmpp_id);
  if (texts == NULL || !send_texts (transport->stream, texts))
    {
      memory_row_free (row);
      return FALSE;
    }
  g_queue_push_tail (&outbox->memory, row);
  gint64 ref = -row->serial;
  g_array_append_val (outbox->unacked, ref);
  schedule_ping (outbox);
  if (pg_stream_is_backed_up (transport->stream))
    store_memory (outbox); /* still ours to lose */
  return TRUE;
}

static void queue_to_user (PgTransport *transport, const PgStoreOutboxItem *item);

/* A message to @bare_jid from @peer, or (@own) the user's own to @peer,
 * sent at @when (0: now). */
static void
to_user (PgTransport *transport, const char *bare_jid, const char *peer, const char *body, gboolean own,
         gint64 when)
{
  gint64 now = now_s ();
  PgStoreOutboxItem item = {
    .bare_jid = (char *)bare_jid,
    .direction = PG_OUTBOX_TO_USER,
    .peer = (char *)peer,
    .body = (char *)body,
    .sender = own ? (char *)bare_jid : NULL,
    .created = when > 0 && when < now ? when : now,
    .expires = now + transport->config->outbox_expiry_s,
  };
  queue_to_user (transport, &item);
}

void
pg_outbox_to_user (PgTransport *transport, const char *bare_jid, const char *peer, const char *body)
{
  to_user (transport, bare_jid, peer, body, FALSE, 0);
}

void
pg_outbox_own_to_user (PgTransport *transport, const char *bare_jid, const char *peer, const char *body,
                       gint64 when)
{
  to_user (transport, bare_jid, peer, body, TRUE, when);
}

static void
queue_to_user (PgTransport *transport, const PgStoreOutboxItem *item)
{
  PgOutbox *outbox = transport->outbox;
  g_autoptr (GError) error = NULL;
  const char *bare_jid = item->bare_jid;

  if (send_from_memory (outbox, item))
    return;
  /* Stored rows keep the order: memory rows go to the store first. */
  store_memory (outbox);
  if (pg_store_outbox_add (transport->store, item, transport->config->outbox_max_per_user, &error) > 0)
    arm_expiry (outbox, item->expires);
  else if (g_error_matches (error, PG_STORE_ERROR, PG_STORE_ERROR_FULL))
    {
      g_clear_error (&error);
      if (pg_store_outbox_add_loss (transport->store, bare_jid, item->peer, PG_OUTBOX_LOSS_FULL, 1,
                                    outbox->link_up ? outbox->sent_upto : 0, &error)
          == 0)
        g_warning ("%s: a message from a contact was lost and cannot be reported: %s", bare_jid,
                   error->message);
      else
        g_info ("%s: outbox full, a message from a contact was refused", bare_jid);
    }
  else
    {
      /* The store cannot take it (disk full, read-only): deliver it
       * unprotected rather than not at all. */
      g_warning ("%s: cannot queue a message from a contact, sending it unprotected: %s", bare_jid,
                 error->message);
      g_autoptr (GPtrArray) texts = write_message (transport, item, NULL);
      if (texts == NULL || !send_texts (transport->stream, texts))
        g_warning ("%s: a message from a contact was lost: the link is down and the store failed", bare_jid);
      return;
    }
  outbox->backlog = TRUE;
  pump (outbox);
}

static void
free_id (gpointer id)
{
  g_free (id);
}

/* An error from the host server to a privileged copy (legacy/own-copy.h):
 * the permission is gone or the server takes no such copy. Said once; the
 * copies of this stream go marked instead, and the error is not answered
 * (RFC 6120 §8.3.1). */
static PgRouteResult
on_copy_refused (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  if (request->id == NULL || !g_str_has_prefix (request->id, PG_OWN_COPY_ID_PREFIX))
    return PG_PASS;
  if (!transport->outbox->copies_refused)
    {
      xmlNode *error = pg_stanza_find_child (request->stanza, "error", NULL);
      const char *condition = "(none given)";
      for (xmlNode *c = error != NULL ? error->children : NULL; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && g_strcmp0 (pg_stanza_get_ns (c), PG_NS_STANZAS) == 0
            && g_strcmp0 ((const char *)c->name, "text") != 0)
          condition = (const char *)c->name;
      g_message ("%s refused a privileged copy of a user's own message (%s): such messages go marked from "
                 "the contact until the link to the server is made again",
                 request->from_bare, condition);
    }
  transport->outbox->copies_refused = TRUE;
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_MESSAGE, "error", NULL, NULL, PG_TARGET_DOMAIN, on_copy_refused },
};

void
pg_outbox_register (PgTransport *transport)
{
  PgOutbox *outbox = g_new0 (PgOutbox, 1);
  outbox->transport = transport;
  outbox->backlog = TRUE;
  outbox->unacked = g_array_new (FALSE, FALSE, sizeof (gint64));
  outbox->boot = g_get_real_time ();
  outbox->bouncing = g_hash_table_new_full (g_int64_hash, g_int64_equal, free_id, NULL);
  transport->outbox = outbox;
  if (transport->router != NULL)
    pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
  rearm_expiry (outbox, 0, 0);
}

gboolean
pg_outbox_is_draining (PgTransport *transport)
{
  return transport->outbox != NULL && transport->outbox->draining;
}

/* Messages to users written and not acknowledged and pings unanswered
 * (while the link can still answer them), plus messages handed to legacy
 * logins and not confirmed; legacy logins are asked for their confirmation
 * at once. */
static guint
drain_pending (gpointer data)
{
  PgOutbox *outbox = data;
  guint to_users = outbox->link_up ? in_flight (outbox) + g_queue_get_length (&outbox->pings) : 0;
  return to_users + pg_sessions_confirm_sent (outbox->transport);
}

void
pg_outbox_drain (PgTransport *transport, guint timeout_ms)
{
  PgOutbox *outbox = transport->outbox;
  outbox->draining = TRUE;
  /* A ping now, with or without rows: the server routes to us in order, so
   * its answer comes after every stanza it had for us (a user's message
   * read now is stored for the restart rather than lost with the socket). */
  g_clear_handle_id (&outbox->ping_idle, g_source_remove);
  if (outbox->link_up && pg_stream_is_ready (transport->stream))
    write_ping (outbox);
  guint pending = drain_pending (outbox);
  if (pending == 0)
    return;
  g_message ("stopping: waiting up to %u ms for %u messages and pings on their way to be acknowledged",
             timeout_ms, pending);
  gint64 ms;
  pending = pg_transport_wait_stop (transport, timeout_ms, drain_pending, outbox, &ms);
  if (pending == 0)
    g_message ("stopping: all acknowledged in %" G_GINT64_FORMAT " ms", ms);
  else
    g_message ("stopping: %u messages unacknowledged after %" G_GINT64_FORMAT " ms; they are sent again "
               "after the restart",
               pending, ms);
}

void
pg_outbox_free (PgOutbox *outbox)
{
  if (outbox == NULL)
    return;
  /* Not acknowledged: sent again after the restart. */
  store_memory (outbox);
  g_queue_clear_full (&outbox->memory, (GDestroyNotify)memory_row_free);
  g_clear_handle_id (&outbox->ping_idle, g_source_remove);
  g_clear_handle_id (&outbox->expiry_id, g_source_remove);
  g_queue_clear_full (&outbox->pings, (GDestroyNotify)ping_free);
  g_array_unref (outbox->unacked);
  g_hash_table_unref (outbox->bouncing);
  g_free (outbox);
}
