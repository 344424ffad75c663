/* tactus-run run FILE.tac: config -> sandbox spec -> VM as PID 1 <-> broker.
 *
 * Data flows one way: the CLI parses flags and config once, builds the
 * sandbox spec and the broker options, starts the sandbox with the VM as
 * its entry, serves the broker until the VM ends, then reports.  The run
 * itself is cli/run_common.c, shared with `test` and `eval`.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/trace.h"
#include "cli/cli.h"
#include "cli/inspect.h"
#include "cli/run_common.h"
#include "cli/trace_store.h"
#include "cli/untrusted.h"
#include "common/cleanup.h"
#include "policy/config.h"
#include "sandbox/sandbox.h"
#include "vm/vm.h"

struct run_options
{
  const char *file;
  cJSON *params;
  bool no_sandbox;
  bool mock_all;
  bool real_all;
  cJSON *mock; /* --mock NAME: names mocked (an array) */
  cJSON *real; /* --real NAME: names never mocked */
  bool interactive;
  int log_level;
  bool json;
  bool verbose;
  bool no_jit;
  enum broker_storage storage;
  const char *storage_path;
  const char *trace_path;
  enum broker_approve approve;
  bool approve_set;
  double timeout;
  uint64_t memory;
  const char *config_file;
  int workspace_mode; /* enum config_workspace, -1: the config's */
};

static void
run_usage (FILE *f)
{
  fprintf (
      f,
      "usage: tactus-run run FILE.tac [OPTIONS]   (or: tactus-run FILE.tac [OPTIONS])\n"
      "\n"
      "  --param KEY=VALUE     an input value (typed by the procedure's input schema)\n"
      "  --no-sandbox          run the VM without the sandbox (NOT isolated)\n"
      "  --mock-all            mock every host tool and agent (no network, no side effects)\n"
      "  --mock NAME           mock this tool, agent or model (may be repeated)\n"
      "  --real NAME           never mock this one, even with --mock-all (may be repeated)\n"
      "  --real-all            mock nothing (the default; refuses --mock and --mock-all)\n"
      "  -i, --interactive     ask for every input on the terminal (missing required inputs\n"
      "                        are asked for anyway when stdin is a terminal)\n"
      "  --log-level LEVEL     show logs of LEVEL and up: debug, info, warning, error, critical\n"
      "  --storage memory|file keep checkpoints in memory (default) or in files, for replay;\n"
      "                        file also keeps the trace (tactus-run trace list)\n"
      "  --storage-path DIR    where file storage lives (default "
      "$XDG_STATE_HOME/tactus-run/storage)\n"
      "  --config FILE         one more config layer, last (needs no `tactus-run trust`)\n"
      "  --workspace-mode M    rw, ro, overlay (writes vanish with the run) or off\n"
      "  --timeout SECONDS     wall-clock limit; exit 124 when it fires\n"
      "  --memory SIZE         memory limit of the VM (default 512m)\n"
      "  --approve all|none|ask  answer approvals without asking\n"
      "  --trace FILE          write every event as JSON Lines to FILE\n"
      "  --json                JSON Lines on stdout (events, then the result)\n"
      "  --no-jit              run the Lua interpreter only\n"
      "  -v, --verbose         show debug logs\n"
      "\n"
      "exit status: 0 success (or paused waiting for a human), 1 failure, 124 timeout,\n"
      "137 memory limit, 130 interrupted (SIGINT), 143 terminated (SIGTERM)\n");
}

static int usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static int
usage_error (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "tactus-run run: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n(see tactus-run run --help)\n");
  return 1;
}

static int
parse_run_args (int argc, char **argv, struct run_options *ro)
{
  enum
  {
    O_PARAM = 256,
    O_NOSB,
    O_MOCK,
    O_STORAGE,
    O_SPATH,
    O_TIMEOUT,
    O_MEM,
    O_APPROVE,
    O_TRACE,
    O_JSON,
    O_NOJIT,
    O_MOCK_ONE,
    O_REAL_ONE,
    O_REAL_ALL,
    O_LOGLEVEL,
    O_CONFIG,
    O_WSMODE,
    O_HELP
  };
  static const struct option opts[] = {
    { "param", required_argument, 0, O_PARAM },
    { "no-sandbox", no_argument, 0, O_NOSB },
    { "mock-all", no_argument, 0, O_MOCK },
    { "mock", required_argument, 0, O_MOCK_ONE },
    { "real", required_argument, 0, O_REAL_ONE },
    { "real-all", no_argument, 0, O_REAL_ALL },
    { "interactive", no_argument, 0, 'i' },
    { "log-level", required_argument, 0, O_LOGLEVEL },
    { "storage", required_argument, 0, O_STORAGE },
    { "storage-path", required_argument, 0, O_SPATH },
    { "timeout", required_argument, 0, O_TIMEOUT },
    { "memory", required_argument, 0, O_MEM },
    { "approve", required_argument, 0, O_APPROVE },
    { "trace", required_argument, 0, O_TRACE },
    { "json", no_argument, 0, O_JSON },
    { "no-jit", no_argument, 0, O_NOJIT },
    { "config", required_argument, 0, O_CONFIG },
    { "workspace-mode", required_argument, 0, O_WSMODE },
    { "verbose", no_argument, 0, 'v' },
    { "help", no_argument, 0, O_HELP },
    { 0, 0, 0, 0 },
  };
  int c;

  if (cli_exact_options ("run", argc, argv, opts, false) < 0)
    return 1;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":vi", opts, NULL)) != -1)
    switch (c)
      {
      case O_PARAM:
        if (parse_param (ro->params, optarg) < 0)
          return usage_error ("--param '%s': expected KEY=VALUE", optarg);
        break;
      case O_NOSB:
        ro->no_sandbox = true;
        break;
      case O_MOCK:
        ro->mock_all = true;
        break;
      case O_MOCK_ONE:
      case O_REAL_ONE:
        if (*optarg == '\0' || strlen (optarg) > 200)
          return usage_error ("--%s: expected a tool, agent or model name",
                              c == O_MOCK_ONE ? "mock" : "real");
        cJSON_AddItemToArray (c == O_MOCK_ONE ? ro->mock : ro->real, cJSON_CreateString (optarg));
        break;
      case O_REAL_ALL:
        ro->real_all = true;
        break;
      case 'i':
        ro->interactive = true;
        break;
      case O_LOGLEVEL:
        ro->log_level = trace_level_number (optarg);
        if (ro->log_level < 0)
          return usage_error ("--log-level '%s': expected debug, info, warning, error or critical",
                              optarg);
        break;
      case O_STORAGE:
        if (strcmp (optarg, "memory") == 0)
          ro->storage = STORAGE_MEMORY;
        else if (strcmp (optarg, "file") == 0)
          ro->storage = STORAGE_FILE;
        else
          return usage_error ("--storage '%s': expected memory or file", optarg);
        break;
      case O_SPATH:
        ro->storage_path = optarg;
        break;
      case O_TIMEOUT:
        if (parse_seconds (optarg, &ro->timeout) < 0 || ro->timeout <= 0)
          return usage_error ("--timeout '%s': expected a positive number of seconds", optarg);
        break;
      case O_MEM:
        if (parse_size (optarg, &ro->memory) < 0 || ro->memory < (4u << 20))
          return usage_error ("--memory '%s': expected a size of at least 4m, such as 256m",
                              optarg);
        break;
      case O_APPROVE:
        ro->approve_set = true;
        if (strcmp (optarg, "all") == 0)
          ro->approve = APPROVE_ALL;
        else if (strcmp (optarg, "none") == 0)
          ro->approve = APPROVE_NONE;
        else if (strcmp (optarg, "ask") == 0)
          ro->approve = APPROVE_ASK;
        else
          return usage_error ("--approve '%s': expected all, none or ask", optarg);
        break;
      case O_TRACE:
        ro->trace_path = optarg;
        break;
      case O_JSON:
        ro->json = true;
        break;
      case O_NOJIT:
        ro->no_jit = true;
        break;
      case O_CONFIG:
        ro->config_file = optarg;
        break;
      case O_WSMODE:
        if (strcmp (optarg, "rw") == 0)
          ro->workspace_mode = CONFIG_WORKSPACE_RW;
        else if (strcmp (optarg, "ro") == 0)
          ro->workspace_mode = CONFIG_WORKSPACE_RO;
        else if (strcmp (optarg, "overlay") == 0)
          ro->workspace_mode = CONFIG_WORKSPACE_OVERLAY;
        else if (strcmp (optarg, "off") == 0)
          ro->workspace_mode = CONFIG_WORKSPACE_OFF;
        else
          return usage_error ("--workspace-mode '%s': expected rw, ro, overlay or off", optarg);
        break;
      case 'v':
        ro->verbose = true;
        break;
      case O_HELP:
        run_usage (stdout);
        exit (0);
      case ':':
        if (strcmp (argv[optind - 1], "--mock") == 0)
          return usage_error ("%s", "--mock needs a tool, agent or model name (--mock NAME); "
                                    "--mock-all mocks them all");
        return usage_error ("option '%s' needs a value", argv[optind - 1]);
      default:
        return usage_error ("unknown or incomplete option '%s'", argv[optind - 1]);
      }
  if (ro->real_all && (ro->mock_all || cJSON_GetArraySize (ro->mock) > 0))
    return usage_error ("%s", "--real-all mocks nothing: it cannot go with --mock-all or --mock");
  for (const cJSON *m = ro->mock->child; m; m = m->next)
    for (const cJSON *r = ro->real->child; r; r = r->next)
      if (strcmp (m->valuestring, r->valuestring) == 0)
        return usage_error ("'%s' is given to both --mock and --real", m->valuestring);
  if (optind >= argc)
    return usage_error ("%s", "no procedure file given (tactus-run run FILE.tac)");
  if (optind + 1 < argc)
    return usage_error ("unexpected argument '%s' (one .tac file per run)", argv[optind + 1]);
  ro->file = argv[optind];
  return 0;
}

/* ---- inputs asked on the terminal (-i, or missing required ones) ---- */

/* One line from the terminal, without its newline; NULL at end of input.  */
static char *
read_answer (FILE *tty, char *buf, size_t size)
{
  size_t n;

  if (fgets (buf, (int) size, tty) == NULL)
    return NULL;
  n = strlen (buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  return buf;
}

/* Ask on the terminal for the inputs of the file's schema (read dry in
 * the sandbox, cli/cmd_inspect.c): every one with -i, else the required
 * ones without a default and without a --param.  Answers are text, typed
 * by the schema in the VM as --param values are.  */
static int
ask_inputs (struct run_options *ro, bool all)
{
  struct inspect_options io
      = { .no_sandbox = ro->no_sandbox, .no_jit = ro->no_jit, .quiet_unsandboxed = true };
  cJSON *report = NULL, *f;
  char why[1300], line[4096];
  FILE *tty;
  int rc = 0;

  if (inspect_run (ro->file, &io, &report, why, sizeof why) < 0)
    {
      fprintf (stderr, "tactus-run run: the inputs could not be read from %s: %s\n", ro->file, why);
      return 1;
    }
  untrusted_clean_tree (report);
  tty = fopen ("/dev/tty", "r+e");
  /* The required inputs first, then the others (each group by name).  */
  for (int pass = 0; pass < 2 && rc == 0; pass++)
    cJSON_ArrayForEach (f, cJSON_GetObjectItemCaseSensitive (report, "inputs"))
    {
      const char *name = ujson_str (f, "name"), *type = ujson_str (f, "type");
      const cJSON *def = cJSON_GetObjectItemCaseSensitive (f, "default");
      const cJSON *en = cJSON_GetObjectItemCaseSensitive (f, "enum");
      bool required
          = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (f, "required")) && def == NULL;
      if (name == NULL || cJSON_HasObjectItem (ro->params, name) || !(all || required)
          || required != (pass == 0))
        continue;
      if (tty == NULL)
        {
          fprintf (stderr,
                   "tactus-run run: input '%s' is required and there is no terminal to ask "
                   "(pass --param %s=VALUE)\n",
                   name, name);
          rc = 1;
          break;
        }
      for (;;)
        {
          char *d = def ? cJSON_PrintUnformatted (def) : NULL,
               *e = en ? cJSON_PrintUnformatted (en) : NULL;
          if (ujson_str (f, "description"))
            fprintf (tty, "%s\n", ujson_str (f, "description"));
          fprintf (tty, "%s (%s%s%s%s%s%s): ", name, type ? type : "any",
                   required ? ", required" : "", e ? ", one of " : "", e ? e : "",
                   d ? ", default " : "", d ? d : "");
          fflush (tty);
          cJSON_free (d);
          cJSON_free (e);
          if (read_answer (tty, line, sizeof line) == NULL)
            {
              fprintf (stderr, "\ntactus-run run: no value for input '%s'\n", name);
              rc = 1;
              break;
            }
          if (line[0] != '\0')
            {
              cJSON_AddStringToObject (ro->params, name, line);
              break;
            }
          if (!required)
            break; /* keep the default */
        }
      if (rc)
        break;
    }
  if (tty)
    fclose (tty);
  cJSON_Delete (report);
  return rc;
}

/* Whether the file may declare a required input: a cheap look at its text
 * decides if the terminal is worth a dry read before the run.  */
static bool
may_require_inputs (const char *source)
{
  return strstr (source, "required") != NULL;
}

/* FILE's base name without .tac, in BUF.  */
static const char *
basename_tac (const char *file, char *buf, size_t size)
{
  const char *b = strrchr (file, '/');
  size_t n;

  snprintf (buf, size, "%s", b ? b + 1 : file);
  n = strlen (buf);
  if (n > 4 && strcmp (buf + n - 4, ".tac") == 0)
    buf[n - 4] = '\0';
  return buf;
}

static int
run_procedure (struct run_options *ro)
{
  struct tr_config cfg;
  cleanup_free char *source = NULL;
  struct trace trace = { 0 };
  struct run_job job = { 0 };
  struct run_result res;
  FILE *trace_file = NULL;
  cJSON *extra = NULL;
  char run_id[160] = "", name[96];
  size_t len;

  if (run_load_config (ro->file, ro->config_file, &source, &len, &cfg) < 0)
    return 1;
  if (ro->workspace_mode >= 0)
    cfg.workspace = (enum config_workspace) ro->workspace_mode;
  if (ro->interactive || (!ro->json && isatty (STDIN_FILENO) && may_require_inputs (source)))
    if (ask_inputs (ro, ro->interactive) != 0)
      {
        config_free (&cfg);
        return 1;
      }
  if (ro->trace_path)
    {
      trace_file = fopen (ro->trace_path, "we");
      if (trace_file == NULL)
        {
          fprintf (stderr, "tactus-run: --trace %s: %s\n", ro->trace_path, strerror (errno));
          config_free (&cfg);
          return 1;
        }
    }
  /* --storage file keeps the run's trace too (tactus-run trace list).  */
  if (ro->storage == STORAGE_FILE)
    {
      char storage_dir[PATH_MAX + 32];
      struct tr_error err;
      tr_error_clear (&err);
      run_storage_dir (&cfg, ro->storage_path, storage_dir, sizeof storage_dir);
      trace.store = trace_store_create (
          storage_dir, ro->file ? basename_tac (ro->file, name, sizeof name) : "main", run_id,
          sizeof run_id, &err);
      if (trace.store == NULL)
        fprintf (stderr, "tactus-run: the trace is not kept: %s\n", err.msg);
    }
  trace.human = ro->json ? NULL : stderr;
  trace.log_level = ro->log_level;
  trace.jsonl = ro->json ? stdout : NULL;
  trace.file = trace_file;
  trace.verbose = ro->verbose;

  job.file = ro->file;
  job.source = source;
  job.source_len = len;
  job.cfg = &cfg;
  job.params = ro->params;
  job.no_sandbox = ro->no_sandbox;
  job.mock_all = ro->mock_all;
  if (cJSON_GetArraySize (ro->mock) > 0 || cJSON_GetArraySize (ro->real) > 0)
    {
      extra = cJSON_CreateObject ();
      cJSON_AddItemToObject (extra, "mock", cJSON_Duplicate (ro->mock, 1));
      cJSON_AddItemToObject (extra, "real", cJSON_Duplicate (ro->real, 1));
      job.start_extra = extra;
    }
  job.no_jit = ro->no_jit;
  job.storage = ro->storage;
  job.storage_path = ro->storage_path;
  job.approve = ro->approve;
  job.approve_set = ro->approve_set;
  job.timeout = ro->timeout;
  job.memory = ro->memory;
  job.trace = &trace;
  if (run_execute (&job, &res) < 0)
    {
      if (trace_file)
        fclose (trace_file);
      config_free (&cfg);
      return 1;
    }
  {
    struct run_report_opts o
        = { .file = ro->file, .json = ro->json, .verbose = ro->verbose, .storage = ro->storage };
    run_report (&o, &res, stdout, stderr);
  }
  broker_outcome_free (&res.out);
  if (trace_file)
    fclose (trace_file);
  if (trace.store)
    {
      fclose (trace.store);
      if (!ro->json)
        fprintf (stderr, "trace kept: tactus-run trace show %s\n", run_id);
    }
  cJSON_Delete (extra);
  config_free (&cfg);
  return res.v.code;
}

int
cmd_run (int argc, char **argv)
{
  struct run_options ro = { 0 };
  int r;

  ro.params = cJSON_CreateObject ();
  ro.workspace_mode = -1;
  ro.mock = cJSON_CreateArray ();
  ro.real = cJSON_CreateArray ();
  r = parse_run_args (argc, argv, &ro);
  if (r == 0)
    r = run_procedure (&ro);
  cJSON_Delete (ro.params);
  cJSON_Delete (ro.mock);
  cJSON_Delete (ro.real);
  return r;
}
