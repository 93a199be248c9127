/* legacy/session-commands.c — ad-hoc commands about sessions (XEP-0133
 * §4.5, 4.15, 4.20, 4.23) and the user's reconnect command. */
#define G_LOG_DOMAIN "pg-session-commands"
#include "build-config.h"

#include "legacy/session-commands.h"

#include "legacy/session-questions.h"
#include "legacy/session.h"
#include "transport/adhoc.h"
#include "transport/i18n.h"

/* ---- admin: online users ---- */

static void
online_users_num (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  PgSessionCounts counts = pg_sessions_count (transport);
  /* Logins kept while their users are offline are not online users. */
  g_autofree char *total = g_strdup_printf ("%u", counts.total - counts.held);
  xmlNode *form = pg_adhoc_call_add_form (call, "result", NULL, NULL, PG_NS_ADMIN);
  pg_form_add_field (form, "onlineusersnum", NULL,
                     pg_adhoc_call_translate (call, N_ ("The number of online users")), FALSE, total);
  g_message ("admin %s read the number of online users (%u)", pg_adhoc_call_get_requester (call),
             counts.total - counts.held);
}

static void
online_users_list (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  g_autoptr (GPtrArray) jids = pg_sessions_dup_jids (transport);
  xmlNode *form = pg_adhoc_call_add_form (call, "result", NULL, NULL, PG_NS_ADMIN);
  xmlNode *users
      = pg_form_add_field (form, "onlineuserjids", "jid-multi",
                           pg_adhoc_call_translate (call, N_ ("The list of all online users")), FALSE, NULL);
  xmlNode *states = pg_form_add_field (
      form, "legacystates", "text-multi",
      pg_adhoc_call_translate (call, N_ ("Legacy login of each online user")), FALSE, NULL);
  guint listed = MIN (jids->len, PG_ADHOC_MAX_LISTED);
  for (guint i = 0; i < listed; i++)
    {
      const char *jid = g_ptr_array_index (jids, i);
      guint worker = pg_sessions_get_worker (transport, jid);
      g_autofree char *where = worker > 0 ? g_strdup_printf (" (worker %u)", worker) : g_strdup ("");
      g_autofree char *line
          = g_strdup_printf ("%s: %s%s%s", jid, pg_sessions_get_state (transport, jid), where,
                             pg_sessions_is_held (transport, jid)
                                 ? pg_adhoc_call_translate (call, N_ (", kept while the user is offline"))
                                 : "");
      pg_stanza_add_text_child (users, "value", NULL, jid);
      pg_stanza_add_text_child (states, "value", NULL, line);
    }
  if (listed < jids->len)
    {
      g_autofree char *note = g_strdup_printf (
          pg_adhoc_call_translate (call, N_ ("Only the first %u of %u online users are listed.")), listed,
          jids->len);
      pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_WARN, note);
    }
  g_message ("admin %s read the list of online users (%u)", pg_adhoc_call_get_requester (call), jids->len);
}

/* ---- admin: announce ---- */

static void
announce (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  if (pg_adhoc_call_get_stage (call) == 0)
    {
      xmlNode *form = pg_adhoc_call_add_form (
          call, "form", pg_adhoc_call_translate (call, N_ ("Making an Announcement")),
          pg_adhoc_call_translate (call, N_ ("Fill out this form to make an announcement "
                                             "to all online users of this gateway.")),
          PG_NS_ADMIN);
      pg_form_add_field (form, "subject", "text-single", pg_adhoc_call_translate (call, N_ ("Subject")),
                         FALSE, NULL);
      pg_form_add_field (form, "announcement", "text-multi",
                         pg_adhoc_call_translate (call, N_ ("Announcement")), TRUE, NULL);
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      return;
    }
  const PgForm *submitted = pg_adhoc_call_get_form (call);
  g_autofree char *body = submitted != NULL ? pg_form_dup_text (submitted, "announcement") : NULL;
  if (body == NULL || *g_strstrip (body) == '\0')
    {
      pg_adhoc_call_fail (call, PG_ERR_BAD_REQUEST, "bad-payload", N_ ("The announcement is empty."));
      return;
    }
  const char *subject = pg_form_get_value (submitted, "subject");
  g_autoptr (GPtrArray) jids = pg_sessions_dup_jids (transport);
  for (guint i = 0; i < jids->len; i++)
    {
      g_autoptr (PgStanza) message = pg_stanza_new ("message", transport->config->component_jid,
                                                    g_ptr_array_index (jids, i), "headline", NULL);
      if (subject != NULL && *subject != '\0')
        pg_stanza_add_text_child (message, "subject", NULL, subject);
      pg_stanza_add_text_child (message, "body", NULL, body);
      pg_transport_send (transport, message);
    }
  g_message ("admin %s sent an announcement to %u online users", pg_adhoc_call_get_requester (call),
             jids->len);
  g_autofree char *note = g_strdup_printf (
      pg_adhoc_call_translate (call, N_ ("The announcement was sent to %u online users.")), jids->len);
  pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, note);
}

/* ---- admin: end a user's session ---- */

static void
end_user_session (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  if (pg_adhoc_call_get_stage (call) == 0)
    {
      xmlNode *form = pg_adhoc_call_add_form (
          call, "form", pg_adhoc_call_translate (call, N_ ("Ending a User Session")),
          pg_adhoc_call_translate (call, N_ ("Fill out this form to end a user's session. Their legacy login "
                                             "closes; their next available presence logs in again.")),
          PG_NS_ADMIN);
      pg_form_add_field (form, "accountjids", "jid-multi",
                         pg_adhoc_call_translate (call, N_ ("The Jabber ID(s) for which to end sessions")),
                         TRUE, NULL);
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      return;
    }
  /* One legacy login serves all of a user's resources: a full JID ends it
   * too (XEP-0133 §4.5 ends only that resource's session on a server). */
  g_autoptr (GPtrArray) jids = pg_adhoc_call_dup_jids (call, "accountjids");
  if (jids == NULL)
    return;
  g_autoptr (GString) ended = g_string_new (NULL);
  g_autoptr (GString) idle = g_string_new (NULL);
  for (guint i = 0; i < jids->len; i++)
    {
      const char *jid = g_ptr_array_index (jids, i);
      gboolean had = pg_sessions_end (transport, jid, N_ ("Your session was ended by an administrator."));
      if (had)
        g_message ("admin %s ended the session of %s", pg_adhoc_call_get_requester (call), jid);
      g_string_append_printf (had ? ended : idle, "%s%s", (had ? ended : idle)->len > 0 ? ", " : "", jid);
    }
  if (ended->len > 0)
    {
      g_autofree char *note
          = g_strdup_printf (pg_adhoc_call_translate (call, N_ ("Sessions ended: %s")), ended->str);
      pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, note);
    }
  if (idle->len > 0)
    {
      g_autofree char *note
          = g_strdup_printf (pg_adhoc_call_translate (call, N_ ("No session: %s")), idle->str);
      pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_WARN, note);
    }
}

/* ---- user: reconnect ---- */

static void
reconnect (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  if (!pg_sessions_reconnect (transport, pg_adhoc_call_get_requester (call)))
    {
      /* XEP-0050 §3.6: completed, with an error note. */
      pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_ERROR,
                              pg_adhoc_call_translate (call, N_ ("You are not logged in to the gateway: "
                                                                 "go online to log in.")));
      return;
    }
  g_autofree char *note = g_strdup_printf (pg_adhoc_call_translate (call, N_ ("Logging in to %s again now.")),
                                           transport->legacy_name);
  pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, note);
}

static const PgAdhocCommand commands[] = {
  {
      .node = PG_NODE_RECONNECT,
      .name = N_ ("Reconnect to the legacy network now"),
      .access = PG_ADHOC_ACCESS_REGISTERED,
      .handler = reconnect,
  },
  {
      .node = PG_ADMIN_NODE ("get-online-users-num"),
      .name = N_ ("Get Number of Online Users"),
      .access = PG_ADHOC_ACCESS_ADMIN,
      .handler = online_users_num,
  },
  {
      .node = PG_ADMIN_NODE ("get-online-users-list"),
      .name = N_ ("Get List of Online Users"),
      .access = PG_ADHOC_ACCESS_ADMIN,
      .handler = online_users_list,
  },
  {
      .node = PG_ADMIN_NODE ("announce"),
      .name = N_ ("Send Announcement to Online Users"),
      .access = PG_ADHOC_ACCESS_ADMIN,
      .handler = announce,
  },
  {
      .node = PG_ADMIN_NODE ("end-user-session"),
      .name = N_ ("End User Session"),
      .access = PG_ADHOC_ACCESS_ADMIN,
      .handler = end_user_session,
  },
};

void
pg_session_commands_register (PgTransport *transport)
{
  pg_adhoc_add_commands (transport, commands, G_N_ELEMENTS (commands));
  pg_session_questions_register (transport);
}
