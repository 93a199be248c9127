/* tests/unit/test-adhoc.c — the XEP-0050 framework through the router:
 * command lists per requester, access, sessions (stages, prev, cancel,
 * expiry, the per-user cap), errors, JID fields; and the VmRSS parser of
 * the stats command. */
#define G_LOG_DOMAIN "pg-test-adhoc"
#include "build-config.h"

#include "daemon/stats.h"
#include "registration/inband.h"
#include "registration/store.h"
#include "transport/adhoc.h"
#include "transport/disco.h"
#include "transport/i18n.h"

#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <string.h>

#define GW "gw.example.org"
#define ADMIN "admin@example.org/desk"
#define USER "user@example.org/phone"
#define STRANGER "stranger@example.org/x"

typedef struct
{
  PgTransport transport;
  GPtrArray *sent; /* PgStanza */
  char *dir;
  guint next_id;
  PgAdhocDeferred *deferred; /* of the "waits" command */
  guint objects_destroyed;
} Fixture;

/* The fixture of the running test, for the "waits" command. */
static Fixture *current;

static void
capture (const xmlNode *stanza, gpointer data)
{
  Fixture *f = data;
  g_ptr_array_add (f->sent, pg_stanza_copy (stanza));
}

/* ---- test commands ---- */

static void
single (PgAdhocCall *call)
{
  xmlNode *form = pg_adhoc_call_add_form (call, "result", NULL, NULL, "urn:test");
  pg_form_add_field (form, "who", NULL, NULL, FALSE, pg_adhoc_call_get_requester (call));
  pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, "done");
}

/* Three stages: a, then b (prev allowed), then a note "a=… b=…". */
static void
wizard (PgAdhocCall *call)
{
  const PgForm *form = pg_adhoc_call_get_form (call);
  switch (pg_adhoc_call_get_stage (call))
    {
    case 0:
      pg_form_add_field (pg_adhoc_call_add_form (call, "form", NULL, NULL, NULL), "a", "text-single", NULL,
                         TRUE, NULL);
      pg_adhoc_call_continue (call, PG_ADHOC_NEXT, PG_ADHOC_NEXT);
      break;
    case 1:
      if (form == NULL || pg_form_get_value (form, "a") == NULL)
        {
          pg_adhoc_call_fail (call, PG_ERR_BAD_REQUEST, "bad-payload", "a is missing");
          return;
        }
      pg_adhoc_call_set_data (call, "a", pg_form_get_value (form, "a"));
      pg_form_add_field (pg_adhoc_call_add_form (call, "form", NULL, NULL, NULL), "b", "text-single", NULL,
                         TRUE, NULL);
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      break;
    default:
      {
        g_autofree char *text = g_strdup_printf ("a=%s b=%s", pg_adhoc_call_get_data (call, "a"),
                                                 form != NULL ? pg_form_get_value (form, "b") : "");
        pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, text);
      }
    }
}

static void
jids (PgAdhocCall *call)
{
  if (pg_adhoc_call_get_stage (call) == 0)
    {
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      return;
    }
  g_autoptr (GPtrArray) list = pg_adhoc_call_dup_jids (call, "accountjids");
  if (list == NULL)
    return;
  g_ptr_array_add (list, NULL);
  g_autofree char *joined = g_strjoinv (",", (char **)list->pdata);
  pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, joined);
}

static void
object_destroyed (gpointer object)
{
  g_assert_true (object == current);
  current->objects_destroyed++;
}

/* Stage 0: a form; stage 1: keeps an object and waits (the test answers
 * through current->deferred); later stages: a note naming the stage. */
static void
waits (PgAdhocCall *call)
{
  guint stage = pg_adhoc_call_get_stage (call);
  if (stage == 0)
    {
      pg_adhoc_call_add_form (call, "form", NULL, NULL, NULL);
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      return;
    }
  if (stage == 1)
    {
      pg_adhoc_call_set_object (call, current, object_destroyed);
      current->deferred = pg_adhoc_call_defer (call);
      return;
    }
  g_assert_true (pg_adhoc_call_get_object (call) == current);
  g_autofree char *text = g_strdup_printf ("stage %u", stage);
  pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, text);
}

static const PgAdhocCommand commands[] = {
  { .node = "urn:test:single", .name = "Single", .access = PG_ADHOC_ACCESS_REGISTERED, .handler = single },
  { .node = "urn:test:wizard", .name = "Wizard", .access = PG_ADHOC_ACCESS_REGISTERED, .handler = wizard },
  { .node = "urn:test:jids", .name = "JIDs", .access = PG_ADHOC_ACCESS_REGISTERED, .handler = jids },
  { .node = "urn:test:waits", .name = "Waits", .access = PG_ADHOC_ACCESS_REGISTERED, .handler = waits },
  { .node = PG_ADMIN_NODE ("get-online-users-num"),
    .name = "Admin",
    .access = PG_ADHOC_ACCESS_ADMIN,
    .handler = single },
};

/* ---- fixture ---- */

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("pg-test-adhoc-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *db = g_build_filename (f->dir, "purplegate.db", NULL);
  g_autofree char *key = g_build_filename (f->dir, "purplegate.key", NULL);

  PgConfig *config = g_new0 (PgConfig, 1);
  config->component_jid = g_strdup (GW);
  config->protocol = g_strdup ("prpl-irc");
  config->admin_jids = g_strsplit ("admin@example.org", ";", -1);
  config->allowed_domains = g_new0 (char *, 1);
  f->transport.config = config;
  f->transport.legacy_name = g_strdup ("IRC");
  f->transport.store = pg_store_open (db, key, &error);
  f->transport.is_registered = pg_inband_is_registered;
  g_assert_no_error (error);
  g_assert_true (pg_store_put_user (f->transport.store, "user@example.org", "u", "pw", &error));
  g_assert_no_error (error);
  static const char *const no_dirs[] = { NULL };
  f->transport.i18n = pg_i18n_new (no_dirs);
  f->sent = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  f->transport.router = pg_router_new (GW, capture, f);
  pg_disco_register (&f->transport);
  pg_adhoc_register (&f->transport);
  pg_adhoc_add_commands (&f->transport, commands, G_N_ELEMENTS (commands));
  pg_disco_register_fallback (&f->transport);
  current = f;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->transport.adhoc, pg_adhoc_free);
  g_clear_pointer (&f->transport.router, pg_router_free);
  g_clear_pointer (&f->transport.i18n, pg_i18n_free);
  g_clear_pointer (&f->transport.store, pg_store_free);
  g_clear_pointer (&f->transport.config, pg_config_free);
  g_free (f->transport.legacy_name);
  g_ptr_array_unref (f->sent);
  static const char *const files[] = { "purplegate.db", "purplegate.db-wal", "purplegate.db-shm",
                                       "purplegate.db-outbox", "purplegate.key" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, files[i], NULL);
      (void)g_unlink (path);
    }
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_free (f->dir);
}

/* Dispatches <iq type=@type from=@from> around @payload and returns its one
 * answer (borrowed from f->sent). */
static xmlNode *
iq (Fixture *f, const char *type, const char *from, const char *payload)
{
  g_autofree char *xml = g_strdup_printf ("<iq xmlns='jabber:component:accept' type='%s' from='%s' to='" GW
                                          "' id='q%u'>%s</iq>",
                                          type, from, ++f->next_id, payload);
  xmlDoc *doc
      = xmlReadMemory (xml, (int)strlen (xml), "iq.xml", "UTF-8", XML_PARSE_NONET | XML_PARSE_NOBLANKS);
  g_assert_nonnull (doc);
  guint before = f->sent->len;
  pg_router_dispatch (f->transport.router, xmlDocGetRootElement (doc));
  xmlFreeDoc (doc);
  g_assert_cmpuint (f->sent->len, ==, before + 1);
  xmlNode *reply = g_ptr_array_index (f->sent, f->sent->len - 1);
  g_autofree char *id = g_strdup_printf ("q%u", f->next_id);
  g_assert_cmpstr (pg_stanza_get_attr (reply, "id"), ==, id);
  return reply;
}

/* Dispatches @payload in an <iq type='set'/> from @from and returns how
 * many stanzas went out. */
static guint
dispatch (Fixture *f, const char *from, const char *payload)
{
  g_autofree char *xml = g_strdup_printf ("<iq xmlns='jabber:component:accept' type='set' from='%s' to='" GW
                                          "' id='q%u'>%s</iq>",
                                          from, ++f->next_id, payload);
  xmlDoc *doc
      = xmlReadMemory (xml, (int)strlen (xml), "iq.xml", "UTF-8", XML_PARSE_NONET | XML_PARSE_NOBLANKS);
  g_assert_nonnull (doc);
  guint before = f->sent->len;
  pg_router_dispatch (f->transport.router, xmlDocGetRootElement (doc));
  xmlFreeDoc (doc);
  return f->sent->len - before;
}

/* <command/> with @attrs (a string of attributes) and @inner. */
static xmlNode *
command (Fixture *f, const char *from, const char *attrs, const char *inner)
{
  g_autofree char *payload
      = g_strdup_printf ("<command xmlns='" PG_NS_COMMANDS "' %s>%s</command>", attrs, inner ? inner : "");
  return iq (f, "set", from, payload);
}

static xmlNode *
answer_of (xmlNode *reply)
{
  g_assert_cmpstr (pg_stanza_get_attr (reply, "type"), ==, "result");
  xmlNode *answer = pg_stanza_find_child (reply, "command", PG_NS_COMMANDS);
  g_assert_nonnull (answer);
  return answer;
}

static void
assert_error (xmlNode *reply, const char *condition, const char *type, const char *specific)
{
  g_assert_cmpstr (pg_stanza_get_attr (reply, "type"), ==, "error");
  xmlNode *error = pg_stanza_get_error (reply);
  g_assert_nonnull (error);
  g_assert_cmpstr (pg_stanza_get_attr (error, "type"), ==, type);
  g_assert_nonnull (pg_stanza_find_child (error, condition, PG_NS_STANZAS));
  if (specific != NULL)
    g_assert_nonnull (pg_stanza_find_child (error, specific, PG_NS_COMMANDS));
}

static char *
dup_note (xmlNode *answer)
{
  xmlNode *note = pg_stanza_find_child (answer, "note", PG_NS_COMMANDS);
  g_assert_nonnull (note);
  return pg_stanza_dup_text (note);
}

static char *
submit (const char *var, const char *value)
{
  return g_strdup_printf (
      "<x xmlns='jabber:x:data' type='submit'><field var='%s'><value>%s</value></field></x>", var, value);
}

/* ---- disco ---- */

static gboolean
has_feature (xmlNode *query, const char *var)
{
  for (xmlNode *child = pg_stanza_first_element (query); child != NULL; child = xmlNextElementSibling (child))
    if (pg_stanza_is (child, "feature", PG_NS_DISCO_INFO)
        && g_strcmp0 (pg_stanza_get_attr (child, "var"), var) == 0)
      return TRUE;
  return FALSE;
}

static char *
dup_items (Fixture *f, const char *from)
{
  xmlNode *reply = iq (f, "get", from, "<query xmlns='" PG_NS_DISCO_ITEMS "' node='" PG_NS_COMMANDS "'/>");
  g_assert_cmpstr (pg_stanza_get_attr (reply, "type"), ==, "result");
  xmlNode *query = pg_stanza_find_child (reply, "query", PG_NS_DISCO_ITEMS);
  g_assert_cmpstr (pg_stanza_get_attr (query, "node"), ==, PG_NS_COMMANDS);
  GString *nodes = g_string_new (NULL);
  for (xmlNode *item = pg_stanza_first_element (query); item != NULL; item = xmlNextElementSibling (item))
    {
      g_assert_cmpstr (pg_stanza_get_attr (item, "jid"), ==, GW);
      g_assert_nonnull (pg_stanza_get_attr (item, "name"));
      g_string_append_printf (nodes, "%s%s", nodes->len ? " " : "", pg_stanza_get_attr (item, "node"));
    }
  return g_string_free (nodes, FALSE);
}

static void
test_list_per_requester (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *from;
    const char *nodes;
  } cases[] = {
    { STRANGER, "" },
    { USER, "urn:test:single urn:test:wizard urn:test:jids urn:test:waits" },
    { ADMIN, PG_ADMIN_NODE ("get-online-users-num") },
    /* Judged on the prepared bare JID. */
    { "ADMIN@Example.ORG/other", PG_ADMIN_NODE ("get-online-users-num") },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *nodes = dup_items (f, cases[i].from);
      g_assert_cmpstr (nodes, ==, cases[i].nodes);
    }
}

static void
test_disco_info (Fixture *f, gconstpointer data)
{
  xmlNode *reply = iq (f, "get", USER, "<query xmlns='" PG_NS_DISCO_INFO "' node='urn:test:wizard'/>");
  xmlNode *query = pg_stanza_find_child (reply, "query", PG_NS_DISCO_INFO);
  g_assert_cmpstr (pg_stanza_get_attr (query, "node"), ==, "urn:test:wizard");
  xmlNode *identity = pg_stanza_find_child (query, "identity", PG_NS_DISCO_INFO);
  g_assert_cmpstr (pg_stanza_get_attr (identity, "category"), ==, "automation");
  g_assert_cmpstr (pg_stanza_get_attr (identity, "type"), ==, "command-node");
  g_assert_cmpstr (pg_stanza_get_attr (identity, "name"), ==, "Wizard");
  g_assert_true (has_feature (query, PG_NS_COMMANDS));
  g_assert_true (has_feature (query, "jabber:x:data"));

  reply = iq (f, "get", STRANGER, "<query xmlns='" PG_NS_DISCO_INFO "' node='" PG_NS_COMMANDS "'/>");
  identity = pg_stanza_find_child (pg_stanza_find_child (reply, "query", PG_NS_DISCO_INFO), "identity", NULL);
  g_assert_cmpstr (pg_stanza_get_attr (identity, "type"), ==, "command-list");

  assert_error (iq (f, "get", USER,
                    "<query xmlns='" PG_NS_DISCO_INFO
                    "' node='" PG_ADMIN_NODE ("get-online-users-num") "'/>"),
                "forbidden", "auth", NULL);
  assert_error (iq (f, "get", USER, "<query xmlns='" PG_NS_DISCO_INFO "' node='urn:test:none'/>"),
                "item-not-found", "cancel", NULL);

  /* The address itself advertises the commands feature. */
  const char *const *features = pg_router_get_features (f->transport.router);
  g_assert_true (g_strv_contains (features, PG_NS_COMMANDS));
  g_assert_false (g_strv_contains (features, "jabber:x:data"));
}

/* ---- execution ---- */

static void
test_single_stage (Fixture *f, gconstpointer data)
{
  xmlNode *answer = answer_of (command (f, USER, "node='urn:test:single' action='execute'", NULL));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "completed");
  g_assert_cmpstr (pg_stanza_get_attr (answer, "node"), ==, "urn:test:single");
  g_assert_nonnull (pg_stanza_get_attr (answer, "sessionid"));
  g_assert_null (pg_stanza_find_child (answer, "actions", PG_NS_COMMANDS));
  g_autofree char *note = dup_note (answer);
  g_assert_cmpstr (note, ==, "done");
  g_autofree char *text = pg_stanza_to_string (answer);
  g_assert_nonnull (strstr (text, "<value>user@example.org</value>"));
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, 0);
}

static void
test_access (Fixture *f, gconstpointer data)
{
  assert_error (command (f, USER, "node='" PG_ADMIN_NODE ("get-online-users-num") "'", NULL), "forbidden",
                "auth", NULL);
  assert_error (command (f, STRANGER, "node='urn:test:single'", NULL), "registration-required", "auth", NULL);
  assert_error (command (f, USER, "node='urn:test:none'", NULL), "item-not-found", "cancel", NULL);
  /* An admin of another spelling is the admin. */
  xmlNode *answer = answer_of (
      command (f, "Admin@EXAMPLE.org/x", "node='" PG_ADMIN_NODE ("get-online-users-num") "'", NULL));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "completed");
}

static const char *
start_wizard (Fixture *f, const char *from)
{
  xmlNode *answer = answer_of (command (f, from, "node='urn:test:wizard'", NULL));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "executing");
  return pg_stanza_get_attr (answer, "sessionid");
}

static void
test_stages_and_prev (Fixture *f, gconstpointer data)
{
  xmlNode *first = answer_of (command (f, USER, "node='urn:test:wizard'", NULL));
  g_autofree char *first_text = pg_stanza_to_string (first);
  const char *id = pg_stanza_get_attr (first, "sessionid");
  xmlNode *actions = pg_stanza_first_element (first);
  g_assert_true (pg_stanza_is (actions, "actions", PG_NS_COMMANDS));
  g_assert_cmpstr (pg_stanza_get_attr (actions, "execute"), ==, "next");
  g_assert_cmpuint (pg_stanza_count_elements (actions), ==, 1);
  g_assert_nonnull (pg_stanza_find_child (actions, "next", PG_NS_COMMANDS));

  g_autofree char *attrs = g_strdup_printf ("node='urn:test:wizard' sessionid='%s'", id);
  g_autofree char *next_attrs = g_strdup_printf ("%s action='next'", attrs);
  g_autofree char *a1 = submit ("a", "1");
  xmlNode *second = answer_of (command (f, USER, next_attrs, a1));
  g_assert_cmpstr (pg_stanza_get_attr (second, "status"), ==, "executing");
  actions = pg_stanza_find_child (second, "actions", PG_NS_COMMANDS);
  g_assert_cmpstr (pg_stanza_get_attr (actions, "execute"), ==, "complete");
  g_assert_nonnull (pg_stanza_find_child (actions, "prev", PG_NS_COMMANDS));
  g_assert_nonnull (pg_stanza_find_child (actions, "complete", PG_NS_COMMANDS));
  g_assert_null (pg_stanza_find_child (actions, "next", PG_NS_COMMANDS));

  /* prev: the first answer again, byte for byte. */
  g_autofree char *prev_attrs = g_strdup_printf ("%s action='prev'", attrs);
  g_autofree char *again = pg_stanza_to_string (answer_of (command (f, USER, prev_attrs, NULL)));
  g_assert_cmpstr (again, ==, first_text);
  /* prev from the first stage: nowhere to go. */
  assert_error (command (f, USER, prev_attrs, NULL), "bad-request", "modify", "bad-action");

  /* 'execute' in a session means the stage's default action (next). */
  g_autofree char *a2 = submit ("a", "2");
  answer_of (command (f, USER, attrs, a2));
  g_autofree char *complete_attrs = g_strdup_printf ("%s action='complete'", attrs);
  g_autofree char *b3 = submit ("b", "3");
  xmlNode *last = answer_of (command (f, USER, complete_attrs, b3));
  g_assert_cmpstr (pg_stanza_get_attr (last, "status"), ==, "completed");
  g_assert_cmpstr (pg_stanza_get_attr (last, "sessionid"), ==, id);
  g_autofree char *note = dup_note (last);
  g_assert_cmpstr (note, ==, "a=2 b=3");
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, 0);
  /* Never reused after completion. */
  assert_error (command (f, USER, complete_attrs, b3), "bad-request", "modify", "bad-sessionid");
}

static void
test_handler_error_keeps_stage (Fixture *f, gconstpointer data)
{
  g_autofree char *id = g_strdup (start_wizard (f, USER));
  g_autofree char *attrs = g_strdup_printf ("node='urn:test:wizard' sessionid='%s'", id);
  assert_error (command (f, USER, attrs, NULL), "bad-request", "modify", "bad-payload");
  g_autofree char *a = submit ("a", "x");
  xmlNode *answer = answer_of (command (f, USER, attrs, a));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "executing");
}

static void
test_bad_sessionid (Fixture *f, gconstpointer data)
{
  g_autofree char *id = g_strdup (start_wizard (f, USER));
  g_autofree char *a = submit ("a", "1");
  assert_error (command (f, USER, "node='urn:test:wizard' sessionid='bogus'", a), "bad-request", "modify",
                "bad-sessionid");
  /* Bound to the requester's full JID, and to its command. */
  g_autofree char *attrs = g_strdup_printf ("node='urn:test:wizard' sessionid='%s'", id);
  assert_error (command (f, "user@example.org/laptop", attrs, a), "bad-request", "modify", "bad-sessionid");
  g_autofree char *other = g_strdup_printf ("node='urn:test:jids' sessionid='%s'", id);
  assert_error (command (f, USER, other, a), "bad-request", "modify", "bad-sessionid");
  /* next without a session at all. */
  assert_error (command (f, USER, "node='urn:test:wizard' action='next'", a), "bad-request", "modify",
                "bad-sessionid");
  /* Still usable by its owner. */
  g_assert_cmpstr (pg_stanza_get_attr (answer_of (command (f, USER, attrs, a)), "status"), ==, "executing");
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autofree char *id = g_strdup (start_wizard (f, USER));
  g_autofree char *attrs = g_strdup_printf ("node='urn:test:wizard' sessionid='%s' action='cancel'", id);
  xmlNode *answer = answer_of (command (f, USER, attrs, NULL));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "canceled");
  g_assert_cmpstr (pg_stanza_get_attr (answer, "sessionid"), ==, id);
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, 0);
  assert_error (command (f, USER, attrs, NULL), "bad-request", "modify", "bad-sessionid");
}

static void
test_bad_actions (Fixture *f, gconstpointer data)
{
  assert_error (command (f, USER, "node='urn:test:wizard' action='jump'", NULL), "bad-request", "modify",
                "malformed-action");
  g_autofree char *id = g_strdup (start_wizard (f, USER));
  /* The first stage allows next only. */
  g_autofree char *attrs = g_strdup_printf ("node='urn:test:wizard' sessionid='%s' action='complete'", id);
  assert_error (command (f, USER, attrs, NULL), "bad-request", "modify", "bad-action");
  /* A form that is not a submission. */
  g_autofree char *next = g_strdup_printf ("node='urn:test:wizard' sessionid='%s'", id);
  assert_error (command (f, USER, next, "<x xmlns='jabber:x:data' type='form'/>"), "bad-request", "modify",
                "bad-payload");
  assert_error (command (f, USER, "", NULL), "bad-request", "modify", NULL);
}

static void
test_expiry (Fixture *f, gconstpointer data)
{
  pg_adhoc_set_session_ttl (&f->transport, 1);
  g_autofree char *id = g_strdup (start_wizard (f, USER));
  g_autofree char *attrs = g_strdup_printf ("node='urn:test:wizard' sessionid='%s'", id);
  g_autofree char *a = submit ("a", "1");
  g_usleep (1200 * 1000);
  assert_error (command (f, USER, attrs, a), "not-allowed", "cancel", "session-expired");
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, 0);

  /* After twice the lifetime a session is forgotten altogether. */
  g_autofree char *old = g_strdup (start_wizard (f, USER));
  g_usleep (2200 * 1000);
  start_wizard (f, USER); /* any request sweeps */
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, 1);
  g_autofree char *old_attrs = g_strdup_printf ("node='urn:test:wizard' sessionid='%s'", old);
  assert_error (command (f, USER, old_attrs, a), "bad-request", "modify", "bad-sessionid");
}

static void
test_per_user_cap (Fixture *f, gconstpointer data)
{
  g_autofree char *first = g_strdup (start_wizard (f, USER));
  for (guint i = 1; i < PG_ADHOC_MAX_SESSIONS_PER_USER; i++)
    start_wizard (f, USER);
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, PG_ADHOC_MAX_SESSIONS_PER_USER);
  start_wizard (f, "user@example.org/laptop"); /* same user: the oldest ends */
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, PG_ADHOC_MAX_SESSIONS_PER_USER);
  g_autofree char *attrs = g_strdup_printf ("node='urn:test:wizard' sessionid='%s'", first);
  g_autofree char *a = submit ("a", "1");
  assert_error (command (f, USER, attrs, a), "bad-request", "modify", "bad-sessionid");
  g_assert_true (pg_store_put_user (f->transport.store, "other@example.org", "o", "pw", NULL));
  start_wizard (f, "other@example.org/x"); /* others are not affected */
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, PG_ADHOC_MAX_SESSIONS_PER_USER + 1);
}

static void
test_jid_field (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *values; /* <value/> elements */
    const char *note;   /* NULL: an error */
    const char *condition;
  } cases[] = {
    { "<value>A@Example.ORG/res</value><value> b@example.org </value><value>a@example.org</value>",
      "a@example.org,b@example.org", NULL },
    { "<value>example.org</value>", "example.org", NULL },
    { "<value>@@</value>", NULL, "not-acceptable" },
    { "<value></value>", NULL, "bad-request" },
    { "", NULL, "bad-request" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      xmlNode *answer = answer_of (command (f, USER, "node='urn:test:jids'", NULL));
      g_autofree char *attrs
          = g_strdup_printf ("node='urn:test:jids' sessionid='%s'", pg_stanza_get_attr (answer, "sessionid"));
      g_autofree char *form = g_strdup_printf (
          "<x xmlns='jabber:x:data' type='submit'><field var='accountjids'>%s</field></x>", cases[i].values);
      xmlNode *reply = command (f, USER, attrs, form);
      if (cases[i].note != NULL)
        {
          g_autofree char *note = dup_note (answer_of (reply));
          g_assert_cmpstr (note, ==, cases[i].note);
        }
      else
        assert_error (reply, cases[i].condition, "modify",
                      cases[i].condition[0] == 'b' ? "bad-payload" : NULL);
    }
}

/* ---- stats ---- */

static void
test_vm_rss (void)
{
  static const struct
  {
    const char *status;
    gint64 kib;
  } cases[] = {
    { "Name:\tpurplegate\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 1 kB\n", 12345 },
    { "VmRSS: 7 kB", 7 },
    { "Name:\tx\n", -1 },
    { "VmRSS:\t kB\n", -1 },
    { "VmRSS:\t 12 MB\n", -1 },
    { "", -1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (pg_stats_parse_vm_rss (cases[i].status), ==, cases[i].kib);
}

/* Starts "waits" and submits its form: the answer waits. Returns the
 * session id. */
static char *
start_waiting (Fixture *f)
{
  xmlNode *answer = answer_of (command (f, USER, "node='urn:test:waits'", NULL));
  char *id = g_strdup (pg_stanza_get_attr (answer, "sessionid"));
  g_autofree char *payload = g_strdup_printf (
      "<command xmlns='" PG_NS_COMMANDS "' node='urn:test:waits' sessionid='%s' action='complete'/>", id);
  g_assert_cmpuint (dispatch (f, USER, payload), ==, 0);
  g_assert_nonnull (f->deferred);
  return id;
}

static void
test_deferred_continue (Fixture *f, gconstpointer data)
{
  g_autofree char *id = start_waiting (f);
  g_autofree char *attrs = g_strdup_printf ("node='urn:test:waits' sessionid='%s' action='complete'", id);
  /* Nothing but cancel while the answer waits. */
  assert_error (command (f, USER, attrs, NULL), "unexpected-request", "wait", NULL);

  /* One more stage of the same session (XEP-0050 §3.4). */
  g_autoptr (PgStanza) holder = pg_stanza_new ("message", NULL, NULL, NULL, NULL);
  xmlNode *form = pg_form_add (holder, "form", "Question", NULL, NULL);
  pg_form_add_field (form, "code", "text-single", NULL, TRUE, NULL);
  pg_adhoc_deferred_continue (g_steal_pointer (&f->deferred), "asked", form, PG_ADHOC_COMPLETE,
                              PG_ADHOC_COMPLETE);
  xmlNode *answer = answer_of (g_ptr_array_index (f->sent, f->sent->len - 1));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "executing");
  g_assert_cmpstr (pg_stanza_get_attr (answer, "sessionid"), ==, id);
  xmlNode *actions = pg_stanza_find_child (answer, "actions", PG_NS_COMMANDS);
  g_assert_true (actions == pg_stanza_first_element (answer));
  g_assert_cmpstr (pg_stanza_get_attr (actions, "execute"), ==, "complete");
  g_assert_null (pg_stanza_find_child (actions, "prev", PG_NS_COMMANDS));
  g_autofree char *note = dup_note (answer);
  g_assert_cmpstr (note, ==, "asked");
  g_assert_nonnull (pg_stanza_find_child (answer, "x", "jabber:x:data"));
  g_assert_cmpuint (f->objects_destroyed, ==, 0);

  /* The next request is stage 2, with the session's object. */
  g_autofree char *code = submit ("code", "42");
  answer = answer_of (command (f, USER, attrs, code));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "completed");
  g_autofree char *done = dup_note (answer);
  g_assert_cmpstr (done, ==, "stage 2");
  g_assert_cmpuint (f->objects_destroyed, ==, 1);
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, 0);
}

static void
test_deferred_cancel (Fixture *f, gconstpointer data)
{
  g_autofree char *id = start_waiting (f);
  g_autofree char *attrs = g_strdup_printf ("node='urn:test:waits' sessionid='%s' action='cancel'", id);
  xmlNode *answer = answer_of (command (f, USER, attrs, NULL));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "canceled");
  /* The session's object learns it ended; the waiting request is still
   * answered. */
  g_assert_cmpuint (f->objects_destroyed, ==, 1);
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, 0);
  pg_adhoc_deferred_fail (g_steal_pointer (&f->deferred), PG_ERR_NOT_ACCEPTABLE, "cancelled");
  assert_error (g_ptr_array_index (f->sent, f->sent->len - 1), "not-acceptable", "modify", NULL);
}

static void
test_deferred_complete (Fixture *f, gconstpointer data)
{
  g_autofree char *id = start_waiting (f);
  pg_adhoc_deferred_complete (g_steal_pointer (&f->deferred), PG_ADHOC_NOTE_INFO, "done later");
  xmlNode *answer = answer_of (g_ptr_array_index (f->sent, f->sent->len - 1));
  g_assert_cmpstr (pg_stanza_get_attr (answer, "status"), ==, "completed");
  g_assert_cmpuint (f->objects_destroyed, ==, 1);
  g_assert_cmpuint (pg_adhoc_count_sessions (&f->transport), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/adhoc/disco/list-per-requester", test_list_per_requester);
  ADD ("/adhoc/disco/info", test_disco_info);
  ADD ("/adhoc/execute/single-stage", test_single_stage);
  ADD ("/adhoc/execute/access", test_access);
  ADD ("/adhoc/session/stages-and-prev", test_stages_and_prev);
  ADD ("/adhoc/session/handler-error", test_handler_error_keeps_stage);
  ADD ("/adhoc/session/bad-sessionid", test_bad_sessionid);
  ADD ("/adhoc/session/cancel", test_cancel);
  ADD ("/adhoc/session/bad-actions", test_bad_actions);
  ADD ("/adhoc/session/expiry", test_expiry);
  ADD ("/adhoc/session/per-user-cap", test_per_user_cap);
  ADD ("/adhoc/form/jids", test_jid_field);
  ADD ("/adhoc/deferred/continue", test_deferred_continue);
  ADD ("/adhoc/deferred/cancel", test_deferred_cancel);
  ADD ("/adhoc/deferred/complete", test_deferred_complete);
  g_test_add_func ("/stats/vm-rss", test_vm_rss);
  return g_test_run ();
}
