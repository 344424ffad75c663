/* What an untrusted project-local layer may say (policy/grants.c), case by
 * case: each layer text, against the trusted layers' config, grants
 * exactly the listed things.  And the userdir helpers the trust store and
 * checkpoints rely on: a private directory that is not ours or not private
 * is refused, a planted symlink is never followed.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <linux/openat2.h>

#include "common/strv.h"
#include "common/userdir.h"
#include "policy/config.h"
#include "policy/grants.h"
#include "policy/yaml_tree.h"
#include "tests/unit/unit.h"

/* BASE_TEXT (the trusted layers), LAYER_TEXT: the grants, joined by "; ".  */
static char *
grants_of (const char *base_text, const char *layer_text)
{
  struct tr_config base, alone;
  struct tr_error err;
  struct ynode *t;
  char **g = NULL;
  static char out[1024];

  config_init (&base);
  config_init (&alone);
  base.quiet = alone.quiet = true;
  if (config_load_text (&base, "base.yml", base_text, strlen (base_text), &err) < 0
      || config_load_text (&alone, "layer.yml", layer_text, strlen (layer_text), &err) < 0
      || (t = ytree_parse ("layer.yml", layer_text, strlen (layer_text), &err)) == NULL)
    {
      snprintf (out, sizeof out, "ERROR %s", err.msg);
      config_free (&base);
      config_free (&alone);
      return out;
    }
  out[0] = '\0';
  if (config_grants (t, &alone, &base, &g) < 0)
    snprintf (out, sizeof out, "ENOMEM");
  for (char **x = g; x && *x; x++)
    snprintf (out + strlen (out), sizeof out - strlen (out), "%s%s", x == g ? "" : "; ", *x);
  strv_free (g);
  ytree_free (t);
  config_free (&base);
  config_free (&alone);
  return out;
}

static void
expect_grants (const char *name, const char *base, const char *layer, const char *want)
{
  const char *got = grants_of (base, layer);
  report (strcmp (got, want) == 0, name, "got \"%s\", want \"%s\"", got, want);
}

static void
grants (void)
{
  /* Restricting: honoured untrusted.  */
  expect_grants ("grants: lower limits, ro workspace, approve none, no JIT grant nothing", "",
                 "sandbox:\n  enabled: true\n  network: none\n  mount_current_dir: ro\n"
                 "  limits: {memory: 64m, pids: 4, cpus: 0.5}\n  timeout: 10\n  jit: false\n"
                 "policy:\n  approve: none\n  max_tokens: 100\n  models: [openai/x]\n"
                 "  stages: {a: [host.ping]}\ndefault_model: openai/x\n",
                 "");
  expect_grants ("grants: overlay and off workspaces grant nothing", "",
                 "sandbox:\n  mount_current_dir: overlay\n", "");
  /* Grants.  */
  expect_grants ("grants: host tools are named", "",
                 "policy:\n  tools:\n    host.a: {}\n    host.b:\n      command: [/bin/true]\n",
                 "policy.tools (host.a, host.b)");
  expect_grants ("grants: volumes, env, sandbox off", "",
                 "sandbox:\n  enabled: false\n  volumes: [/etc:/workspace/x:ro]\n  env: {A: b}\n",
                 "sandbox.enabled: false; sandbox.volumes; sandbox.env");
  expect_grants ("grants: base URL, storage path, API keys, MCP servers", "",
                 "openai_base_url: http://x\nstorage_path: /tmp/s\nopenai_api_key: sk-x\n"
                 "mcp_servers: {fs: {command: x}}\nanthropic_api_key: y\n",
                 "openai_base_url; storage_path; openai_api_key; mcp_servers; anthropic_api_key");
  expect_grants ("grants: approve all", "", "policy:\n  approve: all\n", "policy.approve: all");
  expect_grants ("grants: limits above the defaults", "",
                 "sandbox:\n  limits: {memory: 1g, pids: 64}\n",
                 "sandbox.limits.memory raised; sandbox.limits.pids raised");
  /* Relative to the trusted layers.  */
  expect_grants (
      "grants: limits up to the trusted ones grant nothing",
      "sandbox:\n  limits: {memory: 2g, cpus: 2}\n  timeout: 60\npolicy:\n  max_tokens: 1000\n",
      "sandbox:\n  limits: {memory: 1g, cpus: 1}\n  timeout: 30\npolicy:\n  max_tokens: 500\n", "");
  expect_grants ("grants: limits above the trusted ones",
                 "sandbox:\n  limits: {cpus: 1}\n  timeout: 60\npolicy:\n  max_tokens: 10\n",
                 "sandbox:\n  limits: {cpus: 2}\n  timeout: 61\npolicy:\n  max_tokens: 11\n",
                 "sandbox.limits.cpus raised; sandbox.timeout raised; policy.max_tokens raised");
  expect_grants ("grants: rw when the trusted layers say ro", "sandbox:\n  mount_current_dir: ro\n",
                 "sandbox:\n  mount_current_dir: rw\n", "sandbox.mount_current_dir: rw");
  expect_grants ("grants: rw when the trusted layers say rw too grants nothing", "",
                 "sandbox:\n  mount_current_dir: true\n", "");
  expect_grants ("grants: JIT on when the trusted layers turned it off", "sandbox:\n  jit: false\n",
                 "sandbox:\n  jit: true\n", "sandbox.jit: true");
  expect_grants ("grants: models and stages add to trusted lists",
                 "policy:\n  models: [a/b]\n  stages: {s: [host.x]}\n",
                 "policy:\n  models: [c/d]\n  stages: {t: [host.x]}\n",
                 "policy.models (adds to your models); policy.stages (adds to your stages)");
  expect_grants ("grants: protected paths added grant nothing", "",
                 "sandbox:\n  protected_paths: [\"*.pem\"]\n", "");
  expect_grants ("grants: protected paths added (map) grant nothing", "",
                 "sandbox:\n  protected_paths: {add: [secrets.env]}\n", "");
  expect_grants ("grants: a protected path removed is a grant", "",
                 "sandbox:\n  protected_paths: {add: [x], remove: [.envrc]}\n",
                 "sandbox.protected_paths.remove");
  /* An unknown key is an error; its name is shown as data there too.  */
  {
    const char *got = grants_of ("", "\"evil\\e[2J\\u0007key\": 1\n");
    report (strstr (got, "unknown key 'evil?[2J?key'") != NULL && strchr (got, '\033') == NULL,
            "config: an unknown key is an error and its name is shown as data", "got \"%s\"", got);
  }
}

static void
private_dirs (void)
{
  char tmpl[] = "/tmp/tactus-unit.XXXXXX", path[PATH_MAX + 32];
  char *dir = mkdtemp (tmpl);
  struct tr_error err;
  char *buf;
  size_t len;
  int fd;

  if (dir == NULL)
    {
      report (false, "userdir: scratch directory", "%s", strerror (errno));
      return;
    }
  snprintf (path, sizeof path, "%s/state/tactus-run", dir);
  fd = userdir_open (path, true, &err);
  report (fd >= 0, "userdir: a private directory is made with its parents", "%s", err.msg);
  if (fd >= 0)
    {
      report (userdir_write (fd, path, "f", "data", 4, &err) == 0
                  && userdir_read (fd, path, "f", 100, &buf, &len, &err) == 0 && buf && len == 4
                  && memcmp (buf, "data", 4) == 0,
              "userdir: write then read back", "%s", err.msg);
      free (buf);
      if (symlinkat ("/etc/passwd", fd, "link") < 0)
        report (false, "userdir: symlinkat", "%s", strerror (errno));
      report (userdir_read (fd, path, "link", 1 << 20, &buf, &len, &err) < 0
                  && strstr (err.msg, "symlink"),
              "userdir: a planted symlink is never read through", "%s", err.msg);
      report (userdir_write (fd, path, "link", "x", 1, &err) == 0,
              "userdir: writing over a planted symlink replaces the link", "%s", err.msg);
      {
        struct stat st;
        report (fstatat (fd, "link", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode)
                    && (st.st_mode & 0777) == 0600,
                "userdir: ... with a 0600 file, the link's target untouched", "mode %o",
                st.st_mode);
      }
      close (fd);
    }
  chmod (path, 0755);
  fd = userdir_open (path, false, &err);
  report (fd < 0 && strstr (err.msg, "must be private"),
          "userdir: a group/other-accessible directory is refused", "%s", err.msg);
  if (fd >= 0)
    close (fd);
  chmod (path, 0700);
  if (geteuid () == 0 && chown (path, 65533, 65533) == 0)
    {
      fd = userdir_open (path, false, &err);
      report (fd < 0 && strstr (err.msg, "belongs to uid 65533"),
              "userdir: a directory another user owns is refused", "%s", err.msg);
      if (fd >= 0)
        close (fd);
    }
  /* The walk that stands in for openat2 where the kernel has none.  */
  {
    char sub[PATH_MAX + 32];
    int d = open (dir, O_PATH | O_DIRECTORY), f;
    snprintf (sub, sizeof sub, "%s/a/b", dir);
    snprintf (path, sizeof path, "mkdir -p %s && ln -s /etc %s/a/link && ln -s b %s/a/blink", sub,
              dir, dir);
    if (d < 0 || system (path) != 0)
      report (false, "userdir: walk setup", "%s", path);
    f = tr_openat2_walk (d, "a/b", O_RDONLY | O_DIRECTORY, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    report (f >= 0, "userdir: the openat2 walk opens a real path", "%s", strerror (errno));
    if (f >= 0)
      close (f);
    f = tr_openat2_walk (d, "a/link/passwd", O_RDONLY, RESOLVE_NO_SYMLINKS);
    report (f < 0 && errno == ELOOP, "userdir: the walk refuses a symlink on the way (ELOOP)",
            "fd %d, %s", f, strerror (errno));
    f = tr_openat2_walk (d, "a/blink", O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
    report (f < 0 && errno == ELOOP, "userdir: the walk refuses a symlink at the end (ELOOP)",
            "fd %d, %s", f, strerror (errno));
    f = tr_openat2_walk (d, "../etc", O_RDONLY | O_DIRECTORY, RESOLVE_BENEATH);
    report (f < 0 && errno == EXDEV, "userdir: the walk keeps beneath its directory (..)", "fd %d",
            f);
    f = tr_openat2_walk (d, "/etc", O_RDONLY | O_DIRECTORY, RESOLVE_BENEATH);
    report (f < 0 && errno == EXDEV, "userdir: the walk keeps beneath its directory (/)", "fd %d",
            f);
    if (d >= 0)
      close (d);
  }
  snprintf (path, sizeof path, "%s/sym", dir);
  if (symlink ("/tmp", path) < 0)
    report (false, "userdir: symlink", "%s", strerror (errno));
  fd = userdir_open (path, true, &err);
  report (fd < 0 && strstr (err.msg, "symlink"),
          "userdir: a symlink in place of the directory is refused", "%s", err.msg);
  if (fd >= 0)
    close (fd);
  {
    char cmd[PATH_MAX + 16];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    if (system (cmd) != 0)
      report (false, "userdir: cleanup", "%s", cmd);
  }
}

int
main (void)
{
  grants ();
  private_dirs ();
  return failures ? 1 : 0;
}
