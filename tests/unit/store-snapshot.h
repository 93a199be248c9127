/* tests/unit/store-snapshot.h — what a crash of the process would leave of
 * a store: its files copied while it is open, opened as a restart would. */
#pragma once
#include "registration/store.h"

typedef struct
{
  PgStore *store; /* the copy, opened */
  char *dir;      /* where the copy is */
} PgStoreSnapshot;

/* Copies the database at @db_path, its log and its outbox journal (as
 * they are on disk now) and the key @key_path into a new directory, and
 * opens the copy. Caller owns the snapshot; pg_store_snapshot_free()
 * closes it and deletes the copy. */
PgStoreSnapshot *pg_store_snapshot_open (const char *db_path, const char *key_path);
void pg_store_snapshot_free (PgStoreSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgStoreSnapshot, pg_store_snapshot_free)
