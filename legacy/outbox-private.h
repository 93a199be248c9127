/* legacy/outbox-private.h — what the two halves of the outbox (outbox.c
 * towards the XMPP server, outbox-legacy.c towards the legacy networks),
 * chat.c and session.c share. */
#pragma once
#include "legacy/outbox.h"
#include "legacy/session-private.h"

/* outbox.c */
/* Makes sure the expiry timer fires by @at (unix s). */
void pg_outbox_arm_expiry (PgTransport *transport, gint64 at);
/* Writes the bounce of to-legacy row @item (error @condition of its own
 * type, @text, the original id and body) to the sender; the row is deleted once
 * acknowledged. FALSE when the stream is down or it is already bouncing. */
gboolean pg_outbox_bounce (PgTransport *transport, const PgStoreOutboxItem *item, PgErrorCondition condition,
                           const char *text);
gboolean pg_outbox_is_bouncing (PgTransport *transport, gint64 id);

/* outbox-legacy.c — the user's messages to legacy contacts. */
/* Messages handed to the login are covered by one confirmation this long
 * after the first of them: a few lines more on the legacy link, and a
 * short window of delivered yet unconfirmed messages (sent again, so
 * duplicated, when the login drops then, unless its worker crashed and
 * its note says the server has them: sent_processed). */
#define PG_OUTBOX_CONFIRM_DELAY_MS 100
typedef struct
{
  guint64 serial; /* pg_account_confirm_sent() */
  gint64 upto;    /* the rows it covers */
} PgOutboxConfirm;

/* The user's chat message @request (borrowed) with text @body to contact
 * @name: queued behind earlier ones and sent when the login is online, or
 * answered with an error when it cannot be queued. */
void pg_outbox_legacy_queue (PgSession *session, const PgRouteRequest *request, const char *name,
                             const char *body);
/* The login is online: hands the queue over, in order. */
void pg_outbox_legacy_flush (PgSession *session);
/* The login ended: what it took without confirmation waits again. */
void pg_outbox_legacy_reset (PgSession *session);
/* The login was refused for good: the queue goes back to its senders with
 * <recipient-unavailable/> and @text. */
void pg_outbox_legacy_bounce_all (PgSession *session, const char *text);
/* Asks @session's login at once to confirm what it was handed (if there is
 * anything new); returns how many messages wait for a confirmation (those
 * a login that cannot be asked was handed included: they stay stored). */
guint pg_outbox_legacy_confirm_now (PgSession *session);
/* TRUE when row @id was handed to @session's login, unconfirmed. */
gboolean pg_outbox_legacy_in_flight (PgSession *session, gint64 id);
/* The sent_confirmed account event (owner: the PgSession). */
void pg_outbox_legacy_on_confirmed (gpointer owner, guint64 serial);
/* The sent_processed event: the login's process ended after the legacy
 * server had processed or received in full the rows up to @tag; they are
 * settled as confirmed ones (receipts, then deleted) instead of being sent
 * again. */
void pg_outbox_legacy_on_processed (gpointer owner, guint64 tag);
/* The send_failed event: a row the protocol refused goes back to its sender. */
void pg_outbox_legacy_on_send_failed (gpointer owner, guint64 tag, gboolean offline, const char *reason);
/* The refused event (legacy/account.h): bounces the row @tag, with
 * <service-unavailable/>, unless it is gone already. */
void pg_outbox_legacy_on_refused (gpointer owner, guint64 tag);
