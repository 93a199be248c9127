/* legacy/purple-nickserv.c — purplegate's own IRC option
 * PG_PURPLE_NICKSERV_PASSWORD (legacy/purple-core.h): prpl-irc identifies
 * to a network's services only through SASL, so on networks whose services
 * take "PRIVMSG NickServ :IDENTIFY <password>" the glue sends that line
 * once the login is up (README "Account options"). */
#define G_LOG_DOMAIN "pg-purple-nickserv"

#include "legacy/account-private.h"

#include <string.h>

void
pg_purple_nickserv_identify (PurpleConnection *gc)
{
  PurpleAccount *account = purple_connection_get_account (gc);
  if (account == NULL || strcmp (purple_account_get_protocol_id (account), "prpl-irc") != 0)
    return;
  const char *password = purple_account_get_string (account, PG_PURPLE_NICKSERV_PASSWORD, NULL);
  /* One line: the option's value was refused with a line break in it;
   * checked again, since a line break would start another command. */
  if (password == NULL || *password == '\0' || strpbrk (password, "\r\n") != NULL)
    return;
  PurplePlugin *prpl = purple_connection_get_prpl (gc);
  PurplePluginProtocolInfo *info = prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (prpl) : NULL;
  if (info == NULL || info->send_raw == NULL)
    return;
  char *line = g_strdup_printf ("PRIVMSG NickServ :IDENTIFY %s\r\n", password);
  info->send_raw (gc, line, (int)strlen (line));
  memset (line, 0, strlen (line));
  g_free (line);
  g_debug ("identified to NickServ");
}
