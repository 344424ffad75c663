/* Inside the new namespaces: the order of the setup steps.
 *
 * This runs in the clone of the launcher, as PID 1 of a fresh pid namespace,
 * and either calls the in-process entry (the VM) or execs a native program.
 * Each step that fails reports a struct tr_error over the setup socket and
 * exits 1; the parent then removes whatever the run had made.
 *
 * The order matters:
 *   - ids first: every later step runs as sandbox root, never as host root;
 *   - mounts before the network, before fds are closed (they use open fds);
 *   - privileges are dropped after everything that needs them;
 *   - seccomp is last, because it forbids the setup syscalls themselves.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/environ.h"
#include "common/fdpass.h"
#include "common/frame.h"
#include "sandbox/internal.h"

extern char **environ;

static _Noreturn void
report_and_exit (int sync_fd, const struct tr_error *e)
{
  struct
  {
    char tag;
    struct tr_error e;
  } msg;

  memset (&msg, 0, sizeof msg);
  msg.tag = SYNC_ERROR;
  msg.e = *e;
  if (send (sync_fd, &msg, sizeof msg, MSG_NOSIGNAL) < 0)
    tr_error_print (e);
  _exit (1);
}

/* Block until the parent has written our id maps.  The go message says how
 * to get the workspace (a detached tree comes with it, or a path to clone)
 * and how many payload bytes follow.  EOF means the parent died: stop.  */
static int
wait_for_go (int sync_fd, struct sync_go *go, int *ws_mnt, void **payload, struct tr_error *err)
{
  int nfds;
  ssize_t n;

  *ws_mnt = -1;
  *payload = NULL;
  n = fd_recv (sync_fd, go, sizeof *go, ws_mnt, 1, &nfds);
  if (n == 0)
    _exit (1);
  if (n != (ssize_t) sizeof *go || go->tag != SYNC_GO
      || (go->workspace == SYNC_WS_TREE) != (*ws_mnt >= 0) || go->payload_len > FRAME_MAX_MESSAGE)
    return tr_fail (err, n < 0 ? errno : EPROTO, "sandbox setup: wait for the parent");
  go->ws_path[sizeof go->ws_path - 1] = '\0';
  if (go->payload_len > 0)
    {
      struct frame_asm a = { .binary = true };
      if (frame_recv (sync_fd, &a, err) <= 0 || a.len != go->payload_len)
        {
          frame_asm_free (&a);
          return tr_fail (err, EPROTO, "sandbox setup: the run's payload");
        }
      *payload = a.buf; /* kept for the whole run */
    }
  return 0;
}

static int
become_sandbox_root (bool root_caller, struct tr_error *err)
{
  /* A root caller still carries host root's supplementary groups; clear
   * them (setgroups is allowed for it, see launch.c).  */
  if (root_caller && setgroups (0, NULL) < 0)
    return tr_fail (err, errno, "user namespace: clear supplementary groups");
  if (setresgid (0, 0, 0) < 0)
    return tr_fail (err, errno, "user namespace: become gid 0");
  if (setresuid (0, 0, 0) < 0)
    return tr_fail (err, errno, "user namespace: become uid 0");
  return 0;
}

/* Put the broker socket at fd 3 and the stdio the spec asks for at 0-2;
 * close everything else except the setup socket, which is moved high and
 * closed by exec (O_CLOEXEC) or right before the entry runs.  */
static int
arrange_fds (const struct sandbox_spec *spec, int *sync_fd, int broker_fd, int devnull,
             struct tr_error *err)
{
  const bool keep[3] = { spec->keep_stdin, spec->keep_stdout, spec->keep_stderr };
  int high_sync, given[3] = { -1, -1, -1 };

  /* Given stdio fds are moved high first, so filling 0-3 cannot clobber
   * one of them.  */
  for (int fd = 0; spec->use_stdio_fd && fd < 3; fd++)
    if (spec->stdio_fd[fd] >= 0
        && (given[fd] = fcntl (spec->stdio_fd[fd], F_DUPFD_CLOEXEC, 64)) < 0)
      return tr_fail (err, errno, "fds: the payload's stdio");
  high_sync = fcntl (*sync_fd, F_DUPFD_CLOEXEC, 64);
  if (high_sync < 0)
    return tr_fail (err, errno, "fds: move the setup socket");
  close (*sync_fd);
  *sync_fd = high_sync;
  if (spec->broker && broker_fd != SANDBOX_BROKER_FD)
    {
      if (dup2 (broker_fd, SANDBOX_BROKER_FD) < 0)
        return tr_fail (err, errno, "fds: move the broker socket to fd 3");
    }
  else if (spec->broker && fcntl (broker_fd, F_SETFD, 0) < 0)
    return tr_fail (err, errno, "fds: broker socket flags");
  for (int fd = 0; fd < 3; fd++)
    {
      if (given[fd] >= 0)
        {
          if (dup2 (given[fd], fd) < 0)
            return tr_fail (err, errno, "fds: stdio");
          close (given[fd]);
          continue;
        }
      if (!spec->use_stdio_fd && keep[fd] && fcntl (fd, F_GETFD) >= 0)
        continue;
      if (devnull < 0)
        return tr_fail (err, EBADF, "fds: no /dev/null for stdio");
      if (dup2 (devnull, fd) < 0)
        return tr_fail (err, errno, "fds: stdio");
    }
  /* Only the fds named by the spec survive; close_range is one syscall
   * however many fds the launcher had open.  */
  if (close_range (spec->broker ? SANDBOX_BROKER_FD + 1 : SANDBOX_BROKER_FD,
                   (unsigned) high_sync - 1, 0)
          < 0
      || close_range ((unsigned) high_sync + 1, ~0U, 0) < 0)
    return tr_fail (err, errno, "fds: close_range");
  return 0;
}

static int
set_environment (const struct sandbox_spec *spec, const char *cwd, struct tr_error *err)
{
  /* The launcher's variables were wiped when the child began (setup).  */
  if (clearenv () != 0)
    return tr_fail (err, 0, "environment: clear");
  if (spec->envp)
    {
      for (char *const *e = spec->envp; *e; e++)
        if (putenv (*e) != 0)
          return tr_fail (err, errno, "environment: set %s", *e);
    }
  else
    {
      if (setenv ("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", 1) < 0
          || setenv ("HOME", cwd, 1) < 0 || setenv ("TERM", "dumb", 1) < 0)
        return tr_fail (err, errno, "environment: set defaults");
    }
  return 0;
}

/* A native program's filters on top of its profile (stacked: the most
 * restrictive answer wins): no unix socket unless the spec allows some,
 * and the supervised calls (name creation where a host directory is
 * writable, connect where unix sockets are allowed) with a listener the
 * launcher's supervisor serves.  Last, after the profile itself.  */
static int
load_native_addons (const struct sandbox_spec *spec, int sync_fd, struct tr_error *err)
{
  bool create = protect_needed (spec), connect = spec->unix_sockets != NULL;
  struct seccomp_program p;
  int listener, which;

  if (!connect
      && (seccomp_program_get ((enum sandbox_seccomp) SECCOMP_ADDON_NOUNIX, &p, err) < 0
          || seccomp_program_load (&p, err) < 0))
    return -1;
  if (!create && !connect)
    return 0;
  which = create && connect ? SECCOMP_ADDON_SUPERVISE_ALL
          : create          ? SECCOMP_ADDON_SUPERVISE_CREATE
                            : SECCOMP_ADDON_SUPERVISE_CONNECT;
  if (seccomp_program_get ((enum sandbox_seccomp) which, &p, err) < 0)
    return -1;
  listener = seccomp_program_load_listener (&p, err);
  if (listener < 0)
    return -1;
  /* From here a supervised call waits until the launcher's supervisor
   * answers it.  */
  if (fd_send (sync_fd, (char[]){ SYNC_LISTENER }, 1, &listener, 1) < 0)
    {
      close (listener);
      return tr_fail (err, errno, "seccomp: hand the listener to the launcher");
    }
  close (listener);
  return 0;
}

static const char *
inside_cwd (const struct sandbox_spec *spec)
{
  if (spec->cwd)
    return spec->cwd;
  return spec->workspace == SANDBOX_WORKSPACE_OFF ? "/" : "/workspace";
}

static int
setup (struct child_ctx *ctx, struct tr_error *err)
{
  const struct sandbox_spec *spec = ctx->spec;
  struct mounts_ctx mctx;
  const char *cwd = inside_cwd (spec);
  struct sync_go *go = calloc (1, sizeof *go);
  int ws_mnt;

  /* The launcher's own environment may hold secrets (API keys).  The child
   * is a copy of the launcher's memory, so clearing the pointers is not
   * enough: wipe the strings themselves, which also empties
   * /proc/<pid>/environ, and at once, not after the go: a pool's cage may
   * wait a long time for its run.  */
  environ_wipe ();
  /* A dead launcher must never leave a sandbox running.  The parent may
   * already be gone by the time this runs: wait_for_go sees EOF then.  */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
    return tr_fail (err, errno, "pdeathsig");
  /* The host's /dev/null, for the stdio the payload does not get: opened
   * now, so a cage without /dev (the VM's) needs no device nodes.  A
   * character device open for reading and writing reveals nothing.  */
  {
    int fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
    /* Kept above the fixed fds 0-3 that arrange_fds fills in.  */
    ctx->devnull = fd < 0 ? -1 : fcntl (fd, F_DUPFD_CLOEXEC, 32);
    if (fd >= 0)
      close (fd);
    if (ctx->devnull < 0)
      return tr_fail (err, errno, "open /dev/null");
  }
  if (go == NULL)
    return tr_fail (err, ENOMEM, "sandbox setup");
  if (spec->seal)
    {
      /* A sealed cage sets itself up as soon as its id maps exist; the
       * go comes at the end, when nothing is left to do but the run.  */
      char tag;
      ssize_t n = recv (ctx->sync_fd, &tag, 1, 0);
      if (n == 0)
        _exit (1);
      if (n != 1 || tag != SYNC_MAPS)
        return tr_fail (err, n < 0 ? errno : EPROTO, "sandbox setup: wait for the id maps");
      ws_mnt = -1;
    }
  else
    {
      if (wait_for_go (ctx->sync_fd, go, &ws_mnt, &ctx->payload, err) < 0)
        return -1;
      ctx->payload_len = go->payload_len;
    }
  if (become_sandbox_root (ctx->root_caller, err) < 0)
    return -1;
  /* Changing the uid/gid cleared the parent-death signal: arm it again, then
   * make sure the parent did not die in between (its end of the setup
   * socket stays open until it has read "ready").  */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
    return tr_fail (err, errno, "pdeathsig");
  {
    struct pollfd p = { .fd = ctx->sync_fd, .events = POLLRDHUP };
    if (poll (&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP)))
      _exit (1);
  }
  /* A new session: no controlling terminal, so nothing inside can open the
   * launcher's terminal (/dev/tty) or change its foreground group.  */
  if (setsid () < 0)
    return tr_fail (err, errno, "setsid");
  if (spec->hostname && sethostname (spec->hostname, strlen (spec->hostname)) < 0)
    return tr_fail (err, errno, "uts namespace: sethostname");

  mctx.workspace_mnt = ws_mnt;
  mctx.ws_path = go->workspace == SYNC_WS_PATH ? go->ws_path : NULL;
  mctx.ws_dev = go->ws_dev;
  mctx.ws_ino = go->ws_ino;
  if (mounts_build_root (spec, &mctx, err) < 0)
    return -1;
  if (ws_mnt >= 0)
    close (ws_mnt);
  if (spec->argv && protect_needed (spec) && protect_existing (spec, err) < 0)
    return -1;

  if (net_loopback_up (err) < 0)
    return -1;
  if (spec->loopback_listen_port)
    {
      char tag = SYNC_NETLISTEN;
      int lfd = net_listen_loopback (spec->loopback_listen_port, err);
      if (lfd < 0)
        return -1;
      if (fd_send (ctx->sync_fd, &tag, 1, &lfd, 1) < 0)
        return tr_fail (err, errno, "sandbox setup: hand the listening socket to the parent");
      close (lfd);
    }
  if (chdir (cwd) < 0)
    return tr_fail (err, errno, "chdir %s inside the sandbox", cwd);
  umask (022);
  if (set_environment (spec, cwd, err) < 0)
    return -1;
  /* An in-process entry keeps running on this libc: let it read its time
   * zone now (TZ from the environment), while files may still be opened.
   * Later calls find TZ unchanged and read nothing, so a profile without
   * open (the VM's) does not kill the payload for calling localtime.  */
  if (spec->entry)
    tzset ();
  if (arrange_fds (spec, &ctx->sync_fd, ctx->broker_fd, ctx->devnull, err) < 0)
    return -1;
  if (rlimits_apply (&spec->limits, ctx->cgroup_memory, ctx->cgroup_pids, err) < 0)
    return -1;
  if (privs_drop_all (err) < 0)
    return -1;
  if (seccomp_program_load (ctx->seccomp, err) < 0)
    return -1;
  if (spec->argv && load_native_addons (spec, ctx->sync_fd, err) < 0)
    return -1;
  /* Sealed: root, mounts, privileges and seccomp are all in place; the go
   * carries only the run's payload (read under the VM's own filter:
   * recvmsg and memory only).  */
  if (spec->seal)
    {
      if (wait_for_go (ctx->sync_fd, go, &ws_mnt, &ctx->payload, err) < 0)
        return -1;
      if (go->workspace != SYNC_WS_NONE || ws_mnt >= 0)
        return tr_fail (err, EPROTO, "sandbox setup: a sealed cage takes no workspace");
      ctx->payload_len = go->payload_len;
    }
  free (go);
  return 0;
}

_Noreturn void
child_main (struct child_ctx *ctx)
{
  struct tr_error err;
  char ready = SYNC_READY;
  struct sandbox_inside inside = { .broker_fd = ctx->spec->broker ? SANDBOX_BROKER_FD : -1 };

  tr_error_clear (&err);
  if (setup (ctx, &err) < 0)
    report_and_exit (ctx->sync_fd, &err);

  if (ctx->spec->argv)
    {
      /* Success closes the setup socket (O_CLOEXEC): the parent reads EOF.  */
      execvp (ctx->spec->argv[0], ctx->spec->argv);
      tr_fail (&err, errno, "exec %s inside the sandbox", ctx->spec->argv[0]);
      err.exit_code = err.errnum == ENOENT ? 127 : 126;
      report_and_exit (ctx->sync_fd, &err);
    }

  inside.payload = ctx->payload;
  inside.payload_len = ctx->payload_len;
  if (send (ctx->sync_fd, &ready, 1, MSG_NOSIGNAL) != 1)
    _exit (1);
  close (ctx->sync_fd);
  _exit (ctx->spec->entry (ctx->spec->entry_arg, &inside));
}
