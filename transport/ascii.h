/* transport/ascii.h — text read a machine word at a time.
 *
 * The text of most messages is ASCII.  Checks that look at every byte
 * (UTF-8 validation, the characters XML escapes) can skip eight bytes at
 * once where none of them needs a look, and fall back to the exact check
 * from the first word where one may. */
#pragma once
#include <glib.h>
#include <string.h>

#define PG_WORD_ONES ((guint64)0x0101010101010101ULL)
#define PG_WORD_HIGHS ((guint64)0x8080808080808080ULL)

/* The 8 bytes at @p (no alignment needed). */
static inline guint64
pg_word_load (const char *p)
{
  guint64 word;
  memcpy (&word, p, sizeof word);
  return word;
}

/* Nonzero when a byte of @word is below @n (1 ≤ @n ≤ 0x80). */
static inline guint64
pg_word_has_below (guint64 word, guchar n)
{
  return (word - PG_WORD_ONES * n) & ~word & PG_WORD_HIGHS;
}

/* Nonzero when a byte of @word is @byte. */
static inline guint64
pg_word_has (guint64 word, guchar byte)
{
  return pg_word_has_below (word ^ (PG_WORD_ONES * byte), 1);
}

/* Nonzero when a byte of @word is above 0x7F. */
static inline guint64
pg_word_has_high (guint64 word)
{
  return word & PG_WORD_HIGHS;
}

/* The length of the longest prefix of the @len bytes at @text that is
 * ASCII. */
static inline gsize
pg_ascii_prefix (const char *text, gsize len)
{
  gsize at = 0;
  while (at + 8 <= len && !pg_word_has_high (pg_word_load (text + at)))
    at += 8;
  while (at < len && (guchar)text[at] < 0x80)
    at++;
  return at;
}

/* Whether the @len bytes at @text are valid UTF-8, the ASCII prefix
 * checked a word at a time.  Unlike g_utf8_validate(), a NUL byte in the
 * prefix passes: callers that refuse them look for them apart. */
static inline gboolean
pg_utf8_valid (const char *text, gsize len)
{
  gsize ascii = pg_ascii_prefix (text, len);
  return ascii == len || g_utf8_validate_len (text + ascii, len - ascii, NULL);
}
