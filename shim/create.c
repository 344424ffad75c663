/* create, start and run, and the teardown delete and run share.
 *
 * create returns once the init is parked (container.c), after writing the
 * pid file and state.json.  The order makes a failure leave nothing
 * behind: the state directory is claimed first (so a duplicate id fails
 * before anything of the existing container is touched), and every later
 * failure removes the cgroup and the directory again.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "shim/cgroup_systemd.h"
#include "shim/runc.h"

int
write_pid_file (const char *path, pid_t pid, struct tr_error *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", (int) pid);

  if (path == NULL || path[0] == '\0')
    return 0;
  if (write_file_atomic (path, buf, (size_t) n, 0644, err) < 0)
    return tr_wrap (err, "--pid-file");
  return 0;
}

bool
wait_pid_gone (pid_t pid, unsigned long long start_time, int ms)
{
  cleanup_close int fd = pidfd_open (pid, 0);
  char st;
  unsigned long long t;
  struct pollfd p;

  if (fd < 0)
    return true;
  t = proc_start_time (pid, &st);
  if (t == 0 || t != start_time || st == 'Z' || st == 'X')
    return true;
  p.fd = fd;
  p.events = POLLIN;
  return poll (&p, 1, ms) == 1;
}

static const char *
owner_name (void)
{
  struct passwd *pw = getpwuid (geteuid ());
  return pw ? ar_strdup (pw->pw_name) : ar_printf ("%u", (unsigned) geteuid ());
}

/* Resource limits (device rules alone are not: a rootless container
 * without a cgroup still has its device nodes restricted by the user
 * namespace).  */
static bool
has_limits (const struct ct_resources *r)
{
  return r->memory_limit || r->memory_reservation || r->memory_swap || r->has_pids || r->cpu_shares
         || r->cpu_quota || r->cpu_period || r->has_cpu_idle || (r->cpus && r->cpus[0])
         || (r->mems && r->mems[0]) || r->blkio_weight || r->n_unified;
}

/* The cgroup path under the cgroup2 mount.  --systemd-cgroup with a
 * "slice:prefix:name" (or empty) path: the systemd driver's scope, parsed
 * into SDP (SDP->unit set); an absolute path stays a cgroupfs path.  */
static int
cgroup_rel (const char *id, const struct oci_config *cfg, const char **out,
            struct sd_cgroup_path *sdp, struct tr_error *err)
{
  const char *p = cfg->cgroups_path;

  memset (sdp, 0, sizeof *sdp);
  if (runc_g.systemd_cgroup && (!(p && p[0]) || systemd_cgroup_is_unit_path (p)))
    {
      if (systemd_cgroup_parse (p, id, sdp, err) < 0)
        return -1;
      *out = sdp->rel;
      return 0;
    }
  if (systemd_cgroup_is_unit_path (p))
    return tr_fail (err, 0,
                    "config.json: linux.cgroupsPath \"%s\" is a systemd unit "
                    "(slice:prefix:name), which needs the systemd cgroup driver: pass "
                    "--systemd-cgroup (containerd SystemdCgroup = true, podman "
                    "--cgroup-manager=systemd), or give a cgroupfs path",
                    p);
  *out = p && p[0] ? p : ar_printf ("/%s", id);
  return 0;
}

int
create_container (const char *id, const struct create_opts *o, pid_t *pid_out, int *pidfd_out,
                  int *master_out, struct tr_error *err)
{
  struct oci_config cfg;
  struct oci_seccomp_prog sc;
  struct ct_cgroup cg = { .dirfd = -1 };
  struct sd_cgroup_path sdp;
  pid_t holder = -1;
  struct ct_state st;
  struct ct_launch l;
  const char *bundle, *dir, *rel = NULL;
  char real[PATH_MAX];
  char *text = NULL;
  size_t text_len = 0;
  struct stat sb;
  bool want_master = false;
  pid_t pid = -1;
  int pidfd = -1;

  *master_out = -1;
  memset (&sc, 0, sizeof sc);
  if (validate_id (id, err) < 0)
    return -1;
  bundle = o->bundle && o->bundle[0] ? o->bundle : ".";
  if (realpath (bundle, real) == NULL)
    return tr_fail (err, errno, "bundle %s", bundle);
  bundle = ar_strdup (real);
  if (read_whole_file (ar_printf ("%s/config.json", bundle), 16 << 20, &text, &text_len, err) < 0)
    {
      if (err->errnum == ENOENT)
        return tr_fail (err, 0, "JSON specification file config.json not found in bundle %s",
                        bundle);
      return -1;
    }
  {
    char *copy = ar_strdup (text);
    if (oci_config_parse (copy, bundle, &cfg, err) < 0)
      {
        free (text);
        return -1;
      }
  }
  /* The spec makes "process" OPTIONAL at create and an error only at
   * start: without it the init is parked like any other and never
   * executes anything (start refuses to release it).  */
  if (cfg.process.terminal && !o->console_socket && !o->want_master)
    {
      free (text);
      return tr_fail (err, 0,
                      "cannot allocate tty if " RUNC_NAME " will detach without setting "
                      "console socket");
    }
  if (!cfg.process.terminal && o->console_socket)
    {
      free (text);
      return tr_fail (err, 0,
                      "cannot use console socket if " RUNC_NAME " will not detach or "
                      "allocate tty");
    }
  want_master = cfg.process.terminal && !o->console_socket && o->want_master;
  if (stat (cfg.root_path, &sb) < 0 || !S_ISDIR (sb.st_mode))
    {
      free (text);
      return tr_fail (err, errno ? errno : ENOTDIR, "config.json: root.path %s: not a directory",
                      cfg.root_path);
    }
  if (!(cfg.ns_flags & CLONE_NEWUSER) && geteuid () != 0)
    {
      free (text);
      return tr_fail (err, 0,
                      "rootless containers need a user namespace: add {\"type\": "
                      "\"user\"} to linux.namespaces with uidMappings and gidMappings "
                      "(see spec --rootless)");
    }
  if (!(cfg.ns_flags & CLONE_NEWUSER))
    oci_caps_fit_bounding (&cfg.process.caps, "process.capabilities");
  if (cgroup_rel (id, &cfg, &rel, &sdp, err) < 0)
    {
      free (text);
      return -1;
    }
  if (cfg.seccomp && oci_seccomp_compile (cfg.seccomp, &sc, err) < 0)
    {
      free (text);
      return -1;
    }

  if (state_dir_create (id, err) < 0)
    {
      free (text);
      seccomp_program_free (&sc.prog);
      return -1;
    }
  dir = state_dir_of (id);
  memset (&l, 0, sizeof l);
  l.fifo_fd = -1;
  l.console_fd = -1;
  if (write_file_atomic (ar_printf ("%s/config.json", dir), text, text_len, 0600, err) < 0)
    goto fail;
  free (text);
  text = NULL;

  if (sdp.unit[0])
    {
      /* The record first: delete --force of an interrupted create stops
       * the unit too.  */
      if (systemd_unit_record (dir, sdp.unit, err) < 0
          || systemd_cgroup_create (&sdp, cfg.has_resources ? &cfg.res : NULL, &cg, &holder, err)
                 < 0)
        goto fail;
    }
  else if (cgpath_create (rel, cfg.has_resources ? &cfg.res : NULL, &cg, err) < 0)
    {
      /* Rootless without limits and without a cgroupsPath of its own:
       * run without a cgroup, as runc does.  An explicit cgroupsPath
       * that cannot be made fails, as in runc.  */
      if (geteuid () == 0 || has_limits (&cfg.res) || runc_g.rootless == 0)
        goto fail;
      if (cfg.cgroups_path && cfg.cgroups_path[0])
        {
          tr_wrap (err,
                   "config.json: linux.cgroupsPath %s cannot be created by this user (delegate "
                   "its parent to the user, or remove linux.cgroupsPath)",
                   cfg.cgroups_path);
          goto fail;
        }
      log_debug ("no cgroup: %s", err->msg);
      tr_error_clear (err);
      cg.dirfd = -1;
      cg.path[0] = '\0';
    }
  if (cg.dirfd >= 0 && cg.shared)
    log_warn ("container's cgroup %s is not empty: it already holds processes (they share its "
              "limits, and kill --all signals them too)",
              cg.path);
  /* A breadcrumb for delete --force, should this create be interrupted
   * before the state is written.  */
  if (cg.dirfd >= 0 && !cg.shared
      && write_file_atomic (ar_printf ("%s/cgroup", dir), cg.path, strlen (cg.path), 0600, err) < 0)
    goto fail;
  if (cg.dirfd >= 0
      && devices_cgroup_filter (cg.dirfd, cfg.res.devices, cfg.res.n_devices, err) < 0)
    {
      if (geteuid () == 0)
        goto fail;
      log_debug ("no device cgroup filter: %s", err->msg);
      tr_error_clear (err);
    }
  if (mkfifo (ar_printf ("%s/exec.fifo", dir), 0600) < 0)
    {
      tr_fail (err, errno, "create the exec fifo");
      goto fail;
    }
  l.fifo_fd = open (ar_printf ("%s/exec.fifo", dir), O_RDWR | O_CLOEXEC);
  if (l.fifo_fd < 0)
    {
      tr_fail (err, errno, "open the exec fifo");
      goto fail;
    }
  if (o->console_socket)
    {
      l.console_fd = console_connect (o->console_socket, err);
      if (l.console_fd < 0)
        goto fail;
    }

  memset (&st, 0, sizeof st);
  st.id = id;
  st.dir = dir;
  st.bundle = bundle;
  st.rootfs = cfg.root_path;
  {
    char now[64];
    rfc3339_now (now, sizeof now);
    st.created = ar_strdup (now);
  }
  st.owner = owner_name ();
  st.cgroup = cg.dirfd >= 0 ? ar_strdup (cg.path) : "";
  /* A cgroup that held processes before us is never removed.  */
  st.cgroup_created = cg.dirfd >= 0 && !cg.shared;
  st.userns = (cfg.ns_flags & CLONE_NEWUSER) != 0;
  st.annotations = cfg.annotations;

  l.cfg = &cfg;
  l.id = id;
  l.state_dir = dir;
  l.want_master = want_master;
  l.cgroup_fd = cg.dirfd;
  l.cgroup_path = cg.dirfd >= 0 ? cg.path : NULL;
  l.no_pivot = o->no_pivot;
  l.no_new_keyring = o->no_new_keyring;
  l.preserve_fds = (int) o->preserve_fds;
  l.seccomp = cfg.seccomp ? &sc : NULL;
  l.state = &st;
  if (container_create (&l, &pid, &pidfd, master_out, err) < 0)
    goto fail;
  /* The init holds the scope now.  */
  systemd_cgroup_release (holder);
  holder = -1;
  close (l.fifo_fd);
  l.fifo_fd = -1;
  if (l.console_fd >= 0)
    close (l.console_fd);
  l.console_fd = -1;
  st.pid = pid;
  st.start_time = proc_start_time (pid, NULL);
  if (state_save (&st, err) < 0 || write_pid_file (o->pid_file, pid, err) < 0)
    {
      pidfd_send_signal (pidfd, SIGKILL, NULL, 0);
      waitpid (pid, NULL, 0);
      close (pidfd);
      if (*master_out >= 0)
        close (*master_out);
      *master_out = -1;
      goto fail;
    }
  if (cg.dirfd >= 0)
    close (cg.dirfd);
  seccomp_program_free (&sc.prog);
  *pid_out = pid;
  *pidfd_out = pidfd;
  log_debug ("created %s: init %d, cgroup %s", id, (int) pid, st.cgroup);
  return 0;

fail:
  free (text);
  if (l.fifo_fd >= 0)
    close (l.fifo_fd);
  if (l.console_fd >= 0)
    close (l.console_fd);
  systemd_cgroup_release (holder);
  {
    struct tr_error e;
    if (cg.shared)
      {
        /* Not ours: never killed nor removed.  */
        close (cg.dirfd);
        cg.dirfd = -1;
      }
    cgpath_destroy (&cg, &e);
    if (sdp.unit[0])
      systemd_cgroup_stop (sdp.unit, &e);
  }
  seccomp_program_free (&sc.prog);
  state_remove (id);
  return -1;
}

int
runc_cmd_create (int argc, char **argv)
{
  struct tr_error err;
  struct create_opts o = { 0 };
  const struct optdef defs[] = {
    { "bundle", 'b', OPT_STR, &o.bundle },
    { "pid-file", 0, OPT_STR, &o.pid_file },
    { "console-socket", 0, OPT_STR, &o.console_socket },
    { "no-pivot", 0, OPT_BOOL, &o.no_pivot },
    { "no-new-keyring", 0, OPT_BOOL, &o.no_new_keyring },
    { "preserve-fds", 0, OPT_INT, &o.preserve_fds },
    { NULL, 0, 0, NULL },
  };
  pid_t pid;
  int pidfd, master, i;

  tr_error_clear (&err);
  i = opts_parse ("create", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i != 1)
    {
      tr_fail (&err, 0, "create: exactly one container id is needed (create [options] ID)");
      return log_fail (&err);
    }
  if (o.preserve_fds < 0 || o.preserve_fds > 1024)
    {
      tr_fail (&err, 0, "create: --preserve-fds must be in [0, 1024]");
      return log_fail (&err);
    }
  if (create_container (argv[i], &o, &pid, &pidfd, &master, &err) < 0)
    return log_fail (&err);
  close (pidfd);
  return 0;
}

int
start_container (const char *id, struct tr_error *err)
{
  struct ct_state st;
  struct oci_config cfg;
  struct tr_error cfg_err;
  bool have_cfg;
  const char *fifo;
  cleanup_close int lock = -1;
  cleanup_close int fd = -1;

  lock = state_lock (id, err);
  if (lock < 0)
    return -1;
  if (state_load (id, &st, err) < 0)
    return -1;
  switch (st.status)
    {
    case ST_CREATED:
      break;
    case ST_STOPPED:
      return tr_fail (err, 0, "cannot start a container that has stopped");
    default:
      return tr_fail (err, 0, "cannot start an already running container");
    }
  /* The spec: "If the process property was not set, an error MUST be
   * generated" by start; the container stays created (delete removes
   * it).  */
  tr_error_clear (&cfg_err);
  have_cfg = state_load_config (&st, &cfg, &cfg_err) == 0;
  if (have_cfg && !cfg.has_process)
    return tr_fail (err, 0,
                    "config.json: process: is required to start container %s (add a "
                    "\"process\" object with args, cwd and user)",
                    id);
  fifo = state_fifo_path (id);
  fd = open (fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENXIO)
        return tr_fail (err, 0, "container not running (its init is not waiting for start)");
      return tr_fail (err, errno, "open the exec fifo");
    }
  if (write (fd, "0", 1) != 1)
    return tr_fail (err, errno, "release the init through the exec fifo");
  close (fd);
  fd = -1;
  if (!have_cfg)
    {
      unlink (fifo);
      log_warn ("start %s: the saved config cannot be read for poststart hooks: %s", id,
                cfg_err.msg);
      return 0;
    }
  if (cfg.n_hooks[HOOK_POSTSTART])
    {
      struct tr_error e;
      /* The init holds the fifo (CLOEXEC) until its execve: the poststart
       * hooks run once the user's process is executed (the spec), i.e.
       * once no reader is left (ENXIO); an init that died closes it too.
       * (Without poststart hooks nothing waits.)  */
      for (int i = 0; i < 25000; i++)
        {
          int probe = open (fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
          if (probe < 0)
            break;
          close (probe);
          usleep (200);
        }
      unlink (fifo);
      tr_error_clear (&e);
      if (hooks_run (&cfg, HOOK_POSTSTART, hook_state_json (&st, "running", st.pid), &e) < 0)
        log_warn ("%s", e.msg);
    }
  else
    unlink (fifo);
  return 0;
}

int
runc_cmd_start (int argc, char **argv)
{
  struct tr_error err;
  const struct optdef defs[] = { { NULL, 0, 0, NULL } };
  int i;

  tr_error_clear (&err);
  i = opts_parse ("start", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i != 1)
    {
      tr_fail (&err, 0, "start: exactly one container id is needed");
      return log_fail (&err);
    }
  if (start_container (argv[i], &err) < 0)
    return log_fail (&err);
  return 0;
}

int
destroy_container (struct ct_state *st, struct tr_error *err)
{
  struct ct_cgroup cg = { .dirfd = -1 };
  struct oci_config cfg;
  struct tr_error e;
  bool have_cfg;

  tr_error_clear (&e);
  have_cfg = state_load_config (st, &cfg, &e) == 0;
  if (st->cgroup && st->cgroup[0])
    cgpath_open (st->cgroup, &cg, &e);
  if (st->status != ST_STOPPED)
    {
      cleanup_close int fd = pidfd_open (st->pid, 0);
      /* A cgroup that held processes before the container is not all
       * ours: only the init is killed (its pid namespace goes with it).  */
      if (cg.dirfd >= 0 && st->cgroup_created)
        cgpath_signal_all (&cg, SIGKILL, &e);
      if (fd >= 0 && proc_start_time (st->pid, NULL) == st->start_time)
        pidfd_send_signal (fd, SIGKILL, NULL, 0);
      if (!wait_pid_gone (st->pid, st->start_time, 10000))
        return tr_fail (err, 0, "container %s: its init %d did not die", st->id, (int) st->pid);
    }
  if (cg.dirfd >= 0 && st->cgroup_created && cgpath_destroy (&cg, err) < 0)
    return -1;
  if (cg.dirfd >= 0)
    close (cg.dirfd);
  systemd_scope_gone (st->dir);
  if (have_cfg && cfg.n_hooks[HOOK_POSTSTOP])
    {
      tr_error_clear (&e);
      if (hooks_run (&cfg, HOOK_POSTSTOP, hook_state_json (st, "stopped", st->pid), &e) < 0)
        log_warn ("%s", e.msg);
    }
  if (state_remove (st->id) < 0 && errno != ENOENT)
    return tr_fail (err, errno, "remove the state of %s", st->id);
  return 0;
}

/* ---- run ---- */

static int run_pidfd = -1;

static void
forward_signal (int sig)
{
  if (run_pidfd >= 0)
    pidfd_send_signal (run_pidfd, sig, NULL, 0);
}

int
runc_cmd_run (int argc, char **argv)
{
  struct tr_error err;
  struct create_opts o = { 0 };
  bool detach = false, keep = false;
  const struct optdef defs[] = {
    { "bundle", 'b', OPT_STR, &o.bundle },
    { "pid-file", 0, OPT_STR, &o.pid_file },
    { "console-socket", 0, OPT_STR, &o.console_socket },
    { "no-pivot", 0, OPT_BOOL, &o.no_pivot },
    { "no-new-keyring", 0, OPT_BOOL, &o.no_new_keyring },
    { "preserve-fds", 0, OPT_INT, &o.preserve_fds },
    { "detach", 'd', OPT_BOOL, &detach },
    { "keep", 0, OPT_BOOL, &keep },
    { NULL, 0, 0, NULL },
  };
  static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
  struct sigaction sa = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };
  struct ct_state st;
  siginfo_t si;
  pid_t pid;
  int pidfd, master, i, code;
  const char *id;

  tr_error_clear (&err);
  i = opts_parse ("run", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i != 1)
    {
      tr_fail (&err, 0, "run: exactly one container id is needed (run [options] ID)");
      return log_fail (&err);
    }
  id = argv[i];
  o.want_master = !detach;
  if (create_container (id, &o, &pid, &pidfd, &master, &err) < 0)
    return log_fail (&err);
  if (detach)
    {
      close (pidfd);
      if (start_container (id, &err) < 0)
        return log_fail (&err);
      return 0;
    }
  run_pidfd = pidfd;
  for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++)
    sigaction (forwarded[k], &sa, NULL);
  if (start_container (id, &err) < 0)
    {
      code = log_fail (&err);
      pidfd_send_signal (pidfd, SIGKILL, NULL, 0);
    }
  else
    code = -1;
  if (master >= 0)
    {
      console_proxy (master, pidfd);
      close (master);
    }
  memset (&si, 0, sizeof si);
  while (waitid (P_PIDFD, (id_t) pidfd, &si, WEXITED) < 0 && errno == EINTR)
    ;
  run_pidfd = -1;
  close (pidfd);
  if (code < 0)
    code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
  if (!keep)
    {
      tr_error_clear (&err);
      if (state_load (id, &st, &err) < 0 || destroy_container (&st, &err) < 0)
        log_fail (&err);
    }
  return code;
}
