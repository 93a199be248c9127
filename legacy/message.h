/* legacy/message.h — message translation: legacy HTML → plain text, XEP-0085
 * chat states, XEP-0184 receipts. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#include "legacy/account.h"

#define PG_NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define PG_NS_RECEIPTS "urn:xmpp:receipts"

/* Plain text of libpurple's markup: tags stripped (<br> → newline), entities
 * decoded. The serialiser later drops what XML cannot carry. Owned. */
char *pg_message_html_to_text (const char *html);

/* The chat state element of @message, or PG_CHAT_STATE_NONE. */
PgChatState pg_message_get_chat_state (const xmlNode *message);
/* Adds the element for @state (nothing for NONE). */
void pg_message_add_chat_state (xmlNode *message, PgChatState state);

/* TRUE when @message asks for a XEP-0184 receipt (and has an id). */
gboolean pg_message_wants_receipt (const xmlNode *message);
/* The receipt for @message, from its recipient back to its sender. Owned. */
xmlNode *pg_message_new_receipt (const xmlNode *message);
