/* transport/xml-parser.h — the XMPP stream parser: bytes in, one tree per
 * stanza out, with XMPP's restrictions and purplegate's limits enforced while
 * parsing (libxml2 push parser with SAX2 callbacks). */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#define PG_XML_PARSER_ERROR (pg_xml_parser_error_quark ())
GQuark pg_xml_parser_error_quark (void);
/* Each code is the stream error condition the stream must close with. */
typedef enum
{
  PG_XML_PARSER_ERROR_NOT_WELL_FORMED,
  PG_XML_PARSER_ERROR_RESTRICTED_XML,       /* DOCTYPE, entities, PI, comment */
  PG_XML_PARSER_ERROR_POLICY_VIOLATION,     /* nesting deeper than the limit */
  PG_XML_PARSER_ERROR_UNSUPPORTED_ENCODING, /* declared encoding other than UTF-8 */
} PgXmlParserError;

/* Nesting depth of a stanza, the stanza element itself being depth 1. */
#define PG_XML_MAX_DEPTH 32
/* Per-element and per-stanza caps besides the byte limit. */
#define PG_XML_MAX_ATTRIBUTES 64
#define PG_XML_MAX_ELEMENTS 10000
/* RFC 6120 §13.12: no server may limit stanzas below 10,000 bytes. */
#define PG_XML_MIN_STANZA_BYTES 10000
/* What is kept of an oversized stanza's start tag for its bounce: values up
 * to this many bytes as received, and the tag up to PG_XML_SKELETON_MAX. */
#define PG_XML_SKELETON_VALUE_MAX 4096
#define PG_XML_SKELETON_MAX 16384

typedef struct
{
  /* The stream header; @root carries its attributes (id, from…). Borrowed. */
  void (*stream_opened) (const xmlNode *root, gpointer user_data);
  /* A complete stanza. The callee owns @stanza (pg_stanza_free). */
  void (*stanza) (xmlNode *stanza, gpointer user_data);
  /* A stanza over the byte or element limit, skipped while parsing: @skeleton
   * holds only its name and top-level attributes, without any value longer
   * than PG_XML_SKELETON_VALUE_MAX bytes, and without any attribute at all
   * when that was from, to or id (such a stanza must not be answered).
   * @bytes: its size as received. Borrowed. A stanza whose name itself cannot
   * be kept is skipped with a log line instead. */
  void (*stanza_too_big) (const xmlNode *skeleton, gsize bytes, gpointer user_data);
  /* </stream:stream> */
  void (*stream_closed) (gpointer user_data);
} PgXmlParserCallbacks;

typedef struct PgXmlParser PgXmlParser;

/* Caller owns the parser (pg_xml_parser_free). @callbacks must outlive it. */
PgXmlParser *pg_xml_parser_new (const PgXmlParserCallbacks *callbacks, gpointer user_data,
                                gsize max_stanza_bytes);
void pg_xml_parser_free (PgXmlParser *parser);

/* Feeds @len bytes. Returns FALSE with @error (a PgXmlParserError) when the
 * stream became unusable; the parser must then be freed, not fed again.
 * Callbacks may run before it returns. */
gboolean pg_xml_parser_feed (PgXmlParser *parser, const char *data, gsize len, GError **error);

/* Bytes of peer input held now for the token or stanza in progress
 * (libxml2's input buffer and the start tag kept for a bounce), and the most
 * held at any point so far. Both stay within max_stanza_bytes plus a few tens
 * of KiB whatever the input and however it is split. */
gsize pg_xml_parser_get_bytes_held (const PgXmlParser *parser);
gsize pg_xml_parser_get_peak_bytes_held (const PgXmlParser *parser);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgXmlParser, pg_xml_parser_free)
