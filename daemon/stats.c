/* daemon/stats.c — the stats command (an admin command of purplegate's
 * own; XEP-0133 has none for a service's counters). */
#define G_LOG_DOMAIN "pg-stats"
#include "build-config.h"

#include "daemon/stats.h"

#include "legacy/backend.h"

#include "legacy/session.h"
#include "registration/store.h"
#include "transport/adhoc.h"
#include "transport/i18n.h"
#include "transport/privilege.h"

#include <string.h>

gint64
pg_stats_parse_vm_rss (const char *status)
{
  for (const char *line = status; line != NULL && *line != '\0';)
    {
      if (g_str_has_prefix (line, "VmRSS:"))
        {
          const char *p = line + strlen ("VmRSS:");
          while (*p == ' ' || *p == '\t')
            p++;
          char *end = NULL;
          guint64 value = g_ascii_strtoull (p, &end, 10);
          if (end == p || value > G_MAXINT64 || !g_str_has_prefix (end, " kB"))
            return -1;
          return (gint64)value;
        }
      line = strchr (line, '\n');
      if (line != NULL)
        line++;
    }
  return -1;
}

/* VmRSS in KiB of process @pid (0: this one), or -1. */
static gint64
read_vm_rss (int pid)
{
  g_autofree char *status = NULL;
  g_autofree char *path = pid > 0 ? g_strdup_printf ("/proc/%d/status", pid) : g_strdup ("/proc/self/status");
  if (!g_file_get_contents (path, &status, NULL, NULL))
    return -1;
  return pg_stats_parse_vm_rss (status);
}

static void
add_number (PgAdhocCall *call, xmlNode *form, const char *var, const char *label, gint64 value)
{
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, value);
  pg_form_add_field (form, var, "text-single", pg_adhoc_call_translate (call, label), FALSE, text);
}

/* What the host server granted (XEP-0356): the permissions as the grant
 * names them, so scripts read them as they would the server's own words. */
static void
add_privileges (PgAdhocCall *call, xmlNode *form, PgTransport *transport)
{
  const PgPrivilege *priv = transport->privilege;
  const char *server = pg_privilege_server (priv);
  pg_form_add_field (form, "privilegeserver", "text-single",
                     pg_adhoc_call_translate (call, N_ ("Privileges granted by (XEP-0356)")), FALSE,
                     server != NULL ? server : "");
  pg_form_add_field (form, "privilegenamespace", "text-single",
                     pg_adhoc_call_translate (call, N_ ("Privilege namespace")), FALSE,
                     pg_privilege_namespace (priv) ?: "");
  pg_form_add_field (form, "privilegeroster", "text-single",
                     pg_adhoc_call_translate (call, N_ ("Roster permission")), FALSE,
                     pg_privilege_access_to_string (pg_privilege_roster (priv)));
  pg_form_add_field (form, "privilegemessage", "text-single",
                     pg_adhoc_call_translate (call, N_ ("Message permission")), FALSE,
                     pg_privilege_message_outgoing (priv) ? "outgoing" : "none");
}

/* The worker processes: one line each, and their totals. */
static void
add_workers (PgAdhocCall *call, xmlNode *form, PgTransport *transport)
{
  PgBackendStats backend = pg_backend_get_stats (transport->backend);
  g_autoptr (GArray) workers = pg_backend_dup_worker_stats (transport->backend);
  gint64 rss = 0;
  add_number (call, form, "workers", N_ ("Legacy worker processes (0: in the main process)"),
              backend.workers);
  add_number (call, form, "workerrestarts", N_ ("Legacy worker restarts"), backend.restarts);
  add_number (call, form, "quarantined", N_ ("Legacy logins quarantined for crashing their worker"),
              backend.quarantined);
  for (guint i = 0; i < workers->len; i++)
    {
      const PgBackendWorkerStats *worker = &g_array_index (workers, PgBackendWorkerStats, i);
      gint64 worker_rss = worker->pid > 0 ? read_vm_rss (worker->pid) : -1;
      rss += MAX (worker_rss, 0);
      g_autofree char *var = g_strdup_printf ("worker%u", worker->index);
      g_autofree char *label
          = g_strdup_printf (pg_adhoc_call_translate (call, N_ ("Legacy worker %u")), worker->index);
      g_autofree char *text = g_strdup_printf (
          pg_adhoc_call_translate (call, N_ ("pid %d, %u logins, %u restarts, %u crashes, %u KiB")),
          worker->pid, worker->logins, worker->restarts, worker->crashes, (guint)MAX (worker_rss, 0));
      pg_form_add_field (form, var, "text-single", label, FALSE, text);
    }
  add_number (call, form, "workersrss", N_ ("Resident memory of the legacy workers (KiB)"), rss);
}

static void
stats (PgAdhocCall *call)
{
  PgTransport *transport = pg_adhoc_call_get_transport (call);
  const PgStreamStats *stream = pg_stream_get_stats (transport->stream);
  PgSessionCounts sessions = pg_sessions_count (transport);
  g_autoptr (GError) error = NULL;
  gint64 registered = pg_store_count_users (transport->store, &error);
  if (registered < 0)
    g_warning ("cannot count users: %s", error->message);
  gint64 uptime_s = (g_get_monotonic_time () - transport->started_at) / G_USEC_PER_SEC;

  xmlNode *form = pg_adhoc_call_add_form (call, "result", pg_adhoc_call_translate (call, N_ ("Statistics")),
                                          NULL, PG_NODE_STATS);
  g_autofree char *title = g_strdup_printf ("purplegate %s, %s (%s)", PACKAGE_VERSION,
                                            transport->config->component_jid, transport->legacy_name);
  pg_form_add_field (form, NULL, "fixed", NULL, FALSE, title);
  /* Numbers only, units in the labels: scripts read the values. */
  add_number (call, form, "uptime", N_ ("Uptime (seconds)"), uptime_s);
  add_number (call, form, "registeredusersnum", N_ ("Registered users"), registered);
  add_number (call, form, "onlineusersnum", N_ ("Online users"), sessions.total - sessions.held);
  add_number (call, form, "legacyonline", N_ ("Legacy logins online"), sessions.online);
  add_number (call, form, "legacyheld", N_ ("Legacy logins kept for users who are offline"), sessions.held);
  add_number (call, form, "loginssucceeded", N_ ("Legacy logins succeeded"),
              (gint64)transport->stats.logins_succeeded);
  add_number (call, form, "loginsfailed", N_ ("Legacy logins failed"),
              (gint64)transport->stats.logins_failed);
  add_number (call, form, "reconnects", N_ ("Legacy reconnects after network failures"),
              (gint64)transport->stats.reconnects);
  add_number (call, form, "stanzasin", N_ ("Stanzas received"), (gint64)stream->stanzas_in);
  add_number (call, form, "stanzasout", N_ ("Stanzas sent"), (gint64)stream->stanzas_out);
  add_number (call, form, "bytesin", N_ ("Bytes received"), (gint64)stream->bytes_in);
  add_number (call, form, "bytesout", N_ ("Bytes sent"), (gint64)stream->bytes_out);
  add_number (call, form, "queuedtousers", N_ ("Messages queued for users"),
              pg_store_outbox_count (transport->store, NULL, PG_OUTBOX_TO_USER, NULL));
  add_number (call, form, "queuedtolegacy", N_ ("Messages queued for legacy contacts"),
              pg_store_outbox_count (transport->store, NULL, PG_OUTBOX_TO_LEGACY, NULL));
  add_number (call, form, "resent", N_ ("Messages sent again after a lost link"),
              (gint64)transport->stats.outbox_resent);
  add_number (call, form, "bounced", N_ ("Messages returned to their senders"),
              (gint64)transport->stats.outbox_bounced);
  add_number (call, form, "memoryrss", N_ ("Resident memory (KiB)"), read_vm_rss (0));
  add_privileges (call, form, transport);
  add_workers (call, form, transport);
  g_message ("admin %s read the statistics", pg_adhoc_call_get_requester (call));
}

static const PgAdhocCommand commands[] = {
  {
      .node = PG_NODE_STATS,
      .name = N_ ("Statistics"),
      .access = PG_ADHOC_ACCESS_ADMIN,
      .handler = stats,
  },
};

void
pg_stats_register (PgTransport *transport)
{
  pg_adhoc_add_commands (transport, commands, G_N_ELEMENTS (commands));
}
