/* Resource limits: always set, whether or not a cgroup also limits the run.
 * Soft == hard everywhere: PID 1 of a pid namespace ignores the soft
 * RLIMIT_CPU signal (SIGXCPU), so only the hard limit's SIGKILL is real.  */
#include <errno.h>
#include <sys/resource.h>

#include "sandbox/internal.h"

#define DEFAULT_NPROC 512
#define DEFAULT_NOFILE 256
#define DEFAULT_FSIZE (1ull << 30)

static int
set_limit (int resource, const char *name, rlim_t value, struct tr_error *err)
{
  struct rlimit old, rl = { value, value };

  /* Never raise a limit the caller already had lower.  */
  if (getrlimit (resource, &old) == 0 && old.rlim_max != RLIM_INFINITY && old.rlim_max < value)
    rl.rlim_cur = rl.rlim_max = old.rlim_max;
  if (setrlimit (resource, &rl) < 0)
    return tr_fail (err, errno, "rlimits: %s", name);
  return 0;
}

int
rlimits_apply (const struct sandbox_limits *lim, bool cgroup_memory, bool cgroup_pids,
               struct tr_error *err)
{
  (void) cgroup_pids;
  if (set_limit (RLIMIT_CORE, "RLIMIT_CORE", 0, err) < 0
      || set_limit (RLIMIT_NPROC, "RLIMIT_NPROC", lim->pids ? lim->pids : DEFAULT_NPROC, err) < 0
      || set_limit (RLIMIT_NOFILE, "RLIMIT_NOFILE", lim->nofile ? lim->nofile : DEFAULT_NOFILE, err) < 0
      || set_limit (RLIMIT_FSIZE, "RLIMIT_FSIZE", lim->fsize_bytes ? lim->fsize_bytes : DEFAULT_FSIZE, err) < 0
      || set_limit (RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 0, err) < 0
      || set_limit (RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0, err) < 0)
    return -1;
  if (lim->cpu_seconds && set_limit (RLIMIT_CPU, "RLIMIT_CPU", lim->cpu_seconds, err) < 0)
    return -1;
  /* Without a cgroup memory controller the address-space limit is what
   * stops a memory bomb.  With one, memory.max is exact and RLIMIT_AS would
   * only break programs that reserve large virtual ranges.  */
#if defined(__SANITIZE_ADDRESS__)
  /* An ASan build reserves terabytes of shadow memory up front, so any
   * address-space limit would fail every later mapping.  Sanitizer builds
   * are for testing only; the release build always sets it.  */
  (void) cgroup_memory;
#else
  if (lim->memory_bytes && !cgroup_memory
      && set_limit (RLIMIT_AS, "RLIMIT_AS", lim->memory_bytes, err) < 0)
    return -1;
#endif
  return 0;
}
