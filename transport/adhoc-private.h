/* transport/adhoc-private.h — what adhoc.c, adhoc-disco.c and adhoc-call.c
 * share. */
#pragma once
#include "transport/adhoc.h"

/* A command session (adhoc.c). */
typedef struct AdhocSession AdhocSession;
struct AdhocSession
{
  char *id;
  char *requester;      /* prepared full JID */
  char *requester_bare; /* prepared bare JID */
  const PgAdhocCommand *command;
  GPtrArray *stages; /* adhoc.c's Stage, one per executing answer */
  GHashTable *data;  /* char * → char * */
  gint64 last_used;  /* monotonic µs */
  /* The answer to its last request waits (pg_adhoc_call_defer()): only
   * 'cancel' is taken meanwhile, and it does not expire. */
  gboolean waiting;
  gpointer object; /* pg_adhoc_call_set_object() */
  GDestroyNotify object_destroy;
};

struct PgAdhoc
{
  PgTransport *transport;
  GPtrArray *commands;  /* const PgAdhocCommand *, borrowed */
  GHashTable *sessions; /* id → Session */
  gint64 ttl_us;
};

struct PgAdhocCall
{
  PgAdhoc *adhoc;
  const PgRouteRequest *request;
  const PgAdhocCommand *command;
  guint stage;
  PgAdhocAction action;
  PgForm *form;
  GHashTable *data; /* the session's, or a new one at stage 0 */
  xmlNode *answer;  /* <command/> of the iq result */
  gboolean executing;
  guint allowed;
  PgAdhocAction execute;
  gboolean failed;
  AdhocSession *session; /* NULL at stage 0 */
  gpointer object;       /* pg_adhoc_call_set_object() at stage 0, until a session holds it */
  GDestroyNotify object_destroy;
  PgAdhocDeferred *deferred; /* the answer waits (pg_adhoc_call_defer()) */
  gboolean answered;         /* an error went out already (pg_adhoc_call_fail_text()) */
  PgErrorCondition condition;
  const char *specific;
  char *text;
};

/* @msgid in @lang (the xml:lang of a request). Borrowed. */
const char *pg_adhoc_translate (PgAdhoc *adhoc, const char *lang, const char *msgid) G_GNUC_FORMAT (3);
/* The command of @node (may be NULL), or NULL. Borrowed. */
const PgAdhocCommand *pg_adhoc_lookup_command (PgAdhoc *adhoc, const char *node);
/* Whether @bare_jid may run @command; else the error condition in *@refusal. */
gboolean pg_adhoc_may_run (PgAdhoc *adhoc, const PgAdhocCommand *command, const char *bare_jid,
                           PgErrorCondition *refusal);
/* Sends @stanza (borrowed) through the router. */
void pg_adhoc_send (PgAdhoc *adhoc, const xmlNode *stanza);
/* The iq result for @request, with the xml:lang its texts will have. Owned. */
PgStanza *pg_adhoc_new_result (PgAdhoc *adhoc, const PgRouteRequest *request);
/* Sends the iq error @condition for @request; with @specific, the XEP-0050
 * condition element of that name (§4.4). @text is an English msgid. */
void pg_adhoc_reply_error (PgAdhoc *adhoc, const PgRouteRequest *request, PgErrorCondition condition,
                           PgErrorType type, const char *specific, const char *text);

/* Takes @reply (the iq result whose <command/> is @answer) into
 * @deferred, whose session (@session_id; NULL: none) waits for it. */
void pg_adhoc_deferred_take (PgAdhocDeferred *deferred, PgStanza *reply, xmlNode *answer,
                             const char *session_id);
/* The session @id waits no more: ends it, or (@answer not NULL) adds the
 * executing stage @answer (a <command/>, copied) that allows @allowed, and
 * keeps it. FALSE when the session is gone (cancelled, ended). */
gboolean pg_adhoc_session_resume (PgAdhoc *adhoc, const char *id, const xmlNode *answer, guint allowed,
                                  PgAdhocAction execute);
/* <actions execute='…'>…</actions> as the first child of @command (§4.2). */
void pg_adhoc_add_actions (xmlNode *command, guint allowed, PgAdhocAction execute);

/* adhoc-disco.c: disco#items of the command list, disco#info of its nodes. */
void pg_adhoc_add_disco_routes (PgTransport *transport, PgAdhoc *adhoc);
