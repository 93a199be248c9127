/* registration/inband.c — XEP-0077 on the component's address.
 *
 * Errors carry both the RFC 6120 type and the legacy code (XEP-0077 §9) and
 * never echo the submitted fields: they may hold a password (§3.3). */
#define G_LOG_DOMAIN "pg-register"
#include "build-config.h"

#include "registration/inband.h"

#include "registration/hooks.h"
#include "registration/seal.h"
#include "registration/store.h"
#include "registration/subscription.h"
#include "registration/user-options.h"
#include "transport/forms.h"
#include "transport/i18n.h"

#include <string.h>

typedef struct
{
  char *username;
  char *password;      /* NULL: none given */
  GHashTable *options; /* pg_user_options_read(); NULL: none given */
} Credentials;

static void
credentials_clear (Credentials *credentials)
{
  g_clear_pointer (&credentials->username, g_free);
  g_clear_pointer (&credentials->password, pg_seal_free_secret);
  g_clear_pointer (&credentials->options, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Credentials, credentials_clear)

/* Answers the iq get/set @stanza with an error; @text, an English msgid,
 * is translated into @lang when the catalogues know it. */
static void
send_error (PgTransport *transport, const xmlNode *stanza, const char *lang, PgErrorCondition condition,
            PgErrorType type, const char *text)
{
  g_autoptr (PgStanza) reply = pg_stanza_error_reply (stanza, condition, type, text);
  pg_i18n_localize_error (transport->i18n, reply, lang);
  pg_transport_send (transport, reply);
}

static void
reply_error (PgTransport *transport, const PgRouteRequest *request, PgErrorCondition condition,
             PgErrorType type, const char *text)
{
  send_error (transport, request->stanza, request->lang, condition, type, text);
}

/* Answers @stanza with an error whose @text is already in @lang's
 * language. */
static void
send_text_error (PgTransport *transport, const xmlNode *stanza, const char *lang, PgErrorCondition condition,
                 const char *text)
{
  /* What the gateway itself could not do (store the registration, keep
   * the checking login alive) may work later: retry after waiting. */
  PgErrorType type = condition == PG_ERR_INTERNAL_SERVER_ERROR ? PG_ERR_TYPE_WAIT : PG_ERR_TYPE_DEFAULT;
  g_autoptr (PgStanza) reply = pg_stanza_error_reply (stanza, condition, type, text);
  xmlNode *error = pg_stanza_get_error (reply);
  xmlNode *node = error != NULL ? pg_stanza_find_child (error, "text", PG_NS_STANZAS) : NULL;
  if (node != NULL)
    pg_stanza_set_attr (node, "xml:lang", pg_i18n_get_language (transport->i18n, lang));
  pg_transport_send (transport, reply);
}

struct PgInbandCheck
{
  PgTransport *transport;
  char *lang; /* of the request; NULL: English */
  char *bare_jid;
  gboolean existed;
  Credentials credentials;
  PgVerification *verification; /* until it is done */
  PgInbandDone done;
  PgInbandAsk ask;
  gpointer data;
  GDestroyNotify destroy;
};
typedef struct PgInbandCheck Pending;

static void
pending_free (Pending *pending)
{
  if (pending->destroy != NULL)
    pending->destroy (pending->data);
  g_free (pending->lang);
  g_free (pending->bare_jid);
  credentials_clear (&pending->credentials);
  g_free (pending);
}

/* Stores verified credentials and tells; or tells why not. Nothing is
 * stored for a refusal: a refused change keeps the registration. */
/* Keeps @settings (key → value; NULL: none) for @bare_jid. */
static gboolean
store_settings (PgTransport *transport, const char *bare_jid, GHashTable *settings, GError **error)
{
  GHashTableIter iter;
  gpointer key, value;
  if (settings == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, settings);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!pg_store_put_setting (transport->store, bare_jid, key, value, error))
      return FALSE;
  return TRUE;
}

/* The outcome of a nick asked of the login that is up: only the name
 * changes, the login goes on. */
static void
finish_nick_change (gboolean ok, PgErrorCondition condition, const char *text, GHashTable *settings,
                    gpointer data)
{
  Pending *pending = data;
  PgTransport *transport = pending->transport;
  g_autoptr (GError) error = NULL;
  if (!ok)
    {
      g_message ("new nick of %s refused", pending->bare_jid);
      pending->done (FALSE, condition, text, pending->data);
      return;
    }
  if (!pg_store_put_user (transport->store, pending->bare_jid, pending->credentials.username, NULL, &error))
    {
      g_warning ("cannot store the new nick of %s: %s", pending->bare_jid, error->message);
      pending->done (FALSE, PG_ERR_INTERNAL_SERVER_ERROR,
                     pg_i18n_translate (transport->i18n, pending->lang,
                                        N_ ("The registration could not be stored. Please try again later.")),
                     pending->data);
      return;
    }
  g_message ("%s has a new nick", pending->bare_jid);
  pending->done (TRUE, PG_ERR_UNDEFINED_CONDITION, NULL, pending->data);
}

static void
finish_registration (gboolean ok, PgErrorCondition condition, const char *text, GHashTable *settings,
                     gpointer data)
{
  Pending *pending = data;
  PgTransport *transport = pending->transport;
  g_autoptr (GError) error = NULL;
  pending->verification = NULL;
  if (!ok)
    {
      g_message ("registration of %s refused", pending->bare_jid);
      pending->done (FALSE, condition, text, pending->data);
      transport->registration_hooks->credentials_changed (transport, pending->bare_jid);
      return;
    }
  if (!pg_store_put_user (transport->store, pending->bare_jid, pending->credentials.username,
                          pending->credentials.password, &error)
      || !pg_user_options_store (transport, pending->bare_jid, pending->credentials.options, &error)
      || !store_settings (transport, pending->bare_jid, settings, &error))
    {
      g_warning ("cannot store the registration of %s: %s", pending->bare_jid, error->message);
      pending->done (FALSE, PG_ERR_INTERNAL_SERVER_ERROR,
                     pg_i18n_translate (transport->i18n, pending->lang,
                                        N_ ("The registration could not be stored. Please try again later.")),
                     pending->data);
      transport->registration_hooks->credentials_changed (transport, pending->bare_jid);
      return;
    }
  g_message ("%s %s", pending->existed ? "updated the registration of" : "registered", pending->bare_jid);
  pending->done (TRUE, PG_ERR_UNDEFINED_CONDITION, NULL, pending->data);
  pg_subscription_request (transport, pending->bare_jid);
  transport->registration_hooks->credentials_changed (transport, pending->bare_jid);
}

static char *
dup_text (PgTransport *transport, const char *lang, const char *msgid)
{
  return g_strdup (pg_i18n_translate (transport->i18n, lang, msgid));
}

static void
on_asked (PgVerification *verification, const xmlNode *form, const char *summary, gpointer data)
{
  Pending *pending = data;
  PgTransport *transport = pending->transport;
  if (pending->ask != NULL)
    {
      pending->ask (pending, form, summary, pending->data);
      return;
    }
  /* XEP-0077 has no second form: the ad-hoc command that has one is named. */
  const char *command = pg_i18n_translate (transport->i18n, pending->lang,
                                           pending->existed ? N_ ("Change account") : N_ ("Register"));
  /* TRANSLATORS: the legacy network's name, its question in its own words, and the name of the
   * ad-hoc command. */
  g_autofree char *text = g_strdup_printf (
      pg_i18n_translate (transport->i18n, pending->lang,
                         N_ ("%s asks a question before it lets you in: “%s”. Answer it by registering with "
                             "the gateway's ad-hoc command “%s”, which shows the question as a form.")),
      transport->legacy_name, summary, command);
  transport->registration_hooks->verify_stop (verification, PG_ERR_NOT_ACCEPTABLE, text);
}

gboolean
pg_inband_answer (PgInbandCheck *check, const PgForm *form, PgErrorCondition *condition, char **text)
{
  g_return_val_if_fail (check->verification != NULL, FALSE);
  return check->transport->registration_hooks->verify_answer (check->verification, form, condition, text);
}

void
pg_inband_abandon (PgInbandCheck *check)
{
  if (check->verification == NULL)
    return; /* a nick asked of the login that is up: its answer is near */
  g_message ("registration of %s given up by its user", check->bare_jid);
  check->transport->registration_hooks->verify_stop (
      check->verification, PG_ERR_NOT_ACCEPTABLE,
      pg_i18n_translate (check->transport->i18n, check->lang, N_ ("The registration was cancelled.")));
}

PgInbandCheck *
pg_inband_submit (PgTransport *transport, const char *bare_jid, const char *lang, const char *username,
                  const char *password, GHashTable *options, PgInbandDone done, PgInbandAsk ask,
                  gpointer data, GDestroyNotify destroy, PgErrorCondition *condition, char **text)
{
  *condition = PG_ERR_NOT_ACCEPTABLE;
  g_autoptr (GError) error = NULL;
  g_autoptr (PgStoreUser) existing = pg_store_get_user (transport->store, bare_jid, &error);
  if (error != NULL)
    {
      g_warning ("cannot read the registration of %s: %s", bare_jid, error->message);
      *condition = PG_ERR_INTERNAL_SERVER_ERROR;
      *text = NULL;
      return NULL;
    }
  g_autofree char *name = g_strstrip (g_strdup (username != NULL ? username : ""));
  if (*name == '\0')
    {
      *text = dup_text (transport, lang, N_ ("A username is required."));
      return NULL;
    }
  gboolean keep_password = password == NULL || *password == '\0';
  /* An edit without a password keeps the stored one (XEP-0077 §3.3). */
  if (keep_password && existing == NULL && !transport->password_optional)
    {
      *text = dup_text (transport, lang, N_ ("A password is required."));
      return NULL;
    }
  /* The name the logins will use: the user-name parts of the form over the
   * stored ones. */
  g_autofree char *legacy_name = pg_user_options_dup_legacy_username (
      transport, existing != NULL ? bare_jid : NULL, options, name, lang, text);
  if (legacy_name == NULL)
    return NULL;
  /* Obvious mistakes are answered at once, without a login. */
  if ((*text = transport->registration_hooks->check_username (transport, name, legacy_name, lang, condition))
      != NULL)
    return NULL;

  Pending *pending = g_new0 (Pending, 1);
  pending->transport = transport;
  pending->lang = g_strdup (lang);
  pending->bare_jid = g_strdup (bare_jid);
  pending->existed = existing != NULL;
  pending->credentials.username = g_steal_pointer (&name);
  pending->credentials.password = keep_password ? NULL : g_strdup (password);
  pending->credentials.options = options != NULL ? g_hash_table_ref (options) : NULL;
  pending->done = done;
  pending->ask = ask;
  pending->data = data;
  pending->destroy = destroy;

  /* Only the name changes, where the protocol has one nick per connection
   * and the user is online: the network is asked for it on that login,
   * which goes on (a refusal keeps the old nick). */
  if (pending->existed && keep_password && (options == NULL || g_hash_table_size (options) == 0)
      && strcmp (existing->username, pending->credentials.username) != 0
      && transport->registration_hooks->change_nick (
          transport, bare_jid, legacy_name, lang, finish_nick_change, pending, (GDestroyNotify)pending_free))
    return pending;

  /* Every registration and change is checked with a real login, also where
   * the protocol needs no password (a nick may be taken or refused), with
   * the password the login will use: the new one, or the stored one for an
   * edit that keeps it (XEP-0100 §4.2.1). */
  char *login_password = pending->credentials.password != NULL
                             ? g_strdup (pending->credentials.password)
                             : pg_store_dup_password (transport->store, bare_jid, NULL);
  /* The options it will store, over those stored (a change keeps what it
   * leaves out): the check logs in as the user's logins will. */
  g_auto (GStrv) setting_keys = NULL;
  GStrv setting_values = NULL;
  pg_user_options_dup_login_settings (transport, pending->existed ? bare_jid : NULL,
                                      pending->credentials.options, &setting_keys, &setting_values);
  /* The user's own login would hold the same legacy account. */
  transport->registration_hooks->pause (transport, bare_jid);
  pending->verification = transport->registration_hooks->verify (
      transport, bare_jid, legacy_name, login_password, (const char *const *)setting_keys,
      (const char *const *)setting_values, lang, finish_registration, on_asked, pending,
      (GDestroyNotify)pending_free);
  pg_user_options_free_values (setting_values);
  if (login_password != NULL)
    pg_seal_free_secret (login_password);
  return pending;
}

static gboolean
domain_allowed (PgTransport *transport, const PgRouteRequest *request)
{
  if (pg_config_domain_allowed (transport->config, pg_jid_get_domain (request->from)))
    return TRUE;
  g_message ("registration refused for %s: domain not in [registration] allowed_domains", request->from_bare);
  reply_error (transport, request, PG_ERR_NOT_ALLOWED, PG_ERR_TYPE_DEFAULT,
               N_ ("Users of your server may not register with this gateway."));
  return FALSE;
}

static PgRouteResult
on_get (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  if (!domain_allowed (transport, request))
    return PG_HANDLED;

  g_autoptr (GError) error = NULL;
  g_autoptr (PgStoreUser) user = pg_store_get_user (transport->store, request->from_bare, &error);
  if (error != NULL)
    {
      g_warning ("cannot read the registration of %s: %s", request->from_bare, error->message);
      reply_error (transport, request, PG_ERR_INTERNAL_SERVER_ERROR, PG_ERR_TYPE_WAIT, NULL);
      return PG_HANDLED;
    }

  gboolean password_required = !transport->password_optional;
  PgI18n *i18n = transport->i18n;
  const char *lang = request->lang;
  g_autofree char *instructions = g_strdup_printf (
      pg_i18n_translate (
          i18n, lang,
          N_ ("Enter your %s username and password. They are checked with a real login and stored "
              "encrypted on this gateway.")),
      transport->legacy_name);

  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  pg_stanza_set_attr (reply, "xml:lang", pg_i18n_get_language (i18n, lang));
  xmlNode *query = pg_stanza_add_child (reply, "query", PG_NS_REGISTER);
  pg_stanza_add_text_child (query, "instructions", NULL, instructions);
  if (user != NULL)
    pg_stanza_add_child (query, "registered", NULL);
  pg_stanza_add_text_child (query, "username", NULL, user != NULL ? user->username : NULL);
  /* Never disclosed, even to its owner. */
  pg_stanza_add_child (query, "password", NULL);

  g_autofree char *title = g_strdup_printf (
      pg_i18n_translate (i18n, lang, N_ ("Registration with the %s gateway")), transport->legacy_name);
  xmlNode *form = pg_form_add (query, "form", title, instructions, PG_NS_REGISTER);
  pg_form_add_field (form, "username", "text-single", pg_i18n_translate (i18n, lang, N_ ("Username")), TRUE,
                     user != NULL ? user->username : NULL);
  pg_form_add_field (form, "password", "text-private", pg_i18n_translate (i18n, lang, N_ ("Password")),
                     password_required && user == NULL, NULL);
  pg_user_options_add_fields (transport, form, user != NULL ? request->from_bare : NULL, lang);
  pg_transport_send (transport, reply);
  return PG_HANDLED;
}

gboolean
pg_inband_unregister (PgTransport *transport, const char *bare_jid, const xmlNode *reply, gboolean *existed,
                      GError **error)
{
  /* Contacts say goodbye after the transport, from what the store held. */
  g_autoptr (GPtrArray) contacts = pg_store_list_contacts (transport->store, bare_jid, NULL);
  transport->registration_hooks->close (transport, bare_jid);
  if (!pg_store_delete_user (transport->store, bare_jid, existed, error))
    return FALSE;
  if (!*existed)
    return TRUE;
  g_message ("unregistered %s", bare_jid);
  if (reply != NULL)
    pg_transport_send (transport, reply);
  pg_subscription_cancel (transport, bare_jid);
  transport->registration_hooks->say_goodbye (transport, bare_jid, contacts);
  return TRUE;
}

static void
unregister (PgTransport *transport, const PgRouteRequest *request)
{
  g_autoptr (GError) error = NULL;
  gboolean existed = FALSE;
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (request->stanza);
  if (!pg_inband_unregister (transport, request->from_bare, reply, &existed, &error))
    {
      g_warning ("cannot delete the registration of %s: %s", request->from_bare, error->message);
      reply_error (transport, request, PG_ERR_INTERNAL_SERVER_ERROR, PG_ERR_TYPE_WAIT, NULL);
      return;
    }
  if (!existed)
    reply_error (transport, request, PG_ERR_REGISTRATION_REQUIRED, PG_ERR_TYPE_DEFAULT, NULL);
}

/* Reads username and password from the x:data form when there is one
 * (XEP-0077 §6: the form wins), else from the legacy fields. Returns FALSE
 * after replying with the error. */
static gboolean
read_credentials (PgTransport *transport, const PgRouteRequest *request, Credentials *out)
{
  xmlNode *x = pg_stanza_find_child (request->payload, "x", PG_NS_DATA);
  if (x != NULL)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PgForm) form = pg_form_parse (x, PG_NS_REGISTER, &error);
      if (form == NULL || strcmp (pg_form_get_type (form), "submit") != 0)
        {
          reply_error (transport, request, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT,
                       error != NULL ? error->message : "a registration form must be of type 'submit'");
          return FALSE;
        }
      out->username = g_strdup (pg_form_get_value (form, "username"));
      out->password = g_strdup (pg_form_get_value (form, "password"));
      PgErrorCondition condition;
      g_autofree char *text = NULL;
      out->options = pg_user_options_read (transport, form, request->lang, &condition, &text);
      if (out->options == NULL)
        {
          send_text_error (transport, request->stanza, request->lang, condition, text);
          return FALSE;
        }
      return TRUE;
    }
  out->username = pg_stanza_dup_child_text (request->payload, "username", PG_NS_REGISTER);
  out->password = pg_stanza_dup_child_text (request->payload, "password", PG_NS_REGISTER);
  return TRUE;
}

/* A XEP-0077 set waiting for its check. */
typedef struct
{
  PgTransport *transport;
  PgStanza *request; /* dup_request_head() */
  char *lang;
} Answer;

/* What the answer to @request needs of it: the iq's addresses, type and id,
 * and its query, empty (pg_stanza_error_reply() echoes no more of a
 * jabber:iq:register payload).  Not a whole copy: the request carries the
 * password, and a wave of registrations holds one per check under way.
 * Caller owns the result. */
static PgStanza *
dup_request_head (const PgRouteRequest *request)
{
  const xmlNode *iq = request->stanza;
  PgStanza *head
      = pg_stanza_new ((const char *)iq->name, pg_stanza_get_attr (iq, "from"), pg_stanza_get_attr (iq, "to"),
                       pg_stanza_get_attr (iq, "type"), pg_stanza_get_attr (iq, "id"));
  pg_stanza_add_child (head, (const char *)request->payload->name, PG_NS_REGISTER);
  return head;
}

static void
answer_free (Answer *answer)
{
  pg_stanza_free (answer->request);
  g_free (answer->lang);
  g_free (answer);
}

static void
answer_done (gboolean ok, PgErrorCondition condition, const char *text, gpointer data)
{
  Answer *answer = data;
  if (!ok)
    {
      send_text_error (answer->transport, answer->request, answer->lang, condition, text);
      return;
    }
  g_autoptr (PgStanza) reply = pg_stanza_new_iq_result (answer->request);
  pg_transport_send (answer->transport, reply);
}

static PgRouteResult
on_set (const PgRouteRequest *request, gpointer user_data)
{
  PgTransport *transport = user_data;
  if (!domain_allowed (transport, request))
    return PG_HANDLED;

  if (pg_stanza_find_child (request->payload, "remove", PG_NS_REGISTER) != NULL)
    {
      if (pg_stanza_count_elements (request->payload) != 1)
        reply_error (transport, request, PG_ERR_BAD_REQUEST, PG_ERR_TYPE_DEFAULT,
                     "<remove/> must be the only element of the query");
      else
        unregister (transport, request);
      return PG_HANDLED;
    }

  g_auto (Credentials) credentials = { 0 };
  if (!read_credentials (transport, request, &credentials))
    return PG_HANDLED;

  Answer *answer = g_new0 (Answer, 1);
  answer->transport = transport;
  answer->request = dup_request_head (request);
  answer->lang = g_strdup (request->lang);
  PgErrorCondition condition;
  g_autofree char *text = NULL;
  if (pg_inband_submit (transport, request->from_bare, request->lang, credentials.username,
                        credentials.password, credentials.options, answer_done, NULL, answer,
                        (GDestroyNotify)answer_free, &condition, &text)
      == NULL)
    {
      answer_done (FALSE, condition, text, answer);
      answer_free (answer);
    }
  return PG_HANDLED;
}

static const PgRoute routes[] = {
  { PG_KIND_IQ, "get", PG_NS_REGISTER, "query", PG_TARGET_DOMAIN, on_get },
  { PG_KIND_IQ, "set", PG_NS_REGISTER, "query", PG_TARGET_DOMAIN, on_set },
};

static const char *const features[] = { PG_NS_REGISTER, NULL };

gboolean
pg_inband_is_registered (PgTransport *transport, const char *bare_jid)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PgStoreUser) user = pg_store_get_user (transport->store, bare_jid, &error);
  if (error != NULL)
    g_warning ("cannot look up %s: %s", bare_jid, error->message);
  return user != NULL;
}

void
pg_inband_register (PgTransport *transport)
{
  pg_router_add_routes (transport->router, routes, G_N_ELEMENTS (routes), transport);
  pg_router_add_features (transport->router, features);
}
