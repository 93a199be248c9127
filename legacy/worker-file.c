/* legacy/worker-file.c — the notes a worker leaves, read safely
 * (legacy/worker-file.h). */
#define G_LOG_DOMAIN "pg-workers"
#include "build-config.h"

#include "legacy/worker-file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
