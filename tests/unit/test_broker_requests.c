/* Requests with bad params get the documented reply from the real broker
 * loop (docs/protocol.md): checkpoint.save without a whole-number
 * position from 1 to 10^6 is a protocol violation (an error reply of type
 * BadRequest, counted), a good one is stored (done), and run.finish ends
 * the run.  Notifications (no id: events.emit, run.finish) get no reply
 * at all, and only those two methods may be one.  The fake VM is a forked
 * process on the other end of a
 * SEQPACKET socketpair that checks every reply and reports through its
 * exit status.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
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

static void
on_alarm (int sig)
{
  static const char msg[] = "FAIL: broker requests: the run did not end (watchdog)\n";
  (void) sig;
  if (write (1, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (1);
}

/* Send TEXT and read replies up to the final one; returns its "event"
 * and, for an error, "error.type" (in TYPE).  */
static void
call (int fd, const char *text, char *event, char *type, size_t size)
{
  struct frame_asm a = { 0 };
  struct tr_error err;

  event[0] = type[0] = '\0';
  if (frame_send (fd, text, strlen (text), &err) < 0)
    _exit (100);
  for (;;)
    {
      cJSON *r, *ev, *t;
      if (frame_recv (fd, &a, &err) <= 0)
        _exit (101);
      r = cJSON_ParseWithLength (a.buf, a.len);
      frame_asm_reset (&a);
      ev = cJSON_GetObjectItemCaseSensitive (r, "event");
      t = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "error"), "type");
      if (cJSON_IsString (ev)
          && (strcmp (ev->valuestring, "done") == 0 || strcmp (ev->valuestring, "error") == 0))
        {
          snprintf (event, size, "%s", ev->valuestring);
          snprintf (type, size, "%s", cJSON_IsString (t) ? t->valuestring : "");
          cJSON_Delete (r);
          break;
        }
      cJSON_Delete (r);
    }
  frame_asm_free (&a);
}

/* The fake VM: exit status = the number of replies that were not as
 * documented (0 when all were).  */
static int
fake_vm (int fd)
{
  static const char *const bad[] = {
    "{\"id\":2,\"method\":\"checkpoint.save\",\"params\":{\"value\":1}}",
    "{\"id\":3,\"method\":\"checkpoint.save\",\"params\":{\"position\":0,\"value\":1}}",
    "{\"id\":4,\"method\":\"checkpoint.save\",\"params\":{\"position\":1.5,\"value\":1}}",
    "{\"id\":5,\"method\":\"checkpoint.save\",\"params\":{\"position\":\"1\",\"value\":1}}",
    "{\"id\":6,\"method\":\"checkpoint.save\",\"params\":{\"position\":1000001,\"value\":1}}",
  };
  char event[64], type[64];
  int wrong = 0;

  call (fd, "{\"id\":1,\"method\":\"run.start\",\"params\":{}}", event, type, sizeof event);
  wrong += strcmp (event, "done") != 0;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      call (fd, bad[i], event, type, sizeof event);
      if (strcmp (event, "error") != 0 || strcmp (type, "BadRequest") != 0)
        {
          fprintf (stderr, "fake VM: %s -> %s %s\n", bad[i], event, type);
          wrong++;
        }
    }
  call (fd,
        "{\"id\":7,\"method\":\"checkpoint.save\",\"params\":{\"position\":3,\"value\":\"ok\"}}",
        event, type, sizeof event);
  wrong += strcmp (event, "done") != 0;
  call (fd, "{\"id\":8,\"method\":\"run.finish\",\"params\":{\"status\":\"success\"}}", event, type,
        sizeof event);
  wrong += strcmp (event, "done") != 0;
  return wrong;
}

/* One-way messages: 1000 events.emit notifications get no reply (the
 * next final reply the VM reads is its own request's), an events.emit
 * request still gets done (the positive control), a tool.call without an
 * id is a violation, and a run.finish notification ends the run.  */
static int
fake_vm_notify (int fd)
{
  static const char ev[] = "{\"method\":\"events.emit\",\"params\":{\"event\":{\"event_type\":"
                           "\"log\",\"message\":\"x\"}}}";
  struct frame_asm a = { 0 };
  struct tr_error err;
  char event[64], type[64];
  int wrong = 0;

  call (fd, "{\"id\":1,\"method\":\"run.start\",\"params\":{}}", event, type, sizeof event);
  wrong += strcmp (event, "done") != 0;
  for (int i = 0; i < 1000; i++)
    if (frame_send (fd, ev, sizeof ev - 1, &err) < 0)
      _exit (102);
  /* The first reply after the notifications must be this request's.  */
  if (frame_send (
          fd,
          "{\"id\":2,\"method\":\"events.emit\",\"params\":{\"event\":{\"event_type\":\"log\"}}}",
          strlen ("{\"id\":2,\"method\":\"events.emit\",\"params\":{\"event\":{\"event_type\":"
                  "\"log\"}}}"),
          &err)
      < 0)
    _exit (103);
  if (frame_recv (fd, &a, &err) <= 0)
    _exit (104);
  {
    cJSON *r = cJSON_ParseWithLength (a.buf, a.len);
    cJSON *id = cJSON_GetObjectItemCaseSensitive (r, "id");
    cJSON *e = cJSON_GetObjectItemCaseSensitive (r, "event");
    if (!cJSON_IsNumber (id) || id->valuedouble != 2 || !cJSON_IsString (e)
        || strcmp (e->valuestring, "done") != 0)
      {
        fprintf (stderr, "fake VM: first reply after the notifications: %.*s\n", (int) a.len,
                 a.buf);
        wrong++;
      }
    cJSON_Delete (r);
  }
  frame_asm_free (&a);
  call (fd, "{\"method\":\"tool.call\",\"params\":{\"name\":\"host.x\",\"args\":{}}}", event, type,
        sizeof event);
  wrong += strcmp (event, "error") != 0 || strcmp (type, "BadRequest") != 0;
  if (frame_send (fd, "{\"method\":\"run.finish\",\"params\":{\"status\":\"success\"}}",
                  strlen ("{\"method\":\"run.finish\",\"params\":{\"status\":\"success\"}}"), &err)
      < 0)
    _exit (105);
  return wrong;
}

static int
serve_fake (int (*vm) (int), struct broker_outcome *out, int *status)
{
  static struct policy pol = { .approve_default = -1 };
  struct broker_options o = { 0 };
  struct broker_peer peer = { 0 };
  struct tr_error err;
  int sv[2], pidfd, r;
  pid_t pid;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return -1;
  pid = fork ();
  if (pid == 0)
    {
      close (sv[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      _exit (vm (sv[1]));
    }
  close (sv[1]);
  pidfd = pidfd_open (pid, 0);
  test_broker_options (&o, "requests.tac", "requests", &pol);
  test_child_peer (&peer, sv[0], pid, &pidfd);
  r = broker_serve (&o, &peer, out, &err);
  waitpid (pid, status, 0);
  close (pidfd);
  close (sv[0]);
  return r;
}

int
main (void)
{
  static struct policy pol = { .approve_default = -1 };
  struct broker_options o = { 0 };
  struct broker_peer peer = { 0 };
  struct broker_outcome out;
  struct tr_error err;
  int sv[2], pidfd, status = 0, r;
  pid_t pid;

  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGALRM, on_alarm);
  alarm (20);
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return 1;
  pid = fork ();
  if (pid == 0)
    {
      close (sv[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      _exit (fake_vm (sv[1]));
    }
  close (sv[1]);
  pidfd = pidfd_open (pid, 0);
  test_broker_options (&o, "requests.tac", "requests", &pol);
  test_child_peer (&peer, sv[0], pid, &pidfd);
  r = broker_serve (&o, &peer, &out, &err);
  waitpid (pid, &status, 0);
  report (r == 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0,
          "broker requests: checkpoint.save with a missing, zero, fractional, string or too large "
          "position gets BadRequest; a good one and run.finish get done",
          "serve %d, the fake VM saw %d unexpected replies (status 0x%x)", r,
          WIFEXITED (status) ? WEXITSTATUS (status) : -1, status);
  report (out.violations == 5 && !out.killed_for_violations && strcmp (out.status, "success") == 0
              && strstr (out.violation, "checkpoint.save needs params.position") != NULL,
          "broker requests: each bad checkpoint.save counts as a protocol violation",
          "violations %d, killed %d, status %s, last '%s'", out.violations,
          out.killed_for_violations, out.status, out.violation);
  broker_outcome_free (&out);
  close (pidfd);
  close (sv[0]);

  r = serve_fake (fake_vm_notify, &out, &status);
  report (r == 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0,
          "broker notifications: 1000 events.emit without an id get no reply, one with an id gets "
          "done, a tool.call without an id gets BadRequest",
          "serve %d, the fake VM saw %d unexpected replies (status 0x%x)", r,
          WIFEXITED (status) ? WEXITSTATUS (status) : -1, status);
  report (out.violations == 1 && strcmp (out.status, "success") == 0 && out.requests == 1003,
          "broker notifications: every one is handled, and a run.finish notification ends the run",
          "violations %d, status %s, requests %ld", out.violations, out.status, out.requests);
  broker_outcome_free (&out);
  return failures ? 1 : 0;
}
