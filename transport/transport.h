/* transport/transport.h — the one context of a purplegate process, passed
 * explicitly to every module: config, component stream, router and the
 * XMPP features of this folder, plus the parts of the layers above
 * (registration/, legacy/). Those are opaque here: transport/ never
 * dereferences them, and daemon/daemon.h creates and wires the whole. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#include "transport/config.h"
#include "transport/router.h"
#include "transport/stream.h"

typedef struct PgAdhoc PgAdhoc;
typedef struct PgI18n PgI18n;
typedef struct PgPing PgPing;
typedef struct PgPrivilege PgPrivilege; /* transport/privilege.h */
/* Of the layers above. */
typedef struct PgStore PgStore;                         /* registration/store.h */
typedef struct PgPurple PgPurple;                       /* legacy/purple-core.h */
typedef struct PgNames PgNames;                         /* legacy/names.h */
typedef struct PgSessions PgSessions;                   /* legacy/session.h */
typedef struct PgOutbox PgOutbox;                       /* legacy/outbox.h */
typedef struct PgRegistrationHooks PgRegistrationHooks; /* registration/hooks.h */

/* Counters for operators (the stats command); stream byte and stanza counts
 * live in PgStreamStats. */
typedef struct
{
  guint64 logins_succeeded;
  guint64 logins_failed;
  guint64 quarantined; /* logins refused for crashing their worker repeatedly */
  guint64 reconnects;  /* legacy logins retried after a network failure */
  /* Outbox messages written or handed over again after their link was
   * lost unacknowledged, and messages bounced to their senders. */
  guint64 outbox_resent;
  guint64 outbox_bounced;
} PgStats;

typedef struct PgTransport PgTransport;
struct PgTransport
{
  PgConfig *config;
  PgStore *store;
  PgPurple *purple;          /* in-process ([workers] count = 0) only */
  PgNames *names;            /* protocol facts and names (legacy/names.h) */
  struct PgBackend *backend; /* where legacy logins run (legacy/backend.h) */
  PgRouter *router;
  PgStream *stream;
  PgPing *ping;
  PgSessions *sessions;
  PgI18n *i18n;           /* translations of what users read (transport/i18n.h) */
  PgAdhoc *adhoc;         /* XEP-0050 commands and their sessions (transport/adhoc.h) */
  PgOutbox *outbox;       /* messages waiting for a link (legacy/outbox.h) */
  PgPrivilege *privilege; /* what the host server granted (XEP-0356) */
  /* What registration asks of the legacy logins (borrowed, static). */
  const PgRegistrationHooks *registration_hooks;
  /* Whether @bare_jid (prepared) is registered, for pg_transport_is_registered():
   * the registrations are kept by the layer above. NULL: nobody is. */
  gboolean (*is_registered) (PgTransport *transport, const char *bare_jid);
  /* The host server granted privileges on this stream (transport/privilege.h),
   * for the layers above to use them at once; may be NULL. */
  void (*privilege_granted) (PgTransport *transport);
  GMainLoop *loop;
  /* SIGINT/SIGTERM sources, installed first thing so that a stop during the
   * slow start-up (opening the store, loading plugins) is a clean stop. */
  guint sigint_source;
  guint sigterm_source;
  guint stop_signals; /* received; a second one cuts the clean stop short */
  char *legacy_name;  /* [legacy] name, or the protocol's own name */
  /* The protocol logs in without a password or lets it be empty (IRC,
   * for instance): registration accepts none. */
  gboolean password_optional;
  /* The protocol's account options (PgLegacyOption, transport/legacy-option.h),
   * owned; those named in [registration] user_options are offered to users. */
  GPtrArray *legacy_options;
  /* legacy name → its contact JID (pg_transport_contact_jid()); NULL
   * until the first. */
  GHashTable *contact_jids;
  gint64 started_at; /* monotonic µs */
  PgStats stats;
  int exit_status;
};

/* Queues @stanza (borrowed) on the component stream. */
void pg_transport_send (PgTransport *transport, const xmlNode *stanza);
/* Sends a presence of @type (NULL: available) from the component to @to. */
void pg_transport_send_presence (PgTransport *transport, const char *to, const char *type);
/* TRUE when @bare_jid (prepared) is registered (@transport->is_registered). */
gboolean pg_transport_is_registered (PgTransport *transport, const char *bare_jid);
/* pg_jid_for_legacy_name() of @legacy_name at the component's domain,
 * remembered for the names seen most: every message to or from a contact
 * needs it, and the preparation costs more than writing the stanza.
 * NULL when the name has no JID. Caller owns the string. */
char *pg_transport_contact_jid (PgTransport *transport, const char *legacy_name);
/* Frees what the context's own functions keep (the contact JIDs). */
void pg_transport_clear_caches (PgTransport *transport);

/* What a clean stop still waits for (0: nothing). */
typedef guint (*PgPendingFunc) (gpointer user_data);
/* During a clean stop: runs the main context until @pending says 0,
 * @timeout_ms pass or a second stop signal comes; returns what @pending
 * said last, and the time it took in @elapsed_ms (may be NULL). */
guint pg_transport_wait_stop (PgTransport *transport, guint timeout_ms, PgPendingFunc pending,
                              gpointer user_data, gint64 *elapsed_ms);
