/* registration/hooks.h — what registration asks of the legacy logins. The
 * layer above (legacy/) answers; the wiring (daemon/daemon.c) puts its
 * functions in the table and the table in @transport->registration_hooks,
 * so registration/ never names legacy/. */
#pragma once
#include "transport/transport.h"

/* @condition and @text are meaningless when @ok; @text says why for the
 * user, already in the language the check was asked in: the legacy
 * network's words, or a text of the checker. */
typedef void (*PgVerifyDone) (gboolean ok, PgErrorCondition condition, const char *text, gpointer data);

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
  /* Checks @username (and @password, may be NULL) with a real login
   * (XEP-0100 §4.1.1 step 6) that has the settings @setting_keys and
   * @setting_values (NULL-terminated, the same length; borrowed), and
   * calls @done once, never before this returns, with texts in @lang;
   * @destroy frees @data afterwards. */
  void (*verify) (PgTransport *transport, const char *bare_jid, const char *username, const char *password,
                  const char *const *setting_keys, const char *const *setting_values, const char *lang,
                  PgVerifyDone done, gpointer data, GDestroyNotify destroy);
  /* The protocol's rules for @username that need no login: NULL when it
   * may be tried, else why not for the user in @lang (owned, g_free) and
   * the error in *@condition. */
  char *(*check_username) (PgTransport *transport, const char *username, const char *lang,
                           PgErrorCondition *condition);
};
