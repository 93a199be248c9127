/* legacy/purple-debug.h — libpurple's debug output routed to g_log domain
 * "pg-purple" at debug level, with anything that looks like a credential masked. */
#pragma once
#include <purple.h>

/* Borrowed, static ops table for purple_debug_set_ui_ops(). */
PurpleDebugUiOps *pg_purple_debug_get_ui_ops (void);
