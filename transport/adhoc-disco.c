/* transport/adhoc-disco.c — XEP-0050 §2.2: the command list on node
 * http://jabber.org/protocol/commands (only what the requester may run) and
 * disco#info of the list and of each command node. Other nodes pass on. */
#define G_LOG_DOMAIN "pg-adhoc"
#include "build-config.h"

#include "transport/adhoc-private.h"

#include "transport/disco.h"

static PgRouteResult
on_items (const PgRouteRequest *request, gpointer user_data)
{
  PgAdhoc *adhoc = user_data;
  const char *node = pg_stanza_get_attr (request->payload, "node");
  if (g_strcmp0 (node, PG_ADHOC_NODE_LIST) != 0)
    return PG_PASS;
  g_autoptr (PgStanza) reply = pg_adhoc_new_result (adhoc, request);
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_DISCO_ITEMS);
  pg_stanza_set_attr (query, "node", node);
  /* Registration is looked up once, and only when a command needs it. */
  int registered = -1;
  for (guint i = 0; i < adhoc->commands->len; i++)
    {
      const PgAdhocCommand *command = g_ptr_array_index (adhoc->commands, i);
      gboolean allowed;
      PgErrorCondition refusal;
      if (command->access != PG_ADHOC_ACCESS_REGISTERED)
        allowed = pg_adhoc_may_run (adhoc, command, request->from_bare, &refusal);
      else
        {
          if (registered < 0)
            registered = pg_adhoc_may_run (adhoc, command, request->from_bare, &refusal);
          allowed = registered;
        }
      if (!allowed)
        continue;
      xmlNode *item = pg_stanza_add_child (query, "item", NULL);
      pg_stanza_set_attr (item, "jid", adhoc->transport->config->component_jid);
      pg_stanza_set_attr (item, "node", command->node);
      pg_stanza_set_attr (item, "name", pg_adhoc_translate (adhoc, request->lang, command->name));
    }
  pg_adhoc_send (adhoc, reply);
  return PG_HANDLED;
}

static PgRouteResult
on_info (const PgRouteRequest *request, gpointer user_data)
{
  PgAdhoc *adhoc = user_data;
  const char *node = pg_stanza_get_attr (request->payload, "node");
  const PgAdhocCommand *command = pg_adhoc_lookup_command (adhoc, node);
  if (g_strcmp0 (node, PG_ADHOC_NODE_LIST) != 0 && command == NULL)
    return PG_PASS;
  PgErrorCondition refusal;
  if (command != NULL && !pg_adhoc_may_run (adhoc, command, request->from_bare, &refusal))
    {
      /* §2.2: not permitted → forbidden, whatever the reason. */
      pg_adhoc_reply_error (adhoc, request, PG_ERR_FORBIDDEN, PG_ERR_TYPE_DEFAULT, NULL, NULL);
      return PG_HANDLED;
    }
  g_autoptr (PgStanza) reply = pg_adhoc_new_result (adhoc, request);
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_DISCO_INFO);
  pg_stanza_set_attr (query, "node", node);
  xmlNode *identity = pg_stanza_add_child (query, "identity", NULL);
  pg_stanza_set_attr (identity, "category", "automation");
  if (command == NULL)
    pg_stanza_set_attr (identity, "type", "command-list");
  else
    {
      pg_stanza_set_attr (identity, "type", "command-node");
      pg_stanza_set_attr (identity, "name", pg_adhoc_translate (adhoc, request->lang, command->name));
    }
  static const char *const node_features[] = { PG_NS_COMMANDS, PG_NS_DATA };
  for (guint i = 0; i < G_N_ELEMENTS (node_features); i++)
    pg_stanza_set_attr (pg_stanza_add_child (query, "feature", NULL), "var", node_features[i]);
  pg_adhoc_send (adhoc, reply);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_IQ, "get", PG_NS_DISCO_ITEMS, "query", PG_TARGET_DOMAIN, on_items },
  { PG_KIND_IQ, "get", PG_NS_DISCO_INFO, "query", PG_TARGET_DOMAIN, on_info },
};

void
pg_adhoc_add_disco_routes (PgTransport *transport, PgAdhoc *adhoc)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), adhoc);
}

GPtrArray *
pg_adhoc_dup_command_names (PgTransport *transport, const char *bare_jid, const char *lang)
{
  PgAdhoc *adhoc = transport->adhoc;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; adhoc != NULL && i < adhoc->commands->len; i++)
    {
      const PgAdhocCommand *command = g_ptr_array_index (adhoc->commands, i);
      PgErrorCondition refusal;
      if (pg_adhoc_may_run (adhoc, command, bare_jid, &refusal))
        g_ptr_array_add (names, g_strdup_printf ("%s (%s)", pg_adhoc_translate (adhoc, lang, command->name),
                                                 command->node));
    }
  return names;
}
