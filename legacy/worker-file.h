/* legacy/worker-file.h — the notes a worker keeps in its own directory
 * for the main process to read after it ended.
 *
 * The worker maps each note shared, so that what it stores survives
 * whatever ends the process, SIGKILL included.
 * A worker writes there (legacy/sandbox.h lets it create any kind of file
 * in it), and the main process reads after the worker ended: a worker
 * broken into could leave a FIFO that blocks the reader, a link to
 * somewhere else, or a file too large to read.  None of that is read. */
#pragma once
#include <glib.h>

/* The worker's side: DIR/NAME created empty (mode 0600), allocated in full
 * (not sparse: a page first written on a full disk would kill the worker
 * with SIGBUS) and mapped shared, @bytes long (munmap() it).  NULL with
 * @error when it cannot be kept. */
void *pg_worker_file_map (const char *dir, const char *name, gsize bytes, GError **error);

/* The contents of DIR/NAME, then the file removed: NULL (and nothing
 * removed but a link, FIFO or other non-regular file, which is removed
 * too) when there is no regular file by that name or it is over
 * @max_bytes.  Caller owns the bytes (g_free). */
char *pg_worker_file_take (const char *dir, const char *name, gsize max_bytes, gsize *len);
