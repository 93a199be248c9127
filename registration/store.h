/* registration/store.h — the embedded sqlite store of registrations.
 * One file, WAL mode, created 0600; numbered migrations; bound parameters only.
 * Passwords are sealed (registration/seal.h) before they reach the file.
 * Messages to legacy contacts waiting for confirmation are kept in a second
 * file beside it, the database's name followed by "-outbox" (0600). */
#pragma once
#include <glib.h>

#define PG_STORE_ERROR (pg_store_error_quark ())
GQuark pg_store_error_quark (void);
typedef enum
{
  PG_STORE_ERROR_OPEN,      /* cannot open/create the file, or not a database */
  PG_STORE_ERROR_SCHEMA,    /* foreign database, or a schema newer than this build */
  PG_STORE_ERROR_WRONG_KEY, /* the key file does not match this database */
  PG_STORE_ERROR_IO,        /* a statement failed (disk full, read-only…) */
  PG_STORE_ERROR_FULL,      /* the user's outbox holds its maximum already */
} PgStoreError;

/* The schema version this build migrates to. */
#define PG_STORE_SCHEMA_VERSION 7

typedef struct PgStore PgStore;

typedef struct
{
  char *bare_jid; /* prepared bare JID of the XMPP user */
  char *username; /* legacy username as registered */
  gint64 created; /* unix seconds */
} PgStoreUser;
void pg_store_user_free (PgStoreUser *user);

/* Opens or creates the database at @path (0600) and loads or creates the key
 * at @key_file, then migrates to PG_STORE_SCHEMA_VERSION, and opens the
 * outbox file beside it (refused while another process has it open). Logs
 * what it migrated with timing. Caller owns the store; close with
 * pg_store_free(). */
PgStore *pg_store_open (const char *path, const char *key_file, GError **error);
void pg_store_free (PgStore *store);
int pg_store_get_schema_version (PgStore *store);

/* Creates or replaces the registration of @bare_jid in one transaction.
 * @password NULL keeps the stored password (XEP-0077 §3.3 edits). */
gboolean pg_store_put_user (PgStore *store, const char *bare_jid, const char *username, const char *password,
                            GError **error);
/* Returns NULL without setting @error when @bare_jid is not registered.
 * Caller owns the result (pg_store_user_free). */
PgStoreUser *pg_store_get_user (PgStore *store, const char *bare_jid, GError **error);
/* Unseals the stored password; caller frees it with pg_seal_free_secret(). */
char *pg_store_dup_password (PgStore *store, const char *bare_jid, GError **error);
/* Deletes the user and everything stored for them; FALSE+error on failure,
 * TRUE also when there was nothing to delete (*@existed tells, may be NULL). */
gboolean pg_store_delete_user (PgStore *store, const char *bare_jid, gboolean *existed, GError **error);
/* Prepared bare JIDs of every registered user, sorted. Caller owns the array
 * (g_ptr_array_unref; elements freed with it). */
GPtrArray *pg_store_list_users (PgStore *store, GError **error);
gint64 pg_store_count_users (PgStore *store, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreUser, pg_store_user_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStore, pg_store_free)

/* ---- the group commit (registration/store-group.c) ----
 *
 * With it on, the changes of the outbox's busiest paths are written once
 * per pass of the main loop, at the end of the pass and before any of its
 * output is written (transport/pass-end.h): messages queued to contacts
 * and deleted once confirmed (records of the journal beside the database,
 * one write() per pass), and messages to users deleted once delivered (one
 * transaction per pass).  Every other change writes the pass's changes
 * first and stands on its own, so that its failure is reported to its
 * caller.  A pass whose changes cannot be written (disk full) is logged:
 * its messages to contacts are still delivered, unprotected until a later
 * pass's write succeeds (it writes the journal whole), and its deleted
 * rows may be sent again after the login is lost, as when a deletion
 * fails. */
/* Turns the group commit on, at the end of the passes of the thread-default
 * main context, until pg_store_free(). */
void pg_store_group_enable (PgStore *store);
/* Commits the open group now, if any (a failure is logged, and the
 * group's changes are undone). */
void pg_store_group_commit (PgStore *store);

/* ---- legacy contacts of a user (registration/store-contacts.c) ---- */

typedef struct
{
  char *name;           /* the protocol's own spelling */
  char *alias;          /* may be NULL */
  gboolean pending_add; /* added while offline: the legacy server does not know yet */
} PgStoreContact;
void pg_store_contact_free (PgStoreContact *contact);

/* Adds or updates (alias) @name for @bare_jid, who must be registered. */
gboolean pg_store_put_contact (PgStore *store, const char *bare_jid, const char *name, const char *alias,
                               GError **error);
/* Marks @name as added while offline (TRUE) or as known to the legacy server. */
gboolean pg_store_set_contact_pending (PgStore *store, const char *bare_jid, const char *name,
                                       gboolean pending, GError **error);
gboolean pg_store_delete_contact (PgStore *store, const char *bare_jid, const char *name, GError **error);
/* Every contact of @bare_jid, sorted by name. Caller owns the array
 * (g_ptr_array_unref frees the elements). */
GPtrArray *pg_store_list_contacts (PgStore *store, const char *bare_jid, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreContact, pg_store_contact_free)

/* ---- per-user settings (registration/store-settings.c) ---- */

/* Boolean settings are stored as "true" or "false"; a setting never stored
 * is on. */
#define PG_SETTING_TYPING "typing"     /* forward contacts' chat states (XEP-0085) */
#define PG_SETTING_RECEIPTS "receipts" /* answer receipt requests (XEP-0184) */
/* Keep the legacy login while the user is offline (README "Staying
 * connected"); unlike the others, off unless stored as "true". */
#define PG_SETTING_STAY_CONNECTED "stay-connected"
/* + a legacy host: the SHA-256 fingerprint of the certificate the user
 * accepted for it (purplegate.conf(5), [legacy] certificates). */
#define PG_SETTING_CERTIFICATE_PREFIX "certificate:"

/* Sets @key of @bare_jid, who must be registered, to @value. */
gboolean pg_store_put_setting (PgStore *store, const char *bare_jid, const char *key, const char *value,
                               GError **error);
/* The stored value of @key, or NULL (without @error) when never set.
 * Caller owns it (g_free). */
char *pg_store_dup_setting (PgStore *store, const char *bare_jid, const char *key, GError **error);
/* Whether @key of @bare_jid is stored as @value (not empty); a failure to
 * read is logged and answers FALSE. */
gboolean pg_store_setting_is (PgStore *store, const char *bare_jid, const char *key, const char *value);
/* Boolean @key of @bare_jid: FALSE only when stored as "false"; a failure to
 * read is logged and counts as the default. */
gboolean pg_store_setting_enabled (PgStore *store, const char *bare_jid, const char *key);
/* As pg_store_put_setting(), for a secret: sealed as passwords are
 * (registration/seal.h), bound to @bare_jid and @key. */
gboolean pg_store_put_sealed_setting (PgStore *store, const char *bare_jid, const char *key,
                                      const char *secret, GError **error);
/* The secret stored by pg_store_put_sealed_setting(), or NULL (without
 * @error) when never set. Caller owns it; free with pg_seal_free_secret(). */
char *pg_store_dup_sealed_setting (PgStore *store, const char *bare_jid, const char *key, GError **error);

/* ---- the persistent outbox (registration/store-outbox.c) ----
 *
 * Messages that could not be delivered yet, in arrival order: rows get
 * increasing ids that are never reused, so the id orders them and names
 * them for good (a redelivered message keeps its id). Reports of messages
 * that were not kept travel in the same queue, at the place of the loss. */

typedef enum
{
  PG_OUTBOX_TO_USER,   /* from a legacy contact to the XMPP user */
  PG_OUTBOX_TO_LEGACY, /* from the XMPP user to a legacy contact */
} PgOutboxDirection;

typedef enum
{
  PG_OUTBOX_LOSS_NONE,    /* a message */
  PG_OUTBOX_LOSS_FULL,    /* a report: messages refused while the outbox was full */
  PG_OUTBOX_LOSS_EXPIRED, /* a report: messages that expired before delivery */
} PgOutboxLoss;

typedef struct
{
  gint64 id;      /* set by the store */
  char *bare_jid; /* the user, who must be registered */
  PgOutboxDirection direction;
  char *peer;        /* the legacy contact's name (the protocol's spelling) */
  char *body;        /* plain text; NULL in a loss report */
  PgOutboxLoss loss; /* loss reports (to the user only): why, */
  guint lost;        /* and how many messages from @peer */
  char *xmpp_id;     /* to-legacy: the id of the user's message, or NULL */
  char *sender;      /* to-legacy: the user's full JID, where a bounce goes;
                      * to-user: the user's bare JID when the user wrote @body
                      * to @peer from another client, else NULL */
  gboolean receipt;  /* to-legacy: the user asked for a XEP-0184 receipt */
  gint64 created;    /* unix s */
  gint64 expires;    /* unix s; 0: never (loss reports) */
} PgStoreOutboxItem;
void pg_store_outbox_item_free (PgStoreOutboxItem *item);
/* Frees what @item holds, not @item itself (an item inside another struct). */
void pg_store_outbox_item_clear (PgStoreOutboxItem *item);
/* A deep copy of @item. Caller owns it (pg_store_outbox_item_free). */
PgStoreOutboxItem *pg_store_outbox_item_dup (const PgStoreOutboxItem *item);

/* Appends the message @item (bare_jid, direction, peer, body, the to-legacy
 * fields, created, expires; id and loss are ignored) behind every row of its
 * user. Fails with PG_STORE_ERROR_FULL when the user has @max messages
 * queued in that direction already. Returns the new row's id, 0 on error. */
gint64 pg_store_outbox_add (PgStore *store, const PgStoreOutboxItem *item, guint max, GError **error);
/* The same; @queued_before, when not NULL, gets how many messages of the
 * user in that direction the store held before this one. */
gint64 pg_store_outbox_add_counted (PgStore *store, const PgStoreOutboxItem *item, guint max,
                                    guint *queued_before, GError **error);
/* Records that @count messages from @peer to @bare_jid were not kept for
 * @loss: added to the user's last to-user row when that is a report of the
 * same peer and reason not yet sent (its id above @sent_upto), else a new
 * report appended. Returns the report's id, 0 on error. */
gint64 pg_store_outbox_add_loss (PgStore *store, const char *bare_jid, const char *peer, PgOutboxLoss loss,
                                 guint count, gint64 sent_upto, GError **error);
/* Rows of @direction with an id above @after_id, oldest first, at most
 * @limit of them (0: all); only @bare_jid's unless NULL. Caller owns the
 * array (g_ptr_array_unref frees the items). */
GPtrArray *pg_store_outbox_list (PgStore *store, const char *bare_jid, PgOutboxDirection direction,
                                 gint64 after_id, guint limit, GError **error);
/* Rows that expire at or before @now, oldest first. Caller owns the array. */
GPtrArray *pg_store_outbox_list_expired (PgStore *store, gint64 now, GError **error);
/* Deletes rows @ids (delivered or bounced) in one transaction. */
gboolean pg_store_outbox_delete (PgStore *store, const gint64 *ids, guint n_ids, GError **error);
/* The same for rows known to be @bare_jid's messages of @direction (an id
 * already gone is skipped): cheaper, the owner need not be read. */
gboolean pg_store_outbox_delete_of (PgStore *store, const char *bare_jid, PgOutboxDirection direction,
                                    const gint64 *ids, guint n_ids, GError **error);
/* Replaces the to-user messages @items (expired; from
 * pg_store_outbox_list_expired) by loss reports, in one transaction. */
gboolean pg_store_outbox_expire_to_user (PgStore *store, PgStoreOutboxItem *const *items, guint n_items,
                                         gint64 sent_upto, GError **error);
/* The earliest expiry (unix s) later than @after of any row, 0 when there
 * is none, -1 on error. */
gint64 pg_store_outbox_next_expiry (PgStore *store, gint64 after, GError **error);
/* Messages (not reports) queued for @bare_jid (NULL: every user) in
 * @direction; -1 on error. */
gint64 pg_store_outbox_count (PgStore *store, const char *bare_jid, PgOutboxDirection direction,
                              GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreOutboxItem, pg_store_outbox_item_free)

/* ---- rooms of logins that stay connected (registration/store-rooms.c) ---- */

typedef struct
{
  char *room; /* the room's bare JID */
  char *name; /* the legacy chat's name */
  char *nick; /* the nick to join with */
} PgStoreRoom;
void pg_store_room_free (PgStoreRoom *room);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreRoom, pg_store_room_free)

/* Remembers (or updates) @room of @bare_jid, who must be registered. */
gboolean pg_store_put_room (PgStore *store, const char *bare_jid, const char *room, const char *name,
                            const char *nick, GError **error);
/* Forgets @room of @bare_jid and its backlog, in one transaction. */
gboolean pg_store_delete_room (PgStore *store, const char *bare_jid, const char *room, GError **error);
/* Forgets every room of @bare_jid and their backlogs, in one transaction. */
gboolean pg_store_delete_rooms (PgStore *store, const char *bare_jid, GError **error);
/* The remembered rooms of @bare_jid, sorted by room. Caller owns the array
 * (g_ptr_array_unref frees the elements). */
GPtrArray *pg_store_list_rooms (PgStore *store, const char *bare_jid, GError **error);

typedef struct
{
  char *id;   /* the live copies' id; may be NULL */
  char *nick; /* the sender; NULL: the room itself */
  char *body;
  gint64 stamp_us; /* real time */
} PgStoreBacklogEntry;
void pg_store_backlog_entry_free (PgStoreBacklogEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreBacklogEntry, pg_store_backlog_entry_free)

/* Appends @entry to @room's backlog of @bare_jid and, in the same
 * transaction, drops what is then beyond the newest @max_messages or older
 * than @oldest_us. */
gboolean pg_store_backlog_add (PgStore *store, const char *bare_jid, const char *room,
                               const PgStoreBacklogEntry *entry, guint max_messages, gint64 oldest_us,
                               GError **error);
/* @room's backlog of @bare_jid, oldest first. Caller owns the array
 * (g_ptr_array_unref frees the elements). */
GPtrArray *pg_store_backlog_list (PgStore *store, const char *bare_jid, const char *room, GError **error);
