/* transport/config.h — the INI configuration file (GKeyFile), exactly as
 * purplegate.conf(5) specifies it. Unknown groups and keys are errors; every error
 * message names the file, the group and the key. */
#pragma once
#include <glib.h>

#define PG_CONFIG_ERROR (pg_config_error_quark ())
GQuark pg_config_error_quark (void);
typedef enum
{
  PG_CONFIG_ERROR_READ,        /* file missing, unreadable or not INI */
  PG_CONFIG_ERROR_UNKNOWN_KEY, /* group or key not in the contract */
  PG_CONFIG_ERROR_MISSING,     /* a required key is absent or empty */
  PG_CONFIG_ERROR_BAD_VALUE,   /* wrong type or out of range */
} PgConfigError;

typedef enum
{
  PG_LOG_ERROR,
  PG_LOG_WARNING,
  PG_LOG_INFO,
  PG_LOG_DEBUG,
} PgLogLevel;

/* [limits] outbox_max_per_user and outbox_expiry_s: defaults and ranges. */
#define PG_CONFIG_OUTBOX_MAX_DEFAULT 1000
#define PG_CONFIG_OUTBOX_MAX_LIMIT 1000000
#define PG_CONFIG_OUTBOX_EXPIRY_DEFAULT_S 86400
#define PG_CONFIG_OUTBOX_EXPIRY_LIMIT_S (30 * 86400)
/* [limits] session_grace_s: default. */
#define PG_CONFIG_SESSION_GRACE_DEFAULT_S 60
/* [groupchat]: defaults. */
#define PG_CONFIG_HISTORY_MESSAGES_DEFAULT 50
#define PG_CONFIG_HISTORY_MAX_AGE_DEFAULT_S 86400
#define PG_CONFIG_JOIN_TIMEOUT_DEFAULT_S 30
/* [registration] question_timeout_s: default. */
#define PG_CONFIG_QUESTION_TIMEOUT_DEFAULT_S 300
/* [workers] count: "auto" (one per core, the default) and the most. */
#define PG_CONFIG_WORKERS_AUTO G_MAXUINT
#define PG_CONFIG_WORKERS_LIMIT 256

/* [legacy] certificates: what an untrusted legacy server certificate meets. */
typedef enum
{
  PG_CERTIFICATES_ASK,    /* the user is asked; an acceptance is remembered */
  PG_CERTIFICATES_SYSTEM, /* rejected: only what the system's CAs trust */
} PgCertificates;

/* [registration] stay_connected: whether a legacy login outlives its
 * user's last resource (README "Staying connected"). */
typedef enum
{
  PG_STAY_CONNECTED_ASK, /* each user chooses in the settings command; off until they do */
  PG_STAY_CONNECTED_OFF, /* never: the login closes when the user leaves */
  PG_STAY_CONNECTED_ON,  /* always, for every user */
} PgStayConnected;

typedef struct
{
  char *path;

  char *component_jid; /* prepared domain */
  char *host;
  guint16 port;
  char *secret;

  char *protocol;
  char *legacy_name;
  char *username_suffix; /* "" when absent */
  /* [legacy-settings], in file order: keys and values as written. Checked
   * against the protocol's option list by legacy/, not here. */
  GStrv legacy_setting_keys;
  GStrv legacy_setting_values;

  char *database_path;
  char *key_file;

  GStrv admin_jids;      /* prepared bare JIDs; empty when none */
  GStrv allowed_domains; /* prepared domains; empty = every domain */
  guint verify_timeout_s;
  /* [registration] user_options: the protocol's account options users may
   * set themselves, as written (checked against the protocol by legacy/);
   * empty when none. */
  GStrv user_options;

  gsize max_stanza_bytes;
  guint outbox_max_per_user;   /* messages queued per user and direction */
  guint outbox_expiry_s;       /* how long a queued message waits at most */
  guint session_grace_s;       /* how long a legacy login waits for its user after a lost link */
  guint history_messages;      /* room backlog per user, for resources joining later */
  guint history_max_age_s;     /* and how old its messages may be */
  guint join_timeout_s;        /* a room join the legacy network does not answer fails then */
  guint workers;               /* legacy worker processes; 0: in-process; PG_CONFIG_WORKERS_AUTO */
  guint max_logins_per_worker; /* 0: no limit */
  PgLogLevel log_level;
  PgCertificates certificates;
  guint question_timeout_s; /* libpurple's questions to a user are cancelled then */
  PgStayConnected stay_connected;
} PgConfig;

/* Reads and validates @path. Caller owns the result (pg_config_free). */
PgConfig *pg_config_load (const char *path, GError **error);
void pg_config_free (PgConfig *config);

/* Parses "error", "warning", "info", "debug". */
gboolean pg_config_parse_log_level (const char *text, PgLogLevel *level);
/* TRUE when @bare_jid's domain may register ([registration] allowed_domains). */
gboolean pg_config_domain_allowed (const PgConfig *config, const char *domain);
/* TRUE when users may set the account option @option_id themselves
 * ([registration] user_options). */
gboolean pg_config_user_option_allowed (const PgConfig *config, const char *option_id);
/* TRUE when @bare_jid (prepared) is one of [admin] jids. */
gboolean pg_config_is_admin (const PgConfig *config, const char *bare_jid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgConfig, pg_config_free)
