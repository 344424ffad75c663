/* The broker never blocks on the VM.
 *
 * The real broker loop (broker_serve) against a fake VM: a forked process
 * on the other end of a SEQPACKET socketpair that sends run.start and then
 * floods events.emit without ever reading a reply.  A blocking broker
 * would wedge in sendmsg once the socket buffer is full, and the run's
 * deadline would never fire.  Each case must end within its deadline plus
 * a margin, with a violation or a timeout; a watchdog (SIGALRM) turns a
 * wedged broker into a FAIL instead of a hung test.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/frame.h"
#include "tests/unit/unit.h"

static const char *current = "";

static void
on_alarm (int sig)
{
  char msg[300];
  int n;

  (void) sig;
  n = snprintf (msg, sizeof msg, "FAIL: %s: broker_serve did not return (wedged on the VM)\n",
                current);
  if (n > 0 && write (1, msg, (size_t) n) < 0)
    _exit (2);
  _exit (1);
}

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the fake VM ---- */

enum vm_kind
{
  VM_FLOOD,       /* run.start, then events.emit forever, never reading */
  VM_BUSY_READER, /* run.start, then events.emit forever, reading every reply */
};

static void
vm_send (int fd, const char *text)
{
  struct tr_error err;

  if (frame_send (fd, text, strlen (text), &err) < 0)
    _exit (0); /* the broker is gone */
}

/* Read replies until the final one (done or error).  */
static void
vm_await (int fd)
{
  struct frame_asm a = { 0 };
  struct tr_error err;

  for (;;)
    {
      if (frame_recv (fd, &a, &err) <= 0)
        _exit (0);
      if (strstr (a.buf, "\"event\":\"done\"") || strstr (a.buf, "\"event\":\"error\""))
        break;
      frame_asm_reset (&a);
    }
  frame_asm_free (&a);
}

static void
fake_vm (int fd, enum vm_kind kind)
{
  char msg[256];

  vm_send (fd, "{\"id\":1,\"method\":\"run.start\",\"params\":{}}");
  if (kind == VM_BUSY_READER)
    vm_await (fd);
  for (unsigned long id = 2;; id++)
    {
      snprintf (
          msg, sizeof msg,
          "{\"id\":%lu,\"method\":\"events.emit\",\"params\":{\"event\":{\"event_type\":\"log\","
          "\"level\":\"DEBUG\",\"message\":\"flood %lu\"}}}",
          id, id);
      vm_send (fd, msg);
      if (kind == VM_BUSY_READER)
        vm_await (fd);
    }
}

/* ---- the peer as the broker sees it ---- */

struct child
{
  pid_t pid;
  int pidfd;
  int64_t deadline; /* CLOCK_MONOTONIC ms */
  int kills;
};

static int
child_ms_left (void *ctx)
{
  struct child *c = ctx;
  int64_t left = c->deadline - now_ms ();
  return left <= 0 ? 0 : (int) left;
}

static void
child_kill (void *ctx)
{
  struct child *c = ctx;
  c->kills++;
  pidfd_send_signal (c->pidfd, SIGKILL, NULL, 0);
}

static int
child_signal (void *ctx, int sig)
{
  struct child *c = ctx;
  return pidfd_send_signal (c->pidfd, sig, NULL, 0);
}

/* Serve a fake VM of KIND with a deadline of DEADLINE_MS; fills OUT and
 * *ELAPSED.  Returns broker_serve's result, or -1 when the setup failed.  */
static int
serve_fake (enum vm_kind kind, int deadline_ms, int max_violations, struct broker_outcome *out,
            int64_t *elapsed, int *kills)
{
  static struct policy pol = { .approve_default = -1 };
  struct broker_options o = { 0 };
  struct broker_peer peer = { 0 };
  struct child c = { 0 };
  struct tr_error err;
  int sv[2], r;
  int64_t t0;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return -1;
  c.pid = fork ();
  if (c.pid < 0)
    return -1;
  if (c.pid == 0)
    {
      close (sv[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      fake_vm (sv[1], kind);
      _exit (0);
    }
  close (sv[1]);
  c.pidfd = pidfd_open (c.pid, 0);
  if (c.pidfd < 0)
    {
      kill (c.pid, SIGKILL);
      waitpid (c.pid, NULL, 0);
      close (sv[0]);
      return -1;
    }
  test_broker_options (&o, "flood.tac", "flood", &pol);
  o.trace = NULL;
  o.max_violations = max_violations;
  peer.fd = sv[0];
  peer.pidfd = c.pidfd;
  peer.pid = c.pid;
  peer.ctx = &c;
  peer.ms_left = child_ms_left;
  peer.kill = child_kill;
  peer.signal = child_signal;

  t0 = now_ms ();
  c.deadline = t0 + deadline_ms;
  tr_error_clear (&err);
  r = broker_serve (&o, &peer, out, &err);
  *elapsed = now_ms () - t0;
  *kills = c.kills;
  /* Whatever happened, the child goes.  */
  pidfd_send_signal (c.pidfd, SIGKILL, NULL, 0);
  waitpid (c.pid, NULL, 0);
  close (c.pidfd);
  close (sv[0]);
  return r;
}

int
main (void)
{
  struct broker_outcome out;
  int64_t ms;
  int kills, r;

  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGALRM, on_alarm);

  /* 1. A VM that floods and never reads: killed for the protocol, long
   * before its (generous) deadline.  */
  current = "broker flood: a VM that never reads is killed for violations";
  alarm (20);
  r = serve_fake (VM_FLOOD, 8000, 16, &out, &ms, &kills);
  alarm (0);
  report (
      r == 0 && out.killed_for_violations && kills >= 1 && ms < 6000 && !out.timed_out, current,
      "serve %d, killed_for_violations %d, kills %d, violations %d, timed_out %d, after %lld ms", r,
      out.killed_for_violations, kills, out.violations, out.timed_out, (long long) ms);
  report (strstr (out.violation, "before the replies to the previous one were read") != NULL,
          "broker flood: the violation says the VM did not read its replies",
          "last violation: '%s'", out.violation);
  broker_outcome_free (&out);

  /* 2. The same VM with no violation limit: the queue stays bounded and
   * the deadline still fires (or the queue overflows first: killed).  */
  current = "broker flood: with no violation limit the 1 s deadline still fires";
  alarm (20);
  r = serve_fake (VM_FLOOD, 1000, INT_MAX, &out, &ms, &kills);
  alarm (0);
  report (r == 0 && (out.timed_out || out.killed_for_violations) && kills >= 1 && ms < 3000,
          current, "serve %d, timed_out %d, killed_for_violations %d, kills %d, after %lld ms", r,
          out.timed_out, out.killed_for_violations, kills, (long long) ms);
  broker_outcome_free (&out);

  /* 3. A VM that reads every reply but never stops asking keeps the
   * socket busy: the deadline is checked on every turn, not only when
   * poll times out.  */
  current = "broker flood: a busy VM that reads its replies is stopped at its 1 s deadline";
  alarm (20);
  r = serve_fake (VM_BUSY_READER, 1000, 16, &out, &ms, &kills);
  alarm (0);
  report (r == 0 && out.timed_out && !out.killed_for_violations && out.violations == 0 && kills >= 1
              && ms < 3000 && out.requests > 10,
          current, "serve %d, timed_out %d, violations %d, requests %ld, kills %d, after %lld ms",
          r, out.timed_out, out.violations, out.requests, kills, (long long) ms);
  broker_outcome_free (&out);

  return failures ? 1 : 0;
}
