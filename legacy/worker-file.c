/* legacy/worker-file.c — the notes a worker leaves, read safely
 * (legacy/worker-file.h). */
#define G_LOG_DOMAIN "pg-workers"
#include "build-config.h"

#include "legacy/worker-file.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void *
pg_worker_file_map (const char *dir, const char *name, gsize bytes, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  int failed = fd < 0 ? errno : posix_fallocate (fd, 0, (off_t)bytes);
  void *map = failed != 0 ? MAP_FAILED : mmap (NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (failed == 0 && map == MAP_FAILED)
    failed = errno;
  if (fd >= 0)
    close (fd);
  if (failed != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (failed), "cannot keep %s: %s", path,
                   g_strerror (failed));
      return NULL;
    }
  return map;
}

char *
pg_worker_file_take (const char *dir, const char *name, gsize max_bytes, gsize *len)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  /* Neither following a link nor waiting for a FIFO's writer. */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      /* A link (ELOOP) goes like any other note. */
      unlink (path);
      return NULL;
    }
  unlink (path);
  struct stat st;
  char *data = NULL;
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (guint64)st.st_size <= max_bytes)
    {
      gsize size = (gsize)st.st_size;
      data = g_malloc (size + 1);
      gsize got = 0;
      while (got < size)
        {
          ssize_t n = pread (fd, data + got, size - got, (off_t)got);
          if (n <= 0)
            break;
          got += (gsize)n;
        }
      data[got] = '\0';
      *len = got;
    }
  else
    g_warning ("%s is not a note a worker writes (not a regular file, or too large); ignored", path);
  close (fd);
  return data;
}
