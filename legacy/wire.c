/* legacy/wire.c — framing and GVariant arguments between the main process
 * and its workers (legacy/wire.h). */
#define G_LOG_DOMAIN "pg-wire"
#include "build-config.h"

#include "legacy/wire.h"

#include "legacy/question.h"
#include "legacy/worker-file.h"

#include "transport/ascii.h"
#include "transport/pass-end.h"

#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HEADER_BYTES 12 /* length, op, id */
#define READ_CHUNK 65536

/* The head of the unsent file (pg_wire_keep_unsent()); offsets count the
 * bytes of the stream from its first.  Each member is stored as one
 * aligned 64-bit word, so a process killed between two stores leaves a
 * head that names only frames the data holds in full: a frame is copied
 * before @end passes it, @origin moves only when everything up to @end
 * was written to the socket. */
typedef struct
{
  guint64 magic;  /* UNSENT_MAGIC */
  guint64 origin; /* the offset of the first byte of the data */
  guint64 end;    /* the offset after the last frame queued in full */
  guint64 lost;   /* not 0: a frame queued since @origin did not fit */
  guint64 reserved[4];
} UnsentHead;

G_STATIC_ASSERT (sizeof (UnsentHead) == 64);
#define UNSENT_MAGIC 0x31746e65736e75ULL /* "unsent1" */

struct PgWire
{
  int fd;
  PgWireFrameFunc on_frame;
  PgWireClosedFunc on_closed;
  gpointer user_data;
  GByteArray *in;
  GByteArray *out;
  guint in_watch;
  guint out_watch;   /* waiting for the socket to take more */
  GSource *pass_end; /* writes what a main-loop pass queued */
  gboolean closed;
  gboolean dispatching;
  gboolean free_pending; /* pg_wire_free() from inside a callback */
  /* The texts of the per-message frame being delivered (pg_wire_frame_texts()). */
  gboolean in_texts;
  guint64 texts_tag;
  const char *texts_a;
  const char *texts_b;
  const guint8 *strings_fixed; /* a room frame's fixed members (pg_wire_frame_strings()) */
  const char *strings[PG_WIRE_MAX_STRINGS];
  UnsentHead *unsent; /* the worker's unsent file, mapped; NULL without */
  char *recover_dir;  /* the main process's side: where the worker keeps it */
  guint64 received;   /* bytes read from the socket */
};

const char *
pg_wire_args_type (guint32 op)
{
  switch (op)
    {
    case PG_WIRE_NEW:
      return "(ssmsasas)";
    case PG_WIRE_CONNECT:
    case PG_WIRE_FREE:
    case PG_WIRE_LIST_CHATS:
    case PG_WIRE_STOP:
    case PG_WIRE_SYNC:
    case PG_WIRE_SYNCED:
    case PG_WIRE_CONNECTED:
      return "()";
    case PG_WIRE_SET_STATUS:
      return "(ums)";
    case PG_WIRE_SEND:
      return "(tss)";
    case PG_WIRE_CONFIRM:
    case PG_WIRE_SENT_CONFIRMED:
    case PG_WIRE_HOLD:
    case PG_WIRE_REFUSED:
      return "(t)";
    case PG_WIRE_CHAT_STATE:
    case PG_WIRE_TYPING:
      return "(su)";
    case PG_WIRE_JOIN:
      return "(smsms)";
    case PG_WIRE_LEAVE:
    case PG_WIRE_LOGOUT:
    case PG_WIRE_SET_NICK:
    case PG_WIRE_REMOVE_CONTACT:
    case PG_WIRE_CONTACT_UNLISTED:
      return "(s)";
    case PG_WIRE_SEND_CHAT:
    case PG_WIRE_TOPIC:
    case PG_WIRE_CHAT_NICK:
    case PG_WIRE_MESSAGE:
      return "(ss)";
    case PG_WIRE_KICK:
    case PG_WIRE_INVITE:
      return "(ssms)";
    case PG_WIRE_RESTORE_CONTACT:
    case PG_WIRE_ADD_CONTACT:
    case PG_WIRE_CONTACT_LISTED:
      return "(sms)";
    case PG_WIRE_AUTHORIZE:
      return "(sb)";
    case PG_WIRE_HELLO:
      return "(uu)";
    case PG_WIRE_SOCKET:
      return "(ut)";
    case PG_WIRE_DISCONNECTED:
      return "(us)";
    case PG_WIRE_CONTACT_STATUS:
      return "(smsums)";
    case PG_WIRE_AUTHORIZATION:
      return "(smsms)";
    case PG_WIRE_CHAT:
      /* kind, chat, nick, new_nick, text, password, rank, refusal, modes,
       * arrived, kicked, banned, delayed, name, users, actor, reason, member */
      return "(umsmsmsmsmsuuubbbbmsumsmsms)";
    case PG_WIRE_SEND_FAILED:
      return "(tbs)";
    case PG_WIRE_INFO:
      /* connection nick, round trip, chantypes, nick length, nick */
      return "(bbmsums)";
    case PG_WIRE_NAMES:
      return "(a(ss))";
    case PG_WIRE_ANSWER:
      return PG_QUESTION_ANSWER_VARIANT_TYPE;
    case PG_WIRE_QUESTION:
      return PG_QUESTION_VARIANT_TYPE;
    case PG_WIRE_QUESTION_CLOSED:
      return "(u)";
    case PG_WIRE_PLUGINS:
      return "(as)";
    case PG_WIRE_OWN_MESSAGE:
      return "(sbsx)";
    case PG_WIRE_CHAT_MESSAGE:
      /* delayed, chat, nick, text */
      return "(bsss)";
    case PG_WIRE_CHAT_OCCUPANT:
      /* rank, arrived, whether a member follows, chat, nick, member */
      return "(ubbsss)";
    default:
      return NULL;
    }
}

static void
close_link (PgWire *wire, const char *why, gboolean malformed)
{
  if (wire->closed)
    return;
  wire->closed = TRUE;
  g_clear_handle_id (&wire->in_watch, g_source_remove);
  g_clear_handle_id (&wire->out_watch, g_source_remove);
  if (wire->on_closed != NULL)
    wire->on_closed (why, malformed, wire->user_data);
}

static guint32
read_u32 (const guint8 *p)
{
  return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static void
put_u32 (guint8 *p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

/* Frames carry passwords (PG_WIRE_NEW): what leaves a buffer is wiped, so
 * that no stale copy lingers in memory the process reuses or frees.  The
 * buffers start large enough for the usual traffic, since growing one
 * leaves its old block to the allocator as it was. */
static void
take_front (GByteArray *array, guint n)
{
  g_byte_array_remove_range (array, 0, n);
  explicit_bzero (array->data + array->len, n);
}

/* The arguments of one frame, copied out of the input buffer. */
typedef struct
{
  gsize size;
  guint8 data[];
} ArgsCopy;

static void
args_copy_free (gpointer data)
{
  ArgsCopy *copy = data;
  explicit_bzero (copy->data, copy->size);
  g_free (copy);
}

static GBytes *
args_copy_new (const guint8 *data, gsize size)
{
  ArgsCopy *copy = g_malloc (sizeof (ArgsCopy) + size);
  copy->size = size;
  memcpy (copy->data, data, size);
  return g_bytes_new_with_free_func (copy->data, size, args_copy_free, copy);
}

/* GVariant's serialisation: a tuple ends with the framing offset of each
 * member of variable size but the last, in as few bytes as the whole
 * container's size allows (1, 2, 4 or 8), little-endian. */
static gsize
offset_size (gsize total)
{
  return total <= G_MAXUINT8 ? 1 : total <= G_MAXUINT16 ? 2 : total <= G_MAXUINT32 ? 4 : 8;
}

gboolean
pg_wire_is_text_op (guint32 op)
{
  return op == PG_WIRE_MESSAGE || op == PG_WIRE_SEND || op == PG_WIRE_CHAT_MESSAGE
         || op == PG_WIRE_CHAT_OCCUPANT;
}

/* The room frames read in place: how many bytes their fixed members take,
 * which of those bytes are booleans, how many strings follow. */
static gboolean
strings_shape (guint32 op, gsize *fixed_len, guint *bools, guint *n)
{
  switch (op)
    {
    case PG_WIRE_CHAT_MESSAGE: /* (bsss) */
      *fixed_len = 1, *bools = 1u << 0, *n = 3;
      return TRUE;
    case PG_WIRE_CHAT_OCCUPANT: /* (ubbsss) */
      *fixed_len = 6, *bools = 1u << 4 | 1u << 5, *n = 3;
      return TRUE;
    default:
      return FALSE;
    }
}

/* Whether @data is such a frame's arguments in GVariant's normal form, as
 * g_variant_is_normal_form() would say: booleans 0 or 1, the framing
 * offsets in order and in range, each string valid UTF-8 ending with its
 * only NUL. Sets @wire's strings. */
static gboolean
strings_parse (PgWire *wire, const guint8 *data, gsize size, gsize fixed_len, guint bools, guint n)
{
  for (guint i = 0; i < fixed_len; i++)
    if ((bools & (1u << i)) && data[i] > 1)
      return FALSE;
  gsize osize = offset_size (size);
  gsize table = (n - 1) * osize;
  if (size < fixed_len + table)
    return FALSE;
  gsize body_end = size - table;
  gsize start = fixed_len;
  for (guint i = 0; i < n; i++)
    {
      guint64 end = body_end;
      if (i + 1 < n)
        {
          end = 0;
          for (gsize b = 0; b < osize; b++)
            end |= (guint64)data[size - (i + 1) * osize + b] << (8 * b);
        }
      if (end <= start || end > body_end || data[end - 1] != '\0')
        return FALSE;
      const char *text = (const char *)data + start;
      gsize len = (gsize)end - start - 1;
      if (memchr (text, '\0', len) != NULL || !pg_utf8_valid (text, len))
        return FALSE;
      wire->strings[i] = text;
      start = (gsize)end;
    }
  wire->strings_fixed = data;
  return start == body_end;
}

void
pg_wire_frame_strings (PgWire *wire, const guint8 **fixed, const char **strings, guint n)
{
  g_return_if_fail (wire->in_texts && n <= PG_WIRE_MAX_STRINGS);
  *fixed = wire->strings_fixed;
  for (guint i = 0; i < n; i++)
    strings[i] = wire->strings[i];
}

/* Whether @data is "(ss)" (or, @tagged, "(tss)") in GVariant's normal
 * form, as g_variant_is_normal_form() would say: the offset in range, each
 * string valid UTF-8 ending with its only NUL. Sets @wire's texts. */
static gboolean
texts_parse (PgWire *wire, const guint8 *data, gsize size, gboolean tagged)
{
  gsize head = tagged ? sizeof (guint64) : 0;
  gsize osize = offset_size (size);
  guint64 end_a = 0;

  if (size < head + 2 + osize)
    return FALSE;
  for (gsize i = 0; i < osize; i++)
    end_a |= (guint64)data[size - osize + i] << (8 * i);
  gsize end_b = size - osize;
  if (end_a <= head || end_a >= end_b)
    return FALSE;
  const char *a = (const char *)data + head;
  const char *b = (const char *)data + end_a;
  gsize len_a = end_a - head - 1, len_b = end_b - end_a - 1;
  if (a[len_a] != '\0' || b[len_b] != '\0' || memchr (a, '\0', len_a) != NULL
      || memchr (b, '\0', len_b) != NULL || !pg_utf8_valid (a, len_a) || !pg_utf8_valid (b, len_b))
    return FALSE;
  wire->texts_tag = 0;
  if (tagged)
    memcpy (&wire->texts_tag, data, sizeof wire->texts_tag); /* host order, as GVariant keeps it */
  wire->texts_a = a;
  wire->texts_b = b;
  return TRUE;
}

void
pg_wire_frame_texts (PgWire *wire, guint64 *tag, const char **a, const char **b)
{
  g_return_if_fail (wire->in_texts);
  if (tag != NULL)
    *tag = wire->texts_tag;
  *a = wire->texts_a;
  *b = wire->texts_b;
}

typedef enum
{
  LINK_OPEN,
  LINK_CLOSED,
  LINK_FREED, /* pg_wire_free() from a callback: @wire is gone */
} LinkState;

/* Delivers every complete frame of @wire->in. */
static LinkState
deliver (PgWire *wire)
{
  gsize at = 0;

  wire->dispatching = TRUE;
  while (!wire->closed && wire->in->len - at >= 4)
    {
      guint32 length = read_u32 (wire->in->data + at);
      if (length < HEADER_BYTES - 4 || length > PG_WIRE_MAX_FRAME)
        {
          close_link (wire, "a frame of an impossible length", TRUE);
          break;
        }
      if (wire->in->len - at < 4 + (gsize)length)
        break;
      guint32 op = read_u32 (wire->in->data + at + 4);
      guint32 id = read_u32 (wire->in->data + at + 8);
      const char *type = pg_wire_args_type (op);
      if (type == NULL)
        {
          close_link (wire, "a frame of an unknown operation", TRUE);
          break;
        }
      /* The per-message frames are read in place, without a GVariant:
       * building, checking and freeing one cost more than the message. */
      if (pg_wire_is_text_op (op))
        {
          const guint8 *data = wire->in->data + at + HEADER_BYTES;
          gsize size = length - (HEADER_BYTES - 4), fixed_len;
          guint bools, n;
          if (strings_shape (op, &fixed_len, &bools, &n)
                  ? !strings_parse (wire, data, size, fixed_len, bools, n)
                  : !texts_parse (wire, data, size, op == PG_WIRE_SEND))
            {
              close_link (wire, "a frame whose arguments are malformed", TRUE);
              break;
            }
          at += 4 + length;
          wire->in_texts = TRUE;
          wire->on_frame (op, id, NULL, wire->user_data);
          wire->in_texts = FALSE;
          if (wire->free_pending)
            break;
          continue;
        }
      g_autoptr (GBytes) bytes
          = args_copy_new (wire->in->data + at + HEADER_BYTES, length - (HEADER_BYTES - 4));
      g_autoptr (GVariant) args
          = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE));
      /* Data from another process is trusted no further than this. */
      if (!g_variant_is_normal_form (args))
        {
          close_link (wire, "a frame whose arguments are malformed", TRUE);
          break;
        }
      at += 4 + length;
      wire->on_frame (op, id, args, wire->user_data);
      if (wire->free_pending)
        break;
    }
  wire->dispatching = FALSE;
  if (wire->free_pending)
    {
      pg_wire_free (wire);
      return LINK_FREED;
    }
  take_front (wire->in, (guint)MIN (at, wire->in->len));
  return wire->closed ? LINK_CLOSED : LINK_OPEN;
}

/* The main process's side, at the end of the link: the frames the worker
 * had queued beyond what arrived, from its unsent file, appended to the
 * input as if they had.  The file goes: a later worker starts without.
 * The end of the link is the end of the worker (it closes the socket only
 * by exiting, after its memory is gone), so the file is complete. */
static gboolean
recover_unsent (PgWire *wire)
{
  if (wire->recover_dir == NULL)
    return FALSE;
  gsize len = 0;
  g_autofree char *file
      = pg_worker_file_take (wire->recover_dir, PG_WIRE_UNSENT_FILE, PG_WIRE_UNSENT_BYTES, &len);
  UnsentHead head;
  if (file == NULL || len < sizeof head)
    return FALSE;
  memcpy (&head, file, sizeof head);
  if (head.magic != UNSENT_MAGIC || head.end <= wire->received)
    return FALSE;
  /* Data from another process, trusted no further than the frames' own
   * checks once the offsets are in range. */
  if (head.lost != 0 || head.origin > wire->received || head.end - head.origin > len - sizeof head)
    {
      g_warning ("the worker's last %" G_GUINT64_FORMAT " bytes of frames are lost: its unsent file does not "
                 "hold them",
                 head.end - wire->received);
      return FALSE;
    }
  guint n = (guint)(head.end - wire->received);
  g_byte_array_append (wire->in, (const guint8 *)file + sizeof head + (wire->received - head.origin), n);
  explicit_bzero (file, len);
  g_message ("%u bytes of frames the worker had queued but not written are delivered", n);
  wire->received = head.end;
  return TRUE;
}

static gboolean
on_readable (int fd, GIOCondition condition, gpointer data)
{
  PgWire *wire = data;

  for (;;)
    {
      /* Straight into the buffer: no copy of a password elsewhere. */
      guint had = wire->in->len;
      g_byte_array_set_size (wire->in, had + READ_CHUNK);
      ssize_t n = read (fd, wire->in->data + had, READ_CHUNK);
      g_byte_array_set_size (wire->in, had + (guint)MAX (n, 0));
      if (n > 0)
        {
          wire->received += (guint64)n;
          if (wire->in->len > 2 * PG_WIRE_MAX_FRAME + READ_CHUNK)
            break; /* deliver before reading more */
          if (n < READ_CHUNK)
            break;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      /* Frames read before the end still count, and so do those the
       * worker had queued but not written. */
      const char *why = n == 0 ? "end of file" : g_strerror (errno);
      wire->in_watch = 0;
      LinkState state = deliver (wire);
      if (state == LINK_OPEN && recover_unsent (wire))
        state = deliver (wire);
      if (state == LINK_OPEN)
        close_link (wire, why, FALSE);
      return G_SOURCE_REMOVE;
    }
  switch (deliver (wire))
    {
    case LINK_OPEN:
      return G_SOURCE_CONTINUE;
    case LINK_CLOSED:
      wire->in_watch = 0;
      return G_SOURCE_REMOVE;
    case LINK_FREED:
    default:
      return G_SOURCE_REMOVE;
    }
}

/* Writes what the socket takes now; FALSE on a fatal error (link closed). */
static gboolean
write_some (PgWire *wire)
{
  while (wire->out->len > 0)
    {
      ssize_t n = write (wire->fd, wire->out->data, wire->out->len);
      if (n > 0)
        {
          take_front (wire->out, (guint)n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return TRUE;
      close_link (wire, g_strerror (errno), FALSE);
      return FALSE;
    }
  /* Everything is written: the next frame is kept from the start again,
   * so that the file's first pages are the only ones ever touched. */
  UnsentHead *head = wire->unsent;
  if (head != NULL && head->origin != head->end)
    {
      __atomic_store_n (&head->origin, head->end, __ATOMIC_RELEASE);
      __atomic_store_n (&head->lost, 0, __ATOMIC_RELEASE);
    }
  return TRUE;
}

/* The frame queued from @at to the end of the output is kept in the unsent
 * file too. */
static void
keep_unsent (PgWire *wire, guint at)
{
  UnsentHead *head = wire->unsent;
  if (head == NULL)
    return;
  gsize n = wire->out->len - at;
  guint64 used = head->end - head->origin;
  if (head->lost == 0 && used + n <= PG_WIRE_UNSENT_BYTES - sizeof *head)
    memcpy ((guint8 *)(head + 1) + used, wire->out->data + at, n);
  else
    __atomic_store_n (&head->lost, 1, __ATOMIC_RELEASE);
  __atomic_store_n (&head->end, head->end + n, __ATOMIC_RELEASE);
}

static gboolean
on_writable (int fd, GIOCondition condition, gpointer data)
{
  PgWire *wire = data;
  (void)fd;
  (void)condition;
  if (!write_some (wire))
    return G_SOURCE_REMOVE;
  if (wire->out->len > 0)
    return G_SOURCE_CONTINUE;
  wire->out_watch = 0;
  return G_SOURCE_REMOVE;
}

/* The frames of one pass go in one write, without a pass of their own. */
static void
flush_at_pass_end (gpointer data)
{
  PgWire *wire = data;
  if (!wire->closed && wire->out->len > 0 && wire->out_watch == 0 && write_some (wire) && wire->out->len > 0)
    wire->out_watch = g_unix_fd_add (wire->fd, G_IO_OUT, on_writable, wire);
}

void
pg_wire_send (PgWire *wire, guint32 op, guint32 id, GVariant *args)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (args);
  g_return_if_fail (g_variant_is_of_type (owned, G_VARIANT_TYPE (pg_wire_args_type (op))));
  if (wire->closed)
    return;
  gsize size = g_variant_get_size (owned);
  if (size + HEADER_BYTES > PG_WIRE_MAX_FRAME)
    {
      g_warning ("a frame of %" G_GSIZE_FORMAT " bytes is over the limit; not sent", size);
      return;
    }
  guint at = wire->out->len;
  g_byte_array_set_size (wire->out, at + HEADER_BYTES + (guint)size);
  put_u32 (wire->out->data + at, (guint32)(HEADER_BYTES - 4 + size));
  put_u32 (wire->out->data + at + 4, op);
  put_u32 (wire->out->data + at + 8, id);
  /* Serialised in the variant's own aligned buffer: the frame's place in
   * the queue has no alignment. */
  if (size > 0)
    memcpy (wire->out->data + at + HEADER_BYTES, g_variant_get_data (owned), size);
  keep_unsent (wire, at);
}

void
pg_wire_send_strings (PgWire *wire, guint32 op, guint32 id, const void *fixed, gsize fixed_len,
                      const char *const *strings, guint n)
{
  g_return_if_fail (pg_wire_args_type (op) != NULL && n > 0 && n <= PG_WIRE_MAX_STRINGS);
  if (wire->closed)
    return;
  gsize lens[PG_WIRE_MAX_STRINGS];
  gsize body = fixed_len;
  for (guint i = 0; i < n; i++)
    {
      g_return_if_fail (strings[i] != NULL);
      lens[i] = strlen (strings[i]) + 1;
      body += lens[i];
    }
  /* A framing offset for every string but the last. */
  gsize offsets = n - 1;
  gsize osize = offsets == 0                        ? 0
                : body + offsets * 1 <= G_MAXUINT8  ? 1
                : body + offsets * 2 <= G_MAXUINT16 ? 2
                : body + offsets * 4 <= G_MAXUINT32 ? 4
                                                    : 8;
  gsize size = body + offsets * osize;
  g_assert (offsets == 0 || offset_size (size) == osize);
  if (size + HEADER_BYTES > PG_WIRE_MAX_FRAME)
    {
      g_warning ("a frame of %" G_GSIZE_FORMAT " bytes is over the limit; not sent", size);
      return;
    }
  guint at = wire->out->len;
  g_byte_array_set_size (wire->out, at + HEADER_BYTES + (guint)size);
  guint8 *p = wire->out->data + at;
  put_u32 (p, (guint32)(HEADER_BYTES - 4 + size));
  put_u32 (p + 4, op);
  put_u32 (p + 8, id);
  p += HEADER_BYTES;
  if (fixed_len > 0)
    memcpy (p, fixed, fixed_len); /* host order, as GVariant keeps it */
  gsize end = fixed_len;
  for (guint i = 0; i < n; i++)
    {
      memcpy (p + end, strings[i], lens[i]);
      end += lens[i];
      /* The first member's offset is the container's last. */
      if (i + 1 < n)
        for (gsize b = 0; b < osize; b++)
          p[size - (i + 1) * osize + b] = (guint8)((guint64)end >> (8 * b));
    }
  keep_unsent (wire, at);
}

void
pg_wire_get_strings (GVariant *args, gsize fixed_len, const char **strings, guint n)
{
  const guint8 *data = g_variant_get_data (args);
  gsize size = g_variant_get_size (args);
  gsize osize = offset_size (size);
  gsize start = fixed_len;

  /* In normal form (checked when the frame came): the offsets are in
   * range and every string ends with its NUL. */
  for (guint i = 0; i < n; i++)
    {
      strings[i] = (const char *)data + start;
      if (i + 1 == n)
        break;
      guint64 end = 0;
      for (gsize b = 0; b < osize; b++)
        end |= (guint64)data[size - (i + 1) * osize + b] << (8 * b);
      start = (gsize)end;
    }
}

void
pg_wire_send_texts (PgWire *wire, guint32 op, guint32 id, const guint64 *tag, const char *a, const char *b)
{
  g_return_if_fail (g_strcmp0 (pg_wire_args_type (op), tag != NULL ? "(tss)" : "(ss)") == 0);
  g_return_if_fail (a != NULL && b != NULL);
  const char *const strings[] = { a, b };
  pg_wire_send_strings (wire, op, id, tag, tag != NULL ? sizeof *tag : 0, strings, 2);
}

void
pg_wire_get_texts (GVariant *args, guint64 *tag, const char **a, const char **b)
{
  const char *strings[2];

  g_return_if_fail (g_variant_is_of_type (args, G_VARIANT_TYPE (tag != NULL ? "(tss)" : "(ss)")));
  if (tag != NULL)
    memcpy (tag, g_variant_get_data (args), sizeof *tag);
  pg_wire_get_strings (args, tag != NULL ? sizeof *tag : 0, strings, 2);
  *a = strings[0];
  *b = strings[1];
}

gboolean
pg_wire_flush (PgWire *wire, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  while (!wire->closed && wire->out->len > 0)
    {
      if (!write_some (wire) || wire->out->len == 0)
        break;
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      if (left <= 0)
        break;
      struct pollfd pfd = { .fd = wire->fd, .events = POLLOUT };
      if (poll (&pfd, 1, (int)left) < 0 && errno != EINTR)
        break;
    }
  return wire->out->len == 0;
}

gboolean
pg_wire_keep_unsent (PgWire *wire, const char *dir, GError **error)
{
  g_return_val_if_fail (wire->unsent == NULL && wire->out->len == 0, FALSE);
  void *map = pg_worker_file_map (dir, PG_WIRE_UNSENT_FILE, PG_WIRE_UNSENT_BYTES, error);
  if (map == NULL)
    return FALSE;
  wire->unsent = map;
  wire->unsent->magic = UNSENT_MAGIC;
  return TRUE;
}

void
pg_wire_recover_unsent (PgWire *wire, const char *dir)
{
  g_free (wire->recover_dir);
  wire->recover_dir = g_strdup (dir);
}

PgWire *
pg_wire_new (int fd, PgWireFrameFunc on_frame, PgWireClosedFunc on_closed, gpointer user_data)
{
  PgWire *wire = g_new0 (PgWire, 1);
  g_autoptr (GError) error = NULL;
  wire->fd = fd;
  wire->on_frame = on_frame;
  wire->on_closed = on_closed;
  wire->user_data = user_data;
  wire->in = g_byte_array_sized_new (2 * READ_CHUNK);
  wire->out = g_byte_array_sized_new (READ_CHUNK);
  wire->pass_end = pg_pass_end_add (PG_PASS_END_WRITE, flush_at_pass_end, wire);
  if (!g_unix_set_fd_nonblocking (fd, TRUE, &error))
    g_warning ("cannot make the worker link non-blocking: %s", error->message);
  /* GLib takes a source's fds out of the poll set while it dispatches,
   * unless it may recurse, and puts them back after: two wake-ups of the
   * loop (eventfd writes) and one more poll of every fd per read. Nothing
   * runs a nested main loop from a frame's callback. */
  GSource *source = g_unix_fd_source_new (fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), wire, NULL);
  wire->in_watch = g_source_attach (source, NULL);
  g_source_unref (source);
  return wire;
}

void
pg_wire_free (PgWire *wire)
{
  if (wire == NULL)
    return;
  if (wire->dispatching)
    {
      wire->free_pending = TRUE;
      wire->on_closed = NULL;
      return;
    }
  g_clear_handle_id (&wire->in_watch, g_source_remove);
  g_clear_handle_id (&wire->out_watch, g_source_remove);
  g_source_destroy (wire->pass_end);
  g_clear_pointer (&wire->pass_end, g_source_unref);
  close (wire->fd);
  explicit_bzero (wire->in->data, wire->in->len);
  explicit_bzero (wire->out->data, wire->out->len);
  g_byte_array_unref (wire->in);
  g_byte_array_unref (wire->out);
  if (wire->unsent != NULL)
    munmap (wire->unsent, PG_WIRE_UNSENT_BYTES);
  g_free (wire->recover_dir);
  g_free (wire);
}
