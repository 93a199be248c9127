/* transport/xml-parser-private.h — what the stream parser's files share:
 * xml-framing.c scans every byte ahead of libxml2 and applies the stanza
 * size limit to bytes as received; xml-start-tag.c keeps the start tag of
 * the stanza being scanned, for a bounce; xml-parser.c builds the trees from
 * libxml2's SAX2 events and drives the other two. */
#pragma once
#include "transport/xml-parser.h"

/* ---- xml-start-tag.c: a stanza's start tag as received ----
 *
 * Given the bytes of one start tag as they arrive, in any pieces, it keeps
 * them without values over PG_XML_SKELETON_VALUE_MAX bytes (a cut value could
 * end inside a character or reference, or pass for a shorter address), up to
 * PG_XML_SKELETON_MAX bytes in all, and nothing past the name when a from, to
 * or id value is too long to keep (the bounce would go to the wrong address
 * or carry the wrong id). */

typedef struct
{
  GString *text;     /* "<name attr='value'…" as received, long values left out */
  gsize good;        /* length of @text up to its last complete attribute */
  gsize name_len;    /* length of "<name" */
  gsize value_start; /* where the value being kept begins in @text */
  gboolean done;     /* its '>' was seen */
  gboolean full;     /* nothing more is kept */
  gboolean value_dropped;
  gboolean in_value; /* pg_xml_start_tag_add() is inside a value… */
  char quote;        /* … opened by this quote */
} PgXmlStartTag;

void pg_xml_start_tag_init (PgXmlStartTag *tag);
void pg_xml_start_tag_clear (PgXmlStartTag *tag);
/* A new tag: its '<' was seen. */
void pg_xml_start_tag_begin (PgXmlStartTag *tag);
/* @len more bytes of the tag after its '<', not its closing '>'. */
void pg_xml_start_tag_add (PgXmlStartTag *tag, const char *data, gsize len);
/* The last @len bytes before its closing '>' (@len may be 0), and the '>'. */
void pg_xml_start_tag_finish (PgXmlStartTag *tag, const char *data, gsize len);
/* Bytes held for the tag. */
gsize pg_xml_start_tag_get_held (const PgXmlStartTag *tag);
/* What was kept, up to its last complete attribute, as an empty element
 * ("<name a='1'/>") of *@len bytes (a NUL received stays in), or NULL when
 * not even the name was kept. Caller owns it (g_free). */
char *pg_xml_start_tag_dup_element (const PgXmlStartTag *tag, gsize *len);

/* ---- xml-framing.c: the byte scanner ---- */

/* What the byte being scanned belongs to. */
typedef enum
{
  PG_XML_LEX_TEXT,      /* character data, or nothing yet */
  PG_XML_LEX_LT,        /* just after '<' */
  PG_XML_LEX_BANG,      /* just after "<!" */
  PG_XML_LEX_START_TAG, /* in a start tag, outside attribute values */
  PG_XML_LEX_VALUE,     /* in a quoted attribute value */
  PG_XML_LEX_END_TAG,
  PG_XML_LEX_CDATA, /* from "<![" to "]]>" */
  PG_XML_LEX_PI,    /* "<?...?>": libxml2 refuses it once complete, after the XML declaration */
} PgXmlLex;

typedef enum
{
  PG_XML_SKIP_NONE,
  PG_XML_SKIP_STANZA, /* the rest of a stanza over the limit */
  PG_XML_SKIP_TEXT,   /* text between stanzas over the limit, up to the next '<' */
} PgXmlSkip;

typedef enum
{
  PG_XML_SCAN_END,           /* every byte scanned */
  PG_XML_SCAN_OVERFLOW,      /* the next byte would take the stanza over the limit */
  PG_XML_SCAN_TEXT_OVERFLOW, /* … the text between stanzas */
  PG_XML_SCAN_STANZA_END,    /* the byte before ended a skipped stanza */
  PG_XML_SCAN_TEXT_END,      /* the next byte is the '<' after skipped text */
  PG_XML_SCAN_RESTRICTED,    /* a declaration or comment starts at markup_offset */
  PG_XML_SCAN_TOO_LONG,      /* the stream header, end tag or a PI over the limit */
  PG_XML_SCAN_LT_IN_TAG,     /* '<' inside a tag or attribute value: never well-formed */
  PG_XML_SCAN_CDATA_END,     /* "]]>" in character data: never well-formed */
} PgXmlScanEvent;

/* Offsets count bytes since the stream began. */
typedef struct
{
  gsize max_stanza_bytes;
  PgXmlLex lex;
  char quote;            /* of the attribute value being scanned */
  guint run;             /* ']' in a row in text or CDATA; 1 after '/' in a tag or '?' in a PI */
  guint markup;          /* in CDATA or a PI: 1 after '<', 2 after "<!" */
  int lex_depth;         /* libxml2's depth at the byte being scanned: 1 = <stream:stream> */
  guint64 offset;        /* bytes scanned */
  guint64 tag_offset;    /* of the '<' of the last tag begun at depth 1 */
  guint64 stanza_offset; /* of the '<' opening the current stanza */
  guint64 text_offset;   /* where the current text between stanzas began */
  guint64 markup_offset; /* of the '<' of restricted markup */
  gboolean in_stanza;
  gboolean header_done;
  PgXmlSkip skip;
  GString *header;         /* the stream header as received */
  PgXmlStartTag start_tag; /* of the current stanza */
  char tail[16];           /* the last bytes fed to libxml2's current context */
  guint tail_len;
} PgXmlFraming;

/* @max_stanza_bytes as given (pg_xml_parser_new() raises it to the minimum). */
void pg_xml_framing_init (PgXmlFraming *framing, gsize max_stanza_bytes);
void pg_xml_framing_clear (PgXmlFraming *framing);
/* Scans @data from *@pos to the first event; *@pos is left before the byte
 * that causes it, or after the byte that ends a skipped stanza. */
PgXmlScanEvent pg_xml_framing_scan (PgXmlFraming *framing, const char *data, gsize len, gsize *pos);
/* After PG_XML_SCAN_OVERFLOW or PG_XML_SCAN_TEXT_OVERFLOW: the rest of the
 * stanza or text is scanned without a limit, up to its end. */
void pg_xml_framing_skip (PgXmlFraming *framing, PgXmlScanEvent overflow);
/* After PG_XML_SCAN_STANZA_END or PG_XML_SCAN_TEXT_END: limits apply again. */
void pg_xml_framing_resume (PgXmlFraming *framing);
/* @len bytes were fed to libxml2's context; forget_fed: a new context. */
void pg_xml_framing_remember_fed (PgXmlFraming *framing, const char *data, gsize len);
void pg_xml_framing_forget_fed (PgXmlFraming *framing);
/* Before an overflow's resynchronisation: appends to @fill the bytes that
 * end the text or CDATA section the limit falls in, and any character or
 * reference it cuts, validly whenever the bytes before could be ended so
 * (the bytes that end a character count as fed). FALSE, @fill untouched,
 * when the limit falls in no such token. */
gboolean pg_xml_framing_end_token (PgXmlFraming *framing, GString *fill);
