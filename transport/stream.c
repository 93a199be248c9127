/* transport/stream.c — the XEP-0114 link to the XMPP server. */
#define G_LOG_DOMAIN "pg-stream"
#include "build-config.h"

#include "transport/stream.h"

#include "transport/pass-end.h"

#include "transport/stanza.h"
#include "transport/xml-parser.h"

#include <gio/gio.h>
#include <libxml/parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <string.h>

typedef enum
{
  STATE_IDLE,        /* waiting for the backoff timer */
  STATE_CONNECTING,  /* TCP connect in progress */
  STATE_OPENING,     /* header sent, waiting for the server's */
  STATE_HANDSHAKING, /* handshake sent, waiting for <handshake/> */
  STATE_READY,
  STATE_STOPPED,
} State;

struct PgStream
{
  char *host;
  guint16 port;
  char *component_jid;
  char *secret;
  gsize max_stanza_bytes;
  const PgStreamCallbacks *callbacks;
  gpointer user_data;

  State state;
  GSocketClient *client;
  GCancellable *cancellable;
  GSocketConnection *connection;
  GSocket *socket;
  GSource *read_source;
  GSource *write_source;
  GSource *pass_end; /* writes what a main-loop pass queued */
  PgXmlParser *parser;
  GByteArray *out;

  guint backoff_s;
  guint attempts;
  guint retry_id;
  gint64 ready_since;

  /* Parser callbacks run inside pg_xml_parser_feed(); tearing the link down
   * there would free the parser under its own feet, so it waits until the
   * feed returns. */
  gboolean feeding;
  gboolean close_pending;
  char *close_condition;
  char *close_reason;
  gboolean peer_closed;

  PgStreamStats stats;
  PgStreamTapFunc tap; /* pg_stream_new_tap() */
  gpointer tap_data;
};

static void connect_now (PgStream *stream);
static void close_link (PgStream *stream, const char *condition, const char *reason);

char *
pg_stream_handshake_digest (const char *stream_id, const char *secret)
{
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  g_autofree char *input = g_strconcat (stream_id, secret, NULL);
  if (!EVP_Digest (input, strlen (input), digest, &length, EVP_sha1 (), NULL))
    return NULL;
  GString *hex = g_string_sized_new (2 * length);
  for (unsigned int i = 0; i < length; i++)
    g_string_append_printf (hex, "%02x", digest[i]);
  memset (input, 0, strlen (input));
  return g_string_free (hex, FALSE);
}

/* ---- output ---- */

static gboolean on_writable (GSocket *socket, GIOCondition condition, gpointer data);

static void
flush (PgStream *stream)
{
  while (stream->socket != NULL && stream->out->len > 0)
    {
      g_autoptr (GError) error = NULL;
      gssize sent
          = g_socket_send (stream->socket, (const char *)stream->out->data, stream->out->len, NULL, &error);
      if (sent < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          close_link (stream, NULL, error->message);
          return;
        }
      stream->stats.bytes_out += (guint64)sent;
      g_byte_array_remove_range (stream->out, 0, (guint)sent);
    }
  if (stream->socket == NULL)
    return;
  if (stream->out->len > 0 && stream->write_source == NULL)
    {
      stream->write_source = g_socket_create_source (stream->socket, G_IO_OUT, NULL);
      g_source_set_callback (stream->write_source, G_SOURCE_FUNC (on_writable), stream, NULL);
      g_source_attach (stream->write_source, NULL);
      if (stream->callbacks->backed_up != NULL)
        stream->callbacks->backed_up (stream->user_data);
    }
  else if (stream->out->len == 0 && stream->write_source != NULL)
    {
      g_source_destroy (stream->write_source);
      g_clear_pointer (&stream->write_source, g_source_unref);
    }
}

static gboolean
on_writable (GSocket *socket, GIOCondition condition, gpointer data)
{
  PgStream *stream = data;
  g_source_destroy (stream->write_source);
  g_clear_pointer (&stream->write_source, g_source_unref);
  flush (stream);
  return G_SOURCE_REMOVE;
}

/* A pass of the main loop often sends many stanzas (the lines a legacy
 * socket delivered at once): one write for all of them, at the end of the
 * pass, instead of one system call and one wake-up of the server each. */
static void
flush_at_pass_end (gpointer data)
{
  PgStream *stream = data;
  if (stream->out->len > 0 && stream->write_source == NULL && !stream->feeding)
    flush (stream);
}

static void
queue_raw (PgStream *stream, const char *text, gsize len)
{
  g_byte_array_append (stream->out, (const guint8 *)text, (guint)len);
}

/* Whether a stanza may be queued now. */
static gboolean
may_send (PgStream *stream)
{
  if (stream->state != STATE_READY || stream->close_pending)
    return FALSE;
  if (stream->out->len > PG_STREAM_MAX_QUEUED_BYTES)
    {
      close_link (stream, "resource-constraint", "server does not read what we send");
      return FALSE;
    }
  stream->stats.stanzas_out++;
  return TRUE;
}

gboolean
pg_stream_send_text (PgStream *stream, const char *text, gsize len)
{
  if (!may_send (stream))
    {
      g_debug ("link not ready: dropping a stanza written as text");
      return FALSE;
    }
  if (stream->tap != NULL)
    {
      /* The tap sees a tree, as from pg_stream_send(). */
      xmlDoc *doc = xmlReadMemory (text, (int)len, NULL, "UTF-8", XML_PARSE_NONET);
      g_return_val_if_fail (doc != NULL, FALSE);
      stream->tap (xmlDocGetRootElement (doc), stream->tap_data);
      xmlFreeDoc (doc);
      return TRUE;
    }
  queue_raw (stream, text, len);
  return TRUE;
}

gboolean
pg_stream_send (PgStream *stream, const xmlNode *stanza)
{
  if (!may_send (stream))
    {
      g_debug ("link not ready: dropping <%s/> to %s", (const char *)stanza->name,
               pg_stanza_get_attr (stanza, "to"));
      return FALSE;
    }
  if (stream->tap != NULL)
    {
      stream->tap (stanza, stream->tap_data);
      return TRUE;
    }
  GString *text = g_string_sized_new (256);
  pg_stanza_serialize (stanza, text);
  queue_raw (stream, text->str, text->len);
  g_string_free (text, TRUE);
  return TRUE;
}

/* ---- link life cycle ---- */

static gboolean
on_retry (gpointer data)
{
  PgStream *stream = data;
  stream->retry_id = 0;
  connect_now (stream);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (PgStream *stream)
{
  if (stream->state == STATE_STOPPED)
    return;
  stream->state = STATE_IDLE;
  g_message ("reconnecting to %s:%u in %u s", stream->host, stream->port, stream->backoff_s);
  stream->retry_id = g_timeout_add_seconds (stream->backoff_s, on_retry, stream);
  stream->backoff_s = MIN (stream->backoff_s * 2, PG_STREAM_BACKOFF_MAX_S);
}

static void
drop_socket (PgStream *stream)
{
  if (stream->read_source != NULL)
    {
      g_source_destroy (stream->read_source);
      g_clear_pointer (&stream->read_source, g_source_unref);
    }
  if (stream->write_source != NULL)
    {
      g_source_destroy (stream->write_source);
      g_clear_pointer (&stream->write_source, g_source_unref);
    }
  if (stream->connection != NULL)
    g_io_stream_close (G_IO_STREAM (stream->connection), NULL, NULL);
  stream->socket = NULL;
  g_clear_object (&stream->connection);
  g_clear_pointer (&stream->parser, pg_xml_parser_free);
  g_byte_array_set_size (stream->out, 0);
}

/* Ends the current link, with a stream error when @condition is set, and
 * schedules the next attempt. */
static void
close_link (PgStream *stream, const char *condition, const char *reason)
{
  if (stream->feeding)
    {
      if (!stream->close_pending)
        {
          stream->close_pending = TRUE;
          stream->close_condition = g_strdup (condition);
          stream->close_reason = g_strdup (reason);
        }
      return;
    }
  if (stream->socket == NULL)
    return;

  gboolean was_ready = stream->state == STATE_READY;
  if (condition != NULL)
    g_warning ("closing the link to %s:%u with stream error %s: %s", stream->host, stream->port, condition,
               reason);
  else
    g_warning ("link to %s:%u closed: %s", stream->host, stream->port, reason);

  if (condition != NULL && stream->state >= STATE_OPENING)
    {
      g_autofree char *error_xml
          = g_strdup_printf ("<stream:error><%s xmlns='" PG_NS_STREAMS "'/></stream:error>", condition);
      g_byte_array_append (stream->out, (const guint8 *)error_xml, (guint)strlen (error_xml));
    }
  if (stream->state >= STATE_OPENING && !stream->peer_closed)
    g_byte_array_append (stream->out, (const guint8 *)"</stream:stream>", 16);
  /* Best effort: the peer should learn why, but a dead peer must not stall us. */
  if (stream->out->len > 0)
    g_socket_send (stream->socket, (const char *)stream->out->data, stream->out->len, NULL, NULL);

  if (stream->ready_since != 0
      && g_get_monotonic_time () - stream->ready_since >= PG_STREAM_STABLE_S * G_USEC_PER_SEC)
    stream->backoff_s = PG_STREAM_BACKOFF_MIN_S;
  stream->ready_since = 0;
  drop_socket (stream);
  if (stream->state != STATE_STOPPED)
    schedule_retry (stream);
  if (was_ready && stream->callbacks->down != NULL)
    stream->callbacks->down (reason, stream->user_data);
}

void
pg_stream_reconnect (PgStream *stream, const char *condition, const char *reason)
{
  close_link (stream, condition, reason);
}

/* ---- input ---- */

static void
on_stream_opened (const xmlNode *root, gpointer data)
{
  PgStream *stream = data;
  const char *id = pg_stanza_get_attr (root, "id");
  if (stream->state != STATE_OPENING)
    return;
  if (!pg_stanza_is (root, "stream", PG_NS_STREAM) || id == NULL || *id == '\0')
    {
      close_link (stream, "invalid-namespace", "server sent no usable stream header");
      return;
    }
  g_autofree char *digest = pg_stream_handshake_digest (id, stream->secret);
  g_autofree char *handshake = g_strdup_printf ("<handshake>%s</handshake>", digest);
  stream->state = STATE_HANDSHAKING;
  queue_raw (stream, handshake, strlen (handshake));
}

static void
log_stream_error (PgStream *stream, const xmlNode *error)
{
  const xmlNode *condition = NULL;
  g_autofree char *text = NULL;
  for (xmlNode *child = error->children; child != NULL; child = child->next)
    {
      if (child->type != XML_ELEMENT_NODE)
        continue;
      if (pg_stanza_is (child, "text", PG_NS_STREAMS))
        text = pg_stanza_dup_text (child);
      else if (condition == NULL && g_strcmp0 (pg_stanza_get_ns (child), PG_NS_STREAMS) == 0)
        condition = child;
    }
  const char *name = condition != NULL ? (const char *)condition->name : "undefined-condition";
  if (g_str_equal (name, "not-authorized") || g_str_equal (name, "host-unknown"))
    g_warning ("the server refused component %s (%s): check [component] jid and secret in the "
               "config and the server's component definition",
               stream->component_jid, name);
  else if (g_str_equal (name, "conflict"))
    g_warning ("the server refused component %s: another instance is connected (conflict)",
               stream->component_jid);
  else
    g_warning ("stream error from the server: %s%s%s", name, text ? ": " : "", text ? text : "");
}

static void
on_stanza (xmlNode *node, gpointer data)
{
  PgStream *stream = data;
  g_autoptr (PgStanza) stanza = node;

  if (pg_stanza_is (stanza, "error", PG_NS_STREAM))
    {
      log_stream_error (stream, stanza);
      stream->peer_closed = TRUE;
      close_link (stream, NULL, "stream error from the server");
      return;
    }
  if (stream->state == STATE_HANDSHAKING)
    {
      if (!pg_stanza_is (stanza, "handshake", NULL) || stanza->children != NULL)
        {
          close_link (stream, "not-authorized", "no empty <handshake/> in answer to ours");
          return;
        }
      stream->state = STATE_READY;
      stream->ready_since = g_get_monotonic_time ();
      stream->attempts = 0;
      stream->stats.connects++;
      g_message ("component %s connected to %s:%u", stream->component_jid, stream->host, stream->port);
      if (stream->callbacks->ready != NULL)
        stream->callbacks->ready (stream->user_data);
      return;
    }
  if (stream->state != STATE_READY)
    return;
  stream->stats.stanzas_in++;
  stream->callbacks->stanza (g_steal_pointer (&stanza), stream->user_data);
}

static void
on_stanza_too_big (const xmlNode *skeleton, gsize bytes, gpointer data)
{
  PgStream *stream = data;
  if (stream->state != STATE_READY)
    {
      close_link (stream, "policy-violation", "oversized element before the handshake");
      return;
    }
  stream->stats.stanzas_in++;
  if (stream->callbacks->stanza_too_big != NULL)
    stream->callbacks->stanza_too_big (skeleton, bytes, stream->user_data);
}

static void
on_stream_closed (gpointer data)
{
  PgStream *stream = data;
  stream->peer_closed = TRUE;
  close_link (stream, NULL, "the server closed the stream");
}

static const PgXmlParserCallbacks parser_callbacks = {
  .stream_opened = on_stream_opened,
  .stanza = on_stanza,
  .stanza_too_big = on_stanza_too_big,
  .stream_closed = on_stream_closed,
};

static const char *
parser_condition (const GError *error)
{
  switch ((PgXmlParserError)error->code)
    {
    case PG_XML_PARSER_ERROR_RESTRICTED_XML:
      return "restricted-xml";
    case PG_XML_PARSER_ERROR_POLICY_VIOLATION:
      return "policy-violation";
    case PG_XML_PARSER_ERROR_UNSUPPORTED_ENCODING:
      return "unsupported-encoding";
    case PG_XML_PARSER_ERROR_NOT_WELL_FORMED:
    default:
      break;
    }
  return "not-well-formed";
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer data)
{
  PgStream *stream = data;
  char buffer[65536];
  g_autoptr (GError) error = NULL;

  gssize got = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);
  if (got < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (got <= 0)
    {
      close_link (stream, NULL, got == 0 ? "connection closed by the server" : error->message);
      return G_SOURCE_CONTINUE;
    }
  stream->stats.bytes_in += (guint64)got;

  stream->feeding = TRUE;
  gboolean ok = pg_xml_parser_feed (stream->parser, buffer, (gsize)got, &error);
  stream->feeding = FALSE;

  if (!ok && !stream->close_pending)
    close_link (stream, parser_condition (error), error->message);
  else if (stream->close_pending)
    {
      g_autofree char *close_condition = g_steal_pointer (&stream->close_condition);
      g_autofree char *close_reason = g_steal_pointer (&stream->close_reason);
      stream->close_pending = FALSE;
      close_link (stream, close_condition, close_reason);
    }
  else
    flush (stream);
  return G_SOURCE_CONTINUE;
}

/* ---- connecting ---- */

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  GSocketConnection *connection
      = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  PgStream *stream = data;
  if (connection == NULL)
    {
      g_warning ("cannot connect to %s:%u: %s", stream->host, stream->port, error->message);
      schedule_retry (stream);
      return;
    }
  stream->connection = connection;
  stream->socket = g_socket_connection_get_socket (connection);
  g_socket_set_blocking (stream->socket, FALSE);
  /* The client's connect timeout would otherwise stay on the socket and end
   * an idle link; idleness is the keepalive's business (transport/ping.c). */
  g_socket_set_timeout (stream->socket, 0);
  /* Stanzas are small and latency matters: no Nagle on the component link. */
  g_socket_set_option (stream->socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  stream->parser = pg_xml_parser_new (&parser_callbacks, stream, stream->max_stanza_bytes);
  stream->peer_closed = FALSE;
  stream->read_source = g_socket_create_source (stream->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (stream->read_source, G_SOURCE_FUNC (on_readable), stream, NULL);
  g_source_attach (stream->read_source, NULL);

  stream->state = STATE_OPENING;
  g_autofree char *header = g_strdup_printf ("<?xml version='1.0'?><stream:stream xmlns='" PG_NS_COMPONENT
                                             "' xmlns:stream='" PG_NS_STREAM "' to='%s'>",
                                             stream->component_jid);
  queue_raw (stream, header, strlen (header));
}

static void
connect_now (PgStream *stream)
{
  stream->state = STATE_CONNECTING;
  stream->attempts++;
  g_message ("connecting to %s:%u as component %s (attempt %u)", stream->host, stream->port,
             stream->component_jid, stream->attempts);
  g_socket_client_connect_to_host_async (stream->client, stream->host, stream->port, stream->cancellable,
                                         on_connected, stream);
}

PgStream *
pg_stream_new (const char *host, guint16 port, const char *component_jid, const char *secret,
               gsize max_stanza_bytes, const PgStreamCallbacks *callbacks, gpointer user_data)
{
  PgStream *stream = g_new0 (PgStream, 1);
  stream->host = g_strdup (host);
  stream->port = port;
  stream->component_jid = g_strdup (component_jid);
  stream->secret = g_strdup (secret);
  stream->max_stanza_bytes = max_stanza_bytes;
  stream->callbacks = callbacks;
  stream->user_data = user_data;
  stream->state = STATE_IDLE;
  stream->client = g_socket_client_new ();
  g_socket_client_set_timeout (stream->client, 10);
  /* The XMPP server is local or tunnelled; a desktop proxy setting must not
   * reroute the component link (and consulting it would load dconf). */
  g_socket_client_set_enable_proxy (stream->client, FALSE);
  stream->cancellable = g_cancellable_new ();
  stream->out = g_byte_array_new ();
  stream->pass_end = pg_pass_end_add (PG_PASS_END_WRITE, flush_at_pass_end, stream);
  stream->backoff_s = PG_STREAM_BACKOFF_MIN_S;
  return stream;
}

PgStream *
pg_stream_new_tap (PgStreamTapFunc tap, gpointer user_data)
{
  static const PgStreamCallbacks no_callbacks = { 0 };
  g_return_val_if_fail (tap != NULL, NULL);
  PgStream *stream = pg_stream_new ("localhost", 0, "tap.invalid", "", 0, &no_callbacks, NULL);
  stream->tap = tap;
  stream->tap_data = user_data;
  stream->state = STATE_READY;
  return stream;
}

void
pg_stream_start (PgStream *stream)
{
  connect_now (stream);
}

gboolean
pg_stream_is_ready (PgStream *stream)
{
  return stream->state == STATE_READY && !stream->close_pending;
}

gsize
pg_stream_get_unsent_bytes (PgStream *stream)
{
  return stream->out->len;
}

gboolean
pg_stream_is_backed_up (PgStream *stream)
{
  return stream->write_source != NULL;
}

const PgStreamStats *
pg_stream_get_stats (PgStream *stream)
{
  return &stream->stats;
}

void
pg_stream_shutdown (PgStream *stream, guint timeout_ms)
{
  State previous = stream->state;
  stream->state = STATE_STOPPED;
  g_cancellable_cancel (stream->cancellable);
  g_clear_handle_id (&stream->retry_id, g_source_remove);
  if (stream->socket == NULL)
    return;
  if (previous >= STATE_OPENING)
    g_byte_array_append (stream->out, (const guint8 *)"</stream:stream>", 16);

  /* Everything queued (last presences included) goes out before the close. */
  g_socket_set_timeout (stream->socket, 1 + timeout_ms / 1000);
  g_socket_set_blocking (stream->socket, TRUE);
  while (stream->out->len > 0)
    {
      gssize sent
          = g_socket_send (stream->socket, (const char *)stream->out->data, stream->out->len, NULL, NULL);
      if (sent <= 0)
        break;
      g_byte_array_remove_range (stream->out, 0, (guint)sent);
    }
  /* Wait briefly for the server's own close tag (RFC 6120 §4.4). */
  if (!stream->peer_closed
      && g_socket_condition_timed_wait (stream->socket, G_IO_IN, (gint64)timeout_ms * 1000, NULL, NULL))
    {
      char buffer[4096];
      g_socket_receive (stream->socket, buffer, sizeof buffer, NULL, NULL);
    }
  drop_socket (stream);
  g_message ("component stream closed");
}

void
pg_stream_free (PgStream *stream)
{
  if (stream == NULL)
    return;
  g_cancellable_cancel (stream->cancellable);
  g_clear_handle_id (&stream->retry_id, g_source_remove);
  stream->state = STATE_STOPPED;
  drop_socket (stream);
  g_source_destroy (stream->pass_end);
  g_clear_pointer (&stream->pass_end, g_source_unref);
  g_clear_object (&stream->cancellable);
  g_clear_object (&stream->client);
  g_byte_array_unref (stream->out);
  g_free (stream->host);
  g_free (stream->component_jid);
  if (stream->secret != NULL)
    memset (stream->secret, 0, strlen (stream->secret));
  g_free (stream->secret);
  g_free (stream->close_condition);
  g_free (stream->close_reason);
  g_free (stream);
}
