/* legacy/outbox.h — the persistent outbox: no message lost while a link is
 * down.
 *
 * Legacy → XMPP.  A chat message from a legacy contact to a user that can
 * be written at once (stream up, nothing of that user stored and waiting,
 * room in the window, and the kernel takes every byte) is not stored: it
 * is kept in memory, with the id "pg-out-m<boot>-<n>", until it is
 * acknowledged, and stored (keeping that id) only if the link drops first,
 * a row has to be stored behind it, or purplegate exits.  Every other
 * message is stored (registration/store.h, table outbox) before it is
 * written, with the id "pg-out-<row id>", stable for good.  Stored rows are
 * sent in row order; after each batch the transport pings its own address
 * through the XMPP server, and a message is forgotten only when a ping
 * written after it has come back: the server handles one stream's stanzas
 * in order, so the ping routed back proves every earlier stanza reached its router
 * (delivered to the user's client, or stored offline).  While the stream is
 * down rows wait; when it is ready again (and on start) they are sent, in
 * order, before anything newer.  At most PG_OUTBOX_WINDOW messages wait for
 * an answer at a time.  The one loss the in-memory path admits: bytes
 * already in the kernel's socket buffer when purplegate AND the XMPP server
 * both die before the acknowledgement (a purplegate crash alone still
 * lets the kernel deliver them).
 *
 * The guarantee: every message is delivered at least once, in order per
 * user, across component link failures, XMPP server restarts and purplegate
 * crashes, and exactly once across a clean stop of purplegate (SIGTERM:
 * pg_outbox_drain() waits for the acknowledgements of what is on its way,
 * and stores what comes meanwhile).  A message can arrive twice only when the link (or purplegate)
 * died after the server had taken it and before the ping after it came back:
 * at most the rows of one window, in practice those written in the last
 * round trip and the ping gap before it (PG_OUTBOX_PING_GAP_MS, at most
 * PG_OUTBOX_PING_EVERY rows).  Such a repeat carries the same id and the same XEP-0359
 * origin-id, so a client (or a test) can tell it from a new message and
 * drop it. No more can be promised: XEP-0114 has no acknowledgement, and
 * a server killed between routing a message and answering the ping after
 * it leaves no trace of which it was.  Messages are refused, not queued, past
 * [limits] outbox_max_per_user per user (the oldest are kept, so the
 * conversation stays in order without a hole); what was refused, or expired
 * after [limits] outbox_expiry_s, is reported to the user by a headline from
 * the transport, at the place of the loss ("N messages from X ..."), which
 * travels the same acknowledged way.
 *
 * XMPP → legacy.  A message to a contact while the user's legacy login is
 * connecting or waiting to reconnect is queued (same bound) and sent in
 * order once the login is online, before newer ones.  Where the protocol
 * can confirm what its server processed (IRC: legacy/account.h,
 * pg_account_confirm_sent()), a row stays until that confirmation, and rows
 * handed over when the login dropped are sent again; elsewhere a row goes
 * when the protocol has taken it.  When a worker process crashes, an IRC
 * connection the main process holds too (legacy/held-socket.h) outlives it
 * and is ended as a client ends one, so the server processes every line
 * written on it: rows the worker's note says were written in full
 * (legacy/sent-note.h) are settled as confirmed, the rest sent again, and
 * each message reaches the contact exactly once.  Where the main process
 * could not take the connection (pidfd_getfd(2) refused), rows the note
 * says the server processed (a PING behind each batch answered) are
 * settled, and a message written in the last round trip before the crash,
 * which the server may have processed or lost with the reset connection,
 * can reach the contact twice (IRC has no message id to tell).  What is not
 * delivered before its expiry
 * is bounced to the sender's full JID with <remote-server-timeout/> (wait),
 * its id and body; a login refused for good bounces the queue with
 * <recipient-unavailable/> (wait).  Bounces go the acknowledged way too.
 * A user without any session still gets <recipient-unavailable/> at once,
 * nothing is queued for them.  Deleting a registration deletes its queue. */
#pragma once
#include "transport/transport.h"

/* Rows written to the stream that may wait for acknowledgements, and
 * acknowledgement pings under way at a time. */
#define PG_OUTBOX_WINDOW 400
#define PG_OUTBOX_MAX_PINGS 32
/* Rows written between two acknowledgement pings at most, and the time
 * between two pings unless that many rows are waiting. */
#define PG_OUTBOX_PING_EVERY 16
#define PG_OUTBOX_PING_GAP_MS 5

typedef struct PgOutbox PgOutbox;

/* Creates @transport->outbox and arms the expiry timer for stored rows. */
void pg_outbox_register (PgTransport *transport);
void pg_outbox_free (PgOutbox *outbox);

/* The component stream is ready: sends what waits (in order), bounces what
 * expired meanwhile. Called before the probes of every user. */
void pg_outbox_link_up (PgTransport *transport);
/* The stream went down: what was written and not acknowledged waits again. */
void pg_outbox_link_down (PgTransport *transport);
/* The kernel stopped taking what the stream writes: the rows held in
 * memory only are stored, since a crash now would lose them. */
void pg_outbox_backed_up (PgTransport *transport);

/* Before a clean stop: new messages are stored, not sent, and the main
 * context runs until everything written to users has been acknowledged and
 * every legacy login has confirmed what it was handed, for at most
 * @timeout_ms or until a second stop signal. What is unacknowledged then is
 * sent again after the restart (at least once); the rest exactly once. */
#define PG_OUTBOX_DRAIN_MS 3000
void pg_outbox_drain (PgTransport *transport, guint timeout_ms);
/* TRUE while pg_outbox_drain() runs: nothing new is sent. */
gboolean pg_outbox_is_draining (PgTransport *transport);

/* A chat message from legacy contact @peer (the protocol's spelling) to
 * @bare_jid, with plain text @body: stored, then sent when its turn comes. */
void pg_outbox_to_user (PgTransport *transport, const char *bare_jid, const char *peer, const char *body);

/* A chat message @body the user wrote to legacy contact @peer from another
 * legacy client, at @when (unix s; 0: now), queued as the contact's own
 * messages are, so that it keeps its place in the conversation: the user's
 * resources get it as legacy/own-copy.h says. */
void pg_outbox_own_to_user (PgTransport *transport, const char *bare_jid, const char *peer, const char *body,
                            gint64 when);

/* The stanza id of a to-user row: "pg-out-<id>". Owned. */
char *pg_outbox_dup_stanza_id (gint64 id);
