/* events [--stats] [--interval DURATION] ID: the container's resource
 * usage as runc prints it, one JSON object a line:
 *   {"type":"stats","id":ID,"data":{"cpu":...,"memory":...,"pids":...}}
 * read from the cgroup v2 files (cpu.stat, memory.current, memory.max,
 * memory.swap.*, memory.stat, memory.events, pids.current, pids.max).
 * --stats prints one object and exits; without it one object every
 * --interval (default 5s) until the container has stopped.  A file the
 * cgroup lacks (a controller not enabled there) leaves its fields zero,
 * as runc.  Only the container's own cgroup directory is read, through
 * the fd opened from the runtime's state (never a path from the
 * container).  */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim/runc.h"

/* One number from FILE ("max" is UINT64_MAX, as runc); false when absent.  */
static bool
read_u64 (int dirfd, const char *file, uint64_t *out)
{
  char buf[64];
  struct tr_error e;
  int n = read_file_at (dirfd, file, buf, sizeof buf, &e);

  if (n <= 0)
    return false;
  if (strncmp (buf, "max", 3) == 0)
    {
      *out = UINT64_MAX;
      return true;
    }
  *out = strtoull (buf, NULL, 10);
  return true;
}

/* The "key value" lines of FILE into OBJ (as numbers), or KEY's value
 * alone into *ONE when OBJ is NULL.  */
static void
read_keyed (int dirfd, const char *file, cJSON *obj, const char *key, uint64_t *one)
{
  char buf[8192];
  struct tr_error e;
  int n = read_file_at (dirfd, file, buf, sizeof buf, &e);
  char *save = NULL;

  if (n <= 0)
    return;
  for (char *line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *sp = strchr (line, ' ');
      uint64_t v;
      if (sp == NULL)
        continue;
      *sp = '\0';
      v = strtoull (sp + 1, NULL, 10);
      if (obj)
        cJSON_AddNumberToObject (obj, line, (double) v);
      else if (strcmp (line, key) == 0)
        *one = v;
    }
}

static cJSON *
mem_entry (uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddNumberToObject (o, "limit", (double) limit);
  if (usage)
    cJSON_AddNumberToObject (o, "usage", (double) usage);
  if (max)
    cJSON_AddNumberToObject (o, "max", (double) max);
  cJSON_AddNumberToObject (o, "failcnt", (double) failcnt);
  return o;
}

/* runc's types.Stats from cgroup v2 (libcontainer/cgroups/fs2).  */
static cJSON *
stats_json (const char *id, int dirfd)
{
  cJSON *ev = cJSON_CreateObject (), *data = cJSON_CreateObject ();
  cJSON *cpu = cJSON_CreateObject (), *usage = cJSON_CreateObject ();
  cJSON *thr = cJSON_CreateObject (), *mem = cJSON_CreateObject ();
  cJSON *raw = cJSON_CreateObject (), *pids = cJSON_CreateObject ();
  uint64_t u = 0, us = 0, sy = 0, per = 0, nthr = 0, thrt = 0;
  uint64_t cur = 0, lim = UINT64_MAX, peak = 0, oom = 0, swc = 0, swl = UINT64_MAX, file = 0;
  uint64_t pc = 0, pl = 0;

  cJSON_AddStringToObject (ev, "type", "stats");
  cJSON_AddStringToObject (ev, "id", id);

  read_keyed (dirfd, "cpu.stat", NULL, "usage_usec", &u);
  read_keyed (dirfd, "cpu.stat", NULL, "user_usec", &us);
  read_keyed (dirfd, "cpu.stat", NULL, "system_usec", &sy);
  read_keyed (dirfd, "cpu.stat", NULL, "nr_periods", &per);
  read_keyed (dirfd, "cpu.stat", NULL, "nr_throttled", &nthr);
  read_keyed (dirfd, "cpu.stat", NULL, "throttled_usec", &thrt);
  /* runc reports nanoseconds.  */
  if (u)
    cJSON_AddNumberToObject (usage, "total", (double) (u * 1000));
  cJSON_AddNumberToObject (usage, "kernel", (double) (sy * 1000));
  cJSON_AddNumberToObject (usage, "user", (double) (us * 1000));
  cJSON_AddItemToObject (cpu, "usage", usage);
  if (per)
    cJSON_AddNumberToObject (thr, "periods", (double) per);
  if (nthr)
    cJSON_AddNumberToObject (thr, "throttledPeriods", (double) nthr);
  if (thrt)
    cJSON_AddNumberToObject (thr, "throttledTime", (double) (thrt * 1000));
  cJSON_AddItemToObject (cpu, "throttling", thr);
  cJSON_AddItemToObject (data, "cpu", cpu);

  read_u64 (dirfd, "memory.current", &cur);
  read_u64 (dirfd, "memory.max", &lim);
  read_u64 (dirfd, "memory.peak", &peak);
  read_keyed (dirfd, "memory.events", NULL, "max", &oom);
  read_keyed (dirfd, "memory.stat", raw, NULL, NULL);
  read_keyed (dirfd, "memory.stat", NULL, "file", &file);
  read_u64 (dirfd, "memory.swap.current", &swc);
  read_u64 (dirfd, "memory.swap.max", &swl);
  /* runc's v2 swap entry is memory+swap, like v1's memsw.  */
  if (file)
    cJSON_AddNumberToObject (mem, "cache", (double) file);
  cJSON_AddItemToObject (mem, "usage", mem_entry (lim, cur, peak, oom));
  cJSON_AddItemToObject (
      mem, "swap",
      mem_entry (lim == UINT64_MAX || swl == UINT64_MAX ? UINT64_MAX : lim + swl, cur + swc, 0, 0));
  cJSON_AddItemToObject (mem, "kernel", mem_entry (0, 0, 0, 0));
  cJSON_AddItemToObject (mem, "kernelTCP", mem_entry (0, 0, 0, 0));
  if (cJSON_GetArraySize (raw) > 0)
    cJSON_AddItemToObject (mem, "raw", raw);
  else
    cJSON_Delete (raw);
  cJSON_AddItemToObject (data, "memory", mem);

  read_u64 (dirfd, "pids.current", &pc);
  read_u64 (dirfd, "pids.max", &pl);
  if (pc)
    cJSON_AddNumberToObject (pids, "current", (double) pc);
  if (pl && pl != UINT64_MAX)
    cJSON_AddNumberToObject (pids, "limit", (double) pl);
  cJSON_AddItemToObject (data, "pids", pids);
  cJSON_AddItemToObject (data, "cpuset", cJSON_CreateObject ());
  cJSON_AddItemToObject (data, "blkio", cJSON_CreateObject ());
  cJSON_AddItemToObject (data, "hugetlb", cJSON_CreateObject ());
  cJSON_AddItemToObject (data, "intel_rdt", cJSON_CreateObject ());
  cJSON_AddItemToObject (data, "network_interfaces", cJSON_CreateNull ());
  cJSON_AddItemToObject (ev, "data", data);
  return ev;
}

static int
print_stats (const char *id, int dirfd)
{
  cJSON *ev = stats_json (id, dirfd);
  char *s = cJSON_PrintUnformatted (ev);
  int r = s && printf ("%s\n", s) > 0 && fflush (stdout) == 0 ? 0 : -1;

  free (s);
  cJSON_Delete (ev);
  return r;
}

/* Go's time.ParseDuration for what runc's users pass: N{ns,us,ms,s,m,h}.  */
static int
parse_interval (const char *s, struct timespec *out, struct tr_error *err)
{
  static const struct
  {
    const char *unit;
    double ns;
  } units[]
      = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 } };
  char *end;
  double v;

  errno = 0;
  v = strtod (s, &end);
  if (end == s || errno || v <= 0)
    return tr_fail (err, 0, "events: --interval %s: want a positive duration such as 5s or 500ms",
                    s);
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp (end, units[i].unit) == 0)
      {
        double ns = v * units[i].ns;
        if (ns < 1e6 || ns > 86400e9)
          break;
        out->tv_sec = (time_t) (ns / 1e9);
        out->tv_nsec = (long) (ns - (double) out->tv_sec * 1e9);
        return 0;
      }
  return tr_fail (err, 0,
                  "events: --interval %s: want a duration from 1ms to 24h with a unit (ms, s, m, "
                  "h), such as 5s",
                  s);
}

int
runc_cmd_events (int argc, char **argv)
{
  struct tr_error err;
  bool stats = false;
  const char *interval = "5s";
  const struct optdef defs[] = {
    { "stats", 0, OPT_BOOL, &stats },
    { "interval", 0, OPT_STR, &interval },
    { NULL, 0, 0, NULL },
  };
  struct timespec every;
  struct ct_state st;
  struct ct_cgroup cg;
  int i;

  tr_error_clear (&err);
  i = opts_parse ("events", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i != 1)
    {
      tr_fail (&err, 0, "events: exactly one container id is needed (events [options] ID)");
      return log_fail (&err);
    }
  if (parse_interval (interval, &every, &err) < 0)
    return log_fail (&err);
  if (state_load (argv[i], &st, &err) < 0)
    return log_fail (&err);
  if (st.status == ST_STOPPED)
    {
      tr_fail (&err, 0, "container with id %s is not running", st.id);
      return log_fail (&err);
    }
  if (cgpath_open (st.cgroup, &cg, &err) < 0)
    return log_fail (&err);
  if (cg.dirfd < 0)
    {
      tr_fail (&err, 0, "events: container %s has no cgroup (rootless without one)", st.id);
      return log_fail (&err);
    }
  for (;;)
    {
      if (print_stats (st.id, cg.dirfd) < 0)
        {
          close (cg.dirfd);
          tr_fail (&err, errno, "events: write");
          return log_fail (&err);
        }
      if (stats)
        break;
      while (nanosleep (&every, &every) < 0 && errno == EINTR)
        ;
      parse_interval (interval, &every, &err);
      if (state_status (&st) == ST_STOPPED)
        break;
    }
  close (cg.dirfd);
  return 0;
}
