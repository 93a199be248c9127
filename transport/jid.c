/* transport/jid.c — JIDs (RFC 7622 split, stringprep preparation) and
 * XEP-0106 escaping of legacy names into localparts. */
#define G_LOG_DOMAIN "pg-jid"

#include "transport/jid.h"

#include <stringprep.h>
#include <string.h>

G_DEFINE_QUARK (pg - jid - error - quark, pg_jid_error)

static gpointer fail (GError **error, PgJidError code, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* Sets @error and returns NULL, so that refusals read as one statement. */
static gpointer
fail (GError **error, PgJidError code, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (PG_JID_ERROR, code, format, args));
  va_end (args);
  return NULL;
}

struct PgJid
{
  char *node; /* NULL when absent */
  char *domain;
  char *resource; /* NULL when absent */
};

/* XEP-0106 §3.1: the ten characters and their only valid (lower-case) spelling. */
static const struct
{
  char raw;
  char hex[3];
} escapes[] = {
  { ' ', "20" }, { '"', "22" }, { '&', "26" }, { '\'', "27" }, { '/', "2f" },
  { ':', "3a" }, { '<', "3c" }, { '>', "3e" }, { '@', "40" },  { '\\', "5c" },
};

/* RFC 7622 §3.3.1; libidn's nodeprep refuses them too, but we do not rely on it. */
static const char node_forbidden[] = " \"&'/:<>@";

static const char *
hex_for (char c)
{
  for (gsize i = 0; i < G_N_ELEMENTS (escapes); i++)
    if (escapes[i].raw == c)
      return escapes[i].hex;
  return NULL;
}

/* Returns the character that the escape sequence at @p stands for, or 0 when
 * @p does not start one of the ten exact sequences. */
static char
sequence_at (const char *p)
{
  if (p[0] != '\\' || p[1] == '\0' || p[2] == '\0')
    return 0;
  for (gsize i = 0; i < G_N_ELEMENTS (escapes); i++)
    if (p[1] == escapes[i].hex[0] && p[2] == escapes[i].hex[1])
      return escapes[i].raw;
  return 0;
}

/* stringprep() works in place and fails with TOO_SMALL_BUFFER when its result
 * and NUL overflow the buffer. The buffer must hold the input (which may be
 * longer than the result: soft hyphens map to nothing) and at least
 * @max_bytes + 1; so sized, TOO_SMALL_BUFFER can only mean a result over
 * @max_bytes, and growing the buffer to learn by how much would be waste. */
static const Stringprep_profile *nodeprep_without_bidi (void);

/* Every JID and legacy name on the message paths is ASCII, and libidn's
 * stringprep costs microseconds per part (UCS-4 conversion, table searches,
 * NFKC).  On ASCII the four profiles used here reduce to: no mapping but
 * case folding (A-Z, for nodeprep and nameprep), NFKC and bidi are no-ops
 * (no ASCII code point decomposes or is RandALCat), nothing is unassigned,
 * and the prohibited ASCII code points are controls (C.2.1) for all but
 * nameprep, and space (C.1.1) plus nodeprep's eight separators (RFC 6122
 * App. A.5) for nodeprep.  Only input that passes is prepared here; a
 * refusal, non-ASCII or an over-long part goes to libidn, so errors and
 * their texts stay libidn's.  Returns the prepared copy or NULL to fall
 * back. tests/unit/test-jid.c checks equivalence against libidn. */
static char *
prep_ascii (const char *in, gsize len, const Stringprep_profile *profile, gsize max_bytes)
{
  gboolean node = profile == stringprep_xmpp_nodeprep
                  || (profile != stringprep_nameprep && profile != stringprep_xmpp_resourceprep
                      && profile == nodeprep_without_bidi ());
  gboolean fold = node || profile == stringprep_nameprep;
  gboolean controls = profile != stringprep_nameprep;
  char *out;

  if (len > max_bytes || (!node && !fold && profile != stringprep_xmpp_resourceprep))
    return NULL;
  for (gsize i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char)in[i];

      if (c >= 0x80 || c == 0 || (controls && (c < 0x20 || c == 0x7f))
          || (node && strchr (node_forbidden, c) != NULL))
        return NULL;
    }
  out = g_malloc (len + 1);
  for (gsize i = 0; i < len; i++)
    out[i] = fold ? g_ascii_tolower (in[i]) : in[i];
  out[len] = '\0';
  return out;
}

static char *
prep (const char *in, gsize len, const Stringprep_profile *profile, Stringprep_profile_flags flags,
      gsize max_bytes, GError **error)
{
  gsize size = MAX (len, max_bytes) + 1;
  g_autofree char *buf = NULL;
  char *fast;
  int rc;

  fast = prep_ascii (in, len, profile, max_bytes);
  if (fast != NULL)
    return fast;
  buf = g_malloc (size);
  memcpy (buf, in, len);
  buf[len] = '\0';
  rc = stringprep (buf, size, flags, profile);
  if (rc == STRINGPREP_TOO_SMALL_BUFFER || (rc == STRINGPREP_OK && strlen (buf) > max_bytes))
    return fail (error, PG_JID_ERROR_TOO_LONG, "over %" G_GSIZE_FORMAT " bytes after preparation", max_bytes);
  if (rc != STRINGPREP_OK)
    return fail (error, PG_JID_ERROR_MALFORMED, "stringprep: %s", stringprep_strerror (rc));
  return g_steal_pointer (&buf);
}

/* Prepares a localpart or resourcepart; @what names it in error messages. */
static char *
prep_part (const char *in, gsize len, const Stringprep_profile *profile, Stringprep_profile_flags flags,
           const char *what, GError **error)
{
  g_autofree char *out = NULL;

  if (len == 0)
    return fail (error, PG_JID_ERROR_MALFORMED, "empty %s", what);
  out = prep (in, len, profile, flags, PG_JID_MAX_PART_BYTES, error);
  if (out == NULL)
    {
      g_prefix_error (error, "%s: ", what);
      return NULL;
    }
  /* Mapping can remove every character (e.g. a lone soft hyphen). */
  if (out[0] == '\0')
    return fail (error, PG_JID_ERROR_MALFORMED, "%s is empty after preparation", what);
  if (profile == stringprep_xmpp_nodeprep && strpbrk (out, node_forbidden) != NULL)
    return fail (error, PG_JID_ERROR_MALFORMED, "%s contains a forbidden character", what);
  return g_steal_pointer (&out);
}

/* nameprep (RFC 3491) leaves ASCII alone apart from case, so space, controls
 * and the JID separators all get through it. Accept what can name a host:
 * non-empty labels of letters, digits, '-' and '_' (not LDH, but common in
 * container and test host names that components are given), non-ASCII as
 * nameprep left it, or a bracketed IPv6 literal (RFC 7622 §3.2.1). */
static gboolean
domain_is_valid (const char *domain)
{
  gsize n = strlen (domain);
  gboolean label_start = TRUE;

  if (domain[0] == '[')
    {
      g_autofree char *addr = NULL;

      if (n < 3 || domain[n - 1] != ']')
        return FALSE;
      addr = g_strndup (domain + 1, n - 2);
      /* IPv6 only (RFC 3986 IP-literal), and no zone identifier. */
      return strchr (addr, ':') != NULL && addr[strspn (addr, "0123456789abcdef:.")] == '\0'
             && g_hostname_is_ip_address (addr);
    }
  for (const char *p = domain; *p != '\0'; p++)
    {
      unsigned char c = (unsigned char)*p;

      if (c == '.')
        {
          if (label_start)
            return FALSE;
          label_start = TRUE;
          continue;
        }
      if (c < 0x80 && !g_ascii_isalnum (c) && c != '-' && c != '_')
        return FALSE;
      label_start = FALSE;
    }
  return !label_start;
}

static char *
prep_domain (const char *in, gsize len, GError **error)
{
  g_autofree char *out = NULL;
  gsize n;

  if (len == 0)
    return fail (error, PG_JID_ERROR_MALFORMED, "empty domainpart");
  /* One byte of slack for the root label's dot, dropped below: the limit
   * applies to the name without it. Dropping it after nameprep also catches
   * dots that only appear through NFKC (U+FF0E FULLWIDTH FULL STOP). */
  out = prep (in, len, stringprep_nameprep, 0, PG_JID_MAX_PART_BYTES + 1, error);
  if (out == NULL)
    {
      g_prefix_error (error, "domainpart: ");
      return NULL;
    }
  n = strlen (out);
  if (n > 0 && out[n - 1] == '.')
    out[--n] = '\0';
  if (n > PG_JID_MAX_PART_BYTES)
    return fail (error, PG_JID_ERROR_TOO_LONG, "domainpart: over %d bytes after preparation",
                 PG_JID_MAX_PART_BYTES);
  if (n == 0 || !domain_is_valid (out))
    return fail (error, PG_JID_ERROR_MALFORMED, "domainpart is not a host name or IP literal");
  return g_steal_pointer (&out);
}

PgJid *
pg_jid_parse (const char *text, GError **error)
{
  g_autoptr (PgJid) jid = NULL;
  const char *slash, *at, *domain;
  gsize bare_len;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_utf8_validate (text, -1, NULL))
    return fail (error, PG_JID_ERROR_MALFORMED, "JID is not valid UTF-8");
  /* RFC 7622 §3.1: split on separators before any preparation, since
   * preparation could produce new '@' or '/' from compatibility forms. */
  slash = strchr (text, '/');
  bare_len = slash != NULL ? (gsize)(slash - text) : strlen (text);
  at = memchr (text, '@', bare_len);
  domain = at != NULL ? at + 1 : text;

  jid = g_new0 (PgJid, 1);
  if (at != NULL)
    {
      jid->node = prep_part (text, at - text, stringprep_xmpp_nodeprep, 0, "localpart", error);
      if (jid->node == NULL)
        return NULL;
    }
  jid->domain = prep_domain (domain, text + bare_len - domain, error);
  if (jid->domain == NULL)
    return NULL;
  if (slash != NULL)
    {
      jid->resource
          = prep_part (slash + 1, strlen (slash + 1), stringprep_xmpp_resourceprep, 0, "resourcepart", error);
      if (jid->resource == NULL)
        return NULL;
    }
  return g_steal_pointer (&jid);
}

void
pg_jid_free (PgJid *jid)
{
  if (jid == NULL)
    return;
  g_free (jid->node);
  g_free (jid->domain);
  g_free (jid->resource);
  g_free (jid);
}

const char *
pg_jid_get_node (const PgJid *jid)
{
  g_return_val_if_fail (jid != NULL, NULL);
  return jid->node;
}

const char *
pg_jid_get_domain (const PgJid *jid)
{
  g_return_val_if_fail (jid != NULL, NULL);
  return jid->domain;
}

const char *
pg_jid_get_resource (const PgJid *jid)
{
  g_return_val_if_fail (jid != NULL, NULL);
  return jid->resource;
}

char *
pg_jid_dup_bare (const PgJid *jid)
{
  g_return_val_if_fail (jid != NULL, NULL);
  if (jid->node == NULL)
    return g_strdup (jid->domain);
  return g_strconcat (jid->node, "@", jid->domain, NULL);
}

char *
pg_jid_to_string (const PgJid *jid)
{
  g_autofree char *bare = NULL;

  g_return_val_if_fail (jid != NULL, NULL);
  bare = pg_jid_dup_bare (jid);
  if (jid->resource == NULL)
    return g_steal_pointer (&bare);
  return g_strconcat (bare, "/", jid->resource, NULL);
}

char *
pg_jid_prepare_bare (const char *text, GError **error)
{
  g_autoptr (PgJid) jid = pg_jid_parse (text, error);

  if (jid == NULL)
    return NULL;
  return pg_jid_dup_bare (jid);
}

char *
pg_jid_escape (const char *legacy_name)
{
  GString *out;

  g_return_val_if_fail (legacy_name != NULL, NULL);
  out = g_string_sized_new (strlen (legacy_name));
  for (const char *p = legacy_name; *p != '\0'; p++)
    {
      /* A '\' not starting a sequence stays as it is (XEP-0106 §4.3): it
       * cannot be misread, and leaving it keeps c:\net readable. */
      const char *hex = (*p != '\\' || sequence_at (p) != 0) ? hex_for (*p) : NULL;

      if (hex != NULL)
        {
          g_string_append_c (out, '\\');
          g_string_append (out, hex);
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

char *
pg_jid_unescape (const char *localpart)
{
  GString *out;

  g_return_val_if_fail (localpart != NULL, NULL);
  out = g_string_sized_new (strlen (localpart));
  for (const char *p = localpart; *p != '\0';)
    {
      char raw = sequence_at (p);

      if (raw != 0)
        {
          g_string_append_c (out, raw);
          p += 3;
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

/* libidn honours STRINGPREP_NO_BIDI only for steps a profile marks optional,
 * and nodeprep marks none: derive a nodeprep without bidi steps, kept for life. */
static const Stringprep_profile *
nodeprep_without_bidi (void)
{
  static const Stringprep_profile *profile;

  if (g_once_init_enter (&profile))
    {
      gsize n = 0;
      Stringprep_profile *copy;

      while (stringprep_xmpp_nodeprep[n].operation != 0)
        n++;
      copy = g_new0 (Stringprep_profile, n + 1);
      n = 0;
      for (const Stringprep_profile *step = stringprep_xmpp_nodeprep; step->operation != 0; step++)
        if (step->operation != STRINGPREP_BIDI && step->operation != STRINGPREP_BIDI_PROHIBIT_TABLE
            && step->operation != STRINGPREP_BIDI_RAL_TABLE && step->operation != STRINGPREP_BIDI_L_TABLE)
          copy[n++] = *step;
      g_once_init_leave (&profile, copy);
    }
  return profile;
}

/* nodeprep folds case and applies NFKC to the escaped name as a whole. That
 * can mint a sequence the escaper never wrote ("\2F" becomes "\2f", fullwidth
 * "＼２０" becomes "\20") or swallow one into its neighbour ("\3c" followed by
 * U+0327 COMBINING CEDILLA composes to "\3ç"). Either way the JID would decode
 * to another name and could collide with a real contact. So prepare the text
 * between the sequences separately: it must contain no sequence, and
 * reassembled it must equal what preparing the whole gave. */
static gboolean
sequences_survive (const char *escaped, const char *prepared)
{
  g_autoptr (GString) rebuilt = g_string_new (NULL);
  const char *run = escaped;

  for (const char *p = escaped;; p++)
    {
      g_autofree char *piece = NULL;
      gboolean at_sequence = sequence_at (p) != 0;

      if (!at_sequence && *p != '\0')
        continue;
      /* Bidi rules (RFC 3454 §6) concern the whole string, checked already. */
      piece = prep (run, p - run, nodeprep_without_bidi (), 0, PG_JID_MAX_PART_BYTES, NULL);
      if (piece == NULL)
        return FALSE;
      for (const char *q = piece; *q != '\0'; q++)
        if (sequence_at (q) != 0)
          return FALSE;
      g_string_append (rebuilt, piece);
      if (!at_sequence)
        break;
      g_string_append_len (rebuilt, p, 3);
      p += 2;
      run = p + 1;
    }
  return strcmp (rebuilt->str, prepared) == 0;
}

char *
pg_jid_for_legacy_name (const char *legacy_name, const char *domain, GError **error)
{
  g_autofree char *escaped = NULL;
  g_autofree char *node = NULL;
  g_autofree char *prepared_domain = NULL;
  g_autofree char *decoded = NULL;
  g_autofree char *reescaped = NULL;
  gsize len;

  g_return_val_if_fail (legacy_name != NULL, NULL);
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  len = strlen (legacy_name);
  if (!g_utf8_validate (legacy_name, len, NULL))
    return fail (error, PG_JID_ERROR_MALFORMED, "legacy name is not valid UTF-8");
  /* XEP-0106 §3.2: \20 may not open or close a localpart. */
  if (len == 0 || legacy_name[0] == ' ' || legacy_name[len - 1] == ' ')
    return fail (error, PG_JID_ERROR_MALFORMED, "legacy name is empty or starts or ends with a space");
  escaped = pg_jid_escape (legacy_name);
  /* We mint this identifier, so it is a "stored string" (RFC 3454 §7): no
   * unassigned code points, unlike JIDs we only parse. */
  node = prep_part (escaped, strlen (escaped), stringprep_xmpp_nodeprep, STRINGPREP_NO_UNASSIGNED,
                    "localpart", error);
  if (node == NULL)
    {
      g_prefix_error (error, "legacy name: ");
      return NULL;
    }
  if (!sequences_survive (escaped, node))
    return fail (error, PG_JID_ERROR_MALFORMED, "legacy name: preparation would alter its escape sequences");
  /* XEP-0106 §3.2 once more: what maps to nothing (U+00AD SOFT HYPHEN) can
   * leave an escaped space at either end ("bob " + U+00AD → "bob\20"). */
  if (g_str_has_prefix (node, "\\20") || g_str_has_suffix (node, "\\20"))
    return fail (error, PG_JID_ERROR_MALFORMED, "legacy name starts or ends with a space after preparation");
  /* Whether a '\' is escaped depends on what follows it, and preparation
   * can change that: "\3c" + U+0327 escapes to "\5c3c" + U+0327, prepared
   * "\5c3ç", which decodes to "\3ç", whose own JID is "\3ç@…". The localpart
   * must be the escape of the name it decodes to, or two JIDs share a name. */
  decoded = pg_jid_unescape (node);
  reescaped = pg_jid_escape (decoded);
  if (strcmp (reescaped, node) != 0)
    return fail (error, PG_JID_ERROR_MALFORMED, "legacy name: preparation would alter its escape sequences");
  prepared_domain = prep_domain (domain, strlen (domain), error);
  if (prepared_domain == NULL)
    return NULL;
  return g_strconcat (node, "@", prepared_domain, NULL);
}
