/* legacy/roster-sync.c — the user's roster kept in step with the legacy
 * contact list, with the roster permission of XEP-0356 (§4.3).
 *
 * When the host server lets purplegate set the rosters of its users, a
 * legacy contact is put on the roster directly, with its name and a group
 * named after the network ([legacy] name), instead of asking the user to
 * approve a subscription (XEP-0100 §5.1). At each login the roster is read
 * first (with the get permission) and only what differs is pushed, so a
 * login that changes nothing pushes nothing. Roster items of the gateway's
 * domain in the network's group that are no contact any more are removed:
 * those are the items purplegate put there. */
#define G_LOG_DOMAIN "pg-roster-sync"
#include "build-config.h"

#include "legacy/session-private.h"

#include "transport/privilege.h"

#include <string.h>

static gboolean
may_set (PgTransport *transport, const char *bare_jid)
{
  PgPrivilegeAccess access = pg_privilege_roster (transport->privilege);
  return (access == PG_PRIVILEGE_SET || access == PG_PRIVILEGE_BOTH)
         && pg_privilege_manages (transport->privilege, bare_jid);
}

gboolean
pg_roster_sync_applies (PgSession *session)
{
  return may_set (session->transport, session->bare_jid);
}

static const char *
display_name (const PgContact *contact)
{
  return contact->alias != NULL && contact->alias[0] != '\0' ? contact->alias : contact->name;
}

/* The server refused a roster change (ejabberd 23.01 refuses every
 * privileged set with internal-server-error): the roster permission is not
 * used on this stream any more, and this contact gets what XEP-0100 gives
 * without it (XEP-0356 §4.3 leaves the refusal to the server). The id
 * carries what the change was: "rp" or "rx" (set or removal), a serial,
 * a space and the contact's JID. */
static void
on_push_answer (const PgRouteRequest *response, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgTransport *transport = sessions->transport;
  if (strcmp (response->type, "error") != 0 || response->id == NULL)
    return;
  gboolean removal = g_str_has_prefix (response->id, "rx");
  const char *jid = strchr (response->id, ' ');
  xmlNode *error = pg_stanza_find_child (response->stanza, "error", NULL);
  xmlNode *condition = error != NULL ? pg_stanza_first_element (error) : NULL;
  /* Removing what the user removed already is no trouble. */
  if (jid == NULL || (removal && condition != NULL && pg_stanza_is (condition, "item-not-found", NULL)))
    return;
  jid++;
  if (pg_privilege_refuse_roster_set (transport->privilege))
    g_message ("the server refused a roster change of %s (%s): the roster permission is not used "
               "until the next stream, contacts ask for subscriptions instead",
               response->from_bare, condition != NULL ? (const char *)condition->name : "no condition");
  if (removal)
    {
      static const char *const types[] = { "unavailable", "unsubscribe", "unsubscribed" };
      for (guint t = 0; t < G_N_ELEMENTS (types); t++)
        {
          g_autoptr (PgStanza) presence
              = pg_stanza_new ("presence", jid, response->from_bare, types[t], NULL);
          pg_transport_send (transport, presence);
        }
      return;
    }
  PgSession *session = pg_sessions_lookup (sessions, response->from_bare);
  PgContact *contact = session != NULL ? pg_contacts_lookup (session, jid) : NULL;
  if (contact != NULL && contact->stored)
    pg_contacts_ask_subscription (session, contact);
}

/* Pushes one item: @contact (name, group, subscribed both ways) or, with
 * @contact NULL, the removal of @jid. */
static void
push (PgTransport *transport, const char *bare_jid, const char *jid, const PgContact *contact)
{
  g_autofree char *id = g_strdup_printf ("%s%08x %s", contact != NULL ? "rp" : "rx", g_random_int (), jid);
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", transport->config->component_jid, bare_jid, "set", id);
  xmlNode *query = pg_stanza_add_child (iq, "query", PG_NS_ROSTER);
  xmlNode *item = pg_stanza_add_child (query, "item", NULL);
  pg_stanza_set_attr (item, "jid", jid);
  if (contact == NULL)
    pg_stanza_set_attr (item, "subscription", "remove");
  else
    {
      pg_stanza_set_attr (item, "name", display_name (contact));
      /* The contact's presence flows both ways, as after the approvals of
       * XEP-0100 §5.1 (RFC 6121 §2.1.2.5). */
      pg_stanza_set_attr (item, "subscription", "both");
      pg_stanza_add_text_child (item, "group", NULL, transport->legacy_name);
    }
  g_debug ("%s: roster %s %s", bare_jid, contact != NULL ? "set" : "remove", jid);
  pg_router_expect_response (transport->router, id, on_push_answer, transport->sessions);
  pg_transport_send (transport, iq);
}

void
pg_roster_sync_contact (PgSession *session, const PgContact *contact)
{
  if (session->roster_sync == PG_ROSTER_SYNC_DONE && pg_roster_sync_applies (session))
    push (session->transport, session->bare_jid, contact->jid, contact);
}

void
pg_roster_sync_remove (PgSession *session, const char *jid)
{
  if (session->roster_sync == PG_ROSTER_SYNC_DONE && pg_roster_sync_applies (session))
    push (session->transport, session->bare_jid, jid, NULL);
}

static gboolean
in_network_group (PgTransport *transport, const xmlNode *item)
{
  for (const xmlNode *group = item->children; group != NULL; group = group->next)
    if (pg_stanza_is (group, "group", PG_NS_ROSTER))
      {
        g_autofree char *name = pg_stanza_dup_text (group);
        if (g_strcmp0 (name, transport->legacy_name) == 0)
          return TRUE;
      }
  return FALSE;
}

/* TRUE when the roster @item shows @contact as purplegate would push it. */
static gboolean
item_matches (PgTransport *transport, const xmlNode *item, const PgContact *contact)
{
  if (g_strcmp0 (pg_stanza_get_attr (item, "name"), display_name (contact)) != 0
      || g_strcmp0 (pg_stanza_get_attr (item, "subscription"), "both") != 0)
    return FALSE;
  return in_network_group (transport, item);
}

/* The roster items that are contacts of this gateway: prepared JID → item
 * (borrowed from @query). */
static GHashTable *
gateway_items (PgTransport *transport, const xmlNode *query)
{
  GHashTable *items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (xmlNode *item = query != NULL ? query->children : NULL; item != NULL; item = item->next)
    {
      if (!pg_stanza_is (item, "item", PG_NS_ROSTER))
        continue;
      g_autoptr (PgJid) jid = pg_jid_parse (pg_stanza_get_attr (item, "jid"), NULL);
      if (jid == NULL || pg_jid_get_node (jid) == NULL || pg_jid_get_resource (jid) != NULL
          || strcmp (pg_jid_get_domain (jid), transport->config->component_jid) != 0)
        continue;
      g_hash_table_replace (items, pg_jid_dup_bare (jid), item);
    }
  return items;
}

/* Pushes what differs between the roster (@query, NULL: unknown) and the
 * contact list. */
static void
push_differences (PgSession *session, const xmlNode *query)
{
  PgTransport *transport = session->transport;
  g_autoptr (GHashTable) items = gateway_items (transport, query);
  guint pushed = 0;
  GHashTableIter iter;
  gpointer key, value;
  if (session->contacts != NULL)
    {
      g_hash_table_iter_init (&iter, session->contacts);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          PgContact *contact = value;
          if (!contact->stored)
            continue;
          xmlNode *item = g_hash_table_lookup (items, contact->jid);
          g_hash_table_remove (items, contact->jid);
          if (query != NULL && item != NULL && item_matches (transport, item, contact))
            continue;
          push (transport, session->bare_jid, contact->jid, contact);
          pushed++;
        }
    }
  g_hash_table_iter_init (&iter, items);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (in_network_group (transport, value))
      {
        push (transport, session->bare_jid, key, NULL);
        pushed++;
      }
  g_info ("%s: roster in step with the legacy contact list (%u changes)", session->bare_jid, pushed);
}

static void
on_roster (const PgRouteRequest *response, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgSession *session = pg_sessions_lookup (sessions, response->from_bare);
  if (session == NULL || g_strcmp0 (session->roster_read_id, response->id) != 0)
    return; /* the login it was read for is over */
  g_clear_pointer (&session->roster_read_id, g_free);
  if (strcmp (response->type, "result") != 0)
    {
      /* XEP-0356 §4.3: forbidden when the permission is gone. The contacts
       * stay as they are; the next login tries again. */
      session->roster_sync = PG_ROSTER_SYNC_NONE;
      g_message ("%s: the server refused to read the roster; the contacts are not synchronised",
                 session->bare_jid);
      return;
    }
  session->roster_sync = PG_ROSTER_SYNC_DONE;
  push_differences (session, pg_stanza_find_child (response->stanza, "query", PG_NS_ROSTER));
}

void
pg_roster_sync_start (PgSession *session)
{
  PgTransport *transport = session->transport;
  pg_roster_sync_stop (session);
  if (!pg_roster_sync_applies (session))
    return;
  if (pg_privilege_roster (transport->privilege) == PG_PRIVILEGE_SET)
    {
      /* Nothing to compare with: every contact once per login. */
      session->roster_sync = PG_ROSTER_SYNC_DONE;
      push_differences (session, NULL);
      return;
    }
  /* XEP-0356 §4.3: a plain roster get from the component, in either
   * namespace's version of the permission. */
  session->roster_read_id = g_strdup_printf ("rr%08x%08x", g_random_int (), g_random_int ());
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", transport->config->component_jid, session->bare_jid, "get",
                                           session->roster_read_id);
  pg_stanza_add_child (iq, "query", PG_NS_ROSTER);
  session->roster_sync = PG_ROSTER_SYNC_READING;
  pg_router_expect_response (transport->router, session->roster_read_id, on_roster, session->sessions);
  pg_transport_send (transport, iq);
}

void
pg_roster_sync_stop (PgSession *session)
{
  if (session->roster_read_id != NULL)
    pg_router_cancel_response (session->transport->router, session->roster_read_id);
  g_clear_pointer (&session->roster_read_id, g_free);
  session->roster_sync = PG_ROSTER_SYNC_NONE;
}

gboolean
pg_roster_sync_goodbye (PgTransport *transport, const char *bare_jid, const GPtrArray *contacts)
{
  if (!may_set (transport, bare_jid))
    return FALSE;
  for (guint i = 0; contacts != NULL && i < contacts->len; i++)
    {
      PgStoreContact *contact = g_ptr_array_index (contacts, i);
      g_autofree char *jid = pg_jid_for_legacy_name (contact->name, transport->config->component_jid, NULL);
      if (jid != NULL)
        push (transport, bare_jid, jid, NULL);
    }
  return TRUE;
}
