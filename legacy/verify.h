/* legacy/verify.h — checking legacy credentials with a real login
 * before a registration is stored (XEP-0100 §4.1.1 step 6): the
 * check_username and verify hooks of registration/hooks.h. */
#pragma once
#include "registration/hooks.h"

/* The protocol's rules that need no login: libpurple's normalisation of
 * the legacy user name @legacy_username, and on IRC the nick syntax of
 * RFC 2812 §2.3.1 and the server's NICKLEN where a login of this gateway
 * has heard it. NULL when @username (as the user typed it) may be tried;
 * else why not, for the user in @lang (owned, g_free) and the condition
 * in *@condition. */
char *pg_verify_check_username (PgTransport *transport, const char *username, const char *legacy_username,
                                const char *lang, PgErrorCondition *condition);

/* Logs in as @username (the legacy user name, the configured parts
 * added) with @password (may be NULL where the protocol needs none) and the
 * settings @setting_keys and @setting_values (as pg_account_new() takes
 * them), waits at most [registration] verify_timeout_s (and
 * question_timeout_s for each question the login asks, which goes to
 * @ask), logs out, and calls @done once (never before this returns) with
 * a text for the user in @lang: the legacy network's words or a text of
 * this module. Where the protocol has one nick per connection, a login
 * under another nick than @username's is refused: conflict when the nick
 * is in use, not-acceptable with the rule broken when the network refused
 * it. @destroy frees @data afterwards. The verify hook of
 * registration/hooks.h. */
PgVerification *pg_verify_start (PgTransport *transport, const char *bare_jid, const char *username,
                                 const char *password, const char *const *setting_keys,
                                 const char *const *setting_values, const char *lang, PgVerifyDone done,
                                 PgVerifyAsk ask, gpointer data, GDestroyNotify destroy);
/* The verify_answer and verify_stop hooks. */
gboolean pg_verify_answer (PgVerification *verification, const PgForm *form, PgErrorCondition *condition,
                           char **text);
void pg_verify_stop (PgVerification *verification, PgErrorCondition condition, const char *text);

/* Why the network did not give the nick @nick, for the user in @lang: it
 * refused it (@bad: IRC 432, with the network's @words, may be NULL, and
 * its NICKLEN @nick_len, 0: unknown: not-acceptable naming the rule), or
 * it is in use (conflict). The condition in *@condition. Owned. */
char *pg_verify_dup_nick_refusal (PgTransport *transport, const char *lang, const char *nick, gboolean bad,
                                  const char *words, guint nick_len, PgErrorCondition *condition);
