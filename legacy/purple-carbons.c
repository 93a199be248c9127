/* legacy/purple-carbons.c — what the user sent from another client of a
 * legacy XMPP account, from the XEP-0280 sent carbons the legacy server
 * forwards once Debian's purple-xmpp-carbons plugin (core-riba-carbons,
 * [legacy] plugins) has enabled them.
 *
 * That plugin unwraps a sent carbon on prpl-jabber's
 * "jabber-receiving-xmlnode" signal, marks the message with an empty
 * <sent xmlns='urn:xmpp:carbons:2'/> child and, at the signal's end, writes
 * the body into the conversation as sent, taking the text for markup (a
 * "<3" would vanish).  Between the two, at the default priority, this file
 * reads the marked message itself: the body as text, the contact from its
 * 'to', an own_message event; and it takes the body away, so the plugin
 * writes nothing and prpl-jabber handles a message without one.  The rest
 * of the plugin's work (discovery, enabling, unwrapping and checking that
 * the carbon comes from the account's own bare JID, XEP-0280 §11) is left
 * to it. */
#define G_LOG_DOMAIN "pg-purple-conv"

#include "legacy/account-private.h"

#define NS_CARBONS "urn:xmpp:carbons:2"

static void
receiving_xmlnode (PurpleConnection *gc, xmlnode **packet, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  xmlnode *message = packet != NULL ? *packet : NULL;

  (void)data;
  if (account == NULL || message == NULL || g_strcmp0 (message->name, "message") != 0
      || xmlnode_get_child_with_namespace (message, "sent", NS_CARBONS) == NULL)
    return;
  xmlnode *body = xmlnode_get_child (message, "body");
  const char *to = xmlnode_get_attrib (message, "to");
  if (body == NULL || to == NULL)
    return;
  PurpleAccount *purple = account->purple;
  /* prpl-jabber normalises to the bare JID: the name its conversations and
   * buddies have. */
  g_autofree char *contact = g_strdup (purple_normalize (purple, to));
  g_autofree char *text = xmlnode_get_data (body);
  xmlnode_free (body); /* unlinks it: nothing is written as sent */
  if (contact == NULL || text == NULL || *text == '\0')
    return;
  g_autofree char *html = pg_purple_account_text_to_html (text);
  pg_purple_account_emit_own_message (account, contact, FALSE, html, 0);
}

void
pg_purple_carbons_install (void)
{
  static int handle;
  PurplePlugin *jabber = purple_plugins_find_with_id ("prpl-jabber");

  if (jabber == NULL)
    return;
  purple_signal_connect_priority (jabber, "jabber-receiving-xmlnode", &handle,
                                  PURPLE_CALLBACK (receiving_xmlnode), NULL, PURPLE_SIGNAL_PRIORITY_DEFAULT);
}
