/* legacy/purple-debug.c — libpurple's debug output to g_log, credentials
 * masked.  Protocol plugins log raw protocol traffic, and some of it carries
 * secrets: IRC's PASS and SASL lines, XMPP SASL <auth> payloads,
 * "password" fields.  Masking errs on the side of hiding too much. */
#define G_LOG_DOMAIN "pg-purple"

#include "legacy/purple-debug.h"

#include <string.h>

#define MASK "***"

/* Protocol verbs whose arguments are credentials: the rest of the line goes. */
static const char *const line_verbs[] = { "PASS ", "AUTHENTICATE ", "AUTH ", "IDENTIFY " };
/* Elements whose text content is a credential (XMPP SASL). */
static const char *const secret_elements[] = { "<auth", "<response" };
/* What may stand between "password" and its value: "password: x",
 * "password=x", "password='x'", "\"password\":\"x\"", "<password>x". */
static const char key_separators[] = " \t\"':=>";
static const char value_ends[] = " \t\r\n\"'<>&,;";

static gboolean
has_prefix_ci (const char *p, const char *prefix)
{
  return g_ascii_strncasecmp (p, prefix, strlen (prefix)) == 0;
}

/* At @p, returns how many bytes to keep and sets @end to where the secret
 * after them ends; returns 0 if no secret starts at @p. */
static size_t
match_secret (const char *msg, const char *p, const char **end)
{
  gboolean word_start = p == msg || !g_ascii_isalnum (p[-1]);
  size_t keep;

  for (size_t i = 0; word_start && i < G_N_ELEMENTS (line_verbs); i++)
    if (has_prefix_ci (p, line_verbs[i]))
      {
        keep = strlen (line_verbs[i]);
        *end = p + keep + strcspn (p + keep, "\r\n");
        return keep;
      }

  for (size_t i = 0; i < G_N_ELEMENTS (secret_elements); i++)
    {
      size_t n = strlen (secret_elements[i]);
      const char *gt;

      if (!has_prefix_ci (p, secret_elements[i]) || p[n] == '\0' || !strchr (" />", p[n]))
        continue;
      gt = strchr (p + n, '>');
      if (gt == NULL)
        return 0;
      keep = (size_t)(gt + 1 - p); /* the start tag, kept whole */
      *end = gt[-1] == '/' ? p + keep : p + keep + strcspn (p + keep, "<\r\n");
      return keep;
    }

  /* "password", "passwords", "password_hash"…, but not a closing tag. */
  if (has_prefix_ci (p, "password") && !(p > msg && p[-1] == '/'))
    {
      keep = strlen ("password");
      while (g_ascii_isalnum (p[keep]) || p[keep] == '_' || p[keep] == '-')
        keep++;
      if (strspn (p + keep, key_separators) == 0)
        return 0;
      keep += strspn (p + keep, key_separators);
      *end = p + keep + strcspn (p + keep, value_ends);
      return keep;
    }
  return 0;
}

/* Returns a copy of @msg with every credential replaced by "***"; owned. */
static char *
mask_credentials (const char *msg)
{
  GString *out = g_string_sized_new (strlen (msg));
  const char *p = msg;

  while (*p != '\0')
    {
      const char *end = NULL;
      size_t keep = match_secret (msg, p, &end);

      if (keep == 0)
        {
          g_string_append_c (out, *p++);
          continue;
        }
      g_string_append_len (out, p, (gssize)keep);
      if (end > p + keep)
        g_string_append (out, MASK);
      p = end;
    }
  return g_string_free (out, FALSE);
}

static void
debug_print (PurpleDebugLevel level, const char *category, const char *arg_s)
{
  g_autofree char *masked = mask_credentials (arg_s != NULL ? arg_s : "");
  size_t len = strlen (masked);

  (void)level; /* libpurple's "errors" are mostly chatter; all go to debug */
  while (len > 0 && (masked[len - 1] == '\n' || masked[len - 1] == '\r'))
    masked[--len] = '\0';
  g_log (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "%s: %s", category != NULL ? category : "purple", masked);
}

/* Lets libpurple skip formatting messages nobody will see. */
static gboolean
debug_is_enabled (PurpleDebugLevel level, const char *category)
{
  (void)level;
  (void)category;
  return !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
}

static PurpleDebugUiOps debug_ops = {
  .print = debug_print,
  .is_enabled = debug_is_enabled,
};

PurpleDebugUiOps *
pg_purple_debug_get_ui_ops (void)
{
  return &debug_ops;
}
