/* transport/xml-writer.h — XML text written straight into a buffer.
 *
 * The busiest stanzas (a legacy contact's chat message to a user) cost
 * more as a libxml2 tree, built, serialised and freed, than everything
 * else their path does; written as text they cost a few copies.  Text
 * written here follows the rules of the tree serialiser
 * (pg_stanza_serialize()): attribute values in single quotes, characters
 * XML forbids replaced by U+FFFD, and no namespace but the ones given as
 * xmlns attributes. */
#pragma once
#include <glib.h>
#include <string.h>

/* Appends @len bytes of markup written by the caller, as they are.  A
 * stanza is written in a few dozen short pieces, and GLib's
 * g_string_append_len() goes through g_string_insert_len(), made for a
 * source inside the string and for insertion anywhere: several times the
 * cost of the copy for pieces this short.  The string grows through GLib
 * only when it is full. */
static inline void
pg_xml_append_len (GString *out, const char *bytes, gsize len)
{
  if (G_UNLIKELY (out->len + len >= out->allocated_len))
    {
      g_string_append_len (out, bytes, (gssize)len);
      return;
    }
  memcpy (out->str + out->len, bytes, len);
  out->len += len;
  out->str[out->len] = '\0';
}

/* pg_xml_append_len() of the string @markup. */
static inline void
pg_xml_append (GString *out, const char *markup)
{
  pg_xml_append_len (out, markup, strlen (markup));
}

/* Appends @text escaped for character data, or for an attribute value in
 * single quotes when @in_attribute. */
void pg_xml_append_escaped (GString *out, const char *text, gboolean in_attribute);

/* Appends the start tag "<@name …>" with attributes given as pairs of name
 * and value, NULL-terminated; a pair whose value is NULL is left out.
 * Names are constants of the caller, written as they are. */
void pg_xml_write_start (GString *out, const char *name, ...) G_GNUC_NULL_TERMINATED;
/* The same, as an empty element "<@name …/>". */
void pg_xml_write_empty (GString *out, const char *name, ...) G_GNUC_NULL_TERMINATED;
/* Appends "<@name>@text</@name>". */
void pg_xml_write_text (GString *out, const char *name, const char *text);
/* Appends the end tag "</@name>". */
void pg_xml_write_end (GString *out, const char *name);
