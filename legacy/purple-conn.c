/* legacy/purple-conn.c — libpurple's connection UI ops: a login's start
 * and end become the connected and disconnected events of its PgPurpleAccount.
 *
 * connected            → connected event (from inside libpurple; see the
 *                        call-stack contract in account.c)
 * report_disconnect_reason → failure class and reason, remembered
 * disconnected         → disconnected event, raised from an idle once
 *                        libpurple has destroyed the connection
 * No network_connected op: libpurple's core then never reconnects. */
#define G_LOG_DOMAIN "pg-purple-conn"

#include "legacy/account-private.h"

#include <string.h>

static int handle; /* owns our signal connections */

static void
connected (PurpleConnection *gc)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);

  if (account == NULL)
    return;
  pg_purple_nickserv_identify (gc);
  pg_purple_account_emit_connected (account);
}

static void
disconnected (PurpleConnection *gc)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);

  if (account != NULL)
    pg_purple_account_login_closed (account);
}

/* What retrying can achieve: nothing for refused credentials, something
 * for errors libpurple itself counts as transient (network, TLS
 * handshake), nothing for the rest (name in use, certificates…). */
static PgAccountFailure
classify (PurpleConnectionError reason, gboolean auth_hint)
{
  switch (reason)
    {
    case PURPLE_CONNECTION_ERROR_INVALID_USERNAME:
    case PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED:
    case PURPLE_CONNECTION_ERROR_AUTHENTICATION_IMPOSSIBLE:
    case PURPLE_CONNECTION_ERROR_INVALID_SETTINGS:
      return PG_ACCOUNT_FAILURE_AUTH;
    default:
      break;
    }
  if (auth_hint)
    return PG_ACCOUNT_FAILURE_AUTH;
  return purple_connection_error_is_fatal (reason) ? PG_ACCOUNT_FAILURE_OTHER : PG_ACCOUNT_FAILURE_NETWORK;
}

static void
report_disconnect_reason (PurpleConnection *gc, PurpleConnectionError reason, const char *text)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);

  if (account == NULL)
    return;
  g_debug ("%s: connection error %d: %s", purple_account_get_username (account->purple), reason, text);
  pg_purple_account_login_failed (account, classify (reason, account->auth_hint), text);
}

static PurpleConnectionUiOps conn_ops = {
  .connected = connected,
  .disconnected = disconnected,
  .report_disconnect_reason = report_disconnect_reason,
};

/* prpl-irc reports every server ERROR line as a network error, also the one
 * that follows a refused server password.  Servers that say so with 464
 * (ERR_PASSWDMISMATCH) before closing the link get the failure classed as
 * AUTH.  (InspIRCd says nothing of the kind: its connect-class password
 * mismatch is "ERROR :Closing link: … [Access denied by configuration]".) */
static void
irc_receiving_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  const char *p = text != NULL ? *text : NULL;

  (void)data;
  if (account == NULL || p == NULL || PURPLE_CONNECTION_IS_CONNECTED (gc))
    return;
  if (*p == ':' && (p = strchr (p, ' ')) != NULL)
    p++;
  if (p != NULL && strncmp (p, "464", 3) == 0 && (p[3] == ' ' || p[3] == '\0'))
    account->auth_hint = TRUE;
}

void
pg_purple_conn_install (void)
{
  PurplePlugin *irc = purple_find_prpl ("prpl-irc");

  purple_connections_set_ui_ops (&conn_ops);
  if (irc != NULL)
    purple_signal_connect (irc, "irc-receiving-text", &handle, PURPLE_CALLBACK (irc_receiving_text), NULL);
}
