/* legacy/sent-note.h — what a worker's logins had delivered when it ended.
 *
 * A worker keeps, per login, two tags (outbox row ids of
 * pg_account_send_message()): the last message written in full to the
 * login's connection, and the last one the legacy server is known to have
 * processed (pg_purple_account_mark_sent()), whether or not the main process
 * heard of either yet.  Written counts only where the main process holds the
 * connection too (legacy/held-socket.h): the connection then outlives the
 * worker, and the server reads what was written before it sees the end.
 * The note is a file of the worker's directory, mapped shared, so that it
 * survives whatever ends the process (SIGKILL included); the main process
 * reads it after the exit and does not send those messages again.
 *
 * The file is an array of 24-byte slots in the host's byte order: the first
 * holds the format version and PG_SENT_NOTE_MAGIC, each other one a login id
 * (32 bits, 0: free), 32 bits of padding, the written tag and the processed
 * tag (64 bits each).  The worker only ever stores a tag as one aligned
 * 64-bit word, after the id and before an id is reused, so a process killed
 * between two stores leaves no slot that claims more than was delivered. */
#pragma once
#include <glib.h>

#define PG_SENT_NOTE_FILE "sent-note"
#define PG_SENT_NOTE_MAGIC 0x65746f6e746e6573ULL /* "sentnote" */
#define PG_SENT_NOTE_VERSION 2
/* Allocated in full when the worker starts (1 MiB on its directory's file
 * system): 65,535 logins, far more than a worker serves. */
#define PG_SENT_NOTE_BYTES (1024 * 1024)

/* The worker's side: the note mapped. */
typedef struct PgSentNote PgSentNote;

/* Creates (empty) and maps DIR/PG_SENT_NOTE_FILE. Caller owns the note
 * (pg_sent_note_free()); NULL with @error when it cannot be kept. */
PgSentNote *pg_sent_note_open (const char *dir, GError **error);
typedef enum
{
  PG_SENT_NOTE_WRITTEN,   /* written in full to the login's connection */
  PG_SENT_NOTE_PROCESSED, /* processed by the legacy server */
} PgSentNoteKind;

/* Login @id had everything up to the message @tag written or processed, as
 * @kind says (0: nothing known).  Does nothing when the note is full. */
void pg_sent_note_set (PgSentNote *note, guint32 id, PgSentNoteKind kind, guint64 tag);
/* Login @id is gone: its slot is free again. */
void pg_sent_note_forget (PgSentNote *note, guint32 id);
/* Unmaps the note; the file stays, empty when @clean (a clean exit leaves
 * nothing to settle). */
void pg_sent_note_free (PgSentNote *note, gboolean clean);

/* The main process's side. */
typedef struct
{
  guint64 written;   /* 0: nothing known */
  guint64 processed; /* 0: nothing known */
} PgSentNoteEntry;

/* Login id → PgSentNoteEntry (GUINT_TO_POINTER → owned by the table) of the
 * @len bytes @data of a note; logins with both tags 0 are left out. NULL
 * when @data is no note of this format or names no login. */
GHashTable *pg_sent_note_parse (const guint8 *data, gsize len);
/* The note in @dir, parsed (pg_sent_note_parse()), and the file removed so
 * that a later worker starts from nothing. NULL when there is none. */
GHashTable *pg_sent_note_take (const char *dir);
