/* tests/unit/test-jid.c — RFC 7622 parsing and XEP-0106 escaping. */
#define G_LOG_DOMAIN "pg-test-jid"

#include "transport/jid.h"
#include "transport/transport.h"

#include <stringprep.h>
#include <string.h>

typedef struct
{
  const char *text;
  const char *node; /* NULL when absent */
  const char *domain;
  const char *resource; /* NULL when absent */
} ValidCase;

/* RFC 7622 §3.5 Table 1 plus our own. Preparation is stringprep (as in
 * Prosody), not PRECIS: rows marked PRECIS give a different result there. */
static const ValidCase valid_cases[] = {
  { "juliet@example.com", "juliet", "example.com", NULL },
  { "juliet@example.com/foo", "juliet", "example.com", "foo" },
  { "juliet@example.com/foo bar", "juliet", "example.com", "foo bar" },
  { "juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar" },
  { "foo\\20bar@example.com", "foo\\20bar", "example.com", NULL },
  { "fussball@example.com", "fussball", "example.com", NULL },
  /* PRECIS keeps ß; nodeprep case-folds it to "ss" (RFC 3454 table B.2). */
  { "fußball@example.com", "fussball", "example.com", NULL },
  { "π@example.com", "π", "example.com", NULL },
  /* Both map capital sigma to σ. */
  { "Σ@example.com", "σ", "example.com", NULL },
  { "king@example.com/♚", "king", "example.com", "♚" },
  { "example.com", NULL, "example.com", NULL },
  { "example.com/foobar", NULL, "example.com", "foobar" },
  { "a.example.com/b@example.net", NULL, "a.example.com", "b@example.net" },
  /* RFC 7622 Table 2 calls these invalid: PRECIS IdentifierClass refuses
   * compatibility characters and symbols. nodeprep NFKC-maps U+2163 ROMAN
   * NUMERAL FOUR to "IV" and allows symbols, so stringprep servers accept both. */
  { "henryⅣ@example.com", "henryiv", "example.com", NULL },
  { "♚@example.com", "♚", "example.com", NULL },
  /* Case: localpart and domainpart fold, resourcepart keeps case. */
  { "ROMEO@Montague.lit/Orchard", "romeo", "montague.lit", "Orchard" },
  { "ＡＢ@ＥＸＡＭＰＬＥ.com", "ab", "example.com", NULL },
  /* Resourcepart is everything after the first '/'. */
  { "juliet@example.com/a/b@c", "juliet", "example.com", "a/b@c" },
  { "example.com/@", NULL, "example.com", "@" },
  /* One trailing dot (the root label) is dropped, even one NFKC made. */
  { "juliet@example.com.", "juliet", "example.com", NULL },
  { "example.com．", NULL, "example.com", NULL },
  { "[::1]", NULL, "[::1]", NULL },
  { "user@[2001:DB8::1]/r", "user", "[2001:db8::1]", "r" },
  { "127.0.0.1", NULL, "127.0.0.1", NULL },
  { "conference_1.example.com", NULL, "conference_1.example.com", NULL },
  /* A soft hyphen maps to nothing. */
  { "ju\u00ADliet@example.com", "juliet", "example.com", NULL },
};

typedef struct
{
  const char *text;
  int code;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
  /* RFC 7622 §3.5 Table 2 (the disputed leading-space resource is left out,
   * erratum 4560; henryⅣ and ♚ are valid under stringprep, see above). */
  { "\"juliet\"@example.com", PG_JID_ERROR_MALFORMED },
  { "foo bar@example.com", PG_JID_ERROR_MALFORMED },
  { "juliet@", PG_JID_ERROR_MALFORMED },
  { "/foobar", PG_JID_ERROR_MALFORMED },
  { "@example.com/", PG_JID_ERROR_MALFORMED },
  /* Empty parts (RFC 7622 §3.2 to §3.4). */
  { "", PG_JID_ERROR_MALFORMED },
  { "@example.com", PG_JID_ERROR_MALFORMED },
  { "example.com/", PG_JID_ERROR_MALFORMED },
  { "user@@host", PG_JID_ERROR_MALFORMED },
  { "@", PG_JID_ERROR_MALFORMED },
  { "/", PG_JID_ERROR_MALFORMED },
  { "\u00AD@example.com", PG_JID_ERROR_MALFORMED },
  /* Each character nodeprep must refuse in a localpart. */
  { "a&b@example.com", PG_JID_ERROR_MALFORMED },
  { "a'b@example.com", PG_JID_ERROR_MALFORMED },
  { "a:b@example.com", PG_JID_ERROR_MALFORMED },
  { "a<b@example.com", PG_JID_ERROR_MALFORMED },
  { "a>b@example.com", PG_JID_ERROR_MALFORMED },
  { "a＠b@example.com", PG_JID_ERROR_MALFORMED },
  { "a\tb@example.com", PG_JID_ERROR_MALFORMED },
  { "a\u3000b@example.com", PG_JID_ERROR_MALFORMED },
  /* nameprep lets all of these through; the domain check must not. */
  { "a@b@example.com", PG_JID_ERROR_MALFORMED },
  { "juliet@exa mple.com", PG_JID_ERROR_MALFORMED },
  { "juliet@example.com\x7f", PG_JID_ERROR_MALFORMED },
  { "juliet@exa\"mple.com", PG_JID_ERROR_MALFORMED },
  { "juliet@exa:mple.com", PG_JID_ERROR_MALFORMED },
  { "juliet@exa\\mple.com", PG_JID_ERROR_MALFORMED },
  { "example..com", PG_JID_ERROR_MALFORMED },
  { ".example.com", PG_JID_ERROR_MALFORMED },
  { "example.com..", PG_JID_ERROR_MALFORMED },
  { ".", PG_JID_ERROR_MALFORMED },
  { "juliet@.", PG_JID_ERROR_MALFORMED },
  { "[::1", PG_JID_ERROR_MALFORMED },
  { "[]", PG_JID_ERROR_MALFORMED },
  { "[example.com]", PG_JID_ERROR_MALFORMED },
  { "[127.0.0.1]", PG_JID_ERROR_MALFORMED },
  { "[fe80::1%eth0]", PG_JID_ERROR_MALFORMED },
  /* resourceprep refuses controls. */
  { "juliet@example.com/a\x01", PG_JID_ERROR_MALFORMED },
  /* Not UTF-8. */
  { "\xff@example.com", PG_JID_ERROR_MALFORMED },
  { "juliet@example.com/\xc3", PG_JID_ERROR_MALFORMED },
};

static void
test_parse_valid (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (valid_cases); i++)
    {
      const ValidCase *c = &valid_cases[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PgJid) jid = pg_jid_parse (c->text, &error);
      g_autofree char *shown = g_strescape (c->text, NULL);

      g_test_message ("%s", shown);
      g_assert_no_error (error);
      g_assert_nonnull (jid);
      g_assert_cmpstr (pg_jid_get_node (jid), ==, c->node);
      g_assert_cmpstr (pg_jid_get_domain (jid), ==, c->domain);
      g_assert_cmpstr (pg_jid_get_resource (jid), ==, c->resource);
    }
}

static void
test_parse_invalid (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (invalid_cases); i++)
    {
      const InvalidCase *c = &invalid_cases[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PgJid) jid = pg_jid_parse (c->text, &error);
      g_autofree char *shown = g_strescape (c->text, NULL);

      g_test_message ("%s", shown);
      g_assert_null (jid);
      g_assert_error (error, PG_JID_ERROR, c->code);
    }
}

/* Builds "node@domain/resource" around a part of @len repetitions of @unit. */
static char *
jid_with_part (char which, const char *unit, gsize count, const char *suffix)
{
  g_autoptr (GString) part = g_string_new (NULL);

  for (gsize i = 0; i < count; i++)
    g_string_append (part, unit);
  g_string_append (part, suffix);
  switch (which)
    {
    case 'n':
      return g_strconcat (part->str, "@example.com/r", NULL);
    case 'd':
      return g_strconcat ("n@", part->str, "/r", NULL);
    default:
      return g_strconcat ("n@example.com/", part->str, NULL);
    }
}

static void
test_parse_length (void)
{
  static const struct
  {
    char which;
    const char *unit;
    gsize count;
    const char *suffix;
    gsize prepared_len; /* 0: expect TOO_LONG */
  } cases[] = {
    { 'n', "a", 1023, "", 1023 },
    { 'n', "a", 1024, "", 0 },
    { 'd', "a", 1023, "", 1023 },
    { 'd', "a", 1024, "", 0 },
    { 'r', "a", 1023, "", 1023 },
    { 'r', "a", 1024, "", 0 },
    /* The limit is on the prepared form: input may be longer or shorter. */
    { 'n', "a", 1023, "\u00AD", 1023 },
    { 'n', "A", 1023, "", 1023 },
    { 'n', "ß", 511, "", 1022 },
    { 'n', "ß", 512, "", 0 }, /* 1024 bytes in, "ss" x 512 = 1024 out */
    { 'n', "ß", 1000, "", 0 },
    { 'd', "a", 1023, ".", 1023 },
    { 'd', "a", 1024, ".", 0 },
    { 'r', "\u00AD", 2000, "a", 1 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = jid_with_part (cases[i].which, cases[i].unit, cases[i].count, cases[i].suffix);
      g_autoptr (GError) error = NULL;
      g_autoptr (PgJid) jid = pg_jid_parse (text, &error);

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      if (cases[i].prepared_len == 0)
        {
          g_assert_error (error, PG_JID_ERROR, PG_JID_ERROR_TOO_LONG);
          g_assert_null (jid);
          continue;
        }
      g_assert_no_error (error);
      switch (cases[i].which)
        {
        case 'n':
          g_assert_cmpuint (strlen (pg_jid_get_node (jid)), ==, cases[i].prepared_len);
          break;
        case 'd':
          g_assert_cmpuint (strlen (pg_jid_get_domain (jid)), ==, cases[i].prepared_len);
          break;
        default:
          g_assert_cmpuint (strlen (pg_jid_get_resource (jid)), ==, cases[i].prepared_len);
        }
    }
}

static void
test_parse_case_folding (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PgJid) jid = pg_jid_parse ("ROMEO@Montague.lit/Orchard", &error);
  g_autofree char *bare = NULL;
  g_autofree char *full = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (pg_jid_get_node (jid), ==, "romeo");
  g_assert_cmpstr (pg_jid_get_domain (jid), ==, "montague.lit");
  g_assert_cmpstr (pg_jid_get_resource (jid), ==, "Orchard");
  bare = pg_jid_dup_bare (jid);
  full = pg_jid_to_string (jid);
  g_assert_cmpstr (bare, ==, "romeo@montague.lit");
  g_assert_cmpstr (full, ==, "romeo@montague.lit/Orchard");
}

static void
test_bare (void)
{
  static const struct
  {
    const char *text, *bare, *full;
  } cases[] = {
    { "ROMEO@Montague.lit/x", "romeo@montague.lit", "romeo@montague.lit/x" },
    { "Montague.LIT.", "montague.lit", "montague.lit" },
    { "gw.example.org/res/with/slashes", "gw.example.org", "gw.example.org/res/with/slashes" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PgJid) jid = pg_jid_parse (cases[i].text, &error);
      g_autofree char *bare = NULL;
      g_autofree char *dup = NULL;
      g_autofree char *full = NULL;

      g_assert_no_error (error);
      bare = pg_jid_prepare_bare (cases[i].text, &error);
      g_assert_no_error (error);
      dup = pg_jid_dup_bare (jid);
      full = pg_jid_to_string (jid);
      g_assert_cmpstr (bare, ==, cases[i].bare);
      g_assert_cmpstr (dup, ==, cases[i].bare);
      g_assert_cmpstr (full, ==, cases[i].full);
    }
}

static void
test_bare_invalid (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *bare = pg_jid_prepare_bare ("user@@host", &error);

  g_assert_null (bare);
  g_assert_error (error, PG_JID_ERROR, PG_JID_ERROR_MALFORMED);
}

typedef struct
{
  const char *name; /* legacy name, as the user typed it */
  const char *escaped;
} EscapeCase;

static void
check_escape_both_ways (const EscapeCase *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *escaped = pg_jid_escape (cases[i].name);
      g_autofree char *unescaped = pg_jid_unescape (cases[i].escaped);

      g_test_message ("%s", cases[i].name);
      g_assert_cmpstr (escaped, ==, cases[i].escaped);
      g_assert_cmpstr (unescaped, ==, cases[i].name);
    }
}

/* XEP-0106 §5.1 table and §5.7. */
static void
test_escape_xep_table (void)
{
  static const EscapeCase cases[] = {
    { "space cadet", "space\\20cadet" },
    { "call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22" },
    { "at&t guy", "at\\26t\\20guy" },
    { "d'artagnan", "d\\27artagnan" },
    { "/.fanboy", "\\2f.fanboy" },
    { "::foo::", "\\3a\\3afoo\\3a\\3a" },
    { "<foo>", "\\3cfoo\\3e" },
    { "user@host", "user\\40host" },
    { "c:\\net", "c\\3a\\net" },
    { "c:\\\\net", "c\\3a\\\\net" },
    { "c:\\cool stuff", "c\\3a\\cool\\20stuff" },
    { "c:\\5commas", "c\\3a\\5c5commas" },
    { "somenick!user\"&'/:<>\\3address", "somenick!user\\22\\26\\27\\2f\\3a\\3c\\3e\\5c3address" },
    { "bob@legacy.example", "bob\\40legacy.example" },
    { "", "" },
  };

  check_escape_both_ways (cases, G_N_ELEMENTS (cases));
}

/* XEP-0106 §4.3: a '\' that already starts one of the ten sequences becomes \5c. */
static void
test_escape_backslash (void)
{
  static const EscapeCase cases[] = {
    { "\\3and\\2is\\5cool", "\\5c3and\\2is\\5c5cool" },
    { "\\20", "\\5c20" },
    { "\\5c", "\\5c5c" },
    { "\\\\20", "\\\\5c20" },
    { "\\ ", "\\\\20" },
    { "\\", "\\" },
    { "a\\", "a\\" },
    { "\\2", "\\2" },
    { "\\40\\3e\\3c\\3a\\2f\\27\\26\\22", "\\5c40\\5c3e\\5c3c\\5c3a\\5c2f\\5c27\\5c26\\5c22" },
  };

  check_escape_both_ways (cases, G_N_ELEMENTS (cases));
}

/* XEP-0106 §4.3: partial, foreign and upper-case sequences pass unchanged both ways. */
static void
test_escape_foreign (void)
{
  static const EscapeCase cases[] = {
    { "\\2plus\\2is\\4", "\\2plus\\2is\\4" },     { "foo\\bar", "foo\\bar" }, { "foob\\41r", "foob\\41r" },
    { "\\2F\\3A\\5C\\20", "\\2F\\3A\\5C\\5c20" }, { "\\g0\\", "\\g0\\" },
  };

  check_escape_both_ways (cases, G_N_ELEMENTS (cases));
}

/* XEP-0106 §5.3, once the URI's scheme is dropped and it is percent-decoded;
 * as a contact of the gateway the whole address is the localpart. */
static void
test_escape_uri_example (void)
{
  static const EscapeCase cases[] = {
    { "here's_a_wild_&_/cr%zy/_address", "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address" },
    { "here's_a_wild_&_/cr%zy/_address@example.com",
      "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address\\40example.com" },
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *jid = NULL;

  check_escape_both_ways (cases, G_N_ELEMENTS (cases));
  jid = pg_jid_for_legacy_name (cases[1].name, "gw.example.org", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (jid, ==, "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address\\40example.com@gw.example.org");
}

/* Only the ten exact lower-case sequences decode. */
static void
test_unescape_exact (void)
{
  static const struct
  {
    const char *in, *out;
  } cases[] = {
    { "\\2F", "\\2F" }, { "\\5C", "\\5C" }, { "\\5c5c", "\\5c" }, { "\\5c\\5c", "\\\\" },
    { "\\41", "\\41" }, { "\\", "\\" },     { "\\2", "\\2" },     { "\\20\\20", "  " },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = pg_jid_unescape (cases[i].in);

      g_assert_cmpstr (out, ==, cases[i].out);
    }
}

static const char *const alphabet[] = {
  "\\", " ", "\"", "&", "'", "/", ":", "<", ">", "@", "0", "2",    "3",    "4",    "5",   "7",   "a",
  "c",  "e", "f",  "A", "C", "F", "x", "é", "ß", "π", "Σ", "\\20", "\\5c", "\\2f", "\\3", "\\5",
};

static char *
random_name (const char *const *tokens, gsize n_tokens, guint max_len)
{
  GString *s = g_string_new (NULL);
  guint len = (guint)g_test_rand_int_range (0, (gint32)max_len + 1);

  for (guint i = 0; i < len; i++)
    g_string_append (s, tokens[g_test_rand_int_range (0, (gint32)n_tokens)]);
  return g_string_free (s, FALSE);
}

/* XEP-0106 §4: unescape(escape(s)) == s, and escape(s) has no raw character that
 * a localpart forbids ('\' survives raw only where it cannot be misread). */
static void
test_escape_round_trip (void)
{
  for (guint i = 0; i < 10000; i++)
    {
      g_autofree char *name = random_name (alphabet, G_N_ELEMENTS (alphabet), 24);
      g_autofree char *escaped = pg_jid_escape (name);
      g_autofree char *back = pg_jid_unescape (escaped);

      if (strcmp (back, name) != 0 || strpbrk (escaped, " \"&'/:<>@") != NULL)
        g_test_message ("name \"%s\" escaped \"%s\" back \"%s\"", name, escaped, back);
      g_assert_cmpstr (back, ==, name);
      g_assert_null (strpbrk (escaped, " \"&'/:<>@"));
    }
}

/* escape is injective: checked exhaustively over every string of up to five
 * tokens from an alphabet chosen to provoke collisions. */
static void
test_escape_injective (void)
{
  static const char *const tokens[] = { "\\", " ", "2", "0", "5", "c" };
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint total = 0;

  for (guint len = 0; len <= 5; len++)
    {
      guint combos = 1;

      for (guint k = 0; k < len; k++)
        combos *= G_N_ELEMENTS (tokens);
      for (guint n = 0; n < combos; n++)
        {
          GString *name = g_string_new (NULL);
          char *escaped;
          const char *previous;

          for (guint k = 0, rest = n; k < len; k++, rest /= G_N_ELEMENTS (tokens))
            g_string_append (name, tokens[rest % G_N_ELEMENTS (tokens)]);
          escaped = pg_jid_escape (name->str);
          previous = g_hash_table_lookup (seen, escaped);
          if (previous != NULL)
            g_test_message ("\"%s\" and \"%s\" both escape to \"%s\"", previous, name->str, escaped);
          g_assert_null (previous);
          g_hash_table_insert (seen, escaped, g_string_free (name, FALSE));
          total++;
        }
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, total);
}

static void
test_escape_injective_spots (void)
{
  static const char *const pairs[][2] = {
    { " ", "\\20" },     { "\\", "\\5c" }, { "\\5c", "\\5c5c" },
    { "\\ ", "\\\\20" }, { "@", "\\40" },  { "\\\\", "\\5c\\" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_autofree char *a = pg_jid_escape (pairs[i][0]);
      g_autofree char *b = pg_jid_escape (pairs[i][1]);

      g_assert_cmpstr (a, !=, b);
    }
}

static void
test_legacy_valid (void)
{
  static const struct
  {
    const char *name, *jid;
  } cases[] = {
    { "bob@legacy.example", "bob\\40legacy.example@gw.example.org" },
    { "RomeoMyRomeo", "romeomyromeo@gw.example.org" },
    { "space cadet", "space\\20cadet@gw.example.org" },
    { "c:\\5commas", "c\\3a\\5c5commas@gw.example.org" },
    { "Fußball", "fussball@gw.example.org" },
    { "\\", "\\@gw.example.org" },
    { "d'Artagnan", "d\\27artagnan@gw.example.org" },
    /* Right-to-left with a space and a digit: bidi rules hold for the whole. */
    { "\u0627 1\u0627", "\u0627\\201\u0627@gw.example.org" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *jid = pg_jid_for_legacy_name (cases[i].name, "GW.example.org.", &error);

      g_assert_no_error (error);
      g_assert_cmpstr (jid, ==, cases[i].jid);
    }
}

static void
test_legacy_refused (void)
{
  static const char *const names[] = {
    "",
    " bob",
    "bob ",
    " ",
    "bob\x01",
    "\xff",
    "\u00AD",       /* maps to nothing */
    "a\u0627",      /* mixes left-to-right and Arabic: bidi refuses */
    "foo\u200Ebar", /* LEFT-TO-RIGHT MARK is prohibited */
    "a\u3000b",     /* IDEOGRAPHIC SPACE is prohibited */
    "a＠b",         /* NFKC makes '@' after escaping ran */
    "\u0221",       /* unassigned in Unicode 3.2: refused in names we mint */
    "A\\2F",        /* folding would mint \2f, decoding as '/' */
    "＼２０",       /* NFKC would mint \20 */
    "<\u0327",      /* \3c + COMBINING CEDILLA would compose to \3ç */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *jid = pg_jid_for_legacy_name (names[i], "gw.example.org", &error);

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_assert_null (jid);
      g_assert_error (error, PG_JID_ERROR, PG_JID_ERROR_MALFORMED);
    }
}

static void
test_legacy_too_long (void)
{
  g_autofree char *name = g_strnfill (1024, 'a');
  g_autoptr (GError) error = NULL;
  g_autofree char *jid = pg_jid_for_legacy_name (name, "gw.example.org", &error);

  g_assert_null (jid);
  g_assert_error (error, PG_JID_ERROR, PG_JID_ERROR_TOO_LONG);
}

/* With characters that case folding leaves alone, a minted JID decodes back to
 * the legacy name exactly, and parses as the JID it claims to be. */
static void
test_legacy_round_trip (void)
{
  static const char *const tokens[] = {
    "\\", " ", "\"", "&", "'", "/", ":", "<", ">",    "@",    "0",
    "2",  "3", "5",  "a", "c", "f", "é", "π", "\\20", "\\5c",
  };

  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *name = random_name (tokens, G_N_ELEMENTS (tokens), 16);
      g_autoptr (GError) error = NULL;
      g_autofree char *jid = pg_jid_for_legacy_name (name, "gw.example.org", &error);
      gsize len = strlen (name);
      g_autoptr (PgJid) parsed = NULL;
      g_autofree char *back = NULL;

      if (len == 0 || name[0] == ' ' || name[len - 1] == ' ')
        {
          g_assert_error (error, PG_JID_ERROR, PG_JID_ERROR_MALFORMED);
          continue;
        }
      g_assert_no_error (error);
      parsed = pg_jid_parse (jid, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (pg_jid_get_domain (parsed), ==, "gw.example.org");
      g_assert_null (pg_jid_get_resource (parsed));
      back = pg_jid_unescape (pg_jid_get_node (parsed));
      g_assert_cmpstr (back, ==, name);
    }
}

/* ---- the ASCII fast path against libidn ---- */

/* libidn's answer for @in: the prepared string, or NULL when it refuses. */
static char *
libidn_prep (const char *in, const Stringprep_profile *profile)
{
  gsize size = strlen (in) + 64;
  g_autofree char *buf = g_malloc (size);

  strcpy (buf, in);
  if (stringprep (buf, size, 0, profile) != STRINGPREP_OK)
    return NULL;
  return g_steal_pointer (&buf);
}

/* A random ASCII string of 1..12 bytes, mostly from a small alphabet (so
 * that letters of both cases, digits and every separator and control come
 * up often), sometimes any byte 1..127. */
static char *
random_ascii (void)
{
  static const char picks[] = "aZz09-_. \t\x01\x1f\x7f\"&'/:<>@\\%+~";
  gsize len = (gsize)g_test_rand_int_range (1, 13);
  char *s = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    s[i] = g_test_rand_bit () ? picks[g_test_rand_int_range (0, sizeof picks - 1)]
                              : (char)g_test_rand_int_range (1, 128);
  s[len] = '\0';
  return s;
}

static void
check_node (const char *node)
{
  g_autofree char *text = g_strconcat (node, "@example.com", NULL);
  g_autofree char *expected = strchr (node, '@') == NULL && strchr (node, '/') == NULL
                                  ? libidn_prep (node, stringprep_xmpp_nodeprep)
                                  : NULL;
  g_autoptr (PgJid) jid = NULL;

  if (strchr (node, '@') != NULL || strchr (node, '/') != NULL)
    return; /* splits elsewhere */
  jid = pg_jid_parse (text, NULL);
  if (expected == NULL || *expected == '\0')
    g_assert_null (jid);
  else
    {
      g_assert_nonnull (jid);
      g_assert_cmpstr (pg_jid_get_node (jid), ==, expected);
    }
}

static void
check_resource (const char *resource)
{
  g_autofree char *text = g_strconcat ("a@example.com/", resource, NULL);
  g_autofree char *expected = libidn_prep (resource, stringprep_xmpp_resourceprep);
  g_autoptr (PgJid) jid = pg_jid_parse (text, NULL);

  if (expected == NULL || *expected == '\0')
    g_assert_null (jid);
  else
    {
      g_assert_nonnull (jid);
      g_assert_cmpstr (pg_jid_get_resource (jid), ==, expected);
    }
}

static void
check_domain (const char *domain)
{
  g_autofree char *expected = NULL;
  g_autoptr (PgJid) jid = NULL;
  g_autoptr (GError) error = NULL;
  gsize n;

  if (strchr (domain, '@') != NULL || strchr (domain, '/') != NULL)
    return;
  expected = libidn_prep (domain, stringprep_nameprep);
  jid = pg_jid_parse (domain, &error);
  if (expected == NULL)
    {
      g_assert_null (jid);
      return;
    }
  n = strlen (expected);
  if (n > 0 && expected[n - 1] == '.')
    expected[n - 1] = '\0';
  if (jid != NULL)
    g_assert_cmpstr (pg_jid_get_domain (jid), ==, expected);
  else /* past nameprep, only the host name check may refuse it */
    g_assert_true (g_error_matches (error, PG_JID_ERROR, PG_JID_ERROR_MALFORMED)
                   && strstr (error->message, "not a host name") != NULL);
}

static void
test_parse_ascii_equivalence (void)
{
  /* Every single byte, then random strings. */
  for (int c = 1; c < 128; c++)
    {
      char one[2] = { (char)c, '\0' };
      char three[4] = { 'A', (char)c, 'b', '\0' };

      check_node (one);
      check_node (three);
      check_resource (one);
      check_resource (three);
      check_domain (one);
      check_domain (three);
    }
  for (int i = 0; i < 20000; i++)
    {
      g_autofree char *s = random_ascii ();

      check_node (s);
      check_resource (s);
      check_domain (s);
    }
}

/* The same legacy names give the same JIDs whether or not a non-ASCII
 * character elsewhere sends the whole name through libidn: the ASCII part
 * is prepared alike. */
static void
test_legacy_ascii_equivalence (void)
{
  for (int i = 0; i < 5000; i++)
    {
      g_autofree char *s = random_ascii ();
      g_autofree char *ascii = pg_jid_for_legacy_name (s, "gw.example.org", NULL);
      /* U+00E9 is prepared to itself and touches no escape sequence. */
      g_autofree char *mixed_name = g_strconcat (s, "\xc3\xa9", NULL);
      g_autofree char *mixed = pg_jid_for_legacy_name (mixed_name, "gw.example.org", NULL);

      if (ascii == NULL)
        continue; /* e.g. a trailing space: the mixed name may be fine */
      g_autofree char *ascii_node = g_strndup (ascii, strcspn (ascii, "@"));
      g_autofree char *expected = g_strconcat (ascii_node, "\xc3\xa9@gw.example.org", NULL);
      g_assert_cmpstr (mixed, ==, expected);
    }
}

/* The transport's remembered contact JIDs are those of
 * pg_jid_for_legacy_name(), before and after the cache starts again. */
static void
test_contact_jid_cache (void)
{
  PgConfig config = { .component_jid = (char *)"gw.example.org" };
  PgTransport transport = { .config = &config };

  for (int round = 0; round < 2; round++)
    for (guint i = 0; i < 5000; i++)
      {
        g_autofree char *name = g_strdup_printf ("Nick[%u] d'Artagnan@x", i);
        g_autofree char *expected = pg_jid_for_legacy_name (name, config.component_jid, NULL);
        g_autofree char *got = pg_transport_contact_jid (&transport, name);
        g_assert_nonnull (expected);
        g_assert_cmpstr (got, ==, expected);
      }
  g_assert_null (pg_transport_contact_jid (&transport, " space"));
  g_assert_null (pg_transport_contact_jid (&transport, ""));
  pg_transport_clear_caches (&transport);
  g_assert_null (transport.contact_jids);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/jid/parse/valid", test_parse_valid);
  g_test_add_func ("/jid/contact-cache", test_contact_jid_cache);
  g_test_add_func ("/jid/parse/invalid", test_parse_invalid);
  g_test_add_func ("/jid/parse/length", test_parse_length);
  g_test_add_func ("/jid/parse/case-folding", test_parse_case_folding);
  g_test_add_func ("/jid/bare/valid", test_bare);
  g_test_add_func ("/jid/bare/invalid", test_bare_invalid);
  g_test_add_func ("/jid/escape/xep-table", test_escape_xep_table);
  g_test_add_func ("/jid/escape/backslash", test_escape_backslash);
  g_test_add_func ("/jid/escape/foreign", test_escape_foreign);
  g_test_add_func ("/jid/escape/uri-example", test_escape_uri_example);
  g_test_add_func ("/jid/escape/unescape-exact", test_unescape_exact);
  g_test_add_func ("/jid/escape/round-trip", test_escape_round_trip);
  g_test_add_func ("/jid/escape/injective", test_escape_injective);
  g_test_add_func ("/jid/escape/injective-spots", test_escape_injective_spots);
  g_test_add_func ("/jid/legacy/valid", test_legacy_valid);
  g_test_add_func ("/jid/legacy/refused", test_legacy_refused);
  g_test_add_func ("/jid/legacy/too-long", test_legacy_too_long);
  g_test_add_func ("/jid/legacy/round-trip", test_legacy_round_trip);
  g_test_add_func ("/jid/parse/ascii-equivalence", test_parse_ascii_equivalence);
  g_test_add_func ("/jid/legacy/ascii-equivalence", test_legacy_ascii_equivalence);

  return g_test_run ();
}
