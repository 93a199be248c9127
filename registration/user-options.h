/* registration/user-options.h — the protocol's account options a user may
 * set ([registration] user_options, purplegate.conf(5)): their fields in
 * the registration and settings forms, reading them back, keeping them per
 * user (secrets sealed), and the settings a login uses: [legacy-settings]
 * with the user's values over them, for allowed options only. */
#pragma once
#include "transport/forms.h"
#include "transport/stanza.h"
#include "transport/transport.h"

/* A field for option "realname" is "option:realname": the protocol's names
 * (IRC's "username") must not meet the registration's. */
#define PG_USER_OPTION_VAR_PREFIX "option:"
/* The boolean field that forgets the stored secret of option
 * "nickserv_password" is "clear:option:nickserv_password": an empty
 * text-private field keeps the stored secret. */
#define PG_USER_OPTION_CLEAR_PREFIX "clear:" PG_USER_OPTION_VAR_PREFIX
/* The key of option "realname" in the per-user settings. */
#define PG_USER_OPTION_SETTING_PREFIX "option:"

/* Appends a field per allowed option to @form (see
 * pg_legacy_option_add_field()), showing @bare_jid's values (may be NULL:
 * not registered), else [legacy-settings]' (username_suffix's for a
 * user-name part), else the protocol's defaults; labels in @lang. A
 * secret @bare_jid has stored gets a boolean field more, which forgets it
 * (PG_USER_OPTION_CLEAR_PREFIX). */
void pg_user_options_add_fields (PgTransport *transport, xmlNode *form, const char *bare_jid,
                                 const char *lang);

/* Reads the option fields of @form (borrowed; NULL: none): a table option
 * id → canonical value (owned; "" puts the option back to the operator's
 * value; a secret left empty is kept and not in the table, unless its
 * PG_USER_OPTION_CLEAR_PREFIX field is true: then ""). Fields left out
 * keep their values (XEP-0004 §3.5). NULL when refused: *@condition and
 * *@text (owned, in @lang) name the option: not allowed
 * (PG_ERR_NOT_ACCEPTABLE) or a value that does not fit. */
GHashTable *pg_user_options_read (PgTransport *transport, const PgForm *form, const char *lang,
                                  PgErrorCondition *condition, char **text);
/* Keeps @values (from pg_user_options_read(); NULL: nothing) for
 * @bare_jid, who must be registered. */
gboolean pg_user_options_store (PgTransport *transport, const char *bare_jid, GHashTable *values,
                                GError **error);
/* The settings @bare_jid's login uses: [legacy-settings], then the
 * user's allowed options over them, the same keys never twice. With
 * @submitted (pg_user_options_read(); NULL: none), the values of a form
 * not stored yet go over the stored ones, as pg_user_options_store() would
 * keep them: a registration's check logs in with what it will store.
 * Owned, NULL-terminated, the same length; free @values with
 * pg_user_options_free_values() (they may hold secrets). */
void pg_user_options_dup_login_settings (PgTransport *transport, const char *bare_jid, GHashTable *submitted,
                                         GStrv *keys, GStrv *values);
void pg_user_options_free_values (GStrv values);

/* The legacy user name @bare_jid's logins use for the registered
 * @username: with no user-name part among the allowed options, @username
 * and [legacy] username_suffix; else @username and each part of the
 * protocol after its separator (README "Account options"): the user's
 * value (@submitted over the stored ones, as
 * pg_user_options_dup_login_settings() takes them), else the operator's
 * (from username_suffix), else the protocol's default. NULL when
 * @username holds a separator of the parts: *@refusal (owned, in @lang)
 * says why. Caller owns the name. */
char *pg_user_options_dup_legacy_username (PgTransport *transport, const char *bare_jid,
                                           GHashTable *submitted, const char *username, const char *lang,
                                           char **refusal);
