/* transport/xml-parser.c — XMPP stream parsing on libxml2's push parser:
 * the public entry points, and one tree per stanza built from libxml2's
 * SAX2 events.
 *
 * libxml2 2.9.14 (Debian 12) has no XML_PARSE_NO_XXE and does not check
 * nesting depth in the push loop when SAX handlers are supplied, so the
 * protection is here: every DTD-related handler stops the parser with
 * restricted-xml, getEntity resolves nothing beyond the five predefined
 * entities, and depth, attributes and elements are counted by hand. Bytes
 * are counted as received, before libxml2 sees them (xml-framing.c). */
#define G_LOG_DOMAIN "pg-xml"
#include "build-config.h"

#include "transport/xml-parser-private.h"

#include "transport/stanza.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <string.h>

G_DEFINE_QUARK (pg - xml - parser - error - quark, pg_xml_parser_error)

struct PgXmlParser
{
  xmlParserCtxt *ctxt;
  xmlSAXHandler sax;
  const PgXmlParserCallbacks *callbacks;
  gpointer user_data;
  PgXmlFraming framing; /* every byte as received, ahead of libxml2 */

  int depth;         /* 1 = <stream:stream>, 2 = a stanza */
  xmlNode *stanza;   /* tree being built; NULL while skipping */
  xmlNode *current;  /* innermost open element of @stanza */
  xmlNode *skeleton; /* top element of a stanza skipped for its elements */
  unsigned long stanza_start;
  guint stanza_elements;

  gboolean replaying;      /* resync(): the header again, without stream_opened */
  gboolean capturing;      /* parse_skeleton(): a stanza becomes @captured */
  gboolean capture_failed; /* … and did not parse, which is no stream error */
  xmlNode *captured;
  gsize peak_held;

  gboolean failed;
  PgXmlParserError failure;
  char *failure_message;
};

static void
fail (PgXmlParser *parser, PgXmlParserError code, const char *message)
{
  if (parser->capturing)
    {
      parser->capture_failed = TRUE;
      xmlStopParser (parser->ctxt);
      return;
    }
  if (parser->failed)
    return;
  parser->failed = TRUE;
  parser->failure = code;
  parser->failure_message = g_strdup (message);
  xmlStopParser (parser->ctxt);
}

static unsigned long
bytes_consumed (PgXmlParser *parser)
{
  return (unsigned long)xmlByteConsumed (parser->ctxt);
}

static void
discard_stanza (PgXmlParser *parser)
{
  g_clear_pointer (&parser->stanza, pg_stanza_free);
  parser->current = NULL;
}

/* Past the element limit the partial tree is dropped and only the top
 * element's attributes are kept, so the stanza can still be bounced; libxml2
 * goes on parsing it, holding no more than the byte limit (xml-framing.c). */
static void
check_stanza_size (PgXmlParser *parser)
{
  if (parser->stanza == NULL || parser->stanza_elements <= PG_XML_MAX_ELEMENTS)
    return;
  xmlDoc *doc = xmlNewDoc ((const xmlChar *)"1.0");
  parser->skeleton = xmlDocCopyNode (parser->stanza, doc, 2);
  xmlDocSetRootElement (doc, parser->skeleton);
  xmlReconciliateNs (doc, parser->skeleton);
  discard_stanza (parser);
}

/* Without entity substitution libxml2 hands '&' over as "&#38;" and every
 * other reference already decoded, in attribute values and namespace names
 * alike. Returns the decoded text of @len bytes (-1: up to the NUL), or NULL
 * for NULL. Caller owns it (g_free). */
static char *
decode_amp (const xmlChar *text, gssize len)
{
  if (text == NULL)
    return NULL;
  char *value = len < 0 ? g_strdup ((const char *)text) : g_strndup ((const char *)text, (gsize)len);
  if (strstr (value, "&#38;") == NULL)
    return value;
  g_auto (GStrv) parts = g_strsplit (value, "&#38;", -1);
  g_free (value);
  return g_strjoinv ("&", parts);
}

static xmlNode *
new_element (PgXmlParser *parser, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
             int nb_namespaces, const xmlChar **namespaces)
{
  xmlDoc *doc = parser->stanza != NULL ? parser->stanza->doc : xmlNewDoc ((const xmlChar *)"1.0");
  xmlNode *node = xmlNewDocNode (doc, NULL, localname, NULL);
  if (parser->stanza == NULL)
    xmlDocSetRootElement (doc, node);
  else
    xmlAddChild (parser->current, node);

  for (int i = 0; i < nb_namespaces; i++)
    {
      g_autofree char *href = decode_amp (namespaces[2 * i + 1], -1);
      xmlNewNs (node, (const xmlChar *)href, namespaces[2 * i]);
    }
  if (uri != NULL)
    {
      g_autofree char *href = decode_amp (uri, -1);
      xmlNs *ns = xmlSearchNs (doc, node, prefix);
      /* The stanza's own namespace is declared on <stream:stream>, outside the
       * tree: declare it again so every tree stands alone. */
      if (ns == NULL || !xmlStrEqual (ns->href, (const xmlChar *)href))
        ns = xmlNewNs (node, (const xmlChar *)href, prefix);
      xmlSetNs (node, ns);
    }
  else
    {
      /* In no namespace (xmlns=''): say so with an empty one, since a NULL
       * ns means "the stream's default" to pg_stanza_serialize(). */
      xmlNs *ns = xmlSearchNs (doc, node, NULL);
      if (ns == NULL || ns->href == NULL || ns->href[0] != '\0')
        ns = xmlNewNs (node, (const xmlChar *)"", NULL);
      xmlSetNs (node, ns);
    }
  return node;
}

static void
add_attributes (xmlNode *node, int nb_attributes, const xmlChar **attributes)
{
  /* SAX2 gives each attribute as localname, prefix, URI, value, end. */
  for (int i = 0; i < nb_attributes; i++)
    {
      const xmlChar **a = &attributes[5 * i];
      g_autofree char *value = decode_amp (a[3], a[4] - a[3]);
      xmlNs *ns = NULL;
      if (a[2] != NULL)
        {
          g_autofree char *href = decode_amp (a[2], -1);
          /* By prefix: a search by URI may find a default namespace, which
           * does not apply to attributes (p:a would serialise as a). */
          ns = xmlSearchNs (node->doc, node, a[1]);
          if (ns == NULL || !xmlStrEqual (ns->href, (const xmlChar *)href))
            ns = xmlNewNs (node, (const xmlChar *)href, a[1]);
        }
      xmlNewNsProp (node, ns, a[0], (const xmlChar *)value);
    }
}

/* Namespaces in XML §3: a name part is non-empty and has no colon. libxml2
 * reports "a:b:c", "a:" or ":a" as a recoverable namespace error and goes
 * on, the colons left in the local name or prefix. */
static gboolean
is_ncname (const xmlChar *name)
{
  return name != NULL && name[0] != '\0' && strchr ((const char *)name, ':') == NULL;
}

/* libxml2 reports an unbound prefix, or one attribute under two prefixes of a
 * namespace, as a recoverable namespace error and goes on: with a NULL URI
 * (an unbound "p:type" would arrive as "type") or with both attributes (the
 * tree would serialise as not well-formed); likewise for names that are not
 * QNames (above). RFC 6120 §11.2: not-well-formed. */
static gboolean
namespaces_well_formed (const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                        int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                        const xmlChar **attributes)
{
  if (prefix != NULL && uri == NULL)
    return FALSE;
  if (!is_ncname (localname) || (prefix != NULL && !is_ncname (prefix)))
    return FALSE;
  for (int i = 0; i < nb_namespaces; i++)
    if (namespaces[2 * i] != NULL && !is_ncname (namespaces[2 * i]))
      return FALSE;
  for (int i = 0; i < nb_attributes; i++)
    {
      const xmlChar **a = &attributes[5 * i];
      if (a[1] != NULL && a[2] == NULL)
        return FALSE;
      if (!is_ncname (a[0]) || (a[1] != NULL && !is_ncname (a[1])))
        return FALSE;
      for (int j = 0; j < i; j++)
        if (xmlStrEqual (a[0], attributes[5 * j]) && xmlStrEqual (a[2], attributes[5 * j + 2]))
          return FALSE;
    }
  return TRUE;
}

static void
on_start_element (void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                  int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
                  const xmlChar **attributes)
{
  PgXmlParser *parser = ctx;
  if (parser->failed)
    return;
  if (!namespaces_well_formed (localname, prefix, uri, nb_namespaces, namespaces, nb_attributes, attributes))
    {
      fail (parser, PG_XML_PARSER_ERROR_NOT_WELL_FORMED, "unbound prefix, repeated attribute or bad name");
      return;
    }
  parser->depth++;

  if (parser->depth == 1)
    {
      const xmlChar *encoding = parser->ctxt->encoding;
      if (encoding != NULL && g_ascii_strcasecmp ((const char *)encoding, "UTF-8") != 0)
        {
          fail (parser, PG_XML_PARSER_ERROR_UNSUPPORTED_ENCODING, "stream declares a non-UTF-8 encoding");
          return;
        }
      if (parser->replaying)
        return;
      g_autoptr (PgStanza) root = NULL;
      root = new_element (parser, localname, prefix, uri, nb_namespaces, namespaces);
      add_attributes (root, nb_attributes, attributes);
      if (parser->callbacks->stream_opened != NULL)
        parser->callbacks->stream_opened (root, parser->user_data);
      return;
    }

  if (parser->depth - 1 > PG_XML_MAX_DEPTH)
    {
      fail (parser, PG_XML_PARSER_ERROR_POLICY_VIOLATION, "stanza nested deeper than the limit");
      return;
    }
  if (nb_attributes > PG_XML_MAX_ATTRIBUTES)
    {
      fail (parser, PG_XML_PARSER_ERROR_POLICY_VIOLATION, "element with too many attributes");
      return;
    }

  if (parser->depth == 2)
    {
      /* The start tag is consumed already: count its attribute values in, or
       * one huge attribute would pass any limit. */
      gsize tag_bytes = 0;
      for (int i = 0; i < nb_attributes; i++)
        tag_bytes += (gsize)(attributes[5 * i + 4] - attributes[5 * i + 3]);
      parser->stanza_start = bytes_consumed (parser) - MIN (tag_bytes, bytes_consumed (parser));
      parser->stanza_elements = 0;
      g_clear_pointer (&parser->skeleton, pg_stanza_free);
    }
  else if (parser->stanza == NULL)
    return; /* skipping an oversized stanza */

  parser->stanza_elements++;
  xmlNode *node = new_element (parser, localname, prefix, uri, nb_namespaces, namespaces);
  if (parser->stanza == NULL)
    parser->stanza = node;
  add_attributes (node, nb_attributes, attributes);
  parser->current = node;
  check_stanza_size (parser);
}

static void
on_end_element (void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
  PgXmlParser *parser = ctx;
  if (parser->failed)
    return;
  int depth = parser->depth--;

  if (depth == 1)
    {
      if (parser->callbacks->stream_closed != NULL)
        parser->callbacks->stream_closed (parser->user_data);
      return;
    }
  check_stanza_size (parser);
  if (depth > 2)
    {
      if (parser->stanza != NULL)
        parser->current = parser->current->parent;
      return;
    }

  if (parser->stanza != NULL)
    {
      xmlNode *stanza = g_steal_pointer (&parser->stanza);
      parser->current = NULL;
      if (parser->capturing)
        parser->captured = stanza;
      else
        parser->callbacks->stanza (stanza, parser->user_data);
    }
  else if (parser->skeleton != NULL)
    {
      gsize bytes = bytes_consumed (parser) - parser->stanza_start;
      if (parser->callbacks->stanza_too_big != NULL)
        parser->callbacks->stanza_too_big (parser->skeleton, bytes, parser->user_data);
      g_clear_pointer (&parser->skeleton, pg_stanza_free);
    }
}

static void
on_characters (void *ctx, const xmlChar *text, int len)
{
  PgXmlParser *parser = ctx;
  if (parser->failed || parser->depth < 2)
    return; /* whitespace keepalives between stanzas */
  if (len == 0)
    return; /* an empty CDATA section: no empty text node (<a></a> would not read back as <a/>) */
  check_stanza_size (parser);
  if (parser->stanza == NULL)
    return;
  xmlNode *last = parser->current->last;
  if (last != NULL && last->type == XML_TEXT_NODE)
    xmlNodeAddContentLen (last, text, len);
  else
    xmlAddChild (parser->current, xmlNewDocTextLen (parser->stanza->doc, text, len));
}

static void
on_restricted (PgXmlParser *parser, const char *what)
{
  g_autofree char *message = g_strdup_printf ("restricted XML: %s", what);
  fail (parser, PG_XML_PARSER_ERROR_RESTRICTED_XML, message);
}

static void
on_internal_subset (void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
  on_restricted (ctx, "DOCTYPE");
}

static void
on_entity_decl (void *ctx, const xmlChar *name, int type, const xmlChar *public_id, const xmlChar *system_id,
                xmlChar *content)
{
  on_restricted (ctx, "entity declaration");
}

static void
on_processing_instruction (void *ctx, const xmlChar *target, const xmlChar *data)
{
  on_restricted (ctx, "processing instruction");
}

static void
on_comment (void *ctx, const xmlChar *value)
{
  on_restricted (ctx, "comment");
}

static void
on_reference (void *ctx, const xmlChar *name)
{
  on_restricted (ctx, "entity reference");
}

static void
on_notation_decl (void *ctx, const xmlChar *name, const xmlChar *public_id, const xmlChar *system_id)
{
  on_restricted (ctx, "notation declaration");
}

static void
on_unparsed_entity_decl (void *ctx, const xmlChar *name, const xmlChar *public_id, const xmlChar *system_id,
                         const xmlChar *notation)
{
  on_restricted (ctx, "unparsed entity declaration");
}

static void
on_attribute_decl (void *ctx, const xmlChar *elem, const xmlChar *fullname, int type, int def,
                   const xmlChar *default_value, xmlEnumeration *tree)
{
  xmlFreeEnumeration (tree);
  on_restricted (ctx, "attribute declaration");
}

static void
on_element_decl (void *ctx, const xmlChar *name, int type, xmlElementContent *content)
{
  on_restricted (ctx, "element declaration");
}

static xmlEntity *
on_get_entity (void *ctx, const xmlChar *name)
{
  /* Only the five predefined entities exist in XMPP. */
  return xmlGetPredefinedEntity (name);
}

static void
on_cdata (void *ctx, const xmlChar *value, int len)
{
  on_characters (ctx, value, len);
}

static void
on_error (void *ctx, const char *msg, ...)
{
  /* Reported through xmlParseChunk's return value; libxml2's own printing to
   * stderr would leak peer text into the log unbounded. */
}

/* ---- libxml2 contexts ---- */

/* libxml2 copies each chunk whole into its buffer before parsing any of it:
 * feeding it pieces keeps that copy small however much was read at once. */
#define FEED_PIECE 16384

static xmlParserCtxt *
new_context (PgXmlParser *parser)
{
  xmlParserCtxt *ctxt = xmlCreatePushParserCtxt (&parser->sax, parser, NULL, 0, NULL);
  int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
#ifdef XML_PARSE_NO_XXE
  options |= XML_PARSE_NO_XXE;
#endif
  /* libxml2 fails any single token over 10,000,000 bytes unless told
   * otherwise; tokens are bounded by the configured limit (xml-framing.c),
   * which may be set higher. */
  if (parser->framing.max_stanza_bytes > 8 * 1024 * 1024)
    options |= XML_PARSE_HUGE;
  xmlCtxtUseOptions (ctxt, options);
  /* xmlCtxtUseOptions resets the SAX2 user data to the context itself. */
  ctxt->userData = parser;
  ctxt->replaceEntities = 0;
  return ctxt;
}

static void
free_context (xmlParserCtxt *ctxt)
{
  if (ctxt == NULL)
    return;
  if (ctxt->myDoc != NULL)
    xmlFreeDoc (ctxt->myDoc);
  xmlFreeParserCtxt (ctxt);
}

/* Input bytes in libxml2's buffer, parsed or not. */
static gsize
libxml_held (const PgXmlParser *parser)
{
  const xmlParserInput *input = parser->ctxt != NULL ? parser->ctxt->input : NULL;
  if (input == NULL || input->base == NULL || input->end == NULL)
    return 0;
  return (gsize)(input->end - input->base);
}

static void
check_parse_result (PgXmlParser *parser, int rc)
{
  if (rc == 0 || parser->failed)
    return;
  const xmlError *err = xmlCtxtGetLastError (parser->ctxt);
  g_autofree char *message
      = g_strdup_printf ("not well-formed (libxml2 error %d, line %d)", rc, err != NULL ? err->line : 0);
  if (rc == XML_ERR_UNSUPPORTED_ENCODING)
    fail (parser, PG_XML_PARSER_ERROR_UNSUPPORTED_ENCODING, "unsupported encoding");
  else
    fail (parser, PG_XML_PARSER_ERROR_NOT_WELL_FORMED, message);
}

static void
parse_bytes (PgXmlParser *parser, const char *data, gsize len)
{
  while (len > 0 && !parser->failed && !parser->capture_failed)
    {
      int chunk = (int)MIN (len, (gsize)FEED_PIECE);
      gsize before = libxml_held (parser);
      int rc = xmlParseChunk (parser->ctxt, data, chunk, 0);
      gsize held = MAX (before + (gsize)chunk, libxml_held (parser))
                   + pg_xml_start_tag_get_held (&parser->framing.start_tag);
      parser->peak_held = MAX (parser->peak_held, held);
      check_parse_result (parser, rc);
      data += chunk;
      len -= (gsize)chunk;
    }
}

/* Has libxml2 parse what it holds as far as it can. Inside a tag, a PI or
 * CDATA, libxml2 2.9 parses a new chunk only if that chunk has a '>' in it,
 * so what it had held back (an end tag it could not yet tell complete, say)
 * waits for such a chunk, which the limit may stop from ever coming: held
 * whole, the same bytes would have been parsed. An empty chunk always makes
 * it try. */
static void
parse_held (PgXmlParser *parser)
{
  if (!parser->failed)
    check_parse_result (parser, xmlParseChunk (parser->ctxt, NULL, 0, 0));
}

/* Replaces libxml2's context by a fresh one standing at depth 1 of the same
 * stream, as the old one did between stanzas: the old one may hold part of
 * a token that it can be made neither to finish nor to drop. */
static gboolean
resync (PgXmlParser *parser)
{
  discard_stanza (parser);
  g_clear_pointer (&parser->skeleton, pg_stanza_free);
  free_context (parser->ctxt);
  parser->ctxt = new_context (parser);
  parser->depth = 0;
  pg_xml_framing_forget_fed (&parser->framing);
  parser->replaying = TRUE;
  parse_bytes (parser, parser->framing.header->str, parser->framing.header->len);
  parser->replaying = FALSE;
  if (!parser->failed && parser->depth != 1)
    fail (parser, PG_XML_PARSER_ERROR_NOT_WELL_FORMED, "the stream header does not parse again");
  return !parser->failed;
}

/* libxml2 checks text and CDATA lazily (it waits for a '<', a ';' after a
 * '&', or a few hundred bytes, or checks one block per call), so whether it
 * has checked the last bytes before the limit would depend on how they were
 * split. Ending the token for it, on the context about to be dropped, has it
 * check them now: a malformed stanza fails the same way however it arrived.
 * A character or reference cut by the limit is ended first, validly if it
 * could be at all: the end alone would be an error, and unended it would
 * leave the bytes before it unchecked. */
static void
check_pending (PgXmlParser *parser)
{
  parse_held (parser);
  if (parser->failed)
    return;
  g_autoptr (GString) fill = g_string_new (NULL);
  if (pg_xml_framing_end_token (&parser->framing, fill))
    parse_bytes (parser, fill->str, fill->len);
}

/* Parses the kept start tag, on the current context at depth 1, through the
 * same handlers as any stanza. Returns NULL when nothing usable was kept.
 * Caller owns it (pg_stanza_free). */
static xmlNode *
parse_skeleton (PgXmlParser *parser)
{
  gsize len;
  g_autofree char *text = pg_xml_start_tag_dup_element (&parser->framing.start_tag, &len);
  if (text == NULL)
    return NULL;
  parser->capturing = TRUE;
  parse_bytes (parser, text, len);
  parser->capturing = FALSE;
  xmlNode *skeleton = g_steal_pointer (&parser->captured);
  if (parser->capture_failed || skeleton == NULL || parser->depth != 1)
    {
      parser->capture_failed = FALSE;
      g_clear_pointer (&skeleton, pg_stanza_free);
      resync (parser);
    }
  return skeleton;
}

/* The end of a skipped stanza: it is reported from its kept start tag. */
static void
report_skipped (PgXmlParser *parser)
{
  pg_xml_framing_resume (&parser->framing);
  gsize bytes = (gsize)(parser->framing.offset - parser->framing.stanza_offset);
  g_autoptr (PgStanza) skeleton = parse_skeleton (parser);
  if (parser->failed)
    return;
  if (skeleton == NULL)
    {
      g_message ("skipped a stanza of %" G_GSIZE_FORMAT " bytes, over the limit of %" G_GSIZE_FORMAT
                 ", whose start tag could not be kept to answer it",
                 bytes, parser->framing.max_stanza_bytes);
      return;
    }
  if (parser->callbacks->stanza_too_big != NULL)
    parser->callbacks->stanza_too_big (skeleton, bytes, parser->user_data);
}

PgXmlParser *
pg_xml_parser_new (const PgXmlParserCallbacks *callbacks, gpointer user_data, gsize max_stanza_bytes)
{
  PgXmlParser *parser = g_new0 (PgXmlParser, 1);
  parser->callbacks = callbacks;
  parser->user_data = user_data;
  pg_xml_framing_init (&parser->framing, MAX (max_stanza_bytes, PG_XML_MIN_STANZA_BYTES));

  xmlSAXHandler *sax = &parser->sax;
  sax->initialized = XML_SAX2_MAGIC;
  sax->startElementNs = on_start_element;
  sax->endElementNs = on_end_element;
  sax->characters = on_characters;
  sax->cdataBlock = on_cdata;
  sax->internalSubset = on_internal_subset;
  sax->externalSubset = on_internal_subset;
  sax->entityDecl = on_entity_decl;
  sax->notationDecl = on_notation_decl;
  sax->unparsedEntityDecl = on_unparsed_entity_decl;
  sax->attributeDecl = on_attribute_decl;
  sax->elementDecl = on_element_decl;
  sax->processingInstruction = on_processing_instruction;
  sax->comment = on_comment;
  sax->reference = on_reference;
  sax->getEntity = on_get_entity;
  sax->getParameterEntity = on_get_entity;
  sax->error = on_error;
  sax->warning = on_error;
  sax->fatalError = on_error;

  parser->ctxt = new_context (parser);
  return parser;
}

void
pg_xml_parser_free (PgXmlParser *parser)
{
  if (parser == NULL)
    return;
  discard_stanza (parser);
  g_clear_pointer (&parser->skeleton, pg_stanza_free);
  g_clear_pointer (&parser->captured, pg_stanza_free);
  free_context (parser->ctxt);
  pg_xml_framing_clear (&parser->framing);
  g_free (parser->failure_message);
  g_free (parser);
}

gboolean
pg_xml_parser_feed (PgXmlParser *parser, const char *data, gsize len, GError **error)
{
  g_return_val_if_fail (!parser->failed, FALSE);
  gsize pos = 0;
  while (pos < len && !parser->failed)
    {
      const gsize from = pos;
      const guint64 from_offset = parser->framing.offset;
      const gboolean feeding = parser->framing.skip == PG_XML_SKIP_NONE;
      PgXmlScanEvent event = pg_xml_framing_scan (&parser->framing, data, len, &pos);
      gsize upto = pos;
      /* What comes before restricted markup still counts (a stanza before a
       * DOCTYPE in the same read is delivered, as it would be one read
       * earlier); the markup's own '<' may be in an earlier read, fed then. */
      if (event == PG_XML_SCAN_RESTRICTED)
        upto = from + (gsize)(MAX (parser->framing.markup_offset, from_offset) - from_offset);
      if (feeding)
        {
          parse_bytes (parser, data + from, upto - from);
          pg_xml_framing_remember_fed (&parser->framing, data + from, upto - from);
        }
      if (parser->failed)
        break;
      switch (event)
        {
        case PG_XML_SCAN_END:
          break;
        case PG_XML_SCAN_OVERFLOW:
        case PG_XML_SCAN_TEXT_OVERFLOW:
          check_pending (parser);
          if (!parser->failed && resync (parser))
            pg_xml_framing_skip (&parser->framing, event);
          break;
        case PG_XML_SCAN_STANZA_END:
          report_skipped (parser);
          break;
        case PG_XML_SCAN_TEXT_END:
          pg_xml_framing_resume (&parser->framing);
          break;
        case PG_XML_SCAN_RESTRICTED:
          fail (parser, PG_XML_PARSER_ERROR_RESTRICTED_XML, "restricted XML: markup declaration or comment");
          break;
        case PG_XML_SCAN_TOO_LONG:
          fail (parser, PG_XML_PARSER_ERROR_POLICY_VIOLATION,
                "stream header, end tag or processing instruction over the stanza size limit");
          break;
        case PG_XML_SCAN_LT_IN_TAG:
          fail (parser, PG_XML_PARSER_ERROR_NOT_WELL_FORMED, "not well-formed: '<' inside a tag");
          break;
        case PG_XML_SCAN_CDATA_END:
          fail (parser, PG_XML_PARSER_ERROR_NOT_WELL_FORMED, "not well-formed: \"]]>\" in character data");
          break;
        default:
          g_assert_not_reached ();
        }
    }
  if (parser->failed)
    {
      g_set_error_literal (error, PG_XML_PARSER_ERROR, parser->failure, parser->failure_message);
      return FALSE;
    }
  return TRUE;
}

gsize
pg_xml_parser_get_bytes_held (const PgXmlParser *parser)
{
  return libxml_held (parser) + pg_xml_start_tag_get_held (&parser->framing.start_tag);
}

gsize
pg_xml_parser_get_peak_bytes_held (const PgXmlParser *parser)
{
  return MAX (parser->peak_held, pg_xml_parser_get_bytes_held (parser));
}
