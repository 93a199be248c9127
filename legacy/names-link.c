/* legacy/names-link.c — the framing of legacy/names-link.h over a
 * non-blocking or blocking socket, with poll(2) for the deadline. */
#define G_LOG_DOMAIN "pg-names"
#include "build-config.h"

#include "legacy/names-link.h"

#include <errno.h>
#include <gio/gio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_TYPE "(uas)"

/* Waits until @fd is ready for @events or @deadline passes. */
static gboolean
wait_ready (int fd, short events, gint64 deadline, GError **error)
{
  for (;;)
    {
      int timeout = -1;
      if (deadline >= 0)
        {
          gint64 left = deadline - g_get_monotonic_time ();
          if (left <= 0)
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer in time");
              return FALSE;
            }
          timeout = (int)MIN ((left + 999) / 1000, G_MAXINT);
        }
      struct pollfd pfd = { .fd = fd, .events = events };
      int n = poll (&pfd, 1, timeout);
      if (n > 0)
        return TRUE;
      if (n < 0 && errno != EINTR)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "poll: %s", g_strerror (saved));
          return FALSE;
        }
    }
}

static gboolean
write_all (int fd, const guint8 *data, gsize len, gint64 deadline, GError **error)
{
  while (len > 0)
    {
      if (!wait_ready (fd, POLLOUT, deadline, error))
        return FALSE;
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "write: %s", g_strerror (saved));
          return FALSE;
        }
      data += n;
      len -= (gsize)n;
    }
  return TRUE;
}

static gboolean
read_all (int fd, guint8 *data, gsize len, gint64 deadline, GError **error)
{
  while (len > 0)
    {
      if (!wait_ready (fd, POLLIN, deadline, error))
        return FALSE;
      ssize_t n = recv (fd, data, len, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "read: %s", g_strerror (saved));
          return FALSE;
        }
      if (n == 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the link was closed");
          return FALSE;
        }
      data += n;
      len -= (gsize)n;
    }
  return TRUE;
}

gboolean
pg_names_link_write (int fd, guint32 code, const char *const *strings, gint64 deadline, GError **error)
{
  const char *const empty[] = { NULL };
  g_autoptr (GVariant) args
      = g_variant_ref_sink (g_variant_new ("(u^as)", code, strings != NULL ? strings : empty));
  gsize size = g_variant_get_size (args);
  if (size > PG_NAMES_LINK_MAX_FRAME)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "a frame of %" G_GSIZE_FORMAT " bytes",
                   size);
      return FALSE;
    }
  g_autofree guint8 *frame = g_malloc (4 + size);
  guint32 len = GUINT32_TO_LE ((guint32)size);
  memcpy (frame, &len, 4);
  g_variant_store (args, frame + 4);
  return write_all (fd, frame, 4 + size, deadline, error);
}

gboolean
pg_names_link_read (int fd, guint32 *code, char ***strings, gint64 deadline, GError **error)
{
  guint32 len;
  if (!read_all (fd, (guint8 *)&len, 4, deadline, error))
    return FALSE;
  len = GUINT32_FROM_LE (len);
  if (len > PG_NAMES_LINK_MAX_FRAME)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "a frame of %u bytes", len);
      return FALSE;
    }
  guint8 *data = g_malloc (MAX (len, 1));
  if (!read_all (fd, data, len, deadline, error))
    {
      g_free (data);
      return FALSE;
    }
  g_autoptr (GBytes) bytes = g_bytes_new_take (data, len);
  g_autoptr (GVariant) args
      = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (FRAME_TYPE), bytes, FALSE));
  if (!g_variant_is_normal_form (args))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "a malformed frame");
      return FALSE;
    }
  g_variant_get (args, "(u^as)", code, strings);
  return TRUE;
}
