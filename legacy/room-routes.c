/* legacy/room-routes.c — what the user sends to a room (XEP-0045): joins,
 * nick changes and leaving (presence), groupchat messages and subjects,
 * private messages to occupants, invitations, kicks (muc#admin), XEP-0410
 * self-pings and service discovery of rooms.
 *
 * Rooms share the contacts' addresses (node@gateway); the stanza decides:
 * a MUC join, a groupchat message, muc#admin or muc#owner, or an address
 * the user is in as a room.  Where it cannot (disco before joining), a name
 * the protocol calls a chat name is a room. */
#define G_LOG_DOMAIN "pg-room"
#include "build-config.h"

#include "legacy/room-private.h"

#include "legacy/message.h"
#include "legacy/outbox-private.h"
#include "transport/disco.h"
#include "transport/forms.h"
#include "transport/ping.h"

#include <string.h>

#define NS_SELF_PING_OPTIMIZATION "http://jabber.org/protocol/muc#self-ping-optimization"
#define NS_STABLE_ID "http://jabber.org/protocol/muc#stable_id"

static void
reply_error_typed (PgTransport *transport, PgRoom *room, const PgRouteRequest *request,
                   PgErrorCondition condition, PgErrorType type, const char *text)
{
  if (g_str_equal (request->type, "error")
      || (request->kind == PG_KIND_IQ && g_str_equal (request->type, "result")))
    return;
  g_autoptr (PgStanza) error = pg_room_error_reply (room, request->stanza, condition, type, text);
  pg_transport_send (transport, error);
}

static void
reply_error (PgTransport *transport, PgRoom *room, const PgRouteRequest *request, PgErrorCondition condition,
             const char *text)
{
  reply_error_typed (transport, room, request, condition, PG_ERR_TYPE_DEFAULT, text);
}

/* The user's session and room (either may be NULL) for a stanza to a room address. */
static PgRoom *
find_room (PgTransport *transport, const PgRouteRequest *request, PgSession **session_out)
{
  PgSession *session
      = transport->sessions != NULL ? pg_sessions_lookup (transport->sessions, request->from_bare) : NULL;
  *session_out = session;
  if (session == NULL || session->rooms == NULL)
    return NULL;
  g_autofree char *jid = pg_jid_dup_bare (request->to);
  return pg_room_lookup (session, jid);
}

/* Whether the address is a chat's to the protocol, when no room says so. */
static gboolean
looks_like_room (PgSession *session, const PgRouteRequest *request)
{
  const char *node = pg_jid_get_node (request->to);
  if (session == NULL || session->account == NULL || node == NULL)
    return FALSE;
  /* On every message to a contact: unescape only where it can matter (the
   * protocols' chat names are told by their first character). */
  if (node[0] != '\\')
    return pg_account_is_chat_name (session->account, node);
  g_autofree char *name = pg_jid_unescape (node);
  return pg_account_is_chat_name (session->account, name);
}

static gint
history_number (const xmlNode *history, const char *name)
{
  const char *value = history != NULL ? pg_stanza_get_attr (history, name) : NULL;
  guint64 number;
  /* XEP-0045 §7.2.14: what cannot be read is ignored. */
  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT, &number, NULL))
    return -1;
  return (gint)number;
}

static PgHistoryWish
read_history (const xmlNode *muc)
{
  xmlNode *history = pg_stanza_find_child (muc, "history", NULL);
  PgHistoryWish wish = { .maxstanzas = history_number (history, "maxstanzas"),
                         .maxchars = history_number (history, "maxchars") };
  gint seconds = history_number (history, "seconds");
  if (seconds >= 0)
    wish.since_us = g_get_real_time () - (gint64)seconds * G_USEC_PER_SEC;
  const char *since = history != NULL ? pg_stanza_get_attr (history, "since") : NULL;
  if (since != NULL)
    {
      g_autoptr (GDateTime) when = g_date_time_new_from_iso8601 (since, NULL);
      if (when != NULL)
        wish.since_us = MAX (wish.since_us, g_date_time_to_unix (when) * G_USEC_PER_SEC);
    }
  return wish;
}

/* The join's key: in <x xmlns='…muc'/>, or (§18.2.1's example) in muc#user. */
static char *
dup_password (const xmlNode *stanza, const xmlNode *muc)
{
  char *password = pg_stanza_dup_child_text (muc, "password", NULL);
  xmlNode *user = pg_stanza_find_child (stanza, "x", PG_NS_MUC_USER);
  if (password == NULL && user != NULL)
    password = pg_stanza_dup_child_text (user, "password", NULL);
  return password;
}

/* ---- presence: join, nick change, leave ---- */

/* §7.2.18: a presence to a room from a resource that is not in it (no MUC
 * <x/>) is told so. */
static void
not_in_room (PgTransport *transport, const PgRouteRequest *request)
{
  g_autofree char *from = pg_jid_to_string (request->to);
  g_autofree char *to = pg_jid_to_string (request->from);
  g_autoptr (PgStanza) presence = pg_stanza_new ("presence", from, to, "unavailable", NULL);
  xmlNode *x = pg_stanza_add_child (presence, "x", PG_NS_MUC_USER);
  xmlNode *item = pg_stanza_add_child (x, "item", NULL);
  pg_stanza_set_attr (item, "affiliation", "none");
  pg_stanza_set_attr (item, "role", "none");
  pg_stanza_add_text_child (item, "reason", NULL, "You are not in the room.");
  static const char *const codes[] = { "110", "307", "333" };
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    pg_stanza_set_attr (pg_stanza_add_child (x, "status", NULL), "code", codes[i]);
  pg_transport_send (transport, presence);
}

static PgRouteResult
on_available (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  xmlNode *muc = pg_stanza_find_child (request->stanza, "x", PG_NS_MUC);
  const char *resource = pg_jid_get_resource (request->from);
  const char *nick = pg_jid_get_resource (request->to);
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);
  PgRoomMember *member = room != NULL && resource != NULL ? pg_room_find_member (room, resource) : NULL;

  if (resource == NULL)
    return PG_PASS;
  if (muc == NULL && member == NULL)
    {
      if (nick == NULL || (room == NULL && !looks_like_room (session, request)))
        return PG_PASS; /* presence to a contact */
      if (room == NULL || !pg_room_is_waiting (room, resource))
        not_in_room (transport, request);
      return PG_HANDLED;
    }
  if (!pg_transport_is_registered (transport, request->from_bare))
    {
      reply_error (transport, room, request, PG_ERR_REGISTRATION_REQUIRED,
                   "register with this gateway before you join its rooms");
      return PG_HANDLED;
    }
  if (nick == NULL || strspn (nick, " \t") == strlen (nick)) /* §17.1: no empty nicks */
    {
      reply_error (transport, room, request, PG_ERR_JID_MALFORMED,
                   "a room join needs a nick (room@gateway/nick)");
      return PG_HANDLED;
    }
  if (member != NULL && muc == NULL)
    {
      /* §7.6: presence to another nick asks for a nick change; to the same
       * nick it is the user's presence in the room (§7.7). */
      if (room->nick != NULL && strcmp (nick, room->nick) != 0 && session->account != NULL)
        {
          pg_room_expect (room, PG_ROOM_NICK, resource, request->stanza);
          pg_account_set_chat_nick (session->account, room->name, nick);
        }
      else
        pg_room_reflect_presence (room, request->stanza);
      return PG_HANDLED;
    }

  session = pg_sessions_ensure_resource (transport->sessions, request);
  if (session == NULL)
    {
      reply_error (transport, room, request, PG_ERR_REGISTRATION_REQUIRED, NULL);
      return PG_HANDLED;
    }
  if (session->state == PG_SESSION_OFFLINE && session->login_refused)
    {
      reply_error (transport, room, request, PG_ERR_NOT_AUTHORIZED,
                   "the legacy login was refused: register again with the right credentials");
      return PG_HANDLED;
    }
  g_autofree char *jid = pg_jid_dup_bare (request->to);
  g_autofree char *name = pg_jid_unescape (pg_jid_get_node (request->to));
  if (pg_room_lookup (session, jid) == NULL && session->rooms != NULL
      && g_hash_table_size (session->rooms) >= PG_ROOMS_MAX_PER_USER)
    {
      g_autofree char *text = g_strdup_printf (
          "you are in %u rooms of this gateway, the most it keeps for one user; leave one first",
          PG_ROOMS_MAX_PER_USER);
      reply_error (transport, NULL, request, PG_ERR_RESOURCE_CONSTRAINT, text);
      return PG_HANDLED;
    }
  room = pg_room_ensure (session, jid, name);
  g_autofree char *password = dup_password (request->stanza, muc);
  if (password != NULL && !room->join_sent)
    {
      g_free (room->password);
      room->password = g_steal_pointer (&password);
    }
  pg_room_forget_resource (room, resource); /* joining again: everything again (§17.3 rule 3) */
  PgHistoryWish wish = read_history (muc);
  pg_room_add_member (room, pg_room_member_new (session->bare_jid, resource, nick, request->id, &wish));
  return PG_HANDLED;
}

static PgRouteResult
on_unavailable (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  const char *resource = pg_jid_get_resource (request->from);
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);

  if (room == NULL || resource == NULL)
    return PG_PASS;
  if (pg_room_find_member (room, resource) == NULL && !pg_room_is_waiting (room, resource))
    return PG_HANDLED; /* §17.3 rule 5: not in the room, nothing to say */
  pg_room_remove_member (room, resource, g_strcmp0 (request->type, "error") != 0);
  pg_sessions_left_room (session, resource);
  return PG_HANDLED;
}

/* ---- messages ---- */

static void
on_groupchat (PgTransport *transport, const PgRouteRequest *request, PgSession *session, PgRoom *room)
{
  const char *resource = pg_jid_get_resource (request->from);
  if (room == NULL || resource == NULL || pg_room_find_member (room, resource) == NULL)
    {
      reply_error (transport, room, request, PG_ERR_NOT_ACCEPTABLE,
                   "you are not in this room; join it first");
      return;
    }
  if (pg_jid_get_resource (request->to) != NULL)
    {
      reply_error (transport, room, request, PG_ERR_BAD_REQUEST,
                   "a groupchat message goes to the room; write to an occupant as a chat");
      return;
    }
  g_autofree char *body = pg_stanza_dup_child_text (request->stanza, "body", NULL);
  xmlNode *subject = pg_stanza_find_child (request->stanza, "subject", NULL);
  if (subject != NULL && body == NULL && pg_stanza_find_child (request->stanza, "thread", NULL) == NULL)
    {
      g_autofree char *topic = pg_stanza_dup_text (subject);
      pg_room_expect (room, PG_ROOM_TOPIC, resource, request->stanza);
      pg_account_set_chat_topic (session->account, room->name, topic);
      return;
    }
  if (body == NULL)
    return; /* chat states only: nothing for the room */
  if ((room->modes & PG_CHAT_MODE_MODERATED) && pg_room_own_rank (room) == PG_CHAT_RANK_NONE)
    {
      reply_error (transport, room, request, PG_ERR_FORBIDDEN,
                   "this room is moderated: only occupants with voice may speak");
      return;
    }
  if (session->account == NULL)
    {
      reply_error (transport, room, request, PG_ERR_RECIPIENT_UNAVAILABLE,
                   "the legacy login is not connected");
      return;
    }
  /* Expected first: a refusal may come back from inside the call. */
  pg_room_expect (room, PG_ROOM_SEND, resource, request->stanza);
  pg_account_send_chat (session->account, room->name, body);
  pg_room_reflect (room, request->stanza, body);
}

/* §7.5: a private message to an occupant. */
static void
on_private (PgTransport *transport, const PgRouteRequest *request, PgSession *session, PgRoom *room)
{
  const char *nick = pg_jid_get_resource (request->to);
  PgOccupant *occupant = pg_room_find_occupant (room, nick);
  if (occupant == NULL)
    {
      reply_error (transport, room, request, PG_ERR_ITEM_NOT_FOUND, "nobody of that nick is in the room");
      return;
    }
  const char *name = occupant->member != NULL ? occupant->member : occupant->nick;
  g_autofree char *occupant_jid = pg_room_dup_occupant_jid (room, occupant->nick);
  pg_rooms_set_private_peer (session, name, occupant_jid);
  g_autofree char *body = pg_stanza_dup_child_text (request->stanza, "body", NULL);
  if (body == NULL)
    {
      pg_account_send_chat_state (session->account, name, pg_message_get_chat_state (request->stanza));
      return;
    }
  pg_outbox_legacy_queue (session, request, name, body);
}

/* §7.8.2: a mediated invitation, sent on as the network's own. */
static void
on_invite (PgTransport *transport, const PgRouteRequest *request, PgSession *session, PgRoom *room,
           xmlNode *invite)
{
  const char *to = pg_stanza_get_attr (invite, "to");
  g_autoptr (GError) error = NULL;
  g_autoptr (PgJid) invitee = to != NULL ? pg_jid_parse (to, &error) : NULL;
  if (invitee == NULL || pg_jid_get_node (invitee) == NULL
      || strcmp (pg_jid_get_domain (invitee), transport->config->component_jid) != 0)
    {
      reply_error (transport, room, request, PG_ERR_JID_MALFORMED,
                   "only users of this legacy network (user@gateway) can be invited");
      return;
    }
  g_autofree char *name = pg_contacts_dup_legacy_name (session, invitee);
  g_autofree char *reason = pg_stanza_dup_child_text (invite, "reason", NULL);
  pg_room_expect (room, PG_ROOM_INVITE, pg_jid_get_resource (request->from), request->stanza);
  pg_account_invite_chat (session->account, room->name, name, reason);
}

static PgRouteResult
on_message (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);

  if (g_str_equal (request->type, "error"))
    return room != NULL ? PG_HANDLED : PG_PASS;
  if (g_str_equal (request->type, "groupchat"))
    {
      on_groupchat (transport, request, session, room);
      return PG_HANDLED;
    }
  const char *resource = pg_jid_get_resource (request->from);
  if (room == NULL || resource == NULL || pg_room_find_member (room, resource) == NULL)
    {
      if (room == NULL && !looks_like_room (session, request))
        return PG_PASS; /* a contact */
      reply_error (transport, room, request, PG_ERR_NOT_ACCEPTABLE,
                   "this is a group chat: join it (as a room) to write to it");
      return PG_HANDLED;
    }
  xmlNode *x = pg_stanza_find_child (request->stanza, "x", PG_NS_MUC_USER);
  xmlNode *invite = x != NULL ? pg_stanza_find_child (x, "invite", NULL) : NULL;
  if (invite != NULL)
    on_invite (transport, request, session, room, invite);
  else if (x != NULL && pg_stanza_find_child (x, "decline", NULL) != NULL)
    ; /* XEP-0045 §7.8.2 declines: IRC has none, nothing to say to anyone */
  else if (pg_jid_get_resource (request->to) != NULL)
    on_private (transport, request, session, room);
  else if (pg_stanza_find_child (request->stanza, "body", NULL) != NULL)
    reply_error (transport, room, request, PG_ERR_BAD_REQUEST, "messages to a room are of type groupchat");
  return PG_HANDLED;
}

/* ---- iq ---- */

/* XEP-0410: a ping to the user's own occupant JID tells a client whether
 * it is still in the room; a ping to another occupant, whether they are. */
static PgRouteResult
on_ping (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);
  const char *resource = pg_jid_get_resource (request->from);
  const char *nick = pg_jid_get_resource (request->to);

  if (room == NULL && nick == NULL && !looks_like_room (session, request))
    return PG_PASS; /* contacts answer no pings */
  if (room == NULL || resource == NULL || pg_room_find_member (room, resource) == NULL)
    {
      /* XEP-0410 §3.2 answers with type cancel. */
      reply_error_typed (transport, room, request, PG_ERR_NOT_ACCEPTABLE, PG_ERR_TYPE_CANCEL,
                         "you are not in this room");
      return PG_HANDLED;
    }
  if (nick != NULL && g_strcmp0 (nick, room->nick) != 0 && pg_room_find_occupant (room, nick) == NULL)
    {
      reply_error (transport, room, request, PG_ERR_ITEM_NOT_FOUND, "nobody of that nick is in the room");
      return PG_HANDLED;
    }
  g_autoptr (PgStanza) result = pg_stanza_new_iq_result (request->stanza);
  pg_transport_send (transport, result);
  return PG_HANDLED;
}

static void
add_feature (xmlNode *query, const char *var)
{
  pg_stanza_set_attr (pg_stanza_add_child (query, "feature", NULL), "var", var);
}

static void
add_field (xmlNode *form, const char *var, const char *type, const char *value)
{
  xmlNode *field = pg_stanza_add_child (form, "field", NULL);
  pg_stanza_set_attr (field, "var", var);
  if (type != NULL)
    pg_stanza_set_attr (field, "type", type);
  pg_stanza_add_text_child (field, "value", NULL, value);
}

static xmlNode *
add_identity (xmlNode *query, const char *name)
{
  xmlNode *identity = pg_stanza_add_child (query, "identity", NULL);
  pg_stanza_set_attr (identity, "category", "conference");
  pg_stanza_set_attr (identity, "type", "text");
  pg_stanza_set_attr (identity, "name", name);
  return identity;
}

/* §7.12: the nick the user has in rooms (the legacy one). */
static void
reserved_nick (PgTransport *transport, const PgRouteRequest *request, PgSession *session, PgRoom *room)
{
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_DISCO_INFO);
  pg_stanza_set_attr (query, "node", "x-roomuser-item");
  g_autofree char *nick = room != NULL && room->nick != NULL ? g_strdup (room->nick)
                          : session != NULL && session->account != NULL
                              ? pg_account_dup_nick (session->account)
                              : NULL;
  if (nick != NULL)
    add_identity (query, nick);
  pg_transport_send (transport, reply);
}

static PgRouteResult
on_disco_info (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);
  const char *node = pg_stanza_get_attr (request->payload, "node");
  const char *resource = pg_jid_get_resource (request->from);

  if (room == NULL && !looks_like_room (session, request))
    return PG_PASS;
  if (g_strcmp0 (node, "x-roomuser-item") == 0)
    {
      reserved_nick (transport, request, session, room);
      return PG_HANDLED;
    }
  if (node != NULL)
    return PG_PASS;
  if (pg_jid_get_resource (request->to) != NULL)
    {
      /* §6.6: occupants are not asked on anyone's behalf. */
      gboolean occupant = room != NULL && resource != NULL && pg_room_find_member (room, resource) != NULL;
      reply_error (transport, room, request, occupant ? PG_ERR_SERVICE_UNAVAILABLE : PG_ERR_BAD_REQUEST,
                   occupant ? "occupants answer no discovery here" : "you are not in this room");
      return PG_HANDLED;
    }
  g_autofree char *name = pg_jid_unescape (pg_jid_get_node (request->to));
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_DISCO_INFO);
  add_identity (query, room != NULL ? room->name : name);
  PgChatModes modes = room != NULL ? room->modes : 0;
  add_feature (query, PG_NS_DISCO_INFO);
  add_feature (query, PG_NS_MUC);
  add_feature (query, PG_NS_PING);
  add_feature (query, NS_SELF_PING_OPTIMIZATION);
  add_feature (query, NS_STABLE_ID);
  add_feature (query, "muc_public");
  add_feature (query, (modes & PG_CHAT_MODE_INVITE_ONLY) ? "muc_membersonly" : "muc_open");
  add_feature (query, (modes & PG_CHAT_MODE_KEY) ? "muc_passwordprotected" : "muc_unsecured");
  add_feature (query, (modes & PG_CHAT_MODE_MODERATED) ? "muc_moderated" : "muc_unmoderated");
  add_feature (query, "muc_semianonymous");
  add_feature (query, "muc_temporary");
  if (room != NULL && room->joined)
    {
      xmlNode *form = pg_stanza_add_child (query, "x", PG_NS_DATA);
      pg_stanza_set_attr (form, "type", "result");
      add_field (form, "FORM_TYPE", "hidden", "http://jabber.org/protocol/muc#roominfo");
      add_field (form, "muc#roominfo_subject", NULL, room->subject != NULL ? room->subject : "");
      g_autofree char *count = g_strdup_printf ("%u", g_hash_table_size (room->occupants));
      add_field (form, "muc#roominfo_occupants", NULL, count);
    }
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

/* §6.5: a room's items are its own business (occupants stay private). */
static PgRouteResult
on_disco_items (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);

  if (pg_stanza_get_attr (request->payload, "node") != NULL
      || (room == NULL && !looks_like_room (session, request)))
    return PG_PASS;
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  pg_stanza_add_child (reply, "query", PG_NS_DISCO_ITEMS);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

/* The gateway's items: the rooms the asking user is in, and the legacy
 * network's own list (XEP-0045 §6.3). */
static PgRouteResult
on_domain_items (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgSession *session
      = transport->sessions != NULL ? pg_sessions_lookup (transport->sessions, request->from_bare) : NULL;

  if (pg_stanza_get_attr (request->payload, "node") != NULL || session == NULL)
    return PG_PASS; /* no session: nothing to list (transport/disco.c answers empty) */
  pg_rooms_answer_items (session, request->stanza);
  return PG_HANDLED;
}

/* §8.2: kicking an occupant (role none); other moderation is not the
 * legacy network's to do from here. */
static PgRouteResult
on_admin_set (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);
  const char *resource = pg_jid_get_resource (request->from);

  if (room == NULL || resource == NULL || pg_room_find_member (room, resource) == NULL)
    {
      reply_error (transport, room, request, PG_ERR_NOT_ACCEPTABLE, "you are not in this room");
      return PG_HANDLED;
    }
  xmlNode *item = pg_stanza_find_child (request->payload, "item", NULL);
  const char *nick = item != NULL ? pg_stanza_get_attr (item, "nick") : NULL;
  if (item != NULL && pg_stanza_get_attr (item, "role") != NULL
      && pg_stanza_get_attr (item, "affiliation") != NULL)
    {
      reply_error (transport, room, request, PG_ERR_BAD_REQUEST,
                   "an item changes a role or an affiliation, not both");
      return PG_HANDLED;
    }
  if (nick == NULL || g_strcmp0 (pg_stanza_get_attr (item, "role"), "none") != 0)
    {
      reply_error (transport, room, request, PG_ERR_FEATURE_NOT_IMPLEMENTED,
                   "only kicks (role none, by nick) reach the legacy network");
      return PG_HANDLED;
    }
  PgOccupant *occupant = pg_room_find_occupant (room, nick);
  if (occupant == NULL)
    {
      reply_error (transport, room, request, PG_ERR_ITEM_NOT_FOUND, "nobody of that nick is in the room");
      return PG_HANDLED;
    }
  PgChatRank own = pg_room_own_rank (room);
  if (own < PG_CHAT_RANK_HALFOP)
    {
      reply_error (transport, room, request, PG_ERR_FORBIDDEN,
                   "only moderators (channel operators) may kick");
      return PG_HANDLED;
    }
  if (occupant->rank > own)
    {
      reply_error (transport, room, request, PG_ERR_NOT_ALLOWED, "that occupant ranks above you");
      return PG_HANDLED;
    }
  g_autofree char *reason = pg_stanza_dup_child_text (item, "reason", NULL);
  pg_room_expect (room, PG_ROOM_KICK, resource, request->stanza);
  pg_account_kick_chat (session->account, room->name, occupant->nick, reason);
  return PG_HANDLED;
}

static PgRouteResult
on_admin_get (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);
  reply_error (transport, room, request, PG_ERR_FEATURE_NOT_IMPLEMENTED,
               "the legacy network's lists are not available here");
  return PG_HANDLED;
}

/* §10: legacy chats are never locked awaiting configuration; an instant
 * room submit is accepted as it is, the rest is not for this room. */
static PgRouteResult
on_owner (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  PgSession *session;
  PgRoom *room = find_room (transport, request, &session);
  xmlNode *form = pg_stanza_find_child (request->payload, "x", PG_NS_DATA);

  if (g_str_equal (request->type, "set") && form != NULL
      && g_strcmp0 (pg_stanza_get_attr (form, "type"), "submit") == 0
      && pg_stanza_first_element (form) == NULL)
    {
      g_autoptr (PgStanza) result = pg_stanza_new_iq_result (request->stanza);
      pg_transport_send (transport, result);
      return PG_HANDLED;
    }
  if (room == NULL || pg_room_own_rank (room) < PG_CHAT_RANK_FOUNDER)
    reply_error (transport, room, request, PG_ERR_FORBIDDEN, "only the room's owner configures it");
  else
    reply_error (transport, room, request, PG_ERR_FEATURE_NOT_IMPLEMENTED,
                 "the legacy network's room configuration is not available here");
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_PRESENCE, "", NULL, NULL, PG_TARGET_CONTACT, on_available },
  { PG_KIND_PRESENCE, "unavailable", NULL, NULL, PG_TARGET_CONTACT, on_unavailable },
  { PG_KIND_PRESENCE, "error", NULL, NULL, PG_TARGET_CONTACT, on_unavailable },
  { PG_KIND_MESSAGE, NULL, NULL, NULL, PG_TARGET_CONTACT, on_message },
  { PG_KIND_IQ, "get", PG_NS_PING, "ping", PG_TARGET_CONTACT, on_ping },
  { PG_KIND_IQ, "get", PG_NS_DISCO_INFO, "query", PG_TARGET_CONTACT, on_disco_info },
  { PG_KIND_IQ, "get", PG_NS_DISCO_ITEMS, "query", PG_TARGET_CONTACT, on_disco_items },
  { PG_KIND_IQ, "get", PG_NS_DISCO_ITEMS, "query", PG_TARGET_DOMAIN, on_domain_items },
  { PG_KIND_IQ, "set", PG_NS_MUC_ADMIN, "query", PG_TARGET_CONTACT, on_admin_set },
  { PG_KIND_IQ, "get", PG_NS_MUC_ADMIN, "query", PG_TARGET_CONTACT, on_admin_get },
  { PG_KIND_IQ, NULL, PG_NS_MUC_OWNER, "query", PG_TARGET_CONTACT, on_owner },
};

static const char *const features[] = {
  PG_NS_MUC,
  NS_STABLE_ID,
  NULL,
};

void
pg_rooms_register (PgTransport *transport)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
  pg_router_add_features (transport->router, features);
}
