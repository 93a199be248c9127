/* transport/router.h — dispatch of inbound stanzas by table.
 *
 * Feature modules add rows {kind, type, xmlns, element, target, handler} and
 * the disco features those rows implement, together, in their
 * pg_<module>_register() function. What no row takes: iq get/set get
 * <service-unavailable/>, results and errors are never answered, the rest is
 * dropped with a debug line. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#include "transport/jid.h"
#include "transport/stanza.h"

typedef enum
{
  PG_PASS,
  PG_HANDLED,
} PgRouteResult;

typedef enum
{
  PG_KIND_IQ = 1 << 0,
  PG_KIND_MESSAGE = 1 << 1,
  PG_KIND_PRESENCE = 1 << 2,
} PgStanzaKind;

typedef enum
{
  PG_TARGET_DOMAIN = 1 << 0,  /* the component's own address */
  PG_TARGET_CONTACT = 1 << 1, /* node@component, any resource */
  PG_TARGET_ANY = PG_TARGET_DOMAIN | PG_TARGET_CONTACT,
} PgRouteTarget;

/* What the router learned about a stanza; valid during the handler call. */
typedef struct
{
  xmlNode *stanza;
  PgStanzaKind kind;
  const char *type;      /* "get", "chat", "subscribe"…; "" for none */
  const char *id;        /* NULL when absent */
  const PgJid *from;     /* prepared */
  const PgJid *to;       /* prepared; its domain is the component's */
  const char *from_bare; /* prepared bare JID of the sender */
  xmlNode *payload;      /* iq: the single child element; else NULL */
  const char *lang;      /* xml:lang of the stanza, or NULL */
} PgRouteRequest;

typedef PgRouteResult (*PgRouteHandler) (const PgRouteRequest *request, gpointer user_data);

typedef struct
{
  PgStanzaKind kind;
  const char *type;    /* NULL: any type */
  const char *xmlns;   /* iq: payload namespace; message/presence: NULL */
  const char *element; /* iq: payload name, NULL for any */
  PgRouteTarget target;
  PgRouteHandler handler;
} PgRoute;

typedef void (*PgSendFunc) (const xmlNode *stanza, gpointer user_data);
/* Called for iq results/errors addressed to us, by id. */
typedef void (*PgResponseFunc) (const PgRouteRequest *response, gpointer user_data);

typedef struct PgRouter PgRouter;

/* @send delivers the router's own error replies; @domain is the component's
 * prepared domain. Caller owns the router (pg_router_free). */
PgRouter *pg_router_new (const char *domain, PgSendFunc send, gpointer send_data);
void pg_router_free (PgRouter *router);

/* Adds @n_routes rows (the array is borrowed and must be static); handlers get
 * @user_data. Earlier rows win. */
void pg_router_add_routes (PgRouter *router, const PgRoute *routes, gsize n_routes, gpointer user_data);
/* Adds disco#info features of the component's address (NULL-terminated). */
void pg_router_add_features (PgRouter *router, const char *const *features);
/* The sorted, duplicate-free feature list. Borrowed. */
const char *const *pg_router_get_features (PgRouter *router);

/* Waits for the answer to an iq we sent with @id; @callback runs once. */
void pg_router_expect_response (PgRouter *router, const char *id, PgResponseFunc callback,
                                gpointer user_data);
void pg_router_cancel_response (PgRouter *router, const char *id);

/* Dispatches @stanza (borrowed). */
void pg_router_dispatch (PgRouter *router, xmlNode *stanza);
/* Sends @stanza (borrowed) through the router's send function. */
void pg_router_send (PgRouter *router, const xmlNode *stanza);
/* Sends the error reply to @request's stanza, unless it is itself an error
 * or an iq result. */
void pg_router_reply_error (PgRouter *router, const xmlNode *stanza, PgErrorCondition condition,
                            PgErrorType type, const char *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgRouter, pg_router_free)
