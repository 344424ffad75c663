/* OCI hooks: each is exec'd with the container's state JSON on stdin, its
 * own args and env (nothing of ours), and an optional timeout in seconds
 * after which it is killed.  Its stdout and stderr are captured through a
 * pipe that we stop reading once the hook has exited, so a hook that
 * leaves a daemon behind holding the pipe cannot hang the runtime, and no
 * hook ever holds our own stdout/stderr (which the shim waits on).
 *
 * A failed poststart or poststop hook is logged as a warning and the
 * next one runs (the spec); any other failed hook is an error.
 *
 * prestart, createRuntime, poststart and poststop run here, in the runtime
 * namespace; createContainer and startContainer run from the container's
 * init (container.c) with the same function.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "shim/runc.h"

static long long
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
run_one (const struct oci_hook *h, const char *kind, size_t idx, const char *state,
         struct tr_error *err)
{
  int in[2] = { -1, -1 }, out[2] = { -1, -1 };
  cleanup_close int pidfd = -1;
  const char *fallback[] = { h->path, NULL };
  const char *noenv[] = { NULL };
  char output[1024];
  size_t out_len = 0, state_len = strlen (state), written = 0;
  long long deadline = h->timeout > 0 ? now_ms () + (long long) h->timeout * 1000 : 0;
  bool exited = false, timed_out = false;
  siginfo_t si;
  pid_t pid;

  if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (out, O_CLOEXEC) < 0)
    return tr_fail (err, errno, "%s hook %s: pipe", kind, h->path);
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (in[0]), close (in[1]), close (out[0]), close (out[1]);
      return tr_fail (err, e, "%s hook %s: fork", kind, h->path);
    }
  if (pid == 0)
    {
      /* hooks_run ignores SIGPIPE; an ignored signal stays ignored across
       * execve, and the hook gets the default.  */
      signal (SIGPIPE, SIG_DFL);
      dup2 (in[0], 0);
      dup2 (out[1], 1);
      dup2 (out[1], 2);
      close_range (3, ~0U, 0);
      execve (h->path, (char *const *) (h->args && h->args[0] ? h->args : fallback),
              (char *const *) (h->env ? h->env : noenv));
      dprintf (2, "exec %s: %s", h->path, strerror (errno));
      _exit (127);
    }
  close (in[0]);
  close (out[1]);
  pidfd = pidfd_open (pid, 0);
  fcntl (in[1], F_SETFL, O_NONBLOCK);
  fcntl (out[0], F_SETFL, O_NONBLOCK);
  while (!exited)
    {
      struct pollfd p[3] = { { .fd = pidfd, .events = POLLIN },
                             { .fd = out[0], .events = POLLIN },
                             { .fd = written < state_len ? in[1] : -1, .events = POLLOUT } };
      int wait_ms = -1;
      if (deadline)
        {
          long long left = deadline - now_ms ();
          if (left <= 0)
            {
              timed_out = true;
              kill (pid, SIGKILL);
              break;
            }
          wait_ms = (int) (left > 1000000 ? 1000000 : left);
        }
      if (in[1] >= 0 && written >= state_len)
        {
          close (in[1]);
          in[1] = -1;
        }
      if (poll (p, 3, wait_ms) < 0 && errno != EINTR)
        break;
      if (p[2].revents & (POLLOUT | POLLERR | POLLHUP))
        {
          ssize_t w = write (in[1], state + written, state_len - written);
          if (w > 0)
            written += (size_t) w;
          else if (w < 0 && errno != EAGAIN)
            written = state_len; /* the hook closed its stdin: fine */
        }
      if (p[1].revents & (POLLIN | POLLHUP))
        {
          char buf[512];
          ssize_t r = read (out[0], buf, sizeof buf);
          if (r > 0)
            {
              size_t keep = (size_t) r;
              if (keep > sizeof output - 1 - out_len)
                keep = sizeof output - 1 - out_len;
              memcpy (output + out_len, buf, keep);
              out_len += keep;
            }
          else if (r == 0)
            {
              close (out[0]);
              out[0] = -1;
            }
        }
      if (pidfd < 0 || (p[0].revents & POLLIN))
        exited = true;
    }
  /* What the hook printed before exiting (without waiting for its children).  */
  if (out[0] >= 0)
    {
      ssize_t r;
      while (out_len < sizeof output - 1
             && (r = read (out[0], output + out_len, sizeof output - 1 - out_len)) > 0)
        out_len += (size_t) r;
      close (out[0]);
    }
  if (in[1] >= 0)
    close (in[1]);
  output[out_len] = '\0';
  while (out_len > 0 && (output[out_len - 1] == '\n' || output[out_len - 1] == ' '))
    output[--out_len] = '\0';
  memset (&si, 0, sizeof si);
  while (waitid (P_PID, (id_t) pid, &si, WEXITED) < 0 && errno == EINTR)
    ;
  if (timed_out)
    return tr_fail (err, 0, "error running %s hook #%zu: %s: timeout after %d seconds", kind, idx,
                    h->path, h->timeout);
  if (si.si_code != CLD_EXITED || si.si_status != 0)
    return tr_fail (err, 0, "error running %s hook #%zu: %s: %s %d%s%s", kind, idx, h->path,
                    si.si_code == CLD_EXITED ? "exit status" : "killed by signal", si.si_status,
                    output[0] ? ", stdout/stderr: " : "", output);
  return 0;
}

int
hooks_run (const struct oci_config *cfg, enum hook_kind kind, const char *state_json,
           struct tr_error *err)
{
  /* The spec: a failed poststart or poststop hook is a warning, and the
   * remaining hooks and the lifecycle continue.  */
  bool keep_going = kind == HOOK_POSTSTART || kind == HOOK_POSTSTOP;
  struct sigaction ign = { .sa_handler = SIG_IGN }, old;
  int r = 0;

  /* A hook that exits without reading its stdin must not kill us with
   * SIGPIPE while we write the state: the write fails with EPIPE instead
   * (run_one takes that as "the hook closed its stdin").  */
  sigemptyset (&ign.sa_mask);
  sigaction (SIGPIPE, &ign, &old);
  for (size_t i = 0; i < cfg->n_hooks[kind]; i++)
    {
      log_debug ("running %s hook %s", hook_names[kind], cfg->hooks[kind][i].path);
      if (run_one (&cfg->hooks[kind][i], hook_names[kind], i, state_json, err) < 0)
        {
          if (!keep_going)
            {
              r = -1;
              break;
            }
          log_warn ("%s", err->msg);
          tr_error_clear (err);
        }
    }
  sigaction (SIGPIPE, &old, NULL);
  return r;
}
