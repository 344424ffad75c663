/* vm-probe: the payloads of the VM lane (tests/vm/run.sh).  A plain static
 * program with no project code, so a bug in the project cannot make it
 * pass.  Every mode prints one summary line the guest tests parse.
 *
 *   vm-probe membomb [CAP_MIB]     touch memory 1 MiB at a time until killed;
 *                                  exit 2 if CAP_MIB (default 768) is reached,
 *                                  3 if an allocation fails (rlimit, not OOM)
 *   vm-probe forkbomb [HOLD_S] [CAP]
 *                                  fork children that sleep until fork fails;
 *                                  print how many and errno, keep them for
 *                                  HOLD_S seconds (default 2), exit 0 on EAGAIN
 *   vm-probe cpuloop [SECONDS]     spin; every 0.5 s print the CPU time over
 *                                  wall time; stop after SECONDS (default:
 *                                  never)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double
clock_s (clockid_t id)
{
  struct timespec ts;
  clock_gettime (id, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
membomb (long cap_mib)
{
  const size_t chunk = 1 << 20;

  for (long mib = 0; mib < cap_mib; mib++)
    {
      char *p = mmap (NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED)
        {
          printf ("membomb: mmap failed at %ld MiB: %s\n", mib, strerror (errno));
          return 3;
        }
      memset (p, 0xa5, chunk);
    }
  printf ("membomb: not stopped at %ld MiB\n", cap_mib);
  return 2;
}

static int
forkbomb (int hold_s, long cap)
{
  long n = 0;
  int e = 0;

  for (; n < cap; n++)
    {
      pid_t pid = fork ();
      if (pid == 0)
        {
          for (;;)
            pause ();
        }
      if (pid < 0)
        {
          e = errno;
          break;
        }
    }
  if (n >= cap)
    printf ("forkbomb: not stopped at %ld children\n", n);
  else
    printf ("forkbomb: %ld children, then fork: %s (%s)\n", n, e == EAGAIN ? "EAGAIN" : "other",
            strerror (e));
  fflush (stdout);
  sleep ((unsigned) hold_s);
  /* The children die with us: we are PID 1 of the sandbox, or the run's
   * cgroup is killed.  */
  return n < cap && e == EAGAIN ? 0 : 2;
}

static int
cpuloop (double seconds)
{
  double w0 = clock_s (CLOCK_MONOTONIC), c0 = clock_s (CLOCK_PROCESS_CPUTIME_ID);
  double next = w0 + 0.5;
  volatile unsigned long long iter = 0;

  for (;;)
    {
      for (int i = 0; i < 100000; i++)
        iter++;
      double w = clock_s (CLOCK_MONOTONIC);
      if (w >= next)
        {
          double c = clock_s (CLOCK_PROCESS_CPUTIME_ID) - c0;
          printf ("cpuloop: cpu=%.2fs wall=%.2fs ratio=%.2f iter=%llu\n", c, w - w0, c / (w - w0),
                  (unsigned long long) iter);
          fflush (stdout);
          next = w + 0.5;
          if (seconds > 0 && w - w0 >= seconds)
            return 0;
        }
    }
}

int
main (int argc, char **argv)
{
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp (argv[1], "membomb") == 0)
    return membomb (argc > 2 ? atol (argv[2]) : 768);
  if (argc >= 2 && strcmp (argv[1], "forkbomb") == 0)
    return forkbomb (argc > 2 ? atoi (argv[2]) : 2, argc > 3 ? atol (argv[3]) : 4096);
  if (argc >= 2 && strcmp (argv[1], "cpuloop") == 0)
    return cpuloop (argc > 2 ? atof (argv[2]) : 0);
  fprintf (stderr,
           "usage: vm-probe membomb [CAP_MIB] | forkbomb [HOLD_S] [CAP] | cpuloop [SECONDS]\n");
  return 64;
}
