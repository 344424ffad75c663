/* Broker round trips: a client that speaks the VM's side of the protocol
 * (frame + JSON, as vm/lib_tactus.c does) against the real broker loop
 * (broker_serve) over a SOCK_SEQPACKET socketpair, each on its own
 * process.  Prints calls/s and p50/p99 latency for tool.call with a small
 * payload and with a 64 KiB one.
 *
 * usage: rt CALLS [PAYLOAD_BYTES]  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/trace.h"
#include "common/frame.h"

static double
now_us (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec * 1e6 + (double) t.tv_nsec / 1e3;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
call (int fd, struct frame_asm *a, int id, const char *method, cJSON *params)
{
  cJSON *req = cJSON_CreateObject ();
  struct tr_error err;
  char *s;

  cJSON_AddNumberToObject (req, "id", id);
  cJSON_AddStringToObject (req, "method", method);
  cJSON_AddItemToObject (req, "params", params);
  s = cJSON_PrintUnformatted (req);
  cJSON_Delete (req);
  if (frame_send (fd, s, strlen (s), &err) < 0)
    exit (2);
  free (s);
  for (;;)
    {
      cJSON *r;
      const cJSON *ev;
      if (frame_recv (fd, a, &err) <= 0)
        exit (3);
      r = cJSON_ParseWithLength (a->buf, a->len);
      frame_asm_reset (a);
      ev = cJSON_GetObjectItemCaseSensitive (r, "event");
      if (cJSON_IsString (ev)
          && (strcmp (ev->valuestring, "done") == 0 || strcmp (ev->valuestring, "error") == 0))
        {
          if (strcmp (ev->valuestring, "error") == 0)
            {
              fprintf (stderr, "rt: %s failed\n", method);
              exit (4);
            }
          cJSON_Delete (r);
          return;
        }
      cJSON_Delete (r);
    }
}

static void
client (int fd, int n, size_t payload)
{
  struct frame_asm a = { 0 };
  double *lat = malloc (sizeof (double) * (size_t) n), t0, total;
  char *blob = malloc (payload + 1);
  cJSON *fin;
  cpu_set_t one;

  CPU_ZERO (&one);
  CPU_SET (0, &one);
  sched_setaffinity (0, sizeof one, &one);
  memset (blob, 'x', payload);
  blob[payload] = '\0';
  call (fd, &a, 1, "run.start", cJSON_CreateObject ());
  total = now_us ();
  for (int i = 0; i < n; i++)
    {
      cJSON *p = cJSON_CreateObject (), *args = cJSON_CreateObject ();
      cJSON_AddStringToObject (p, "name", "host.echo");
      cJSON_AddStringToObject (args, "data", blob);
      cJSON_AddItemToObject (p, "args", args);
      t0 = now_us ();
      call (fd, &a, i + 2, "tool.call", p);
      lat[i] = now_us () - t0;
    }
  total = now_us () - total;
  qsort (lat, (size_t) n, sizeof *lat, cmp);
  printf ("{\"calls\": %d, \"payload\": %zu, \"calls_per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": "
          "%.1f}\n",
          n, payload, n / (total / 1e6), lat[n / 2], lat[(n * 99) / 100]);
  fflush (stdout);
  fin = cJSON_CreateObject ();
  cJSON_AddStringToObject (fin, "status", "success");
  call (fd, &a, n + 2, "run.finish", fin);
  _exit (0);
}

static int
never (void *ctx)
{
  (void) ctx;
  return -1;
}

static void
kill_peer (void *ctx)
{
  kill (*(pid_t *) ctx, SIGKILL);
}

static int
signal_peer (void *ctx, int sig)
{
  return kill (*(pid_t *) ctx, sig);
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 20000;
  size_t payload = argc > 2 ? (size_t) atol (argv[2]) : 16;
  int sv[2];
  pid_t pid;
  struct policy_tool tool = { .name = (char *) "host.echo" };
  struct policy pol = { .tools = &tool, .n_tools = 1, .approve_default = -1 };
  struct trace trace = { 0 };
  struct broker_options o
      = { .policy = &pol, .trace = &trace, .max_violations = 16, .grace_seconds = 1 };
  struct broker_peer peer = { 0 };
  struct broker_outcome out;
  struct tr_error err;
  cpu_set_t one;

  if (n <= 0 || socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return 1;
  pid = fork ();
  if (pid == 0)
    {
      close (sv[0]);
      client (sv[1], n, payload);
    }
  close (sv[1]);
  /* "One core": both ends share CPU 0, as the VM and the broker would
   * on a loaded machine.  */
  CPU_ZERO (&one);
  CPU_SET (0, &one);
  sched_setaffinity (0, sizeof one, &one);
  peer.fd = sv[0];
  peer.pidfd = pidfd_open (pid, 0);
  peer.ctx = &pid;
  peer.ms_left = never;
  peer.kill = kill_peer;
  peer.signal = signal_peer;
  if (broker_serve (&o, &peer, &out, &err) < 0)
    {
      fprintf (stderr, "rt: %s\n", err.msg);
      return 1;
    }
  waitpid (pid, NULL, 0);
  broker_outcome_free (&out);
  return 0;
}
