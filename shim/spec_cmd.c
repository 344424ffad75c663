/* spec [--bundle DIR] [--rootless]: write runc's default config.json
 * (busybox-friendly: sh on a terminal, a read-only rootfs/ root).  With
 * --rootless: a user namespace mapping the caller's uid and gid to 0, no
 * network namespace, /sys bound from the host, no cgroup mount, devpts
 * without gid=5, no resources — what an unprivileged user can create.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "shim/runc.h"

#define DEFAULT_SPEC                                                                               \
  "{\n"                                                                                            \
  "  \"ociVersion\": \"" OCI_VERSION "\",\n"                                                       \
  "  \"process\": {\n"                                                                             \
  "    \"terminal\": true,\n"                                                                      \
  "    \"user\": { \"uid\": 0, \"gid\": 0 },\n"                                                    \
  "    \"args\": [ \"sh\" ],\n"                                                                    \
  "    \"env\": [\n"                                                                               \
  "      \"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n"                 \
  "      \"TERM=xterm\"\n"                                                                         \
  "    ],\n"                                                                                       \
  "    \"cwd\": \"/\",\n"                                                                          \
  "    \"capabilities\": {\n"                                                                      \
  "      \"bounding\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"         \
  "      \"effective\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"        \
  "      \"permitted\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"        \
  "      \"ambient\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ]\n"           \
  "    },\n"                                                                                       \
  "    \"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 } ],\n"        \
  "    \"noNewPrivileges\": true\n"                                                                \
  "  },\n"                                                                                         \
  "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"                                    \
  "  \"hostname\": \"" RUNC_NAME "\",\n"                                                           \
  "  \"mounts\": [\n"                                                                              \
  "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"                \
  "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"                 \
  "      \"options\": [ \"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\" ] },\n"         \
  "    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"           \
  "      \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", "              \
  "\"mode=0620\"%s ] },\n"                                                                         \
  "    { \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"               \
  "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\" ] },\n"  \
  "    { \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\",\n"        \
  "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\" ] },\n"                                  \
  "%s"                                                                                             \
  "  ],\n"                                                                                         \
  "  \"linux\": {\n"                                                                               \
  "%s"                                                                                             \
  "    \"namespaces\": [\n"                                                                        \
  "      { \"type\": \"pid\" },\n"                                                                 \
  "%s"                                                                                             \
  "      { \"type\": \"ipc\" },\n"                                                                 \
  "      { \"type\": \"uts\" },\n"                                                                 \
  "      { \"type\": \"mount\" }%s\n"                                                              \
  "    ],\n"                                                                                       \
  "    \"maskedPaths\": [\n"                                                                       \
  "      \"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\",\n"                     \
  "      \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\",\n"                  \
  "      \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"\n"                               \
  "    ],\n"                                                                                       \
  "    \"readonlyPaths\": [\n"                                                                     \
  "      \"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"\n"     \
  "    ]\n"                                                                                        \
  "  }\n"                                                                                          \
  "}\n"

int
runc_cmd_spec (int argc, char **argv)
{
  struct tr_error err;
  const char *bundle = NULL;
  bool rootless = false;
  const struct optdef defs[] = {
    { "bundle", 'b', OPT_STR, &bundle },
    { "rootless", 0, OPT_BOOL, &rootless },
    { NULL, 0, 0, NULL },
  };
  const char *path, *text, *cgroupns;
  struct statfs sfs;
  struct stat st;
  int i;

  tr_error_clear (&err);
  i = opts_parse ("spec", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (i != argc)
    {
      tr_fail (&err, 0, "spec: no arguments are taken (spec [--bundle DIR] [--rootless])");
      return log_fail (&err);
    }
  path = bundle ? ar_printf ("%s/config.json", bundle) : "config.json";
  if (lstat (path, &st) == 0)
    {
      tr_fail (&err, 0, "File %s exists. Remove it first", path);
      return log_fail (&err);
    }
  /* A cgroup namespace only where /sys/fs/cgroup is cgroup v2 alone
   * (unified mode), as runc's spec (libcontainer/specconv.Example).  */
  cgroupns = statfs ("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC
                 ? ",\n      { \"type\": \"cgroup\" }"
                 : "";
  if (rootless)
    text = ar_printf (
        DEFAULT_SPEC, "",
        "    { \"destination\": \"/sys\", \"type\": \"none\", \"source\": \"/sys\",\n"
        "      \"options\": [ \"rbind\", \"nosuid\", \"noexec\", \"nodev\", \"ro\" ] }\n",
        ar_printf (
            "    \"uidMappings\": [ { \"containerID\": 0, \"hostID\": %u, \"size\": 1 } ],\n"
            "    \"gidMappings\": [ { \"containerID\": 0, \"hostID\": %u, \"size\": 1 } ],\n",
            (unsigned) geteuid (), (unsigned) getegid ()),
        "      { \"type\": \"user\" },\n", cgroupns);
  else
    text = ar_printf (
        DEFAULT_SPEC, ", \"gid=5\"",
        "    { \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\",\n"
        "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"ro\" ] },\n"
        "    { \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\",\n"
        "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\" ] }\n",
        "    \"resources\": { \"devices\": [ { \"allow\": false, \"access\": \"rwm\" } ] },\n",
        "      { \"type\": \"network\" },\n", cgroupns);
  if (write_file_atomic (path, text, strlen (text), 0666 & ~0022, &err) < 0)
    return log_fail (&err);
  return 0;
}
