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
