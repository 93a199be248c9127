/* registration/account-commands.c — registering and changing the legacy
 * account through XEP-0050 commands, for clients without XEP-0077 screens
 * for components: "Register" for users not registered yet, "Change
 * account" and "Change nick" for registered ones. They take the fields of
 * the jabber:iq:register form and go through the same checks
 * (pg_inband_submit(): the protocol's rules, then a real legacy login);
 * refusals are XEP-0050 §4.4 errors with the reason as text. */
#define G_LOG_DOMAIN "pg-register-commands"
#include "build-config.h"

#include "registration/account-commands.h"

#include "registration/inband.h"
#include "registration/seal.h"
#include "registration/store.h"
#include "registration/user-options.h"
#include "transport/adhoc.h"
#include "transport/i18n.h"

typedef enum
{
  KIND_REGISTER,
  KIND_CHANGE,
  KIND_NICK,
} Kind;

/* Between pg_inband_submit() and its outcome. */
typedef struct
{
  PgAdhocDeferred *deferred;
  PgTransport *transport;
  char *lang;
  char *username;
  Kind kind;
} Waiting;

static void
waiting_free (Waiting *waiting)
{
  g_free (waiting->lang);
  g_free (waiting->username);
  g_free (waiting);
}

static void
on_checked (gboolean ok, PgErrorCondition condition, const char *text, gpointer data)
{
  Waiting *waiting = data;
  if (!ok)
    {
      pg_adhoc_deferred_fail (waiting->deferred, condition, text);
      return;
    }
  PgI18n *i18n = waiting->transport->i18n;
  g_autofree char *note
      = g_strdup_printf (pg_i18n_translate (i18n, waiting->lang,
                                            waiting->kind == KIND_REGISTER
                                                ? N_ ("You are registered as %s. Accept the gateway's "
                                                      "subscription request and go online to log in.")
                                            : waiting->kind == KIND_NICK ? N_ ("Your nick is now %s.")
                                                                         : N_ ("Your account is now %s.")),
                         waiting->username);
  pg_adhoc_deferred_complete (waiting->deferred, PG_ADHOC_NOTE_INFO, note);
}

static void
add_fields (PgAdhocCall *call, Kind kind, const char *username)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  g_autofree char *title = g_strdup_printf (
      pg_adhoc_call_translate (call, kind == KIND_NICK ? N_ ("Your nick on %s")
                                                       : N_ ("Registration with the %s gateway")),
      transport->legacy_name);
  g_autofree char *instructions = g_strdup_printf (
      pg_adhoc_call_translate (
          call,
          kind == KIND_NICK
              ? N_ ("Choose your nick on %s. It is checked with a real login before it is kept.")
              : N_ ("Enter your %s username and password. They are checked with a real login and stored "
                    "encrypted on this gateway.")),
      transport->legacy_name);
  xmlNode *form
      = pg_adhoc_call_add_form (call, "form", title, instructions, kind == KIND_NICK ? NULL : PG_NS_REGISTER);
  pg_form_add_field (form, "username", "text-single",
                     pg_adhoc_call_translate (call, kind == KIND_NICK ? N_ ("Nick") : N_ ("Username")), TRUE,
                     username);
  if (kind != KIND_NICK)
    pg_form_add_field (form, "password", "text-private", pg_adhoc_call_translate (call, N_ ("Password")),
                       kind == KIND_REGISTER && !transport->password_optional, NULL);
  if (kind != KIND_NICK)
    pg_user_options_add_fields (transport, form,
                                kind == KIND_CHANGE ? pg_adhoc_call_get_requester (call) : NULL,
                                pg_adhoc_call_get_lang (call));
}

static void
run (PgAdhocCall *call, Kind kind)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  const char *user = pg_adhoc_call_get_requester (call);
  if (pg_adhoc_call_get_stage (call) == 0)
    {
      g_autoptr (PgStoreUser) stored = pg_store_get_user (transport->store, user, NULL);
      add_fields (call, kind, stored != NULL ? stored->username : NULL);
      pg_adhoc_call_continue (call, PG_ADHOC_COMPLETE, PG_ADHOC_COMPLETE);
      return;
    }
  const PgForm *submitted = pg_adhoc_call_get_form (call);
  const char *username = submitted != NULL ? pg_form_get_value (submitted, "username") : NULL;
  if (username == NULL)
    {
      pg_adhoc_call_fail (call, PG_ERR_BAD_REQUEST, "bad-payload", N_ ("A username is required."));
      return;
    }
  /* "Change nick" keeps the stored password. */
  const char *password = kind != KIND_NICK ? pg_form_get_value (submitted, "password") : NULL;
  const char *lang = pg_adhoc_call_get_lang (call);
  PgErrorCondition condition;
  g_autofree char *text = NULL;
  g_autoptr (GHashTable) options = NULL;
  if (kind != KIND_NICK
      && (options = pg_user_options_read (transport, submitted, lang, &condition, &text)) == NULL)
    {
      pg_adhoc_call_fail_text (call, condition, text);
      return;
    }
  Waiting *waiting = g_new0 (Waiting, 1);
  waiting->transport = transport;
  waiting->lang = g_strdup (lang);
  waiting->username = g_strstrip (g_strdup (username));
  waiting->kind = kind;
  if (!pg_inband_submit (transport, user, lang, username, password, options, on_checked, waiting,
                         (GDestroyNotify)waiting_free, &condition, &text))
    {
      waiting_free (waiting);
      pg_adhoc_call_fail_text (call, condition, text);
      return;
    }
  /* The outcome comes from an idle at the earliest: after this returns. */
  waiting->deferred = pg_adhoc_call_defer (call);
}

static void
register_command (PgAdhocCall *call)
{
  run (call, KIND_REGISTER);
}

static void
change_account (PgAdhocCall *call)
{
  run (call, KIND_CHANGE);
}

static void
change_nick (PgAdhocCall *call)
{
  run (call, KIND_NICK);
}

static const PgAdhocCommand commands[] = {
  {
      .node = PG_NODE_REGISTER,
      .name = N_ ("Register"),
      .access = PG_ADHOC_ACCESS_UNREGISTERED,
      .handler = register_command,
  },
  {
      .node = PG_NODE_CHANGE_ACCOUNT,
      .name = N_ ("Change account"),
      .access = PG_ADHOC_ACCESS_REGISTERED,
      .handler = change_account,
  },
  {
      .node = PG_NODE_CHANGE_NICK,
      .name = N_ ("Change nick"),
      .access = PG_ADHOC_ACCESS_REGISTERED,
      .handler = change_nick,
  },
};

void
pg_account_commands_register (PgTransport *transport)
{
  pg_adhoc_add_commands (transport, commands, G_N_ELEMENTS (commands));
}
