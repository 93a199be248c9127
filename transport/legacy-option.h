/* transport/legacy-option.h — a legacy protocol's account option
 * (libpurple's protocol_options: bool, int, string or list; masked strings
 * are secrets) as plain data, and its XEP-0004 field: boolean, text-single
 * with a XEP-0122 integer validation, list-single, text-private for
 * secrets. The protocol facts come from legacy/names.h; this layer only
 * shows them and reads them back. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

typedef struct PgI18n PgI18n; /* transport/i18n.h */

#define PG_NS_DATA_VALIDATE "http://jabber.org/protocol/xdata-validate"

#define PG_LEGACY_OPTION_ERROR (pg_legacy_option_error_quark ())
GQuark pg_legacy_option_error_quark (void);
typedef enum
{
  PG_LEGACY_OPTION_ERROR_INVALID,   /* a value that does not fit the option's type */
  PG_LEGACY_OPTION_ERROR_MALFORMED, /* a description that makes no sense */
} PgLegacyOptionError;

typedef enum
{
  PG_LEGACY_OPTION_BOOL,
  PG_LEGACY_OPTION_INT,
  PG_LEGACY_OPTION_STRING,
  PG_LEGACY_OPTION_LIST,
} PgLegacyOptionType;

/* The number of strings of one option in pg_legacy_option_to_strings(). */
#define PG_LEGACY_OPTION_STRINGS 7

/* A part of the legacy user name that libpurple asks for apart (its user
 * splits: IRC's server in nick@server, XMPP's domain and resource) is an
 * option too, of type string, named this prefix and its English label in
 * lower case with '-' for spaces: "split:server". Logins put its value
 * after the user name and the part's separator instead of passing it as a
 * setting. */
#define PG_LEGACY_OPTION_SPLIT_PREFIX "split:"

typedef struct
{
  char *id;    /* the setting's name ("realname"), as in [legacy-settings] */
  char *label; /* the protocol's English label */
  PgLegacyOptionType type;
  char *default_value; /* canonical ("true", "6667", …); "" when none */
  GStrv choice_values; /* list options: the values, else empty */
  GStrv choice_labels; /* and their labels, the same length */
  gboolean masked;     /* a secret: shown as text-private, never sent back, sealed */
  char separator;      /* a user-name part: what comes before its value ('@'); else 0 */
} PgLegacyOption;

/* Caller owns the result (pg_legacy_option_free()); @choice_values and
 * @choice_labels may be NULL (none). */
PgLegacyOption *pg_legacy_option_new (const char *id, const char *label, PgLegacyOptionType type,
                                      const char *default_value, const char *const *choice_values,
                                      const char *const *choice_labels, gboolean masked);
void pg_legacy_option_free (PgLegacyOption *option);
/* The user-name part labelled @label (English), with @default_value (may
 * be NULL) and @separator. Caller owns it. */
PgLegacyOption *pg_legacy_option_new_split (const char *label, const char *default_value, char separator);

/* The PG_LEGACY_OPTION_STRINGS strings describing @option, appended to
 * @out (owned strings, a GPtrArray freeing with g_free): for a link
 * between processes. */
void pg_legacy_option_to_strings (const PgLegacyOption *option, GPtrArray *out);
/* Reads what pg_legacy_option_to_strings() wrote at @strings (at least
 * PG_LEGACY_OPTION_STRINGS of them). NULL and @error when malformed. */
PgLegacyOption *pg_legacy_option_from_strings (const char *const *strings, GError **error);

/* The option among @options (PgLegacyOption) with @id, or NULL. Borrowed. */
const PgLegacyOption *pg_legacy_option_find (const GPtrArray *options, const char *id);
/* Checks that every name of @ids is one of @options ([registration]
 * user_options): FALSE and @error naming the first that is not, with the
 * options there are. */
gboolean pg_legacy_option_check_ids (const GPtrArray *options, const char *const *ids,
                                     const char *protocol_id, GError **error);

/* TRUE when some option of @ids (NULL-terminated; may be NULL) is a
 * user-name part of @options. */
gboolean pg_legacy_option_any_split (const GPtrArray *options, const char *const *ids);
/* The values of the user-name parts of @options that @suffix ([legacy]
 * username_suffix) gives, in the parts' order, each after its separator
 * ("@irc.example.net": split:server → irc.example.net): a table id → value
 * (owned). NULL and @error when @suffix has more than the parts. */
GHashTable *pg_legacy_option_parse_suffix (const GPtrArray *options, const char *suffix, GError **error);
/* @username followed by each user-name part of @options that has a value
 * in @values (id → value; NULL: none) not empty, after its separator, in
 * the parts' order. Caller owns it. */
char *pg_legacy_option_compose_username (const GPtrArray *options, const char *username, GHashTable *values);
/* For [registration] user_options listing a user-name part: FALSE and
 * @error when [legacy] username_suffix @suffix is not made of the parts
 * (they replace it). */
gboolean pg_legacy_option_check_suffix (const GPtrArray *options, const char *const *ids, const char *suffix,
                                        const char *protocol_id, GError **error);

/* Appends @option's field to @form as @var, showing @value (NULL: the
 * default; never shown for a secret). Its label and the labels of its
 * choices are the protocol's, translated into @lang where @i18n (may be
 * NULL: English) knows them. Returns it, borrowed. */
xmlNode *pg_legacy_option_add_field (const PgLegacyOption *option, xmlNode *form, const char *var,
                                     PgI18n *i18n, const char *lang, const char *value);
/* Reads @text, submitted for @option: the canonical value (owned, g_free)
 * — "true"/"false", a decimal integer, one of the choices, the text as
 * given — or NULL and @error naming the option. */
char *pg_legacy_option_parse (const PgLegacyOption *option, const char *text, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgLegacyOption, pg_legacy_option_free)
