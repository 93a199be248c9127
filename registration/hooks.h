/* registration/hooks.h — what registration asks of the legacy logins. The
 * layer above (legacy/) answers; the wiring (daemon/daemon.c) puts its
 * functions in the table and the table in @transport->registration_hooks,
 * so registration/ never names legacy/. */
#pragma once
#include "transport/transport.h"

/* @condition is meaningless when @ok; @reason says why for humans, in
 * English: the legacy network's words, or a msgid of the checker (marked
 * N_(), translate with pg_i18n_translate()). */
typedef void (*PgVerifyDone) (gboolean ok, PgErrorCondition condition, const char *reason, gpointer data);

struct PgRegistrationHooks
{
  /* Closes the user's login and keeps it closed until credentials_changed:
   * while credentials are being checked. */
  void (*pause) (PgTransport *transport, const char *bare_jid);
  /* The user's credentials changed (or a check ended): a login with what is
   * stored. */
  void (*credentials_changed) (PgTransport *transport, const char *bare_jid);
  /* Ends the user's login, if any, without telling the user. */
  void (*close) (PgTransport *transport, const char *bare_jid);
  /* After an unregistration: every contact of @contacts (PgStoreContact, as
   * listed before the registration was deleted) says goodbye to the user. */
  void (*say_goodbye) (PgTransport *transport, const char *bare_jid, const GPtrArray *contacts);
  /* Checks @username and @password with a real login (XEP-0100 §4.1.1
   * step 6) and calls @done once, never before this returns; @destroy
   * frees @data afterwards. */
  void (*verify) (PgTransport *transport, const char *bare_jid, const char *username, const char *password,
                  PgVerifyDone done, gpointer data, GDestroyNotify destroy);
};
