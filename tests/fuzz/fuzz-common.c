/* tests/fuzz/fuzz-common.c — shared helpers of the fuzz targets. */
#define G_LOG_DOMAIN "pg-fuzz"

#include "tests/fuzz/fuzz-common.h"

#include "transport/stanza.h"
#include "transport/xml-parser.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pg_fuzz_fail (const char *file, int line, const char *cond, const char *format, ...)
{
  va_list args;

  fprintf (stderr, "%s:%d: property broken: %s\n", file, line, cond);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
  abort ();
}

/* Warnings and worse are findings: print them and abort (SIGABRT, which
 * libFuzzer reports; GLib's own fatal path raises SIGTRAP, which it does
 * not). Everything else is noise at millions of executions a minute. */
static void
on_log (const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
  if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) == 0)
    return;
  /* GLib 2.74's GKeyFile sets its GError twice for a value with an invalid
   * escape and a '\' at the end ("a\d b\"): g_key_file_parse_value_as_string()
   * does not clear the first error before "escape character at end of line".
   * GLib warns and keeps the first error; harmless, and not ours. */
  if (g_strcmp0 (domain, "GLib") == 0 && strstr (message, "GError set over the top") != NULL
      && strstr (message, "Key file contains") != NULL)
    return;
  fprintf (stderr, "%s: %s\n", domain != NULL ? domain : "(no domain)", message);
  abort ();
}

void
pg_fuzz_init (void)
{
  static gsize done;

  if (!g_once_init_enter (&done))
    return;
  xmlInitParser ();
  g_log_set_default_handler (on_log, NULL);
  g_once_init_leave (&done, 1);
}

void
pg_fuzz_input_done (void)
{
  xmlResetLastError ();
}

guint32
pg_fuzz_hash (const uint8_t *data, size_t size)
{
  guint32 h = 2166136261u;

  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 16777619u;
  return h;
}

char *
pg_fuzz_dup_string (const uint8_t *data, size_t size)
{
  return g_strndup ((const char *)data, size);
}

/* ---- the stream parser over a whole buffer ---- */

static void
collect_stanza (xmlNode *stanza, gpointer user_data)
{
  g_ptr_array_add (user_data, stanza);
}

static const PgXmlParserCallbacks collect_callbacks = {
  .stanza = collect_stanza,
};

GPtrArray *
pg_fuzz_parse_stanzas (const uint8_t *data, size_t size)
{
  GPtrArray *stanzas = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  g_autoptr (PgXmlParser) parser = pg_xml_parser_new (&collect_callbacks, stanzas, 0);

  if (pg_xml_parser_feed (parser, PG_FUZZ_HEADER, strlen (PG_FUZZ_HEADER), NULL) && size > 0)
    pg_xml_parser_feed (parser, (const char *)data, size, NULL);
  return stanzas;
}

/* ---- comparing trees ---- */

/* The namespace @node is in as the serialiser means it: a NULL ns inherits
 * the parent's (the stream's default at the top) in trees built by
 * transport/stanza.c, while under an element with a namespace it is "no
 * namespace" (xmlns=''), as the parser produces it. */
static const char *
effective_ns (const xmlNode *node, const char *parent_ns)
{
  if (node->ns != NULL)
    return (const char *)node->ns->href;
  if (node->parent == NULL || node->parent->type != XML_ELEMENT_NODE)
    return PG_NS_COMPONENT;
  if (node->parent->ns != NULL)
    return "";
  return parent_ns;
}

static gboolean
text_is_xml (const char *text)
{
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0xFFFE || c == 0xFFFF)
        return FALSE;
    }
  return TRUE;
}

/* Walks the children as the parser delivers them: elements, and runs of
 * adjacent text merged into one string. Returns the next element and leaves
 * @run empty, or returns NULL with the next text run in @run (empty at the
 * end); *@child moves past what was returned. Reusing @run keeps the
 * comparison free of per-child allocations, the bulk of its cost. */
static const xmlNode *
next_item (const xmlNode **child, GString *run)
{
  g_string_truncate (run, 0);
  for (; *child != NULL; *child = (*child)->next)
    {
      const xmlNode *c = *child;

      if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
        {
          if (c->content != NULL)
            g_string_append (run, (const char *)c->content);
          continue;
        }
      if (run->len > 0)
        return NULL;
      if (c->type == XML_ELEMENT_NODE)
        {
          *child = c->next;
          return c;
        }
    }
  return NULL;
}

/* Namespaces in XML §3: element and attribute names are QNames. */
static gboolean
is_ncname (const xmlChar *name)
{
  return name != NULL && name[0] != '\0' && strchr ((const char *)name, ':') == NULL;
}

static void
compare_trees (const xmlNode *a, const char *a_parent_ns, const xmlNode *b, const char *b_parent_ns,
               const char *text)
{
  const char *a_ns = effective_ns (a, a_parent_ns);
  const char *b_ns = effective_ns (b, b_parent_ns);

  PG_FUZZ_CHECK (is_ncname (a->name) && (a->ns == NULL || a->ns->prefix == NULL || is_ncname (a->ns->prefix)),
                 "element <%s> is not a QName in:\n%s", a->name, text);
  for (const xmlAttr *attr = a->properties; attr != NULL; attr = attr->next)
    PG_FUZZ_CHECK (is_ncname (attr->name) && (attr->ns == NULL || is_ncname (attr->ns->prefix)),
                   "attribute %s of <%s> is not a QName in:\n%s", attr->name, a->name, text);

  PG_FUZZ_CHECK (strcmp ((const char *)a->name, (const char *)b->name) == 0,
                 "element <%s> came back as <%s> in:\n%s", a->name, b->name, text);
  PG_FUZZ_CHECK (strcmp (a_ns, b_ns) == 0, "<%s> in namespace '%s' came back in '%s' in:\n%s", a->name, a_ns,
                 b_ns, text);

  const xmlAttr *x = a->properties, *y = b->properties;
  for (; x != NULL && y != NULL; x = x->next, y = y->next)
    {
      g_autofree char *xv = (char *)xmlNodeGetContent ((const xmlNode *)x);
      g_autofree char *yv = (char *)xmlNodeGetContent ((const xmlNode *)y);
      PG_FUZZ_CHECK (strcmp ((const char *)x->name, (const char *)y->name) == 0
                         && g_strcmp0 (x->ns ? (const char *)x->ns->href : NULL,
                                       y->ns ? (const char *)y->ns->href : NULL)
                                == 0,
                     "attribute %s of <%s> changed in:\n%s", x->name, a->name, text);
      PG_FUZZ_CHECK (!text_is_xml (xv ? xv : "") || g_strcmp0 (xv, yv) == 0,
                     "attribute %s of <%s>: '%s' came back as '%s' in:\n%s", x->name, a->name, xv, yv, text);
    }
  PG_FUZZ_CHECK (x == NULL && y == NULL, "attributes of <%s> lost or added in:\n%s", a->name, text);

  g_autoptr (GString) a_run = g_string_new (NULL);
  g_autoptr (GString) b_run = g_string_new (NULL);
  const xmlNode *a_next = a->children, *b_next = b->children;
  for (;;)
    {
      const xmlNode *a_child = next_item (&a_next, a_run);
      const xmlNode *b_child = next_item (&b_next, b_run);

      PG_FUZZ_CHECK ((a_child == NULL) == (b_child == NULL) && (a_run->len == 0) == (b_run->len == 0),
                     "children of <%s> lost, added or reordered in:\n%s", a->name, text);
      if (a_child != NULL)
        {
          compare_trees (a_child, a_ns, b_child, b_ns, text);
          continue;
        }
      if (a_run->len == 0)
        break;
      PG_FUZZ_CHECK (!text_is_xml (a_run->str) || strcmp (a_run->str, b_run->str) == 0,
                     "text '%s' came back as '%s' in:\n%s", a_run->str, b_run->str, text);
    }
}

void
pg_fuzz_check_reparses_all (GPtrArray *stanzas)
{
  g_autoptr (GString) text = g_string_new (PG_FUZZ_HEADER);
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (PgXmlParser) parser = NULL;
  g_autoptr (GError) error = NULL;

  if (stanzas->len == 0)
    return;
  for (guint i = 0; i <= stanzas->len; i++)
    {
      gsize start = text->len;
      g_array_append_val (starts, start);
      if (i < stanzas->len)
        pg_stanza_serialize (g_ptr_array_index (stanzas, i), text);
    }
  again = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  parser = pg_xml_parser_new (&collect_callbacks, again, G_MAXSIZE);
  PG_FUZZ_CHECK (pg_xml_parser_feed (parser, text->str, text->len, &error),
                 "serialised stanzas refused by the parser (%s):\n%s", error ? error->message : "?",
                 text->str + strlen (PG_FUZZ_HEADER));
  PG_FUZZ_CHECK (again->len == stanzas->len, "%u serialised stanzas parsed as %u:\n%s", stanzas->len,
                 again->len, text->str + strlen (PG_FUZZ_HEADER));
  for (guint i = 0; i < stanzas->len; i++)
    {
      gsize start = g_array_index (starts, gsize, i), end = g_array_index (starts, gsize, i + 1);
      g_autofree char *first = g_strndup (text->str + start, end - start);
      g_autofree char *second = pg_stanza_to_string (g_ptr_array_index (again, i));
      PG_FUZZ_CHECK (strcmp (first, second) == 0, "serialisation not stable:\nfirst:  %s\nsecond: %s", first,
                     second);
      compare_trees (g_ptr_array_index (stanzas, i), NULL, g_ptr_array_index (again, i), NULL, first);
    }
}
