/* transport/adhoc.h — XEP-0050 ad-hoc commands on the component's address.
 *
 * Modules add their commands as rows {node, name, access, handler}
 * (pg_adhoc_add_commands). This module answers disco for them (the command
 * list on node http://jabber.org/protocol/commands shows only what the
 * requester may run; disco#info on each command node) and runs the
 * <command/> protocol: sessions with an id bound to the requester's full
 * JID, execute/next/prev/complete/cancel, jabber:x:data payloads, <note/>s,
 * <actions/>, and the XEP-0050 §4.4 errors.
 *
 * A handler runs once per request of a session: stage 0 for the first
 * execute, stage n for the n-th submission (next, complete, or execute
 * naming one of them). It reads the submitted form, adds the payload of the
 * answer (forms, notes) and leaves the command completed (the default) or
 * calls pg_adhoc_call_continue() for one more stage. 'prev' and 'cancel'
 * never reach a handler: the framework resends the stage before, or ends
 * the session. */
#pragma once
#include "transport/forms.h"
#include "transport/transport.h"

#define PG_NS_COMMANDS "http://jabber.org/protocol/commands"
/* The node whose disco#items list the commands (XEP-0050 §2.2). */
#define PG_ADHOC_NODE_LIST PG_NS_COMMANDS
/* XEP-0133: the FORM_TYPE of its forms and the prefix of its nodes. */
#define PG_NS_ADMIN "http://jabber.org/protocol/admin"
#define PG_ADMIN_NODE(name) PG_NS_ADMIN "#" name
/* Lists in command results stop after this many JIDs (with a note). */
#define PG_ADHOC_MAX_LISTED 1000

/* A session idle for longer expires: a later request for it gets
 * <not-allowed/> + <session-expired/>; after twice as long it is forgotten
 * (then <bad-request/> + <bad-sessionid/>). */
#define PG_ADHOC_SESSION_TTL_S 600
/* Read once at start, a number of seconds replacing PG_ADHOC_SESSION_TTL_S
 * (for tests of expiry; not an operator setting). */
#define PG_ADHOC_TTL_ENV "PURPLEGATE_ADHOC_TTL_S"
/* A requester's (bare JID's) oldest session ends when they open one more. */
#define PG_ADHOC_MAX_SESSIONS_PER_USER 8
/* Above this many open sessions, new ones get <resource-constraint/>. */
#define PG_ADHOC_MAX_SESSIONS 1024

typedef enum
{
  PG_ADHOC_ACCESS_REGISTERED,   /* users registered with the gateway */
  PG_ADHOC_ACCESS_ADMIN,        /* the bare JIDs of [admin] jids */
  PG_ADHOC_ACCESS_UNREGISTERED, /* users not registered (yet), of an allowed domain */
} PgAdhocAccess;

/* XEP-0050 actions; NEXT, PREV and COMPLETE also combine as the set a
 * stage allows. */
typedef enum
{
  PG_ADHOC_EXECUTE = 0,
  PG_ADHOC_NEXT = 1 << 0,
  PG_ADHOC_PREV = 1 << 1,
  PG_ADHOC_COMPLETE = 1 << 2,
  PG_ADHOC_CANCEL = 1 << 3,
} PgAdhocAction;

typedef enum
{
  PG_ADHOC_NOTE_INFO,
  PG_ADHOC_NOTE_WARN,
  PG_ADHOC_NOTE_ERROR,
} PgAdhocNoteType;

typedef struct PgAdhoc PgAdhoc;
/* One request of a command session, valid during the handler call. */
typedef struct PgAdhocCall PgAdhocCall;

typedef void (*PgAdhocHandler) (PgAdhocCall *call);

typedef struct
{
  const char *node; /* compared byte for byte (XEP-0050 §4.1) */
  const char *name; /* marked N_(); translated for each requester */
  PgAdhocAccess access;
  PgAdhocHandler handler;
} PgAdhocCommand;

/* Creates @transport->adhoc and adds the command and disco routes and the
 * commands feature. Call before pg_disco_register_fallback(). */
void pg_adhoc_register (PgTransport *transport);
void pg_adhoc_free (PgAdhoc *adhoc);
/* Adds @n rows (borrowed: static arrays). Listed in the order added. */
void pg_adhoc_add_commands (PgTransport *transport, const PgAdhocCommand *rows, gsize n);
/* Replaces the session lifetime (tests). */
void pg_adhoc_set_session_ttl (PgTransport *transport, guint seconds);
/* Open sessions, expired ones not yet forgotten included. */
guint pg_adhoc_count_sessions (PgTransport *transport);

/* ---- during a handler call ---- */

PgTransport *pg_adhoc_call_get_transport (PgAdhocCall *call);
/* The requester's prepared bare JID. Borrowed. */
const char *pg_adhoc_call_get_requester (PgAdhocCall *call);
guint pg_adhoc_call_get_stage (PgAdhocCall *call);
/* NEXT or COMPLETE (execute resolved), or EXECUTE at stage 0. */
PgAdhocAction pg_adhoc_call_get_action (PgAdhocCall *call);
/* The form submitted with this request, or NULL. Borrowed. */
const PgForm *pg_adhoc_call_get_form (PgAdhocCall *call);
/* @msgid (marked N_()) in the language of the request (its xml:lang,
 * transport/i18n.h); answers carry the matching xml:lang. Borrowed, valid
 * while the transport lives. */
const char *pg_adhoc_call_translate (PgAdhocCall *call, const char *msgid) G_GNUC_FORMAT (2);

/* The xml:lang of the request (NULL: none). Borrowed. */
const char *pg_adhoc_call_get_lang (PgAdhocCall *call);
/* As pg_adhoc_call_fail() with no XEP-0050 condition and @text (may be
 * NULL) already in the request's language. */
void pg_adhoc_call_fail_text (PgAdhocCall *call, PgErrorCondition condition, const char *text);

/* Keeps @object with the command's session until the session ends,
 * however it ends (completed, failed for good, cancelled, expired, pushed
 * out by the requester's newer sessions), then calls @destroy (may be
 * NULL) on it; replaces (and destroys) one kept before. At stage 0 the
 * object is kept only if the command continues. */
void pg_adhoc_call_set_object (PgAdhocCall *call, gpointer object, GDestroyNotify destroy);
/* Borrowed, or NULL. */
gpointer pg_adhoc_call_get_object (PgAdhocCall *call);

/* Values kept from one stage of a session to the next (copied). */
void pg_adhoc_call_set_data (PgAdhocCall *call, const char *key, const char *value);
/* Borrowed, or NULL when never set. */
const char *pg_adhoc_call_get_data (PgAdhocCall *call, const char *key);

/* The JIDs of the submitted field @var (jid-single or jid-multi) as
 * prepared bare JIDs, without duplicates, in the order given. Returns NULL
 * after pg_adhoc_call_fail(): bad-payload when the field is missing or
 * empty, not-acceptable for a value that is not a JID (XEP-0004 §3.3).
 * Caller owns the array (g_ptr_array_unref frees the strings). */
GPtrArray *pg_adhoc_call_dup_jids (PgAdhocCall *call, const char *var);

/* Appends a data form to the answer; see pg_form_add(). Borrowed. */
xmlNode *pg_adhoc_call_add_form (PgAdhocCall *call, const char *type, const char *title,
                                 const char *instructions, const char *form_type);
void pg_adhoc_call_add_note (PgAdhocCall *call, PgAdhocNoteType type, const char *text);
/* The answer is status='executing': the next request may take one of
 * @allowed (NEXT and/or COMPLETE; PREV is added from the second stage on),
 * and 'execute' means @execute (one of @allowed). */
void pg_adhoc_call_continue (PgAdhocCall *call, guint allowed, PgAdhocAction execute);
/* Answers with an iq error instead: @condition (its default type), with
 * the XEP-0050 condition @specific ("bad-payload"…, may be NULL) and
 * @text (an English msgid marked N_(), translated here; may be NULL). The
 * session, if any, stays at this stage. */
void pg_adhoc_call_fail (PgAdhocCall *call, PgErrorCondition condition, const char *specific,
                         const char *text);

/* ---- answers that wait ---- */

/* A stage whose outcome comes later (a legacy login): the handler calls
 * pg_adhoc_call_defer() and returns; the answer goes out when
 * pg_adhoc_deferred_complete(), pg_adhoc_deferred_fail() or
 * pg_adhoc_deferred_continue() is called, exactly once. Meanwhile the
 * session waits: a request for it other than 'cancel' gets
 * <unexpected-request/> (wait), and it does not expire. */
typedef struct PgAdhocDeferred PgAdhocDeferred;
PgAdhocDeferred *pg_adhoc_call_defer (PgAdhocCall *call);
/* Sends status='completed' with a note of @type and @text (for the user,
 * already in the request's language), ends the session and frees
 * @deferred. */
void pg_adhoc_deferred_complete (PgAdhocDeferred *deferred, PgAdhocNoteType type, const char *text);
/* Sends the iq error @condition with @text (already in the request's
 * language; may be NULL), ends the session and frees @deferred. */
void pg_adhoc_deferred_fail (PgAdhocDeferred *deferred, PgErrorCondition condition, const char *text);
/* Sends status='executing' with an info note @note (may be NULL, in the
 * request's language) and @form (a jabber:x:data form, copied; may be
 * NULL): one more stage of the same session (XEP-0050 §3.4), whose next
 * request may take @allowed (NEXT and/or COMPLETE, no PREV), 'execute'
 * meaning @execute. Frees @deferred. Only for a stage after the first
 * (a session exists). */
void pg_adhoc_deferred_continue (PgAdhocDeferred *deferred, const char *note, const xmlNode *form,
                                 guint allowed, PgAdhocAction execute);

/* The commands @bare_jid may run as "name (node)", the names in @lang,
 * in the order added. Caller owns the array (g_ptr_array_unref). */
GPtrArray *pg_adhoc_dup_command_names (PgTransport *transport, const char *bare_jid, const char *lang);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgAdhoc, pg_adhoc_free)
