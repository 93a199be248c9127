/* tests/fuzz/fuzz-wire.c — what a worker writes on its link to the main
 * process (legacy/wire.c): whatever the bytes, every frame delivered has an
 * operation of the protocol and arguments of that operation's type in normal
 * form, nothing is delivered after the link closed, and the link closes at
 * the end of the input. */
#define G_LOG_DOMAIN "pg-fuzz-wire"

#include "tests/fuzz/fuzz-common.h"

#include "legacy/wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct
{
  gboolean closed;
  guint frames;
  PgWire *wire;
} State;

static void
on_frame (guint32 op, guint32 id, GVariant *args, gpointer data)
{
  State *state = data;
  const char *type = pg_wire_args_type (op);
  g_autoptr (GVariant) texts = NULL;
  (void)id;
  PG_FUZZ_CHECK (!state->closed, "frame %u after the link closed", op);
  PG_FUZZ_CHECK (type != NULL, "frame of unknown operation %u delivered", op);
  PG_FUZZ_CHECK ((args == NULL) == pg_wire_is_text_op (op), "op %u: arguments %s", op,
                 args == NULL ? "missing" : "given as a GVariant");
  if (args == NULL)
    {
      /* The texts read in place: they must make the GVariant they stand
       * for, in normal form (g_variant_new() checks each string). */
      if (op == PG_WIRE_CHAT_MESSAGE || op == PG_WIRE_CHAT_OCCUPANT)
        {
          const guint8 *fixed;
          const char *s[3];
          pg_wire_frame_strings (state->wire, &fixed, s, G_N_ELEMENTS (s));
          for (guint i = 0; i < G_N_ELEMENTS (s); i++)
            PG_FUZZ_CHECK (g_utf8_validate (s[i], -1, NULL), "op %u: string not UTF-8", op);
          guint32 rank;
          memcpy (&rank, fixed, sizeof rank);
          PG_FUZZ_CHECK (fixed[0] <= 1 || op != PG_WIRE_CHAT_MESSAGE, "op %u: a boolean not 0 or 1", op);
          PG_FUZZ_CHECK ((fixed[4] <= 1 && fixed[5] <= 1) || op != PG_WIRE_CHAT_OCCUPANT, "op %u: a boolean",
                         op);
          args = texts = g_variant_ref_sink (
              op == PG_WIRE_CHAT_MESSAGE ? g_variant_new ("(bsss)", (gboolean)fixed[0], s[0], s[1], s[2])
                                         : g_variant_new ("(ubbsss)", rank, (gboolean)fixed[4],
                                                          (gboolean)fixed[5], s[0], s[1], s[2]));
        }
      else
        {
          guint64 tag;
          const char *a, *b;
          pg_wire_frame_texts (state->wire, &tag, &a, &b);
          PG_FUZZ_CHECK (g_utf8_validate (a, -1, NULL) && g_utf8_validate (b, -1, NULL),
                         "op %u: texts not UTF-8", op);
          args = texts = g_variant_ref_sink (op == PG_WIRE_SEND ? g_variant_new ("(tss)", tag, a, b)
                                                                : g_variant_new ("(ss)", a, b));
        }
    }
  PG_FUZZ_CHECK (g_variant_is_of_type (args, G_VARIANT_TYPE (type)), "op %u: %s, not %s", op,
                 g_variant_get_type_string (args), type);
  PG_FUZZ_CHECK (g_variant_is_normal_form (args), "op %u: arguments not in normal form", op);
  /* What the main process does with them: read every member. */
  g_autofree char *text = g_variant_print (args, TRUE);
  state->frames++;
}

static void
on_closed (const char *why, gboolean malformed, gpointer data)
{
  State *state = data;
  (void)why;
  (void)malformed;
  PG_FUZZ_CHECK (!state->closed, "closed twice");
  state->closed = TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  int fds[2];
  State state = { 0 };

  pg_fuzz_init ();
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    return 0;
  PgWire *wire = pg_wire_new (fds[1], on_frame, on_closed, &state);
  state.wire = wire;
  gsize at = 0;
  while (at < size && !state.closed)
    {
      ssize_t n = send (fds[0], data + at, size - at, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0)
        at += (gsize)n;
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        break;
      g_main_context_iteration (NULL, FALSE);
    }
  shutdown (fds[0], SHUT_WR);
  for (int spins = 0; !state.closed && spins < 100000; spins++)
    g_main_context_iteration (NULL, FALSE);
  PG_FUZZ_CHECK (state.closed, "the link did not close at the end of the input");
  pg_wire_free (wire);
  close (fds[0]);
  pg_fuzz_input_done ();
  return 0;
}
