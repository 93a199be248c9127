/* legacy/backend-workers.c — legacy logins in worker processes: starting
 * and supervising the workers, placing logins, and the main process's half
 * of each login (commands out as frames, frames in as events). */
#define G_LOG_DOMAIN "pg-workers"
#include "build-config.h"

#include "legacy/backend-private.h"
#include "legacy/crash-rescue.h"
#include "legacy/held-socket.h"
#include "legacy/irc-line.h"
#include "legacy/sent-note.h"
#include "legacy/wire.h"
#include "legacy/worker-file.h"

#include <errno.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A worker that ran this long before it ended is started again at once;
 * one that ends sooner waits twice as long as the last time, up to the
 * maximum, so that a worker that cannot start does not spin. */
#define RESTART_CALM_S 60
#define RESTART_FIRST_MS 100
#define RESTART_MAX_MS 30000
/* How long a worker has to exit after PG_WIRE_STOP before SIGKILL. */
#define STOP_GRACE_MS 3000
/* How long the server of a crashed worker's connection has to close it
 * after the end of what was written (legacy/held-socket.h). */
#define DRAIN_MS 5000
/* How long a login of a crashed worker waits for the end of its held
 * connection before it goes back to login (the rest of the drain still
 * reaches it while it lives). */
#define RESCUE_WAIT_MS 1000

#define QUARANTINE_TEXT                                                                                      \
  "this login made the gateway's legacy process crash repeatedly; it is set aside until the gateway "        \
  "restarts"

struct PgWorker
{
  PgWorkerPool *pool;
  guint index;
  char *dir;
  GSubprocess *process; /* NULL while not running */
  int pid;
  PgWire *wire;
  GHashTable *accounts; /* id → PgAccount (borrowed) */
  guint restarts;
  guint crashes;
  guint restart_ms;
  guint restart_id;
  gint64 started_at; /* monotonic µs */
  gboolean lost;     /* its link is gone; waiting for the exit */
  char *lost_why;    /* why the link ended */
  gboolean killed;   /* by us, for breaking the rules of the link */
  gboolean synced;   /* answered the last PG_WIRE_SYNC */
  int pidfd;         /* of the running process; -1: none */
  /* The logins' connections the main process holds too
   * (legacy/held-socket.h): login id → Held (owned). */
  GHashTable *held;
};

typedef struct
{
  int fd; /* -1 once handed to a drain */
  guint64 inode;
} Held;

struct PgWorkerPool
{
  PgBackend *backend;
  GPtrArray *workers; /* PgWorker */
  guint max_logins;
  char *exe;
  char *plugin_dir;
  GStrv plugins; /* libpurple plugins every worker loads, by id */
  GStrv private_paths;
  guint32 last_id;
  GHashTable *logins;        /* login key → PgAccount (borrowed) */
  GHashTable *alive;         /* PgAccount (borrowed) placed once and not freed */
  GHashTable *crashes;       /* login key → GArray of gint64, monotonic s */
  GHashTable *quarantine;    /* login keys */
  GCancellable *cancellable; /* of the waits for the workers' exits */
  int restart_ms;            /* PG_BACKEND_RESTART_MS_ENV; -1: the backoff */
  gboolean stopping;
  PgSocketDrains *drains; /* connections of crashed workers being ended */
  gboolean hold_failed;   /* said once that connections cannot be held */
};

static gboolean start_worker (PgWorker *worker, GError **error);

guint
pg_backend_next_restart_ms (int fixed_ms, guint last_ms, gint64 ran_s)
{
  if (fixed_ms >= 0)
    return (guint)fixed_ms;
  if (ran_s >= RESTART_CALM_S)
    return 0;
  return MIN (MAX (last_ms * 2, RESTART_FIRST_MS), RESTART_MAX_MS);
}

int
pg_backend_get_fixed_restart_ms (void)
{
  const char *restart_ms = g_getenv (PG_BACKEND_RESTART_MS_ENV);
  guint64 number;
  if (restart_ms == NULL)
    return -1;
  if (g_ascii_string_to_unsigned (restart_ms, 10, 0, RESTART_MAX_MS, &number, NULL))
    return (int)number;
  g_warning ("%s=%s is not a number of milliseconds (0-%d); ignored", PG_BACKEND_RESTART_MS_ENV, restart_ms,
             RESTART_MAX_MS);
  return -1;
}

/* How long @worker waits before it starts again, after running @ran_s. */
static guint
next_restart_ms (PgWorker *worker, gint64 ran_s)
{
  return pg_backend_next_restart_ms (worker->pool->restart_ms, worker->restart_ms, ran_s);
}

/* ---- commands ---- */

static gboolean
placed (PgAccount *account)
{
  return account->worker != NULL && account->worker->wire != NULL;
}

static void
send_frame (PgAccount *account, PgWireOp op, GVariant *args)
{
  if (placed (account))
    pg_wire_send (account->worker->wire, op, account->id, args);
  else
    g_variant_unref (g_variant_ref_sink (args));
}

static PgWorker *
least_loaded (PgWorkerPool *pool)
{
  PgWorker *best = NULL;
  for (guint i = 0; i < pool->workers->len; i++)
    {
      PgWorker *worker = g_ptr_array_index (pool->workers, i);
      guint load = g_hash_table_size (worker->accounts);
      if (worker->wire == NULL || worker->lost || (pool->max_logins > 0 && load >= pool->max_logins))
        continue;
      if (best == NULL || load < g_hash_table_size (best->accounts))
        best = worker;
    }
  return best;
}

static void
worker_start_login (PgAccount *account, const char *password, const char *const *setting_keys,
                    const char *const *setting_values)
{
  PgWorkerPool *pool = account->backend->pool;
  account->login_key
      = pg_names_dup_login_key (account->backend->names, account->protocol_id, account->username);
  if (g_hash_table_contains (pool->quarantine, account->login_key))
    return; /* connect says so */
  if (g_hash_table_contains (pool->logins, account->login_key))
    {
      account->conflict = g_strdup_printf ("the %s login \"%s\" is already in use", account->protocol_id,
                                           account->username);
      return;
    }
  PgWorker *worker = least_loaded (pool);
  if (worker == NULL)
    return; /* connect says so */
  account->worker = worker;
  account->id = ++pool->last_id;
  g_hash_table_insert (worker->accounts, GUINT_TO_POINTER (account->id), account);
  g_hash_table_insert (pool->logins, account->login_key, account);
  g_hash_table_add (pool->alive, account);
  const char *const empty[] = { NULL };
  send_frame (account, PG_WIRE_NEW,
              g_variant_new ("(ssms^as^as)", account->protocol_id, account->username, password,
                             setting_keys != NULL ? setting_keys : empty,
                             setting_values != NULL ? setting_values : empty));
}

/* Forgets @account on its worker's side of the table (not on the worker). */
static void
unplace (PgAccount *account)
{
  PgWorkerPool *pool = account->backend->pool;
  if (account->worker != NULL)
    g_hash_table_remove (account->worker->accounts, GUINT_TO_POINTER (account->id));
  account->worker = NULL;
  if (account->login_key != NULL && g_hash_table_lookup (pool->logins, account->login_key) == account)
    g_hash_table_remove (pool->logins, account->login_key);
  account->mirror.connected = FALSE;
}

static void
worker_free_login (PgAccount *account)
{
  g_hash_table_remove (account->backend->pool->alive, account);
  send_frame (account, PG_WIRE_FREE, g_variant_new ("()"));
  /* The worker closes the connection now: holding it would keep it open. */
  if (account->worker != NULL)
    g_hash_table_remove (account->worker->held, GUINT_TO_POINTER (account->id));
  unplace (account);
}

static void
worker_connect (PgAccount *account)
{
  PgWorkerPool *pool = account->backend->pool;
  if (account->login_key != NULL && g_hash_table_contains (pool->quarantine, account->login_key))
    pg_backend_defer_disconnected (account, PG_ACCOUNT_FAILURE_QUARANTINED, QUARANTINE_TEXT);
  else if (account->conflict != NULL)
    pg_backend_defer_disconnected (account, PG_ACCOUNT_FAILURE_CONFLICT, account->conflict);
  else if (!placed (account))
    pg_backend_defer_disconnected (account, PG_ACCOUNT_FAILURE_NETWORK,
                                   "no legacy process of the gateway can take this login now");
  else
    send_frame (account, PG_WIRE_CONNECT, g_variant_new ("()"));
}

static void
worker_set_status (PgAccount *account, PgShow show, const char *message)
{
  send_frame (account, PG_WIRE_SET_STATUS, g_variant_new ("(ums)", (guint32)show, message));
}

static void
worker_send_message (PgAccount *account, guint64 tag, const char *to, const char *text)
{
  if (placed (account))
    pg_wire_send_texts (account->worker->wire, PG_WIRE_SEND, account->id, &tag, to, text);
}

static PgConfirm
worker_confirm_sent (PgAccount *account, guint64 serial)
{
  /* The protocol's, told before the login's first connected event. */
  if (!account->mirror.round_trip)
    return PG_CONFIRM_NO_ROUND_TRIP;
  /* Between a worker's crash and the disconnected event (deferred) the
   * login is no longer placed: the rows are not settled, its end puts them
   * back in line. */
  if (!placed (account) || !account->mirror.connected)
    return PG_CONFIRM_UNAVAILABLE;
  send_frame (account, PG_WIRE_CONFIRM, g_variant_new ("(t)", serial));
  return PG_CONFIRM_ASKED;
}

static gboolean
worker_logout (PgAccount *account, const char *message)
{
  if (!placed (account) || !account->mirror.connected || !account->mirror.round_trip)
    return FALSE;
  send_frame (account, PG_WIRE_LOGOUT, g_variant_new ("(s)", message != NULL ? message : ""));
  return TRUE;
}

static void
worker_send_chat_state (PgAccount *account, const char *to, PgChatState state)
{
  send_frame (account, PG_WIRE_CHAT_STATE, g_variant_new ("(su)", to, (guint32)state));
}

static void
worker_join_chat (PgAccount *account, const char *chat, const char *nick, const char *password)
{
  send_frame (account, PG_WIRE_JOIN, g_variant_new ("(smsms)", chat, nick, password));
}

static void
worker_leave_chat (PgAccount *account, const char *chat)
{
  send_frame (account, PG_WIRE_LEAVE, g_variant_new ("(s)", chat));
}

static void
worker_send_chat (PgAccount *account, const char *chat, const char *text)
{
  send_frame (account, PG_WIRE_SEND_CHAT, g_variant_new ("(ss)", chat, text));
}

static void
worker_set_chat_topic (PgAccount *account, const char *chat, const char *topic)
{
  send_frame (account, PG_WIRE_TOPIC, g_variant_new ("(ss)", chat, topic));
}

static void
worker_kick_chat (PgAccount *account, const char *chat, const char *nick, const char *reason)
{
  send_frame (account, PG_WIRE_KICK, g_variant_new ("(ssms)", chat, nick, reason));
}

static void
worker_invite_chat (PgAccount *account, const char *chat, const char *who, const char *message)
{
  send_frame (account, PG_WIRE_INVITE, g_variant_new ("(ssms)", chat, who, message));
}

static void
worker_set_chat_nick (PgAccount *account, const char *chat, const char *nick)
{
  send_frame (account, PG_WIRE_CHAT_NICK, g_variant_new ("(ss)", chat, nick));
}

static void
worker_list_chats (PgAccount *account)
{
  send_frame (account, PG_WIRE_LIST_CHATS, g_variant_new ("()"));
}

static gboolean
worker_set_nick (PgAccount *account, const char *nick)
{
  /* The worker checks again with what it knows then. */
  if (!placed (account) || !account->mirror.connection_nick
      || !pg_irc_nick_valid (nick, account->mirror.nick_len))
    return FALSE;
  send_frame (account, PG_WIRE_SET_NICK, g_variant_new ("(s)", nick));
  return TRUE;
}

static void
worker_restore_contact (PgAccount *account, const char *name, const char *alias)
{
  send_frame (account, PG_WIRE_RESTORE_CONTACT, g_variant_new ("(sms)", name, alias));
}

static void
worker_add_contact (PgAccount *account, const char *name, const char *alias)
{
  send_frame (account, PG_WIRE_ADD_CONTACT, g_variant_new ("(sms)", name, alias));
}

static void
worker_remove_contact (PgAccount *account, const char *name)
{
  send_frame (account, PG_WIRE_REMOVE_CONTACT, g_variant_new ("(s)", name));
}

static void
worker_authorize (PgAccount *account, const char *name, gboolean allow)
{
  send_frame (account, PG_WIRE_AUTHORIZE, g_variant_new ("(sb)", name, allow));
}

static void
worker_answer_question (PgAccount *account, const PgQuestionAnswer *answer)
{
  send_frame (account, PG_WIRE_ANSWER, pg_question_answer_to_variant (answer));
}

static gboolean
worker_is_chat_name (PgAccount *account, const char *name)
{
  /* As the in-process login answers: RFC 1459 §1.3's "#&" until the
   * server said otherwise, and only where the protocol has channels. */
  if (!account->mirror.connection_nick || name[0] == '\0')
    return FALSE;
  const char *chantypes = account->mirror.chantypes != NULL ? account->mirror.chantypes : "#&";
  return strchr (chantypes, name[0]) != NULL;
}

static gboolean
worker_has_connection_nick (PgAccount *account)
{
  return account->mirror.connection_nick;
}

static char *
worker_dup_nick (PgAccount *account)
{
  return account->mirror.connected ? g_strdup (account->mirror.nick) : NULL;
}

static guint
worker_get_nick_len (PgAccount *account)
{
  return account->mirror.nick_len;
}

static char *
worker_normalize (PgAccount *account, const char *name)
{
  const char *named = account->named != NULL ? pg_name_cache_lookup (account->named, name) : NULL;
  if (named != NULL)
    return g_strdup (named);
  return pg_names_normalize (account->backend->names, account->protocol_id, name);
}

const PgBackendOps pg_backend_worker_ops = {
  .start = worker_start_login,
  .free = worker_free_login,
  .connect = worker_connect,
  .set_status = worker_set_status,
  .send_message = worker_send_message,
  .confirm_sent = worker_confirm_sent,
  .logout = worker_logout,
  .send_chat_state = worker_send_chat_state,
  .join_chat = worker_join_chat,
  .leave_chat = worker_leave_chat,
  .send_chat = worker_send_chat,
  .set_chat_topic = worker_set_chat_topic,
  .kick_chat = worker_kick_chat,
  .invite_chat = worker_invite_chat,
  .set_chat_nick = worker_set_chat_nick,
  .list_chats = worker_list_chats,
  .set_nick = worker_set_nick,
  .restore_contact = worker_restore_contact,
  .add_contact = worker_add_contact,
  .remove_contact = worker_remove_contact,
  .authorize = worker_authorize,
  .is_chat_name = worker_is_chat_name,
  .has_connection_nick = worker_has_connection_nick,
  .dup_nick = worker_dup_nick,
  .normalize = worker_normalize,
  .get_nick_len = worker_get_nick_len,
  .answer_question = worker_answer_question,
};

/* ---- events ---- */

static void
on_chat_frame (PgAccount *account, GVariant *args)
{
  guint32 kind, rank, refusal, modes, users;
  PgChatEvent event = { 0 };
  const char *chat, *nick, *new_nick, *text, *password, *name, *actor, *reason, *member;
  g_variant_get (args, "(um&sm&sm&sm&sm&suuubbbbm&sum&sm&sm&s)", &kind, &chat, &nick, &new_nick, &text,
                 &password, &rank, &refusal, &modes, &event.arrived, &event.kicked, &event.banned,
                 &event.delayed, &name, &users, &actor, &reason, &member);
  event.kind = kind;
  event.chat = chat;
  event.nick = nick;
  event.new_nick = new_nick;
  event.text = text;
  event.password = password;
  event.rank = rank;
  event.refusal = refusal;
  event.modes = modes;
  event.name = name;
  event.users = users;
  event.actor = actor;
  event.reason = reason;
  event.member = member;
  if (account->events.chat != NULL)
    account->events.chat (account->owner, &event);
}

/* Names of the login's next events as its worker normalised them: for its
 * own logins only, so that a worker's word cannot change how names of
 * other users compare. */
static void
on_names_frame (PgAccount *account, GVariant *args)
{
  g_autoptr (GVariantIter) pairs = NULL;
  const char *name, *normalized;
  if (account->named == NULL)
    account->named = pg_name_cache_new (PG_NAMES_LOGIN_CACHE_SIZE);
  g_variant_get (args, "(a(ss))", &pairs);
  while (g_variant_iter_next (pairs, "(&s&s)", &name, &normalized))
    pg_name_cache_insert (account->named, name, normalized);
}

static void
on_info_frame (PgAccount *account, GVariant *args)
{
  PgAccountMirror *mirror = &account->mirror;
  const char *chantypes, *nick;
  guint32 nick_len;
  g_variant_get (args, "(bbm&sum&s)", &mirror->connection_nick, &mirror->round_trip, &chantypes, &nick_len,
                 &nick);
  mirror->nick_len = nick_len;
  g_free (mirror->chantypes);
  mirror->chantypes = g_strdup (chantypes);
  g_free (mirror->nick);
  mirror->nick = g_strdup (nick);
}

/* ---- the logins' connections, held (legacy/held-socket.h) ---- */

static void
held_free (Held *held)
{
  if (held->fd >= 0)
    close (held->fd);
  g_free (held);
}

/* The worker named @fd (inode @inode) as the connection of login @id: a
 * copy is kept until the connection ends, and the worker told, so that it
 * need not ask the server what it processed. */
static void
hold_socket (PgWorker *worker, guint32 id, guint32 fd, guint64 inode)
{
  g_autoptr (GError) error = NULL;
  g_hash_table_remove (worker->held, GUINT_TO_POINTER (id));
  int copy = pg_held_socket_take (worker->pidfd, (int)fd, inode, &error);
  if (copy < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) && !worker->pool->hold_failed)
        {
          worker->pool->hold_failed = TRUE;
          g_warning ("cannot hold the legacy connections of the worker processes (%s): after a worker "
                     "crash, a message written within the last round trip to the legacy server can be "
                     "sent twice",
                     error->message);
        }
      return;
    }
  Held *held = g_new (Held, 1);
  held->fd = copy;
  held->inode = inode;
  g_hash_table_insert (worker->held, GUINT_TO_POINTER (id), held);
  pg_wire_send (worker->wire, PG_WIRE_HOLD, id, g_variant_new ("(t)", inode));
}

/* One frame of @worker; FALSE when it makes no sense (the worker is then
 * treated as broken). */
static gboolean
dispatch (PgWorker *worker, guint32 op, guint32 id, GVariant *args)
{
  if (op == PG_WIRE_HELLO)
    {
      guint32 version, pid;
      g_variant_get (args, "(uu)", &version, &pid);
      if (version != PG_WIRE_VERSION)
        return FALSE;
      g_debug ("worker %u (pid %u) is up", worker->index, pid);
      return TRUE;
    }
  if (op == PG_WIRE_SYNCED)
    {
      worker->synced = TRUE;
      return TRUE;
    }
  if (op < PG_WIRE_HELLO)
    return FALSE; /* a command: not the worker's to give */
  PgAccount *account = g_hash_table_lookup (worker->accounts, GUINT_TO_POINTER (id));
  if (account == NULL)
    return TRUE; /* freed here while the worker spoke */
  const PgAccountEvents *events = &account->events;
  const char *a, *b, *c;
  guint32 u;
  switch (op)
    {
    case PG_WIRE_CONNECTED:
      account->mirror.connected = TRUE;
      if (events->connected != NULL)
        events->connected (account->owner);
      break;
    case PG_WIRE_SOCKET:
      {
        guint64 inode;
        g_variant_get (args, "(ut)", &u, &inode);
        hold_socket (worker, id, u, inode);
      }
      break;
    case PG_WIRE_DISCONNECTED:
      g_variant_get (args, "(u&s)", &u, &a);
      /* The worker closes the connection: holding it would keep it open. */
      g_hash_table_remove (worker->held, GUINT_TO_POINTER (id));
      account->mirror.connected = FALSE;
      if (events->disconnected != NULL)
        events->disconnected (account->owner, u, a);
      break;
    case PG_WIRE_CONTACT_STATUS:
      {
        guint32 show;
        g_variant_get (args, "(&sm&sum&s)", &a, &b, &show, &c);
        if (events->contact_status != NULL)
          events->contact_status (account->owner, a, b, show, c);
      }
      break;
    case PG_WIRE_CONTACT_LISTED:
      g_variant_get (args, "(&sm&s)", &a, &b);
      if (events->contact_listed != NULL)
        events->contact_listed (account->owner, a, b);
      break;
    case PG_WIRE_CONTACT_UNLISTED:
      g_variant_get (args, "(&s)", &a);
      if (events->contact_unlisted != NULL)
        events->contact_unlisted (account->owner, a);
      break;
    case PG_WIRE_MESSAGE:
      pg_wire_frame_texts (worker->wire, NULL, &a, &b);
      if (events->message != NULL)
        events->message (account->owner, a, b);
      break;
    case PG_WIRE_TYPING:
      g_variant_get (args, "(&su)", &a, &u);
      if (events->chat_state != NULL)
        events->chat_state (account->owner, a, u);
      break;
    case PG_WIRE_AUTHORIZATION:
      g_variant_get (args, "(&sm&sm&s)", &a, &b, &c);
      if (events->authorization_requested != NULL)
        events->authorization_requested (account->owner, a, b, c);
      break;
    case PG_WIRE_SENT_CONFIRMED:
      {
        guint64 serial;
        g_variant_get (args, "(t)", &serial);
        if (events->sent_confirmed != NULL)
          events->sent_confirmed (account->owner, serial);
      }
      break;
    case PG_WIRE_REFUSED:
      {
        guint64 tag;
        g_variant_get (args, "(t)", &tag);
        if (events->refused != NULL)
          events->refused (account->owner, tag);
      }
      break;
    case PG_WIRE_CHAT:
      on_chat_frame (account, args);
      break;
    case PG_WIRE_CHAT_MESSAGE:
      {
        const guint8 *fixed;
        const char *strings[3];
        pg_wire_frame_strings (worker->wire, &fixed, strings, G_N_ELEMENTS (strings));
        PgChatEvent event = { .kind = PG_CHAT_EVENT_MESSAGE,
                              .delayed = fixed[0] != 0,
                              .chat = strings[0],
                              .nick = strings[1],
                              .text = strings[2] };
        if (account->events.chat != NULL)
          account->events.chat (account->owner, &event);
      }
      break;
    case PG_WIRE_CHAT_OCCUPANT:
      {
        const guint8 *fixed;
        const char *strings[3];
        guint32 rank;
        pg_wire_frame_strings (worker->wire, &fixed, strings, G_N_ELEMENTS (strings));
        memcpy (&rank, fixed, sizeof rank);
        PgChatEvent event = { .kind = PG_CHAT_EVENT_OCCUPANT,
                              .rank = rank,
                              .arrived = fixed[4] != 0,
                              .chat = strings[0],
                              .nick = strings[1],
                              .member = fixed[5] != 0 ? strings[2] : NULL };
        if (account->events.chat != NULL)
          account->events.chat (account->owner, &event);
      }
      break;
    case PG_WIRE_SEND_FAILED:
      {
        guint64 tag;
        gboolean offline;
        g_variant_get (args, "(tb&s)", &tag, &offline, &a);
        if (events->send_failed != NULL)
          events->send_failed (account->owner, tag, offline, a);
      }
      break;
    case PG_WIRE_INFO:
      on_info_frame (account, args);
      break;
    case PG_WIRE_NAMES:
      on_names_frame (account, args);
      break;
    case PG_WIRE_QUESTION:
      {
        g_autoptr (PgQuestion) question = pg_question_from_variant (args);
        if (question != NULL && events->question != NULL)
          events->question (account->owner, question);
      }
      break;
    case PG_WIRE_OWN_MESSAGE:
      {
        gboolean chat;
        gint64 when;
        g_variant_get (args, "(&sb&sx)", &a, &chat, &b, &when);
        if (events->own_message != NULL)
          events->own_message (account->owner, a, chat, b, when);
      }
      break;
    case PG_WIRE_QUESTION_CLOSED:
      g_variant_get (args, "(u)", &u);
      if (events->question_closed != NULL)
        events->question_closed (account->owner, u);
      break;
    default:
      return FALSE;
    }
  return TRUE;
}

/* ---- supervision ---- */

/* The link is gone or broken: nothing more is sent or read, and the
 * process is made sure to end; its logins hear of it once it has
 * (on_exited), when how it ended is known. */
static void
give_up (PgWorker *worker, const char *why, gboolean broken)
{
  if (worker->lost)
    return;
  worker->lost = TRUE;
  worker->killed = broken;
  worker->lost_why = g_strdup (why);
  g_clear_pointer (&worker->wire, pg_wire_free);
  if (worker->process != NULL)
    g_subprocess_force_exit (worker->process);
}

static void
on_frame (guint32 op, guint32 id, GVariant *args, gpointer data)
{
  PgWorker *worker = data;
  if (!dispatch (worker, op, id, args))
    give_up (worker, "it sent a frame that makes no sense", TRUE);
}

static void
on_wire_closed (const char *why, gboolean malformed, gpointer data)
{
  PgWorker *worker = data;
  if (!worker->pool->stopping)
    give_up (worker, why, malformed);
}

/* The ids of the logins the worker was busy with when it ended (the note
 * it keeps mapped, see worker.c); NULL when it named none. */
static GHashTable *
read_crash_note (PgWorker *worker)
{
  gsize len;
  /* The worker maps one page (worker.c). */
  g_autofree char *text = pg_worker_file_take (worker->dir, "crash-note", 4096, &len);
  if (text == NULL)
    return NULL;
  GHashTable *ids = g_hash_table_new (NULL, NULL);
  g_auto (GStrv) words = g_strsplit_set (text, " \n", -1);
  for (guint i = 0; words[i] != NULL; i++)
    {
      guint64 id;
      if (g_ascii_string_to_unsigned (words[i], 10, 1, G_MAXUINT32, &id, NULL))
        g_hash_table_add (ids, GUINT_TO_POINTER ((guint32)id));
    }
  if (g_hash_table_size (ids) == 0)
    g_clear_pointer (&ids, g_hash_table_unref);
  return ids;
}

/* Counts a crash against @key; TRUE when that puts it in quarantine. */
static gboolean
count_crash (PgWorkerPool *pool, const char *key)
{
  gint64 now = g_get_monotonic_time () / G_USEC_PER_SEC;
  /* Logins whose crashes are all out of the window are forgotten: the
   * table holds recent crashes, not every login that ever had one. */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, pool->crashes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GArray *old = value;
      if (old->len == 0 || g_array_index (old, gint64, old->len - 1) <= now - PG_BACKEND_QUARANTINE_WINDOW_S)
        g_hash_table_iter_remove (&iter);
    }
  GArray *times = g_hash_table_lookup (pool->crashes, key);
  if (times == NULL)
    {
      times = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_hash_table_insert (pool->crashes, g_strdup (key), times);
    }
  while (times->len > 0 && g_array_index (times, gint64, 0) <= now - PG_BACKEND_QUARANTINE_WINDOW_S)
    g_array_remove_index (times, 0);
  g_array_append_val (times, now);
  if (times->len < PG_BACKEND_QUARANTINE_CRASHES)
    return FALSE;
  g_hash_table_add (pool->quarantine, g_strdup (key));
  return TRUE;
}

/* A crashed worker's connection being ended: its private messages reach
 * the login's user (legacy/crash-rescue.h) while the login lives; the key
 * tells a login made anew at the same address from another user's.  The
 * login hears that it is lost only once the server closed the connection
 * (or RESCUE_WAIT_MS passed): the owner drops a lost login, and what the
 * server sent last would have nobody to go to. */
typedef struct
{
  PgWorkerPool *pool;
  PgAccount *account; /* borrowed: used while in pool->alive with login_key */
  char *login_key;
  char *nick;
  guint rescued;
  guint dropped;
  PgAccountFailure failure;
  char *reason;
  guint wait_id;
} Rescue;

static Rescue *
rescue_new (PgWorkerPool *pool, PgAccount *account, PgAccountFailure failure, const char *reason)
{
  Rescue *rescue = g_new0 (Rescue, 1);
  rescue->pool = pool;
  rescue->account = account;
  rescue->login_key = g_strdup (account->login_key);
  rescue->nick = g_strdup (account->mirror.nick);
  rescue->failure = failure;
  rescue->reason = g_strdup (reason);
  return rescue;
}

static gboolean
rescue_account_lives (Rescue *rescue)
{
  PgAccount *account = rescue->account;
  return g_hash_table_contains (rescue->pool->alive, account)
         && g_strcmp0 (account->login_key, rescue->login_key) == 0;
}

/* The login hears of the loss, once. */
static gboolean
rescue_tell (gpointer data)
{
  Rescue *rescue = data;
  rescue->wait_id = 0;
  if (rescue->reason != NULL && !rescue->pool->stopping && rescue_account_lives (rescue))
    pg_backend_defer_disconnected (rescue->account, rescue->failure, rescue->reason);
  g_clear_pointer (&rescue->reason, g_free);
  return G_SOURCE_REMOVE;
}

static void
rescue_free (gpointer data)
{
  Rescue *rescue = data;
  g_clear_handle_id (&rescue->wait_id, g_source_remove);
  rescue_tell (rescue);
  if (rescue->rescued > 0)
    g_message ("%u message(s) the crashed worker had not read reached their user", rescue->rescued);
  if (rescue->dropped > 0)
    g_warning ("%u message(s) the crashed worker had not read were lost: their login had ended meanwhile",
               rescue->dropped);
  g_free (rescue->login_key);
  g_free (rescue->nick);
  g_free (rescue);
}

static void
rescue_line (const char *line, gpointer data)
{
  Rescue *rescue = data;
  g_autofree char *from = NULL;
  g_autofree char *html = pg_crash_rescue_irc_message (line, rescue->nick, &from);
  if (html == NULL)
    return;
  PgAccount *account = rescue->account;
  if (!rescue_account_lives (rescue) || account->events.message == NULL)
    {
      rescue->dropped++;
      return;
    }
  rescue->rescued++;
  account->events.message (account->owner, from, html);
}

/* The worker ended: the connections held for it are ended as a client
 * ends one, and its logins end (each told once), after what their legacy
 * servers had by then (the worker's sent note: what was written in full on
 * a connection held here, for the server reads it before the end; what the
 * server processed on the others) is settled.  A crash counts against the
 * login the worker named in its crash note, else against every login of
 * the worker, unless @external (killed from outside: nobody's doing). */
static void
tell_logins (PgWorker *worker, const char *why, gboolean external)
{
  PgWorkerPool *pool = worker->pool;
  g_clear_pointer (&worker->wire, pg_wire_free);
  if (worker->pidfd >= 0)
    close (worker->pidfd);
  worker->pidfd = -1;
  g_autoptr (GHashTable) blamed = read_crash_note (worker);
  g_autoptr (GHashTable) delivered = pg_sent_note_take (worker->dir);
  g_autoptr (GPtrArray) accounts = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, worker->accounts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (accounts, value);
  g_warning ("legacy worker %u (pid %d) ended (%s): %u logins go back to login%s", worker->index, worker->pid,
             why, accounts->len,
             blamed != NULL ? ", one of them blamed"
             : external     ? ", none blamed"
                            : "");
  for (guint i = 0; i < accounts->len; i++)
    {
      PgAccount *account = g_ptr_array_index (accounts, i);
      gboolean counts
          = blamed != NULL ? g_hash_table_contains (blamed, GUINT_TO_POINTER (account->id)) : !external;
      gboolean quarantined = counts && count_crash (pool, account->login_key);
      const PgSentNoteEntry *note
          = delivered != NULL ? g_hash_table_lookup (delivered, GUINT_TO_POINTER (account->id)) : NULL;
      Held *held = g_hash_table_lookup (worker->held, GUINT_TO_POINTER (account->id));
      guint64 tag = note == NULL ? 0 : held != NULL ? MAX (note->written, note->processed) : note->processed;
      if (tag != 0 && account->events.sent_processed != NULL)
        account->events.sent_processed (account->owner, tag);
      unplace (account);
      if (quarantined)
        g_warning ("legacy login %s (%s) quarantined: present at %d crashes of its worker within %d s",
                   account->username, account->protocol_id, PG_BACKEND_QUARANTINE_CRASHES,
                   PG_BACKEND_QUARANTINE_WINDOW_S);
      PgAccountFailure failure = quarantined ? PG_ACCOUNT_FAILURE_QUARANTINED : PG_ACCOUNT_FAILURE_INTERNAL;
      const char *reason = quarantined ? QUARANTINE_TEXT : "an internal error of the gateway";
      if (held != NULL)
        {
          Rescue *rescue = rescue_new (pool, account, failure, reason);
          rescue->wait_id = g_timeout_add (RESCUE_WAIT_MS, rescue_tell, rescue);
          pg_socket_drains_add (pool->drains, held->fd, rescue_line, rescue, rescue_free);
          held->fd = -1;
        }
      else
        pg_backend_defer_disconnected (account, failure, reason);
    }
  g_hash_table_remove_all (worker->held);
}

static gboolean
restart_worker (gpointer data)
{
  PgWorker *worker = data;
  g_autoptr (GError) error = NULL;
  worker->restart_id = 0;
  worker->restarts++;
  if (!start_worker (worker, &error))
    {
      g_warning ("cannot start legacy worker %u again: %s", worker->index, error->message);
      worker->restart_ms = next_restart_ms (worker, 0);
      worker->restart_id = g_timeout_add (worker->restart_ms, restart_worker, worker);
    }
  return G_SOURCE_REMOVE;
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  GSubprocess *process = G_SUBPROCESS (source);
  PgWorker *worker = data;
  g_autoptr (GError) error = NULL;
  if (!g_subprocess_wait_finish (process, result, &error))
    {
      g_object_unref (process);
      return; /* cancelled: the pool is going */
    }
  if (process != worker->process)
    {
      g_object_unref (process);
      return;
    }
  gboolean signaled = g_subprocess_get_if_signaled (process);
  int status = signaled ? g_subprocess_get_term_sig (process) : g_subprocess_get_exit_status (process);
  g_clear_object (&worker->process);
  g_object_unref (process);
  if (worker->pool->stopping)
    return;
  worker->crashes++;
  g_autofree char *why = signaled ? g_strdup_printf ("killed by signal %d (%s)", status, g_strsignal (status))
                                  : g_strdup_printf ("exit status %d", status);
  /* SIGKILL that we did not send: an operator or the kernel's OOM killer. */
  gboolean external = signaled && status == SIGKILL && !worker->killed;
  g_autofree char *full = worker->lost_why != NULL ? g_strdup_printf ("%s; %s", worker->lost_why, why) : NULL;
  tell_logins (worker, full != NULL ? full : why, external);
  g_clear_pointer (&worker->lost_why, g_free);
  worker->killed = FALSE;
  gint64 ran_s = (g_get_monotonic_time () - worker->started_at) / G_USEC_PER_SEC;
  worker->restart_ms = next_restart_ms (worker, ran_s);
  g_message ("legacy worker %u ended (%s) after %" G_GINT64_FORMAT " s; starting it again in %u ms",
             worker->index, why, ran_s, worker->restart_ms);
  worker->restart_id = g_timeout_add (worker->restart_ms, restart_worker, worker);
}

static void
child_setup (gpointer data)
{
  (void)data;
  /* No worker outlives the main process, even one killed with SIGKILL. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
start_worker (PgWorker *worker, GError **error)
{
  PgWorkerPool *pool = worker->pool;
  int fds[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s", g_strerror (saved));
      return FALSE;
    }
  if (g_mkdir_with_parents (worker->dir, 0700) < 0)
    {
      int saved = errno;
      close (fds[0]);
      close (fds[1]);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", worker->dir,
                   g_strerror (saved));
      return FALSE;
    }
  /* Whatever is found there at the end of the link is this worker's. */
  g_autofree char *unsent = g_build_filename (worker->dir, PG_WIRE_UNSENT_FILE, NULL);
  unlink (unsent);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_fd (launcher, fds[1], 3);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  /* GLib before 2.76 keeps its slices (libpurple's lists, hash tables and
   * status objects: thousands per hundred logins) in per-size slabs and
   * per-thread magazines of its own, beside malloc's; plain malloc, which
   * GLib 2.76 uses anyway, keeps a worker's logins in less memory.  The
   * operator's own setting wins. */
  g_subprocess_launcher_setenv (launcher, "G_SLICE", "always-malloc", FALSE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, pool->exe);
  g_ptr_array_add (argv, (char *)"--worker");
  g_ptr_array_add (argv, worker->dir);
  g_ptr_array_add (argv, pool->plugin_dir != NULL ? pool->plugin_dir : (char *)"");
  for (guint i = 0; pool->private_paths != NULL && pool->private_paths[i] != NULL; i++)
    g_ptr_array_add (argv, pool->private_paths[i]);
  g_ptr_array_add (argv, NULL);
  GSubprocess *process = g_subprocess_launcher_spawnv (launcher, (const char *const *)argv->pdata, error);
  if (process == NULL)
    {
      close (fds[0]);
      return FALSE;
    }
  worker->process = process;
  const char *id = g_subprocess_get_identifier (process);
  worker->pid = id != NULL ? atoi (id) : 0;
  /* Now, before GLib's child watch can reap it: the pid is surely the
   * worker's. */
  g_autoptr (GError) pidfd_error = NULL;
  worker->pidfd = worker->pid > 0 ? pg_held_socket_open_pidfd (worker->pid, &pidfd_error) : -1;
  if (worker->pidfd < 0 && !pool->hold_failed)
    {
      pool->hold_failed = TRUE;
      g_warning ("cannot hold the legacy connections of the worker processes (%s): after a worker crash, "
                 "a message written within the last round trip to the legacy server can be sent twice",
                 pidfd_error != NULL ? pidfd_error->message : "no pid");
    }
  worker->started_at = g_get_monotonic_time ();
  worker->lost = FALSE;
  worker->wire = pg_wire_new (fds[0], on_frame, on_wire_closed, worker);
  pg_wire_recover_unsent (worker->wire, worker->dir);
  /* First of all frames: plugins acting on sign-on must be there before a login. */
  if (pool->plugins[0] != NULL)
    pg_wire_send (worker->wire, PG_WIRE_PLUGINS, 0,
                  g_variant_new ("(^as)", (const char *const *)pool->plugins));
  g_subprocess_wait_async (g_object_ref (process), pool->cancellable, on_exited, worker);
  g_message ("legacy worker %u started (pid %d)", worker->index, worker->pid);
  return TRUE;
}

PgWorkerPool *
pg_worker_pool_new (PgBackend *backend, const PgBackendOptions *options, GError **error)
{
  PgWorkerPool *pool = g_new0 (PgWorkerPool, 1);
  pool->backend = backend;
  pool->max_logins = options->max_logins;
  pool->workers = g_ptr_array_new ();
  pool->cancellable = g_cancellable_new ();
  pool->logins = g_hash_table_new (g_str_hash, g_str_equal);
  pool->alive = g_hash_table_new (NULL, NULL);
  pool->crashes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
  pool->quarantine = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  pool->exe = g_file_read_link ("/proc/self/exe", error);
  pool->plugin_dir = g_build_filename (options->purple_dir, "plugins", NULL);
  pool->private_paths = g_strdupv ((char **)options->private_paths);
  pool->plugins = options->plugins != NULL ? g_strdupv ((char **)options->plugins) : g_new0 (char *, 1);
  pool->restart_ms = pg_backend_get_fixed_restart_ms ();
  pool->drains = pg_socket_drains_new (DRAIN_MS);
  if (pool->exe == NULL)
    {
      pg_worker_pool_free (pool);
      return NULL;
    }
  for (guint i = 0; i < options->workers; i++)
    {
      PgWorker *worker = g_new0 (PgWorker, 1);
      worker->pool = pool;
      worker->index = i + 1;
      worker->dir = g_strdup_printf ("%s/worker-%u", options->purple_dir, worker->index);
      worker->accounts = g_hash_table_new (NULL, NULL);
      worker->pidfd = -1;
      worker->held = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)held_free);
      g_ptr_array_add (pool->workers, worker);
      if (!start_worker (worker, error))
        {
          pg_worker_pool_free (pool);
          return NULL;
        }
    }
  g_message ("%u legacy worker processes started (%s logins each at most)", options->workers,
             options->max_logins > 0 ? "a limited number of" : "any number of");
  return pool;
}

void
pg_worker_pool_free (PgWorkerPool *pool)
{
  if (pool == NULL)
    return;
  pool->stopping = TRUE;
  for (guint i = 0; i < pool->workers->len; i++)
    {
      PgWorker *worker = g_ptr_array_index (pool->workers, i);
      /* The workers end their connections themselves now. */
      g_hash_table_remove_all (worker->held);
      if (worker->wire != NULL)
        {
          pg_wire_send (worker->wire, PG_WIRE_STOP, 0, g_variant_new ("()"));
          pg_wire_flush (worker->wire, STOP_GRACE_MS);
        }
    }
  gint64 deadline = g_get_monotonic_time () + STOP_GRACE_MS * 1000;
  for (guint i = 0; i < pool->workers->len; i++)
    {
      PgWorker *worker = g_ptr_array_index (pool->workers, i);
      g_clear_handle_id (&worker->restart_id, g_source_remove);
      if (worker->process != NULL)
        {
          /* The main loop no longer runs: look without reaping (GLib's
           * child watch does that), and kill what did not stop in time. */
          siginfo_t info = { 0 };
          while (g_get_monotonic_time () < deadline
                 && waitid (P_PID, (id_t)worker->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0
                 && info.si_pid == 0)
            g_usleep (10000);
          if (info.si_pid == 0)
            g_subprocess_force_exit (worker->process);
          g_clear_object (&worker->process);
        }
      g_clear_pointer (&worker->wire, pg_wire_free);
      if (worker->pidfd >= 0)
        close (worker->pidfd);
      g_hash_table_unref (worker->held);
      g_hash_table_unref (worker->accounts);
      g_free (worker->lost_why);
      g_free (worker->dir);
      g_free (worker);
    }
  g_clear_pointer (&pool->drains, pg_socket_drains_free);
  g_cancellable_cancel (pool->cancellable);
  g_clear_object (&pool->cancellable);
  g_ptr_array_unref (pool->workers);
  g_hash_table_unref (pool->logins);
  g_hash_table_unref (pool->alive);
  g_hash_table_unref (pool->crashes);
  g_hash_table_unref (pool->quarantine);
  g_free (pool->exe);
  g_free (pool->plugin_dir);
  g_strfreev (pool->private_paths);
  g_strfreev (pool->plugins);
  g_free (pool);
}

void
pg_worker_pool_sync (PgWorkerPool *pool, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  gboolean waiting = FALSE;
  for (guint i = 0; i < pool->workers->len; i++)
    {
      PgWorker *worker = g_ptr_array_index (pool->workers, i);
      worker->synced = worker->wire == NULL;
      if (worker->wire != NULL)
        {
          pg_wire_send (worker->wire, PG_WIRE_SYNC, 0, g_variant_new ("()"));
          waiting = TRUE;
        }
    }
  while (waiting && g_get_monotonic_time () < deadline)
    {
      waiting = FALSE;
      for (guint i = 0; i < pool->workers->len; i++)
        {
          PgWorker *worker = g_ptr_array_index (pool->workers, i);
          waiting |= !worker->synced && worker->wire != NULL;
        }
      if (waiting && !g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  if (waiting)
    g_message ("stopping: some legacy workers did not forward everything within %u ms", timeout_ms);
}

void
pg_worker_pool_fill_stats (PgWorkerPool *pool, PgBackendStats *stats)
{
  stats->workers = pool->workers->len;
  stats->quarantined = g_hash_table_size (pool->quarantine);
  for (guint i = 0; i < pool->workers->len; i++)
    stats->restarts += ((PgWorker *)g_ptr_array_index (pool->workers, i))->restarts;
}

GArray *
pg_worker_pool_dup_stats (PgWorkerPool *pool)
{
  GArray *array = g_array_new (FALSE, TRUE, sizeof (PgBackendWorkerStats));
  for (guint i = 0; i < pool->workers->len; i++)
    {
      PgWorker *worker = g_ptr_array_index (pool->workers, i);
      PgBackendWorkerStats stats = {
        .index = worker->index,
        .pid = worker->process != NULL ? worker->pid : 0,
        .logins = g_hash_table_size (worker->accounts),
        .restarts = worker->restarts,
        .crashes = worker->crashes,
      };
      g_array_append_val (array, stats);
    }
  return array;
}

guint
pg_worker_pool_get_index (PgAccount *account)
{
  return account->worker != NULL ? account->worker->index : 0;
}
