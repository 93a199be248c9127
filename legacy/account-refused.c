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
  char *nick;  /* GRefString, folded (pg_irc_nick_fold()) */
  guint lines; /* still to be written */
} Handed;

/* A line written since the last PONG of ours: one a 401 may answer (a
 * PRIVMSG, NOTICE, WHOIS, INVITE, KICK or MODE naming a nick), or our PING
 * (@nick NULL). */
typedef struct
{
  char *nick;     /* GRefString, folded; NULL: our PING */
  guint64 tag;    /* the message it is a line of; 0: none of ours */
  guint64 serial; /* our PING's */
} Written;

/* A 401 read since the last PONG of ours. */
typedef struct
{
  char *nick;    /* folded */
  guint written; /* the lines in Written at the time */
} Refusal;

/* Arrays of structs: a message costs no allocation of its own here but its
 * nick's. */
struct PgIrcRefusals
{
  PurpleConnection *gc; /* the login these are of (compared only) */
  GArray *handed;       /* Handed, in prpl-irc's queue order, from @first */
  guint first;
  GArray *written;  /* Written, oldest first */
  GArray *refusals; /* Refusal, oldest first */
  guint tracked;    /* Written lines of messages of the owner's */
};

/* Lines kept while none is of a message of ours: enough for the 401s of
 * lines written just before a message. */
#define UNTRACKED_KEPT 64

static void
handed_clear (gpointer data)
{
  g_clear_pointer (&((Handed *)data)->nick, g_ref_string_release);
}

static void
written_clear (gpointer data)
{
  g_clear_pointer (&((Written *)data)->nick, g_ref_string_release);
}

static void
refusal_clear (gpointer data)
{
  g_clear_pointer (&((Refusal *)data)->nick, g_free);
}

static void
refusals_clear (PgIrcRefusals *refusals)
{
  g_array_set_size (refusals->handed, 0);
  refusals->first = 0;
  g_array_set_size (refusals->written, 0);
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
  g_array_unref (refusals->handed);
  g_array_unref (refusals->written);
  g_array_unref (refusals->refusals);
  g_free (refusals);
}

static GArray *
array_new (gsize size, GDestroyNotify clear)
{
  GArray *array = g_array_new (FALSE, FALSE, (guint)size);
  g_array_set_clear_func (array, clear);
  return array;
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
      refusals->handed = array_new (sizeof (Handed), handed_clear);
      refusals->written = array_new (sizeof (Written), written_clear);
      refusals->refusals = array_new (sizeof (Refusal), refusal_clear);
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
  guint lines = pg_irc_privmsg_lines (to, text);
  if (lines == 0)
    return;
  PgIrcRefusals *refusals = refusals_of (account, gc);
  /* Reuses the nick of the message before, the common case. */
  Handed *last = refusals->handed->len > refusals->first
                     ? &g_array_index (refusals->handed, Handed, refusals->handed->len - 1)
                     : NULL;
  Handed handed = { tag, NULL, lines };
  if (last != NULL && pg_irc_nick_equal (last->nick, to, -1))
    handed.nick = g_ref_string_acquire (last->nick);
  else
    {
      g_autofree char *folded = pg_irc_nick_fold (to);
      handed.nick = g_ref_string_new (folded);
    }
  g_array_append_val (refusals->handed, handed);
}

/* The next handed-over message whose lines are being written, or NULL. */
static Handed *
handed_nth (PgIrcRefusals *refusals, guint n)
{
  return refusals->first + n < refusals->handed->len
             ? &g_array_index (refusals->handed, Handed, refusals->first + n)
             : NULL;
}

static void
handed_done (PgIrcRefusals *refusals)
{
  handed_clear (handed_nth (refusals, 0));
  if (++refusals->first == refusals->handed->len)
    {
      g_array_set_size (refusals->handed, 0);
      refusals->first = 0;
    }
  else if (refusals->first >= 64 && refusals->first * 2 >= refusals->handed->len)
    {
      /* Cleared already: removed without their clear function. */
      memmove (refusals->handed->data, handed_nth (refusals, 0),
               (refusals->handed->len - refusals->first) * sizeof (Handed));
      refusals->handed->len -= refusals->first;
      refusals->first = 0;
    }
}

/* Which message the line to @nick (@len bytes) prpl-irc writes is a line
 * of: the next handed over, when it is to @nick, its tag and its folded
 * nick (@folded: a reference, caller releases it); 0 (and @folded NULL)
 * when none of ours.  When the one after is to @nick and the next is not,
 * the next had fewer lines than counted (its text changed in prpl-irc's
 * hands): it is done. */
static guint64
line_written (PgIrcRefusals *refusals, const char *nick, gssize len, char **folded)
{
  Handed *next = handed_nth (refusals, 0);
  Handed *after = handed_nth (refusals, 1);

  *folded = NULL;
  if (next != NULL && !pg_irc_nick_equal (next->nick, nick, len) && after != NULL
      && pg_irc_nick_equal (after->nick, nick, len))
    {
      handed_done (refusals);
      next = handed_nth (refusals, 0);
    }
  if (next == NULL || !pg_irc_nick_equal (next->nick, nick, len))
    return 0;
  guint64 tag = next->tag;
  *folded = g_ref_string_acquire (next->nick);
  if (--next->lines == 0)
    handed_done (refusals);
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

  if (strcmp (cmd, "NOTICE") == 0 || strcmp (cmd, "INVITE") == 0 || strcmp (cmd, "MODE") == 0)
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
written_add (PgIrcRefusals *refusals, char *nick, guint64 tag, guint64 serial)
{
  Written written = { nick, tag, serial };

  g_array_append_val (refusals->written, written);
  if (tag != 0)
    refusals->tracked++;
  if (refusals->tracked == 0 && handed_nth (refusals, 0) == NULL && refusals->written->len > UNTRACKED_KEPT)
    g_array_remove_range (refusals->written, 0, refusals->written->len - UNTRACKED_KEPT);
}

#define PRIVMSG "PRIVMSG "
#define PING "PING " PG_CONFIRM_TOKEN_PREFIX

static void
irc_sending_text (PurpleConnection *gc, char **text, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  PgIrcRefusals *refusals = account != NULL ? account->refusals : NULL;
  const char *line = text != NULL ? *text : NULL;

  (void)data;
  if (refusals == NULL || refusals->gc != gc || line == NULL)
    return;
  /* Every line passes here: our messages' and PINGs' are read without a
   * parse. */
  if (g_str_has_prefix (line, PRIVMSG))
    {
      const char *target = line + strlen (PRIVMSG);
      gsize len = strcspn (target, " \r\n");
      if (len == 0 || *target == ':' || is_channel (account, target))
        return;
      char *folded;
      guint64 tag = line_written (refusals, target, (gssize)len, &folded);
      if (folded == NULL)
        {
          g_autofree char *nick = g_strndup (target, len);
          g_autofree char *plain = pg_irc_nick_fold (nick);
          folded = g_ref_string_new (plain);
        }
      written_add (refusals, folded, tag, 0);
      return;
    }
  if (g_str_has_prefix (line, PING))
    {
      guint64 serial;
      g_autofree char *digits = g_strndup (line + strlen (PING), strcspn (line + strlen (PING), " \r\n"));
      if (g_ascii_string_to_unsigned (digits, 10, 1, G_MAXUINT64, &serial, NULL))
        written_add (refusals, NULL, 0, serial);
      return;
    }
  g_auto (PgIrcLine) parsed = { 0 };
  const char *nick;
  if (strchr ("NWIKM", *line) == NULL || !pg_irc_line_parse (line, &parsed)
      || (nick = named_nick (account, &parsed)) == NULL)
    return;
  g_autofree char *plain = pg_irc_nick_fold (nick);
  written_add (refusals, g_ref_string_new (plain), 0, 0);
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
  for (guint i = 0; i < refusals->written->len && !concerns; i++)
    {
      Written *written = &g_array_index (refusals->written, Written, i);
      concerns = written->tag != 0 && strcmp (written->nick, folded) == 0;
    }
  if (!concerns)
    return;
  Refusal refusal = { g_steal_pointer (&folded), refusals->written->len };
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
  guint end = 0;

  /* The window: up to the PING answered; none when it is not among the
   * lines (written before the first message of ours). */
  for (guint i = 0; i < refusals->written->len; i++)
    {
      Written *written = &g_array_index (refusals->written, Written, i);
      if (written->nick == NULL && written->serial <= serial)
        end = i + 1;
    }
  /* The 401s of a nick answer the last of its lines written before them. */
  for (guint i = refusals->refusals->len; i-- > 0;)
    {
      Refusal *refusal = &g_array_index (refusals->refusals, Refusal, i);
      gboolean later = FALSE;
      guint count = 0;
      for (guint j = 0; j < refusals->refusals->len; j++)
        if (strcmp (g_array_index (refusals->refusals, Refusal, j).nick, refusal->nick) == 0)
          {
            later |= j > i;
            count++;
          }
      if (later)
        continue; /* the nick's last 401 counted them all */
      for (guint k = MIN (refusal->written, end); k > 0 && count > 0; k--)
        {
          Written *written = &g_array_index (refusals->written, Written, k - 1);
          if (written->nick == NULL || strcmp (written->nick, refusal->nick) != 0)
            continue;
          count--;
          gboolean seen = written->tag == 0;
          for (guint t = 0; t < tags->len && !seen; t++)
            seen = g_array_index (tags, guint64, t) == written->tag;
          if (!seen)
            g_array_append_val (tags, written->tag);
        }
    }
  g_array_sort (tags, compare_tags);
  g_array_set_size (refusals->refusals, 0);
  for (guint i = 0; i < end; i++)
    refusals->tracked -= g_array_index (refusals->written, Written, i).tag != 0;
  g_array_remove_range (refusals->written, 0, end);
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
