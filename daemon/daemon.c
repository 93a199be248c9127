/* daemon/daemon.c — wiring: config → store, libpurple, router, stream, and
 * the hooks by which the lower layers reach the upper ones. */
#define G_LOG_DOMAIN "pg-daemon"
#include "build-config.h"

#include "daemon/daemon.h"

#include "daemon/stats.h"
#include "legacy/backend.h"
#include "legacy/names.h"
#include "legacy/outbox.h"
#include "legacy/purple-core.h"
#include "legacy/session-commands.h"
#include "legacy/session.h"
#include "legacy/verify.h"
#include "registration/account-commands.h"
#include "registration/commands.h"
#include "registration/help.h"
#include "registration/hooks.h"
#include "registration/inband.h"
#include "registration/store.h"
#include "registration/subscription.h"
#include "transport/adhoc.h"
#include "transport/disco.h"
#include "transport/gateway.h"
#include "transport/heap-trim.h"
#include "transport/i18n.h"
#include "transport/legacy-option.h"
#include "transport/ping.h"
#include "transport/privilege.h"
#include "transport/version.h"

#include <glib-unix.h>
#include <string.h>

/* The directory holding libpurple's private files: beside the database. */
static char *
dup_purple_dir (const PgConfig *config)
{
  g_autofree char *absolute = g_canonicalize_filename (config->database_path, NULL);
  g_autofree char *parent = g_path_get_dirname (absolute);
  return g_build_filename (parent, "purple", NULL);
}

/* Registration reaches the legacy logins through these. */
static const PgRegistrationHooks registration_hooks = {
  .pause = pg_sessions_pause,
  .credentials_changed = pg_sessions_credentials_changed,
  .close = pg_sessions_close,
  .say_goodbye = pg_sessions_say_goodbye,
  .verify = pg_verify_start,
  .verify_answer = pg_verify_answer,
  .verify_stop = pg_verify_stop,
  .change_nick = pg_sessions_change_nick,
  .check_username = pg_verify_check_username,
};

static void
send_from_router (const xmlNode *stanza, gpointer data)
{
  pg_transport_send (data, stanza);
}

/* ---- stream events ---- */

static void
on_ready (gpointer data)
{
  PgTransport *transport = data;
  pg_ping_link_up (transport);
  /* What waited for the link goes first, in order. */
  pg_outbox_link_up (transport);
  /* Users who are online get their sessions back without doing anything. */
  pg_sessions_probe_all (transport);
}

static void
on_stanza (xmlNode *stanza, gpointer data)
{
  PgTransport *transport = data;
  g_autoptr (PgStanza) owned = stanza;
  pg_router_dispatch (transport->router, owned);
}

static void
on_stanza_too_big (const xmlNode *skeleton, gsize bytes, gpointer data)
{
  PgTransport *transport = data;
  g_message ("skipped a <%s/> of %" G_GSIZE_FORMAT
             " bytes from %s: over [limits] max_stanza_bytes = %" G_GSIZE_FORMAT,
             (const char *)skeleton->name, bytes, pg_stanza_get_attr (skeleton, "from"),
             transport->config->max_stanza_bytes);
  const char *type = pg_stanza_get_attr (skeleton, "type");
  if (g_strcmp0 (type, "error") == 0 || g_strcmp0 (type, "result") == 0
      || pg_stanza_get_attr (skeleton, "from") == NULL)
    return;
  /* The bounce carries the addresses and id back: not when they are what
   * made the stanza big (a JID is at most 3 × 1023 bytes). */
  static const char *const echoed[] = { "from", "to", "id" };
  for (guint i = 0; i < G_N_ELEMENTS (echoed); i++)
    if (strlen (pg_stanza_get_attr (skeleton, echoed[i]) ?: "") > 3071)
      return;
  /* XEP-0205 §4.5: the stanza error form, without the original payload. */
  g_autoptr (PgStanza) reply
      = pg_stanza_error_reply (skeleton, PG_ERR_POLICY_VIOLATION, PG_ERR_TYPE_MODIFY, "stanza too big");
  pg_stanza_add_child (pg_stanza_get_error (reply), "stanza-too-big", PG_NS_XMPP_ERRORS);
  pg_transport_send (transport, reply);
}

static void
on_down (const char *reason, gpointer data)
{
  PgTransport *transport = data;
  pg_ping_link_down (transport);
  pg_privilege_link_down (transport);
  pg_outbox_link_down (transport);
  pg_sessions_link_down (transport);
}

static void
on_backed_up (gpointer data)
{
  pg_outbox_backed_up (data);
}

static const PgStreamCallbacks stream_callbacks = {
  .ready = on_ready,
  .stanza = on_stanza,
  .stanza_too_big = on_stanza_too_big,
  .down = on_down,
  .backed_up = on_backed_up,
};

/* ---- life cycle ---- */

static gboolean
check_legacy (PgTransport *transport, GError **error)
{
  PgConfig *config = transport->config;
  if (!pg_names_check_protocol (transport->names, config->protocol, error))
    {
      g_prefix_error (error, "%s: [legacy] protocol: ", config->path);
      return FALSE;
    }
  for (guint i = 0; config->legacy_setting_keys[i] != NULL; i++)
    if (!pg_names_check_setting (transport->names, config->protocol, config->legacy_setting_keys[i],
                                 config->legacy_setting_values[i], error))
      {
        g_prefix_error (error, "%s: [legacy-settings] %s: ", config->path, config->legacy_setting_keys[i]);
        return FALSE;
      }
  for (guint i = 0; config->legacy_plugins[i] != NULL; i++)
    if (!pg_names_check_plugin (transport->names, config->legacy_plugins[i], error))
      {
        g_prefix_error (error, "%s: [legacy] plugins: ", config->path);
        return FALSE;
      }
  transport->legacy_options = pg_names_dup_options (transport->names, config->protocol, error);
  if (transport->legacy_options == NULL)
    {
      g_prefix_error (error, "%s: [legacy] protocol: ", config->path);
      return FALSE;
    }
  if (!pg_legacy_option_check_ids (transport->legacy_options, (const char *const *)config->user_options,
                                   config->protocol, error)
      || !pg_legacy_option_check_suffix (transport->legacy_options, (const char *const *)config->user_options,
                                         config->username_suffix, config->protocol, error))
    {
      g_prefix_error (error, "%s: [registration] user_options: ", config->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
on_signal (gpointer data)
{
  PgTransport *transport = data;
  if (transport->stop_signals++ > 0)
    {
      g_message ("stopping at once on a second signal");
      return G_SOURCE_CONTINUE;
    }
  g_message ("stopping on signal");
  if (transport->loop != NULL)
    g_main_loop_quit (transport->loop);
  return G_SOURCE_CONTINUE;
}

PgTransport *
pg_daemon_new (PgConfig *config, GError **error)
{
  g_autoptr (PgTransport) transport = g_new0 (PgTransport, 1);
  transport->config = config;
  transport->started_at = g_get_monotonic_time ();
  transport->sigint_source = g_unix_signal_add (SIGINT, on_signal, transport);
  transport->sigterm_source = g_unix_signal_add (SIGTERM, on_signal, transport);

  g_autofree char *purple_dir = dup_purple_dir (config);
  const char *const private_paths[] = { config->database_path, config->key_file, NULL };
  guint workers = config->workers == PG_CONFIG_WORKERS_AUTO ? g_get_num_processors () : config->workers;
  /* With workers, libpurple and its plugins stay out of this process: the
   * names process answers what it needs to know of the protocol. */
  if (workers == 0)
    {
      transport->purple = pg_purple_new (purple_dir, error);
      if (transport->purple == NULL)
        return NULL;
      transport->names = pg_names_new_local (transport->purple);
    }
  else if ((transport->names = pg_names_new_process (purple_dir, private_paths, error)) == NULL)
    return NULL;
  if (!check_legacy (transport, error))
    return NULL;
  transport->legacy_name = config->legacy_name != NULL
                               ? g_strdup (config->legacy_name)
                               : pg_names_dup_protocol_name (transport->names, config->protocol);
  if (transport->legacy_name == NULL)
    {
      g_set_error (error, PG_PURPLE_ERROR, PG_PURPLE_ERROR_INIT, "%s: [legacy] protocol: %s has no name",
                   config->path, config->protocol);
      return NULL;
    }
  transport->password_optional = pg_names_protocol_password_optional (transport->names, config->protocol);

  transport->store = pg_store_open (config->database_path, config->key_file, error);
  if (transport->store == NULL)
    return NULL;
  pg_store_group_enable (transport->store);

  PgBackendOptions backend_options = {
    .workers = workers,
    .max_logins = config->max_logins_per_worker,
    .purple_dir = purple_dir,
    .private_paths = private_paths,
    .plugins = (const char *const *)config->legacy_plugins,
  };
  transport->backend = pg_backend_new (transport->purple, transport->names, &backend_options, error);
  if (transport->backend == NULL)
    return NULL;
  transport->is_registered = pg_inband_is_registered;
  transport->privilege_granted = pg_sessions_privilege_granted;
  transport->registration_hooks = &registration_hooks;

  transport->i18n = pg_i18n_new (NULL);
  transport->router = pg_router_new (config->component_jid, send_from_router, transport);
  transport->stream = pg_stream_new (config->host, config->port, config->component_jid, config->secret,
                                     config->max_stanza_bytes, &stream_callbacks, transport);
  transport->privilege = pg_privilege_new ();
  pg_privilege_register (transport);
  pg_rooms_register (transport);
  pg_disco_register (transport);
  pg_ping_register (transport);
  pg_outbox_register (transport);
  pg_version_register (transport);
  pg_gateway_register (transport);
  pg_inband_register (transport);
  pg_sessions_register (transport);
  pg_subscription_register (transport);
  pg_adhoc_register (transport);
  pg_session_commands_register (transport);
  pg_account_commands_register (transport);
  pg_registration_commands_register (transport);
  pg_help_register (transport);
  pg_stats_register (transport);
  pg_disco_register_fallback (transport);
  return g_steal_pointer (&transport);
}

int
pg_daemon_run (PgTransport *transport)
{
  transport->loop = g_main_loop_new (NULL, FALSE);

  g_autoptr (GError) error = NULL;
  gint64 users = pg_store_count_users (transport->store, &error);
  g_message ("purplegate %s serving %s for %s (%s), %" G_GINT64_FORMAT " registered users", PACKAGE_VERSION,
             transport->config->component_jid, transport->legacy_name, transport->config->protocol, users);
  pg_stream_start (transport->stream);
  g_autoptr (PgHeapTrim) trim = pg_heap_trim_new ();
  /* A signal received during start-up is dispatched by the first iteration
   * and quits at once. */
  g_main_loop_run (transport->loop);

  /* What the legacy servers sent comes in first (forwarded by the workers,
   * then up to the end of each login its server closes); then what is on
   * its way is acknowledged before the links go, so a restart loses
   * nothing and sends nothing twice. */
  pg_backend_sync (transport->backend, PG_BACKEND_SYNC_MS);
  pg_sessions_logout_all (transport, PG_SESSIONS_LOGOUT_MS);
  pg_outbox_drain (transport, PG_OUTBOX_DRAIN_MS);
  pg_ping_link_down (transport);
  pg_sessions_stop_all (transport);
  pg_stream_shutdown (transport->stream, 1000);
  return transport->exit_status;
}

void
pg_daemon_free (PgTransport *transport)
{
  if (transport == NULL)
    return;
  g_clear_handle_id (&transport->sigint_source, g_source_remove);
  g_clear_handle_id (&transport->sigterm_source, g_source_remove);
  g_clear_pointer (&transport->sessions, pg_sessions_free);
  g_clear_pointer (&transport->adhoc, pg_adhoc_free);
  g_clear_pointer (&transport->ping, pg_ping_free);
  g_clear_pointer (&transport->outbox, pg_outbox_free);
  g_clear_pointer (&transport->privilege, pg_privilege_free);
  g_clear_pointer (&transport->stream, pg_stream_free);
  g_clear_pointer (&transport->router, pg_router_free);
  g_clear_pointer (&transport->store, pg_store_free);
  g_clear_pointer (&transport->backend, pg_backend_free);
  g_clear_pointer (&transport->names, pg_names_free);
  g_clear_pointer (&transport->purple, pg_purple_free);
  g_clear_pointer (&transport->i18n, pg_i18n_free);
  g_clear_pointer (&transport->loop, g_main_loop_unref);
  g_clear_pointer (&transport->config, pg_config_free);
  g_clear_pointer (&transport->legacy_options, g_ptr_array_unref);
  pg_transport_clear_caches (transport);
  g_free (transport->legacy_name);
  g_free (transport);
}
