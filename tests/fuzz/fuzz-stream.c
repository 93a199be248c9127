/* tests/fuzz/fuzz-stream.c — the stream parser: the input, after a
 * fixed stream header, is fed once in one piece and once in pieces whose
 * sizes derive from the input's hash (single bytes, small or medium runs);
 * at most PIECES_MAX pieces, over a stretch of the text that the hash
 * places, the text before it in one piece and the rest after it in one
 * (feeding 10 kB a byte at a time made libxml2 2.9 rescan its buffer at
 * every byte, quadratic, and kept the target at a few hundred runs a
 * second; mutated inputs move the stretch over every offset). Both runs
 * must report the same events (stream opened, every stanza as
 * serialised, oversized stanzas, stream closed) and end with the same error
 * code. Every stanza must also serialise to XML that parses back to itself.
 *
 * libxml2's push parser (2.9) finds errors lazily, and how lazily depends on
 * the pieces: it waits in a tag, comment, PI or reference until a piece
 * brings a '>' (or ';'), in short text until a '<' follows, and it parses
 * an unclosed CDATA section 300 bytes per xmlParseChunk() call. So one run
 * may have met an error that the other has not reached yet. Tolerated:
 *   - one run failed and the other is still waiting, its events a prefix of
 *     the failed run's (it is behind, not elsewhere). Both runs end with
 *     one more piece, ">", which lets a run waiting in a tag catch up;
 *   - a restricted declaration ("<!" not opening CDATA) fails the stream as
 *     soon as the parser sees it, without waiting for libxml2, so when the
 *     text before it is not well-formed either problem may be met first.
 *     For an input with a declaration both runs must fail, and the text
 *     before the declaration gets the checks above.
 * Not tolerated: different stanzas, an error in one run where the other
 * went on past that point, different error codes when both runs fail. */
#define G_LOG_DOMAIN "pg-fuzz-stream"

#include "tests/fuzz/fuzz-common.h"

#include "transport/stanza.h"
#include "transport/xml-parser.h"

#include <string.h>

typedef struct
{
  GString *events;
  GPtrArray *stanzas; /* kept for pg_fuzz_check_reparses_all(), or NULL */
} Recorder;

static void
on_opened (const xmlNode *root, gpointer user_data)
{
  Recorder *r = user_data;

  g_string_append (r->events, "opened ");
  pg_stanza_serialize (root, r->events);
  g_string_append_c (r->events, '\n');
}

static void
on_stanza (xmlNode *stanza, gpointer user_data)
{
  Recorder *r = user_data;

  g_string_append (r->events, "stanza ");
  pg_stanza_serialize (stanza, r->events);
  g_string_append_c (r->events, '\n');
  if (r->stanzas != NULL)
    g_ptr_array_add (r->stanzas, stanza);
  else
    pg_stanza_free (stanza);
}

static void
on_too_big (const xmlNode *skeleton, gsize bytes, gpointer user_data)
{
  Recorder *r = user_data;

  g_string_append_printf (r->events, "too-big %" G_GSIZE_FORMAT " ", bytes);
  pg_stanza_serialize (skeleton, r->events);
  g_string_append_c (r->events, '\n');
}

static void
on_closed (gpointer user_data)
{
  Recorder *r = user_data;

  g_string_append (r->events, "closed\n");
}

static const PgXmlParserCallbacks callbacks = {
  .stream_opened = on_opened,
  .stanza = on_stanza,
  .stanza_too_big = on_too_big,
  .stream_closed = on_closed,
};

/* xorshift32: chunk sizes from the input's hash. */
static guint32
next_random (guint32 *state)
{
  guint32 x = *state;

  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

/* Pieces of the split run, the final ">" not counted. */
#define PIECES_MAX 256

/* Feeds @text (header and input) in one piece when @seed is 0, else in pieces;
 * stops at the first failure as the stream does. Returns the error code, or
 * -1 when the whole text was accepted. */
static int
run (const char *text, gsize len, guint32 seed, Recorder *r)
{
  g_autoptr (PgXmlParser) parser = pg_xml_parser_new (&callbacks, r, 0);
  g_autoptr (GError) error = NULL;
  guint32 state = seed;
  /* 1/4 single bytes, 1/4 up to 4, 1/4 up to 16, 1/4 up to 128 bytes. */
  static const guint32 max_piece[] = { 1, 4, 16, 128 };
  guint32 max = max_piece[seed & 3];
  /* The split stretch: about PIECES_MAX - 2 pieces of the mean size, placed
   * by the hash when the text is longer; a text that short is split all
   * through, as before the limit. */
  gsize span = (gsize)(PIECES_MAX - 2) * (max + 1) / 2;
  gsize start = seed == 0 || len <= span ? 0 : next_random (&state) % (len - span + 1);
  guint pieces = 0;
  gsize done = 0;

  while (done <= len)
    {
      gsize n;
      const char *piece = text + done;

      if (seed == 0)
        n = len;
      else if (done < start)
        n = start - done;
      else if (pieces + 1 >= PIECES_MAX)
        n = len - done;
      else
        n = 1 + next_random (&state) % max;
      pieces++;

      n = MIN (n, len - done);
      if (done == len)
        {
          piece = ">"; /* see the top of the file */
          n = 1;
        }
      if (!pg_xml_parser_feed (parser, piece, n, &error))
        {
          PG_FUZZ_CHECK (error != NULL && error->domain == PG_XML_PARSER_ERROR, "failure without an error");
          return error->code;
        }
      done += n;
    }
  return -1;
}

/* Offset of the '<' of the first "<!" that does not open a CDATA section in
 * the fed text (@text and the final ">"), as pg_xml_parser_feed() finds it,
 * or -1. */
static gssize
find_declaration (const GString *text)
{
  for (gsize i = 0; i + 1 < text->len; i++)
    if (text->str[i] == '<' && text->str[i + 1] == '!' && (i + 2 == text->len || text->str[i + 2] != '['))
      return (gssize)i;
  return -1;
}

/* Runs @len bytes of @text whole and split by @seed; both must agree, but
 * for one of them lagging behind (see the top of the file). */
static void
compare_runs (const char *text, gsize len, guint32 seed)
{
  Recorder whole = { g_string_new (NULL), g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free) };
  Recorder pieces = { g_string_new (NULL), NULL };
  int whole_code = run (text, len, 0, &whole);
  int pieces_code = run (text, len, seed, &pieces);
  gboolean same = whole_code == pieces_code && strcmp (whole.events->str, pieces.events->str) == 0;
  gboolean whole_behind
      = whole_code == -1 && pieces_code >= 0 && g_str_has_prefix (pieces.events->str, whole.events->str);
  gboolean pieces_behind
      = pieces_code == -1 && whole_code >= 0 && g_str_has_prefix (whole.events->str, pieces.events->str);

  PG_FUZZ_CHECK (same || whole_behind || pieces_behind,
                 "split (seed %08x) changes the outcome: error code %d whole, %d split\n"
                 "--- whole\n%s--- split\n%s",
                 seed, whole_code, pieces_code, whole.events->str, pieces.events->str);
  pg_fuzz_check_reparses_all (whole.stanzas);
  g_ptr_array_unref (whole.stanzas);
  g_string_free (whole.events, TRUE);
  g_string_free (pieces.events, TRUE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GString) text = g_string_new (PG_FUZZ_HEADER);
  guint32 seed;
  gssize declaration;

  pg_fuzz_init ();
  g_string_append_len (text, (const char *)data, (gssize)size);
  /* Never 0 (one piece) and never 0 for xorshift. */
  seed = pg_fuzz_hash (data, size) | 0x100;

  g_string_append_c (text, '>');
  declaration = find_declaration (text);
  g_string_truncate (text, text->len - 1);
  if (declaration < 0)
    {
      compare_runs (text->str, text->len, seed);
      pg_fuzz_input_done ();
      return 0;
    }

  Recorder whole = { g_string_new (NULL), NULL };
  Recorder pieces = { g_string_new (NULL), NULL };
  int whole_code = run (text->str, text->len, 0, &whole);
  int pieces_code = run (text->str, text->len, seed, &pieces);
  PG_FUZZ_CHECK (whole_code >= 0 && pieces_code >= 0,
                 "a declaration accepted (seed %08x): %d whole, %d split", seed, whole_code, pieces_code);
  g_string_free (whole.events, TRUE);
  g_string_free (pieces.events, TRUE);
  compare_runs (text->str, (gsize)declaration, seed);
  pg_fuzz_input_done ();
  return 0;
}
