/* tests/unit/test-i18n.c — .mo catalogues, language fallback, error texts. */
#define G_LOG_DOMAIN "pg-test-i18n"
#include "build-config.h"

#include "transport/i18n.h"
#include "transport/stanza.h"

#include <glib/gstdio.h>
#include <string.h>

/* ---- building .mo files ---- */

typedef struct
{
  const char *id; /* may hold NULs (plurals): lengths below */
  gsize id_len;
  const char *text;
  gsize text_len;
} Entry;

#define ENTRY(id, text)                                                                                      \
  {                                                                                                          \
    id, sizeof id - 1, text, sizeof text - 1                                                                 \
  }
#define UTF8_HEADER ENTRY ("", "Content-Type: text/plain; charset=UTF-8\n")

static void
put_u32 (GByteArray *out, guint32 value, gboolean big_endian)
{
  value = big_endian ? GUINT32_TO_BE (value) : GUINT32_TO_LE (value);
  g_byte_array_append (out, (const guint8 *)&value, sizeof value);
}

/* A GNU .mo file as msgfmt writes it (without the optional hash table). */
static GByteArray *
build_mo (const Entry *entries, guint n, gboolean big_endian)
{
  GByteArray *out = g_byte_array_new ();
  guint32 originals = 28, translations = originals + 8 * n;
  guint32 offset = translations + 8 * n;
  put_u32 (out, 0x950412de, big_endian);
  put_u32 (out, 0, big_endian);
  put_u32 (out, n, big_endian);
  put_u32 (out, originals, big_endian);
  put_u32 (out, translations, big_endian);
  put_u32 (out, 0, big_endian); /* hash table size */
  put_u32 (out, 0, big_endian); /* hash table offset */
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < n; i++)
      {
        gsize length = pass == 0 ? entries[i].id_len : entries[i].text_len;
        put_u32 (out, (guint32)length, big_endian);
        put_u32 (out, offset, big_endian);
        offset += (guint32)length + 1;
      }
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < n; i++)
      {
        const char *s = pass == 0 ? entries[i].id : entries[i].text;
        gsize length = pass == 0 ? entries[i].id_len : entries[i].text_len;
        g_byte_array_append (out, (const guint8 *)s, (guint)length + 1);
      }
  return out;
}

static void
write_mo (const char *path, const Entry *entries, guint n)
{
  g_autoptr (GByteArray) mo = build_mo (entries, n, FALSE);
  g_autofree char *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, (const char *)mo->data, mo->len, &error);
  g_assert_no_error (error);
}

/* ---- parsing ---- */

static const Entry sample[] = {
  UTF8_HEADER,
  ENTRY ("Username", "Benutzername"),
  ENTRY ("Enter your %s username.", "Geben Sie Ihren %s-Benutzernamen ein."),
  ENTRY ("one file\0%u files", "eine Datei\0%u Dateien"),
  ENTRY ("menu\004Open", "Öffnen"),
  ENTRY ("Untranslated", ""),
};

static void
test_parse_sample (gconstpointer data)
{
  gboolean big_endian = GPOINTER_TO_INT (data);
  g_autoptr (GByteArray) mo = build_mo (sample, G_N_ELEMENTS (sample), big_endian);
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) messages = pg_i18n_parse_mo (mo->data, mo->len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (messages);
  g_assert_cmpuint (g_hash_table_size (messages), ==, 3);
  g_assert_cmpstr (g_hash_table_lookup (messages, "Username"), ==, "Benutzername");
  g_assert_cmpstr (g_hash_table_lookup (messages, "Enter your %s username."), ==,
                   "Geben Sie Ihren %s-Benutzernamen ein.");
  g_assert_cmpstr (g_hash_table_lookup (messages, "one file"), ==, "eine Datei");
  g_assert_null (g_hash_table_lookup (messages, "Open"));
  g_assert_null (g_hash_table_lookup (messages, "Untranslated"));
  g_assert_null (g_hash_table_lookup (messages, ""));
}

static void
set_u32 (GByteArray *mo, gsize at, guint32 value)
{
  value = GUINT32_TO_LE (value);
  memcpy (mo->data + at, &value, sizeof value);
}

typedef enum
{
  CUT,
  MAGIC,
  REVISION,
  COUNT,
  ORIGINALS,
  STRING_OFFSET,
  NO_NUL,
  CHARSET,
  BAD_UTF8
} Damage;

static void
test_parse_malformed (void)
{
  static const struct
  {
    Damage damage;
    gsize arg;
    int code;
  } cases[] = {
    { CUT, 0, PG_I18N_ERROR_MALFORMED },           { CUT, 19, PG_I18N_ERROR_MALFORMED },
    { CUT, 40, PG_I18N_ERROR_MALFORMED },  /* inside the tables */
    { CUT, 100, PG_I18N_ERROR_MALFORMED }, /* inside the strings */
    { MAGIC, 0, PG_I18N_ERROR_MALFORMED },         { REVISION, 0, PG_I18N_ERROR_MALFORMED },
    { COUNT, 0, PG_I18N_ERROR_MALFORMED },         { ORIGINALS, 0, PG_I18N_ERROR_MALFORMED },
    { STRING_OFFSET, 0, PG_I18N_ERROR_MALFORMED }, { NO_NUL, 0, PG_I18N_ERROR_MALFORMED },
    { CHARSET, 0, PG_I18N_ERROR_CHARSET },         { BAD_UTF8, 0, PG_I18N_ERROR_CHARSET },
  };
  static const Entry latin1[]
      = { ENTRY ("", "Content-Type: text/plain; charset=ISO-8859-1\n"), ENTRY ("Username", "Benutzername") };
  static const Entry bad_utf8[] = { UTF8_HEADER, ENTRY ("Username", "Benutzer\xff") };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GByteArray) mo = NULL;
      if (cases[i].damage == CHARSET)
        mo = build_mo (latin1, G_N_ELEMENTS (latin1), FALSE);
      else if (cases[i].damage == BAD_UTF8)
        mo = build_mo (bad_utf8, G_N_ELEMENTS (bad_utf8), FALSE);
      else
        mo = build_mo (sample, G_N_ELEMENTS (sample), FALSE);
      switch (cases[i].damage)
        {
        case CUT:
          g_byte_array_set_size (mo, (guint)cases[i].arg);
          break;
        case MAGIC:
          set_u32 (mo, 0, 0x12345678);
          break;
        case REVISION:
          set_u32 (mo, 4, 2u << 16);
          break;
        case COUNT:
          set_u32 (mo, 8, G_MAXUINT32);
          break;
        case ORIGINALS:
          set_u32 (mo, 12, G_MAXUINT32 - 4);
          break;
        case STRING_OFFSET:
          set_u32 (mo, 28 + 8 + 4, mo->len); /* second original's offset */
          break;
        case NO_NUL:
          mo->data[mo->len - 1] = 'x'; /* the last translation's terminator */
          break;
        case CHARSET:
        case BAD_UTF8:
          break;
        default:
          g_assert_not_reached ();
        }
      g_autoptr (GError) error = NULL;
      g_autoptr (GHashTable) messages = pg_i18n_parse_mo (mo->data, mo->len, &error);
      g_test_message ("case %u: %s", i, error != NULL ? error->message : "(no error)");
      g_assert_null (messages);
      g_assert_error (error, PG_I18N_ERROR, cases[i].code);
    }
}

/* ---- catalogues and languages ---- */

typedef struct
{
  char *dir;
  PgI18n *i18n;
} Fixture;

static const Entry german[] = {
  UTF8_HEADER,
  ENTRY ("Username", "Benutzername"),
  ENTRY ("Password", "Passwort"),
  ENTRY ("A username is required.", "Ein Benutzername ist erforderlich."),
};
static const Entry austrian[] = { UTF8_HEADER, ENTRY ("Username", "Benutzername (AT)") };

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  fixture->dir = g_dir_make_tmp ("pg-test-i18n-XXXXXX", &error);
  g_assert_no_error (error);
  /* Both layouts: po/ of a source tree and an installed locale directory. */
  g_autofree char *de = g_build_filename (fixture->dir, "de.gmo", NULL);
  g_autofree char *de_at
      = g_build_filename (fixture->dir, "de_AT", "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);
  g_autofree char *broken = g_build_filename (fixture->dir, "it.gmo", NULL);
  g_autofree char *other = g_build_filename (fixture->dir, "es", "LC_MESSAGES", "other-package.mo", NULL);
  write_mo (de, german, G_N_ELEMENTS (german));
  write_mo (de_at, austrian, G_N_ELEMENTS (austrian));
  write_mo (other, german, G_N_ELEMENTS (german));
  g_file_set_contents (broken, "not a catalogue", -1, &error);
  g_assert_no_error (error);
  const char *const dirs[] = { fixture->dir, "/nonexistent/locale", NULL };
  fixture->i18n = pg_i18n_new (dirs);
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
    }
  g_remove (path);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  pg_i18n_free (fixture->i18n);
  remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static void
test_translate_fallback (Fixture *fixture, gconstpointer data)
{
  static const struct
  {
    const char *lang;
    const char *msgid;
    const char *expected; /* NULL: the msgid itself */
  } cases[] = {
    { "de", "Username", "Benutzername" },
    { "de", "Password", "Passwort" },
    { "DE", "Username", "Benutzername" },
    { "de-AT", "Username", "Benutzername (AT)" },
    { "de_AT", "Username", "Benutzername (AT)" },
    { "de-at", "Username", "Benutzername (AT)" },
    { "de-Latn-AT", "Username", "Benutzername (AT)" },
    { "de-AT", "Password", "Passwort" }, /* de_AT lacks it: de */
    { "de-CH", "Username", "Benutzername" },
    { "de-1996", "Username", "Benutzername" },
    { "de", "Not in the catalogue", NULL },
    { "en", "Username", NULL },
    { "en-GB", "Username", NULL },
    { "fr", "Username", NULL },
    { "it", "Username", NULL }, /* unreadable catalogue: English */
    { "es", "Username", NULL }, /* another package's catalogue */
    { NULL, "Username", NULL },
    { "", "Username", NULL },
    { "d", "Username", NULL },
    { "deu", "Username", NULL },
    { "de!", "Username", NULL },
    { "../de", "Username", NULL },
    { "x-de", "Username", NULL },
    { "i-default", "Username", NULL },
  };
  /* The unreadable catalogue is reported once, on first use. */
  const char *msgid = "Password";
  g_test_expect_message ("pg-i18n", G_LOG_LEVEL_WARNING, "*it.gmo: ignored*");
  g_assert_true (pg_i18n_translate (fixture->i18n, "it", msgid) == msgid);
  g_test_assert_expected_messages ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *got = pg_i18n_translate (fixture->i18n, cases[i].lang, cases[i].msgid);
      g_test_message ("%s: %s → %s", cases[i].lang ? cases[i].lang : "(null)", cases[i].msgid, got);
      if (cases[i].expected == NULL)
        g_assert_true (got == cases[i].msgid);
      else
        g_assert_cmpstr (got, ==, cases[i].expected);
    }
}

static void
test_language (Fixture *fixture, gconstpointer data)
{
  static const struct
  {
    const char *lang;
    const char *expected;
  } cases[] = {
    { "de", "de" }, { "de-AT", "de-AT" }, { "de_at", "de-AT" }, { "de-CH", "de" },
    { "en", "en" }, { "es", "en" },       { NULL, "en" },       { "-", "en" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpstr (pg_i18n_get_language (fixture->i18n, cases[i].lang), ==, cases[i].expected);
}

static void
test_localize_error (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PgStanza) request
      = pg_stanza_new ("iq", "romeo@montague.lit/orchard", "gw.example", "set", "r1");
  pg_stanza_add_child (request, "query", "jabber:iq:register");

  g_autoptr (PgStanza) translated = pg_stanza_error_reply (request, PG_ERR_NOT_ACCEPTABLE,
                                                           PG_ERR_TYPE_DEFAULT, "A username is required.");
  pg_stanza_add_child (pg_stanza_get_error (translated), "app-specific", "urn:example:app");
  pg_i18n_localize_error (fixture->i18n, translated, "de-DE");
  g_autofree char *bytes = pg_stanza_to_string (translated);
  g_assert_nonnull (strstr (bytes, "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='de'>"
                                   "Ein Benutzername ist erforderlich.</text>"
                                   "<app-specific xmlns='urn:example:app'/>"));

  static const char *const unchanged[][2] = {
    { "de", "the legacy network's own words" },
    { "fr", "A username is required." },
  };
  for (guint i = 0; i < G_N_ELEMENTS (unchanged); i++)
    {
      g_autoptr (PgStanza) reply
          = pg_stanza_error_reply (request, PG_ERR_NOT_ACCEPTABLE, PG_ERR_TYPE_DEFAULT, unchanged[i][1]);
      g_autofree char *before = pg_stanza_to_string (reply);
      pg_i18n_localize_error (fixture->i18n, reply, unchanged[i][0]);
      g_autofree char *after = pg_stanza_to_string (reply);
      g_assert_cmpstr (after, ==, before);
      g_assert_nonnull (strstr (after, "xml:lang='en'"));
    }

  /* No text, no error element: nothing to do. */
  g_autoptr (PgStanza) bare
      = pg_stanza_error_reply (request, PG_ERR_NOT_ACCEPTABLE, PG_ERR_TYPE_DEFAULT, NULL);
  pg_i18n_localize_error (fixture->i18n, bare, "de");
  g_autoptr (PgStanza) result = pg_stanza_new_iq_result (request);
  pg_i18n_localize_error (fixture->i18n, result, "de");
}

static void
test_no_catalogues (void)
{
  const char *const dirs[] = { NULL };
  g_autoptr (PgI18n) i18n = pg_i18n_new (dirs);
  const char *msgid = "Username";
  g_assert_true (pg_i18n_translate (i18n, "de", msgid) == msgid);
  g_assert_cmpstr (pg_i18n_get_language (i18n, "de"), ==, PG_I18N_SOURCE_LANG);
}

/* The shipped German catalogue, as make builds it into po/ of the source
 * tree (and make dist ships it). */
static void
test_shipped_german (void)
{
  g_autofree char *po = g_test_build_filename (G_TEST_DIST, "..", "..", "po", NULL);
  g_autofree char *gmo = g_build_filename (po, "de.gmo", NULL);
  if (!g_file_test (gmo, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip ("po/de.gmo not built");
      return;
    }
  const char *const dirs[] = { po, NULL };
  g_autoptr (PgI18n) i18n = pg_i18n_new (dirs);
  g_assert_cmpstr (pg_i18n_translate (i18n, "de", "Username"), ==, "Benutzername");
  g_assert_cmpstr (pg_i18n_translate (i18n, "de-AT", "Password"), ==, "Passwort");
  g_assert_cmpstr (pg_i18n_get_language (i18n, "de-AT"), ==, "de");
  g_autofree char *formatted
      = g_strdup_printf (pg_i18n_translate (i18n, "de", N_ ("Registration with the %s gateway")), "IRC");
  g_assert_cmpstr (formatted, ==, "Registrierung beim IRC-Gateway");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/i18n/parse/little-endian", GINT_TO_POINTER (FALSE), test_parse_sample);
  g_test_add_data_func ("/i18n/parse/big-endian", GINT_TO_POINTER (TRUE), test_parse_sample);
  g_test_add_func ("/i18n/parse/malformed", test_parse_malformed);
  g_test_add ("/i18n/translate/fallback", Fixture, NULL, fixture_set_up, test_translate_fallback,
              fixture_tear_down);
  g_test_add ("/i18n/translate/language", Fixture, NULL, fixture_set_up, test_language, fixture_tear_down);
  g_test_add ("/i18n/translate/error-text", Fixture, NULL, fixture_set_up, test_localize_error,
              fixture_tear_down);
  g_test_add_func ("/i18n/translate/no-catalogues", test_no_catalogues);
  g_test_add_func ("/i18n/catalogue/german", test_shipped_german);

  return g_test_run ();
}
