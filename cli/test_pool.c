/* The worker pool (test_pool.h).  A worker is a fork of the CLI: it runs
 * one job (a scenario run, its own sandbox and broker) and writes the
 * outcome as one JSON document on its pipe; the parent polls the pipes.
 * A worker that dies without an outcome gets one made up from its exit
 * status, so every job has an outcome.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/test_pool.h"

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t stop_from_tty;

/* The parent: stop starting runs, let the running ones end.  */
static void
on_stop (int sig, siginfo_t *si, void *uc)
{
  (void) uc;
  stop_signal = sig;
  stop_from_tty = si && si->si_code == SI_KERNEL;
}

/* A worker: remembered until its broker takes over the signals (after
 * that they go to the broker's signalfd and end the run gracefully).  */
static volatile sig_atomic_t worker_signal;

static void
on_worker_stop (int sig)
{
  worker_signal = sig;
}

struct slot
{
  pid_t pid;
  int fd;
  int job;
  char *buf;
  size_t len, cap;
};

static int
write_all (int fd, const char *p, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return -1;
      p += w;
      n -= (size_t) w;
    }
  return 0;
}

static cJSON *
interrupted_outcome (int sig)
{
  cJSON *r = cJSON_CreateObject ();
  cJSON_AddNumberToObject (r, "code", 128 + sig);
  cJSON_AddStringToObject (r, "status", "interrupted");
  cJSON_AddStringToObject (r, "message",
                           sig == SIGTERM ? "interrupted by SIGTERM" : "interrupted by SIGINT");
  return r;
}

static int
start_worker (const struct test_pool *p, int job, struct slot *slot)
{
  int fds[2];
  pid_t pid;

  if (pipe2 (fds, O_CLOEXEC) < 0)
    return -1;
  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  if (pid < 0)
    {
      close (fds[0]);
      close (fds[1]);
      return -1;
    }
  if (pid == 0)
    {
      struct sigaction wa = { 0 };
      cJSON *r;
      const cJSON *code;
      char *text;

      close (fds[0]);
      wa.sa_handler = on_worker_stop;
      sigemptyset (&wa.sa_mask);
      sigaction (SIGINT, &wa, NULL);
      sigaction (SIGTERM, &wa, NULL);
      signal (SIGPIPE, SIG_DFL);
      prctl (PR_SET_PDEATHSIG, SIGTERM);
      r = worker_signal ? NULL : p->run (p->ctx, job);
      code = cJSON_GetObjectItemCaseSensitive (r, "code");
      if (worker_signal && (r == NULL || !cJSON_IsNumber (code) || code->valueint < 128))
        {
          /* Stopped before the broker could see the signal.  */
          cJSON_Delete (r);
          r = interrupted_outcome (worker_signal);
        }
      text = r ? cJSON_PrintUnformatted (r) : NULL;
      if (text)
        write_all (fds[1], text, strlen (text));
      _exit (text ? 0 : 1);
    }
  close (fds[1]);
  slot->pid = pid;
  slot->fd = fds[0];
  slot->job = job;
  slot->len = 0;
  return 0;
}

/* Read what is there; 1 at end of file, 0 for more, -1 on error.  */
static int
slot_read (struct slot *slot)
{
  char tmp[65536];
  ssize_t n = read (slot->fd, tmp, sizeof tmp);

  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? 0 : -1;
  if (n == 0)
    return 1;
  if (slot->len + (size_t) n + 1 > slot->cap)
    {
      size_t cap = (slot->cap ? slot->cap * 2 : 65536);
      char *b;
      while (cap < slot->len + (size_t) n + 1)
        cap *= 2;
      b = realloc (slot->buf, cap);
      if (b == NULL)
        return -1;
      slot->buf = b;
      slot->cap = cap;
    }
  memcpy (slot->buf + slot->len, tmp, (size_t) n);
  slot->len += (size_t) n;
  slot->buf[slot->len] = '\0';
  return 0;
}

static cJSON *
slot_finish (struct slot *slot)
{
  int status = 0;
  cJSON *r = NULL;

  close (slot->fd);
  slot->fd = -1;
  while (waitpid (slot->pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (slot->len > 0)
    r = cJSON_Parse (slot->buf);
  if (r == NULL)
    {
      char msg[256];
      r = cJSON_CreateObject ();
      if (WIFSIGNALED (status))
        snprintf (msg, sizeof msg, "the scenario's worker was killed by signal %d",
                  WTERMSIG (status));
      else
        snprintf (msg, sizeof msg, "the scenario could not be run (worker exit status %d)",
                  WIFEXITED (status) ? WEXITSTATUS (status) : -1);
      cJSON_AddNumberToObject (
          r, "code",
          WIFSIGNALED (status) && (WTERMSIG (status) == SIGINT || WTERMSIG (status) == SIGTERM)
              ? 128 + WTERMSIG (status)
              : 1);
      cJSON_AddStringToObject (r, "status", "error");
      cJSON_AddStringToObject (r, "message", msg);
    }
  slot->len = 0;
  return r;
}

int
test_pool_run (const struct test_pool *p, int *done)
{
  struct slot slots[TEST_POOL_MAX_WORKERS];
  struct sigaction sa = { 0 }, old_int, old_term;
  unsigned workers = p->workers > TEST_POOL_MAX_WORKERS ? TEST_POOL_MAX_WORKERS : p->workers;
  int next = 0, active = 0;
  bool forwarded = false;

  *done = 0;
  stop_signal = 0;
  sa.sa_sigaction = on_stop;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, &old_int);
  sigaction (SIGTERM, &sa, &old_term);
  for (unsigned i = 0; i < TEST_POOL_MAX_WORKERS; i++)
    slots[i].fd = -1, slots[i].buf = NULL, slots[i].cap = 0;

  while (*done < p->n_jobs)
    {
      struct pollfd pfd[TEST_POOL_MAX_WORKERS];
      int map[TEST_POOL_MAX_WORKERS], np = 0;

      for (unsigned i = 0; i < workers && next < p->n_jobs && !stop_signal; i++)
        if (slots[i].fd < 0)
          {
            if (start_worker (p, next, &slots[i]) < 0)
              {
                fprintf (stderr, "tactus-run test: cannot start a worker: %s\n", strerror (errno));
                stop_signal = SIGTERM;
                break;
              }
            next++;
            active++;
          }
      if (active == 0)
        break;
      if (stop_signal && !forwarded)
        {
          forwarded = true;
          if (!stop_from_tty)
            for (unsigned i = 0; i < workers; i++)
              if (slots[i].fd >= 0)
                kill (slots[i].pid, stop_signal);
        }
      for (unsigned i = 0; i < workers; i++)
        if (slots[i].fd >= 0)
          {
            pfd[np].fd = slots[i].fd;
            pfd[np].events = POLLIN;
            map[np++] = (int) i;
          }
      if (poll (pfd, (nfds_t) np, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      for (int k = 0; k < np; k++)
        {
          struct slot *slot = &slots[map[k]];
          if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
          if (slot_read (slot) != 0)
            {
              int job = slot->job;
              p->done (p->ctx, job, slot_finish (slot));
              active--;
              (*done)++;
            }
        }
      if (p->ready)
        p->ready (p->ctx);
    }
  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
  for (unsigned i = 0; i < TEST_POOL_MAX_WORKERS; i++)
    free (slots[i].buf);
  return stop_signal;
}
