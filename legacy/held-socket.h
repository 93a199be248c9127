/* legacy/held-socket.h — the main process's copies of its workers' legacy
 * connections, so that a worker's crash does not end them.
 *
 * A process that dies with unread input on a TCP socket has its kernel
 * reset the connection, and a server drops what it had received but not
 * read yet: the last lines a crashed worker wrote would be lost or not,
 * nobody can tell.  While the main process holds a copy of the socket (the
 * same open file, pidfd_getfd(2)), the worker's death closes nothing; the
 * main process then ends the connection the way a client does, so that the
 * server reads every line written, then the end (legacy/sent-note.h says
 * what the worker had written by then). */
#pragma once
#include <glib.h>

/* A pidfd of the process @pid (pidfd_open(2); close-on-exec): caller owns
 * it. -1 with @error when the kernel has none (before Linux 5.3). */
int pg_held_socket_open_pidfd (int pid, GError **error);

/* A copy of the process @pidfd's fd @fd made in this process, when @fd is
 * still the TCP socket with inode @inode: the new fd (close-on-exec; caller
 * owns it).  -1 with @error otherwise: G_IO_ERROR_NOT_FOUND when the
 * process or its fd is gone or is another file by now (the connection
 * ended meanwhile: nothing to hold), another code when the kernel or a
 * policy does not let this process take it (pidfd_getfd(2) needs Linux 5.6
 * and ptrace rights over the process). */
int pg_held_socket_take (int pidfd, int fd, guint64 inode, GError **error);

/* The connections being ended after their worker died. */
typedef struct PgSocketDrains PgSocketDrains;

/* Caller owns the set (pg_socket_drains_free()); each connection gets at
 * most @timeout_ms on the thread-default main context. */
PgSocketDrains *pg_socket_drains_new (guint timeout_ms);
/* One line (without its CR LF) of what the server sent on a connection
 * being ended: what the crashed worker had not read yet, then what came
 * until the server closed.  The first may be the tail of a line the worker
 * had begun to read. */
typedef void (*PgDrainLineFunc) (const char *line, gpointer user_data);

/* Ends the connection @fd (taken) as a client does: shutdown(SHUT_WR), so
 * the server reads everything written and then the end; what it sends is
 * read, line by line to @on_line (may be NULL: discarded), until it closes
 * or the timeout passes; then @fd is closed and @destroy (may be NULL)
 * frees @user_data. */
void pg_socket_drains_add (PgSocketDrains *drains, int fd, PgDrainLineFunc on_line, gpointer user_data,
                           GDestroyNotify destroy);
/* Connections still being ended. */
guint pg_socket_drains_count (PgSocketDrains *drains);
/* Closes what is still being ended. */
void pg_socket_drains_free (PgSocketDrains *drains);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgSocketDrains, pg_socket_drains_free)
