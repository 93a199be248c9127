/* legacy/message.c — message translation. */
#define G_LOG_DOMAIN "pg-message"
#include "build-config.h"

#include "legacy/message.h"

#include "transport/stanza.h"

#include <string.h>

static const char *const state_names[] = {
  [PG_CHAT_STATE_ACTIVE] = "active", [PG_CHAT_STATE_COMPOSING] = "composing",
  [PG_CHAT_STATE_PAUSED] = "paused", [PG_CHAT_STATE_INACTIVE] = "inactive",
  [PG_CHAT_STATE_GONE] = "gone",
};

PgChatState
pg_message_get_chat_state (const xmlNode *message)
{
  for (xmlNode *child = message->children; child != NULL; child = child->next)
    {
      if (child->type != XML_ELEMENT_NODE || g_strcmp0 (pg_stanza_get_ns (child), PG_NS_CHATSTATES) != 0)
        continue;
      for (guint i = PG_CHAT_STATE_ACTIVE; i < G_N_ELEMENTS (state_names); i++)
        if (strcmp ((const char *)child->name, state_names[i]) == 0)
          return (PgChatState)i;
    }
  return PG_CHAT_STATE_NONE;
}

void
pg_message_add_chat_state (xmlNode *message, PgChatState state)
{
  if (state != PG_CHAT_STATE_NONE)
    pg_stanza_add_child (message, state_names[state], PG_NS_CHATSTATES);
}

gboolean
pg_message_wants_receipt (const xmlNode *message)
{
  return pg_stanza_get_attr (message, "id") != NULL
         && pg_stanza_find_child (message, "request", PG_NS_RECEIPTS) != NULL;
}

xmlNode *
pg_message_new_receipt (const xmlNode *message)
{
  xmlNode *receipt = pg_stanza_new ("message", pg_stanza_get_attr (message, "to"),
                                    pg_stanza_get_attr (message, "from"), NULL, NULL);
  xmlNode *received = pg_stanza_add_child (receipt, "received", PG_NS_RECEIPTS);
  pg_stanza_set_attr (received, "id", pg_stanza_get_attr (message, "id"));
  return receipt;
}

static void
append_entity (GString *out, const char *entity, gsize len)
{
  static const struct
  {
    const char *name;
    const char *text;
  } named[] = {
    { "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" }, { "apos", "'" }, { "nbsp", "\xC2\xA0" },
  };
  g_autofree char *name = g_strndup (entity, len);
  if (name[0] == '#')
    {
      guint64 code = 0;
      gboolean ok = name[1] == 'x' || name[1] == 'X'
                        ? g_ascii_string_to_unsigned (name + 2, 16, 1, 0x10FFFF, &code, NULL)
                        : g_ascii_string_to_unsigned (name + 1, 10, 1, 0x10FFFF, &code, NULL);
      if (ok && g_unichar_validate ((gunichar)code))
        {
          g_string_append_unichar (out, (gunichar)code);
          return;
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (named); i++)
    if (strcmp (name, named[i].name) == 0)
      {
        g_string_append (out, named[i].text);
        return;
      }
  /* Not an entity we know: keep the text as the sender wrote it. */
  g_string_append_c (out, '&');
  g_string_append_len (out, entity, (gssize)len);
  g_string_append_c (out, ';');
}

static gboolean
is_line_break (const char *tag, gsize len)
{
  g_autofree char *lower = g_ascii_strdown (tag, (gssize)len);
  return g_str_has_prefix (lower, "br") && (len == 2 || !g_ascii_isalpha (lower[2]));
}

char *
pg_message_html_to_text (const char *html)
{
  /* Most lines have neither markup nor entities. */
  if (strpbrk (html, "<&") == NULL)
    return g_strdup (html);
  GString *out = g_string_sized_new (strlen (html));
  const char *p = html;
  while (*p != '\0')
    {
      if (*p == '<')
        {
          const char *end = strchr (p, '>');
          if (end == NULL)
            {
              g_string_append (out, p); /* a lone '<' is text */
              break;
            }
          if (is_line_break (p + 1, (gsize)(end - p - 1)))
            g_string_append_c (out, '\n');
          p = end + 1;
        }
      else if (*p == '&')
        {
          const char *end = strchr (p, ';');
          if (end == NULL || end - p > 10)
            {
              g_string_append_c (out, '&');
              p++;
              continue;
            }
          append_entity (out, p + 1, (gsize)(end - p - 1));
          p = end + 1;
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}
