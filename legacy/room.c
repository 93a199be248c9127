/* legacy/room.c — a user's legacy group chats as XEP-0045 rooms: room
 * state, and the account's chat events turned into stanzas for every
 * resource in the room (XEP-0045 §7.2 join order: occupants, own presence
 * with 110, history, subject). */
#define G_LOG_DOMAIN "pg-room"
#include "build-config.h"

#include "legacy/room-private.h"

#include "legacy/message.h"
#include "transport/i18n.h"

#include <string.h>

/* ---- members and occupants ---- */

PgRoomMember *
pg_room_member_new (const char *resource, const char *asked_nick, const PgHistoryWish *history)
{
  PgRoomMember *member = g_new0 (PgRoomMember, 1);
  member->resource = g_strdup (resource);
  member->asked_nick = g_strdup (asked_nick);
  member->history = *history;
  return member;
}

void
pg_room_member_free (PgRoomMember *member)
{
  g_free (member->resource);
  g_free (member->asked_nick);
  g_free (member);
}

static void
occupant_free (PgOccupant *occupant)
{
  g_free (occupant->nick);
  g_free (occupant);
}

static void
backlog_entry_free (PgBacklogEntry *entry)
{
  g_free (entry->nick);
  g_free (entry->text);
  g_free (entry);
}

static void
pending_free (PgRoomPending *pending)
{
  g_free (pending->resource);
  pg_stanza_free (pending->stanza);
  g_free (pending);
}

static void
room_free (PgRoom *room)
{
  g_clear_handle_id (&room->join_timeout_id, g_source_remove);
  g_clear_handle_id (&room->confirm_id, g_source_remove);
  g_hash_table_unref (room->occupants);
  g_ptr_array_unref (room->members);
  g_ptr_array_unref (room->waiting);
  g_queue_clear_full (&room->backlog, (GDestroyNotify)backlog_entry_free);
  g_queue_clear_full (&room->pending, (GDestroyNotify)pending_free);
  g_free (room->jid);
  g_free (room->name);
  g_free (room->key);
  g_free (room->nick);
  g_free (room->password);
  g_free (room->subject);
  g_free (room->subject_by);
  g_free (room);
}

PgRoom *
pg_room_lookup (PgSession *session, const char *jid)
{
  return session->rooms != NULL ? g_hash_table_lookup (session->rooms, jid) : NULL;
}

PgRoom *
pg_room_ensure (PgSession *session, const char *jid, const char *name)
{
  PgRoom *room = pg_room_lookup (session, jid);
  if (room != NULL)
    return room;
  if (session->rooms == NULL)
    {
      session->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)room_free);
      session->rooms_by_key = g_hash_table_new (g_str_hash, g_str_equal);
    }
  room = g_new0 (PgRoom, 1);
  room->session = session;
  room->jid = g_strdup (jid);
  room->name = g_strdup (name);
  room->occupants = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)occupant_free);
  room->members = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_room_member_free);
  room->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_room_member_free);
  g_hash_table_insert (session->rooms, room->jid, room);
  return room;
}

/* Forgets @room; the legacy chat is left when it was joined or asked for. */
static void
room_close (PgRoom *room, gboolean leave)
{
  PgSession *session = room->session;
  if (leave && room->join_sent && session->account != NULL)
    pg_account_leave_chat (session->account, room->name);
  if (room->key != NULL && g_hash_table_lookup (session->rooms_by_key, room->key) == room)
    g_hash_table_remove (session->rooms_by_key, room->key);
  g_debug ("%s: room %s closed", session->bare_jid, room->jid);
  g_hash_table_remove (session->rooms, room->jid);
}

PgRoomMember *
pg_room_find_member (PgRoom *room, const char *resource)
{
  for (guint i = 0; i < room->members->len; i++)
    {
      PgRoomMember *member = g_ptr_array_index (room->members, i);
      if (strcmp (member->resource, resource) == 0)
        return member;
    }
  return NULL;
}

char *
pg_room_dup_occupant_jid (PgRoom *room, const char *nick)
{
  return g_strconcat (room->jid, "/", nick, NULL);
}

const char *
pg_room_affiliation (PgRoom *room, PgChatRank rank)
{
  (void)room;
  switch (rank)
    {
    case PG_CHAT_RANK_FOUNDER:
      return "owner";
    case PG_CHAT_RANK_OP:
      return "admin";
    case PG_CHAT_RANK_HALFOP:
    case PG_CHAT_RANK_VOICE:
      return "member";
    case PG_CHAT_RANK_NONE:
    default:
      return "none";
    }
}

const char *
pg_room_role (PgRoom *room, PgChatRank rank)
{
  if (rank >= PG_CHAT_RANK_HALFOP)
    return "moderator";
  if (rank == PG_CHAT_RANK_NONE && (room->modes & PG_CHAT_MODE_MODERATED))
    return "visitor";
  return "participant";
}

void
pg_room_send_to (PgRoom *room, const char *resource, xmlNode *stanza_owned)
{
  g_autoptr (PgStanza) stanza = stanza_owned;
  g_autofree char *to = g_strconcat (room->session->bare_jid, "/", resource, NULL);
  pg_stanza_set_attr (stanza, "to", to);
  pg_transport_send (room->session->transport, stanza);
}

/* An occupant's presence: @type NULL (available) or "unavailable",
 * muc#user item for @rank (role none when leaving) with @item_nick, the
 * status codes of @codes (0-terminated) and @status text. */
static xmlNode *
occupant_presence (PgRoom *room, const char *nick, PgChatRank rank, const char *type, const guint *codes,
                   const char *item_nick, const char *status)
{
  g_autofree char *from = pg_room_dup_occupant_jid (room, nick);
  xmlNode *presence = pg_stanza_new ("presence", from, NULL, type, NULL);
  if (status != NULL)
    pg_stanza_add_text_child (presence, "status", NULL, status);
  xmlNode *x = pg_stanza_add_child (presence, "x", PG_NS_MUC_USER);
  xmlNode *item = pg_stanza_add_child (x, "item", NULL);
  pg_stanza_set_attr (item, "affiliation", pg_room_affiliation (room, rank));
  pg_stanza_set_attr (item, "role", type != NULL ? "none" : pg_room_role (room, rank));
  if (item_nick != NULL)
    pg_stanza_set_attr (item, "nick", item_nick);
  for (; codes != NULL && *codes != 0; codes++)
    {
      char code[8];
      g_snprintf (code, sizeof code, "%u", *codes);
      pg_stanza_set_attr (pg_stanza_add_child (x, "status", NULL), "code", code);
    }
  return presence;
}

/* Sends @build's stanza to every resource in the room. */
static void
broadcast (PgRoom *room, const xmlNode *stanza)
{
  for (guint i = 0; i < room->members->len; i++)
    pg_room_send_to (room, ((PgRoomMember *)g_ptr_array_index (room->members, i))->resource,
                     pg_stanza_copy (stanza));
}

static PgChatRank
own_rank (PgRoom *room)
{
  PgOccupant *own = room->nick != NULL ? g_hash_table_lookup (room->occupants, room->nick) : NULL;
  return own != NULL ? own->rank : PG_CHAT_RANK_NONE;
}

/* The user's own presence in the room for @member, with 110 (and 210 when
 * the legacy nick is not the one asked for). */
static xmlNode *
self_presence (PgRoom *room, PgRoomMember *member, const char *type, guint extra_code, const char *item_nick)
{
  guint codes[4] = { 110, 0, 0, 0 };
  guint n = 1;
  if (member != NULL && type == NULL && g_strcmp0 (member->asked_nick, room->nick) != 0)
    codes[n++] = 210;
  if (extra_code != 0)
    codes[n++] = extra_code;
  return occupant_presence (room, room->nick, own_rank (room), type, codes, item_nick, NULL);
}

static xmlNode *
groupchat_message (PgRoom *room, const char *nick, const char *body)
{
  g_autofree char *from = nick != NULL ? pg_room_dup_occupant_jid (room, nick) : g_strdup (room->jid);
  xmlNode *message = pg_stanza_new ("message", from, NULL, "groupchat", NULL);
  pg_stanza_add_text_child (message, "body", NULL, body);
  return message;
}

static xmlNode *
subject_message (PgRoom *room, const char *nick)
{
  g_autofree char *from = nick != NULL ? pg_room_dup_occupant_jid (room, nick) : g_strdup (room->jid);
  xmlNode *message = pg_stanza_new ("message", from, NULL, "groupchat", NULL);
  pg_stanza_add_text_child (message, "subject", NULL, room->subject != NULL ? room->subject : "");
  return message;
}

/* ---- history ---- */

static void
backlog_add (PgRoom *room, const char *nick, const char *text)
{
  guint limit = room->session->transport->config->history_messages;
  PgBacklogEntry *entry = g_new0 (PgBacklogEntry, 1);
  entry->nick = g_strdup (nick);
  entry->text = g_strdup (text);
  entry->stamp_us = g_get_real_time ();
  g_queue_push_tail (&room->backlog, entry);
  while (room->backlog.length > limit)
    backlog_entry_free (g_queue_pop_head (&room->backlog));
}

/* XEP-0045 §7.2.13: the newest messages that fit every limit the client
 * set, oldest first, each with its XEP-0203 delay. */
static void
send_history (PgRoom *room, PgRoomMember *member)
{
  const PgHistoryWish *wish = &member->history;
  gint64 oldest
      = g_get_real_time () - (gint64)room->session->transport->config->history_max_age_s * G_USEC_PER_SEC;
  if (wish->since_us > oldest)
    oldest = wish->since_us;
  guint count = 0;
  gint64 chars = 0;
  GList *first = NULL;
  for (GList *l = room->backlog.tail; l != NULL; l = l->prev)
    {
      PgBacklogEntry *entry = l->data;
      if (entry->stamp_us < oldest)
        break;
      if (wish->maxstanzas >= 0 && count + 1 > (guint)wish->maxstanzas)
        break;
      chars += (gint64)strlen (entry->text) + 64; /* roughly the stanza's size */
      if (wish->maxchars >= 0 && chars > wish->maxchars)
        break;
      count++;
      first = l;
    }
  for (GList *l = first; l != NULL && count > 0; l = l->next, count--)
    {
      PgBacklogEntry *entry = l->data;
      xmlNode *message = groupchat_message (room, entry->nick, entry->text);
      g_autoptr (GDateTime) when = g_date_time_new_from_unix_utc (entry->stamp_us / G_USEC_PER_SEC);
      g_autofree char *stamp = g_date_time_format (when, "%Y-%m-%dT%H:%M:%SZ");
      xmlNode *delay = pg_stanza_add_child (message, "delay", PG_NS_DELAY);
      pg_stanza_set_attr (delay, "from", room->jid);
      pg_stanza_set_attr (delay, "stamp", stamp);
      pg_room_send_to (room, member->resource, message);
    }
}

/* ---- joining ---- */

/* XEP-0045 §7.2: everything a resource entering the room is owed. */
static void
welcome (PgRoom *room, PgRoomMember *member)
{
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, room->occupants);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgOccupant *occupant = value;
      if (g_strcmp0 (occupant->nick, room->nick) == 0)
        continue;
      pg_room_send_to (room, member->resource,
                       occupant_presence (room, occupant->nick, occupant->rank, NULL, NULL, NULL, NULL));
    }
  pg_room_send_to (room, member->resource, self_presence (room, member, NULL, 0, NULL));
  send_history (room, member);
  pg_room_send_to (room, member->resource, subject_message (room, room->subject_by));
}

static void
join_error (PgRoom *room, PgRoomMember *member, PgErrorCondition condition, const char *text)
{
  g_autofree char *from = pg_room_dup_occupant_jid (room, member->asked_nick);
  g_autofree char *to = g_strconcat (room->session->bare_jid, "/", member->resource, NULL);
  /* The error answers the join presence: from the occupant address it went to. */
  g_autoptr (PgStanza) join = pg_stanza_new ("presence", to, from, NULL, NULL);
  pg_stanza_add_child (join, "x", PG_NS_MUC);
  g_autoptr (PgStanza) error = pg_stanza_error_reply (join, condition, PG_ERR_TYPE_DEFAULT, text);
  pg_transport_send (room->session->transport, error);
}

/* Every waiting resource gets @condition; the room goes if nobody is in. */
static void
fail_waiting (PgRoom *room, PgErrorCondition condition, const char *text)
{
  g_autoptr (GPtrArray) waiting = g_steal_pointer (&room->waiting);
  room->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_room_member_free);
  g_message ("%s: joining %s failed: %s", room->session->bare_jid, room->name,
             text != NULL ? text : "refused");
  for (guint i = 0; i < waiting->len; i++)
    join_error (room, g_ptr_array_index (waiting, i), condition, text);
  if (room->members->len == 0)
    room_close (room, TRUE);
}

static gboolean
join_timed_out (gpointer data)
{
  PgRoom *room = data;
  room->join_timeout_id = 0;
  fail_waiting (room, PG_ERR_REMOTE_SERVER_TIMEOUT, "the legacy network did not answer the join");
  return G_SOURCE_REMOVE;
}

static void
send_join (PgRoom *room)
{
  PgSession *session = room->session;
  PgRoomMember *first = g_ptr_array_index (room->waiting, 0);
  g_free (room->key);
  room->key = pg_account_normalize (session->account, room->name);
  g_hash_table_replace (session->rooms_by_key, room->key, room);
  room->join_sent = TRUE;
  g_message ("%s: joining %s", session->bare_jid, room->name);
  pg_account_join_chat (session->account, room->name, first->asked_nick, room->password);
}

void
pg_room_add_member (PgRoom *room, PgRoomMember *member)
{
  if (room->joined)
    {
      g_ptr_array_add (room->members, member);
      welcome (room, member);
      return;
    }
  g_ptr_array_add (room->waiting, member);
  if (room->join_timeout_id == 0)
    room->join_timeout_id
        = g_timeout_add_seconds (room->session->transport->config->join_timeout_s, join_timed_out, room);
  if (!room->join_sent && room->session->state == PG_SESSION_ONLINE)
    send_join (room);
}

void
pg_room_forget_resource (PgRoom *room, const char *resource)
{
  for (guint i = 0; i < room->waiting->len; i++)
    if (strcmp (((PgRoomMember *)g_ptr_array_index (room->waiting, i))->resource, resource) == 0)
      {
        g_ptr_array_remove_index (room->waiting, i);
        break;
      }
  PgRoomMember *member = pg_room_find_member (room, resource);
  if (member != NULL)
    g_ptr_array_remove (room->members, member);
}

void
pg_room_remove_member (PgRoom *room, const char *resource, gboolean tell)
{
  if (tell && pg_room_find_member (room, resource) != NULL)
    pg_room_send_to (room, resource, self_presence (room, NULL, "unavailable", 0, NULL));
  pg_room_forget_resource (room, resource);
  if (room->members->len == 0 && room->waiting->len == 0)
    room_close (room, TRUE);
}

/* ---- the user's messages and commands ---- */

void
pg_room_reflect (PgRoom *room, const xmlNode *stanza, const char *body)
{
  g_autoptr (PgStanza) message = groupchat_message (room, room->nick, body);
  const char *id = pg_stanza_get_attr (stanza, "id");
  if (id != NULL)
    pg_stanza_set_attr (message, "id", id);
  xmlNode *origin = pg_stanza_find_child (stanza, "origin-id", PG_NS_SID);
  if (origin != NULL)
    pg_stanza_add_copy (message, origin);
  backlog_add (room, room->nick, body);
  broadcast (room, message);
}

/* IRC answers a client's lines in order and says nothing of those it
 * accepts: a PING after the messages of this main-loop iteration tells
 * which of them a later refusal cannot be about. */
static gboolean
confirm_messages (gpointer data)
{
  PgRoom *room = data;
  room->confirm_id = 0;
  guint64 serial = room->session->account != NULL ? pg_account_confirm_sent (room->session->account) : 0;
  for (GList *l = room->pending.head, *next; l != NULL; l = next)
    {
      PgRoomPending *pending = l->data;
      next = l->next;
      if (pending->action != PG_ROOM_SEND || pending->serial != 0)
        continue;
      if (serial != 0)
        pending->serial = serial;
      else
        {
          /* No round trip on this protocol: no verdict will come. */
          g_queue_delete_link (&room->pending, l);
          pending_free (pending);
        }
    }
  return G_SOURCE_REMOVE;
}

void
pg_room_expect (PgRoom *room, PgRoomAction action, const char *resource, const xmlNode *stanza)
{
  PgRoomPending *pending = g_new0 (PgRoomPending, 1);
  gint64 now = g_get_monotonic_time ();
  pending->action = action;
  pending->resource = g_strdup (resource);
  pending->stanza = pg_stanza_copy (stanza);
  pending->at = now;
  /* A command the network neither did nor refused this long is forgotten. */
  while (room->pending.length > 0
         && now - ((PgRoomPending *)g_queue_peek_head (&room->pending))->at
                > PG_ROOM_ADMIN_TIMEOUT_S * G_USEC_PER_SEC)
    pending_free (g_queue_pop_head (&room->pending));
  g_queue_push_tail (&room->pending, pending);
  if (action == PG_ROOM_SEND && room->confirm_id == 0)
    room->confirm_id = g_idle_add (confirm_messages, room);
}

/* The oldest pending stanza asking for one of @actions, taken out; NULL if none. */
static PgRoomPending *
take_pending (PgRoom *room, guint actions)
{
  for (GList *l = room->pending.head; l != NULL; l = l->next)
    {
      PgRoomPending *pending = l->data;
      if (pending->action & actions)
        {
          g_queue_delete_link (&room->pending, l);
          return pending;
        }
    }
  return NULL;
}

/* The error reply to the oldest pending stanza asking for one of @actions. */
static gboolean
fail_pending (PgRoom *room, guint actions, PgErrorCondition condition, const char *text)
{
  PgRoomPending *pending = take_pending (room, actions);
  if (pending == NULL)
    return FALSE;
  g_autoptr (PgStanza) error = pg_stanza_error_reply (pending->stanza, condition, PG_ERR_TYPE_DEFAULT, text);
  pg_transport_send (room->session->transport, error);
  pending_free (pending);
  return TRUE;
}

/* The network did what the oldest stanza asking for @action asked: an iq
 * gets its result, anything else needs no answer. */
static void
succeed_pending (PgRoom *room, PgRoomAction action)
{
  PgRoomPending *pending = take_pending (room, action);
  if (pending == NULL)
    return;
  if (pg_stanza_is (pending->stanza, "iq", NULL))
    {
      g_autoptr (PgStanza) result = pg_stanza_new_iq_result (pending->stanza);
      pg_transport_send (room->session->transport, result);
    }
  pending_free (pending);
}

void
pg_rooms_on_confirmed (PgSession *session, guint64 serial)
{
  if (session->rooms == NULL)
    return;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, session->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgRoom *room = value;
      for (GList *l = room->pending.head, *next; l != NULL; l = next)
        {
          PgRoomPending *pending = l->data;
          next = l->next;
          if (pending->action == PG_ROOM_SEND && pending->serial != 0 && pending->serial <= serial)
            {
              g_queue_delete_link (&room->pending, l);
              pending_free (pending);
            }
        }
    }
}

/* ---- legacy events ---- */

static PgErrorCondition
refusal_condition (PgChatRefusal refusal)
{
  switch (refusal)
    {
    case PG_CHAT_REFUSED_NOT_FOUND:
      return PG_ERR_ITEM_NOT_FOUND;
    case PG_CHAT_REFUSED_BAD_NAME:
      return PG_ERR_JID_MALFORMED;
    case PG_CHAT_REFUSED_KEY:
      return PG_ERR_NOT_AUTHORIZED;
    case PG_CHAT_REFUSED_BANNED:
      return PG_ERR_FORBIDDEN;
    case PG_CHAT_REFUSED_INVITE_ONLY:
    case PG_CHAT_REFUSED_REGISTERED_ONLY:
      return PG_ERR_REGISTRATION_REQUIRED;
    case PG_CHAT_REFUSED_FULL:
      return PG_ERR_SERVICE_UNAVAILABLE;
    case PG_CHAT_REFUSED_TOO_MANY:
      return PG_ERR_NOT_ALLOWED;
    case PG_CHAT_REFUSED_NICK_IN_USE:
      return PG_ERR_CONFLICT;
    case PG_CHAT_REFUSED_BAD_NICK:
      return PG_ERR_JID_MALFORMED;
    case PG_CHAT_REFUSED_CANNOT_SEND:
    case PG_CHAT_REFUSED_NOT_OPERATOR:
      return PG_ERR_FORBIDDEN;
    case PG_CHAT_REFUSED_NOT_JOINED:
      return PG_ERR_NOT_ACCEPTABLE;
    case PG_CHAT_REFUSED_NO_SUCH_NICK:
    default:
      return PG_ERR_ITEM_NOT_FOUND;
    }
}

static void
on_refused (PgSession *session, PgRoom *room, const PgChatEvent *event)
{
  PgErrorCondition condition = refusal_condition (event->refusal);
  if (room == NULL)
    {
      /* A nick refused: the connection's, so the nick change of any room. */
      if (session->rooms == NULL)
        return;
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, session->rooms);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          if (fail_pending (value, PG_ROOM_NICK, condition, event->text))
            return;
        }
      return;
    }
  switch (event->refusal)
    {
    case PG_CHAT_REFUSED_CANNOT_SEND:
      fail_pending (room, PG_ROOM_SEND, condition, event->text);
      return;
    case PG_CHAT_REFUSED_NOT_OPERATOR:
      fail_pending (room, PG_ROOM_TOPIC | PG_ROOM_KICK | PG_ROOM_INVITE, condition, event->text);
      return;
    case PG_CHAT_REFUSED_NO_SUCH_NICK:
      fail_pending (room, PG_ROOM_KICK | PG_ROOM_INVITE, condition, event->text);
      return;
    case PG_CHAT_REFUSED_INVITED:
      succeed_pending (room, PG_ROOM_INVITE);
      return;
    case PG_CHAT_REFUSED_NOT_JOINED:
      fail_pending (room, ~0u, condition, event->text);
      return;
    default:
      if (!room->joined)
        fail_waiting (room, condition, event->text);
      return;
    }
}

static void
on_joined (PgRoom *room, const PgChatEvent *event)
{
  g_clear_handle_id (&room->join_timeout_id, g_source_remove);
  g_free (room->nick);
  room->nick = g_strdup (event->nick);
  room->joined = TRUE;
  g_message ("%s: joined %s as %s (%u occupants)", room->session->bare_jid, room->name, room->nick,
             g_hash_table_size (room->occupants));
  g_autoptr (GPtrArray) waiting = g_steal_pointer (&room->waiting);
  room->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_room_member_free);
  g_ptr_array_set_free_func (waiting, NULL); /* the members move over */
  for (guint i = 0; i < waiting->len; i++)
    pg_room_add_member (room, g_ptr_array_index (waiting, i));
}

static void
on_occupant (PgRoom *room, const PgChatEvent *event)
{
  PgOccupant *occupant = g_hash_table_lookup (room->occupants, event->nick);
  if (occupant != NULL && occupant->rank == event->rank && !event->arrived)
    return;
  if (occupant == NULL)
    {
      occupant = g_new0 (PgOccupant, 1);
      occupant->nick = g_strdup (event->nick);
      g_hash_table_insert (room->occupants, occupant->nick, occupant);
    }
  occupant->rank = event->rank;
  if (!room->joined)
    return;
  if (g_strcmp0 (event->nick, room->nick) == 0)
    {
      for (guint i = 0; i < room->members->len; i++)
        {
          PgRoomMember *member = g_ptr_array_index (room->members, i);
          pg_room_send_to (room, member->resource, self_presence (room, NULL, NULL, 0, NULL));
        }
      return;
    }
  g_autoptr (PgStanza) presence
      = occupant_presence (room, occupant->nick, occupant->rank, NULL, NULL, NULL, NULL);
  broadcast (room, presence);
}

static void
on_occupant_left (PgRoom *room, const PgChatEvent *event)
{
  PgOccupant *occupant = g_hash_table_lookup (room->occupants, event->nick);
  if (occupant == NULL)
    return;
  if (room->joined)
    {
      static const guint kicked[] = { 307, 0 };
      static const guint banned[] = { 301, 0 };
      g_autoptr (PgStanza) presence = occupant_presence (room, occupant->nick, occupant->rank, "unavailable",
                                                         event->banned   ? banned
                                                         : event->kicked ? kicked
                                                                         : NULL,
                                                         NULL, event->text);
      broadcast (room, presence);
    }
  g_hash_table_remove (room->occupants, event->nick);
  if (event->kicked)
    succeed_pending (room, PG_ROOM_KICK);
}

static void
on_renamed (PgRoom *room, const PgChatEvent *event)
{
  PgOccupant *occupant = g_hash_table_lookup (room->occupants, event->nick);
  gboolean own = g_strcmp0 (event->nick, room->nick) == 0;
  PgChatRank rank = occupant != NULL ? occupant->rank : PG_CHAT_RANK_NONE;
  if (room->joined)
    {
      static const guint changed[] = { 303, 0 };
      static const guint own_changed[] = { 303, 110, 0 };
      g_autoptr (PgStanza) gone = occupant_presence (room, event->nick, rank, "unavailable",
                                                     own ? own_changed : changed, event->new_nick, NULL);
      broadcast (room, gone);
    }
  if (occupant != NULL)
    {
      g_hash_table_steal (room->occupants, event->nick);
      g_free (occupant->nick);
      occupant->nick = g_strdup (event->new_nick);
      g_hash_table_replace (room->occupants, occupant->nick, occupant);
    }
  if (own)
    {
      g_free (room->nick);
      room->nick = g_strdup (event->new_nick);
      succeed_pending (room, PG_ROOM_NICK);
    }
  if (!room->joined)
    return;
  if (own)
    for (guint i = 0; i < room->members->len; i++)
      {
        PgRoomMember *member = g_ptr_array_index (room->members, i);
        pg_room_send_to (room, member->resource, self_presence (room, NULL, NULL, 0, NULL));
      }
  else
    {
      g_autoptr (PgStanza) back = occupant_presence (room, event->new_nick, rank, NULL, NULL, NULL, NULL);
      broadcast (room, back);
    }
}

static void
on_message (PgRoom *room, const PgChatEvent *event)
{
  g_autofree char *text = pg_message_html_to_text (event->text);
  backlog_add (room, event->nick, text);
  if (!room->joined)
    return;
  g_autoptr (PgStanza) message = groupchat_message (room, event->nick, text);
  if (event->delayed)
    {
      /* The legacy room's own history, after the join: it is no news. */
      xmlNode *delay = pg_stanza_add_child (message, "delay", PG_NS_DELAY);
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
      pg_stanza_set_attr (delay, "from", room->jid);
      pg_stanza_set_attr (delay, "stamp", stamp);
    }
  broadcast (room, message);
}

static void
on_topic (PgRoom *room, const PgChatEvent *event)
{
  g_autofree char *text = pg_message_html_to_text (event->text);
  gboolean changed = g_strcmp0 (room->subject, text) != 0 || event->nick != NULL;
  g_free (room->subject);
  room->subject = g_steal_pointer (&text);
  g_free (room->subject_by);
  room->subject_by = g_strdup (event->nick);
  if (event->nick != NULL && g_strcmp0 (event->nick, room->nick) == 0)
    succeed_pending (room, PG_ROOM_TOPIC);
  if (room->joined && changed)
    {
      g_autoptr (PgStanza) message = subject_message (room, event->nick);
      broadcast (room, message);
    }
}

static void
on_left (PgRoom *room, const PgChatEvent *event)
{
  g_message ("%s: out of %s (%s)", room->session->bare_jid, room->name, event->kicked ? "kicked" : "dropped");
  for (guint i = 0; i < room->members->len; i++)
    {
      PgRoomMember *member = g_ptr_array_index (room->members, i);
      /* 307: kicked; 333: the legacy side ended it for another reason. */
      xmlNode *presence = self_presence (room, NULL, "unavailable",
                                         event->banned   ? 301
                                         : event->kicked ? 307
                                                         : 333,
                                         NULL);
      if (event->text != NULL)
        pg_stanza_add_text_child (presence, "status", NULL, event->text);
      pg_room_send_to (room, member->resource, presence);
    }
  g_ptr_array_set_size (room->members, 0);
  PgSession *session = room->session;
  g_autofree char *jid = g_strdup (room->jid);
  fail_waiting (room, PG_ERR_SERVICE_UNAVAILABLE, event->text);
  /* Out already: nothing to leave on the legacy side. */
  if ((room = pg_room_lookup (session, jid)) != NULL)
    room_close (room, FALSE);
}

static void
on_invited (PgSession *session, const PgChatEvent *event)
{
  PgTransport *transport = session->transport;
  g_autofree char *room_jid = pg_jid_for_legacy_name (event->chat, transport->config->component_jid, NULL);
  if (room_jid == NULL)
    return;
  g_autoptr (PgStanza) message = pg_stanza_new ("message", room_jid, session->bare_jid, NULL, NULL);
  xmlNode *x = pg_stanza_add_child (message, "x", PG_NS_CONFERENCE);
  pg_stanza_set_attr (x, "jid", room_jid);
  if (event->password != NULL)
    pg_stanza_set_attr (x, "password", event->password);
  g_autofree char *reason
      = event->nick != NULL
            ? g_strdup_printf ("%s invites you to %s%s%s", event->nick, event->chat,
                               event->text != NULL ? ": " : "", event->text != NULL ? event->text : "")
            : NULL;
  if (reason != NULL)
    {
      pg_stanza_set_attr (x, "reason", reason);
      pg_stanza_add_text_child (message, "body", NULL, reason);
    }
  pg_transport_send (transport, message);
}

static void
on_modes (PgRoom *room, const PgChatEvent *event)
{
  gboolean moderation = ((room->modes ^ event->modes) & PG_CHAT_MODE_MODERATED) != 0;
  room->modes = event->modes;
  if (!moderation || !room->joined)
    return;
  /* +m/-m changes the role of everyone without a rank. */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, room->occupants);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgOccupant *occupant = value;
      if (occupant->rank != PG_CHAT_RANK_NONE)
        continue;
      if (g_strcmp0 (occupant->nick, room->nick) == 0)
        {
          for (guint i = 0; i < room->members->len; i++)
            pg_room_send_to (room, ((PgRoomMember *)g_ptr_array_index (room->members, i))->resource,
                             self_presence (room, NULL, NULL, 0, NULL));
          continue;
        }
      g_autoptr (PgStanza) presence
          = occupant_presence (room, occupant->nick, occupant->rank, NULL, NULL, NULL, NULL);
      broadcast (room, presence);
    }
}

void
pg_rooms_on_chat (gpointer owner, const PgChatEvent *event)
{
  PgSession *session = owner;
  if (event->kind == PG_CHAT_EVENT_INVITED)
    {
      on_invited (session, event);
      return;
    }
  PgRoom *room = event->chat != NULL && session->rooms_by_key != NULL
                     ? g_hash_table_lookup (session->rooms_by_key, event->chat)
                     : NULL;
  if (event->kind == PG_CHAT_EVENT_REFUSED)
    {
      if (event->chat == NULL || room != NULL)
        on_refused (session, room, event);
      return;
    }
  if (room == NULL)
    return; /* a chat the user left meanwhile */
  switch (event->kind)
    {
    case PG_CHAT_EVENT_JOINED:
      on_joined (room, event);
      break;
    case PG_CHAT_EVENT_OCCUPANT:
      on_occupant (room, event);
      break;
    case PG_CHAT_EVENT_OCCUPANT_LEFT:
      on_occupant_left (room, event);
      break;
    case PG_CHAT_EVENT_RENAMED:
      on_renamed (room, event);
      break;
    case PG_CHAT_EVENT_MESSAGE:
      on_message (room, event);
      break;
    case PG_CHAT_EVENT_TOPIC:
      on_topic (room, event);
      break;
    case PG_CHAT_EVENT_LEFT:
      on_left (room, event);
      break;
    case PG_CHAT_EVENT_MODES:
      on_modes (room, event);
      break;
    case PG_CHAT_EVENT_REFUSED:
    case PG_CHAT_EVENT_INVITED:
      break;
    }
}

/* ---- the session's life ---- */

static GPtrArray *
rooms_snapshot (PgSession *session)
{
  GPtrArray *rooms = g_ptr_array_new ();
  if (session->rooms != NULL)
    {
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, session->rooms);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_ptr_array_add (rooms, value);
    }
  return rooms;
}

void
pg_rooms_on_connected (PgSession *session)
{
  g_autoptr (GPtrArray) rooms = rooms_snapshot (session);
  for (guint i = 0; i < rooms->len; i++)
    {
      PgRoom *room = g_ptr_array_index (rooms, i);
      if (!room->join_sent && room->waiting->len > 0)
        send_join (room);
    }
}

void
pg_rooms_drop_all (PgSession *session, PgErrorCondition condition, const char *reason)
{
  g_autoptr (GPtrArray) rooms = rooms_snapshot (session);
  for (guint i = 0; i < rooms->len; i++)
    {
      PgRoom *room = g_ptr_array_index (rooms, i);
      if (room->waiting->len > 0 && room->session->account == NULL
          && condition == PG_ERR_REMOTE_SERVER_TIMEOUT)
        {
          /* A network failure: the joins wait for the reconnection, their timeout runs. */
          room->join_sent = FALSE;
          room->joined = FALSE;
        }
      else if (room->waiting->len > 0)
        fail_waiting (room, condition, reason);
      if (pg_room_lookup (session, room->jid) != room)
        continue;
      for (guint m = 0; m < room->members->len; m++)
        {
          PgRoomMember *member = g_ptr_array_index (room->members, m);
          xmlNode *presence = self_presence (room, NULL, "unavailable", 333, NULL);
          if (reason != NULL)
            pg_stanza_add_text_child (presence, "status", NULL, reason);
          pg_room_send_to (room, member->resource, presence);
        }
      g_ptr_array_set_size (room->members, 0);
      if (room->waiting->len == 0)
        room_close (room, FALSE);
      else
        {
          g_hash_table_remove_all (room->occupants);
          g_clear_pointer (&room->nick, g_free);
        }
    }
}

void
pg_rooms_free (PgSession *session)
{
  g_clear_pointer (&session->rooms_by_key, g_hash_table_unref);
  g_clear_pointer (&session->rooms, g_hash_table_unref);
  g_clear_pointer (&session->private_peers, g_hash_table_unref);
}

const char *
pg_rooms_private_peer (PgSession *session, const char *name)
{
  if (session->private_peers == NULL || session->account == NULL)
    return NULL;
  g_autofree char *key = pg_account_normalize (session->account, name);
  return g_hash_table_lookup (session->private_peers, key);
}

void
pg_rooms_set_private_peer (PgSession *session, const char *name, const char *occupant_jid)
{
  if (session->account == NULL || (occupant_jid == NULL && session->private_peers == NULL))
    return;
  if (session->private_peers == NULL)
    session->private_peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  char *key = pg_account_normalize (session->account, name);
  if (occupant_jid == NULL)
    {
      g_hash_table_remove (session->private_peers, key);
      g_free (key);
      return;
    }
  g_hash_table_replace (session->private_peers, key, g_strdup (occupant_jid));
}
