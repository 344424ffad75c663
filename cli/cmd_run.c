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
#include "cli/run_common.h"
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
};

static void
run_usage (FILE *f)
{
  fprintf (f,
           "usage: tactus-run run FILE.tac [OPTIONS]   (or: tactus-run FILE.tac [OPTIONS])\n"
           "\n"
           "  --param KEY=VALUE     an input value (typed by the procedure's input schema)\n"
           "  --no-sandbox          run the VM without the sandbox (NOT isolated)\n"
           "  --mock-all            mock every host tool and agent (no network, no side effects)\n"
           "  --storage memory|file keep checkpoints in memory (default) or in files, for replay\n"
           "  --storage-path DIR    where file storage lives (default .tactus/storage)\n"
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
    O_HELP
  };
  static const struct option opts[] = {
    { "param", required_argument, 0, O_PARAM },
    { "no-sandbox", no_argument, 0, O_NOSB },
    { "mock-all", no_argument, 0, O_MOCK },
    { "storage", required_argument, 0, O_STORAGE },
    { "storage-path", required_argument, 0, O_SPATH },
    { "timeout", required_argument, 0, O_TIMEOUT },
    { "memory", required_argument, 0, O_MEM },
    { "approve", required_argument, 0, O_APPROVE },
    { "trace", required_argument, 0, O_TRACE },
    { "json", no_argument, 0, O_JSON },
    { "no-jit", no_argument, 0, O_NOJIT },
    { "verbose", no_argument, 0, 'v' },
    { "help", no_argument, 0, O_HELP },
    { 0, 0, 0, 0 },
  };
  int c;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "v", opts, NULL)) != -1)
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
      case 'v':
        ro->verbose = true;
        break;
      case O_HELP:
        run_usage (stdout);
        exit (0);
      default:
        return usage_error ("unknown or incomplete option '%s'", argv[optind - 1]);
      }
  if (optind >= argc)
    return usage_error ("%s", "no procedure file given (tactus-run run FILE.tac)");
  if (optind + 1 < argc)
    return usage_error ("unexpected argument '%s' (one .tac file per run)", argv[optind + 1]);
  ro->file = argv[optind];
  return 0;
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
  size_t len;

  if (run_load (ro->file, &source, &len, &cfg) < 0)
    return 1;
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
  trace.human = ro->json ? NULL : stderr;
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
  config_free (&cfg);
  return res.v.code;
}

int
cmd_run (int argc, char **argv)
{
  struct run_options ro = { 0 };
  int r;

  ro.params = cJSON_CreateObject ();
  r = parse_run_args (argc, argv, &ro);
  if (r == 0)
    r = run_procedure (&ro);
  cJSON_Delete (ro.params);
  return r;
}
