/* What this host supports, layer by layer, for `tactus-run sandbox status`.
 *
 * Each namespace is checked by really creating it in a throwaway child, and
 * the whole cage is checked by starting a real sandbox: status never
 * guesses from kernel versions or config files.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/status.h"

static void
add (struct sandbox_status *st, const char *name, bool ok, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
add (struct sandbox_status *st, const char *name, bool ok, const char *fmt, ...)
{
  struct sandbox_layer *l;
  va_list ap;

  if (st->n == SANDBOX_STATUS_MAX)
    return;
  l = &st->layers[st->n++];
  l->name = name;
  l->ok = ok;
  va_start (ap, fmt);
  vsnprintf (l->detail, sizeof l->detail, fmt, ap);
  va_end (ap);
}

/* Create the namespaces FLAGS (with a user namespace) in a throwaway child.  */
static int
try_unshare (int flags)
{
  pid_t pid = fork ();
  int status;

  if (pid < 0)
    return errno;
  if (pid == 0)
    _exit (unshare (CLONE_NEWUSER | flags) == 0 ? 0 : (errno & 0x7f));
  if (waitpid (pid, &status, 0) < 0)
    return errno;
  return WIFEXITED (status) ? WEXITSTATUS (status) : EINTR;
}

static int
noop_entry (void *arg, const struct sandbox_inside *inside)
{
  (void) arg;
  (void) inside;
  return 0;
}

static void
probe_namespaces (struct sandbox_status *st)
{
  static const struct
  {
    const char *name;
    int flag;
  } ns[] = {
    { "user namespace", 0 },           { "pid namespace", CLONE_NEWPID },
    { "mount namespace", CLONE_NEWNS }, { "network namespace", CLONE_NEWNET },
    { "ipc namespace", CLONE_NEWIPC },  { "uts namespace", CLONE_NEWUTS },
    { "cgroup namespace", CLONE_NEWCGROUP },
  };

  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
    {
      int e = try_unshare (ns[i].flag);
      if (e == 0)
        add (st, ns[i].name, true, "available%s", geteuid () ? " (unprivileged)" : "");
      else
        add (st, ns[i].name, false, "cannot be created: %s%s", strerror (e),
             ns[i].flag == 0 ? " (enable unprivileged user namespaces: sysctl "
                               "user.max_user_namespaces)" : "");
    }
}

static void
probe_seccomp (struct sandbox_status *st)
{
  char actions[256] = "";
  struct tr_error e;
  int compiled = 0;

  if (prctl (PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
    {
      add (st, "seccomp", false, "the kernel has no seccomp filter support");
      return;
    }
  read_file_at (AT_FDCWD, "/proc/sys/kernel/seccomp/actions_avail", actions, sizeof actions, &e);
  actions[strcspn (actions, "\n")] = '\0';
  for (int w = 0; w < SANDBOX_SECCOMP__COUNT; w++)
    {
      struct seccomp_program p;
      if (seccomp_program_compile ((enum sandbox_seccomp) w, &p, &e) < 0)
        {
          add (st, "seccomp", false, "profile %s does not compile: %s",
               seccomp_profile_name ((enum sandbox_seccomp) w), e.msg);
          return;
        }
      compiled++;
      seccomp_program_free (&p);
    }
  if (actions[0] && strstr (actions, "kill_process") == NULL)
    add (st, "seccomp", false, "kernel lacks SECCOMP_RET_KILL_PROCESS (actions: %s)", actions);
  else
    add (st, "seccomp", true, "%d profiles compile (libseccomp %u.%u.%u); kernel actions: %s",
         compiled, seccomp_version ()->major, seccomp_version ()->minor, seccomp_version ()->micro,
         actions[0] ? actions : "unknown");
}

static void
probe_cgroup (struct sandbox_status *st)
{
  struct cgroup_info ci;
  bool mem, pids, cpu;

  cgroup_inspect (&ci);
  if (!ci.v2)
    {
      add (st, "cgroup v2", false, "%s; cgroup.kill and limits unavailable, rlimits only", ci.reason);
      add (st, "limits", true, "rlimits only (no cgroup v2)");
      return;
    }
  if (!ci.writable)
    {
      add (st, "cgroup v2", false, "mounted at %s, but %s; rlimits only", ci.mount, ci.reason);
      add (st, "limits", true, "rlimits only (no writable cgroup v2)");
      return;
    }
  mem = ci.memory;
  pids = ci.pids;
  cpu = ci.cpu;
  add (st, "cgroup v2", true, "per-run cgroups under %s (cgroup.kill, freeze, cpu.stat); "
       "controllers: %s", ci.base, ci.controllers[0] ? ci.controllers : "none");
  if (mem && pids && cpu)
    add (st, "limits", true, "cgroup v2 memory.max, pids.max, cpu.max; rlimits as well");
  else
    add (st, "limits", true, "rlimits (RLIMIT_AS/NPROC/CPU...) for %s%s%s: %s", mem ? "" : "memory ",
         pids ? "" : "pids ", cpu ? "" : "cpu", ci.limits_reason);
}

static void
probe_cage (struct sandbox_status *st)
{
  struct sandbox_spec spec;
  struct sandbox *sb;
  struct sandbox_result res;
  struct tr_error e;
  struct timespec t0, t1;

  sandbox_spec_init (&spec);
  spec.entry = noop_entry;
  spec.workspace = SANDBOX_WORKSPACE_OFF;
  spec.keep_stdout = spec.keep_stderr = false;
  tr_error_clear (&e);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  if (sandbox_start (&spec, &sb, &e) < 0)
    {
      add (st, "sandbox", false, "cannot be built here: %s", e.msg);
      return;
    }
  if (sandbox_wait (sb, &res, &e) < 0 || res.exit_code != 0)
    {
      add (st, "sandbox", false, "started but did not exit cleanly (status %d)", res.exit_code);
      sandbox_destroy (sb);
      return;
    }
  sandbox_destroy (sb);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  add (st, "capabilities", true, "all dropped (bounding, ambient, inheritable, permitted, "
       "effective) with libcap-ng; securebits locked");
  add (st, "no_new_privs", true, "set before seccomp");
  add (st, "sandbox", true, "a full cage was built and torn down in %.2f ms",
       (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6);
}

static void
probe_cache (struct sandbox_status *st)
{
  struct seccomp_cache_state cs;

  seccomp_cache_inspect (&cs);
  if (!cs.dir[0])
    add (st, "cache", false, "no cache directory; seccomp profiles are compiled on every run");
  else if (!cs.dir_usable)
    add (st, "cache", false, "%s missing or not private; compiled on every run until "
         "'tactus-run sandbox rebuild'", cs.dir);
  else
    add (st, "cache", cs.stale == 0 && cs.missing == 0,
         "%s: %d valid, %d stale, %d missing compiled seccomp programs%s", cs.dir, cs.valid,
         cs.stale, cs.missing, cs.stale || cs.missing ? " (run 'tactus-run sandbox rebuild')" : "");
}

int
sandbox_status_probe (struct sandbox_status *st)
{
  memset (st, 0, sizeof *st);
  probe_namespaces (st);
  add (st, "rlimits", true, "NPROC, NOFILE, FSIZE, CORE=0, MEMLOCK=0, CPU and AS when asked; "
       "soft == hard");
  probe_cgroup (st);
  probe_seccomp (st);
  probe_cage (st);
  probe_cache (st);
  st->usable = true;
  for (size_t i = 0; i < st->n; i++)
    if (!st->layers[i].ok && strcmp (st->layers[i].name, "cache") != 0
        && strcmp (st->layers[i].name, "cgroup v2") != 0)
      st->usable = false;
  return 0;
}

int
sandbox_rebuild (bool force, char *dir, size_t dirsize, int *written, struct tr_error *err)
{
  struct seccomp_cache_state cs;

  if (seccomp_cache_rebuild (force, written, err) < 0)
    return -1;
  seccomp_cache_inspect (&cs);
  snprintf (dir, dirsize, "%s", cs.dir);
  if (cs.valid != SANDBOX_SECCOMP__COUNT)
    return tr_fail (err, 0, "seccomp cache %s: %d of %d entries valid after the rebuild", cs.dir,
                    cs.valid, SANDBOX_SECCOMP__COUNT);
  return 0;
}
