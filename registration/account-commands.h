/* registration/account-commands.h — XEP-0050 commands that register with
 * the gateway or change the registered legacy account or nick, for
 * clients that cannot fill in XEP-0077 forms of components. */
#pragma once
#include "transport/transport.h"

#define PG_NODE_REGISTER "urn:purplegate:register"
#define PG_NODE_CHANGE_ACCOUNT "urn:purplegate:change-account"
#define PG_NODE_CHANGE_NICK "urn:purplegate:change-nick"

/* Adds the commands to @transport->adhoc (pg_adhoc_register() first). */
void pg_account_commands_register (PgTransport *transport);
