/* legacy/outbox-legacy.c — the persistent outbox towards the legacy
 * networks: the user's messages to contacts are stored, handed to the
 * legacy login in order once it is online, and deleted when the legacy
 * server confirmed them (pg_account_confirm_sent()) or, for protocols
 * without such a round trip, when the protocol took them.  A login that
 * cannot be asked (its connection is going) settles nothing: its end puts
 * the rows back in line.  See legacy/outbox.h for the guarantee. */
#define G_LOG_DOMAIN "pg-outbox"
#include "build-config.h"

#include "legacy/message.h"
#include "legacy/outbox-private.h"

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static void
reply_error (PgSession *session, const PgRouteRequest *request, PgErrorCondition condition, const char *text)
{
  pg_router_reply_error (session->transport->router, request->stanza, condition, PG_ERR_TYPE_DEFAULT, text);
}

/* The XEP-0184 receipt for a delivered row, when the user asked for one. */
static void
send_receipt (PgSession *session, const PgStoreOutboxItem *item)
{
  PgTransport *transport = session->transport;
  if (!item->receipt || item->xmpp_id == NULL || item->sender == NULL
      || !pg_store_setting_enabled (transport->store, session->bare_jid, PG_SETTING_RECEIPTS))
    return;
  g_autofree char *contact = pg_transport_contact_jid (transport, item->peer);
  g_autoptr (PgStanza) original = pg_stanza_new ("message", item->sender, contact, "chat", item->xmpp_id);
  pg_stanza_add_child (original, "request", PG_NS_RECEIPTS);
  g_autoptr (PgStanza) receipt = pg_message_new_receipt (original);
  pg_transport_send (transport, receipt);
}

/* Rows up to @upto were processed by the legacy server: receipts, then the
 * rows go. */
static void
settle (PgSession *session, gint64 upto)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) error = NULL;

  while (!g_queue_is_empty (&session->legacy_sent)
         && ((PgStoreOutboxItem *)g_queue_peek_head (&session->legacy_sent))->id <= upto)
    {
      g_autoptr (PgStoreOutboxItem) item = g_queue_pop_head (&session->legacy_sent);
      send_receipt (session, item);
      g_array_append_val (ids, item->id);
    }
  if (!pg_store_outbox_delete_of (session->transport->store, session->bare_jid, PG_OUTBOX_TO_LEGACY,
                                  (const gint64 *)(void *)ids->data, ids->len, &error))
    g_warning ("%s: cannot delete delivered outbox rows (they may be sent again): %s", session->bare_jid,
               error->message);
}

static gboolean
ask_confirmation (gpointer data)
{
  PgSession *session = data;
  session->legacy_confirm_id = 0;
  if (session->account == NULL || session->legacy_asked_upto >= session->legacy_sent_upto)
    return G_SOURCE_REMOVE;
  guint64 serial;
  PgConfirm outcome = pg_account_confirm_sent (session->account, &serial);
  session->legacy_asked_upto = session->legacy_sent_upto;
  if (outcome == PG_CONFIRM_NO_ROUND_TRIP)
    {
      /* The protocol took them; nothing more will be known. */
      settle (session, session->legacy_sent_upto);
      return G_SOURCE_REMOVE;
    }
  if (outcome == PG_CONFIRM_UNAVAILABLE)
    {
      /* The login is ending, and the legacy server may never have had
       * them: no receipt, and the rows stay.  The login's end puts them
       * back in line for the next one; should it live on, the
       * confirmation asked after the next message covers them too.
       * Asking again would get the same answer: nothing is re-armed. */
      g_debug ("%s: the legacy login cannot confirm %u messages now", session->bare_jid,
               g_queue_get_length (&session->legacy_sent));
      return G_SOURCE_REMOVE;
    }
  if (session->legacy_confirms == NULL)
    session->legacy_confirms = g_array_new (FALSE, FALSE, sizeof (PgOutboxConfirm));
  PgOutboxConfirm confirm = { serial, session->legacy_sent_upto };
  g_array_append_val (session->legacy_confirms, confirm);
  return G_SOURCE_REMOVE;
}

guint
pg_outbox_legacy_confirm_now (PgSession *session)
{
  if (session->legacy_sent_upto > session->legacy_asked_upto)
    {
      g_clear_handle_id (&session->legacy_confirm_id, g_source_remove);
      ask_confirmation (session);
    }
  return g_queue_get_length (&session->legacy_sent);
}

/* Several confirmations may be under way: each covers what was handed over
 * before it, so a lost login re-sends only what came after the last one
 * answered. */
static void
request_confirmation (PgSession *session)
{
  if (session->legacy_confirm_id == 0 && session->legacy_sent_upto > session->legacy_asked_upto)
    session->legacy_confirm_id = g_timeout_add (PG_OUTBOX_CONFIRM_DELAY_MS, ask_confirmation, session);
}

void
pg_outbox_legacy_on_confirmed (gpointer owner, guint64 serial)
{
  PgSession *session = owner;
  gint64 upto = 0;
  guint n = 0;

  if (session->legacy_confirms == NULL)
    return;
  while (n < session->legacy_confirms->len
         && g_array_index (session->legacy_confirms, PgOutboxConfirm, n).serial <= serial)
    upto = g_array_index (session->legacy_confirms, PgOutboxConfirm, n++).upto;
  if (n == 0)
    return;
  g_array_remove_range (session->legacy_confirms, 0, n);
  settle (session, upto);
}

void
pg_outbox_legacy_on_processed (gpointer owner, guint64 tag)
{
  PgSession *session = owner;
  guint before = g_queue_get_length (&session->legacy_sent);

  settle (session, (gint64)MIN (tag, (guint64)G_MAXINT64));
  guint settled = before - g_queue_get_length (&session->legacy_sent);
  if (settled > 0)
    g_message ("%s: %u messages the legacy server had processed or received before the login was lost are "
               "not sent again",
               session->bare_jid, settled);
}

void
pg_outbox_legacy_on_refused (gpointer owner, guint64 tag)
{
  PgSession *session = owner;

  /* The event names the one message refused (legacy/account.h); none when
   * it was refused or settled already. */
  for (GList *l = session->legacy_sent.head; l != NULL; l = l->next)
    {
      PgStoreOutboxItem *item = l->data;
      if ((guint64)item->id != tag)
        continue;
      /* Out of the confirmed rows (no receipt); the acknowledged bounce
       * deletes it, or, with the XMPP link down, it waits and expires. */
      g_queue_delete_link (&session->legacy_sent, l);
      g_info ("%s: the legacy server refused a message: no such contact online", session->bare_jid);
      pg_outbox_bounce (session->transport, item, PG_ERR_SERVICE_UNAVAILABLE,
                        "nobody of that name is online on the legacy network");
      pg_store_outbox_item_free (item);
      return;
    }
}

gboolean
pg_outbox_legacy_in_flight (PgSession *session, gint64 id)
{
  for (GList *l = session->legacy_sent.head; l != NULL; l = l->next)
    if (((PgStoreOutboxItem *)l->data)->id == id)
      return TRUE;
  return FALSE;
}

/* Hands stored row @item (taken) to the legacy login. A refusal comes back
 * as a send_failed event naming the row. */
static void
hand_over (PgSession *session, PgStoreOutboxItem *item)
{
  PgTransport *transport = session->transport;
  g_autoptr (PgStoreOutboxItem) owned = item;

  session->legacy_sent_upto = item->id;
  if (pg_outbox_is_bouncing (transport, item->id))
    return; /* already on its way back */
  pg_account_send_message (session->account, (guint64)item->id, item->peer, item->body);
  g_queue_push_tail (&session->legacy_sent, g_steal_pointer (&owned));
}

void
pg_outbox_legacy_on_send_failed (gpointer owner, guint64 tag, gboolean offline, const char *reason)
{
  PgSession *session = owner;
  /* Offline: the login is ending, and its end puts the row back in line. */
  if (offline)
    return;
  for (GList *l = session->legacy_sent.head; l != NULL; l = l->next)
    {
      PgStoreOutboxItem *item = l->data;
      if ((guint64)item->id != tag)
        continue;
      /* The protocol refuses this one (too large…): it never will. */
      g_info ("%s: message not sent: %s", session->bare_jid, reason);
      g_queue_delete_link (&session->legacy_sent, l);
      pg_outbox_bounce (session->transport, item, PG_ERR_SERVICE_UNAVAILABLE, reason);
      pg_store_outbox_item_free (item);
      return;
    }
}

void
pg_outbox_legacy_flush (PgSession *session)
{
  PgTransport *transport = session->transport;
  g_autoptr (GError) error = NULL;

  if (session->state != PG_SESSION_ONLINE || session->account == NULL || pg_outbox_is_draining (transport))
    return;
  g_autoptr (GPtrArray) rows = pg_store_outbox_list (transport->store, session->bare_jid, PG_OUTBOX_TO_LEGACY,
                                                     session->legacy_sent_upto, 0, &error);
  if (rows == NULL)
    {
      g_warning ("%s: cannot read the outbox: %s", session->bare_jid, error->message);
      return;
    }
  for (guint i = 0; i < rows->len; i++)
    hand_over (session, g_steal_pointer (&rows->pdata[i]));
  if (rows->len > 0)
    g_debug ("%s: %u queued messages handed to the legacy login", session->bare_jid, rows->len);
  request_confirmation (session);
}

void
pg_outbox_legacy_reset (PgSession *session)
{
  guint waiting = g_queue_get_length (&session->legacy_sent);
  session->transport->stats.outbox_resent += waiting;
  if (waiting > 0)
    g_message ("%s: %u messages handed to the legacy login without confirmation will be sent again",
               session->bare_jid, waiting);
  g_queue_clear_full (&session->legacy_sent, (GDestroyNotify)pg_store_outbox_item_free);
  session->legacy_sent_upto = 0;
  session->legacy_asked_upto = 0;
  g_clear_handle_id (&session->legacy_confirm_id, g_source_remove);
  g_clear_pointer (&session->legacy_confirms, g_array_unref);
}

void
pg_outbox_legacy_bounce_all (PgSession *session, const char *text)
{
  PgTransport *transport = session->transport;
  g_autoptr (GError) error = NULL;

  pg_outbox_legacy_reset (session);
  g_autoptr (GPtrArray) rows
      = pg_store_outbox_list (transport->store, session->bare_jid, PG_OUTBOX_TO_LEGACY, 0, 0, &error);
  if (rows == NULL)
    {
      g_warning ("%s: cannot read the outbox: %s", session->bare_jid, error->message);
      return;
    }
  /* With the stream down they stay, and expire (bounced then). */
  for (guint i = 0; i < rows->len; i++)
    pg_outbox_bounce (transport, g_ptr_array_index (rows, i), PG_ERR_RECIPIENT_UNAVAILABLE, text);
}

void
pg_outbox_legacy_queue (PgSession *session, const PgRouteRequest *request, const char *name, const char *body)
{
  PgTransport *transport = session->transport;
  g_autoptr (GError) error = NULL;
  g_autofree char *sender = pg_jid_to_string (request->from);
  gint64 now = now_s ();
  PgStoreOutboxItem item = {
    .bare_jid = session->bare_jid,
    .direction = PG_OUTBOX_TO_LEGACY,
    .peer = (char *)name,
    .body = (char *)body,
    .xmpp_id = (char *)request->id,
    .sender = sender,
    .receipt = pg_message_wants_receipt (request->stanza),
    .created = now,
    .expires = now + transport->config->outbox_expiry_s,
  };

  guint before = 0;
  item.id = pg_store_outbox_add_counted (transport->store, &item, transport->config->outbox_max_per_user,
                                         &before, &error);
  if (item.id > 0)
    {
      pg_outbox_arm_expiry (transport, item.expires);
      /* When every row the user had stored is with the login already,
       * this one is all that waits: hand it over without reading it back. */
      if (session->state == PG_SESSION_ONLINE && session->account != NULL
          && !pg_outbox_is_draining (transport) && before == g_queue_get_length (&session->legacy_sent)
          && item.id > session->legacy_sent_upto)
        {
          hand_over (session, pg_store_outbox_item_dup (&item));
          request_confirmation (session);
        }
      else
        pg_outbox_legacy_flush (session);
      return;
    }
  if (g_error_matches (error, PG_STORE_ERROR, PG_STORE_ERROR_FULL))
    {
      g_info ("%s: outbox full, a message to a contact was refused", session->bare_jid);
      reply_error (session, request, PG_ERR_RESOURCE_CONSTRAINT,
                   "too many messages wait for the legacy login; try again later");
      return;
    }
  g_warning ("%s: cannot queue a message to a contact: %s", session->bare_jid, error->message);
  if (session->state != PG_SESSION_ONLINE)
    {
      reply_error (session, request, PG_ERR_RECIPIENT_UNAVAILABLE, "the legacy login is not connected");
      return;
    }
  /* The store failed (disk full, read-only): deliver it unprotected rather
   * than not at all, as before the outbox existed. */
  pg_account_send_message (session->account, 0, name, body);
  if (pg_message_wants_receipt (request->stanza)
      && pg_store_setting_enabled (transport->store, session->bare_jid, PG_SETTING_RECEIPTS))
    {
      g_autoptr (PgStanza) receipt = pg_message_new_receipt (request->stanza);
      pg_transport_send (transport, receipt);
    }
}
