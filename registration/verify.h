/* registration/verify.h — checking legacy credentials with a real login
 * before a registration is stored (XEP-0100 §4.1.1 step 6). */
#pragma once
#include "transport/transport.h"

/* @condition is meaningless when @ok; @reason says why for humans, in
 * English: the legacy network's words, or a msgid of this module (marked
 * N_(), translate with pg_i18n_translate()). */
typedef void (*PgVerifyDone) (gboolean ok, PgErrorCondition condition, const char *reason, gpointer data);

/* Logs in as @username (the registered name; the configured suffix is added
 * here) with @password, waits at most [registration] verify_timeout_s, logs
 * out, and calls @done once (never before this returns). @destroy frees
 * @data afterwards. */
void pg_verify_start (PgTransport *transport, const char *bare_jid, const char *username,
                      const char *password, PgVerifyDone done, gpointer data, GDestroyNotify destroy);
