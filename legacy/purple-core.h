/* legacy/purple-core.h — libpurple, initialised once for a daemon: own UI id,
 * private user directory (0700) under the state directory, prefs that keep a
 * server quiet (no UPnP/NAT-PMP, no STUN/public-IP discovery, no idle/away
 * automation, no sounds, no accounts.xml/blist.xml with passwords), eventloop
 * on the GLib main loop, debug output to g_log domain "pg-purple". */
#pragma once
#include <glib.h>

#define PG_PURPLE_ERROR (pg_purple_error_quark ())
GQuark pg_purple_error_quark (void);
typedef enum
{
  PG_PURPLE_ERROR_INIT,             /* user directory or libpurple core init failed */
  PG_PURPLE_ERROR_UNKNOWN_PROTOCOL, /* no such protocol plugin */
  PG_PURPLE_ERROR_BAD_SETTING,      /* unknown account option or wrong type */
  PG_PURPLE_ERROR_UNKNOWN_PLUGIN,   /* no such plugin, or it did not load */
} PgPurpleError;

typedef struct PgPurple PgPurple;

/* Initialises libpurple with its user directory at @user_dir (created 0700,
 * prefs.xml written before init). Only one PgPurple may exist per process.
 * Caller owns it; pg_purple_free() shuts libpurple down. */
PgPurple *pg_purple_new (const char *user_dir, GError **error);
/* The same, also loading the protocol plugins found in @plugin_dir (may be
 * NULL), besides those installed and those of @user_dir/plugins. */
PgPurple *pg_purple_new_with_plugins (const char *user_dir, const char *plugin_dir, GError **error);
void pg_purple_free (PgPurple *purple);

/* Checks that @protocol_id (e.g. "prpl-irc") names a loaded protocol plugin. */
gboolean pg_purple_check_protocol (PgPurple *purple, const char *protocol_id, GError **error);
/* Checks that @plugin_id (e.g. "core-riba-carbons") names an installed
 * libpurple plugin that is not a protocol. */
gboolean pg_purple_check_plugin (PgPurple *purple, const char *plugin_id, GError **error);
/* Loads the plugins @plugin_ids (NULL-terminated; may be NULL), with what
 * they depend on, before any login: plugins that act on sign-on (Debian's
 * purple-xmpp-carbons) then see every login. Stops at the first that
 * cannot be loaded. */
gboolean pg_purple_load_plugins (PgPurple *purple, const char *const *plugin_ids, GError **error);
/* The protocol's display name ("IRC"); caller owns it (g_free). */
char *pg_purple_dup_protocol_name (PgPurple *purple, const char *protocol_id);
/* TRUE when the protocol logs in without a password or lets it be empty
 * (OPT_PROTO_NO_PASSWORD, OPT_PROTO_PASSWORD_OPTIONAL: IRC, for instance). */
gboolean pg_purple_protocol_password_optional (PgPurple *purple, const char *protocol_id);
/* Checks that @key is one of the protocol's account options and that @value
 * parses as its type (bool, int, string, list value). The error names @key. */
gboolean pg_purple_check_setting (PgPurple *purple, const char *protocol_id, const char *key,
                                  const char *value, GError **error);
/* The protocol's account options (PgLegacyOption, transport/legacy-option.h),
 * in the protocol's order, then purplegate's own for that protocol
 * (PG_PURPLE_NICKSERV_PASSWORD for prpl-irc). NULL and @error for an
 * unknown protocol. Caller owns the array (it frees its elements). */
GPtrArray *pg_purple_dup_options (PgPurple *purple, const char *protocol_id, GError **error);

/* purplegate's own IRC option, not prpl-irc's: a password sent to NickServ
 * ("PRIVMSG NickServ :IDENTIFY <password>") once the login is up. */
#define PG_PURPLE_NICKSERV_PASSWORD "nickserv_password"

/* Whose work libpurple is doing: the owner of the login (as given to
 * pg_purple_account_new()) whose command, socket or timer runs now, or
 * NULL. Timers and sockets belong to the login that was active when they
 * were made. @func is called at each change, so that a crash can be laid
 * at the right login's door (legacy/worker.c). */
typedef void (*PgPurpleActivityFunc) (gpointer owner, gpointer data);
void pg_purple_set_activity_func (PgPurple *purple, PgPurpleActivityFunc func, gpointer data);
/* Makes @owner the active one; returns the one before, for
 * pg_purple_activity_leave(). For the glue. */
gpointer pg_purple_activity_enter (gpointer owner);
void pg_purple_activity_leave (gpointer previous);
/* The active owner now, or NULL. */
gpointer pg_purple_activity_get (void);

/* A TCP socket got a read watch while @owner was active: for the protocols
 * purplegate serves, a login's connection to its legacy server (prpl-irc
 * has one a login, plain or under TLS, where libpurple's TLS reads the
 * socket itself).  @fd stays libpurple's; @func may be called again for
 * the same socket (a TLS handshake's watch, then the connection's). */
typedef void (*PgPurpleSocketFunc) (gpointer owner, int fd, gpointer data);
void pg_purple_set_socket_func (PgPurple *purple, PgPurpleSocketFunc func, gpointer data);
/* Calls the socket function, if any, unless @owner is NULL. For the glue. */
void pg_purple_socket_watched (gpointer owner, int fd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgPurple, pg_purple_free)
