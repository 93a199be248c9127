/* tests/unit/test-xml-framing.c — the byte scanner ahead of libxml2
 * (xml-framing.c): where stanzas begin and end, the stanza size limit on
 * bytes as received, skipping to the end of what went over it, markup refused
 * before libxml2 sees it, and the bytes that end a token cut by the limit. */
#define G_LOG_DOMAIN "pg-test-xml-framing"

#include "transport/xml-parser-private.h"

#include <string.h>

#define HEADER                                                                                               \
  "<stream:stream xmlns='jabber:component:accept' "                                                          \
  "xmlns:stream='http://etherx.jabber.org/streams' id='3BF96D32'>"
#define LIMIT 200

static const char *const event_names[] = {
  [PG_XML_SCAN_END] = "end",
  [PG_XML_SCAN_OVERFLOW] = "overflow",
  [PG_XML_SCAN_TEXT_OVERFLOW] = "text-overflow",
  [PG_XML_SCAN_STANZA_END] = "stanza-end",
  [PG_XML_SCAN_TEXT_END] = "text-end",
  [PG_XML_SCAN_RESTRICTED] = "restricted",
  [PG_XML_SCAN_TOO_LONG] = "too-long",
  [PG_XML_SCAN_LT_IN_TAG] = "lt-in-tag",
  [PG_XML_SCAN_CDATA_END] = "cdata-end",
};

/* Scans @data in pieces of @step bytes (0: at once) as xml-parser.c does:
 * after an overflow the rest is skipped, after the end of what was skipped
 * limits apply again; any other event but the end of a piece stops the
 * scan. Returns the events but the end of a piece, each as "name@offset"
 * (the offset in the stream where the scan stopped), with ":offset" of its
 * '<' for restricted markup and "=element" kept of the start tag for a
 * skipped stanza. Caller owns it (g_free). */
static char *
scan_events (PgXmlFraming *framing, const char *data, gsize len, gsize step)
{
  GString *events = g_string_new (NULL);
  guint64 last_offset = 0;
  guint events_here = 0;
  gsize done = 0;
  if (step == 0)
    step = MAX (len, 1);
  while (done < len)
    {
      gsize n = MIN (step, len - done);
      gsize pos = 0;
      gboolean stop = FALSE;
      while (pos < n && !stop)
        {
          PgXmlScanEvent event = pg_xml_framing_scan (framing, data + done, n, &pos);
          g_assert_cmpuint (framing->offset, ==, done + pos);
          if (event == PG_XML_SCAN_END)
            continue;
          /* An overflow and the end of the skip after it can come at one
           * place; more events there would never end. */
          events_here = framing->offset == last_offset ? events_here + 1 : 1;
          g_assert_cmpuint (events_here, <=, 2);
          last_offset = framing->offset;
          g_string_append_printf (events, "%s%s@%" G_GUINT64_FORMAT, events->len > 0 ? " " : "",
                                  event_names[event], framing->offset);
          if (event == PG_XML_SCAN_RESTRICTED)
            g_string_append_printf (events, ":%" G_GUINT64_FORMAT, framing->markup_offset);
          switch (event)
            {
            case PG_XML_SCAN_OVERFLOW:
            case PG_XML_SCAN_TEXT_OVERFLOW:
              pg_xml_framing_skip (framing, event);
              break;
            case PG_XML_SCAN_STANZA_END:
              {
                gsize element_len;
                g_autofree char *element = pg_xml_start_tag_dup_element (&framing->start_tag, &element_len);
                g_string_append_printf (events, "=%s", element != NULL ? element : "(none)");
              }
              pg_xml_framing_resume (framing);
              break;
            case PG_XML_SCAN_TEXT_END:
              pg_xml_framing_resume (framing);
              break;
            default:
              stop = TRUE;
              break;
            }
        }
      if (stop)
        break;
      done += n;
    }
  return g_string_free (events, FALSE);
}

/* scan_events() of @data on a fresh scanner with @limit. */
static char *
scan_fresh (const char *data, gsize len, gsize step, gsize limit)
{
  PgXmlFraming framing;
  pg_xml_framing_init (&framing, limit);
  char *events = scan_events (&framing, data, len, step);
  pg_xml_framing_clear (&framing);
  return events;
}

/* @data scanned at once, a byte at a time and in pieces of 2 to 17 bytes
 * gives @want. */
static void
assert_events (const char *data, const char *want)
{
  gsize len = strlen (data);
  for (gsize step = 0; step <= 17; step++)
    {
      g_autofree char *got = scan_fresh (data, len, step, LIMIT);
      if (g_strcmp0 (got, want) != 0)
        g_test_message ("step %" G_GSIZE_FORMAT, step);
      g_assert_cmpstr (got, ==, want);
    }
}

/* @open, @n times @fill, @close. Caller owns it (g_free). */
static char *
filled (const char *open, char fill, gsize n, const char *close)
{
  GString *s = g_string_new (open);
  for (gsize i = 0; i < n; i++)
    g_string_append_c (s, fill);
  g_string_append (s, close);
  return g_string_free (s, FALSE);
}

/* ---- where stanzas are ---- */

static void
test_stanzas (void)
{
  static const char prolog[] = "<?xml version='1.0'?>\n" HEADER;
  static const char stanza[] = "<message id='1' a='/>' b=\"'\"><body>x&amp;<b/>y</body><c d='>'/></message>";
  PgXmlFraming framing;
  pg_xml_framing_init (&framing, LIMIT);
  gsize pos = 0;

  g_assert_cmpint (pg_xml_framing_scan (&framing, prolog, strlen (prolog), &pos), ==, PG_XML_SCAN_END);
  g_assert_cmpuint (pos, ==, strlen (prolog));
  g_assert_true (framing.header_done);
  /* Kept as received, to be parsed again on a fresh context. */
  g_assert_cmpstr (framing.header->str, ==, prolog);
  g_assert_cmpint (framing.lex_depth, ==, 1);
  g_assert_false (framing.in_stanza);

  /* Inside, at every byte from its name on: in a stanza that begins where
   * its '<' is. */
  pos = 0;
  g_assert_cmpint (pg_xml_framing_scan (&framing, stanza, 1, &pos), ==, PG_XML_SCAN_END);
  g_assert_false (framing.in_stanza);
  g_assert_cmpuint (framing.tag_offset, ==, strlen (prolog));
  for (gsize i = 1; i + 1 < strlen (stanza); i++)
    {
      pos = 0;
      g_assert_cmpint (pg_xml_framing_scan (&framing, stanza + i, 1, &pos), ==, PG_XML_SCAN_END);
      g_assert_true (framing.in_stanza);
      g_assert_cmpuint (framing.stanza_offset, ==, strlen (prolog));
      g_assert_cmpint (framing.lex_depth, >=, 1);
    }
  g_assert_cmpint (framing.lex_depth, ==, 2);
  pos = 0;
  g_assert_cmpint (pg_xml_framing_scan (&framing, ">", 1, &pos), ==, PG_XML_SCAN_END);
  g_assert_false (framing.in_stanza);
  g_assert_cmpint (framing.lex_depth, ==, 1);
  g_assert_true (framing.start_tag.done);
  gsize len;
  g_autofree char *element = pg_xml_start_tag_dup_element (&framing.start_tag, &len);
  g_assert_cmpstr (element, ==, "<message id='1' a='/>' b=\"'\"/>");
  /* The header is not added to. */
  g_assert_cmpstr (framing.header->str, ==, prolog);

  /* Text between stanzas, an empty stanza, the stream's end. */
  static const char rest[] = " \n<presence/>\t</stream:stream>";
  pos = 0;
  g_assert_cmpint (pg_xml_framing_scan (&framing, rest, strlen (rest), &pos), ==, PG_XML_SCAN_END);
  g_assert_cmpuint (pos, ==, strlen (rest));
  g_assert_false (framing.in_stanza);
  g_assert_cmpint (framing.lex_depth, ==, 0);
  g_assert_cmpuint (framing.offset, ==, strlen (prolog) + strlen (stanza) + strlen (rest));
  pg_xml_framing_clear (&framing);
}

/* ---- the limit ---- */

static void
test_limit_edge (void)
{
  /* A stanza of exactly the limit passes; one more byte stops the scan
   * before that byte. */
  const gsize start = strlen (HEADER);
  for (gsize extra = 0; extra <= 1; extra++)
    {
      const char *open = "<message to='a@b'><body>", *close = "</body></message>";
      g_autofree char *stanza = filled (open, 'x', LIMIT - strlen (open) - strlen (close) + extra, close);
      g_assert_cmpuint (strlen (stanza), ==, LIMIT + extra);
      g_autofree char *data = g_strconcat (HEADER, stanza, "<presence/>", NULL);
      g_autofree char *want = extra ? g_strdup_printf ("overflow@%" G_GSIZE_FORMAT
                                                       " stanza-end@%" G_GSIZE_FORMAT "=<message to='a@b'/>",
                                                       start + LIMIT, start + LIMIT + 1)
                                    : g_strdup ("");
      assert_events (data, want);
    }
}

static void
test_limit_shapes (void)
{
  /* Wherever the limit falls, the skip ends after the stanza's end tag, and
   * the next stanza is scanned as usual. */
  static const struct
  {
    const char *open, *close;
    char fill;
    gboolean in_tag; /* the fill is kept with the start tag */
  } shapes[] = {
    { "<message to='a@b' data='", "'/>", 'A', FALSE },
    { "<message to='a@b' data=\"", "'\"/>", '>', FALSE },
    { "<message to='a@b' ", "/>", ' ', TRUE },
    { "<message to='a@b'><body>", "</body></message>", 't', FALSE },
    { "<message to='a@b'><body><![CDATA[", "]]></body></message>", '<', FALSE },
    { "<message to='a@b'><x a='/>'><y/></x><body>", "</body></message>", ']', FALSE },
    { "<message to='a@b'><body></body", "></message>", ' ', FALSE },
    { "<message to='a@b'><body><?pi ", "?></body></message>", '>', FALSE },
  };
  /* A value this long is not kept with the start tag. */
  const gsize n = PG_XML_SKELETON_VALUE_MAX + LIMIT;
  const gsize start = strlen (HEADER);
  for (gsize i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autofree char *stanza = filled (shapes[i].open, shapes[i].fill, n, shapes[i].close);
      g_autofree char *data = g_strconcat (HEADER, stanza, "<presence/>", NULL);
      g_autofree char *element = shapes[i].in_tag ? filled (shapes[i].open, shapes[i].fill, n, "/>")
                                                  : g_strdup ("<message to='a@b'/>");
      g_autofree char *want
          = g_strdup_printf ("overflow@%" G_GSIZE_FORMAT " stanza-end@%" G_GSIZE_FORMAT "=%s", start + LIMIT,
                             start + strlen (stanza), element);
      g_test_message ("%s", shapes[i].open);
      assert_events (data, want);

      /* The next stanza, over the limit too, is reported on its own. */
      g_autofree char *twice = g_strconcat (HEADER, stanza, stanza, NULL);
      g_autofree char *want_twice
          = g_strdup_printf ("%s overflow@%" G_GSIZE_FORMAT " stanza-end@%" G_GSIZE_FORMAT "=%s", want,
                             start + strlen (stanza) + LIMIT, start + 2 * strlen (stanza), element);
      assert_events (twice, want_twice);
    }
}

static void
test_limit_between_stanzas (void)
{
  /* Text between stanzas over the limit is skipped up to the next '<'. */
  const gsize start = strlen (HEADER) + strlen ("<presence/>");
  g_autofree char *text = filled (HEADER "<presence/>", ' ', 2 * LIMIT, "<presence/>");
  g_autofree char *want = g_strdup_printf ("text-overflow@%" G_GSIZE_FORMAT " text-end@%" G_GSIZE_FORMAT,
                                           start + LIMIT, start + 2 * LIMIT);
  assert_events (text, want);
  /* … and text after it counts from where it resumed. */
  g_autofree char *cdata = filled (HEADER "<presence/>", ' ', 2 * LIMIT, "<![CDATA[x]]><presence/>");
  assert_events (cdata, want);

  /* Before the header is complete, in a PI and in the stream's end tag there
   * is nothing to resume at. */
  g_autofree char *header = filled ("<stream:stream id='", 'A', LIMIT, "'>");
  g_autofree char *header_want = g_strdup_printf ("too-long@%d", LIMIT);
  assert_events (header, header_want);
  g_autofree char *pi = filled (HEADER "<?pi ", 'x', LIMIT, "?>");
  g_autofree char *pi_want = g_strdup_printf ("too-long@%" G_GSIZE_FORMAT, strlen (HEADER) + LIMIT);
  assert_events (pi, pi_want);
  g_autofree char *end = filled (HEADER "</stream:stream", ' ', LIMIT, ">");
  assert_events (end, pi_want);
  /* Under the limit they pass. */
  g_autofree char *short_pi = filled (HEADER "<?pi ", 'x', LIMIT - 7, "?>");
  assert_events (short_pi, "");
}

static void
test_limit_huge (void)
{
  /* A limit of G_MAXSIZE does not wrap around. */
  g_autofree char *data = filled (HEADER "<message><body>", 'x', 100000, "</body></message>");
  g_autofree char *got = scan_fresh (data, strlen (data), 4096, G_MAXSIZE);
  g_assert_cmpstr (got, ==, "");
}

/* ---- refused before libxml2 sees it ---- */

static void
test_refused (void)
{
  const gsize h = strlen (HEADER);
  static const struct
  {
    const char *after_header;
    const char *event;
    gsize at;     /* offset after the header */
    gsize markup; /* … of the '<' of restricted markup */
  } cases[] = {
    { "<message/><!-- c -->", "restricted", 12, 10 },
    { "<message><!DOCTYPE x></message>", "restricted", 11, 9 },
    { "<message><![CDATA[a<!b]]></message>", "restricted", 21, 19 },
    { "<message><?pi <!x?></message>", "restricted", 16, 14 },
    { "<message id='<'/>", "lt-in-tag", 13, 0 },
    { "<message <body/>", "lt-in-tag", 9, 0 },
    { "<message></message<x>", "lt-in-tag", 18, 0 },
    { "<message><body>a]]>b</body></message>", "cdata-end", 18, 0 },
    { "<message/>]]]]>", "cdata-end", 14, 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *data = g_strconcat (HEADER, cases[i].after_header, NULL);
      g_autofree char *want = g_strdup_printf ("%s@%" G_GSIZE_FORMAT, cases[i].event, h + cases[i].at);
      if (strcmp (cases[i].event, "restricted") == 0)
        {
          g_autofree char *at = g_steal_pointer (&want);
          want = g_strdup_printf ("%s:%" G_GSIZE_FORMAT, at, h + cases[i].markup);
        }
      g_test_message ("%s", cases[i].after_header);
      assert_events (data, want);
    }
  /* The same bytes where they are no markup, and "]]" not followed by '>'. */
  static const char *const fine[] = {
    "<message a=']]>' b='&lt;!--'/>",
    "<message><![CDATA[<a> ]] ]]></message>",
    "<message><body>]] ]>]]&gt;</body></message>",
    "<message><?pi ]]> ?></message>",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (fine); i++)
    {
      g_autofree char *data = g_strconcat (HEADER, fine[i], NULL);
      assert_events (data, "");
    }
}

/* ---- ending a token cut by the limit ---- */

/* pg_xml_framing_end_token() after @data, fed to libxml2 as @fed_pieces
 * (NULL-terminated; the same bytes as @data after the header). NULL: not in
 * text or CDATA. Caller owns it (g_free). */
static char *
end_token (const char *data, const char *const *fed)
{
  PgXmlFraming framing;
  pg_xml_framing_init (&framing, G_MAXSIZE);
  g_autofree char *all = g_strconcat (HEADER, data, NULL);
  gsize pos = 0;
  g_assert_cmpint (pg_xml_framing_scan (&framing, all, strlen (all), &pos), ==, PG_XML_SCAN_END);
  for (gsize i = 0; fed != NULL && fed[i] != NULL; i++)
    pg_xml_framing_remember_fed (&framing, fed[i], strlen (fed[i]));
  GString *fill = g_string_new ("kept ");
  gboolean ended = pg_xml_framing_end_token (&framing, fill);
  pg_xml_framing_clear (&framing);
  if (!ended)
    {
      g_assert_cmpstr (fill->str, ==, "kept ");
      g_string_free (fill, TRUE);
      return NULL;
    }
  g_assert_true (g_str_has_prefix (fill->str, "kept "));
  g_string_erase (fill, 0, 5);
  return g_string_free (fill, FALSE);
}

static void
test_end_token (void)
{
  static const struct
  {
    const char *data;
    const char *fill; /* NULL: no token to end */
  } cases[] = {
    { "<message><body>abc", ";<" },
    { "<message><body>a&", "amp;<" },
    { "<message><body>a&l", "t;<" },
    { "<message><body>a&quo", "t;<" },
    { "<message><body>a&apos", ";<" },
    { "<message><body>a&nb", ";<" },
    { "<message><body>a&#", "65;<" },
    { "<message><body>a&#0", "65;<" },
    { "<message><body>a&#x", "41;<" },
    { "<message><body>a&#x26", ";<" },
    { "<message><body>a&#1", "0;<" },
    { "<message><body>a&#x1", "00;<" },
    { "<message><body>a&#xD800", "0;<" },
    { "<message><body>a&#xFFFE", "0;<" },
    { "<message><body>a&#xZ", ";<" },
    { "<message><body>a&amp;b", ";<" },
    { "<message><body>\xc3", "\x80;<" },
    { "<message><body>\xe0", "\xa0\x80;<" },
    { "<message><body>\xe2\x82", "\x80;<" },
    { "<message><body>\xf0", "\x90\x80\x80;<" },
    { "<message><body>\xf4\x8f\xbf", "\x80;<" },
    { "<message><body>\xe2\x82\xac", ";<" },
    { "<message><body><![CDATA[a&l", "]]>" },
    { "<message><body><![CDATA[\xe2", "\x80\x80]]>" },
    { "<message><body><![CDATA[]", "]]>" },
    { "<message/> ", ";<" },
    { "<message><body", NULL },
    { "<message a='x&am", NULL },
    { "<message><body></bo", NULL },
    { "<message><body><?pi x", NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *fed[] = { HEADER, cases[i].data, NULL };
      g_autofree char *fill = end_token (cases[i].data, fed);
      g_autofree char *escaped = g_strescape (cases[i].data, NULL);
      g_test_message ("%s", escaped);
      g_assert_cmpstr (fill, ==, cases[i].fill);
      /* What was fed counts, however it was split. */
      gsize n = strlen (cases[i].data);
      for (gsize split = 0; split <= n; split++)
        {
          g_autofree char *head = g_strndup (cases[i].data, split);
          const char *pieces[] = { HEADER, head, cases[i].data + split, NULL };
          g_autofree char *again = end_token (cases[i].data, pieces);
          g_assert_cmpstr (again, ==, cases[i].fill);
        }
    }
}

static void
test_end_token_tail (void)
{
  /* Only the last bytes fed are looked at: a reference that began longer
   * ago is ended with a ';' alone, and nothing fed (a fresh context) leaves
   * nothing to complete. */
  const char *data = "<message><body>&amp0123456789012345";
  const char *fed[] = { data, NULL };
  g_autofree char *fill = end_token (data, fed);
  g_assert_cmpstr (fill, ==, ";<");

  PgXmlFraming framing;
  pg_xml_framing_init (&framing, G_MAXSIZE);
  g_autofree char *all = g_strconcat (HEADER, "<message><body>&l", NULL);
  gsize pos = 0;
  pg_xml_framing_scan (&framing, all, strlen (all), &pos);
  pg_xml_framing_remember_fed (&framing, all, strlen (all));
  pg_xml_framing_forget_fed (&framing);
  GString *none = g_string_new (NULL);
  g_assert_true (pg_xml_framing_end_token (&framing, none));
  g_assert_cmpstr (none->str, ==, ";<");
  g_string_free (none, TRUE);

  /* A character completed is fed too: a second ending sees it whole. */
  pg_xml_framing_forget_fed (&framing);
  pg_xml_framing_remember_fed (&framing, "&#\xc3", 3);
  GString *first = g_string_new (NULL);
  pg_xml_framing_end_token (&framing, first);
  g_assert_cmpstr (first->str, ==, "\x80;<");
  GString *second = g_string_new (NULL);
  pg_xml_framing_end_token (&framing, second);
  g_assert_cmpstr (second->str, ==, ";<");
  g_string_free (first, TRUE);
  g_string_free (second, TRUE);
  pg_xml_framing_clear (&framing);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/xml-framing/stanzas", test_stanzas);
  g_test_add_func ("/xml-framing/limit/edge", test_limit_edge);
  g_test_add_func ("/xml-framing/limit/shapes", test_limit_shapes);
  g_test_add_func ("/xml-framing/limit/between-stanzas", test_limit_between_stanzas);
  g_test_add_func ("/xml-framing/limit/huge", test_limit_huge);
  g_test_add_func ("/xml-framing/refused", test_refused);
  g_test_add_func ("/xml-framing/end-token/cases", test_end_token);
  g_test_add_func ("/xml-framing/end-token/tail", test_end_token_tail);
  return g_test_run ();
}
