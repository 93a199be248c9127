/* transport/stanza.h — stanzas as libxml2 trees: builders, accessors,
 * serialisation, and RFC 6120 error replies.
 *
 * A stanza is the root element of its own xmlDoc, so it can be freed with
 * pg_stanza_free() and carries its namespace declarations with it. Outbound
 * stanzas leave the top element without a namespace: it inherits the stream's
 * default (jabber:component:accept). */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#define PG_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define PG_NS_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"
#define PG_NS_STREAM "http://etherx.jabber.org/streams"
#define PG_NS_COMPONENT "jabber:component:accept"
#define PG_NS_CLIENT "jabber:client"
#define PG_NS_XML "http://www.w3.org/XML/1998/namespace"
#define PG_NS_XMPP_ERRORS "urn:xmpp:errors"

typedef xmlNode PgStanza;

/* RFC 6120 §8.3.3 defined conditions, each with its default type and the
 * XEP-0086 legacy code (see the table in stanza.c). */
typedef enum
{
  PG_ERR_BAD_REQUEST,
  PG_ERR_CONFLICT,
  PG_ERR_FEATURE_NOT_IMPLEMENTED,
  PG_ERR_FORBIDDEN,
  PG_ERR_INTERNAL_SERVER_ERROR,
  PG_ERR_ITEM_NOT_FOUND,
  PG_ERR_JID_MALFORMED,
  PG_ERR_NOT_ACCEPTABLE,
  PG_ERR_NOT_ALLOWED,
  PG_ERR_NOT_AUTHORIZED,
  PG_ERR_POLICY_VIOLATION,
  PG_ERR_RECIPIENT_UNAVAILABLE,
  PG_ERR_REGISTRATION_REQUIRED,
  PG_ERR_REMOTE_SERVER_NOT_FOUND,
  PG_ERR_REMOTE_SERVER_TIMEOUT,
  PG_ERR_RESOURCE_CONSTRAINT,
  PG_ERR_SERVICE_UNAVAILABLE,
  PG_ERR_UNDEFINED_CONDITION,
  PG_ERR_UNEXPECTED_REQUEST,
} PgErrorCondition;

typedef enum
{
  PG_ERR_TYPE_DEFAULT, /* the condition's usual type */
  PG_ERR_TYPE_AUTH,
  PG_ERR_TYPE_CANCEL,
  PG_ERR_TYPE_CONTINUE,
  PG_ERR_TYPE_MODIFY,
  PG_ERR_TYPE_WAIT,
} PgErrorType;

/* A new stanza @name ("iq", "message", "presence") with the given attributes;
 * NULL attributes are left out. Caller owns it (pg_stanza_free). */
PgStanza *pg_stanza_new (const char *name, const char *from, const char *to, const char *type,
                         const char *id);
/* An iq result for @request (same id, addresses swapped). Caller owns it. */
PgStanza *pg_stanza_new_iq_result (const xmlNode *request);
void pg_stanza_free (PgStanza *stanza);
/* A deep copy of @stanza in a document of its own. Caller owns it. */
PgStanza *pg_stanza_copy (const xmlNode *stanza);

/* Appends an element (in namespace @xmlns when not NULL, declared on it when
 * it differs from the parent's). Returns the child, borrowed from @parent. */
xmlNode *pg_stanza_add_child (xmlNode *parent, const char *name, const char *xmlns);
/* Same with a text child; @text may be NULL for an empty element. */
xmlNode *pg_stanza_add_text_child (xmlNode *parent, const char *name, const char *xmlns, const char *text);
void pg_stanza_set_attr (xmlNode *node, const char *name, const char *value);
/* Deep copy of @node appended to @parent; returns the copy (borrowed). */
xmlNode *pg_stanza_add_copy (xmlNode *parent, const xmlNode *node);

/* Borrowed attribute value, or NULL. */
const char *pg_stanza_get_attr (const xmlNode *node, const char *name);
/* xml:lang of @node, or NULL. Borrowed. */
const char *pg_stanza_get_lang (const xmlNode *node);
/* The namespace URI of @node, or NULL. Borrowed. */
const char *pg_stanza_get_ns (const xmlNode *node);
/* TRUE when @node is element @name in @xmlns (NULL xmlns: any namespace). */
gboolean pg_stanza_is (const xmlNode *node, const char *name, const char *xmlns);
/* First child element named @name in @xmlns (NULL: any), or NULL. Borrowed. */
xmlNode *pg_stanza_find_child (const xmlNode *node, const char *name, const char *xmlns);
/* First child element, or NULL. Borrowed. */
xmlNode *pg_stanza_first_element (const xmlNode *node);
guint pg_stanza_count_elements (const xmlNode *node);
/* Text content of @node (all descendant text), "" when none. Caller owns it. */
char *pg_stanza_dup_text (const xmlNode *node);
/* Text of child @name in @xmlns, or NULL when the child is absent. Owned. */
char *pg_stanza_dup_child_text (const xmlNode *node, const char *name, const char *xmlns);

/* Appends the serialised @node to @out. Text and attribute values are
 * escaped, and code points XML 1.0 forbids (controls, U+FFFE/FFFF, invalid
 * UTF-8) are replaced by U+FFFD, so legacy text can never break the stream. */
void pg_stanza_serialize (const xmlNode *node, GString *out);
/* Same, as a new string. Caller owns it (g_free). */
char *pg_stanza_to_string (const xmlNode *node);

/* The error reply to @stanza: same name and id, type='error', from/to
 * swapped, <error type=… code=…> with @condition and an optional <text/>.
 * iq errors carry the original payload element (without its children for
 * jabber:iq:register, which may hold a password: XEP-0077 §3.3); message and
 * presence errors carry none. Caller owns the reply (pg_stanza_free). */
PgStanza *pg_stanza_error_reply (const xmlNode *stanza, PgErrorCondition condition, PgErrorType type,
                                 const char *text);
/* The <error/> element of an error stanza built above, or NULL. Borrowed. */
xmlNode *pg_stanza_get_error (const xmlNode *stanza);
/* Names of a condition and a type as they appear on the wire. Static strings. */
const char *pg_error_condition_to_string (PgErrorCondition condition);
const char *pg_error_type_to_string (PgErrorType type, PgErrorCondition condition);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStanza, pg_stanza_free)
