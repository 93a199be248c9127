/* legacy/room.c — a user's legacy group chats as XEP-0045 rooms: room
 * state, and the account's chat events turned into stanzas for every
 * resource in the room (XEP-0045 §7.2 join order: occupants, own presence
 * with 110, history, subject). */
#define G_LOG_DOMAIN "pg-room"
#include "build-config.h"

#include "legacy/room-private.h"

#include "legacy/message.h"
#include "transport/disco.h"
#include "transport/xml-writer.h"

#include <string.h>

/* After the last resource left a room while still available: longer than
 * the session's own wait for a logout (session.c), whose unavailable to
 * the gateway may come after the one to the room. */
#define PG_ROOM_RELEASE_MS 1000

/* ---- members and occupants ---- */

PgRoomMember *
pg_room_member_new (const char *bare_jid, const char *resource, const char *asked_nick, const char *join_id,
                    const PgHistoryWish *history)
{
  PgRoomMember *member = g_new0 (PgRoomMember, 1);
  member->resource = g_strdup (resource);
  member->jid = g_strconcat (bare_jid, "/", resource, NULL);
  member->asked_nick = g_strdup (asked_nick);
  member->join_id = g_strdup (join_id);
  member->history = *history;
  return member;
}

void
pg_room_member_free (PgRoomMember *member)
{
  g_free (member->resource);
  g_free (member->jid);
  g_free (member->asked_nick);
  g_free (member->join_id);
  g_free (member);
}

static void
occupant_free (PgOccupant *occupant)
{
  g_free (occupant->nick);
  g_free (occupant->member);
  g_free (occupant);
}

static gsize
size_or_0 (const char *text)
{
  return text != NULL ? strlen (text) + 1 : 0;
}

/* Copies @text (@size bytes, 0 for NULL) to *@at and moves it on. */
static char *
copy_at (char **at, const char *text, gsize size)
{
  if (text == NULL)
    return NULL;
  char *copy = memcpy (*at, text, size);
  *at += size;
  return copy;
}

/* Adds the newest entry of @room's backlog; @id and @nick may be NULL. */
static PgBacklogEntry *
backlog_push (PgRoom *room, const char *id, const char *nick, const char *text, gint64 stamp_us)
{
  gsize id_size = size_or_0 (id), nick_size = size_or_0 (nick), text_size = size_or_0 (text);
  PgBacklogEntry *entry = g_malloc (sizeof *entry + id_size + nick_size + text_size);
  char *at = (char *)(entry + 1);
  *entry = (PgBacklogEntry){ .link.data = entry, .stamp_us = stamp_us };
  entry->id = copy_at (&at, id, id_size);
  entry->nick = copy_at (&at, nick, nick_size);
  entry->text = copy_at (&at, text, text_size);
  g_queue_push_tail_link (&room->backlog, &entry->link);
  return entry;
}

static void
backlog_drop_oldest (PgRoom *room)
{
  g_free (g_queue_pop_head_link (&room->backlog)->data);
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
  g_clear_handle_id (&room->pending_timeout_id, g_source_remove);
  g_clear_handle_id (&room->release_id, g_source_remove);
  g_free (room->hold_nick);
  g_free (room->released_by);
  g_hash_table_unref (room->occupants);
  g_ptr_array_unref (room->members);
  g_ptr_array_unref (room->waiting);
  while (room->backlog.length > 0)
    backlog_drop_oldest (room);
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

static gboolean
stays_connected (PgRoom *room)
{
  return pg_sessions_stays_connected (room->session->transport, room->session->bare_jid);
}

/* A login that stays connected kept the room's messages in the store
 * (across a restart, or a lost legacy connection): they are its backlog. */
static void
load_backlog (PgRoom *room)
{
  PgSession *session = room->session;
  if (!stays_connected (room))
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) stored
      = pg_store_backlog_list (session->transport->store, session->bare_jid, room->jid, &error);
  if (stored == NULL)
    {
      g_warning ("%s", error->message);
      return;
    }
  for (guint i = 0; i < stored->len; i++)
    {
      PgStoreBacklogEntry *row = g_ptr_array_index (stored, i);
      backlog_push (room, row->id, row->nick, row->body, row->stamp_us);
    }
  if (stored->len > 0)
    g_debug ("%s: %u messages of %s from the store", session->bare_jid, stored->len, room->jid);
}

/* Keeps @room in the store: a login that stays connected joins it again
 * after a restart. */
static void
remember_room (PgRoom *room)
{
  PgSession *session = room->session;
  g_autoptr (GError) error = NULL;
  if (room->nick != NULL
      && !pg_store_put_room (session->transport->store, session->bare_jid, room->jid, room->name, room->nick,
                             &error))
    g_warning ("%s", error->message);
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
  room->id_prefix = g_random_int ();
  g_hash_table_insert (session->rooms, room->jid, room);
  load_backlog (room);
  return room;
}

/* Forgets @room; the legacy chat is left when it was joined or asked for. */
static void
room_close (PgRoom *room, gboolean leave)
{
  PgSession *session = room->session;
  /* Out of the tables first: leaving may report the chat left (prpl-irc
   * does, at once), and that event must find no room. */
  if (room->key != NULL && g_hash_table_lookup (session->rooms_by_key, room->key) == room)
    g_hash_table_remove (session->rooms_by_key, room->key);
  g_hash_table_steal (session->rooms, room->jid);
  g_debug ("%s: room %s closed", session->bare_jid, room->jid);
  /* Left, or out by the network's doing: not to be joined again. A room
   * closed with its login (join_sent already off) stays in the store. */
  if (!leave || room->join_sent)
    {
      g_autoptr (GError) error = NULL;
      if (!pg_store_delete_room (session->transport->store, session->bare_jid, room->jid, &error))
        g_warning ("%s", error->message);
    }
  if (leave && room->join_sent && session->account != NULL)
    pg_account_leave_chat (session->account, room->name);
  room_free (room);
}

static PgRoomMember *
find_in (GPtrArray *members, const char *resource)
{
  for (guint i = 0; i < members->len; i++)
    {
      PgRoomMember *member = g_ptr_array_index (members, i);
      if (strcmp (member->resource, resource) == 0)
        return member;
    }
  return NULL;
}

PgRoomMember *
pg_room_find_member (PgRoom *room, const char *resource)
{
  return find_in (room->members, resource);
}

gboolean
pg_room_is_waiting (PgRoom *room, const char *resource)
{
  return find_in (room->waiting, resource) != NULL;
}

char *
pg_room_dup_occupant_jid (PgRoom *room, const char *nick)
{
  return g_strconcat (room->jid, "/", nick, NULL);
}

PgOccupant *
pg_room_find_occupant (PgRoom *room, const char *nick)
{
  PgOccupant *occupant = g_hash_table_lookup (room->occupants, nick);
  if (occupant != NULL || room->session->account == NULL)
    return occupant;
  g_autofree char *wanted = pg_account_normalize (room->session->account, nick);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, room->occupants);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_autofree char *other = pg_account_normalize (room->session->account, ((PgOccupant *)value)->nick);
      if (g_strcmp0 (wanted, other) == 0)
        return value;
    }
  return NULL;
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

PgChatRank
pg_room_own_rank (PgRoom *room)
{
  PgOccupant *own = room->nick != NULL ? g_hash_table_lookup (room->occupants, room->nick) : NULL;
  return own != NULL ? own->rank : PG_CHAT_RANK_NONE;
}

/* Whether @nick is ours in the room, in any spelling the protocol equates. */
static gboolean
is_own (PgRoom *room, const char *nick)
{
  if (room->nick == NULL || nick == NULL)
    return FALSE;
  if (strcmp (room->nick, nick) == 0)
    return TRUE;
  if (room->session->account == NULL)
    return FALSE;
  g_autofree char *a = pg_account_normalize (room->session->account, room->nick);
  g_autofree char *b = pg_account_normalize (room->session->account, nick);
  return g_strcmp0 (a, b) == 0;
}

void
pg_room_send_to (PgRoom *room, const char *resource, xmlNode *stanza_owned)
{
  g_autoptr (PgStanza) stanza = stanza_owned;
  g_autofree char *to = g_strconcat (room->session->bare_jid, "/", resource, NULL);
  pg_stanza_set_attr (stanza, "to", to);
  pg_transport_send (room->session->transport, stanza);
}

xmlNode *
pg_room_error_reply (PgRoom *room, const xmlNode *stanza, PgErrorCondition condition, PgErrorType type,
                     const char *text)
{
  xmlNode *reply = pg_stanza_error_reply (stanza, condition, type, text);
  xmlNode *error = pg_stanza_get_error (reply);
  if (error != NULL && room != NULL)
    pg_stanza_set_attr (error, "by", room->jid);
  /* §7.2: an error answering a join says it is about the room. */
  if (pg_stanza_is (reply, "presence", NULL) && pg_stanza_find_child (reply, "x", PG_NS_MUC) == NULL)
    {
      xmlNode *x = xmlNewNode (NULL, (const xmlChar *)"x");
      xmlNsPtr ns = xmlNewNs (x, (const xmlChar *)PG_NS_MUC, NULL);
      xmlSetNs (x, ns);
      if (error != NULL)
        xmlAddPrevSibling (error, x);
      else
        xmlAddChild (reply, x);
    }
  return reply;
}

/* How an occupant presence looks: its type, the item's role (NULL: from
 * the rank; "none" when leaving), status codes, and what goes with them. */
typedef struct
{
  const char *type;
  const char *role;
  const char *affiliation;
  const guint *codes; /* 0-terminated, may be NULL */
  const char *item_nick;
  const char *status;
  const char *actor;
  const char *reason;
  const char *id;
} PresenceShape;

static xmlNode *
occupant_presence (PgRoom *room, const char *nick, PgChatRank rank, const PresenceShape *shape)
{
  g_autofree char *from = pg_room_dup_occupant_jid (room, nick);
  xmlNode *presence = pg_stanza_new ("presence", from, NULL, shape->type, shape->id);
  if (shape->status != NULL)
    pg_stanza_add_text_child (presence, "status", NULL, shape->status);
  xmlNode *x = pg_stanza_add_child (presence, "x", PG_NS_MUC_USER);
  xmlNode *item = pg_stanza_add_child (x, "item", NULL);
  pg_stanza_set_attr (item, "affiliation",
                      shape->affiliation != NULL ? shape->affiliation : pg_room_affiliation (room, rank));
  pg_stanza_set_attr (item, "role",
                      shape->role != NULL   ? shape->role
                      : shape->type != NULL ? "none"
                                            : pg_room_role (room, rank));
  if (shape->item_nick != NULL)
    pg_stanza_set_attr (item, "nick", shape->item_nick);
  if (shape->actor != NULL)
    pg_stanza_set_attr (pg_stanza_add_child (item, "actor", NULL), "nick", shape->actor);
  if (shape->reason != NULL)
    pg_stanza_add_text_child (item, "reason", NULL, shape->reason);
  for (const guint *code = shape->codes; code != NULL && *code != 0; code++)
    {
      char text[8];
      g_snprintf (text, sizeof text, "%u", *code);
      pg_stanza_set_attr (pg_stanza_add_child (x, "status", NULL), "code", text);
    }
  return presence;
}

/* occupant_presence() written as text to the full JID @to (NULL: every
 * resource in the room): the presences of a join, one per occupant for
 * every user joining, and one per user for every occupant arriving. */
static void
send_occupant_presence (PgRoom *room, const char *to, const char *nick, PgChatRank rank,
                        const PresenceShape *shape)
{
  g_autofree char *from = pg_room_dup_occupant_jid (room, nick);
  g_autoptr (GString) head = g_string_sized_new (64);
  g_string_append (head, "<presence from='");
  pg_xml_append_escaped (head, from, TRUE);
  g_string_append (head, "' to='");
  g_autoptr (GString) tail = g_string_sized_new (256);
  g_string_append_c (tail, '\'');
  if (shape->type != NULL)
    {
      g_string_append (tail, " type='");
      pg_xml_append_escaped (tail, shape->type, TRUE);
      g_string_append_c (tail, '\'');
    }
  if (shape->id != NULL)
    {
      g_string_append (tail, " id='");
      pg_xml_append_escaped (tail, shape->id, TRUE);
      g_string_append_c (tail, '\'');
    }
  g_string_append_c (tail, '>');
  if (shape->status != NULL)
    pg_xml_write_text (tail, "status", shape->status);
  pg_xml_write_start (tail, "x", "xmlns", PG_NS_MUC_USER, NULL);
  const char *affiliation
      = shape->affiliation != NULL ? shape->affiliation : pg_room_affiliation (room, rank);
  const char *role = shape->role != NULL   ? shape->role
                     : shape->type != NULL ? "none"
                                           : pg_room_role (room, rank);
  gboolean item_empty = shape->actor == NULL && shape->reason == NULL;
  (item_empty ? pg_xml_write_empty : pg_xml_write_start) (tail, "item", "affiliation", affiliation, "role",
                                                          role, "nick", shape->item_nick, NULL);
  if (shape->actor != NULL)
    pg_xml_write_empty (tail, "actor", "nick", shape->actor, NULL);
  if (shape->reason != NULL)
    pg_xml_write_text (tail, "reason", shape->reason);
  if (!item_empty)
    pg_xml_write_end (tail, "item");
  for (const guint *code = shape->codes; code != NULL && *code != 0; code++)
    g_string_append_printf (tail, "<status code='%u'/>", *code);
  pg_xml_write_end (tail, "x");
  pg_xml_write_end (tail, "presence");
  gsize head_len = head->len;
  for (guint i = 0; to != NULL ? i == 0 : i < room->members->len; i++)
    {
      const char *jid = to != NULL ? to : ((PgRoomMember *)g_ptr_array_index (room->members, i))->jid;
      g_string_truncate (head, head_len);
      pg_xml_append_escaped (head, jid, TRUE);
      g_string_append_len (head, tail->str, (gssize)tail->len);
      pg_stream_send_text (room->session->transport->stream, head->str, head->len);
    }
}

/* Sends @stanza to every resource in the room, readdressed each time
 * (the stream writes it out at once: no copies); its "to" is the last
 * resource's afterwards. */
static void
broadcast (PgRoom *room, xmlNode *stanza)
{
  for (guint i = 0; i < room->members->len; i++)
    {
      PgRoomMember *member = g_ptr_array_index (room->members, i);
      pg_stanza_set_attr (stanza, "to", member->jid);
      pg_transport_send (room->session->transport, stanza);
    }
}

/* The user's own presence in the room: 110 first, then @codes. */
static xmlNode *
self_presence (PgRoom *room, const PresenceShape *shape_in, const guint *codes)
{
  guint all[8] = { PG_MUC_STATUS_SELF };
  guint n = 1;
  for (; codes != NULL && *codes != 0 && n < G_N_ELEMENTS (all) - 1; codes++)
    all[n++] = *codes;
  PresenceShape shape = *shape_in;
  shape.codes = all;
  return occupant_presence (room, room->nick, pg_room_own_rank (room), &shape);
}

/* The self-presence a joining @member gets: 210 when the legacy nick is
 * not the one it asked for; the join's id echoed. */
static xmlNode *
joined_presence (PgRoom *room, PgRoomMember *member)
{
  static const guint assigned[] = { PG_MUC_STATUS_NICK_ASSIGNED, 0 };
  PresenceShape shape = { .id = member->join_id };
  gboolean same = g_strcmp0 (member->asked_nick, room->nick) == 0;
  if (!same && room->session->account != NULL && member->asked_nick != NULL && room->nick != NULL)
    {
      g_autofree char *a = pg_account_normalize (room->session->account, member->asked_nick);
      g_autofree char *b = pg_account_normalize (room->session->account, room->nick);
      same = g_strcmp0 (a, b) == 0 && strcmp (member->asked_nick, room->nick) == 0;
    }
  return self_presence (room, &shape, same ? NULL : assigned);
}

/* "pg%08x-%llu" of the prefix and the next count, written by hand: one
 * for every line of every room. Owned. */
static char *
new_message_id (PgRoom *room)
{
  static const char hex[] = "0123456789abcdef";
  char text[2 + 8 + 1 + 20 + 1];
  char digits[20];
  guint n = 0, at = 0;
  guint64 counter = ++room->id_counter;
  text[at++] = 'p';
  text[at++] = 'g';
  for (int shift = 28; shift >= 0; shift -= 4)
    text[at++] = hex[(room->id_prefix >> shift) & 0xf];
  text[at++] = '-';
  do
    {
      digits[n++] = (char)('0' + counter % 10);
      counter /= 10;
    }
  while (counter > 0);
  while (n > 0)
    text[at++] = digits[--n];
  text[at] = '\0';
  return g_strdup (text);
}

static xmlNode *
groupchat_message (PgRoom *room, const char *nick, const char *body, const char *id)
{
  g_autofree char *from = nick != NULL ? pg_room_dup_occupant_jid (room, nick) : g_strdup (room->jid);
  xmlNode *message = pg_stanza_new ("message", from, NULL, "groupchat", id);
  pg_stanza_add_text_child (message, "body", NULL, body);
  return message;
}

/* A groupchat message of @nick (NULL: the room) to every resource in the
 * room, written as text (transport/xml-writer.h: every line of the room
 * goes to every user in it), the shape of groupchat_message() with
 * add_delay() when @delay_us is not 0. */
static void
broadcast_message (PgRoom *room, const char *nick, const char *body, const char *id, gint64 delay_us)
{
  if (room->members->len == 0)
    return;
  gsize body_len = strlen (body);
  /* What comes before the address, then the address, then the rest, in
   * one buffer large enough for the usual line. */
  g_autoptr (GString) out = g_string_sized_new (256 + body_len + body_len / 4);
  pg_xml_append (out, "<message from='");
  pg_xml_append_escaped (out, room->jid, TRUE);
  if (nick != NULL)
    {
      g_string_append_c (out, '/');
      pg_xml_append_escaped (out, nick, TRUE);
    }
  pg_xml_append (out, "' to='");
  gsize head_len = out->len;
  gsize tail_at = 0;
  for (guint i = 0; i < room->members->len; i++)
    {
      PgRoomMember *member = g_ptr_array_index (room->members, i);
      if (i > 0)
        {
          /* The rest as the first resource got it, after this address. */
          g_autofree char *tail = g_strndup (out->str + tail_at, out->len - tail_at);
          g_string_truncate (out, head_len);
          pg_xml_append_escaped (out, member->jid, TRUE);
          tail_at = out->len;
          pg_xml_append (out, tail);
        }
      else
        {
          pg_xml_append_escaped (out, member->jid, TRUE);
          tail_at = out->len;
          pg_xml_append (out, "' type='groupchat'");
          if (id != NULL)
            {
              pg_xml_append (out, " id='");
              pg_xml_append_escaped (out, id, TRUE);
              g_string_append_c (out, '\'');
            }
          pg_xml_append (out, "><body>");
          pg_xml_append_escaped (out, body, FALSE);
          pg_xml_append (out, "</body>");
          if (delay_us != 0)
            {
              g_autoptr (GDateTime) when = g_date_time_new_from_unix_utc (delay_us / G_USEC_PER_SEC);
              g_autofree char *stamp = g_date_time_format (when, "%Y-%m-%dT%H:%M:%SZ");
              pg_xml_write_empty (out, "delay", "xmlns", PG_NS_DELAY, "from", room->jid, "stamp", stamp,
                                  NULL);
            }
          pg_xml_append (out, "</message>");
        }
      pg_stream_send_text (room->session->transport->stream, out->str, out->len);
    }
}

static xmlNode *
subject_message (PgRoom *room, const char *nick)
{
  g_autofree char *from = nick != NULL ? pg_room_dup_occupant_jid (room, nick) : g_strdup (room->jid);
  xmlNode *message = pg_stanza_new ("message", from, NULL, "groupchat", NULL);
  pg_stanza_add_text_child (message, "subject", NULL, room->subject != NULL ? room->subject : "");
  return message;
}

static void
add_delay (PgRoom *room, xmlNode *message, gint64 stamp_us)
{
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_utc (stamp_us / G_USEC_PER_SEC);
  g_autofree char *stamp = g_date_time_format (when, "%Y-%m-%dT%H:%M:%SZ");
  xmlNode *delay = pg_stanza_add_child (message, "delay", PG_NS_DELAY);
  pg_stanza_set_attr (delay, "from", room->jid);
  pg_stanza_set_attr (delay, "stamp", stamp);
}

/* ---- history ---- */

static void
backlog_add (PgRoom *room, const char *id, const char *nick, const char *text)
{
  guint limit = room->session->transport->config->history_messages;
  const PgBacklogEntry *entry = backlog_push (room, id, nick, text, g_get_real_time ());
  while (room->backlog.length > limit)
    backlog_drop_oldest (room);
  if (!stays_connected (room))
    return;
  /* The same bounds in the store, trimmed as the message goes in. */
  const PgConfig *config = room->session->transport->config;
  PgStoreBacklogEntry row
      = { .id = entry->id, .nick = entry->nick, .body = entry->text, .stamp_us = entry->stamp_us };
  g_autoptr (GError) error = NULL;
  if (!pg_store_backlog_add (room->session->transport->store, room->session->bare_jid, room->jid, &row, limit,
                             entry->stamp_us - (gint64)config->history_max_age_s * G_USEC_PER_SEC, &error))
    g_warning ("%s", error->message);
}

static xmlNode *
history_message (PgRoom *room, PgRoomMember *member, const PgBacklogEntry *entry)
{
  xmlNode *message = groupchat_message (room, entry->nick, entry->text, entry->id);
  g_autofree char *to = g_strconcat (room->session->bare_jid, "/", member->resource, NULL);
  pg_stanza_set_attr (message, "to", to);
  add_delay (room, message, entry->stamp_us);
  return message;
}

/* XEP-0045 §7.2.14: the newest messages meeting every limit the client
 * set (maxchars counts whole stanzas as sent), oldest first. */
static void
send_history (PgRoom *room, PgRoomMember *member)
{
  const PgHistoryWish *wish = &member->history;
  gint64 oldest
      = g_get_real_time () - (gint64)room->session->transport->config->history_max_age_s * G_USEC_PER_SEC;
  if (wish->since_us > oldest)
    oldest = wish->since_us;
  g_autoptr (GPtrArray) chosen = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  gint64 chars = 0;
  for (GList *l = room->backlog.tail; l != NULL; l = l->prev)
    {
      PgBacklogEntry *entry = l->data;
      if (entry->stamp_us < oldest || (wish->maxstanzas >= 0 && chosen->len >= (guint)wish->maxstanzas))
        break;
      xmlNode *message = history_message (room, member, entry);
      if (wish->maxchars >= 0)
        {
          g_autofree char *text = pg_stanza_to_string (message);
          chars += (gint64)strlen (text);
          if (chars > wish->maxchars)
            {
              pg_stanza_free (message);
              break;
            }
        }
      g_ptr_array_add (chosen, message);
    }
  for (guint i = chosen->len; i > 0; i--)
    pg_transport_send (room->session->transport, g_ptr_array_index (chosen, i - 1));
}

/* ---- joining ---- */

/* XEP-0045 §7.2: everything a resource entering the room is owed. */
static void
welcome (PgRoom *room, PgRoomMember *member)
{
  static const PresenceShape plain = { 0 };
  /* Ours is the one under our nick as spelt (no normalisation for each of
   * the others), else the one the protocol equates with it. */
  PgOccupant *own = room->nick != NULL ? g_hash_table_lookup (room->occupants, room->nick) : NULL;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, room->occupants);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgOccupant *occupant = value;
      if (own != NULL ? occupant == own : is_own (room, occupant->nick))
        continue;
      send_occupant_presence (room, member->jid, occupant->nick, occupant->rank, &plain);
    }
  pg_room_send_to (room, member->resource, joined_presence (room, member));
  send_history (room, member);
  pg_room_send_to (room, member->resource, subject_message (room, room->subject_by));
}

static void
join_error (PgRoom *room, PgRoomMember *member, PgErrorCondition condition, const char *text)
{
  g_autofree char *occupant = pg_room_dup_occupant_jid (room, member->asked_nick);
  g_autofree char *user = g_strconcat (room->session->bare_jid, "/", member->resource, NULL);
  /* The error answers the join presence, from the occupant address it went to. */
  g_autoptr (PgStanza) join = pg_stanza_new ("presence", user, occupant, NULL, member->join_id);
  pg_stanza_add_child (join, "x", PG_NS_MUC);
  g_autoptr (PgStanza) error = pg_room_error_reply (
      room, join, condition, condition == PG_ERR_SERVICE_UNAVAILABLE ? PG_ERR_TYPE_WAIT : PG_ERR_TYPE_DEFAULT,
      text);
  pg_transport_send (room->session->transport, error);
}

/* Every waiting resource gets @condition; the room goes if nobody is in. */
static void
fail_waiting (PgRoom *room, PgErrorCondition condition, const char *text)
{
  g_autoptr (GPtrArray) waiting = g_steal_pointer (&room->waiting);
  room->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_room_member_free);
  room->nick_wait = FALSE;
  g_clear_handle_id (&room->join_timeout_id, g_source_remove);
  if (waiting->len > 0)
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
  fail_waiting (room, PG_ERR_REMOTE_SERVER_TIMEOUT, "the legacy network did not answer the join in time");
  return G_SOURCE_REMOVE;
}

/* The nick the legacy join asks for: the first waiting resource's, else
 * the one a login that stays connected had; NULL: no join is wanted. */
static const char *
join_nick (PgRoom *room)
{
  if (room->waiting->len > 0)
    return ((PgRoomMember *)g_ptr_array_index (room->waiting, 0))->asked_nick;
  return room->hold_nick;
}

static void
send_join_now (PgRoom *room)
{
  PgSession *session = room->session;
  room->join_sent = TRUE;
  g_message ("%s: joining %s", session->bare_jid, room->name);
  pg_account_join_chat (session->account, room->name, join_nick (room), room->password);
}

/* Whether another room of the session holds or asks for the connection's nick. */
static gboolean
nick_in_use_elsewhere (PgRoom *room)
{
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, room->session->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgRoom *other = value;
      if (other != room && (other->join_sent || other->nick_wait))
        return TRUE;
    }
  return FALSE;
}

static void
send_join (PgRoom *room)
{
  PgSession *session = room->session;
  PgAccount *account = session->account;
  const char *nick = join_nick (room);
  g_free (room->key);
  room->key = pg_account_normalize (account, room->name);
  g_hash_table_replace (session->rooms_by_key, room->key, room);
  /* Where the nick is the connection's, the first room may choose it; in
   * the others the join keeps it (210). */
  if (pg_account_has_connection_nick (account) && !nick_in_use_elsewhere (room))
    {
      g_autofree char *current = pg_account_dup_nick (account);
      if (current != NULL && g_strcmp0 (current, nick) != 0 && pg_account_set_nick (account, nick))
        {
          room->nick_wait = TRUE;
          return;
        }
    }
  send_join_now (room);
}

void
pg_room_add_member (PgRoom *room, PgRoomMember *member)
{
  g_clear_handle_id (&room->release_id, g_source_remove);
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
  if (!room->join_sent && !room->nick_wait && room->session->state == PG_SESSION_ONLINE)
    send_join (room);
}

void
pg_room_forget_resource (PgRoom *room, const char *resource)
{
  PgRoomMember *waiting = find_in (room->waiting, resource);
  if (waiting != NULL)
    g_ptr_array_remove (room->waiting, waiting);
  PgRoomMember *member = pg_room_find_member (room, resource);
  if (member != NULL)
    g_ptr_array_remove (room->members, member);
}

static gboolean
release_room (gpointer data)
{
  PgRoom *room = data;
  room->release_id = 0;
  if (room->members->len == 0 && room->waiting->len == 0
      && pg_session_has_resource (room->session, room->released_by))
    room_close (room, TRUE);
  return G_SOURCE_REMOVE;
}

void
pg_room_remove_member (PgRoom *room, const char *resource, gboolean tell)
{
  static const PresenceShape gone = { .type = "unavailable" };
  if (tell && pg_room_find_member (room, resource) != NULL)
    pg_room_send_to (room, resource, self_presence (room, &gone, NULL));
  pg_room_forget_resource (room, resource);
  if (room->members->len > 0 || room->waiting->len > 0)
    return;
  if (!room->joined || !stays_connected (room))
    {
      room_close (room, TRUE);
      return;
    }
  /* XEP-0045 §7.14: the server sends the same unavailable for a logout as
   * for a leave. A logout keeps the room for a login that stays connected;
   * a resource still available a moment later has left it. */
  if (pg_session_has_resource (room->session, resource))
    {
      g_free (room->released_by);
      room->released_by = g_strdup (resource);
      g_clear_handle_id (&room->release_id, g_source_remove);
      room->release_id = g_timeout_add (PG_ROOM_RELEASE_MS, release_room, room);
    }
}

/* ---- the user's messages and commands ---- */

void
pg_room_reflect (PgRoom *room, const xmlNode *stanza, const char *body)
{
  g_autoptr (PgStanza) message = pg_stanza_copy (stanza);
  g_autofree char *from = pg_room_dup_occupant_jid (room, room->nick);
  g_autofree char *id = pg_stanza_get_attr (stanza, "id") != NULL
                            ? g_strdup (pg_stanza_get_attr (stanza, "id"))
                            : new_message_id (room);
  pg_stanza_set_attr (message, "from", from);
  pg_stanza_set_attr (message, "id", id);
  /* XEP-0359 §3: a stanza-id claiming to be the room's is not the user's to set. */
  for (xmlNode *child = message->children, *next; child != NULL; child = next)
    {
      next = child->next;
      if (pg_stanza_is (child, "stanza-id", PG_NS_SID)
          && g_strcmp0 (pg_stanza_get_attr (child, "by"), room->jid) == 0)
        {
          xmlUnlinkNode (child);
          xmlFreeNode (child);
        }
    }
  backlog_add (room, id, room->nick, body);
  broadcast (room, message);
}

void
pg_room_reflect_presence (PgRoom *room, const xmlNode *stanza)
{
  static const PresenceShape plain = { 0 };
  g_autoptr (PgStanza) presence = self_presence (room, &plain, NULL);
  for (xmlNode *child = stanza->children; child != NULL; child = child->next)
    if (pg_stanza_is (child, "show", NULL) || pg_stanza_is (child, "status", NULL))
      pg_stanza_add_copy (presence, child);
  broadcast (room, presence);
}

/* IRC answers a client's lines in order and says nothing of those it
 * accepts: a PING after the messages of this main-loop iteration tells
 * which of them a later refusal cannot be about. */
static gboolean
confirm_messages (gpointer data)
{
  PgRoom *room = data;
  room->confirm_id = 0;
  guint64 serial = 0;
  if (room->session->account != NULL)
    pg_account_confirm_sent (room->session->account, &serial);
  /* Without a round trip (prpl-jabber) the room's echo of each message
   * (PG_CHAT_EVENT_SENT) settles it, or its time runs out.  With the login
   * ending nothing was asked: the messages wait for a later confirmation,
   * the login's end or their time, as a refusal may still name them. */
  if (serial == 0)
    return G_SOURCE_REMOVE;
  for (GList *l = room->pending.head, *next; l != NULL; l = next)
    {
      PgRoomPending *pending = l->data;
      next = l->next;
      if (pending->action == PG_ROOM_SEND && pending->serial == 0)
        pending->serial = serial;
    }
  return G_SOURCE_REMOVE;
}

/* Commands the network neither did nor refused in time get
 * remote-server-timeout; messages are simply forgotten. */
static gboolean
expire_pending (gpointer data)
{
  PgRoom *room = data;
  gint64 limit = (gint64)room->session->transport->config->join_timeout_s * G_USEC_PER_SEC;
  gint64 now = g_get_monotonic_time ();
  room->pending_timeout_id = 0;
  for (GList *l = room->pending.head, *next; l != NULL; l = next)
    {
      PgRoomPending *pending = l->data;
      next = l->next;
      if (now - pending->at < limit)
        continue;
      g_queue_delete_link (&room->pending, l);
      if (pending->action != PG_ROOM_SEND && pending->action != PG_ROOM_INVITE)
        {
          g_autoptr (PgStanza) error
              = pg_room_error_reply (room, pending->stanza, PG_ERR_REMOTE_SERVER_TIMEOUT, PG_ERR_TYPE_DEFAULT,
                                     "the legacy network did not answer in time");
          pg_transport_send (room->session->transport, error);
        }
      pending_free (pending);
    }
  if (room->pending.length > 0)
    room->pending_timeout_id = g_timeout_add_seconds (1, expire_pending, room);
  return G_SOURCE_REMOVE;
}

void
pg_room_expect (PgRoom *room, PgRoomAction action, const char *resource, const xmlNode *stanza)
{
  PgRoomPending *pending = g_new0 (PgRoomPending, 1);
  pending->action = action;
  pending->resource = g_strdup (resource);
  pending->stanza = pg_stanza_copy (stanza);
  pending->at = g_get_monotonic_time ();
  g_queue_push_tail (&room->pending, pending);
  if (action == PG_ROOM_SEND && room->confirm_id == 0)
    room->confirm_id = g_idle_add (confirm_messages, room);
  if (room->pending_timeout_id == 0)
    room->pending_timeout_id
        = g_timeout_add_seconds (room->session->transport->config->join_timeout_s, expire_pending, room);
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
  g_autoptr (PgStanza) error
      = pg_room_error_reply (room, pending->stanza, condition, PG_ERR_TYPE_DEFAULT, text);
  pg_transport_send (room->session->transport, error);
  pending_free (pending);
  return TRUE;
}

/* The network did what the oldest stanza asking for @action asked: an iq
 * gets its result, anything else needs no answer. FALSE if none waited. */
static gboolean
succeed_pending (PgRoom *room, PgRoomAction action)
{
  PgRoomPending *pending = take_pending (room, action);
  if (pending == NULL)
    return FALSE;
  if (pg_stanza_is (pending->stanza, "iq", NULL))
    {
      g_autoptr (PgStanza) result = pg_stanza_new_iq_result (pending->stanza);
      pg_transport_send (room->session->transport, result);
    }
  pending_free (pending);
  return TRUE;
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

/* ---- the legacy network's room list (disco#items on the gateway) ---- */

/* A list this young is given as it is; a fetch waits this long at most. */
#define CHAT_LIST_FRESH_US (300 * G_USEC_PER_SEC)
#define CHAT_LIST_WAIT_S 5
#define CHAT_LIST_WAITING_MAX 32

typedef struct
{
  char *name;
  char *topic;
  guint users;
} ListedChat;

struct PgChatList
{
  PgSession *session;
  GPtrArray *chats;  /* ListedChat, as the network listed them */
  gint64 fetched_at; /* monotonic µs; 0: never */
  gboolean fetching;
  GPtrArray *waiting; /* disco#items requests (copies) waiting for the list */
  guint timeout_id;
};

static void
listed_chat_free (ListedChat *chat)
{
  g_free (chat->name);
  g_free (chat->topic);
  g_free (chat);
}

static void
chat_list_free (struct PgChatList *list)
{
  g_clear_handle_id (&list->timeout_id, g_source_remove);
  g_ptr_array_unref (list->chats);
  g_ptr_array_unref (list->waiting);
  g_free (list);
}

/* The gateway's items for the user: the rooms they are in, then the
 * network's list (XEP-0045 §6.3), each room once. */
static void
reply_items (PgSession *session, const xmlNode *request)
{
  const char *domain = session->transport->config->component_jid;
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request);
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_DISCO_ITEMS);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer value;
  if (session->rooms != NULL)
    {
      g_hash_table_iter_init (&iter, session->rooms);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          PgRoom *room = value;
          xmlNode *item = pg_stanza_add_child (query, "item", NULL);
          pg_stanza_set_attr (item, "jid", room->jid);
          pg_stanza_set_attr (item, "name", room->name);
          g_hash_table_add (seen, g_strdup (room->jid));
        }
    }
  for (guint i = 0; session->chat_list != NULL && i < session->chat_list->chats->len; i++)
    {
      ListedChat *chat = g_ptr_array_index (session->chat_list->chats, i);
      g_autofree char *jid = pg_jid_for_legacy_name (chat->name, domain, NULL);
      if (jid == NULL || g_hash_table_contains (seen, jid))
        continue;
      g_autofree char *name
          = chat->users > 0 ? g_strdup_printf ("%s (%u)", chat->name, chat->users) : g_strdup (chat->name);
      xmlNode *item = pg_stanza_add_child (query, "item", NULL);
      pg_stanza_set_attr (item, "jid", jid);
      pg_stanza_set_attr (item, "name", name);
      g_hash_table_add (seen, g_steal_pointer (&jid));
    }
  pg_transport_send (session->transport, reply);
}

static void
chat_list_done (struct PgChatList *list)
{
  g_clear_handle_id (&list->timeout_id, g_source_remove);
  list->fetching = FALSE;
  list->fetched_at = g_get_monotonic_time ();
  g_autoptr (GPtrArray) waiting = g_steal_pointer (&list->waiting);
  list->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  for (guint i = 0; i < waiting->len; i++)
    reply_items (list->session, g_ptr_array_index (waiting, i));
}

static gboolean
chat_list_timed_out (gpointer data)
{
  struct PgChatList *list = data;
  list->timeout_id = 0;
  chat_list_done (list); /* with what came so far */
  return G_SOURCE_REMOVE;
}

void
pg_rooms_answer_items (PgSession *session, const xmlNode *request)
{
  if (session->account == NULL || session->state != PG_SESSION_ONLINE)
    {
      reply_items (session, request);
      return;
    }
  struct PgChatList *list = session->chat_list;
  if (list == NULL)
    {
      list = session->chat_list = g_new0 (struct PgChatList, 1);
      list->session = session;
      list->chats = g_ptr_array_new_with_free_func ((GDestroyNotify)listed_chat_free);
      list->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
    }
  if (!list->fetching && list->fetched_at != 0
      && g_get_monotonic_time () - list->fetched_at < CHAT_LIST_FRESH_US)
    {
      reply_items (session, request);
      return;
    }
  /* Requests that come while the list is fetched wait for it, a bounded number. */
  if (list->waiting->len >= CHAT_LIST_WAITING_MAX)
    {
      reply_items (session, request);
      return;
    }
  g_ptr_array_add (list->waiting, pg_stanza_copy (request));
  if (list->fetching)
    return;
  list->fetching = TRUE;
  g_ptr_array_set_size (list->chats, 0);
  list->timeout_id = g_timeout_add_seconds (CHAT_LIST_WAIT_S, chat_list_timed_out, list);
  pg_account_list_chats (session->account);
}

static void
on_listed (PgSession *session, const PgChatEvent *event)
{
  struct PgChatList *list = session->chat_list;
  if (list == NULL || !list->fetching)
    return;
  if (event->kind == PG_CHAT_EVENT_LIST_END)
    {
      chat_list_done (list);
      return;
    }
  ListedChat *chat = g_new0 (ListedChat, 1);
  chat->name = g_strdup (event->name);
  chat->topic = g_strdup (event->text);
  chat->users = event->users;
  g_ptr_array_add (list->chats, chat);
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
    case PG_CHAT_REFUSED_NOT_JOINED:
      return PG_ERR_NOT_ACCEPTABLE;
    case PG_CHAT_REFUSED_CANNOT_SEND:
    case PG_CHAT_REFUSED_NOT_OPERATOR:
    case PG_CHAT_REFUSED_MESSAGE:
      return PG_ERR_FORBIDDEN;
    case PG_CHAT_REFUSED_NO_SUCH_NICK:
    default:
      return PG_ERR_ITEM_NOT_FOUND;
    }
}

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

/* A refused nick (the connection's: @chat is NULL): a join that asked for
 * it first fails; else the user's nick change does. */
static void
on_nick_refused (PgSession *session, const PgChatEvent *event)
{
  PgErrorCondition condition = refusal_condition (event->refusal);
  g_autoptr (GPtrArray) rooms = rooms_snapshot (session);
  for (guint i = 0; i < rooms->len; i++)
    {
      PgRoom *room = g_ptr_array_index (rooms, i);
      if (room->nick_wait)
        {
          fail_waiting (room, condition, event->text);
          return;
        }
    }
  for (guint i = 0; i < rooms->len; i++)
    if (fail_pending (g_ptr_array_index (rooms, i), PG_ROOM_NICK, condition, event->text))
      return;
}

static void
leave_all_resources (PgRoom *room, guint code, const char *status, const PgChatEvent *event)
{
  guint codes[] = { code, 0 };
  PresenceShape shape = { .type = "unavailable", .status = status };
  if (event != NULL)
    {
      shape.actor = event->actor;
      shape.reason = event->reason;
      if (event->banned)
        shape.affiliation = "outcast";
    }
  for (guint i = 0; i < room->members->len; i++)
    pg_room_send_to (room, ((PgRoomMember *)g_ptr_array_index (room->members, i))->resource,
                     self_presence (room, &shape, codes));
  g_ptr_array_set_size (room->members, 0);
}

static void
on_refused (PgSession *session, PgRoom *room, const PgChatEvent *event)
{
  PgErrorCondition condition = refusal_condition (event->refusal);
  if (room == NULL)
    {
      on_nick_refused (session, event);
      return;
    }
  switch (event->refusal)
    {
    case PG_CHAT_REFUSED_CANNOT_SEND:
      fail_pending (room, PG_ROOM_SEND, condition, event->text);
      return;
    case PG_CHAT_REFUSED_MESSAGE:
      fail_pending (room, PG_ROOM_SEND | PG_ROOM_TOPIC, condition, event->text);
      return;
    case PG_CHAT_REFUSED_NOT_OPERATOR:
      fail_pending (room, PG_ROOM_TOPIC | PG_ROOM_KICK | PG_ROOM_INVITE, condition, event->text);
      return;
    case PG_CHAT_REFUSED_NO_SUCH_NICK:
      fail_pending (room, PG_ROOM_KICK | PG_ROOM_INVITE, condition, event->text);
      return;

    case PG_CHAT_REFUSED_NOT_JOINED:
      /* We are not where we thought: the room is gone (333). */
      fail_pending (room, ~0u, condition, event->text);
      if (room->joined)
        {
          leave_all_resources (room, PG_MUC_STATUS_TECHNICAL, event->text, NULL);
          room_close (room, FALSE);
        }
      return;
    case PG_CHAT_REFUSED_NICK_IN_USE:
    case PG_CHAT_REFUSED_BAD_NICK:
      if (!room->joined)
        fail_waiting (room, condition, event->text);
      else
        fail_pending (room, PG_ROOM_NICK, condition, event->text);
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
  g_clear_pointer (&room->hold_nick, g_free);
  g_message ("%s: joined %s as %s (%u occupants)", room->session->bare_jid, room->name, room->nick,
             g_hash_table_size (room->occupants));
  if (stays_connected (room))
    remember_room (room);
  g_autoptr (GPtrArray) waiting = g_steal_pointer (&room->waiting);
  room->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_room_member_free);
  g_ptr_array_set_free_func (waiting, NULL); /* the members move over */
  for (guint i = 0; i < waiting->len; i++)
    pg_room_add_member (room, g_ptr_array_index (waiting, i));
}

static void
on_occupant (PgRoom *room, const PgChatEvent *event)
{
  static const PresenceShape plain = { 0 };
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
  if (event->member != NULL && g_strcmp0 (occupant->member, event->member) != 0)
    {
      g_free (occupant->member);
      occupant->member = g_strdup (event->member);
    }
  if (!room->joined)
    return;
  if (is_own (room, event->nick))
    {
      g_autoptr (PgStanza) presence = self_presence (room, &plain, NULL);
      broadcast (room, presence);
      return;
    }
  send_occupant_presence (room, NULL, occupant->nick, occupant->rank, &plain);
}

static void
on_occupant_left (PgRoom *room, const PgChatEvent *event)
{
  PgOccupant *occupant = g_hash_table_lookup (room->occupants, event->nick);
  if (occupant == NULL)
    return;
  /* XEP-0045 §8.2: the kicker's result comes before the kick's presence. */
  if (event->kicked)
    succeed_pending (room, PG_ROOM_KICK);
  if (room->joined)
    {
      static const guint kicked[] = { PG_MUC_STATUS_KICKED, 0 };
      static const guint banned[] = { PG_MUC_STATUS_BANNED, 0 };
      PresenceShape shape = { .type = "unavailable",
                              .codes = event->banned   ? banned
                                       : event->kicked ? kicked
                                                       : NULL,
                              .affiliation = event->banned ? "outcast" : NULL,
                              .status = event->kicked ? NULL : event->text,
                              .actor = event->actor,
                              .reason = event->reason };
      g_autoptr (PgStanza) presence = occupant_presence (room, occupant->nick, occupant->rank, &shape);
      broadcast (room, presence);
    }
  g_hash_table_remove (room->occupants, event->nick);
}

static void
on_renamed (PgRoom *room, const PgChatEvent *event)
{
  static const guint changed[] = { PG_MUC_STATUS_NICK_CHANGED, 0 };
  static const guint assigned[] = { PG_MUC_STATUS_NICK_ASSIGNED, 0 };
  static const PresenceShape plain = { 0 };
  PgOccupant *occupant = g_hash_table_lookup (room->occupants, event->nick);
  gboolean own = is_own (room, event->nick);
  PgChatRank rank = occupant != NULL ? occupant->rank : PG_CHAT_RANK_NONE;
  /* §7.6: the old nick leaves with 303 and the new one, keeping its role. */
  PresenceShape gone = {
    .type = "unavailable", .role = pg_room_role (room, rank), .item_nick = event->new_nick, .codes = changed
  };
  if (room->joined)
    {
      g_autoptr (PgStanza) presence
          = own ? self_presence (room, &gone, changed) : occupant_presence (room, event->nick, rank, &gone);
      broadcast (room, presence);
    }
  if (occupant != NULL)
    {
      g_hash_table_steal (room->occupants, event->nick);
      g_free (occupant->nick);
      occupant->nick = g_strdup (event->new_nick);
      g_free (occupant->member);
      occupant->member = g_strdup (event->member);
      g_hash_table_replace (room->occupants, occupant->nick, occupant);
    }
  if (own)
    {
      g_free (room->nick);
      room->nick = g_strdup (event->new_nick);
      /* After a restart the room is joined again with the nick it has now. */
      if (room->joined && stays_connected (room))
        remember_room (room);
    }
  if (!room->joined)
    return;
  if (own)
    {
      /* The network chose it (a collision, services) unless the user asked. */
      gboolean asked = succeed_pending (room, PG_ROOM_NICK);
      g_autoptr (PgStanza) presence = self_presence (room, &plain, asked ? NULL : assigned);
      broadcast (room, presence);
      return;
    }
  g_autoptr (PgStanza) back = occupant_presence (room, event->new_nick, rank, &plain);
  broadcast (room, back);
}

static void
on_message (PgRoom *room, const PgChatEvent *event)
{
  g_autofree char *text = pg_message_html_to_text (event->text);
  g_autofree char *id = new_message_id (room);
  backlog_add (room, id, event->nick, text);
  if (!room->joined)
    return;
  /* The legacy room's own history, after the join: it is no news. */
  broadcast_message (room, event->nick, text, id, event->delayed ? g_get_real_time () : 0);
}

void
pg_rooms_on_own_message (PgSession *session, const char *chat, const char *text, gint64 when)
{
  PgRoom *room = session->rooms_by_key != NULL ? g_hash_table_lookup (session->rooms_by_key, chat) : NULL;
  if (room == NULL || room->nick == NULL)
    {
      g_debug ("%s: own message to %s, a room the user is not in", session->bare_jid, chat);
      return;
    }
  g_autofree char *id = new_message_id (room);
  /* XEP-0045 §7.4: the user's message, as the room reflects what they send here. */
  backlog_add (room, id, room->nick, text);
  if (!room->joined)
    return;
  broadcast_message (room, room->nick, text, id, when * G_USEC_PER_SEC);
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
  if (is_own (room, event->nick))
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
  PgSession *session = room->session;
  g_message ("%s: out of %s (%s)", session->bare_jid, room->name, event->kicked ? "kicked" : "dropped");
  /* 307 kicked, 301 banned, 333: the legacy side ended it otherwise. */
  guint code = event->banned   ? PG_MUC_STATUS_BANNED
               : event->kicked ? PG_MUC_STATUS_KICKED
                               : PG_MUC_STATUS_TECHNICAL;
  leave_all_resources (room, code, event->kicked ? NULL : event->text, event);
  g_autofree char *jid = g_strdup (room->jid);
  fail_waiting (room, PG_ERR_SERVICE_UNAVAILABLE, event->text);
  /* Out already: nothing to leave on the legacy side. */
  if ((room = pg_room_lookup (session, jid)) != NULL)
    room_close (room, FALSE);
}

/* XEP-0249: a legacy invitation, from the inviter's contact address. */
static void
on_invited (PgSession *session, const PgChatEvent *event)
{
  PgTransport *transport = session->transport;
  const char *domain = transport->config->component_jid;
  g_autofree char *room_jid = pg_jid_for_legacy_name (event->chat, domain, NULL);
  g_autofree char *inviter = event->nick != NULL ? pg_jid_for_legacy_name (event->nick, domain, NULL) : NULL;
  if (room_jid == NULL)
    return;
  g_autoptr (PgStanza) message
      = pg_stanza_new ("message", inviter != NULL ? inviter : domain, session->bare_jid, NULL, NULL);
  xmlNode *x = pg_stanza_add_child (message, "x", PG_NS_CONFERENCE);
  pg_stanza_set_attr (x, "jid", room_jid);
  if (event->password != NULL)
    pg_stanza_set_attr (x, "password", event->password);
  if (event->text != NULL && *event->text != '\0')
    pg_stanza_set_attr (x, "reason", event->text);
  pg_transport_send (transport, message);
}

static void
on_modes (PgRoom *room, const PgChatEvent *event)
{
  static const PresenceShape plain = { 0 };
  gboolean moderation = ((room->modes ^ event->modes) & PG_CHAT_MODE_MODERATED) != 0;
  room->modes = event->modes;
  if (!moderation || !room->joined)
    return;
  /* +m/-m changes the role of everyone without a rank (visitor/participant). */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, room->occupants);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgOccupant *occupant = value;
      if (occupant->rank != PG_CHAT_RANK_NONE)
        continue;
      g_autoptr (PgStanza) presence = is_own (room, occupant->nick)
                                          ? self_presence (room, &plain, NULL)
                                          : occupant_presence (room, occupant->nick, occupant->rank, &plain);
      broadcast (room, presence);
    }
}

/* Our connection's nick changed: a join that waited for it goes now. */
static void
on_nick (PgSession *session)
{
  g_autoptr (GPtrArray) rooms = rooms_snapshot (session);
  for (guint i = 0; i < rooms->len; i++)
    {
      PgRoom *room = g_ptr_array_index (rooms, i);
      if (room->nick_wait && join_nick (room) != NULL)
        {
          room->nick_wait = FALSE;
          send_join_now (room);
        }
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
  if (event->kind == PG_CHAT_EVENT_NICK)
    {
      on_nick (session);
      return;
    }
  if (event->kind == PG_CHAT_EVENT_LISTED || event->kind == PG_CHAT_EVENT_LIST_END)
    {
      on_listed (session, event);
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
    {
      /* A join that came too late for the user (timed out, or they left
       * meanwhile): out again.  JOINED comes from an idle, outside
       * libpurple's own handling. */
      if (event->kind == PG_CHAT_EVENT_JOINED && session->account != NULL)
        pg_account_leave_chat (session->account, event->chat);
      return;
    }
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
    case PG_CHAT_EVENT_SENT:
      {
        PgRoomPending *pending = take_pending (room, PG_ROOM_SEND);
        if (pending != NULL)
          pending_free (pending);
      }
      break;
    case PG_CHAT_EVENT_INVITE_SENT:
      succeed_pending (room, PG_ROOM_INVITE);
      break;
    case PG_CHAT_EVENT_REFUSED:
    case PG_CHAT_EVENT_INVITED:
    case PG_CHAT_EVENT_NICK:
    case PG_CHAT_EVENT_LISTED:
    case PG_CHAT_EVENT_LIST_END:
    default:
      break;
    }
}

/* ---- the session's life ---- */

/* The rooms the store kept for a login that stays connected and that are
 * not open: joined again with no resource waiting. */
static void
restore_rooms (PgSession *session)
{
  PgTransport *transport = session->transport;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) stored = pg_store_list_rooms (transport->store, session->bare_jid, &error);
  if (stored == NULL)
    {
      g_warning ("%s", error->message);
      return;
    }
  for (guint i = 0; i < stored->len; i++)
    {
      PgStoreRoom *row = g_ptr_array_index (stored, i);
      if (pg_room_lookup (session, row->room) != NULL)
        continue;
      if (session->rooms != NULL && g_hash_table_size (session->rooms) >= PG_ROOMS_MAX_PER_USER)
        break;
      PgRoom *room = pg_room_ensure (session, row->room, row->name);
      room->hold_nick = g_strdup (row->nick);
      room->join_timeout_id = g_timeout_add_seconds (transport->config->join_timeout_s, join_timed_out, room);
      g_message ("%s: joining %s again for a login that stays connected", session->bare_jid, room->name);
    }
}

void
pg_rooms_on_connected (PgSession *session)
{
  if (pg_sessions_stays_connected (session->transport, session->bare_jid))
    restore_rooms (session);
  g_autoptr (GPtrArray) rooms = rooms_snapshot (session);
  for (guint i = 0; i < rooms->len; i++)
    {
      PgRoom *room = g_ptr_array_index (rooms, i);
      if (!room->join_sent && !room->nick_wait && join_nick (room) != NULL)
        send_join (room);
    }
}

void
pg_rooms_remember_all (PgSession *session)
{
  g_autoptr (GPtrArray) rooms = rooms_snapshot (session);
  for (guint i = 0; i < rooms->len; i++)
    {
      PgRoom *room = g_ptr_array_index (rooms, i);
      if (room->joined)
        remember_room (room);
    }
}

void
pg_rooms_drop_all (PgSession *session, PgErrorCondition condition, const char *reason, guint code)
{
  g_autoptr (GPtrArray) rooms = rooms_snapshot (session);
  for (guint i = 0; i < rooms->len; i++)
    {
      PgRoom *room = g_ptr_array_index (rooms, i);
      leave_all_resources (room, code, reason, NULL);
      room->join_sent = FALSE;
      room->nick_wait = FALSE;
      room->joined = FALSE;
      g_hash_table_remove_all (room->occupants);
      g_clear_pointer (&room->nick, g_free);
      if (room->waiting->len > 0 && condition == PG_ERR_REMOTE_SERVER_TIMEOUT && session->account == NULL)
        continue; /* a network failure: the joins wait for the reconnection within their timeout */
      /* Nobody is left in it: the room goes (join_sent is off, nothing to leave). */
      fail_waiting (room, condition, reason != NULL ? reason : "the legacy login ended");
    }
}

void
pg_rooms_free (PgSession *session)
{
  g_clear_pointer (&session->rooms_by_key, g_hash_table_unref);
  g_clear_pointer (&session->rooms, g_hash_table_unref);
  g_clear_pointer (&session->private_peers, g_hash_table_unref);
  g_clear_pointer (&session->chat_list, chat_list_free);
}

gboolean
pg_rooms_deliver_private (PgSession *session, const char *name, const char *text)
{
  if (session->private_peers == NULL || session->account == NULL)
    return FALSE;
  g_autofree char *key = pg_account_normalize (session->account, name);
  const char *occupant = g_hash_table_lookup (session->private_peers, key);
  if (occupant == NULL)
    return FALSE;
  g_autoptr (PgStanza) message = pg_stanza_new ("message", occupant, NULL, "chat", NULL);
  pg_stanza_add_text_child (message, "body", NULL, text);
  pg_stanza_add_child (message, "x", PG_NS_MUC_USER);
  g_autofree char *room_jid = g_strndup (occupant, strcspn (occupant, "/"));
  PgRoom *room = pg_room_lookup (session, room_jid);
  if (room == NULL || room->members->len == 0)
    {
      /* The room was left meanwhile: to the user, wherever they are. */
      pg_stanza_set_attr (message, "to", session->bare_jid);
      pg_transport_send (session->transport, message);
      return TRUE;
    }
  broadcast (room, message);
  return TRUE;
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
