/* Resource limits: always set, whether or not a cgroup also limits the run.
 * Every run gets a finite NPROC, NOFILE, FSIZE, CPU and DATA (plus AS when
 * it is the memory limit), CORE, MEMLOCK and MSGQUEUE of 0 -- defaults when
 * the spec asks for none.  Soft == hard everywhere: PID 1 of a pid
 * namespace ignores the soft RLIMIT_CPU signal (SIGXCPU), so only the hard
 * limit's SIGKILL is real.
 *
 * The defaults live here rather than in the spec's init so that every
 * caller (CLI, pool, OCI shim) gets them, whatever it fills in.  */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/resource.h>

#include "sandbox/internal.h"

#define DEFAULT_NPROC 512
#define DEFAULT_NOFILE 256
#define DEFAULT_FSIZE (1ull << 30)
/* RLIMIT_DATA when no memory limit is asked (and the floor when one is):
 * it counts only writable private mappings, so address-space reservations
 * (PROT_NONE arenas, LuaJIT GC64, thread stacks' guard) stay possible.  */
#define DEFAULT_DATA (2ull << 30)
/* RLIMIT_CPU, per process: the floor, and the whole limit without a
 * deadline.  Generous: the parent's deadline is what ends a run; this is
 * the backstop should the parent never get to.  A prepared (pool) cage
 * may get a longer deadline at go than its spec says, so the spec's
 * timeout only ever raises this.  */
#define DEFAULT_CPU_SECONDS 3600ull

/* Sanitizer builds reserve terabytes of shadow memory as writable private
 * mappings: any RLIMIT_AS or RLIMIT_DATA would fail every later mapping
 * of the (cloned) launcher.  They are for testing only; the release build
 * always sets both.  */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TR_NO_MEMORY_RLIMITS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TR_NO_MEMORY_RLIMITS 1
#endif
#endif

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

/* X rounded up; X is positive and far below 2^63.  */
static uint64_t
round_up (double x)
{
  uint64_t n = (uint64_t) x;
  return (double) n < x ? n + 1 : n;
}

/* How many CPUs one process of the run can keep busy at once.  */
static uint64_t
usable_cpus (const struct sandbox_limits *lim)
{
  cpu_set_t set;
  uint64_t n = 1;

  if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
    n = (uint64_t) CPU_COUNT (&set);
  if (lim->cpus > 0 && lim->cpus < 1e6 && n > round_up (lim->cpus))
    n = round_up (lim->cpus);
  return n ? n : 1;
}

static uint64_t
cpu_seconds (const struct sandbox_limits *lim)
{
  uint64_t s = DEFAULT_CPU_SECONDS;

  if (lim->cpu_seconds)
    return lim->cpu_seconds;
  /* Within its deadline a process can use at most timeout x CPUs.  */
  if (lim->timeout_seconds > 0 && lim->timeout_seconds < 1e7)
    {
      uint64_t derived = (round_up (lim->timeout_seconds) + 1) * usable_cpus (lim);
      if (derived > s)
        s = derived;
    }
  return s;
}

/* RLIMIT_NPROC counts the tasks of sandbox root in the cage's own user
 * namespace and the kernel checks it before the cgroup's pids.max.  When
 * pids.max applies it is the exact, cage-wide limit, so NPROC is only the
 * backstop above it (else pids.max would never be reached, and never be
 * what stopped a fork bomb).  Without it NPROC is the limit itself.  */
static uint64_t
nproc (const struct sandbox_limits *lim, bool cgroup_pids)
{
  if (lim->pids == 0)
    return DEFAULT_NPROC;
  if (cgroup_pids)
    return lim->pids * 2 > lim->pids + 16 ? lim->pids * 2 : lim->pids + 16;
  return lim->pids;
}

int
rlimits_apply (const struct sandbox_limits *lim, bool cgroup_memory, bool cgroup_pids,
               struct tr_error *err)
{
  if (set_limit (RLIMIT_CORE, "RLIMIT_CORE", 0, err) < 0
      || set_limit (RLIMIT_NPROC, "RLIMIT_NPROC", nproc (lim, cgroup_pids), err) < 0
      || set_limit (RLIMIT_NOFILE, "RLIMIT_NOFILE", lim->nofile ? lim->nofile : DEFAULT_NOFILE, err)
             < 0
      || set_limit (RLIMIT_FSIZE, "RLIMIT_FSIZE",
                    lim->fsize_bytes ? lim->fsize_bytes : DEFAULT_FSIZE, err)
             < 0
      || set_limit (RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 0, err) < 0
      || set_limit (RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0, err) < 0
      || set_limit (RLIMIT_CPU, "RLIMIT_CPU", cpu_seconds (lim), err) < 0)
    return -1;
#ifdef TR_NO_MEMORY_RLIMITS
  (void) cgroup_memory;
#else
  /* RLIMIT_DATA always: the asked memory limit, at least the default (the
   * cage starts as a copy of the launcher, whose own mappings count).  */
  if (set_limit (RLIMIT_DATA, "RLIMIT_DATA",
                 lim->memory_bytes > DEFAULT_DATA ? lim->memory_bytes : DEFAULT_DATA, err)
      < 0)
    return -1;
  /* Without a cgroup memory controller the address-space limit is what
   * stops a memory bomb.  With one, memory.max is exact and RLIMIT_AS would
   * only break programs that reserve large virtual ranges.  */
  if (lim->memory_bytes && !cgroup_memory
      && set_limit (RLIMIT_AS, "RLIMIT_AS", lim->memory_bytes, err) < 0)
    return -1;
#endif
  return 0;
}
