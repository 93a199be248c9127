/* daemon/daemon.h — the process's context (transport/transport.h) built
 * from a configuration: store, libpurple, router, stream and every feature
 * module of every layer wired together, and its life until a signal. */
#pragma once
#include "transport/transport.h"

/* Opens the store, initialises libpurple (user directory next to the
 * database), checks the protocol and its [legacy-settings], and wires every
 * feature module into the router. Takes ownership of @config. Caller owns
 * the transport (pg_daemon_free). */
PgTransport *pg_daemon_new (PgConfig *config, GError **error);
void pg_daemon_free (PgTransport *transport);

/* Connects and runs the main loop until SIGINT/SIGTERM; returns the exit status. */
int pg_daemon_run (PgTransport *transport);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgTransport, pg_daemon_free)
