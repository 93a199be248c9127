/* transport/stream.h — the XEP-0114 component connection: TCP to the XMPP
 * server, stream header and SHA-1 handshake, the stream parser, a write
 * queue, stream errors, and reconnection with exponential backoff. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

/* Backoff between connection attempts: 1 s doubling to 60 s, back to 1 s
 * once a connection stayed up for a minute. */
#define PG_STREAM_BACKOFF_MIN_S 1
#define PG_STREAM_BACKOFF_MAX_S 60
#define PG_STREAM_STABLE_S 60
/* Above this much unsent output the link is treated as dead. */
#define PG_STREAM_MAX_QUEUED_BYTES (64 * 1024 * 1024)

typedef struct PgStream PgStream;

typedef struct
{
  /* The server accepted the handshake; stanzas may flow. */
  void (*ready) (gpointer user_data);
  /* A stanza from the server. The callee owns @stanza (pg_stanza_free). */
  void (*stanza) (xmlNode *stanza, gpointer user_data);
  /* A stanza skipped for its size; @skeleton has its top-level attributes. */
  void (*stanza_too_big) (const xmlNode *skeleton, gsize bytes, gpointer user_data);
  /* The link went down (a reconnect is already scheduled unless stopping). */
  void (*down) (const char *reason, gpointer user_data);
  /* The kernel did not take all that was queued (the server reads slowly):
   * the rest waits in the stream until the socket is writable. Optional. */
  void (*backed_up) (gpointer user_data);
} PgStreamCallbacks;

typedef struct
{
  guint64 stanzas_in, stanzas_out;
  guint64 bytes_in, bytes_out;
  guint64 connects; /* successful handshakes */
} PgStreamStats;

/* Caller owns the stream (pg_stream_free). Strings are copied; @callbacks
 * must outlive the stream. Nothing happens until pg_stream_start(). */
PgStream *pg_stream_new (const char *host, guint16 port, const char *component_jid, const char *secret,
                         gsize max_stanza_bytes, const PgStreamCallbacks *callbacks, gpointer user_data);
void pg_stream_free (PgStream *stream);
/* For unit tests: a stream without a connection, ready from the start,
 * that hands every stanza pg_stream_send() takes to @tap (the stanza is
 * borrowed for the call) instead of writing it; pg_stream_shutdown() makes
 * it not ready. Caller owns the stream (pg_stream_free). */
typedef void (*PgStreamTapFunc) (const xmlNode *stanza, gpointer user_data);
PgStream *pg_stream_new_tap (PgStreamTapFunc tap, gpointer user_data);

void pg_stream_start (PgStream *stream);
gboolean pg_stream_is_ready (PgStream *stream);
/* Queues @stanza (borrowed) for sending; dropped with a debug line when the
 * stream is not ready. Returns whether it was queued. */
gboolean pg_stream_send (PgStream *stream, const xmlNode *stanza);
/* The same for a stanza already written as @len bytes of @text
 * (transport/xml-writer.h), borrowed: one well-formed element with the
 * stream's default namespace. */
gboolean pg_stream_send_text (PgStream *stream, const char *text, gsize len);
/* Closes the current link with stream error @condition (NULL: a plain close)
 * and reconnects after the backoff. */
void pg_stream_reconnect (PgStream *stream, const char *condition, const char *reason);
/* Orderly close for shutdown: flushes the queue, sends </stream:stream>,
 * waits up to @timeout_ms for the peer, and does not reconnect. */
void pg_stream_shutdown (PgStream *stream, guint timeout_ms);
const PgStreamStats *pg_stream_get_stats (PgStream *stream);
/* Bytes queued and not yet handed to the kernel.  Stanzas are queued
 * during a pass of the main loop and written at its end (or after the read
 * being parsed), so this is not 0 right after pg_stream_send(). */
gsize pg_stream_get_unsent_bytes (PgStream *stream);
/* Whether the kernel refused part of what was written: queued bytes wait
 * for the socket to become writable (see the callback backed_up). */
gboolean pg_stream_is_backed_up (PgStream *stream);

/* The XEP-0114 handshake value: lower-case hex SHA-1 of @stream_id followed
 * by @secret. Caller owns the string (g_free). */
char *pg_stream_handshake_digest (const char *stream_id, const char *secret);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStream, pg_stream_free)
