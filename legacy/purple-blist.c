/* legacy/purple-blist.c — the legacy contact list, from libpurple's buddy
 * list signals.
 *
 * signed-on (connections)   → contact_listed for every buddy of the
 *                             account, once per login (libpurple keeps the
 *                             list in memory between logins of a PgPurpleAccount)
 * buddy-added               → contact_listed (server-side lists arriving,
 *                             and our own pg_purple_account_add_contact(); not
 *                             for pg_purple_account_restore_contact())
 * buddy-removed             → contact_unlisted, unless we removed it or
 *                             another copy (another group) remains
 * blist-node-aliased        → contact_listed again with the new name (the
 *                             server renamed a contact on its list)
 * buddy-signed-on, buddy-signed-off, buddy-status-changed
 *                           → contact_status.  libpurple emits exactly one
 *                             of the three per presence change of a buddy.
 * A buddy can sit in several groups; presence is reported for the first
 * copy only.  No blist UI ops are installed. */
#define G_LOG_DOMAIN "pg-purple-blist"

#include "legacy/account-private.h"

static int handle; /* owns our signal connections */

/* TRUE when @buddy is the copy purple_find_buddy() returns for its name. */
static gboolean
is_first_copy (PurpleBuddy *buddy)
{
  return purple_find_buddy (purple_buddy_get_account (buddy), purple_buddy_get_name (buddy)) == buddy;
}

static void
buddy_presence (PurpleBuddy *buddy, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_purple (purple_buddy_get_account (buddy));

  (void)data;
  if (account != NULL && is_first_copy (buddy))
    pg_purple_account_emit_contact_status (account, buddy);
}

static void
buddy_status_changed (PurpleBuddy *buddy, PurpleStatus *old_status, PurpleStatus *new_status, gpointer data)
{
  (void)old_status, (void)new_status;
  buddy_presence (buddy, data);
}

static void
buddy_added (PurpleBuddy *buddy, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_purple (purple_buddy_get_account (buddy));

  (void)data;
  if (account != NULL && !account->restoring)
    pg_purple_account_emit_contact_listed (account, purple_buddy_get_name (buddy),
                                           purple_buddy_get_alias_only (buddy));
}

static void
buddy_removed (PurpleBuddy *buddy, gpointer data)
{
  PurpleAccount *purple = purple_buddy_get_account (buddy);
  PgPurpleAccount *account = pg_purple_account_from_purple (purple);
  const char *name = purple_buddy_get_name (buddy);

  (void)data;
  if (account == NULL || account->removing)
    return;
  /* The node is out of libpurple's index already: a hit is another copy. */
  if (purple_find_buddy (purple, name) != NULL)
    return;
  pg_purple_account_emit_contact_unlisted (account, name);
}

static void
node_aliased (PurpleBlistNode *node, const char *old_alias, gpointer data)
{
  PurpleBuddy *buddy;
  PgPurpleAccount *account;

  (void)old_alias, (void)data;
  if (!PURPLE_BLIST_NODE_IS_BUDDY (node))
    return;
  buddy = PURPLE_BUDDY (node);
  account = pg_purple_account_from_purple (purple_buddy_get_account (buddy));
  if (account != NULL && !account->restoring && is_first_copy (buddy))
    pg_purple_account_emit_contact_listed (account, purple_buddy_get_name (buddy),
                                           purple_buddy_get_alias_only (buddy));
}

/* Reports the whole list once per login, after libpurple has put the
 * account's buddies back into the list (purple_blist_add_account()). */
static void
signed_on (PurpleConnection *gc, gpointer data)
{
  PgPurpleAccount *account = pg_purple_account_from_connection (gc);
  g_autoptr (GHashTable) seen = NULL;
  g_autoptr (GPtrArray) names = NULL, aliases = NULL;
  GSList *buddies;

  (void)data;
  if (account == NULL)
    return;
  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  names = g_ptr_array_new_with_free_func (g_free);
  aliases = g_ptr_array_new_with_free_func (g_free);
  /* Copied first: the owner may edit the list from inside the events. */
  buddies = purple_find_buddies (account->purple, NULL);
  for (GSList *l = buddies; l != NULL; l = l->next)
    {
      PurpleBuddy *buddy = l->data;
      const char *name = purple_buddy_get_name (buddy);
      char *normalized = g_strdup (purple_normalize (account->purple, name));

      if (!g_hash_table_add (seen, normalized))
        continue;
      g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_add (aliases, g_strdup (purple_buddy_get_alias_only (buddy)));
    }
  g_slist_free (buddies);
  g_debug ("%s: %u contacts on the list", purple_account_get_username (account->purple), names->len);
  for (guint i = 0; i < names->len; i++)
    pg_purple_account_emit_contact_listed (account, names->pdata[i], aliases->pdata[i]);
}

void
pg_purple_blist_install (void)
{
  void *blist = purple_blist_get_handle ();

  purple_signal_connect (purple_connections_get_handle (), "signed-on", &handle, PURPLE_CALLBACK (signed_on),
                         NULL);
  purple_signal_connect (blist, "buddy-added", &handle, PURPLE_CALLBACK (buddy_added), NULL);
  purple_signal_connect (blist, "buddy-removed", &handle, PURPLE_CALLBACK (buddy_removed), NULL);
  purple_signal_connect (blist, "blist-node-aliased", &handle, PURPLE_CALLBACK (node_aliased), NULL);
  purple_signal_connect (blist, "buddy-signed-on", &handle, PURPLE_CALLBACK (buddy_presence), NULL);
  purple_signal_connect (blist, "buddy-signed-off", &handle, PURPLE_CALLBACK (buddy_presence), NULL);
  purple_signal_connect (blist, "buddy-status-changed", &handle, PURPLE_CALLBACK (buddy_status_changed),
                         NULL);
}
