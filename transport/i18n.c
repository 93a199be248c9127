/* transport/i18n.c — GNU .mo catalogues, read per language on first use.
 *
 * Not gettext(3): its language comes from the process locale, which would
 * have to be switched per stanza (uselocale) and needs generated system
 * locales that a minimal Debian does not have. The .mo format is small:
 * a header of 32-bit words (magic, revision, count, offsets of the two
 * string tables) and per table entry a length and an offset; every string
 * is NUL-terminated (GNU gettext manual, "The Format of GNU MO Files"). */
#define G_LOG_DOMAIN "pg-i18n"
#include "build-config.h"

#include "transport/i18n.h"

#include "transport/stanza.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

G_DEFINE_QUARK (pg - i18n - error - quark, pg_i18n_error)

#define MO_MAGIC 0x950412deu
#define MO_HEADER_BYTES 20 /* magic, revision, count, originals, translations */

typedef struct
{
  char *language; /* as an xml:lang: "de", "de-AT" */
  char *path;
  GHashTable *messages; /* msgid → translation; NULL until read */
  gboolean failed;      /* unreadable: never tried again */
} Catalogue;

struct PgI18n
{
  GHashTable *catalogues; /* locale name ("de", "de_AT") → Catalogue */
};

static void
catalogue_free (Catalogue *catalogue)
{
  g_free (catalogue->language);
  g_free (catalogue->path);
  g_clear_pointer (&catalogue->messages, g_hash_table_unref);
  g_free (catalogue);
}

/* ---- the .mo format ---- */

static guint32
read_u32 (const guint8 *p, gboolean swap)
{
  guint32 value;
  memcpy (&value, p, sizeof value);
  return swap ? GUINT32_SWAP_LE_BE (value) : value;
}

/* String @index of the table at @table, NUL-terminated inside the data;
 * NULL when any part of it lies outside. */
static const char *
string_at (const guint8 *data, gsize size, guint32 table, guint32 index, gboolean swap, guint32 *length)
{
  guint64 entry = (guint64)table + (guint64)index * 8;
  if (entry + 8 > size)
    return NULL;
  guint32 len = read_u32 (data + entry, swap);
  guint32 offset = read_u32 (data + entry + 4, swap);
  if ((guint64)offset + len >= size || data[(gsize)offset + len] != '\0')
    return NULL;
  *length = len;
  return (const char *)data + offset;
}

/* The header entry's "Content-Type: text/plain; charset=X" must name UTF-8
 * (or its subset ASCII): the texts go into XML as they are. */
static gboolean
check_charset (const char *header, GError **error)
{
  const char *charset = strstr (header, "charset=");
  if (charset == NULL)
    return TRUE;
  charset += strlen ("charset=");
  g_autofree char *name = g_strndup (charset, strcspn (charset, " ;\n"));
  if (g_ascii_strcasecmp (name, "UTF-8") == 0 || g_ascii_strcasecmp (name, "UTF8") == 0
      || g_ascii_strcasecmp (name, "ASCII") == 0 || g_ascii_strcasecmp (name, "US-ASCII") == 0)
    return TRUE;
  g_set_error (error, PG_I18N_ERROR, PG_I18N_ERROR_CHARSET, "charset %s, not UTF-8", name);
  return FALSE;
}

GHashTable *
pg_i18n_parse_mo (const guint8 *data, gsize size, GError **error)
{
  g_return_val_if_fail (data != NULL || size == 0, NULL);
  if (size < MO_HEADER_BYTES)
    {
      g_set_error (error, PG_I18N_ERROR, PG_I18N_ERROR_MALFORMED, "%" G_GSIZE_FORMAT " bytes: too short",
                   size);
      return NULL;
    }
  gboolean swap;
  if (read_u32 (data, FALSE) == MO_MAGIC)
    swap = FALSE;
  else if (read_u32 (data, TRUE) == MO_MAGIC)
    swap = TRUE;
  else
    {
      g_set_error (error, PG_I18N_ERROR, PG_I18N_ERROR_MALFORMED, "not a GNU .mo file (magic number)");
      return NULL;
    }
  /* Major revisions 0 and 1 share the layout read here. */
  if (read_u32 (data + 4, swap) >> 16 > 1)
    {
      g_set_error (error, PG_I18N_ERROR, PG_I18N_ERROR_MALFORMED, "unknown .mo revision %#x",
                   read_u32 (data + 4, swap));
      return NULL;
    }
  guint32 count = read_u32 (data + 8, swap);
  guint32 originals = read_u32 (data + 12, swap);
  guint32 translations = read_u32 (data + 16, swap);

  g_autoptr (GHashTable) messages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint32 i = 0; i < count; i++)
    {
      guint32 id_len, text_len;
      const char *id = string_at (data, size, originals, i, swap, &id_len);
      const char *text = string_at (data, size, translations, i, swap, &text_len);
      if (id == NULL || text == NULL)
        {
          g_set_error (error, PG_I18N_ERROR, PG_I18N_ERROR_MALFORMED, "message %u lies outside the file", i);
          return NULL;
        }
      /* A plural is "singular\0plural" → "form0\0form1…": the first parts. */
      if (!g_utf8_validate (id, strlen (id), NULL) || !g_utf8_validate (text, strlen (text), NULL))
        {
          g_set_error (error, PG_I18N_ERROR, PG_I18N_ERROR_CHARSET, "message %u is not UTF-8", i);
          return NULL;
        }
      if (*id == '\0')
        {
          if (!check_charset (text, error))
            return NULL;
          continue;
        }
      if (strchr (id, '\004') != NULL || *text == '\0')
        continue; /* msgctxt (unused here), or untranslated */
      g_hash_table_insert (messages, g_strdup (id), g_strdup (text));
    }
  return g_steal_pointer (&messages);
}

static gboolean
catalogue_read (Catalogue *catalogue, GError **error)
{
  GStatBuf info;
  if (g_stat (catalogue->path, &info) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s", g_strerror (saved));
      return FALSE;
    }
  if (info.st_size > PG_I18N_MAX_CATALOGUE_BYTES)
    {
      g_set_error (error, PG_I18N_ERROR, PG_I18N_ERROR_MALFORMED, "%lld bytes: over %d",
                   (long long)info.st_size, PG_I18N_MAX_CATALOGUE_BYTES);
      return FALSE;
    }
  g_autofree char *contents = NULL;
  gsize size = 0;
  if (!g_file_get_contents (catalogue->path, &contents, &size, error))
    return FALSE;
  catalogue->messages = pg_i18n_parse_mo ((const guint8 *)contents, size, error);
  return catalogue->messages != NULL;
}

/* ---- catalogues by language ---- */

static gboolean
plausible_locale (const char *name)
{
  gsize length = strlen (name);
  if (length < 2 || length > 32)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '@')
      return FALSE;
  return TRUE;
}

static void
list_directory (PgI18n *i18n, const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  if (handle == NULL)
    {
      g_debug ("no catalogues in %s", dir);
      return;
    }
  const char *name;
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *locale = NULL;
      g_autofree char *path = NULL;
      if (g_str_has_suffix (name, ".gmo"))
        {
          locale = g_strndup (name, strlen (name) - strlen (".gmo"));
          path = g_build_filename (dir, name, NULL);
        }
      else
        {
          path = g_build_filename (dir, name, "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);
          if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
            continue;
          locale = g_strdup (name);
        }
      if (!plausible_locale (locale) || g_hash_table_contains (i18n->catalogues, locale))
        continue;
      Catalogue *catalogue = g_new0 (Catalogue, 1);
      catalogue->language = g_strdelimit (g_strdup (locale), "_", '-');
      catalogue->path = g_steal_pointer (&path);
      g_debug ("catalogue for %s: %s", locale, catalogue->path);
      g_hash_table_insert (i18n->catalogues, g_steal_pointer (&locale), catalogue);
    }
}

PgI18n *
pg_i18n_new (const char *const *localedirs)
{
  PgI18n *i18n = g_new0 (PgI18n, 1);
  i18n->catalogues = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)catalogue_free);
  if (localedirs != NULL)
    {
      for (guint i = 0; localedirs[i] != NULL; i++)
        list_directory (i18n, localedirs[i]);
      return i18n;
    }
  const char *override = g_getenv (PG_I18N_LOCALEDIR_ENV);
  if (override != NULL && *override != '\0')
    list_directory (i18n, override);
  list_directory (i18n, LOCALEDIR);
  g_autofree const char **locales = (const char **)g_hash_table_get_keys_as_array (i18n->catalogues, NULL);
  g_autofree char *list = g_strjoinv (", ", (char **)locales);
  g_info ("user-visible texts in English%s%s", *list != '\0' ? " and " : "", list);
  return i18n;
}

void
pg_i18n_free (PgI18n *i18n)
{
  if (i18n == NULL)
    return;
  g_hash_table_unref (i18n->catalogues);
  g_free (i18n);
}

/* The catalogue of @locale, read now if it was not; NULL when there is none
 * or it cannot be read. */
static Catalogue *
catalogue_get (PgI18n *i18n, const char *locale)
{
  Catalogue *catalogue = g_hash_table_lookup (i18n->catalogues, locale);
  if (catalogue == NULL || catalogue->failed)
    return NULL;
  if (catalogue->messages == NULL)
    {
      g_autoptr (GError) error = NULL;
      if (!catalogue_read (catalogue, &error))
        {
          g_warning ("%s: ignored, %s texts stay English: %s", catalogue->path, catalogue->language,
                     error->message);
          catalogue->failed = TRUE;
          return NULL;
        }
      g_info ("%s: %u %s texts", catalogue->path, g_hash_table_size (catalogue->messages),
              catalogue->language);
    }
  return catalogue;
}

/* Locale names to try for the language tag @lang, most specific first:
 * "de-AT" → "de_AT", "de". Only letters and digits that were checked end up
 * in them. Returns how many (0: English). */
static guint
locales_of (const char *lang, char locales[2][8])
{
  if (lang == NULL)
    return 0;
  gsize n = 0;
  while (n < 4 && g_ascii_isalpha (lang[n]))
    n++;
  if (n < 2 || n > 3 || (lang[n] != '\0' && lang[n] != '-' && lang[n] != '_'))
    return 0;
  char primary[4] = { 0 };
  for (gsize i = 0; i < n; i++)
    primary[i] = g_ascii_tolower (lang[i]);

  /* The region is the first later subtag of 2 letters or 3 digits
   * (BCP 47): "zh-Hant-TW" → "TW". */
  char region[4] = { 0 };
  for (const char *subtag = lang + n; *subtag != '\0' && region[0] == '\0' && subtag - lang < 64;)
    {
      subtag++; /* the separator */
      gsize length = strcspn (subtag, "-_");
      if (length == 2 && g_ascii_isalpha (subtag[0]) && g_ascii_isalpha (subtag[1]))
        {
          region[0] = g_ascii_toupper (subtag[0]);
          region[1] = g_ascii_toupper (subtag[1]);
        }
      else if (length == 3 && g_ascii_isdigit (subtag[0]) && g_ascii_isdigit (subtag[1])
               && g_ascii_isdigit (subtag[2]))
        memcpy (region, subtag, 3);
      subtag += length;
    }

  guint count = 0;
  if (region[0] != '\0')
    g_snprintf (locales[count++], sizeof locales[0], "%s_%s", primary, region);
  g_strlcpy (locales[count++], primary, sizeof locales[0]);
  return count;
}

/* The translation of @msgid for @lang and the catalogue it comes from; NULL
 * when none has it. */
static const char *
lookup (PgI18n *i18n, const char *lang, const char *msgid, const Catalogue **from)
{
  char locales[2][8];
  guint n = locales_of (lang, locales);
  for (guint i = 0; i < n; i++)
    {
      Catalogue *catalogue = catalogue_get (i18n, locales[i]);
      const char *text = catalogue != NULL ? g_hash_table_lookup (catalogue->messages, msgid) : NULL;
      if (text != NULL)
        {
          if (from != NULL)
            *from = catalogue;
          return text;
        }
    }
  return NULL;
}

const char *
pg_i18n_translate (PgI18n *i18n, const char *lang, const char *msgid)
{
  g_return_val_if_fail (i18n != NULL, msgid);
  if (msgid == NULL || *msgid == '\0')
    return msgid;
  const char *text = lookup (i18n, lang, msgid, NULL);
  return text != NULL ? text : msgid;
}

const char *
pg_i18n_get_language (PgI18n *i18n, const char *lang)
{
  g_return_val_if_fail (i18n != NULL, PG_I18N_SOURCE_LANG);
  char locales[2][8];
  guint n = locales_of (lang, locales);
  for (guint i = 0; i < n; i++)
    {
      Catalogue *catalogue = catalogue_get (i18n, locales[i]);
      if (catalogue != NULL)
        return catalogue->language;
    }
  return PG_I18N_SOURCE_LANG;
}

void
pg_i18n_localize_error (PgI18n *i18n, xmlNode *reply, const char *lang)
{
  g_return_if_fail (i18n != NULL && reply != NULL);
  xmlNode *error = pg_stanza_get_error (reply);
  xmlNode *text = error != NULL ? pg_stanza_find_child (error, "text", PG_NS_STANZAS) : NULL;
  g_autofree char *english = text != NULL ? pg_stanza_dup_text (text) : NULL;
  if (english == NULL || *english == '\0')
    return;
  const Catalogue *from = NULL;
  const char *translated = lookup (i18n, lang, english, &from);
  if (translated == NULL)
    return;
  /* Replaced in place: RFC 6120 §8.3.2 orders the condition, the text, then
   * an application-specific condition. */
  xmlNodeSetContent (text, NULL);
  xmlNodeAddContent (text, (const xmlChar *)translated);
  pg_stanza_set_attr (text, "xml:lang", from->language);
}
