/* Why a cage cannot be built here, and the exact fix, for `sandbox
 * status`: the reasons an outer container runtime or the host's settings
 * refuse what the cage is made of.  Everything is read from a proc root
 * (PROC: "/proc", or a fake tree in tests), never guessed from a
 * distribution name; the caller has already seen the refusal itself
 * (probe.c tries each namespace for real).  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/status.h"

static bool
read_at (const char *proc, const char *rel, char *buf, size_t size)
{
  char path[512];
  struct tr_error e;

  snprintf (path, sizeof path, "%s/%s", proc, rel);
  if (read_file_at (AT_FDCWD, path, buf, size, &e) < 0)
    return false;
  buf[strcspn (buf, "\n")] = '\0';
  return true;
}

/* The "Seccomp:" mode and "Seccomp_filters:" count of PROC/self/status.  */
static int
seccomp_mode (const char *proc, int *filters)
{
  char buf[4096];
  struct tr_error e;
  char path[512];
  const char *p;
  int mode = -1;

  *filters = 0;
  snprintf (path, sizeof path, "%s/self/status", proc);
  if (read_file_at (AT_FDCWD, path, buf, sizeof buf, &e) < 0)
    return -1;
  if ((p = strstr (buf, "\nSeccomp:")) != NULL)
    mode = atoi (p + 9);
  if ((p = strstr (buf, "\nSeccomp_filters:")) != NULL)
    *filters = atoi (p + 17);
  return mode;
}

void
hostcheck_userns_reason (const char *proc, int errnum, bool privileged, char *out, size_t size)
{
  char v[64];
  int filters;

  if (read_at (proc, "sys/user/max_user_namespaces", v, sizeof v) && strcmp (v, "0") == 0)
    {
      snprintf (out, size,
                "user.max_user_namespaces is 0: sysctl -w user.max_user_namespaces=15000 "
                "(and the same in /etc/sysctl.d/ to keep it)");
      return;
    }
  if (!privileged && read_at (proc, "sys/kernel/unprivileged_userns_clone", v, sizeof v)
      && strcmp (v, "0") == 0)
    {
      snprintf (out, size,
                "kernel.unprivileged_userns_clone is 0 (unprivileged user namespaces are off): "
                "sysctl -w kernel.unprivileged_userns_clone=1");
      return;
    }
  if (!privileged && read_at (proc, "sys/kernel/apparmor_restrict_unprivileged_userns", v, sizeof v)
      && strcmp (v, "1") == 0)
    {
      snprintf (out, size,
                "AppArmor restricts unprivileged user namespaces "
                "(kernel.apparmor_restrict_unprivileged_userns=1): give tactus-run an AppArmor "
                "profile that allows \"userns,\" (/etc/apparmor.d/tactus-run), or sysctl -w "
                "kernel.apparmor_restrict_unprivileged_userns=0");
      return;
    }
  if (errnum == EPERM && seccomp_mode (proc, &filters) == 2)
    {
      snprintf (
          out, size,
          "a seccomp filter outside tactus-run (%d filter%s on this process: a container "
          "runtime's default profile) refuses unshare/clone(CLONE_NEWUSER): run the container "
          "with deploy/seccomp/tactus-run.json (podman/docker --security-opt "
          "seccomp=tactus-run.json; Kubernetes seccompProfile type Localhost)",
          filters, filters == 1 ? "" : "s");
      return;
    }
  if (errnum == ENOSPC)
    {
      snprintf (out, size,
                "the user namespace limit is reached (user.max_user_namespaces, or the nesting "
                "depth of 32): raise the sysctl or nest fewer containers");
      return;
    }
  snprintf (out, size, "%s: this kernel or its settings refuse user namespaces", strerror (errnum));
}

int
hostcheck_proc_masked (const char *proc, char *out, size_t size)
{
  char path[512], line[1024];
  FILE *f;
  int n = 0;

  out[0] = '\0';
  snprintf (path, sizeof path, "%s/self/mountinfo", proc);
  f = fopen (path, "re");
  if (f == NULL)
    return 0;
  while (fgets (line, sizeof line, f))
    {
      /* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
      char mp[512];
      if (sscanf (line, "%*s %*s %*s %*s %511s", mp) != 1)
        continue;
      if (strncmp (mp, "/proc/", 6) != 0)
        continue;
      if (n < 4)
        snprintf (out + strlen (out), size - strlen (out), "%s%s", n ? ", " : "", mp);
      n++;
    }
  fclose (f);
  return n;
}

void
hostcheck_cage_hint (const char *proc, char *out, size_t size)
{
  char masked[256];
  int n = hostcheck_proc_masked (proc, masked, sizeof masked), filters;

  out[0] = '\0';
  if (n > 0)
    snprintf (out, size,
              "; /proc is partly masked here (%d mount%s over it: %s%s), so the kernel refuses the "
              "cage its own proc: podman run --security-opt unmask=/proc/*, docker run "
              "--security-opt systempaths=unconfined, Kubernetes securityContext.procMount: "
              "Unmasked",
              n, n == 1 ? "" : "s", masked, n > 4 ? ", ..." : "");
  if (seccomp_mode (proc, &filters) == 2)
    snprintf (out + strlen (out), size - strlen (out),
              "; a seccomp filter outside tactus-run (%d filter%s: a container runtime's profile) "
              "may refuse the cage's mounts or its host name: run the container with "
              "deploy/seccomp/tactus-run.json",
              filters, filters == 1 ? "" : "s");
}
