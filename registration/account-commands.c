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

/* A registration command from pg_inband_submit() to its outcome, shared by
 * the check (until its outcome) and the command's session (until it
 * ends). */
typedef struct
{
  guint refs;
  PgTransport *transport;
  char *lang;
  char *username;
  Kind kind;
  PgAdhocDeferred *deferred; /* the request waiting for the check; NULL: none */
  PgInbandCheck *check;      /* while the check is under way; NULL once it is done */
  /* The outcome, when it came while no request waited for it. */
  gboolean decided;
  gboolean ok;
  PgErrorCondition condition;
  char *text;
} Waiting;

static Waiting *
waiting_ref (Waiting *waiting)
{
  waiting->refs++;
  return waiting;
}

static void
waiting_unref (Waiting *waiting)
{
  if (--waiting->refs > 0)
    return;
  g_free (waiting->lang);
  g_free (waiting->username);
  g_free (waiting->text);
  g_free (waiting);
}

/* The command's session ended (completed, cancelled, expired): a check
 * still under way is given up, so that nothing is registered after a
 * cancel. */
static void
session_ended (Waiting *waiting)
{
  if (waiting->check != NULL)
    pg_inband_abandon (waiting->check);
  waiting_unref (waiting);
}

/* What a successful command tells the user. Owned. */
static char *
dup_success_note (Waiting *waiting)
{
  PgI18n *i18n = waiting->transport->i18n;
  return g_strdup_printf (pg_i18n_translate (i18n, waiting->lang,
                                             waiting->kind == KIND_REGISTER
                                                 ? N_ ("You are registered as %s. Accept the gateway's "
                                                       "subscription request and go online to log in.")
                                             : waiting->kind == KIND_NICK ? N_ ("Your nick is now %s.")
                                                                          : N_ ("Your account is now %s.")),
                          waiting->username);
}

static void
on_checked (gboolean ok, PgErrorCondition condition, const char *text, gpointer data)
{
  Waiting *waiting = data;
  waiting->check = NULL;
  if (waiting->deferred != NULL)
    {
      PgAdhocDeferred *deferred = g_steal_pointer (&waiting->deferred);
      if (!ok)
        {
          pg_adhoc_deferred_fail (deferred, condition, text);
          return;
        }
      g_autofree char *note = dup_success_note (waiting);
      pg_adhoc_deferred_complete (deferred, PG_ADHOC_NOTE_INFO, note);
      return;
    }
  /* Decided while the user read a question (its timeout): told at their
   * next request. */
  waiting->decided = TRUE;
  waiting->ok = ok;
  waiting->condition = condition;
  waiting->text = g_strdup (text);
}

/* The checking login's question becomes the command's next stage (XEP-0050
 * §3.4): the same session, its form to fill. */
static void
on_asked (PgInbandCheck *check, const xmlNode *form, const char *summary, gpointer data)
{
  Waiting *waiting = data;
  PgTransport *transport = waiting->transport;
  if (waiting->deferred == NULL)
    {
      /* Nobody to show it to (the session ended meanwhile). */
      pg_inband_abandon (check);
      return;
    }
  g_autofree char *note = g_strdup_printf (
      pg_i18n_translate (transport->i18n, waiting->lang,
                         N_ ("%s asks a question before it lets you in. Answer it to go on.")),
      transport->legacy_name);
  pg_adhoc_deferred_continue (g_steal_pointer (&waiting->deferred), note, form, PG_ADHOC_COMPLETE,
                              PG_ADHOC_COMPLETE);
}

/* A stage after a question: the answer goes to the check. */
static void
answer_question (PgAdhocCall *call, Waiting *waiting)
{
  if (waiting->check == NULL)
    {
      if (!waiting->decided)
        {
          pg_adhoc_call_fail (call, PG_ERR_UNEXPECTED_REQUEST, NULL, N_ ("No question is pending."));
          return;
        }
      /* The check ended while the question waited. */
      if (!waiting->ok)
        {
          pg_adhoc_call_fail_text (call, waiting->condition, waiting->text);
          return;
        }
      g_autofree char *note = dup_success_note (waiting);
      pg_adhoc_call_add_note (call, PG_ADHOC_NOTE_INFO, note);
      return;
    }
  const PgForm *submitted = pg_adhoc_call_get_form (call);
  if (submitted == NULL)
    {
      pg_adhoc_call_fail (call, PG_ERR_BAD_REQUEST, "bad-payload", N_ ("The answer form is missing."));
      return;
    }
  PgErrorCondition condition;
  g_autofree char *text = NULL;
  if (!pg_inband_answer (waiting->check, submitted, &condition, &text))
    {
      pg_adhoc_call_fail_text (call, condition, text);
      return;
    }
  waiting->deferred = pg_adhoc_call_defer (call);
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
  Waiting *asked = pg_adhoc_call_get_object (call);
  if (asked != NULL)
    {
      answer_question (call, asked);
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
  waiting->refs = 1; /* the check's */
  waiting->transport = transport;
  waiting->lang = g_strdup (lang);
  waiting->username = g_strstrip (g_strdup (username));
  waiting->kind = kind;
  waiting->check = pg_inband_submit (transport, user, lang, username, password, options, on_checked, on_asked,
                                     waiting, (GDestroyNotify)waiting_unref, &condition, &text);
  if (waiting->check == NULL)
    {
      waiting_unref (waiting);
      pg_adhoc_call_fail_text (call, condition, text);
      return;
    }
  /* The outcome or a question comes from an idle at the earliest: after
   * this returns. */
  pg_adhoc_call_set_object (call, waiting_ref (waiting), (GDestroyNotify)session_ended);
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
