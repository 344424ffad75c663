/* Shared by the unit tests (each tests/unit/NAME.c is its own program): the
 * PASS/FAIL lines every lane prints, the broker options a test run uses,
 * and the broker_peer of a fake VM that is a forked child.  */
#ifndef TR_TESTS_UNIT_H
#define TR_TESTS_UNIT_H

#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker/broker.h"

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

/* Broker options for a test run of procedure NAME (NAME.tac, in memory, no
 * approvals, model calls to a closed port unless the test sets one).  */
static __attribute__ ((unused)) void
test_broker_options (struct broker_options *o, const char *path, const char *name,
                     const struct policy *pol)
{
  o->procedure_path = path;
  o->procedure_dir = ".";
  o->procedure_name = name;
  o->storage = STORAGE_MEMORY;
  o->approve = APPROVE_NONE;
  o->approve_set = true;
  o->policy = pol;
  o->max_violations = 16; /* as run_execute */
  o->llm_base_url = "http://127.0.0.1:9";
  o->llm_timeout = 1;
  o->grace_seconds = 1;
}

/* The peer of a fake VM that is the child PID (PIDFD) on FD, with no
 * deadline.  */
static __attribute__ ((unused)) void
test_child_peer (struct broker_peer *peer, int fd, pid_t pid, int *pidfd)
{
  peer->fd = fd;
  peer->pidfd = *pidfd;
  peer->pid = pid;
  peer->ctx = pidfd;
  peer->ms_left = peer_no_deadline;
  peer->kill = peer_kill_child;
  peer->signal = peer_signal_child;
}

#endif
