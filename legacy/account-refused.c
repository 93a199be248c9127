/* legacy/account-refused.c — which message of ours an IRC 401 (no such
 * nick) refuses: the refused event (legacy/account.h).
 *
 * The server processes one client's lines in order and answers a PRIVMSG
 * to a nick nobody has with one 401, one it delivered with nothing.  The
 * 401s read before the PONG of a confirmation (account-confirm.c) answer
 * lines written before its PING, one each: the 401s of a nick are matched
 * to the last lines written to that nick before they came (a contact who
 * leaves got the first messages and not the next; a line written after a
 * 401 came is none it answers), once the PONG closed the window, and a
 * message is refused when a line of it is.  A 401 that answers another
 * line refuses nothing: the other lines that draw one (NOTICE, WHOIS,
 * INVITE, KICK, MODE of a nick) are in the count, and every 401 is read
 * before purple-away-irc.c takes those of its WHOIS away.
 *
 * prpl-irc writes its queue in order, emitting "irc-sending-text" for each
 * line just before its write; the lines of a message are told from those
 * of the next by the number it makes (pg_irc_privmsg_lines()).  prpl-irc
 * itself only writes "User is not logged in" into a conversation nobody
 * reads. */
#define G_LOG_DOMAIN "pg-account"

#include "legacy/account-private.h"
#include "legacy/irc-line.h"

#include <string.h>

/* A message handed to prpl-irc whose lines are not all written yet. */
typedef struct
{
  guint64 tag; /* the owner's; 0: none */
  char *nick;  /* folded (pg_irc_nick_fold()) */
  guint lines; /* still to be written */
} Handed;

/* A line written since the last PONG of ours: one a 401 may answer (a
 * PRIVMSG, NOTICE, WHOIS, INVITE, KICK or MODE naming a nick), or our PING
 * (@nick NULL). */
typedef struct
{
  char *nick;     /* folded; NULL: our PING */
  guint64 tag;    /* the message it is a line of; 0: none of ours */
  guint64 serial; /* our PING's */
} Written;

/* A 401 read since the last PONG of ours. */
typedef struct
{
  char *nick;    /* folded */
  guint written; /* the lines in Written at the time */
} Refusal;

struct PgIrcRefusals
{
  PurpleConnection *gc; /* the login these are of (compared only) */
  GQueue handed;        /* Handed, in prpl-irc's queue order */
  GQueue written;       /* Written, oldest first */
  GArray *refusals;     /* Refusal, oldest first */
  guint tracked;        /* Written lines of messages of the owner's */
};

/* Lines kept while none is of a message of ours: enough for the 401s of
 * lines written just before a message. */
#define UNTRACKED_KEPT 64

static void
handed_free (Handed *handed)
{
  g_free (handed->nick);
  g_free (handed);
}

static void
written_free (Written *written)
{
  g_free (written->nick);
  g_free (written);
}

static void
refusals_clear (PgIrcRefusals *refusals)
{
  g_queue_clear_full (&refusals->handed, (GDestroyNotify)handed_free);
  g_queue_clear_full (&refusals->written, (GDestroyNotify)written_free);
  for (guint i = 0; i < refusals->refusals->len; i++)
    g_free (g_array_index (refusals->refusals, Refusal, i).nick);
  g_array_set_size (refusals->refusals, 0);
  refusals->tracked = 0;
}

void
pg_purple_account_refusals_free (PgPurpleAccount *account)
{
  PgIrcRefusals *refusals = account->refusals;

  if (refusals == NULL)
    return;
  account->refusals = NULL;
  refusals_clear (refusals);
  g_array_unref (refusals->refusals);
  g_free (refusals);
}

/* The refusals of @account's login on @gc, afresh when the login is
 * another. */
static PgIrcRefusals *
refusals_of (PgPurpleAccount *account, PurpleConnection *gc)
{
  PgIrcRefusals *refusals = account->refusals;

  if (refusals == NULL)
    {
      refusals = account->refusals = g_new0 (PgIrcRefusals, 1);
      g_queue_init (&refusals->handed);
      g_queue_init (&refusals->written);
      refusals->refusals = g_array_new (FALSE, FALSE, sizeof (Refusal));
    }
  if (refusals->gc != gc)
    {
      refusals_clear (refusals);
      refusals->gc = gc;
    }
  return refusals;
}

void
pg_purple_account_track_message (PgPurpleAccount *account, guint64 tag, const char *to, const char *text)
{
  PurpleConnection *gc;

  if (account->dying || !pg_purple_account_is_connected (account))
    return;
  gc = purple_account_get_connection (account->purple);
  if (g_strcmp0 (purple_plugin_get_id (purple_connection_get_prpl (gc)), "prpl-irc") != 0)
    return;
  Handed *handed = g_new0 (Handed, 1);
  handed->tag = tag;
  handed->nick = pg_irc_nick_fold (to);
  handed->lines = pg_irc_privmsg_lines (to, text);
  if (handed->lines == 0)
    {
      handed_free (handed);
      return;
    }
  g_queue_push_tail (&refusals_of (account, gc)->handed, handed);
}

/* Which message the line to @nick prpl-irc writes is a line of: the next
 * handed over, when it is to @nick; 0 when none of ours.  When the one
 * after is to @nick and the next is not, the next had fewer lines than
 * counted (its text changed in prpl-irc's hands): it is done. */
static guint64
line_written (PgIrcRefusals *refusals, const char *nick)
{
  Handed *next = g_queue_peek_head (&refusals->handed);
  Handed *after = g_queue_peek_nth (&refusals->handed, 1);

  if (next != NULL && strcmp (next->nick, nick) != 0 && after != NULL && strcmp (after->nick, nick) == 0)
    {
      handed_free (g_queue_pop_head (&refusals->handed));
      next = after;
    }
  if (next == NULL || strcmp (next->nick, nick) != 0)
    return 0;
  guint64 tag = next->tag;
  if (--next->lines == 0)
    handed_free (g_queue_pop_head (&refusals->handed));
  return tag;
}

static gboolean
is_channel (PgPurpleAccount *account, const char *name)
{
  return strchr (account->chantypes != NULL ? account->chantypes : "#&", name[0]) != NULL;
}

/* The nick a 401 to @line would name, or NULL. Borrowed from @line. */
static const char *
named_nick (PgPurpleAccount *account, const PgIrcLine *line)
{
  const char *cmd = line->command;
  const char *nick = NULL;

  if (strcmp (cmd, "PRIVMSG") == 0 || strcmp (cmd, "NOTICE") == 0 || strcmp (cmd, "INVITE") == 0
      || strcmp (cmd, "MODE") == 0)
    nick = pg_irc_line_param (line, 0);
  else if (strcmp (cmd, "KICK") == 0)
    nick = pg_irc_line_param (line, 1);
  else if (strcmp (cmd, "WHOIS") == 0)
    nick = pg_irc_line_param (line, line->params->len - 1);
  if (nick == NULL || *nick == '\0' || is_channel (account, nick))
    return NULL;
  return nick;
}

static void
irc_sending_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  g_auto (PgIrcLine) line = { 0 };

  (void)data;
  /* Every line passes here: the initials of the commands read below come
   * before the parse. */
  if (account == NULL || account->refusals == NULL || account->refusals->gc != gc || text == NULL
      || *text == NULL || strchr ("PNWIKM", **text) == NULL || !pg_irc_line_parse (*text, &line)
      || line.params->len == 0)
    return;
  PgIrcRefusals *refusals = account->refusals;
  const char *target = pg_irc_line_param (&line, 0);
  const char *nick;
  Written *written = g_new0 (Written, 1);
  if (strcmp (line.command, "PING") == 0 && g_str_has_prefix (target, PG_CONFIRM_TOKEN_PREFIX)
      && g_ascii_string_to_unsigned (target + strlen (PG_CONFIRM_TOKEN_PREFIX), 10, 1, G_MAXUINT64,
                                     &written->serial, NULL))
    ;
  else if ((nick = named_nick (account, &line)) != NULL)
    {
      written->nick = pg_irc_nick_fold (nick);
      if (strcmp (line.command, "PRIVMSG") == 0)
        written->tag = line_written (refusals, written->nick);
      if (written->tag != 0)
        refusals->tracked++;
    }
  else
    {
      written_free (written);
      return;
    }
  g_queue_push_tail (&refusals->written, written);
  while (refusals->tracked == 0 && g_queue_is_empty (&refusals->handed)
         && g_queue_get_length (&refusals->written) > UNTRACKED_KEPT)
    written_free (g_queue_pop_head (&refusals->written));
}

/* The 401 of @nick, read now. */
static void
refusal_read (PgPurpleAccount *account, PurpleConnection *gc, const char *nick)
{
  PgIrcRefusals *refusals = account->refusals;

  if (refusals == NULL || refusals->gc != gc || refusals->tracked == 0)
    return;
  g_autofree char *folded = pg_irc_nick_fold (nick);
  /* Without a line of a message to @nick before it, it refuses none. */
  gboolean concerns = FALSE;
  for (GList *l = refusals->written.head; l != NULL && !concerns; l = l->next)
    {
      Written *written = l->data;
      concerns = written->tag != 0 && strcmp (written->nick, folded) == 0;
    }
  if (!concerns)
    return;
  Refusal refusal = { g_steal_pointer (&folded), g_queue_get_length (&refusals->written) };
  g_array_append_val (refusals->refusals, refusal);
}

static gint
compare_tags (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
  return x < y ? -1 : x > y;
}

/* Our PONG @serial: every line before its PING is answered.  Returns the
 * tags of the messages refused (caller owns the array), oldest first. */
static GArray *
window_closed (PgIrcRefusals *refusals, guint64 serial)
{
  GArray *tags = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint end = 0, n = 0;

  /* The window: up to the PING answered; none when it is not among the
   * lines (written before the first message of ours). */
  for (GList *l = refusals->written.head; l != NULL; l = l->next, n++)
    {
      Written *written = l->data;
      if (written->nick == NULL && written->serial <= serial)
        end = n + 1;
    }
  /* The 401s of a nick answer the last of its lines written before them. */
  g_autoptr (GHashTable) done = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = refusals->refusals->len; i-- > 0;)
    {
      Refusal *refusal = &g_array_index (refusals->refusals, Refusal, i);
      if (g_hash_table_contains (done, refusal->nick))
        continue;
      g_hash_table_add (done, refusal->nick);
      guint count = 0;
      for (guint j = 0; j < refusals->refusals->len; j++)
        count += strcmp (g_array_index (refusals->refusals, Refusal, j).nick, refusal->nick) == 0;
      guint k = MIN (refusal->written, end);
      for (GList *l = g_queue_peek_nth_link (&refusals->written, k > 0 ? k - 1 : 0); k > 0 && count > 0;
           l = l->prev, k--)
        {
          Written *written = l->data;
          if (written->nick == NULL || strcmp (written->nick, refusal->nick) != 0)
            continue;
          count--;
          if (written->tag == 0)
            continue;
          gboolean seen = FALSE;
          for (guint t = 0; t < tags->len && !seen; t++)
            seen = g_array_index (tags, guint64, t) == written->tag;
          if (!seen)
            g_array_append_val (tags, written->tag);
        }
    }
  g_array_sort (tags, compare_tags);
  for (guint i = 0; i < refusals->refusals->len; i++)
    g_free (g_array_index (refusals->refusals, Refusal, i).nick);
  g_array_set_size (refusals->refusals, 0);
  for (; end > 0; end--)
    {
      Written *written = g_queue_pop_head (&refusals->written);
      if (written->tag != 0)
        refusals->tracked--;
      written_free (written);
    }
  return tags;
}

/* The nick of a 401 line (":server 401 me nick :No such nick/channel"),
 * or NULL. Caller owns it (g_free). */
static char *
no_such_nick (const char *line)
{
  if (*line == ':' && (line = strchr (line, ' ')) != NULL)
    line++;
  if (line == NULL || strncmp (line, "401 ", 4) != 0)
    return NULL;
  const char *me = line + 4;
  const char *nick = strchr (me, ' ');
  if (nick == NULL || *++nick == ':' || *nick == '\0')
    return NULL;
  gsize len = strcspn (nick, " \r\n");
  return len > 0 ? g_strndup (nick, len) : NULL;
}

/* Every 401, before purple-away-irc.c takes those of its WHOIS out of
 * prpl-irc's sight: they answer lines written as the others do. */
static void
irc_receiving_refusal (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);

  (void)data;
  if (account == NULL || account->refusals == NULL || text == NULL || *text == NULL)
    return;
  g_autofree char *refused = no_such_nick (*text);
  if (refused != NULL)
    refusal_read (account, gc, refused);
}

void
pg_purple_account_refusals_confirmed (PgPurpleAccount *account, PurpleConnection *gc, guint64 serial)
{
  if (account->refusals == NULL || account->refusals->gc != gc)
    return;
  g_autoptr (GArray) tags = window_closed (account->refusals, serial);
  for (guint i = 0; i < tags->len; i++)
    pg_purple_account_emit_refused (account, g_array_index (tags, guint64, i));
}

void
pg_purple_account_refused_install (void)
{
  static int handle;
  PurplePlugin *irc = purple_plugins_find_with_id ("prpl-irc");

  /* The signals are prpl-irc's own, registered when the plugin was probed. */
  if (irc == NULL)
    return;
  purple_signal_connect (irc, "irc-sending-text", &handle, PURPLE_CALLBACK (irc_sending_text), NULL);
  purple_signal_connect_priority (irc, "irc-receiving-text", &handle, PURPLE_CALLBACK (irc_receiving_refusal),
                                  NULL, PURPLE_SIGNAL_PRIORITY_DEFAULT - 2);
}
