/* tests/unit/test-sent-note.c — the note of what a worker's logins had
 * processed (legacy/sent-note.h): what the worker writes is what the main
 * process reads, a freed slot claims nothing, and anything that is not a
 * note claims nothing. */
#include "build-config.h"

#include "legacy/sent-note.h"

#include <glib/gstdio.h>
#include <string.h>

static guint64
tag_of (GHashTable *tags, guint32 id)
{
  const guint64 *tag = tags != NULL ? g_hash_table_lookup (tags, GUINT_TO_POINTER (id)) : NULL;
  return tag != NULL ? *tag : 0;
}

static void
test_round_trip (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pg-sent-note-XXXXXX", &error);
  g_assert_no_error (error);
  PgSentNote *note = pg_sent_note_open (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (note);
  pg_sent_note_set (note, 7, 10);
  pg_sent_note_set (note, 7, 12);
  pg_sent_note_set (note, 9, 3);
  pg_sent_note_set (note, 11, 5);
  pg_sent_note_forget (note, 11);
  pg_sent_note_set (note, 13, 0); /* nothing known: no slot */
  /* 11's slot is reused: its tag must not carry over. */
  pg_sent_note_set (note, 15, 0);
  pg_sent_note_set (note, 17, 8);
  /* As a crash leaves it: mapped, never cleaned. */
  pg_sent_note_free (note, FALSE);

  g_autoptr (GHashTable) tags = pg_sent_note_take (dir);
  g_assert_nonnull (tags);
  g_assert_cmpuint (g_hash_table_size (tags), ==, 3);
  g_assert_cmpuint (tag_of (tags, 7), ==, 12);
  g_assert_cmpuint (tag_of (tags, 9), ==, 3);
  g_assert_cmpuint (tag_of (tags, 17), ==, 8);
  g_assert_cmpuint (tag_of (tags, 11), ==, 0);
  /* Taken: a later worker starts from nothing. */
  g_assert_null (pg_sent_note_take (dir));

  /* A clean exit leaves nothing to claim. */
  note = pg_sent_note_open (dir, &error);
  g_assert_no_error (error);
  pg_sent_note_set (note, 7, 20);
  pg_sent_note_free (note, TRUE);
  g_assert_null (pg_sent_note_take (dir));
  g_rmdir (dir);
}

static void
test_parse_rejects (void)
{
  guint8 data[64];

  g_assert_null (pg_sent_note_parse (NULL, 0));
  memset (data, 0, sizeof data);
  g_assert_null (pg_sent_note_parse (data, sizeof data));
  /* A slot that claims something, behind a header that is not one. */
  guint32 id = 5;
  guint64 tag = 9;
  memcpy (data + 16, &id, sizeof id);
  memcpy (data + 24, &tag, sizeof tag);
  g_assert_null (pg_sent_note_parse (data, sizeof data));
  /* With the header, and cut short: only whole slots count. */
  guint32 version = PG_SENT_NOTE_VERSION;
  guint64 magic = PG_SENT_NOTE_MAGIC;
  memcpy (data, &version, sizeof version);
  memcpy (data + 8, &magic, sizeof magic);
  g_autoptr (GHashTable) tags = pg_sent_note_parse (data, 32);
  g_assert_cmpuint (tag_of (tags, 5), ==, 9);
  g_assert_null (pg_sent_note_parse (data, 31));
  /* Two slots of one login: the smaller claim wins. */
  guint64 less = 4;
  memcpy (data + 32, &id, sizeof id);
  memcpy (data + 40, &less, sizeof less);
  g_autoptr (GHashTable) both = pg_sent_note_parse (data, 48);
  g_assert_cmpuint (tag_of (both, 5), ==, 4);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sent-note/round-trip", test_round_trip);
  g_test_add_func ("/sent-note/parse-rejects", test_parse_rejects);
  return g_test_run ();
}
