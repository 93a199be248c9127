/* tests/unit/test-wire.c — frames between the main process and a worker
 * (legacy/wire.h): round trips, batching, and every way a frame can be
 * malformed ending the link without delivering it. */
#include "build-config.h"

#include "legacy/wire.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct
{
  GPtrArray *frames; /* "op id args" */
  char *closed;      /* why, once closed */
  gboolean malformed;
  PgWire *wire; /* the one delivering */
} Received;

static void
on_frame (guint32 op, guint32 id, GVariant *args, gpointer data)
{
  Received *received = data;
  g_autoptr (GVariant) texts = NULL;
  if (args == NULL)
    {
      /* A per-message frame: its texts, as the GVariant they stand for. */
      g_assert_true (pg_wire_is_text_op (op));
      if (op == PG_WIRE_CHAT_MESSAGE || op == PG_WIRE_CHAT_OCCUPANT)
        {
          const guint8 *fixed;
          const char *s[3];
          guint32 rank;
          pg_wire_frame_strings (received->wire, &fixed, s, G_N_ELEMENTS (s));
          memcpy (&rank, fixed, sizeof rank);
          args = texts = g_variant_ref_sink (
              op == PG_WIRE_CHAT_MESSAGE ? g_variant_new ("(bsss)", (gboolean)fixed[0], s[0], s[1], s[2])
                                         : g_variant_new ("(ubbsss)", rank, (gboolean)fixed[4],
                                                          (gboolean)fixed[5], s[0], s[1], s[2]));
        }
      else
        {
          guint64 tag;
          const char *a, *b;
          pg_wire_frame_texts (received->wire, &tag, &a, &b);
          args = texts = g_variant_ref_sink (op == PG_WIRE_SEND ? g_variant_new ("(tss)", tag, a, b)
                                                                : g_variant_new ("(ss)", a, b));
        }
    }
  g_autofree char *text = g_variant_print (args, FALSE);
  g_ptr_array_add (received->frames, g_strdup_printf ("%u %u %s", op, id, text));
}

static void
on_closed (const char *why, gboolean malformed, gpointer data)
{
  Received *received = data;
  g_assert_null (received->closed);
  received->closed = g_strdup (why);
  received->malformed = malformed;
}

typedef struct
{
  int raw;      /* the other end, written by hand */
  PgWire *wire; /* this end */
  Received received;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  int fds[2];
  (void)data;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  f->raw = fds[0];
  f->received.frames = g_ptr_array_new_with_free_func (g_free);
  f->wire = pg_wire_new (fds[1], on_frame, on_closed, &f->received);
  f->received.wire = f->wire;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  (void)data;
  pg_wire_free (f->wire);
  close (f->raw);
  g_ptr_array_unref (f->received.frames);
  g_free (f->received.closed);
}

/* Runs the main context until @n frames arrived or the link closed. */
static void
run_until (Fixture *f, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (f->received.frames->len < n && f->received.closed == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
}

static void
put_u32 (GByteArray *out, guint32 v)
{
  guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff };
  g_byte_array_append (out, b, 4);
}

/* A frame as a worker would write it, with @length given (0: the right one). */
static void
write_frame (Fixture *f, guint32 length, guint32 op, guint32 id, const void *args, gsize size)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  put_u32 (out, length != 0 ? length : (guint32)(8 + size));
  put_u32 (out, op);
  put_u32 (out, id);
  g_byte_array_append (out, args, (guint)size);
  g_assert_cmpint (write (f->raw, out->data, out->len), ==, (gssize)out->len);
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  (void)data;
  /* Two wires back to back: what one sends the other delivers, in order. */
  Received other = { g_ptr_array_new_with_free_func (g_free), NULL, FALSE, NULL };
  PgWire *peer = pg_wire_new (dup (f->raw), on_frame, on_closed, &other);
  other.wire = peer;
  pg_wire_send (peer, PG_WIRE_MESSAGE, 7, g_variant_new ("(ss)", "bob", "hé <b>"));
  pg_wire_send (peer, PG_WIRE_CONTACT_STATUS, 7, g_variant_new ("(smsums)", "bob", NULL, 3, "away"));
  pg_wire_send (peer, PG_WIRE_SENT_CONFIRMED, 9, g_variant_new ("(t)", G_GUINT64_CONSTANT (1) << 40));
  g_assert_true (pg_wire_flush (peer, 1000));
  run_until (f, 3);
  g_assert_null (f->received.closed);
  g_assert_cmpuint (f->received.frames->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (f->received.frames, 0), ==, "70 7 ('bob', 'hé <b>')");
  g_assert_cmpstr (g_ptr_array_index (f->received.frames, 1), ==, "67 7 ('bob', nothing, 3, 'away')");
  g_assert_cmpstr (g_ptr_array_index (f->received.frames, 2), ==, "73 9 (1099511627776,)");
  pg_wire_free (peer);
  g_ptr_array_unref (other.frames);
  g_free (other.closed);
}

/* The frames written without a GVariant are byte for byte those of
 * pg_wire_send(), whatever size picks the framing offsets' width, and read
 * back as g_variant_get() would. */
static void
test_texts (Fixture *f, gconstpointer data)
{
  static const gsize lengths[]
      = { 0,     1,     120,   242,   243,   244,   245,   250,   251,   252,   253,   254,   255,  256,
          65500, 65521, 65522, 65523, 65524, 65525, 65526, 65527, 65528, 65534, 65535, 65536, 70000 };
  (void)data;
  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    for (guint tagged = 0; tagged < 2; tagged++)
      {
        g_autofree char *b = g_strnfill (lengths[i], 'x');
        const char *a = "bob";
        guint64 tag = G_GUINT64_CONSTANT (0x0102030405060708) + i;
        guint32 op = tagged ? PG_WIRE_SEND : PG_WIRE_MESSAGE;
        static char expected[300000], got[300000];

        pg_wire_send (f->wire, op, 5,
                      tagged ? g_variant_new ("(tss)", tag, a, b) : g_variant_new ("(ss)", a, b));
        g_assert_true (pg_wire_flush (f->wire, 1000));
        gssize n1 = recv (f->raw, expected, sizeof expected, MSG_DONTWAIT);
        pg_wire_send_texts (f->wire, op, 5, tagged ? &tag : NULL, a, b);
        g_assert_true (pg_wire_flush (f->wire, 1000));
        gssize n2 = recv (f->raw, got, sizeof got, MSG_DONTWAIT);
        g_assert_cmpint (n1, >, 12);
        g_assert_cmpmem (got, n2, expected, n1);

        g_autoptr (GBytes) bytes = g_bytes_new (got + 12, (gsize)n2 - 12);
        g_autoptr (GVariant) args = g_variant_ref_sink (
            g_variant_new_from_bytes (G_VARIANT_TYPE (tagged ? "(tss)" : "(ss)"), bytes, FALSE));
        g_assert_true (g_variant_is_normal_form (args));
        guint64 read_tag = 0;
        const char *ra = NULL, *rb = NULL;
        pg_wire_get_texts (args, tagged ? &read_tag : NULL, &ra, &rb);
        g_assert_cmpstr (ra, ==, a);
        g_assert_cmpstr (rb, ==, b);
        if (tagged)
          g_assert_cmpuint (read_tag, ==, tag);

        /* And the wire delivers it, read in place, as it was sent. */
        guint before = f->received.frames->len;
        g_assert_cmpint (write (f->raw, got, (gsize)n2), ==, n2);
        run_until (f, before + 1);
        g_assert_null (f->received.closed);
        g_autofree char *printed = g_variant_print (args, FALSE);
        g_autofree char *expected_frame = g_strdup_printf ("%u 5 %s", op, printed);
        g_assert_cmpstr (g_ptr_array_index (f->received.frames, before), ==, expected_frame);
      }
}

/* A frame of a fixed-size member and three strings ("(bsss)") is, byte
 * for byte, that of pg_wire_send(), whatever the strings' lengths make of
 * the framing offsets, and reads back as g_variant_get() would. */
static void
test_strings (Fixture *f, gconstpointer data)
{
  static const gsize lengths[]
      = { 0, 1, 120, 240, 245, 250, 251, 252, 253, 255, 256, 65500, 65520, 65530, 65536, 70000 };
  (void)data;
  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    for (guint which = 0; which < 3; which++)
      {
        g_autofree char *long_one = g_strnfill (lengths[i], 'x');
        const char *strings[] = { "#chan", "bob", "hé <b>" };
        strings[which] = long_one;
        guint8 delayed = i % 2;
        static char expected[300000], got[300000];

        pg_wire_send (f->wire, PG_WIRE_CHAT_MESSAGE, 5,
                      g_variant_new ("(bsss)", (gboolean)delayed, strings[0], strings[1], strings[2]));
        g_assert_true (pg_wire_flush (f->wire, 1000));
        gssize n1 = recv (f->raw, expected, sizeof expected, MSG_DONTWAIT);
        pg_wire_send_strings (f->wire, PG_WIRE_CHAT_MESSAGE, 5, &delayed, 1, strings, 3);
        g_assert_true (pg_wire_flush (f->wire, 1000));
        gssize n2 = recv (f->raw, got, sizeof got, MSG_DONTWAIT);
        g_assert_cmpint (n1, >, 12);
        g_assert_cmpmem (got, n2, expected, n1);

        g_autoptr (GBytes) bytes = g_bytes_new (got + 12, (gsize)n2 - 12);
        g_autoptr (GVariant) args
            = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("(bsss)"), bytes, FALSE));
        g_assert_true (g_variant_is_normal_form (args));
        const char *read[3] = { NULL };
        pg_wire_get_strings (args, 1, read, 3);
        for (guint k = 0; k < 3; k++)
          g_assert_cmpstr (read[k], ==, strings[k]);
        g_assert_cmpuint (*(const guint8 *)g_variant_get_data (args), ==, delayed);
      }
}

/* "(ubbsss)": fixed members of two sizes before the strings. */
static void
test_strings_fixed (Fixture *f, gconstpointer data)
{
  static const gsize lengths[] = { 0, 3, 200, 243, 250, 255, 65525, 65540 };
  (void)data;
  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      g_autofree char *nick = g_strnfill (lengths[i], 'n');
      const char *strings[] = { "#chan", nick, i % 2 ? "member" : "" };
      guint32 rank = 3 + i;
      guint8 fixed[6];
      memcpy (fixed, &rank, sizeof rank);
      fixed[4] = 1;
      fixed[5] = i % 2;
      static char expected[300000], got[300000];

      pg_wire_send (
          f->wire, PG_WIRE_CHAT_OCCUPANT, 5,
          g_variant_new ("(ubbsss)", rank, TRUE, (gboolean)(i % 2), strings[0], strings[1], strings[2]));
      g_assert_true (pg_wire_flush (f->wire, 1000));
      gssize n1 = recv (f->raw, expected, sizeof expected, MSG_DONTWAIT);
      pg_wire_send_strings (f->wire, PG_WIRE_CHAT_OCCUPANT, 5, fixed, sizeof fixed, strings, 3);
      g_assert_true (pg_wire_flush (f->wire, 1000));
      gssize n2 = recv (f->raw, got, sizeof got, MSG_DONTWAIT);
      g_assert_cmpint (n1, >, 12);
      g_assert_cmpmem (got, n2, expected, n1);
    }
}

/* Frames queued in one iteration leave in one write, after it. */
static void
test_batched (Fixture *f, gconstpointer data)
{
  (void)data;
  for (guint i = 0; i < 100; i++)
    pg_wire_send (f->wire, PG_WIRE_SEND, 1, g_variant_new ("(tss)", (guint64)i, "bob", "x"));
  char buffer[65536];
  g_assert_cmpint (recv (f->raw, buffer, sizeof buffer, MSG_DONTWAIT), ==, -1);
  g_main_context_iteration (NULL, FALSE);
  gssize n = recv (f->raw, buffer, sizeof buffer, MSG_DONTWAIT);
  g_assert_cmpint (n, >, 100 * 12);
}

static void
test_split_reads (Fixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr (GVariant) args = g_variant_ref_sink (g_variant_new ("(s)", "carol"));
  g_autoptr (GByteArray) out = g_byte_array_new ();
  put_u32 (out, 8 + (guint32)g_variant_get_size (args));
  put_u32 (out, PG_WIRE_CONTACT_UNLISTED);
  put_u32 (out, 3);
  g_byte_array_append (out, g_variant_get_data (args), (guint)g_variant_get_size (args));
  /* One byte at a time: nothing until the frame is complete. */
  for (guint i = 0; i < out->len; i++)
    {
      g_assert_cmpint (write (f->raw, out->data + i, 1), ==, 1);
      for (int k = 0; k < 3; k++)
        g_main_context_iteration (NULL, FALSE);
      g_assert_cmpuint (f->received.frames->len, ==, i + 1 < out->len ? 0 : 1);
    }
  g_assert_cmpstr (g_ptr_array_index (f->received.frames, 0), ==, "69 3 ('carol',)");
}

static void
expect_closed (Fixture *f, const char *why)
{
  run_until (f, 1);
  g_assert_cmpuint (f->received.frames->len, ==, 0);
  g_assert_nonnull (f->received.closed);
  g_assert_nonnull (strstr (f->received.closed, why));
  g_assert_true (f->received.malformed);
}

static void
test_too_long (Fixture *f, gconstpointer data)
{
  (void)data;
  write_frame (f, PG_WIRE_MAX_FRAME + 1, PG_WIRE_CONTACT_UNLISTED, 1, "", 0);
  expect_closed (f, "impossible length");
}

static void
test_too_short (Fixture *f, gconstpointer data)
{
  (void)data;
  write_frame (f, 4, PG_WIRE_CONTACT_UNLISTED, 1, "", 0);
  expect_closed (f, "impossible length");
}

static void
test_unknown_op (Fixture *f, gconstpointer data)
{
  (void)data;
  write_frame (f, 0, 999, 1, "", 0);
  expect_closed (f, "unknown operation");
}

/* Writes @data as a frame of @op to a fresh wire and checks its verdict
 * against GVariant's: delivered as @args when @args is in normal form,
 * else the link closed as malformed, nothing delivered. Returns whether it
 * was taken. */
static gboolean
expect_verdict (guint32 op, const guint8 *data, gsize size, GVariant *args)
{
  gboolean normal = g_variant_is_normal_form (args);
  int fds[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  Received received = { g_ptr_array_new_with_free_func (g_free), NULL, FALSE, NULL };
  received.wire = pg_wire_new (fds[1], on_frame, on_closed, &received);
  Fixture f = { .raw = fds[0] };
  write_frame (&f, 0, op, 1, data, size);
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (received.frames->len == 0 && received.closed == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  if (normal)
    {
      g_assert_null (received.closed);
      g_assert_cmpuint (received.frames->len, ==, 1);
      g_autofree char *printed = g_variant_print (args, FALSE);
      g_autofree char *expected = g_strdup_printf ("%u 1 %s", op, printed);
      g_assert_cmpstr (g_ptr_array_index (received.frames, 0), ==, expected);
    }
  else
    {
      g_assert_cmpuint (received.frames->len, ==, 0);
      g_assert_nonnull (received.closed);
      g_assert_true (received.malformed);
    }
  pg_wire_free (received.wire);
  close (fds[0]);
  g_ptr_array_unref (received.frames);
  g_free (received.closed);
  return normal;
}

/* The room frames (PG_WIRE_CHAT_MESSAGE "(bsss)", PG_WIRE_CHAT_OCCUPANT
 * "(ubbsss)"), read without a GVariant, are taken or refused exactly as
 * g_variant_is_normal_form() says, and read as it reads them: valid
 * frames, and each of them with one byte changed or the last one gone. */
static void
test_room_frames_checked (void)
{
  GVariant *frames[] = {
    g_variant_new ("(bsss)", TRUE, "#chan", "bob", "a line \xc3\xa9"),
    g_variant_new ("(bsss)", FALSE, "", "", ""),
    g_variant_new ("(ubbsss)", 3, TRUE, FALSE, "#chan", "carol", ""),
    g_variant_new ("(ubbsss)", 0, FALSE, TRUE, "#c", "d", "member"),
  };
  const guint32 ops[]
      = { PG_WIRE_CHAT_MESSAGE, PG_WIRE_CHAT_MESSAGE, PG_WIRE_CHAT_OCCUPANT, PG_WIRE_CHAT_OCCUPANT };
  static const guint8 values[] = { 0, 1, 2, 5, 'x', 0x80, 0xc3, 0xff };
  guint taken = 0, refused = 0;

  for (guint i = 0; i < G_N_ELEMENTS (frames); i++)
    {
      g_autoptr (GVariant) valid = g_variant_ref_sink (frames[i]);
      gsize size = g_variant_get_size (valid);
      for (gsize at = 0; at <= size; at++)
        for (guint v = 0; v < (at == size ? 1 : G_N_ELEMENTS (values)); v++)
          {
            g_autofree guint8 *blob = g_memdup2 (g_variant_get_data (valid), size);
            gsize blob_size = at < size ? size : size - 1;
            if (at < size)
              blob[at] = values[v];
            g_autoptr (GVariant) args = g_variant_ref_sink (
                g_variant_new_from_data (g_variant_get_type (valid), blob, blob_size, FALSE, NULL, NULL));
            if (expect_verdict (ops[i], blob, blob_size, args))
              taken++;
            else
              refused++;
          }
    }
  g_assert_cmpuint (taken, >, 10);
  g_assert_cmpuint (refused, >, 10);
}

/* The per-message frames, read without a GVariant, are taken or refused
 * exactly as g_variant_is_normal_form() says of their arguments: every
 * short byte string of a few kinds, and random ones. */
static void
test_texts_checked (void)
{
  static const guint8 alphabet[]
      = { 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 0xc3, 0xa9, 0xff, 1, 2, 3, 4, 5, 8, 9, 16 };
  GRand *rand = g_rand_new_with_seed (42);
  guint taken[2] = { 0, 0 }, refused[2] = { 0, 0 };

  for (guint round = 0; round < 6000; round++)
    {
      /* Two strings of the alphabet's other bytes (not always UTF-8) laid
       * out as "(ss)" / "(tss)" are, then in half of them one change: a
       * byte replaced, the last one dropped, or one more added. */
      gboolean tagged = round % 2 == 1;
      guint8 data[64];
      gsize size = tagged ? 8 : 0, end_a = 0;
      memset (data, 7, size);
      for (int k = 0; k < 2; k++)
        {
          /* Up to a few words: read a word at a time where ASCII. */
          gint32 len = g_rand_int_range (rand, 0, 20);
          for (gint32 i = 0; i < len; i++)
            data[size++] = alphabet[g_rand_int_range (rand, 1, G_N_ELEMENTS (alphabet))];
          data[size++] = 0;
          if (k == 0)
            end_a = size;
        }
      data[size++] = (guint8)end_a;
      guint8 any = alphabet[g_rand_int_range (rand, 0, G_N_ELEMENTS (alphabet))];
      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0:
          data[g_rand_int_range (rand, 0, (gint32)size)] = any;
          break;
        case 1:
          size--;
          break;
        case 2:
          data[size++] = any;
          break;
        default:
          break;
        }
      g_autoptr (GVariant) args = g_variant_ref_sink (g_variant_new_from_data (
          G_VARIANT_TYPE (tagged ? "(tss)" : "(ss)"), data, size, FALSE, NULL, NULL));
      if (expect_verdict (tagged ? PG_WIRE_SEND : PG_WIRE_MESSAGE, data, size, args))
        taken[tagged]++;
      else
        refused[tagged]++;
    }
  g_rand_free (rand);
  g_test_message ("taken %u + %u, refused %u + %u", taken[0], taken[1], refused[0], refused[1]);
  for (int i = 0; i < 2; i++)
    g_assert_true (taken[i] > 10 && refused[i] > 10);
}

/* A string without its terminating NUL is no GVariant in normal form. */
static void
test_malformed_args (Fixture *f, gconstpointer data)
{
  (void)data;
  write_frame (f, 0, PG_WIRE_CONTACT_UNLISTED, 1, "abc", 3);
  expect_closed (f, "malformed");
}

/* Frames before the end of file still count; then the link is closed. */
static void
test_end_of_file (Fixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr (GVariant) args = g_variant_ref_sink (g_variant_new ("(s)", "dave"));
  write_frame (f, 0, PG_WIRE_CONTACT_UNLISTED, 5, g_variant_get_data (args), g_variant_get_size (args));
  shutdown (f->raw, SHUT_WR);
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (f->received.closed == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (f->received.frames->len, ==, 1);
  g_assert_cmpstr (f->received.closed, ==, "end of file");
  g_assert_false (f->received.malformed);
}

/* A worker, forked, that queues @n frames of @len-byte texts on @fd after
 * @flushed of them were written, and is killed before writing the rest
 * (or, with @write_some, after writing what the socket takes: part of the
 * queue then fills the socket, the rest is only in the queue). */
static void
worker_killed_with_queue (int fd, const char *dir, guint flushed, guint n, gsize len, gboolean write_some)
{
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid > 0)
    {
      close (fd);
      int status;
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
      return;
    }
  PgWire *wire = pg_wire_new (fd, NULL, NULL, NULL);
  if (!pg_wire_keep_unsent (wire, dir, NULL))
    _exit (1);
  g_autofree char *text = g_strnfill (len, 'x');
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *from = g_strdup_printf ("peer%u", i);
      pg_wire_send_texts (wire, PG_WIRE_MESSAGE, i + 1, NULL, from, text);
      if (i + 1 == flushed && !pg_wire_flush (wire, 1000))
        _exit (2);
    }
  if (write_some)
    pg_wire_flush (wire, 0);
  raise (SIGKILL);
  _exit (3);
}

/* The main process's side of a worker killed as worker_killed_with_queue()
 * says: the frames delivered until the link closed (caller frees). */
static Received
receive_from_killed_worker (guint flushed, guint n, gsize len, gboolean write_some)
{
  g_autofree char *dir = g_dir_make_tmp ("test-wire-XXXXXX", NULL);
  g_assert_nonnull (dir);
  int fds[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  Received received = { .frames = g_ptr_array_new_with_free_func (g_free) };
  PgWire *wire = pg_wire_new (fds[0], on_frame, on_closed, &received);
  received.wire = wire;
  pg_wire_recover_unsent (wire, dir);
  worker_killed_with_queue (fds[1], dir, flushed, n, len, write_some);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (received.closed == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpstr (received.closed, ==, "end of file");
  g_assert_false (received.malformed);
  g_autofree char *path = g_build_filename (dir, PG_WIRE_UNSENT_FILE, NULL);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  pg_wire_free (wire);
  received.wire = NULL;
  g_rmdir (dir);
  return received;
}

static void
received_clear (Received *received)
{
  g_ptr_array_unref (received->frames);
  g_free (received->closed);
}

static void
expect_recovered (guint flushed, guint n, gsize len, gboolean write_some)
{
  Received received = receive_from_killed_worker (flushed, n, len, write_some);
  g_assert_cmpuint (received.frames->len, ==, n);
  g_autofree char *text = g_strnfill (len, 'x');
  for (guint i = 0; i < received.frames->len; i++)
    {
      g_autofree char *want = g_strdup_printf ("%u %u ('peer%u', '%s')", PG_WIRE_MESSAGE, i + 1, i, text);
      g_assert_cmpstr (g_ptr_array_index (received.frames, i), ==, want);
    }
  received_clear (&received);
}

/* What a killed worker had queued arrives once, in order, after what it
 * had written: the socket held part of it, a frame cut in two included. */
static void
test_unsent_recovered (void)
{
  /* 300 frames of ~4 KiB: more than the socket takes, less than the file. */
  expect_recovered (10, 300, 4000, TRUE);
  /* Nothing written after the first frames; once after the first only. */
  expect_recovered (3, 40, 10, FALSE);
  expect_recovered (1, 2, 10, FALSE);
  /* Nothing written at all. */
  expect_recovered (0, 5, 100, FALSE);
}

/* Frames queued beyond what the file holds are lost, and that is said;
 * what the socket took still arrives. */
static void
test_unsent_overflow (void)
{
  g_test_expect_message ("pg-wire", G_LOG_LEVEL_WARNING, "the worker's last * bytes of frames are lost*");
  /* 700 frames of 4 KiB: about 2.8 MiB queued at once. */
  Received received = receive_from_killed_worker (1, 700, 4000, TRUE);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (received.frames->len, >=, 1);
  g_assert_cmpuint (received.frames->len, <, 700);
  received_clear (&received);
}

/* A FIFO where the unsent file should be (a broken worker's doing) does
 * not stall the main process: the link just ends. */
static void
test_unsent_not_a_file (Fixture *f, gconstpointer data)
{
  (void)data;
  g_autofree char *dir = g_dir_make_tmp ("test-wire-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, PG_WIRE_UNSENT_FILE, NULL);
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  pg_wire_recover_unsent (f->wire, dir);
  g_test_expect_message ("pg-workers", G_LOG_LEVEL_WARNING, "*not a note a worker writes*");
  shutdown (f->raw, SHUT_WR);
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (f->received.closed == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_test_assert_expected_messages ();
  g_assert_cmpstr (f->received.closed, ==, "end of file");
  g_assert_cmpuint (f->received.frames->len, ==, 0);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
}

/* Every op has a type; events and commands do not overlap. */
static void
test_types (void)
{
  for (guint32 op = PG_WIRE_NEW; op <= PG_WIRE_PLUGINS; op++)
    g_assert_nonnull (pg_wire_args_type (op));
  for (guint32 op = PG_WIRE_HELLO; op <= PG_WIRE_CHAT_OCCUPANT; op++)
    g_assert_nonnull (pg_wire_args_type (op));
  g_assert_null (pg_wire_args_type (0));
  g_assert_null (pg_wire_args_type (PG_WIRE_PLUGINS + 1));
  g_assert_null (pg_wire_args_type (PG_WIRE_CHAT_OCCUPANT + 1));
  for (guint32 op = 0; op <= PG_WIRE_CHAT_OCCUPANT + 1; op++)
    if (pg_wire_args_type (op) != NULL)
      g_assert_true (g_variant_type_string_is_valid (pg_wire_args_type (op)));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wire/types", test_types);
  g_test_add_func ("/wire/room-frames-checked", test_room_frames_checked);
  g_test_add_func ("/wire/texts-checked", test_texts_checked);
  g_test_add_func ("/wire/unsent/recovered", test_unsent_recovered);
  g_test_add_func ("/wire/unsent/overflow", test_unsent_overflow);
#define ADD(path, fn) g_test_add ("/wire/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("texts", test_texts);
  ADD ("strings", test_strings);
  ADD ("strings-fixed", test_strings_fixed);
  ADD ("round-trip", test_round_trip);
  ADD ("batched", test_batched);
  ADD ("split-reads", test_split_reads);
  ADD ("malformed/too-long", test_too_long);
  ADD ("malformed/too-short", test_too_short);
  ADD ("malformed/unknown-op", test_unknown_op);
  ADD ("malformed/args", test_malformed_args);
  ADD ("end-of-file", test_end_of_file);
  ADD ("unsent/not-a-file", test_unsent_not_a_file);
#undef ADD
  return g_test_run ();
}
