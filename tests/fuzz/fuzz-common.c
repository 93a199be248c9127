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
  if (g_strcmp0 (domain, "GLib") == 0 && strstr (message, "GError set over the top") != NULL &&
      strstr (message, "Key file contains") != NULL)
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
  return g_strndup ((const char *) data, size);
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
  GPtrArray *stanzas = g_ptr_array_new_with_free_func ((GDestroyNotify) pg_stanza_free);
  g_autoptr (PgXmlParser) parser = pg_xml_parser_new (&collect_callbacks, stanzas, 0);

  if (pg_xml_parser_feed (parser, PG_FUZZ_HEADER, strlen (PG_FUZZ_HEADER), NULL) && size > 0)
    pg_xml_parser_feed (parser, (const char *) data, size, NULL);
  return stanzas;
}

char *
pg_fuzz_check_reparses (const xmlNode *stanza)
{
  g_autoptr (GString) text = g_string_new (PG_FUZZ_HEADER);
  gsize header_len = text->len;
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (PgXmlParser) parser = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *reserialized = NULL;

  pg_stanza_serialize (stanza, text);
  again = g_ptr_array_new_with_free_func ((GDestroyNotify) pg_stanza_free);
  parser = pg_xml_parser_new (&collect_callbacks, again, G_MAXSIZE);
  PG_FUZZ_CHECK (pg_xml_parser_feed (parser, text->str, text->len, &error),
                 "serialised stanza refused by the parser (%s):\n%s", error ? error->message : "?",
                 text->str + header_len);
  PG_FUZZ_CHECK (again->len == 1, "serialised stanza parsed as %u stanzas:\n%s", again->len,
                 text->str + header_len);
  reserialized = pg_stanza_to_string (g_ptr_array_index (again, 0));
  PG_FUZZ_CHECK (strcmp (reserialized, text->str + header_len) == 0,
                 "serialisation not stable:\nfirst:  %s\nsecond: %s", text->str + header_len, reserialized);
  return g_steal_pointer (&reserialized);
}
