/* registration/commands.h — ad-hoc commands about registrations: the
 * registered users (XEP-0133 numbers and list), deleting users, and a
 * user's own settings and unregistration. */
#pragma once
#include "transport/transport.h"

#define PG_NODE_SETTINGS "urn:purplegate:settings"
#define PG_NODE_UNREGISTER "urn:purplegate:unregister"

/* Adds the commands to @transport->adhoc (pg_adhoc_register() first). */
void pg_registration_commands_register (PgTransport *transport);
