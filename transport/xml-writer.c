/* transport/xml-writer.c — see transport/xml-writer.h. */
#include "build-config.h"

#include "transport/xml-writer.h"

#include <stdarg.h>

static gboolean
xml_char_allowed (gunichar c)
{
  if (c < 0x20)
    return c == '\t' || c == '\n' || c == '\r';
  return c != 0xFFFE && c != 0xFFFF;
}

void
pg_xml_append_escaped (GString *out, const char *text, gboolean in_attribute)
{
  const char *p = text;
  while (*p != '\0')
    {
      guchar byte = (guchar)*p;
      if (byte < 0x80)
        {
          switch (byte)
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
            case '\'':
              g_string_append (out, in_attribute ? "&apos;" : "'");
              break;
            case '"':
              g_string_append (out, in_attribute ? "&quot;" : "\"");
              break;
            case '\n':
              g_string_append (out, in_attribute ? "&#xA;" : "\n");
              break;
            case '\r':
              g_string_append (out, "&#xD;");
              break;
            case '\t':
              g_string_append (out, in_attribute ? "&#x9;" : "\t");
              break;
            default:
              if (xml_char_allowed (byte))
                g_string_append_c (out, (char)byte);
              else
                g_string_append (out, "\xEF\xBF\xBD");
            }
          p++;
          continue;
        }
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c == (gunichar)-1 || c == (gunichar)-2)
        {
          g_string_append (out, "\xEF\xBF\xBD");
          p++;
          continue;
        }
      const char *next = g_utf8_next_char (p);
      if (xml_char_allowed (c))
        g_string_append_len (out, p, next - p);
      else
        g_string_append (out, "\xEF\xBF\xBD");
      p = next;
    }
}

static void
write_tag (GString *out, const char *name, va_list attrs, const char *end)
{
  const char *attr;

  g_string_append_c (out, '<');
  g_string_append (out, name);
  while ((attr = va_arg (attrs, const char *)) != NULL)
    {
      const char *value = va_arg (attrs, const char *);
      if (value == NULL)
        continue;
      g_string_append_c (out, ' ');
      g_string_append (out, attr);
      g_string_append (out, "='");
      pg_xml_append_escaped (out, value, TRUE);
      g_string_append_c (out, '\'');
    }
  g_string_append (out, end);
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
  g_string_append (out, name);
  g_string_append_c (out, '>');
  pg_xml_append_escaped (out, text, FALSE);
  pg_xml_write_end (out, name);
}

void
pg_xml_write_end (GString *out, const char *name)
{
  g_string_append (out, "</");
  g_string_append (out, name);
  g_string_append_c (out, '>');
}
