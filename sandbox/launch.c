/* The parent side of a sandbox: everything that happens outside the cage.
 *
 * Order (see docs/sandbox.md):
 *   1. open the workspace, pick the host ids, get the seccomp program;
 *   2. create the run's cgroup and write its limits (before the child exists,
 *      so it is never running unlimited);
 *   3. clone3 with every namespace flag, CLONE_INTO_CGROUP and CLONE_PIDFD;
 *   4. write the child's uid/gid maps, make the idmapped workspace if needed;
 *   5. release the child and wait until it reports ready or an error.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdpass.h"
#include "common/frame.h"
#include "sandbox/internal.h"

#define NOBODY_ID 65534

struct sandbox
{
  const struct sandbox_spec *spec;
  pid_t pid;
  int pidfd;
  int broker_fd;
  int listen_fd;  /* the socket the child placed in its network namespace, or -1 */
  int sync_fd;    /* until the child is released */
  uid_t host_uid; /* what sandbox root maps to */
  gid_t host_gid;
  struct sandbox_cgroup cg;
  struct seccomp_program seccomp;
  int64_t deadline_ms;               /* CLOCK_MONOTONIC, 0 when none */
  pid_t supervisor;                  /* serves the cage's supervised calls (supervise.c), or 0 */
  struct supervisor_socket *sockets; /* unix sockets the cage may reach */
  size_t n_sockets;
  bool timed_out;
  bool reaped;
  struct sandbox_result result;
};

void
sandbox_spec_init (struct sandbox_spec *spec)
{
  memset (spec, 0, sizeof *spec);
  spec->workspace = SANDBOX_WORKSPACE_RW;
  spec->mount_proc = true;
  spec->mount_dev = true;
  spec->mount_tmp = true;
  spec->keep_stdout = true;
  spec->keep_stderr = true;
  spec->host_uid = (uid_t) -1;
  spec->host_gid = (gid_t) -1;
  spec->hostname = "tactus";
}

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
write_id_maps (pid_t pid, bool root_caller, uid_t host_uid, gid_t host_gid, struct tr_error *err)
{
  char path[64], map[64];

  /* An unprivileged caller may only map its own ids, and only after
   * setgroups is denied (otherwise the child could drop a group that is
   * used to deny it access).  A root caller keeps setgroups allowed so the
   * child can clear its supplementary groups, which would otherwise still
   * include host root's.  */
  if (!root_caller)
    {
      snprintf (path, sizeof path, "/proc/%d/setgroups", pid);
      if (write_file_at (AT_FDCWD, path, "deny", err) < 0)
        return tr_wrap (err, "user namespace: setgroups");
    }
  snprintf (path, sizeof path, "/proc/%d/uid_map", pid);
  snprintf (map, sizeof map, "0 %u 1\n", (unsigned) host_uid);
  if (write_file_at (AT_FDCWD, path, map, err) < 0)
    return tr_wrap (err, "user namespace: uid_map");
  snprintf (path, sizeof path, "/proc/%d/gid_map", pid);
  snprintf (map, sizeof map, "0 %u 1\n", (unsigned) host_gid);
  if (write_file_at (AT_FDCWD, path, map, err) < 0)
    return tr_wrap (err, "user namespace: gid_map");
  return 0;
}

/* A detached, recursive copy of the workspace mount, made in our mount
 * namespace (root only: cloning mounts needs CAP_SYS_ADMIN there).  */
static int
clone_workspace_tree (int workspace_fd, bool for_idmap, struct tr_error *err)
{
  /* An idmapped clone is not recursive: every mount under it would have to
   * support idmapping too.  */
  int mnt = open_tree (workspace_fd, "",
                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH
                           | (for_idmap ? 0 : AT_RECURSIVE));
  if (mnt < 0)
    return tr_fail (err, errno, "workspace: clone the mount");
  return mnt;
}

/* A root caller's sandbox root is an unprivileged host uid, which cannot
 * write a root-owned workspace.  An idmapped mount through the child's own
 * user namespace shows host uid 0 as sandbox root inside /workspace only.
 * Setuid/setgid bits and file capabilities stay impossible to create there:
 * the seccomp profiles refuse those modes and every xattr write.  */
static int
idmap_tree (int tree, pid_t pid, struct tr_error *err)
{
  char path[64];
  cleanup_close int userns = -1;
  struct mount_attr attr = { 0 };

  snprintf (path, sizeof path, "/proc/%d/ns/user", pid);
  userns = open (path, O_RDONLY | O_CLOEXEC);
  if (userns < 0)
    return tr_fail (err, errno, "workspace: open %s", path);
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = userns;
  if (mount_setattr (tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return tr_fail_hint (err, TR_HINT_IDMAP_WORKSPACE, errno,
                         "workspace: idmapped mount (a root-owned workspace is shown to the "
                         "sandbox through an idmapped mount, which this filesystem does not "
                         "support; mount it read-only or not at all, or run as a non-root user)");
  return 0;
}

static int
send_go (int sync_fd, const struct sync_go *go, int tree_fd, struct tr_error *err)
{
  if (fd_send (sync_fd, go, sizeof *go, &tree_fd, tree_fd >= 0 ? 1 : 0) < 0)
    return tr_fail (err, errno, "sandbox setup: release the child");
  return 0;
}

/* What to do about a setup step the kernel refused, by errno, for messages
 * that do not already say.  The step itself is named by the child.  */
static void
add_setup_hint (struct tr_error *err)
{
  const char *hint = NULL;
  size_t len = strlen (err->msg);

  switch (err->errnum)
    {
    case EPERM:
    case EACCES:
      hint = "the kernel refused this step; 'tactus-run sandbox status' shows which layer is "
             "unavailable (inside another container, or where an LSM restricts user namespaces, "
             "allow them or run on the host)";
      break;
    case ENOSPC:
    case EMFILE:
    case ENFILE:
      hint = "a namespace, mount or file limit was reached (user.max_*_namespaces, fs.mount-max, "
             "ulimit -n)";
      break;
    case ENOMEM:
      hint = "out of memory, or a memory limit was reached";
      break;
    case ENOENT:
      /* No flag or config key here: which one binds a path depends on
       * the caller (sandbox exec's --bind, an MCP server's volumes), and
       * `run` has none of them.  */
      hint = "the path is not in the sandbox: only the workspace, the binds and the system "
             "directories are";
      err->hint = TR_HINT_PATH_NOT_BOUND;
      break;
    case ENOSYS:
    case EOPNOTSUPP:
      hint = "this kernel lacks something the sandbox needs (Linux 5.12 or later with the new "
             "mount API); see 'tactus-run sandbox status'";
      break;
    default:
      return;
    }
  if (strstr (err->msg, " (") == NULL && len + strlen (hint) + 4 < sizeof err->msg)
    snprintf (err->msg + len, sizeof err->msg - len, " (%s)", hint);
}

/* Wait for the child's verdict on the setup socket.  A native program's exec
 * closes the socket (O_CLOEXEC), so EOF means the program is running.  A
 * supervised cage first hands over its listener (*LISTENER).  */
static int
wait_ready (int sync_fd, int *listener, int *netlisten, struct tr_error *err)
{
  struct
  {
    char tag;
    struct tr_error e;
  } msg;
  ssize_t n;
  int fd = -1, nfds;

again:
  n = fd_recv (sync_fd, &msg, sizeof msg, &fd, 1, &nfds);
  if (n < 0)
    return tr_fail (err, errno, "sandbox setup: read from the child");
  if (n == 1 && msg.tag == SYNC_LISTENER && nfds == 1 && *listener < 0)
    {
      *listener = fd;
      goto again;
    }
  if (n == 1 && msg.tag == SYNC_NETLISTEN && nfds == 1 && *netlisten < 0)
    {
      *netlisten = fd;
      goto again;
    }
  if (nfds > 0)
    close (fd);
  if (n == 0 || msg.tag == SYNC_READY)
    return 0;
  if (msg.tag == SYNC_ERROR && (size_t) n == sizeof msg)
    {
      msg.e.msg[sizeof msg.e.msg - 1] = '\0';
      *err = msg.e;
      /* Keep the child's code: a program that cannot be exec'd is 127/126.  */
      if (err->exit_code == 0)
        err->exit_code = 1;
      /* exec failures (126/127) already say what to fix.  */
      if (err->exit_code == 1)
        add_setup_hint (err);
      return -1;
    }
  return tr_fail (err, 0, "sandbox setup: unexpected message from the child");
}

static void
pick_host_ids (const struct sandbox_spec *spec, const struct stat *ws, bool have_ws, uid_t *uid,
               gid_t *gid)
{
  if (geteuid () != 0)
    {
      *uid = geteuid ();
      *gid = getegid ();
      return;
    }
  if (spec->host_uid != (uid_t) -1)
    *uid = spec->host_uid;
  else if (have_ws && ws->st_uid != 0)
    *uid = ws->st_uid;
  else
    *uid = NOBODY_ID;
  if (spec->host_gid != (gid_t) -1)
    *gid = spec->host_gid;
  else if (have_ws && ws->st_uid != 0 && ws->st_gid != 0)
    *gid = ws->st_gid;
  else
    *gid = NOBODY_ID;
}

static int
open_workspace (const struct sandbox_spec *spec, const char *dir, struct stat *st,
                struct tr_error *err)
{
  cleanup_close int fd = -1;

  if (dir == NULL)
    dir = ".";
  if (spec->workspace == SANDBOX_WORKSPACE_OFF)
    return -1;
  fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      tr_fail (err, errno,
               "workspace %s: cannot open it (pass an existing directory, or turn the "
               "workspace off)",
               dir);
      return -2;
    }
  if (fstat (fd, st) < 0)
    {
      tr_fail (err, errno, "workspace %s: stat", dir);
      return -2;
    }
  return steal_fd (&fd);
}

static pid_t
clone_sandbox (int cgroup_fd, int *pidfd)
{
  struct clone_args args;

  memset (&args, 0, sizeof args);
  args.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC
               | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_PIDFD;
  args.pidfd = (uint64_t) (uintptr_t) pidfd;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0)
    {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = (uint64_t) cgroup_fd;
    }
  return (pid_t) syscall (SYS_clone3, &args, sizeof args);
}

static int
validate_spec (const struct sandbox_spec *spec, struct tr_error *err)
{
  if ((spec->entry == NULL) == (spec->argv == NULL || spec->argv[0] == NULL))
    return tr_fail (err, 0, "sandbox spec: give exactly one of an entry function or a program");
  if (spec->seccomp < 0 || spec->seccomp >= SANDBOX_SECCOMP__COUNT)
    return tr_fail (err, 0, "sandbox spec: unknown seccomp profile");
  if (spec->seal
      && (spec->entry == NULL || spec->workspace != SANDBOX_WORKSPACE_OFF || spec->n_binds > 0
          || spec->loopback_listen_port || spec->mount_proc || spec->mount_dev))
    return tr_fail (err, 0,
                    "sandbox spec: a sealed cage runs an entry, with no workspace, binds, "
                    "loopback listener, /proc or /dev");
  for (size_t i = 0; i < spec->n_binds; i++)
    if (spec->binds[i].target == NULL || spec->binds[i].target[0] != '/'
        || spec->binds[i].source == NULL)
      return tr_fail (err, 0, "sandbox spec: bind %zu needs a source and an absolute target", i);
  return 0;
}

int
sandbox_prepare (const struct sandbox_spec *spec, struct sandbox **out, struct tr_error *err)
{
  cleanup_free struct sandbox *sb = NULL;
  int sync_pair[2] = { -1, -1 }, broker_pair[2] = { -1, -1 };
  struct child_ctx ctx;
  /* Decided here: in the child, before its maps exist, every id reads as
   * the overflow id.  */
  bool root_caller = geteuid () == 0;
  int pidfd = -1;
  pid_t pid;

  if (validate_spec (spec, err) < 0)
    return -1;
  sb = calloc (1, sizeof *sb);
  if (sb == NULL)
    return tr_fail (err, ENOMEM, "sandbox");
  sb->spec = spec;
  sb->pid = -1;
  sb->pidfd = -1;
  sb->broker_fd = -1;
  sb->sync_fd = -1;
  sb->listen_fd = -1;
  sb->cg.dirfd = -1;

  if (seccomp_program_get (spec->seccomp, &sb->seccomp, err) < 0)
    return tr_wrap (err, "seccomp");
  if (cgroup_create (&spec->limits, spec->require_cgroup_limits, &sb->cg, err) < 0)
    goto fail;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync_pair) < 0
      || (spec->broker && socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, broker_pair) < 0))
    {
      tr_fail (err, errno, "sandbox setup: socketpair");
      goto fail;
    }

  pid = clone_sandbox (sb->cg.dirfd, &pidfd);
  if (pid < 0)
    {
      int e = errno;
      tr_fail (err, e,
               "namespaces: clone3 with user, pid, mount, net, ipc, uts and cgroup "
               "namespaces%s",
               e == EPERM || e == ENOSPC ? " (unprivileged user namespaces must be enabled: "
                                           "sysctl user.max_user_namespaces)"
                                         : "");
      goto fail;
    }
  if (pid == 0)
    {
      close (sync_pair[0]);
      if (broker_pair[0] >= 0)
        close (broker_pair[0]);
      ctx.spec = spec;
      ctx.sync_fd = sync_pair[1];
      ctx.broker_fd = broker_pair[1];
      ctx.root_caller = root_caller;
      ctx.seccomp = &sb->seccomp;
      ctx.cgroup_memory = sb->cg.memory;
      ctx.cgroup_pids = sb->cg.pids;
      child_main (&ctx);
    }
  sb->pid = pid;
  sb->pidfd = pidfd;
  close (sync_pair[1]);
  sync_pair[1] = -1;
  sb->sync_fd = sync_pair[0];
  sync_pair[0] = -1;
  if (broker_pair[1] >= 0)
    close (broker_pair[1]);
  broker_pair[1] = -1;
  sb->broker_fd = broker_pair[0];
  broker_pair[0] = -1;
  /* A sealed cage gets its id maps now (the spec's host ids: it has no
   * workspace whose owner they could follow) and sets itself up while it
   * waits: nothing of a run is in it before the go.  */
  if (spec->seal)
    {
      char tag = SYNC_MAPS;
      pick_host_ids (spec, NULL, false, &sb->host_uid, &sb->host_gid);
      if (write_id_maps (sb->pid, root_caller, sb->host_uid, sb->host_gid, err) < 0)
        goto fail;
      if (send (sb->sync_fd, &tag, 1, MSG_NOSIGNAL) != 1)
        {
          tr_fail (err, errno, "sandbox setup: release the sealed child");
          goto fail;
        }
    }
  *out = steal_ptr (&sb);
  return 0;

fail:
  for (int i = 0; i < 2; i++)
    {
      if (sync_pair[i] >= 0)
        close (sync_pair[i]);
      if (broker_pair[i] >= 0)
        close (broker_pair[i]);
    }
  sandbox_destroy (steal_ptr (&sb));
  return -1;
}

/* How the child gets its workspace.  A root parent clones the mount itself
 * (in its own mount namespace, idmapped when sandbox root must write a
 * root-owned directory) and passes the detached tree.  An unprivileged
 * parent cannot clone mounts: the child clones the same path in its copy
 * of the mount tree and checks it is the directory the parent opened.
 * Called after the id maps are written (an idmap needs them).  */
static int
describe_workspace (struct sandbox *sb, int fd, const struct stat *st, const char *dir,
                    struct sync_go *msg, int *tree, struct tr_error *err)
{
  char *abs;

  *tree = -1;
  msg->workspace = SYNC_WS_NONE;
  if (fd < 0)
    return 0;
  if (geteuid () == 0)
    {
      /* Read-only needs no idmap: sandbox root reads what others may read.  */
      bool idmap = st->st_uid == 0 && sb->host_uid != 0
                   && (sb->spec->workspace == SANDBOX_WORKSPACE_RW
                       || sb->spec->workspace == SANDBOX_WORKSPACE_OVERLAY);
      *tree = clone_workspace_tree (fd, idmap, err);
      if (*tree < 0 || (idmap && idmap_tree (*tree, sb->pid, err) < 0))
        return -1;
      msg->workspace = SYNC_WS_TREE;
      return 0;
    }
  abs = realpath (dir ? dir : ".", NULL);
  if (abs == NULL || strlen (abs) >= sizeof msg->ws_path)
    {
      int e = abs ? ENAMETOOLONG : errno;
      free (abs);
      return tr_fail (err, e, "workspace %s", dir ? dir : ".");
    }
  strcpy (msg->ws_path, abs);
  free (abs);
  msg->ws_dev = st->st_dev;
  msg->ws_ino = st->st_ino;
  msg->workspace = SYNC_WS_PATH;
  return 0;
}

/* The unix sockets a native cage may connect to, as the inodes they are
 * now (the supervisor compares inodes, never paths).  */
static int
allowed_sockets (struct sandbox *sb, struct tr_error *err)
{
  const struct sandbox_spec *spec = sb->spec;
  size_t n = 0;

  for (const char *const *p = spec->unix_sockets; p && *p; p++)
    n++;
  if (n == 0)
    return 0;
  sb->sockets = calloc (n, sizeof *sb->sockets);
  if (sb->sockets == NULL)
    return tr_fail (err, ENOMEM, "sandbox");
  for (const char *const *p = spec->unix_sockets; *p; p++)
    {
      struct stat st;
      if (stat (*p, &st) < 0)
        return tr_fail (err, errno, "allowed unix socket %s", *p);
      if (!S_ISSOCK (st.st_mode))
        return tr_fail (err, 0, "allowed unix socket %s: not a socket", *p);
      sb->sockets[sb->n_sockets].dev = st.st_dev;
      sb->sockets[sb->n_sockets].ino = st.st_ino;
      sb->n_sockets++;
    }
  return 0;
}

static int
start_supervisor (struct sandbox *sb, int listener, struct tr_error *err)
{
  const struct sandbox_spec *spec = sb->spec;
  struct supervisor_config c = {
    .listener = listener,
    .pid1 = sb->pid,
    .root_caller = geteuid () == 0,
    .uid = sb->host_uid,
    .gid = sb->host_gid,
    .protected_paths = spec->protected_paths,
    .create = protect_needed (spec),
    .connect = spec->unix_sockets != NULL,
    .sockets = sb->sockets,
    .n_sockets = sb->n_sockets,
    .socket_hint = spec->unix_socket_hint,
  };
  pid_t pid = supervisor_start (&c, err);

  close (listener);
  if (pid < 0)
    return -1;
  sb->supervisor = pid;
  return 0;
}

int
sandbox_go (struct sandbox *sb, const struct sandbox_go *go, struct tr_error *err)
{
  const struct sandbox_spec *spec = sb->spec;
  const char *dir = go && go->workspace_dir ? go->workspace_dir : spec->workspace_dir;
  cleanup_free struct sync_go *msg = calloc (1, sizeof *msg);
  cleanup_close int ws_fd = -1;
  cleanup_close int tree = -1;
  struct stat st;
  double timeout
      = go && go->timeout_seconds > 0 ? go->timeout_seconds : spec->limits.timeout_seconds;
  int listener = -1;

  if (msg == NULL)
    return tr_fail (err, ENOMEM, "sandbox");
  if (sb->sync_fd < 0)
    return tr_fail (err, EALREADY, "sandbox: already started");
  msg->tag = SYNC_GO;
  if (spec->argv && allowed_sockets (sb, err) < 0)
    return -1;
  if (spec->argv && (protect_needed (spec) || spec->unix_sockets)
      && supervisor_possible (geteuid () == 0, err) < 0)
    return -1;
  if (spec->seal)
    msg->workspace = SYNC_WS_NONE; /* maps written at prepare; no workspace */
  else
    {
      ws_fd = open_workspace (spec, dir, &st, err);
      if (ws_fd == -2)
        return -1;
      pick_host_ids (spec, &st, ws_fd >= 0, &sb->host_uid, &sb->host_gid);
      if (go && go->host_ids && geteuid () == 0 && go->host_uid != 0 && go->host_gid != 0)
        {
          sb->host_uid = go->host_uid;
          sb->host_gid = go->host_gid;
        }
      if (write_id_maps (sb->pid, geteuid () == 0, sb->host_uid, sb->host_gid, err) < 0
          || describe_workspace (sb, ws_fd, &st, dir, msg, &tree, err) < 0)
        return -1;
    }
  msg->payload_len = go ? (uint32_t) go->payload_len : 0;
  if (timeout > 0)
    sb->deadline_ms = now_ms () + (int64_t) (timeout * 1000.0);
  if (send_go (sb->sync_fd, msg, tree, err) < 0
      || (msg->payload_len > 0 && frame_send (sb->sync_fd, go->payload, go->payload_len, err) < 0)
      || wait_ready (sb->sync_fd, &listener, &sb->listen_fd, err) < 0)
    {
      if (listener >= 0)
        close (listener);
      return -1;
    }
  close (sb->sync_fd);
  sb->sync_fd = -1;
  /* The cage's supervised calls wait for the supervisor from here.  */
  if (listener >= 0 && start_supervisor (sb, listener, err) < 0)
    return -1;
  return 0;
}

int
sandbox_start (const struct sandbox_spec *spec, struct sandbox **out, struct tr_error *err)
{
  struct sandbox *sb;

  if (sandbox_prepare (spec, &sb, err) < 0)
    return -1;
  if (sandbox_go (sb, NULL, err) < 0)
    {
      sandbox_destroy (sb);
      return -1;
    }
  *out = sb;
  return 0;
}

int
sandbox_broker_fd (const struct sandbox *sb)
{
  return sb->broker_fd;
}

int
sandbox_take_listen_fd (struct sandbox *sb)
{
  int fd = sb->listen_fd;
  sb->listen_fd = -1;
  return fd;
}

int
sandbox_pidfd (const struct sandbox *sb)
{
  return sb->pidfd;
}

pid_t
sandbox_pid (const struct sandbox *sb)
{
  return sb->pid;
}

int
sandbox_ms_left (const struct sandbox *sb)
{
  int64_t left;

  if (sb->deadline_ms == 0)
    return -1;
  left = sb->deadline_ms - now_ms ();
  if (left < 0)
    return 0;
  return left > 0x7fffffff ? 0x7fffffff : (int) left;
}

int
sandbox_signal (struct sandbox *sb, int signo)
{
  if (sb->pidfd < 0 || sb->reaped)
    return -1;
  return pidfd_send_signal (sb->pidfd, signo, NULL, 0);
}

void
sandbox_kill (struct sandbox *sb)
{
  if (sb->cg.dirfd >= 0)
    cgroup_kill (&sb->cg);
  /* Killing PID 1 of a pid namespace kills every process in it.  */
  sandbox_signal (sb, SIGKILL);
}

void
sandbox_mark_timed_out (struct sandbox *sb)
{
  sb->timed_out = true;
}

static void
fill_result (struct sandbox *sb, const siginfo_t *si, struct sandbox_result *res)
{
  memset (res, 0, sizeof *res);
  if (si->si_code == CLD_EXITED)
    res->exit_code = si->si_status;
  else
    {
      res->signal = si->si_status;
      res->exit_code = 128 + si->si_status;
      res->seccomp = si->si_status == SIGSYS;
    }
  if (sb->cg.dirfd >= 0)
    {
      res->oom = sb->cg.memory && cgroup_oom_killed (&sb->cg);
      res->cpu_usec = cgroup_cpu_usec (&sb->cg);
    }
  if (res->oom)
    res->exit_code = 137;
  res->timed_out = sb->timed_out;
  if (res->timed_out)
    res->exit_code = 124;
}

int
sandbox_try_reap (struct sandbox *sb, struct sandbox_result *res, struct tr_error *err)
{
  siginfo_t si;

  if (sb->reaped)
    {
      *res = sb->result;
      return 1;
    }
  memset (&si, 0, sizeof si);
  if (waitid (P_PIDFD, (id_t) sb->pidfd, &si, WEXITED | WNOHANG) < 0)
    {
      if (errno == EINTR)
        return 0;
      return tr_fail (err, errno, "sandbox: wait for PID 1");
    }
  if (si.si_pid == 0)
    return 0;
  sb->reaped = true;
  fill_result (sb, &si, &sb->result);
  *res = sb->result;
  return 1;
}

int
sandbox_wait (struct sandbox *sb, struct sandbox_result *res, struct tr_error *err)
{
  for (;;)
    {
      struct pollfd p = { .fd = sb->pidfd, .events = POLLIN };
      int r = sandbox_try_reap (sb, res, err);
      int left;

      if (r != 0)
        return r < 0 ? -1 : 0;
      left = sandbox_ms_left (sb);
      if (left == 0 && !sb->timed_out)
        {
          sb->timed_out = true;
          sandbox_kill (sb);
          continue;
        }
      if (poll (&p, 1, sb->timed_out ? -1 : left) < 0 && errno != EINTR)
        return tr_fail (err, errno, "sandbox: poll");
    }
}

void
sandbox_destroy (struct sandbox *sb)
{
  if (sb == NULL)
    return;
  if (sb->pidfd >= 0 && !sb->reaped)
    {
      siginfo_t si;
      sandbox_kill (sb);
      while (waitid (P_PIDFD, (id_t) sb->pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
    }
  if (sb->supervisor > 0)
    {
      kill (sb->supervisor, SIGKILL);
      while (waitpid (sb->supervisor, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  free (sb->sockets);
  if (sb->sync_fd >= 0)
    close (sb->sync_fd);
  cgroup_destroy (&sb->cg);
  seccomp_program_free (&sb->seccomp);
  if (sb->pidfd >= 0)
    close (sb->pidfd);
  if (sb->broker_fd >= 0)
    close (sb->broker_fd);
  if (sb->listen_fd >= 0)
    close (sb->listen_fd);
  free (sb);
}
