/* tactus-run sandbox status | rebuild | exec  */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <poll.h>

#include "broker/egress.h"
#include "broker/trace.h"
#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/protected.h"
#include "common/strv.h"
#include "policy/egress.h"
#include "policy/workspace_guard.h"
#include "sandbox/sandbox.h"
#include "sandbox/status.h"

static void
json_string (FILE *f, const char *s)
{
  fputc ('"', f);
  for (; *s; s++)
    {
      unsigned char c = (unsigned char) *s;
      if (c == '"' || c == '\\')
        fprintf (f, "\\%c", c);
      else if (c < 0x20)
        fprintf (f, "\\u%04x", c);
      else
        fputc (c, f);
    }
  fputc ('"', f);
}

static int
sandbox_status_cmd (int argc, char **argv)
{
  struct sandbox_status st;
  bool json = false;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--json") == 0)
        json = true;
      else
        {
          fprintf (stderr, "tactus-run sandbox status: unknown flag '%s' (only --json)\n", argv[i]);
          return 1;
        }
    }
  sandbox_status_probe (&st);
  if (json)
    {
      printf ("{\"usable\":%s,\"layers\":[", st.usable ? "true" : "false");
      for (size_t i = 0; i < st.n; i++)
        {
          printf ("%s{\"name\":", i ? "," : "");
          json_string (stdout, st.layers[i].name);
          printf (",\"available\":%s,\"detail\":", st.layers[i].ok ? "true" : "false");
          json_string (stdout, st.layers[i].detail);
          printf ("}");
        }
      printf ("]}\n");
    }
  else
    {
      for (size_t i = 0; i < st.n; i++)
        printf ("%-18s %-4s %s\n", st.layers[i].name, st.layers[i].ok ? "yes" : "NO",
                st.layers[i].detail);
      printf ("\n%s\n", st.usable ? "A sandbox can be built on this host."
                                  : "A sandbox CANNOT be built on this host (see the NO lines).");
    }
  return st.usable ? 0 : 1;
}

static int
sandbox_rebuild_cmd (int argc, char **argv)
{
  struct tr_error err;
  struct sandbox_rebuild_report r;
  bool force = false;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--force") == 0)
        force = true;
      else
        {
          fprintf (stderr, "tactus-run sandbox rebuild: unknown flag '%s' (only --force)\n",
                   argv[i]);
          return 1;
        }
    }
  tr_error_clear (&err);
  if (sandbox_rebuild (force, &r, &err) < 0)
    {
      tr_error_print (&err);
      return 1;
    }
  printf ("seccomp: %d built-in program%s checked, %s\n", r.checked, r.checked == 1 ? "" : "s",
          r.differ ? "some differ from this host's libseccomp (accepted with --force)"
                   : "each identical to its profile compiled now with this host's libseccomp");
  if (r.legacy_removed)
    printf ("removed %d program%s cached by an older version in %s\n", r.legacy_removed,
            r.legacy_removed == 1 ? "" : "s", r.legacy_dir);
  printf ("nothing else is kept between runs\n");
  return 0;
}

static void
exec_usage (FILE *f)
{
  fprintf (f,
           "usage: tactus-run sandbox exec [OPTIONS] -- PROGRAM [ARGS...]\n"
           "\n"
           "  --workspace DIR        host directory bound at /workspace (default: .)\n"
           "  --workspace-mode M     rw (default), ro, overlay (changes vanish at exit) or off\n"
           "  --bind SRC:DST         extra read-write bind\n"
           "  --ro-bind SRC:DST      extra read-only bind\n"
           "  --no-system            do not bind /usr, /lib*, /bin, /sbin read-only\n"
           "  --dev-pts              a private /dev/pts and /dev/ptmx\n"
           "  --no-stdin             give the program /dev/null as stdin\n"
           "  --memory SIZE          memory limit (cgroup memory.max, else RLIMIT_AS; "
           "RLIMIT_DATA always)\n"
           "  --pids N               process limit (cgroup pids.max and RLIMIT_NPROC)\n"
           "  --cpus F               CPU bandwidth (cgroup cpu.max)\n"
           "  --cpu-seconds N        RLIMIT_CPU (default: from --timeout, at least 3600)\n"
           "  --nofile N             RLIMIT_NOFILE\n"
           "  --fsize SIZE           RLIMIT_FSIZE\n"
           "  --tmp-size SIZE        size of the sandbox's /tmp\n"
           "  --timeout SECONDS      wall-clock deadline; exit 124 when it fires\n"
           "  --require-cgroup       fail if the limits cannot be set through cgroup v2\n"
           "  --host-uid N, --host-gid N\n"
           "                         (root only) host ids that sandbox root maps to\n"
           "  --allow-unix-socket PATH\n"
           "                         the program may connect to this host unix socket (else it\n"
           "                         gets no unix socket at all, socketpair aside)\n"
           "  --protect NAME         one more protected path (the program can neither write nor\n"
           "                         create it in a writable workspace or bind)\n"
           "  --unprotect NAME       not protected this time (.git, .envrc... are by default)\n"
           "  --allow-net HOST[:PORT]\n"
           "                         let the program reach this endpoint through the egress\n"
           "                         proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY are set);\n"
           "                         repeatable; names, *.domain, addresses, ranges\n"
           "  --deny-net HOST[:PORT] never this endpoint (checked first)\n");
}

static int
bad_value (const char *flag, const char *value, const char *want)
{
  fprintf (stderr, "tactus-run sandbox exec: %s '%s': expected %s\n", flag, value ? value : "",
           want);
  return 1;
}

static int
add_bind (struct sandbox_bind **binds, size_t *n, const char *arg, bool writable)
{
  char *copy = strdup (arg), *colon;
  struct sandbox_bind *nb;

  if (copy == NULL)
    return -1;
  colon = strchr (copy, ':');
  if (colon == NULL || colon == copy || colon[1] != '/')
    {
      free (copy);
      return -1;
    }
  *colon = '\0';
  nb = realloc (*binds, (*n + 1) * sizeof **binds);
  if (nb == NULL)
    {
      free (copy);
      return -1;
    }
  *binds = nb;
  nb[*n].source = copy;
  nb[*n].target = colon + 1;
  nb[*n].writable = writable;
  (*n)++;
  return 0;
}

static void
free_binds (struct sandbox_bind *binds, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free ((char *) binds[i].source);
  free (binds);
}

/* The default environment of a native cage, and the egress proxy's.  */
static char **
exec_env_with_proxy (const struct sandbox_spec *spec)
{
  char **env = NULL;
  char home[64];

  snprintf (home, sizeof home, "HOME=%s",
            spec->cwd                                  ? spec->cwd
            : spec->workspace == SANDBOX_WORKSPACE_OFF ? "/"
                                                       : "/workspace");
  strv_push (&env, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  strv_push (&env, home);
  strv_push (&env, "TERM=dumb");
  for (const char *const *e = egress_env; *e; e++)
    strv_push (&env, *e);
  return env;
}

static int
sandbox_exec_cmd (int argc, char **argv)
{
  enum
  {
    O_WS = 256,
    O_WSMODE,
    O_BIND,
    O_ROBIND,
    O_NOSYS,
    O_PTS,
    O_NOSTDIN,
    O_MEM,
    O_PIDS,
    O_CPUS,
    O_CPUSEC,
    O_NOFILE,
    O_FSIZE,
    O_TMP,
    O_TIMEOUT,
    O_REQCG,
    O_HUID,
    O_HGID,
    O_SOCK,
    O_PROT,
    O_UNPROT,
    O_ALLOW,
    O_DENY,
    O_HELP
  };
  static const struct option opts[] = {
    { "workspace", required_argument, 0, O_WS },
    { "workspace-mode", required_argument, 0, O_WSMODE },
    { "bind", required_argument, 0, O_BIND },
    { "ro-bind", required_argument, 0, O_ROBIND },
    { "no-system", no_argument, 0, O_NOSYS },
    { "dev-pts", no_argument, 0, O_PTS },
    { "no-stdin", no_argument, 0, O_NOSTDIN },
    { "memory", required_argument, 0, O_MEM },
    { "pids", required_argument, 0, O_PIDS },
    { "cpus", required_argument, 0, O_CPUS },
    { "cpu-seconds", required_argument, 0, O_CPUSEC },
    { "nofile", required_argument, 0, O_NOFILE },
    { "fsize", required_argument, 0, O_FSIZE },
    { "tmp-size", required_argument, 0, O_TMP },
    { "timeout", required_argument, 0, O_TIMEOUT },
    { "require-cgroup", no_argument, 0, O_REQCG },
    { "host-uid", required_argument, 0, O_HUID },
    { "host-gid", required_argument, 0, O_HGID },
    { "allow-unix-socket", required_argument, 0, O_SOCK },
    { "protect", required_argument, 0, O_PROT },
    { "unprotect", required_argument, 0, O_UNPROT },
    { "allow-net", required_argument, 0, O_ALLOW },
    { "deny-net", required_argument, 0, O_DENY },
    { "help", no_argument, 0, O_HELP },
    { 0, 0, 0, 0 },
  };
  struct sandbox_spec spec;
  struct sandbox_bind *binds = NULL;
  size_t n_binds = 0;
  struct sandbox *sb;
  struct sandbox_result res;
  struct tr_error err;
  cleanup_strv char **sockets = NULL, **prot = NULL;
  bool any_socket = false;
  uint64_t v;
  int c, rc;
  struct egress_rules rules = { 0 };
  struct egress *egress = NULL;
  char why[400];

  for (const char *const *p = protected_defaults; *p; p++)
    if (strv_push (&prot, *p) < 0)
      return 1;
  sandbox_spec_init (&spec);
  spec.seccomp = SANDBOX_SECCOMP_NATIVE;
  spec.system_binds = true;
  spec.keep_stdin = true;
  if (cli_exact_options ("sandbox exec", argc, argv, opts, true) < 0)
    return 1;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    {
      switch (c)
        {
        case O_WS:
          spec.workspace_dir = optarg;
          break;
        case O_WSMODE:
          if (strcmp (optarg, "rw") == 0)
            spec.workspace = SANDBOX_WORKSPACE_RW;
          else if (strcmp (optarg, "ro") == 0)
            spec.workspace = SANDBOX_WORKSPACE_RO;
          else if (strcmp (optarg, "off") == 0)
            spec.workspace = SANDBOX_WORKSPACE_OFF;
          else if (strcmp (optarg, "overlay") == 0)
            spec.workspace = SANDBOX_WORKSPACE_OVERLAY;
          else
            return bad_value ("--workspace-mode", optarg, "rw, ro, overlay or off");
          break;
        case O_BIND:
        case O_ROBIND:
          if (add_bind (&binds, &n_binds, optarg, c == O_BIND) < 0)
            {
              free_binds (binds, n_binds);
              return bad_value (c == O_BIND ? "--bind" : "--ro-bind", optarg, "SRC:/ABSOLUTE/DST");
            }
          break;
        case O_NOSYS:
          spec.system_binds = false;
          break;
        case O_PTS:
          spec.dev_pts = true;
          break;
        case O_NOSTDIN:
          spec.keep_stdin = false;
          break;
        case O_MEM:
          if (parse_size (optarg, &spec.limits.memory_bytes) < 0)
            return bad_value ("--memory", optarg, "a size such as 64m");
          break;
        case O_PIDS:
          if (parse_uint (optarg, &spec.limits.pids) < 0)
            return bad_value ("--pids", optarg, "a number");
          break;
        case O_CPUS:
          if (parse_seconds (optarg, &spec.limits.cpus) < 0)
            return bad_value ("--cpus", optarg, "a number of CPUs such as 0.5");
          break;
        case O_CPUSEC:
          if (parse_uint (optarg, &spec.limits.cpu_seconds) < 0)
            return bad_value ("--cpu-seconds", optarg, "a number");
          break;
        case O_NOFILE:
          if (parse_uint (optarg, &spec.limits.nofile) < 0)
            return bad_value ("--nofile", optarg, "a number");
          break;
        case O_FSIZE:
          if (parse_size (optarg, &spec.limits.fsize_bytes) < 0)
            return bad_value ("--fsize", optarg, "a size");
          break;
        case O_TMP:
          if (parse_size (optarg, &spec.limits.tmpfs_bytes) < 0)
            return bad_value ("--tmp-size", optarg, "a size");
          break;
        case O_TIMEOUT:
          if (parse_seconds (optarg, &spec.limits.timeout_seconds) < 0)
            return bad_value ("--timeout", optarg, "seconds");
          break;
        case O_REQCG:
          spec.require_cgroup_limits = true;
          break;
        case O_HUID:
          if (parse_uint (optarg, &v) < 0 || v > 0xfffffffe)
            return bad_value ("--host-uid", optarg, "a uid");
          spec.host_uid = (uid_t) v;
          break;
        case O_HGID:
          if (parse_uint (optarg, &v) < 0 || v > 0xfffffffe)
            return bad_value ("--host-gid", optarg, "a gid");
          spec.host_gid = (gid_t) v;
          break;
        case O_SOCK:
          if (strv_push (&sockets, optarg) < 0)
            return 1;
          any_socket = true;
          break;
        case O_PROT:
        case O_UNPROT:
          if (protected_entry_invalid (optarg))
            return bad_value (c == O_PROT ? "--protect" : "--unprotect", optarg,
                              "one name, without '/'");
          strv_remove (prot, optarg);
          if (c == O_PROT && strv_push (&prot, optarg) < 0)
            return 1;
          if (c == O_UNPROT)
            fprintf (stderr,
                     "tactus-run sandbox exec: warning: '%s' is not protected: the program may "
                     "write it (and the host may then trust what it wrote)\n",
                     optarg);
          break;
        case O_ALLOW:
        case O_DENY:
          if (egress_rules_add (&rules, c == O_DENY, optarg, why, sizeof why) < 0)
            {
              fprintf (stderr, "tactus-run sandbox exec: %s: %s\n",
                       c == O_DENY ? "--deny-net" : "--allow-net", why);
              egress_rules_free (&rules);
              return 1;
            }
          break;
        case O_HELP:
          exec_usage (stdout);
          return 0;
        default:
          fprintf (stderr, "tactus-run sandbox exec: unknown or incomplete option '%s'\n",
                   argv[optind - 1]);
          exec_usage (stderr);
          return 1;
        }
    }
  if (optind >= argc)
    {
      fprintf (stderr,
               "tactus-run sandbox exec: no program given (tactus-run sandbox exec -- PROGRAM)\n");
      free_binds (binds, n_binds);
      return 1;
    }
  spec.argv = argv + optind;
  spec.protected_paths = (const char *const *) prot;
  if (any_socket)
    spec.unix_sockets = (const char *const *) sockets;
  spec.binds = binds;
  spec.n_binds = n_binds;
  tr_error_clear (&err);
  if (spec.workspace == SANDBOX_WORKSPACE_RW
      && workspace_guard (spec.workspace_dir ? spec.workspace_dir : ".", &err) < 0)
    {
      fprintf (stderr,
               "tactus-run sandbox exec: %s.\n  Give it another --workspace DIR, or one it "
               "cannot write back: --workspace-mode ro|overlay|off.\n",
               err.msg);
      free_binds (binds, n_binds);
      egress_rules_free (&rules);
      return 1;
    }
  if (egress_enabled (&rules))
    {
      /* The cage's only way out: a socket the sandbox places in its
       * network namespace, served by the egress proxy.  */
      spec.loopback_listen_port = EGRESS_PORT;
      spec.envp = exec_env_with_proxy (&spec);
      if (egress_start (&rules, &egress, &err) < 0)
        {
          tr_error_print (&err);
          free_binds (binds, n_binds);
          egress_rules_free (&rules);
          return 1;
        }
    }
  else if (rules.n_deny > 0)
    fprintf (stderr, "tactus-run sandbox exec: --deny-net without --allow-net: no egress at all\n");
  if (sandbox_start (&spec, &sb, &err) < 0)
    {
      tr_error_print (&err);
      egress_stop (egress, NULL);
      free_binds (binds, n_binds);
      egress_rules_free (&rules);
      return err.exit_code ? err.exit_code : 1;
    }
  if (egress)
    {
      struct trace t = { .human = stderr };
      if (egress_serve (egress, sandbox_take_listen_fd (sb), "sandbox exec", &err) < 0)
        tr_error_print (&err);
      /* The egress events as they come, until the program ends (the
       * deadline is sandbox_wait's).  */
      for (;;)
        {
          struct pollfd p[2] = { { .fd = sandbox_pidfd (sb), .events = POLLIN },
                                 { .fd = egress_event_fd (egress), .events = POLLIN } };
          int n = poll (p, 2, sandbox_ms_left (sb));
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0 || (p[0].revents & POLLIN))
            break;
          egress_drain (egress, &t);
        }
      rc = sandbox_wait (sb, &res, &err);
      egress_stop (egress, &t);
    }
  else
    rc = sandbox_wait (sb, &res, &err);
  sandbox_destroy (sb);
  free_binds (binds, n_binds);
  egress_rules_free (&rules);
  strv_free ((char **) spec.envp);
  if (rc < 0)
    {
      tr_error_print (&err);
      return 1;
    }
  if (res.timed_out)
    fprintf (stderr, "tactus-run: the sandbox ran past its %.3g s deadline and was killed\n",
             spec.limits.timeout_seconds);
  else if (res.oom)
    fprintf (stderr, "tactus-run: the sandbox hit its memory limit and was killed\n");
  else if (res.seccomp)
    fprintf (stderr,
             "tactus-run: the sandbox made a forbidden system call (seccomp) and was killed\n");
  return res.exit_code;
}

int
cmd_sandbox (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: tactus-run sandbox status|rebuild|exec ...\n");
      return 1;
    }
  if (strcmp (argv[1], "status") == 0)
    return sandbox_status_cmd (argc - 1, argv + 1);
  if (strcmp (argv[1], "rebuild") == 0)
    return sandbox_rebuild_cmd (argc - 1, argv + 1);
  if (strcmp (argv[1], "exec") == 0)
    return sandbox_exec_cmd (argc - 1, argv + 1);
  fprintf (stderr, "tactus-run sandbox: unknown subcommand '%s' (status, rebuild or exec)\n",
           argv[1]);
  return 1;
}
