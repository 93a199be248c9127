/* tests/unit/test-privilege.c — XEP-0356 grants and the privileged message
 * wrapper. */
#define G_LOG_DOMAIN "pg-test-privilege"

#include "transport/privilege.h"
#include "transport/xml-parser.h"

#include <string.h>

#define STREAM_HEADER                                                                                        \
  "<stream:stream xmlns='jabber:component:accept' "                                                          \
  "xmlns:stream='http://etherx.jabber.org/streams' id='x'>"

static void
collect_stanza (xmlNode *stanza, gpointer user_data)
{
  g_ptr_array_add (user_data, stanza);
}

/* Parses @xml as the only stanza of a component stream. Caller owns it. */
static PgStanza *
parse_stanza (const char *xml)
{
  static const PgXmlParserCallbacks callbacks = { .stanza = collect_stanza };
  g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  g_autoptr (PgXmlParser) parser = pg_xml_parser_new (&callbacks, got, 0);
  g_autoptr (GError) error = NULL;
  g_autofree char *data = g_strconcat (STREAM_HEADER, xml, NULL);
  g_assert_true (pg_xml_parser_feed (parser, data, strlen (data), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, 1);
  return g_ptr_array_steal_index (got, 0);
}

/* Takes the <privilege/> of @xml, a grant message. */
static gboolean
take (PgPrivilege *priv, const char *xml)
{
  g_autoptr (PgStanza) message = parse_stanza (xml);
  return pg_privilege_take_grant (priv, "example.org", pg_stanza_first_element (message));
}

typedef struct
{
  const char *name;
  const char *grant;
  gboolean taken;
  const char *ns;
  PgPrivilegeAccess roster;
  gboolean push;
  gboolean message;
} GrantCase;

static const GrantCase grant_cases[] = {
  { "v2-both", /* XEP-0356 §4.2 example, as Prosody's mod_privilege sends it */
    "<message from='example.org' to='gw.example.org'><privilege xmlns='urn:xmpp:privilege:2'>"
    "<perm access='roster' type='both'/><perm access='message' type='outgoing'/>"
    "<perm access='presence' type='managed_entity'/></privilege></message>",
    TRUE, PG_NS_PRIVILEGE_2, PG_PRIVILEGE_BOTH, TRUE, TRUE },
  { "v2-push-false",
    "<message><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='get' push='false'/>"
    "</privilege></message>",
    TRUE, PG_NS_PRIVILEGE_2, PG_PRIVILEGE_GET, FALSE, FALSE },
  { "v2-set", /* §4.4: no pushes for set */
    "<message><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='set'/>"
    "<perm access='message' type='none'/></privilege></message>",
    TRUE, PG_NS_PRIVILEGE_2, PG_PRIVILEGE_SET, FALSE, FALSE },
  { "v1-both", /* 0.3: no pushes at all */
    "<message><privilege xmlns='urn:xmpp:privilege:1'><perm access='roster' type='both'/>"
    "<perm access='message' type='outgoing'/></privilege></message>",
    TRUE, PG_NS_PRIVILEGE_1, PG_PRIVILEGE_BOTH, FALSE, TRUE },
  { "v1-unknown-type",
    "<message><privilege xmlns='urn:xmpp:privilege:1'><perm access='roster' "
    "type='all'/></privilege></message>",
    TRUE, PG_NS_PRIVILEGE_1, PG_PRIVILEGE_NONE, FALSE, FALSE },
  { "v0-ignored",
    "<message><privilege xmlns='urn:xmpp:privilege:0'><perm namespace='jabber:iq:roster' type='both'/>"
    "</privilege></message>",
    FALSE, NULL, PG_PRIVILEGE_NONE, FALSE, FALSE },
  { "perm-of-other-ns-ignored",
    "<message><privilege xmlns='urn:xmpp:privilege:2'><perm xmlns='urn:x' access='roster' type='both'/>"
    "</privilege></message>",
    TRUE, PG_NS_PRIVILEGE_2, PG_PRIVILEGE_NONE, FALSE, FALSE },
};

static void
test_grant (gconstpointer data)
{
  const GrantCase *c = data;
  g_autoptr (PgPrivilege) priv = pg_privilege_new ();
  g_assert_cmpint (take (priv, c->grant), ==, c->taken);
  g_assert_cmpstr (pg_privilege_namespace (priv), ==, c->ns);
  g_assert_cmpint (pg_privilege_roster (priv), ==, c->roster);
  g_assert_cmpint (pg_privilege_roster_push (priv), ==, c->push);
  g_assert_cmpint (pg_privilege_message_outgoing (priv), ==, c->message);
  g_assert_cmpstr (pg_privilege_server (priv), ==, c->taken ? "example.org" : NULL);
}

static void
test_grant_v2_wins (void)
{
  g_autoptr (PgPrivilege) priv = pg_privilege_new ();
  g_assert_true (take (priv, "<message><privilege xmlns='urn:xmpp:privilege:2'>"
                             "<perm access='roster' type='both'/></privilege></message>"));
  g_assert_false (take (priv, "<message><privilege xmlns='urn:xmpp:privilege:1'>"
                              "<perm access='roster' type='none'/></privilege></message>"));
  g_assert_cmpstr (pg_privilege_namespace (priv), ==, PG_NS_PRIVILEGE_2);
  g_assert_cmpint (pg_privilege_roster (priv), ==, PG_PRIVILEGE_BOTH);
  /* A :2 grant replaces an earlier :1 grant. */
  g_autoptr (PgPrivilege) other = pg_privilege_new ();
  g_assert_true (take (other, "<message><privilege xmlns='urn:xmpp:privilege:1'>"
                              "<perm access='message' type='outgoing'/></privilege></message>"));
  g_assert_true (take (other, "<message><privilege xmlns='urn:xmpp:privilege:2'>"
                              "<perm access='roster' type='get'/></privilege></message>"));
  g_assert_false (pg_privilege_message_outgoing (other));
  g_assert_cmpint (pg_privilege_roster (other), ==, PG_PRIVILEGE_GET);
  pg_privilege_reset (other);
  g_assert_null (pg_privilege_namespace (other));
  g_assert_cmpint (pg_privilege_roster (other), ==, PG_PRIVILEGE_NONE);
}

static void
test_refuse_roster_set (void)
{
  g_autoptr (PgPrivilege) priv = pg_privilege_new ();
  g_assert_false (pg_privilege_refuse_roster_set (priv));
  g_assert_true (take (priv, "<message><privilege xmlns='urn:xmpp:privilege:1'>"
                             "<perm access='roster' type='both'/></privilege></message>"));
  g_assert_true (pg_privilege_refuse_roster_set (priv));
  g_assert_cmpint (pg_privilege_roster (priv), ==, PG_PRIVILEGE_GET);
  g_assert_false (pg_privilege_refuse_roster_set (priv)); /* once */
  g_assert_true (take (priv, "<message><privilege xmlns='urn:xmpp:privilege:2'>"
                             "<perm access='roster' type='set'/></privilege></message>"));
  g_assert_true (pg_privilege_refuse_roster_set (priv));
  g_assert_cmpint (pg_privilege_roster (priv), ==, PG_PRIVILEGE_NONE);
}

static void
test_manages (void)
{
  g_autoptr (PgPrivilege) priv = pg_privilege_new ();
  g_assert_false (pg_privilege_manages (priv, "juliet@example.org"));
  g_assert_true (take (priv, "<message><privilege xmlns='urn:xmpp:privilege:2'/></message>"));
  g_assert_true (pg_privilege_manages (priv, "juliet@example.org"));
  g_assert_false (pg_privilege_manages (priv, "romeo@montague.lit"));
  g_assert_false (pg_privilege_manages (priv, "juliet@sub.example.org"));
  g_assert_false (pg_privilege_manages (priv, "example.org"));
  g_assert_false (pg_privilege_manages (priv, "juliet@example.org/balcony"));
}

static void
test_wrap (void)
{
  g_autoptr (PgPrivilege) priv = pg_privilege_new ();
  PgStanza *inner
      = pg_stanza_new ("message", "juliet@example.org", "juliet@example.org/balcony", "chat", NULL);
  g_assert_null (pg_privilege_wrap_message (priv, "gw.example.org", "example.org", inner));

  g_assert_true (take (priv, "<message><privilege xmlns='urn:xmpp:privilege:1'>"
                             "<perm access='message' type='outgoing'/></privilege></message>"));
  inner = pg_stanza_new ("message", "juliet@example.org", "juliet@example.org/balcony", "chat", NULL);
  xmlNode *sent = pg_stanza_add_child (inner, "sent", "urn:xmpp:carbons:2");
  xmlNode *forwarded = pg_stanza_add_child (sent, "forwarded", PG_NS_FORWARD);
  g_autoptr (PgStanza) original
      = pg_stanza_new ("message", "juliet@example.org", "nurse@gw.example.org", "chat", "lg42");
  pg_stanza_add_text_child (original, "body", NULL, "On my way");
  pg_stanza_add_copy (forwarded, original);
  g_autoptr (PgStanza) wrapped = pg_privilege_wrap_message (priv, "gw.example.org", "example.org", inner);
  g_autofree char *text = pg_stanza_to_string (wrapped);
  g_assert_cmpstr (text, ==,
                   "<message from='gw.example.org' to='example.org'>"
                   "<privilege xmlns='urn:xmpp:privilege:1'><forwarded xmlns='urn:xmpp:forward:0'>"
                   "<message xmlns='jabber:client' from='juliet@example.org' to='juliet@example.org/balcony' "
                   "type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
                   "<message xmlns='jabber:client' from='juliet@example.org' to='nurse@gw.example.org' "
                   "type='chat' id='lg42'><body>On my way</body></message></forwarded></sent></message>"
                   "</forwarded></privilege></message>");
}

static void
test_wrap_received (void)
{
  /* A stanza from the stream is in jabber:component:accept: its copy and
   * its payload's unqualified children say jabber:client. */
  g_autoptr (PgPrivilege) priv = pg_privilege_new ();
  g_assert_true (take (priv, "<message><privilege xmlns='urn:xmpp:privilege:2'>"
                             "<perm access='message' type='outgoing'/></privilege></message>"));
  PgStanza *inner
      = parse_stanza ("<message from='a@example.org' to='b@gw.example.org'><body>x</body></message>");
  g_autoptr (PgStanza) wrapped = pg_privilege_wrap_message (priv, "gw.example.org", "example.org", inner);
  g_autofree char *text = pg_stanza_to_string (wrapped);
  g_assert_cmpstr (text, ==,
                   "<message from='gw.example.org' to='example.org'>"
                   "<privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'>"
                   "<message xmlns='jabber:client' from='a@example.org' to='b@gw.example.org'>"
                   "<body>x</body></message></forwarded></privilege></message>");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (grant_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/privilege/grant/%s", grant_cases[i].name);
      g_test_add_data_func (path, &grant_cases[i], test_grant);
    }
  g_test_add_func ("/privilege/grant/v2-wins", test_grant_v2_wins);
  g_test_add_func ("/privilege/manages", test_manages);
  g_test_add_func ("/privilege/refuse-roster-set", test_refuse_roster_set);
  g_test_add_func ("/privilege/wrap/carbon", test_wrap);
  g_test_add_func ("/privilege/wrap/received", test_wrap_received);
  return g_test_run ();
}
