/* legacy/sandbox.c — Landlock for the processes that run libpurple (the
 * workers, the names process): what they may open is limited to the
 * system's read-only trees, a few files of /etc, the plugins' directory and
 * their own directory, so a compromised protocol plugin cannot read the
 * store or the key file. */
#define _GNU_SOURCE 1 /* O_PATH */
#define G_LOG_DOMAIN "pg-sandbox"
#include "build-config.h"

#include "legacy/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/landlock.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif

#define FS_READ (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE                                                                                             \
  (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE            \
   | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG                \
   | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK             \
   | LANDLOCK_ACCESS_FS_MAKE_SYM)

/* Trees a legacy process reads (libraries, plugins, certificates, the resolver's
 * and locale data), and what it reads and writes. */
static const char *const read_trees[] = {
  "/usr",
  "/lib",
  "/lib64",
  "/lib32",
  "/bin",
  "/sbin",
  "/proc",
  "/sys",
  "/dev",
  "/run",
  "/etc/ssl",
  "/etc/ca-certificates",
  "/etc/pki",
  "/etc/gnutls",
  "/etc/crypto-policies",
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/nsswitch.conf",
  "/etc/gai.conf",
  "/etc/host.conf",
  "/etc/services",
  "/etc/protocols",
  "/etc/localtime",
  "/etc/timezone",
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/passwd",
  "/etc/group",
  "/etc/locale.alias",
  "/etc/mime.types",
  "/etc/nss",
  "/etc/gss",
};

static gboolean
add_rule (int ruleset, const char *path, guint64 access)
{
  int fd = open (path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT; /* not on this system: nothing to allow */
  struct landlock_path_beneath_attr rule = { .allowed_access = access, .parent_fd = fd };
  /* Files take only file rights. */
  struct stat st;
  if (fstat (fd, &st) == 0 && !S_ISDIR (st.st_mode))
    rule.allowed_access
        &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE;
  gboolean ok = syscall (SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) == 0;
  close (fd);
  return ok;
}

/* FALSE (and a warning) when the kernel has no Landlock: the process then
 * runs unrestricted. */
static gboolean
restrict_files (const char *own_dir, const char *plugin_dir)
{
  long abi = syscall (SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1)
    {
      g_warning ("this kernel has no Landlock: the legacy worker can open every file the gateway can");
      return FALSE;
    }
  struct landlock_ruleset_attr attr = { .handled_access_fs = FS_READ | FS_WRITE };
  if (abi >= 2)
    attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
  int ruleset = (int)syscall (SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (ruleset < 0)
    {
      g_warning ("cannot create a Landlock ruleset: %s", g_strerror (errno));
      return FALSE;
    }
  gboolean ok = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (read_trees); i++)
    ok &= add_rule (ruleset, read_trees[i], FS_READ);
  if (plugin_dir != NULL && *plugin_dir != '\0')
    ok &= add_rule (ruleset, plugin_dir, FS_READ);
  /* A sanitizer build reads its suppressions and writes its reports where
   * its options say. */
  static const char *const sanitizers[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
  for (guint i = 0; i < G_N_ELEMENTS (sanitizers); i++)
    {
      const char *options = g_getenv (sanitizers[i]);
      g_auto (GStrv) pairs = g_strsplit (options != NULL ? options : "", ":", -1);
      for (guint j = 0; pairs[j] != NULL; j++)
        if (g_str_has_prefix (pairs[j], "suppressions="))
          add_rule (ruleset, pairs[j] + strlen ("suppressions="), FS_READ);
        else if (g_str_has_prefix (pairs[j], "log_path="))
          {
            g_autofree char *dir = g_path_get_dirname (pairs[j] + strlen ("log_path="));
            add_rule (ruleset, dir, attr.handled_access_fs);
          }
    }
  ok &= add_rule (ruleset, own_dir, attr.handled_access_fs);
  ok &= prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
  ok &= syscall (SYS_landlock_restrict_self, ruleset, 0) == 0;
  close (ruleset);
  if (!ok)
    g_warning ("the legacy worker's file restrictions are incomplete: %s", g_strerror (errno));
  return ok;
}

gboolean
pg_sandbox_restrict (const char *own_dir, const char *plugin_dir, const char *const *private_paths)
{
  gboolean ok = restrict_files (own_dir, plugin_dir);
  /* Landlock restricts opening, not access(2): try what a plugin would. */
  for (guint i = 0; private_paths != NULL && private_paths[i] != NULL; i++)
    {
      int probe = open (private_paths[i], O_RDONLY | O_CLOEXEC);
      if (probe >= 0)
        {
          g_warning ("the legacy worker can read %s", private_paths[i]);
          close (probe);
          ok = FALSE;
        }
    }
  return ok;
}

gboolean
pg_sandbox_enter_child (void)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () == 1)
    return FALSE;
  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, SIG_IGN);
  return TRUE;
}
