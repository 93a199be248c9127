/* legacy/worker.c — a worker process: libpurple logins served for the main
 * process over one socket (legacy/wire.h).
 *
 * The worker is started fresh (exec) with nothing but the socket, its own
 * libpurple user directory and the protocol plugins' directory; before
 * libpurple starts, Landlock limits what it can open to the system's
 * read-only trees, a few files of /etc and its own directory, so a
 * compromised protocol plugin cannot read the store or the key file. */
#define _GNU_SOURCE 1 /* O_PATH */
#define G_LOG_DOMAIN "pg-worker"
#include "build-config.h"

#include "legacy/backend.h"
#include "legacy/names.h"
#include "legacy/purple-account.h"
#include "legacy/sandbox.h"
#include "legacy/sent-note.h"
#include "legacy/worker-file.h"
#include "legacy/wire.h"
#include "transport/heap-trim.h"
#include "transport/pass-end.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Worker Worker;

typedef struct
{
  Worker *worker;
  guint32 id;
  PgPurpleAccount *account;
  char *protocol;
  GHashTable *named;   /* names sent in PG_WIRE_NAMES, at most PG_NAMES_LOGIN_CACHE_SIZE */
  gboolean connecting; /* between connect and connected or disconnected */
  /* The info last sent (PG_WIRE_INFO). */
  gboolean sent_info;
  PgPurpleAccountInfo info;
  char *chantypes;
  char *nick;
  guint64 mark_tag; /* the last message handed over and not yet marked; 0: none */
  /* The inode of the connection the main process was told of (SOCKET);
   * 0: none. */
  guint64 socket_inode;
} Login;

struct Worker
{
  PgPurple *purple;
  PgWire *wire;
  GMainLoop *loop;
  GHashTable *logins; /* id → Login (owned) */
  /* Login → its id, for the owners libpurple names: a timer may outlive
   * the login that made it. */
  GHashTable *owners;
  guint32 serving;  /* the login whose command runs now, or 0 */
  guint32 active;   /* the login whose socket or timer libpurple serves, or 0 */
  guint connecting; /* logins between connect and its outcome */
  /* Their ids, each between spaces (" 12 7 "), as the crash note lists
   * them: kept as they change, not formatted for every note. */
  GString *connecting_ids;
  guint connecting_changes; /* counts changes of which logins those are */
  char *note;               /* the crash note, mapped; NULL without one */
  /* What the note says now: the login blamed, or (0) the logins connecting
   * as of connecting_changes. */
  guint32 noted;
  guint noted_changes;
  /* What the logins' servers processed (legacy/sent-note.h); NULL without. */
  PgSentNote *sent_note;
  GSource *pass_end; /* marks the messages of the frames a pass read */
  GArray *marking;   /* guint32: ids of the logins with a mark to send */
};

/* ---- what a crash leaves behind ----
 *
 * The ids of the logins the worker is busy with live in a small file of its
 * own directory, mapped shared: whatever ends the process (a signal that a
 * plugin or a sanitizer handles its own way, abort, SIGKILL), the main
 * process reads the last note after the exit. Updating it is a memcpy. */

#define CRASH_NOTE_BYTES 4096

/* The note names the login whose command runs, else the one whose socket
 * or timer libpurple serves, else those logging in; a crash anywhere else
 * is nobody's in particular. */
static void
update_crash_note (Worker *worker)
{
  char note[CRASH_NOTE_BYTES];
  gsize len = 0;
  guint32 blamed = worker->serving != 0 ? worker->serving : worker->active;
  if (worker->note == NULL)
    return;
  /* Called for every socket and timer libpurple serves and every command:
   * the note is written only when what it says changes. */
  if (blamed == worker->noted && (blamed != 0 || worker->noted_changes == worker->connecting_changes))
    return;
  worker->noted = blamed;
  worker->noted_changes = worker->connecting_changes;
  if (blamed != 0)
    {
      len = (gsize)g_snprintf (note, sizeof note, "%u", blamed);
      memcpy (worker->note, note, len);
    }
  else if (worker->connecting > 0)
    {
      /* As many ids as fit, whole. */
      const char *ids = worker->connecting_ids->str + 1;
      len = worker->connecting_ids->len - 1;
      if (len > CRASH_NOTE_BYTES - 1)
        for (len = CRASH_NOTE_BYTES - 1; len > 0 && ids[len - 1] != ' '; len--)
          ;
      memcpy (worker->note, ids, len);
    }
  worker->note[len] = '\0';
}

/* Whether @login is between connect and its outcome. */
static void
set_connecting (Login *login, gboolean connecting)
{
  Worker *worker = login->worker;
  char token[16];

  if (login->connecting == connecting)
    return;
  login->connecting = connecting;
  worker->connecting_changes++;
  g_snprintf (token, sizeof token, " %u ", login->id);
  if (connecting)
    {
      worker->connecting++;
      if (worker->connecting_ids->len == 0)
        g_string_append_c (worker->connecting_ids, ' ');
      g_string_append (worker->connecting_ids, token + 1);
      return;
    }
  worker->connecting--;
  const char *at = strstr (worker->connecting_ids->str, token);
  if (at != NULL)
    g_string_erase (worker->connecting_ids, at - worker->connecting_ids->str + 1, (gssize)strlen (token) - 1);
  if (worker->connecting == 0)
    g_string_truncate (worker->connecting_ids, 0);
}

/* Maps DIR/crash-note (legacy/backend-workers.c reads it); without it,
 * crashes are nobody's in particular. */
static void
open_crash_note (Worker *worker, const char *dir)
{
  g_autoptr (GError) error = NULL;
  worker->note = pg_worker_file_map (dir, "crash-note", CRASH_NOTE_BYTES, &error);
  if (worker->note == NULL)
    g_warning ("%s", error->message);
}

/* A SIGSEGV, SIGBUS or SIGILL that another process sent (an operator, the
 * crash tests) ends the worker as the signal would, without the report a
 * sanitizer build writes for a fault: the signal names no faulting access.
 * A real fault goes to the handler there was before (a sanitizer's), or
 * ends the worker. Signal handlers can only reach static storage. */
static struct sigaction previous_fault_actions[3];
static const int fault_signals[3] = { SIGSEGV, SIGBUS, SIGILL };

static void
on_fault (int sig, siginfo_t *info, void *context)
{
  for (guint i = 0; i < G_N_ELEMENTS (fault_signals); i++)
    {
      if (fault_signals[i] != sig)
        continue;
      const struct sigaction *previous = &previous_fault_actions[i];
      if (info->si_code > 0 && (previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction != NULL)
        {
          previous->sa_sigaction (sig, info, context);
          return;
        }
      if (info->si_code > 0 && !(previous->sa_flags & SA_SIGINFO) && previous->sa_handler != SIG_DFL
          && previous->sa_handler != SIG_IGN)
        {
          previous->sa_handler (sig);
          return;
        }
    }
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
install_fault_handlers (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (fault_signals); i++)
    {
      struct sigaction action = { 0 };
      action.sa_sigaction = on_fault;
      sigemptyset (&action.sa_mask);
      action.sa_flags = SA_SIGINFO;
      sigaction (fault_signals[i], &action, &previous_fault_actions[i]);
    }
}

static void
on_activity (gpointer owner, gpointer data)
{
  Worker *worker = data;
  worker->active = GPOINTER_TO_UINT (g_hash_table_lookup (worker->owners, owner));
  update_crash_note (worker);
}

/* ---- events, forwarded ---- */

static void
send_info (Login *login)
{
  PgPurpleAccountInfo info;
  pg_purple_account_get_info (login->account, &info);
  g_autofree char *nick = pg_purple_account_dup_nick (login->account);
  if (login->sent_info && info.connection_nick == login->info.connection_nick
      && info.round_trip == login->info.round_trip && info.nick_len == login->info.nick_len
      && g_strcmp0 (info.chantypes, login->chantypes) == 0 && g_strcmp0 (nick, login->nick) == 0)
    return;
  login->sent_info = TRUE;
  login->info = info;
  g_free (login->chantypes);
  login->chantypes = g_strdup (info.chantypes);
  g_free (login->nick);
  login->nick = g_steal_pointer (&nick);
  pg_wire_send (login->worker->wire, PG_WIRE_INFO, login->id,
                g_variant_new ("(bbmsums)", info.connection_nick, info.round_trip, login->chantypes,
                               (guint32)info.nick_len, login->nick));
}

static void
emit (Login *login, PgWireOp op, GVariant *args)
{
  pg_wire_send (login->worker->wire, op, login->id, args);
}

/* The main process compares the names of events (room keys, nicks) as the
 * protocol normalises them (legacy/names.h): each name goes there once per
 * login, normalised as the names process would (a login's own
 * normalisation may differ), before the first event that carries it.
 * @names must not point into libpurple's buffers (see ev_chat_named()). */
static void
tell_names (Login *login, const char *const *names, guint n)
{
  GVariantBuilder pairs;
  gboolean any = FALSE;
  g_variant_builder_init (&pairs, G_VARIANT_TYPE ("a(ss)"));
  for (guint i = 0; i < n; i++)
    {
      if (names[i] == NULL || g_hash_table_contains (login->named, names[i]))
        continue;
      if (g_hash_table_size (login->named) >= PG_NAMES_LOGIN_CACHE_SIZE)
        g_hash_table_remove_all (login->named);
      g_hash_table_add (login->named, g_strdup (names[i]));
      g_autofree char *normalized
          = pg_purple_normalize_name (login->worker->purple, login->protocol, names[i]);
      if (normalized != NULL)
        {
          g_variant_builder_add (&pairs, "(ss)", names[i], normalized);
          any = TRUE;
        }
    }
  if (any)
    emit (login, PG_WIRE_NAMES, g_variant_new ("(a(ss))", &pairs));
  else
    g_variant_builder_clear (&pairs);
}

/* What the main process answers pg_account_is_chat_name() and friends from
 * goes before the events after which it asks: the login's outcome (the
 * server's ISUPPORT came before it) and group-chat events (a nick taken,
 * a join done). */
static void
emit_with_info (Login *login, PgWireOp op, GVariant *args)
{
  send_info (login);
  emit (login, op, args);
}

/* The login has an outcome: a crash is no longer its own. */
static void
stop_connecting (Login *login)
{
  if (!login->connecting)
    return;
  set_connecting (login, FALSE);
  update_crash_note (login->worker);
}

static void
ev_connected (gpointer owner)
{
  Login *login = owner;
  stop_connecting (login);
  emit_with_info (login, PG_WIRE_CONNECTED, g_variant_new ("()"));
}

static void
ev_disconnected (gpointer owner, PgAccountFailure failure, const char *reason)
{
  Login *login = owner;
  stop_connecting (login);
  /* The main process sends again what it had not confirmed on the
   * connection that ended: nothing of it is to be claimed any more. */
  login->mark_tag = 0;
  if (login->worker->sent_note != NULL)
    pg_sent_note_forget (login->worker->sent_note, login->id);
  /* The main process lets its copy of the connection go at this event. */
  login->socket_inode = 0;
  if (login->account != NULL && pg_purple_account_is_marked (login->account))
    pg_purple_account_set_mark_round_trip (login->account, TRUE);
  emit_with_info (login, PG_WIRE_DISCONNECTED,
                  g_variant_new ("(us)", (guint32)failure, reason != NULL ? reason : ""));
}

static void
ev_contact_status (gpointer owner, const char *name, const char *alias, PgShow show, const char *status_text)
{
  emit (owner, PG_WIRE_CONTACT_STATUS, g_variant_new ("(smsums)", name, alias, (guint32)show, status_text));
}

static void
ev_contact_listed (gpointer owner, const char *name, const char *alias)
{
  emit (owner, PG_WIRE_CONTACT_LISTED, g_variant_new ("(sms)", name, alias));
}

static void
ev_contact_unlisted (gpointer owner, const char *name)
{
  emit (owner, PG_WIRE_CONTACT_UNLISTED, g_variant_new ("(s)", name));
}

static void
ev_message (gpointer owner, const char *from, const char *html)
{
  Login *login = owner;
  pg_wire_send_texts (login->worker->wire, PG_WIRE_MESSAGE, login->id, NULL, from, html);
}

static void
ev_chat_state (gpointer owner, const char *from, PgChatState state)
{
  emit (owner, PG_WIRE_TYPING, g_variant_new ("(su)", from, (guint32)state));
}

static void
ev_authorization (gpointer owner, const char *from, const char *alias, const char *message)
{
  emit (owner, PG_WIRE_AUTHORIZATION, g_variant_new ("(smsms)", from, alias, message));
}

static void
ev_question (gpointer owner, const PgQuestion *question)
{
  emit (owner, PG_WIRE_QUESTION, pg_question_to_variant (question));
}

static void
ev_question_closed (gpointer owner, guint32 id)
{
  emit (owner, PG_WIRE_QUESTION_CLOSED, g_variant_new ("(u)", id));
}

static void
ev_sent_confirmed (gpointer owner, guint64 serial)
{
  emit (owner, PG_WIRE_SENT_CONFIRMED, g_variant_new ("(t)", serial));
}

static void
ev_refused (gpointer owner, guint64 tag)
{
  emit (owner, PG_WIRE_REFUSED, g_variant_new ("(t)", tag));
}

static void
ev_chat (gpointer owner, const PgChatEvent *e)
{
  gboolean nick_may_change
      = e->kind == PG_CHAT_EVENT_NICK || e->kind == PG_CHAT_EVENT_JOINED || e->kind == PG_CHAT_EVENT_RENAMED;
  (nick_may_change ? emit_with_info : emit) (
      owner, PG_WIRE_CHAT,
      g_variant_new ("(umsmsmsmsmsuuubbbbmsumsmsms)", (guint32)e->kind, e->chat, e->nick, e->new_nick,
                     e->text, e->password, (guint32)e->rank, (guint32)e->refusal, (guint32)e->modes,
                     e->arrived, e->kicked, e->banned, e->delayed, e->name, (guint32)e->users, e->actor,
                     e->reason, e->member));
}

/* The events that carry names the main process compares: the names go
 * first (tell_names()). What the events point to is copied first: a
 * protocol normalises into a buffer of its own, and an event's string may
 * be that buffer (an IRC invitation's room). */
static void
ev_message_named (gpointer owner, const char *from, const char *html)
{
  Login *login = owner;
  /* The common case: a sender already told. */
  if (from == NULL || g_hash_table_contains (login->named, from))
    {
      ev_message (owner, from, html);
      return;
    }
  g_autofree char *from_copy = g_strdup (from);
  g_autofree char *html_copy = g_strdup (html);
  const char *const names[] = { from_copy };
  tell_names (owner, names, G_N_ELEMENTS (names));
  ev_message (owner, from_copy, html_copy);
}

/* A line of a room: PG_WIRE_CHAT_MESSAGE, written without a GVariant. */
static void
ev_chat_message (Login *login, const PgChatEvent *e)
{
  const guint8 delayed = e->delayed ? 1 : 0;
  const char *const strings[] = { e->chat, e->nick, e->text };
  pg_wire_send_strings (login->worker->wire, PG_WIRE_CHAT_MESSAGE, login->id, &delayed, 1, strings,
                        G_N_ELEMENTS (strings));
}

/* An occupant of a room (a join storm brings one per occupant per user):
 * PG_WIRE_CHAT_OCCUPANT, written without a GVariant. */
static void
ev_chat_occupant (Login *login, const PgChatEvent *e)
{
  /* "(ubb…)": the rank in host order, as GVariant keeps it, then the flags. */
  guint8 fixed[6];
  guint32 rank = (guint32)e->rank;
  memcpy (fixed, &rank, sizeof rank);
  fixed[4] = e->arrived ? 1 : 0;
  fixed[5] = e->member != NULL ? 1 : 0;
  const char *const strings[] = { e->chat, e->nick, e->member != NULL ? e->member : "" };
  pg_wire_send_strings (login->worker->wire, PG_WIRE_CHAT_OCCUPANT, login->id, fixed, sizeof fixed, strings,
                        G_N_ELEMENTS (strings));
}

/* The events with a frame of their own: a room's lines and occupants. */
static gboolean
send_short_chat_event (Login *login, const PgChatEvent *e)
{
  if (e->chat == NULL || e->nick == NULL)
    return FALSE;
  if (e->kind == PG_CHAT_EVENT_MESSAGE && e->text != NULL)
    ev_chat_message (login, e);
  else if (e->kind == PG_CHAT_EVENT_OCCUPANT)
    ev_chat_occupant (login, e);
  else
    return FALSE;
  return TRUE;
}

static void
ev_chat_named (gpointer owner, const PgChatEvent *e)
{
  Login *login = owner;
  /* The common case: a line or an occupant of a room, names already told. */
  if ((e->kind == PG_CHAT_EVENT_MESSAGE || e->kind == PG_CHAT_EVENT_OCCUPANT) && e->chat != NULL
      && e->nick != NULL && g_hash_table_contains (login->named, e->chat)
      && g_hash_table_contains (login->named, e->nick) && send_short_chat_event (login, e))
    return;
  PgChatEvent copy = *e;
  const char **fields[] = { &copy.chat, &copy.nick,  &copy.new_nick, &copy.text,  &copy.password,
                            &copy.name, &copy.actor, &copy.reason,   &copy.member };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    *fields[i] = g_strdup (*fields[i]);
  const char *const names[] = { copy.chat, copy.nick, copy.new_nick };
  tell_names (owner, names, G_N_ELEMENTS (names));
  if (!send_short_chat_event (login, &copy))
    ev_chat (owner, &copy);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    g_free ((char *)*fields[i]);
}

static void
ev_own_message (gpointer owner, const char *to, gboolean chat, const char *html, gint64 when)
{
  emit (owner, PG_WIRE_OWN_MESSAGE, g_variant_new ("(sbsx)", to, chat, html, when));
}

static void
ev_own_message_named (gpointer owner, const char *to, gboolean chat, const char *html, gint64 when)
{
  Login *login = owner;
  if (g_hash_table_contains (login->named, to))
    {
      ev_own_message (owner, to, chat, html, when);
      return;
    }
  g_autofree char *to_copy = g_strdup (to);
  g_autofree char *html_copy = g_strdup (html);
  const char *const names[] = { to_copy };
  tell_names (owner, names, G_N_ELEMENTS (names));
  ev_own_message (owner, to_copy, chat, html_copy, when);
}

static const PgAccountEvents forward = {
  .connected = ev_connected,
  .disconnected = ev_disconnected,
  .contact_status = ev_contact_status,
  .contact_listed = ev_contact_listed,
  .contact_unlisted = ev_contact_unlisted,
  .message = ev_message_named,
  .chat_state = ev_chat_state,
  .authorization_requested = ev_authorization,
  .sent_confirmed = ev_sent_confirmed,
  .refused = ev_refused,
  .chat = ev_chat_named,
  .question = ev_question,
  .question_closed = ev_question_closed,
  .own_message = ev_own_message_named,
};

/* ---- what the legacy servers processed ---- */

static void
on_marked (guint64 tag, gboolean processed, gpointer data)
{
  Login *login = data;
  pg_sent_note_set (login->worker->sent_note, login->id,
                    processed ? PG_SENT_NOTE_PROCESSED : PG_SENT_NOTE_WRITTEN, tag);
}

/* A login's connection to its legacy server (a TCP socket got a read
 * watch): the main process is told, to hold it too (legacy/held-socket.h);
 * until it says it does, marks ask the server for an answer. */
static void
on_socket (gpointer owner, int fd, gpointer data)
{
  Worker *worker = data;
  guint32 id = GPOINTER_TO_UINT (g_hash_table_lookup (worker->owners, owner));
  Login *login = id != 0 ? g_hash_table_lookup (worker->logins, GUINT_TO_POINTER (id)) : NULL;
  struct stat st;

  if (login == NULL || !pg_purple_account_is_marked (login->account) || fstat (fd, &st) < 0
      || (guint64)st.st_ino == login->socket_inode)
    return;
  login->socket_inode = (guint64)st.st_ino;
  pg_purple_account_set_mark_round_trip (login->account, TRUE);
  emit (login, PG_WIRE_SOCKET, g_variant_new ("(ut)", (guint32)fd, login->socket_inode));
}

/* One mark per login for the messages of the frames read together: a mark
 * is a line more on the legacy connection.  It is queued at the end of the
 * pass that read them, so prpl-irc's send timer, which the messages made
 * due, writes it right behind them in the next pass. */
static void
mark_batches (gpointer data)
{
  Worker *worker = data;
  if (worker->marking->len == 0)
    return;
  for (guint i = 0; i < worker->marking->len; i++)
    {
      Login *login = g_hash_table_lookup (worker->logins,
                                          GUINT_TO_POINTER (g_array_index (worker->marking, guint32, i)));
      if (login == NULL || login->mark_tag == 0)
        continue;
      worker->serving = login->id;
      update_crash_note (worker);
      pg_purple_account_mark_sent (login->account, login->mark_tag);
      login->mark_tag = 0;
    }
  g_array_set_size (worker->marking, 0);
  worker->serving = 0;
  update_crash_note (worker);
}

static void
login_free (Login *login)
{
  g_hash_table_remove (login->worker->owners, login);
  if (login->worker->sent_note != NULL)
    pg_sent_note_forget (login->worker->sent_note, login->id);
  set_connecting (login, FALSE);
  g_clear_pointer (&login->account, pg_purple_account_free);
  g_free (login->protocol);
  g_hash_table_unref (login->named);
  g_free (login->chantypes);
  g_free (login->nick);
  g_free (login);
}

static void
cmd_new (Worker *worker, guint32 id, GVariant *args)
{
  const char *protocol, *username, *password;
  g_autofree const char **keys = NULL;
  g_autofree const char **values = NULL;
  g_autoptr (GError) error = NULL;
  g_variant_get (args, "(&s&sm&s^a&s^a&s)", &protocol, &username, &password, &keys, &values);
  if (g_strv_length ((char **)keys) != g_strv_length ((char **)values))
    {
      pg_wire_send (worker->wire, PG_WIRE_DISCONNECTED, id,
                    g_variant_new ("(us)", (guint32)PG_ACCOUNT_FAILURE_OTHER, "malformed settings"));
      return;
    }
  Login *login = g_new0 (Login, 1);
  login->worker = worker;
  login->id = id;
  login->protocol = g_strdup (protocol);
  login->named = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (worker->owners, login, GUINT_TO_POINTER (id));
  login->account
      = pg_purple_account_new (worker->purple, protocol, username, password, keys[0] != NULL ? keys : NULL,
                               values[0] != NULL ? values : NULL, &forward, login, &error);
  if (login->account == NULL)
    {
      /* The main process checked the name is free; this is a bad setting. */
      pg_wire_send (worker->wire, PG_WIRE_DISCONNECTED, id,
                    g_variant_new ("(us)", (guint32)PG_ACCOUNT_FAILURE_OTHER, error->message));
      g_free (login->protocol);
      g_hash_table_unref (login->named);
      g_free (login);
      return;
    }
  if (worker->sent_note != NULL)
    pg_purple_account_set_mark_func (login->account, on_marked, login);
  g_hash_table_replace (worker->logins, GUINT_TO_POINTER (id), login);
}

static void
run_command (Worker *worker, guint32 op, Login *login, GVariant *args)
{
  PgPurpleAccount *account = login->account;
  const char *a, *b, *c;
  guint32 u;
  gboolean flag;
  switch (op)
    {
    case PG_WIRE_CONNECT:
      set_connecting (login, TRUE);
      pg_purple_account_connect (account);
      break;
    case PG_WIRE_FREE:
      g_hash_table_remove (worker->logins, GUINT_TO_POINTER (login->id));
      break;
    case PG_WIRE_SET_STATUS:
      g_variant_get (args, "(um&s)", &u, &a);
      pg_purple_account_set_status (account, u, a);
      break;
    case PG_WIRE_SEND:
      {
        guint64 tag;
        g_autoptr (GError) error = NULL;
        pg_wire_frame_texts (worker->wire, &tag, &a, &b);
        if (!pg_purple_account_send_message (account, tag, a, b, &error))
          emit (login, PG_WIRE_SEND_FAILED,
                g_variant_new ("(tbs)", tag,
                               g_error_matches (error, PG_ACCOUNT_ERROR, PG_ACCOUNT_ERROR_OFFLINE),
                               error->message));
        else if (tag != 0 && worker->sent_note != NULL)
          {
            /* Before prpl-irc's send timer, which the message made due:
             * the mark goes out right behind the batch. */
            if (login->mark_tag == 0)
              g_array_append_val (worker->marking, login->id);
            login->mark_tag = tag;
          }
      }
      break;
    case PG_WIRE_HOLD:
      {
        guint64 inode;
        g_variant_get (args, "(t)", &inode);
        /* Written is enough now: marks need no answer. */
        if (inode != 0 && inode == login->socket_inode)
          {
            g_debug ("login %u: the main process holds its connection; marks are written only", login->id);
            pg_purple_account_set_mark_round_trip (account, FALSE);
          }
      }
      break;
    case PG_WIRE_CONFIRM:
      {
        guint64 serial;
        g_variant_get (args, "(t)", &serial);
        /* Only an answer goes back (sent_confirmed).  The main process asks
         * where this login said its protocol has the round trip, so what
         * else comes here is a login that is ending: its disconnected
         * event puts the messages back in line there, unsettled. */
        pg_purple_account_confirm_sent (account, serial);
      }
      break;
    case PG_WIRE_LOGOUT:
      g_variant_get (args, "(&s)", &a);
      /* The main process waits for the outcome. */
      if (!pg_purple_account_logout (account, a))
        ev_disconnected (login, PG_ACCOUNT_FAILURE_OTHER, "logged out");
      break;
    case PG_WIRE_CHAT_STATE:
      g_variant_get (args, "(&su)", &a, &u);
      pg_purple_account_send_chat_state (account, a, u);
      break;
    case PG_WIRE_JOIN:
      g_variant_get (args, "(&sm&sm&s)", &a, &b, &c);
      pg_purple_account_join_chat (account, a, b, c);
      break;
    case PG_WIRE_LEAVE:
      g_variant_get (args, "(&s)", &a);
      pg_purple_account_leave_chat (account, a);
      break;
    case PG_WIRE_SEND_CHAT:
      {
        g_autoptr (GError) error = NULL;
        g_variant_get (args, "(&s&s)", &a, &b);
        if (!pg_purple_account_send_chat (account, a, b, &error))
          {
            PgChatEvent event = { .kind = PG_CHAT_EVENT_REFUSED,
                                  .chat = a,
                                  .refusal = pg_purple_account_chat_refusal (error),
                                  .text = error->message };
            ev_chat (login, &event);
          }
      }
      break;
    case PG_WIRE_TOPIC:
      g_variant_get (args, "(&s&s)", &a, &b);
      pg_purple_account_set_chat_topic (account, a, b);
      break;
    case PG_WIRE_KICK:
      g_variant_get (args, "(&s&sm&s)", &a, &b, &c);
      pg_purple_account_kick_chat (account, a, b, c);
      break;
    case PG_WIRE_INVITE:
      g_variant_get (args, "(&s&sm&s)", &a, &b, &c);
      pg_purple_account_invite_chat (account, a, b, c);
      break;
    case PG_WIRE_CHAT_NICK:
      g_variant_get (args, "(&s&s)", &a, &b);
      pg_purple_account_set_chat_nick (account, a, b);
      break;
    case PG_WIRE_LIST_CHATS:
      pg_purple_account_list_chats (account);
      break;
    case PG_WIRE_SET_NICK:
      g_variant_get (args, "(&s)", &a);
      if (!pg_purple_account_set_nick (account, a))
        {
          PgChatEvent event = { .kind = PG_CHAT_EVENT_REFUSED,
                                .refusal = PG_CHAT_REFUSED_BAD_NICK,
                                .text = "not a nick this network takes" };
          ev_chat (login, &event);
        }
      break;
    case PG_WIRE_RESTORE_CONTACT:
      g_variant_get (args, "(&sm&s)", &a, &b);
      pg_purple_account_restore_contact (account, a, b);
      break;
    case PG_WIRE_ADD_CONTACT:
      g_variant_get (args, "(&sm&s)", &a, &b);
      pg_purple_account_add_contact (account, a, b);
      break;
    case PG_WIRE_REMOVE_CONTACT:
      g_variant_get (args, "(&s)", &a);
      pg_purple_account_remove_contact (account, a);
      break;
    case PG_WIRE_AUTHORIZE:
      g_variant_get (args, "(&sb)", &a, &flag);
      pg_purple_account_authorize (account, a, flag);
      break;
    case PG_WIRE_ANSWER:
      {
        g_autoptr (PgQuestionAnswer) answer = pg_question_answer_from_variant (args);
        if (answer != NULL)
          pg_purple_account_answer_question (account, answer);
      }
      break;
    default:
      break;
    }
}

static gboolean
send_synced (gpointer data)
{
  Worker *worker = data;
  pg_wire_send (worker->wire, PG_WIRE_SYNCED, 0, g_variant_new ("()"));
  return G_SOURCE_REMOVE;
}

static void
on_frame (guint32 op, guint32 id, GVariant *args, gpointer data)
{
  Worker *worker = data;
  if (op == PG_WIRE_STOP)
    {
      g_main_loop_quit (worker->loop);
      return;
    }
  if (op == PG_WIRE_PLUGINS)
    {
      g_autofree const char **ids = NULL;
      g_autoptr (GError) error = NULL;
      g_variant_get (args, "(^a&s)", &ids);
      /* The main process checked the ids at start: a failure here is the
       * plugin's own, and logins go on without it. */
      if (!pg_purple_load_plugins (worker->purple, ids, &error))
        g_warning ("%s", error->message);
      return;
    }
  if (op == PG_WIRE_SYNC)
    {
      /* A low-priority idle runs once no socket of the logins is ready:
       * what the legacy servers had sent is forwarded by then. */
      g_idle_add_full (G_PRIORITY_LOW, send_synced, worker, NULL);
      return;
    }
  if (op >= PG_WIRE_HELLO)
    {
      g_warning ("the main process sent an event (%u); stopping", op);
      g_main_loop_quit (worker->loop);
      return;
    }
  worker->serving = id;
  update_crash_note (worker);
  if (op == PG_WIRE_NEW)
    cmd_new (worker, id, args);
  else
    {
      Login *login = g_hash_table_lookup (worker->logins, GUINT_TO_POINTER (id));
      if (login != NULL)
        run_command (worker, op, login, args);
    }
  worker->serving = 0;
  update_crash_note (worker);
}

static void
on_closed (const char *why, gboolean malformed, gpointer data)
{
  Worker *worker = data;
  g_debug ("the link to the main process ended (%s)", why);
  g_main_loop_quit (worker->loop);
}

int
pg_worker_main (int fd, const char *purple_dir, const char *plugin_dir, const char *const *private_paths)
{
  g_autoptr (GError) error = NULL;
  /* The main process stops us (PG_WIRE_STOP). */
  if (!pg_sandbox_enter_child ())
    return 1;
  install_fault_handlers ();
  pg_sandbox_restrict (purple_dir, plugin_dir, private_paths);

  Worker worker = { 0 };
  open_crash_note (&worker, purple_dir);
  worker.sent_note = pg_sent_note_open (purple_dir, &error);
  if (worker.sent_note == NULL)
    {
      g_warning ("%s; a crash sends again every message not confirmed", error->message);
      g_clear_error (&error);
    }
  worker.purple = pg_purple_new_with_plugins (purple_dir, plugin_dir, &error);
  if (worker.purple == NULL)
    {
      g_critical ("cannot start libpurple in the worker: %s", error->message);
      return 1;
    }
  worker.owners = g_hash_table_new (NULL, NULL);
  pg_purple_set_socket_func (worker.purple, on_socket, &worker);
  worker.logins = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)login_free);
  worker.connecting_ids = g_string_new (NULL);
  pg_purple_set_activity_func (worker.purple, on_activity, &worker);
  worker.marking = g_array_new (FALSE, FALSE, sizeof (guint32));
  worker.pass_end = pg_pass_end_add (PG_PASS_END_WRITE, mark_batches, &worker);
  worker.loop = g_main_loop_new (NULL, FALSE);
  worker.wire = pg_wire_new (fd, on_frame, on_closed, &worker);
  if (!pg_wire_keep_unsent (worker.wire, purple_dir, &error))
    {
      g_warning ("%s; a crash loses the events not yet written to the main process", error->message);
      g_clear_error (&error);
    }
  pg_wire_send (worker.wire, PG_WIRE_HELLO, 0,
                g_variant_new ("(uu)", (guint32)PG_WIRE_VERSION, (guint32)getpid ()));
  g_autoptr (PgHeapTrim) trim = pg_heap_trim_new ();
  g_main_loop_run (worker.loop);

  pg_purple_set_activity_func (worker.purple, NULL, NULL);
  g_source_destroy (worker.pass_end);
  g_source_unref (worker.pass_end);
  g_array_unref (worker.marking);
  g_hash_table_unref (worker.logins); /* silent logouts */
  g_hash_table_unref (worker.owners);
  g_string_free (worker.connecting_ids, TRUE);
  pg_wire_flush (worker.wire, 1000);
  pg_wire_free (worker.wire);
  g_main_loop_unref (worker.loop);
  pg_purple_free (worker.purple);
  pg_sent_note_free (worker.sent_note, TRUE);
  if (worker.note != NULL)
    {
      worker.note[0] = '\0'; /* a clean exit is nobody's crash */
      munmap (worker.note, CRASH_NOTE_BYTES);
    }
  return 0;
}
