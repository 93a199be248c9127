/* legacy/wire.h — the frames between the main process and a worker.
 *
 * A frame is a 32-bit little-endian length, then the operation and the
 * account id (32 bits each, little-endian), then the operation's arguments
 * as a GVariant in normal form of the type pg_wire_args_type() gives.
 * Frames are at most PG_WIRE_MAX_FRAME bytes. Either side treats a frame
 * that breaks these rules as the end of the link (the main process then
 * kills the worker). Writes are gathered and go out once per main-loop
 * iteration. */
#pragma once
#include <glib.h>

#define PG_WIRE_VERSION 1
#define PG_WIRE_MAX_FRAME (1024 * 1024)

typedef enum
{
  /* main process → worker; the id names the account */
  PG_WIRE_NEW = 1, /* (protocol, username, password?, setting keys, values) */
  PG_WIRE_CONNECT,
  PG_WIRE_FREE,
  PG_WIRE_SET_STATUS,
  PG_WIRE_SEND,
  PG_WIRE_CONFIRM,
  PG_WIRE_CHAT_STATE,
  PG_WIRE_JOIN,
  PG_WIRE_LEAVE,
  PG_WIRE_SEND_CHAT,
  PG_WIRE_TOPIC,
  PG_WIRE_KICK,
  PG_WIRE_INVITE,
  PG_WIRE_CHAT_NICK,
  PG_WIRE_LIST_CHATS,
  PG_WIRE_SET_NICK,
  PG_WIRE_RESTORE_CONTACT,
  PG_WIRE_ADD_CONTACT,
  PG_WIRE_REMOVE_CONTACT,
  PG_WIRE_AUTHORIZE,
  PG_WIRE_STOP,    /* id 0: log everything out and exit */
  PG_WIRE_SYNC,    /* id 0: answer SYNCED once what is already there is forwarded */
  PG_WIRE_LOGOUT,  /* (message): pg_account_logout(); DISCONNECTED follows in any case */
  PG_WIRE_HOLD,    /* (inode): the main process holds the login's socket SOCKET named */
  PG_WIRE_ANSWER,  /* a question's answer (legacy/question.h) */
  PG_WIRE_PLUGINS, /* id 0: (ids): load these libpurple plugins, before any login */
  /* worker → main process */
  PG_WIRE_HELLO = 64, /* id 0: (version, pid), first frame of a worker */
  PG_WIRE_CONNECTED,
  PG_WIRE_DISCONNECTED,
  PG_WIRE_CONTACT_STATUS,
  PG_WIRE_CONTACT_LISTED,
  PG_WIRE_CONTACT_UNLISTED,
  PG_WIRE_MESSAGE,
  PG_WIRE_TYPING,
  PG_WIRE_AUTHORIZATION,
  PG_WIRE_SENT_CONFIRMED,
  PG_WIRE_REFUSED,
  PG_WIRE_CHAT,
  PG_WIRE_SEND_FAILED,
  PG_WIRE_INFO,            /* what pg_account_is_chat_name() and friends answer from */
  PG_WIRE_SYNCED,          /* id 0: the answer to SYNC */
  PG_WIRE_NAMES,           /* ((name, normalised), ...): names of the events that follow (legacy/names.h) */
  PG_WIRE_SOCKET,          /* (fd, inode): the login's connection, for the main process to hold */
  PG_WIRE_QUESTION,        /* a question to the user (legacy/question.h) */
  PG_WIRE_QUESTION_CLOSED, /* (id): libpurple withdrew the question */
  PG_WIRE_OWN_MESSAGE,     /* (to, chat, html, when): the user wrote it from another client */
  PG_WIRE_CHAT_MESSAGE,    /* (delayed, chat, nick, html): PG_WIRE_CHAT's MESSAGE, the busiest event */
  PG_WIRE_CHAT_OCCUPANT, /* (rank, arrived, has member, chat, nick, member or ""): PG_WIRE_CHAT's OCCUPANT */
} PgWireOp;

/* The GVariant type string of @op's arguments; NULL for an unknown op.
 * Static string. */
const char *pg_wire_args_type (guint32 op);

typedef struct PgWire PgWire;

/* A complete frame: @args (borrowed for the call) has @op's type, or is
 * NULL for the per-message frames (pg_wire_is_text_op()), whose texts
 * pg_wire_frame_texts() reads during the call. */
typedef void (*PgWireFrameFunc) (guint32 op, guint32 id, GVariant *args, gpointer user_data);
/* The link ended: end of file, an error, or (@malformed) a frame that breaks
 * the rules; @why for humans. No frame is delivered after it. */
typedef void (*PgWireClosedFunc) (const char *why, gboolean malformed, gpointer user_data);

/* Serves @fd (taken: closed by pg_wire_free(); made non-blocking) on the
 * thread-default main context. Caller owns the wire. */
PgWire *pg_wire_new (int fd, PgWireFrameFunc on_frame, PgWireClosedFunc on_closed, gpointer user_data);
/* Queues a frame; @args (a floating reference is sunk) must have @op's
 * type. Nothing is written after the link closed. */
void pg_wire_send (PgWire *wire, guint32 op, guint32 id, GVariant *args);
/* The per-message frames ("(ss)" and "(tss)": PG_WIRE_MESSAGE,
 * PG_WIRE_SEND…) without building a GVariant: @a and @b are written in
 * GVariant's normal form directly, byte for byte what pg_wire_send() of
 * g_variant_new() would write, at a fraction of its cost.  @tag is given
 * exactly when @op's type is "(tss)". */
void pg_wire_send_texts (PgWire *wire, guint32 op, guint32 id, const guint64 *tag, const char *a,
                         const char *b);
/* Reads such a frame's arguments from a GVariant in normal form: @a and
 * @b point into @args, @tag is set when not NULL (type "(tss)"). */
void pg_wire_get_texts (GVariant *args, guint64 *tag, const char **a, const char **b);
/* PG_WIRE_MESSAGE, PG_WIRE_SEND and the room frames PG_WIRE_CHAT_MESSAGE,
 * PG_WIRE_CHAT_OCCUPANT: delivered without a GVariant. */
gboolean pg_wire_is_text_op (guint32 op);
/* During the frame callback of such a frame: its texts, checked as a
 * GVariant in normal form would be, pointing into @wire's buffer (valid
 * for the call); @tag is set when not NULL (PG_WIRE_SEND). */
void pg_wire_frame_texts (PgWire *wire, guint64 *tag, const char **a, const char **b);
/* The same for a room frame: the bytes of its fixed members (@fixed,
 * unaligned, host order) and its @n strings. */
void pg_wire_frame_strings (PgWire *wire, const guint8 **fixed, const char **strings, guint n);
/* The same for any frame of leading members of fixed size, given as the
 * bytes of their normal form @fixed (@fixed_len bytes, host order, as
 * GVariant keeps them), then @n strings (at most PG_WIRE_MAX_STRINGS):
 * "(tss)", "(bsss)"… */
#define PG_WIRE_MAX_STRINGS 8
void pg_wire_send_strings (PgWire *wire, guint32 op, guint32 id, const void *fixed, gsize fixed_len,
                           const char *const *strings, guint n);
/* Reads such a frame's @n strings (pointing into @args), after
 * @fixed_len bytes of fixed-size members (g_variant_get_data()). */
void pg_wire_get_strings (GVariant *args, gsize fixed_len, const char **strings, guint n);
/* A worker's frames outlive it until written: each frame queued is kept
 * in DIR/PG_WIRE_UNSENT_FILE too (mapped shared, 0600, allocated in full),
 * until the socket took it, so that a crash or a SIGKILL between queueing
 * and writing loses nothing.  Call before the first frame; FALSE with
 * @error when the file cannot be kept (frames are then only queued). */
#define PG_WIRE_UNSENT_FILE "wire-unsent"
#define PG_WIRE_UNSENT_BYTES (2 * PG_WIRE_MAX_FRAME)
gboolean pg_wire_keep_unsent (PgWire *wire, const char *dir, GError **error);
/* The main process's side: when the link ends, the frames DIR's unsent
 * file holds beyond what arrived are delivered as if they had arrived, and
 * the file is removed.  A frame that the worker queued after the file ran
 * out of room is not there: the loss is logged. */
void pg_wire_recover_unsent (PgWire *wire, const char *dir);
/* Writes what is queued now, waiting up to @timeout_ms; FALSE if some
 * is left. */
gboolean pg_wire_flush (PgWire *wire, int timeout_ms);
void pg_wire_free (PgWire *wire);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgWire, pg_wire_free)
