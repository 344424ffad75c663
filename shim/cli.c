/* The runc command line: global flags (before the command), the option
 * parser every command uses, and the command table.
 *
 * Options are accepted as runc's (urfave/cli) are: --opt value, --opt=value,
 * -o value, single-dash long names (-no-subreaper) and --flag=true|false;
 * parsing stops at the first positional argument (exec's command follows
 * the id) or at "--".  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/runc.h"

#ifndef TR_VERSION
#define TR_VERSION "0.1.0"
#endif

struct runc_globals runc_g = { .rootless = -1 };

static int
parse_bool (const char *v, bool *out)
{
  if (strcmp (v, "true") == 0 || strcmp (v, "1") == 0 || strcmp (v, "t") == 0)
    *out = true;
  else if (strcmp (v, "false") == 0 || strcmp (v, "0") == 0 || strcmp (v, "f") == 0)
    *out = false;
  else
    return -1;
  return 0;
}

static const struct optdef *
find_opt (const struct optdef *defs, const char *name, bool single_dash)
{
  for (const struct optdef *d = defs; d && d->name; d++)
    {
      if (strcmp (d->name, name) == 0)
        return d;
      if (single_dash && d->short_name && name[0] == d->short_name && name[1] == '\0')
        return d;
    }
  return NULL;
}

int
opts_parse (const char *cmd, int argc, char **argv, const struct optdef *defs, struct tr_error *err)
{
  int i;

  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      const char *name, *val = NULL, *eq;
      char nbuf[64];
      const struct optdef *d;
      bool single;

      if (strcmp (a, "--") == 0)
        return i + 1;
      if (a[0] != '-' || a[1] == '\0')
        break;
      single = a[1] != '-';
      name = single ? a + 1 : a + 2;
      eq = strchr (name, '=');
      if (eq)
        {
          size_t n = (size_t) (eq - name);
          if (n >= sizeof nbuf)
            return tr_fail (err, 0, "%s: flag provided but not defined: %s", cmd, a);
          memcpy (nbuf, name, n);
          nbuf[n] = '\0';
          name = nbuf;
          val = eq + 1;
        }
      d = find_opt (defs, name, single);
      if (d == NULL)
        return tr_fail (err, 0, "%s: flag provided but not defined: -%s", cmd, name);
      if (d->kind == OPT_BOOL)
        {
          bool b = true;
          if (val && parse_bool (val, &b) < 0)
            return tr_fail (err, 0, "%s: invalid boolean value \"%s\" for -%s", cmd, val, name);
          *(bool *) d->dest = b;
          continue;
        }
      if (val == NULL)
        {
          if (i + 1 >= argc)
            return tr_fail (err, 0, "%s: flag needs an argument: -%s", cmd, name);
          val = argv[++i];
        }
      switch (d->kind)
        {
        case OPT_STR:
          *(const char **) d->dest = val;
          break;
        case OPT_LIST:
          {
            struct strlist *l = d->dest;
            const char **nv = ar_alloc ((l->n + 2) * sizeof *nv);
            if (l->n)
              memcpy (nv, l->v, l->n * sizeof *nv);
            nv[l->n++] = val;
            l->v = nv;
            break;
          }
        case OPT_INT:
          {
            char *end;
            long v;
            errno = 0;
            v = strtol (val, &end, 10);
            if (errno || *end || *val == '\0')
              return tr_fail (err, 0, "%s: invalid value \"%s\" for -%s: not a number", cmd, val,
                              name);
            *(long *) d->dest = v;
            break;
          }
        default:
          break;
        }
    }
  return i;
}

struct command
{
  const char *name;
  int (*fn) (int argc, char **argv);
  bool spawns;  /* starts a process inside a container: CVE-2019-5736 protection */
  bool no_root; /* does not use the state directory */
  const char *help;
  const char *usage; /* its arguments, for COMMAND --help */
};

static const struct command commands[] = {
  { "create", runc_cmd_create, true, false, "create a container (parked until start)",
    "[--bundle DIR] [--console-socket PATH] [--pid-file FILE] [--preserve-fds N]\n         "
    "[--no-pivot] [--no-new-keyring] CONTAINER" },
  { "start", runc_cmd_start, false, false, "start a created container", "CONTAINER" },
  { "run", runc_cmd_run, true, false, "create and start a container, attached",
    "[--bundle DIR] [--console-socket PATH] [--pid-file FILE] [--preserve-fds N]\n         "
    "[--detach] [--keep] [--no-pivot] [--no-new-keyring] CONTAINER" },
  { "state", runc_cmd_state, false, false, "print the state of a container (JSON)", "CONTAINER" },
  { "list", runc_cmd_list, false, false, "list containers", "[--format table|json] [--quiet]" },
  { "kill", runc_cmd_kill, false, false, "send a signal to the container's init (or --all)",
    "[--all] CONTAINER [SIGNAL]" },
  { "delete", runc_cmd_delete, false, false, "delete a container (--force: also a running one)",
    "[--force] CONTAINER" },
  { "exec", runc_cmd_exec, true, false, "run a process in a running container",
    "[--process FILE] [--tty] [--detach] [--console-socket PATH] [--pid-file FILE]\n         "
    "[--cwd DIR] [--env K=V]... [--user UID[:GID]] [--additional-gids GID]...\n         [--cap "
    "CAP]... [--no-new-privs] [--preserve-fds N] CONTAINER [COMMAND [ARGS...]]" },
  { "ps", runc_cmd_ps, false, false, "list the processes of a container",
    "[--format table|json] CONTAINER [PS-ARGS...]" },
  { "events", runc_cmd_events, false, false,
    "print the container's resource usage (JSON, cgroup v2)",
    "[--stats] [--interval DURATION] CONTAINER" },
  { "pause", runc_cmd_pause, false, false, "freeze every process (cgroup v2 freezer)",
    "CONTAINER" },
  { "resume", runc_cmd_resume, false, false, "thaw a paused container", "CONTAINER" },
  { "update", runc_cmd_update, false, false, "update resource limits",
    "[--resources FILE|-] [--memory N] [--pids-limit N] [--cpu-quota N]\n         [--cpu-period N] "
    "[--cpuset-cpus LIST] ... CONTAINER" },
  { "features", runc_cmd_features, false, true, "print the features this runtime supports (JSON)",
    "" },
  { "spec", runc_cmd_spec, false, true, "write a default config.json",
    "[--bundle DIR] [--rootless]" },
  { NULL, NULL, false, false, NULL, NULL },
};

static void
usage (FILE *out)
{
  fprintf (out,
           "usage: %s [global options] COMMAND [options] [arguments]\n\n"
           "An OCI runtime with runc's command line (the same binary as tactus-run).\n\n"
           "commands:\n",
           RUNC_NAME);
  for (const struct command *c = commands; c->name; c++)
    fprintf (out, "  %-10s %s\n", c->name, c->help);
  fprintf (out, "\nglobal options:\n"
                "  --root DIR             state directory (default /run/tactus-runc as root,\n"
                "                         $XDG_RUNTIME_DIR/tactus-runc otherwise)\n"
                "  --log FILE             log file (default: stderr)\n"
                "  --log-format text|json log line format (default text)\n"
                "  --debug                debug lines in the log\n"
                "  --systemd-cgroup       the systemd cgroup driver (slice:prefix:name paths)\n"
                "  --rootless true|false|auto\n"
                "  --version, --help\n");
}

static void
command_usage (const struct command *c)
{
  printf ("usage: %s [global options] %s%s%s\n\n%s\n\n"
          "Its options are those of runc's %s; global options: %s --help.\n",
          RUNC_NAME, c->name, c->usage[0] ? " " : "", c->usage, c->help, c->name, RUNC_NAME);
}

/* COMMAND --help or -h among the options before its operands: a
 * container's own arguments (exec ID sh --help) are never read as ours.
 * An operand right after an option may be that option's value.  */
static bool
wants_help (int argc, char **argv)
{
  bool after_option = false;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        return false;
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0
          || strcmp (argv[i], "-help") == 0)
        return true;
      if (argv[i][0] == '-')
        after_option = strchr (argv[i], '=') == NULL;
      else if (after_option)
        after_option = false;
      else
        return false;
    }
  return false;
}

static void
version (void)
{
  const struct scmp_version *v = seccomp_version ();
  printf ("%s version %s\nspec: %s\n", RUNC_NAME, TR_VERSION, OCI_VERSION);
  if (v)
    printf ("libseccomp: %u.%u.%u\n", v->major, v->minor, v->micro);
}

static bool
in_user_namespace (void)
{
  char buf[256];
  struct tr_error e;
  unsigned a, b, c;

  if (read_file_at (AT_FDCWD, "/proc/self/uid_map", buf, sizeof buf, &e) < 0)
    return false;
  if (sscanf (buf, "%u %u %u", &a, &b, &c) != 3)
    return false;
  return !(a == 0 && b == 0 && c == 4294967295u);
}

/* runc's rule, so that podman (which calls `state` with only
 * XDG_RUNTIME_DIR in the environment) finds the same directory.  */
static const char *
default_root (struct tr_error *err)
{
  const char *xdg = getenv ("XDG_RUNTIME_DIR");
  const char *user = getenv ("USER");

  if (geteuid () == 0
      && !(in_user_namespace () && xdg && *xdg && !(user && strcmp (user, "root") == 0)))
    return "/run/" RUNC_NAME;
  if (xdg && *xdg)
    return ar_printf ("%s/%s", xdg, RUNC_NAME);
  tr_fail (err, 0,
           "no state directory: XDG_RUNTIME_DIR is not set for this non-root user (pass "
           "--root DIR)");
  return NULL;
}

int
runc_main (int argc, char **argv)
{
  struct tr_error err;
  const char *root = NULL, *log_path = NULL, *log_format = NULL, *rootless = NULL, *criu = NULL;
  bool debug = false, systemd = false, show_version = false, help = false;
  const struct optdef globals[] = {
    { "root", 0, OPT_STR, &root },
    { "log", 0, OPT_STR, &log_path },
    { "log-format", 0, OPT_STR, &log_format },
    { "debug", 0, OPT_BOOL, &debug },
    { "systemd-cgroup", 0, OPT_STR, NULL }, /* replaced below: boolean */
    { "rootless", 0, OPT_STR, &rootless },
    { "criu", 0, OPT_STR, &criu },
    { "version", 'v', OPT_BOOL, &show_version },
    { "help", 'h', OPT_BOOL, &help },
    { NULL, 0, 0, NULL },
  };
  struct optdef defs[sizeof globals / sizeof globals[0]];
  const struct command *cmd;
  int first;

  tr_error_clear (&err);
  memcpy (defs, globals, sizeof defs);
  defs[4].kind = OPT_BOOL;
  defs[4].dest = &systemd;
  /* --rootless takes an optional value: --rootless alone means true.  */
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--rootless") == 0 || strcmp (argv[i], "-rootless") == 0)
      {
        if (i + 1 < argc
            && (strcmp (argv[i + 1], "true") == 0 || strcmp (argv[i + 1], "false") == 0
                || strcmp (argv[i + 1], "auto") == 0))
          break;
        argv[i] = (char *) "--rootless=true";
        break;
      }
    else if (argv[i][0] != '-')
      break;

  first = opts_parse (RUNC_NAME, argc, argv, defs, &err);
  if (first < 0)
    {
      log_fail (&err);
      return 1;
    }
  if (show_version)
    {
      version ();
      return 0;
    }
  if (help || first >= argc)
    {
      usage (help ? stdout : stderr);
      return help ? 0 : 1;
    }
  runc_g.debug = debug;
  runc_g.systemd_cgroup = systemd;
  if (rootless)
    runc_g.rootless = strcmp (rootless, "true") == 0 ? 1 : strcmp (rootless, "false") == 0 ? 0 : -1;
  if (log_format && strcmp (log_format, "json") != 0 && strcmp (log_format, "text") != 0)
    {
      tr_fail (&err, 0, "invalid log-format: %s (text or json)", log_format);
      return log_fail (&err);
    }
  runc_g.log_json = log_format && strcmp (log_format, "json") == 0;
  if (log_open (log_path, runc_g.log_json, &err) < 0)
    return log_fail (&err);
  runc_g.log_path = log_path;

  for (cmd = commands; cmd->name; cmd++)
    if (strcmp (cmd->name, argv[first]) == 0)
      break;
  if (cmd->name == NULL)
    {
      if (strcmp (argv[first], "help") == 0)
        {
          usage (stdout);
          return 0;
        }
      tr_fail (&err, 0, "no such command: %s (see %s --help)", argv[first], RUNC_NAME);
      return log_fail (&err);
    }

  if (wants_help (argc - first, argv + first))
    {
      command_usage (cmd);
      return 0;
    }
  if (root == NULL && !cmd->no_root)
    {
      root = default_root (&err);
      if (root == NULL)
        return log_fail (&err);
    }
  else if (root == NULL)
    root = "";
  else if (root[0] != '/')
    {
      char cwd[4096];
      if (getcwd (cwd, sizeof cwd) == NULL)
        {
          tr_fail (&err, errno, "--root %s: getcwd", root);
          return log_fail (&err);
        }
      root = ar_printf ("%s/%s", cwd, root);
    }
  runc_g.root = root;
  /* Before anything else is opened: a command that starts a process in a
   * container first makes sure that process cannot reach our binary
   * (CVE-2019-5736); the re-exec keeps argv and every fd without CLOEXEC.  */
  if (cmd->spawns && reexec_protect (argc, argv, &err) < 0)
    return log_fail (&err);
  /* Fds the caller leaked to us never reach a container (CVE-2024-21626):
   * --preserve-fds ones are made inheritable again by the process itself.  */
  fds_cloexec_from (3);
  log_debug ("%s %s (root %s)", RUNC_NAME, cmd->name, root);
  return cmd->fn (argc - first, argv + first);
}
