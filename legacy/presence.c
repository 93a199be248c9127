/* legacy/presence.c — presence translation. */
#define G_LOG_DOMAIN "pg-presence"
#include "build-config.h"

#include "legacy/presence.h"

#include "transport/stanza.h"

#include <string.h>

#define PG_NS_NICK "http://jabber.org/protocol/nick"

static const struct
{
  const char *name;
  PgShow show;
} shows[] = {
  { "chat", PG_SHOW_CHAT },
  { "away", PG_SHOW_AWAY },
  { "xa", PG_SHOW_XA },
  { "dnd", PG_SHOW_DND },
};

const char *
pg_presence_show_to_string (PgShow show)
{
  for (guint i = 0; i < G_N_ELEMENTS (shows); i++)
    if (shows[i].show == show)
      return shows[i].name;
  return NULL;
}

void
pg_presence_read (const xmlNode *presence, PgUserPresence *out)
{
  g_autofree char *show = pg_stanza_dup_child_text (presence, "show", NULL);
  g_autofree char *priority = pg_stanza_dup_child_text (presence, "priority", NULL);
  out->show = PG_SHOW_AVAILABLE;
  for (guint i = 0; show != NULL && i < G_N_ELEMENTS (shows); i++)
    if (strcmp (g_strstrip (show), shows[i].name) == 0)
      out->show = shows[i].show;
  out->status = pg_stanza_dup_child_text (presence, "status", NULL);
  gint64 value = 0;
  if (priority != NULL
      && g_ascii_string_to_signed (g_strstrip (priority), 10, G_MININT64, G_MAXINT64, &value, NULL))
    out->priority = (int)CLAMP (value, -128, 127);
  else
    out->priority = 0;
}

void
pg_user_presence_clear (PgUserPresence *presence)
{
  g_clear_pointer (&presence->status, g_free);
}

xmlNode *
pg_presence_new (const char *from, const char *to, PgShow show, const char *status, const char *nick)
{
  xmlNode *presence
      = pg_stanza_new ("presence", from, to, show == PG_SHOW_OFFLINE ? "unavailable" : NULL, NULL);
  const char *show_text = pg_presence_show_to_string (show);
  if (show_text != NULL)
    pg_stanza_add_text_child (presence, "show", NULL, show_text);
  if (status != NULL && *status != '\0')
    pg_stanza_add_text_child (presence, "status", NULL, status);
  if (nick != NULL && *nick != '\0')
    pg_stanza_add_text_child (presence, "nick", PG_NS_NICK, nick);
  return presence;
}
