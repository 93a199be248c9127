/* tests/fuzz/fuzz-config.c — the INI configuration (transport/config.c): any
 * file content loads or is refused with a PgConfigError naming the file, and
 * what loads keeps the contract of config.h (prepared domain and JIDs,
 * values in range). The input is written to one memfd per process and
 * loaded through /proc/self/fd, so nothing touches the disk. */
#define _GNU_SOURCE /* memfd_create */
#define G_LOG_DOMAIN "pg-fuzz-config"

#include "tests/fuzz/fuzz-common.h"

#include "transport/config.h"
#include "transport/jid.h"
#include "transport/xml-parser.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *path;
static int fd = -1;

static void
write_input (const uint8_t *data, size_t size)
{
  if (fd < 0)
    {
      fd = memfd_create ("pg-fuzz-config", MFD_CLOEXEC);
      PG_FUZZ_CHECK (fd >= 0, "memfd_create failed");
      path = g_strdup_printf ("/proc/self/fd/%d", fd);
    }
  PG_FUZZ_CHECK (ftruncate (fd, 0) == 0, "ftruncate failed");
  for (size_t done = 0; done < size;)
    {
      ssize_t n = pwrite (fd, data + done, size - done, (off_t)done);
      PG_FUZZ_CHECK (n > 0, "pwrite failed");
      done += (size_t)n;
    }
}

/* A prepared bare JID (or domain when @domain_only) stays itself. */
static void
check_prepared (const char *text, gboolean domain_only)
{
  g_autoptr (PgJid) jid = pg_jid_parse (text, NULL);
  g_autofree char *bare = jid != NULL ? pg_jid_dup_bare (jid) : NULL;

  PG_FUZZ_CHECK (jid != NULL && pg_jid_get_resource (jid) == NULL && strcmp (bare, text) == 0,
                 "'%s' is not prepared", text);
  PG_FUZZ_CHECK (!domain_only || pg_jid_get_node (jid) == NULL, "'%s' is not a domain", text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PgConfig) config = NULL;

  pg_fuzz_init ();
  write_input (data, size);
  config = pg_config_load (path, &error);
  if (config == NULL)
    {
      PG_FUZZ_CHECK (error != NULL && error->domain == PG_CONFIG_ERROR, "refusal without a PgConfigError");
      PG_FUZZ_CHECK (strstr (error->message, path) != NULL, "error does not name the file: %s",
                     error->message);
      return 0;
    }

  PG_FUZZ_CHECK (strcmp (config->path, path) == 0, "path");
  check_prepared (config->component_jid, TRUE);
  PG_FUZZ_CHECK (config->secret != NULL && *config->secret != '\0', "empty secret");
  PG_FUZZ_CHECK (config->protocol != NULL && *config->protocol != '\0', "empty protocol");
  PG_FUZZ_CHECK (config->host != NULL && config->username_suffix != NULL && config->database_path != NULL
                     && config->key_file != NULL,
                 "a defaulted string is NULL");
  PG_FUZZ_CHECK (config->port >= 1, "port 0");
  PG_FUZZ_CHECK (config->verify_timeout_s >= 1 && config->verify_timeout_s <= 3600, "verify_timeout_s");
  PG_FUZZ_CHECK (config->max_stanza_bytes >= PG_XML_MIN_STANZA_BYTES
                     && config->max_stanza_bytes <= 64 * 1024 * 1024,
                 "max_stanza_bytes");
  PG_FUZZ_CHECK (config->log_level >= PG_LOG_ERROR && config->log_level <= PG_LOG_DEBUG, "log level");
  PG_FUZZ_CHECK (config->legacy_setting_keys != NULL && config->legacy_setting_values != NULL
                     && g_strv_length (config->legacy_setting_keys)
                            == g_strv_length (config->legacy_setting_values),
                 "legacy settings");
  PG_FUZZ_CHECK (config->admin_jids != NULL && config->allowed_domains != NULL, "lists");
  for (guint i = 0; config->admin_jids[i] != NULL; i++)
    {
      check_prepared (config->admin_jids[i], FALSE);
      PG_FUZZ_CHECK (pg_config_is_admin (config, config->admin_jids[i]), "admin '%s' not recognised",
                     config->admin_jids[i]);
    }
  for (guint i = 0; config->allowed_domains[i] != NULL; i++)
    {
      check_prepared (config->allowed_domains[i], TRUE);
      PG_FUZZ_CHECK (pg_config_domain_allowed (config, config->allowed_domains[i]), "domain '%s' not allowed",
                     config->allowed_domains[i]);
    }
  if (config->allowed_domains[0] == NULL)
    PG_FUZZ_CHECK (pg_config_domain_allowed (config, "anywhere.example"), "empty list must allow all");
  return 0;
}
