/* legacy/account-confirm.c — pg_purple_account_confirm_sent(): the legacy server
 * confirms that it has processed what we sent.
 *
 * libpurple has no acknowledgement of a sent message: serv_send_im()
 * returning only means the protocol took it.  prpl-irc 2.14 queues every
 * line and writes the queue from a one-second timer, so a connection lost
 * meanwhile takes the queue with it, unnoticed.  For IRC the confirmation
 * is a PING carrying our token, sent through that same queue (the
 * protocol's send_raw): a server processes one client's lines in order, so
 * its PONG proves that every line before the PING was processed.  The PONG
 * is read with prpl-irc's "irc-receiving-text" signal; prpl-irc itself
 * ignores a PONG whose argument has no space (irc_msg_pong).
 *
 * The same order tells which message a 401 (no such nick) answers: the
 * PONG closes the window of the 401s read before it (account-refused.c),
 * and the messages refused are told before the confirmation. */
#define G_LOG_DOMAIN "pg-account"

#include "legacy/account-private.h"
#include "legacy/purple-eventloop.h"

#include <string.h>

#define TOKEN_PREFIX PG_CONFIRM_TOKEN_PREFIX

/* The protocol's, connected or not: whether it has a round trip does not
 * change when the connection goes. */
static gboolean
has_round_trip (PurpleAccount *purple)
{
  PurplePlugin *prpl = purple_find_prpl (purple_account_get_protocol_id (purple));

  return prpl != NULL && g_strcmp0 (purple_plugin_get_id (prpl), "prpl-irc") == 0
         && PURPLE_PLUGIN_PROTOCOL_INFO (prpl)->send_raw != NULL;
}

PgConfirm
pg_purple_account_confirm_sent (PgPurpleAccount *account, guint64 serial)
{
  PurpleConnection *gc;

  g_return_val_if_fail (account != NULL, PG_CONFIRM_UNAVAILABLE);

  /* Its owner is ending the login. */
  if (account->dying)
    return PG_CONFIRM_UNAVAILABLE;
  if (!has_round_trip (account->purple))
    return PG_CONFIRM_NO_ROUND_TRIP;
  /* The connection went with prpl-irc's queue, maybe with lines of the
   * messages in it: their fate is unknown, so they are not settled; the
   * disconnected event, on its way, puts them back in line. */
  if (!pg_purple_account_is_connected (account))
    return PG_CONFIRM_UNAVAILABLE;
  gc = purple_account_get_connection (account->purple);
  /* send_raw writes the bytes as given: the line ends here. */
  g_autofree char *line = g_strdup_printf ("PING " TOKEN_PREFIX "%" G_GUINT64_FORMAT "\r\n", serial);
  /* A write that fails ends the connection (prpl-irc reports the error). */
  if (PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc))->send_raw (gc, line, -1) < 0)
    return PG_CONFIRM_UNAVAILABLE;
  pg_purple_eventloop_flush (gc);
  account->confirm_serial = serial;
  return PG_CONFIRM_ASKED;
}

gboolean
pg_purple_account_logout (PgPurpleAccount *account, const char *message)
{
  g_return_val_if_fail (account != NULL, FALSE);
  if (account->dying || !pg_purple_account_is_connected (account) || !has_round_trip (account->purple))
    return FALSE;
  PurpleConnection *gc = purple_account_get_connection (account->purple);
  /* Behind every line queued before it, as the PING of a confirmation. */
  g_autofree char *flat = g_strdelimit (g_strdup (message != NULL ? message : ""), "\r\n", ' ');
  g_autofree char *line = g_strdup_printf ("QUIT :%s\r\n", flat);
  if (PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc))->send_raw (gc, line, -1) < 0)
    return FALSE;
  pg_purple_eventloop_flush (gc);
  return TRUE;
}

guint64
pg_purple_irc_pong_serial (const char *line, const char *prefix)
{
  const char *p = line;
  const char *last;
  guint64 serial;

  if (*p == ':' && (p = strchr (p, ' ')) != NULL)
    p++;
  if (p == NULL || g_ascii_strncasecmp (p, "PONG ", 5) != 0)
    return 0;
  /* The token is the last parameter, trailing (" :token") or not. */
  last = strrchr (p, ' ');
  if (last == NULL)
    return 0;
  last++;
  if (*last == ':')
    last++;
  if (!g_str_has_prefix (last, prefix))
    return 0;
  g_autofree char *digits = g_strndup (last + strlen (prefix), strcspn (last + strlen (prefix), "\r\n"));
  if (!g_ascii_string_to_unsigned (digits, 10, 1, G_MAXUINT64, &serial, NULL))
    return 0;
  return serial;
}

static void
irc_receiving_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  guint64 serial;

  (void)data;
  if (account == NULL || text == NULL || *text == NULL)
    return;
  serial = pg_purple_irc_pong_serial (*text, TOKEN_PREFIX);
  /* Only this login's own tokens: a PONG can only answer our own PING. */
  if (serial == 0 || serial > account->confirm_serial)
    return;
  /* The refused first: the confirmation covers the others. */
  pg_purple_account_refusals_confirmed (account, gc, serial);
  pg_purple_account_emit_sent_confirmed (account, serial);
}

void
pg_purple_account_confirm_install (void)
{
  static int handle;
  PurplePlugin *irc = purple_plugins_find_with_id ("prpl-irc");

  /* The signal is prpl-irc's own, registered when the plugin was probed. */
  if (irc != NULL)
    purple_signal_connect (irc, "irc-receiving-text", &handle, PURPLE_CALLBACK (irc_receiving_text), NULL);
  /* The other half of what a crash leaves of the sent messages. */
  pg_purple_account_mark_install ();
  pg_purple_account_refused_install ();
}

void
pg_purple_account_get_info (PgPurpleAccount *account, PgPurpleAccountInfo *info)
{
  info->connection_nick = pg_purple_account_has_connection_nick (account);
  info->round_trip = has_round_trip (account->purple);
  info->chantypes = account->chantypes;
  info->nick_len = account->nick_len;
}
