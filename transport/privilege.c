/* transport/privilege.c — XEP-0356 grants: reading them, answering the
 * roster pushes they bring, and wrapping privileged messages. */
#define G_LOG_DOMAIN "pg-privilege"
#include "build-config.h"

#include "transport/privilege.h"

#include <string.h>

struct PgPrivilege
{
  char *server;  /* the granting host server's domain; NULL: no grant */
  guint version; /* of the grant's namespace: 1 or 2; 0: no grant */
  PgPrivilegeAccess roster;
  gboolean roster_push;
  gboolean message_outgoing;
};

PgPrivilege *
pg_privilege_new (void)
{
  return g_new0 (PgPrivilege, 1);
}

void
pg_privilege_reset (PgPrivilege *priv)
{
  g_clear_pointer (&priv->server, g_free);
  priv->version = 0;
  priv->roster = PG_PRIVILEGE_NONE;
  priv->roster_push = FALSE;
  priv->message_outgoing = FALSE;
}

void
pg_privilege_free (PgPrivilege *priv)
{
  if (priv == NULL)
    return;
  pg_privilege_reset (priv);
  g_free (priv);
}

static const char *const access_names[] = {
  [PG_PRIVILEGE_NONE] = "none",
  [PG_PRIVILEGE_GET] = "get",
  [PG_PRIVILEGE_SET] = "set",
  [PG_PRIVILEGE_BOTH] = "both",
};

const char *
pg_privilege_access_to_string (PgPrivilegeAccess access)
{
  g_return_val_if_fail ((gsize)access < G_N_ELEMENTS (access_names), "none");
  return access_names[access];
}

/* XEP-0356 §4.1: a value outside the four is no permission. */
static PgPrivilegeAccess
parse_roster_type (const char *type)
{
  for (gsize i = 0; i < G_N_ELEMENTS (access_names); i++)
    if (g_strcmp0 (type, access_names[i]) == 0)
      return (PgPrivilegeAccess)i;
  if (type != NULL)
    g_message ("host server granted an unknown roster permission type '%s': taken as none", type);
  return PG_PRIVILEGE_NONE;
}

gboolean
pg_privilege_take_grant (PgPrivilege *priv, const char *server, const xmlNode *privilege)
{
  const char *ns = pg_stanza_get_ns (privilege);
  guint version;
  if (g_strcmp0 (ns, PG_NS_PRIVILEGE_2) == 0)
    version = 2;
  else if (g_strcmp0 (ns, PG_NS_PRIVILEGE_1) == 0)
    version = 1;
  else
    {
      g_info ("ignoring a grant in namespace %s from %s (obsolete or unknown)", ns ? ns : "(none)", server);
      return FALSE;
    }
  if (version < priv->version)
    {
      g_info ("ignoring a grant in %s from %s: this stream has one in %s", ns, server, PG_NS_PRIVILEGE_2);
      return FALSE;
    }

  pg_privilege_reset (priv);
  priv->server = g_strdup (server);
  priv->version = version;
  gboolean push_false = FALSE;
  for (const xmlNode *perm = privilege->children; perm != NULL; perm = perm->next)
    {
      if (!pg_stanza_is (perm, "perm", ns))
        continue;
      const char *access = pg_stanza_get_attr (perm, "access");
      const char *type = pg_stanza_get_attr (perm, "type");
      if (g_strcmp0 (access, "roster") == 0)
        {
          priv->roster = parse_roster_type (type);
          push_false = g_strcmp0 (pg_stanza_get_attr (perm, "push"), "false") == 0;
        }
      else if (g_strcmp0 (access, "message") == 0)
        priv->message_outgoing = g_strcmp0 (type, "outgoing") == 0;
    }
  /* §4.4: pushes are a :2 feature, on by default for get and both. */
  priv->roster_push = version == 2 && !push_false
                      && (priv->roster == PG_PRIVILEGE_GET || priv->roster == PG_PRIVILEGE_BOTH);
  return TRUE;
}

gboolean
pg_privilege_refuse_roster_set (PgPrivilege *priv)
{
  if (priv == NULL || (priv->roster != PG_PRIVILEGE_SET && priv->roster != PG_PRIVILEGE_BOTH))
    return FALSE;
  priv->roster = priv->roster == PG_PRIVILEGE_BOTH ? PG_PRIVILEGE_GET : PG_PRIVILEGE_NONE;
  return TRUE;
}

PgPrivilegeAccess
pg_privilege_roster (const PgPrivilege *priv)
{
  return priv != NULL ? priv->roster : PG_PRIVILEGE_NONE;
}

gboolean
pg_privilege_roster_push (const PgPrivilege *priv)
{
  return priv != NULL && priv->roster_push;
}

gboolean
pg_privilege_message_outgoing (const PgPrivilege *priv)
{
  return priv != NULL && priv->message_outgoing;
}

const char *
pg_privilege_namespace (const PgPrivilege *priv)
{
  if (priv == NULL || priv->version == 0)
    return NULL;
  return priv->version == 2 ? PG_NS_PRIVILEGE_2 : PG_NS_PRIVILEGE_1;
}

const char *
pg_privilege_server (const PgPrivilege *priv)
{
  return priv != NULL ? priv->server : NULL;
}

gboolean
pg_privilege_manages (const PgPrivilege *priv, const char *bare_jid)
{
  if (priv == NULL || priv->server == NULL || bare_jid == NULL)
    return FALSE;
  const char *at = strchr (bare_jid, '@');
  return at != NULL && at != bare_jid && strchr (at, '/') == NULL && strcmp (at + 1, priv->server) == 0;
}

/* A stanza built here has no namespace (it inherits the stream's); inside
 * <forwarded/> it must say jabber:client (XEP-0297 §4), and so must every
 * stanza nested deeper (a carbon's forwarded message), while their payload
 * children without a namespace inherit it. */
static gboolean
is_ns (const xmlNs *ns, const char *href)
{
  return ns != NULL && g_strcmp0 ((const char *)ns->href, href) == 0;
}

static void
set_client_ns (xmlNode *node, xmlNs *client)
{
  for (; node != NULL; node = node->next)
    {
      if (node->type != XML_ELEMENT_NODE)
        continue;
      /* A copy declares the stream's namespace it used: that declaration
       * becomes jabber:client, for the node and the children using it. */
      for (xmlNs *def = node->nsDef; def != NULL; def = def->next)
        if (def->prefix == NULL && is_ns (def, PG_NS_COMPONENT))
          {
            xmlFree ((xmlChar *)def->href);
            def->href = xmlStrdup ((const xmlChar *)PG_NS_CLIENT);
          }
      xmlNs *inner = is_ns (node->ns, PG_NS_CLIENT) ? node->ns : NULL;
      if (node->ns == NULL || is_ns (node->ns, PG_NS_COMPONENT))
        {
          if (client != NULL)
            xmlSetNs (node, inner = client);
          else if (pg_stanza_is (node, "message", NULL) || pg_stanza_is (node, "iq", NULL)
                   || pg_stanza_is (node, "presence", NULL))
            {
              inner = xmlNewNs (node, (const xmlChar *)PG_NS_CLIENT, NULL);
              if (inner != NULL)
                xmlSetNs (node, inner);
            }
        }
      set_client_ns (node->children, inner);
    }
}

xmlNode *
pg_privilege_wrap_message (const PgPrivilege *priv, const char *component, const char *server, xmlNode *inner)
{
  g_autoptr (PgStanza) owned = inner;
  if (!pg_privilege_message_outgoing (priv) || inner == NULL)
    return NULL;
  g_autoptr (PgStanza) outer = pg_stanza_new ("message", component, server, NULL, NULL);
  xmlNode *privilege = pg_stanza_add_child (outer, "privilege", pg_privilege_namespace (priv));
  xmlNode *forwarded = pg_stanza_add_child (privilege, "forwarded", PG_NS_FORWARD);
  xmlNode *copy = pg_stanza_add_copy (forwarded, inner);
  set_client_ns (copy, NULL);
  return g_steal_pointer (&outer);
}

/* ---- on the stream ---- */

/* The host server: the parent domain of the component's address. */
static const char *
host_server (PgTransport *transport)
{
  const char *dot = strchr (transport->config->component_jid, '.');
  return dot != NULL && dot[1] != '\0' ? dot + 1 : NULL;
}

static xmlNode *
find_privilege (const xmlNode *stanza)
{
  static const char *const namespaces[] = { PG_NS_PRIVILEGE_2, PG_NS_PRIVILEGE_1, PG_NS_PRIVILEGE_0 };
  for (gsize i = 0; i < G_N_ELEMENTS (namespaces); i++)
    {
      xmlNode *found = pg_stanza_find_child (stanza, "privilege", namespaces[i]);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
log_grant (const PgPrivilege *priv)
{
  g_info ("host server %s granted (%s): roster %s%s, message %s", priv->server, pg_privilege_namespace (priv),
          pg_privilege_access_to_string (priv->roster), priv->roster_push ? " with pushes" : "",
          priv->message_outgoing ? "outgoing" : "none");
}

static PgRouteResult
on_grant (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  if (strcmp (request->type, "error") == 0)
    return PG_PASS;
  xmlNode *privilege = find_privilege (request->stanza);
  if (privilege == NULL)
    return PG_PASS;
  const char *server = host_server (transport);
  /* §4.2: the grant comes from the server itself, a bare domain. Another
   * host of the same server may grant too: its users are not managed here
   * (§4.3), so its grant is left aside without an answer. */
  gboolean domain = pg_jid_get_node (request->from) == NULL && pg_jid_get_resource (request->from) == NULL;
  if (domain && g_strcmp0 (request->from_bare, server) != 0)
    {
      g_info ("ignoring a privilege grant from %s: privileges are used from the host server %s only",
              request->from_bare, server ? server : "(none: the component's address has no parent domain)");
      return PG_HANDLED;
    }
  if (!domain)
    {
      g_message ("refusing a privilege grant from %s: only the host server %s grants privileges",
                 request->from_bare,
                 server ? server : "(none: the component's address has no parent domain)");
      pg_router_reply_error (transport->router, request->stanza, PG_ERR_FORBIDDEN, PG_ERR_TYPE_DEFAULT,
                             "only the host server grants privileges");
      return PG_HANDLED;
    }
  if (pg_privilege_take_grant (transport->privilege, server, privilege))
    {
      log_grant (transport->privilege);
      if (transport->privilege_granted != NULL)
        transport->privilege_granted (transport);
    }
  return PG_HANDLED;
}

/* RFC 6121 §2.1.6 and XEP-0356 §4.4: a roster push from a managed user's
 * bare JID gets an empty result. purplegate reads the roster itself when
 * it needs it, so the push's content changes nothing here. */
static PgRouteResult
on_roster_push (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  if (pg_jid_get_resource (request->from) != NULL
      || !pg_privilege_manages (transport->privilege, request->from_bare))
    return PG_PASS;
  g_debug ("roster push from %s", request->from_bare);
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_MESSAGE, NULL, NULL, NULL, PG_TARGET_DOMAIN, on_grant },
  { PG_KIND_IQ, "set", PG_NS_ROSTER, "query", PG_TARGET_DOMAIN, on_roster_push },
};

void
pg_privilege_register (PgTransport *transport)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
}

void
pg_privilege_link_down (PgTransport *transport)
{
  if (transport->privilege != NULL && transport->privilege->server != NULL)
    g_info ("privileges of %s end with the stream", transport->privilege->server);
  pg_privilege_reset (transport->privilege);
}
