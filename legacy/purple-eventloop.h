/* legacy/purple-eventloop.h — libpurple's eventloop UI ops on the GLib main
 * loop: all of libpurple's input watches in one GSource over an epoll set,
 * all of its timeouts in another, on the default main context. */
#pragma once
#include <purple.h>

/* Makes the eventloop's state (an epoll fd and two GSources attached to
 * the default main context); once per process at a time, before
 * purple_core_init(). Fails only if no epoll fd can be made. */
gboolean pg_purple_eventloop_init (GError **error);
/* Frees what pg_purple_eventloop_init() made, and the watches and
 * timeouts libpurple left (after purple_core_quit()). Removing a handle
 * afterwards is answered with FALSE. Does nothing if not initialised. */
void pg_purple_eventloop_shutdown (void);

/* Borrowed, static ops table for purple_eventloop_set_ui_ops().  The
 * handles it gives out are the glue's own, from 0x40000000 up, not GLib
 * source ids: give them to purple_input_remove() or
 * purple_timeout_remove(), never to g_source_remove() (which then logs
 * that it found no such source, and removes nothing). */
PurpleEventLoopUiOps *pg_purple_eventloop_get_ui_ops (void);

/* Has @gc's protocol write what it queued now rather than at its next
 * timer tick, within its own flood limits (prpl-irc: the account options
 * ratelimit-interval and ratelimit-burst).  Does nothing for protocols
 * that write at once. */
void pg_purple_eventloop_flush (PurpleConnection *gc);
