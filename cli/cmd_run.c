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
#include "cli/options.h"
#include "cli/inspect.h"
#include "cli/run_common.h"
#include "cli/trace_store.h"
#include "cli/present.h"
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
  enum present_color color;
};

static int
parse_run_args (int argc, char **argv, struct run_options *ro)
{
  struct cli_parser p;
  int c;

  /* The likeliest slip: --mock where --mock-all was meant.  */
  if (argc > 1 && strcmp (argv[argc - 1], "--mock") == 0)
    return cli_usage_error (CLI_C_RUN, "%s",
                            "--mock needs a tool, agent or model name (--mock NAME); "
                            "--mock-all mocks them all");
  if (cli_parse_begin (&p, CLI_C_RUN, argc, argv) < 0)
    return 1;
  while ((c = cli_next (&p)) > 0)
    switch (c)
      {
      case CLI_O_PARAM:
        if (parse_param (ro->params, optarg) < 0)
          return cli_usage_error (CLI_C_RUN, "--param '%s': expected KEY=VALUE", optarg);
        break;
      case CLI_O_NO_SANDBOX:
        ro->no_sandbox = true;
        break;
      case CLI_O_MOCK_ALL:
        ro->mock_all = true;
        break;
      case CLI_O_MOCK:
      case CLI_O_REAL:
        if (*optarg == '\0' || strlen (optarg) > 200)
          return cli_usage_error (CLI_C_RUN, "--%s: expected a tool, agent or model name",
                                  c == CLI_O_MOCK ? "mock" : "real");
        cJSON_AddItemToArray (c == CLI_O_MOCK ? ro->mock : ro->real, cJSON_CreateString (optarg));
        break;
      case CLI_O_REAL_ALL:
        ro->real_all = true;
        break;
      case CLI_O_INTERACTIVE:
        ro->interactive = true;
        break;
      case CLI_O_LOG_LEVEL:
        ro->log_level = present_level_number (optarg);
        if (ro->log_level < 0)
          return cli_usage_error (
              CLI_C_RUN, "--log-level '%s': expected debug, info, warning, error or critical",
              optarg);
        break;
      case CLI_O_STORAGE:
        if (strcmp (optarg, "memory") == 0)
          ro->storage = STORAGE_MEMORY;
        else if (strcmp (optarg, "file") == 0)
          ro->storage = STORAGE_FILE;
        else
          return cli_usage_error (CLI_C_RUN, "--storage '%s': expected memory or file", optarg);
        break;
      case CLI_O_STORAGE_PATH:
        ro->storage_path = optarg;
        break;
      case CLI_O_TIMEOUT:
        if (parse_seconds (optarg, &ro->timeout) < 0 || ro->timeout <= 0)
          return cli_usage_error (CLI_C_RUN,
                                  "--timeout '%s': expected a positive number of seconds", optarg);
        break;
      case CLI_O_MEMORY:
        if (parse_size (optarg, &ro->memory) < 0 || ro->memory < (4u << 20))
          return cli_usage_error (
              CLI_C_RUN, "--memory '%s': expected a size of at least 4m, such as 256m", optarg);
        break;
      case CLI_O_APPROVE:
        ro->approve_set = true;
        if (strcmp (optarg, "all") == 0)
          ro->approve = APPROVE_ALL;
        else if (strcmp (optarg, "none") == 0)
          ro->approve = APPROVE_NONE;
        else if (strcmp (optarg, "ask") == 0)
          ro->approve = APPROVE_ASK;
        else
          return cli_usage_error (CLI_C_RUN, "--approve '%s': expected all, none or ask", optarg);
        break;
      case CLI_O_TRACE:
        ro->trace_path = optarg;
        break;
      case CLI_O_JSON:
        ro->json = true;
        break;
      case CLI_O_NO_JIT:
        ro->no_jit = true;
        break;
      case CLI_O_CONFIG:
        ro->config_file = optarg;
        break;
      case CLI_O_WORKSPACE_MODE:
        if (strcmp (optarg, "rw") == 0)
          ro->workspace_mode = CONFIG_WORKSPACE_RW;
        else if (strcmp (optarg, "ro") == 0)
          ro->workspace_mode = CONFIG_WORKSPACE_RO;
        else if (strcmp (optarg, "overlay") == 0)
          ro->workspace_mode = CONFIG_WORKSPACE_OVERLAY;
        else if (strcmp (optarg, "off") == 0)
          ro->workspace_mode = CONFIG_WORKSPACE_OFF;
        else
          return cli_usage_error (CLI_C_RUN,
                                  "--workspace-mode '%s': expected rw, ro, overlay or off", optarg);
        break;
      case CLI_O_COLOR:
        if (present_color_parse (optarg, &ro->color) < 0)
          return cli_usage_error (CLI_C_RUN, "--color '%s': expected auto, always or never",
                                  optarg);
        break;
      case CLI_O_VERBOSE:
        ro->verbose = true;
        break;
      default:
        return 1;
      }
  if (c < 0)
    return 1;
  if (ro->real_all && (ro->mock_all || cJSON_GetArraySize (ro->mock) > 0))
    return cli_usage_error (CLI_C_RUN, "%s",
                            "--real-all mocks nothing: it cannot go with --mock-all or --mock");
  for (const cJSON *m = ro->mock->child; m; m = m->next)
    for (const cJSON *r = ro->real->child; r; r = r->next)
      if (strcmp (m->valuestring, r->valuestring) == 0)
        return cli_usage_error (CLI_C_RUN, "'%s' is given to both --mock and --real",
                                m->valuestring);
  if (optind >= argc)
    return cli_usage_error (CLI_C_RUN, "%s", "no procedure file given (tactus-run run FILE.tac)");
  if (optind + 1 < argc)
    return cli_usage_error (CLI_C_RUN, "unexpected argument '%s' (one .tac file per run)",
                            argv[optind + 1]);
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
          /* The file's text: escaped (the report was cleaned too),
           * continued lines indented.  */
          if (ujson_str (f, "description"))
            {
              present_put (tty, ujson_str (f, "description"), 4000, "  ", 0);
              fputc ('\n', tty);
            }
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
  struct present view;
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
  /* --json: the events on stdout, exactly; the readable view only asks
   * the questions (on the terminal).  */
  present_init (&view, stderr, ro->color);
  view.log_level = ro->log_level;
  view.verbose = ro->verbose;
  present_trace_attach (&trace, &view, !ro->json);
  trace.jsonl = ro->json ? stdout : NULL;
  trace.file = trace_file;

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
      present_finish (&view);
      if (trace_file)
        fclose (trace_file);
      config_free (&cfg);
      return 1;
    }
  {
    struct run_report_opts o = { .file = ro->file,
                                 .json = ro->json,
                                 .verbose = ro->verbose,
                                 .storage = ro->storage,
                                 .view = &view };
    present_finish (&view);
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
