/* transport/router.c — table-driven stanza dispatch. */
#define G_LOG_DOMAIN "pg-router"
#include "build-config.h"

#include "transport/router.h"

#include <string.h>

typedef struct
{
  const PgRoute *route;
  gpointer user_data;
} Row;

typedef struct
{
  PgResponseFunc callback;
  gpointer user_data;
} Pending;

struct PgRouter
{
  char *domain;
  PgSendFunc send;
  gpointer send_data;
  GArray *rows;        /* Row */
  GPtrArray *features; /* sorted, unique, NULL-terminated */
  GHashTable *pending; /* id → Pending */
};

static const char *const presence_types[] = {
  "", "error", "probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed",
};

PgRouter *
pg_router_new (const char *domain, PgSendFunc send, gpointer send_data)
{
  PgRouter *router = g_new0 (PgRouter, 1);
  router->domain = g_strdup (domain);
  router->send = send;
  router->send_data = send_data;
  router->rows = g_array_new (FALSE, FALSE, sizeof (Row));
  router->features = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (router->features, NULL);
  router->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return router;
}

void
pg_router_free (PgRouter *router)
{
  if (router == NULL)
    return;
  g_array_unref (router->rows);
  g_ptr_array_unref (router->features);
  g_hash_table_unref (router->pending);
  g_free (router->domain);
  g_free (router);
}

void
pg_router_add_routes (PgRouter *router, const PgRoute *routes, gsize n_routes, gpointer user_data)
{
  for (gsize i = 0; i < n_routes; i++)
    {
      Row row = { &routes[i], user_data };
      g_array_append_val (router->rows, row);
    }
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

void
pg_router_add_features (PgRouter *router, const char *const *features)
{
  g_ptr_array_remove_index (router->features, router->features->len - 1);
  for (guint i = 0; features[i] != NULL; i++)
    {
      gboolean known = FALSE;
      for (guint j = 0; j < router->features->len && !known; j++)
        known = strcmp (g_ptr_array_index (router->features, j), features[i]) == 0;
      if (!known)
        g_ptr_array_add (router->features, g_strdup (features[i]));
    }
  g_ptr_array_sort (router->features, compare_strings);
  g_ptr_array_add (router->features, NULL);
}

const char *const *
pg_router_get_features (PgRouter *router)
{
  return (const char *const *)router->features->pdata;
}

void
pg_router_expect_response (PgRouter *router, const char *id, PgResponseFunc callback, gpointer user_data)
{
  Pending *pending = g_new0 (Pending, 1);
  pending->callback = callback;
  pending->user_data = user_data;
  g_hash_table_replace (router->pending, g_strdup (id), pending);
}

void
pg_router_cancel_response (PgRouter *router, const char *id)
{
  g_hash_table_remove (router->pending, id);
}

void
pg_router_send (PgRouter *router, const xmlNode *stanza)
{
  router->send (stanza, router->send_data);
}

void
pg_router_reply_error (PgRouter *router, const xmlNode *stanza, PgErrorCondition condition, PgErrorType type,
                       const char *text)
{
  const char *stanza_type = pg_stanza_get_attr (stanza, "type");
  /* Errors are never answered, and neither are iq results (no loops). */
  if (g_strcmp0 (stanza_type, "error") == 0
      || (pg_stanza_is (stanza, "iq", NULL) && g_strcmp0 (stanza_type, "result") == 0))
    return;
  g_autoptr (PgStanza) reply = pg_stanza_error_reply (stanza, condition, type, text);
  pg_router_send (router, reply);
}

static PgStanzaKind
kind_of (const xmlNode *stanza)
{
  const char *ns = pg_stanza_get_ns (stanza);
  if (g_strcmp0 (ns, PG_NS_COMPONENT) != 0 && g_strcmp0 (ns, PG_NS_CLIENT) != 0)
    return 0;
  if (strcmp ((const char *)stanza->name, "iq") == 0)
    return PG_KIND_IQ;
  if (strcmp ((const char *)stanza->name, "message") == 0)
    return PG_KIND_MESSAGE;
  if (strcmp ((const char *)stanza->name, "presence") == 0)
    return PG_KIND_PRESENCE;
  return 0;
}

static gboolean
row_matches (const PgRoute *route, const PgRouteRequest *request, PgRouteTarget target)
{
  if (!(route->kind & request->kind) || !(route->target & target))
    return FALSE;
  if (route->type != NULL && strcmp (route->type, request->type) != 0)
    return FALSE;
  if (request->kind == PG_KIND_IQ)
    {
      if (route->xmlns != NULL && g_strcmp0 (route->xmlns, pg_stanza_get_ns (request->payload)) != 0)
        return FALSE;
      if (route->element != NULL && strcmp (route->element, (const char *)request->payload->name) != 0)
        return FALSE;
    }
  return TRUE;
}

static void
answer_response (PgRouter *router, const PgRouteRequest *request)
{
  Pending *pending = NULL;
  g_autofree char *id = NULL;
  if (request->id == NULL
      || !g_hash_table_steal_extended (router->pending, request->id, (gpointer *)&id, (gpointer *)&pending))
    {
      g_debug ("iq %s with unknown id from %s ignored", request->type, request->from_bare);
      return;
    }
  pending->callback (request, pending->user_data);
  g_free (pending);
}

void
pg_router_dispatch (PgRouter *router, xmlNode *stanza)
{
  PgStanzaKind kind = kind_of (stanza);
  if (kind == 0)
    {
      g_debug ("ignoring <%s/> outside the stanza namespaces", (const char *)stanza->name);
      return;
    }
  const char *type = pg_stanza_get_attr (stanza, "type");
  const char *to_text = pg_stanza_get_attr (stanza, "to");
  const char *from_text = pg_stanza_get_attr (stanza, "from");

  g_autoptr (PgJid) to = to_text != NULL ? pg_jid_parse (to_text, NULL) : NULL;
  if (to == NULL || strcmp (pg_jid_get_domain (to), router->domain) != 0)
    {
      /* The server routes only our domain to us: anything else is spoofed or
       * misrouted, and answering it would let it bounce around. */
      g_warning ("dropping <%s/> addressed to '%s', not to %s", (const char *)stanza->name,
                 to_text ? to_text : "", router->domain);
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (PgJid) from = from_text != NULL ? pg_jid_parse (from_text, &error) : NULL;
  if (from == NULL)
    {
      g_info ("<%s/> with a malformed sender '%s': %s", (const char *)stanza->name,
              from_text ? from_text : "", error ? error->message : "missing");
      if (from_text != NULL)
        pg_router_reply_error (router, stanza, PG_ERR_JID_MALFORMED, PG_ERR_TYPE_DEFAULT, NULL);
      return;
    }
  g_autofree char *from_bare = pg_jid_dup_bare (from);

  PgRouteRequest request = {
    .stanza = stanza,
    .kind = kind,
    .type = type != NULL ? type : "",
    .id = pg_stanza_get_attr (stanza, "id"),
    .from = from,
    .to = to,
    .from_bare = from_bare,
    .lang = pg_stanza_get_lang (stanza),
  };
  PgRouteTarget target = pg_jid_get_node (to) == NULL ? PG_TARGET_DOMAIN : PG_TARGET_CONTACT;

  if (kind == PG_KIND_IQ)
    {
      if (strcmp (request.type, "result") == 0 || strcmp (request.type, "error") == 0)
        {
          answer_response (router, &request);
          return;
        }
      if (strcmp (request.type, "get") != 0 && strcmp (request.type, "set") != 0)
        {
          pg_router_reply_error (router, stanza, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT, "unknown iq type");
          return;
        }
      if (pg_stanza_count_elements (stanza) != 1)
        {
          pg_router_reply_error (router, stanza, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT,
                                 "an iq get or set carries exactly one child element");
          return;
        }
      request.payload = pg_stanza_first_element (stanza);
    }
  else if (kind == PG_KIND_PRESENCE)
    {
      gboolean known = FALSE;
      for (guint i = 0; i < G_N_ELEMENTS (presence_types) && !known; i++)
        known = strcmp (presence_types[i], request.type) == 0;
      if (!known)
        {
          pg_router_reply_error (router, stanza, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT,
                                 "unknown presence type");
          return;
        }
    }
  else if (strcmp (request.type, "chat") != 0 && strcmp (request.type, "error") != 0
           && strcmp (request.type, "groupchat") != 0 && strcmp (request.type, "headline") != 0)
    request.type = "normal"; /* RFC 6121 §5.2.2 */

  for (guint i = 0; i < router->rows->len; i++)
    {
      const Row *row = &g_array_index (router->rows, Row, i);
      if (row_matches (row->route, &request, target)
          && row->route->handler (&request, row->user_data) == PG_HANDLED)
        return;
    }

  if (kind == PG_KIND_IQ)
    pg_router_reply_error (router, stanza, PG_ERR_SERVICE_UNAVAILABLE, PG_ERR_TYPE_DEFAULT, NULL);
  else
    g_debug ("no handler for <%s type='%s'/> from %s", (const char *)stanza->name, request.type, from_bare);
}
