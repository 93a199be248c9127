/* tests/unit/test-config.c — the INI configuration contract of purplegate.conf(5). */
#define G_LOG_DOMAIN "pg-test-config"

#include "transport/config.h"

#include <glib/gstdio.h>
#include <string.h>

#define MINIMAL                                                                                              \
  "[component]\n"                                                                                            \
  "jid = irc.example.org\n"                                                                                  \
  "secret = s3cret\n"                                                                                        \
  "[legacy]\n"                                                                                               \
  "protocol = prpl-irc\n"

/* Each test writes its file in a fresh temp dir. */
typedef struct
{
  char *dir;
  char *path;
} TempConfig;

static void
temp_setup (TempConfig *t, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  t->dir = g_dir_make_tmp ("pg-config-XXXXXX", &error);
  g_assert_no_error (error);
  t->path = g_build_filename (t->dir, "purplegate.ini", NULL);
}

static void
temp_teardown (TempConfig *t, gconstpointer data)
{
  g_unlink (t->path);
  g_assert_cmpint (g_rmdir (t->dir), ==, 0);
  g_free (t->path);
  g_free (t->dir);
}

static void
write_config (const TempConfig *t, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (t->path, text, -1, &error);
  g_assert_no_error (error);
}

static PgConfig *
load_ok (const TempConfig *t, const char *text)
{
  g_autoptr (GError) error = NULL;
  write_config (t, text);
  PgConfig *config = pg_config_load (t->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  return config;
}

static void
assert_strv (GStrv got, const char *const *want)
{
  g_assert_nonnull (got);
  g_assert_cmpuint (g_strv_length (got), ==, g_strv_length ((GStrv)want));
  for (guint i = 0; want[i] != NULL; i++)
    g_assert_cmpstr (got[i], ==, want[i]);
}

static void
test_minimal_defaults (TempConfig *t, gconstpointer data)
{
  static const char *const empty[] = { NULL };
  g_autoptr (PgConfig) config = load_ok (t, MINIMAL);

  g_assert_cmpstr (config->path, ==, t->path);
  g_assert_cmpstr (config->component_jid, ==, "irc.example.org");
  g_assert_cmpstr (config->secret, ==, "s3cret");
  g_assert_cmpstr (config->protocol, ==, "prpl-irc");
  g_assert_cmpstr (config->host, ==, "127.0.0.1");
  g_assert_cmpuint (config->port, ==, 5347);
  g_assert_null (config->legacy_name);
  g_assert_cmpstr (config->username_suffix, ==, "");
  assert_strv (config->legacy_setting_keys, empty);
  assert_strv (config->legacy_setting_values, empty);
  g_assert_cmpstr (config->database_path, ==, "purplegate.db");
  g_assert_cmpstr (config->key_file, ==, "purplegate.key");
  assert_strv (config->admin_jids, empty);
  assert_strv (config->allowed_domains, empty);
  g_assert_cmpuint (config->verify_timeout_s, ==, 30);
  g_assert_cmpuint (config->max_stanza_bytes, ==, 524288);
  g_assert_cmpuint (config->outbox_max_per_user, ==, 1000);
  g_assert_cmpuint (config->outbox_expiry_s, ==, 86400);
  g_assert_cmpuint (config->session_grace_s, ==, 60);
  g_assert_cmpuint (config->history_messages, ==, 50);
  g_assert_cmpuint (config->history_max_age_s, ==, 86400);
  g_assert_cmpuint (config->join_timeout_s, ==, 30);
  g_assert_cmpint (config->log_level, ==, PG_LOG_INFO);
  g_assert_cmpint (config->stay_connected, ==, PG_STAY_CONNECTED_ASK);

  /* No allowed_domains: everyone may register; no admins: nobody is one. */
  g_assert_true (pg_config_domain_allowed (config, "example.org"));
  g_assert_true (pg_config_domain_allowed (config, "anything.example"));
  g_assert_false (pg_config_is_admin (config, "admin@example.org"));
}

/* purplegate.conf(5)'s example with every key, comments on their own lines (GKeyFile
 * has no trailing comments). */
static const char full_config[] = "# purplegate\n"
                                  "[component]\n"
                                  "jid = IRC.Example.ORG\n"
                                  "host = xmpp.example.org\n"
                                  "port = 5348\n"
                                  "secret = a secret with spaces;and,commas\n"
                                  "\n"
                                  "[legacy]\n"
                                  "protocol = prpl-irc\n"
                                  "name = IRC\n"
                                  "username_suffix = @irc.example.net\n"
                                  "\n"
                                  "[legacy-settings]\n"
                                  "# typed by the protocol's own option list\n"
                                  "port = 6697\n"
                                  "ssl = true\n"
                                  "encoding = UTF-8,ISO-8859-1\n"
                                  "autojoin = #a, #b\n"
                                  "realname =   Purple Gate  \n"
                                  "\n"
                                  "[database]\n"
                                  "path = /var/lib/purplegate/pg.db\n"
                                  "key_file = /var/lib/purplegate/pg.key\n"
                                  "\n"
                                  "[admin]\n"
                                  "jids = Admin@Example.ORG;ops@example.org, root@example.net\n"
                                  "\n"
                                  "[registration]\n"
                                  "allowed_domains = Example.ORG; example.net\n"
                                  "verify_timeout_s = 45\n"
                                  "stay_connected = On\n"
                                  "\n"
                                  "[limits]\n"
                                  "max_stanza_bytes = 10000\n"
                                  "outbox_max_per_user = 50\n"
                                  "outbox_expiry_s = 604800\n"
                                  "session_grace_s = 120\n"
                                  "\n"
                                  "[groupchat]\n"
                                  "history_messages = 20\n"
                                  "history_max_age_s = 3600\n"
                                  "join_timeout_s = 10\n"
                                  "\n"
                                  "[log]\n"
                                  "level = debug\n";

static void
test_every_key (TempConfig *t, gconstpointer data)
{
  static const char *const admins[] = { "admin@example.org", "ops@example.org", "root@example.net", NULL };
  static const char *const domains[] = { "example.org", "example.net", NULL };
  static const char *const setting_keys[] = { "port", "ssl", "encoding", "autojoin", "realname", NULL };
  static const char *const setting_values[]
      = { "6697", "true", "UTF-8,ISO-8859-1", "#a, #b", "Purple Gate", NULL };
  g_autoptr (PgConfig) config = load_ok (t, full_config);

  g_assert_cmpstr (config->component_jid, ==, "irc.example.org");
  g_assert_cmpstr (config->host, ==, "xmpp.example.org");
  g_assert_cmpuint (config->port, ==, 5348);
  g_assert_cmpstr (config->secret, ==, "a secret with spaces;and,commas");
  g_assert_cmpstr (config->protocol, ==, "prpl-irc");
  g_assert_cmpstr (config->legacy_name, ==, "IRC");
  g_assert_cmpstr (config->username_suffix, ==, "@irc.example.net");
  assert_strv (config->legacy_setting_keys, setting_keys);
  assert_strv (config->legacy_setting_values, setting_values);
  g_assert_cmpstr (config->database_path, ==, "/var/lib/purplegate/pg.db");
  g_assert_cmpstr (config->key_file, ==, "/var/lib/purplegate/pg.key");
  assert_strv (config->admin_jids, admins);
  assert_strv (config->allowed_domains, domains);
  g_assert_cmpuint (config->verify_timeout_s, ==, 45);
  g_assert_cmpint (config->stay_connected, ==, PG_STAY_CONNECTED_ON);
  g_assert_cmpuint (config->max_stanza_bytes, ==, 10000);
  g_assert_cmpuint (config->outbox_max_per_user, ==, 50);
  g_assert_cmpuint (config->outbox_expiry_s, ==, 604800);
  g_assert_cmpuint (config->session_grace_s, ==, 120);
  g_assert_cmpuint (config->history_messages, ==, 20);
  g_assert_cmpuint (config->history_max_age_s, ==, 3600);
  g_assert_cmpuint (config->join_timeout_s, ==, 10);
  g_assert_cmpint (config->log_level, ==, PG_LOG_DEBUG);

  /* Prepared forms in, prepared forms matched. */
  g_assert_true (pg_config_is_admin (config, "admin@example.org"));
  g_assert_true (pg_config_is_admin (config, "root@example.net"));
  g_assert_false (pg_config_is_admin (config, "Admin@Example.ORG"));
  g_assert_false (pg_config_is_admin (config, "admin@example.org/res"));
  g_assert_false (pg_config_is_admin (config, "example.org"));
  g_assert_false (pg_config_is_admin (config, "admin@example.net"));
  g_assert_true (pg_config_domain_allowed (config, "example.org"));
  g_assert_true (pg_config_domain_allowed (config, "example.net"));
  g_assert_false (pg_config_domain_allowed (config, "evil.example.org"));
  g_assert_false (pg_config_domain_allowed (config, "example.com"));
}

typedef struct
{
  const char *name;
  const char *text;
  int code;
  const char *message; /* after "FILE: " */
} BadConfig;

static const BadConfig bad_configs[] = {
  { "missing-secret", "[component]\njid = irc.example.org\n[legacy]\nprotocol = prpl-irc\n",
    PG_CONFIG_ERROR_MISSING, "[component] secret: required key is missing" },
  { "missing-jid", "[component]\nsecret = s\n[legacy]\nprotocol = prpl-irc\n", PG_CONFIG_ERROR_MISSING,
    "[component] jid: required key is missing" },
  { "missing-protocol", "[component]\njid = irc.example.org\nsecret = s\n", PG_CONFIG_ERROR_MISSING,
    "[legacy] protocol: required key is missing" },
  { "empty-file", "", PG_CONFIG_ERROR_MISSING, "[component] jid: required key is missing" },
  { "empty-secret", "[component]\njid = irc.example.org\nsecret =\n[legacy]\nprotocol = prpl-irc\n",
    PG_CONFIG_ERROR_MISSING, "[component] secret: must not be empty" },
  { "blank-protocol", "[component]\njid = irc.example.org\nsecret = s\n[legacy]\nprotocol =    \n",
    PG_CONFIG_ERROR_MISSING, "[legacy] protocol: must not be empty" },
  { "unknown-key", MINIMAL "[component]\ncolour = blue\n", PG_CONFIG_ERROR_UNKNOWN_KEY,
    "[component] colour: unknown key" },
  { "key-in-wrong-group", MINIMAL "[log]\nport = 5347\n", PG_CONFIG_ERROR_UNKNOWN_KEY,
    "[log] port: unknown key" },
  { "unknown-group", MINIMAL "[colours]\nsky = blue\n", PG_CONFIG_ERROR_UNKNOWN_KEY,
    "[colours]: unknown group" },
  { "group-case", MINIMAL "[Log]\nlevel = info\n", PG_CONFIG_ERROR_UNKNOWN_KEY, "[Log]: unknown group" },
  { "port-too-big", MINIMAL "[component]\nport = 70000\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[component] port: '70000' is not a port number (1-65535)" },
  { "port-zero", MINIMAL "[component]\nport = 0\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[component] port: '0' is not a port number (1-65535)" },
  { "port-negative", MINIMAL "[component]\nport = -1\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[component] port: '-1' is not a port number (1-65535)" },
  { "port-text", MINIMAL "[component]\nport = xmpp\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[component] port: 'xmpp' is not a port number (1-65535)" },
  { "port-trailing", MINIMAL "[component]\nport = 5347x # default\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[component] port: '5347x' is not a port number (1-65535)" },
  { "timeout-text", MINIMAL "[registration]\nverify_timeout_s = ten\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[registration] verify_timeout_s: 'ten' is not a number of seconds (1-3600)" },
  { "timeout-zero", MINIMAL "[registration]\nverify_timeout_s = 0\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[registration] verify_timeout_s: '0' is not a number of seconds (1-3600)" },
  { "timeout-float", MINIMAL "[registration]\nverify_timeout_s = 1.5\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[registration] verify_timeout_s: '1.5' is not a number of seconds (1-3600)" },
  { "stanza-bytes-too-small", MINIMAL "[limits]\nmax_stanza_bytes = 9999\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[limits] max_stanza_bytes: '9999' is not a size in bytes between 10000 and 67108864" },
  { "stanza-bytes-text", MINIMAL "[limits]\nmax_stanza_bytes = 512k\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[limits] max_stanza_bytes: '512k' is not a size in bytes between 10000 and 67108864" },
  { "stanza-bytes-too-big", MINIMAL "[limits]\nmax_stanza_bytes = 67108865\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[limits] max_stanza_bytes: '67108865' is not a size in bytes between 10000 and 67108864" },
  { "outbox-max-zero", MINIMAL "[limits]\noutbox_max_per_user = 0\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[limits] outbox_max_per_user: '0' is not a number of messages (1-1000000)" },
  { "outbox-max-too-big", MINIMAL "[limits]\noutbox_max_per_user = 1000001\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[limits] outbox_max_per_user: '1000001' is not a number of messages (1-1000000)" },
  { "outbox-expiry-text", MINIMAL "[limits]\noutbox_expiry_s = 1d\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[limits] outbox_expiry_s: '1d' is not a number of seconds (1-2592000)" },
  { "outbox-expiry-too-long", MINIMAL "[limits]\noutbox_expiry_s = 2592001\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[limits] outbox_expiry_s: '2592001' is not a number of seconds (1-2592000)" },
  { "stay-connected", MINIMAL "[registration]\nstay_connected = sometimes\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[registration] stay_connected: 'sometimes' is not one of off, on, ask" },
  { "log-level", MINIMAL "[log]\nlevel = verbose\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[log] level: 'verbose' is not one of error, warning, info, debug" },
  { "admin-full-jid", MINIMAL "[admin]\njids = admin@example.org/desk\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[admin] jids: 'admin@example.org/desk' is not a bare JID" },
  { "admin-malformed", MINIMAL "[admin]\njids = ok@example.org;a@@b\n", PG_CONFIG_ERROR_BAD_VALUE,
    "[admin] jids: 'a@@b' is not a bare JID" },
  { "domain-with-node", MINIMAL "[registration]\nallowed_domains = user@example.org\n",
    PG_CONFIG_ERROR_BAD_VALUE, "[registration] allowed_domains: 'user@example.org' is not a domain" },
  { "component-with-node", "[component]\njid = gateway@irc.example.org\nsecret = s\n[legacy]\nprotocol = p\n",
    PG_CONFIG_ERROR_BAD_VALUE, "[component] jid: 'gateway@irc.example.org' is not a bare domain" },
  { "component-with-resource", "[component]\njid = irc.example.org/r\nsecret = s\n[legacy]\nprotocol = p\n",
    PG_CONFIG_ERROR_BAD_VALUE, "[component] jid: 'irc.example.org/r' is not a bare domain" },
  { "not-ini", "this is not an INI file\n", PG_CONFIG_ERROR_READ, NULL },
  { "key-outside-group", "jid = irc.example.org\n" MINIMAL, PG_CONFIG_ERROR_READ, NULL },
};

static void
test_errors (TempConfig *t, gconstpointer data)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_configs); i++)
    {
      const BadConfig *b = &bad_configs[i];
      g_autoptr (GError) error = NULL;
      g_test_message ("case %s", b->name);

      write_config (t, b->text);
      g_autoptr (PgConfig) config = pg_config_load (t->path, &error);
      g_assert_null (config);
      g_assert_error (error, PG_CONFIG_ERROR, b->code);
      /* Every message starts with the file's name. */
      g_autofree char *prefix = g_strconcat (t->path, ": ", NULL);
      g_assert_true (g_str_has_prefix (error->message, prefix));
      if (b->message != NULL)
        g_assert_cmpstr (error->message + strlen (prefix), ==, b->message);
    }
}

static void
test_component_jid_malformed (TempConfig *t, gconstpointer data)
{
  /* The JID parser's own reason is appended. */
  g_autoptr (GError) error = NULL;
  write_config (t, "[component]\njid = bad..domain@\nsecret = s\n[legacy]\nprotocol = p\n");
  g_autoptr (PgConfig) config = pg_config_load (t->path, &error);
  g_assert_null (config);
  g_assert_error (error, PG_CONFIG_ERROR, PG_CONFIG_ERROR_BAD_VALUE);
  g_autofree char *prefix
      = g_strconcat (t->path, ": [component] jid: 'bad..domain@' is not a bare domain: ", NULL);
  g_assert_true (g_str_has_prefix (error->message, prefix));
}

static void
test_missing_file (TempConfig *t, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *missing = g_build_filename (t->dir, "no-such.ini", NULL);
  g_autoptr (PgConfig) config = pg_config_load (missing, &error);
  g_assert_null (config);
  g_assert_error (error, PG_CONFIG_ERROR, PG_CONFIG_ERROR_READ);
  g_autofree char *prefix = g_strconcat (missing, ": ", NULL);
  g_assert_true (g_str_has_prefix (error->message, prefix));
}

static void
test_boundaries (TempConfig *t, gconstpointer data)
{
  static const struct
  {
    const char *extra;
    guint port, timeout;
    gsize max_bytes;
  } cases[] = {
    { "[component]\nport = 1\n", 1, 30, 524288 },
    { "[component]\nport = 65535\n", 65535, 30, 524288 },
    { "[component]\nport = 5347\n[registration]\nverify_timeout_s = 1\n", 5347, 1, 524288 },
    { "[registration]\nverify_timeout_s = 3600\n", 5347, 3600, 524288 },
    { "[limits]\nmax_stanza_bytes = 67108864\n", 5347, 30, 67108864 },
    /* Empty optional values keep the default. */
    { "[component]\nport =\nhost =\n[registration]\nverify_timeout_s =\n[limits]\nmax_stanza_bytes = \n",
      5347, 30, 524288 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strconcat (MINIMAL, cases[i].extra, NULL);
      g_autofree char *shown = g_strescape (cases[i].extra, NULL);
      g_test_message ("%s", shown);
      g_autoptr (PgConfig) config = load_ok (t, text);
      g_assert_cmpuint (config->port, ==, cases[i].port);
      g_assert_cmpuint (config->verify_timeout_s, ==, cases[i].timeout);
      g_assert_cmpuint (config->max_stanza_bytes, ==, cases[i].max_bytes);
      g_assert_cmpstr (config->host, ==, "127.0.0.1");
    }
}

static void
test_log_levels (void)
{
  static const struct
  {
    const char *text;
    gboolean ok;
    PgLogLevel level;
  } cases[] = {
    { "error", TRUE, PG_LOG_ERROR }, { "warning", TRUE, PG_LOG_WARNING }, { "info", TRUE, PG_LOG_INFO },
    { "debug", TRUE, PG_LOG_DEBUG }, { "DEBUG", TRUE, PG_LOG_DEBUG },     { "", FALSE, PG_LOG_INFO },
    { "warn", FALSE, PG_LOG_INFO },  { "verbose", FALSE, PG_LOG_INFO },   { "info ", FALSE, PG_LOG_INFO },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      PgLogLevel level = (PgLogLevel)99;
      g_test_message ("'%s'", cases[i].text);
      g_assert_cmpint (pg_config_parse_log_level (cases[i].text, &level), ==, cases[i].ok);
      if (cases[i].ok)
        g_assert_cmpint (level, ==, cases[i].level);
      else
        g_assert_cmpint (level, ==, 99);
    }
}

/* purplegate.conf(5)'s example annotates values after a '#': that is a comment, but
 * a '#' inside a value (a secret) is not. */
static void
test_trailing_comments (TempConfig *t, gconstpointer data)
{
  g_autoptr (PgConfig) config = load_ok (t, "[component]\njid = irc.example.org   # required\n"
                                            "secret = a#b # the secret\nport = 5347\t# default\n"
                                            "[legacy]\nprotocol = prpl-irc # id\n"
                                            "[legacy-settings]\nport = 6697 # TLS\n");
  g_assert_cmpstr (config->component_jid, ==, "irc.example.org");
  g_assert_cmpstr (config->secret, ==, "a#b");
  g_assert_cmpuint (config->port, ==, 5347);
  g_assert_cmpstr (config->protocol, ==, "prpl-irc");
  g_assert_cmpstr (config->legacy_setting_values[0], ==, "6697");
}

static void
test_legacy_settings_order (TempConfig *t, gconstpointer data)
{
  static const char *const keys[] = { "zeta", "alpha", "mid", "empty", NULL };
  static const char *const values[] = { "1", "2", "three words", "", NULL };
  g_autoptr (PgConfig) config
      = load_ok (t, MINIMAL "[legacy-settings]\nzeta = 1\nalpha = 2\nmid = three words\nempty =\n");
  assert_strv (config->legacy_setting_keys, keys);
  assert_strv (config->legacy_setting_values, values);
}

static void
test_user_options (TempConfig *t, gconstpointer data)
{
  static const char *const none[] = { NULL };
  static const char *const names[] = { "realname", "nickserv_password", "two words", NULL };
  g_autoptr (PgConfig) plain = load_ok (t, MINIMAL);
  assert_strv (plain->user_options, none);
  g_assert_false (pg_config_user_option_allowed (plain, "realname"));
  g_autoptr (PgConfig) config
      = load_ok (t, MINIMAL "[registration]\nuser_options = realname, nickserv_password;two words ,\n");
  assert_strv (config->user_options, names);
  g_assert_true (pg_config_user_option_allowed (config, "realname"));
  g_assert_false (pg_config_user_option_allowed (config, "port"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/config/load/minimal-defaults", TempConfig, NULL, temp_setup, test_minimal_defaults,
              temp_teardown);
  g_test_add ("/config/load/every-key", TempConfig, NULL, temp_setup, test_every_key, temp_teardown);
  g_test_add ("/config/load/boundaries", TempConfig, NULL, temp_setup, test_boundaries, temp_teardown);
  g_test_add ("/config/load/legacy-settings-order", TempConfig, NULL, temp_setup, test_legacy_settings_order,
              temp_teardown);
  g_test_add ("/config/load/user-options", TempConfig, NULL, temp_setup, test_user_options, temp_teardown);
  g_test_add ("/config/load/trailing-comments", TempConfig, NULL, temp_setup, test_trailing_comments,
              temp_teardown);
  g_test_add ("/config/error/table", TempConfig, NULL, temp_setup, test_errors, temp_teardown);
  g_test_add ("/config/error/malformed-component-jid", TempConfig, NULL, temp_setup,
              test_component_jid_malformed, temp_teardown);
  g_test_add ("/config/error/missing-file", TempConfig, NULL, temp_setup, test_missing_file, temp_teardown);
  g_test_add_func ("/config/log-level/parse", test_log_levels);

  return g_test_run ();
}
