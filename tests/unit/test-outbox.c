/* tests/unit/test-outbox.c — the persistent outbox in the store
 * (registration/store-outbox.c): order, ids never reused, the per-user
 * bound, loss reports, expiry, deletion in one transaction, the cascade
 * with the user's registration, and survival across a reopen. */
#include "registration/store.h"
#include "tests/unit/store-snapshot.h"

#include <glib/gstdio.h>
#include <string.h>

#define ALICE "alice@example.org"
#define BOB "bob@example.org"

typedef struct
{
  char *dir;
  char *db;
  char *key;
  PgStore *store;
} Fixture;

static PgStore *
open_store (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  PgStore *store = pg_store_open (f->db, f->key, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  (void)data;
  f->dir = g_dir_make_tmp ("pg-test-outbox-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "purplegate.db", NULL);
  f->key = g_build_filename (f->dir, "purplegate.key", NULL);
  f->store = open_store (f);
  g_assert_true (pg_store_put_user (f->store, ALICE, "alice", "pw", NULL));
  g_assert_true (pg_store_put_user (f->store, BOB, "bob", "pw", NULL));
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  (void)data;
  g_clear_pointer (&f->store, pg_store_free);
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_free (f->db);
  g_free (f->key);
  g_free (f->dir);
}

static gint64
add (PgStore *store, const char *jid, PgOutboxDirection direction, const char *peer, const char *body,
     gint64 expires, guint max)
{
  g_autoptr (GError) error = NULL;
  PgStoreOutboxItem item = {
    .bare_jid = (char *)jid,
    .direction = direction,
    .peer = (char *)peer,
    .body = (char *)body,
    .xmpp_id = direction == PG_OUTBOX_TO_LEGACY ? (char *)"m1" : NULL,
    .sender = direction == PG_OUTBOX_TO_LEGACY ? (char *)"alice@example.org/phone" : NULL,
    .receipt = direction == PG_OUTBOX_TO_LEGACY,
    .created = 1000,
    .expires = expires,
  };
  gint64 id = pg_store_outbox_add (store, &item, max, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static GPtrArray *
list (PgStore *store, const char *jid, PgOutboxDirection direction, gint64 after)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *rows = pg_store_outbox_list (store, jid, direction, after, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rows);
  return rows;
}

static const PgStoreOutboxItem *
row (GPtrArray *rows, guint i)
{
  return g_ptr_array_index (rows, i);
}

/* Rows come back in the order they were added, per direction and user,
 * with every field as stored; ids increase and are not reused. */
static void
test_order (Fixture *f, gconstpointer data)
{
  gint64 ids[6];
  (void)data;
  ids[0] = add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "one", 5000, 100);
  ids[1] = add (f->store, BOB, PG_OUTBOX_TO_USER, "carol", "for bob", 5000, 100);
  ids[2] = add (f->store, ALICE, PG_OUTBOX_TO_LEGACY, "carol", "reply", 6000, 100);
  ids[3] = add (f->store, ALICE, PG_OUTBOX_TO_USER, "dave", "two", 5000, 100);
  ids[4] = add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "three ünïcödé <&>", 5000, 100);
  for (guint i = 1; i < 5; i++)
    g_assert_cmpint (ids[i], >, ids[i - 1]);

  g_autoptr (GPtrArray) mine = list (f->store, ALICE, PG_OUTBOX_TO_USER, 0);
  g_assert_cmpuint (mine->len, ==, 3);
  g_assert_cmpstr (row (mine, 0)->body, ==, "one");
  g_assert_cmpstr (row (mine, 1)->body, ==, "two");
  g_assert_cmpstr (row (mine, 1)->peer, ==, "dave");
  g_assert_cmpstr (row (mine, 2)->body, ==, "three ünïcödé <&>");
  g_assert_cmpint (row (mine, 2)->id, ==, ids[4]);
  g_assert_cmpint (row (mine, 0)->expires, ==, 5000);
  g_assert_cmpint (row (mine, 0)->created, ==, 1000);
  g_assert_null (row (mine, 0)->xmpp_id);
  g_assert_cmpint (row (mine, 0)->loss, ==, PG_OUTBOX_LOSS_NONE);

  /* Every user's, in one order; after an id; limited. */
  g_autoptr (GPtrArray) all = list (f->store, NULL, PG_OUTBOX_TO_USER, 0);
  g_assert_cmpuint (all->len, ==, 4);
  g_assert_cmpstr (row (all, 1)->bare_jid, ==, BOB);
  g_autoptr (GPtrArray) after = list (f->store, NULL, PG_OUTBOX_TO_USER, ids[1]);
  g_assert_cmpuint (after->len, ==, 2);
  g_assert_cmpstr (row (after, 0)->body, ==, "two");
  g_autoptr (GPtrArray) limited = pg_store_outbox_list (f->store, NULL, PG_OUTBOX_TO_USER, 0, 2, NULL);
  g_assert_cmpuint (limited->len, ==, 2);

  g_autoptr (GPtrArray) legacy = list (f->store, ALICE, PG_OUTBOX_TO_LEGACY, 0);
  g_assert_cmpuint (legacy->len, ==, 1);
  g_assert_cmpint (row (legacy, 0)->direction, ==, PG_OUTBOX_TO_LEGACY);
  g_assert_cmpstr (row (legacy, 0)->xmpp_id, ==, "m1");
  g_assert_cmpstr (row (legacy, 0)->sender, ==, "alice@example.org/phone");
  g_assert_true (row (legacy, 0)->receipt);

  /* Delivered rows go in one transaction; a new row never takes an old id. */
  gint64 done[] = { ids[0], ids[4] };
  g_assert_true (pg_store_outbox_delete (f->store, done, G_N_ELEMENTS (done), NULL));
  ids[5] = add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "four", 5000, 100);
  g_assert_cmpint (ids[5], >, ids[4]);
  g_autoptr (GPtrArray) left = list (f->store, ALICE, PG_OUTBOX_TO_USER, 0);
  g_assert_cmpuint (left->len, ==, 2);
  g_assert_cmpstr (row (left, 0)->body, ==, "two");
  g_assert_cmpstr (row (left, 1)->body, ==, "four");

  /* They survive a restart, ids and all. */
  g_clear_pointer (&f->store, pg_store_free);
  f->store = open_store (f);
  g_autoptr (GPtrArray) again = list (f->store, ALICE, PG_OUTBOX_TO_USER, 0);
  g_assert_cmpuint (again->len, ==, 2);
  g_assert_cmpint (row (again, 1)->id, ==, ids[5]);
  g_assert_cmpint (add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "five", 5000, 100), >, ids[5]);
}

/* The bound counts messages per user and direction; over it, adding fails
 * with PG_STORE_ERROR_FULL and stores nothing. */
static void
test_bound (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  (void)data;
  for (guint i = 0; i < 3; i++)
    add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "m", 5000, 3);
  PgStoreOutboxItem item = {
    .bare_jid = (char *)ALICE,
    .direction = PG_OUTBOX_TO_USER,
    .peer = (char *)"carol",
    .body = (char *)"over",
    .created = 1,
    .expires = 2,
  };
  g_assert_cmpint (pg_store_outbox_add (f->store, &item, 3, &error), ==, 0);
  g_assert_error (error, PG_STORE_ERROR, PG_STORE_ERROR_FULL);
  g_clear_error (&error);
  g_assert_cmpint (pg_store_outbox_count (f->store, ALICE, PG_OUTBOX_TO_USER, NULL), ==, 3);
  /* Other users and the other direction have their own. */
  add (f->store, BOB, PG_OUTBOX_TO_USER, "carol", "m", 5000, 3);
  add (f->store, ALICE, PG_OUTBOX_TO_LEGACY, "carol", "m", 5000, 3);
  /* Loss reports do not count. */
  g_assert_cmpint (pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_FULL, 1, 0, NULL), >,
                   0);
  g_assert_cmpint (pg_store_outbox_count (f->store, ALICE, PG_OUTBOX_TO_USER, NULL), ==, 3);
  /* Delivering one makes room for one. */
  g_autoptr (GPtrArray) rows = list (f->store, ALICE, PG_OUTBOX_TO_USER, 0);
  g_assert_true (pg_store_outbox_delete (f->store, &row (rows, 0)->id, 1, NULL));
  add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "fits again", 5000, 3);
  /* Only registered users have an outbox. */
  item.bare_jid = (char *)"nobody@example.org";
  g_assert_cmpint (pg_store_outbox_add (f->store, &item, 3, &error), ==, 0);
  g_assert_error (error, PG_STORE_ERROR, PG_STORE_ERROR_IO);
}

/* Losses of one peer and reason add up in the last report while it is the
 * user's last row and not sent; otherwise a new report, in place. */
static void
test_loss_reports (Fixture *f, gconstpointer data)
{
  (void)data;
  gint64 m1 = add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "kept", 5000, 10);
  gint64 r1 = pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_FULL, 1, 0, NULL);
  g_assert_cmpint (pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_FULL, 2, 0, NULL), ==,
                   r1);
  gint64 r2 = pg_store_outbox_add_loss (f->store, ALICE, "dave", PG_OUTBOX_LOSS_FULL, 1, 0, NULL);
  g_assert_cmpint (r2, >, r1);
  gint64 r3 = pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_FULL, 1, 0, NULL);
  g_assert_cmpint (r3, >, r2);
  /* Sent already (id at or below sent_upto): not changed any more. */
  gint64 r4 = pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_FULL, 1, r3, NULL);
  g_assert_cmpint (r4, >, r3);
  gint64 r5 = pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_EXPIRED, 4, 0, NULL);
  g_assert_cmpint (r5, >, r4);

  g_autoptr (GPtrArray) rows = list (f->store, ALICE, PG_OUTBOX_TO_USER, 0);
  g_assert_cmpuint (rows->len, ==, 6);
  g_assert_cmpint (row (rows, 0)->id, ==, m1);
  g_assert_null (row (rows, 1)->body);
  g_assert_cmpint (row (rows, 1)->loss, ==, PG_OUTBOX_LOSS_FULL);
  g_assert_cmpuint (row (rows, 1)->lost, ==, 3);
  g_assert_cmpstr (row (rows, 2)->peer, ==, "dave");
  g_assert_cmpuint (row (rows, 3)->lost, ==, 1);
  g_assert_cmpuint (row (rows, 4)->lost, ==, 1);
  g_assert_cmpint (row (rows, 5)->loss, ==, PG_OUTBOX_LOSS_EXPIRED);
  g_assert_cmpuint (row (rows, 5)->lost, ==, 4);
  g_assert_cmpint (row (rows, 5)->expires, ==, 0); /* reports never expire */
}

/* Expired rows are listed by expiry; to-user messages turn into loss
 * reports in one transaction; the next expiry follows. */
static void
test_expiry (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  (void)data;
  g_assert_cmpint (pg_store_outbox_next_expiry (f->store, 0, &error), ==, 0);
  add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "a", 100, 10);
  add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "b", 200, 10);
  add (f->store, ALICE, PG_OUTBOX_TO_LEGACY, "carol", "c", 150, 10);
  add (f->store, ALICE, PG_OUTBOX_TO_USER, "dave", "d", 300, 10);
  g_assert_cmpint (pg_store_outbox_next_expiry (f->store, 0, &error), ==, 100);

  g_autoptr (GPtrArray) none = pg_store_outbox_list_expired (f->store, 99, &error);
  g_assert_cmpuint (none->len, ==, 0);
  g_autoptr (GPtrArray) due = pg_store_outbox_list_expired (f->store, 200, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, 3);
  g_assert_cmpstr (row (due, 0)->body, ==, "a");
  g_assert_cmpint (row (due, 2)->direction, ==, PG_OUTBOX_TO_LEGACY); /* by id */

  /* The to-legacy row is the caller's to bounce; it stays. */
  g_assert_true (
      pg_store_outbox_expire_to_user (f->store, (PgStoreOutboxItem *const *)due->pdata, due->len, 0, &error));
  g_assert_no_error (error);
  g_autoptr (GPtrArray) rows = list (f->store, ALICE, PG_OUTBOX_TO_USER, 0);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpstr (row (rows, 0)->body, ==, "d");
  g_assert_cmpint (row (rows, 1)->loss, ==, PG_OUTBOX_LOSS_EXPIRED);
  g_assert_cmpstr (row (rows, 1)->peer, ==, "carol");
  g_assert_cmpuint (row (rows, 1)->lost, ==, 2);
  g_assert_cmpint (pg_store_outbox_next_expiry (f->store, 0, &error), ==, 150);
  g_assert_cmpint (pg_store_outbox_next_expiry (f->store, 150, &error), ==, 300);
  g_assert_cmpint (pg_store_outbox_next_expiry (f->store, 300, &error), ==, 0);
  g_assert_cmpint (pg_store_outbox_count (f->store, ALICE, PG_OUTBOX_TO_LEGACY, NULL), ==, 1);
}

/* Unregistering deletes the user's outbox with the registration. */
static void
test_cascade (Fixture *f, gconstpointer data)
{
  (void)data;
  add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "a", 100, 10);
  add (f->store, ALICE, PG_OUTBOX_TO_LEGACY, "carol", "b", 100, 10);
  add (f->store, BOB, PG_OUTBOX_TO_USER, "carol", "c", 100, 10);
  g_assert_cmpint (pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_FULL, 1, 0, NULL), >,
                   0);
  g_assert_true (pg_store_delete_user (f->store, ALICE, NULL, NULL));
  g_autoptr (GPtrArray) to_user = list (f->store, NULL, PG_OUTBOX_TO_USER, 0);
  g_assert_cmpuint (to_user->len, ==, 1);
  g_assert_cmpstr (row (to_user, 0)->bare_jid, ==, BOB);
  g_autoptr (GPtrArray) to_legacy = list (f->store, NULL, PG_OUTBOX_TO_LEGACY, 0);
  g_assert_cmpuint (to_legacy->len, ==, 0);
}

/* pg_store_outbox_add_counted() tells how many messages of the user and
 * direction were stored before; loss reports and others' rows do not count
 * (legacy/outbox-legacy.c skips reading a row back on that figure). */
static void
test_counted (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PgStoreOutboxItem item = {
    .bare_jid = (char *)ALICE,
    .direction = PG_OUTBOX_TO_LEGACY,
    .peer = (char *)"carol",
    .body = (char *)"m",
    .xmpp_id = (char *)"m1",
    .sender = (char *)"alice@example.org/phone",
    .created = 1,
    .expires = 5000,
  };
  guint before = 99;

  (void)data;
  g_assert_cmpint (pg_store_outbox_add_counted (f->store, &item, 10, &before, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (before, ==, 0);
  add (f->store, BOB, PG_OUTBOX_TO_LEGACY, "carol", "m", 5000, 10);
  add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "m", 5000, 10);
  g_assert_cmpint (pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_FULL, 1, 0, NULL), >,
                   0);
  g_assert_cmpint (pg_store_outbox_add_counted (f->store, &item, 10, &before, &error), >, 0);
  g_assert_cmpuint (before, ==, 1);
  g_assert_cmpint (pg_store_outbox_add_counted (f->store, &item, 10, NULL, &error), >, 0);
  g_assert_cmpint (pg_store_outbox_add_counted (f->store, &item, 10, &before, &error), >, 0);
  g_assert_cmpuint (before, ==, 3);
  g_assert_no_error (error);
}

/* What a restart would count: the rows as written, without the running
 * store's kept counts. */
static gint64
count_on_disk (Fixture *f, const char *jid, PgOutboxDirection direction)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PgStoreSnapshot) other = pg_store_snapshot_open (f->db, f->key);
  gint64 n = pg_store_outbox_count (other->store, jid, direction, &error);
  g_assert_no_error (error);
  return n;
}

static void
assert_counts (Fixture *f)
{
  static const char *const users[] = { ALICE, BOB };
  for (gsize u = 0; u < G_N_ELEMENTS (users); u++)
    for (int d = PG_OUTBOX_TO_USER; d <= PG_OUTBOX_TO_LEGACY; d++)
      g_assert_cmpint (pg_store_outbox_count (f->store, users[u], d, NULL), ==,
                       count_on_disk (f, users[u], d));
}

/* The store keeps each user's count instead of counting the index for
 * every message; every kind of change keeps it equal to the rows there. */
static void
test_counts_follow_changes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  (void)data;
  assert_counts (f);
  gint64 a1 = add (f->store, ALICE, PG_OUTBOX_TO_LEGACY, "carol", "a", 100, 3);
  gint64 a2 = add (f->store, ALICE, PG_OUTBOX_TO_LEGACY, "carol", "b", 100, 3);
  add (f->store, ALICE, PG_OUTBOX_TO_USER, "carol", "c", 300, 3);
  add (f->store, BOB, PG_OUTBOX_TO_USER, "carol", "d", 100, 3);
  assert_counts (f);
  /* Refused over the bound: the change is undone. */
  add (f->store, ALICE, PG_OUTBOX_TO_LEGACY, "carol", "e", 100, 3);
  PgStoreOutboxItem over = { .bare_jid = (char *)ALICE,
                             .direction = PG_OUTBOX_TO_LEGACY,
                             .peer = (char *)"carol",
                             .body = (char *)"f",
                             .created = 1000 };
  g_assert_cmpint (pg_store_outbox_add (f->store, &over, 3, &error), ==, 0);
  g_assert_error (error, PG_STORE_ERROR, PG_STORE_ERROR_FULL);
  g_clear_error (&error);
  assert_counts (f);
  g_assert_true (
      pg_store_outbox_delete_of (f->store, ALICE, PG_OUTBOX_TO_LEGACY, (gint64[]){ a1 }, 1, &error));
  g_assert_no_error (error);
  assert_counts (f);
  g_assert_true (pg_store_outbox_delete (f->store, (gint64[]){ a2 }, 1, &error));
  g_assert_no_error (error);
  assert_counts (f);
  /* Deleting ids twice changes nothing. */
  g_assert_true (
      pg_store_outbox_delete_of (f->store, ALICE, PG_OUTBOX_TO_LEGACY, (gint64[]){ a1 }, 1, &error));
  g_assert_true (pg_store_outbox_delete (f->store, (gint64[]){ a2, a1 }, 2, &error));
  assert_counts (f);
  g_assert_cmpint (pg_store_outbox_add_loss (f->store, ALICE, "carol", PG_OUTBOX_LOSS_FULL, 1, 0, NULL), >,
                   0);
  assert_counts (f);
  g_autoptr (GPtrArray) due = pg_store_outbox_list_expired (f->store, 200, &error);
  g_assert_true (
      pg_store_outbox_expire_to_user (f->store, (PgStoreOutboxItem *const *)due->pdata, due->len, 0, &error));
  g_assert_no_error (error);
  assert_counts (f);
  g_assert_true (pg_store_delete_user (f->store, BOB, NULL, NULL));
  assert_counts (f);
  g_assert_true (pg_store_put_user (f->store, BOB, "bob", "pw", NULL));
  add (f->store, BOB, PG_OUTBOX_TO_USER, "carol", "g", 100, 3);
  assert_counts (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)
  ADD ("/outbox/store/order", test_order);
  ADD ("/outbox/store/bound", test_bound);
  ADD ("/outbox/store/loss-reports", test_loss_reports);
  ADD ("/outbox/store/expiry", test_expiry);
  ADD ("/outbox/store/cascade", test_cascade);
  ADD ("/outbox/store/counted", test_counted);
  ADD ("/outbox/store/counts-follow-changes", test_counts_follow_changes);
#undef ADD
  return g_test_run ();
}
