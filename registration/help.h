/* registration/help.h — a chat message to the gateway's own address
 * ("help", or any text) is answered with what the user can do there and
 * which commands they may run, in their language. */
#pragma once
#include "transport/transport.h"

/* Adds the route; call after every module added its commands. */
void pg_help_register (PgTransport *transport);
