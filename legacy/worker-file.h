/* legacy/worker-file.h — reading the notes a worker leaves in its own
 * directory.
 *
 * A worker writes there (legacy/sandbox.h lets it create any kind of file
 * in it), and the main process reads after the worker ended: a worker
 * broken into could leave a FIFO that blocks the reader, a link to
 * somewhere else, or a file too large to read.  None of that is read. */
#pragma once
#include <glib.h>

/* The contents of DIR/NAME, then the file removed: NULL (and nothing
 * removed but a link, FIFO or other non-regular file, which is removed
 * too) when there is no regular file by that name or it is over
 * @max_bytes.  Caller owns the bytes (g_free). */
char *pg_worker_file_take (const char *dir, const char *name, gsize max_bytes, gsize *len);
