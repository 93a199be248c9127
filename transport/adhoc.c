/* transport/adhoc.c — the XEP-0050 framework: the command table, sessions
 * and the <command/> protocol (disco: adhoc-disco.c; the handler API:
 * adhoc-call.c). */
#define G_LOG_DOMAIN "pg-adhoc"
#include "build-config.h"

#include "transport/adhoc-private.h"

#include "transport/i18n.h"

#include <string.h>

/* One executing stage as answered, so that 'prev' can send it again. */
typedef struct
{
  PgStanza *command; /* the <command/> element of the answer */
  guint allowed;
  PgAdhocAction execute;
} Stage;

typedef AdhocSession Session;

static const struct
{
  const char *name;
  PgAdhocAction action;
} action_names[] = {
  { "execute", PG_ADHOC_EXECUTE },   { "next", PG_ADHOC_NEXT },     { "prev", PG_ADHOC_PREV },
  { "complete", PG_ADHOC_COMPLETE }, { "cancel", PG_ADHOC_CANCEL },
};

static const char *
action_to_string (PgAdhocAction action)
{
  for (guint i = 0; i < G_N_ELEMENTS (action_names); i++)
    if (action_names[i].action == action)
      return action_names[i].name;
  return "execute";
}

static void
stage_free (Stage *stage)
{
  pg_stanza_free (stage->command);
  g_free (stage);
}

static void
session_free (Session *session)
{
  /* The object goes first: what it does when its session ends may look at
   * nothing of the session. */
  if (session->object_destroy != NULL)
    session->object_destroy (session->object);
  g_free (session->id);
  g_free (session->requester);
  g_free (session->requester_bare);
  g_ptr_array_unref (session->stages);
  g_hash_table_unref (session->data);
  g_free (session);
}

static GHashTable *
data_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* The one place command texts get translated: into @lang, the xml:lang of
 * the request. */
const char *
pg_adhoc_translate (PgAdhoc *adhoc, const char *lang, const char *msgid)
{
  return pg_i18n_translate (adhoc->transport->i18n, lang, msgid);
}

/* ---- access ---- */

/* Whether @bare_jid may run @command; else the error condition in *@refusal. */
gboolean
pg_adhoc_may_run (PgAdhoc *adhoc, const PgAdhocCommand *command, const char *bare_jid,
                  PgErrorCondition *refusal)
{
  PgTransport *transport = adhoc->transport;
  if (command->access == PG_ADHOC_ACCESS_ADMIN)
    {
      *refusal = PG_ERR_FORBIDDEN;
      return pg_config_is_admin (transport->config, bare_jid);
    }
  if (command->access == PG_ADHOC_ACCESS_UNREGISTERED)
    {
      *refusal = PG_ERR_NOT_ALLOWED;
      g_autoptr (PgJid) jid = pg_jid_parse (bare_jid, NULL);
      return jid != NULL && pg_config_domain_allowed (transport->config, pg_jid_get_domain (jid))
             && !pg_transport_is_registered (transport, bare_jid);
    }
  *refusal = PG_ERR_REGISTRATION_REQUIRED;
  return pg_transport_is_registered (transport, bare_jid);
}

const PgAdhocCommand *
pg_adhoc_lookup_command (PgAdhoc *adhoc, const char *node)
{
  for (guint i = 0; node != NULL && i < adhoc->commands->len; i++)
    {
      const PgAdhocCommand *command = g_ptr_array_index (adhoc->commands, i);
      if (strcmp (command->node, node) == 0)
        return command;
    }
  return NULL;
}

/* ---- replies ---- */

void
pg_adhoc_send (PgAdhoc *adhoc, const xmlNode *stanza)
{
  pg_router_send (adhoc->transport->router, stanza);
}

/* The iq result for @request, in the language its texts will have. */
PgStanza *
pg_adhoc_new_result (PgAdhoc *adhoc, const PgRouteRequest *request)
{
  PgStanza *reply = pg_stanza_new_iq_result (request->stanza);
  pg_stanza_set_attr (reply, "xml:lang", pg_i18n_get_language (adhoc->transport->i18n, request->lang));
  return reply;
}

/* An iq error with @condition and, when @specific is set, the XEP-0050
 * condition element of that name (§4.4). @text is an English msgid. */
void
pg_adhoc_reply_error (PgAdhoc *adhoc, const PgRouteRequest *request, PgErrorCondition condition,
                      PgErrorType type, const char *specific, const char *text)
{
  g_autoptr (PgStanza) reply = pg_stanza_error_reply (request->stanza, condition, type, text);
  pg_i18n_localize_error (adhoc->transport->i18n, reply, request->lang);
  if (specific != NULL)
    pg_stanza_add_child (pg_stanza_get_error (reply), specific, PG_NS_COMMANDS);
  pg_adhoc_send (adhoc, reply);
}

static xmlNode *
add_answer (PgStanza *reply, const char *node, const char *sessionid, const char *status)
{
  xmlNode *command = pg_stanza_add_child (reply, "command", PG_NS_COMMANDS);
  pg_stanza_set_attr (command, "node", node);
  pg_stanza_set_attr (command, "sessionid", sessionid);
  pg_stanza_set_attr (command, "status", status);
  return command;
}

/* <actions execute='…'><prev/>…</actions> as the first child (§4.2). */
void
pg_adhoc_add_actions (xmlNode *command, guint allowed, PgAdhocAction execute)
{
  xmlNode *actions = pg_stanza_add_child (command, "actions", NULL);
  pg_stanza_set_attr (actions, "execute", action_to_string (execute));
  static const PgAdhocAction order[] = { PG_ADHOC_PREV, PG_ADHOC_NEXT, PG_ADHOC_COMPLETE };
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    if (allowed & order[i])
      pg_stanza_add_child (actions, action_to_string (order[i]), NULL);
  if (actions != command->children)
    {
      xmlUnlinkNode (actions);
      xmlAddPrevSibling (command->children, actions);
    }
}

/* ---- sessions ---- */

static gboolean
is_expired (PgAdhoc *adhoc, const Session *session, gint64 now, gint64 ttl_us)
{
  return !session->waiting && now - session->last_used > ttl_us;
}

/* Forgets sessions idle for twice the lifetime. */
static void
sweep (PgAdhoc *adhoc)
{
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, adhoc->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (is_expired (adhoc, value, now, 2 * adhoc->ttl_us))
      g_hash_table_iter_remove (&iter);
}

/* Makes room for one more session of @bare_jid: ends their oldest when they
 * have PG_ADHOC_MAX_SESSIONS_PER_USER. FALSE when the table is full. */
static gboolean
make_room (PgAdhoc *adhoc, const char *bare_jid)
{
  Session *oldest = NULL;
  guint mine = 0;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, adhoc->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Session *session = value;
      if (strcmp (session->requester_bare, bare_jid) != 0)
        continue;
      mine++;
      if (oldest == NULL || session->last_used < oldest->last_used)
        oldest = session;
    }
  if (mine >= PG_ADHOC_MAX_SESSIONS_PER_USER)
    {
      g_debug ("%s: ending command session %s to open another", bare_jid, oldest->id);
      g_hash_table_remove (adhoc->sessions, oldest->id);
      return TRUE;
    }
  return g_hash_table_size (adhoc->sessions) < PG_ADHOC_MAX_SESSIONS;
}

static void
push_stage (Session *session, const xmlNode *answer, guint allowed, PgAdhocAction execute)
{
  Stage *stage = g_new0 (Stage, 1);
  stage->command = pg_stanza_copy (answer);
  stage->allowed = allowed;
  stage->execute = execute;
  g_ptr_array_add (session->stages, stage);
}

gboolean
pg_adhoc_session_resume (PgAdhoc *adhoc, const char *id, const xmlNode *answer, guint allowed,
                         PgAdhocAction execute)
{
  Session *session = g_hash_table_lookup (adhoc->sessions, id);
  if (session == NULL || !session->waiting)
    return FALSE;
  if (answer == NULL)
    {
      g_hash_table_remove (adhoc->sessions, id);
      return TRUE;
    }
  session->waiting = FALSE;
  session->last_used = g_get_monotonic_time ();
  push_stage (session, answer, allowed, execute);
  return TRUE;
}

/* ---- a request ---- */

static void
call_clear (PgAdhocCall *call)
{
  /* An object of a stage 0 that no session took. */
  if (call->object_destroy != NULL)
    call->object_destroy (call->object);
  g_clear_pointer (&call->form, pg_form_free);
  g_clear_pointer (&call->data, g_hash_table_unref);
  g_clear_pointer (&call->text, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PgAdhocCall, call_clear)

/* Runs the handler for @call (whose answer is the <command/> of @reply).
 * Returns FALSE after answering with the handler's error. */
static gboolean
run_handler (PgAdhoc *adhoc, PgAdhocCall *call)
{
  call->command->handler (call);
  if (call->answered)
    return FALSE;
  if (call->deferred != NULL)
    {
      pg_stanza_set_attr (call->answer, "status", "completed");
      return TRUE;
    }
  if (call->failed)
    {
      pg_adhoc_reply_error (adhoc, call->request, call->condition, PG_ERR_TYPE_DEFAULT, call->specific,
                            call->text);
      return FALSE;
    }
  if (call->executing)
    pg_adhoc_add_actions (call->answer, call->allowed, call->execute);
  pg_stanza_set_attr (call->answer, "status", call->executing ? "executing" : "completed");
  return TRUE;
}

/* Reads the jabber:x:data payload; FALSE after answering bad-payload. */
static gboolean
read_form (PgAdhoc *adhoc, const PgRouteRequest *request, PgAdhocCall *call)
{
  xmlNode *x = pg_stanza_find_child (request->payload, "x", PG_NS_DATA);
  if (x == NULL)
    return TRUE;
  g_autoptr (GError) error = NULL;
  call->form = pg_form_parse (x, NULL, &error);
  /* §3.5.1: a 'cancel' form counts as a submission. */
  if (call->form != NULL
      && (g_str_equal (pg_form_get_type (call->form), "submit")
          || g_str_equal (pg_form_get_type (call->form), "cancel")))
    return TRUE;
  pg_adhoc_reply_error (adhoc, request, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, "bad-payload",
                        error != NULL ? error->message : "a command form must be of type 'submit'");
  return FALSE;
}

static void
start (PgAdhoc *adhoc, const PgRouteRequest *request, const PgAdhocCommand *command)
{
  g_auto (PgAdhocCall) call = {
    .adhoc = adhoc,
    .request = request,
    .command = command,
    .stage = 0,
    .action = PG_ADHOC_EXECUTE,
    .data = data_new (),
  };
  if (!read_form (adhoc, request, &call))
    return;
  g_autofree char *id = g_uuid_string_random ();
  g_autoptr (PgStanza) reply = pg_adhoc_new_result (adhoc, request);
  call.answer = add_answer (reply, command->node, id, NULL);
  if (!run_handler (adhoc, &call))
    return;
  if (call.deferred != NULL)
    {
      pg_adhoc_deferred_take (call.deferred, g_steal_pointer (&reply), call.answer, NULL);
      return;
    }
  if (call.executing)
    {
      if (!make_room (adhoc, request->from_bare))
        {
          g_message ("%s: command session refused: %u sessions open", request->from_bare,
                     g_hash_table_size (adhoc->sessions));
          pg_adhoc_reply_error (adhoc, request, PG_ERR_RESOURCE_CONSTRAINT, PG_ERR_TYPE_DEFAULT, NULL, NULL);
          return;
        }
      Session *session = g_new0 (Session, 1);
      session->id = g_strdup (id);
      session->requester = pg_jid_to_string (request->from);
      session->requester_bare = g_strdup (request->from_bare);
      session->command = command;
      session->stages = g_ptr_array_new_with_free_func ((GDestroyNotify)stage_free);
      session->data = g_steal_pointer (&call.data);
      session->last_used = g_get_monotonic_time ();
      session->object = g_steal_pointer (&call.object);
      session->object_destroy = g_steal_pointer (&call.object_destroy);
      push_stage (session, call.answer, call.allowed, call.execute);
      g_hash_table_insert (adhoc->sessions, session->id, session);
    }
  pg_adhoc_send (adhoc, reply);
}

/* The session @id of this requester and command, or NULL after answering
 * why not. */
static Session *
find_session (PgAdhoc *adhoc, const PgRouteRequest *request, const PgAdhocCommand *command, const char *id)
{
  Session *session = g_hash_table_lookup (adhoc->sessions, id);
  g_autofree char *requester = pg_jid_to_string (request->from);
  if (session == NULL || session->command != command || strcmp (session->requester, requester) != 0)
    {
      pg_adhoc_reply_error (adhoc, request, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, "bad-sessionid", NULL);
      return NULL;
    }
  if (is_expired (adhoc, session, g_get_monotonic_time (), adhoc->ttl_us))
    {
      g_hash_table_remove (adhoc->sessions, id);
      pg_adhoc_reply_error (adhoc, request, PG_ERR_NOT_ALLOWED, PG_ERR_TYPE_DEFAULT, "session-expired", NULL);
      return NULL;
    }
  session->last_used = g_get_monotonic_time ();
  return session;
}

static void
go_back (PgAdhoc *adhoc, const PgRouteRequest *request, Session *session)
{
  g_ptr_array_remove_index (session->stages, session->stages->len - 1);
  const Stage *stage = g_ptr_array_index (session->stages, session->stages->len - 1);
  g_autoptr (PgStanza) reply = pg_adhoc_new_result (adhoc, request);
  pg_stanza_add_copy (reply, stage->command);
  pg_adhoc_send (adhoc, reply);
}

static void
proceed (PgAdhoc *adhoc, const PgRouteRequest *request, Session *session, PgAdhocAction action)
{
  const Stage *current = g_ptr_array_index (session->stages, session->stages->len - 1);
  if (action == PG_ADHOC_CANCEL)
    {
      g_autoptr (PgStanza) reply = pg_adhoc_new_result (adhoc, request);
      add_answer (reply, session->command->node, session->id, "canceled");
      g_hash_table_remove (adhoc->sessions, session->id);
      pg_adhoc_send (adhoc, reply);
      return;
    }
  if (session->waiting)
    {
      /* The answer to the last request is still to come. */
      pg_adhoc_reply_error (adhoc, request, PG_ERR_UNEXPECTED_REQUEST, PG_ERR_TYPE_WAIT, NULL,
                            N_ ("The command is still working on your last request; wait for its answer."));
      return;
    }
  if (action == PG_ADHOC_EXECUTE)
    action = current->execute;
  if (!(current->allowed & action))
    {
      pg_adhoc_reply_error (adhoc, request, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, "bad-action", NULL);
      return;
    }
  if (action == PG_ADHOC_PREV)
    {
      go_back (adhoc, request, session);
      return;
    }

  g_auto (PgAdhocCall) call = {
    .adhoc = adhoc,
    .request = request,
    .command = session->command,
    .session = session,
    .stage = session->stages->len,
    .action = action,
    .data = g_hash_table_ref (session->data),
  };
  if (!read_form (adhoc, request, &call))
    return;
  g_autoptr (PgStanza) reply = pg_adhoc_new_result (adhoc, request);
  call.answer = add_answer (reply, session->command->node, session->id, NULL);
  if (!run_handler (adhoc, &call))
    return;
  if (call.deferred != NULL)
    {
      /* The session waits for the answer, which ends it or adds a stage. */
      session->waiting = TRUE;
      pg_adhoc_deferred_take (call.deferred, g_steal_pointer (&reply), call.answer, session->id);
      return;
    }
  if (call.executing)
    push_stage (session, call.answer, call.allowed, call.execute);
  else
    g_hash_table_remove (adhoc->sessions, session->id);
  pg_adhoc_send (adhoc, reply);
}

static PgRouteResult
on_command (const PgRouteRequest *request, gpointer user_data)
{
  PgAdhoc *adhoc = user_data;
  const char *node = pg_stanza_get_attr (request->payload, "node");
  const char *action_name = pg_stanza_get_attr (request->payload, "action");
  const char *id = pg_stanza_get_attr (request->payload, "sessionid");

  if (node == NULL)
    {
      pg_adhoc_reply_error (adhoc, request, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, NULL,
                            "a command needs a node");
      return PG_HANDLED;
    }
  const PgAdhocCommand *command = pg_adhoc_lookup_command (adhoc, node);
  if (command == NULL)
    {
      pg_adhoc_reply_error (adhoc, request, PG_ERR_ITEM_NOT_FOUND, PG_ERR_TYPE_DEFAULT, NULL, NULL);
      return PG_HANDLED;
    }
  PgErrorCondition refusal;
  if (!pg_adhoc_may_run (adhoc, command, request->from_bare, &refusal))
    {
      g_message ("%s may not run %s", request->from_bare, node);
      pg_adhoc_reply_error (adhoc, request, refusal, PG_ERR_TYPE_DEFAULT, NULL, NULL);
      return PG_HANDLED;
    }

  PgAdhocAction action = PG_ADHOC_EXECUTE;
  gboolean known = action_name == NULL;
  for (guint i = 0; i < G_N_ELEMENTS (action_names) && !known; i++)
    if (strcmp (action_names[i].name, action_name) == 0)
      {
        action = action_names[i].action;
        known = TRUE;
      }
  if (!known)
    {
      pg_adhoc_reply_error (adhoc, request, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, "malformed-action",
                            NULL);
      return PG_HANDLED;
    }

  sweep (adhoc);
  if (id == NULL || *id == '\0')
    {
      if (action == PG_ADHOC_EXECUTE)
        start (adhoc, request, command);
      else if (action == PG_ADHOC_CANCEL)
        {
          /* Nothing was started: nothing to undo. */
          g_autoptr (PgStanza) reply = pg_adhoc_new_result (adhoc, request);
          add_answer (reply, command->node, NULL, "canceled");
          pg_adhoc_send (adhoc, reply);
        }
      else
        pg_adhoc_reply_error (adhoc, request, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, "bad-sessionid", NULL);
      return PG_HANDLED;
    }
  Session *session = find_session (adhoc, request, command, id);
  if (session != NULL)
    proceed (adhoc, request, session, action);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_IQ, "set", PG_NS_COMMANDS, "command", PG_TARGET_DOMAIN, on_command },
};

static const char *const features[] = { PG_NS_COMMANDS, NULL };

void
pg_adhoc_register (PgTransport *transport)
{
  PgAdhoc *adhoc = g_new0 (PgAdhoc, 1);
  adhoc->transport = transport;
  adhoc->commands = g_ptr_array_new ();
  adhoc->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)session_free);
  adhoc->ttl_us = PG_ADHOC_SESSION_TTL_S * G_USEC_PER_SEC;
  const char *ttl = g_getenv (PG_ADHOC_TTL_ENV);
  if (ttl != NULL)
    {
      guint64 seconds = 0;
      if (g_ascii_string_to_unsigned (ttl, 10, 1, G_MAXUINT, &seconds, NULL))
        adhoc->ttl_us = (gint64)seconds * G_USEC_PER_SEC;
      else
        g_warning ("%s=%s is not a number of seconds; ignored", PG_ADHOC_TTL_ENV, ttl);
    }
  transport->adhoc = adhoc;
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), adhoc);
  pg_adhoc_add_disco_routes (transport, adhoc);
  pg_router_add_features (transport->router, features);
}

void
pg_adhoc_free (PgAdhoc *adhoc)
{
  if (adhoc == NULL)
    return;
  g_ptr_array_unref (adhoc->commands);
  g_hash_table_unref (adhoc->sessions);
  g_free (adhoc);
}

void
pg_adhoc_add_commands (PgTransport *transport, const PgAdhocCommand *rows, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      g_return_if_fail (pg_adhoc_lookup_command (transport->adhoc, rows[i].node) == NULL);
      g_ptr_array_add (transport->adhoc->commands, (gpointer)&rows[i]);
    }
}

void
pg_adhoc_set_session_ttl (PgTransport *transport, guint seconds)
{
  transport->adhoc->ttl_us = (gint64)seconds * G_USEC_PER_SEC;
}

guint
pg_adhoc_count_sessions (PgTransport *transport)
{
  return g_hash_table_size (transport->adhoc->sessions);
}
