/* legacy/presence.h — XMPP presence ↔ legacy status, as pure translations:
 * <show/> values, priorities, and the presence stanzas of legacy contacts. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#include "legacy/account.h"

/* What an available presence from a user's resource says. */
typedef struct
{
  PgShow show;  /* PG_SHOW_AVAILABLE … PG_SHOW_DND */
  char *status; /* may be NULL */
  int priority; /* -128 … 127 */
} PgUserPresence;

/* Reads show, status and priority of @presence (an available presence).
 * Unknown show values count as available; priority is clamped. Caller frees
 * @out's status (pg_user_presence_clear). */
void pg_presence_read (const xmlNode *presence, PgUserPresence *out);
void pg_user_presence_clear (PgUserPresence *presence);

/* "away", "chat", "dnd", "xa", or NULL for available/offline. Static. */
const char *pg_presence_show_to_string (PgShow show);

/* The presence of a contact: from @from to @to, unavailable for
 * PG_SHOW_OFFLINE, else available with <show/> and <status/>. @nick, when
 * set, is added as XEP-0172 nick. Caller owns it (pg_stanza_free). */
xmlNode *pg_presence_new (const char *from, const char *to, PgShow show, const char *status,
                          const char *nick);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PgUserPresence, pg_user_presence_clear)
