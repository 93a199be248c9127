/* transport/xml-writer.c — see transport/xml-writer.h. */
#include "build-config.h"

#include "transport/xml-writer.h"

#include "transport/ascii.h"

#include <stdarg.h>

static gboolean
xml_char_allowed (gunichar c)
{
  if (c < 0x20)
    return c == '\t' || c == '\n' || c == '\r';
  return c != 0xFFFE && c != 0xFFFF;
}

/* The replacement of @byte (< 0x80) in text, or NULL when it stands as
 * it is. */
static const char *
ascii_replacement (guchar byte, gboolean in_attribute)
{
  switch (byte)
    {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '\'':
      return in_attribute ? "&apos;" : NULL;
    case '"':
      return in_attribute ? "&quot;" : NULL;
    case '\n':
      return in_attribute ? "&#xA;" : NULL;
    case '\r':
      return "&#xD;";
    case '\t':
      return in_attribute ? "&#x9;" : NULL;
    default:
      return xml_char_allowed (byte) ? NULL : "\xEF\xBF\xBD";
    }
}

/* Bytes that stop the copy of a run in valid UTF-8, by where they stand:
 * the end, markup, characters XML forbids or escapes in attributes, and
 * 0xEF, the lead byte of U+FFFE and U+FFFF. A table lookup per byte: the
 * bodies of most messages have none of them. */
enum
{
  STOP_IN_TEXT = 1 << 0,
  STOP_IN_ATTRIBUTE = 1 << 1,
};

#define A STOP_IN_ATTRIBUTE
#define B (STOP_IN_TEXT | STOP_IN_ATTRIBUTE)
static const guint8 stops[256] = {
  [0x00] = B, [0x01] = B, [0x02] = B, [0x03] = B, [0x04] = B, [0x05] = B, [0x06] = B, [0x07] = B,
  [0x08] = B, [0x09] = A, [0x0A] = A, [0x0B] = B, [0x0C] = B, [0x0D] = B, [0x0E] = B, [0x0F] = B,
  [0x10] = B, [0x11] = B, [0x12] = B, [0x13] = B, [0x14] = B, [0x15] = B, [0x16] = B, [0x17] = B,
  [0x18] = B, [0x19] = B, [0x1A] = B, [0x1B] = B, [0x1C] = B, [0x1D] = B, [0x1E] = B, [0x1F] = B,
  ['"'] = A,  ['&'] = B,  ['\''] = A, ['<'] = B,  ['>'] = B,  [0xEF] = B,
};
#undef A
#undef B

/* Valid UTF-8 (the common case, checked in one pass): runs of bytes that
 * stand as they are are copied at once. */
static void
append_escaped_valid (GString *out, const char *text, gboolean in_attribute)
{
  const guint8 mask = in_attribute ? STOP_IN_ATTRIBUTE : STOP_IN_TEXT;
  const char *run = text;
  const char *p = text;

  for (;;)
    {
      while ((stops[(guchar)*p] & mask) == 0)
        p++;
      guchar byte = (guchar)*p;
      if (byte == '\0')
        break;
      const char *replacement = NULL;
      gsize skip = 1;
      if (byte < 0x80)
        replacement = ascii_replacement (byte, in_attribute);
      else if ((guchar)p[1] == 0xBF && ((guchar)p[2] == 0xBE || (guchar)p[2] == 0xBF))
        {
          replacement = "\xEF\xBF\xBD"; /* U+FFFE, U+FFFF: not XML characters */
          skip = 3;
        }
      if (replacement == NULL)
        {
          p++;
          continue;
        }
      pg_xml_append_len (out, run, (gsize)(p - run));
      pg_xml_append (out, replacement);
      p += skip;
      run = p;
    }
  pg_xml_append_len (out, run, (gsize)(p - run));
}

/* @text from its first byte above 0x7F on. */
static void
append_escaped_non_ascii (GString *out, const char *text, gboolean in_attribute)
{
  if (g_utf8_validate (text, -1, NULL))
    {
      append_escaped_valid (out, text, in_attribute);
      return;
    }
  /* Each byte of a broken sequence becomes U+FFFD. */
  const char *p = text;
  while (*p != '\0')
    {
      guchar byte = (guchar)*p;
      if (byte < 0x80)
        {
          const char *replacement = ascii_replacement (byte, in_attribute);
          if (replacement != NULL)
            pg_xml_append (out, replacement);
          else
            g_string_append_c (out, (char)byte);
          p++;
          continue;
        }
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c == (gunichar)-1 || c == (gunichar)-2)
        {
          pg_xml_append (out, "\xEF\xBF\xBD");
          p++;
          continue;
        }
      const char *next = g_utf8_next_char (p);
      if (xml_char_allowed (c))
        pg_xml_append_len (out, p, (gsize)(next - p));
      else
        pg_xml_append (out, "\xEF\xBF\xBD");
      p = next;
    }
}

/* Whether a byte of @word may need a look: not ASCII, a control
 * character, or markup (with quotes, in an attribute). */
static inline gboolean
word_needs_look (guint64 word, gboolean in_attribute)
{
  guint64 found = pg_word_has_high (word) | pg_word_has_below (word, 0x20) | pg_word_has (word, '&')
                  | pg_word_has (word, '<') | pg_word_has (word, '>');
  if (in_attribute)
    found |= pg_word_has (word, '\'') | pg_word_has (word, '"');
  return found != 0;
}

/* An ASCII prefix is valid UTF-8 whatever follows, and each character
 * is escaped on its own: validation starts at the first byte above 0x7F,
 * and most texts, ASCII to the end, are escaped in one pass, eight bytes
 * at a time where none needs a look. */
void
pg_xml_append_escaped (GString *out, const char *text, gboolean in_attribute)
{
  const guint8 mask = in_attribute ? STOP_IN_ATTRIBUTE : STOP_IN_TEXT;
  const char *run = text;
  const char *p = text;
  const char *end = text + strlen (text);

  for (;;)
    {
      while (end - p >= 8 && !word_needs_look (pg_word_load (p), in_attribute))
        p += 8;
      /* The word that may hold a stop, byte by byte (or the tail). */
      const char *word_end = end - p >= 8 ? p + 8 : end;
      while (p < word_end && (stops[(guchar)*p] & mask) == 0 && (guchar)*p < 0x80)
        p++;
      if (p == word_end)
        {
          if (p == end)
            break;
          continue;
        }
      guchar byte = (guchar)*p;
      if (byte >= 0x80)
        {
          pg_xml_append_len (out, run, (gsize)(p - run));
          append_escaped_non_ascii (out, p, in_attribute);
          return;
        }
      const char *replacement = ascii_replacement (byte, in_attribute);
      p++;
      if (replacement == NULL)
        continue;
      pg_xml_append_len (out, run, (gsize)(p - 1 - run));
      pg_xml_append (out, replacement);
      run = p;
    }
  pg_xml_append_len (out, run, (gsize)(p - run));
}

static void
write_tag (GString *out, const char *name, va_list attrs, const char *end)
{
  const char *attr;

  g_string_append_c (out, '<');
  pg_xml_append (out, name);
  while ((attr = va_arg (attrs, const char *)) != NULL)
    {
      const char *value = va_arg (attrs, const char *);
      if (value == NULL)
        continue;
      g_string_append_c (out, ' ');
      pg_xml_append (out, attr);
      pg_xml_append (out, "='");
      pg_xml_append_escaped (out, value, TRUE);
      g_string_append_c (out, '\'');
    }
  pg_xml_append (out, end);
}

void
pg_xml_write_start (GString *out, const char *name, ...)
{
  va_list attrs;
  va_start (attrs, name);
  write_tag (out, name, attrs, ">");
  va_end (attrs);
}

void
pg_xml_write_empty (GString *out, const char *name, ...)
{
  va_list attrs;
  va_start (attrs, name);
  write_tag (out, name, attrs, "/>");
  va_end (attrs);
}

void
pg_xml_write_text (GString *out, const char *name, const char *text)
{
  g_string_append_c (out, '<');
  pg_xml_append (out, name);
  g_string_append_c (out, '>');
  pg_xml_append_escaped (out, text, FALSE);
  pg_xml_write_end (out, name);
}

void
pg_xml_write_end (GString *out, const char *name)
{
  pg_xml_append (out, "</");
  pg_xml_append (out, name);
  g_string_append_c (out, '>');
}
