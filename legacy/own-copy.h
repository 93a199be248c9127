/* legacy/own-copy.h — what the user wrote to a legacy contact from another
 * legacy client, as the user's XMPP clients see it.
 *
 * With the host server's message permission (XEP-0356 §5) and a user of
 * that server, every available resource of the user gets a XEP-0280 <sent/>
 * carbon from the user's bare JID (XEP-0280 §5.2, §8), each wrapped as a
 * privileged message to the server, which delivers it as its own. Without
 * it the outbox sends a message from the contact whose text starts with a
 * translated marker saying the user wrote it (legacy/outbox.c). */
#pragma once
#include "registration/store.h"
#include "transport/transport.h"

/* The id of every privileged copy starts so: an error the server answers
 * one with (XEP-0356 §5.1: forbidden, bad-request) is known by it. */
#define PG_OWN_COPY_ID_PREFIX "pg-own-"

/* TRUE when what @bare_jid (prepared) wrote elsewhere can reach them as
 * carbons: the message permission is granted and they are the granting
 * server's user. */
gboolean pg_own_copy_privileged (PgTransport *transport, const char *bare_jid);

/* The privileged carbons of the outbox row @item (to-user, its sender the
 * user), each as text (a GString), the inner message's id @id (may be
 * NULL): one per available resource, or one to the bare JID when none is
 * known. NULL when nothing can be sent for it. Caller owns the array. */
GPtrArray *pg_own_copy_write_carbons (PgTransport *transport, const PgStoreOutboxItem *item, const char *id);
