/* legacy/held-socket.c — taking a worker's legacy connection into the main
 * process, and ending it after the worker died (legacy/held-socket.h). */
#define G_LOG_DOMAIN "pg-workers"
#include "build-config.h"

#include "legacy/held-socket.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Reads per wake-up of a drain: a server that keeps sending cannot hold
 * the main loop. */
#define DRAIN_READS 16
/* Longer than any line a legacy server sends (IRC: 512 bytes, 8 KiB with
 * message tags). */
#define LINE_MAX_BYTES 16384

int
pg_held_socket_open_pidfd (int pid, GError **error)
{
#ifdef SYS_pidfd_open
  int fd = (int)syscall (SYS_pidfd_open, pid, 0);
#else
  int fd = -1;
  errno = ENOSYS;
#endif
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "pidfd_open: %s", g_strerror (saved));
    }
  return fd;
}

int
pg_held_socket_take (int pidfd, int fd, guint64 inode, GError **error)
{
#ifdef SYS_pidfd_getfd
  int held = pidfd >= 0 ? (int)syscall (SYS_pidfd_getfd, pidfd, fd, 0) : -1;
  if (pidfd < 0)
    errno = EBADF;
#else
  int held = -1;
  errno = ENOSYS;
#endif
  if (held < 0)
    {
      int saved = errno;
      /* EBADF: the fd was closed; ESRCH: the process has exited. */
      g_set_error (error, G_IO_ERROR,
                   saved == EBADF || saved == ESRCH ? G_IO_ERROR_NOT_FOUND : g_io_error_from_errno (saved),
                   "pidfd_getfd: %s", g_strerror (saved));
      return -1;
    }
  struct stat st;
  int protocol = 0;
  socklen_t len = sizeof protocol;
  if (fstat (held, &st) < 0 || !S_ISSOCK (st.st_mode) || (guint64)st.st_ino != inode
      || getsockopt (held, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0 || protocol != IPPROTO_TCP)
    {
      close (held);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "fd %d is no longer the connection", fd);
      return -1;
    }
  return held;
}

struct PgSocketDrains
{
  guint timeout_ms;
  GHashTable *set; /* Drain (owned) */
};

typedef struct
{
  PgSocketDrains *drains;
  int fd;
  guint watch_id;
  guint timer_id;
  PgDrainLineFunc on_line;
  gpointer user_data;
  GDestroyNotify destroy;
  GString *partial; /* the line begun */
} Drain;

static void
drain_free (Drain *drain)
{
  g_clear_handle_id (&drain->watch_id, g_source_remove);
  g_clear_handle_id (&drain->timer_id, g_source_remove);
  close (drain->fd);
  if (drain->destroy != NULL)
    drain->destroy (drain->user_data);
  g_string_free (drain->partial, TRUE);
  g_free (drain);
}

/* Hands over the complete lines of @data; a line longer than any protocol
 * sends is dropped whole. */
static void
take_lines (Drain *drain, const char *data, gsize len)
{
  if (drain->on_line == NULL)
    return;
  for (gsize i = 0; i < len; i++)
    {
      if (data[i] != '\n')
        {
          if (drain->partial->len < LINE_MAX_BYTES)
            g_string_append_c (drain->partial, data[i]);
          continue;
        }
      if (drain->partial->len > 0 && drain->partial->str[drain->partial->len - 1] == '\r')
        g_string_truncate (drain->partial, drain->partial->len - 1);
      if (drain->partial->len > 0 && drain->partial->len < LINE_MAX_BYTES)
        drain->on_line (drain->partial->str, drain->user_data);
      g_string_truncate (drain->partial, 0);
    }
}

static gboolean
on_drain_readable (int fd, GIOCondition condition, gpointer data)
{
  Drain *drain = data;
  char buf[4096];

  (void)condition;
  for (guint i = 0; i < DRAIN_READS; i++)
    {
      ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0)
        take_lines (drain, buf, (gsize)n);
      if (n > 0 || (n < 0 && errno == EINTR))
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
      /* The server closed, or the connection failed: it is over. */
      drain->watch_id = 0;
      g_hash_table_remove (drain->drains->set, drain);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_drain_timeout (gpointer data)
{
  Drain *drain = data;

  drain->timer_id = 0;
  g_hash_table_remove (drain->drains->set, drain);
  return G_SOURCE_REMOVE;
}

PgSocketDrains *
pg_socket_drains_new (guint timeout_ms)
{
  PgSocketDrains *drains = g_new0 (PgSocketDrains, 1);

  drains->timeout_ms = timeout_ms;
  drains->set = g_hash_table_new_full (NULL, NULL, (GDestroyNotify)drain_free, NULL);
  return drains;
}

void
pg_socket_drains_add (PgSocketDrains *drains, int fd, PgDrainLineFunc on_line, gpointer user_data,
                      GDestroyNotify destroy)
{
  g_return_if_fail (drains != NULL && fd >= 0);

  Drain *drain = g_new0 (Drain, 1);
  drain->drains = drains;
  drain->fd = fd;
  drain->on_line = on_line;
  drain->user_data = user_data;
  drain->destroy = destroy;
  drain->partial = g_string_new (NULL);
  if (shutdown (fd, SHUT_WR) < 0)
    {
      drain_free (drain); /* not connected any more: nothing to end */
      return;
    }
  drain->watch_id = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_drain_readable, drain);
  drain->timer_id = g_timeout_add (drains->timeout_ms, on_drain_timeout, drain);
  g_hash_table_add (drains->set, drain);
}

guint
pg_socket_drains_count (PgSocketDrains *drains)
{
  g_return_val_if_fail (drains != NULL, 0);

  return g_hash_table_size (drains->set);
}

void
pg_socket_drains_free (PgSocketDrains *drains)
{
  if (drains == NULL)
    return;
  g_hash_table_unref (drains->set);
  g_free (drains);
}
