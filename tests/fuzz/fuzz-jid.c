/* tests/fuzz/fuzz-jid.c — JID parsing (RFC 7622): no crash on any input, and
 * a JID that parses is stable: its string form parses to the same parts,
 * prints the same, and its bare form parses to the same bare JID. */
#define G_LOG_DOMAIN "pg-fuzz-jid"

#include "tests/fuzz/fuzz-common.h"

#include "transport/jid.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PgJid) jid = NULL;
  g_autoptr (PgJid) again = NULL;
  g_autoptr (GError) again_error = NULL;
  g_autofree char *printed = NULL;
  g_autofree char *reprinted = NULL;
  g_autofree char *bare = NULL;
  g_autofree char *prepared_bare = NULL;

  pg_fuzz_init ();
  text = pg_fuzz_dup_string (data, size);
  jid = pg_jid_parse (text, &error);
  if (jid == NULL)
    {
      PG_FUZZ_CHECK (error != NULL && error->domain == PG_JID_ERROR, "refusal without a PgJidError");
      PG_FUZZ_CHECK (pg_jid_prepare_bare (text, NULL) == NULL, "prepare_bare accepts what parse refuses");
      return 0;
    }
  PG_FUZZ_CHECK (error == NULL, "error set on success");

  const char *node = pg_jid_get_node (jid);
  const char *domain = pg_jid_get_domain (jid);
  const char *resource = pg_jid_get_resource (jid);
  PG_FUZZ_CHECK (domain != NULL && *domain != '\0', "empty domain");
  PG_FUZZ_CHECK (node == NULL || (*node != '\0' && strlen (node) <= PG_JID_MAX_PART_BYTES), "bad node");
  PG_FUZZ_CHECK (strlen (domain) <= PG_JID_MAX_PART_BYTES, "domain too long");
  PG_FUZZ_CHECK (resource == NULL || (*resource != '\0' && strlen (resource) <= PG_JID_MAX_PART_BYTES),
                 "bad resource");
  PG_FUZZ_CHECK (g_utf8_validate (domain, -1, NULL), "domain not UTF-8");

  printed = pg_jid_to_string (jid);
  again = pg_jid_parse (printed, &again_error);
  PG_FUZZ_CHECK (again != NULL, "'%s' (from '%s') does not parse again: %s", printed, text,
                 again_error->message);
  PG_FUZZ_CHECK (g_strcmp0 (node, pg_jid_get_node (again)) == 0, "node '%s' became '%s'", node,
                 pg_jid_get_node (again));
  PG_FUZZ_CHECK (strcmp (domain, pg_jid_get_domain (again)) == 0, "domain '%s' became '%s'", domain,
                 pg_jid_get_domain (again));
  PG_FUZZ_CHECK (g_strcmp0 (resource, pg_jid_get_resource (again)) == 0, "resource '%s' became '%s'",
                 resource, pg_jid_get_resource (again));
  reprinted = pg_jid_to_string (again);
  PG_FUZZ_CHECK (strcmp (printed, reprinted) == 0, "'%s' prints as '%s'", printed, reprinted);

  bare = pg_jid_dup_bare (jid);
  prepared_bare = pg_jid_prepare_bare (bare, NULL);
  PG_FUZZ_CHECK (prepared_bare != NULL && strcmp (bare, prepared_bare) == 0, "bare '%s' prepares as '%s'",
                 bare, prepared_bare);
  return 0;
}
