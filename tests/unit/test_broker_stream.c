/* A VM that lags behind a streamed model answer: the broker neither
 * blocks nor piles up every delta for it.
 *
 * The real broker loop serves a fake VM (a forked process on a SEQPACKET
 * socketpair) whose llm.chat goes to tests/lib/fake_openai.py streaming
 * about 4 MB of text.  The VM sends the request and then sleeps instead of
 * reading, as a VM starved of CPU would.  The broker must take the whole
 * stream without waiting for the VM, stop queueing deltas once the VM is
 * BROKER_DELTA_BACKLOG behind, and still deliver the final reply with the
 * whole text; no violation is counted and the run finishes.  */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/frame.h"
#include "tests/unit/unit.h"

#define FLOOD_BYTES 4000000
#define TEXT_LEN (FLOOD_BYTES / 1000 * 1001 - 1) /* 1000-byte words, one space between */

static pid_t server = -1;
static char dir[] = "/tmp/test_broker_stream.XXXXXX";

static void
cleanup (void)
{
  const char *files[] = { "port", "script.json", "log" };
  char path[256];

  if (server > 0)
    {
      kill (server, SIGKILL);
      waitpid (server, NULL, 0);
      server = -1;
    }
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    {
      snprintf (path, sizeof path, "%s/%s", dir, files[i]);
      unlink (path);
    }
  rmdir (dir);
}

static void
on_alarm (int sig)
{
  static const char msg[] = "FAIL: broker stream: the run did not end (watchdog)\n";
  (void) sig;
  if (server > 0)
    kill (server, SIGKILL);
  if (write (1, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (1);
}

/* The fake model server; returns its port, or -1.  */
static int
start_server (void)
{
  const char *tests = getenv ("TESTS_DIR");
  char script[300], port[300], log[300], fake[600];
  FILE *f;
  int p = -1;

  snprintf (fake, sizeof fake, "%s/lib/fake_openai.py", tests && *tests ? tests : "tests");
  if (access (fake, R_OK) < 0 || mkdtemp (dir) == NULL)
    return -1;
  snprintf (script, sizeof script, "%s/script.json", dir);
  snprintf (port, sizeof port, "%s/port", dir);
  snprintf (log, sizeof log, "%s/log", dir);
  f = fopen (script, "w");
  if (f == NULL)
    return -1;
  fprintf (f, "[{\"flood\": %d}]\n", FLOOD_BYTES);
  fclose (f);
  server = fork ();
  if (server < 0)
    return -1;
  if (server == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      execlp ("python3", "python3", fake, port, script, log, (char *) NULL);
      _exit (127);
    }
  for (int i = 0; i < 500 && p < 0; i++)
    {
      f = fopen (port, "r");
      if (f == NULL || fscanf (f, "%d", &p) != 1)
        p = -1;
      if (f)
        fclose (f);
      if (p < 0)
        usleep (20000);
    }
  return p;
}

static void
vm_send (int fd, const char *text)
{
  struct tr_error err;
  if (frame_send (fd, text, strlen (text), &err) < 0)
    _exit (100);
}

/* The fake VM.  Writes "deltas delta_bytes event done_text_len" to OUT.  */
static int
fake_vm (int fd, int out)
{
  struct frame_asm a = { 0 };
  struct tr_error err;
  long deltas = 0, delta_bytes = 0, text_len = -1;
  char final[32] = "", line[200];
  int n;

  vm_send (fd, "{\"id\":1,\"method\":\"run.start\",\"params\":{}}");
  if (frame_recv (fd, &a, &err) <= 0)
    _exit (101);
  frame_asm_reset (&a);
  vm_send (
      fd, "{\"id\":2,\"method\":\"llm.chat\",\"params\":{\"model\":\"gpt-4o-mini\",\"stream\":true,"
          "\"messages\":[{\"role\":\"user\",\"content\":\"flood me\"}]}}");
  sleep (4); /* starved: the broker gets the whole stream meanwhile */
  for (;;)
    {
      cJSON *r, *ev, *data, *text;
      if (frame_recv (fd, &a, &err) <= 0)
        _exit (102);
      r = cJSON_ParseWithLength (a.buf, a.len);
      frame_asm_reset (&a);
      ev = cJSON_GetObjectItemCaseSensitive (r, "event");
      data = cJSON_GetObjectItemCaseSensitive (r, "data");
      text = cJSON_GetObjectItemCaseSensitive (data, "text");
      if (cJSON_IsString (ev) && strcmp (ev->valuestring, "delta") == 0)
        {
          deltas++;
          delta_bytes += cJSON_IsString (text) ? (long) strlen (text->valuestring) : 0;
          cJSON_Delete (r);
          continue;
        }
      snprintf (final, sizeof final, "%s", cJSON_IsString (ev) ? ev->valuestring : "?");
      text_len = cJSON_IsString (text) ? (long) strlen (text->valuestring) : -1;
      cJSON_Delete (r);
      break;
    }
  vm_send (fd, "{\"id\":3,\"method\":\"run.finish\",\"params\":{\"status\":\"success\"}}");
  if (frame_recv (fd, &a, &err) <= 0)
    _exit (103);
  n = snprintf (line, sizeof line, "%ld %ld %s %ld\n", deltas, delta_bytes, final, text_len);
  if (write (out, line, (size_t) n) != n)
    _exit (104);
  return 0;
}

int
main (void)
{
  static struct policy pol = { .approve_default = -1 };
  struct broker_options o = { 0 };
  struct broker_peer peer = { 0 };
  struct broker_outcome out;
  struct tr_error err;
  char url[100], buf[200] = "";
  long deltas = -1, delta_bytes = -1, text_len = -1;
  char final[32] = "";
  int sv[2], pipefd[2], pidfd, status = 0, r, port;
  pid_t pid;

  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGALRM, on_alarm);
  alarm (60);
  atexit (cleanup);
  port = start_server ();
  if (port < 0)
    {
      printf ("SKIP: broker stream: the fake model server (python3 tests/lib/fake_openai.py) did "
              "not start\n");
      return 0;
    }
  snprintf (url, sizeof url, "http://127.0.0.1:%d/v1", port);
  setenv ("OPENAI_API_KEY", "sk-test-broker-stream", 1);
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0
      || pipe2 (pipefd, O_CLOEXEC) < 0)
    return 1;
  pid = fork ();
  if (pid == 0)
    {
      close (sv[0]);
      close (pipefd[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      _exit (fake_vm (sv[1], pipefd[1]));
    }
  close (sv[1]);
  close (pipefd[1]);
  pidfd = pidfd_open (pid, 0);
  test_broker_options (&o, "stream.tac", "stream", &pol);
  o.llm_base_url = url;
  o.llm_timeout = 30;
  test_child_peer (&peer, sv[0], pid, &pidfd);
  r = broker_serve (&o, &peer, &out, &err);
  waitpid (pid, &status, 0);
  if (read (pipefd[0], buf, sizeof buf - 1) > 0)
    sscanf (buf, "%ld %ld %31s %ld", &deltas, &delta_bytes, final, &text_len);
  report (
      r == 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0 && strcmp (final, "done") == 0
          && text_len == TEXT_LEN,
      "broker stream: a VM that sleeps through a 4 MB stream still gets the final reply with the "
      "whole text",
      "serve %d, VM status 0x%x, final '%s', text %ld bytes (want %d)", r, status, final, text_len,
      TEXT_LEN);
  report (deltas > 0 && delta_bytes > 0 && delta_bytes < 2 * (1 << 20),
          "broker stream: deltas stop once the VM is 1 MiB behind (the queue stays bounded)",
          "%ld deltas, %ld bytes of delta text (the stream had %d)", deltas, delta_bytes, TEXT_LEN);
  report (out.violations == 0 && !out.killed_for_violations && strcmp (out.status, "success") == 0
              && out.llm_calls == 1,
          "broker stream: no violation is counted and the run finishes",
          "violations %d (%s), killed %d, status %s, model calls %d", out.violations, out.violation,
          out.killed_for_violations, out.status, out.llm_calls);
  broker_outcome_free (&out);
  close (pidfd);
  close (sv[0]);
  close (pipefd[0]);
  return failures ? 1 : 0;
}
