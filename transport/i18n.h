/* transport/i18n.h — translations of what users read, per request.
 *
 * Operator log lines stay in English. What a user reads (instructions, form
 * labels, notes, headlines, command names) is marked N_() (or _()) for
 * xgettext and translated at the point of use into the language of the
 * stanza being answered: a daemon serves many languages at once, so the
 * process locale (gettext's _()) cannot choose it.
 *
 * The language is the stanza's xml:lang (PgRouteRequest.lang). A stanza
 * without one inherits its stream's, and servers stamp it on every client
 * stanza they route (Prosody: the client's stream language, else "en"), so
 * the stanza attribute is all a component sees; none at all means English.
 *
 * Catalogues are msgfmt's output (GNU .mo), read by this module without the
 * process locale: <dir>/<ll[_CC]>/LC_MESSAGES/purplegate.mo (installed) or
 * <dir>/<ll[_CC]>.gmo (po/ of a source tree). The directories are listed
 * once, at pg_i18n_new(), so no network text ever names a file; a catalogue
 * is read on first use. */
#pragma once
#include <glib/gi18n-lib.h>
#include <libxml/tree.h>

/* The language of the msgids themselves. */
#define PG_I18N_SOURCE_LANG "en"
/* A directory searched before the installed $(localedir): for the build tree
 * and tests (po/ of the source tree holds de.gmo after make). */
#define PG_I18N_LOCALEDIR_ENV "PURPLEGATE_LOCALEDIR"
/* Larger catalogues are ignored with a warning. */
#define PG_I18N_MAX_CATALOGUE_BYTES (8 * 1024 * 1024)

#define PG_I18N_ERROR (pg_i18n_error_quark ())
GQuark pg_i18n_error_quark (void);
typedef enum
{
  PG_I18N_ERROR_MALFORMED, /* not a GNU .mo file, or offsets outside it */
  PG_I18N_ERROR_CHARSET,   /* not UTF-8 */
} PgI18nError;

typedef struct PgI18n PgI18n;

/* Lists the catalogues of @localedirs (NULL-terminated, earlier wins); NULL
 * means $PURPLEGATE_LOCALEDIR (when set) and the installed $(localedir).
 * Missing directories are no error. Caller owns the result (pg_i18n_free). */
PgI18n *pg_i18n_new (const char *const *localedirs);
void pg_i18n_free (PgI18n *i18n);

/* The translation of @msgid into @lang (an xml:lang such as "de", "de-AT",
 * "de_AT"; NULL for English), trying "de_AT" then "de". Returns @msgid
 * itself (the same pointer) when no catalogue translates it. Borrowed: valid
 * until pg_i18n_free(). A printf format translates to a format with the
 * same conversions (msgfmt -c checks them), hence G_GNUC_FORMAT. */
const char *pg_i18n_translate (PgI18n *i18n, const char *lang, const char *msgid) G_GNUC_FORMAT (3);

/* The language pg_i18n_translate() answers @lang in, as an xml:lang ("de",
 * "de-AT"), or PG_I18N_SOURCE_LANG when no catalogue serves it. Borrowed. */
const char *pg_i18n_get_language (PgI18n *i18n, const char *lang);

/* Translates the <text/> of the stanza error @reply (built by
 * pg_stanza_error_reply() with an English msgid) into @lang and sets its
 * xml:lang to match. Texts without a translation (diagnostics, a legacy
 * network's own words) stay as they are, marked English. */
void pg_i18n_localize_error (PgI18n *i18n, xmlNode *reply, const char *lang);

/* Reads a GNU .mo catalogue (@size bytes at @data, borrowed): msgid →
 * translation (a plural's first form), both copied; the header entry and
 * messages with a context are left out. Errors for anything out of bounds
 * or not UTF-8. Caller owns the table (g_hash_table_unref). */
GHashTable *pg_i18n_parse_mo (const guint8 *data, gsize size, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgI18n, pg_i18n_free)
