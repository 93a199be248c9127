/* registration/help.c — the answer to a chat message to the gateway's own
 * address. A gateway has nobody to talk to there; a user who writes to it
 * (console clients do) learns how to register, how contacts and rooms are
 * addressed, and which XEP-0050 commands they may run. */
#define G_LOG_DOMAIN "pg-help"
#include "build-config.h"

#include "registration/help.h"

#include "registration/store.h"
#include "transport/adhoc.h"
#include "transport/i18n.h"

#include <string.h>

static PgRouteResult
on_message (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  if (strcmp (request->type, "error") == 0 || strcmp (request->type, "groupchat") == 0
      || strcmp (request->type, "headline") == 0)
    return PG_PASS;
  g_autofree char *body = pg_stanza_dup_child_text (request->stanza, "body", NULL);
  if (body == NULL)
    return PG_PASS; /* chat states and receipts need no answer */

  PgI18n *i18n = transport->i18n;
  const char *lang = request->lang;
  const char *domain = transport->config->component_jid;
  g_autoptr (GString) text = g_string_new (NULL);
  g_string_append_printf (
      text,
      pg_i18n_translate (i18n, lang,
                         N_ ("This is the %s gateway. Your %s contacts are NAME@%s, group chats "
                             "#channel@%s.")),
      transport->legacy_name, transport->legacy_name, domain, domain);
  g_string_append (text, "\n");
  g_autoptr (PgStoreUser) user = pg_store_get_user (transport->store, request->from_bare, NULL);
  if (user != NULL)
    g_string_append_printf (text, pg_i18n_translate (i18n, lang, N_ ("You are registered as %s.")),
                            user->username);
  else
    g_string_append (text, pg_i18n_translate (i18n, lang,
                                              N_ ("You are not registered yet: register in your client's "
                                                  "service discovery, or run the command \"Register\".")));
  g_autoptr (GPtrArray) names = pg_adhoc_dup_command_names (transport, request->from_bare, lang);
  if (names->len > 0)
    {
      g_string_append (text, "\n");
      g_string_append (text, pg_i18n_translate (i18n, lang,
                                                N_ ("Commands (ad-hoc commands of your client; profanity: "
                                                    "/cmd list, /cmd exec NODE):")));
      for (guint i = 0; i < names->len; i++)
        g_string_append_printf (text, "\n- %s", (const char *)g_ptr_array_index (names, i));
    }

  g_autofree char *to = pg_jid_to_string (request->from);
  g_autoptr (PgStanza) reply = pg_stanza_new ("message", domain, to, "chat", NULL);
  pg_stanza_set_attr (reply, "xml:lang", pg_i18n_get_language (i18n, lang));
  pg_stanza_add_text_child (reply, "body", NULL, text->str);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_MESSAGE, NULL, NULL, NULL, PG_TARGET_DOMAIN, on_message },
};

void
pg_help_register (PgTransport *transport)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
}
