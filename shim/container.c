/* The process model.
 *
 * create: the runtime process (P) clones the container's init with
 * clone3 — new namespaces as configured, CLONE_INTO_CGROUP so it is born
 * in the container's cgroup — writes its uid/gid maps, runs the prestart
 * and createRuntime hooks when the init asks, and waits on a SEQPACKET
 * socket until the init reports it is parked or failed.  The init builds
 * the mount tree, runs createContainer hooks, pivots, sets up the
 * terminal, drops to the configured user and capabilities, and parks on
 * the exec fifo in the state directory (opened O_RDWR, so it blocks in
 * read(2) until `start` writes a byte).  P then exits: the init is
 * re-parented to the caller's subreaper (containerd's shim, conmon), and
 * nothing of ours stays as its parent.  The init's fds 0-2 are the
 * caller's, untouched (or the pty); every other fd is CLOEXEC and closed
 * before execve, but --preserve-fds ones.
 *
 * exec: P clones a middle process into the container's cgroup; it joins
 * every namespace of the init that differs from ours with one setns(pidfd)
 * and forks the process (the pid namespace applies to children), sends
 * its host pid back and exits, so the process ends up an orphan of the
 * caller (or of P, a subreaper, when not detached).
 *
 * Errors in the init or the exec'd process travel back as struct tr_error
 * on the socket; a successful execve closes it (CLOEXEC): EOF.  Every
 * process of ours inside a container is non-dumpable until execve
 * (CVE-2016-9962) and runs from the protected binary (reexec.c).  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdpass.h"
#include "shim/runc.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE _IO (0xb7, 0x3)
#endif

enum
{
  MSG_GO = 'G',
  MSG_HOOKS = 'H',
  MSG_HOOKS_DONE = 'D',
  MSG_READY = 'R',
  MSG_ERROR = 'E',
  MSG_PID = 'P',
  MSG_MASTER = 'M',
};

struct sync_msg
{
  char tag;
  int32_t pid;
  struct tr_error err;
};

static int
sync_send (int fd, char tag, pid_t pid, const struct tr_error *e, int pass_fd)
{
  struct sync_msg m;

  memset (&m, 0, sizeof m);
  m.tag = tag;
  m.pid = pid;
  if (e)
    m.err = *e;
  return fd_send (fd, &m, sizeof m, &pass_fd, pass_fd >= 0 ? 1 : 0);
}

/* 1: a message, 0: EOF, -1: error.  */
static int
sync_recv (int fd, struct sync_msg *m, int *got_fd)
{
  int fds[1], nfds;
  ssize_t n = fd_recv (fd, m, sizeof *m, fds, got_fd ? 1 : 0, &nfds);

  if (got_fd)
    *got_fd = nfds == 1 ? fds[0] : -1;
  if (n < 0)
    return -1;
  if (n == 0)
    return 0;
  if ((size_t) n != sizeof *m)
    {
      errno = EPROTO;
      return -1;
    }
  m->err.msg[sizeof m->err.msg - 1] = '\0';
  return 1;
}

static _Noreturn void
fail_exit (int sync_fd, const struct tr_error *e)
{
  if (sync_send (sync_fd, MSG_ERROR, 0, e, -1) < 0)
    dprintf (2, "%s: %s\n", RUNC_NAME, e->msg);
  _exit (e->exit_code ? e->exit_code : 1);
}

char *
hook_state_json (const struct ct_state *st, const char *status, pid_t pid)
{
  struct ct_state copy = *st;
  cJSON *j;
  char *s, *r;

  copy.pid = pid;
  copy.status = ST_RUNNING;
  j = state_json (&copy, status);
  s = cJSON_PrintUnformatted (j);
  if (s == NULL)
    return ar_strdup ("{}");
  r = ar_strdup (s);
  free (s);
  return r;
}

/* ---- the process itself: shared by the init and exec ---- */

struct proc_run
{
  const char *exe;
  char **envp;
};

static const char *
env_get (char *const *env, const char *name)
{
  size_t n = strlen (name);
  for (; env && *env; env++)
    if (strncmp (*env, name, n) == 0 && (*env)[n] == '=')
      return *env + n + 1;
  return NULL;
}

/* HOME from the container's /etc/passwd when the env has none.  */
static const char *
home_of (uid_t uid)
{
  FILE *f = fopen ("/etc/passwd", "re");
  struct passwd pw, *res = NULL;
  char buf[4096];
  const char *home = "/";

  if (f == NULL)
    return home;
  while (fgetpwent_r (f, &pw, buf, sizeof buf, &res) == 0)
    if (pw.pw_uid == uid)
      {
        home = ar_strdup (pw.pw_dir);
        break;
      }
  fclose (f);
  return home;
}

static int
resolve_exe (const char *arg0, char *const *env, const char **out, struct tr_error *err)
{
  const char *path;
  struct stat st;

  if (strchr (arg0, '/'))
    {
      if (stat (arg0, &st) < 0)
        return tr_fail (err, errno, "exec: \"%s\": stat", arg0);
      if (S_ISDIR (st.st_mode) || access (arg0, X_OK) < 0)
        return tr_fail (err, EACCES, "exec: \"%s\": permission denied", arg0);
      *out = arg0;
      return 0;
    }
  path = env_get (env, "PATH");
  if (path == NULL)
    path = OCI_DEFAULT_PATH;
  for (const char *p = path;;)
    {
      size_t n = strcspn (p, ":");
      const char *cand = ar_printf ("%.*s%s%s", (int) n, p, n ? "/" : "", arg0);
      if (stat (cand, &st) == 0 && S_ISREG (st.st_mode) && access (cand, X_OK) == 0)
        {
          *out = cand;
          return 0;
        }
      if (p[n] == '\0')
        break;
      p += n + 1;
    }
  err->exit_code = 127;
  return tr_fail (err, 0, "exec: \"%s\": executable file not found in $PATH", arg0);
}

static int
set_rlimits (const struct oci_process *p, struct tr_error *err)
{
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      struct rlimit rl = { p->rlimits[i].soft, p->rlimits[i].hard };
      if (setrlimit (p->rlimits[i].resource, &rl) < 0)
        return tr_fail (err, errno, "process.rlimits[%zu]: setrlimit", i);
    }
  return 0;
}

/* CVE-2024-21626: a cwd reached through a leaked fd of the host reads as
 * "(unreachable)/..." (not absolute).  */
static int
check_cwd (const struct oci_process *p, char *cwd, size_t size, struct tr_error *err)
{
  errno = 0;
  if (getcwd (cwd, size) == NULL || cwd[0] != '/')
    return tr_fail (err, errno ? errno : EPERM, "process.cwd %s: outside the container's root",
                    p->cwd);
  return 0;
}

/* Everything between the namespaces and execve: rlimits, the user and
 * capabilities, cwd (checked to be inside the root: CVE-2024-21626), the
 * environment, the executable, no_new_privs, and seccomp when it must come
 * before the capabilities are dropped.  */
static int
proc_prepare (const struct oci_process *p, const struct oci_seccomp_prog *sc, bool setgroups_ok,
              struct proc_run *out, struct tr_error *err)
{
  struct ct_user user = { .uid = p->uid,
                          .gid = p->gid,
                          .groups = p->gids,
                          .n_groups = p->n_gids,
                          .set_groups = setgroups_ok };
  char cwd[4096];
  size_t n_env = 0;

  if (set_rlimits (p, err) < 0)
    return -1;
  for (; p->env[n_env]; n_env++)
    ;
  out->envp = ar_alloc ((n_env + 2) * sizeof *out->envp);
  for (size_t i = 0; i < n_env; i++)
    out->envp[i] = (char *) p->env[i];
  if (env_get (out->envp, "HOME") == NULL)
    out->envp[n_env++] = ar_printf ("HOME=%s", home_of (p->uid));
  out->envp[n_env] = NULL;

  /* process.cwd is entered before the user switch (a 0700 directory of
   * another user is entered as root, as runc does; one only the user can
   * enter, e.g. on root-squashed NFS, is tried again after it) and before
   * the container's seccomp filter: the runtime's own getcwd must not meet
   * a profile that refuses it.  */
  bool cwd_done = chdir (p->cwd) == 0;
  if (cwd_done && check_cwd (p, cwd, sizeof cwd, err) < 0)
    return -1;
  /* Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it
   * while we still have it.  */
  if (sc && !p->no_new_privs && oci_seccomp_load (sc, err) < 0)
    return -1;
  if (caps_drop_bounding (&p->caps, err) < 0 || caps_switch_user (&user, err) < 0)
    return -1;
  if (!cwd_done && chdir (p->cwd) < 0)
    return tr_fail (err, errno, "process.cwd %s: chdir", p->cwd);
  if (!cwd_done && check_cwd (p, cwd, sizeof cwd, err) < 0)
    return -1;
  if (resolve_exe (p->args[0], out->envp, &out->exe, err) < 0)
    return -1;
  if (caps_apply (&p->caps, err) < 0)
    return -1;
  if (p->no_new_privs && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return tr_fail (err, errno, "process.noNewPrivileges");
  umask (p->has_umask ? p->umask : 022);
  return 0;
}

/* Close every fd from FIRST on but KEEP and KEEP2 (-1: none; both
 * CLOEXEC, so execve closes them).  */
static void
close_fds_from (int first, int keep, int keep2)
{
  int k[2] = { keep < keep2 ? keep : keep2, keep < keep2 ? keep2 : keep };
  int from = first;
  bool ok = true;

  for (int i = 0; i < 2 && ok; i++)
    {
      if (k[i] < from)
        continue;
      if (k[i] > from && close_range ((unsigned) from, (unsigned) k[i] - 1, 0) < 0)
        ok = false;
      from = k[i] + 1;
    }
  if (ok && close_range ((unsigned) from, ~0U, 0) == 0)
    return;
  /* A seccomp profile may refuse close_range: close one by one.  */
  for (int fd = first; fd < 4096; fd++)
    if (fd != keep && fd != keep2)
      close (fd);
}

static _Noreturn void
proc_exec (const struct oci_process *p, const struct oci_seccomp_prog *sc,
           const struct proc_run *run, int preserve_fds, int sync_fd, int log_fd, int fifo_fd)
{
  struct tr_error err;
  int e;

  tr_error_clear (&err);
  close_fds_from (3 + preserve_fds, sync_fd >= 0 ? sync_fd : log_fd, fifo_fd);
  for (int fd = 3; fd < 3 + preserve_fds; fd++)
    {
      int fl = fcntl (fd, F_GETFD);
      if (fl >= 0)
        fcntl (fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
  if (sc && p->no_new_privs && oci_seccomp_load (sc, &err) < 0)
    goto fail;
  execve (run->exe, (char *const *) p->args, run->envp);
  e = errno;
  tr_fail (&err, e, "exec %s", run->exe);
  err.exit_code = e == ENOENT ? 127 : 126;
fail:
  if (sync_fd >= 0)
    fail_exit (sync_fd, &err);
  if (log_fd >= 0)
    log_line_fd (log_fd, runc_g.log_json, "error", err.msg);
  dprintf (2, "%s: %s\n", RUNC_NAME, err.msg);
  _exit (127);
}

/* ---- create ---- */

struct init_ctx
{
  const struct ct_launch *l;
  const struct oci_config *cfg;
  struct ct_rootfs rs;
  int sync_fd;
  int join_fds[16];
  int join_flags[16];
  size_t n_join;
  int unshare_flags; /* created after joining a user namespace by path */
  bool userns;
  bool setgroups_ok;
  int log_fd;
  pid_t host_pid;
};

static int
write_sysctls (const struct oci_config *cfg, struct tr_error *err)
{
  cleanup_close int procfd = -1;

  if (cfg->n_sysctl == 0)
    return 0;
  procfd = procfs_open_private (err);
  if (procfd < 0)
    return -1;
  for (size_t i = 0; i < cfg->n_sysctl; i++)
    {
      char *path = ar_printf ("sys/%s", cfg->sysctl_keys[i]);
      for (char *c = path + 4; *c; c++)
        if (*c == '.')
          *c = '/';
      if (procfs_write (procfd, path, cfg->sysctl_values[i], err) < 0)
        return tr_wrap (err, "linux.sysctl.%s", cfg->sysctl_keys[i]);
    }
  return 0;
}

static int
init_setup (struct init_ctx *c, struct proc_run *run, struct tr_error *err)
{
  const struct oci_config *cfg = c->cfg;
  const struct oci_process *p = &cfg->process;
  const struct ct_launch *l = c->l;
  struct sync_msg m;
  pid_t host_pid;
  int r;

  /* The cgroup directory fd was for clone3 only: a directory fd of the
   * host must never reach the container (CVE-2024-21626).  */
  if (l->cgroup_fd >= 0)
    close (l->cgroup_fd);
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
    return tr_fail (err, errno, "pdeathsig");
  r = sync_recv (c->sync_fd, &m, NULL);
  if (r <= 0 || m.tag != MSG_GO)
    _exit (1);
  host_pid = m.pid;
  c->host_pid = host_pid;
  /* From here on nothing in the container may look into us.  */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);

  for (size_t i = 0; i < c->n_join; i++)
    if (c->join_flags[i] == CLONE_NEWUSER && setns (c->join_fds[i], CLONE_NEWUSER) < 0)
      return tr_fail (err, errno, "linux.namespaces: join the user namespace");
  if (c->userns)
    {
      /* Setup runs as root of the user namespace when 0 is mapped (if it
       * is not, the caps we hold there still allow the setup).  */
      if (setresgid (0, 0, 0) < 0 && errno != EINVAL)
        return tr_fail (err, errno, "user namespace: become gid 0");
      if (setresuid (0, 0, 0) < 0 && errno != EINVAL)
        return tr_fail (err, errno, "user namespace: become uid 0");
    }
  for (size_t i = 0; i < c->n_join; i++)
    {
      if (c->join_flags[i] != CLONE_NEWUSER && setns (c->join_fds[i], c->join_flags[i]) < 0)
        return tr_fail (err, errno, "linux.namespaces: join a namespace by path");
      close (c->join_fds[i]);
    }
  if (c->unshare_flags && unshare (c->unshare_flags) < 0)
    return tr_fail (err, errno, "linux.namespaces: unshare");
  /* A cgroup namespace is made here, once we are in the container's
   * cgroup, so that its root is that cgroup.  */
  if ((cfg->new_ns_flags & CLONE_NEWCGROUP) && unshare (CLONE_NEWCGROUP) < 0)
    return tr_fail (err, errno, "linux.namespaces: a new cgroup namespace");
  /* A session keyring of its own, as runc (unless --no-new-keyring).  */
  if (!l->no_new_keyring)
    syscall (SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, ar_printf ("_ses.%s", l->id));
  if (cfg->hostname && cfg->hostname[0] && sethostname (cfg->hostname, strlen (cfg->hostname)) < 0)
    return tr_fail (err, errno, "hostname: sethostname");
  if (cfg->domainname && cfg->domainname[0]
      && setdomainname (cfg->domainname, strlen (cfg->domainname)) < 0)
    return tr_fail (err, errno, "domainname: setdomainname");

  if (rootfs_prepare (&c->rs, err) < 0)
    return -1;
  if (cfg->n_hooks[HOOK_PRESTART] || cfg->n_hooks[HOOK_CREATE_RUNTIME])
    {
      if (sync_send (c->sync_fd, MSG_HOOKS, 0, NULL, -1) < 0)
        return tr_fail (err, errno, "sync: hooks");
      r = sync_recv (c->sync_fd, &m, NULL);
      if (r <= 0 || m.tag != MSG_HOOKS_DONE)
        _exit (1);
    }
  /* The spec's states: "creating" is lifecycle step 2 (the environment
   * being made), "created" after it; the create-time hooks are steps 3
   * to 5, so they see "created" (runc passes "creating").  */
  /* createContainer hooks run from the container's root (runc's cwd for
   * them): the prepared tree in our own mount namespace; pivot_root
   * changes directory itself.  */
  if (cfg->n_hooks[HOOK_CREATE_CONTAINER] && chdir (cfg->root_path) < 0)
    return tr_fail (err, errno, "createContainer hooks: chdir to root.path %s", cfg->root_path);
  if (cfg->n_hooks[HOOK_CREATE_CONTAINER]
      && hooks_run (cfg, HOOK_CREATE_CONTAINER, hook_state_json (l->state, "created", host_pid),
                    err)
             < 0)
    return -1;
  if (rootfs_pivot (&c->rs, err) < 0)
    return -1;
  if (write_sysctls (cfg, err) < 0)
    return -1;
  if (rootfs_finish (&c->rs, err) < 0)
    return -1;
  if ((cfg->new_ns_flags & CLONE_NEWNET) && net_loopback_up (err) < 0)
    return -1;
  if (p->terminal && (l->console_fd >= 0 || l->want_master))
    {
      char name[64];
      cleanup_close int master = console_setup (true, p, name, sizeof name, err);
      if (master < 0)
        return -1;
      if (l->console_fd >= 0)
        {
          if (console_send (l->console_fd, master, name, err) < 0)
            return -1;
          close (l->console_fd);
        }
      else if (sync_send (c->sync_fd, MSG_MASTER, 0, NULL, master) < 0)
        return tr_fail (err, errno, "terminal: pass the master back");
    }
  /* Without "process" (allowed at create) the init parks and start
   * refuses to release it: nothing to prepare.  */
  if (cfg->has_process && proc_prepare (p, l->seccomp, c->setgroups_ok, run, err) < 0)
    return -1;
  return 0;
}

static _Noreturn void
init_main (struct init_ctx *c)
{
  struct tr_error err;
  struct proc_run run;
  const struct ct_launch *l = c->l;
  char byte;
  ssize_t n;

  tr_error_clear (&err);
  if (init_setup (c, &run, &err) < 0)
    fail_exit (c->sync_fd, &err);
  /* Parked.  The runtime process exits after this message, so a dead
   * parent must not kill us any more.  */
  prctl (PR_SET_PDEATHSIG, 0);
  if (sync_send (c->sync_fd, MSG_READY, 0, NULL, -1) < 0)
    _exit (1);
  close (c->sync_fd);
  do
    n = read (l->fifo_fd, &byte, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || !c->cfg->has_process)
    _exit (1);
  /* The exec fifo stays open (CLOEXEC) until execve: `start` waits for
   * it to close before the poststart hooks, which the spec runs after
   * the user's process is executed.  */
  if (c->cfg->n_hooks[HOOK_START_CONTAINER])
    {
      char *st = hook_state_json (l->state, "created", c->host_pid);
      if (hooks_run (c->cfg, HOOK_START_CONTAINER, st, &err) < 0)
        {
          if (c->log_fd >= 0)
            log_line_fd (c->log_fd, runc_g.log_json, "error", err.msg);
          _exit (1);
        }
    }
  proc_exec (&c->cfg->process, l->seccomp, &run, l->preserve_fds, -1, c->log_fd, l->fifo_fd);
}

static pid_t
clone3_ (uint64_t flags, int cgroup_fd, int *pidfd)
{
  struct clone_args a;

  memset (&a, 0, sizeof a);
  a.flags = flags | CLONE_PIDFD;
  a.pidfd = (uint64_t) (uintptr_t) pidfd;
  a.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0)
    {
      a.flags |= CLONE_INTO_CGROUP;
      a.cgroup = (uint64_t) cgroup_fd;
    }
  return (pid_t) syscall (SYS_clone3, &a, sizeof a);
}

/* One of PID's id maps (FILE: uid_map or gid_map) from MAPS.  */
static int
write_id_map (pid_t pid, const char *file, const struct oci_idmap *maps, size_t n_maps,
              const char *field, const char *kind, struct tr_error *err)
{
  char path[64], buf[OCI_MAX_IDMAPS * 40] = "";
  size_t n = 0;

  for (size_t i = 0; i < n_maps; i++)
    n += (size_t) snprintf (buf + n, sizeof buf - n, "%u %u %u\n", maps[i].container_id,
                            maps[i].host_id, maps[i].size);
  snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, file);
  if (write_file_at (AT_FDCWD, path, buf, err) < 0)
    {
      if (geteuid () == 0)
        return tr_wrap (err, "linux.%s", field);
      return tr_wrap (err, "linux.%s (without root, only your own %s can be mapped)", field, kind);
    }
  return 0;
}

static int
write_maps (pid_t pid, const struct oci_config *cfg, struct tr_error *err)
{
  char path[64];

  if (geteuid () != 0)
    {
      snprintf (path, sizeof path, "/proc/%d/setgroups", (int) pid);
      if (write_file_at (AT_FDCWD, path, "deny", err) < 0)
        return tr_wrap (err, "user namespace: setgroups");
    }
  if (write_id_map (pid, "uid_map", cfg->uid_maps, cfg->n_uid_maps, "uidMappings", "uid", err) < 0)
    return -1;
  return write_id_map (pid, "gid_map", cfg->gid_maps, cfg->n_gid_maps, "gidMappings", "gid", err);
}

static void
fill_rootfs (struct ct_rootfs *rs, const struct ct_launch *l, bool userns)
{
  const struct oci_config *cfg = l->cfg;

  memset (rs, 0, sizeof *rs);
  rs->rootfs = cfg->root_path;
  rs->readonly = cfg->root_readonly;
  rs->mounts = cfg->mounts;
  rs->n_mounts = cfg->n_mounts;
  rs->devices = cfg->devices;
  rs->n_devices = cfg->n_devices;
  rs->masked = cfg->masked;
  rs->n_masked = cfg->n_masked;
  rs->readonly_paths = cfg->readonly;
  rs->n_readonly = cfg->n_readonly;
  rs->propagation = cfg->rootfs_propagation;
  rs->no_pivot = l->no_pivot;
  rs->userns = userns;
  rs->new_netns = cfg->new_ns_flags & CLONE_NEWNET;
  rs->cgroupns = cfg->ns_flags & CLONE_NEWCGROUP;
  rs->cgroup_path = l->cgroup_path;
  rs->console = cfg->process.terminal && (l->console_fd >= 0 || l->want_master);
}

static int
open_ns (const struct oci_ns *ns, struct tr_error *err)
{
  int fd = open (ns->path, O_RDONLY | O_CLOEXEC);
  int type;

  if (fd < 0)
    return tr_fail (err, errno, "linux.namespaces: open %s", ns->path);
  type = ioctl (fd, NS_GET_NSTYPE);
  if (type >= 0 && type != ns->flag)
    {
      close (fd);
      return tr_fail (err, 0,
                      "linux.namespaces: %s is not a namespace of the type its entry "
                      "names",
                      ns->path);
    }
  if (ns->flag == CLONE_NEWNS)
    {
      /* The container's rootfs is set up in a mount namespace joined by
       * path (the spec: the process MUST be placed in it), and pivot_root
       * there moves the root of every process of it that had the old one.
       * Never the runtime's own or the host init's: their "/" is the
       * host's.  (The setup first makes every mount there a slave, so
       * nothing propagates back: rootfs_prepare.)  */
      static const char *const hostns[] = { "/proc/self/ns/mnt", "/proc/1/ns/mnt" };
      struct stat a, b;
      if (fstat (fd, &a) < 0)
        {
          close (fd);
          return tr_fail (err, errno, "linux.namespaces: stat %s", ns->path);
        }
      for (size_t i = 0; i < 2; i++)
        if (stat (hostns[i], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
          {
            close (fd);
            return tr_fail (err, 0,
                            "linux.namespaces: %s is the %s mount namespace: a container "
                            "joins a mount namespace of its own (unshare --mount makes one)",
                            ns->path, i == 0 ? "runtime's" : "host's");
          }
    }
  return fd;
}

int
container_create (const struct ct_launch *l, pid_t *pid_out, int *pidfd_out, int *master_out,
                  struct tr_error *err)
{
  const struct oci_config *cfg = l->cfg;
  struct init_ctx c;
  int sp[2] = { -1, -1 };
  int pidfd = -1;
  uint64_t flags;
  bool join_user = false;
  pid_t pid;
  struct sync_msg m;
  int r, got_fd;

  memset (&c, 0, sizeof c);
  c.l = l;
  c.cfg = cfg;
  c.log_fd = log_fd ();
  *master_out = -1;
  /* Without a mount namespace of its own the container's mounts would be
   * made in the runtime's (the host's).  */
  if (!(cfg->ns_flags & CLONE_NEWNS))
    return tr_fail (err, 0,
                    "config.json: linux.namespaces: a mount namespace is required (add "
                    "{\"type\": \"mount\"}, or one with the path of a namespace to join)");
  for (size_t i = 0; i < cfg->n_ns; i++)
    if (cfg->ns[i].path && cfg->ns[i].flag == CLONE_NEWUSER)
      join_user = true;
  c.userns = (cfg->ns_flags & CLONE_NEWUSER) != 0;
  if (!c.userns && geteuid () != 0)
    return tr_fail (err, 0,
                    "rootless containers need a user namespace: add {\"type\": \"user\"} "
                    "to linux.namespaces with uidMappings and gidMappings (see spec "
                    "--rootless)");
  c.setgroups_ok = geteuid () == 0 || !c.userns;
  if (join_user)
    {
      if (cfg->new_ns_flags & CLONE_NEWPID)
        return tr_fail (err, 0,
                        "linux.namespaces: a new pid namespace inside a user namespace "
                        "joined by path is not supported");
      flags = 0;
      c.unshare_flags
          = cfg->new_ns_flags & ~(CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWTIME);
    }
  else
    {
      flags = (uint64_t) (cfg->new_ns_flags & ~CLONE_NEWCGROUP);
      if ((cfg->new_ns_flags & CLONE_NEWUSER))
        for (size_t i = 0; i < cfg->n_ns; i++)
          if (cfg->ns[i].path && cfg->ns[i].flag != CLONE_NEWPID
              && cfg->ns[i].flag != CLONE_NEWTIME)
            return tr_fail (err, 0,
                            "linux.namespaces: joining a namespace by path together with "
                            "a new user namespace is not supported");
    }
  /* Namespaces by path: pid and time apply to children, so this process
   * joins them before the clone; the init joins the others.  */
  for (size_t i = 0; i < cfg->n_ns; i++)
    {
      int fd;
      if (cfg->ns[i].path == NULL)
        continue;
      fd = open_ns (&cfg->ns[i], err);
      if (fd < 0)
        goto fail_early;
      if (cfg->ns[i].flag == CLONE_NEWPID || cfg->ns[i].flag == CLONE_NEWTIME)
        {
          r = setns (fd, cfg->ns[i].flag);
          close (fd);
          if (r < 0)
            {
              tr_fail (err, errno, "linux.namespaces: join %s", cfg->ns[i].path);
              goto fail_early;
            }
          continue;
        }
      c.join_fds[c.n_join] = fd;
      c.join_flags[c.n_join++] = cfg->ns[i].flag;
    }
  fill_rootfs (&c.rs, l, c.userns);
  /* Asked here, on the host, and inherited: the init never asks through
   * the container's /proc.  */
  (void) caps_last_cap ();
  if (cfg->process.has_oom_score_adj)
    {
      char v[16];
      snprintf (v, sizeof v, "%d", cfg->process.oom_score_adj);
      /* Inherited by the init; written here, on the host's /proc.  */
      if (write_file_at (AT_FDCWD, "/proc/self/oom_score_adj", v, err) < 0 && geteuid () == 0)
        {
          tr_wrap (err, "process.oomScoreAdj");
          goto fail_early;
        }
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    {
      tr_fail (err, errno, "socketpair");
      goto fail_early;
    }
  pid = clone3_ (flags, l->cgroup_fd, &pidfd);
  if (pid < 0)
    {
      tr_fail (err, errno, "clone3 the container's init (namespaces 0x%llx)",
               (unsigned long long) flags);
      goto fail_early;
    }
  if (pid == 0)
    {
      close (sp[0]);
      c.sync_fd = sp[1];
      init_main (&c);
    }
  close (sp[1]);
  sp[1] = -1;
  for (size_t i = 0; i < c.n_join; i++)
    close (c.join_fds[i]);
  c.n_join = 0;

  if ((cfg->new_ns_flags & CLONE_NEWUSER) && write_maps (pid, cfg, err) < 0)
    goto fail;
  if (sync_send (sp[0], MSG_GO, pid, NULL, -1) < 0)
    {
      tr_fail (err, errno, "sync: release the init");
      goto fail;
    }
  for (;;)
    {
      r = sync_recv (sp[0], &m, &got_fd);
      if (r == 0)
        {
          tr_fail (err, 0, "the container's init exited during setup");
          goto fail;
        }
      if (r < 0)
        {
          tr_fail (err, errno, "sync: read from the init");
          goto fail;
        }
      if (m.tag == MSG_ERROR)
        {
          *err = m.err;
          /* runc's status for any failed create, whatever the step.  */
          err->exit_code = 1;
          goto fail;
        }
      if (m.tag == MSG_MASTER)
        {
          *master_out = got_fd;
          continue;
        }
      if (got_fd >= 0)
        close (got_fd);
      if (m.tag == MSG_HOOKS)
        {
          /* "created": lifecycle steps 3 and 4 (see createContainer).  */
          char *st = hook_state_json (l->state, "created", pid);
          if (hooks_run (cfg, HOOK_PRESTART, st, err) < 0
              || hooks_run (cfg, HOOK_CREATE_RUNTIME, st, err) < 0)
            goto fail;
          if (sync_send (sp[0], MSG_HOOKS_DONE, 0, NULL, -1) < 0)
            {
              tr_fail (err, errno, "sync: hooks done");
              goto fail;
            }
          continue;
        }
      if (m.tag == MSG_READY)
        break;
      tr_fail (err, EPROTO, "sync: unexpected message from the init");
      goto fail;
    }
  close (sp[0]);
  *pid_out = pid;
  *pidfd_out = pidfd;
  return 0;

fail:
  if (pidfd >= 0)
    {
      siginfo_t si;
      pidfd_send_signal (pidfd, SIGKILL, NULL, 0);
      while (waitid (P_PIDFD, (id_t) pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
      close (pidfd);
    }
  if (*master_out >= 0)
    {
      close (*master_out);
      *master_out = -1;
    }
fail_early:
  for (size_t i = 0; i < c.n_join; i++)
    close (c.join_fds[i]);
  if (sp[0] >= 0)
    close (sp[0]);
  if (sp[1] >= 0)
    close (sp[1]);
  return -1;
}

/* ---- exec ---- */

static const struct
{
  const char *name;
  int flag;
} ns_files[] = {
  { "user", CLONE_NEWUSER },     { "mnt", CLONE_NEWNS },    { "pid", CLONE_NEWPID },
  { "net", CLONE_NEWNET },       { "ipc", CLONE_NEWIPC },   { "uts", CLONE_NEWUTS },
  { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

static int
ns_to_join (pid_t pid)
{
  int flags = 0;

  for (size_t i = 0; i < sizeof ns_files / sizeof ns_files[0]; i++)
    {
      struct stat a, b;
      char p1[64], p2[64];
      snprintf (p1, sizeof p1, "/proc/self/ns/%s", ns_files[i].name);
      snprintf (p2, sizeof p2, "/proc/%d/ns/%s", (int) pid, ns_files[i].name);
      if (stat (p1, &a) == 0 && stat (p2, &b) == 0
          && (a.st_ino != b.st_ino || a.st_dev != b.st_dev))
        flags |= ns_files[i].flag;
    }
  return flags;
}

static _Noreturn void
exec_final (const struct ct_exec *x, int sync_fd, bool setgroups_ok)
{
  struct tr_error err;
  struct proc_run run;
  const struct oci_process *p = x->proc;

  tr_error_clear (&err);
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (p->terminal && (x->console_fd >= 0 || x->want_master))
    {
      char name[64];
      int master = console_setup (false, p, name, sizeof name, &err);
      if (master < 0)
        fail_exit (sync_fd, &err);
      if (x->console_fd >= 0)
        {
          if (console_send (x->console_fd, master, name, &err) < 0)
            fail_exit (sync_fd, &err);
          close (x->console_fd);
        }
      else if (sync_send (sync_fd, MSG_MASTER, 0, NULL, master) < 0)
        _exit (1);
      close (master);
    }
  if (proc_prepare (p, x->seccomp, setgroups_ok, &run, &err) < 0)
    fail_exit (sync_fd, &err);
  proc_exec (p, x->seccomp, &run, x->preserve_fds, sync_fd, -1, -1);
}

int
container_exec (const struct ct_exec *x, pid_t *pid_out, int *master_out, struct tr_error *err)
{
  cleanup_close int target = -1;
  cleanup_close int child_pidfd = -1;
  int sp[2] = { -1, -1 };
  int nsflags;
  pid_t mid, gpid = -1;
  struct sync_msg m;
  siginfo_t si;
  int r, got_fd;
  bool failed = false;
  /* A rootless user namespace has setgroups denied.  */
  bool setgroups_ok = geteuid () == 0 || !x->state->userns;

  *master_out = -1;
  target = pidfd_open (x->state->pid, 0);
  if (target < 0 || proc_start_time (x->state->pid, NULL) != x->state->start_time)
    return tr_fail (err, 0, "container not running");
  nsflags = ns_to_join (x->state->pid);
  /* Before joining the container's mount namespace (see caps.c).  */
  (void) caps_last_cap ();
  if (x->subreaper && prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return tr_fail (err, errno, "exec: become a subreaper");
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    return tr_fail (err, errno, "exec: socketpair");
  mid = clone3_ (0, x->cgroup_fd, &child_pidfd);
  if (mid < 0)
    {
      tr_fail (err, errno, "exec: clone3 into the container's cgroup");
      close (sp[0]);
      close (sp[1]);
      return -1;
    }
  if (mid == 0)
    {
      struct tr_error e;
      pid_t g;
      tr_error_clear (&e);
      close (sp[0]);
      if (x->cgroup_fd >= 0)
        close (x->cgroup_fd);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
      if (nsflags && setns (target, nsflags) < 0)
        {
          tr_fail (&e, errno, "exec: join the container's namespaces");
          fail_exit (sp[1], &e);
        }
      close (target);
      g = fork ();
      if (g < 0)
        {
          tr_fail (&e, errno, "exec: fork into the container's pid namespace");
          fail_exit (sp[1], &e);
        }
      if (g == 0)
        exec_final (x, sp[1], setgroups_ok);
      sync_send (sp[1], MSG_PID, g, NULL, -1);
      _exit (0);
    }
  close (sp[1]);
  for (;;)
    {
      r = sync_recv (sp[0], &m, &got_fd);
      if (r <= 0)
        break;
      if (m.tag == MSG_PID)
        gpid = m.pid;
      else if (m.tag == MSG_MASTER)
        *master_out = got_fd, got_fd = -1;
      else if (m.tag == MSG_ERROR)
        {
          *err = m.err;
          err->exit_code = 1;
          failed = true;
        }
      if (got_fd >= 0)
        close (got_fd);
    }
  close (sp[0]);
  while (waitid (P_PIDFD, (id_t) child_pidfd, &si, WEXITED) < 0 && errno == EINTR)
    ;
  if (failed)
    {
      if (gpid > 0)
        {
          /* It failed before execve; reap it when it is ours.  */
          kill (gpid, SIGKILL);
          if (x->subreaper)
            waitpid (gpid, NULL, 0);
        }
      if (*master_out >= 0)
        close (*master_out), *master_out = -1;
      return -1;
    }
  if (gpid <= 0)
    return tr_fail (err, 0, "exec: the process did not start");
  *pid_out = gpid;
  return 0;
}
