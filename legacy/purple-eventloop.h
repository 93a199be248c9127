/* legacy/purple-eventloop.h — libpurple's eventloop UI ops on the GLib main
 * loop (timeouts, seconds timeouts, input watches through GIOChannel). */
#pragma once
#include <purple.h>

/* Borrowed, static ops table for purple_eventloop_set_ui_ops(). */
PurpleEventLoopUiOps *pg_purple_eventloop_get_ui_ops (void);

/* Has @gc's protocol write what it queued now rather than at its next
 * timer tick, within its own flood limits (prpl-irc: the account options
 * ratelimit-interval and ratelimit-burst).  Does nothing for protocols
 * that write at once. */
void pg_purple_eventloop_flush (PurpleConnection *gc);
