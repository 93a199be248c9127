/* registration/store-private.h — what the store's files share. */
#pragma once
#include <sqlite3.h>

#include "registration/seal.h"
#include "registration/store.h"

struct PgStore
{
  sqlite3 *db;
  PgSealKey *key;
  char *path;
  int schema_version;
  /* "bare_jid\x1fkey" → value ("" when no row): settings are read on every
   * message, and parsing the query each time cost more than the message. */
  GHashTable *settings_cache;
  /* constant SQL text → prepared statement, reused: per-message paths
   * (outbox, settings, contacts) spent most of their time parsing SQL. */
  GHashTable *statements;
  /* The group commit (registration/store-group.c). */
  GSource *group_source;       /* NULL: every change commits on its own */
  gboolean group_open;         /* a group transaction is open */
  gboolean group_in_op;        /* between pg_store_group_op_begin() and _end() */
  gboolean group_op_savepoint; /* the change in progress has a savepoint */
  gint64 group_max_id;         /* the highest outbox id the open group inserted */
  /* Outbox ids at or below it were handed out by a group that could not be
   * committed: they stay unused, since callers may still hold them. */
  gint64 id_floor;
  gboolean id_floor_written; /* raised in the open transaction */
  /* Per direction, bare_jid → the user's messages in the outbox + 1, for
   * the users counted since the last rollback: every message queued checks
   * the user's limit, and counting the index each time cost a third of an
   * insert.  Kept exact by insert() and delete_ids(); emptied by anything
   * that changes the outbox otherwise (a rollback, a user's deletion). */
  GHashTable *outbox_counts[2];
};

/* A statement from pg_store_prepare_cached(): the cleanup resets it for the
 * next use instead of finalising it. */
typedef sqlite3_stmt PgStoreCachedStmt;
void pg_store_stmt_reset (PgStoreCachedStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreCachedStmt, pg_store_stmt_reset)
/* Like pg_store_prepare(), for @sql that is a string constant (its address
 * is the cache key). Borrowed: release with the autoptr cleanup. */
PgStoreCachedStmt *pg_store_prepare_cached (PgStore *store, const char *sql, const char *jid,
                                            PgStoreError code, GError **error);

/* Forgets cached settings (all users): after a user's rows are deleted. */
void pg_store_forget_settings (PgStore *store);
/* Forgets the outbox counts (all users): after a rollback or a deletion
 * that changed the outbox behind them. */
void pg_store_forget_outbox_counts (PgStore *store);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* Sets @error with sqlite's message for the last failure on @db; returns FALSE. */
gboolean pg_store_fail_db (GError **error, sqlite3 *db, PgStoreError code, const char *what);
/* Prepares constant @sql (never built from data) and binds @jid, when not
 * NULL, to ?1. Caller owns the statement (sqlite3_finalize). */
sqlite3_stmt *pg_store_prepare (sqlite3 *db, const char *sql, const char *jid, PgStoreError code,
                                GError **error);
/* Steps @stmt, a change, to its end.  Outside a grouped outbox change it
 * commits the open group first (pg_store_group_commit()), so that a change
 * of another kind stands or fails on its own. */
gboolean pg_store_step_done (PgStore *store, sqlite3_stmt *stmt, GError **error);

/* A change of its own, outside the group: commits the open group, then
 * begins a write transaction. */
gboolean pg_store_begin (PgStore *store, GError **error);
/* Commits the transaction begun when @ok, else (or when that fails) rolls
 * it back; returns whether it was committed. */
gboolean pg_store_finish (PgStore *store, gboolean ok, GError **error);

/* A grouped outbox change: opens the group's transaction when none is,
 * then a savepoint, so that a change that fails undoes only itself; none
 * when the change is @one_statement (besides the idempotent raise of
 * pg_store_keep_id_floor()), which sqlite undoes by itself if it fails. */
gboolean pg_store_group_op_begin (PgStore *store, gboolean one_statement, GError **error);
/* Ends the change begun: kept when @ok, else undone.  FALSE and @error
 * when @ok and it could not be kept. */
gboolean pg_store_group_op_end (PgStore *store, gboolean ok, GError **error);
/* Before an outbox insert: keeps ids at or below the floor unused. */
gboolean pg_store_keep_id_floor (PgStore *store, GError **error);
/* The transaction that may hold the floor's raise was committed, or undone. */
void pg_store_id_floor_settle (PgStore *store, gboolean committed);
