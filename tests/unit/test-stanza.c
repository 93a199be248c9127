/* tests/unit/test-stanza.c — stanza builders, serialisation and error replies. */
#define G_LOG_DOMAIN "pg-test-stanza"

#include "transport/stanza.h"
#include "transport/xml-parser.h"
#include "transport/xml-writer.h"

#include <libxml/parser.h>
#include <string.h>

#define STREAM_HEADER                                                                                        \
  "<stream:stream xmlns='jabber:component:accept' "                                                          \
  "xmlns:stream='http://etherx.jabber.org/streams' id='x'>"

/* ---- helpers ---- */

static void
collect_stanza (xmlNode *stanza, gpointer user_data)
{
  g_ptr_array_add (user_data, stanza);
}

/* Parses @xml as the only stanza of a component stream, with the real stream
 * parser. Caller owns the result. */
static PgStanza *
parse_stanza (const char *xml)
{
  static const PgXmlParserCallbacks callbacks = { .stanza = collect_stanza };
  g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  g_autoptr (PgXmlParser) parser = pg_xml_parser_new (&callbacks, got, 0);
  g_autoptr (GError) error = NULL;
  g_autofree char *data = g_strconcat (STREAM_HEADER, xml, NULL);

  gboolean ok = pg_xml_parser_feed (parser, data, strlen (data), &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (got->len, ==, 1);
  return g_ptr_array_steal_index (got, 0);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* A canonical form of a tree that ignores prefixes, where namespaces are
 * declared and attribute order: {uri}name, sorted attributes, merged text. */
static void
dump_tree (const xmlNode *node, GString *out)
{
  g_autoptr (GPtrArray) attrs = g_ptr_array_new_with_free_func (g_free);
  for (const xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    {
      g_autofree char *value = (char *)xmlNodeGetContent ((const xmlNode *)attr);
      g_ptr_array_add (attrs,
                       g_strdup_printf ("{%s}%s=\"%s\"", attr->ns != NULL ? (const char *)attr->ns->href : "",
                                        attr->name, value));
    }
  g_ptr_array_sort (attrs, compare_strings);

  g_string_append_printf (out, "<{%s}%s", node->ns != NULL ? (const char *)node->ns->href : "", node->name);
  for (guint i = 0; i < attrs->len; i++)
    g_string_append_printf (out, " %s", (const char *)g_ptr_array_index (attrs, i));
  g_string_append_c (out, '>');

  gboolean in_text = FALSE;
  for (const xmlNode *child = node->children; child != NULL; child = child->next)
    {
      if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE)
        {
          if (!in_text)
            g_string_append_c (out, '"');
          in_text = TRUE;
          g_string_append (out, (const char *)child->content);
          continue;
        }
      if (in_text)
        g_string_append_c (out, '"');
      in_text = FALSE;
      if (child->type == XML_ELEMENT_NODE)
        dump_tree (child, out);
    }
  if (in_text)
    g_string_append_c (out, '"');
  g_string_append (out, "</>");
}

static char *
dup_dump (const xmlNode *node)
{
  GString *out = g_string_new (NULL);
  dump_tree (node, out);
  return g_string_free (out, FALSE);
}

/* Parses @bytes with plain libxml2 (not our parser): the serialiser's output
 * must be a well-formed, namespace-well-formed document by itself. */
static xmlDoc *
read_standalone (const char *bytes)
{
  xmlDoc *doc = xmlReadMemory (bytes, (int)strlen (bytes), "stanza.xml", "UTF-8",
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    g_test_message ("libxml2 refused: %s", bytes);
  g_assert_nonnull (doc);
  /* Namespace errors are not fatal in libxml2; check the root's own state. */
  return doc;
}

static void
assert_serializes_to (const xmlNode *node, const char *expected)
{
  g_autofree char *bytes = pg_stanza_to_string (node);
  g_assert_cmpstr (bytes, ==, expected);

  /* pg_stanza_serialize appends: check it against the one-shot form. */
  g_autoptr (GString) out = g_string_new ("prefix:");
  pg_stanza_serialize (node, out);
  g_assert_true (g_str_has_prefix (out->str, "prefix:"));
  g_assert_cmpstr (out->str + strlen ("prefix:"), ==, expected);
}

/* ---- builders ---- */

typedef struct
{
  const char *name, *from, *to, *type, *id;
  const char *expected;
} NewCase;

static const NewCase new_cases[] = {
  { "iq", "a", "b", "get", "1", "<iq from='a' to='b' type='get' id='1'/>" },
  { "message", NULL, "b", NULL, NULL, "<message to='b'/>" },
  { "message", "a", NULL, "chat", NULL, "<message from='a' type='chat'/>" },
  { "presence", NULL, NULL, NULL, NULL, "<presence/>" },
  { "presence", NULL, NULL, "unavailable", "p1", "<presence type='unavailable' id='p1'/>" },
  /* An empty string is a value, not an absent attribute. */
  { "iq", "", "b", "set", "", "<iq from='' to='b' type='set' id=''/>" },
};

static void
test_new_attributes (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (new_cases); i++)
    {
      const NewCase *c = &new_cases[i];
      g_autoptr (PgStanza) stanza = pg_stanza_new (c->name, c->from, c->to, c->type, c->id);

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, c->expected);
      g_assert_cmpstr ((const char *)stanza->name, ==, c->name);
      g_assert_null (stanza->ns);
      g_assert_cmpstr (pg_stanza_get_attr (stanza, "from"), ==, c->from);
      g_assert_cmpstr (pg_stanza_get_attr (stanza, "to"), ==, c->to);
      g_assert_cmpstr (pg_stanza_get_attr (stanza, "type"), ==, c->type);
      g_assert_cmpstr (pg_stanza_get_attr (stanza, "id"), ==, c->id);
      g_assert_null (pg_stanza_get_attr (stanza, "xmlns"));
      /* The stanza is the root of its own document. */
      g_assert_nonnull (stanza->doc);
      g_assert_true (xmlDocGetRootElement (stanza->doc) == stanza);
      assert_serializes_to (stanza, c->expected);
    }
}

static void
test_new_iq_result (void)
{
  g_autoptr (PgStanza) request = parse_stanza (
      "<iq type='get' from='romeo@montague.lit/orchard' to='irc.shakespeare.lit' id='v&amp;1'>"
      "<query xmlns='jabber:iq:version'/></iq>");
  g_autoptr (PgStanza) result = pg_stanza_new_iq_result (request);

  assert_serializes_to (result, "<iq from='irc.shakespeare.lit' to='romeo@montague.lit/orchard' "
                                "type='result' id='v&amp;1'/>");
  g_assert_cmpstr (pg_stanza_get_attr (result, "id"), ==, "v&1");

  /* Without from/id, the result has no to/id either. */
  g_autoptr (PgStanza) bare = pg_stanza_new ("iq", NULL, "gw", "get", NULL);
  g_autoptr (PgStanza) bare_result = pg_stanza_new_iq_result (bare);
  assert_serializes_to (bare_result, "<iq from='gw' type='result'/>");
}

static void
test_child_namespace_new (void)
{
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", "a", "b", "get", "1");
  xmlNode *query = pg_stanza_add_child (iq, "query", "jabber:iq:version");

  g_assert_true (query->parent == iq);
  g_assert_cmpstr (pg_stanza_get_ns (query), ==, "jabber:iq:version");
  g_assert_true (pg_stanza_is (query, "query", "jabber:iq:version"));
  g_assert_false (pg_stanza_is (query, "query", "jabber:iq:register"));
  g_assert_true (pg_stanza_is (query, "query", NULL));
  /* Declared on the child itself, so the tree stands alone. */
  g_assert_nonnull (query->nsDef);
  g_assert_cmpstr ((const char *)query->nsDef->href, ==, "jabber:iq:version");
  g_assert_null (query->nsDef->prefix);
  assert_serializes_to (iq, "<iq from='a' to='b' type='get' id='1'><query xmlns='jabber:iq:version'/></iq>");
}

static void
test_child_namespace_inherit (void)
{
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", "b", "a", "result", "1");
  xmlNode *query = pg_stanza_add_child (iq, "query", "jabber:iq:version");
  xmlNode *name = pg_stanza_add_text_child (query, "name", NULL, "purplegate");
  xmlNode *version = pg_stanza_add_text_child (query, "version", "jabber:iq:version", "1.0");

  g_assert_cmpstr (pg_stanza_get_ns (name), ==, "jabber:iq:version");
  g_assert_cmpstr (pg_stanza_get_ns (version), ==, "jabber:iq:version");
  g_assert_null (name->nsDef);
  g_assert_null (version->nsDef);
  assert_serializes_to (iq, "<iq from='b' to='a' type='result' id='1'><query xmlns='jabber:iq:version'>"
                            "<name>purplegate</name><version>1.0</version></query></iq>");
}

static void
test_child_namespace_top_level (void)
{
  /* A child of an unqualified stanza stays unqualified: it inherits the
   * stream's jabber:component:accept on the wire. */
  g_autoptr (PgStanza) message = pg_stanza_new ("message", "a", "b", "chat", NULL);
  xmlNode *body = pg_stanza_add_text_child (message, "body", NULL, "hi");

  g_assert_null (pg_stanza_get_ns (body));
  g_assert_null (body->nsDef);
  assert_serializes_to (message, "<message from='a' to='b' type='chat'><body>hi</body></message>");
}

static void
test_child_namespace_nested (void)
{
  g_autoptr (PgStanza) iq = pg_stanza_new ("iq", "gw", "u", "result", "r1");
  xmlNode *query = pg_stanza_add_child (iq, "query", "jabber:iq:register");
  xmlNode *x = pg_stanza_add_child (query, "x", "jabber:x:data");
  xmlNode *field = pg_stanza_add_child (x, "field", NULL);
  pg_stanza_set_attr (field, "var", "a");
  pg_stanza_add_text_child (field, "value", NULL, "1");
  /* After a child in another namespace, NULL still means the parent's. */
  xmlNode *username = pg_stanza_add_child (query, "username", NULL);
  /* Back into the outer namespace from the inner one: declared again. */
  xmlNode *back = pg_stanza_add_child (x, "instructions", "jabber:iq:register");

  g_assert_cmpstr (pg_stanza_get_ns (field), ==, "jabber:x:data");
  g_assert_cmpstr (pg_stanza_get_ns (username), ==, "jabber:iq:register");
  g_assert_cmpstr (pg_stanza_get_ns (back), ==, "jabber:iq:register");
  assert_serializes_to (iq, "<iq from='gw' to='u' type='result' id='r1'><query xmlns='jabber:iq:register'>"
                            "<x xmlns='jabber:x:data'><field var='a'><value>1</value></field>"
                            "<instructions xmlns='jabber:iq:register'/></x><username/></query></iq>");
}

static void
test_child_text (void)
{
  g_autoptr (PgStanza) message = pg_stanza_new ("message", NULL, NULL, NULL, NULL);
  pg_stanza_add_text_child (message, "subject", NULL, NULL);
  pg_stanza_add_text_child (message, "thread", NULL, "");
  pg_stanza_add_text_child (message, "body", NULL, "text");

  assert_serializes_to (message, "<message><subject/><thread/><body>text</body></message>");
  g_autofree char *body = pg_stanza_dup_child_text (message, "body", NULL);
  g_autofree char *subject = pg_stanza_dup_child_text (message, "subject", NULL);
  g_autofree char *missing = pg_stanza_dup_child_text (message, "html", NULL);
  g_assert_cmpstr (body, ==, "text");
  g_assert_cmpstr (subject, ==, "");
  g_assert_null (missing);
}

/* ---- accessors ---- */

static void
test_access_parsed (void)
{
  g_autoptr (PgStanza) message = parse_stanza ("<message from='a@b/c' to='gw' xml:lang='fr' type='chat'>\n"
                                               "  <body>one <b xmlns='urn:x'>two</b> three</body>\n"
                                               "  <active xmlns='http://jabber.org/protocol/chatstates'/>\n"
                                               "  <body xml:lang='en'>second</body>\n"
                                               "</message>");

  g_assert_true (pg_stanza_is (message, "message", PG_NS_COMPONENT));
  g_assert_false (pg_stanza_is (message, "message", PG_NS_CLIENT));
  g_assert_false (pg_stanza_is (message, "iq", NULL));
  g_assert_false (pg_stanza_is (NULL, "message", NULL));
  g_assert_cmpstr (pg_stanza_get_lang (message), ==, "fr");
  g_assert_null (pg_stanza_get_attr (message, "lang"));
  g_assert_null (pg_stanza_get_attr (message, "id"));
  g_assert_cmpuint (pg_stanza_count_elements (message), ==, 3);

  xmlNode *first = pg_stanza_first_element (message);
  g_assert_true (pg_stanza_is (first, "body", PG_NS_COMPONENT));
  g_assert_null (pg_stanza_get_lang (first));
  g_autofree char *text = pg_stanza_dup_text (first);
  g_assert_cmpstr (text, ==, "one two three");

  xmlNode *state = pg_stanza_find_child (message, "active", "http://jabber.org/protocol/chatstates");
  g_assert_nonnull (state);
  g_assert_null (pg_stanza_find_child (message, "active", PG_NS_COMPONENT));
  g_assert_null (pg_stanza_first_element (state));
  g_assert_cmpuint (pg_stanza_count_elements (state), ==, 0);
  g_autofree char *empty = pg_stanza_dup_text (state);
  g_assert_cmpstr (empty, ==, "");

  g_assert_true (pg_stanza_find_child (message, "body", NULL) == first);
  xmlNode *second = first->next;
  while (second != NULL && !pg_stanza_is (second, "body", NULL))
    second = second->next;
  g_assert_nonnull (second);
  g_assert_cmpstr (pg_stanza_get_lang (second), ==, "en");
}

/* ---- serialisation ---- */

static void
test_serialize_escape_text (void)
{
  g_autoptr (PgStanza) message = pg_stanza_new ("message", NULL, NULL, NULL, NULL);
  pg_stanza_add_text_child (message, "body", NULL, "a & b < c > d ' \" ]]> \n\t end");

  assert_serializes_to (message,
                        "<message><body>a &amp; b &lt; c &gt; d ' \" ]]&gt; \n\t end</body></message>");
}

static void
test_serialize_escape_attribute (void)
{
  static const char value[] = "a'b\"c&d<e>f\ng\th\ri";
  g_autoptr (PgStanza) message = pg_stanza_new ("message", value, NULL, NULL, NULL);

  assert_serializes_to (message, "<message from='a&apos;b&quot;c&amp;d&lt;e&gt;f&#xA;g&#x9;h&#xD;i'/>");

  /* Attribute-value normalisation would turn raw whitespace into spaces; the
   * character references must bring back exactly what was set. */
  g_autofree char *bytes = pg_stanza_to_string (message);
  xmlDoc *doc = read_standalone (bytes);
  xmlChar *back = xmlGetProp (xmlDocGetRootElement (doc), (const xmlChar *)"from");
  g_assert_cmpstr ((const char *)back, ==, value);
  xmlFree (back);
  xmlFreeDoc (doc);
}

typedef struct
{
  const char *name;
  const char *input;    /* legacy text, possibly invalid */
  const char *expected; /* what an XML reader gets back */
} InvalidCharCase;

static const InvalidCharCase invalid_char_cases[] = {
  { "irc-controls",
    "a\x01"
    "b\x0b"
    "c\xff",
    "a\uFFFDb\uFFFDc\uFFFD" },
  { "all-c0", "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x1f|",
    "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD|" },
  { "allowed-c0", "tab\tnl\ncr\r.", "tab\tnl\ncr\r." },
  { "u+fffe", "x\xef\xbf\xbey", "x\uFFFDy" },
  { "u+ffff", "x\xef\xbf\xbfy", "x\uFFFDy" },
  { "u+fffd-kept", "x\uFFFDy", "x\uFFFDy" },
  { "del-and-c1-kept", "\x7f\xc2\x85\xc2\x9f", "\x7f\xc2\x85\xc2\x9f" },
  { "astral-kept", "\xf0\x9d\x84\x9e \xe2\x98\xba \xc3\xa9", "\xf0\x9d\x84\x9e \xe2\x98\xba \xc3\xa9" },
  { "u+10ffff-kept", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },
  { "latin1-byte", "caf\xe9!", NULL },
  { "truncated", "ab\xe2\x98", NULL },
  { "overlong", "\xc0\xaf\xe0\x80\xaf", NULL },
  { "surrogate", "\xed\xa0\x80\xed\xbf\xbf", NULL },
  { "beyond-10ffff", "\xf4\x90\x80\x80", NULL },
  { "continuation-only", "\x80\xbf", NULL },
};

/* NULL expected: the exact number of U+FFFD is the serialiser's business; the
 * output must be valid, contain U+FFFD, and keep the ASCII around it. */
static void
check_invalid_char_result (const InvalidCharCase *c, const char *got)
{
  g_assert_true (g_utf8_validate (got, -1, NULL));
  if (c->expected != NULL)
    {
      g_assert_cmpstr (got, ==, c->expected);
      return;
    }
  g_assert_nonnull (strstr (got, "\uFFFD"));
  for (const char *p = got; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar ch = g_utf8_get_char (p);
      g_assert_true (ch == 0xFFFD || (ch < 0x80 && strchr (c->input, (int)ch) != NULL));
    }
}

static void
test_serialize_invalid_chars (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (invalid_char_cases); i++)
    {
      const InvalidCharCase *c = &invalid_char_cases[i];
      g_test_message ("case %s", c->name);

      g_autoptr (PgStanza) message = pg_stanza_new ("message", "gw", "u", "chat", c->input);
      pg_stanza_add_text_child (message, "body", NULL, c->input);
      g_autofree char *bytes = pg_stanza_to_string (message);
      g_assert_true (g_utf8_validate (bytes, -1, NULL));

      xmlDoc *doc = read_standalone (bytes);
      xmlNode *root = xmlDocGetRootElement (doc);
      g_autofree char *text = pg_stanza_dup_child_text (root, "body", NULL);
      check_invalid_char_result (c, text);
      /* The same rules in attribute values. */
      check_invalid_char_result (c, pg_stanza_get_attr (root, "id"));
      xmlFreeDoc (doc);

      /* Our own stream parser must accept it as well. */
      g_autoptr (PgStanza) reparsed = parse_stanza (bytes);
      g_autofree char *text2 = pg_stanza_dup_child_text (reparsed, "body", NULL);
      check_invalid_char_result (c, text2);
    }
}

static void
test_serialize_xml_lang (void)
{
  g_autoptr (PgStanza) message = pg_stanza_new ("message", "a", "b", NULL, NULL);
  pg_stanza_set_attr (message, "xml:lang", "en");
  xmlNode *body = pg_stanza_add_text_child (message, "body", NULL, "hello");
  pg_stanza_set_attr (body, "xml:lang", "de");

  g_assert_cmpstr (pg_stanza_get_lang (message), ==, "en");
  g_assert_cmpstr (pg_stanza_get_lang (body), ==, "de");
  g_assert_null (pg_stanza_get_attr (message, "lang"));
  g_assert_null (pg_stanza_get_attr (message, "xml:lang"));
  assert_serializes_to (message,
                        "<message from='a' to='b' xml:lang='en'><body xml:lang='de'>hello</body></message>");

  /* Parsed xml:lang keeps its prefix and is still never declared. */
  g_autoptr (PgStanza) parsed
      = parse_stanza ("<presence xml:lang='fr'><status xml:lang='en'>x</status></presence>");
  assert_serializes_to (parsed, "<presence xml:lang='fr'><status xml:lang='en'>x</status></presence>");
}

static void
test_serialize_prefixed_element (void)
{
  /* A stream error as a tree: prefixed element, children in another
   * namespace, a second prefixed element that must reuse the declaration. */
  xmlDoc *doc = xmlNewDoc ((const xmlChar *)"1.0");
  xmlNode *error = xmlNewDocNode (doc, NULL, (const xmlChar *)"error", NULL);
  xmlDocSetRootElement (doc, error);
  xmlSetNs (error, xmlNewNs (error, (const xmlChar *)PG_NS_STREAM, (const xmlChar *)"stream"));
  pg_stanza_add_child (error, "not-well-formed", PG_NS_STREAMS);
  xmlNode *text = pg_stanza_add_text_child (error, "text", PG_NS_STREAMS, "bad");
  pg_stanza_set_attr (text, "xml:lang", "en");
  xmlNode *again = xmlNewDocNode (doc, error->ns, (const xmlChar *)"inner", NULL);
  xmlAddChild (error, again);

  assert_serializes_to (error, "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
                               "<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                               "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>bad</text>"
                               "<stream:inner/></stream:error>");
  pg_stanza_free (error);

  /* The same from the wire. */
  g_autoptr (PgStanza) parsed
      = parse_stanza ("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                      "<stream:x><stream:y/></stream:x></stream:error>");
  assert_serializes_to (parsed, "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
                                "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                "<stream:x><stream:y/></stream:x></stream:error>");
}

static void
test_serialize_prefixed_attributes (void)
{
  g_autoptr (PgStanza) message = parse_stanza ("<message xmlns:a='urn:a' a:one='1' a:two='2' to='x'>"
                                               "<body a:three='3'>t</body></message>");
  assert_serializes_to (message, "<message xmlns:a='urn:a' a:one='1' a:two='2' to='x'>"
                                 "<body a:three='3'>t</body></message>");
}

static void
test_serialize_many_namespaces (void)
{
  /* Peers choose how many namespaces an element uses; every prefix in the
   * output must be declared whatever the count. */
  for (guint n = 1; n <= 40; n++)
    {
      g_autoptr (GString) xml = g_string_new ("<iq type='get' id='n'><query xmlns='urn:q'");
      for (guint i = 0; i < n; i++)
        g_string_append_printf (xml, " xmlns:p%u='urn:p%u' p%u:a='%u'", i, i, i, i);
      g_string_append (xml, "><p0:child/></query></iq>");
      g_test_message ("%u namespaces", n);

      g_autoptr (PgStanza) iq = parse_stanza (xml->str);
      g_autofree char *bytes = pg_stanza_to_string (iq);
      g_autoptr (PgStanza) back = parse_stanza (bytes);
      g_autofree char *want = dup_dump (iq);
      g_autofree char *got = dup_dump (back);
      g_assert_cmpstr (got, ==, want);

      /* The error reply copies the payload: same requirement. */
      g_autoptr (PgStanza) reply
          = pg_stanza_error_reply (iq, PG_ERR_SERVICE_UNAVAILABLE, PG_ERR_TYPE_DEFAULT, NULL);
      g_autofree char *reply_bytes = pg_stanza_to_string (reply);
      g_autoptr (PgStanza) reply_back = parse_stanza (reply_bytes);
      g_autofree char *want_payload = dup_dump (pg_stanza_first_element (iq));
      g_autofree char *got_payload = dup_dump (pg_stanza_first_element (reply_back));
      g_assert_cmpstr (got_payload, ==, want_payload);
    }
}

static void
test_serialize_copy (void)
{
  g_autoptr (PgStanza) source
      = parse_stanza ("<message><x xmlns='urn:x'><y><z xmlns='urn:z' k='v'/></y></x></message>");
  g_autoptr (PgStanza) target = pg_stanza_new ("message", "a", "b", NULL, NULL);
  xmlNode *y = pg_stanza_find_child (pg_stanza_first_element (source), "y", "urn:x");
  xmlNode *copy = pg_stanza_add_copy (target, y);

  g_assert_true (copy->parent == target);
  g_assert_cmpstr (pg_stanza_get_ns (copy), ==, "urn:x");
  /* The source is untouched and can go first. */
  g_clear_pointer (&source, pg_stanza_free);
  assert_serializes_to (target,
                        "<message from='a' to='b'><y xmlns='urn:x'><z xmlns='urn:z' k='v'/></y></message>");
}

/* ---- round trips ---- */

static const char *const round_trip_cases[] = {
  "<iq type='get' from='romeo@montague.lit/orchard' to='irc.shakespeare.lit' id='v1'>"
  "<query xmlns='jabber:iq:version'/></iq>",
  "<message from='romeo@montague.lit/orchard' to='nurse@irc.shakespeare.lit' type='chat' id='m&amp;1' "
  "xml:lang='en'><body>&lt;3 &amp; &quot;kisses&quot; &apos;n&apos; \xe2\x98\xba\n2nd line</body>"
  "<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message>",
  "<presence from='romeo@montague.lit/orchard' to='irc.shakespeare.lit'><show>away</show>"
  "<status xml:lang='en'>gone \xc3\xa0 la plage</status><priority>5</priority>"
  "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.org/client' "
  "ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
  "<iq type='set' from='romeo@montague.lit/orchard' to='irc.shakespeare.lit' id='reg2'>"
  "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>"
  "<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>"
  "<field var='username'><value>RomeoMontague</value></field>"
  "<field var='{urn:example:purplegate}server'><value>irc.example.net</value></field>"
  "</x></query></iq>",
  "<message from='shakespeare.lit' to='irc.shakespeare.lit' id='priv1'>"
  "<privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'>"
  "<message xmlns='jabber:client' from='juliet@shakespeare.lit' to='romeo@montague.lit' type='chat'>"
  "<body>forwarded</body></message></forwarded></privilege></message>",
  "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
  "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>oops</text></stream:error>",
  "<message to='x'><p:ext xmlns:p='urn:p' p:attr='&lt;&gt;&amp;&apos;&quot;' plain='a&#x9;b&#xA;c'>"
  "<p:inner>t</p:inner><other xmlns='urn:o'><p:deep xmlns:p='urn:p2'/></other></p:ext></message>",
  "<iq type='error' from='irc.shakespeare.lit' to='romeo@montague.lit/orchard' id='e1'>"
  "<query xmlns='urn:example:x'/><error type='cancel' code='503'>"
  "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
  "<message><body>  leading and trailing  </body><html xmlns='http://jabber.org/protocol/xhtml-im'>"
  "<body xmlns='http://www.w3.org/1999/xhtml'><p>Hi <em>there</em>!</p></body></html></message>",
  "<presence type='unavailable'/>",
  "<iq type='get' id='q'><query xmlns='urn:a' xmlns:p='urn:a' p:attr='1' attr='2'><p:item/></query></iq>",
};

static void
test_round_trip (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (round_trip_cases); i++)
    {
      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_autoptr (PgStanza) first = parse_stanza (round_trip_cases[i]);
      g_autofree char *bytes = pg_stanza_to_string (first);
      g_autoptr (PgStanza) second = parse_stanza (bytes);
      g_autofree char *want = dup_dump (first);
      g_autofree char *got = dup_dump (second);
      g_assert_cmpstr (got, ==, want);

      /* Serialisation is stable once parsed. */
      g_autofree char *again = pg_stanza_to_string (second);
      g_assert_cmpstr (again, ==, bytes);

      /* And it stands alone without the stream header's declarations,
       * except for the default namespace it deliberately leaves out. */
      xmlDoc *doc = read_standalone (bytes);
      xmlFreeDoc (doc);
    }
}

/* ---- errors ---- */

typedef struct
{
  PgErrorCondition condition;
  PgErrorType type;
  const char *name;
  const char *expected_type;
  const char *expected_code; /* NULL: no code attribute */
} ErrorCase;

/* RFC 6120 §8.3.3 types and XEP-0086 codes. */
static const ErrorCase error_cases[] = {
  { PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, "bad-request", "modify", "400" },
  { PG_ERR_CONFLICT, PG_ERR_TYPE_DEFAULT, "conflict", "cancel", "409" },
  { PG_ERR_FEATURE_NOT_IMPLEMENTED, PG_ERR_TYPE_DEFAULT, "feature-not-implemented", "cancel", "501" },
  { PG_ERR_FORBIDDEN, PG_ERR_TYPE_DEFAULT, "forbidden", "auth", "403" },
  { PG_ERR_INTERNAL_SERVER_ERROR, PG_ERR_TYPE_DEFAULT, "internal-server-error", "cancel", "500" },
  { PG_ERR_INTERNAL_SERVER_ERROR, PG_ERR_TYPE_WAIT, "internal-server-error", "wait", "500" },
  { PG_ERR_ITEM_NOT_FOUND, PG_ERR_TYPE_DEFAULT, "item-not-found", "cancel", "404" },
  { PG_ERR_JID_MALFORMED, PG_ERR_TYPE_DEFAULT, "jid-malformed", "modify", "400" },
  { PG_ERR_NOT_ACCEPTABLE, PG_ERR_TYPE_DEFAULT, "not-acceptable", "modify", "406" },
  { PG_ERR_NOT_ALLOWED, PG_ERR_TYPE_DEFAULT, "not-allowed", "cancel", "405" },
  { PG_ERR_NOT_AUTHORIZED, PG_ERR_TYPE_DEFAULT, "not-authorized", "auth", "401" },
  { PG_ERR_POLICY_VIOLATION, PG_ERR_TYPE_DEFAULT, "policy-violation", "modify", NULL },
  { PG_ERR_POLICY_VIOLATION, PG_ERR_TYPE_WAIT, "policy-violation", "wait", NULL },
  { PG_ERR_RECIPIENT_UNAVAILABLE, PG_ERR_TYPE_DEFAULT, "recipient-unavailable", "wait", "404" },
  { PG_ERR_REGISTRATION_REQUIRED, PG_ERR_TYPE_DEFAULT, "registration-required", "auth", "407" },
  { PG_ERR_REMOTE_SERVER_NOT_FOUND, PG_ERR_TYPE_DEFAULT, "remote-server-not-found", "cancel", "404" },
  { PG_ERR_REMOTE_SERVER_TIMEOUT, PG_ERR_TYPE_DEFAULT, "remote-server-timeout", "wait", "504" },
  { PG_ERR_RESOURCE_CONSTRAINT, PG_ERR_TYPE_DEFAULT, "resource-constraint", "wait", "500" },
  { PG_ERR_SERVICE_UNAVAILABLE, PG_ERR_TYPE_DEFAULT, "service-unavailable", "cancel", "503" },
  { PG_ERR_SERVICE_UNAVAILABLE, PG_ERR_TYPE_CONTINUE, "service-unavailable", "continue", "503" },
  { PG_ERR_UNDEFINED_CONDITION, PG_ERR_TYPE_DEFAULT, "undefined-condition", "cancel", "500" },
  { PG_ERR_UNDEFINED_CONDITION, PG_ERR_TYPE_MODIFY, "undefined-condition", "modify", "500" },
  { PG_ERR_UNEXPECTED_REQUEST, PG_ERR_TYPE_DEFAULT, "unexpected-request", "wait", "400" },
  { PG_ERR_UNEXPECTED_REQUEST, PG_ERR_TYPE_AUTH, "unexpected-request", "auth", "400" },
};

static const char *const error_requests[] = {
  "<iq type='get' from='romeo@montague.lit/orchard' to='irc.shakespeare.lit' id='i1'>"
  "<query xmlns='urn:example:x'/></iq>",
  "<message type='chat' from='romeo@montague.lit/orchard' to='nurse@irc.shakespeare.lit' id='m1'>"
  "<body>hi</body></message>",
  "<presence from='romeo@montague.lit/orchard' to='nurse@irc.shakespeare.lit' id='p1'/>",
};

static void
assert_error_reply (const xmlNode *request, const xmlNode *reply, const ErrorCase *c, const char *text)
{
  g_assert_cmpstr ((const char *)reply->name, ==, (const char *)request->name);
  g_assert_cmpstr (pg_stanza_get_attr (reply, "type"), ==, "error");
  g_assert_cmpstr (pg_stanza_get_attr (reply, "id"), ==, pg_stanza_get_attr (request, "id"));
  g_assert_cmpstr (pg_stanza_get_attr (reply, "from"), ==, pg_stanza_get_attr (request, "to"));
  g_assert_cmpstr (pg_stanza_get_attr (reply, "to"), ==, pg_stanza_get_attr (request, "from"));

  xmlNode *error = pg_stanza_get_error (reply);
  g_assert_nonnull (error);
  g_assert_true (pg_stanza_find_child (reply, "error", NULL) == error);
  g_assert_cmpstr (pg_stanza_get_attr (error, "type"), ==, c->expected_type);
  g_assert_cmpstr (pg_stanza_get_attr (error, "code"), ==, c->expected_code);

  /* Exactly one defined condition, then the optional text, nothing else. */
  xmlNode *condition = pg_stanza_first_element (error);
  g_assert_true (pg_stanza_is (condition, c->name, PG_NS_STANZAS));
  g_assert_null (condition->children);
  guint expected_children = text != NULL ? 2 : 1;
  g_assert_cmpuint (pg_stanza_count_elements (error), ==, expected_children);
  xmlNode *text_node = pg_stanza_find_child (error, "text", PG_NS_STANZAS);
  if (text == NULL)
    {
      g_assert_null (text_node);
      return;
    }
  g_assert_nonnull (text_node);
  g_autofree char *got_text = pg_stanza_dup_text (text_node);
  g_assert_cmpstr (got_text, ==, text);
  g_assert_cmpstr (pg_stanza_get_lang (text_node), ==, "en");
}

static void
test_error_conditions (void)
{
  for (gsize r = 0; r < G_N_ELEMENTS (error_requests); r++)
    {
      g_autoptr (PgStanza) request = parse_stanza (error_requests[r]);
      for (gsize i = 0; i < G_N_ELEMENTS (error_cases); i++)
        {
          const ErrorCase *c = &error_cases[i];
          g_test_message ("%s: %s/%s", request->name, c->name, c->expected_type);

          g_assert_cmpstr (pg_error_condition_to_string (c->condition), ==, c->name);
          g_assert_cmpstr (pg_error_type_to_string (c->type, c->condition), ==, c->expected_type);

          g_autoptr (PgStanza) reply = pg_stanza_error_reply (request, c->condition, c->type, NULL);
          assert_error_reply (request, reply, c, NULL);
          g_autoptr (PgStanza) with_text
              = pg_stanza_error_reply (request, c->condition, c->type, "Something & <else>");
          assert_error_reply (request, with_text, c, "Something & <else>");

          /* And the reply survives the wire. */
          g_autofree char *bytes = pg_stanza_to_string (with_text);
          g_autoptr (PgStanza) reparsed = parse_stanza (bytes);
          assert_error_reply (request, reparsed, c, "Something & <else>");
        }
    }
}

static void
test_error_iq_payload (void)
{
  /* The request's payload, byte for byte (RFC 6120 §8.3.1). */
  g_autoptr (PgStanza) request = parse_stanza ("<iq type='get' from='U' to='GW' id='u1'>"
                                               "<query xmlns='urn:example:x'><a k='v'>b</a></query></iq>");
  g_autoptr (PgStanza) reply
      = pg_stanza_error_reply (request, PG_ERR_SERVICE_UNAVAILABLE, PG_ERR_TYPE_DEFAULT, NULL);
  assert_serializes_to (reply, "<iq from='GW' to='U' type='error' id='u1'>"
                               "<query xmlns='urn:example:x'><a k='v'>b</a></query>"
                               "<error type='cancel' code='503'>"
                               "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                               "</error></iq>");
  /* The request is untouched. */
  g_assert_cmpuint (pg_stanza_count_elements (request), ==, 1);
  g_assert_null (pg_stanza_get_error (request));

  /* A payload in the stanza's own namespace stays in it. */
  g_autoptr (PgStanza) plain = parse_stanza ("<iq type='set' from='U' to='GW' id='u2'><foo/></iq>");
  g_autoptr (PgStanza) plain_reply
      = pg_stanza_error_reply (plain, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, NULL);
  assert_serializes_to (plain_reply,
                        "<iq from='GW' to='U' type='error' id='u2'><foo/>"
                        "<error type='modify' code='400'>"
                        "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");

  /* No payload at all, no id. */
  g_autoptr (PgStanza) empty = parse_stanza ("<iq type='get' from='U' to='GW'/>");
  g_autoptr (PgStanza) empty_reply
      = pg_stanza_error_reply (empty, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, NULL);
  assert_serializes_to (empty_reply,
                        "<iq from='GW' to='U' type='error'><error type='modify' code='400'>"
                        "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
}

static const char *const register_requests[] = {
  "<iq type='set' from='romeo@montague.lit/orchard' to='irc.shakespeare.lit' id='reg1'>"
  "<query xmlns='jabber:iq:register'><username>romeo</username>"
  "<password>Sup3r-S3cret-PW</password></query></iq>",
  "<iq type='set' from='romeo@montague.lit/orchard' to='irc.shakespeare.lit' id='reg2'>"
  "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>"
  "<field var='FORM_TYPE'><value>jabber:iq:register</value></field>"
  "<field var='username'><value>romeo</value></field>"
  "<field var='password'><value>Sup3r-S3cret-PW</value></field></x></query></iq>",
  /* In parentheses: clang takes two adjacent literals for a missing comma. */
  ("<iq type='set' from='romeo@montague.lit/orchard' to='irc.shakespeare.lit' id='reg3'>"
   "<query xmlns='jabber:iq:register' secret='Sup3r-S3cret-PW'><remove/></query></iq>"),
};

static void
test_error_register_payload (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (register_requests); i++)
    {
      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_autoptr (PgStanza) request = parse_stanza (register_requests[i]);
      g_autoptr (PgStanza) reply = pg_stanza_error_reply (request, PG_ERR_NOT_ACCEPTABLE, PG_ERR_TYPE_DEFAULT,
                                                          "The legacy network refused the credentials");
      g_autofree char *bytes = pg_stanza_to_string (reply);
      g_assert_null (strstr (bytes, "Sup3r-S3cret-PW"));
      g_assert_null (strstr (bytes, "romeo</"));

      xmlNode *query = pg_stanza_first_element (reply);
      g_assert_true (pg_stanza_is (query, "query", "jabber:iq:register"));
      g_assert_null (query->children);
      g_assert_null (query->properties);
      g_assert_nonnull (pg_stanza_get_error (reply));
      g_assert_true (g_str_has_prefix (bytes,
                                       "<iq from='irc.shakespeare.lit' to='romeo@montague.lit/orchard' "
                                       "type='error' id='reg"));
      g_assert_nonnull (strstr (bytes, "'><query xmlns='jabber:iq:register'/><error type='modify' code='406'>"
                                       "<not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                                       "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>"
                                       "The legacy network refused the credentials</text></error></iq>"));
    }
}

static void
test_error_no_payload (void)
{
  g_autoptr (PgStanza) message = parse_stanza ("<message from='u@s/r' to='c@gw' type='chat' id='m1'>"
                                               "<body>secret body</body><thread>t</thread></message>");
  g_autoptr (PgStanza) message_reply
      = pg_stanza_error_reply (message, PG_ERR_SERVICE_UNAVAILABLE, PG_ERR_TYPE_DEFAULT, "Gone & away");
  assert_serializes_to (message_reply, "<message from='c@gw' to='u@s/r' type='error' id='m1'>"
                                       "<error type='cancel' code='503'>"
                                       "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                                       "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>"
                                       "Gone &amp; away</text></error></message>");

  g_autoptr (PgStanza) presence
      = parse_stanza ("<presence from='u@s/r' to='c@gw'><status>s</status>"
                      "<c xmlns='http://jabber.org/protocol/caps' ver='v'/></presence>");
  g_autoptr (PgStanza) presence_reply
      = pg_stanza_error_reply (presence, PG_ERR_REGISTRATION_REQUIRED, PG_ERR_TYPE_DEFAULT, NULL);
  assert_serializes_to (presence_reply, "<presence from='c@gw' to='u@s/r' type='error'>"
                                        "<error type='auth' code='407'>"
                                        "<registration-required xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                                        "</error></presence>");
}

/* Text written directly is what the tree serialiser writes for the same
 * stanza: the chat message path uses one, everything else the other. Each
 * body also stands as an attribute's value; the first is broken UTF-8, the
 * second valid with every byte either writer treats apart. */
static void
test_writer_matches_serializer (void)
{
  static const char *const bodies[] = {
    "a < b & c > 'd' \"e\"\n\ttab \x01 \xff end \xf0\x9f\x98\x80",
    "a < b & c > 'd' \"e\"\n\ttab\r \x01\x1f \xef\xbf\xbe \xef\xbf\xbf \xef\xbf\xbd \xc3\xa9 end "
    "\xf0\x9f\x98\x80",
  };
  const char *from = "o'k\\27@gw.example.org";

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      const char *body = bodies[i];
      g_autoptr (PgStanza) tree = pg_stanza_new ("message", from, "u@example.org", "chat", "id&1");
      pg_stanza_add_text_child (tree, "body", NULL, body);
      pg_stanza_add_child (tree, "active", "http://jabber.org/protocol/chatstates");
      pg_stanza_set_attr (pg_stanza_add_child (tree, "origin-id", "urn:xmpp:sid:0"), "id", body);
      g_autoptr (GString) expected = g_string_new (NULL);
      pg_stanza_serialize (tree, expected);

      /* After every length of what the string held before: each piece
       * meets the end of the string's allocation somewhere. */
      for (gsize before = 0; before < 80; before++)
        {
          g_autoptr (GString) text = g_string_sized_new (1);
          for (gsize k = 0; k < before; k++)
            g_string_append_c (text, 'x');
          pg_xml_write_start (text, "message", "from", from, "to", "u@example.org", "type", "chat", "id",
                              "id&1", "absent", NULL, NULL);
          pg_xml_write_text (text, "body", body);
          pg_xml_write_empty (text, "active", "xmlns", "http://jabber.org/protocol/chatstates", NULL);
          pg_xml_write_empty (text, "origin-id", "xmlns", "urn:xmpp:sid:0", "id", body, NULL);
          pg_xml_write_end (text, "message");
          g_assert_cmpuint (text->len, ==, before + expected->len);
          g_assert_cmpuint (strlen (text->str), ==, text->len);
          g_assert_cmpstr (text->str + before, ==, expected->str);
          /* Well-formed, whatever the body held. */
          xmlDoc *doc
              = xmlReadMemory (text->str + before, (int)(text->len - before), NULL, "UTF-8", XML_PARSE_NONET);
          g_assert_nonnull (doc);
          xmlFreeDoc (doc);
        }
    }
}

/* The escapes themselves, spelt out: the serialiser above escapes with
 * the same function. */
static void
test_writer_escapes (void)
{
  const char *valid
      = "a < b & c > 'd' \"e\"\n\ttab\r \x01\x1f \xef\xbf\xbe \xef\xbf\xbf \xef\xbf\xbd \xc3\xa9 "
        "\xf0\x9f\x98\x80";
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GString) attribute = g_string_new (NULL);
  g_autoptr (GString) broken = g_string_new (NULL);

  pg_xml_append_escaped (text, valid, FALSE);
  g_assert_cmpstr (
      text->str, ==,
      "a &lt; b &amp; c &gt; 'd' \"e\"\n\ttab&#xD; \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd "
      "\xef\xbf\xbd \xc3\xa9 \xf0\x9f\x98\x80");
  pg_xml_append_escaped (attribute, valid, TRUE);
  g_assert_cmpstr (
      attribute->str, ==,
      "a &lt; b &amp; c &gt; &apos;d&apos; &quot;e&quot;&#xA;&#x9;tab&#xD; \xef\xbf\xbd\xef\xbf\xbd "
      "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd \xc3\xa9 \xf0\x9f\x98\x80");
  pg_xml_append_escaped (broken, "x\xff<\xc3", FALSE);
  g_assert_cmpstr (broken->str, ==, "x\xef\xbf\xbd&lt;\xef\xbf\xbd");

  /* ASCII to the end, and ASCII before a broken sequence. */
  g_autoptr (GString) ascii = g_string_new (NULL);
  pg_xml_append_escaped (ascii, "a<b&c>\x01\r\t\n'\"", FALSE);
  g_assert_cmpstr (ascii->str, ==, "a&lt;b&amp;c&gt;\xef\xbf\xbd&#xD;\t\n'\"");
  g_string_truncate (ascii, 0);
  pg_xml_append_escaped (ascii, "a<b&c>\x01\r\t\n'\"", TRUE);
  g_assert_cmpstr (ascii->str, ==, "a&lt;b&amp;c&gt;\xef\xbf\xbd&#xD;&#x9;&#xA;&apos;&quot;");
  g_string_truncate (ascii, 0);
  pg_xml_append_escaped (ascii, "<a>\xc3(\xc3\xa9", TRUE);
  g_assert_cmpstr (ascii->str, ==, "&lt;a&gt;\xef\xbf\xbd(\xc3\xa9");
}

/* The escapes of ASCII text, one byte at a time, as XML wants them. */
static void
reference_escape (GString *out, const char *text, gboolean in_attribute)
{
  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '&':
        g_string_append (out, "&amp;");
        break;
      case '<':
        g_string_append (out, "&lt;");
        break;
      case '>':
        g_string_append (out, "&gt;");
        break;
      case '\r':
        g_string_append (out, "&#xD;");
        break;
      case '\'':
      case '"':
      case '\n':
      case '\t':
        if (in_attribute)
          g_string_append_printf (out, "%s",
                                  *p == '\''   ? "&apos;"
                                  : *p == '"'  ? "&quot;"
                                  : *p == '\n' ? "&#xA;"
                                               : "&#x9;");
        else
          g_string_append_c (out, *p);
        break;
      default:
        if ((guchar)*p < 0x20)
          g_string_append (out, "\xef\xbf\xbd");
        else
          g_string_append_c (out, *p);
      }
}

/* Every character that needs a look, at every place against the words
 * the text is read in, in texts of every length up to a few words; and
 * a non-ASCII character at those places, where validation takes over. */
static void
test_writer_escapes_everywhere (void)
{
  static const char specials[] = "&<>\r'\"\n\t\x01\x1f";
  for (gsize len = 1; len <= 40; len++)
    for (gsize at = 0; at < len; at++)
      for (gsize s = 0; s < sizeof specials - 1; s++)
        for (int in_attribute = 0; in_attribute <= 1; in_attribute++)
          {
            g_autofree char *text = g_strnfill (len, 'x');
            text[at] = specials[s];
            g_autoptr (GString) expected = g_string_new (NULL);
            reference_escape (expected, text, in_attribute);
            g_autoptr (GString) got = g_string_new (NULL);
            pg_xml_append_escaped (got, text, in_attribute);
            g_assert_cmpstr (got->str, ==, expected->str);
          }
  for (gsize len = 2; len <= 40; len++)
    for (gsize at = 0; at + 2 <= len; at++)
      {
        g_autofree char *text = g_strnfill (len, '<');
        text[at] = '\xc3';
        text[at + 1] = '\xa9';
        g_autoptr (GString) got = g_string_new (NULL);
        pg_xml_append_escaped (got, text, FALSE);
        g_autoptr (GString) expected = g_string_new (NULL);
        for (gsize i = 0; i < len; i++)
          if (i == at)
            g_string_append (expected, "\xc3\xa9"), i++;
          else
            g_string_append (expected, "&lt;");
        g_assert_cmpstr (got->str, ==, expected->str);
      }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stanza/new/attributes", test_new_attributes);
  g_test_add_func ("/stanza/new/iq-result", test_new_iq_result);
  g_test_add_func ("/stanza/child/new-namespace", test_child_namespace_new);
  g_test_add_func ("/stanza/child/inherit", test_child_namespace_inherit);
  g_test_add_func ("/stanza/child/top-level", test_child_namespace_top_level);
  g_test_add_func ("/stanza/child/nested", test_child_namespace_nested);
  g_test_add_func ("/stanza/child/text", test_child_text);
  g_test_add_func ("/stanza/access/parsed", test_access_parsed);
  g_test_add_func ("/stanza/serialize/escape-text", test_serialize_escape_text);
  g_test_add_func ("/stanza/serialize/escape-attribute", test_serialize_escape_attribute);
  g_test_add_func ("/stanza/serialize/invalid-chars", test_serialize_invalid_chars);
  g_test_add_func ("/stanza/serialize/xml-lang", test_serialize_xml_lang);
  g_test_add_func ("/stanza/serialize/prefixed-element", test_serialize_prefixed_element);
  g_test_add_func ("/stanza/serialize/prefixed-attributes", test_serialize_prefixed_attributes);
  g_test_add_func ("/stanza/serialize/many-namespaces", test_serialize_many_namespaces);
  g_test_add_func ("/stanza/serialize/copy", test_serialize_copy);
  g_test_add_func ("/stanza/round-trip/real-stanzas", test_round_trip);
  g_test_add_func ("/stanza/error/conditions", test_error_conditions);
  g_test_add_func ("/stanza/error/iq-payload", test_error_iq_payload);
  g_test_add_func ("/stanza/error/register-payload", test_error_register_payload);
  g_test_add_func ("/stanza/error/no-payload", test_error_no_payload);
  g_test_add_func ("/stanza/writer/matches-serializer", test_writer_matches_serializer);
  g_test_add_func ("/stanza/writer/escapes", test_writer_escapes);
  g_test_add_func ("/stanza/writer/escapes-everywhere", test_writer_escapes_everywhere);

  return g_test_run ();
}
