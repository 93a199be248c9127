/* tests/unit/test-sent-note.c — the note of what a worker's logins had
 * written and what their servers had processed (legacy/sent-note.h): what
 * the worker writes is what the main process reads, each of the two tags
 * apart, a freed slot claims nothing, and anything that is not a note
 * claims nothing; nor does anything a worker leaves that is not a regular
 * file of a note's size (legacy/worker-file.h), and reading it never
 * blocks. */
#include "build-config.h"

#include "legacy/sent-note.h"
#include "legacy/worker-file.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define W PG_SENT_NOTE_WRITTEN
#define P PG_SENT_NOTE_PROCESSED

static guint64
tag_of (GHashTable *tags, guint32 id, PgSentNoteKind kind)
{
  const PgSentNoteEntry *entry = tags != NULL ? g_hash_table_lookup (tags, GUINT_TO_POINTER (id)) : NULL;
  if (entry == NULL)
    return 0;
  return kind == W ? entry->written : entry->processed;
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
  pg_sent_note_set (note, 7, W, 10);
  pg_sent_note_set (note, 7, P, 6);
  pg_sent_note_set (note, 7, W, 12);
  pg_sent_note_set (note, 9, P, 3); /* processed, written never noted */
  pg_sent_note_set (note, 11, W, 5);
  pg_sent_note_set (note, 11, P, 4);
  pg_sent_note_forget (note, 11);
  pg_sent_note_set (note, 13, W, 0); /* nothing known: no slot */
  /* 11's slot is reused: neither of its tags may carry over. */
  pg_sent_note_set (note, 15, P, 0);
  pg_sent_note_set (note, 17, W, 8);
  /* As a crash leaves it: mapped, never cleaned. */
  pg_sent_note_free (note, FALSE);

  g_autoptr (GHashTable) tags = pg_sent_note_take (dir);
  g_assert_nonnull (tags);
  g_assert_cmpuint (g_hash_table_size (tags), ==, 3);
  g_assert_cmpuint (tag_of (tags, 7, W), ==, 12);
  g_assert_cmpuint (tag_of (tags, 7, P), ==, 6);
  g_assert_cmpuint (tag_of (tags, 9, W), ==, 0);
  g_assert_cmpuint (tag_of (tags, 9, P), ==, 3);
  g_assert_cmpuint (tag_of (tags, 17, W), ==, 8);
  g_assert_cmpuint (tag_of (tags, 17, P), ==, 0);
  g_assert_cmpuint (tag_of (tags, 11, W), ==, 0);
  g_assert_cmpuint (tag_of (tags, 11, P), ==, 0);
  /* Taken: a later worker starts from nothing. */
  g_assert_null (pg_sent_note_take (dir));

  /* A clean exit leaves nothing to claim. */
  note = pg_sent_note_open (dir, &error);
  g_assert_no_error (error);
  pg_sent_note_set (note, 7, W, 20);
  pg_sent_note_free (note, TRUE);
  g_assert_null (pg_sent_note_take (dir));
  g_rmdir (dir);
}

/* Slot @n of @data: login @id, written @written, processed @processed. */
static void
put_slot (guint8 *data, guint n, guint32 id, guint64 written, guint64 processed)
{
  memcpy (data + 24 * n, &id, sizeof id);
  memcpy (data + 24 * n + 8, &written, sizeof written);
  memcpy (data + 24 * n + 16, &processed, sizeof processed);
}

static void
test_parse_rejects (void)
{
  guint8 data[96];

  g_assert_null (pg_sent_note_parse (NULL, 0));
  memset (data, 0, sizeof data);
  g_assert_null (pg_sent_note_parse (data, sizeof data));
  /* A slot that claims something, behind a header that is not one. */
  put_slot (data, 1, 5, 9, 7);
  g_assert_null (pg_sent_note_parse (data, sizeof data));
  /* A note of the format before, which had one tag a slot. */
  put_slot (data, 0, 1, PG_SENT_NOTE_MAGIC, 0);
  g_assert_null (pg_sent_note_parse (data, sizeof data));
  /* With the header, and cut short: only whole slots count. */
  put_slot (data, 0, PG_SENT_NOTE_VERSION, PG_SENT_NOTE_MAGIC, 0);
  g_autoptr (GHashTable) tags = pg_sent_note_parse (data, 48);
  g_assert_cmpuint (tag_of (tags, 5, W), ==, 9);
  g_assert_cmpuint (tag_of (tags, 5, P), ==, 7);
  g_assert_null (pg_sent_note_parse (data, 47));
  /* Two slots of one login: the smaller claim wins, tag by tag. */
  put_slot (data, 2, 5, 11, 4);
  g_autoptr (GHashTable) both = pg_sent_note_parse (data, 72);
  g_assert_cmpuint (tag_of (both, 5, W), ==, 9);
  g_assert_cmpuint (tag_of (both, 5, P), ==, 4);
}

static void
test_worker_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-worker-file-XXXXXX", NULL);
  g_autofree char *note = g_build_filename (dir, "note", NULL);
  g_autofree char *outside = g_build_filename (dir, "outside", NULL);
  gsize len = 0;

  /* A regular file: read whole, then gone. */
  g_assert_true (g_file_set_contents (note, "12 7", -1, NULL));
  g_autofree char *text = pg_worker_file_take (dir, "note", 4096, &len);
  g_assert_cmpstr (text, ==, "12 7");
  g_assert_cmpuint (len, ==, 4);
  g_assert_false (g_file_test (note, G_FILE_TEST_EXISTS));
  g_assert_null (pg_worker_file_take (dir, "note", 4096, &len));

  /* Over the size a note can have. */
  g_assert_true (g_file_set_contents (note, "0123456789", -1, NULL));
  g_test_expect_message ("pg-workers", G_LOG_LEVEL_WARNING, "*not a note a worker writes*");
  g_assert_null (pg_worker_file_take (dir, "note", 9, &len));
  g_test_assert_expected_messages ();
  g_assert_false (g_file_test (note, G_FILE_TEST_EXISTS));

  /* A FIFO: no wait for a writer. */
  g_assert_cmpint (mkfifo (note, 0600), ==, 0);
  g_test_expect_message ("pg-workers", G_LOG_LEVEL_WARNING, "*not a note a worker writes*");
  g_assert_null (pg_worker_file_take (dir, "note", 4096, &len));
  g_test_assert_expected_messages ();
  g_assert_false (g_file_test (note, G_FILE_TEST_EXISTS));

  /* A link: not followed, and what it names is left alone. */
  g_assert_true (g_file_set_contents (outside, "secret", -1, NULL));
  g_assert_cmpint (symlink (outside, note), ==, 0);
  g_assert_null (pg_worker_file_take (dir, "note", 4096, &len));
  g_assert_false (g_file_test (note, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (g_file_test (outside, G_FILE_TEST_IS_REGULAR));
  g_unlink (outside);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sent-note/round-trip", test_round_trip);
  g_test_add_func ("/sent-note/parse-rejects", test_parse_rejects);
  g_test_add_func ("/sent-note/worker-file", test_worker_file);
  return g_test_run ();
}
