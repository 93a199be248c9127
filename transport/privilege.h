/* transport/privilege.h — what the host server granted this component
 * (XEP-0356 Privileged Entity): read from the grant message the server
 * sends after the handshake, on every new stream, and forgotten when the
 * stream goes down.
 *
 * Privileges apply to the users of the host server only (XEP-0356 §4.3,
 * §5.1: "managed entities"); purplegate takes the host server to be the
 * parent domain of the component's address (gw.example.org → example.org),
 * as the README's host-server configuration has it, and ignores grants
 * from any other sender. */
#pragma once
#include "transport/transport.h"

#define PG_NS_PRIVILEGE_0 "urn:xmpp:privilege:0"
#define PG_NS_PRIVILEGE_1 "urn:xmpp:privilege:1"
#define PG_NS_PRIVILEGE_2 "urn:xmpp:privilege:2"
#define PG_NS_FORWARD "urn:xmpp:forward:0"
#define PG_NS_ROSTER "jabber:iq:roster"

typedef enum
{
  PG_PRIVILEGE_NONE,
  PG_PRIVILEGE_GET,
  PG_PRIVILEGE_SET,
  PG_PRIVILEGE_BOTH,
} PgPrivilegeAccess;

/* PgPrivilege is declared in transport/transport.h (the context holds one). */

/* A privilege record without any grant. Caller owns it (pg_privilege_free). */
PgPrivilege *pg_privilege_new (void);
void pg_privilege_free (PgPrivilege *priv);
/* Forgets the grant (the stream it came on is gone). */
void pg_privilege_reset (PgPrivilege *priv);

/* Reads the grant @privilege (a <privilege/> element in one of the
 * namespaces above) sent by @server. An obsolete :0 grant is ignored, and
 * so is a :1 grant once a :2 grant came on this stream (XEP-0356 §4.2:
 * the newest namespace wins). Returns TRUE when the grant was taken. */
gboolean pg_privilege_take_grant (PgPrivilege *priv, const char *server, const xmlNode *privilege);

/* The server refused a privileged roster change: the set part of the
 * roster permission is not used until the next grant. Returns TRUE the
 * first time (the caller logs it once). */
gboolean pg_privilege_refuse_roster_set (PgPrivilege *priv);

/* The roster permission (XEP-0356 §4.1); NONE without a grant. */
PgPrivilegeAccess pg_privilege_roster (const PgPrivilege *priv);
/* TRUE when the server pushes roster changes of managed users to us
 * (XEP-0356 §4.4: :2 only, type get or both, push not 'false'). */
gboolean pg_privilege_roster_push (const PgPrivilege *priv);
/* TRUE with the message permission type 'outgoing' (XEP-0356 §5.1). */
gboolean pg_privilege_message_outgoing (const PgPrivilege *priv);
/* The grant's namespace (:2 preferred), NULL without a grant. Borrowed. */
const char *pg_privilege_namespace (const PgPrivilege *priv);
/* The host server's domain that granted the privileges, NULL without a
 * grant. Borrowed. */
const char *pg_privilege_server (const PgPrivilege *priv);
/* TRUE when @bare_jid (prepared) is a user of the granting server, the only
 * users privileges apply to. */
gboolean pg_privilege_manages (const PgPrivilege *priv, const char *bare_jid);
/* The permission's name on the wire ("none", "get", "set", "both"). Static. */
const char *pg_privilege_access_to_string (PgPrivilegeAccess access);

/* Wraps @inner (a <message/>, ownership taken) in
 * <message from=@component to=@server><privilege xmlns=grant-ns>
 * <forwarded xmlns='urn:xmpp:forward:0'>, the inner message (and any
 * message nested in it) in jabber:client (XEP-0356 §5.1). Returns a new
 * stanza the caller owns (pg_stanza_free), or NULL (freeing @inner)
 * without the message permission. */
xmlNode *pg_privilege_wrap_message (const PgPrivilege *priv, const char *component, const char *server,
                                    xmlNode *inner);

/* The grant message and roster pushes (XEP-0356 §4.4, RFC 6121 §2.1.6)
 * on @transport's router; transport->privilege must be set. */
void pg_privilege_register (PgTransport *transport);
/* The stream went down: the grant goes with it. */
void pg_privilege_link_down (PgTransport *transport);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgPrivilege, pg_privilege_free)
