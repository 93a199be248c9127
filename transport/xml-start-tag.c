/* transport/xml-start-tag.c — the start tag of the stanza being scanned, kept
 * as received: a stanza over the size limit is skipped, not parsed, and its
 * bounce (the stanza_too_big callback of xml-parser.h) is built from it.
 *
 * Only the start tag is kept, as received but without values over
 * PG_XML_SKELETON_VALUE_MAX bytes, and xml-parser.c parses it through the
 * same handlers as any stanza when it is needed. */
#define G_LOG_DOMAIN "pg-xml"
#include "build-config.h"

#include "transport/xml-parser-private.h"

#include <string.h>

void
pg_xml_start_tag_init (PgXmlStartTag *tag)
{
  memset (tag, 0, sizeof *tag);
  tag->text = g_string_new (NULL);
}

void
pg_xml_start_tag_clear (PgXmlStartTag *tag)
{
  if (tag->text != NULL)
    g_string_free (tag->text, TRUE);
  tag->text = NULL;
}

void
pg_xml_start_tag_begin (PgXmlStartTag *tag)
{
  g_string_truncate (tag->text, 0);
  g_string_append_c (tag->text, '<');
  tag->good = 0;
  tag->name_len = 0;
  tag->done = FALSE;
  tag->full = FALSE;
  tag->value_dropped = FALSE;
  tag->in_value = FALSE;
}

/* A byte of the start tag outside values, other than its closing '>'. */
static void
add_tag_byte (PgXmlStartTag *tag, char c)
{
  if (tag->full)
    return;
  if (tag->name_len == 0 && (g_ascii_isspace (c) || c == '/'))
    tag->name_len = tag->good = tag->text->len;
  if (tag->text->len >= PG_XML_SKELETON_MAX)
    {
      tag->full = TRUE; /* what is complete so far still serves */
      return;
    }
  g_string_append_c (tag->text, c);
  if (c == '\'' || c == '"')
    {
      tag->value_start = tag->text->len;
      tag->value_dropped = FALSE;
    }
}

/* A run of start tag bytes other than quotes, '/' and '>'. */
static void
add_tag_bytes (PgXmlStartTag *tag, const char *data, gsize len)
{
  GString *text = tag->text;
  if (tag->full)
    return;
  gsize room = PG_XML_SKELETON_MAX - MIN (text->len, (gsize)PG_XML_SKELETON_MAX);
  gsize n = MIN (len, room);
  if (tag->name_len == 0)
    for (gsize k = 0; k < n; k++)
      if (g_ascii_isspace (data[k]))
        {
          tag->name_len = tag->good = text->len + k;
          break;
        }
  g_string_append_len (text, data, (gssize)n);
  if (n < len)
    tag->full = TRUE;
}

/* @text holds " name=" or the like, up to the opening quote. */
static gboolean
is_echoed_attribute (const char *text, gsize len)
{
  gsize i = 0;
  while (i < len && g_ascii_isspace (text[i]))
    i++;
  gsize start = i;
  while (i < len && !g_ascii_isspace (text[i]) && text[i] != '=')
    i++;
  gsize n = i - start;
  const char *name = text + start;
  return (n == 4 && memcmp (name, "from", 4) == 0) || (n == 2 && memcmp (name, "to", 2) == 0)
         || (n == 2 && memcmp (name, "id", 2) == 0);
}

static void
add_value (PgXmlStartTag *tag, const char *data, gsize len)
{
  GString *text = tag->text;
  if (tag->full || tag->value_dropped || len == 0)
    return;
  if (text->len - tag->value_start + len <= PG_XML_SKELETON_VALUE_MAX
      && text->len + len <= PG_XML_SKELETON_MAX)
    {
      g_string_append_len (text, data, len);
      return;
    }
  if (is_echoed_attribute (text->str + tag->good, tag->value_start - 1 - tag->good))
    {
      /* The bounce would have to leave out the address or id it needs, or
       * point it elsewhere: keep nothing that allows an answer. */
      tag->good = tag->name_len;
      tag->full = TRUE;
      return;
    }
  g_string_truncate (text, tag->good);
  tag->value_dropped = TRUE;
}

static void
end_value (PgXmlStartTag *tag, char quote)
{
  if (tag->full)
    return;
  if (tag->value_dropped)
    {
      tag->value_dropped = FALSE;
      return;
    }
  g_string_append_c (tag->text, quote);
  tag->good = tag->text->len;
}

void
pg_xml_start_tag_add (PgXmlStartTag *tag, const char *data, gsize len)
{
  gsize k = 0;
  while (k < len)
    {
      if (tag->in_value)
        {
          const char *q = memchr (data + k, tag->quote, len - k);
          gsize n = (q != NULL ? (gsize)(q - data) : len) - k;
          add_value (tag, data + k, n);
          k += n;
          if (q == NULL)
            break;
          end_value (tag, tag->quote);
          tag->in_value = FALSE;
          k++;
          continue;
        }
      gsize j = k;
      while (j < len && data[j] != '"' && data[j] != '\'' && data[j] != '/')
        j++;
      add_tag_bytes (tag, data + k, j - k);
      if (j == len)
        break;
      add_tag_byte (tag, data[j]);
      if (data[j] != '/')
        {
          tag->in_value = TRUE;
          tag->quote = data[j];
        }
      k = j + 1;
    }
}

void
pg_xml_start_tag_finish (PgXmlStartTag *tag, const char *data, gsize len)
{
  /* Usually the whole tag is here, and short: no value in it can be over
   * the limit, and it is copied whole. */
  if (tag->text->len == 1 && len < PG_XML_SKELETON_VALUE_MAX)
    g_string_append_len (tag->text, data, (gssize)len);
  else
    pg_xml_start_tag_add (tag, data, len);

  tag->done = TRUE;
  if (tag->full)
    return;
  gsize n = tag->text->len;
  if (n > 0 && tag->text->str[n - 1] == '/')
    n--;
  if (tag->name_len == 0)
    tag->name_len = n;
  tag->good = n;
}

gsize
pg_xml_start_tag_get_held (const PgXmlStartTag *tag)
{
  return tag->text->len;
}

char *
pg_xml_start_tag_dup_element (const PgXmlStartTag *tag, gsize *len)
{
  *len = 0;
  if (tag->good <= 1)
    return NULL;
  GString *element = g_string_new_len (tag->text->str, (gssize)tag->good);
  g_string_append (element, "/>");
  *len = element->len;
  return g_string_free (element, FALSE);
}
