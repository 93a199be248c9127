/* transport/xml-parser.c — XMPP stream parsing on libxml2's push parser.
 *
 * libxml2 2.9.14 (Debian 12) has no XML_PARSE_NO_XXE and does not check
 * nesting depth in the push loop when SAX handlers are supplied, so the
 * protection is here: every DTD-related handler stops the parser with
 * restricted-xml, getEntity resolves nothing beyond the five predefined
 * entities, and depth, attributes, elements and bytes are counted by hand. */
#define G_LOG_DOMAIN "pg-xml"
#include "build-config.h"

#include "transport/xml-parser.h"

#include "transport/stanza.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <string.h>

G_DEFINE_QUARK (pg-xml-parser-error-quark, pg_xml_parser_error)

struct PgXmlParser {
  xmlParserCtxt *ctxt;
  xmlSAXHandler sax;
  const PgXmlParserCallbacks *callbacks;
  gpointer user_data;
  gsize max_stanza_bytes;

  int depth;             /* 1 = <stream:stream>, 2 = a stanza */
  xmlNode *stanza;       /* tree being built; NULL while skipping */
  xmlNode *current;      /* innermost open element of @stanza */
  xmlNode *skeleton;     /* top element of a stanza being skipped */
  unsigned long stanza_start;
  guint stanza_elements;

  int markup_state; /* find_declaration() across chunks: 0, 1 "<", 2 "<!" */
  gboolean failed;
  PgXmlParserError failure;
  char *failure_message;
};

static void
fail (PgXmlParser *parser, PgXmlParserError code, const char *message)
{
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
  return (unsigned long) xmlByteConsumed (parser->ctxt);
}

static void
discard_stanza (PgXmlParser *parser)
{
  g_clear_pointer (&parser->stanza, pg_stanza_free);
  parser->current = NULL;
}

/* Past the limit the partial tree is dropped and only the top element's
 * attributes are kept, so the stanza can still be bounced. */
static void
check_stanza_size (PgXmlParser *parser)
{
  if (parser->stanza == NULL)
    return;
  gsize used = bytes_consumed (parser) - parser->stanza_start;
  if (used <= parser->max_stanza_bytes && parser->stanza_elements <= PG_XML_MAX_ELEMENTS)
    return;
  xmlDoc *doc = xmlNewDoc ((const xmlChar *) "1.0");
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
  char *value = len < 0 ? g_strdup ((const char *) text) : g_strndup ((const char *) text, (gsize) len);
  if (strstr (value, "&#38;") == NULL)
    return value;
  g_auto (GStrv) parts = g_strsplit (value, "&#38;", -1);
  g_free (value);
  return g_strjoinv ("&", parts);
}

static xmlNode *
new_element (PgXmlParser *parser, const xmlChar *localname, const xmlChar *prefix,
             const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces)
{
  xmlDoc *doc = parser->stanza != NULL ? parser->stanza->doc : xmlNewDoc ((const xmlChar *) "1.0");
  xmlNode *node = xmlNewDocNode (doc, NULL, localname, NULL);
  if (parser->stanza == NULL)
    xmlDocSetRootElement (doc, node);
  else
    xmlAddChild (parser->current, node);

  for (int i = 0; i < nb_namespaces; i++)
    {
      g_autofree char *href = decode_amp (namespaces[2 * i + 1], -1);
      xmlNewNs (node, (const xmlChar *) href, namespaces[2 * i]);
    }
  if (uri != NULL)
    {
      g_autofree char *href = decode_amp (uri, -1);
      xmlNs *ns = xmlSearchNs (doc, node, prefix);
      /* The stanza's own namespace is declared on <stream:stream>, outside the
       * tree: declare it again so every tree stands alone. */
      if (ns == NULL || !xmlStrEqual (ns->href, (const xmlChar *) href))
        ns = xmlNewNs (node, (const xmlChar *) href, prefix);
      xmlSetNs (node, ns);
    }
  else
    {
      /* In no namespace (xmlns=''): say so with an empty one, since a NULL
       * ns means "the stream's default" to pg_stanza_serialize(). */
      xmlNs *ns = xmlSearchNs (doc, node, NULL);
      if (ns == NULL || ns->href == NULL || ns->href[0] != '\0')
        ns = xmlNewNs (node, (const xmlChar *) "", NULL);
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
          if (ns == NULL || !xmlStrEqual (ns->href, (const xmlChar *) href))
            ns = xmlNewNs (node, (const xmlChar *) href, a[1]);
        }
      xmlNewNsProp (node, ns, a[0], (const xmlChar *) value);
    }
}

/* Namespaces in XML §3: a name part is non-empty and has no colon. libxml2
 * reports "a:b:c", "a:" or ":a" as a recoverable namespace error and goes
 * on, the colons left in the local name or prefix. */
static gboolean
is_ncname (const xmlChar *name)
{
  return name != NULL && name[0] != '\0' && strchr ((const char *) name, ':') == NULL;
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
                  int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                  int nb_defaulted, const xmlChar **attributes)
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
      if (encoding != NULL && g_ascii_strcasecmp ((const char *) encoding, "UTF-8") != 0)
        {
          fail (parser, PG_XML_PARSER_ERROR_UNSUPPORTED_ENCODING, "stream declares a non-UTF-8 encoding");
          return;
        }
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
        tag_bytes += (gsize) (attributes[5 * i + 4] - attributes[5 * i + 3]);
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
on_entity_decl (void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                const xmlChar *system_id, xmlChar *content)
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
on_unparsed_entity_decl (void *ctx, const xmlChar *name, const xmlChar *public_id,
                         const xmlChar *system_id, const xmlChar *notation)
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

PgXmlParser *
pg_xml_parser_new (const PgXmlParserCallbacks *callbacks, gpointer user_data, gsize max_stanza_bytes)
{
  PgXmlParser *parser = g_new0 (PgXmlParser, 1);
  parser->callbacks = callbacks;
  parser->user_data = user_data;
  parser->max_stanza_bytes = MAX (max_stanza_bytes, PG_XML_MIN_STANZA_BYTES);

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

  parser->ctxt = xmlCreatePushParserCtxt (sax, parser, NULL, 0, NULL);
  int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
#ifdef XML_PARSE_NO_XXE
  options |= XML_PARSE_NO_XXE;
#endif
  xmlCtxtUseOptions (parser->ctxt, options);
  /* xmlCtxtUseOptions resets the SAX2 user data to the context itself. */
  parser->ctxt->userData = parser;
  parser->ctxt->replaceEntities = 0;
  return parser;
}

void
pg_xml_parser_free (PgXmlParser *parser)
{
  if (parser == NULL)
    return;
  discard_stanza (parser);
  g_clear_pointer (&parser->skeleton, pg_stanza_free);
  if (parser->ctxt != NULL)
    {
      if (parser->ctxt->myDoc != NULL)
        xmlFreeDoc (parser->ctxt->myDoc);
      xmlFreeParserCtxt (parser->ctxt);
    }
  g_free (parser->failure_message);
  g_free (parser);
}

/* XMPP text and attributes cannot hold a raw '<', so "<!" starts markup:
 * a CDATA section ("<![") or a restricted declaration or comment. libxml2
 * reports a DOCTYPE inside content as a plain syntax error, so declarations
 * are recognised here, across chunk boundaries. Returns how many bytes of
 * @data come before the offending "<!", or @len when there is none. */
static gsize
find_declaration (PgXmlParser *parser, const char *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];
      switch (parser->markup_state)
        {
        case 1: /* after '<' */
          parser->markup_state = c == '!' ? 2 : c == '<' ? 1 : 0;
          break;
        case 2: /* after "<!" */
          if (c != '[')
            return i >= 2 ? i - 2 : 0;
          parser->markup_state = 0;
          break;
        default:
          parser->markup_state = c == '<' ? 1 : 0;
        }
    }
  return len;
}

gboolean
pg_xml_parser_feed (PgXmlParser *parser, const char *data, gsize len, GError **error)
{
  g_return_val_if_fail (!parser->failed, FALSE);
  gsize clean = find_declaration (parser, data, len);
  gboolean restricted = clean < len;
  len = clean;
  while (len > 0 && !parser->failed)
    {
      int chunk = (int) MIN (len, (gsize) G_MAXINT / 2);
      int rc = xmlParseChunk (parser->ctxt, data, chunk, 0);
      if (rc != 0 && !parser->failed)
        {
          const xmlError *err = xmlCtxtGetLastError (parser->ctxt);
          g_autofree char *message = g_strdup_printf ("not well-formed (libxml2 error %d, line %d)",
                                                      rc, err != NULL ? err->line : 0);
          if (rc == XML_ERR_UNSUPPORTED_ENCODING)
            fail (parser, PG_XML_PARSER_ERROR_UNSUPPORTED_ENCODING, "unsupported encoding");
          else
            fail (parser, PG_XML_PARSER_ERROR_NOT_WELL_FORMED, message);
        }
      data += chunk;
      len -= (gsize) chunk;
    }
  if (restricted)
    fail (parser, PG_XML_PARSER_ERROR_RESTRICTED_XML, "restricted XML: markup declaration or comment");
  if (parser->failed)
    {
      g_set_error_literal (error, PG_XML_PARSER_ERROR, parser->failure, parser->failure_message);
      return FALSE;
    }
  return TRUE;
}
