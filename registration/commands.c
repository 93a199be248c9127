/* registration/commands.c — ad-hoc commands about registrations (XEP-0133
 * §4.2, 4.13, 4.18) and the user's settings and unregister commands. */
#define G_LOG_DOMAIN "pg-register-commands"
#include "build-config.h"

#include "registration/commands.h"

#include "registration/hooks.h"
#include "registration/inband.h"
#include "registration/store.h"
#include "registration/user-options.h"
#include "transport/adhoc.h"
#include "transport/i18n.h"

#include <string.h>

/* ---- admin: registered users ---- */

static void
registered_users_num (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  g_autoptr (GError) error = NULL;
  gint64 n = pg_store_count_users (transport->store, &error);
  if (n < 0)
    {
      g_warning ("cannot count users: %s", error->message);
      pg_adhoc_call_fail (call, PG_ERR_INTERNAL_SERVER_ERROR, NULL, NULL);
      return;
    }
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, n);
  xmlNode *form = pg_adhoc_call_add_form (call, "result", NULL, NULL, PG_NS_ADMIN);
  pg_form_add_field (form, "registeredusersnum", NULL,
                     pg_adhoc_call_translate (call, N_ ("The number of registered users")), FALSE, text);
  g_message ("admin %s read the number of registered users (%" G_GINT64_FORMAT ")",
             pg_adhoc_call_get_requester (call), n);
}

static void
registered_users_list (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) jids = pg_store_list_users (transport->store, &error);
  if (jids == NULL)
    {
      g_warning ("cannot list users: %s", error->message);
      pg_adhoc_call_fail (call, PG_ERR_INTERNAL_SERVER_ERROR, NULL, NULL);
      return;
    }
  xmlNode *form = pg_adhoc_call_add_form (call, "result", NULL, NULL, PG_NS_ADMIN);
  xmlNode *field
      = pg_form_add_field (form, "registereduserjids", "jid-multi",
                           pg_adhoc_call_translate (call, N_ ("The list of all users")), FALSE, NULL);
  guint listed = MIN (jids->len, PG_ADHOC_MAX_LISTED);
  for (guint i = 0; i < listed; i++)
    pg_stanza_add_text_child (field, "value", NULL, g_ptr_array_index (jids, i));
  if (listed < jids->len)
    {
      g_autofree char *note = g_strdup_printf (
          pg_adhoc_call_translate (call, N_ ("Only the first %u of %u registered users are listed.")), listed,
          jids->len);
      pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_WARN, note);
    }
  g_message ("admin %s read the list of registered users (%u)", pg_adhoc_call_get_requester (call),
             jids->len);
}

/* ---- admin: delete users ---- */

/* Stage 0: which users; stage 1: confirm (prev goes back); stage 2: done. */
static void
delete_user (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  guint stage = pg_adhoc_call_get_stage (call);
  if (stage == 0)
    {
      xmlNode *form = pg_adhoc_call_add_form (
          call, "form", pg_adhoc_call_translate (call, N_ ("Deleting a User")),
          pg_adhoc_call_translate (call, N_ ("Fill out this form to delete a user. Their registration and "
                                             "contact list are deleted, as if they had unregistered.")),
          PG_NS_ADMIN);
      pg_form_add_field (form, "accountjids", "jid-multi",
                         pg_adhoc_call_translate (call, N_ ("The Jabber ID(s) to delete")), TRUE, NULL);
      pg_adhoc_call_continue (call, PG_ADHOC_NEXT, PG_ADHOC_NEXT);
      return;
    }
  if (stage == 1)
    {
      g_autoptr (GPtrArray) jids = pg_adhoc_call_dup_jids (call, "accountjids");
      if (jids == NULL)
        return;
      g_autoptr (GPtrArray) found = g_ptr_array_new ();
      g_autoptr (GString) unknown = g_string_new (NULL);
      for (guint i = 0; i < jids->len; i++)
        {
          const char *jid = g_ptr_array_index (jids, i);
          if (pg_transport_is_registered (transport, jid))
            g_ptr_array_add (found, (gpointer)jid);
          else
            g_string_append_printf (unknown, "%s%s", unknown->len > 0 ? ", " : "", jid);
        }
      if (found->len == 0)
        {
          /* XEP-0050 §3.6: completed, with an error note. */
          pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_ERROR,
                                  pg_adhoc_call_translate (call, N_ ("None of these JIDs is registered.")));
          return;
        }
      g_ptr_array_add (found, NULL);
      g_autofree char *joined = g_strjoinv ("\n", (char **)found->pdata);
      pg_adhoc_call_set_data (call, "accountjids", joined);
      xmlNode *form = pg_adhoc_call_add_form (
          call, "form", pg_adhoc_call_translate (call, N_ ("Deleting a User")),
          pg_adhoc_call_translate (call, N_ ("These registrations will be deleted. Complete to delete them, "
                                             "or go back to change the list.")),
          PG_NS_ADMIN);
      for (guint i = 0; i + 1 < found->len; i++)
        pg_form_add_field (form, NULL, "fixed", NULL, FALSE, g_ptr_array_index (found, i));
      if (unknown->len > 0)
        {
          g_autofree char *note
              = g_strdup_printf (pg_adhoc_call_translate (call, N_ ("Not registered: %s")), unknown->str);
          pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_WARN, note);
        }
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      return;
    }

  g_auto (GStrv) jids = g_strsplit (pg_adhoc_call_get_data (call, "accountjids"), "\n", -1);
  g_autoptr (GString) deleted = g_string_new (NULL);
  for (guint i = 0; jids[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      gboolean existed = FALSE;
      if (!pg_inband_unregister (transport, jids[i], NULL, &existed, &error))
        {
          g_warning ("admin %s: cannot delete the registration of %s: %s", pg_adhoc_call_get_requester (call),
                     jids[i], error->message);
          pg_adhoc_call_add_note (
              call, PG_ADHOC_NOTE_ERROR,
              pg_adhoc_call_translate (call, N_ ("A registration could not be deleted.")));
          continue;
        }
      if (!existed)
        continue; /* deleted meanwhile */
      g_message ("admin %s deleted the registration of %s", pg_adhoc_call_get_requester (call), jids[i]);
      g_string_append_printf (deleted, "%s%s", deleted->len > 0 ? ", " : "", jids[i]);
    }
  if (deleted->len > 0)
    {
      g_autofree char *note
          = g_strdup_printf (pg_adhoc_call_translate (call, N_ ("Deleted: %s")), deleted->str);
      pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, note);
    }
}

/* ---- user: settings ---- */

static const struct
{
  const char *key;
  const char *label;
} settings[] = {
  { PG_SETTING_TYPING, N_ ("Show when my contacts are typing") },
  { PG_SETTING_RECEIPTS, N_ ("Confirm delivery of my messages (receipts)") },
};

/* The settings form's "log in again now" field. */
#define RELOGIN_VAR "relogin"

/* Whether the form offers "stay connected": only when the operator lets
 * users choose ([registration] stay_connected = ask). */
static gboolean
offers_stay (PgTransport *transport)
{
  return transport->config->stay_connected == PG_STAY_CONNECTED_ASK;
}

/* The user's choice, off until they turn it on. */
static gboolean
stays (PgTransport *transport, const char *user)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *value = pg_store_dup_setting (transport->store, user, PG_SETTING_STAY_CONNECTED, &error);
  if (error != NULL)
    g_warning ("%s", error->message);
  return g_strcmp0 (value, "true") == 0;
}

static void
user_settings (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  const char *user = pg_adhoc_call_get_requester (call);
  if (pg_adhoc_call_get_stage (call) == 0)
    {
      xmlNode *form
          = pg_adhoc_call_add_form (call, "form", pg_adhoc_call_translate (call, N_ ("Settings")),
                                    pg_adhoc_call_translate (call, N_ ("Choose how the gateway treats your "
                                                                       "conversations.")),
                                    PG_NODE_SETTINGS);
      for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
        pg_form_add_field (
            form, settings[i].key, "boolean", pg_adhoc_call_translate (call, settings[i].label), FALSE,
            pg_store_setting_enabled (transport->store, user, settings[i].key) ? "true" : "false");
      if (offers_stay (transport))
        pg_form_add_field (form, PG_SETTING_STAY_CONNECTED, "boolean",
                           pg_adhoc_call_translate (call, N_ ("Stay connected while I am offline")), FALSE,
                           stays (transport, user) ? "true" : "false");
      /* Account options take effect at the next login, which the user
       * may start at once. */
      if (transport->config->user_options[0] != NULL)
        {
          pg_user_options_add_fields (transport, form, user, pg_adhoc_call_get_lang (call));
          pg_form_add_field (form, RELOGIN_VAR, "boolean",
                             pg_adhoc_call_translate (call, N_ ("Log in again now")), FALSE, "false");
        }
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      return;
    }
  const PgForm *submitted = pg_adhoc_call_get_form (call);
  PgErrorCondition condition;
  g_autofree char *text = NULL;
  g_autoptr (GHashTable) options
      = pg_user_options_read (transport, submitted, pg_adhoc_call_get_lang (call), &condition, &text);
  if (options == NULL)
    {
      pg_adhoc_call_fail_text (call, condition, text);
      return;
    }
  gboolean relogin = FALSE;
  if (submitted != NULL && !pg_form_get_boolean (submitted, RELOGIN_VAR, FALSE, &relogin, NULL))
    {
      pg_adhoc_call_fail (call, PG_ERR_NOT_ACCEPTABLE, NULL, N_ ("A setting is not a boolean."));
      return;
    }
  gboolean values[G_N_ELEMENTS (settings)];
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      /* XEP-0004 §3.5: a field left out keeps its value. */
      gboolean current = pg_store_setting_enabled (transport->store, user, settings[i].key);
      if (submitted == NULL)
        values[i] = current;
      else if (!pg_form_get_boolean (submitted, settings[i].key, current, &values[i], NULL))
        {
          pg_adhoc_call_fail (call, PG_ERR_NOT_ACCEPTABLE, NULL, N_ ("A setting is not a boolean."));
          return;
        }
    }
  gboolean stay = offers_stay (transport) && stays (transport, user);
  if (submitted != NULL && offers_stay (transport)
      && !pg_form_get_boolean (submitted, PG_SETTING_STAY_CONNECTED, stay, &stay, NULL))
    {
      pg_adhoc_call_fail (call, PG_ERR_NOT_ACCEPTABLE, NULL, N_ ("A setting is not a boolean."));
      return;
    }
  /* The booleans, then "stay connected" when offered. */
  const char *keys[G_N_ELEMENTS (settings) + 1];
  gboolean chosen[G_N_ELEMENTS (settings) + 1];
  guint n = 0;
  for (; n < G_N_ELEMENTS (settings); n++)
    {
      keys[n] = settings[n].key;
      chosen[n] = values[n];
    }
  /* Only when submitted: a user who never chose has no row. */
  if (offers_stay (transport) && submitted != NULL
      && pg_form_get_value (submitted, PG_SETTING_STAY_CONNECTED) != NULL)
    {
      keys[n] = PG_SETTING_STAY_CONNECTED;
      chosen[n++] = stay;
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;
      if (!pg_store_put_setting (transport->store, user, keys[i], chosen[i] ? "true" : "false", &error))
        {
          g_warning ("%s", error->message);
          pg_adhoc_call_fail (call, PG_ERR_INTERNAL_SERVER_ERROR, NULL,
                              N_ ("The settings could not be stored. Please try again later."));
          return;
        }
    }
  g_autoptr (GError) error = NULL;
  if (!pg_user_options_store (transport, user, options, &error))
    {
      g_warning ("%s", error->message);
      pg_adhoc_call_fail (call, PG_ERR_INTERNAL_SERVER_ERROR, NULL,
                          N_ ("The settings could not be stored. Please try again later."));
      return;
    }
  g_info ("%s changed their settings", user);
  if (relogin)
    {
      /* The login starts again with what is stored now. */
      transport->registration_hooks->credentials_changed (transport, user);
      pg_adhoc_call_add_note (
          call, PG_ADHOC_NOTE_INFO,
          pg_adhoc_call_translate (call, N_ ("Your settings were saved. You are logged in "
                                             "again with them.")));
      return;
    }
  pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO,
                          pg_adhoc_call_translate (call, N_ ("Your settings were saved.")));
}

/* ---- user: unregister ---- */

static void
unregister (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  if (pg_adhoc_call_get_stage (call) == 0)
    {
      g_autofree char *instructions = g_strdup_printf (
          pg_adhoc_call_translate (call, N_ ("Complete this command to delete your registration with the %s "
                                             "gateway: you are logged out and your contacts through it are "
                                             "removed.")),
          transport->legacy_name);
      pg_adhoc_call_add_form (call, "form", pg_adhoc_call_translate (call, N_ ("Unregister")), instructions,
                              NULL);
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      return;
    }
  g_autoptr (GError) error = NULL;
  gboolean existed = FALSE;
  const char *user = pg_adhoc_call_get_requester (call);
  if (!pg_inband_unregister (transport, user, NULL, &existed, &error))
    {
      g_warning ("cannot delete the registration of %s: %s", user, error->message);
      pg_adhoc_call_fail (call, PG_ERR_INTERNAL_SERVER_ERROR, NULL, NULL);
      return;
    }
  pg_adhoc_call_add_note (call, existed ? PG_ADHOC_NOTE_INFO : PG_ADHOC_NOTE_ERROR,
                          existed ? pg_adhoc_call_translate (call, N_ ("You are no longer registered."))
                                  : pg_adhoc_call_translate (call, N_ ("You are not registered.")));
}

static const PgAdhocCommand commands[] = {
  {
      .node = PG_NODE_SETTINGS,
      .name = N_ ("Settings"),
      .access = PG_ADHOC_ACCESS_REGISTERED,
      .handler = user_settings,
  },
  {
      .node = PG_NODE_UNREGISTER,
      .name = N_ ("Unregister"),
      .access = PG_ADHOC_ACCESS_REGISTERED,
      .handler = unregister,
  },
  {
      .node = PG_ADMIN_NODE ("get-registered-users-num"),
      .name = N_ ("Get Number of Registered Users"),
      .access = PG_ADHOC_ACCESS_ADMIN,
      .handler = registered_users_num,
  },
  {
      .node = PG_ADMIN_NODE ("get-registered-users-list"),
      .name = N_ ("Get List of Registered Users"),
      .access = PG_ADHOC_ACCESS_ADMIN,
      .handler = registered_users_list,
  },
  {
      .node = PG_ADMIN_NODE ("delete-user"),
      .name = N_ ("Delete User"),
      .access = PG_ADHOC_ACCESS_ADMIN,
      .handler = delete_user,
  },
};

void
pg_registration_commands_register (PgTransport *transport)
{
  pg_adhoc_add_commands (transport, commands, G_N_ELEMENTS (commands));
}
