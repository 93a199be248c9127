/* tests/fuzz/fuzz-register-form.c — XEP-0077 submissions as
 * registration/inband.c reads them (the x:data form when there is one, else
 * the legacy <username/> and <password/>), and the stanza error replies built
 * for them: every reply must serialise to XML that parses back to itself,
 * echo the id and swap the addresses, carry the chosen condition, and never
 * echo the children of a jabber:iq:register payload (they hold passwords). */
#define G_LOG_DOMAIN "pg-fuzz-register-form"

#include "tests/fuzz/fuzz-common.h"

#include "transport/forms.h"
#include "transport/stanza.h"

#include <string.h>

#define NS_REGISTER "jabber:iq:register"

/* registration/inband.c read_credentials(), over a borrowed stanza. Returns
 * the error text the reply would carry, or NULL. */
static char *
read_credentials (const xmlNode *payload)
{
  xmlNode *x = pg_stanza_find_child (payload, "x", PG_NS_DATA);
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;

  if (x != NULL)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PgForm) form = pg_form_parse (x, NS_REGISTER, &error);

      if (form == NULL)
        {
          PG_FUZZ_CHECK (error != NULL && error->domain == PG_FORM_ERROR, "refusal without a PgFormError");
          return g_strdup (error->message);
        }
      const char *type = pg_form_get_type (form);
      PG_FUZZ_CHECK (
          g_strv_contains ((const char *const[]){ "form", "submit", "cancel", "result", NULL }, type),
          "form type '%s'", type);
      const char *form_type = pg_form_get_value (form, "FORM_TYPE");
      PG_FUZZ_CHECK (form_type == NULL || strcmp (form_type, NS_REGISTER) == 0, "FORM_TYPE '%s' accepted",
                     form_type);
      if (strcmp (type, "submit") != 0)
        return g_strdup ("a registration form must be of type 'submit'");
      username = g_strdup (pg_form_get_value (form, "username"));
      password = g_strdup (pg_form_get_value (form, "password"));
      g_autofree char *all = pg_form_dup_text (form, "password");
      PG_FUZZ_CHECK ((all == NULL) == (password == NULL) && (all == NULL || g_str_has_prefix (all, password)),
                     "dup_text and get_value disagree");
    }
  else
    {
      username = pg_stanza_dup_child_text (payload, "username", NS_REGISTER);
      password = pg_stanza_dup_child_text (payload, "password", NS_REGISTER);
    }
  if (username != NULL)
    g_strstrip (username);
  return NULL;
}

/* Checks the reply and adds it to @replies, to be parsed back in one go. */
static void
check_reply (const xmlNode *stanza, PgErrorCondition condition, PgErrorType type, const char *text,
             GPtrArray *replies)
{
  PgStanza *reply = pg_stanza_error_reply (stanza, condition, type, text);

  PG_FUZZ_CHECK (reply != NULL, "no reply");
  PG_FUZZ_CHECK (strcmp ((const char *)reply->name, (const char *)stanza->name) == 0, "reply renamed");
  PG_FUZZ_CHECK (g_strcmp0 (pg_stanza_get_attr (reply, "type"), "error") == 0, "reply type");
  PG_FUZZ_CHECK (g_strcmp0 (pg_stanza_get_attr (reply, "id"), pg_stanza_get_attr (stanza, "id")) == 0,
                 "id not echoed");
  PG_FUZZ_CHECK (g_strcmp0 (pg_stanza_get_attr (reply, "to"), pg_stanza_get_attr (stanza, "from")) == 0
                     && g_strcmp0 (pg_stanza_get_attr (reply, "from"), pg_stanza_get_attr (stanza, "to"))
                            == 0,
                 "addresses not swapped");

  xmlNode *error = pg_stanza_get_error (reply);
  PG_FUZZ_CHECK (error != NULL, "no <error/>");
  PG_FUZZ_CHECK (pg_stanza_find_child (error, pg_error_condition_to_string (condition), PG_NS_STANZAS)
                     != NULL,
                 "condition missing");
  PG_FUZZ_CHECK (g_strcmp0 (pg_stanza_get_attr (error, "type"), pg_error_type_to_string (type, condition))
                     == 0,
                 "error type");

  xmlNode *payload = pg_stanza_first_element (stanza);
  if (strcmp ((const char *)stanza->name, "iq") == 0 && payload != NULL
      && g_strcmp0 (pg_stanza_get_ns (payload), NS_REGISTER) == 0)
    {
      xmlNode *echoed = pg_stanza_first_element (reply);
      PG_FUZZ_CHECK (echoed != NULL && echoed != error && echoed->children == NULL,
                     "the register payload is echoed with its children");
    }
  g_ptr_array_add (replies, reply);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GPtrArray) stanzas = NULL;
  g_autoptr (GPtrArray) replies = g_ptr_array_new_with_free_func ((GDestroyNotify)pg_stanza_free);
  guint32 hash;

  pg_fuzz_init ();
  hash = pg_fuzz_hash (data, size);
  stanzas = pg_fuzz_parse_stanzas (data, size);
  for (guint i = 0; i < stanzas->len; i++)
    {
      const xmlNode *stanza = g_ptr_array_index (stanzas, i);
      xmlNode *payload = pg_stanza_first_element (stanza);
      g_autofree char *problem = NULL;
      PgErrorCondition condition = (PgErrorCondition)((hash + i) % (PG_ERR_UNEXPECTED_REQUEST + 1));
      PgErrorType type = (PgErrorType)((hash >> 8) % (PG_ERR_TYPE_WAIT + 1));

      if (payload != NULL && pg_stanza_is (payload, "query", NS_REGISTER))
        problem = read_credentials (payload);
      check_reply (stanza, condition, type, problem, replies);
      /* Legacy text is untrusted too: raw input bytes as the text. */
      if (hash & 0x10000)
        {
          g_autofree char *raw = pg_fuzz_dup_string (data, MIN (size, 256));
          check_reply (stanza, PG_ERR_NOT_ACCEPTABLE, PG_ERR_TYPE_DEFAULT, raw, replies);
        }
    }
  pg_fuzz_check_reparses_all (replies);
  pg_fuzz_input_done ();
  return 0;
}
