/* tests/unit/test-xml-start-tag.c — the stanza start tag kept for a bounce
 * (xml-start-tag.c): what is kept of a tag given in any pieces, values too
 * long to keep, from/to/id that cannot be kept, and the caps on size. */
#define G_LOG_DOMAIN "pg-test-xml-start-tag"

#include "transport/xml-parser-private.h"

#include <string.h>

/* The element kept of @tag (the bytes between '<' and '>'), given to
 * pg_xml_start_tag_add() in pieces of @step bytes (0: all to
 * pg_xml_start_tag_finish()), the last piece to pg_xml_start_tag_finish().
 * NULL when nothing was kept. Caller owns it (g_free). */
static char *
keep (const char *tag, gsize len, gsize step)
{
  PgXmlStartTag kept;
  pg_xml_start_tag_init (&kept);
  pg_xml_start_tag_begin (&kept);
  gsize done = 0;
  if (step != 0)
    while (len - done > step)
      {
        pg_xml_start_tag_add (&kept, tag + done, step);
        done += step;
      }
  pg_xml_start_tag_finish (&kept, tag + done, len - done);
  g_assert_true (kept.done);
  g_assert_cmpuint (pg_xml_start_tag_get_held (&kept), <=, PG_XML_SKELETON_MAX);
  gsize element_len;
  char *element = pg_xml_start_tag_dup_element (&kept, &element_len);
  if (element != NULL)
    g_assert_cmpuint (element_len, ==, strlen (element));
  else
    g_assert_cmpuint (element_len, ==, 0);
  pg_xml_start_tag_clear (&kept);
  return element;
}

/* @tag kept whole, a byte at a time, in 3-byte pieces and split in two at
 * every byte comes to @want. */
static void
assert_kept (const char *tag, const char *want)
{
  gsize len = strlen (tag);
  static const gsize steps[] = { 0, 1, 3, 1000 };
  for (gsize i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autofree char *got = keep (tag, len, steps[i]);
      g_assert_cmpstr (got, ==, want);
    }
  for (gsize split = 0; split <= len; split++)
    {
      PgXmlStartTag kept;
      pg_xml_start_tag_init (&kept);
      pg_xml_start_tag_begin (&kept);
      pg_xml_start_tag_add (&kept, tag, split);
      pg_xml_start_tag_finish (&kept, tag + split, len - split);
      gsize element_len;
      g_autofree char *got = pg_xml_start_tag_dup_element (&kept, &element_len);
      pg_xml_start_tag_clear (&kept);
      g_assert_cmpstr (got, ==, want);
    }
}

static void
test_short (void)
{
  assert_kept ("message", "<message/>");
  assert_kept ("message to='a@b' id='1'", "<message to='a@b' id='1'/>");
  assert_kept ("presence/", "<presence/>");
  assert_kept ("iq type='get' id='x' /", "<iq type='get' id='x' />");
  assert_kept ("message\n\tto=\"a@b\"", "<message\n\tto=\"a@b\"/>");
  /* Quotes, '/' and '>' inside a value are the value's. */
  assert_kept ("message a=\"it's\" b='say \"hi\"' c='x/>y' d=''",
               "<message a=\"it's\" b='say \"hi\"' c='x/>y' d=''/>");
  assert_kept ("stream:error", "<stream:error/>");
}

static char *
repeat (char c, gsize n)
{
  return g_strnfill (n, c);
}

static void
test_long_value (void)
{
  /* A value over the cap is left out with its name; the others stay. */
  g_autofree char *fill = repeat ('A', PG_XML_SKELETON_VALUE_MAX + 1);
  g_autofree char *tag = g_strdup_printf ("message to='a@b' data='%s' id='x' type='chat'", fill);
  assert_kept (tag, "<message to='a@b' id='x' type='chat'/>");

  /* At the cap it is kept. */
  g_autofree char *edge = repeat ('A', PG_XML_SKELETON_VALUE_MAX);
  g_autofree char *edge_tag = g_strdup_printf ("message data='%s' id='x'", edge);
  g_autofree char *edge_want = g_strdup_printf ("<message data='%s' id='x'/>", edge);
  assert_kept (edge_tag, edge_want);

  /* Two long values, one in double quotes, and one last. */
  g_autofree char *two = g_strdup_printf ("message a=\"%s\" to='a@b' b='%s'", fill, fill);
  assert_kept (two, "<message to='a@b'/>");
}

static void
test_echoed_value (void)
{
  /* A from, to or id too long to keep leaves only the name: a bounce without
   * them would go elsewhere or answer nothing. */
  static const char *const names[] = { "from", "to", "id" };
  g_autofree char *fill = repeat ('f', PG_XML_SKELETON_VALUE_MAX + 1);
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *tag = g_strdup_printf ("message type='chat' %s='%s' xml:lang='en'", names[i], fill);
      g_test_message ("%s", names[i]);
      assert_kept (tag, "<message/>");
      g_autofree char *spaced = g_strdup_printf ("message  %s = '%s'", names[i], fill);
      assert_kept (spaced, "<message/>");
    }
  /* Names that merely begin or end alike are not echoed. */
  g_autofree char *other = g_strdup_printf ("message fromx='%s' xid='%s' to='a@b'", fill, fill);
  assert_kept (other, "<message to='a@b'/>");
}

static void
test_caps (void)
{
  /* Many short attributes: kept up to the last complete one within the cap. */
  GString *tag = g_string_new ("message");
  for (guint i = 0; tag->len < 3 * PG_XML_SKELETON_MAX; i++)
    g_string_append_printf (tag, " a%u='0123456789'", i);
  GString *full = g_string_new ("<");
  g_string_append (full, tag->str);
  for (gsize step = 0; step <= 7; step += 7)
    {
      g_autofree char *got = keep (tag->str, tag->len, step);
      g_assert_nonnull (got);
      gsize n = strlen (got);
      g_assert_cmpuint (n, <=, PG_XML_SKELETON_MAX + 2);
      g_assert_cmpuint (n, >, PG_XML_SKELETON_MAX - 32);
      g_assert_true (g_str_has_suffix (got, "'/>"));
      g_assert_cmpint (strncmp (got, full->str, n - 2), ==, 0);
    }
  g_string_free (tag, TRUE);
  g_string_free (full, TRUE);

  /* A name that cannot be kept whole leaves nothing. */
  g_autofree char *name = repeat ('n', PG_XML_SKELETON_MAX + 10);
  for (gsize step = 0; step <= 1000; step += 1000)
    {
      g_autofree char *got = keep (name, strlen (name), step);
      g_assert_null (got);
    }
  g_autofree char *got = keep ("", 0, 0);
  g_assert_null (got);

  /* A megabyte of whitespace in a tag holds no more than the cap. */
  gsize len = 1024 * 1024;
  g_autofree char *spaces = repeat (' ', len);
  memcpy (spaces, "message to='a@b'", strlen ("message to='a@b'"));
  g_autofree char *kept = keep (spaces, len, 4096);
  g_assert_cmpstr (kept, ==, "<message to='a@b'/>");
}

static void
test_begin_again (void)
{
  /* Each tag begins afresh, whatever the last one left. */
  PgXmlStartTag kept;
  pg_xml_start_tag_init (&kept);
  g_autofree char *fill = repeat ('f', PG_XML_SKELETON_VALUE_MAX + 1);
  g_autofree char *first = g_strdup_printf ("message from='%s", fill);
  pg_xml_start_tag_begin (&kept);
  pg_xml_start_tag_add (&kept, first, strlen (first));
  g_assert_false (kept.done);
  pg_xml_start_tag_begin (&kept);
  g_assert_false (kept.done);
  g_assert_cmpuint (pg_xml_start_tag_get_held (&kept), ==, 1);
  pg_xml_start_tag_add (&kept, "iq id='", 7);
  pg_xml_start_tag_finish (&kept, "2'", 2);
  gsize len;
  g_autofree char *got = pg_xml_start_tag_dup_element (&kept, &len);
  g_assert_cmpstr (got, ==, "<iq id='2'/>");
  pg_xml_start_tag_clear (&kept);
}

static void
test_nul_kept (void)
{
  /* Bytes are kept as received, a NUL too: parsing the result refuses it. */
  static const char tag[] = "message a='x\0y'";
  PgXmlStartTag kept;
  pg_xml_start_tag_init (&kept);
  pg_xml_start_tag_begin (&kept);
  pg_xml_start_tag_finish (&kept, tag, sizeof tag - 1);
  gsize len;
  g_autofree char *got = pg_xml_start_tag_dup_element (&kept, &len);
  g_assert_cmpuint (len, ==, sizeof tag + 2);
  g_assert_cmpmem (got, len, "<message a='x\0y'/>", sizeof tag + 2);
  pg_xml_start_tag_clear (&kept);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/xml-start-tag/short", test_short);
  g_test_add_func ("/xml-start-tag/long-value", test_long_value);
  g_test_add_func ("/xml-start-tag/echoed-value", test_echoed_value);
  g_test_add_func ("/xml-start-tag/caps", test_caps);
  g_test_add_func ("/xml-start-tag/begin-again", test_begin_again);
  g_test_add_func ("/xml-start-tag/nul-kept", test_nul_kept);
  return g_test_run ();
}
