/* The systemd cgroup driver: a container's cgroup is a transient scope
 * unit (see cgroup_systemd.h).
 *
 * Why a placeholder process: systemd refuses to start a scope without a
 * process in it, and the container's init is cloned directly into its
 * cgroup (clone3 CLONE_INTO_CGROUP, container.c), so the cgroup must exist
 * before the init does.  A forked child that only waits (and dies with us,
 * PR_SET_PDEATHSIG) is the scope's first process; once the init is in the
 * scope the placeholder is killed and reaped.  tactus-runc itself never
 * moves between cgroups.
 *
 * Why this is safe: only systemd's own D-Bus API is used (no write to a
 * cgroup systemd owns above the scope); with Delegate=yes systemd leaves
 * the scope's contents to us, and the limits are both unit properties and
 * files we write ourselves.  libsystemd is dlopen'ed here only; its types
 * are opaque and the few functions used are declared below (the sd-bus ABI
 * is stable), so no libsystemd-dev header is needed to build.  */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "shim/cgroup_systemd.h"
#include "shim/runc.h"

/* ------------------------------------------------------------ names */

bool
systemd_cgroup_is_unit_path (const char *p)
{
  return p && p[0] && p[0] != '/' && strchr (p, ':') != NULL;
}

/* systemd's unit-name alphabet (unit-name.c: VALID_CHARS), minus '\\' and
 * '@' (escapes and templates have no place in a container's scope).  */
static bool
valid_unit_chars (const char *s)
{
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
          || *s == ':' || *s == '-' || *s == '_' || *s == '.'))
      return false;
  return true;
}

static bool
ends_with (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  return a >= b && strcmp (s + a - b, suffix) == 0;
}

int
systemd_slice_expand (const char *slice, char *out, size_t size, struct tr_error *err)
{
  size_t len = strlen (slice), base;

  out[0] = '\0';
  if (!ends_with (slice, ".slice") || len == 6 || len >= 256 || !valid_unit_chars (slice)
      || strchr (slice, '/'))
    return tr_fail (err, EINVAL,
                    "linux.cgroupsPath: \"%s\" is not a slice name (NAME.slice, letters, digits, "
                    "'-', '_', '.', ':')",
                    slice);
  if (strcmp (slice, "-.slice") == 0)
    return 0; /* the root slice */
  base = len - 6;
  /* systemd's rules: no leading, trailing or doubled '-' in the prefix.  */
  if (slice[0] == '-' || slice[base - 1] == '-' || strstr (slice, "--") != NULL)
    return tr_fail (err, EINVAL,
                    "linux.cgroupsPath: slice \"%s\": a '-' may not start or end the name "
                    "nor be doubled",
                    slice);
  for (size_t i = 0; i <= base; i++)
    if (i == base || slice[i] == '-')
      {
        size_t have = strlen (out);
        int n = snprintf (out + have, size - have, "/%.*s.slice", (int) i, slice);
        if (n < 0 || (size_t) n >= size - have)
          return tr_fail (err, ENAMETOOLONG, "linux.cgroupsPath: slice \"%s\"", slice);
      }
  return 0;
}

int
systemd_cgroup_parse (const char *p, const char *id, struct sd_cgroup_path *out,
                      struct tr_error *err)
{
  char buf[512], slice_dir[768];
  const char *parts[3];
  char *c1, *c2;
  int n;

  memset (out, 0, sizeof *out);
  if (p == NULL || p[0] == '\0')
    snprintf (buf, sizeof buf, "system.slice:tactus-runc:%s", id);
  else if (snprintf (buf, sizeof buf, "%s", p) >= (int) sizeof buf)
    return tr_fail (err, ENAMETOOLONG, "linux.cgroupsPath");
  c1 = strchr (buf, ':');
  c2 = c1 ? strchr (c1 + 1, ':') : NULL;
  if (buf[0] == '/' || c1 == NULL || c2 == NULL || strchr (c2 + 1, ':') != NULL)
    return tr_fail (err, EINVAL,
                    "linux.cgroupsPath \"%s\": the systemd cgroup driver (--systemd-cgroup) "
                    "expects \"slice:prefix:name\" (e.g. \"system.slice:tactus-runc:%s\"); "
                    "for a cgroupfs path drop --systemd-cgroup",
                    p, id);
  *c1 = *c2 = '\0';
  parts[0] = buf[0] ? buf : "system.slice";
  parts[1] = c1 + 1;
  parts[2] = c2 + 1;
  if (parts[2][0] == '\0')
    return tr_fail (err, EINVAL,
                    "linux.cgroupsPath \"%s\": the name (after the second ':') is empty", p);
  if (ends_with (parts[2], ".slice"))
    return tr_fail (err, EINVAL,
                    "linux.cgroupsPath \"%s\": a container's own cgroup is a scope; a name "
                    "ending in .slice is not supported",
                    p);
  if (!valid_unit_chars (parts[1]) || !valid_unit_chars (parts[2]))
    return tr_fail (err, EINVAL,
                    "linux.cgroupsPath \"%s\": prefix and name may hold only letters, digits, "
                    "'-', '_', '.', ':'",
                    p);
  if (systemd_slice_expand (parts[0], slice_dir, sizeof slice_dir, err) < 0)
    return -1;
  snprintf (out->slice, sizeof out->slice, "%s", parts[0]);
  if (parts[1][0])
    n = snprintf (out->unit, sizeof out->unit, "%s-%s.scope", parts[1], parts[2]);
  else
    n = snprintf (out->unit, sizeof out->unit, "%s.scope", parts[2]);
  if (n < 0 || (size_t) n >= sizeof out->unit)
    return tr_fail (err, ENAMETOOLONG, "linux.cgroupsPath \"%s\": the unit name is too long", p);
  n = snprintf (out->rel, sizeof out->rel, "%s/%s", slice_dir, out->unit);
  if (n < 0 || (size_t) n >= sizeof out->rel)
    return tr_fail (err, ENAMETOOLONG, "linux.cgroupsPath \"%s\"", p);
  return 0;
}

/* ------------------------------------------------------------ state record */

int
systemd_unit_record (const char *state_dir, const char *unit, struct tr_error *err)
{
  return write_file_atomic (ar_printf ("%s/systemd-unit", state_dir), unit, strlen (unit), 0600,
                            err);
}

bool
systemd_unit_of (const char *state_dir, char *unit, size_t size)
{
  cleanup_close int fd = open (ar_printf ("%s/systemd-unit", state_dir), O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0 || size == 0 || (n = read (fd, unit, size - 1)) <= 0)
    return false;
  unit[n] = '\0';
  return ends_with (unit, ".scope") && valid_unit_chars (unit);
}

/* ------------------------------------------------------------ sd-bus */

typedef struct sd_bus sd_bus;
typedef struct sd_bus_message sd_bus_message;
typedef struct sd_bus_slot sd_bus_slot;
typedef struct
{
  const char *name;
  const char *message;
  int _need_free;
} sd_bus_error;
typedef int (*sd_bus_message_handler_t) (sd_bus_message *m, void *userdata, sd_bus_error *ret);

static struct
{
  void *h;
  int (*open_system) (sd_bus **);
  int (*bus_new) (sd_bus **);
  int (*set_address) (sd_bus *, const char *);
  int (*start) (sd_bus *);
  sd_bus *(*flush_close_unref) (sd_bus *);
  int (*new_method_call) (sd_bus *, sd_bus_message **, const char *, const char *, const char *,
                          const char *);
  int (*append) (sd_bus_message *, const char *, ...);
  int (*open_container) (sd_bus_message *, char, const char *);
  int (*close_container) (sd_bus_message *);
  int (*call) (sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
  int (*read) (sd_bus_message *, const char *, ...);
  sd_bus_message *(*message_unref) (sd_bus_message *);
  void (*error_free) (sd_bus_error *);
  int (*add_match) (sd_bus *, sd_bus_slot **, const char *, sd_bus_message_handler_t, void *);
  int (*process) (sd_bus *, sd_bus_message **);
  int (*wait) (sd_bus *, uint64_t);
} sd;

#define LIBSYSTEMD_SONAME "libsystemd.so.0"

static int
sd_load (struct tr_error *err)
{
  if (sd.h)
    return 0;
  sd.h = dlopen (LIBSYSTEMD_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (sd.h == NULL)
    return tr_fail (err, 0,
                    "--systemd-cgroup: cannot load " LIBSYSTEMD_SONAME
                    " (%s): install libsystemd0, or use the cgroupfs driver",
                    dlerror ());
#define SYM(field, name)                                                                           \
  if ((*(void **) &sd.field = dlsym (sd.h, name)) == NULL)                                         \
    {                                                                                              \
      dlclose (sd.h);                                                                              \
      sd.h = NULL;                                                                                 \
      return tr_fail (err, 0, "--systemd-cgroup: " LIBSYSTEMD_SONAME " has no %s", name);          \
    }
  SYM (open_system, "sd_bus_open_system");
  SYM (bus_new, "sd_bus_new");
  SYM (set_address, "sd_bus_set_address");
  SYM (start, "sd_bus_start");
  SYM (flush_close_unref, "sd_bus_flush_close_unref");
  SYM (new_method_call, "sd_bus_message_new_method_call");
  SYM (append, "sd_bus_message_append");
  SYM (open_container, "sd_bus_message_open_container");
  SYM (close_container, "sd_bus_message_close_container");
  SYM (call, "sd_bus_call");
  SYM (read, "sd_bus_message_read");
  SYM (message_unref, "sd_bus_message_unref");
  SYM (error_free, "sd_bus_error_free");
  SYM (add_match, "sd_bus_add_match");
  SYM (process, "sd_bus_process");
  SYM (wait, "sd_bus_wait");
#undef SYM
  return 0;
}

/* systemd's manager: its private socket when we are root (what systemctl
 * uses; it needs no dbus-daemon), else the system bus.  */
static int
sd_connect (sd_bus **out, struct tr_error *err)
{
  sd_bus *b = NULL;
  int r;

  if (sd_load (err) < 0)
    return -1;
  if (geteuid () == 0 && access ("/run/systemd/private", F_OK) == 0 && sd.bus_new (&b) >= 0)
    {
      if (sd.set_address (b, "unix:path=/run/systemd/private") >= 0 && sd.start (b) >= 0)
        {
          *out = b;
          return 0;
        }
      sd.flush_close_unref (b);
      b = NULL;
    }
  r = sd.open_system (&b);
  if (r < 0)
    return tr_fail (err, -r,
                    "--systemd-cgroup: cannot reach systemd (neither /run/systemd/private nor "
                    "the system bus): is systemd PID 1 here?");
  *out = b;
  return 0;
}

static void
sd_disconnect (sd_bus **b)
{
  if (*b)
    sd.flush_close_unref (*b);
  *b = NULL;
}

static void
msg_unref (sd_bus_message **m)
{
  if (*m)
    sd.message_unref (*m);
  *m = NULL;
}

#define cleanup_bus __attribute__ ((cleanup (sd_disconnect)))
#define cleanup_msg __attribute__ ((cleanup (msg_unref)))

static int
call_fail (struct tr_error *err, int r, sd_bus_error *e, const char *what, const char *unit)
{
  tr_fail (err, r < 0 ? -r : 0, "--systemd-cgroup: %s %s: %s", what, unit,
           e->message ? e->message : (e->name ? e->name : "failed"));
  sd.error_free (e);
  return -1;
}

/* The limits of RES as unit properties, appended to the open a(sv).
 * The cgroup files are written as well (cgpath_apply): the properties
 * are what systemd keeps and re-applies.  */
static int
append_limits (sd_bus_message *m, const struct ct_resources *res)
{
  int r = 0;

  if (res == NULL)
    return 0;
  if (res->memory_limit)
    r |= sd.append (m, "(sv)", "MemoryMax", "t",
                    res->memory_limit < 0 ? UINT64_MAX : (uint64_t) res->memory_limit);
  if (res->memory_reservation)
    r |= sd.append (m, "(sv)", "MemoryLow", "t",
                    res->memory_reservation < 0 ? UINT64_MAX : (uint64_t) res->memory_reservation);
  if (res->has_pids)
    r |= sd.append (m, "(sv)", "TasksMax", "t",
                    res->pids_limit < 0 ? UINT64_MAX : (uint64_t) res->pids_limit);
  if (res->cpu_shares)
    {
      uint64_t s = res->cpu_shares < 2 ? 2 : res->cpu_shares;
      r |= sd.append (m, "(sv)", "CPUWeight", "t", (uint64_t) (1 + ((s - 2) * 9999) / 262142));
    }
  if (res->cpu_quota || res->cpu_period)
    {
      uint64_t period = res->cpu_period ? res->cpu_period : 100000;
      if (res->cpu_period)
        r |= sd.append (m, "(sv)", "CPUQuotaPeriodUSec", "t", period);
      if (res->cpu_quota < 0)
        r |= sd.append (m, "(sv)", "CPUQuotaPerSecUSec", "t", UINT64_MAX);
      else if (res->cpu_quota > 0)
        {
          /* runc's rounding: systemd keeps the quota in 10 ms steps per second.  */
          uint64_t q = (uint64_t) res->cpu_quota * 1000000 / period;
          if (q % 10000)
            q = (q / 10000 + 1) * 10000;
          r |= sd.append (m, "(sv)", "CPUQuotaPerSecUSec", "t", q);
        }
    }
  return r < 0 ? -1 : 0;
}

struct job_wait
{
  const char *job;
  bool done;
  char result[32];
};

static int
on_job_removed (sd_bus_message *m, void *userdata, sd_bus_error *ret)
{
  struct job_wait *w = userdata;
  uint32_t id;
  const char *path, *unit, *result;

  (void) ret;
  if (sd.read (m, "uoss", &id, &path, &unit, &result) < 0)
    return 0;
  if (w->job && strcmp (path, w->job) == 0)
    {
      w->done = true;
      snprintf (w->result, sizeof w->result, "%s", result);
    }
  return 0;
}

static uint64_t
now_usec (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int
start_scope (const struct sd_cgroup_path *p, const struct ct_resources *res, pid_t holder,
             struct tr_error *err)
{
  cleanup_bus sd_bus *bus = NULL;
  cleanup_msg sd_bus_message *m = NULL;
  cleanup_msg sd_bus_message *reply = NULL;
  sd_bus_error e = { NULL, NULL, 0 };
  struct job_wait w = { 0 };
  const char *job;
  uint64_t deadline;
  int r;

  if (sd_connect (&bus, err) < 0)
    return -1;
  /* Matched before the call, so that the job's end cannot be missed.  */
  r = sd.add_match (bus, NULL,
                    "type='signal',sender='org.freedesktop.systemd1',"
                    "interface='org.freedesktop.systemd1.Manager',member='JobRemoved',"
                    "path='/org/freedesktop/systemd1'",
                    on_job_removed, &w);
  if (r < 0)
    return tr_fail (err, -r, "--systemd-cgroup: subscribe to JobRemoved");
  r = sd.new_method_call (bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                          "org.freedesktop.systemd1.Manager", "StartTransientUnit");
  if (r >= 0)
    r = sd.append (m, "ss", p->unit, "fail");
  if (r >= 0)
    r = sd.open_container (m, 'a', "(sv)");
  if (r >= 0)
    r = sd.append (m, "(sv)", "Description", "s", ar_printf ("tactus-runc container %s", p->unit));
  if (r >= 0)
    r = sd.append (m, "(sv)", "Slice", "s", p->slice);
  /* Delegate=yes: the scope's subtree is ours; systemd enables every
   * controller it can delegate down to it and never rewrites below it.  */
  if (r >= 0)
    r = sd.append (m, "(sv)", "Delegate", "b", 1);
  if (r >= 0)
    r = sd.append (m, "(sv)", "DefaultDependencies", "b", 0);
  /* A scope whose processes were OOM-killed ends "failed": collect it
   * anyway, so that nothing is left after delete.  */
  if (r >= 0)
    r = sd.append (m, "(sv)", "CollectMode", "s", "inactive-or-failed");
  if (r >= 0)
    r = sd.append (m, "(sv)", "MemoryAccounting", "b", 1);
  if (r >= 0)
    r = sd.append (m, "(sv)", "TasksAccounting", "b", 1);
  if (r >= 0)
    r = sd.append (m, "(sv)", "CPUAccounting", "b", 1);
  if (r >= 0)
    r = sd.append (m, "(sv)", "PIDs", "au", 1, (uint32_t) holder);
  if (r >= 0)
    r = append_limits (m, res);
  if (r >= 0)
    r = sd.close_container (m);
  if (r >= 0)
    r = sd.append (m, "a(sa(sv))", 0);
  if (r < 0)
    return tr_fail (err, r < -1 ? -r : 0, "--systemd-cgroup: build StartTransientUnit for %s",
                    p->unit);
  r = sd.call (bus, m, 10 * 1000000ULL, &e, &reply);
  if (r < 0)
    return call_fail (err, r, &e, "StartTransientUnit", p->unit);
  if (sd.read (reply, "o", &job) < 0)
    return tr_fail (err, 0, "--systemd-cgroup: StartTransientUnit %s: no job in the reply",
                    p->unit);
  w.job = ar_strdup (job);
  deadline = now_usec () + 10 * 1000000ULL;
  while (!w.done)
    {
      uint64_t t = now_usec ();
      if (t >= deadline)
        return tr_fail (err, ETIMEDOUT, "--systemd-cgroup: the job starting %s did not finish",
                        p->unit);
      r = sd.process (bus, NULL);
      if (r < 0)
        return tr_fail (err, -r, "--systemd-cgroup: waiting for the job of %s", p->unit);
      if (r == 0)
        sd.wait (bus, deadline - t);
    }
  if (strcmp (w.result, "done") != 0)
    return tr_fail (err, 0,
                    "--systemd-cgroup: starting %s ended \"%s\" (journalctl -u %s says why)",
                    p->unit, w.result, p->unit);
  return 0;
}

/* The cgroup PID is in, as /proc/PID/cgroup's v2 line says.  */
static int
cgroup_of (pid_t pid, char *out, size_t size)
{
  char buf[2048];
  struct tr_error e;
  const char *l;

  if (read_file_at (AT_FDCWD, ar_printf ("/proc/%d/cgroup", (int) pid), buf, sizeof buf, &e) < 0)
    return -1;
  for (l = buf; l; l = strchr (l, '\n'))
    {
      if (*l == '\n')
        l++;
      if (strncmp (l, "0::", 3) == 0)
        {
          snprintf (out, size, "%.*s", (int) strcspn (l + 3, "\n"), l + 3);
          return 0;
        }
    }
  return -1;
}

int
systemd_cgroup_create (const struct sd_cgroup_path *p, const struct ct_resources *res,
                       struct ct_cgroup *cg, pid_t *holder, struct tr_error *err)
{
  char mount[256], rel[1024] = "";
  struct statfs fs;
  pid_t parent = getpid (), h;

  memset (cg, 0, sizeof *cg);
  cg->dirfd = -1;
  *holder = -1;
  if (res && res->has_pids && res->pids_limit == 1)
    return tr_fail (err, 0,
                    "linux.resources.pids.limit 1: the systemd cgroup driver needs room for the "
                    "scope's first process besides the init (use 2 or more)");
  if (cgpath_mount (mount, sizeof mount, err) < 0)
    return -1;
  /* On a hybrid host systemd would create the scope in the v1 hierarchies
   * as well; tactus-runc never has a cgroup v1 created for it.  */
  if (statfs ("/sys/fs/cgroup", &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
    return tr_fail (err, 0,
                    "--systemd-cgroup: /sys/fs/cgroup is not a unified cgroup v2 hierarchy (a "
                    "hybrid or v1 host); the systemd driver is used only on cgroup v2 hosts "
                    "(boot with systemd.unified_cgroup_hierarchy=1, or use the cgroupfs driver)");
  if (sd_load (err) < 0)
    return -1;
  h = fork ();
  if (h < 0)
    return tr_fail (err, errno, "--systemd-cgroup: fork the scope's placeholder");
  if (h == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != parent)
        _exit (0);
      for (;;)
        pause ();
    }
  if (start_scope (p, res, h, err) < 0)
    goto fail;
  if (cgroup_of (h, rel, sizeof rel) < 0 || !ends_with (rel, ar_printf ("/%s", p->unit)))
    {
      tr_fail (err, 0, "--systemd-cgroup: %s started, but its process is in %s", p->unit,
               rel[0] ? rel : "no cgroup v2");
      goto fail_stop;
    }
  if (strcmp (rel, p->rel) != 0)
    log_debug ("scope %s is at %s (expected %s)", p->unit, rel, p->rel);
  if (cgpath_open (ar_printf ("%s%s", mount, rel), cg, err) < 0)
    goto fail_stop;
  if (res && cgpath_apply (cg, res, err) < 0)
    {
      close (cg->dirfd);
      cg->dirfd = -1;
      goto fail_stop;
    }
  *holder = h;
  return 0;

fail_stop:
  {
    struct tr_error e;
    systemd_cgroup_stop (p->unit, &e);
  }
fail:
  systemd_cgroup_release (h);
  return -1;
}

void
systemd_cgroup_release (pid_t holder)
{
  if (holder <= 0)
    return;
  kill (holder, SIGKILL);
  while (waitpid (holder, NULL, 0) < 0 && errno == EINTR)
    ;
}

int
systemd_cgroup_stop (const char *unit, struct tr_error *err)
{
  cleanup_bus sd_bus *bus = NULL;
  cleanup_msg sd_bus_message *reply = NULL;
  cleanup_msg sd_bus_message *m = NULL;
  sd_bus_error e = { NULL, NULL, 0 };
  int r;

  if (sd_connect (&bus, err) < 0)
    return -1;
  r = sd.new_method_call (bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                          "org.freedesktop.systemd1.Manager", "StopUnit");
  if (r >= 0)
    r = sd.append (m, "ss", unit, "replace");
  if (r < 0)
    return tr_fail (err, -r, "--systemd-cgroup: build StopUnit");
  r = sd.call (bus, m, 10 * 1000000ULL, &e, &reply);
  if (r < 0)
    {
      /* Already collected: what delete wanted.  */
      if (e.name && strcmp (e.name, "org.freedesktop.systemd1.NoSuchUnit") == 0)
        {
          sd.error_free (&e);
          return 0;
        }
      return call_fail (err, r, &e, "StopUnit", unit);
    }
  return 0;
}

int
systemd_cgroup_set (const char *unit, const struct ct_resources *res, struct tr_error *err)
{
  cleanup_bus sd_bus *bus = NULL;
  cleanup_msg sd_bus_message *reply = NULL;
  cleanup_msg sd_bus_message *m = NULL;
  sd_bus_error e = { NULL, NULL, 0 };
  int r;

  if (sd_connect (&bus, err) < 0)
    return -1;
  r = sd.new_method_call (bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                          "org.freedesktop.systemd1.Manager", "SetUnitProperties");
  if (r >= 0)
    r = sd.append (m, "sb", unit, 1);
  if (r >= 0)
    r = sd.open_container (m, 'a', "(sv)");
  if (r >= 0)
    r = append_limits (m, res);
  if (r >= 0)
    r = sd.close_container (m);
  if (r < 0)
    return tr_fail (err, r < -1 ? -r : 0, "--systemd-cgroup: build SetUnitProperties");
  r = sd.call (bus, m, 10 * 1000000ULL, &e, &reply);
  if (r < 0)
    return call_fail (err, r, &e, "SetUnitProperties", unit);
  return 0;
}

void
systemd_scope_gone (const char *state_dir)
{
  char unit[256];
  struct tr_error e;

  if (state_dir == NULL || !systemd_unit_of (state_dir, unit, sizeof unit))
    return;
  tr_error_clear (&e);
  if (systemd_cgroup_stop (unit, &e) < 0)
    log_debug ("%s", e.msg);
}
