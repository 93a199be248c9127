/* legacy/names-link.h — the frames between the main process and the names
 * process (legacy/names.h): one request, then its reply, at a time.
 *
 * A frame is a 32-bit little-endian length, then a GVariant of type "(uas)"
 * in normal form: a code and its strings. The main process sends requests
 * and waits for each reply with a bound; the names process reads them with
 * no bound. Frames are at most PG_NAMES_LINK_MAX_FRAME bytes; a frame that
 * breaks these rules ends the link. Kept apart from legacy/wire.h, whose
 * frames a worker's event loop reads: this link is read synchronously,
 * from inside a command of the main process. */
#pragma once
#include <glib.h>

#define PG_NAMES_LINK_VERSION 1
#define PG_NAMES_LINK_MAX_FRAME (64 * 1024)

typedef enum
{
  /* main process → names process */
  PG_NAMES_NORMALIZE = 1, /* (protocol, name) → OK (normalised name) */
  PG_NAMES_LOGIN_KEY,     /* (protocol, username) → OK (login key) */
  PG_NAMES_PROTOCOL,      /* (protocol) → OK (display name, "1" or "0": password optional) */
  PG_NAMES_SETTING,       /* (protocol, key, value) → OK () */
  PG_NAMES_OPTIONS,       /* (protocol) → OK (PG_LEGACY_OPTION_STRINGS strings per account option) */
  PG_NAMES_PLUGIN,        /* (plugin id) → OK () when it is installed */
  /* names process → main process */
  PG_NAMES_HELLO = 64, /* (version, pid), first frame of the names process */
  PG_NAMES_OK,
  PG_NAMES_ERROR, /* (message): the request is wrong (no such protocol…) */
} PgNamesCode;

/* Writes one frame to @fd, waiting at most until @deadline (monotonic µs;
 * -1: no limit). FALSE and @error (G_IO_ERROR_TIMED_OUT, _BROKEN_PIPE…)
 * when it could not. */
gboolean pg_names_link_write (int fd, guint32 code, const char *const *strings, gint64 deadline,
                              GError **error);
/* Reads one frame from @fd, waiting at most until @deadline (as above).
 * @strings: caller owns them (g_strfreev). FALSE and @error when it could
 * not (G_IO_ERROR_CLOSED at the end of the link, G_IO_ERROR_INVALID_DATA
 * for a malformed frame, G_IO_ERROR_TIMED_OUT). */
gboolean pg_names_link_read (int fd, guint32 *code, char ***strings, gint64 deadline, GError **error);
