/* transport/stanza.c — stanza builders, accessors, serialiser and errors. */
#define G_LOG_DOMAIN "pg-stanza"
#include "build-config.h"

#include "transport/stanza.h"
#include "transport/xml-writer.h"

#include <string.h>

static const struct
{
  const char *name;
  PgErrorType type;
  const char *code; /* XEP-0086 legacy code; XEP-0077 §9 needs it on iq:register */
} conditions[] = {
  [PG_ERR_BAD_REQUEST] = { "bad-request", PG_ERR_TYPE_MODIFY, "400" },
  [PG_ERR_CONFLICT] = { "conflict", PG_ERR_TYPE_CANCEL, "409" },
  [PG_ERR_FEATURE_NOT_IMPLEMENTED] = { "feature-not-implemented", PG_ERR_TYPE_CANCEL, "501" },
  [PG_ERR_FORBIDDEN] = { "forbidden", PG_ERR_TYPE_AUTH, "403" },
  [PG_ERR_INTERNAL_SERVER_ERROR] = { "internal-server-error", PG_ERR_TYPE_CANCEL, "500" },
  [PG_ERR_ITEM_NOT_FOUND] = { "item-not-found", PG_ERR_TYPE_CANCEL, "404" },
  [PG_ERR_JID_MALFORMED] = { "jid-malformed", PG_ERR_TYPE_MODIFY, "400" },
  [PG_ERR_NOT_ACCEPTABLE] = { "not-acceptable", PG_ERR_TYPE_MODIFY, "406" },
  [PG_ERR_NOT_ALLOWED] = { "not-allowed", PG_ERR_TYPE_CANCEL, "405" },
  [PG_ERR_NOT_AUTHORIZED] = { "not-authorized", PG_ERR_TYPE_AUTH, "401" },
  [PG_ERR_POLICY_VIOLATION] = { "policy-violation", PG_ERR_TYPE_MODIFY, NULL },
  [PG_ERR_RECIPIENT_UNAVAILABLE] = { "recipient-unavailable", PG_ERR_TYPE_WAIT, "404" },
  [PG_ERR_REGISTRATION_REQUIRED] = { "registration-required", PG_ERR_TYPE_AUTH, "407" },
  [PG_ERR_REMOTE_SERVER_NOT_FOUND] = { "remote-server-not-found", PG_ERR_TYPE_CANCEL, "404" },
  [PG_ERR_REMOTE_SERVER_TIMEOUT] = { "remote-server-timeout", PG_ERR_TYPE_WAIT, "504" },
  [PG_ERR_RESOURCE_CONSTRAINT] = { "resource-constraint", PG_ERR_TYPE_WAIT, "500" },
  [PG_ERR_SERVICE_UNAVAILABLE] = { "service-unavailable", PG_ERR_TYPE_CANCEL, "503" },
  [PG_ERR_UNDEFINED_CONDITION] = { "undefined-condition", PG_ERR_TYPE_CANCEL, "500" },
  [PG_ERR_UNEXPECTED_REQUEST] = { "unexpected-request", PG_ERR_TYPE_WAIT, "400" },
};

static const char *const type_names[] = {
  [PG_ERR_TYPE_AUTH] = "auth",     [PG_ERR_TYPE_CANCEL] = "cancel", [PG_ERR_TYPE_CONTINUE] = "continue",
  [PG_ERR_TYPE_MODIFY] = "modify", [PG_ERR_TYPE_WAIT] = "wait",
};

const char *
pg_error_condition_to_string (PgErrorCondition condition)
{
  g_return_val_if_fail ((gsize)condition < G_N_ELEMENTS (conditions), "undefined-condition");
  return conditions[condition].name;
}

const char *
pg_error_type_to_string (PgErrorType type, PgErrorCondition condition)
{
  g_return_val_if_fail ((gsize)condition < G_N_ELEMENTS (conditions), "cancel");
  if (type == PG_ERR_TYPE_DEFAULT)
    type = conditions[condition].type;
  return type_names[type];
}

PgStanza *
pg_stanza_new (const char *name, const char *from, const char *to, const char *type, const char *id)
{
  xmlDoc *doc = xmlNewDoc ((const xmlChar *)"1.0");
  xmlNode *node = xmlNewDocNode (doc, NULL, (const xmlChar *)name, NULL);
  xmlDocSetRootElement (doc, node);
  pg_stanza_set_attr (node, "from", from);
  pg_stanza_set_attr (node, "to", to);
  pg_stanza_set_attr (node, "type", type);
  pg_stanza_set_attr (node, "id", id);
  return node;
}

PgStanza *
pg_stanza_new_iq_result (const xmlNode *request)
{
  return pg_stanza_new ("iq", pg_stanza_get_attr (request, "to"), pg_stanza_get_attr (request, "from"),
                        "result", pg_stanza_get_attr (request, "id"));
}

PgStanza *
pg_stanza_copy (const xmlNode *stanza)
{
  xmlDoc *doc = xmlNewDoc ((const xmlChar *)"1.0");
  xmlNode *copy = xmlDocCopyNode ((xmlNode *)stanza, doc, 1);
  xmlDocSetRootElement (doc, copy);
  return copy;
}

void
pg_stanza_free (PgStanza *stanza)
{
  if (stanza == NULL)
    return;
  if (stanza->doc != NULL && xmlDocGetRootElement (stanza->doc) == stanza)
    xmlFreeDoc (stanza->doc);
  else
    xmlFreeNode (stanza);
}

void
pg_stanza_set_attr (xmlNode *node, const char *name, const char *value)
{
  if (value == NULL)
    return;
  if (strcmp (name, "xml:lang") == 0)
    {
      xmlNodeSetLang (node, (const xmlChar *)value);
      return;
    }
  xmlSetProp (node, (const xmlChar *)name, (const xmlChar *)value);
}

xmlNode *
pg_stanza_add_child (xmlNode *parent, const char *name, const char *xmlns)
{
  xmlNode *child = xmlNewDocNode (parent->doc, NULL, (const xmlChar *)name, NULL);
  xmlAddChild (parent, child);
  xmlNs *in_scope = xmlSearchNs (parent->doc, parent, NULL);
  if (xmlns == NULL)
    xmlSetNs (child, in_scope);
  else if (in_scope != NULL && xmlStrEqual (in_scope->href, (const xmlChar *)xmlns))
    xmlSetNs (child, in_scope);
  else
    xmlSetNs (child, xmlNewNs (child, (const xmlChar *)xmlns, NULL));
  return child;
}

xmlNode *
pg_stanza_add_text_child (xmlNode *parent, const char *name, const char *xmlns, const char *text)
{
  xmlNode *child = pg_stanza_add_child (parent, name, xmlns);
  if (text != NULL && *text != '\0')
    xmlAddChild (child, xmlNewDocText (parent->doc, (const xmlChar *)text));
  return child;
}

xmlNode *
pg_stanza_add_copy (xmlNode *parent, const xmlNode *node)
{
  /* xmlDocCopyNode already declares on the copy the namespaces @node uses from
   * above it, so the copy stands alone. No xmlReconciliateNs: it renames every
   * namespace declared inside the copy to a "defaultN" prefix, gives up after
   * 1000, and costs seconds for a payload with thousands of namespaces. */
  xmlNode *copy = xmlDocCopyNode ((xmlNode *)node, parent->doc, 1);
  xmlAddChild (parent, copy);
  return copy;
}

const char *
pg_stanza_get_attr (const xmlNode *node, const char *name)
{
  for (const xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    {
      if (attr->ns == NULL && strcmp ((const char *)attr->name, name) == 0)
        {
          if (attr->children == NULL)
            return "";
          return (const char *)attr->children->content;
        }
    }
  return NULL;
}

const char *
pg_stanza_get_lang (const xmlNode *node)
{
  for (const xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    {
      if (attr->ns != NULL && xmlStrEqual (attr->ns->href, (const xmlChar *)PG_NS_XML)
          && strcmp ((const char *)attr->name, "lang") == 0)
        return attr->children != NULL ? (const char *)attr->children->content : "";
    }
  return NULL;
}

const char *
pg_stanza_get_ns (const xmlNode *node)
{
  return node->ns != NULL ? (const char *)node->ns->href : NULL;
}

gboolean
pg_stanza_is (const xmlNode *node, const char *name, const char *xmlns)
{
  if (node == NULL || node->type != XML_ELEMENT_NODE)
    return FALSE;
  if (strcmp ((const char *)node->name, name) != 0)
    return FALSE;
  return xmlns == NULL || g_strcmp0 (pg_stanza_get_ns (node), xmlns) == 0;
}

xmlNode *
pg_stanza_find_child (const xmlNode *node, const char *name, const char *xmlns)
{
  for (xmlNode *child = node->children; child != NULL; child = child->next)
    if (pg_stanza_is (child, name, xmlns))
      return child;
  return NULL;
}

xmlNode *
pg_stanza_first_element (const xmlNode *node)
{
  for (xmlNode *child = node->children; child != NULL; child = child->next)
    if (child->type == XML_ELEMENT_NODE)
      return child;
  return NULL;
}

guint
pg_stanza_count_elements (const xmlNode *node)
{
  guint n = 0;
  for (xmlNode *child = node->children; child != NULL; child = child->next)
    n += child->type == XML_ELEMENT_NODE;
  return n;
}

static void
collect_text (const xmlNode *node, GString *out)
{
  for (const xmlNode *child = node->children; child != NULL; child = child->next)
    {
      if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE)
        g_string_append (out, (const char *)child->content);
      else if (child->type == XML_ELEMENT_NODE)
        collect_text (child, out);
    }
}

char *
pg_stanza_dup_text (const xmlNode *node)
{
  GString *out = g_string_new (NULL);
  collect_text (node, out);
  return g_string_free (out, FALSE);
}

char *
pg_stanza_dup_child_text (const xmlNode *node, const char *name, const char *xmlns)
{
  xmlNode *child = pg_stanza_find_child (node, name, xmlns);
  return child != NULL ? pg_stanza_dup_text (child) : NULL;
}

/* ---- serialisation ---- */

typedef struct Binding
{
  const char *prefix; /* NULL: default namespace */
  const char *href;
  const struct Binding *outer;
} Binding;

static const char *
lookup_binding (const Binding *scope, const char *prefix)
{
  for (; scope != NULL; scope = scope->outer)
    if (g_strcmp0 (scope->prefix, prefix) == 0)
      return scope->href;
  return NULL;
}

static void
append_qname (GString *out, const xmlNs *ns, const xmlChar *name)
{
  if (ns != NULL && ns->prefix != NULL)
    {
      g_string_append (out, (const char *)ns->prefix);
      g_string_append_c (out, ':');
    }
  g_string_append (out, (const char *)name);
}

static void
declare (GString *out, const xmlNs *ns)
{
  g_string_append (out, ns->prefix != NULL ? " xmlns:" : " xmlns");
  if (ns->prefix != NULL)
    g_string_append (out, (const char *)ns->prefix);
  g_string_append (out, "='");
  pg_xml_append_escaped (out, (const char *)ns->href, TRUE);
  g_string_append_c (out, '\'');
}

static void
serialize_element (const xmlNode *node, GString *out, const Binding *scope)
{
  /* One namespace for the element and one per attribute at most; peers choose
   * how many, so size the arrays per element (a fixed size left prefixes
   * undeclared). */
  gsize n_max = 1;
  for (const xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    n_max++;
  g_autofree Binding *bindings = g_new (Binding, n_max);
  g_autofree const xmlNs **needed = g_new (const xmlNs *, n_max);
  guint n_bindings = 0;
  const Binding *inner = scope;

  g_string_append_c (out, '<');
  append_qname (out, node->ns, node->name);

  /* Declare what the element and its attributes use and the output does not
   * have in scope yet; declarations nothing uses are dropped. */
  guint n_needed = 0;
  if (node->ns != NULL)
    needed[n_needed++] = node->ns;
  for (const xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    if (attr->ns != NULL && attr->ns->prefix != NULL)
      needed[n_needed++] = attr->ns;
  for (guint i = 0; i < n_needed; i++)
    {
      const char *prefix = (const char *)needed[i]->prefix;
      const char *href = (const char *)needed[i]->href;
      if (g_strcmp0 (lookup_binding (inner, prefix), href) == 0)
        continue;
      declare (out, needed[i]);
      bindings[n_bindings] = (Binding){ prefix, href, inner };
      inner = &bindings[n_bindings++];
    }

  for (const xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    {
      g_string_append_c (out, ' ');
      append_qname (out, attr->ns, attr->name);
      g_string_append (out, "='");
      for (const xmlNode *text = attr->children; text != NULL; text = text->next)
        if (text->content != NULL)
          pg_xml_append_escaped (out, (const char *)text->content, TRUE);
      g_string_append_c (out, '\'');
    }

  if (node->children == NULL)
    {
      g_string_append (out, "/>");
      return;
    }
  g_string_append_c (out, '>');
  for (const xmlNode *child = node->children; child != NULL; child = child->next)
    {
      if (child->type == XML_ELEMENT_NODE)
        serialize_element (child, out, inner);
      else if ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE)
               && child->content != NULL)
        pg_xml_append_escaped (out, (const char *)child->content, FALSE);
    }
  g_string_append (out, "</");
  append_qname (out, node->ns, node->name);
  g_string_append_c (out, '>');
}

void
pg_stanza_serialize (const xmlNode *node, GString *out)
{
  /* The stream header binds the default namespace and every document binds
   * "xml"; stanzas never repeat those. */
  const Binding xml_binding = { "xml", PG_NS_XML, NULL };
  const Binding stream_default = { NULL, PG_NS_COMPONENT, &xml_binding };
  serialize_element (node, out, &stream_default);
}

char *
pg_stanza_to_string (const xmlNode *node)
{
  GString *out = g_string_sized_new (256);
  pg_stanza_serialize (node, out);
  return g_string_free (out, FALSE);
}

/* ---- errors ---- */

PgStanza *
pg_stanza_error_reply (const xmlNode *stanza, PgErrorCondition condition, PgErrorType type, const char *text)
{
  g_return_val_if_fail ((gsize)condition < G_N_ELEMENTS (conditions), NULL);
  PgStanza *reply
      = pg_stanza_new ((const char *)stanza->name, pg_stanza_get_attr (stanza, "to"),
                       pg_stanza_get_attr (stanza, "from"), "error", pg_stanza_get_attr (stanza, "id"));

  if (strcmp ((const char *)stanza->name, "iq") == 0)
    {
      xmlNode *payload = pg_stanza_first_element (stanza);
      if (payload != NULL && g_strcmp0 (pg_stanza_get_ns (payload), "jabber:iq:register") == 0)
        pg_stanza_add_child (reply, (const char *)payload->name, "jabber:iq:register");
      else if (payload != NULL)
        pg_stanza_add_copy (reply, payload);
    }

  xmlNode *error = pg_stanza_add_child (reply, "error", NULL);
  pg_stanza_set_attr (error, "type", pg_error_type_to_string (type, condition));
  pg_stanza_set_attr (error, "code", conditions[condition].code);
  pg_stanza_add_child (error, conditions[condition].name, PG_NS_STANZAS);
  if (text != NULL)
    {
      xmlNode *text_node = pg_stanza_add_text_child (error, "text", PG_NS_STANZAS, text);
      pg_stanza_set_attr (text_node, "xml:lang", "en");
    }
  return reply;
}

xmlNode *
pg_stanza_get_error (const xmlNode *stanza)
{
  /* In the stanza's own namespace, and the last one: the payload an iq error
   * echoes comes first and may be named error too (<error xmlns='urn:x'/>). */
  xmlNode *error = NULL;
  for (xmlNode *child = stanza->children; child != NULL; child = child->next)
    if (pg_stanza_is (child, "error", NULL)
        && g_strcmp0 (pg_stanza_get_ns (child), pg_stanza_get_ns (stanza)) == 0)
      error = child;
  return error;
}
