/* registration/hooks.h — what registration asks of the legacy logins. The
 * layer above (legacy/) answers; the wiring (daemon/daemon.c) puts its
 * functions in the table and the table in @transport->registration_hooks,
 * so registration/ never names legacy/. */
#pragma once
#include "transport/forms.h"
#include "transport/transport.h"

/* A check of credentials under way (legacy/verify.c). */
typedef struct PgVerification PgVerification;

/* @condition and @text are meaningless when @ok; @text says why for the
 * user, already in the language the check was asked in: the legacy
 * network's words, or a text of the checker. When @ok, @settings (key →
 * value, borrowed; NULL: none) are per-user settings to keep with the
 * registration: a certificate the user accepted during the check. */
typedef void (*PgVerifyDone) (gboolean ok, PgErrorCondition condition, const char *text, GHashTable *settings,
                              gpointer data);
/* The checking login asks the user something (libpurple's question, a
 * certificate to trust, a code): @form is a jabber:x:data form of type
 * "form" that asks it, @summary the question in one line (the legacy
 * network's words); both borrowed for the call, in the check's language.
 * One question at a time: the next one comes after verify_answer(). */
typedef void (*PgVerifyAsk) (PgVerification *verification, const xmlNode *form, const char *summary,
                             gpointer data);

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
  /* Checks the legacy user name @username (and @password, may be NULL),
   * as pg_user_options_dup_legacy_username() makes it, with a real login
   * (XEP-0100 §4.1.1 step 6) that has the settings @setting_keys and
   * @setting_values (NULL-terminated, the same length; borrowed), and
   * calls @done once, never before this returns, with texts in @lang;
   * @destroy frees @data afterwards. A question of the login goes to @ask
   * (not NULL). The check is valid until @done is called. */
  PgVerification *(*verify) (PgTransport *transport, const char *bare_jid, const char *username,
                             const char *password, const char *const *setting_keys,
                             const char *const *setting_values, const char *lang, PgVerifyDone done,
                             PgVerifyAsk ask, gpointer data, GDestroyNotify destroy);
  /* Answers the question @verification asked last with the submitted
   * @form. FALSE when the form does not answer it (a required field
   * empty, a value that does not fit, no question asked): the question
   * stays, *@condition and *@text (owned, in the check's language) say
   * why. */
  gboolean (*verify_answer) (PgVerification *verification, const PgForm *form, PgErrorCondition *condition,
                             char **text);
  /* Ends the check as refused with @condition and @text (for the user,
   * copied): the user will not answer. @done follows, not before this
   * returns. */
  void (*verify_stop) (PgVerification *verification, PgErrorCondition condition, const char *text);
  /* Asks the user's online login for the nick of the legacy user name
   * @legacy_username without logging in again, where the protocol has one
   * nick per connection and only the nick changes. FALSE when there is no
   * such login (nothing is done). Else @done is called once, not before
   * this returns: ok once the network gave the nick; else conflict (in
   * use) or not-acceptable naming the rule broken, the old nick kept;
   * @destroy frees @data afterwards. */
  gboolean (*change_nick) (PgTransport *transport, const char *bare_jid, const char *legacy_username,
                           const char *lang, PgVerifyDone done, gpointer data, GDestroyNotify destroy);
  /* The protocol's rules for @username (as the user typed it), whose
   * logins use the legacy user name @legacy_username
   * (pg_user_options_dup_legacy_username()), that need no login: NULL when
   * it may be tried, else why not for the user in @lang (owned, g_free)
   * and the error in *@condition. */
  char *(*check_username) (PgTransport *transport, const char *username, const char *legacy_username,
                           const char *lang, PgErrorCondition *condition);
};
