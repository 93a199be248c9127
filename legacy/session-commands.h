/* legacy/session-commands.h — ad-hoc commands about users' sessions: the
 * online users (XEP-0133 numbers and list), announcements to them, ending a
 * user's session, and a user's own "reconnect now". */
#pragma once
#include "transport/transport.h"

#define PG_NODE_RECONNECT "urn:purplegate:reconnect"

/* Adds the commands to @transport->adhoc (pg_adhoc_register() first). */
void pg_session_commands_register (PgTransport *transport);
