/* exec: run a process in a created or running container.
 *
 *   exec --process FILE [--detach] [--pid-file F] [--console-socket S] ID
 *   exec [--tty] [--env K=V]... [--cwd D] [--user UID[:GID]] [--cap CAP]...
 *        [--additional-gids G]... [--no-new-privs] [--detach] ID CMD [ARG...]
 *
 * Without --process the container's own process (from the config saved at
 * create time) is the base: its env, cwd, user, capabilities and
 * noNewPrivileges, which the flags override or extend.  The container's
 * seccomp profile applies.  Detached, the process is left to the caller
 * (containerd's shim reaps it); attached, we wait for it as a subreaper,
 * forward signals, proxy the pty for --tty without a console socket, and
 * exit with its status.  */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/userdir.h"
#include "shim/runc.h"

/* Strict uid[:gid] (CVE-2016-3697, CVE-2026-30892: no trailing garbage).  */
static int
parse_user (const char *s, uid_t *uid, gid_t *gid, bool *has_gid)
{
  char *end;
  unsigned long v;

  if (!isdigit ((unsigned char) s[0]))
    return -1;
  errno = 0;
  v = strtoul (s, &end, 10);
  if (errno || v >= 0xffffffffUL || (*end && *end != ':'))
    return -1;
  *uid = (uid_t) v;
  *has_gid = false;
  if (*end == ':')
    {
      const char *g = end + 1;
      if (!isdigit ((unsigned char) g[0]))
        return -1;
      v = strtoul (g, &end, 10);
      if (errno || v >= 0xffffffffUL || *end)
        return -1;
      *gid = (gid_t) v;
      *has_gid = true;
    }
  return 0;
}

static const char **
env_merge (const char **base, const struct strlist *add)
{
  size_t nb = 0;
  const char **out;

  for (; base && base[nb]; nb++)
    ;
  out = ar_alloc ((nb + add->n + 1) * sizeof *out);
  for (size_t i = 0; i < nb; i++)
    out[i] = base[i];
  for (size_t k = 0; k < add->n; k++)
    {
      const char *eq = strchr (add->v[k], '=');
      size_t klen = eq ? (size_t) (eq - add->v[k]) : strlen (add->v[k]);
      bool replaced = false;
      for (size_t i = 0; i < nb && !replaced; i++)
        if (strncmp (out[i], add->v[k], klen) == 0 && out[i][klen] == '=')
          {
            out[i] = add->v[k];
            replaced = true;
          }
      if (!replaced)
        out[nb++] = add->v[k];
    }
  out[nb] = NULL;
  return out;
}

static pid_t exec_pid = -1;

static void
forward (int sig)
{
  if (exec_pid > 0)
    kill (exec_pid, sig);
}

/* exec's own failures exit 255, as runc's: a caller tells them from the
 * process's exit status (1 is a common one).  */
static int
exec_fail (const struct tr_error *err)
{
  log_fail (err);
  return 255;
}

/* exec --cgroup PATH: the process starts in PATH below the container's
 * cgroup (runc's sub-cgroup), which must exist.  runc's other form,
 * CONTROLLERS:PATH, names per-controller paths in cgroup v1's
 * hierarchies; cgroup v2 has one, so it is refused, never guessed.  The
 * path is resolved beneath the container's cgroup directory (no "..", no
 * symlinks): an exec'd process can never be placed outside the
 * container's cgroup.  *OUT is -1 when the container's own cgroup is
 * meant.  */
static int
open_sub_cgroup (const struct strlist *arg, const struct ct_cgroup *cg, int *out,
                 struct tr_error *err)
{
  const char *p;

  *out = -1;
  if (arg->n == 0)
    return 0;
  if (arg->n > 1)
    return tr_fail (err, 0,
                    "exec: --cgroup given %zu times: cgroup v2 has one hierarchy, give one "
                    "--cgroup PATH",
                    arg->n);
  p = arg->v[0];
  if (strchr (p, ':'))
    return tr_fail (err, 0,
                    "exec: --cgroup %s: the CONTROLLERS:PATH form names cgroup v1 hierarchies; "
                    "cgroup v2 has one: give --cgroup PATH",
                    p);
  while (*p == '/')
    p++;
  if (*p == '\0')
    return 0;
  if (cg->dirfd < 0)
    return tr_fail (err, 0, "exec: --cgroup %s: the container has no cgroup", arg->v[0]);
  *out = tr_openat2 (cg->dirfd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (*out < 0)
    return tr_fail (err, errno,
                    "exec: --cgroup %s: no cgroup %s below the container's %s (it must exist)",
                    arg->v[0], p, cg->path);
  return 0;
}

int
runc_cmd_exec (int argc, char **argv)
{
  struct tr_error err;
  const char *process_file = NULL, *pid_file = NULL, *console_socket = NULL, *cwd = NULL,
             *user = NULL, *label = NULL, *apparmor = NULL, *pidfd_socket = NULL;
  bool tty = false, detach = false, nnp = false, ignore_paused = false;
  long preserve_fds = 0;
  struct strlist env = { 0 }, caps = { 0 }, gids = { 0 }, cgroup = { 0 };
  const struct optdef defs[] = {
    { "process", 'p', OPT_STR, &process_file },
    { "pid-file", 0, OPT_STR, &pid_file },
    { "console-socket", 0, OPT_STR, &console_socket },
    { "pidfd-socket", 0, OPT_STR, &pidfd_socket },
    { "cwd", 0, OPT_STR, &cwd },
    { "env", 'e', OPT_LIST, &env },
    { "tty", 't', OPT_BOOL, &tty },
    { "user", 'u', OPT_STR, &user },
    { "additional-gids", 'g', OPT_LIST, &gids },
    { "cap", 'c', OPT_LIST, &caps },
    { "no-new-privs", 0, OPT_BOOL, &nnp },
    { "detach", 'd', OPT_BOOL, &detach },
    { "preserve-fds", 0, OPT_INT, &preserve_fds },
    { "process-label", 0, OPT_STR, &label },
    { "apparmor", 0, OPT_STR, &apparmor },
    { "cgroup", 0, OPT_LIST, &cgroup },
    { "ignore-paused", 0, OPT_BOOL, &ignore_paused },
    { NULL, 0, 0, NULL },
  };
  struct ct_state st;
  struct oci_config cfg;
  struct oci_process proc;
  struct oci_seccomp_prog sc;
  struct ct_cgroup cg = { .dirfd = -1 };
  struct ct_exec x;
  cleanup_close int sub_cg = -1;
  pid_t pid;
  int master = -1, console_fd = -1, i, code = 0;
  const char *id;

  tr_error_clear (&err);
  memset (&sc, 0, sizeof sc);
  i = opts_parse ("exec", argc, argv, defs, &err);
  if (i < 0)
    return exec_fail (&err);
  if (argc - i < 1)
    {
      tr_fail (&err, 0, "exec: a container id is needed");
      return exec_fail (&err);
    }
  id = argv[i++];
  if (pidfd_socket)
    {
      tr_fail (&err, 0, "exec: --pidfd-socket is not supported");
      return exec_fail (&err);
    }
  if (preserve_fds < 0 || preserve_fds > 1024)
    {
      tr_fail (&err, 0, "exec: --preserve-fds must be in [0, 1024]");
      return exec_fail (&err);
    }
  if (state_load (id, &st, &err) < 0)
    return exec_fail (&err);
  if (st.status == ST_STOPPED)
    {
      tr_fail (&err, 0, "cannot exec in a stopped container");
      return exec_fail (&err);
    }
  /* runc's --ignore-paused starts the process in the frozen cgroup,
   * where it stays frozen before it runs (and an attached exec waits for
   * resume): refused rather than half-done.  On a container that is not
   * paused it changes nothing, as in runc.  */
  if (st.status == ST_PAUSED)
    {
      if (ignore_paused)
        tr_fail (&err, 0,
                 "exec --ignore-paused: not supported (the process would stay frozen before "
                 "it starts): resume the container first");
      else
        tr_fail (&err, 0, "cannot exec in a paused container (resume it first)");
      return exec_fail (&err);
    }
  if (state_load_config (&st, &cfg, &err) < 0)
    return exec_fail (&err);

  if (process_file)
    {
      char *text = NULL;
      cJSON *j;
      if (read_whole_file (process_file, 4 << 20, &text, NULL, &err) < 0)
        return exec_fail (&err);
      j = cJSON_Parse (text);
      free (text);
      if (j == NULL)
        {
          tr_fail (&err, 0, "exec --process %s: invalid JSON", process_file);
          return exec_fail (&err);
        }
      ar_track_json (j);
      if (oci_process_parse (j, "", &proc, &err) < 0)
        return exec_fail (&err);
    }
  else
    {
      if (i >= argc)
        {
          tr_fail (&err, 0, "exec: a command is needed (exec [options] ID COMMAND [ARGS])");
          return exec_fail (&err);
        }
      /* The command-line form inherits the config's process.  */
      if (!cfg.has_process)
        {
          tr_fail (&err, 0,
                   "exec: the container's config.json has no process to inherit cwd, user and "
                   "env from: use exec --process FILE");
          return exec_fail (&err);
        }
      proc = cfg.process;
      proc.args = (const char **) (argv + i);
      proc.terminal = tty;
      proc.has_console_size = false;
      proc.env = env_merge (cfg.process.env, &env);
      if (cwd)
        proc.cwd = cwd;
      if (user)
        {
          bool has_gid;
          gid_t g = proc.gid;
          if (parse_user (user, &proc.uid, &g, &has_gid) < 0)
            {
              tr_fail (&err, 0, "exec: --user \"%s\": want UID or UID:GID (numbers)", user);
              return exec_fail (&err);
            }
          proc.gid = has_gid ? g : proc.gid;
        }
      if (gids.n)
        {
          proc.gids = ar_alloc (gids.n * sizeof *proc.gids);
          for (size_t k = 0; k < gids.n; k++)
            {
              char *end;
              unsigned long v = strtoul (gids.v[k], &end, 10);
              if (*end || !isdigit ((unsigned char) gids.v[k][0]))
                {
                  tr_fail (&err, 0, "exec: --additional-gids \"%s\": not a number", gids.v[k]);
                  return exec_fail (&err);
                }
              proc.gids[k] = (gid_t) v;
            }
          proc.n_gids = gids.n;
        }
      for (size_t k = 0; k < caps.n; k++)
        {
          int c = caps_from_name (caps.v[k]);
          if (c < 0)
            {
              tr_fail (&err, 0, "exec: --cap %s: unknown capability", caps.v[k]);
              return exec_fail (&err);
            }
          proc.caps.bounding |= 1ull << c;
          proc.caps.effective |= 1ull << c;
          proc.caps.permitted |= 1ull << c;
        }
      if (nnp)
        proc.no_new_privs = true;
    }
  if (!st.userns)
    oci_caps_fit_bounding (&proc.caps, "process.capabilities");
  if (proc.terminal && detach && !console_socket)
    {
      tr_fail (&err, 0,
               "cannot allocate tty if " RUNC_NAME " will detach without setting "
               "console socket");
      return exec_fail (&err);
    }
  if (!proc.terminal && console_socket)
    {
      tr_fail (&err, 0,
               "cannot use console socket if " RUNC_NAME " will not detach or allocate "
               "tty");
      return exec_fail (&err);
    }
  if (cfg.seccomp && oci_seccomp_compile (cfg.seccomp, &sc, &err) < 0)
    return exec_fail (&err);
  if (st.cgroup[0] && cgpath_open (st.cgroup, &cg, &err) < 0)
    {
      seccomp_program_free (&sc.prog);
      return exec_fail (&err);
    }
  if (open_sub_cgroup (&cgroup, &cg, &sub_cg, &err) < 0)
    {
      seccomp_program_free (&sc.prog);
      return exec_fail (&err);
    }
  /* Only the fd clone3 uses goes near the process (the child closes it).  */
  if (sub_cg >= 0)
    {
      close (cg.dirfd);
      cg.dirfd = -1;
    }
  if (console_socket)
    {
      console_fd = console_connect (console_socket, &err);
      if (console_fd < 0)
        {
          seccomp_program_free (&sc.prog);
          return exec_fail (&err);
        }
    }
  memset (&x, 0, sizeof x);
  x.cfg = &cfg;
  x.proc = &proc;
  x.state = &st;
  x.console_fd = console_fd;
  x.want_master = proc.terminal && console_fd < 0;
  x.cgroup_fd = sub_cg >= 0 ? sub_cg : cg.dirfd;
  x.preserve_fds = (int) preserve_fds;
  x.subreaper = !detach;
  x.seccomp = cfg.seccomp ? &sc : NULL;
  if (container_exec (&x, &pid, &master, &err) < 0)
    {
      seccomp_program_free (&sc.prog);
      return exec_fail (&err);
    }
  seccomp_program_free (&sc.prog);
  if (console_fd >= 0)
    close (console_fd);
  if (cg.dirfd >= 0)
    close (cg.dirfd);
  if (write_pid_file (pid_file, pid, &err) < 0)
    return exec_fail (&err);
  if (detach)
    return 0;

  {
    static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };
    cleanup_close int pfd = pidfd_open (pid, 0);
    int status = 0;
    exec_pid = pid;
    for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++)
      sigaction (forwarded[k], &sa, NULL);
    if (master >= 0)
      {
        console_proxy (master, pfd);
        close (master);
      }
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
      ;
    exec_pid = -1;
    code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  }
  return code;
}
