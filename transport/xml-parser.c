/* transport/xml-parser.c — XMPP stream parsing on libxml2's push parser.
 *
 * libxml2 2.9.14 (Debian 12) has no XML_PARSE_NO_XXE and does not check
 * nesting depth in the push loop when SAX handlers are supplied, so the
 * protection is here: every DTD-related handler stops the parser with
 * restricted-xml, getEntity resolves nothing beyond the five predefined
 * entities, and depth, attributes and elements are counted by hand. Bytes
 * are counted as received, before libxml2 sees them ("Framing" below). */
#define G_LOG_DOMAIN "pg-xml"
#include "build-config.h"

#include "transport/xml-parser.h"

#include "transport/stanza.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <string.h>

G_DEFINE_QUARK (pg - xml - parser - error - quark, pg_xml_parser_error)

/* What the byte being scanned belongs to (see scan()). */
typedef enum
{
  LEX_TEXT,      /* character data, or nothing yet */
  LEX_LT,        /* just after '<' */
  LEX_BANG,      /* just after "<!" */
  LEX_START_TAG, /* in a start tag, outside attribute values */
  LEX_VALUE,     /* in a quoted attribute value */
  LEX_END_TAG,
  LEX_CDATA, /* from "<![" to "]]>" */
  LEX_PI,    /* "<?...?>": libxml2 refuses it once complete, after the XML declaration */
} LexState;

typedef enum
{
  SKIP_NONE,
  SKIP_STANZA, /* the rest of a stanza over the limit */
  SKIP_TEXT,   /* text between stanzas over the limit, up to the next '<' */
} SkipMode;

typedef enum
{
  SCAN_END,           /* every byte scanned */
  SCAN_OVERFLOW,      /* the next byte would take the stanza over the limit */
  SCAN_TEXT_OVERFLOW, /* … the text between stanzas */
  SCAN_STANZA_END,    /* the byte before ended a skipped stanza */
  SCAN_TEXT_END,      /* the next byte is the '<' after skipped text */
  SCAN_RESTRICTED,    /* a declaration or comment starts at markup_offset */
  SCAN_TOO_LONG,      /* the stream header, end tag or a PI over the limit */
  SCAN_LT_IN_TAG,     /* '<' inside a tag or attribute value: never well-formed */
  SCAN_CDATA_END,     /* "]]>" in character data: never well-formed */
} ScanEvent;

struct PgXmlParser
{
  xmlParserCtxt *ctxt;
  xmlSAXHandler sax;
  const PgXmlParserCallbacks *callbacks;
  gpointer user_data;
  gsize max_stanza_bytes;

  int depth;         /* 1 = <stream:stream>, 2 = a stanza */
  xmlNode *stanza;   /* tree being built; NULL while skipping */
  xmlNode *current;  /* innermost open element of @stanza */
  xmlNode *skeleton; /* top element of a stanza skipped for its elements */
  unsigned long stanza_start;
  guint stanza_elements;

  /* Framing: every byte as received, ahead of libxml2. Offsets count bytes
   * since the stream began. */
  LexState lex;
  char quote;            /* of the attribute value being scanned */
  guint run;             /* ']' in a row in text or CDATA; 1 after '/' in a tag or '?' in a PI */
  guint markup;          /* in CDATA or a PI: 1 after '<', 2 after "<!" */
  int lex_depth;         /* as @depth, at the byte being scanned */
  guint64 offset;        /* bytes scanned */
  guint64 tag_offset;    /* of the '<' of the last tag begun at depth 1 */
  guint64 stanza_offset; /* of the '<' opening the current stanza */
  guint64 text_offset;   /* where the current text between stanzas began */
  guint64 markup_offset; /* of the '<' of restricted markup */
  gboolean in_stanza;
  gboolean header_done;
  SkipMode skip;
  GString *header; /* the stream header as received, for resync() */
  /* The current stanza's start tag as received, long values left out, to
   * parse the skeleton of a skipped stanza from (keep_*()). */
  GString *tag;
  gsize tag_good;     /* length of @tag up to its last complete attribute */
  gsize tag_name_len; /* length of "<name" */
  gsize value_start;  /* where the value being kept begins in @tag */
  gboolean tag_done;
  gboolean tag_full;
  gboolean value_dropped;
  gboolean keep_in_value; /* keep_span() is inside a value… */
  char keep_quote;        /* … opened by this quote */

  gboolean replaying;      /* resync(): the header again, without stream_opened */
  gboolean capturing;      /* parse_skeleton(): a stanza becomes @captured */
  gboolean capture_failed; /* … and did not parse, which is no stream error */
  xmlNode *captured;
  gsize peak_held;
  char tail[16]; /* the last bytes of the stream fed to the current context */
  guint tail_len;

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
 * goes on parsing it, holding no more than the byte limit (see "Framing"). */
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
   * otherwise; tokens are bounded by the configured limit here (framing),
   * which may be set higher. */
  if (parser->max_stanza_bytes > 8 * 1024 * 1024)
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
      gsize held = MAX (before + (gsize)chunk, libxml_held (parser)) + parser->tag->len;
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
  parser->tail_len = 0;
  parser->replaying = TRUE;
  parse_bytes (parser, parser->header->str, parser->header->len);
  parser->replaying = FALSE;
  if (!parser->failed && parser->depth != 1)
    fail (parser, PG_XML_PARSER_ERROR_NOT_WELL_FORMED, "the stream header does not parse again");
  return !parser->failed;
}

/* ---- the start tag kept for a bounce ----
 *
 * Only the start tag of a stanza is kept, as received but without values
 * over PG_XML_SKELETON_VALUE_MAX bytes (a cut value could end inside a
 * character or reference, or pass for a shorter address), and then parsed
 * through the same handlers as any stanza when it is needed. */

static void
keep_begin (PgXmlParser *parser)
{
  g_string_truncate (parser->tag, 0);
  g_string_append_c (parser->tag, '<');
  parser->tag_good = 0;
  parser->tag_name_len = 0;
  parser->tag_done = FALSE;
  parser->tag_full = FALSE;
  parser->value_dropped = FALSE;
  parser->keep_in_value = FALSE;
}

/* A byte of the start tag outside values, other than its closing '>'. */
static void
keep_tag_byte (PgXmlParser *parser, char c)
{
  if (parser->tag_full)
    return;
  if (parser->tag_name_len == 0 && (g_ascii_isspace (c) || c == '/'))
    parser->tag_name_len = parser->tag_good = parser->tag->len;
  if (parser->tag->len >= PG_XML_SKELETON_MAX)
    {
      parser->tag_full = TRUE; /* what is complete so far still serves */
      return;
    }
  g_string_append_c (parser->tag, c);
  if (c == '\'' || c == '"')
    {
      parser->value_start = parser->tag->len;
      parser->value_dropped = FALSE;
    }
}

/* A run of start tag bytes other than quotes, '/' and '>'. */
static void
keep_tag_bytes (PgXmlParser *parser, const char *data, gsize len)
{
  GString *tag = parser->tag;
  if (parser->tag_full)
    return;
  gsize room = PG_XML_SKELETON_MAX - MIN (tag->len, (gsize)PG_XML_SKELETON_MAX);
  gsize n = MIN (len, room);
  if (parser->tag_name_len == 0)
    for (gsize k = 0; k < n; k++)
      if (g_ascii_isspace (data[k]))
        {
          parser->tag_name_len = parser->tag_good = tag->len + k;
          break;
        }
  g_string_append_len (tag, data, (gssize)n);
  if (n < len)
    parser->tag_full = TRUE;
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
keep_value (PgXmlParser *parser, const char *data, gsize len)
{
  GString *tag = parser->tag;
  if (parser->tag_full || parser->value_dropped || len == 0)
    return;
  if (tag->len - parser->value_start + len <= PG_XML_SKELETON_VALUE_MAX
      && tag->len + len <= PG_XML_SKELETON_MAX)
    {
      g_string_append_len (tag, data, len);
      return;
    }
  if (is_echoed_attribute (tag->str + parser->tag_good, parser->value_start - 1 - parser->tag_good))
    {
      /* The bounce would have to leave out the address or id it needs, or
       * point it elsewhere: keep nothing that allows an answer. */
      parser->tag_good = parser->tag_name_len;
      parser->tag_full = TRUE;
      return;
    }
  g_string_truncate (tag, parser->tag_good);
  parser->value_dropped = TRUE;
}

static void
keep_value_end (PgXmlParser *parser, char quote)
{
  if (parser->tag_full)
    return;
  if (parser->value_dropped)
    {
      parser->value_dropped = FALSE;
      return;
    }
  g_string_append_c (parser->tag, quote);
  parser->tag_good = parser->tag->len;
}

static void
keep_tag_end (PgXmlParser *parser)
{
  parser->tag_done = TRUE;
  if (parser->tag_full)
    return;
  gsize n = parser->tag->len;
  if (n > 0 && parser->tag->str[n - 1] == '/')
    n--;
  if (parser->tag_name_len == 0)
    parser->tag_name_len = n;
  parser->tag_good = n;
}

/* Keeps @len bytes of the start tag, not its closing '>'. Only for a tag
 * that spans reads, is long or ends a skip: scan() copies the others whole. */
static void
keep_span (PgXmlParser *parser, const char *data, gsize len)
{
  gsize k = 0;
  while (k < len)
    {
      if (parser->keep_in_value)
        {
          const char *q = memchr (data + k, parser->keep_quote, len - k);
          gsize n = (q != NULL ? (gsize)(q - data) : len) - k;
          keep_value (parser, data + k, n);
          k += n;
          if (q == NULL)
            break;
          keep_value_end (parser, parser->keep_quote);
          parser->keep_in_value = FALSE;
          k++;
          continue;
        }
      gsize j = k;
      while (j < len && data[j] != '"' && data[j] != '\'' && data[j] != '/')
        j++;
      keep_tag_bytes (parser, data + k, j - k);
      if (j == len)
        break;
      keep_tag_byte (parser, data[j]);
      if (data[j] != '/')
        {
          parser->keep_in_value = TRUE;
          parser->keep_quote = data[j];
        }
      k = j + 1;
    }
}

/* Parses the kept start tag, on the current context at depth 1. Returns
 * NULL when nothing usable was kept. Caller owns it (pg_stanza_free). */
static xmlNode *
parse_skeleton (PgXmlParser *parser)
{
  if (parser->tag_good <= 1)
    return NULL;
  g_autoptr (GString) text = g_string_new_len (parser->tag->str, (gssize)parser->tag_good);
  g_string_append (text, "/>");
  parser->capturing = TRUE;
  parse_bytes (parser, text->str, text->len);
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

/* ---- framing ----
 *
 * libxml2's push parser keeps an unfinished token (a start tag, a CDATA
 * section, a processing instruction…) in its input buffer and reports nothing
 * until the token ends, so a limit counted from its callbacks or from what it
 * consumed never sees it: 8 MiB inside one start tag used to be buffered
 * whole, and at about 10 MB libxml2 gave up and the stream was closed. So
 * every byte is scanned here first, with just enough of XML's lexical
 * structure (tags, quoted values, CDATA) to know the depth and where each
 * stanza begins and ends, and the limit applies to bytes as received:
 *
 * - At the byte that takes a stanza over the limit, whatever token it is in,
 *   libxml2 stops being fed. It cannot be made to drop what it holds or to
 *   finish a token, so its context is replaced by a fresh one, given the
 *   stream header again (as received) and thus at depth 1 as between
 *   stanzas; the rest of the stanza is scanned but neither fed nor kept until
 *   the scan sees its end tag, and the stanza is reported from the start tag
 *   kept here. This resynchronisation is exact for well-formed input (the
 *   scan follows the very syntax that decides where an element ends), which
 *   is all a server forwards; on input that is not, it can only end the skip
 *   at the wrong place, and libxml2 then closes the stream as not
 *   well-formed, as that input deserves anyway. What is skipped is not
 *   checked for well-formedness at all; what came before the limit is, in
 *   full however it was split, since libxml2 is made to finish the text or
 *   CDATA it holds unchecked (check_pending()).
 * - Text between stanzas is ignored anyway (whitespace keepalives); a run of
 *   it over the limit is dropped the same way, up to the next '<'.
 * - Before the stream header is complete, in the stream's end tag and in a
 *   processing instruction between stanzas, there is nothing to resume at:
 *   over the limit the stream is closed with policy-violation. (A PI that
 *   ends in time is refused by libxml2's handler, in order with any earlier
 *   error.)
 * - "<!" other than CDATA is restricted XML and closes the stream as soon as
 *   it is seen (libxml2 reports a DOCTYPE inside content as a mere syntax
 *   error), and '<' inside a tag is not well-formed at once.
 *
 * libxml2 is fed FEED_PIECE bytes at a time, so it never holds more than the
 * limit plus a piece, and a skipped stanza costs no memory however long. */

/* @start + the limit, saturated: the limit may be G_MAXSIZE. */
static guint64
past_limit (const PgXmlParser *parser, guint64 start)
{
  guint64 max = parser->max_stanza_bytes;
  return max > G_MAXUINT64 - start ? G_MAXUINT64 : start + max;
}

static guint64
limit_offset (const PgXmlParser *parser, ScanEvent *event)
{
  if (parser->skip != SKIP_NONE)
    return G_MAXUINT64;
  if (!parser->header_done)
    {
      *event = SCAN_TOO_LONG;
      return past_limit (parser, 0);
    }
  if (parser->in_stanza)
    {
      *event = SCAN_OVERFLOW;
      return past_limit (parser, parser->stanza_offset);
    }
  if (parser->lex_depth != 1)
    return G_MAXUINT64;
  if (parser->lex == LEX_TEXT || parser->lex == LEX_CDATA)
    {
      *event = SCAN_TEXT_OVERFLOW;
      return past_limit (parser, parser->text_offset);
    }
  if (parser->lex == LEX_END_TAG || parser->lex == LEX_PI)
    {
      *event = SCAN_TOO_LONG;
      return past_limit (parser, parser->tag_offset);
    }
  return G_MAXUINT64;
}

/* "<!" other than "<![" is refused wherever it appears, as it was before
 * this scan knew CDATA sections and PIs: inside them it is not markup, but
 * no XMPP peer sends that. */
static gboolean
is_declaration (PgXmlParser *parser, char c)
{
  switch (parser->markup)
    {
    case 1:
      parser->markup = c == '!' ? 2 : c == '<' ? 1 : 0;
      return FALSE;
    case 2:
      parser->markup = 0;
      return c != '[';
    default:
      parser->markup = c == '<';
      return FALSE;
    }
}

static void
remember_tail (PgXmlParser *parser, const char *data, gsize len)
{
  const gsize size = sizeof parser->tail;
  if (len >= size)
    {
      memcpy (parser->tail, data + len - size, size);
      parser->tail_len = size;
      return;
    }
  gsize keep = MIN (parser->tail_len, size - len);
  memmove (parser->tail, parser->tail + parser->tail_len - keep, keep);
  memcpy (parser->tail + keep, data, len);
  parser->tail_len = (guint)(keep + len);
}

/* Appends to @fill the bytes that end the UTF-8 sequence the tail stops
 * inside, if it does, such that the whole is valid whenever its start could
 * be: after E0 and F0 the lowest continuation byte would make an overlong
 * form. */
static void
complete_character (const PgXmlParser *parser, GString *fill)
{
  const guchar *t = (const guchar *)parser->tail;
  guint k = parser->tail_len, continuation = 0;
  while (k > 0 && (t[k - 1] & 0xC0) == 0x80 && continuation < 3)
    k--, continuation++;
  if (k == 0 || t[k - 1] < 0xC0)
    return;
  const guchar lead = t[k - 1];
  const guint need = lead >= 0xF0 ? 3u : lead >= 0xE0 ? 2u : 1u;
  for (guint c = continuation; c < need; c++)
    g_string_append_c (fill, (char)(c == 0 && lead == 0xE0 ? 0xA0 : c == 0 && lead == 0xF0 ? 0x90 : 0x80));
}

static gboolean
is_xml_char (guint32 v)
{
  return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD)
         || (v >= 0x10000 && v <= 0x10FFFF);
}

/* Appends to @fill what ends the character reference "&#" @digits (in
 * @base) validly, if any ending can: a zero becomes 'A', a value too small
 * or a surrogate or U+FFFE/F grows by a digit until it is a character. */
static void
complete_char_ref (const char *digits, gsize len, guint base, GString *fill)
{
  guint32 v = 0;
  for (gsize i = 0; i < len; i++)
    {
      int d = base == 16 ? g_ascii_xdigit_value (digits[i]) : g_ascii_digit_value (digits[i]);
      if (d < 0)
        {
          g_string_append_c (fill, ';'); /* refused as it is */
          return;
        }
      v = MIN (v * base + (guint32)d, (guint32)0x110000);
    }
  if (v == 0)
    {
      g_string_append (fill, base == 16 ? "41;" : "65;");
      return;
    }
  while (!is_xml_char (v) && v < 0x110000)
    {
      g_string_append_c (fill, '0');
      v = MIN (v * base, (guint32)0x110000);
    }
  g_string_append_c (fill, ';');
}

/* Appends to @fill what ends the reference the tail stops inside, validly
 * if it could be ended so at all: only the five predefined entities exist
 * (on_get_entity()). Otherwise a ';' alone: libxml2 leaves a '&' unparsed,
 * and the text before it unchecked, until it sees one; it refuses the
 * reference then, and outside a reference the ';' is only text. A reference
 * longer than the tail is not seen, and ended so too. */
static void
complete_reference (const PgXmlParser *parser, GString *fill)
{
  static const char *const names[] = { "amp", "lt", "gt", "quot", "apos" };
  const char *t = parser->tail;
  guint i = parser->tail_len;
  while (i > 0 && t[i - 1] != ';' && t[i - 1] != '&')
    i--;
  if (i == 0 || t[i - 1] != '&')
    {
      g_string_append_c (fill, ';');
      return;
    }
  const char *body = t + i;
  gsize len = parser->tail_len - i;
  if (len >= 2 && body[0] == '#' && body[1] == 'x')
    {
      complete_char_ref (body + 2, len - 2, 16, fill);
      return;
    }
  if (len >= 1 && body[0] == '#')
    {
      complete_char_ref (body + 1, len - 1, 10, fill);
      return;
    }
  for (gsize k = 0; k < G_N_ELEMENTS (names); k++)
    if (len <= strlen (names[k]) && strncmp (body, names[k], len) == 0)
      {
        g_string_append (fill, names[k] + len);
        break;
      }
  g_string_append_c (fill, ';');
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
  if (parser->failed || (parser->lex != LEX_TEXT && parser->lex != LEX_CDATA))
    return;
  g_autoptr (GString) fill = g_string_new (NULL);
  complete_character (parser, fill);
  remember_tail (parser, fill->str, fill->len);
  if (parser->lex == LEX_TEXT)
    complete_reference (parser, fill);
  g_string_append (fill, parser->lex == LEX_TEXT ? "<" : "]]>");
  parse_bytes (parser, fill->str, fill->len);
}

/* Whether the stanza just ended is being skipped. */
static gboolean
end_stanza (PgXmlParser *parser, guint64 at)
{
  parser->in_stanza = FALSE;
  parser->text_offset = at + 1;
  return parser->skip == SKIP_STANZA;
}

/* Inside a quoted value or an end tag: moves *@i over at most @room bytes,
 * up to @stop (left at it, *@found TRUE) or to the end of what is there.
 * FALSE, with *@i at it, when a '<' comes first: refused inside any tag. */
static gboolean
skip_in_tag (const char *data, gsize *i, gsize room, char stop, gboolean *found)
{
  const char *q = memchr (data + *i, stop, room);
  gsize n = (q != NULL ? (gsize)(q - data) : *i + room) - *i;
  const char *lt = memchr (data + *i, '<', n);

  if (lt != NULL)
    {
      *i = (gsize)(lt - data);
      return FALSE;
    }
  *i += n;
  *found = q != NULL;
  return TRUE;
}

/* libxml2 2.9's push parser looks for "]]>" in character data only within
 * what it holds at the time: a read that ends in "]]" lets the '>' after it
 * through as text. So it is looked for here, across reads, in what is fed.
 * TRUE, with *@i at its '>', when @data from *@i to @end holds it. */
static gboolean
find_cdata_end (PgXmlParser *parser, const char *data, gsize *i, gsize end)
{
  gsize k = *i;
  while (k < end)
    {
      if (parser->run == 0)
        {
          const char *bracket = memchr (data + k, ']', end - k);
          if (bracket == NULL)
            return FALSE;
          k = (gsize)(bracket - data) + 1;
          parser->run = 1;
          continue;
        }
      if (data[k] == '>' && parser->run >= 2)
        {
          *i = k;
          return TRUE;
        }
      parser->run = data[k] == ']' ? 2 : 0;
      k++;
    }
  return FALSE;
}

/* Scans @data from *@pos to the first event; *@pos is left before the byte
 * that causes it, or after the byte that ends a skipped stanza. */
static ScanEvent
scan (PgXmlParser *parser, const char *data, gsize len, gsize *pos)
{
  gsize i = *pos;
  const guint64 base = parser->offset - i; /* offset of data[0] */
  gsize header_from = parser->header_done ? G_MAXSIZE : i;
  /* Where the part of the stanza's start tag not kept yet begins. */
  gsize keep_from = parser->in_stanza && !parser->tag_done ? i : G_MAXSIZE;
  ScanEvent event = SCAN_END;

  while (i < len)
    {
      ScanEvent over = SCAN_END;
      const guint64 at = base + i;
      const guint64 limit = limit_offset (parser, &over);
      if (at >= limit)
        {
          event = over;
          break;
        }
      const gsize room = (gsize)MIN (limit - at, (guint64)(len - i));
      const char c = data[i];

      switch (parser->lex)
        {
        case LEX_TEXT:
          {
            const char *lt = memchr (data + i, '<', room);
            const gsize text_end = lt != NULL ? (gsize)(lt - data) : i + room;
            if (parser->skip == SKIP_NONE && find_cdata_end (parser, data, &i, text_end))
              {
                event = SCAN_CDATA_END;
                goto out;
              }
            if (lt == NULL)
              {
                i += room;
                continue;
              }
            i = (gsize)(lt - data);
            if (parser->skip == SKIP_TEXT)
              {
                event = SCAN_TEXT_END;
                goto out;
              }
            parser->lex = LEX_LT;
            if (parser->lex_depth == 1)
              parser->tag_offset = base + i;
            break;
          }
        case LEX_LT:
          if (c == '<')
            {
              if (parser->lex_depth == 1)
                parser->tag_offset = at;
            }
          else if (c == '!')
            parser->lex = LEX_BANG;
          else if (c == '/')
            parser->lex = LEX_END_TAG;
          else if (c == '?')
            {
              parser->lex = LEX_PI;
              parser->run = 0;
              parser->markup = 0;
            }
          else
            {
              parser->lex = LEX_START_TAG;
              parser->run = 0;
              if (parser->lex_depth == 1)
                {
                  parser->in_stanza = TRUE;
                  parser->stanza_offset = parser->tag_offset;
                  keep_begin (parser);
                  keep_from = i;
                }
            }
          break;
        case LEX_BANG:
          if (c != '[')
            {
              parser->markup_offset = at - 2;
              event = SCAN_RESTRICTED;
              goto out;
            }
          parser->lex = LEX_CDATA;
          parser->run = 0;
          parser->markup = 0;
          break;
        case LEX_START_TAG:
          {
            /* Names, whitespace and '=' in one go. */
            gsize j = i;
            while (j < i + room && data[j] != '>' && data[j] != '"' && data[j] != '\'' && data[j] != '/'
                   && data[j] != '<')
              j++;
            if (j > i)
              {
                parser->run = 0;
                i = j;
                continue;
              }
          }
          if (c == '>')
            {
              gboolean empty = parser->run == 1;
              if (keep_from != G_MAXSIZE)
                {
                  /* Usually the whole tag is here, and short. */
                  gsize n = i - keep_from;
                  if (parser->tag->len == 1 && n < PG_XML_SKELETON_VALUE_MAX)
                    g_string_append_len (parser->tag, data + keep_from, (gssize)n);
                  else
                    keep_span (parser, data + keep_from, n);
                  keep_tag_end (parser);
                  keep_from = G_MAXSIZE;
                }
              parser->lex = LEX_TEXT;
              parser->run = 0;
              if (!empty)
                parser->lex_depth++;
              if (!parser->header_done)
                {
                  parser->header_done = TRUE;
                  parser->text_offset = at + 1;
                  g_string_append_len (parser->header, data + header_from, (gssize)(i + 1 - header_from));
                  header_from = G_MAXSIZE;
                }
              else if (parser->lex_depth == 1 && parser->in_stanza && end_stanza (parser, at))
                {
                  i++;
                  event = SCAN_STANZA_END;
                  goto out;
                }
              break;
            }
          if (c == '<')
            {
              event = SCAN_LT_IN_TAG;
              goto out;
            }
          if (c == '"' || c == '\'')
            {
              parser->lex = LEX_VALUE;
              parser->quote = c;
            }
          parser->run = c == '/';
          break;
        case LEX_VALUE:
          {
            gboolean found;
            /* A '<' is found here rather than by libxml2, which may not
             * have parsed the value yet when the stanza goes over the limit
             * (and which takes such a '<' for the start of the next tag
             * meanwhile). */
            if (!skip_in_tag (data, &i, room, parser->quote, &found))
              {
                event = SCAN_LT_IN_TAG;
                goto out;
              }
            if (!found)
              continue;
            parser->lex = LEX_START_TAG;
            parser->run = 0;
            break;
          }
        case LEX_END_TAG:
          {
            gboolean found;
            if (!skip_in_tag (data, &i, room, '>', &found))
              {
                event = SCAN_LT_IN_TAG;
                goto out;
              }
            if (!found)
              continue;
          }
          parser->lex = LEX_TEXT;
          parser->run = 0;
          if (parser->lex_depth > 0)
            parser->lex_depth--;
          if (parser->lex_depth == 1 && parser->in_stanza && end_stanza (parser, base + i))
            {
              i++;
              event = SCAN_STANZA_END;
              goto out;
            }
          break;
        case LEX_CDATA:
          if (is_declaration (parser, c))
            {
              parser->markup_offset = at - 2;
              event = SCAN_RESTRICTED;
              goto out;
            }
          if (c == ']')
            parser->run++;
          else
            {
              if (c == '>' && parser->run >= 2)
                parser->lex = LEX_TEXT;
              parser->run = 0;
            }
          break;
        case LEX_PI:
          if (is_declaration (parser, c))
            {
              parser->markup_offset = at - 2;
              event = SCAN_RESTRICTED;
              goto out;
            }
          if (c == '>' && parser->run == 1)
            parser->lex = LEX_TEXT;
          parser->run = c == '?';
          break;
        default:
          g_assert_not_reached ();
        }
      i++;
    }
out:
  if (keep_from != G_MAXSIZE && i > keep_from)
    keep_span (parser, data + keep_from, i - keep_from);
  if (header_from != G_MAXSIZE && i > header_from)
    g_string_append_len (parser->header, data + header_from, (gssize)(i - header_from));
  parser->offset = base + i;
  *pos = i;
  return event;
}

/* The end of a skipped stanza: it is reported from its kept start tag. */
static void
report_skipped (PgXmlParser *parser)
{
  parser->skip = SKIP_NONE;
  gsize bytes = (gsize)(parser->offset - parser->stanza_offset);
  g_autoptr (PgStanza) skeleton = parse_skeleton (parser);
  if (parser->failed)
    return;
  if (skeleton == NULL)
    {
      g_message ("skipped a stanza of %" G_GSIZE_FORMAT " bytes, over the limit of %" G_GSIZE_FORMAT
                 ", whose start tag could not be kept to answer it",
                 bytes, parser->max_stanza_bytes);
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
  parser->max_stanza_bytes = MAX (max_stanza_bytes, PG_XML_MIN_STANZA_BYTES);
  parser->header = g_string_new (NULL);
  parser->tag = g_string_new (NULL);

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
  g_string_free (parser->header, TRUE);
  g_string_free (parser->tag, TRUE);
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
      const guint64 from_offset = parser->offset;
      const gboolean feeding = parser->skip == SKIP_NONE;
      ScanEvent event = scan (parser, data, len, &pos);
      gsize upto = pos;
      /* What comes before restricted markup still counts (a stanza before a
       * DOCTYPE in the same read is delivered, as it would be one read
       * earlier); the markup's own '<' may be in an earlier read, fed then. */
      if (event == SCAN_RESTRICTED)
        upto = from + (gsize)(MAX (parser->markup_offset, from_offset) - from_offset);
      if (feeding)
        {
          parse_bytes (parser, data + from, upto - from);
          remember_tail (parser, data + from, upto - from);
        }
      if (parser->failed)
        break;
      switch (event)
        {
        case SCAN_END:
          break;
        case SCAN_OVERFLOW:
          check_pending (parser);
          if (!parser->failed && resync (parser))
            parser->skip = SKIP_STANZA;
          break;
        case SCAN_TEXT_OVERFLOW:
          check_pending (parser);
          if (!parser->failed && resync (parser))
            parser->skip = SKIP_TEXT;
          break;
        case SCAN_STANZA_END:
          report_skipped (parser);
          break;
        case SCAN_TEXT_END:
          parser->skip = SKIP_NONE;
          parser->text_offset = parser->offset;
          break;
        case SCAN_RESTRICTED:
          fail (parser, PG_XML_PARSER_ERROR_RESTRICTED_XML, "restricted XML: markup declaration or comment");
          break;
        case SCAN_TOO_LONG:
          fail (parser, PG_XML_PARSER_ERROR_POLICY_VIOLATION,
                "stream header, end tag or processing instruction over the stanza size limit");
          break;
        case SCAN_LT_IN_TAG:
          fail (parser, PG_XML_PARSER_ERROR_NOT_WELL_FORMED, "not well-formed: '<' inside a tag");
          break;
        case SCAN_CDATA_END:
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
  return libxml_held (parser) + parser->tag->len;
}

gsize
pg_xml_parser_get_peak_bytes_held (const PgXmlParser *parser)
{
  return MAX (parser->peak_held, pg_xml_parser_get_bytes_held (parser));
}
