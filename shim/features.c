/* features: what this runtime recognises (decided at build time, not
 * probed), in the runtime-spec's features.md shape.  */
#define _GNU_SOURCE
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>

#include "shim/runc.h"

static cJSON *
strings (const char *const *v, size_t n)
{
  cJSON *a = cJSON_CreateArray ();
  for (size_t i = 0; i < n; i++)
    cJSON_AddItemToArray (a, cJSON_CreateString (v[i]));
  return a;
}

#define N(a) (sizeof (a) / sizeof (a)[0])

int
runc_cmd_features (int argc, char **argv)
{
  static const char *const hooks[] = { "prestart",       "createRuntime", "createContainer",
                                       "startContainer", "poststart",     "poststop" };
  static const char *const mount_opts[] = {
    "async",      "atime",        "bind",       "defaults",  "dev",          "diratime",
    "dirsync",    "exec",         "lazytime",   "mand",      "noatime",      "nodev",
    "nodiratime", "noexec",       "nomand",     "nosuid",    "nosymfollow",  "private",
    "rbind",      "relatime",     "remount",    "ro",        "rprivate",     "rshared",
    "rslave",     "runbindable",  "rw",         "shared",    "slave",        "strictatime",
    "suid",       "symfollow",    "sync",       "tmpcopyup", "unbindable",   "rro",
    "rrw",        "rnosuid",      "rsuid",      "rnodev",    "rdev",         "rnoexec",
    "rexec",      "rnoatime",     "ratime",     "rrelatime", "rstrictatime", "rnodiratime",
    "rdiratime",  "rnosymfollow", "rsymfollow",
  };
  static const char *const namespaces[]
      = { "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time" };
  static const char *const actions[]
      = { "SCMP_ACT_ALLOW",       "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS",
          "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",   "SCMP_ACT_TRACE", "SCMP_ACT_TRAP" };
  static const char *const operators[]
      = { "SCMP_CMP_EQ", "SCMP_CMP_GE",        "SCMP_CMP_GT", "SCMP_CMP_LE",
          "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE" };
  static const char *const archs[] = { "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
                                       "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM" };
  static const char *const flags[] = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                       "SECCOMP_FILTER_FLAG_SPEC_ALLOW" };
  struct tr_error err;
  const struct optdef defs[] = { { NULL, 0, 0, NULL } };
  cJSON *j, *lin, *o, *caps;
  int last = caps_last_cap ();
  const struct scmp_version *v = seccomp_version ();

  tr_error_clear (&err);
  if (opts_parse ("features", argc, argv, defs, &err) < 0)
    return log_fail (&err);
  j = cJSON_CreateObject ();
  ar_track_json (j);
  cJSON_AddStringToObject (j, "ociVersionMin", OCI_VERSION_MIN);
  cJSON_AddStringToObject (j, "ociVersionMax", OCI_VERSION_MAX);
  cJSON_AddItemToObject (j, "hooks", strings (hooks, N (hooks)));
  cJSON_AddItemToObject (j, "mountOptions", strings (mount_opts, N (mount_opts)));
  lin = cJSON_AddObjectToObject (j, "linux");
  cJSON_AddItemToObject (lin, "namespaces", strings (namespaces, N (namespaces)));
  caps = cJSON_AddArrayToObject (lin, "capabilities");
  for (int c = 0; c <= last; c++)
    {
      const char *n = caps_name (c);
      if (n)
        {
          char buf[64];
          size_t k;
          snprintf (buf, sizeof buf, "CAP_%s", n);
          for (k = 4; buf[k]; k++)
            if (buf[k] >= 'a' && buf[k] <= 'z')
              buf[k] = (char) (buf[k] - 'a' + 'A');
          cJSON_AddItemToArray (caps, cJSON_CreateString (buf));
        }
    }
  o = cJSON_AddObjectToObject (lin, "cgroup");
  cJSON_AddBoolToObject (o, "v1", false);
  cJSON_AddBoolToObject (o, "v2", true);
  cJSON_AddBoolToObject (o, "systemd", false);
  cJSON_AddBoolToObject (o, "systemdUser", false);
  cJSON_AddBoolToObject (o, "rdma", false);
  o = cJSON_AddObjectToObject (lin, "seccomp");
  cJSON_AddBoolToObject (o, "enabled", true);
  cJSON_AddItemToObject (o, "actions", strings (actions, N (actions)));
  cJSON_AddItemToObject (o, "operators", strings (operators, N (operators)));
  cJSON_AddItemToObject (o, "archs", strings (archs, N (archs)));
  cJSON_AddItemToObject (o, "knownFlags", strings (flags, N (flags)));
  cJSON_AddItemToObject (o, "supportedFlags", strings (flags, N (flags)));
  o = cJSON_AddObjectToObject (lin, "apparmor");
  cJSON_AddBoolToObject (o, "enabled", false);
  o = cJSON_AddObjectToObject (lin, "selinux");
  cJSON_AddBoolToObject (o, "enabled", false);
  o = cJSON_AddObjectToObject (lin, "intelRdt");
  cJSON_AddBoolToObject (o, "enabled", false);
  o = cJSON_AddObjectToObject (lin, "mountExtensions");
  cJSON_AddBoolToObject (cJSON_AddObjectToObject (o, "idmap"), "enabled", false);
  o = cJSON_AddObjectToObject (lin, "netDevices");
  cJSON_AddBoolToObject (o, "enabled", false);
  o = cJSON_AddObjectToObject (j, "annotations");
  cJSON_AddStringToObject (o, "org.tactus.runtime.version", OCI_VERSION);
  if (v)
    {
      char buf[32];
      snprintf (buf, sizeof buf, "%u.%u.%u", v->major, v->minor, v->micro);
      cJSON_AddStringToObject (o, "io.github.seccomp.libseccomp.version", buf);
    }
  cJSON_AddStringToObject (o, "org.opencontainers.runc.checkpoint.enabled", "false");
  /* No annotation changes what the runtime does.  */
  cJSON_AddArrayToObject (j, "potentiallyUnsafeConfigAnnotations");
  json_print_pretty (j);
  return 0;
}
