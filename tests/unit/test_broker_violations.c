/* A sandbox that breaks the broker protocol 16 times is killed, end to end.
 *
 * A real sandbox (sandbox_start, the VM's seccomp profile and limits) runs
 * an entry function that writes malformed frames to fd 3 (the broker
 * socket) and then waits for replies, as a compromised VM would.  The real
 * broker loop serves it through the same peer glue as `tactus-run run`
 * (cli/run_common.c, included here for its sandbox_peer and decide), the
 * sandbox is reaped as run_execute does, and the run's verdict is checked:
 * exit 1, "broke the broker protocol", PID 1 killed by SIGKILL well before
 * the deadline.  With 15 bad frames the sandbox is not killed (it exits on
 * its own once every one was answered).  */
#include "cli/run_common.c"
/* run_report words the verdict through the presentation code.  */
#include "cli/present.c"
#include "cli/present_result.c"
#include "cli/present_error.c"

#include <poll.h>
#include <stdarg.h>

#include "common/frame.h"
#include "tests/unit/unit.h"

static void
on_alarm (int sig)
{
  static const char msg[] = "FAIL: broker violations: the run did not end (watchdog)\n";
  (void) sig;
  if (write (1, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (1);
}

static void
send_raw (int fd, const void *buf, size_t n)
{
  struct iovec iov = { (void *) buf, n };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

  while (sendmsg (fd, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
    ;
}

static void
send_framed (int fd, const char *text)
{
  struct tr_error err;
  frame_send (fd, text, strlen (text), &err);
}

/* One malformed message of kind I (each a protocol violation).  */
static void
send_bad (int fd, int i)
{
  uint8_t pkt[32] = { 'T', 1, 0, 0 };

  switch (i % 8)
    {
    case 0:
      send_raw (fd, "garbage!garbage!", 16); /* bad magic */
      break;
    case 1:
      send_raw (fd, "T\1", 2); /* shorter than a header */
      break;
    case 2:
      pkt[4] = 20; /* length does not match */
      memcpy (pkt + 8, "{}", 2);
      send_raw (fd, pkt, 10);
      break;
    case 3:
      pkt[2] = 0x80; /* unknown flags */
      pkt[4] = 2;
      memcpy (pkt + 8, "{}", 2);
      send_raw (fd, pkt, 10);
      break;
    case 4:
      send_framed (fd, "this is not JSON");
      break;
    case 5:
      send_framed (fd, "[1, 2, 3]"); /* not an object */
      break;
    case 6:
      send_framed (fd, "{\"method\":\"run.start\"}"); /* no id */
      break;
    default:
      send_framed (fd, "{\"id\":9,\"method\":\"tool.call\",\"params\":{}}"); /* before run.start */
      break;
    }
}

/* Inside the sandbox: N bad messages, then read the replies until the
 * broker closes; exit 3 if still alive after that.  */
static int
entry_bad_frames (void *arg, const struct sandbox_inside *inside)
{
  int n = (int) (intptr_t) arg;
  char buf[FRAME_MAX_PACKET + 1];
  int replies = 0;

  for (int i = 0; i < n; i++)
    send_bad (inside->broker_fd, i);
  /* Every violation gets an error reply.  Fewer than 16: leave once all
   * came.  16: wait for more, as a VM waits for a reply (the broker must
   * kill it; the deadline is the backstop).  */
  while (n >= 16 || replies < n)
    {
      ssize_t r = recv (inside->broker_fd, buf, sizeof buf, 0);
      if (r <= 0)
        break;
      replies++;
    }
  return 3;
}

struct verdict
{
  struct run_result res;
  struct sandbox_result sres;
  bool exited_before_wait; /* PID 1 was gone when the broker returned */
  int64_t ms;
};

static int
run_bad (int n, struct verdict *v, struct tr_error *err)
{
  static struct policy pol = { .approve_default = -1 };
  struct sandbox_spec spec;
  struct broker_options bo = { 0 };
  struct broker_peer peer = { 0 };
  struct sandbox *sb;
  struct timespec t0;
  struct pollfd p;

  memset (v, 0, sizeof *v);
  sandbox_spec_init (&spec);
  spec.entry = entry_bad_frames;
  spec.entry_arg = (void *) (intptr_t) n;
  spec.broker = true;
  spec.mount_proc = spec.mount_dev = spec.mount_tmp = false;
  spec.keep_stdout = spec.keep_stderr = false;
  spec.workspace = SANDBOX_WORKSPACE_OFF;
  spec.seccomp = SANDBOX_SECCOMP_VM;
  spec.limits.memory_bytes = 768ull << 20;
  spec.limits.pids = 16;
  spec.limits.nofile = 64;
  spec.limits.timeout_seconds = 10;
  if (sandbox_start (&spec, &sb, err) < 0)
    return -1;
  sandbox_peer (sb, &peer);
  test_broker_options (&bo, "bad.tac", "bad", &pol);
  bo.grace_seconds = 2.0;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  if (broker_serve (&bo, &peer, &v->res.out, err) < 0)
    {
      sandbox_kill (sb);
      sandbox_wait (sb, &v->sres, err);
      sandbox_destroy (sb);
      return -1;
    }
  v->ms = elapsed_ms (&t0);
  p.fd = sandbox_pidfd (sb);
  p.events = POLLIN;
  v->exited_before_wait = poll (&p, 1, 0) == 1;
  if (v->res.out.timed_out)
    sandbox_mark_timed_out (sb);
  if (sandbox_wait (sb, &v->sres, err) < 0)
    {
      sandbox_destroy (sb);
      return -1;
    }
  sandbox_destroy (sb);
  v->res.vm_status = v->sres.timed_out ? 124 : v->sres.exit_code;
  decide (&v->res.out, v->res.vm_status, v->sres.signal, v->sres.seccomp, v->sres.oom, 10,
          &v->res.v);
  return 0;
}

int
main (void)
{
  struct verdict v;
  struct tr_error err;

  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGALRM, on_alarm);
  alarm (60);
  tr_error_clear (&err);

  if (run_bad (16, &v, &err) < 0)
    {
      report (false, "broker violations: a sandbox can be started", "%s", err.msg);
      return 1;
    }
  report (v.res.out.killed_for_violations && v.res.out.violations == 16 && !v.res.out.timed_out,
          "broker violations: 16 malformed frames from a real sandbox: the broker kills it",
          "killed_for_violations %d, violations %d, timed_out %d", v.res.out.killed_for_violations,
          v.res.out.violations, v.res.out.timed_out);
  report (v.exited_before_wait && v.sres.signal == SIGKILL && v.ms < 5000,
          "broker violations: PID 1 is dead (SIGKILL) when the broker returns, well before the "
          "deadline",
          "exited %d, signal %d, exit %d, after %lld ms", v.exited_before_wait, v.sres.signal,
          v.sres.exit_code, (long long) v.ms);
  report (v.res.v.code == 1 && strcmp (v.res.v.status, "error") == 0
              && strstr (v.res.v.message, "broke the broker protocol (16 violations") != NULL
              && strstr (v.res.v.message, "and was killed") != NULL,
          "broker violations: the run fails with \"the sandbox broke the broker protocol ... and "
          "was killed\"",
          "exit %d, status %s, message '%s'", v.res.v.code, v.res.v.status, v.res.v.message);
  broker_outcome_free (&v.res.out);

  if (run_bad (15, &v, &err) < 0)
    {
      report (false, "broker violations: a sandbox can be started (15)", "%s", err.msg);
      return 1;
    }
  report (!v.res.out.killed_for_violations && v.res.out.violations == 15 && v.sres.signal == 0
              && v.sres.exit_code == 3,
          "broker violations: 15 malformed frames: each answered, the sandbox is not killed",
          "killed_for_violations %d, violations %d, signal %d, exit %d",
          v.res.out.killed_for_violations, v.res.out.violations, v.sres.signal, v.sres.exit_code);
  broker_outcome_free (&v.res.out);
  return failures ? 1 : 0;
}
