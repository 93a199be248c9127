/* legacy/session.c — per-user sessions: resources, the login state machine,
 * and the transport's own presence towards the user. */
#define G_LOG_DOMAIN "pg-session"
#include "build-config.h"

#include "legacy/session-private.h"

#include "legacy/backend.h"
#include "legacy/outbox-private.h"
#include "legacy/presence.h"
#include "legacy/room-private.h"
#include "registration/seal.h"
#include "registration/user-options.h"
#include "transport/i18n.h"

#include <string.h>

typedef struct
{
  char *name; /* the resource; "" for presence from the bare JID */
  PgShow show;
  char *status;
  int priority;
  gboolean via_domain; /* sent presence to the transport, not only to contacts */
  gboolean confirmed;  /* available since the link to the XMPP server last came back */
} Resource;

/* How long a session outlives its last resource: an XMPP server that stops
 * cleanly sends every user's unavailable presence just before it closes the
 * component stream, and then the sessions wait for the link instead. */
#define PG_SESSION_LOGOUT_GRACE_MS 250

/* After the process serving the login ended: long enough for the worker to
 * be started again, short enough that the user barely notices. */
#define PG_SESSION_INTERNAL_RETRY_MS 500

static void
resource_free (Resource *resource)
{
  g_free (resource->name);
  g_free (resource->status);
  g_free (resource);
}

/* A user has one or a few resources: a list costs less than a table. */
static Resource *
find_resource (PgSession *session, const char *name)
{
  for (GSList *l = session->resources; l != NULL; l = l->next)
    if (strcmp (((Resource *)l->data)->name, name) == 0)
      return l->data;
  return NULL;
}

static void login (PgSession *session);

GPtrArray *
pg_session_dup_resources (PgSession *session)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  for (GSList *l = session->resources; l != NULL; l = l->next)
    {
      const Resource *resource = l->data;
      if (*resource->name != '\0')
        g_ptr_array_add (names, g_strdup (resource->name));
    }
  return names;
}

gboolean
pg_session_has_resource (PgSession *session, const char *resource)
{
  return find_resource (session, resource) != NULL;
}

gboolean
pg_sessions_stays_connected (PgTransport *transport, const char *bare_jid)
{
  switch (transport->config->stay_connected)
    {
    case PG_STAY_CONNECTED_ON:
      return TRUE;
    case PG_STAY_CONNECTED_ASK:
      return pg_store_setting_is (transport->store, bare_jid, PG_SETTING_STAY_CONNECTED, "true");
    case PG_STAY_CONNECTED_OFF:
    default:
      return FALSE;
    }
}

/* ---- table ---- */

PgSession *
pg_sessions_lookup (PgSessions *sessions, const char *bare_jid)
{
  return g_hash_table_lookup (sessions->by_jid, bare_jid);
}

void
pg_session_send (PgSession *session, xmlNode *stanza_owned)
{
  g_autoptr (PgStanza) stanza = stanza_owned;
  pg_transport_send (session->transport, stanza);
}

static void
session_free (PgSession *session)
{
  pg_questions_withdraw_all (session, FALSE);
  pg_session_nick_abort (session);
  pg_roster_sync_stop (session);
  g_free (session->question_refusal);
  g_clear_handle_id (&session->retry_id, g_source_remove);
  g_clear_handle_id (&session->logout_id, g_source_remove);
  pg_rooms_free (session);
  g_clear_pointer (&session->account, pg_account_free);
  pg_outbox_legacy_reset (session); /* the rows wait for the next session */
  g_slist_free_full (g_steal_pointer (&session->resources), (GDestroyNotify)resource_free);
  g_clear_pointer (&session->contacts_by_name, g_hash_table_unref);
  g_clear_pointer (&session->contacts, g_hash_table_unref);
  g_clear_pointer (&session->stateless_peers, g_hash_table_unref);
  g_free (session->bare_jid);
  g_free (session->nick_told);
  g_free (session);
}

static PgSession *
session_new (PgSessions *sessions, const char *bare_jid)
{
  PgSession *session = g_new0 (PgSession, 1);
  session->sessions = sessions;
  session->transport = sessions->transport;
  session->bare_jid = g_strdup (bare_jid);
  session->state = PG_SESSION_OFFLINE;
  session->backoff_s = PG_SESSION_BACKOFF_MIN_S;
  pg_contacts_load (session); /* creates the contact tables for the first one */
  g_hash_table_insert (sessions->by_jid, session->bare_jid, session);
  return session;
}

static const char *
state_name (PgSessionState state)
{
  static const char *const names[] = { "offline", "connecting", "online", "reconnect-wait" };
  return names[state];
}

static void
set_state (PgSession *session, PgSessionState state)
{
  if (session->state != state)
    g_debug ("%s: %s → %s", session->bare_jid, state_name (session->state), state_name (state));
  session->state = state;
  if (state != PG_SESSION_ONLINE)
    pg_roster_sync_stop (session);
}

/* ---- the user's presence ---- */

static const Resource *
best_resource (PgSession *session)
{
  const Resource *best = NULL;
  for (GSList *l = session->resources; l != NULL; l = l->next)
    {
      const Resource *resource = l->data;
      if (best == NULL || resource->priority > best->priority)
        best = resource;
    }
  return best;
}

static void
apply_status (PgSession *session)
{
  const Resource *best = best_resource (session);
  if (session->state == PG_SESSION_ONLINE && best != NULL)
    pg_account_set_status (session->account, best->show, best->status);
}

static void
send_transport_presence (PgSession *session, PgShow show, const char *status)
{
  pg_session_send (session, pg_presence_new (session->transport->config->component_jid, session->bare_jid,
                                             show, status, NULL));
}

/* A headline from the transport: @subject and @advice are msgids; @reason
 * the legacy network's own words. */
static void
send_headline (PgSession *session, const char *subject, const char *reason, const char *advice)
{
  PgTransport *transport = session->transport;
  g_autofree char *body = g_strdup_printf ("%s: %s\n%s", transport->legacy_name, reason,
                                           pg_i18n_translate (transport->i18n, session->lang, advice));
  g_autoptr (PgStanza) headline
      = pg_stanza_new ("message", transport->config->component_jid, session->bare_jid, "headline", NULL);
  pg_stanza_set_attr (headline, "xml:lang", pg_i18n_get_language (transport->i18n, session->lang));
  pg_stanza_add_text_child (headline, "subject", NULL,
                            pg_i18n_translate (transport->i18n, session->lang, subject));
  pg_stanza_add_text_child (headline, "body", NULL, body);
  pg_transport_send (transport, headline);
}

/* XEP-0100 §4.4.2: the login failure goes to the user as a presence error
 * from the transport, plus a headline saying what to do. */
static void
report_failure (PgSession *session, PgErrorCondition condition, const char *reason, const char *advice)
{
  PgTransport *transport = session->transport;
  g_autoptr (PgStanza) probe
      = pg_stanza_new ("presence", session->bare_jid, transport->config->component_jid, NULL, NULL);
  g_autoptr (PgStanza) error = pg_stanza_error_reply (probe, condition, PG_ERR_TYPE_DEFAULT, reason);
  pg_transport_send (transport, error);

  send_headline (session, N_ ("Legacy login failed"), reason, advice);
}

/* ---- the nick the network gave ---- */

/* Where the protocol has one nick per connection (IRC), the network may
 * give another than the registered one (bob1 while bob is taken after a
 * reconnect, or a server's forced change): the user is told once per nick,
 * in the transport's presence status and a headline, and can pick another
 * with the "Change nick" command. @new_nick: the nick a NICK event names
 * (NULL: the login's). */
static void
check_nick (PgSession *session, PgShow show, const char *new_nick)
{
  PgTransport *transport = session->transport;
  PgAccount *account = session->account;
  if (account == NULL || !pg_account_has_connection_nick (account))
    return;
  g_autoptr (PgStoreUser) user = pg_store_get_user (transport->store, session->bare_jid, NULL);
  /* A NICK event comes before the protocol knows the nick it names. */
  g_autofree char *nick = new_nick != NULL ? g_strdup (new_nick) : pg_account_dup_nick (account);
  if (user == NULL || nick == NULL)
    return;
  g_autofree char *registered = g_strndup (user->username, strcspn (user->username, "@"));
  g_autofree char *want = pg_account_normalize (account, registered);
  g_autofree char *have = pg_account_normalize (account, nick);
  if (g_strcmp0 (want, have) == 0)
    {
      /* The nick is back ("Change nick"): the status told of it goes. */
      if (session->nick_told != NULL && session->state == PG_SESSION_ONLINE)
        send_transport_presence (session, show, NULL);
      g_clear_pointer (&session->nick_told, g_free);
      return;
    }
  if (g_strcmp0 (session->nick_told, have) == 0)
    return;
  g_free (session->nick_told);
  session->nick_told = g_steal_pointer (&have);
  g_message ("%s: the legacy network gave another nick than the registered one", session->bare_jid);
  g_autofree char *status = g_strdup_printf (
      pg_i18n_translate (transport->i18n, session->lang,
                         N_ ("Your nick on %s is %s, not %s: %s was in use. Run the command \"Change "
                             "nick\" to choose another.")),
      transport->legacy_name, nick, registered, registered);
  send_transport_presence (session, show, status);
  g_autoptr (PgStanza) headline
      = pg_stanza_new ("message", transport->config->component_jid, session->bare_jid, "headline", NULL);
  pg_stanza_set_attr (headline, "xml:lang", pg_i18n_get_language (transport->i18n, session->lang));
  pg_stanza_add_text_child (headline, "subject", NULL,
                            pg_i18n_translate (transport->i18n, session->lang, N_ ("Your nick was changed")));
  pg_stanza_add_text_child (headline, "body", NULL, status);
  pg_transport_send (transport, headline);
}

static void
on_chat (gpointer owner, const PgChatEvent *event)
{
  PgSession *session = owner;
  /* A refusal of the nick "Change nick" asked for is not a room's. */
  if (pg_session_nick_on_chat (session, event))
    return;
  pg_rooms_on_chat (owner, event);
  if (event->kind == PG_CHAT_EVENT_NICK && session->state == PG_SESSION_ONLINE)
    {
      const Resource *best = best_resource (session);
      check_nick (session, best != NULL ? best->show : PG_SHOW_AVAILABLE, event->new_nick);
    }
}

/* ---- login state machine ---- */

static void
on_connected (gpointer owner)
{
  PgSession *session = owner;
  session->transport->stats.logins_succeeded++;
  set_state (session, PG_SESSION_ONLINE);
  session->backoff_s = PG_SESSION_BACKOFF_MIN_S;
  session->ever_connected = TRUE;
  g_message ("%s: legacy login online (%u contacts)", session->bare_jid,
             session->contacts != NULL ? g_hash_table_size (session->contacts) : 0);
  const Resource *best = best_resource (session);
  send_transport_presence (session, best != NULL ? best->show : PG_SHOW_AVAILABLE, NULL);
  check_nick (session, best != NULL ? best->show : PG_SHOW_AVAILABLE, NULL);
  apply_status (session);
  pg_contacts_subscribe_all (session);
  pg_roster_sync_start (session);
  /* What the user wrote while the login was down, in order, before anything new. */
  pg_outbox_legacy_flush (session);
  pg_rooms_on_connected (session);
}

static gboolean
on_retry (gpointer data)
{
  PgSession *session = data;
  session->retry_id = 0;
  login (session);
  return G_SOURCE_REMOVE;
}

static void
on_disconnected (gpointer owner, PgAccountFailure failure, const char *reason)
{
  PgSession *session = owner;
  if (session->logging_out)
    {
      /* The clean stop's own logout: the session ends with the process. */
      session->logging_out = FALSE;
      pg_session_nick_abort (session);
      g_clear_pointer (&session->account, pg_account_free);
      pg_outbox_legacy_reset (session);
      set_state (session, PG_SESSION_OFFLINE);
      return;
    }
  /* A declined certificate says more than the protocol's TLS error. */
  g_autofree char *refusal = g_steal_pointer (&session->question_refusal);
  const char *refusal_advice = session->question_advice;
  if (refusal != NULL)
    {
      reason = refusal;
      failure = PG_ACCOUNT_FAILURE_OTHER; /* asking again at once is no use */
    }
  pg_questions_withdraw_all (session, TRUE);
  pg_session_nick_abort (session);
  pg_contacts_all_offline (session);
  g_clear_pointer (&session->account, pg_account_free);
  pg_outbox_legacy_reset (session);
  g_autofree char *room_reason = g_strdup_printf ("the legacy login failed: %s", reason);
  pg_rooms_drop_all (session,
                     failure == PG_ACCOUNT_FAILURE_NETWORK ? PG_ERR_REMOTE_SERVER_TIMEOUT
                     : failure == PG_ACCOUNT_FAILURE_AUTH  ? PG_ERR_NOT_AUTHORIZED
                                                           : PG_ERR_SERVICE_UNAVAILABLE,
                     room_reason, PG_MUC_STATUS_TECHNICAL);
  if (session->state == PG_SESSION_CONNECTING)
    session->transport->stats.logins_failed++;

  if (failure == PG_ACCOUNT_FAILURE_INTERNAL)
    {
      /* The gateway's own fault: no backoff, and the user hears it once. */
      session->transport->stats.reconnects++;
      g_message ("%s: legacy login lost (%s); reconnecting", session->bare_jid, reason);
      if (session->state == PG_SESSION_ONLINE)
        {
          g_autofree char *text = g_strdup_printf (
              pg_i18n_translate (
                  session->transport->i18n, session->lang,
                  N_ ("The connection to %s was lost because of an internal error; reconnecting.")),
              session->transport->legacy_name);
          send_transport_presence (session, PG_SHOW_XA, text);
          send_headline (session, N_ ("Connection to the legacy network lost"), reason,
                         N_ ("The gateway reconnects by itself within seconds."));
        }
      set_state (session, PG_SESSION_RECONNECT_WAIT);
      session->retry_id = g_timeout_add (PG_SESSION_INTERNAL_RETRY_MS, on_retry, session);
      return;
    }
  if (failure == PG_ACCOUNT_FAILURE_NETWORK)
    {
      session->transport->stats.reconnects++;
      /* Jitter spreads the reconnections of many users after an outage. */
      guint delay_ms
          = session->backoff_s * 1000 + g_random_int_range (0, (gint32)(session->backoff_s * 250 + 1));
      g_message ("%s: legacy login lost (%s); reconnecting in %.1f s", session->bare_jid, reason,
                 delay_ms / 1000.0);
      if (!session->ever_connected && session->backoff_s == PG_SESSION_BACKOFF_MIN_S)
        report_failure (session, PG_ERR_REMOTE_SERVER_TIMEOUT, reason,
                        N_ ("The legacy network cannot be reached; the gateway keeps trying."));
      else
        send_transport_presence (session, PG_SHOW_XA, reason);
      /* Once per outage (not per failed retry): why the contacts went away. */
      if (session->state == PG_SESSION_ONLINE)
        send_headline (session, N_ ("Connection to the legacy network lost"), reason,
                       N_ ("The legacy network cannot be reached; the gateway keeps trying."));
      set_state (session, PG_SESSION_RECONNECT_WAIT);
      session->retry_id = g_timeout_add (delay_ms, on_retry, session);
      session->backoff_s = MIN (session->backoff_s * 2, PG_SESSION_BACKOFF_MAX_S);
      return;
    }

  g_message ("%s: legacy login refused (%s); not retrying", session->bare_jid, reason);
  set_state (session, PG_SESSION_OFFLINE);
  session->login_refused = TRUE;
  pg_outbox_legacy_bounce_all (session, "the legacy login was refused");
  if (failure == PG_ACCOUNT_FAILURE_CONFLICT)
    report_failure (session, PG_ERR_CONFLICT, reason,
                    N_ ("Another user of this gateway is logged in with the same legacy account."));
  else if (failure == PG_ACCOUNT_FAILURE_QUARANTINED)
    {
      session->transport->stats.quarantined++;
      report_failure (session, PG_ERR_SERVICE_UNAVAILABLE, reason,
                      N_ ("Your legacy login made the gateway fail several times and is set aside. "
                          "Tell the gateway's operator."));
    }
  else if (refusal != NULL)
    report_failure (session, PG_ERR_NOT_AUTHORIZED, reason, refusal_advice);
  else
    report_failure (session,
                    failure == PG_ACCOUNT_FAILURE_AUTH ? PG_ERR_NOT_AUTHORIZED : PG_ERR_UNDEFINED_CONDITION,
                    reason,
                    N_ ("Check your username and password, then register again with the gateway "
                        "(service discovery → register) to update them."));
}

/* One round trip confirms everything sent before it: one-to-one messages
 * and room messages alike. */
static void
on_sent_confirmed (gpointer owner, guint64 serial)
{
  pg_outbox_legacy_on_confirmed (owner, serial);
  pg_rooms_on_confirmed (owner, serial);
}

static const PgAccountEvents account_events = {
  .connected = on_connected,
  .disconnected = on_disconnected,
  .contact_status = pg_contacts_on_status,
  .contact_listed = pg_contacts_on_listed,
  .contact_unlisted = pg_contacts_on_unlisted,
  .message = pg_chat_on_message,
  .chat_state = pg_chat_on_state,
  .authorization_requested = pg_contacts_on_authorization,
  .sent_confirmed = on_sent_confirmed,
  .refused = pg_outbox_legacy_on_refused,
  .chat = on_chat,
  .send_failed = pg_outbox_legacy_on_send_failed,
  .sent_processed = pg_outbox_legacy_on_processed,
  .question = pg_questions_on_question,
  .question_closed = pg_questions_on_closed,
  .own_message = pg_chat_on_own_message,
};

static void
login (PgSession *session)
{
  PgTransport *transport = session->transport;
  g_autoptr (GError) error = NULL;
  g_autoptr (PgStoreUser) user = pg_store_get_user (transport->store, session->bare_jid, &error);
  if (user == NULL)
    {
      g_warning ("%s: no registration to log in with%s%s", session->bare_jid, error ? ": " : "",
                 error ? error->message : "");
      return;
    }
  char *password = pg_store_dup_password (transport->store, session->bare_jid, &error);
  if (error != NULL)
    {
      g_warning ("%s: cannot open the stored password: %s", session->bare_jid, error->message);
      return;
    }
  g_autofree char *refusal = NULL;
  g_autofree char *username = pg_user_options_dup_legacy_username (transport, session->bare_jid, NULL,
                                                                   user->username, NULL, &refusal);
  if (username == NULL)
    {
      /* The configuration changed since the name was registered. */
      g_warning ("%s: no legacy login: %s", session->bare_jid, refusal);
      pg_seal_free_secret (password);
      return;
    }
  /* [legacy-settings] with the user's own options over them (README
   * "Account options"). */
  g_auto (GStrv) setting_keys = NULL;
  GStrv setting_values = NULL;
  pg_user_options_dup_login_settings (transport, session->bare_jid, NULL, &setting_keys, &setting_values);
  session->account = pg_account_new (transport->backend, transport->config->protocol, username, password,
                                     (const char *const *)setting_keys, (const char *const *)setting_values,
                                     &account_events, session);
  pg_user_options_free_values (setting_values);
  pg_seal_free_secret (password);
  if (session->contacts != NULL)
    {
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, session->contacts);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        pg_account_restore_contact (session->account, ((PgContact *)value)->name,
                                    ((PgContact *)value)->alias);
    }
  set_state (session, PG_SESSION_CONNECTING);
  g_message ("%s: legacy login starting", session->bare_jid);
  pg_account_connect (session->account);
}

/* The last resource left: contacts and the transport go unavailable, the
 * login closes, the session ends. */
static void
end_session (PgSession *session, gboolean tell_user)
{
  if (tell_user)
    {
      pg_rooms_drop_all (session, PG_ERR_SERVICE_UNAVAILABLE, NULL, PG_MUC_STATUS_TECHNICAL);
      pg_contacts_all_offline (session);
      send_transport_presence (session, PG_SHOW_OFFLINE, NULL);
    }
  g_message ("%s: session closed (was %s)", session->bare_jid, state_name (session->state));
  /* The login's rooms are left with it: none to join again after a restart. */
  g_autoptr (GError) error = NULL;
  if (!pg_store_delete_rooms (session->transport->store, session->bare_jid, &error))
    g_warning ("%s", error->message);
  g_hash_table_remove (session->sessions->by_jid, session->bare_jid);
}

/* The user has no resource left: the login stays when they chose so (no
 * PART, no QUIT), else the session ends. */
static void
hold_or_end (PgSession *session, gboolean tell_user)
{
  if (!pg_sessions_stays_connected (session->transport, session->bare_jid))
    {
      end_session (session, tell_user);
      return;
    }
  if (!session->held)
    g_message ("%s: legacy login kept while the user is offline (was %s)", session->bare_jid,
               state_name (session->state));
  session->held = TRUE;
  pg_rooms_remember_all (session);
}

static gboolean
logout_after_grace (gpointer data)
{
  PgSession *session = data;
  session->logout_id = 0;
  hold_or_end (session, TRUE);
  return G_SOURCE_REMOVE;
}

/* ---- routes ---- */

static PgRouteResult
on_available (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgTransport *transport = sessions->transport;
  PgSession *session = pg_sessions_lookup (sessions, request->from_bare);
  if (session == NULL)
    {
      if (!pg_transport_is_registered (transport, request->from_bare))
        return PG_HANDLED; /* XEP-0100: presence of unregistered users means nothing */
      session = session_new (sessions, request->from_bare);
    }

  const char *resource_name = pg_jid_get_resource (request->from);
  Resource *resource = find_resource (session, resource_name ? resource_name : "");
  if (resource == NULL)
    {
      resource = g_new0 (Resource, 1);
      resource->name = g_strdup (resource_name ? resource_name : "");
      session->resources = g_slist_append (session->resources, resource);
    }
  g_auto (PgUserPresence) presence = { 0 };
  pg_presence_read (request->stanza, &presence);
  resource->show = presence.show;
  resource->priority = presence.priority;
  resource->confirmed = TRUE;
  g_clear_handle_id (&session->logout_id, g_source_remove);
  if (session->held)
    g_message ("%s: the user is back to a login kept for them", session->bare_jid);
  session->held = FALSE;
  g_free (resource->status);
  resource->status = g_steal_pointer (&presence.status);
  resource->via_domain |= pg_jid_get_node (request->to) == NULL;
  if (request->lang != NULL)
    session->lang = pg_i18n_get_language (transport->i18n, request->lang);

  if (session->state == PG_SESSION_OFFLINE && !session->login_refused)
    login (session);
  else
    apply_status (session);
  return PG_HANDLED;
}

PgSession *
pg_sessions_ensure_resource (PgSessions *sessions, const PgRouteRequest *request)
{
  PgSession *session = pg_sessions_lookup (sessions, request->from_bare);
  const char *resource_name = pg_jid_get_resource (request->from);
  if (session == NULL || find_resource (session, resource_name ? resource_name : "") == NULL)
    on_available (request, sessions);
  return pg_sessions_lookup (sessions, request->from_bare);
}

/* Whether @resource is in (or joining) one of the session's rooms. */
static gboolean
in_a_room (PgSession *session, const char *resource)
{
  if (session->rooms == NULL)
    return FALSE;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, session->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgRoom *room = value;
      if (pg_room_find_member (room, resource) != NULL)
        return TRUE;
      for (guint i = 0; i < room->waiting->len; i++)
        if (strcmp (((PgRoomMember *)g_ptr_array_index (room->waiting, i))->resource, resource) == 0)
          return TRUE;
    }
  return FALSE;
}

static void
drop_resource (PgSession *session, Resource *resource)
{
  session->resources = g_slist_remove (session->resources, resource);
  resource_free (resource);
  if (session->resources != NULL)
    apply_status (session);
  else if (session->logout_id == 0)
    session->logout_id = g_timeout_add (PG_SESSION_LOGOUT_GRACE_MS, logout_after_grace, session);
}

void
pg_sessions_left_room (PgSession *session, const char *resource_name)
{
  Resource *resource = find_resource (session, resource_name);
  /* A resource that logged in by joining rooms logs out with the last one. */
  if (resource != NULL && !resource->via_domain && !in_a_room (session, resource_name))
    drop_resource (session, resource);
}

static PgRouteResult
on_unavailable (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgSession *session = pg_sessions_lookup (sessions, request->from_bare);
  const char *resource_name = pg_jid_get_resource (request->from);
  /* Prosody answers our subscribe with an unavailable from the bare JID:
   * no resource logged out. */
  if (session == NULL || resource_name == NULL)
    return PG_HANDLED;
  Resource *resource = find_resource (session, resource_name);
  if (resource == NULL)
    return PG_HANDLED;
  /* Directed unavailable to one contact is not a logout (XEP-0100 §4.5.2),
   * unless that is how this resource logged in. */
  if (pg_jid_get_node (request->to) != NULL && resource->via_domain
      && g_strcmp0 (request->type, "error") != 0)
    return PG_HANDLED;
  drop_resource (session, resource);
  return PG_HANDLED;
}

static PgRouteResult
on_probe_transport (const PgRouteRequest *request, gpointer user_data)
{
  PgSessions *sessions = user_data;
  PgSession *session = pg_sessions_lookup (sessions, request->from_bare);
  if (session == NULL || session->state != PG_SESSION_ONLINE)
    return PG_PASS;
  const Resource *best = best_resource (session);
  send_transport_presence (session, best != NULL ? best->show : PG_SHOW_AVAILABLE, NULL);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_PRESENCE, "", NULL, NULL, PG_TARGET_ANY, on_available },
  { PG_KIND_PRESENCE, "unavailable", NULL, NULL, PG_TARGET_ANY, on_unavailable },
  { PG_KIND_PRESENCE, "error", NULL, NULL, PG_TARGET_ANY, on_unavailable },
  { PG_KIND_PRESENCE, "probe", NULL, NULL, PG_TARGET_DOMAIN, on_probe_transport },
};

void
pg_sessions_register (PgTransport *transport)
{
  PgSessions *sessions = g_new0 (PgSessions, 1);
  sessions->transport = transport;
  sessions->by_jid = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)session_free);
  transport->sessions = sessions;
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), sessions);
  pg_contacts_add_routes (transport, sessions);
  pg_chat_add_routes (transport, sessions);
  pg_questions_add_routes (transport, sessions);
}

void
pg_sessions_free (PgSessions *sessions)
{
  if (sessions == NULL)
    return;
  g_clear_handle_id (&sessions->recheck_id, g_source_remove);
  g_hash_table_unref (sessions->by_jid);
  g_free (sessions);
}

/* ---- operations for other modules ---- */

/* The users who have not said they are still there since the link came
 * back lose those resources; a session left with none ends. */
static gboolean
recheck_resources (gpointer data)
{
  PgSessions *sessions = data;
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  guint held = 0;

  sessions->recheck_id = 0;
  g_hash_table_iter_init (&iter, sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgSession *session = value;
      for (GSList *l = session->resources, *next; l != NULL; l = next)
        {
          next = l->next;
          if (!((Resource *)l->data)->confirmed)
            {
              resource_free (l->data);
              session->resources = g_slist_delete_link (session->resources, l);
            }
        }
      if (session->resources == NULL)
        g_ptr_array_add (gone, session);
      else
        apply_status (session);
    }
  for (guint i = 0; i < gone->len; i++)
    {
      PgSession *session = g_ptr_array_index (gone, i);
      held += pg_sessions_stays_connected (sessions->transport, session->bare_jid);
      hold_or_end (session, TRUE);
    }
  if (held > 0)
    g_message ("%u legacy logins kept for users who are offline", held);
  if (gone->len > held)
    g_message ("%u sessions ended: their users were not back %u s after the link to the XMPP server",
               gone->len - held, sessions->transport->config->session_grace_s);
  return G_SOURCE_REMOVE;
}

void
pg_sessions_link_down (PgTransport *transport)
{
  PgSessions *sessions = transport->sessions;
  guint kept = 0;
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&sessions->recheck_id, g_source_remove);
  g_hash_table_iter_init (&iter, sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgSession *session = value;
      if (session->logout_id != 0)
        kept++;
      g_clear_handle_id (&session->logout_id, g_source_remove);
    }
  if (g_hash_table_size (sessions->by_jid) > 0)
    g_message ("link to the XMPP server lost: %u legacy sessions wait for their users (%u had just left)",
               g_hash_table_size (sessions->by_jid), kept);
}

void
pg_sessions_probe_all (PgTransport *transport)
{
  PgSessions *sessions = transport->sessions;
  g_autoptr (GError) error = NULL;
  GHashTableIter iter;
  gpointer value;

  /* Sessions that outlived the link: each resource must say again that it
   * is there (the probe's answers, or a new login) within the grace. */
  g_hash_table_iter_init (&iter, sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    for (GSList *l = ((PgSession *)value)->resources; l != NULL; l = l->next)
      ((Resource *)l->data)->confirmed = FALSE;
  g_clear_handle_id (&sessions->recheck_id, g_source_remove);
  if (g_hash_table_size (sessions->by_jid) > 0)
    sessions->recheck_id
        = g_timeout_add_seconds (transport->config->session_grace_s, recheck_resources, sessions);
  g_autoptr (GPtrArray) users = pg_store_list_users (transport->store, &error);
  if (users == NULL)
    {
      g_warning ("cannot list users to probe: %s", error->message);
      return;
    }
  gint64 started = g_get_monotonic_time ();
  for (guint i = 0; i < users->len; i++)
    pg_transport_send_presence (transport, g_ptr_array_index (users, i), "probe");
  g_message ("probed %u registered users in %.1f ms", users->len,
             (g_get_monotonic_time () - started) / 1000.0);
  /* Logins that stay connected come back without waiting for their users
   * (after a restart, their rooms too: pg_rooms_on_connected()). */
  guint opened = 0;
  for (guint i = 0; i < users->len; i++)
    {
      const char *bare_jid = g_ptr_array_index (users, i);
      if (pg_sessions_lookup (sessions, bare_jid) != NULL
          || !pg_sessions_stays_connected (transport, bare_jid))
        continue;
      PgSession *session = session_new (sessions, bare_jid);
      session->held = TRUE;
      login (session);
      opened++;
    }
  if (opened > 0)
    g_message ("opened %u legacy logins that stay connected while their users are offline", opened);
}

void
pg_sessions_stop_all (PgTransport *transport)
{
  PgSessions *sessions = transport->sessions;
  guint n = g_hash_table_size (sessions->by_jid);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgSession *session = value;
      pg_rooms_drop_all (session, PG_ERR_SERVICE_UNAVAILABLE, "the gateway is shutting down",
                         PG_MUC_STATUS_SHUTDOWN);
      pg_contacts_all_offline (session);
      send_transport_presence (session, PG_SHOW_OFFLINE, NULL);
    }
  g_hash_table_remove_all (sessions->by_jid);
  if (n > 0)
    g_message ("closed %u sessions", n);
}

static guint
count_logging_out (gpointer data)
{
  PgSessions *sessions = data;
  guint n = 0;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    n += ((PgSession *)value)->logging_out;
  return n;
}

void
pg_sessions_logout_all (PgTransport *transport, guint timeout_ms)
{
  PgSessions *sessions = transport->sessions;
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  /* The confirmations of what the logins were handed go first, so that the
   * server answers them before it closes. */
  pg_sessions_confirm_sent (transport);
  g_hash_table_iter_init (&iter, sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgSession *session = value;
      if (session->account != NULL && session->state == PG_SESSION_ONLINE
          && pg_account_logout (session->account, "the gateway is restarting"))
        {
          session->logging_out = TRUE;
          n++;
        }
    }
  if (n == 0)
    return;
  gint64 ms;
  guint left = pg_transport_wait_stop (transport, timeout_ms, count_logging_out, sessions, &ms);
  g_message ("stopping: %u of %u legacy logins ended by their servers in %" G_GINT64_FORMAT " ms", n - left,
             n, ms);
}

guint
pg_sessions_confirm_sent (PgTransport *transport)
{
  guint waiting = 0;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, transport->sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    waiting += pg_outbox_legacy_confirm_now (value);
  return waiting;
}

void
pg_sessions_close (PgTransport *transport, const char *bare_jid)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  if (session == NULL)
    return;
  pg_rooms_drop_all (session, PG_ERR_REGISTRATION_REQUIRED, "you unregistered from the gateway",
                     PG_MUC_STATUS_SHUTDOWN);
  end_session (session, FALSE);
}

void
pg_sessions_privilege_granted (PgTransport *transport)
{
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, transport->sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((PgSession *)value)->state == PG_SESSION_ONLINE)
      pg_roster_sync_start (value);
}

void
pg_sessions_say_goodbye (PgTransport *transport, const char *bare_jid, const GPtrArray *contacts)
{
  /* With the roster permission, the contacts leave the roster instead
   * (removing an item ends both subscriptions, RFC 6121 §2.5). */
  if (pg_roster_sync_goodbye (transport, bare_jid, contacts))
    return;
  for (guint i = 0; contacts != NULL && i < contacts->len; i++)
    {
      PgStoreContact *contact = g_ptr_array_index (contacts, i);
      g_autofree char *jid = pg_jid_for_legacy_name (contact->name, transport->config->component_jid, NULL);
      if (jid == NULL)
        continue;
      static const char *const types[] = { "unavailable", "unsubscribe", "unsubscribed" };
      for (guint t = 0; t < G_N_ELEMENTS (types); t++)
        {
          g_autoptr (PgStanza) presence = pg_stanza_new ("presence", jid, bare_jid, types[t], NULL);
          pg_transport_send (transport, presence);
        }
    }
}

void
pg_sessions_pause (PgTransport *transport, const char *bare_jid)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  if (session == NULL)
    return;
  pg_questions_withdraw_all (session, TRUE);
  pg_session_nick_abort (session);
  pg_contacts_all_offline (session);
  pg_rooms_drop_all (session, PG_ERR_SERVICE_UNAVAILABLE, NULL, PG_MUC_STATUS_TECHNICAL);
  g_clear_pointer (&session->account, pg_account_free);
  pg_outbox_legacy_reset (session);
  g_clear_handle_id (&session->retry_id, g_source_remove);
  set_state (session, PG_SESSION_OFFLINE);
  session->login_refused = TRUE;
}

void
pg_sessions_credentials_changed (PgTransport *transport, const char *bare_jid)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  if (session == NULL)
    return;
  pg_sessions_pause (transport, bare_jid);
  session->backoff_s = PG_SESSION_BACKOFF_MIN_S;
  session->ever_connected = FALSE;
  session->login_refused = FALSE;
  login (session);
}

PgSessionCounts
pg_sessions_count (PgTransport *transport)
{
  PgSessionCounts counts = { 0 };
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, transport->sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      counts.total++;
      counts.online += ((PgSession *)value)->state == PG_SESSION_ONLINE;
      counts.held += ((PgSession *)value)->held;
    }
  return counts;
}

guint
pg_sessions_get_nick_len (PgTransport *transport)
{
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, transport->sessions->by_jid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PgSession *session = value;
      guint limit = session->state == PG_SESSION_ONLINE ? pg_account_get_nick_len (session->account) : 0;
      if (limit > 0)
        return limit;
    }
  return 0;
}

/* ---- for the session commands (legacy/session-commands.c) ---- */

static int
compare_jids (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
pg_sessions_dup_jids (PgTransport *transport)
{
  GPtrArray *jids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, transport->sessions->by_jid);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (jids, g_strdup (key));
  g_ptr_array_sort (jids, compare_jids);
  return jids;
}

const char *
pg_sessions_get_state (PgTransport *transport, const char *bare_jid)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  return session != NULL ? state_name (session->state) : NULL;
}

gboolean
pg_sessions_is_held (PgTransport *transport, const char *bare_jid)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  return session != NULL && session->held;
}

guint
pg_sessions_get_worker (PgTransport *transport, const char *bare_jid)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  return session != NULL ? pg_backend_get_account_worker (session->account) : 0;
}

gboolean
pg_sessions_end (PgTransport *transport, const char *bare_jid, const char *status)
{
  PgSession *session = pg_sessions_lookup (transport->sessions, bare_jid);
  if (session == NULL)
    return FALSE;
  pg_rooms_drop_all (session, PG_ERR_SERVICE_UNAVAILABLE,
                     pg_i18n_translate (transport->i18n, session->lang, status), PG_MUC_STATUS_SHUTDOWN);
  pg_contacts_all_offline (session);
  send_transport_presence (session, PG_SHOW_OFFLINE,
                           pg_i18n_translate (transport->i18n, session->lang, status));
  end_session (session, FALSE);
  return TRUE;
}

gboolean
pg_sessions_reconnect (PgTransport *transport, const char *bare_jid)
{
  if (pg_sessions_lookup (transport->sessions, bare_jid) == NULL)
    return FALSE;
  g_message ("%s: legacy login restarted on request", bare_jid);
  pg_sessions_credentials_changed (transport, bare_jid);
  return TRUE;
}
