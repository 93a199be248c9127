/* tests/fuzz/fuzz-common.h — what every libFuzzer target shares: one-time
 * setup, a deterministic hash of the input, the stream parser driven over a
 * whole buffer, and the round-trip check for serialised stanzas.
 *
 * The targets define LLVMFuzzerTestOneInput(); libFuzzer (configure
 * --enable-fuzzing) or tests/fuzz/replay.c (make check) supplies main(). */
#pragma once
#include <glib.h>
#include <libxml/tree.h>
#include <stddef.h>
#include <stdint.h>

/* The header every stream input is fed after, so inputs start at stanzas. */
#define PG_FUZZ_HEADER                                                                                       \
  "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' id='x'>"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Aborts with a message: a broken property is a finding, like a crash. */
#define PG_FUZZ_CHECK(cond, ...)                                                                             \
  G_STMT_START                                                                                               \
  {                                                                                                          \
    if (G_UNLIKELY (!(cond)))                                                                                \
      pg_fuzz_fail (__FILE__, __LINE__, #cond, __VA_ARGS__);                                                 \
  }                                                                                                          \
  G_STMT_END

G_NORETURN void pg_fuzz_fail (const char *file, int line, const char *cond, const char *format, ...)
    G_GNUC_PRINTF (4, 5);

/* Once per process: libxml2 initialised, GLib criticals and warnings fatal
 * (the modules under test never warn on peer input), other logging dropped. */
void pg_fuzz_init (void);

/* At the end of every input: drops what libxml2 keeps between parses (its
 * global copy of the last error, allocated by an input that meets a parse
 * error), so that every input frees what it allocates. libFuzzer runs an
 * input that frees less again and then a full leak check: that was the
 * case for every other input with an error in it. */
void pg_fuzz_input_done (void);

/* FNV-1a of @data: derives choices (chunk splits, error conditions) from the
 * input itself, so every run of one input is the same run. */
guint32 pg_fuzz_hash (const uint8_t *data, size_t size);

/* A NUL-terminated copy of @data, cut at its first NUL. Caller owns it. */
char *pg_fuzz_dup_string (const uint8_t *data, size_t size);

/* Feeds PG_FUZZ_HEADER then @data in one piece to a fresh stream parser with
 * the smallest stanza limit, and returns the complete stanzas (owned
 * xmlNode *, freed with the array). */
GPtrArray *pg_fuzz_parse_stanzas (const uint8_t *data, size_t size);

/* Asserts that every stanza of @stanzas (xmlNode *) serialises to XML that
 * the stream parser accepts, all of them in one stream, as one stanza each,
 * which serialises to the same text again and has the same tree (names,
 * namespaces, attributes, text of valid XML). */
void pg_fuzz_check_reparses_all (GPtrArray *stanzas);
