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
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/status.h"

static void add (struct sandbox_status *st, const char *name, bool ok, const char *fmt, ...)
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
    { "user namespace", 0 },
    { "pid namespace", CLONE_NEWPID },
    { "mount namespace", CLONE_NEWNS },
    { "network namespace", CLONE_NEWNET },
    { "ipc namespace", CLONE_NEWIPC },
    { "uts namespace", CLONE_NEWUTS },
    { "cgroup namespace", CLONE_NEWCGROUP },
  };

  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
    {
      int e = try_unshare (ns[i].flag);
      if (e == 0)
        add (st, ns[i].name, true, "available%s", geteuid () ? " (unprivileged)" : "");
      else if (ns[i].flag == 0)
        {
          char why[480];
          hostcheck_userns_reason ("/proc", e, geteuid () == 0, why, sizeof why);
          add (st, ns[i].name, false, "cannot be created: %s", why);
        }
      else
        add (st, ns[i].name, false, "cannot be created: %s", strerror (e));
    }
}

/* The programs a run installs are built into the binary; check each
 * against what its profile compiles to with this host's libseccomp.  */
static void
probe_seccomp (struct sandbox_status *st)
{
  char actions[256] = "", sizes[128] = "";
  struct tr_error e;
  int differ = 0;
  size_t off = 0;

  if (prctl (PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
    {
      add (st, "seccomp", false, "the kernel has no seccomp filter support");
      return;
    }
  read_file_at (AT_FDCWD, "/proc/sys/kernel/seccomp/actions_avail", actions, sizeof actions, &e);
  actions[strcspn (actions, "\n")] = '\0';
  for (int w = 0; w < SECCOMP_PROGRAMS__COUNT; w++)
    {
      struct seccomp_check c;
      if (seccomp_builtin_verify ((enum sandbox_seccomp) w, &c, &e) < 0)
        {
          add (st, "seccomp", false, "profile %s: %s",
               seccomp_profile_name ((enum sandbox_seccomp) w), e.msg);
          return;
        }
      differ += !c.match;
      off += (size_t) snprintf (sizes + off, sizeof sizes - off, "%s%s %u", w ? ", " : "",
                                seccomp_profile_name ((enum sandbox_seccomp) w), c.builtin_insns);
    }
  if (actions[0] && strstr (actions, "kill_process") == NULL)
    add (st, "seccomp", false, "kernel lacks SECCOMP_RET_KILL_PROCESS (actions: %s)", actions);
  else
    add (st, "seccomp", true, "kernel actions: %s", actions[0] ? actions : "unknown");
  /* A difference is not a failure: the built-in program is what the
   * profile compiled to when tactus-run was built, and it is what runs.  */
  add (st, "seccomp programs", true,
       "built into the binary, none kept on disk (%s instructions); %s libseccomp %u.%u.%u", sizes,
       differ ? "DIFFERENT from what the profiles compile to with" : "identical to a compile with",
       seccomp_version ()->major, seccomp_version ()->minor, seccomp_version ()->micro);
}

/* Apply the default rlimits in a throwaway child and check them there.  */
static void
probe_rlimits (struct sandbox_status *st)
{
  static const int which[] = { RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_FSIZE, RLIMIT_CORE, RLIMIT_CPU };
  struct sandbox_limits lim;
  pid_t pid;
  int status;

  memset (&lim, 0, sizeof lim);
  pid = fork ();
  if (pid < 0)
    {
      add (st, "rlimits", false, "fork: %s", strerror (errno));
      return;
    }
  if (pid == 0)
    {
      struct tr_error e;
      if (rlimits_apply (&lim, false, false, &e) < 0)
        _exit (2);
      for (size_t i = 0; i < sizeof which / sizeof which[0]; i++)
        {
          struct rlimit r;
          if (getrlimit (which[i], &r) < 0 || r.rlim_cur != r.rlim_max
              || (which[i] == RLIMIT_CORE && r.rlim_max != 0))
            _exit (3);
        }
      _exit (0);
    }
  if (waitpid (pid, &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    add (st, "rlimits", false, "the default limits could not be applied (%s)",
         WIFEXITED (status) && WEXITSTATUS (status) == 3 ? "soft != hard after setrlimit"
                                                         : "setrlimit failed");
  else
    add (st, "rlimits", true,
         "NPROC, NOFILE, FSIZE, CORE=0, CPU, memory applied and checked in a "
         "test process; soft == hard");
}

static void
probe_cgroup (struct sandbox_status *st)
{
  struct cgroup_info ci;
  bool mem, pids, cpu;

  cgroup_inspect (&ci);
  if (!ci.v2)
    {
      add (st, "cgroup v2", false, "%s; cgroup.kill and limits unavailable, rlimits only",
           ci.reason);
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
  add (st, "cgroup v2", true,
       "per-run cgroups under %s (cgroup.kill, freeze, cpu.stat); "
       "controllers: %s",
       ci.base, ci.controllers[0] ? ci.controllers : "none");
  if (mem && pids && cpu)
    add (st, "limits", true, "cgroup v2 memory.max, pids.max, cpu.max; rlimits as well");
  else
    add (st, "limits", true, "rlimits (RLIMIT_AS/NPROC/CPU...) for %s%s%s: %s",
         mem ? "" : "memory ", pids ? "" : "pids ", cpu ? "" : "cpu", ci.limits_reason);
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
      char hint[700];
      hostcheck_cage_hint ("/proc", hint, sizeof hint);
      add (st, "capabilities", false, "not checked: no cage could be built");
      add (st, "no_new_privs", false, "not checked: no cage could be built");
      add (st, "sandbox", false, "cannot be built here: %.120s%s", e.msg, hint);
      return;
    }
  if (sandbox_wait (sb, &res, &e) < 0 || res.exit_code != 0)
    {
      add (st, "capabilities", false, "not checked: the test cage failed");
      add (st, "no_new_privs", false, "not checked: the test cage failed");
      add (st, "sandbox", false, "started but did not exit cleanly (status %d)", res.exit_code);
      sandbox_destroy (sb);
      return;
    }
  sandbox_destroy (sb);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  /* privs_drop_all verified the drop inside the cage (capget and every
   * bounding/ambient bit) or the cage would have failed.  */
  add (st, "capabilities", true,
       "all dropped and verified in a test cage (bounding, ambient, "
       "inheritable, permitted, effective); securebits locked");
  add (st, "no_new_privs", true, "set before seccomp");
  add (st, "sandbox", true, "a full cage was built and torn down in %.2f ms",
       (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6);
}

int
sandbox_status_probe (struct sandbox_status *st)
{
  memset (st, 0, sizeof *st);
  probe_namespaces (st);
  probe_rlimits (st);
  probe_cgroup (st);
  probe_seccomp (st);
  probe_cage (st);
  st->usable = true;
  for (size_t i = 0; i < st->n; i++)
    if (!st->layers[i].ok && strcmp (st->layers[i].name, "cgroup v2") != 0)
      st->usable = false;
  return 0;
}

int
sandbox_rebuild (bool force, struct sandbox_rebuild_report *r, struct tr_error *err)
{
  int rc;

  memset (r, 0, sizeof *r);
  for (int w = 0; w < SECCOMP_PROGRAMS__COUNT; w++)
    {
      struct seccomp_check c;
      if (seccomp_builtin_verify ((enum sandbox_seccomp) w, &c, err) < 0)
        return -1;
      r->checked++;
      if (!c.match)
        r->differ++;
    }
  rc = seccomp_legacy_cache (r->legacy_dir, sizeof r->legacy_dir, true, &r->legacy_removed);
  if (rc < 0)
    return tr_fail (err, -rc, "remove the old seccomp cache in %s", r->legacy_dir);
  if (r->differ && !force)
    return tr_fail_hint (
        err, TR_HINT_SECCOMP_FORCE, 0,
        "%d built-in seccomp program(s) differ from what this host's libseccomp "
        "compiles the profiles to: rebuild tactus-run here (make) to pick them up, or "
        "accept the built-in programs",
        r->differ);
  return 0;
}
