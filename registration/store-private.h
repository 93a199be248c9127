/* registration/store-private.h — what the store's files share. */
#pragma once
#include <sqlite3.h>

#include "registration/seal.h"
#include "registration/store.h"

typedef struct PgStoreJournal PgStoreJournal;

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
  /* Outbox ids are handed out here, above every id the database and the
   * journal ever held: the two share one sequence, which orders the rows of
   * both and never gives an id twice. */
  gint64 last_id;
  /* The messages to legacy contacts (registration/store-journal.c). */
  PgStoreJournal *journal;
  /* bare_jid → the user's messages to them in the database + 1, for the
   * users counted since the last rollback: counting the index for each
   * message cost a third of an insert.  Kept exact by insert() and
   * delete_ids(); emptied by anything that changes the outbox otherwise
   * (a rollback, a user's deletion). */
  GHashTable *outbox_counts;
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
 * when the change is @one_statement, which sqlite undoes by itself if it
 * fails. */
gboolean pg_store_group_op_begin (PgStore *store, gboolean one_statement, GError **error);
/* Ends the change begun: kept when @ok, else undone.  FALSE and @error
 * when @ok and it could not be kept. */
gboolean pg_store_group_op_end (PgStore *store, gboolean ok, GError **error);

/* ---- the journal of messages to legacy contacts (store-journal.c) ----
 * Changes are made in memory and written by pg_store_journal_flush(); the
 * callers decide when (once per pass with the group commit, else at
 * once). */
/* Opens @path (created 0600, locked against a second process) and reads
 * it back. Caller owns the journal (pg_store_journal_free). */
PgStoreJournal *pg_store_journal_open (const char *path, GError **error);
void pg_store_journal_free (PgStoreJournal *journal);
/* Writes the changes made since the last flush (one write()); on failure
 * the file is written whole at the next flush. */
gboolean pg_store_journal_flush (PgStoreJournal *journal, GError **error);
/* Whether a flush has anything to write. */
gboolean pg_store_journal_has_pending (PgStoreJournal *journal);
/* The highest id the file ever held or was told of. */
gint64 pg_store_journal_max_id (PgStoreJournal *journal);
/* Adds a copy of @item (a message to a legacy contact) as row @id. */
void pg_store_journal_add (PgStoreJournal *journal, const PgStoreOutboxItem *item, gint64 id);
/* Deletes row @id; FALSE when the journal has no such row. */
gboolean pg_store_journal_remove (PgStoreJournal *journal, gint64 id);
/* Undoes the add of row @id whose flush failed. */
void pg_store_journal_forget (PgStoreJournal *journal, gint64 id);
/* Deletes every row of @bare_jid; returns how many. */
guint pg_store_journal_remove_user (PgStoreJournal *journal, const char *bare_jid);
/* Rows of @bare_jid (NULL: everybody's). */
guint pg_store_journal_count (PgStoreJournal *journal, const char *bare_jid);
/* Appends copies of the rows above @after_id of @bare_jid (NULL: everybody),
 * oldest first, until @into holds @limit items (0: all). @into frees them. */
void pg_store_journal_list (PgStoreJournal *journal, const char *bare_jid, gint64 after_id, guint limit,
                            GPtrArray *into);
/* Appends copies of the rows expiring at or before @now, in no order. */
void pg_store_journal_list_expired (PgStoreJournal *journal, gint64 now, GPtrArray *into);
/* The earliest expiry later than @after, 0 when none. */
gint64 pg_store_journal_next_expiry (PgStoreJournal *journal, gint64 after);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreJournal, pg_store_journal_free)
