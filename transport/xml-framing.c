/* transport/xml-framing.c — the stanza size limit, applied to bytes as
 * received, ahead of libxml2.
 *
 * libxml2's push parser keeps an unfinished token (a start tag, a CDATA
 * section, a processing instruction…) in its input buffer and reports nothing
 * until the token ends, so a limit counted from its callbacks or from what it
 * consumed never sees it: 8 MiB inside one start tag would be buffered whole,
 * and at about 10 MB libxml2 gives up and the stream is closed. So every
 * byte is scanned here first, with just enough of XML's lexical structure
 * (tags, quoted values, CDATA) to know the depth and where each stanza begins
 * and ends, and the limit applies to bytes as received:
 *
 * - At the byte that takes a stanza over the limit, whatever token it is in,
 *   libxml2 stops being fed. It cannot be made to drop what it holds or to
 *   finish a token, so xml-parser.c replaces its context by a fresh one,
 *   given the stream header again (as received, kept here) and thus at depth
 *   1 as between stanzas; the rest of the stanza is scanned but neither fed
 *   nor kept until the scan sees its end tag, and the stanza is reported from
 *   its start tag (kept by xml-start-tag.c). This resynchronisation is exact
 *   for well-formed input (the scan follows the very syntax that decides
 *   where an element ends), which is all a server forwards; on input that is
 *   not, it can only end the skip at the wrong place, and libxml2 then closes
 *   the stream as not well-formed, as that input deserves anyway. What is
 *   skipped is not checked for well-formedness at all; what came before the
 *   limit is, in full however it was split, since libxml2 is made to finish
 *   the text or CDATA it holds unchecked (pg_xml_framing_end_token()).
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
 * xml-parser.c feeds libxml2 a bounded piece at a time, so libxml2 never
 * holds more than the limit plus a piece, and a skipped stanza costs no
 * memory however long. */
#define G_LOG_DOMAIN "pg-xml"
#include "build-config.h"

#include "transport/xml-parser-private.h"

#include <string.h>

void
pg_xml_framing_init (PgXmlFraming *framing, gsize max_stanza_bytes)
{
  memset (framing, 0, sizeof *framing);
  framing->max_stanza_bytes = max_stanza_bytes;
  framing->header = g_string_new (NULL);
  pg_xml_start_tag_init (&framing->start_tag);
}

void
pg_xml_framing_clear (PgXmlFraming *framing)
{
  if (framing->header != NULL)
    g_string_free (framing->header, TRUE);
  framing->header = NULL;
  pg_xml_start_tag_clear (&framing->start_tag);
}

void
pg_xml_framing_skip (PgXmlFraming *framing, PgXmlScanEvent overflow)
{
  g_return_if_fail (overflow == PG_XML_SCAN_OVERFLOW || overflow == PG_XML_SCAN_TEXT_OVERFLOW);
  framing->skip = overflow == PG_XML_SCAN_OVERFLOW ? PG_XML_SKIP_STANZA : PG_XML_SKIP_TEXT;
}

void
pg_xml_framing_resume (PgXmlFraming *framing)
{
  /* A skipped stanza's end set text_offset already (end_stanza()). */
  if (framing->skip == PG_XML_SKIP_TEXT)
    framing->text_offset = framing->offset;
  framing->skip = PG_XML_SKIP_NONE;
}

void
pg_xml_framing_forget_fed (PgXmlFraming *framing)
{
  framing->tail_len = 0;
}

/* @start + the limit, saturated: the limit may be G_MAXSIZE. */
static guint64
past_limit (const PgXmlFraming *framing, guint64 start)
{
  guint64 max = framing->max_stanza_bytes;
  return max > G_MAXUINT64 - start ? G_MAXUINT64 : start + max;
}

static guint64
limit_offset (const PgXmlFraming *framing, PgXmlScanEvent *event)
{
  if (framing->skip != PG_XML_SKIP_NONE)
    return G_MAXUINT64;
  if (!framing->header_done)
    {
      *event = PG_XML_SCAN_TOO_LONG;
      return past_limit (framing, 0);
    }
  if (framing->in_stanza)
    {
      *event = PG_XML_SCAN_OVERFLOW;
      return past_limit (framing, framing->stanza_offset);
    }
  if (framing->lex_depth != 1)
    return G_MAXUINT64;
  if (framing->lex == PG_XML_LEX_TEXT || framing->lex == PG_XML_LEX_CDATA)
    {
      *event = PG_XML_SCAN_TEXT_OVERFLOW;
      return past_limit (framing, framing->text_offset);
    }
  if (framing->lex == PG_XML_LEX_END_TAG || framing->lex == PG_XML_LEX_PI)
    {
      *event = PG_XML_SCAN_TOO_LONG;
      return past_limit (framing, framing->tag_offset);
    }
  return G_MAXUINT64;
}

/* "<!" other than "<![" is refused wherever it appears, as it was before
 * this scan knew CDATA sections and PIs: inside them it is not markup, but
 * no XMPP peer sends that. */
static gboolean
is_declaration (PgXmlFraming *framing, char c)
{
  switch (framing->markup)
    {
    case 1:
      framing->markup = c == '!' ? 2 : c == '<' ? 1 : 0;
      return FALSE;
    case 2:
      framing->markup = 0;
      return c != '[';
    default:
      framing->markup = c == '<';
      return FALSE;
    }
}

void
pg_xml_framing_remember_fed (PgXmlFraming *framing, const char *data, gsize len)
{
  const gsize size = sizeof framing->tail;
  if (len >= size)
    {
      memcpy (framing->tail, data + len - size, size);
      framing->tail_len = size;
      return;
    }
  gsize keep = MIN (framing->tail_len, size - len);
  memmove (framing->tail, framing->tail + framing->tail_len - keep, keep);
  memcpy (framing->tail + keep, data, len);
  framing->tail_len = (guint)(keep + len);
}

/* Appends to @fill the bytes that end the UTF-8 sequence the tail stops
 * inside, if it does, such that the whole is valid whenever its start could
 * be: after E0 and F0 the lowest continuation byte would make an overlong
 * form. */
static void
complete_character (const PgXmlFraming *framing, GString *fill)
{
  const guchar *t = (const guchar *)framing->tail;
  guint k = framing->tail_len, continuation = 0;
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
 * (on_get_entity() in xml-parser.c). Otherwise a ';' alone: libxml2 leaves a
 * '&' unparsed, and the text before it unchecked, until it sees one; it
 * refuses the reference then, and outside a reference the ';' is only text.
 * A reference longer than the tail is not seen, and ended so too. */
static void
complete_reference (const PgXmlFraming *framing, GString *fill)
{
  static const char *const names[] = { "amp", "lt", "gt", "quot", "apos" };
  const char *t = framing->tail;
  guint i = framing->tail_len;
  while (i > 0 && t[i - 1] != ';' && t[i - 1] != '&')
    i--;
  if (i == 0 || t[i - 1] != '&')
    {
      g_string_append_c (fill, ';');
      return;
    }
  const char *body = t + i;
  gsize len = framing->tail_len - i;
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
gboolean
pg_xml_framing_end_token (PgXmlFraming *framing, GString *fill)
{
  if (framing->lex != PG_XML_LEX_TEXT && framing->lex != PG_XML_LEX_CDATA)
    return FALSE;
  const gsize start = fill->len;
  complete_character (framing, fill);
  pg_xml_framing_remember_fed (framing, fill->str + start, fill->len - start);
  if (framing->lex == PG_XML_LEX_TEXT)
    complete_reference (framing, fill);
  g_string_append (fill, framing->lex == PG_XML_LEX_TEXT ? "<" : "]]>");
  return TRUE;
}

/* Whether the stanza just ended is being skipped. */
static gboolean
end_stanza (PgXmlFraming *framing, guint64 at)
{
  framing->in_stanza = FALSE;
  framing->text_offset = at + 1;
  return framing->skip == PG_XML_SKIP_STANZA;
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
find_cdata_end (PgXmlFraming *framing, const char *data, gsize *i, gsize end)
{
  gsize k = *i;
  while (k < end)
    {
      if (framing->run == 0)
        {
          const char *bracket = memchr (data + k, ']', end - k);
          if (bracket == NULL)
            return FALSE;
          k = (gsize)(bracket - data) + 1;
          framing->run = 1;
          continue;
        }
      if (data[k] == '>' && framing->run >= 2)
        {
          *i = k;
          return TRUE;
        }
      framing->run = data[k] == ']' ? 2 : 0;
      k++;
    }
  return FALSE;
}

/* Scans @data from *@pos to the first event; *@pos is left before the byte
 * that causes it, or after the byte that ends a skipped stanza. */
PgXmlScanEvent
pg_xml_framing_scan (PgXmlFraming *framing, const char *data, gsize len, gsize *pos)
{
  gsize i = *pos;
  const guint64 base = framing->offset - i; /* offset of data[0] */
  gsize header_from = framing->header_done ? G_MAXSIZE : i;
  /* Where the part of the stanza's start tag not kept yet begins. */
  gsize keep_from = framing->in_stanza && !framing->start_tag.done ? i : G_MAXSIZE;
  PgXmlScanEvent event = PG_XML_SCAN_END;

  while (i < len)
    {
      PgXmlScanEvent over = PG_XML_SCAN_END;
      const guint64 at = base + i;
      const guint64 limit = limit_offset (framing, &over);
      if (at >= limit)
        {
          event = over;
          break;
        }
      const gsize room = (gsize)MIN (limit - at, (guint64)(len - i));
      const char c = data[i];

      switch (framing->lex)
        {
        case PG_XML_LEX_TEXT:
          {
            const char *lt = memchr (data + i, '<', room);
            const gsize text_end = lt != NULL ? (gsize)(lt - data) : i + room;
            if (framing->skip == PG_XML_SKIP_NONE && find_cdata_end (framing, data, &i, text_end))
              {
                event = PG_XML_SCAN_CDATA_END;
                goto out;
              }
            if (lt == NULL)
              {
                i += room;
                continue;
              }
            i = (gsize)(lt - data);
            if (framing->skip == PG_XML_SKIP_TEXT)
              {
                event = PG_XML_SCAN_TEXT_END;
                goto out;
              }
            framing->lex = PG_XML_LEX_LT;
            if (framing->lex_depth == 1)
              framing->tag_offset = base + i;
            break;
          }
        case PG_XML_LEX_LT:
          if (c == '<')
            {
              if (framing->lex_depth == 1)
                framing->tag_offset = at;
            }
          else if (c == '!')
            framing->lex = PG_XML_LEX_BANG;
          else if (c == '/')
            framing->lex = PG_XML_LEX_END_TAG;
          else if (c == '?')
            {
              framing->lex = PG_XML_LEX_PI;
              framing->run = 0;
              framing->markup = 0;
            }
          else
            {
              framing->lex = PG_XML_LEX_START_TAG;
              framing->run = 0;
              if (framing->lex_depth == 1)
                {
                  framing->in_stanza = TRUE;
                  framing->stanza_offset = framing->tag_offset;
                  pg_xml_start_tag_begin (&framing->start_tag);
                  keep_from = i;
                }
            }
          break;
        case PG_XML_LEX_BANG:
          if (c != '[')
            {
              framing->markup_offset = at - 2;
              event = PG_XML_SCAN_RESTRICTED;
              goto out;
            }
          framing->lex = PG_XML_LEX_CDATA;
          framing->run = 0;
          framing->markup = 0;
          break;
        case PG_XML_LEX_START_TAG:
          {
            /* Names, whitespace and '=' in one go. */
            gsize j = i;
            while (j < i + room && data[j] != '>' && data[j] != '"' && data[j] != '\'' && data[j] != '/'
                   && data[j] != '<')
              j++;
            if (j > i)
              {
                framing->run = 0;
                i = j;
                continue;
              }
          }
          if (c == '>')
            {
              gboolean empty = framing->run == 1;
              if (keep_from != G_MAXSIZE)
                {
                  pg_xml_start_tag_finish (&framing->start_tag, data + keep_from, i - keep_from);
                  keep_from = G_MAXSIZE;
                }
              framing->lex = PG_XML_LEX_TEXT;
              framing->run = 0;
              if (!empty)
                framing->lex_depth++;
              if (!framing->header_done)
                {
                  framing->header_done = TRUE;
                  framing->text_offset = at + 1;
                  g_string_append_len (framing->header, data + header_from, (gssize)(i + 1 - header_from));
                  header_from = G_MAXSIZE;
                }
              else if (framing->lex_depth == 1 && framing->in_stanza && end_stanza (framing, at))
                {
                  i++;
                  event = PG_XML_SCAN_STANZA_END;
                  goto out;
                }
              break;
            }
          if (c == '<')
            {
              event = PG_XML_SCAN_LT_IN_TAG;
              goto out;
            }
          if (c == '"' || c == '\'')
            {
              framing->lex = PG_XML_LEX_VALUE;
              framing->quote = c;
            }
          framing->run = c == '/';
          break;
        case PG_XML_LEX_VALUE:
          {
            gboolean found;
            /* A '<' is found here rather than by libxml2, which may not
             * have parsed the value yet when the stanza goes over the limit
             * (and which takes such a '<' for the start of the next tag
             * meanwhile). */
            if (!skip_in_tag (data, &i, room, framing->quote, &found))
              {
                event = PG_XML_SCAN_LT_IN_TAG;
                goto out;
              }
            if (!found)
              continue;
            framing->lex = PG_XML_LEX_START_TAG;
            framing->run = 0;
            break;
          }
        case PG_XML_LEX_END_TAG:
          {
            gboolean found;
            if (!skip_in_tag (data, &i, room, '>', &found))
              {
                event = PG_XML_SCAN_LT_IN_TAG;
                goto out;
              }
            if (!found)
              continue;
          }
          framing->lex = PG_XML_LEX_TEXT;
          framing->run = 0;
          if (framing->lex_depth > 0)
            framing->lex_depth--;
          if (framing->lex_depth == 1 && framing->in_stanza && end_stanza (framing, base + i))
            {
              i++;
              event = PG_XML_SCAN_STANZA_END;
              goto out;
            }
          break;
        case PG_XML_LEX_CDATA:
          if (is_declaration (framing, c))
            {
              framing->markup_offset = at - 2;
              event = PG_XML_SCAN_RESTRICTED;
              goto out;
            }
          if (c == ']')
            framing->run++;
          else
            {
              if (c == '>' && framing->run >= 2)
                framing->lex = PG_XML_LEX_TEXT;
              framing->run = 0;
            }
          break;
        case PG_XML_LEX_PI:
          if (is_declaration (framing, c))
            {
              framing->markup_offset = at - 2;
              event = PG_XML_SCAN_RESTRICTED;
              goto out;
            }
          if (c == '>' && framing->run == 1)
            framing->lex = PG_XML_LEX_TEXT;
          framing->run = c == '?';
          break;
        default:
          g_assert_not_reached ();
        }
      i++;
    }
out:
  if (keep_from != G_MAXSIZE && i > keep_from)
    pg_xml_start_tag_add (&framing->start_tag, data + keep_from, i - keep_from);
  if (header_from != G_MAXSIZE && i > header_from)
    g_string_append_len (framing->header, data + header_from, (gssize)(i - header_from));
  framing->offset = base + i;
  *pos = i;
  return event;
}
