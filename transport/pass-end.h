/* transport/pass-end.h — work done once at the end of each pass of the
 * main loop, just before it polls again.
 *
 * Output queued while a pass dispatches (the stanzas of every line a
 * socket delivered, the frames for a worker) is best written once, after
 * the pass.  An idle source would do that in a pass of its own, which
 * costs as much as any other pass: GLib prepares and checks every source
 * and polls every fd each time.  This source runs its function from its
 * prepare step instead, which GLib calls at the start of every pass, before
 * polling; it never dispatches. */
#pragma once
#include <glib.h>

/* Called at the end of every pass (more exactly: before the next poll). */
typedef void (*PgPassEndFunc) (gpointer user_data);

/* What runs first at the end of a pass: what the pass stored is committed
 * before any of its output leaves the process, so that nothing the pass
 * wrote to a peer (an acknowledgement, a message handed on) rests on a
 * change that a crash could still undo. */
typedef enum
{
  PG_PASS_END_COMMIT,
  PG_PASS_END_WRITE,
} PgPassEndStage;

/* Attaches a source to the thread-default main context that calls @func
 * with @user_data at the end of every pass until it is destroyed, at
 * @stage.  Returns the source, owned by the caller (g_source_destroy(),
 * then g_source_unref()). */
GSource *pg_pass_end_add (PgPassEndStage stage, PgPassEndFunc func, gpointer user_data);
