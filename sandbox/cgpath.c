/* A container's cgroup v2 directory at a path the caller chooses
 * (linux.cgroupsPath), as opposed to cgroup.c's anonymous per-run
 * cgroups.  Only the cgroup2 hierarchy is ever touched: its mount is found
 * by filesystem type (find_cgroup2_mount), never guessed, so the v1
 * hierarchies of a hybrid host are never created in, written or joined.
 *
 * Controllers: a limit needs its controller enabled in the
 * cgroup.subtree_control of every ancestor; they are enabled on the way
 * down.  A controller the hierarchy does not offer is an error naming it,
 * never a silently ignored limit.  OCI's v1-style values are converted as
 * runc converts them (shares -> cpu.weight, swap = memory+swap, ...).  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/container.h"
#include "sandbox/internal.h"

int
cgpath_mount (char *out, size_t size, struct tr_error *err)
{
  if (find_cgroup2_mount (out, size) < 0)
    return tr_fail (err, 0, "cgroup: no cgroup2 hierarchy is mounted (cgroup v1 is never used)");
  return 0;
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

bool
cgpath_has_controller (const char *mount, const char *ctrl)
{
  char buf[512], path[600];
  struct tr_error e;

  snprintf (path, sizeof path, "%s/cgroup.controllers", mount);
  if (read_file_at (AT_FDCWD, path, buf, sizeof buf, &e) < 0)
    return false;
  return has_word (buf, ctrl);
}

/* The controllers RES needs, space separated.  */
static void
needed_controllers (const struct ct_resources *res, char *out, size_t size)
{
  out[0] = '\0';
  if (res == NULL)
    return;
#define ADD(c)                                                                                     \
  do                                                                                               \
    {                                                                                              \
      if (!has_word (out, c))                                                                      \
        snprintf (out + strlen (out), size - strlen (out), "%s%s", out[0] ? " " : "", c);          \
    }                                                                                              \
  while (0)
  if (res->memory_limit || res->memory_reservation || res->memory_swap)
    ADD ("memory");
  if (res->has_pids)
    ADD ("pids");
  if (res->cpu_shares || res->cpu_quota || res->cpu_period || res->has_cpu_idle)
    ADD ("cpu");
  if ((res->cpus && res->cpus[0]) || (res->mems && res->mems[0]))
    ADD ("cpuset");
  if (res->blkio_weight)
    ADD ("io");
  for (size_t i = 0; i < res->n_unified; i++)
    {
      char ctrl[64];
      const char *dot = strchr (res->unified_keys[i], '.');
      size_t n = dot ? (size_t) (dot - res->unified_keys[i]) : 0;
      if (n == 0 || n >= sizeof ctrl)
        continue;
      memcpy (ctrl, res->unified_keys[i], n);
      ctrl[n] = '\0';
      ADD (ctrl);
    }
#undef ADD
}

static int
enable_in (int dirfd, const char *path, const char *ctrls, struct tr_error *err)
{
  char have[512], sub[512], word[64];
  const char *p = ctrls;

  if (read_file_at (dirfd, "cgroup.controllers", have, sizeof have, err) < 0)
    return tr_wrap (err, "cgroup %s", path);
  if (read_file_at (dirfd, "cgroup.subtree_control", sub, sizeof sub, err) < 0)
    return tr_wrap (err, "cgroup %s", path);
  while (*p)
    {
      size_t n = strcspn (p, " ");
      char cmd[80];
      if (n == 0 || n >= sizeof word)
        break;
      memcpy (word, p, n);
      word[n] = '\0';
      p += n;
      while (*p == ' ')
        p++;
      if (has_word (sub, word))
        continue;
      if (!has_word (have, word))
        return tr_fail (err, 0,
                        "linux.resources: the %s controller is not available in cgroup v2 "
                        "at %s (cgroup v1 is never used)",
                        word, path);
      snprintf (cmd, sizeof cmd, "+%s", word);
      if (write_file_at (dirfd, "cgroup.subtree_control", cmd, err) < 0)
        return tr_wrap (err, "cgroup %s: enable the %s controller%s", path, word,
                        err->errnum == EBUSY ? " (the cgroup holds processes itself)" : "");
    }
  return 0;
}

int
cgpath_create (const char *rel, const struct ct_resources *res, struct ct_cgroup *cg,
               struct tr_error *err)
{
  char ctrls[256];
  char buf[1024];
  cleanup_close int cur = -1;
  char *comps[128];
  int n = 0;
  char *save = NULL, *c;

  memset (cg, 0, sizeof *cg);
  cg->dirfd = -1;
  if (cgpath_mount (cg->mount, sizeof cg->mount, err) < 0)
    return -1;
  if (snprintf (buf, sizeof buf, "%s", rel) >= (int) sizeof buf)
    return tr_fail (err, ENAMETOOLONG, "linux.cgroupsPath");
  for (c = strtok_r (buf, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      if (strcmp (c, ".") == 0)
        continue;
      if (strcmp (c, "..") == 0 || n >= 128)
        return tr_fail (err, EINVAL, "linux.cgroupsPath %s: '..' is not allowed", rel);
      comps[n++] = c;
    }
  if (n == 0)
    return tr_fail (err, EINVAL, "linux.cgroupsPath %s: names the cgroup2 root", rel);
  needed_controllers (res, ctrls, sizeof ctrls);
  cur = open (cg->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0)
    return tr_fail (err, errno, "cgroup: open %s", cg->mount);
  snprintf (cg->path, sizeof cg->path, "%s", cg->mount);
  for (int i = 0; i < n; i++)
    {
      int next;
      if (ctrls[0] && enable_in (cur, cg->path, ctrls, err) < 0)
        return -1;
      if (mkdirat (cur, comps[i], 0755) < 0 && errno != EEXIST)
        return tr_fail (err, errno, "cgroup: create %s/%s", cg->path, comps[i]);
      next = openat (cur, comps[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (next < 0)
        return tr_fail (err, errno, "cgroup: open %s/%s", cg->path, comps[i]);
      close (cur);
      cur = next;
      snprintf (cg->path + strlen (cg->path), sizeof cg->path - strlen (cg->path), "/%s", comps[i]);
    }
  {
    char procs[64];
    if (read_file_at (cur, "cgroup.procs", procs, sizeof procs, err) < 0)
      return tr_wrap (err, "cgroup %s", cg->path);
    /* Not ours alone: the caller warns (runc does) and must never
     * remove it.  */
    cg->shared = procs[0] != '\0';
  }
  {
    /* A frozen cgroup (its own cgroup.freeze, or an ancestor's: "frozen 1"
     * in cgroup.events) would freeze the init the moment it joins, and
     * create would wait for it for ever.  */
    char fr[8] = "", ev[512] = "";
    struct tr_error ignore;
    read_file_at (cur, "cgroup.freeze", fr, sizeof fr, &ignore);
    read_file_at (cur, "cgroup.events", ev, sizeof ev, &ignore);
    if (fr[0] == '1' || strstr (ev, "frozen 1"))
      return tr_fail (err, EBUSY,
                      "cgroup %s is frozen (thaw it: echo 0 > its cgroup.freeze, or "
                      "its frozen parent's; or choose another linux.cgroupsPath)",
                      cg->path);
  }
  cg->dirfd = steal_fd (&cur);
  if (res && cgpath_apply (cg, res, err) < 0)
    {
      close (cg->dirfd);
      cg->dirfd = -1;
      return -1;
    }
  return 0;
}

int
cgpath_enable_for (const struct ct_cgroup *cg, const struct ct_resources *res, struct tr_error *err)
{
  char ctrls[256];
  char dir[1024];
  size_t mlen;
  cleanup_close int cur = -1;

  needed_controllers (res, ctrls, sizeof ctrls);
  if (ctrls[0] == '\0')
    return 0;
  if (cg->mount[0] == '\0' && cgpath_mount ((char *) cg->mount, sizeof cg->mount, err) < 0)
    return -1;
  mlen = strlen (cg->mount);
  if (strncmp (cg->path, cg->mount, mlen) != 0 || cg->path[mlen] != '/')
    return tr_fail (err, 0, "cgroup %s is not under %s", cg->path, cg->mount);
  /* Every ancestor from the mount down to the container's parent.  */
  for (const char *p = cg->path + mlen; p; p = strchr (p + 1, '/'))
    {
      snprintf (dir, sizeof dir, "%.*s", (int) (p - cg->path), cg->path);
      cur = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (cur < 0)
        return tr_fail (err, errno, "cgroup %s", dir);
      if (enable_in (cur, dir, ctrls, err) < 0)
        return -1;
      close (cur);
      cur = -1;
    }
  return 0;
}

int
cgpath_open (const char *abs, struct ct_cgroup *cg, struct tr_error *err)
{
  memset (cg, 0, sizeof *cg);
  cg->dirfd = -1;
  if (abs == NULL || abs[0] == '\0')
    return 0;
  find_cgroup2_mount (cg->mount, sizeof cg->mount);
  snprintf (cg->path, sizeof cg->path, "%s", abs);
  cg->dirfd = open (abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg->dirfd < 0)
    return tr_fail (err, errno, "cgroup %s", abs);
  return 0;
}

static int
wr (const struct ct_cgroup *cg, const char *file, const char *value, struct tr_error *err)
{
  if (write_file_at (cg->dirfd, file, value, err) < 0)
    return tr_wrap (err, "cgroup %s", cg->path);
  return 0;
}

static const char *
num_or_max (char *buf, size_t size, int64_t v)
{
  if (v < 0)
    return "max";
  snprintf (buf, size, "%" PRId64, v);
  return buf;
}

int
cgpath_apply (const struct ct_cgroup *cg, const struct ct_resources *res, struct tr_error *err)
{
  char v[64], v2[64];

  if (cg->dirfd < 0)
    return 0;
  if (res->memory_reservation
      && wr (cg, "memory.low", num_or_max (v, sizeof v, res->memory_reservation), err) < 0)
    return -1;
  if (res->memory_limit
      && wr (cg, "memory.max", num_or_max (v, sizeof v, res->memory_limit), err) < 0)
    return -1;
  if (res->memory_swap)
    {
      /* OCI's swap is memory+swap (v1); v2's memory.swap.max is swap alone.  */
      if (res->memory_swap < 0 || res->memory_limit <= 0)
        snprintf (v, sizeof v, "max");
      else
        snprintf (v, sizeof v, "%" PRId64, res->memory_swap - res->memory_limit);
      if (wr (cg, "memory.swap.max", v, err) < 0)
        return -1;
    }
  if (res->has_pids && wr (cg, "pids.max", num_or_max (v, sizeof v, res->pids_limit), err) < 0)
    return -1;
  if (res->cpu_shares)
    {
      /* runc's conversion of [2, 262144] to [1, 10000] */
      uint64_t s = res->cpu_shares < 2 ? 2 : res->cpu_shares;
      snprintf (v, sizeof v, "%" PRIu64, 1 + ((s - 2) * 9999) / 262142);
      if (wr (cg, "cpu.weight", v, err) < 0)
        return -1;
    }
  if (res->cpu_quota || res->cpu_period)
    {
      uint64_t period = res->cpu_period ? res->cpu_period : 100000;
      if (res->cpu_quota == 0)
        {
          /* only the period changes: keep the quota */
          char cur[64] = "max";
          struct tr_error e;
          read_file_at (cg->dirfd, "cpu.max", cur, sizeof cur, &e);
          cur[strcspn (cur, " \n")] = '\0';
          snprintf (v2, sizeof v2, "%s %" PRIu64, cur, period);
        }
      else
        snprintf (v2, sizeof v2, "%s %" PRIu64, num_or_max (v, sizeof v, res->cpu_quota), period);
      if (wr (cg, "cpu.max", v2, err) < 0)
        return -1;
    }
  if (res->has_cpu_idle)
    {
      snprintf (v, sizeof v, "%" PRId64, res->cpu_idle);
      if (wr (cg, "cpu.idle", v, err) < 0)
        return -1;
    }
  if (res->cpus && res->cpus[0] && wr (cg, "cpuset.cpus", res->cpus, err) < 0)
    return -1;
  if (res->mems && res->mems[0] && wr (cg, "cpuset.mems", res->mems, err) < 0)
    return -1;
  if (res->blkio_weight)
    {
      /* [10, 1000] -> [1, 10000] */
      snprintf (v, sizeof v, "default %u", 1 + ((unsigned) res->blkio_weight - 10) * 9999 / 990);
      if (wr (cg, "io.weight", v, err) < 0)
        return -1;
    }
  for (size_t i = 0; i < res->n_unified; i++)
    if (wr (cg, res->unified_keys[i], res->unified_values[i], err) < 0)
      return tr_wrap (err, "linux.resources.unified.%s", res->unified_keys[i]);
  return 0;
}

int
cgpath_frozen (const struct ct_cgroup *cg)
{
  char buf[16];
  struct tr_error e;

  if (cg->dirfd < 0 || read_file_at (cg->dirfd, "cgroup.freeze", buf, sizeof buf, &e) < 0)
    return -1;
  return buf[0] == '1';
}

static int
events_frozen (const struct ct_cgroup *cg)
{
  char buf[256];
  struct tr_error e;
  const char *p;

  if (read_file_at (cg->dirfd, "cgroup.events", buf, sizeof buf, &e) < 0)
    return -1;
  p = strstr (buf, "frozen ");
  return p ? p[7] == '1' : -1;
}

int
cgpath_freeze (const struct ct_cgroup *cg, bool freeze, struct tr_error *err)
{
  struct stat st;

  if (cg->dirfd < 0)
    return tr_fail (err, 0, "the container has no cgroup (pause and resume need cgroup v2)");
  if (fstatat (cg->dirfd, "cgroup.freeze", &st, 0) < 0)
    return tr_fail (err, errno,
                    "cgroup %s has no cgroup.freeze (the cgroup v2 freezer needs "
                    "Linux 5.2)",
                    cg->path);
  if (wr (cg, "cgroup.freeze", freeze ? "1" : "0", err) < 0)
    return -1;
  /* Frozen is reached asynchronously; cgroup.events tells when.  */
  for (int i = 0; i < 1000; i++)
    {
      int f = events_frozen (cg);
      if (f < 0 || f == (int) freeze)
        return 0;
      poll (NULL, 0, 2);
    }
  return tr_fail (err, ETIMEDOUT, "cgroup %s: %s did not complete", cg->path,
                  freeze ? "freeze" : "thaw");
}

static int
collect (int dirfd, pid_t **out, size_t *n, size_t *cap, int depth)
{
  char *buf;
  size_t size = 1 << 16;
  ssize_t r;
  DIR *d;
  struct dirent *e;
  int fd;

  if (depth > 32)
    return 0;
  buf = malloc (size);
  if (buf == NULL)
    return -1;
  fd = openat (dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      size_t len = 0;
      while (len + 1 < size && (r = read (fd, buf + len, size - 1 - len)) > 0)
        len += (size_t) r;
      buf[len] = '\0';
      close (fd);
      for (char *p = buf; *p;)
        {
          char *end;
          long v = strtol (p, &end, 10);
          if (end == p)
            break;
          if (*n == *cap)
            {
              size_t nc = *cap ? *cap * 2 : 64;
              pid_t *np = realloc (*out, nc * sizeof *np);
              if (np == NULL)
                {
                  free (buf);
                  return -1;
                }
              *out = np;
              *cap = nc;
            }
          (*out)[(*n)++] = (pid_t) v;
          p = end;
          while (*p == '\n')
            p++;
        }
    }
  free (buf);
  fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return 0;
    }
  while ((e = readdir (d)) != NULL)
    if (e->d_type == DT_DIR && e->d_name[0] != '.')
      {
        int sub = openat (dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sub >= 0)
          {
            collect (sub, out, n, cap, depth + 1);
            close (sub);
          }
      }
  closedir (d);
  return 0;
}

int
cgpath_pids (const struct ct_cgroup *cg, pid_t **out, size_t *n, struct tr_error *err)
{
  size_t cap = 0;

  *out = NULL;
  *n = 0;
  if (cg->dirfd < 0)
    return 0;
  if (collect (cg->dirfd, out, n, &cap, 0) < 0)
    return tr_fail (err, ENOMEM, "cgroup %s: list the processes", cg->path);
  return 0;
}

int
cgpath_signal_all (const struct ct_cgroup *cg, int signo, struct tr_error *err)
{
  pid_t *pids = NULL;
  size_t n = 0;
  struct stat st;

  if (cg->dirfd < 0)
    return tr_fail (err, 0, "the container has no cgroup: cannot signal all its processes");
  if (signo == SIGKILL && fstatat (cg->dirfd, "cgroup.kill", &st, 0) == 0)
    return wr (cg, "cgroup.kill", "1", err);
  if (cgpath_pids (cg, &pids, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    kill (pids[i], signo);
  free (pids);
  return 0;
}

static bool
populated (const struct ct_cgroup *cg)
{
  char buf[256];
  struct tr_error e;
  const char *p;

  if (read_file_at (cg->dirfd, "cgroup.events", buf, sizeof buf, &e) < 0)
    return false;
  p = strstr (buf, "populated ");
  return p && p[10] == '1';
}

int
cgpath_destroy (struct ct_cgroup *cg, struct tr_error *err)
{
  struct tr_error e;

  if (cg->dirfd < 0)
    return 0;
  for (int i = 0; i < 500 && populated (cg); i++)
    {
      if (i == 0)
        {
          cgpath_signal_all (cg, SIGKILL, &e);
          /* A frozen cgroup still dies on SIGKILL; thaw anyway so that
           * nothing is left stuck.  */
          if (cgpath_frozen (cg) == 1)
            write_file_at (cg->dirfd, "cgroup.freeze", "0", &e);
        }
      poll (NULL, 0, 2);
    }
  close (cg->dirfd);
  cg->dirfd = -1;
  for (int i = 0; i < 200; i++)
    {
      if (rmdir (cg->path) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY)
        break;
      poll (NULL, 0, 5);
    }
  return tr_fail (err, errno, "cgroup %s: remove", cg->path);
}
