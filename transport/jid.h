/* transport/jid.h — JIDs (RFC 7622 parts, prepared with libidn stringprep as
 * Prosody does) and XEP-0106 escaping of legacy names into localparts. */
#pragma once
#include <glib.h>

#define PG_JID_ERROR (pg_jid_error_quark ())
GQuark pg_jid_error_quark (void);
typedef enum
{
  PG_JID_ERROR_MALFORMED, /* empty part, bad separator, stringprep refusal */
  PG_JID_ERROR_TOO_LONG,  /* a part over PG_JID_MAX_PART_BYTES after preparation */
} PgJidError;

#define PG_JID_MAX_PART_BYTES 1023

typedef struct PgJid PgJid;

/* Splits @text (RFC 7622 §3.1: resource after the first '/', localpart before
 * the first '@' of the rest) and prepares each part (nodeprep, nameprep,
 * resourceprep; one trailing '.' of the domain dropped). Returns NULL and sets
 * @error on a malformed JID. Caller owns the result; free with pg_jid_free(). */
PgJid *pg_jid_parse (const char *text, GError **error);
void pg_jid_free (PgJid *jid);

/* Borrowed, prepared parts; node and resource are NULL when absent. */
const char *pg_jid_get_node (const PgJid *jid);
const char *pg_jid_get_domain (const PgJid *jid);
const char *pg_jid_get_resource (const PgJid *jid);

/* Owned strings, g_free(): "node@domain" (or "domain"), and the full JID. */
char *pg_jid_dup_bare (const PgJid *jid);
char *pg_jid_to_string (const PgJid *jid);

/* Convenience: the prepared bare JID of @text, or NULL and @error.
 * Caller owns the result (g_free). */
char *pg_jid_prepare_bare (const char *text, GError **error);

/* XEP-0106 §4: escapes every one of the ten characters, and '\' only where it
 * starts one of the ten escape sequences, so that pg_jid_unescape() gives back
 * @legacy_name byte for byte. Returns a newly allocated string (g_free). */
char *pg_jid_escape (const char *legacy_name);
/* Inverse of pg_jid_escape(): decodes only the ten exact lower-case sequences.
 * Returns a newly allocated string (g_free). */
char *pg_jid_unescape (const char *localpart);

/* The JID of legacy contact @legacy_name on @domain: escape, then nodeprep.
 * Fails with PG_JID_ERROR_MALFORMED when no valid JID exists for the name
 * (leading/trailing space, characters nodeprep refuses, empty).
 * Caller owns the result (g_free). */
char *pg_jid_for_legacy_name (const char *legacy_name, const char *domain, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgJid, pg_jid_free)
