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
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* Sets @error with sqlite's message for the last failure on @db; returns FALSE. */
gboolean pg_store_fail_db (GError **error, sqlite3 *db, PgStoreError code, const char *what);
/* Prepares constant @sql (never built from data) and binds @jid, when not
 * NULL, to ?1. Caller owns the statement (sqlite3_finalize). */
sqlite3_stmt *pg_store_prepare (sqlite3 *db, const char *sql, const char *jid, PgStoreError code,
                                GError **error);
gboolean pg_store_step_done (sqlite3 *db, sqlite3_stmt *stmt, GError **error);
