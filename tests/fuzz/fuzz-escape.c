/* tests/fuzz/fuzz-escape.c — XEP-0106 (transport/jid.c): for any valid UTF-8
 * legacy name, unescape(escape(name)) == name and the escaped form holds none
 * of the nine characters a localpart may not; when pg_jid_for_legacy_name()
 * gives a JID, pg_jid_parse() accepts it unchanged, and the name decoded from
 * its localpart maps to the same JID again. */
#define G_LOG_DOMAIN "pg-fuzz-escape"

#include "tests/fuzz/fuzz-common.h"

#include "transport/jid.h"

#include <string.h>

#define DOMAIN "irc.example.org"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *name = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *unescaped = NULL;
  g_autofree char *contact = NULL;
  g_autoptr (GError) error = NULL;

  pg_fuzz_init ();
  name = pg_fuzz_dup_string (data, size);
  if (!g_utf8_validate (name, -1, NULL))
    {
      /* Refused, never mangled into some other contact. */
      PG_FUZZ_CHECK (pg_jid_for_legacy_name (name, DOMAIN, NULL) == NULL, "invalid UTF-8 name accepted");
      return 0;
    }

  escaped = pg_jid_escape (name);
  PG_FUZZ_CHECK (strpbrk (escaped, " \"&'/:<>@") == NULL, "'%s' escapes to '%s'", name, escaped);
  unescaped = pg_jid_unescape (escaped);
  PG_FUZZ_CHECK (strcmp (name, unescaped) == 0, "'%s' escapes to '%s', which unescapes to '%s'", name,
                 escaped, unescaped);

  contact = pg_jid_for_legacy_name (name, DOMAIN, &error);
  if (contact == NULL)
    {
      PG_FUZZ_CHECK (error != NULL && error->domain == PG_JID_ERROR, "refusal without a PgJidError");
      return 0;
    }

  g_autoptr (GError) parse_error = NULL;
  g_autoptr (PgJid) jid = pg_jid_parse (contact, &parse_error);
  PG_FUZZ_CHECK (jid != NULL, "'%s' gives '%s', which does not parse: %s", name, contact,
                 parse_error->message);
  PG_FUZZ_CHECK (pg_jid_get_resource (jid) == NULL && pg_jid_get_node (jid) != NULL, "'%s' gives '%s'", name,
                 contact);
  g_autofree char *printed = pg_jid_to_string (jid);
  PG_FUZZ_CHECK (strcmp (printed, contact) == 0, "'%s' gives '%s', which parses as '%s'", name, contact,
                 printed);
  PG_FUZZ_CHECK (strcmp (pg_jid_get_domain (jid), DOMAIN) == 0, "domain changed in '%s'", contact);

  /* Incoming stanzas name the contact by this JID: the name it decodes to
   * must lead back to the same JID. */
  g_autofree char *decoded = pg_jid_unescape (pg_jid_get_node (jid));
  g_autoptr (GError) again_error = NULL;
  g_autofree char *again = pg_jid_for_legacy_name (decoded, DOMAIN, &again_error);
  PG_FUZZ_CHECK (again != NULL && strcmp (again, contact) == 0,
                 "'%s' gives '%s'; its decoded name '%s' gives '%s' (%s)", name, contact, decoded,
                 again ? again : "nothing", again_error ? again_error->message : "");
  return 0;
}
