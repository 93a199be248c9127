/* legacy/contacts.c — legacy contacts as JIDs: the list kept in the store,
 * their presence, and subscriptions both ways (XEP-0100 §4.6–4.7, §5.1–5.2). */
#define G_LOG_DOMAIN "pg-contacts"
#include "build-config.h"

#include "legacy/session-private.h"

#include "legacy/presence.h"

void
pg_contact_free (PgContact *contact)
{
  g_free (contact->name);
  g_free (contact->jid);
  g_free (contact->alias);
  g_free (contact->status);
  g_free (contact);
}

static PgContact *
add_contact (PgSession *session, const char *name, const char *alias)
{
  g_autoptr (GError) error = NULL;
  char *jid = pg_jid_for_legacy_name (name, session->transport->config->component_jid, &error);
  if (jid == NULL)
    {
      /* Never emit an invalid JID (XEP-0106 §2). */
      g_info ("%s: legacy contact without a possible JID skipped: %s", session->bare_jid, error->message);
      return NULL;
    }
  PgContact *contact = g_new0 (PgContact, 1);
  contact->name = g_strdup (name);
  contact->jid = jid;
  contact->alias = g_strdup (alias);
  contact->show = PG_SHOW_OFFLINE;
  /* Created with the first contact: most sessions of a gateway have none,
   * and two empty tables cost 0.3 KiB per session. */
  if (session->contacts == NULL)
    {
      session->contacts
          = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)pg_contact_free);
      session->contacts_by_name = g_hash_table_new (g_str_hash, g_str_equal);
    }
  PgContact *previous = g_hash_table_lookup (session->contacts, jid);
  if (previous != NULL)
    g_hash_table_remove (session->contacts_by_name, previous->name);
  g_hash_table_replace (session->contacts, contact->jid, contact);
  g_hash_table_replace (session->contacts_by_name, contact->name, contact);
  return contact;
}

void
pg_contacts_load (PgSession *session)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) stored
      = pg_store_list_contacts (session->transport->store, session->bare_jid, &error);
  if (stored == NULL)
    {
      g_warning ("%s: cannot read the contact list: %s", session->bare_jid, error->message);
      return;
    }
  for (guint i = 0; i < stored->len; i++)
    {
      PgStoreContact *row = g_ptr_array_index (stored, i);
      PgContact *contact = add_contact (session, row->name, row->alias);
      if (contact != NULL)
        {
          contact->stored = TRUE;
          contact->pending_add = row->pending_add;
        }
    }
}

PgContact *
pg_contacts_lookup (PgSession *session, const char *jid)
{
  return session->contacts != NULL ? g_hash_table_lookup (session->contacts, jid) : NULL;
}

PgContact *
pg_contacts_ensure (PgSession *session, const char *name, const char *alias)
{
  PgContact *known
      = session->contacts_by_name != NULL ? g_hash_table_lookup (session->contacts_by_name, name) : NULL;
  if (known != NULL)
    return known;
  g_autofree char *jid = pg_transport_contact_jid (session->transport, name);
  if (jid == NULL)
    return add_contact (session, name, alias); /* logs why */
  PgContact *contact = pg_contacts_lookup (session, jid);
  return contact != NULL ? contact : add_contact (session, name, alias);
}

char *
pg_contacts_dup_legacy_name (PgSession *session, const PgJid *jid)
{
  g_autofree char *bare = pg_jid_dup_bare (jid);
  PgContact *contact = session != NULL ? pg_contacts_lookup (session, bare) : NULL;
  if (contact != NULL)
    return g_strdup (contact->name);
  return pg_jid_unescape (pg_jid_get_node (jid));
}

void
pg_contacts_subscribe_all (PgSession *session)
{
  GHashTableIter iter;
  gpointer value;
  if (session->contacts == NULL)
    return;
  g_hash_table_iter_init (&iter, session->contacts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgContact *contact = value;
      if (!contact->stored || !contact->pending_add)
        continue;
      g_autoptr (GError) error = NULL;
      pg_account_add_contact (session->account, contact->name, contact->alias);
      if (pg_store_set_contact_pending (session->transport->store, session->bare_jid, contact->name, FALSE,
                                        &error))
        contact->pending_add = FALSE;
      else
        g_warning ("%s: %s", session->bare_jid, error->message);
    }
}

static void
send_presence (PgSession *session, PgContact *contact, const char *type, const char *nick, const char *status)
{
  xmlNode *presence
      = type == NULL ? pg_presence_new (contact->jid, session->bare_jid, contact->show, contact->status, NULL)
                     : pg_presence_new (contact->jid, session->bare_jid, PG_SHOW_AVAILABLE, status, nick);
  if (type != NULL)
    pg_stanza_set_attr (presence, "type", type);
  pg_session_send (session, presence);
}

void
pg_contacts_ask_subscription (PgSession *session, PgContact *contact)
{
  send_presence (session, contact, "subscribe", contact->alias != NULL ? contact->alias : contact->name,
                 NULL);
}

void
pg_contacts_all_offline (PgSession *session)
{
  GHashTableIter iter;
  gpointer value;
  if (session->contacts == NULL)
    return;
  g_hash_table_iter_init (&iter, session->contacts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgContact *contact = value;
      contact->show = PG_SHOW_OFFLINE;
      g_clear_pointer (&contact->status, g_free);
      if (contact->announced)
        send_presence (session, contact, NULL, NULL, NULL);
      contact->announced = FALSE;
    }
}

static gboolean
store_contact (PgSession *session, PgContact *contact)
{
  g_autoptr (GError) error = NULL;
  if (!pg_store_put_contact (session->transport->store, session->bare_jid, contact->name, contact->alias,
                             &error))
    {
      g_warning ("%s: %s", session->bare_jid, error->message);
      return FALSE;
    }
  contact->stored = TRUE;
  return TRUE;
}

static void
forget_contact (PgSession *session, PgContact *contact)
{
  g_autoptr (GError) error = NULL;
  if (!pg_store_delete_contact (session->transport->store, session->bare_jid, contact->name, &error))
    g_warning ("%s: %s", session->bare_jid, error->message);
  g_hash_table_remove (session->contacts_by_name, contact->name);
  g_hash_table_remove (session->contacts, contact->jid);
}

/* ---- events from the legacy network ---- */

void
pg_contacts_on_status (gpointer owner, const char *name, const char *alias, PgShow show,
                       const char *status_text)
{
  PgSession *session = owner;
  PgContact *contact = pg_contacts_ensure (session, name, alias);
  if (contact == NULL || (show == PG_SHOW_OFFLINE && !contact->announced))
    return;
  contact->show = show;
  g_free (contact->status);
  contact->status = g_strdup (status_text);
  contact->announced = show != PG_SHOW_OFFLINE;
  send_presence (session, contact, NULL, NULL, NULL);
}

void
pg_contacts_on_listed (gpointer owner, const char *name, const char *alias)
{
  PgSession *session = owner;
  PgContact *contact = pg_contacts_ensure (session, name, alias);
  if (contact != NULL && pg_roster_sync_applies (session))
    {
      /* The contact goes on the roster, no approval asked (XEP-0356 §4.3);
       * listed again under a new name, it is renamed there. */
      if (contact->stored && g_strcmp0 (contact->alias, alias) == 0)
        return;
      g_free (contact->alias);
      contact->alias = g_strdup (alias);
      if (store_contact (session, contact))
        pg_roster_sync_contact (session, contact);
      return;
    }
  if (contact == NULL || contact->stored)
    return;
  g_free (contact->alias);
  contact->alias = g_strdup (alias);
  if (store_contact (session, contact))
    pg_contacts_ask_subscription (session, contact);
}

void
pg_contacts_on_unlisted (gpointer owner, const char *name)
{
  PgSession *session = owner;
  PgContact *contact = pg_contacts_ensure (session, name, NULL);
  if (contact == NULL || !contact->stored)
    return;
  if (pg_roster_sync_applies (session))
    {
      send_presence (session, contact, "unavailable", NULL, NULL);
      pg_roster_sync_remove (session, contact->jid);
      forget_contact (session, contact);
      return;
    }
  send_presence (session, contact, "unsubscribe", NULL, NULL);
  send_presence (session, contact, "unsubscribed", NULL, NULL);
  send_presence (session, contact, "unavailable", NULL, NULL);
  forget_contact (session, contact);
}

void
pg_contacts_on_authorization (gpointer owner, const char *from, const char *alias, const char *message)
{
  PgSession *session = owner;
  PgContact *contact = pg_contacts_ensure (session, from, alias);
  if (contact == NULL)
    {
      pg_account_authorize (session->account, from, FALSE);
      return;
    }
  contact->authorization_pending = TRUE;
  send_presence (session, contact, "subscribe", alias != NULL ? alias : from, message);
}

/* ---- the user's subscription stanzas to contacts ---- */

/* A session object, even without a login, holds the contact table. */
static PgSession *
session_of (PgSessions *sessions, const PgRouteRequest *request)
{
  return pg_sessions_lookup (sessions, request->from_bare);
}

static void
reply_presence (PgTransport *transport, const PgRouteRequest *request, const char *type)
{
  g_autofree char *from = pg_jid_dup_bare (request->to);
  g_autoptr (PgStanza) presence = pg_stanza_new ("presence", from, request->from_bare, type, NULL);
  pg_transport_send (transport, presence);
}

static PgRouteResult
on_subscribe (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgTransport *transport = sessions->transport;
  if (!pg_transport_is_registered (transport, request->from_bare))
    {
      reply_presence (transport, request, "unsubscribed");
      return PG_HANDLED;
    }
  PgSession *session = session_of (sessions, request);
  g_autofree char *name = pg_contacts_dup_legacy_name (session, request->to);
  g_autofree char *to_bare = pg_jid_dup_bare (request->to);
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = pg_jid_for_legacy_name (name, transport->config->component_jid, &error);
  if (expected == NULL || g_strcmp0 (expected, to_bare) != 0)
    {
      reply_presence (transport, request, "unsubscribed"); /* XEP-0100 §4.6.2: no such legacy address */
      return PG_HANDLED;
    }
  if (session == NULL)
    {
      /* Offline: remember it; the legacy side learns at the next login. */
      if (!pg_store_put_contact (transport->store, request->from_bare, name, NULL, &error)
          || !pg_store_set_contact_pending (transport->store, request->from_bare, name, TRUE, &error))
        g_warning ("%s: %s", request->from_bare, error->message);
      reply_presence (transport, request, "subscribed");
      return PG_HANDLED;
    }
  PgContact *contact = pg_contacts_ensure (session, name, NULL);
  gboolean was_stored = contact->stored;
  if (!was_stored && !store_contact (session, contact))
    {
      reply_presence (transport, request, "unsubscribed");
      return PG_HANDLED;
    }
  if (!was_stored && session->state == PG_SESSION_ONLINE)
    pg_account_add_contact (session->account, contact->name, contact->alias);
  else if (!was_stored
           && pg_store_set_contact_pending (transport->store, session->bare_jid, contact->name, TRUE, NULL))
    contact->pending_add = TRUE; /* sent once the login is up */
  /* Networks without authorisation (IRC) approve at once (XEP-0100 §4.6.1). */
  reply_presence (transport, request, "subscribed");
  /* Then named and grouped like the other contacts: after the approval,
   * which the server would drop for an item already subscribed both ways. */
  if (!was_stored)
    pg_roster_sync_contact (session, contact);
  if (contact->show != PG_SHOW_OFFLINE)
    send_presence (session, contact, NULL, NULL, NULL);
  return PG_HANDLED;
}

static PgRouteResult
on_unsubscribe (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgTransport *transport = sessions->transport;
  PgSession *session = session_of (sessions, request);
  g_autofree char *to_bare = pg_jid_dup_bare (request->to);
  PgContact *contact = session != NULL ? pg_contacts_lookup (session, to_bare) : NULL;
  if (contact != NULL)
    {
      if (session->state == PG_SESSION_ONLINE && contact->stored)
        pg_account_remove_contact (session->account, contact->name);
      forget_contact (session, contact);
    }
  else if (pg_transport_is_registered (transport, request->from_bare))
    {
      g_autofree char *name = pg_contacts_dup_legacy_name (NULL, request->to);
      pg_store_delete_contact (transport->store, request->from_bare, name, NULL);
    }
  /* RFC 6121 §3.3.3: the contact's presence goes away. */
  reply_presence (transport, request, "unavailable");
  return PG_HANDLED;
}

static PgRouteResult
on_authorization_answer (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgSession *session = session_of (sessions, request);
  g_autofree char *to_bare = pg_jid_dup_bare (request->to);
  PgContact *contact = session != NULL ? pg_contacts_lookup (session, to_bare) : NULL;
  if (contact == NULL || !contact->authorization_pending || session->account == NULL)
    return PG_HANDLED;
  contact->authorization_pending = FALSE;
  pg_account_authorize (session->account, contact->name, g_str_equal (request->type, "subscribed"));
  return PG_HANDLED;
}

static PgRouteResult
on_probe (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgTransport *transport = sessions->transport;
  PgSession *session = session_of (sessions, request);
  g_autofree char *to_bare = pg_jid_dup_bare (request->to);
  PgContact *contact = session != NULL ? pg_contacts_lookup (session, to_bare) : NULL;
  if (contact != NULL && contact->show != PG_SHOW_OFFLINE)
    {
      send_presence (session, contact, NULL, NULL, NULL);
      return PG_HANDLED;
    }
  gboolean known = contact != NULL;
  if (!known && pg_transport_is_registered (transport, request->from_bare))
    {
      g_autoptr (GPtrArray) stored = pg_store_list_contacts (transport->store, request->from_bare, NULL);
      g_autofree char *name = pg_contacts_dup_legacy_name (NULL, request->to);
      for (guint i = 0; stored != NULL && i < stored->len && !known; i++)
        known = g_str_equal (((PgStoreContact *)g_ptr_array_index (stored, i))->name, name);
    }
  /* RFC 6121 §4.3.2: unknown or unauthorised → unsubscribed; offline → unavailable. */
  reply_presence (transport, request, known ? "unavailable" : "unsubscribed");
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_PRESENCE, "subscribe", NULL, NULL, PG_TARGET_CONTACT, on_subscribe },
  { PG_KIND_PRESENCE, "unsubscribe", NULL, NULL, PG_TARGET_CONTACT, on_unsubscribe },
  { PG_KIND_PRESENCE, "subscribed", NULL, NULL, PG_TARGET_CONTACT, on_authorization_answer },
  { PG_KIND_PRESENCE, "unsubscribed", NULL, NULL, PG_TARGET_CONTACT, on_authorization_answer },
  { PG_KIND_PRESENCE, "probe", NULL, NULL, PG_TARGET_CONTACT, on_probe },
};

void
pg_contacts_add_routes (PgTransport *transport, PgSessions *sessions)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), sessions);
}
