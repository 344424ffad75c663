/* cgroup v2: one fresh cgroup per run, created before the child exists and
 * entered atomically by clone3(CLONE_INTO_CGROUP).
 *
 * Only a cgroup2 hierarchy is ever touched.  On hybrid hosts the v1
 * controller hierarchies belong to the host and are never opened: the
 * cgroup2 mount is found by filesystem type in /proc/self/mountinfo, never
 * by a path guess.  Even without controllers a v2 cgroup gives cgroup.kill
 * (kill everything, atomically), cgroup.freeze and cpu.stat; the limits
 * (memory.max, pids.max, cpu.max) need the controllers delegated to the
 * directory runs are created in.  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

int
find_cgroup2_mount (char *out, size_t size)
{
  static const char *const usual[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
  cleanup_fclose FILE *f = NULL;
  cleanup_free char *line = NULL;
  size_t cap = 0;
  struct statfs sf;

  /* The usual places first, by filesystem type (a v1 hierarchy is never
   * taken for v2): reading mountinfo costs more than the rest of this.  */
  for (size_t i = 0; i < sizeof usual / sizeof usual[0]; i++)
    if (statfs (usual[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC && strlen (usual[i]) < size)
      {
        strcpy (out, usual[i]);
        return 0;
      }
  f = fopen ("/proc/self/mountinfo", "re");
  if (f == NULL)
    return -1;
  while (getline (&line, &cap, f) > 0)
    {
      /* "... mountpoint opts [optional fields] - fstype source superopts" */
      char *sep = strstr (line, " - ");
      char *fields[5];
      char *save = NULL, *p = line;
      int n = 0;

      if (sep == NULL || strncmp (sep + 3, "cgroup2 ", 8) != 0)
        continue;
      while (n < 5 && (fields[n] = strtok_r (p, " ", &save)) != NULL)
        {
          p = NULL;
          n++;
        }
      if (n == 5 && strlen (fields[4]) < size)
        {
          strcpy (out, fields[4]);
          return 0;
        }
    }
  return -1;
}

static int
own_cgroup_path (char *out, size_t size)
{
  cleanup_fclose FILE *f = fopen ("/proc/self/cgroup", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  if (f == NULL)
    return -1;
  while ((n = getline (&line, &cap, f)) > 0)
    if (strncmp (line, "0::", 3) == 0)
      {
        if (line[n - 1] == '\n')
          line[n - 1] = '\0';
        if (strlen (line + 3) >= size)
          return -1;
        strcpy (out, line + 3);
        return 0;
      }
  return -1;
}

static bool
has_word (const char *list, const char *word)
{
  size_t len = strlen (word);
  for (const char *p = list; (p = strstr (p, word)) != NULL; p += len)
    if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\n' || p[len] == '\0'))
      return true;
  return false;
}

/* Which limits a run cgroup can get.  A controller the base offers can be
 * enabled for its children only if it already is, or if the base holds no
 * process itself (the cgroup v2 "no internal processes" rule; the root is
 * exempt).  */
static void
limit_controllers (struct cgroup_info *info)
{
  char path[600], sub[256] = "", procs[64] = "";
  struct tr_error e;
  bool root, empty;

  snprintf (path, sizeof path, "%s/cgroup.subtree_control", info->base);
  read_file_at (AT_FDCWD, path, sub, sizeof sub, &e);
  snprintf (path, sizeof path, "%s/cgroup.procs", info->base);
  read_file_at (AT_FDCWD, path, procs, sizeof procs, &e);
  root = strcmp (info->base, info->mount) == 0;
  empty = procs[0] == '\0';
  info->memory
      = has_word (sub, "memory") || (has_word (info->controllers, "memory") && (root || empty));
  info->pids = has_word (sub, "pids") || (has_word (info->controllers, "pids") && (root || empty));
  info->cpu = has_word (sub, "cpu") || (has_word (info->controllers, "cpu") && (root || empty));
  if (!(info->memory && info->pids && info->cpu))
    {
      bool offered = has_word (info->controllers, "memory") && has_word (info->controllers, "pids")
                     && has_word (info->controllers, "cpu");
      snprintf (info->limits_reason, sizeof info->limits_reason,
                offered
                    ? "%s holds processes, so its memory/pids/cpu controllers cannot be enabled "
                      "for run cgroups (start tactus-run from a leaf of a delegated subtree)"
                    : "%s does not offer the memory, pids and cpu controllers",
                info->base);
    }
}

int
cgroup_inspect (struct cgroup_info *info)
{
  char own[256], path[600], ctl[256] = "";
  struct tr_error e;

  memset (info, 0, sizeof *info);
  if (find_cgroup2_mount (info->mount, sizeof info->mount) < 0)
    {
      snprintf (info->reason, sizeof info->reason, "no cgroup2 hierarchy is mounted");
      return 0;
    }
  info->v2 = true;
  if (own_cgroup_path (own, sizeof own) < 0)
    {
      snprintf (info->reason, sizeof info->reason, "cannot read our cgroup from /proc/self/cgroup");
      return 0;
    }
  snprintf (info->base, sizeof info->base, "%s%s", info->mount, strcmp (own, "/") ? own : "");
  if (access (info->base, W_OK) < 0)
    {
      snprintf (info->reason, sizeof info->reason,
                "%s is not writable by us (no delegated cgroup v2 subtree)", info->base);
      return 0;
    }
  info->writable = true;
  /* Controllers the run cgroups can get: those base offers (enabling them
   * for children may still fail if base holds processes).  */
  snprintf (path, sizeof path, "%s/cgroup.controllers", info->base);
  if (read_file_at (AT_FDCWD, path, ctl, sizeof ctl, &e) >= 0)
    {
      ctl[strcspn (ctl, "\n")] = '\0';
      snprintf (info->controllers, sizeof info->controllers, "%s", ctl);
    }
  limit_controllers (info);
  return 0;
}

/* Enable CTRL for children of BASE if BASE offers it.  This fails (EBUSY)
 * when BASE itself holds processes and is not the root: then the limit
 * falls back to rlimits.  */
static bool
enable_controller (int basefd, const char *ctrl)
{
  char buf[256], cmd[32];
  struct tr_error e;

  if (read_file_at (basefd, "cgroup.subtree_control", buf, sizeof buf, &e) >= 0
      && has_word (buf, ctrl))
    return true;
  if (read_file_at (basefd, "cgroup.controllers", buf, sizeof buf, &e) < 0 || !has_word (buf, ctrl))
    return false;
  snprintf (cmd, sizeof cmd, "+%s", ctrl);
  return write_file_at (basefd, "cgroup.subtree_control", cmd, &e) == 0;
}

static int
write_limits (struct sandbox_cgroup *cg, const struct sandbox_limits *lim, int basefd, bool require,
              struct tr_error *err)
{
  char value[64];

  if (lim->memory_bytes && enable_controller (basefd, "memory"))
    {
      snprintf (value, sizeof value, "%" PRIu64, lim->memory_bytes);
      if (write_file_at (cg->dirfd, "memory.max", value, err) < 0
          || write_file_at (cg->dirfd, "memory.swap.max", "0", err) < 0)
        return tr_wrap (err, "cgroup %s", cg->path);
      /* One OOM kills the whole run, not a random process inside it.  */
      write_file_at (cg->dirfd, "memory.oom.group", "1", err);
      cg->memory = true;
    }
  if (lim->pids && enable_controller (basefd, "pids"))
    {
      snprintf (value, sizeof value, "%" PRIu64, lim->pids);
      if (write_file_at (cg->dirfd, "pids.max", value, err) < 0)
        return tr_wrap (err, "cgroup %s", cg->path);
      cg->pids = true;
    }
  if (lim->cpus > 0 && enable_controller (basefd, "cpu"))
    {
      const unsigned period = 100000;
      unsigned quota = (unsigned) (lim->cpus * period);
      snprintf (value, sizeof value, "%u %u", quota < 1000 ? 1000 : quota, period);
      if (write_file_at (cg->dirfd, "cpu.max", value, err) < 0)
        return tr_wrap (err, "cgroup %s", cg->path);
      cg->cpu = true;
    }
  if (require
      && ((lim->memory_bytes && !cg->memory) || (lim->pids && !cg->pids)
          || (lim->cpus > 0 && !cg->cpu)))
    {
      struct cgroup_info info;
      cgroup_inspect (&info);
      return tr_fail (err, 0, "cgroup limits: %s (or drop the requirement to fall back to rlimits)",
                      info.limits_reason[0] ? info.limits_reason
                                            : "a controller could not be enabled");
    }
  return 0;
}

/* The pid namespace the launcher's pid is counted in (its inode number):
 * part of a run cgroup's name, so that remove_stale only judges launchers
 * whose pid it can look up.  */
static unsigned long
pidns_id (void)
{
  struct stat st;
  return stat ("/proc/self/ns/pid", &st) == 0 ? (unsigned long) st.st_ino : 0;
}

/* A launcher killed with SIGKILL cannot remove its run cgroup.  The next
 * start removes the run cgroups (tactus-run-<pid>-<pidns>-<n>) of launchers
 * of our pid namespace that no longer exist.  rmdir refuses a cgroup that
 * still holds a process (or a child cgroup), so no run is ever disturbed;
 * a reused pid keeps its cgroup until that pid is free again.  Only BASE,
 * in the cgroup2 hierarchy, is looked at.  */
static void
remove_stale (int basefd, unsigned long ns)
{
  int dfd;
  DIR *d;
  struct dirent *e;

  if (ns == 0 || (dfd = openat (basefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return;
  d = fdopendir (dfd);
  if (d == NULL)
    {
      close (dfd);
      return;
    }
  while ((e = readdir (d)) != NULL)
    {
      long pid;
      unsigned long their_ns;
      int end = 0;

      if (e->d_type != DT_DIR || strncmp (e->d_name, "tactus-run-", 11) != 0)
        continue;
      if (sscanf (e->d_name, "tactus-run-%ld-%lx-%*x%n", &pid, &their_ns, &end) != 2 || end == 0
          || e->d_name[end] != '\0' || their_ns != ns || pid <= 0 || pid == (long) getpid ())
        continue;
      if (kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
        continue;
      unlinkat (dirfd (d), e->d_name, AT_REMOVEDIR);
    }
  closedir (d);
}

int
cgroup_create (const struct sandbox_limits *lim, bool require, struct sandbox_cgroup *cg,
               struct tr_error *err)
{
  struct cgroup_info info;
  cleanup_close int basefd = -1;
  char name[80];
  struct timespec ts;
  unsigned long ns;

  memset (cg, 0, sizeof *cg);
  cg->dirfd = -1;
  cgroup_inspect (&info);
  if (!info.writable)
    {
      if (require)
        return tr_fail (err, 0, "cgroup: %s (run as root, or delegate a cgroup v2 subtree)",
                        info.reason);
      return 0;
    }
  basefd = open (info.base, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (basefd < 0)
    return require ? tr_fail (err, errno, "cgroup: open %s", info.base) : 0;
  ns = pidns_id ();
  remove_stale (basefd, ns);
  clock_gettime (CLOCK_MONOTONIC, &ts);
  snprintf (name, sizeof name, "tactus-run-%d-%lx-%lx", (int) getpid (), ns,
            (unsigned long) (ts.tv_nsec ^ ts.tv_sec));
  if (mkdirat (basefd, name, 0755) < 0)
    return require ? tr_fail (err, errno, "cgroup: create %s/%s", info.base, name) : 0;
  snprintf (cg->path, sizeof cg->path, "%s/%s", info.base, name);
  cg->dirfd = openat (basefd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg->dirfd < 0)
    {
      unlinkat (basefd, name, AT_REMOVEDIR);
      return require ? tr_fail (err, errno, "cgroup: open %s", cg->path) : 0;
    }
  if (write_limits (cg, lim, basefd, require, err) < 0)
    {
      cgroup_destroy (cg);
      return -1;
    }
  return 0;
}

void
cgroup_kill (const struct sandbox_cgroup *cg)
{
  struct tr_error e;
  if (cg->dirfd >= 0)
    write_file_at (cg->dirfd, "cgroup.kill", "1", &e);
}

static uint64_t
read_key (const struct sandbox_cgroup *cg, const char *file, const char *key)
{
  char buf[2048];
  struct tr_error e;
  size_t klen = strlen (key);

  if (cg->dirfd < 0 || read_file_at (cg->dirfd, file, buf, sizeof buf, &e) < 0)
    return 0;
  for (char *line = buf; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    if (strncmp (line, key, klen) == 0 && line[klen] == ' ')
      return strtoull (line + klen + 1, NULL, 10);
  return 0;
}

bool
cgroup_oom_killed (const struct sandbox_cgroup *cg)
{
  return read_key (cg, "memory.events", "oom_kill") > 0;
}

uint64_t
cgroup_cpu_usec (const struct sandbox_cgroup *cg)
{
  return read_key (cg, "cpu.stat", "usage_usec");
}

/* Wait (bounded) until the cgroup has no process left.  */
static void
wait_empty (const struct sandbox_cgroup *cg)
{
  for (int i = 0; i < 200; i++)
    {
      if (read_key (cg, "cgroup.events", "populated") == 0)
        return;
      cgroup_kill (cg);
      poll (NULL, 0, 5);
    }
}

void
cgroup_destroy (struct sandbox_cgroup *cg)
{
  if (cg->dirfd < 0)
    return;
  cgroup_kill (cg);
  wait_empty (cg);
  close (cg->dirfd);
  cg->dirfd = -1;
  for (int i = 0; i < 100 && rmdir (cg->path) < 0 && errno == EBUSY; i++)
    poll (NULL, 0, 2);
}
