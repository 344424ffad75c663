/* sandbox/hostcheck.c: the reasons `sandbox status` gives when a cage
 * cannot be built, each with its fix.  The sysctls and masks are read from
 * fake proc trees; the outer seccomp case is real: a child installs a
 * filter refusing unshare (as a container runtime's default profile does
 * without CAP_SYS_ADMIN), sees unshare(CLONE_NEWUSER) fail, and must be
 * told to use deploy/seccomp/tactus-run.json.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/status.h"
#include "tests/unit/unit.h"

static char root[] = "/tmp/tr-hostcheck-XXXXXX";

static void
put (const char *rel, const char *text)
{
  char path[512], dir[512];
  FILE *f;

  snprintf (path, sizeof path, "%s/%s", root, rel);
  snprintf (dir, sizeof dir, "%s", path);
  for (char *p = dir + strlen (root) + 1; (p = strchr (p, '/')) != NULL; p++)
    {
      *p = '\0';
      mkdir (dir, 0755);
      *p = '/';
    }
  f = fopen (path, "w");
  if (f)
    {
      fputs (text, f);
      fclose (f);
    }
}

static void
expect (const char *name, int errnum, bool privileged, const char *want)
{
  char why[512];

  hostcheck_userns_reason (root, errnum, privileged, why, sizeof why);
  report (strstr (why, want) != NULL, name, "want '%s' in: %s", want, why);
}

int
main (void)
{
  char masked[256], hint[512];
  int status;
  pid_t pid;

  if (mkdtemp (root) == NULL)
    {
      report (false, "hostcheck: scratch proc tree", "mkdtemp");
      return 1;
    }
  put ("self/status", "Name:\tx\nSeccomp:\t0\nSeccomp_filters:\t0\n");
  put ("sys/user/max_user_namespaces", "0\n");
  expect ("hostcheck: user.max_user_namespaces=0 is named with its sysctl", EPERM, false,
          "sysctl -w user.max_user_namespaces=");
  put ("sys/user/max_user_namespaces", "15000\n");
  put ("sys/kernel/unprivileged_userns_clone", "0\n");
  expect ("hostcheck: kernel.unprivileged_userns_clone=0 is named (unprivileged)", EPERM, false,
          "sysctl -w kernel.unprivileged_userns_clone=1");
  put ("sys/kernel/unprivileged_userns_clone", "1\n");
  put ("sys/kernel/apparmor_restrict_unprivileged_userns", "1\n");
  expect ("hostcheck: AppArmor's userns restriction is named with both fixes", EACCES, false,
          "kernel.apparmor_restrict_unprivileged_userns=0");
  expect ("hostcheck: AppArmor's restriction is not blamed for root (positive control)", EACCES,
          true, "Permission denied");
  put ("sys/kernel/apparmor_restrict_unprivileged_userns", "0\n");
  put ("self/status", "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n");
  expect ("hostcheck: an outer seccomp filter (fake status) points at the shipped profile", EPERM,
          false, "deploy/seccomp/tactus-run.json");
  expect ("hostcheck: ENOSPC is the namespace limit", ENOSPC, true, "limit is reached");

  /* The real thing: a filter that refuses unshare with EPERM.  */
  pid = fork ();
  if (pid == 0)
    {
      scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
      char why[512];
      int e;
      if (ctx == NULL || seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (unshare), 0) < 0
          || seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (clone3), 0) < 0
          || seccomp_load (ctx) < 0)
        _exit (3);
      e = unshare (CLONE_NEWUSER) == 0 ? 0 : errno;
      if (e != EPERM)
        _exit (4);
      hostcheck_userns_reason ("/proc", e, geteuid () == 0, why, sizeof why);
      _exit (strstr (why, "deploy/seccomp/tactus-run.json") && strstr (why, "filter") ? 0 : 5);
    }
  status = -1;
  waitpid (pid, &status, 0);
  report (WIFEXITED (status) && WEXITSTATUS (status) == 0,
          "hostcheck: under a real seccomp filter refusing unshare, the reason names the filter "
          "and the shipped profile",
          "child status %d", WIFEXITED (status) ? WEXITSTATUS (status) : -1);

  /* /proc masks, as podman/docker/containerd put them.  */
  put ("self/status", "Name:\tx\nSeccomp:\t0\nSeccomp_filters:\t0\n");
  put ("self/mountinfo", "22 1 0:5 / /proc rw,nosuid - proc proc rw\n"
                         "30 22 0:6 /null /proc/kcore rw - devtmpfs udev rw\n"
                         "31 22 0:30 / /proc/acpi ro - tmpfs tmpfs ro\n"
                         "32 22 0:5 /sys /proc/sys ro - proc proc rw\n");
  report (hostcheck_proc_masked (root, masked, sizeof masked) == 3
              && strcmp (masked, "/proc/kcore, /proc/acpi, /proc/sys") == 0,
          "hostcheck: mounts over /proc paths are counted (not /proc itself)", "%s", masked);
  hostcheck_cage_hint (root, hint, sizeof hint);
  report (strstr (hint, "unmask=/proc/*") && strstr (hint, "procMount: Unmasked"),
          "hostcheck: a masked /proc gives the unmask fix", "%s", hint);
  put ("self/mountinfo", "22 1 0:5 / /proc rw,nosuid - proc proc rw\n"
                         "23 1 0:6 / /dev rw - devtmpfs udev rw\n");
  hostcheck_cage_hint (root, hint, sizeof hint);
  report (hint[0] == '\0', "hostcheck: an unmasked /proc gives no hint (positive control)", "%s",
          hint);
  put ("self/status", "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t2\n");
  hostcheck_cage_hint (root, hint, sizeof hint);
  report (strstr (hint, "2 filters") && strstr (hint, "deploy/seccomp/tactus-run.json")
              && !strstr (hint, "unmask"),
          "hostcheck: under an outer seccomp filter the cage hint names the shipped profile", "%s",
          hint);
  {
    char cmd[600];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system (cmd) != 0)
      report (false, "hostcheck: cleanup", "%s", cmd);
  }
  return failures ? 1 : 0;
}
