/* registration/store.h — the embedded sqlite store of registrations.
 * One file, WAL mode, created 0600; numbered migrations; bound parameters only.
 * Passwords are sealed (registration/seal.h) before they reach the file. */
#pragma once
#include <glib.h>

#define PG_STORE_ERROR (pg_store_error_quark ())
GQuark pg_store_error_quark (void);
typedef enum {
  PG_STORE_ERROR_OPEN,      /* cannot open/create the file, or not a database */
  PG_STORE_ERROR_SCHEMA,    /* foreign database, or a schema newer than this build */
  PG_STORE_ERROR_WRONG_KEY, /* the key file does not match this database */
  PG_STORE_ERROR_IO,        /* a statement failed (disk full, read-only…) */
} PgStoreError;

/* The schema version this build migrates to. */
#define PG_STORE_SCHEMA_VERSION 4

typedef struct PgStore PgStore;

typedef struct {
  char *bare_jid;  /* prepared bare JID of the XMPP user */
  char *username;  /* legacy username as registered */
  gint64 created;  /* unix seconds */
} PgStoreUser;
void pg_store_user_free (PgStoreUser *user);

/* Opens or creates the database at @path (0600) and loads or creates the key
 * at @key_file, then migrates to PG_STORE_SCHEMA_VERSION. Logs what it
 * migrated with timing. Caller owns the store; close with pg_store_free(). */
PgStore *pg_store_open (const char *path, const char *key_file, GError **error);
void pg_store_free (PgStore *store);
int pg_store_get_schema_version (PgStore *store);

/* Creates or replaces the registration of @bare_jid in one transaction.
 * @password NULL keeps the stored password (XEP-0077 §3.3 edits). */
gboolean pg_store_put_user (PgStore *store, const char *bare_jid, const char *username,
                            const char *password, GError **error);
/* Returns NULL without setting @error when @bare_jid is not registered.
 * Caller owns the result (pg_store_user_free). */
PgStoreUser *pg_store_get_user (PgStore *store, const char *bare_jid, GError **error);
/* Unseals the stored password; caller frees it with pg_seal_free_secret(). */
char *pg_store_dup_password (PgStore *store, const char *bare_jid, GError **error);
/* Deletes the user and everything stored for them; FALSE+error on failure,
 * TRUE also when there was nothing to delete (*@existed tells, may be NULL). */
gboolean pg_store_delete_user (PgStore *store, const char *bare_jid, gboolean *existed,
                               GError **error);
/* Prepared bare JIDs of every registered user, sorted. Caller owns the array
 * (g_ptr_array_unref; elements freed with it). */
GPtrArray *pg_store_list_users (PgStore *store, GError **error);
gint64 pg_store_count_users (PgStore *store, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreUser, pg_store_user_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStore, pg_store_free)

/* ---- legacy contacts of a user (registration/store-contacts.c) ---- */

typedef struct {
  char *name;  /* the protocol's own spelling */
  char *alias; /* may be NULL */
  gboolean pending_add; /* added while offline: the legacy server does not know yet */
} PgStoreContact;
void pg_store_contact_free (PgStoreContact *contact);

/* Adds or updates (alias) @name for @bare_jid, who must be registered. */
gboolean pg_store_put_contact (PgStore *store, const char *bare_jid, const char *name,
                               const char *alias, GError **error);
/* Marks @name as added while offline (TRUE) or as known to the legacy server. */
gboolean pg_store_set_contact_pending (PgStore *store, const char *bare_jid, const char *name,
                                       gboolean pending, GError **error);
gboolean pg_store_delete_contact (PgStore *store, const char *bare_jid, const char *name,
                                  GError **error);
/* Every contact of @bare_jid, sorted by name. Caller owns the array
 * (g_ptr_array_unref frees the elements). */
GPtrArray *pg_store_list_contacts (PgStore *store, const char *bare_jid, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreContact, pg_store_contact_free)

/* ---- per-user settings (registration/store-settings.c) ---- */

/* Boolean settings are stored as "true" or "false"; a setting never stored
 * is on. */
#define PG_SETTING_TYPING "typing"     /* forward contacts' chat states (XEP-0085) */
#define PG_SETTING_RECEIPTS "receipts" /* answer receipt requests (XEP-0184) */

/* Sets @key of @bare_jid, who must be registered, to @value. */
gboolean pg_store_put_setting (PgStore *store, const char *bare_jid, const char *key, const char *value,
                               GError **error);
/* The stored value of @key, or NULL (without @error) when never set.
 * Caller owns it (g_free). */
char *pg_store_dup_setting (PgStore *store, const char *bare_jid, const char *key, GError **error);
/* Boolean @key of @bare_jid: FALSE only when stored as "false"; a failure to
 * read is logged and counts as the default. */
gboolean pg_store_setting_enabled (PgStore *store, const char *bare_jid, const char *key);
