/* Shared by the unit tests (each tests/unit/NAME.c is its own program): the
 * PASS/FAIL lines every lane prints, and the broker_peer callbacks for a
 * fake VM that is a forked child whose pidfd is the context.  */
#ifndef TR_TESTS_UNIT_H
#define TR_TESTS_UNIT_H

#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void report (bool ok, const char *name, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4), unused));

static void
report (bool ok, const char *name, const char *fmt, ...)
{
  va_list ap;

  if (ok)
    {
      printf ("PASS: %s\n", name);
      return;
    }
  failures++;
  printf ("FAIL: %s: ", name);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
}

/* broker_peer callbacks; CTX points at the child's pidfd.  */
static __attribute__ ((unused)) int
peer_no_deadline (void *ctx)
{
  (void) ctx;
  return -1;
}

static __attribute__ ((unused)) void
peer_kill_child (void *ctx)
{
  syscall (SYS_pidfd_send_signal, *(int *) ctx, SIGKILL, NULL, 0);
}

static __attribute__ ((unused)) int
peer_signal_child (void *ctx, int sig)
{
  return (int) syscall (SYS_pidfd_send_signal, *(int *) ctx, sig, NULL, 0);
}

#endif
