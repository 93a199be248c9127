/* legacy/chat.c — one-to-one messages between a user and legacy contacts
 * (XEP-0100 §4.8, §5.3), with XEP-0085 chat states and XEP-0184 receipts. */
#define G_LOG_DOMAIN "pg-chat"
#include "build-config.h"

#include "legacy/session-private.h"

#include "legacy/message.h"
#include "legacy/outbox-private.h"
#include "legacy/room-private.h"

#include <string.h>

/* ---- from the legacy network ---- */

/* The contact a message or typing event comes from.  prpl-jabber names the
 * sender by its full JID ("dave@example.org/phone"), not by the buddy name
 * of the contact list; the part before the '/' is the contact when the
 * protocol's own normalization drops the rest (jabber_normalize() strips
 * resources). */
static PgContact *
sender_contact (PgSession *session, const char *from)
{
  const char *slash = strchr (from, '/');
  if (slash != NULL && slash != from && session->account != NULL)
    {
      g_autofree char *bare = g_strndup (from, (gsize)(slash - from));
      g_autofree char *normalized = pg_account_normalize (session->account, from);
      g_autofree char *bare_normalized = pg_account_normalize (session->account, bare);
      if (normalized != NULL && strchr (normalized, '/') == NULL
          && g_strcmp0 (normalized, bare_normalized) == 0)
        return pg_contacts_ensure (session, bare, NULL);
    }
  return pg_contacts_ensure (session, from, NULL);
}

void
pg_chat_on_message (gpointer owner, const char *from, const char *html)
{
  PgSession *session = owner;
  g_autofree char *text = pg_message_html_to_text (html);
  /* An answer to a private message the user wrote from a room. */
  if (pg_rooms_deliver_private (session, from, text))
    return;
  PgContact *contact = sender_contact (session, from);
  if (contact == NULL)
    return;
  /* Through the persistent outbox (legacy/outbox.h): stored first, sent in
   * order, deleted once the XMPP server has it. */
  pg_outbox_to_user (session->transport, session->bare_jid, contact->name, text);
}

void
pg_chat_on_own_message (gpointer owner, const char *to, gboolean chat, const char *html, gint64 when)
{
  PgSession *session = owner;
  g_autofree char *text = pg_message_html_to_text (html);
  if (chat)
    {
      pg_rooms_on_own_message (session, to, text, when);
      return;
    }
  PgContact *contact = sender_contact (session, to);
  if (contact == NULL)
    return;
  /* The same queue as the contact's messages: in order with them. */
  pg_outbox_own_to_user (session->transport, session->bare_jid, contact->name, text, when);
}

void
pg_chat_on_state (gpointer owner, const char *from, PgChatState state)
{
  PgSession *session = owner;
  /* Nobody to see it while the login is kept for an offline user; the
   * server's offline store would keep it. */
  if (session->held)
    return;
  PgContact *contact = sender_contact (session, from);
  if (contact == NULL || state == PG_CHAT_STATE_NONE
      || !pg_chat_states_wanted (session->transport, session->bare_jid, contact->jid))
    return;
  xmlNode *message = pg_stanza_new ("message", contact->jid, session->bare_jid, "chat", NULL);
  pg_message_add_chat_state (message, state);
  pg_session_send (session, message);
}

/* ---- chat states (XEP-0085 §5.1) ---- */

/* Contacts a session remembers as written to without a chat state. */
#define PG_STATELESS_PEERS_MAX 1024

gboolean
pg_chat_states_wanted (PgTransport *transport, const char *bare_jid, const char *contact_jid)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  if (session != NULL && session->stateless_peers != NULL
      && g_hash_table_contains (session->stateless_peers, contact_jid))
    return FALSE;
  return pg_store_setting_enabled (transport->store, bare_jid, PG_SETTING_TYPING);
}

/* A message of the user's to @request's contact: with a chat state, the
 * user's client takes them; a content message without one says it does
 * not, for this conversation. */
static void
note_chat_states (PgSession *session, const PgRouteRequest *request, gboolean content, PgChatState state)
{
  if ((state == PG_CHAT_STATE_NONE && !content)
      || (state != PG_CHAT_STATE_NONE && session->stateless_peers == NULL))
    return;
  g_autofree char *contact = pg_jid_dup_bare (request->to);
  if (state != PG_CHAT_STATE_NONE)
    {
      g_hash_table_remove (session->stateless_peers, contact);
      return;
    }
  if (session->stateless_peers == NULL)
    session->stateless_peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* Addresses the user writes to need not exist: at the bound the
   * contacts start over with states, which costs nothing but the bytes. */
  if (g_hash_table_contains (session->stateless_peers, contact))
    return;
  if (g_hash_table_size (session->stateless_peers) >= PG_STATELESS_PEERS_MAX)
    g_hash_table_remove_all (session->stateless_peers);
  g_hash_table_add (session->stateless_peers, g_steal_pointer (&contact));
}

/* ---- from the user ---- */

static void
reply_error (PgTransport *transport, const PgRouteRequest *request, PgErrorCondition condition,
             const char *text)
{
  pg_router_reply_error (transport->router, request->stanza, condition, PG_ERR_TYPE_DEFAULT, text);
}

static PgRouteResult
on_message (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgTransport *transport = sessions->transport;
  if (g_str_equal (request->type, "error"))
    return PG_HANDLED;
  PgSession *session = pg_sessions_lookup (sessions, request->from_bare);
  if (session == NULL)
    {
      g_autoptr (PgStoreUser) user = pg_store_get_user (transport->store, request->from_bare, NULL);
      reply_error (transport, request,
                   user != NULL ? PG_ERR_RECIPIENT_UNAVAILABLE : PG_ERR_REGISTRATION_REQUIRED, NULL);
      return PG_HANDLED;
    }
  /* Offline: the login was refused or is paused while credentials are
   * checked; nothing would deliver a queued message. */
  if (session->state == PG_SESSION_OFFLINE)
    {
      reply_error (transport, request, PG_ERR_RECIPIENT_UNAVAILABLE, "the legacy login is not connected");
      return PG_HANDLED;
    }

  g_autofree char *name = pg_contacts_dup_legacy_name (session, request->to);
  g_autofree char *body = pg_stanza_dup_child_text (request->stanza, "body", NULL);
  PgChatState state = pg_message_get_chat_state (request->stanza);
  note_chat_states (session, request, body != NULL, state);
  if (body == NULL)
    {
      if (session->state == PG_SESSION_ONLINE)
        pg_account_send_chat_state (session->account, name, state);
      return PG_HANDLED;
    }
  /* Connecting, waiting to reconnect or online: through the persistent
   * outbox (legacy/outbox.h), behind what waits already; the receipt, when
   * asked for, follows delivery. */
  pg_rooms_set_private_peer (session, name, NULL); /* answers come here again */
  pg_outbox_legacy_queue (session, request, name, body);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_MESSAGE, NULL, NULL, NULL, PG_TARGET_CONTACT, on_message },
};

void
pg_chat_add_routes (PgTransport *transport, PgSessions *sessions)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), sessions);
}
