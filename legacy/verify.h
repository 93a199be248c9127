/* legacy/verify.h — checking legacy credentials with a real login
 * before a registration is stored (XEP-0100 §4.1.1 step 6): the verify hook
 * of registration/hooks.h. */
#pragma once
#include "registration/hooks.h"

/* Logs in as @username (the registered name; the configured suffix is added
 * here) with @password, waits at most [registration] verify_timeout_s, logs
 * out, and calls @done once (never before this returns) with the legacy
 * network's words or a msgid of this module as the reason. @destroy frees
 * @data afterwards. */
void pg_verify_start (PgTransport *transport, const char *bare_jid, const char *username,
                      const char *password, PgVerifyDone done, gpointer data, GDestroyNotify destroy);
