/* tactus-run serve: a warm pool of cages.
 *
 * A cold run pays for creating namespaces (the network namespace alone is
 * most of a millisecond), the cgroup and the launcher's own start.  The
 * pool pays that ahead: it keeps SIZE supervisors, each a fork of the
 * server holding one prepared sandbox (sandbox_prepare: cgroup and
 * namespaces made, the child waiting, nothing of a run inside).  A client
 * (tactus-run-client, cli/client.c) connects to the pool's unix socket and
 * sends its procedure; the server hands the connection to an idle
 * supervisor, which gives the cage the client's workspace and procedure
 * (sandbox_go), serves the broker with the client's stdout/stderr as the
 * trace and result streams, sends the exit status and exits.  The server
 * starts a replacement at once.
 *
 * Isolation is unchanged: every cage is fresh, used for one run, and
 * destroyed.  The pool only accepts clients with the server's own uid
 * (SO_PEERCRED), so it never runs a procedure for another user; and its
 * default socket lives in a private directory of the user's
 * (common/userdir.h: $XDG_RUNTIME_DIR/tactus-run, /run/tactus-run for
 * root, else /tmp/tactus-run-UID, refused unless ours and 0700), so no
 * other user can listen there first: the client checks the server's uid
 * too before it sends anything.  A request carries
 * the procedure, its parameters and run flags (mock, approve, timeout); its
 * config is what `tactus-run run` would load in the client's directory
 * (every layer, the procedure's sidecar included, under the same trust
 * rules).  The cages are prepared from the server's config: a run whose
 * config asks for another cage (JIT, limits, environment) gets a cage of
 * its own, built as a cold run builds it.
 *
 * Wire format (docs/protocol.md, "The pool protocol"; SOCK_SEQPACKET,
 * common/frame.h framing):
 *   client -> server  one packet "H" with SCM_RIGHTS [cwd, procedure dir,
 *                     stdout, stderr], then one framed JSON request:
 *                     {file, source, params, json, mock_all, approve,
 *                      timeout, verbose, keep}
 *   server -> client  one framed JSON reply {exit_code} at the end; with
 *                     keep, the connection then waits for the next "H".
 *   "S" instead of "H": one framed JSON status reply (serve --status).  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/trace.h"
#include "cli/cli.h"
#include "cli/listen_fds.h"
#include "cli/options.h"
#include "cli/present.h"
#include "cli/run_common.h"
#include "common/cleanup.h"
#include "common/environ.h"
#include "common/fdpass.h"
#include "common/userdir.h"
#include "common/frame.h"
#include "sandbox/sandbox.h"

#define MAX_POOL 64
#define MAX_PENDING 64 /* connections whose first packet has not come yet */

struct supervisor
{
  pid_t pid;
  int ctl; /* the server's end: the client connection is passed here */
};

/* ---- the supervisor: one prepared cage, one run ---- */

static int
recv_fds (int sock, int *fds, int want)
{
  char tag;
  int got;
  return fd_recv (sock, &tag, 1, fds, want, &got) == 1 && got == want ? 0 : -1;
}

static void
send_exit (int conn, int code)
{
  char msg[64];
  struct tr_error err;
  int n = snprintf (msg, sizeof msg, "{\"exit_code\":%d}", code);
  frame_send (conn, msg, (size_t) n, &err);
}

static const char *
jstr (const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, k);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

/* A client hanging up stops its run: the kernel signals SIGHUP when the
 * connection becomes readable, which the broker treats as a stop.  */
static void
stop_on_hangup (int conn)
{
  fcntl (conn, F_SETOWN, getpid ());
  fcntl (conn, F_SETSIG, SIGHUP);
  fcntl (conn, F_SETFL, fcntl (conn, F_GETFL) | O_ASYNC);
}

/* The pool's socket: a supervisor gives a kept connection back to the
 * server through it.  */
static const char *listen_path;

/* The connection asked to stay open ("keep": a driver sending many
 * procedures over one connection): give it back to the server, which
 * waits for its next request.  The hang-up signal was turned off before
 * (serve_one): it names this process, whose pid is reused once it is
 * gone.  */
static void
hand_back (int conn)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int s;

  if (listen_path == NULL || strlen (listen_path) >= sizeof addr.sun_path)
    return;
  strcpy (addr.sun_path, listen_path);
  s = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0)
    return;
  if (connect (s, (struct sockaddr *) &addr, sizeof addr) == 0)
    fd_send (s, "K", 1, &conn, 1);
  close (s);
}

static bool
same_env (char *const *a, char *const *b)
{
  for (; a && *a && b && *b; a++, b++)
    if (strcmp (*a, *b) != 0)
      return false;
  return (a == NULL || *a == NULL) && (b == NULL || *b == NULL);
}

/* Whether a run's config gives its cage what the server's config gave the
 * prepared one (run_prepare, fill_spec): the seccomp profile (JIT), the
 * limits, the overlay's file size cap, the environment.  */
static bool
same_cage (const struct tr_config *a, const struct tr_config *b)
{
  return a->jit == b->jit && a->memory == b->memory && a->pids == b->pids && a->cpus == b->cpus
         && (a->workspace == CONFIG_WORKSPACE_OVERLAY) == (b->workspace == CONFIG_WORKSPACE_OVERLAY)
         && same_env (a->env, b->env);
}

static int
serve_one (int conn, const struct tr_config *server_cfg, struct sandbox *sb)
{
  int fds[4] = { -1, -1, -1, -1 };
  struct frame_asm a = { 0 };
  struct tr_error err;
  cJSON *req = NULL, *params;
  char ws[64], procdir[64];
  struct trace trace = { 0 };
  struct present view = { 0 };
  enum present_color color;
  bool json;
  struct run_job job = { 0 };
  struct run_result res;
  FILE *out = NULL, *errf = NULL;
  const char *file, *source, *approve;
  int code = 1;
  bool keep = false, have_cfg = false, handed = false;
  struct tr_config run_cfg;
  const struct tr_config *cfg = server_cfg;

  if (recv_fds (conn, fds, 4) < 0 || frame_recv (conn, &a, &err) <= 0
      || (req = cJSON_ParseWithLength (a.buf, a.len)) == NULL)
    goto out;
  file = jstr (req, "file");
  source = jstr (req, "source");
  keep = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (req, "keep"));
  out = fdopen (fds[2], "w");
  errf = fdopen (fds[3], "w");
  if (out == NULL || errf == NULL)
    goto out;
  fds[2] = fds[3] = -1;
  if (file == NULL || source == NULL || (source[0] == 0x1b))
    {
      fprintf (errf,
               "tactus-run pool: a request needs the procedure's file name and source text\n");
      goto out;
    }
  /* The run's config, as `tactus-run run FILE` in the client's directory
   * would load it: the same layers (the procedure's sidecar and the
   * project's config included) under the same trust rules
   * (policy/trust.c), bound to the source the client sent.  This process
   * serves this one run: it may take the client's directory as its own.  */
  if (fchdir (fds[0]) < 0)
    {
      fprintf (errf, "tactus-run pool: cannot enter the client's directory: %s\n",
               strerror (errno));
      goto out;
    }
  {
    struct config_request creq
        = { .procedure = file, .source = source, .source_len = strlen (source) };
    tr_error_clear (&err);
    config_init (&run_cfg);
    have_cfg = true;
    if (config_load_request (&run_cfg, &creq, &err) < 0)
      {
        fprintf (errf, "tactus-run: %s\n", err.msg[0] ? err.msg : "config: unknown error");
        goto out;
      }
    cfg = &run_cfg;
  }
  /* The run's options, as tactus-run run's --no-jit, --memory and
   * --workspace-mode apply them.  */
  if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (req, "no_jit")))
    run_cfg.jit = false;
  if (jstr (req, "memory"))
    {
      uint64_t m;
      if (parse_size (jstr (req, "memory"), &m) < 0 || m < (4u << 20))
        {
          fprintf (errf,
                   "tactus-run pool: --memory '%.40s': expected a size of at least 4m, such "
                   "as 256m\n",
                   jstr (req, "memory"));
          goto out;
        }
      run_cfg.memory = m;
    }
  if (jstr (req, "workspace_mode"))
    {
      static const char *const modes[] = { "rw", "ro", "overlay", "off" };
      static const enum config_workspace values[]
          = { CONFIG_WORKSPACE_RW, CONFIG_WORKSPACE_RO, CONFIG_WORKSPACE_OVERLAY,
              CONFIG_WORKSPACE_OFF };
      const char *m = jstr (req, "workspace_mode");
      size_t i = 0;
      while (i < 4 && strcmp (m, modes[i]) != 0)
        i++;
      if (i == 4)
        {
          fprintf (errf,
                   "tactus-run pool: --workspace-mode '%.40s': expected rw, ro, overlay or "
                   "off\n",
                   m);
          goto out;
        }
      run_cfg.workspace = values[i];
    }
  /* The pool is for sandboxed runs only, whatever a layer says.  */
  if (!cfg->sandbox_enabled)
    {
      fprintf (errf, "tactus-run pool: the config turns the sandbox off; the pool runs only "
                     "sandboxed procedures (use tactus-run run --no-sandbox)\n");
      goto out;
    }
  /* A cage prepared for other settings is not used: this run gets one of
   * its own, as a cold run would (same results, only slower).  */
  if (!same_cage (cfg, server_cfg))
    {
      sandbox_destroy (sb);
      sb = NULL;
    }
  params = cJSON_GetObjectItemCaseSensitive (req, "params");
  approve = jstr (req, "approve");
  snprintf (ws, sizeof ws, "/proc/self/fd/%d", fds[0]);
  snprintf (procdir, sizeof procdir, "/proc/self/fd/%d", fds[1]);
  json = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (req, "json"));
  /* The client's stderr is the terminal (or not) the view writes to.  */
  color = PRESENT_COLOR_AUTO;
  if (jstr (req, "color"))
    present_color_parse (jstr (req, "color"), &color);
  present_init (&view, errf, color);
  view.verbose = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (req, "verbose"));
  present_trace_attach (&trace, &view, !json);
  trace.jsonl = json ? out : NULL;
  job.file = file;
  job.source = source;
  job.source_len = strlen (source);
  job.cfg = cfg;
  job.params = cJSON_IsObject (params) ? params : NULL;
  job.mock_all = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (req, "mock_all"));
  job.storage = STORAGE_MEMORY;
  job.approve_set = approve != NULL;
  job.approve = approve && strcmp (approve, "all") == 0    ? APPROVE_ALL
                : approve && strcmp (approve, "none") == 0 ? APPROVE_NONE
                                                           : APPROVE_ASK;
  if (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (req, "timeout")))
    job.timeout = cJSON_GetObjectItemCaseSensitive (req, "timeout")->valuedouble;
  job.trace = &trace;
  job.prepared = sb;
  job.workspace_dir = ws;
  job.procedure_dir = procdir;
  stop_on_hangup (conn);
  handed = true; /* run_execute owns the prepared cage from here */
  if (run_execute (&job, &res) == 0)
    {
      struct run_report_opts o = { .file = file,
                                   .json = json,
                                   .verbose = view.verbose,
                                   .storage = STORAGE_MEMORY,
                                   .view = &view };
      present_finish (&view);
      run_report (&o, &res, out, errf);
      code = res.v.code;
      broker_outcome_free (&res.out);
    }
out:
  present_finish (&view);
  if (out)
    fflush (out);
  if (errf)
    fflush (errf);
  /* Before the exit reply: the driver's next request, which may follow
   * it at once, must not raise the hang-up signal here.  */
  if (keep)
    {
      fcntl (conn, F_SETFL, fcntl (conn, F_GETFL) & ~O_ASYNC);
      fcntl (conn, F_SETOWN, 0);
    }
  send_exit (conn, code);
  if (keep)
    hand_back (conn);
  /* A run that never started leaves nothing behind: its cage and cgroup
   * go now, not when a later launcher finds them stale.  */
  if (!handed && sb)
    sandbox_destroy (sb);
  if (have_cfg)
    config_free (&run_cfg);
  cJSON_Delete (req);
  frame_asm_free (&a);
  for (int i = 0; i < 4; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  return code;
}

static volatile sig_atomic_t supervisor_stop;

static void
on_supervisor_stop (int sig)
{
  (void) sig;
  supervisor_stop = 1;
}

static _Noreturn void
supervisor_main (int ctl, const struct tr_config *cfg)
{
  struct sigaction sa = { .sa_handler = on_supervisor_stop };
  struct sandbox *sb;
  struct tr_error err;
  sigset_t set;
  int conn;
  char ready = 'R';

  /* Nothing of the server's but our control socket.  */
  if (ctl != 3 && (dup2 (ctl, 3) < 0 || close (ctl) < 0))
    _exit (1);
  ctl = 3;
  close_range (4, ~0U, 0);
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  /* While idle, SIGTERM (from the server stopping, or its death) removes
   * the prepared cage and its cgroup before exiting.  */
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGCHLD);
  sigprocmask (SIG_UNBLOCK, &set, NULL);
  tr_error_clear (&err);
  if (run_prepare (cfg, &sb, &err) < 0)
    {
      fprintf (stderr, "tactus-run serve: cannot prepare a sandbox: %s\n", err.msg);
      _exit (1);
    }
  /* "Ready" may find the server's end already closed: when no cage was
   * idle, the server handed this one its connection before it was ready
   * (dispatch) and let go of the socket.  The connection is still there
   * to be read: only an empty socket means there is nothing to serve.  */
  if (!supervisor_stop)
    send (ctl, &ready, 1, MSG_NOSIGNAL);
  if (supervisor_stop || recv_fds (ctl, &conn, 1) < 0)
    {
      sandbox_destroy (sb);
      _exit (0);
    }
  _exit (serve_one (conn, cfg, sb) == 0 ? 0 : 1);
}

/* ---- the server ---- */

static int
spawn (struct supervisor *s, const struct tr_config *cfg)
{
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return -1;
  s->pid = fork ();
  if (s->pid < 0)
    {
      close (sv[0]);
      close (sv[1]);
      return -1;
    }
  if (s->pid == 0)
    {
      close (sv[0]);
      supervisor_main (sv[1], cfg);
    }
  close (sv[1]);
  s->ctl = sv[0];
  return 0;
}

static int
pass_fd (int sock, int fd)
{
  return fd_send (sock, "C", 1, &fd, 1);
}

static int
listen_on (const char *path, struct tr_error *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct stat st;
  int fd;

  if (strlen (path) >= sizeof addr.sun_path)
    return tr_fail (err, ENAMETOOLONG, "--socket %s", path);
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return tr_fail (err, errno, "socket");
  /* Replace only a stale socket: never another file, nor a live pool.  */
  if (lstat (path, &st) == 0)
    {
      if (!S_ISSOCK (st.st_mode))
        {
          close (fd);
          return tr_fail (err, EEXIST, "%s is not a socket: refusing to replace it", path);
        }
      if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0)
        {
          close (fd);
          return tr_fail (err, EADDRINUSE, "a pool already listens on %s", path);
        }
      unlink (path);
    }
  /* Only the owner may connect (and SO_PEERCRED is checked as well).  */
  mode_t old = umask (077);
  int r = bind (fd, (struct sockaddr *) &addr, sizeof addr);
  umask (old);
  if (r < 0 || listen (fd, 64) < 0)
    {
      int e = errno;
      close (fd);
      return tr_fail (err, e, "listen on %s", path);
    }
  return fd;
}

static bool
same_user (int conn)
{
  struct ucred cred;
  socklen_t len = sizeof cred;
  return getsockopt (conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == geteuid ();
}

/* ---- status: what the pool holds, for `tactus-run serve --status` ---- */

/* Pss and Rss of PID in kB (/proc/PID/smaps_rollup), or -1.  */
static void
memory_of (pid_t pid, long *pss, long *rss)
{
  char path[64], line[256];
  FILE *f;

  *pss = *rss = -1;
  snprintf (path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return;
  while (fgets (line, sizeof line, f))
    {
      if (strncmp (line, "Pss:", 4) == 0)
        *pss = strtol (line + 4, NULL, 10);
      else if (strncmp (line, "Rss:", 4) == 0)
        *rss = strtol (line + 4, NULL, 10);
    }
  fclose (f);
}

/* The cage a supervisor holds: its only child (/proc/PID/task/PID/children).  */
static pid_t
cage_of (pid_t sup)
{
  char path[80];
  long child = -1;
  FILE *f;

  snprintf (path, sizeof path, "/proc/%d/task/%d/children", (int) sup, (int) sup);
  f = fopen (path, "re");
  if (f == NULL)
    return -1;
  if (fscanf (f, "%ld", &child) != 1)
    child = -1;
  fclose (f);
  return (pid_t) child;
}

/* {"size", "idle", "cages": [{"supervisor", "cage", "idle", "cage_pss_kb", "cage_rss_kb",
 * "supervisor_pss_kb", "supervisor_rss_kb"}]}.  A supervisor is idle when its "ready" byte waits
 * unread on its control socket.  */
static void
send_status (int conn, struct supervisor *pool, int size)
{
  cJSON *st = cJSON_CreateObject (), *cages = cJSON_AddArrayToObject (st, "cages");
  struct tr_error err;
  int idle = 0;
  char *text;

  for (int i = 0; i < size; i++)
    {
      struct pollfd p = { .fd = pool[i].ctl, .events = POLLIN };
      bool ready = pool[i].ctl >= 0 && poll (&p, 1, 0) == 1 && (p.revents & POLLIN);
      pid_t cage = pool[i].ctl >= 0 ? cage_of (pool[i].pid) : -1;
      cJSON *c = cJSON_CreateObject ();
      long pss, rss;

      idle += ready;
      cJSON_AddNumberToObject (c, "supervisor", pool[i].pid);
      cJSON_AddNumberToObject (c, "cage", cage);
      cJSON_AddBoolToObject (c, "idle", ready);
      memory_of (cage, &pss, &rss);
      cJSON_AddNumberToObject (c, "cage_pss_kb", (double) pss);
      cJSON_AddNumberToObject (c, "cage_rss_kb", (double) rss);
      memory_of (pool[i].pid, &pss, &rss);
      cJSON_AddNumberToObject (c, "supervisor_pss_kb", (double) pss);
      cJSON_AddNumberToObject (c, "supervisor_rss_kb", (double) rss);
      cJSON_AddItemToArray (cages, c);
    }
  cJSON_AddNumberToObject (st, "size", size);
  cJSON_AddNumberToObject (st, "idle", idle);
  text = cJSON_PrintUnformatted (st);
  cJSON_Delete (st);
  if (text)
    frame_send (conn, text, strlen (text), &err);
  cJSON_free (text);
}

/* Hand CONN to an idle supervisor (the oldest ready one), or to a new one
 * when none is idle; then start a replacement.  */
static void
dispatch (int conn, struct supervisor *pool, int size, const struct tr_config *cfg)
{
  for (int i = 0; i < size; i++)
    {
      struct pollfd p = { .fd = pool[i].ctl, .events = POLLIN };
      char ready;
      if (pool[i].ctl < 0 || poll (&p, 1, 0) != 1 || read (pool[i].ctl, &ready, 1) != 1)
        continue;
      pass_fd (pool[i].ctl, conn);
      close (pool[i].ctl);
      spawn (&pool[i], cfg);
      return;
    }
  /* None ready yet: the one that will be ready first takes it (not one
   * that is gone: its socket hangs up).  */
  for (int i = 0; i < size; i++)
    {
      struct pollfd p = { .fd = pool[i].ctl, .events = 0 };
      if (pool[i].ctl < 0 || (poll (&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))))
        continue;
      if (pass_fd (pool[i].ctl, conn) < 0)
        continue;
      close (pool[i].ctl);
      spawn (&pool[i], cfg);
      return;
    }
}

/* Route a connection by its first packet: "S" asks for the status (and
 * is answered here), anything else is a run for a supervisor (which reads
 * and checks it).  Returns 0 when nothing has come yet (keep it pending),
 * 1 when the connection was handled (the caller closes it).  */
static int
route (int conn, struct supervisor *pool, int size, const struct tr_config *cfg, int *kept)
{
  char tag;
  ssize_t n = recv (conn, &tag, 1, MSG_PEEK | MSG_DONTWAIT);

  *kept = -1;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return 0;
  if (n == 1 && tag == 'S')
    {
      recv (conn, &tag, 1, MSG_DONTWAIT);
      send_status (conn, pool, size);
    }
  else if (n == 1 && tag == 'K')
    {
      /* A supervisor gives back a connection that asked to stay open
       * (hand_back); it waits for its next request like a new one, and
       * it too must come from our user.  */
      int fd = -1, got = 0;
      if (fd_recv (conn, &tag, 1, &fd, 1, &got) == 1 && got == 1 && same_user (fd))
        *kept = fd;
      else if (got == 1)
        close (fd);
    }
  else if (n == 1)
    dispatch (conn, pool, size, cfg);
  return 1;
}

/* tactus-run serve --status: ask the pool at PATH what it holds.  */
static int
print_status (const char *path, bool json)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct frame_asm a = { 0 };
  struct tr_error err;
  cleanup_close int sock = -1;
  cJSON *st, *c;
  int code = 1;

  if (strlen (path) >= sizeof addr.sun_path)
    {
      fprintf (stderr, "tactus-run serve --status: the socket path is too long: %s\n", path);
      return 1;
    }
  strcpy (addr.sun_path, path);
  sock = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      fprintf (stderr,
               "tactus-run serve --status: no pool at %s: %s (start one with: tactus-run "
               "serve)\n",
               path, strerror (errno));
      return 1;
    }
  tr_error_clear (&err);
  /* As the client does: nothing is sent to a server that is not ours.  */
  if (userdir_check_server (sock, path, &err) < 0)
    {
      tr_error_print (&err);
      return 1;
    }
  if (send (sock, "S", 1, MSG_NOSIGNAL) != 1 || frame_recv (sock, &a, &err) <= 0
      || (st = cJSON_ParseWithLength (a.buf, a.len)) == NULL)
    {
      fprintf (stderr, "tactus-run serve --status: the pool at %s did not answer\n", path);
      frame_asm_free (&a);
      return 1;
    }
  if (json)
    printf ("%.*s\n", (int) a.len, a.buf);
  else
    {
      printf ("pool %s: %d cages, %d idle\n", path,
              (int) cJSON_GetNumberValue (cJSON_GetObjectItem (st, "size")),
              (int) cJSON_GetNumberValue (cJSON_GetObjectItem (st, "idle")));
      cJSON_ArrayForEach (c, cJSON_GetObjectItem (st, "cages")) printf (
          "  cage %d (supervisor %d): %s, cage %.0f kB PSS (%.0f kB RSS), supervisor %.0f kB "
          "PSS\n",
          (int) cJSON_GetNumberValue (cJSON_GetObjectItem (c, "cage")),
          (int) cJSON_GetNumberValue (cJSON_GetObjectItem (c, "supervisor")),
          cJSON_IsTrue (cJSON_GetObjectItem (c, "idle")) ? "idle" : "busy",
          cJSON_GetNumberValue (cJSON_GetObjectItem (c, "cage_pss_kb")),
          cJSON_GetNumberValue (cJSON_GetObjectItem (c, "cage_rss_kb")),
          cJSON_GetNumberValue (cJSON_GetObjectItem (c, "supervisor_pss_kb")));
    }
  code = 0;
  cJSON_Delete (st);
  frame_asm_free (&a);
  return code;
}

int
cmd_serve (int argc, char **argv)
{
  struct cli_parser cp;
  struct supervisor pool[MAX_POOL];
  struct tr_config cfg;
  struct tr_error err;
  char path[PATH_MAX] = "", activated[PATH_MAX];
  uint64_t size = 4;
  int c, lfd, sfd, pending[MAX_PENDING], npending = 0;
  bool status = false, json = false;
  sigset_t set;

  if (cli_parse_begin (&cp, CLI_C_SERVE, argc, argv) < 0)
    return 1;
  while ((c = cli_next (&cp)) > 0)
    switch (c)
      {
      case CLI_O_SOCKET:
        snprintf (path, sizeof path, "%s", optarg);
        break;
      case CLI_O_SIZE:
        if (parse_uint (optarg, &size) < 0 || size < 1 || size > MAX_POOL)
          {
            fprintf (stderr, "tactus-run serve: --size '%s': expected 1 to %d\n", optarg, MAX_POOL);
            return 1;
          }
        break;
      case CLI_O_STATUS:
        status = true;
        break;
      case CLI_O_JSON:
        json = true;
        break;
      default:
        return 1;
      }
  if (c < 0)
    return 1;
  tr_error_clear (&err);
  if (json && !status)
    {
      fprintf (stderr, "tactus-run serve: --json goes with --status\n");
      return 1;
    }
  if (status)
    {
      if (path[0] == '\0' && userdir_pool_socket (path, sizeof path, false, &err) < 0)
        {
          present_error (stderr, NULL, &err);
          return 1;
        }
      return print_status (path, json);
    }
  /* The server's variables (API keys among them) stay readable to its
   * brokers, but out of the block /proc/PID/environ shows, for the server
   * and for every supervisor and cage forked from it: an idle cage never
   * shows them, not even before its setup wipes its copy.  */
  if (environ_detach () < 0)
    {
      fprintf (stderr, "tactus-run serve: out of memory\n");
      return 1;
    }
  config_init (&cfg);
  if (config_load (&cfg, NULL, &err) < 0)
    {
      present_error (stderr, NULL, &err);
      return 1;
    }
  /* Socket-activated (systemd's tactus-run.socket): the socket is the
   * unit's, made before we ran; it is neither created nor removed here.  */
  lfd = listen_fds_take (activated, sizeof activated, &err);
  if (lfd > 0)
    snprintf (path, sizeof path, "%s", activated);
  else if (lfd == 0)
    {
      if (path[0] == '\0' && userdir_pool_socket (path, sizeof path, true, &err) < 0)
        lfd = -1;
      else
        lfd = listen_on (path, &err);
    }
  /* Where a supervisor gives a kept connection back (hand_back).  */
  listen_path = path;
  if (lfd < 0)
    {
      present_error (stderr, NULL, &err);
      config_free (&cfg);
      return 1;
    }
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGCHLD);
  sigprocmask (SIG_BLOCK, &set, NULL);
  sfd = signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  for (uint64_t i = 0; i < size; i++)
    if (spawn (&pool[i], &cfg) < 0)
      pool[i].ctl = -1;
  fprintf (stderr, "tactus-run serve: %d prepared sandboxes, listening on %s\n", (int) size, path);
  for (;;)
    {
      struct pollfd p[2 + MAX_PENDING] = { { lfd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
      struct signalfd_siginfo si;
      bool stop = false;

      for (int i = 0; i < npending; i++)
        p[2 + i] = (struct pollfd){ .fd = pending[i], .events = POLLIN };
      if (poll (p, (nfds_t) (2 + npending), -1) < 0 && errno != EINTR)
        break;
      while (read (sfd, &si, sizeof si) == sizeof si)
        if (si.ssi_signo != SIGCHLD)
          stop = true;
      while (waitpid (-1, NULL, WNOHANG) > 0)
        ;
      if (stop)
        break;
      for (int i = 0; i < npending; i++)
        if (p[2 + i].revents)
          {
            int conn = pending[i], kept;
            if (route (conn, pool, (int) size, &cfg, &kept) == 0)
              continue;
            close (conn);
            /* One per turn: p[] no longer matches the array; the others
             * stay readable for the next poll.  */
            pending[i] = pending[--npending];
            if (kept >= 0 && npending < MAX_PENDING)
              pending[npending++] = kept;
            else if (kept >= 0)
              close (kept);
            break;
          }
      if (p[0].revents & POLLIN)
        {
          int conn = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC), kept = -1;
          if (conn < 0)
            continue;
          if (!same_user (conn))
            close (conn);
          /* The first packet says what the connection is for; a client
           * sends it at once, so it is usually here already.  */
          else if (route (conn, pool, (int) size, &cfg, &kept) != 0)
            close (conn);
          else if (npending < MAX_PENDING)
            pending[npending++] = conn;
          else
            close (conn);
          if (kept >= 0 && npending < MAX_PENDING)
            pending[npending++] = kept;
          else if (kept >= 0)
            close (kept);
        }
    }
  for (int i = 0; i < npending; i++)
    close (pending[i]);
  for (uint64_t i = 0; i < size; i++)
    if (pool[i].ctl >= 0)
      {
        kill (pool[i].pid, SIGTERM);
        close (pool[i].ctl);
      }
  while (waitpid (-1, NULL, 0) > 0)
    ;
  if (activated[0] == '\0')
    unlink (path);
  close (lfd);
  config_free (&cfg);
  return 0;
}
