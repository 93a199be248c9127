/* tests/unit/test-delivery.c — the delivery core over a fake legacy backend
 * (tests/unit/fake-backend.h): the user's messages to legacy contacts
 * (legacy/outbox-legacy.c: stored, handed over in order, deleted and
 * receipted once confirmed, bounced when refused), the login state machine
 * (legacy/session.c: reconnection after each kind of failure, refused
 * logins, the grace after the last resource leaves), and messages to the
 * user (legacy/outbox.c: written at once, stored when the link drops before
 * their acknowledgement, sent again in order when it is back).
 *
 * The session manager runs as in the daemon, with a real store in a
 * temporary directory; what it writes to the XMPP server is captured by a
 * tap stream (transport/stream.h), and the test plays the server: it sends
 * the user's stanzas through the router and routes the outbox's
 * acknowledgement pings back (legacy/outbox.h). */
#define G_LOG_DOMAIN "pg-test-delivery"
#include "build-config.h"

#include "legacy/outbox-private.h"
#include "legacy/session-private.h"
#include "registration/inband.h"
#include "registration/store.h"
#include "tests/unit/fake-backend.h"
#include "transport/i18n.h"
#include "transport/ping.h"
#include "transport/privilege.h"

#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <string.h>

#define GW "gw.example.org"
#define USER "user@example.org"
#define PHONE USER "/phone"
#define DESK USER "/desk"
#define NS_RECEIPTS "urn:xmpp:receipts"

typedef struct
{
  PgTransport transport;
  PgFakeBackend *fake;
  GPtrArray *sent; /* PgStanza: what was written to the XMPP server */
  guint pinged;    /* f->sent up to here was searched for pings to route back */
  char *dir;
} Fixture;

/* ---- the XMPP side ---- */

static void
capture (const xmlNode *stanza, gpointer data)
{
  Fixture *f = data;
  g_ptr_array_add (f->sent, pg_stanza_copy (stanza));
}

static void
send_from_router (const xmlNode *stanza, gpointer data)
{
  pg_transport_send (data, stanza);
}

/* The server hands us @xml (a stanza in the component namespace). */
static void
dispatch (Fixture *f, const char *xml)
{
  xmlDoc *doc
      = xmlReadMemory (xml, (int)strlen (xml), "stanza.xml", "UTF-8", XML_PARSE_NONET | XML_PARSE_NOBLANKS);
  g_assert_nonnull (doc);
  pg_router_dispatch (f->transport.router, xmlDocGetRootElement (doc));
  xmlFreeDoc (doc);
}

static void
available (Fixture *f, const char *from)
{
  g_autofree char *xml
      = g_strdup_printf ("<presence xmlns='jabber:component:accept' from='%s' to='" GW "'/>", from);
  dispatch (f, xml);
}

static void
unavailable (Fixture *f, const char *from)
{
  g_autofree char *xml = g_strdup_printf (
      "<presence xmlns='jabber:component:accept' type='unavailable' from='%s' to='" GW "'/>", from);
  dispatch (f, xml);
}

/* The user writes @body to legacy contact @contact, asking for a receipt. */
static void
say (Fixture *f, const char *contact, const char *id, const char *body)
{
  g_autofree char *xml = g_strdup_printf ("<message xmlns='jabber:component:accept' type='chat' from='" PHONE
                                          "' to='%s@" GW "' id='%s'><body>%s</body>"
                                          "<request xmlns='" NS_RECEIPTS "'/></message>",
                                          contact, id, body);
  dispatch (f, xml);
}

/* Runs what is ready in the main context, without waiting. */
static void
run_pending (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main context until @cond holds or @ms have passed. */
#define RUN_UNTIL(cond, ms)                                                                                  \
  G_STMT_START                                                                                               \
  {                                                                                                          \
    gboolean expired_ = FALSE;                                                                               \
    guint timer_ = g_timeout_add ((ms), set_flag, &expired_);                                                \
    while (!(cond) && !expired_)                                                                             \
      g_main_context_iteration (NULL, TRUE);                                                                 \
    if (!expired_)                                                                                           \
      g_source_remove (timer_);                                                                              \
  }                                                                                                          \
  G_STMT_END

static void
run_for (guint ms)
{
  RUN_UNTIL (FALSE, ms);
}

/* Routes every acknowledgement ping written so far back to us, as the
 * server does once it has handled what was written before it. */
static guint
route_pings_back (Fixture *f)
{
  guint routed = 0;
  run_pending (); /* pings go out from the main loop */
  for (; f->pinged < f->sent->len; f->pinged++)
    {
      const xmlNode *stanza = g_ptr_array_index (f->sent, f->pinged);
      if (!pg_stanza_is (stanza, "iq", NULL) || pg_stanza_find_child (stanza, "ping", PG_NS_PING) == NULL
          || g_strcmp0 (pg_stanza_get_attr (stanza, "to"), GW) != 0)
        continue;
      g_autofree char *xml = g_strdup_printf ("<iq xmlns='jabber:component:accept' type='get' from='" GW
                                              "' to='" GW "' id='%s'><ping xmlns='" PG_NS_PING "'/></iq>",
                                              pg_stanza_get_attr (stanza, "id"));
      dispatch (f, xml);
      routed++;
    }
  return routed;
}

/* The link to the XMPP server drops, as daemon/daemon.c reports it. */
static void
link_down (Fixture *f)
{
  pg_stream_shutdown (f->transport.stream, 0);
  pg_ping_link_down (&f->transport);
  pg_outbox_link_down (&f->transport);
  pg_sessions_link_down (&f->transport);
}

static void
link_up (Fixture *f)
{
  g_clear_pointer (&f->transport.stream, pg_stream_free);
  f->transport.stream = pg_stream_new_tap (capture, f);
  pg_outbox_link_up (&f->transport);
}

/* ---- looking at what was written ---- */

/* The condition of the error in @stanza ("" when it has none). */
static const char *
condition_of (const xmlNode *stanza)
{
  const xmlNode *error = pg_stanza_get_error (stanza);
  for (const xmlNode *child = error != NULL ? error->children : NULL; child != NULL; child = child->next)
    if (child->type == XML_ELEMENT_NODE && g_strcmp0 (pg_stanza_get_ns (child), PG_NS_STANZAS) == 0)
      return (const char *)child->name;
  return "";
}

/* The error returned for the user's message @id, or NULL. */
static const xmlNode *
find_bounce (Fixture *f, const char *id)
{
  const xmlNode *found = NULL;
  for (guint i = 0; i < f->sent->len; i++)
    {
      const xmlNode *stanza = g_ptr_array_index (f->sent, i);
      if (pg_stanza_is (stanza, "message", NULL)
          && g_strcmp0 (pg_stanza_get_attr (stanza, "type"), "error") == 0
          && g_strcmp0 (pg_stanza_get_attr (stanza, "id"), id) == 0)
        {
          g_assert_null (found); /* bounced once */
          found = stanza;
        }
    }
  return found;
}

static guint
count_bounces (Fixture *f)
{
  guint n = 0;
  for (guint i = 0; i < f->sent->len; i++)
    {
      const xmlNode *stanza = g_ptr_array_index (f->sent, i);
      n += pg_stanza_is (stanza, "message", NULL)
           && g_strcmp0 (pg_stanza_get_attr (stanza, "type"), "error") == 0;
    }
  return n;
}

/* How many XEP-0184 receipts for the user's message @id were sent. */
static guint
count_receipts (Fixture *f, const char *id)
{
  guint n = 0;
  for (guint i = 0; i < f->sent->len; i++)
    {
      const xmlNode *received
          = pg_stanza_find_child (g_ptr_array_index (f->sent, i), "received", NS_RECEIPTS);
      n += received != NULL && g_strcmp0 (pg_stanza_get_attr (received, "id"), id) == 0;
    }
  return n;
}

static gboolean
has_receipt (Fixture *f, const char *id)
{
  return count_receipts (f, id) > 0;
}

/* The last presence of @type (NULL: available) from the transport. */
static const xmlNode *
last_transport_presence (Fixture *f, const char *type)
{
  for (guint i = f->sent->len; i-- > 0;)
    {
      const xmlNode *stanza = g_ptr_array_index (f->sent, i);
      if (pg_stanza_is (stanza, "presence", NULL) && g_strcmp0 (pg_stanza_get_attr (stanza, "from"), GW) == 0
          && g_strcmp0 (pg_stanza_get_attr (stanza, "type"), type) == 0)
        return stanza;
    }
  return NULL;
}

/* How many headlines with @subject the transport sent. */
static guint
count_headlines (Fixture *f, const char *subject)
{
  guint n = 0;
  for (guint i = 0; i < f->sent->len; i++)
    {
      const xmlNode *stanza = g_ptr_array_index (f->sent, i);
      if (!pg_stanza_is (stanza, "message", NULL)
          || g_strcmp0 (pg_stanza_get_attr (stanza, "type"), "headline") != 0)
        continue;
      g_autofree char *text = pg_stanza_dup_child_text (stanza, "subject", NULL);
      n += g_strcmp0 (text, subject) == 0;
    }
  return n;
}

/* The chat messages written to the user, as "from:body" lines. */
static char *
dup_chats_to_user (Fixture *f)
{
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < f->sent->len; i++)
    {
      const xmlNode *stanza = g_ptr_array_index (f->sent, i);
      if (!pg_stanza_is (stanza, "message", NULL)
          || g_strcmp0 (pg_stanza_get_attr (stanza, "type"), "chat") != 0
          || g_strcmp0 (pg_stanza_get_attr (stanza, "to"), USER) != 0)
        continue;
      g_autofree char *body = pg_stanza_dup_child_text (stanza, "body", NULL);
      g_string_append_printf (out, "%s:%s\n", pg_stanza_get_attr (stanza, "from"), body);
    }
  return g_string_free (out, FALSE);
}

static gint64
stored (Fixture *f, PgOutboxDirection direction)
{
  g_autoptr (GError) error = NULL;
  gint64 n = pg_store_outbox_count (f->transport.store, USER, direction, &error);
  g_assert_no_error (error);
  return n;
}

/* The ids of the user's to-legacy rows still stored, "1 3 ". */
static char *
dup_stored_ids (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows
      = pg_store_outbox_list (f->transport.store, USER, PG_OUTBOX_TO_LEGACY, 0, 0, &error);
  g_assert_no_error (error);
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < rows->len; i++)
    g_string_append_printf (out, "%" G_GINT64_FORMAT " ",
                            ((PgStoreOutboxItem *)g_ptr_array_index (rows, i))->id);
  return g_string_free (out, FALSE);
}

#define ASSERT_LOG(f, name, expected)                                                                        \
  G_STMT_START                                                                                               \
  {                                                                                                          \
    g_autofree char *log_ = pg_fake_backend_dup_log ((f)->fake, (name));                                     \
    g_assert_cmpstr (log_, ==, (expected));                                                                  \
  }                                                                                                          \
  G_STMT_END

#define ASSERT_STORED_IDS(f, expected)                                                                       \
  G_STMT_START                                                                                               \
  {                                                                                                          \
    g_autofree char *ids_ = dup_stored_ids (f);                                                              \
    g_assert_cmpstr (ids_, ==, (expected));                                                                  \
  }                                                                                                          \
  G_STMT_END

static const char *
state (Fixture *f)
{
  return pg_sessions_get_state (&f->transport, USER);
}

static PgAccount *
account (Fixture *f)
{
  PgAccount *account = pg_fake_backend_get_account (f->fake);
  g_assert_nonnull (account);
  return account;
}

/* The user comes online and the login succeeds. */
static void
log_in (Fixture *f)
{
  available (f, PHONE);
  g_assert_cmpstr (state (f), ==, "connecting");
  pg_fake_account_connected (account (f));
  g_assert_cmpstr (state (f), ==, "online");
}

/* Waits for the confirmation the outbox asks for after handing rows over
 * (PG_OUTBOX_CONFIRM_DELAY_MS) and returns its serial. */
static guint64
wait_confirm_sent (Fixture *f)
{
  guint before = pg_fake_backend_count (f->fake, "confirm_sent");
  RUN_UNTIL (pg_fake_backend_count (f->fake, "confirm_sent") > before, 1000);
  g_assert_cmpuint (pg_fake_backend_count (f->fake, "confirm_sent"), ==, before + 1);
  return pg_fake_backend_get_last_serial (f->fake);
}

/* ---- fixture ---- */

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("pg-test-delivery-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *conf = g_build_filename (f->dir, "purplegate.conf", NULL);
  g_autofree char *db = g_build_filename (f->dir, "purplegate.db", NULL);
  g_autofree char *key = g_build_filename (f->dir, "purplegate.key", NULL);
  g_assert_true (g_file_set_contents (conf,
                                      "[component]\njid = " GW "\nsecret = s\n"
                                      "[legacy]\nprotocol = prpl-irc\nname = IRC\n",
                                      -1, &error));
  f->transport.config = pg_config_load (conf, &error);
  g_assert_no_error (error);
  f->transport.legacy_name = g_strdup ("IRC");
  f->transport.store = pg_store_open (db, key, &error);
  g_assert_no_error (error);
  g_assert_true (pg_store_put_user (f->transport.store, USER, "u", "pw", &error));
  f->transport.is_registered = pg_inband_is_registered;
  static const char *const no_dirs[] = { NULL };
  f->transport.i18n = pg_i18n_new (no_dirs);
  f->fake = pg_fake_backend_new ();
  f->transport.backend = pg_fake_backend_get_backend (f->fake);
  f->sent = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  f->transport.stream = pg_stream_new_tap (capture, f);
  f->transport.router = pg_router_new (GW, send_from_router, &f->transport);
  /* In daemon/daemon.c's order. */
  pg_rooms_register (&f->transport);
  pg_ping_register (&f->transport);
  pg_outbox_register (&f->transport);
  pg_sessions_register (&f->transport);
  pg_outbox_link_up (&f->transport);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->transport.sessions, pg_sessions_free);
  g_assert_cmpuint (pg_fake_backend_count_accounts (f->fake), ==, 0);
  g_clear_pointer (&f->transport.ping, pg_ping_free);
  g_clear_pointer (&f->transport.privilege, pg_privilege_free);
  g_clear_pointer (&f->transport.outbox, pg_outbox_free);
  g_clear_pointer (&f->transport.stream, pg_stream_free);
  g_clear_pointer (&f->transport.router, pg_router_free);
  g_clear_pointer (&f->transport.store, pg_store_free);
  g_clear_pointer (&f->fake, pg_fake_backend_free);
  g_clear_pointer (&f->transport.i18n, pg_i18n_free);
  g_clear_pointer (&f->transport.config, pg_config_free);
  g_free (f->transport.legacy_name);
  g_ptr_array_unref (f->sent);
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_free (f->dir);
}

/* ---- the user's messages: order ---- */

/* Messages written while the login connects are stored, and handed over in
 * order after login, before a message written once it is online. */
static void
test_order_backlog_first (Fixture *f, gconstpointer data)
{
  available (f, PHONE);
  ASSERT_LOG (f, NULL, "start prpl-irc pw \nconnect\n");
  say (f, "bob", "m1", "one");
  say (f, "carol", "m2", "two");
  say (f, "bob", "m3", "three");
  ASSERT_LOG (f, "send_message", "");
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_LEGACY), ==, 3);
  g_assert_cmpuint (count_bounces (f), ==, 0);

  pg_fake_account_connected (account (f));
  say (f, "bob", "m4", "four");
  ASSERT_LOG (f, "send_message",
              "send_message 1 bob one\nsend_message 2 carol two\nsend_message 3 bob three\n"
              "send_message 4 bob four\n");
  /* Handed over is not delivered: the rows stay until confirmed. */
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_LEGACY), ==, 4);
}

/* ---- acknowledgements ---- */

/* Rows go, and receipts are sent, only once a confirmation covering them
 * comes back; several confirmations may be under way at a time. */
static void
test_ack_confirmations (Fixture *f, gconstpointer data)
{
  log_in (f);
  say (f, "bob", "m1", "one");
  say (f, "bob", "m2", "two");
  guint64 first = wait_confirm_sent (f);
  say (f, "carol", "m3", "three");
  guint64 second = wait_confirm_sent (f);
  g_assert_cmpuint (second, >, first);
  ASSERT_LOG (f, "send_message",
              "send_message 1 bob one\nsend_message 2 bob two\nsend_message 3 carol three\n");
  g_assert_false (has_receipt (f, "m1"));
  ASSERT_STORED_IDS (f, "1 2 3 ");

  pg_fake_account_sent_confirmed (account (f), first);
  g_assert_true (has_receipt (f, "m1"));
  g_assert_true (has_receipt (f, "m2"));
  g_assert_false (has_receipt (f, "m3"));
  ASSERT_STORED_IDS (f, "3 ");

  /* A confirmation seen already changes nothing. */
  pg_fake_account_sent_confirmed (account (f), first);
  ASSERT_STORED_IDS (f, "3 ");
  pg_fake_account_sent_confirmed (account (f), second);
  g_assert_true (has_receipt (f, "m3"));
  ASSERT_STORED_IDS (f, "");
  g_assert_cmpuint (count_bounces (f), ==, 0);
}

/* A later confirmation covers every earlier one (the server answers in
 * order); one with an unknown serial covers nothing. */
static void
test_ack_later_covers_earlier (Fixture *f, gconstpointer data)
{
  log_in (f);
  say (f, "bob", "m1", "one");
  guint64 first = wait_confirm_sent (f);
  say (f, "bob", "m2", "two");
  guint64 second = wait_confirm_sent (f);
  say (f, "bob", "m3", "three"); /* its confirmation is not asked for yet */

  pg_fake_account_sent_confirmed (account (f), first - 1);
  ASSERT_STORED_IDS (f, "1 2 3 ");
  pg_fake_account_sent_confirmed (account (f), second);
  ASSERT_STORED_IDS (f, "3 ");
  g_assert_true (has_receipt (f, "m1"));
  g_assert_true (has_receipt (f, "m2"));
  g_assert_false (has_receipt (f, "m3"));
}

/* Without a round trip on the protocol, a row goes when the protocol has
 * taken it. */
static void
test_ack_without_round_trip (Fixture *f, gconstpointer data)
{
  pg_fake_backend_set_round_trip (f->fake, FALSE);
  log_in (f);
  say (f, "bob", "m1", "one");
  g_assert_false (has_receipt (f, "m1"));
  RUN_UNTIL (pg_fake_backend_count (f->fake, "confirm_sent") > 0, 1000);
  ASSERT_LOG (f, "confirm_sent", "confirm_sent 1 refused\n");
  g_assert_cmpuint (count_receipts (f, "m1"), ==, 1);
  ASSERT_STORED_IDS (f, "");
}

/* The login cannot be asked (its connection is going, with prpl-irc's
 * queue): no receipt, and the row stays, asked about once.  The login's end
 * puts it back in line: the next login is handed it once, before what came
 * meanwhile, and its confirmation receipts it once. */
static void
test_ack_unavailable_resent (Fixture *f, gconstpointer data)
{
  log_in (f);
  pg_fake_backend_set_confirm (f->fake, PG_CONFIRM_UNAVAILABLE);
  say (f, "bob", "m1", "one");
  RUN_UNTIL (pg_fake_backend_count (f->fake, "confirm_sent") > 0, 1000);
  run_for (3 * PG_OUTBOX_CONFIRM_DELAY_MS);
  ASSERT_LOG (f, "confirm_sent", "confirm_sent 1 unavailable\n");
  g_assert_false (has_receipt (f, "m1"));
  ASSERT_STORED_IDS (f, "1 ");

  pg_fake_backend_set_confirm (f->fake, PG_CONFIRM_ASKED);
  pg_fake_backend_clear (f->fake);
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_NETWORK, "connection reset");
  say (f, "carol", "m2", "two");
  RUN_UNTIL (pg_fake_backend_count (f->fake, "connect") > 0, 1900);
  pg_fake_account_connected (account (f));
  ASSERT_LOG (f, "send_message", "send_message 1 bob one\nsend_message 2 carol two\n");
  g_assert_false (has_receipt (f, "m1"));
  pg_fake_account_sent_confirmed (account (f), wait_confirm_sent (f));
  g_assert_cmpuint (count_receipts (f, "m1"), ==, 1);
  g_assert_cmpuint (count_receipts (f, "m2"), ==, 1);
  ASSERT_STORED_IDS (f, "");
  run_for (3 * PG_OUTBOX_CONFIRM_DELAY_MS);
  ASSERT_LOG (f, "send_message", "send_message 1 bob one\nsend_message 2 carol two\n");
  g_assert_cmpuint (count_receipts (f, "m1"), ==, 1);
}

/* A login that could not be asked once and lives on: the confirmation
 * asked after the next message covers the earlier row too. */
static void
test_ack_unavailable_covered_later (Fixture *f, gconstpointer data)
{
  log_in (f);
  pg_fake_backend_set_confirm (f->fake, PG_CONFIRM_UNAVAILABLE);
  say (f, "bob", "m1", "one");
  RUN_UNTIL (pg_fake_backend_count (f->fake, "confirm_sent") > 0, 1000);
  g_assert_false (has_receipt (f, "m1"));
  ASSERT_STORED_IDS (f, "1 ");

  pg_fake_backend_set_confirm (f->fake, PG_CONFIRM_ASKED);
  say (f, "bob", "m2", "two");
  guint64 serial = wait_confirm_sent (f);
  ASSERT_STORED_IDS (f, "1 2 ");
  pg_fake_account_sent_confirmed (account (f), serial);
  g_assert_cmpuint (count_receipts (f, "m1"), ==, 1);
  g_assert_cmpuint (count_receipts (f, "m2"), ==, 1);
  ASSERT_STORED_IDS (f, "");
  ASSERT_LOG (f, "send_message", "send_message 1 bob one\nsend_message 2 bob two\n");
}

/* A clean stop asks the logins at once; a row a login cannot confirm is
 * not receipted and stays stored, for the next start, and the login is
 * asked once, not at every turn of the wait. */
static void
test_ack_unavailable_at_stop (Fixture *f, gconstpointer data)
{
  log_in (f);
  say (f, "bob", "m1", "one");
  pg_fake_backend_set_confirm (f->fake, PG_CONFIRM_UNAVAILABLE);
  pg_outbox_drain (&f->transport, 300);
  ASSERT_LOG (f, "confirm_sent", "confirm_sent 1 unavailable\n");
  g_assert_false (has_receipt (f, "m1"));
  ASSERT_STORED_IDS (f, "1 ");
  g_clear_pointer (&f->transport.sessions, pg_sessions_free);
  g_assert_false (has_receipt (f, "m1"));
  ASSERT_STORED_IDS (f, "1 ");
}

/* ---- bounces ---- */

/* The refused event names one message: that one is bounced, and no other,
 * though others to the same name wait for the same confirmation (the
 * contact got them before leaving). */
static void
test_bounce_refused (Fixture *f, gconstpointer data)
{
  log_in (f);
  say (f, "bob", "m1", "one");
  say (f, "carol", "m2", "two");
  say (f, "bob", "m3", "three");
  guint64 first = wait_confirm_sent (f);
  say (f, "bob", "m4", "four"); /* after that confirmation's PING */
  ASSERT_LOG (f, "send_message",
              "send_message 1 bob one\nsend_message 2 carol two\nsend_message 3 bob three\n"
              "send_message 4 bob four\n");

  pg_fake_account_refused (account (f), 3);
  g_assert_cmpuint (count_bounces (f), ==, 1);
  const xmlNode *bounce = find_bounce (f, "m3");
  g_assert_nonnull (bounce);
  g_assert_cmpstr (condition_of (bounce), ==, "service-unavailable");
  g_assert_cmpstr (pg_stanza_get_attr (bounce, "to"), ==, PHONE);
  g_assert_cmpstr (pg_stanza_get_attr (bounce, "from"), ==, "bob@" GW);
  g_autofree char *body = pg_stanza_dup_child_text (bounce, "body", NULL);
  g_assert_cmpstr (body, ==, "three");
  /* A message refused again (a line each), or one unknown: nothing more. */
  pg_fake_account_refused (account (f), 3);
  pg_fake_account_refused (account (f), 99);
  g_assert_cmpuint (count_bounces (f), ==, 1);
  /* A bounce is deleted once the server has it, like any outbox row. */
  ASSERT_STORED_IDS (f, "1 2 3 4 ");
  g_assert_cmpuint (route_pings_back (f), >, 0);
  ASSERT_STORED_IDS (f, "1 2 4 ");

  pg_fake_account_sent_confirmed (account (f), first);
  g_assert_true (has_receipt (f, "m1"));
  g_assert_true (has_receipt (f, "m2"));
  g_assert_false (has_receipt (f, "m3"));
  g_assert_false (has_receipt (f, "m4"));
  ASSERT_STORED_IDS (f, "4 ");
}

/* A row the protocol refuses for good comes back to its sender; one that
 * failed because the login is ending waits for the next login. */
static void
test_bounce_send_failed (Fixture *f, gconstpointer data)
{
  log_in (f);
  say (f, "bob", "m1", "one");
  say (f, "bob", "m2", "two");
  say (f, "bob", "m3", "three");

  pg_fake_account_send_failed (account (f), 1, TRUE, "the login is ending");
  g_assert_cmpuint (count_bounces (f), ==, 0);
  pg_fake_account_send_failed (account (f), 2, FALSE, "message too long");
  g_assert_cmpuint (count_bounces (f), ==, 1);
  const xmlNode *bounce = find_bounce (f, "m2");
  g_assert_nonnull (bounce);
  g_assert_cmpstr (condition_of (bounce), ==, "service-unavailable");
  g_autofree char *text = pg_stanza_dup_child_text (pg_stanza_get_error (bounce), "text", PG_NS_STANZAS);
  g_assert_cmpstr (text, ==, "message too long");

  guint64 serial = wait_confirm_sent (f);
  route_pings_back (f);
  ASSERT_STORED_IDS (f, "1 3 ");
  pg_fake_account_sent_confirmed (account (f), serial);
  g_assert_true (has_receipt (f, "m1"));
  g_assert_false (has_receipt (f, "m2"));
  g_assert_true (has_receipt (f, "m3"));
  ASSERT_STORED_IDS (f, "");
}

/* ---- reconnection ---- */

/* A network failure: the user hears it once, the login is tried again
 * after the backoff, and what the lost login took without confirmation is
 * handed over again, in order, before what came meanwhile. */
static void
test_reconnect_network (Fixture *f, gconstpointer data)
{
  log_in (f);
  say (f, "bob", "m1", "one");
  say (f, "bob", "m2", "two");
  guint64 serial = wait_confirm_sent (f);
  pg_fake_backend_clear (f->fake);
  gint64 lost_at = g_get_monotonic_time ();
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_NETWORK, "connection reset");
  ASSERT_LOG (f, NULL, "free\n");
  g_assert_cmpstr (state (f), ==, "reconnect-wait");
  g_assert_cmpuint (count_headlines (f, "Connection to the legacy network lost"), ==, 1);
  const xmlNode *presence = last_transport_presence (f, NULL);
  g_autofree char *show = pg_stanza_dup_child_text (presence, "show", NULL);
  g_autofree char *status = pg_stanza_dup_child_text (presence, "status", NULL);
  g_assert_cmpstr (show, ==, "xa");
  g_assert_cmpstr (status, ==, "connection reset");
  say (f, "carol", "m3", "three");
  ASSERT_STORED_IDS (f, "1 2 3 ");

  /* PG_SESSION_BACKOFF_MIN_S, and a quarter of it as jitter at most. */
  RUN_UNTIL (pg_fake_backend_count (f->fake, "connect") > 0, 1900);
  gint64 waited_ms = (g_get_monotonic_time () - lost_at) / 1000;
  g_assert_cmpint (waited_ms, >=, PG_SESSION_BACKOFF_MIN_S * 1000);
  g_assert_cmpint (waited_ms, <, PG_SESSION_BACKOFF_MIN_S * 1250 + 300);
  ASSERT_LOG (f, NULL, "free\nstart prpl-irc pw \nconnect\n");
  g_assert_cmpstr (state (f), ==, "connecting");
  pg_fake_backend_clear (f->fake);

  pg_fake_account_connected (account (f));
  ASSERT_LOG (f, "send_message",
              "send_message 1 bob one\nsend_message 2 bob two\nsend_message 3 carol three\n");
  /* A login puts the backoff back to its minimum. */
  g_assert_cmpuint (pg_sessions_lookup (f->transport.sessions, USER)->backoff_s, ==,
                    PG_SESSION_BACKOFF_MIN_S);
  /* The lost login's confirmation no longer counts. */
  pg_fake_account_sent_confirmed (account (f), serial);
  ASSERT_STORED_IDS (f, "1 2 3 ");
  pg_fake_account_sent_confirmed (account (f), wait_confirm_sent (f));
  ASSERT_STORED_IDS (f, "");
  g_assert_true (has_receipt (f, "m3"));
  g_assert_cmpuint (count_headlines (f, "Connection to the legacy network lost"), ==, 1);
}

/* The backoff doubles after each failed attempt. */
static void
test_reconnect_backoff (Fixture *f, gconstpointer data)
{
  log_in (f);
  PgSession *session = pg_sessions_lookup (f->transport.sessions, USER);
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_NETWORK, "unreachable");
  g_assert_cmpuint (session->backoff_s, ==, 2 * PG_SESSION_BACKOFF_MIN_S);
  g_assert_cmpuint (session->retry_id, !=, 0);
  RUN_UNTIL (pg_fake_backend_get_account (f->fake) != NULL, 1900);
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_NETWORK, "unreachable");
  g_assert_cmpuint (session->backoff_s, ==, 4 * PG_SESSION_BACKOFF_MIN_S);
  /* Once per outage: the failed retry sends no second headline. */
  g_assert_cmpuint (count_headlines (f, "Connection to the legacy network lost"), ==, 1);
  /* The next attempt waits the doubled delay (plus jitter). */
  GSource *retry = g_main_context_find_source_by_id (NULL, session->retry_id);
  g_assert_nonnull (retry);
  gint64 delay_ms = (g_source_get_ready_time (retry) - g_get_monotonic_time ()) / 1000;
  g_assert_cmpint (delay_ms, >, 2 * PG_SESSION_BACKOFF_MIN_S * 1000 - 100);
  g_assert_cmpint (delay_ms, <=, 2 * PG_SESSION_BACKOFF_MIN_S * 1250);
  g_assert_null (pg_fake_backend_get_account (f->fake));
}

/* The process serving the login ended: the login is tried again after
 * 500 ms, without backoff, and the user hears it once. */
static void
test_reconnect_internal (Fixture *f, gconstpointer data)
{
  log_in (f);
  PgSession *session = pg_sessions_lookup (f->transport.sessions, USER);
  say (f, "bob", "m1", "one");
  pg_fake_backend_clear (f->fake);
  gint64 lost_at = g_get_monotonic_time ();
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_INTERNAL, "the worker crashed");
  g_assert_cmpstr (state (f), ==, "reconnect-wait");
  g_assert_cmpuint (count_headlines (f, "Connection to the legacy network lost"), ==, 1);
  const xmlNode *presence = last_transport_presence (f, NULL);
  g_autofree char *show = pg_stanza_dup_child_text (presence, "show", NULL);
  g_autofree char *status = pg_stanza_dup_child_text (presence, "status", NULL);
  g_assert_cmpstr (show, ==, "xa");
  g_assert_cmpstr (status, ==, "The connection to IRC was lost because of an internal error; reconnecting.");

  RUN_UNTIL (pg_fake_backend_count (f->fake, "connect") > 0, 1000);
  gint64 waited_ms = (g_get_monotonic_time () - lost_at) / 1000;
  g_assert_cmpint (waited_ms, >=, 500);
  g_assert_cmpint (waited_ms, <, 800);
  g_assert_cmpuint (session->backoff_s, ==, PG_SESSION_BACKOFF_MIN_S);

  /* Again while connecting: again 500 ms, and no second headline. */
  lost_at = g_get_monotonic_time ();
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_INTERNAL, "the worker crashed");
  RUN_UNTIL (pg_fake_backend_count (f->fake, "connect") > 1, 1000);
  waited_ms = (g_get_monotonic_time () - lost_at) / 1000;
  g_assert_cmpint (waited_ms, >=, 500);
  g_assert_cmpint (waited_ms, <, 800);
  g_assert_cmpuint (count_headlines (f, "Connection to the legacy network lost"), ==, 1);

  pg_fake_backend_clear (f->fake);
  pg_fake_account_connected (account (f));
  ASSERT_LOG (f, "send_message", "send_message 1 bob one\n");
}

/* ---- refused logins ---- */

/* Wrong credentials: an error presence, no retry, and the queue goes back
 * to its senders. */
static void
test_refused_auth (Fixture *f, gconstpointer data)
{
  available (f, PHONE);
  say (f, "bob", "m1", "one");
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_AUTH, "bad password");
  g_assert_cmpstr (state (f), ==, "offline");
  g_assert_cmpuint (pg_sessions_lookup (f->transport.sessions, USER)->retry_id, ==, 0);
  const xmlNode *error = last_transport_presence (f, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (condition_of (error), ==, "not-authorized");
  g_assert_cmpstr (pg_stanza_get_attr (error, "to"), ==, USER);
  g_assert_cmpuint (count_headlines (f, "Legacy login failed"), ==, 1);
  const xmlNode *bounce = find_bounce (f, "m1");
  g_assert_nonnull (bounce);
  g_assert_cmpstr (condition_of (bounce), ==, "recipient-unavailable");

  /* Not retried, whatever the user does meanwhile. */
  run_for (PG_SESSION_BACKOFF_MIN_S * 1300);
  available (f, PHONE);
  g_assert_cmpuint (pg_fake_backend_count (f->fake, "connect"), ==, 1);
  g_assert_null (pg_fake_backend_get_account (f->fake));
  say (f, "bob", "m2", "two");
  g_assert_cmpstr (condition_of (find_bounce (f, "m2")), ==, "recipient-unavailable");
  route_pings_back (f);
  ASSERT_STORED_IDS (f, "");
}

static void
test_refused_conflict (Fixture *f, gconstpointer data)
{
  available (f, PHONE);
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_CONFLICT, "u is logged in already");
  g_assert_cmpstr (state (f), ==, "offline");
  g_assert_cmpuint (pg_sessions_lookup (f->transport.sessions, USER)->retry_id, ==, 0);
  const xmlNode *error = last_transport_presence (f, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (condition_of (error), ==, "conflict");
  g_assert_cmpuint (count_headlines (f, "Legacy login failed"), ==, 1);
  run_for (700);
  g_assert_cmpuint (pg_fake_backend_count (f->fake, "connect"), ==, 1);
}

static void
test_refused_quarantined (Fixture *f, gconstpointer data)
{
  log_in (f);
  pg_fake_account_disconnected (account (f), PG_ACCOUNT_FAILURE_QUARANTINED, "set aside after 3 crashes");
  g_assert_cmpstr (state (f), ==, "offline");
  g_assert_cmpuint (pg_sessions_lookup (f->transport.sessions, USER)->retry_id, ==, 0);
  const xmlNode *error = last_transport_presence (f, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (condition_of (error), ==, "service-unavailable");
  g_assert_cmpuint (count_headlines (f, "Legacy login failed"), ==, 1);
  g_assert_cmpuint (f->transport.stats.quarantined, ==, 1);
  run_for (700);
  g_assert_cmpuint (pg_fake_backend_count (f->fake, "connect"), ==, 1);
}

/* ---- logging out ---- */

/* The login closes PG_SESSION_LOGOUT_GRACE_MS (250 ms) after the last
 * resource left, not when another one is still there. */
static void
test_logout_grace (Fixture *f, gconstpointer data)
{
  log_in (f);
  available (f, DESK);
  unavailable (f, PHONE);
  run_for (400);
  g_assert_cmpstr (state (f), ==, "online");
  g_assert_cmpuint (pg_fake_backend_count (f->fake, "free"), ==, 0);

  gint64 left_at = g_get_monotonic_time ();
  unavailable (f, DESK);
  g_assert_cmpuint (pg_fake_backend_count (f->fake, "free"), ==, 0);
  RUN_UNTIL (pg_fake_backend_count (f->fake, "free") > 0, 1000);
  gint64 waited_ms = (g_get_monotonic_time () - left_at) / 1000;
  g_assert_cmpint (waited_ms, >=, 250);
  g_assert_cmpint (waited_ms, <, 500);
  g_assert_null (state (f));
  g_assert_nonnull (last_transport_presence (f, "unavailable"));
}

/* A user back within the grace keeps the login. */
static void
test_logout_back_in_grace (Fixture *f, gconstpointer data)
{
  log_in (f);
  unavailable (f, PHONE);
  run_for (100);
  available (f, PHONE);
  run_for (400);
  g_assert_cmpstr (state (f), ==, "online");
  g_assert_cmpuint (pg_fake_backend_count (f->fake, "free"), ==, 0);
  g_assert_null (last_transport_presence (f, "unavailable"));
}

/* ---- messages to the user ---- */

/* A message from a contact is written at once and kept in memory only;
 * acknowledged, it is gone. One not acknowledged when the link drops is
 * stored, and sent again in order, before what came while it was down,
 * once the link is back; rows go when the ping after them comes back. */
static void
test_to_user_link_down (Fixture *f, gconstpointer data)
{
  log_in (f);
  pg_fake_account_message (account (f), "bob", "one");
  g_autofree char *chats = dup_chats_to_user (f);
  g_assert_cmpstr (chats, ==, "bob@" GW ":one\n");
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_USER), ==, 0);
  g_assert_cmpuint (route_pings_back (f), ==, 1);

  pg_fake_account_message (account (f), "bob", "two");
  pg_fake_account_message (account (f), "carol", "three");
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_USER), ==, 0);
  run_pending (); /* the ping after them is written, not answered */
  link_down (f);
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_USER), ==, 2);
  pg_fake_account_message (account (f), "bob", "four");
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_USER), ==, 3);

  g_ptr_array_set_size (f->sent, 0);
  f->pinged = 0;
  link_up (f);
  g_free (chats);
  chats = dup_chats_to_user (f);
  g_assert_cmpstr (chats, ==, "bob@" GW ":two\ncarol@" GW ":three\nbob@" GW ":four\n");
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_USER), ==, 3);
  g_assert_cmpuint (route_pings_back (f), >, 0);
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_USER), ==, 0);
}

/* Pings written so far. */
static guint
count_pings (Fixture *f)
{
  guint n = 0;
  for (guint i = 0; i < f->sent->len; i++)
    {
      const xmlNode *stanza = g_ptr_array_index (f->sent, i);
      n += pg_stanza_is (stanza, "iq", NULL) && pg_stanza_find_child (stanza, "ping", PG_NS_PING) != NULL;
    }
  return n;
}

/* A ping costs more than a message: passes that follow each other within
 * PG_OUTBOX_PING_GAP_MS share one, which comes when the gap is over; a
 * burst of PG_OUTBOX_PING_EVERY rows gets one at once. */
static void
test_to_user_pings_spaced (Fixture *f, gconstpointer data)
{
  (void)data;
  log_in (f);
  pg_fake_account_message (account (f), "bob", "first");
  run_pending ();
  g_assert_cmpuint (count_pings (f), ==, 1); /* none for a while: at once */
  gint64 start = g_get_monotonic_time ();
  for (int i = 0; i < 3; i++)
    {
      pg_fake_account_message (account (f), "bob", "next");
      run_pending ();
    }
  guint within_gap = count_pings (f);
  gboolean timed = g_get_monotonic_time () - start < PG_OUTBOX_PING_GAP_MS * 1000 / 2;
  g_usleep ((PG_OUTBOX_PING_GAP_MS + 1) * 1000);
  run_pending ();
  if (timed)
    {
      g_assert_cmpuint (within_gap, ==, 1);
      g_assert_cmpuint (count_pings (f), ==, 2); /* one for the three */
    }
  else
    g_test_message ("the passes took longer than the gap: the pings of the gap are not counted");
  g_assert_cmpuint (count_pings (f), >, within_gap); /* the three are covered */
  guint before_burst = count_pings (f);
  for (int i = 0; i < PG_OUTBOX_PING_EVERY; i++)
    pg_fake_account_message (account (f), "bob", "burst");
  g_assert_cmpuint (count_pings (f), ==, before_burst + 1);
  g_assert_cmpuint (route_pings_back (f), ==, before_burst + 1);
  g_assert_cmpint (stored (f, PG_OUTBOX_TO_USER), ==, 0);
}

/* ---- what the user wrote from another legacy client ---- */

/* The privileged copies of @f->sent for resource @to: the inner message's
 * body, "" for a copy that is not a <sent/> carbon to @to of the user's
 * message to bob. Owned. */
static char *
dup_copy_to (Fixture *f, const char *to)
{
  for (guint i = 0; i < f->sent->len; i++)
    {
      const xmlNode *stanza = g_ptr_array_index (f->sent, i);
      if (!pg_stanza_is (stanza, "message", NULL)
          || g_strcmp0 (pg_stanza_get_attr (stanza, "to"), "example.org")
          || !g_str_has_prefix (pg_stanza_get_attr (stanza, "id"), "pg-own-"))
        continue;
      const xmlNode *fwd = pg_stanza_find_child (
          pg_stanza_find_child (stanza, "privilege", PG_NS_PRIVILEGE_2), "forwarded", PG_NS_FORWARD);
      const xmlNode *carbon = fwd != NULL ? pg_stanza_find_child (fwd, "message", PG_NS_CLIENT) : NULL;
      if (carbon == NULL || g_strcmp0 (pg_stanza_get_attr (carbon, "to"), to) != 0)
        continue;
      const xmlNode *sent = pg_stanza_find_child (carbon, "sent", "urn:xmpp:carbons:2");
      const xmlNode *inner
          = sent != NULL ? pg_stanza_find_child (pg_stanza_find_child (sent, "forwarded", PG_NS_FORWARD),
                                                 "message", PG_NS_CLIENT)
                         : NULL;
      if (inner == NULL || g_strcmp0 (pg_stanza_get_attr (carbon, "from"), USER)
          || g_strcmp0 (pg_stanza_get_attr (inner, "from"), USER)
          || g_strcmp0 (pg_stanza_get_attr (inner, "to"), "bob@" GW))
        return g_strdup ("");
      return pg_stanza_dup_child_text (inner, "body", NULL);
    }
  return NULL;
}

/* Without the message permission the user's own words come from the
 * contact, marked, in their place; with it a carbon goes to each resource
 * through the server; once the server refused one, marked again. */
static void
test_own_messages (Fixture *f, gconstpointer data)
{
  log_in (f);
  available (f, DESK);
  pg_fake_account_own_message (account (f), "bob", FALSE, "mine &amp; yours", 0);
  pg_fake_account_message (account (f), "bob", "his");
  g_autofree char *chats = dup_chats_to_user (f);
  g_assert_cmpstr (chats, ==, "bob@" GW ":[you, from another client] mine & yours\nbob@" GW ":his\n");

  f->transport.privilege = pg_privilege_new ();
  static const char grant[]
      = "<privilege xmlns='urn:xmpp:privilege:2'><perm access='message' type='outgoing'/>"
        "</privilege>";
  xmlDoc *doc = xmlReadMemory (grant, sizeof grant - 1, "grant.xml", "UTF-8", XML_PARSE_NONET);
  g_assert_true (pg_privilege_take_grant (f->transport.privilege, "example.org", xmlDocGetRootElement (doc)));
  xmlFreeDoc (doc);
  g_ptr_array_set_size (f->sent, 0);
  pg_fake_account_own_message (account (f), "bob", FALSE, "again", 0);
  g_autofree char *to_phone = dup_copy_to (f, PHONE);
  g_autofree char *to_desk = dup_copy_to (f, DESK);
  g_assert_cmpstr (to_phone, ==, "again");
  g_assert_cmpstr (to_desk, ==, "again");
  g_free (chats);
  chats = dup_chats_to_user (f);
  g_assert_cmpstr (chats, ==, "");

  dispatch (f, "<message xmlns='jabber:component:accept' type='error' from='example.org' to='" GW "' "
               "id='pg-own-x'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
               "</error></message>");
  g_ptr_array_set_size (f->sent, 0);
  pg_fake_account_own_message (account (f), "bob", FALSE, "third", 0);
  g_free (chats);
  chats = dup_chats_to_user (f);
  g_assert_cmpstr (chats, ==, "bob@" GW ":[you, from another client] third\n");
  g_assert_null (dup_copy_to (f, PHONE));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/delivery/order/backlog-first", test_order_backlog_first);
  ADD ("/delivery/own/marked-then-carbons", test_own_messages);
  ADD ("/delivery/ack/confirmations", test_ack_confirmations);
  ADD ("/delivery/ack/later-covers-earlier", test_ack_later_covers_earlier);
  ADD ("/delivery/ack/without-round-trip", test_ack_without_round_trip);
  ADD ("/delivery/ack/unavailable-resent", test_ack_unavailable_resent);
  ADD ("/delivery/ack/unavailable-covered-later", test_ack_unavailable_covered_later);
  ADD ("/delivery/ack/unavailable-at-stop", test_ack_unavailable_at_stop);
  ADD ("/delivery/bounce/refused", test_bounce_refused);
  ADD ("/delivery/bounce/send-failed", test_bounce_send_failed);
  ADD ("/delivery/reconnect/network", test_reconnect_network);
  ADD ("/delivery/reconnect/backoff", test_reconnect_backoff);
  ADD ("/delivery/reconnect/internal", test_reconnect_internal);
  ADD ("/delivery/refused/auth", test_refused_auth);
  ADD ("/delivery/refused/conflict", test_refused_conflict);
  ADD ("/delivery/refused/quarantined", test_refused_quarantined);
  ADD ("/delivery/logout/grace", test_logout_grace);
  ADD ("/delivery/logout/back-in-grace", test_logout_back_in_grace);
  ADD ("/delivery/to-user/link-down", test_to_user_link_down);
  ADD ("/delivery/to-user/pings-spaced", test_to_user_pings_spaced);
  return g_test_run ();
}
