/* legacy/sandbox.h — what a process that runs libpurple (a worker, the
 * names process) may open. */
#pragma once
#include <glib.h>

/* The first steps of a child process of the main process: it dies with
 * the main process (PR_SET_PDEATHSIG, set before exec too, again here in
 * case the parent died meanwhile), ignores SIGPIPE, and ignores the
 * terminal's SIGINT, which must not cut its work short before the main
 * process stops it.  FALSE when the main process is gone already. */
gboolean pg_sandbox_enter_child (void);

/* Restricts this process, for good, to opening the system's read-only
 * trees, @plugin_dir (read-only; may be NULL or "") and @own_dir
 * (read-write), where the kernel has Landlock (a warning where it has
 * not), then logs each path of @private_paths (may be NULL) that stays
 * readable. FALSE when the restriction is incomplete or one of them is. */
gboolean pg_sandbox_restrict (const char *own_dir, const char *plugin_dir, const char *const *private_paths);
