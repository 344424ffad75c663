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
#include "cli/options.h"
#include "common/suggest.h"
#include "cli/present.h"
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

  struct cli_parser cp;
  int c;

  if (cli_parse_begin (&cp, CLI_C_SANDBOX_STATUS, argc, argv) < 0)
    return 1;
  while ((c = cli_next (&cp)) > 0)
    if (c == CLI_O_JSON)
      json = true;
  if (c < 0)
    return 1;
  if (optind < argc)
    return cli_usage_error (CLI_C_SANDBOX_STATUS, "unexpected argument '%s'", argv[optind]);
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

  struct cli_parser cp;
  int c;

  if (cli_parse_begin (&cp, CLI_C_SANDBOX_REBUILD, argc, argv) < 0)
    return 1;
  while ((c = cli_next (&cp)) > 0)
    if (c == CLI_O_FORCE)
      force = true;
  if (c < 0)
    return 1;
  if (optind < argc)
    return cli_usage_error (CLI_C_SANDBOX_REBUILD, "unexpected argument '%s'", argv[optind]);
  tr_error_clear (&err);
  if (sandbox_rebuild (force, &r, &err) < 0)
    {
      present_error (stderr, NULL, &err);
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
  struct cli_parser cp;
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
  if (cli_parse_begin (&cp, CLI_C_SANDBOX_EXEC, argc, argv) < 0)
    return 1;
  while ((c = cli_next (&cp)) > 0)
    {
      switch (c)
        {
        case CLI_O_WORKSPACE:
          spec.workspace_dir = optarg;
          break;
        case CLI_O_WORKSPACE_MODE:
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
        case CLI_O_BIND:
        case CLI_O_RO_BIND:
          if (add_bind (&binds, &n_binds, optarg, c == CLI_O_BIND) < 0)
            {
              free_binds (binds, n_binds);
              return bad_value (c == CLI_O_BIND ? "--bind" : "--ro-bind", optarg,
                                "SRC:/ABSOLUTE/DST");
            }
          break;
        case CLI_O_NO_SYSTEM:
          spec.system_binds = false;
          break;
        case CLI_O_DEV_PTS:
          spec.dev_pts = true;
          break;
        case CLI_O_NO_STDIN:
          spec.keep_stdin = false;
          break;
        case CLI_O_MEMORY:
          if (parse_size (optarg, &spec.limits.memory_bytes) < 0)
            return bad_value ("--memory", optarg, "a size such as 64m");
          break;
        case CLI_O_PIDS:
          if (parse_uint (optarg, &spec.limits.pids) < 0)
            return bad_value ("--pids", optarg, "a number");
          break;
        case CLI_O_CPUS:
          if (parse_seconds (optarg, &spec.limits.cpus) < 0)
            return bad_value ("--cpus", optarg, "a number of CPUs such as 0.5");
          break;
        case CLI_O_CPU_SECONDS:
          if (parse_uint (optarg, &spec.limits.cpu_seconds) < 0)
            return bad_value ("--cpu-seconds", optarg, "a number");
          break;
        case CLI_O_NOFILE:
          if (parse_uint (optarg, &spec.limits.nofile) < 0)
            return bad_value ("--nofile", optarg, "a number");
          break;
        case CLI_O_FSIZE:
          if (parse_size (optarg, &spec.limits.fsize_bytes) < 0)
            return bad_value ("--fsize", optarg, "a size");
          break;
        case CLI_O_TMP_SIZE:
          if (parse_size (optarg, &spec.limits.tmpfs_bytes) < 0)
            return bad_value ("--tmp-size", optarg, "a size");
          break;
        case CLI_O_TIMEOUT:
          if (parse_seconds (optarg, &spec.limits.timeout_seconds) < 0)
            return bad_value ("--timeout", optarg, "seconds");
          break;
        case CLI_O_REQUIRE_CGROUP:
          spec.require_cgroup_limits = true;
          break;
        case CLI_O_HOST_UID:
          if (parse_uint (optarg, &v) < 0 || v > 0xfffffffe)
            return bad_value ("--host-uid", optarg, "a uid");
          spec.host_uid = (uid_t) v;
          break;
        case CLI_O_HOST_GID:
          if (parse_uint (optarg, &v) < 0 || v > 0xfffffffe)
            return bad_value ("--host-gid", optarg, "a gid");
          spec.host_gid = (gid_t) v;
          break;
        case CLI_O_ALLOW_UNIX_SOCKET:
          if (strv_push (&sockets, optarg) < 0)
            return 1;
          any_socket = true;
          break;
        case CLI_O_PROTECT:
        case CLI_O_UNPROTECT:
          if (protected_entry_invalid (optarg))
            return bad_value (c == CLI_O_PROTECT ? "--protect" : "--unprotect", optarg,
                              "one name, without '/'");
          strv_remove (prot, optarg);
          if (c == CLI_O_PROTECT && strv_push (&prot, optarg) < 0)
            return 1;
          if (c == CLI_O_UNPROTECT)
            fprintf (stderr,
                     "tactus-run sandbox exec: warning: '%s' is not protected: the program may "
                     "write it (and the host may then trust what it wrote)\n",
                     optarg);
          break;
        case CLI_O_ALLOW_NET:
        case CLI_O_DENY_NET:
          if (egress_rules_add (&rules, c == CLI_O_DENY_NET, optarg, why, sizeof why) < 0)
            {
              fprintf (stderr, "tactus-run sandbox exec: %s: %s\n",
                       c == CLI_O_DENY_NET ? "--deny-net" : "--allow-net", why);
              egress_rules_free (&rules);
              return 1;
            }
          break;
        default:
          free_binds (binds, n_binds);
          egress_rules_free (&rules);
          return 1;
        }
    }
  if (c < 0)
    {
      free_binds (binds, n_binds);
      egress_rules_free (&rules);
      return 1;
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
  spec.unix_socket_hint = "allow it with --allow-unix-socket";
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
          present_error (stderr, NULL, &err);
          free_binds (binds, n_binds);
          egress_rules_free (&rules);
          return 1;
        }
    }
  else if (rules.n_deny > 0)
    fprintf (stderr, "tactus-run sandbox exec: --deny-net without --allow-net: no egress at all\n");
  if (sandbox_start (&spec, &sb, &err) < 0)
    {
      present_error (stderr, NULL, &err);
      egress_stop (egress, NULL);
      free_binds (binds, n_binds);
      egress_rules_free (&rules);
      return err.exit_code ? err.exit_code : 1;
    }
  if (egress)
    {
      struct trace t = { 0 };
      struct present view;
      present_init (&view, stderr, PRESENT_COLOR_AUTO);
      present_trace_attach (&t, &view, true);
      t.ask = NULL;
      if (egress_serve (egress, sandbox_take_listen_fd (sb), "sandbox exec", &err) < 0)
        present_error (stderr, NULL, &err);
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
      present_finish (&view);
    }
  else
    rc = sandbox_wait (sb, &res, &err);
  sandbox_destroy (sb);
  free_binds (binds, n_binds);
  egress_rules_free (&rules);
  strv_free ((char **) spec.envp);
  if (rc < 0)
    {
      present_error (stderr, NULL, &err);
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
      cli_usage_lines (CLI_C_SANDBOX, stderr);
      return 1;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      cli_usage (CLI_C_SANDBOX, stdout);
      return 0;
    }
  if (strcmp (argv[1], "status") == 0)
    return sandbox_status_cmd (argc - 1, argv + 1);
  if (strcmp (argv[1], "rebuild") == 0)
    return sandbox_rebuild_cmd (argc - 1, argv + 1);
  if (strcmp (argv[1], "exec") == 0)
    return sandbox_exec_cmd (argc - 1, argv + 1);
  {
    static const char *const subs[] = { "status", "rebuild", "exec" };
    const char *guess = tr_suggest (argv[1], subs, 3);
    fprintf (stderr, "tactus-run sandbox: unknown subcommand '%s'", argv[1]);
    if (guess)
      fprintf (stderr, " (did you mean %s?)", guess);
    fprintf (stderr, " (status, rebuild or exec)\n");
  }
  return 1;
}
