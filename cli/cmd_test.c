/* tactus-run test FILE.tac / tactus-run eval FILE.tac: the Specifications
 * (Gherkin) and Evaluations a .tac file carries.
 *
 * The Gherkin text and the custom steps are as untrusted as the procedure,
 * so they are parsed and run inside the sandbox, by vm/lua/spec.lua; the
 * host only asks and reports.  A run.start field `mode` (broker
 * start_extra) selects what the VM does:
 *
 *   list      one sandboxed run: the scenarios of every Specification
 *   scenario  one FRESH sandbox per scenario and per --runs repetition
 *             (memory storage, nothing shared), up to --workers at once:
 *             the worker pool (cli/test_pool.c); the reporter prints them
 *             in scenario order as they complete (cli/test_report.c)
 *   eval      one sandboxed run: every Evaluation's dataset through the
 *             procedure, evaluators and thresholds applied
 *
 * Exit status: 0 when every scenario passed (every evaluation met its
 * thresholds), 1 otherwise, 130/143 when interrupted.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/trace.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/run_common.h"
#include "cli/test_pool.h"
#include "cli/test_report.h"
#include "cli/present.h"
#include "common/cleanup.h"
#include "policy/config.h"

#define TEST_DEFAULT_TIMEOUT 120.0 /* seconds per scenario run, unless --timeout or config */
#define EVAL_DEFAULT_TIMEOUT 600.0 /* seconds for the whole eval run */
#define MAX_WORKERS TEST_POOL_MAX_WORKERS
#define MAX_MOCK_CONFIG (4 << 20)
#define MAX_RUNS 1000
#define MAX_SCENARIO_ARGS 64
#define MAX_SCENARIOS 100000 /* times --runs (at most 1000) stays an int */

struct test_options
{
  const char *cmd; /* "test" or "eval" */
  const char *file;
  cJSON *params;
  const char *scenarios[MAX_SCENARIO_ARGS];
  int n_scenarios;
  unsigned runs;
  bool runs_set;
  unsigned workers;
  bool mock;
  const char *mock_config; /* --mock-config FILE.json */
  cJSON *mock_answers;     /* its contents */
  bool json;
  bool verbose;
  bool list_only;
  bool no_sandbox;
  bool no_jit;
  double timeout;
  uint64_t memory;
  enum broker_approve approve;
  bool approve_set;
  enum present_color color;
};

/* What every run of one command shares.  */
struct session
{
  const struct test_options *o;
  char *source;
  size_t len;
  struct tr_config cfg;
  struct trace trace;
  struct present view; /* -v: the runs' events; approvals */
};

static int usage_error (const char *cmd, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
usage_error (const char *cmd, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "tactus-run %s: ", cmd);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n(see tactus-run %s --help)\n", cmd);
  return 1;
}

static unsigned
default_workers (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  if (n < 1)
    return 1;
  return n > 4 ? 4 : (unsigned) n;
}

static int
parse_test_args (int argc, char **argv, struct test_options *o)
{
  bool eval = strcmp (o->cmd, "eval") == 0;
  struct cli_parser p;
  uint64_t n;
  int c;

  if (cli_parse_begin (&p, eval ? CLI_C_EVAL : CLI_C_TEST, argc, argv) < 0)
    return 1;
  while ((c = cli_next (&p)) > 0)
    switch (c)
      {
      case CLI_O_PARAM:
        if (parse_param (o->params, optarg) < 0)
          return usage_error (o->cmd, "--param '%s': expected KEY=VALUE", optarg);
        break;
      case CLI_O_MOCK:
      case CLI_O_MOCK_ALL:
        o->mock = true;
        break;
      case CLI_O_MOCK_CONFIG:
        o->mock_config = optarg;
        o->mock = true;
        break;
      case CLI_O_SCENARIO:
        if (o->n_scenarios >= MAX_SCENARIO_ARGS)
          return usage_error (o->cmd, "--scenario: at most %d", MAX_SCENARIO_ARGS);
        o->scenarios[o->n_scenarios++] = optarg;
        break;
      case CLI_O_RUNS:
        if (parse_uint (optarg, &n) < 0 || n < 1 || n > MAX_RUNS)
          return usage_error (o->cmd, "--runs '%s': expected a number from 1 to %d", optarg,
                              MAX_RUNS);
        o->runs = (unsigned) n;
        o->runs_set = true;
        break;
      case CLI_O_WORKERS:
        if (parse_uint (optarg, &n) < 0 || n < 1 || n > MAX_WORKERS)
          return usage_error (o->cmd, "--workers '%s': expected a number from 1 to %d", optarg,
                              MAX_WORKERS);
        o->workers = (unsigned) n;
        break;
      case CLI_O_JSON:
        o->json = true;
        break;
      case CLI_O_LIST:
        o->list_only = true;
        break;
      case CLI_O_TIMEOUT:
        if (parse_seconds (optarg, &o->timeout) < 0 || o->timeout <= 0)
          return usage_error (o->cmd, "--timeout '%s': expected a positive number of seconds",
                              optarg);
        break;
      case CLI_O_MEMORY:
        if (parse_size (optarg, &o->memory) < 0 || o->memory < (4u << 20))
          return usage_error (o->cmd, "--memory '%s': expected a size of at least 4m, such as 256m",
                              optarg);
        break;
      case CLI_O_NO_SANDBOX:
        o->no_sandbox = true;
        break;
      case CLI_O_NO_JIT:
        o->no_jit = true;
        break;
      case CLI_O_APPROVE:
        o->approve_set = true;
        if (strcmp (optarg, "all") == 0)
          o->approve = APPROVE_ALL;
        else if (strcmp (optarg, "none") == 0)
          o->approve = APPROVE_NONE;
        else
          return usage_error (o->cmd, "--approve '%s': expected all or none", optarg);
        break;
      case CLI_O_COLOR:
        if (present_color_parse (optarg, &o->color) < 0)
          return usage_error (o->cmd, "--color '%s': expected auto, always or never", optarg);
        break;
      case CLI_O_VERBOSE:
        o->verbose = true;
        break;
      default:
        return 1;
      }
  if (c < 0)
    return 1;
  if (optind >= argc)
    return usage_error (o->cmd, "no procedure file given (tactus-run %s FILE.tac)", o->cmd);
  if (optind + 1 < argc)
    return usage_error (o->cmd, "unexpected argument '%s' (one .tac file at a time)",
                        argv[optind + 1]);
  o->file = argv[optind];
  return 0;
}

/* ---- one VM run ---- */

static void
fill_job (struct session *s, struct run_job *job, cJSON *extra, double default_timeout)
{
  const struct test_options *o = s->o;

  memset (job, 0, sizeof *job);
  job->file = o->file;
  job->source = s->source;
  job->source_len = s->len;
  job->cfg = &s->cfg;
  job->params = o->params;
  job->start_extra = extra;
  job->no_sandbox = o->no_sandbox;
  job->quiet_unsandboxed = true;
  job->mock_all = o->mock;
  job->no_jit = o->no_jit;
  job->storage = STORAGE_MEMORY; /* a scratch store per run: nothing carries over */
  /* Nobody is asked: a Human request the scenario's Given steps do not
   * answer gets --approve's answer (none by default), never a prompt.  */
  job->approve = o->approve_set ? o->approve : APPROVE_NONE;
  job->approve_set = true;
  job->timeout = o->timeout > 0 ? o->timeout : s->cfg.timeout > 0 ? 0 : default_timeout;
  job->memory = o->memory;
  job->trace = &s->trace;
}

static cJSON *
mode_extra (const struct test_options *o, const char *mode)
{
  cJSON *x = cJSON_CreateObject ();
  cJSON_AddStringToObject (x, "mode", mode);
  cJSON_AddBoolToObject (x, "mock", o->mock);
  if (o->mock_answers)
    cJSON_AddItemToObject (x, "mock_config", cJSON_Duplicate (o->mock_answers, 1));
  return x;
}

/* The run's outcome as one JSON object: {code, status, message, result}.  */
static cJSON *
outcome_json (const struct run_result *res)
{
  cJSON *r = cJSON_CreateObject ();
  const cJSON *result = cJSON_GetObjectItemCaseSensitive (res->out.finish, "result");

  cJSON_AddNumberToObject (r, "code", res->v.code);
  cJSON_AddStringToObject (r, "status", res->v.status);
  cJSON_AddStringToObject (r, "message", res->v.message);
  if (result)
    cJSON_AddItemToObject (r, "result", cJSON_Duplicate (result, 1));
  return r;
}

/* Run in this process; NULL when it could not start.  */
static cJSON *
run_here (struct session *s, cJSON *extra, double default_timeout)
{
  struct run_job job;
  struct run_result res;
  cJSON *r;

  fill_job (s, &job, extra, default_timeout);
  if (run_execute (&job, &res) < 0)
    return NULL;
  r = outcome_json (&res);
  broker_outcome_free (&res.out);
  return r;
}

static int
outcome_code (const cJSON *r)
{
  const cJSON *c = cJSON_GetObjectItemCaseSensitive (r, "code");
  return cJSON_IsNumber (c) ? c->valueint : 1;
}

#define jstr ujson_str
#define jnum ujson_num

/* --mock-config FILE: a JSON object (the host reads it: the file is the
 * user's, not the procedure's).  */
static int
load_mock_config (struct test_options *o)
{
  FILE *f = fopen (o->mock_config, "re");
  char *text = NULL;
  size_t cap = 0;
  ssize_t n;

  if (f == NULL)
    return usage_error (o->cmd, "--mock-config %s: %s", o->mock_config, strerror (errno));
  n = getdelim (&text, &cap, '\0', f);
  fclose (f);
  if (n > MAX_MOCK_CONFIG)
    {
      free (text);
      return usage_error (o->cmd, "--mock-config %s: larger than 4 MiB", o->mock_config);
    }
  o->mock_answers = n >= 0 ? cJSON_ParseWithLength (text, (size_t) n) : NULL;
  free (text);
  if (!cJSON_IsObject (o->mock_answers))
    {
      cJSON_Delete (o->mock_answers);
      o->mock_answers = NULL;
      return usage_error (o->cmd,
                          "--mock-config %s: expected a JSON object {\"tool name\": answer, ...}",
                          o->mock_config);
    }
  return 0;
}

/* ---- test ---- */

static bool
selected (const struct test_options *o, const cJSON *sc, bool *hit)
{
  const char *name = jstr (sc, "name"), *outline = jstr (sc, "outline");

  if (o->n_scenarios == 0)
    return true;
  for (int i = 0; i < o->n_scenarios; i++)
    if ((name && strcmp (name, o->scenarios[i]) == 0)
        || (outline && strcmp (outline, o->scenarios[i]) == 0))
      {
        hit[i] = true;
        return true;
      }
  return false;
}

/* The selected scenarios, their runs as pool jobs (job k is scenario
 * k / runs, run k % runs), and what is printed so far.  */
struct test_run
{
  struct session *s;
  struct test_report_opts ro;
  struct scenario_report *reports;
  int n_sel;
  int printed;
  const char *last_feature;
};

static cJSON *
pool_run (void *ctx, int job)
{
  struct test_run *t = ctx;
  cJSON *extra = mode_extra (t->s->o, "scenario"), *r;

  cJSON_AddStringToObject (extra, "scenario", t->reports[job / (int) t->s->o->runs].name);
  r = run_here (t->s, extra, TEST_DEFAULT_TIMEOUT);
  cJSON_Delete (extra);
  return r;
}

static void
pool_done (void *ctx, int job, cJSON *outcome)
{
  struct test_run *t = ctx;
  int runs = (int) t->s->o->runs;

  if (!t->ro.json)
    untrusted_clean_tree (outcome);
  cJSON_ReplaceItemInArray (t->reports[job / runs].runs, job % runs, outcome);
}

/* Print the scenarios whose runs are all in, in order.  */
static void
pool_ready (void *ctx)
{
  struct test_run *t = ctx;

  while (t->printed < t->n_sel)
    {
      struct scenario_report *r = &t->reports[t->printed];
      const cJSON *x;
      bool complete = true;
      cJSON_ArrayForEach (x, r->runs)
      {
        if (cJSON_IsNull (x))
          complete = false;
      }
      if (!complete)
        break;
      scenario_finalize (r);
      if (!t->ro.json)
        {
          scenario_print (&t->ro, r, &t->last_feature);
          fflush (stdout);
        }
      r->printed = true;
      t->printed++;
    }
}

static void
free_reports (struct scenario_report *reports, int n)
{
  for (int i = 0; i < n; i++)
    {
      cJSON_Delete (reports[i].runs);
      free (reports[i].shown);
      free (reports[i].shown_feature);
    }
  free (reports);
}

static int
run_tests (struct session *s, const struct test_report_opts *ro)
{
  const struct test_options *o = s->o;
  cJSON *extra = mode_extra (o, "list");
  cJSON *listed = run_here (s, extra, TEST_DEFAULT_TIMEOUT);
  cJSON *scenarios, *sc;
  struct test_run t = { .s = s, .ro = *ro };
  struct test_pool pool = { 0 };
  bool hit[MAX_SCENARIO_ARGS] = { false };
  int done = 0, code, stop;

  cJSON_Delete (extra);
  if (listed == NULL)
    return 1;
  if (outcome_code (listed) != 0)
    {
      code = outcome_code (listed);
      test_report_early (ro, code, "%s: the specifications could not be read: %s", o->file,
                         jstr (listed, "message") ? jstr (listed, "message") : "unknown error");
      cJSON_Delete (listed);
      return code;
    }
  scenarios = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (listed, "result"),
                                                "scenarios");
  if (cJSON_GetArraySize (scenarios) == 0)
    {
      test_report_early (ro, 1, "%s has no scenarios (no Specification([[ Feature: ... ]]) block)",
                         o->file);
      cJSON_Delete (listed);
      return 1;
    }
  if (o->list_only)
    {
      if (o->json)
        {
          char *txt = cJSON_PrintUnformatted (cJSON_GetObjectItemCaseSensitive (listed, "result"));
          printf ("%s\n", txt ? txt : "{}");
          cJSON_free (txt);
        }
      else
        {
          untrusted_clean_tree (scenarios);
          cJSON_ArrayForEach (sc, scenarios)
          {
            printf ("%s  (%s, %d steps)\n", jstr (sc, "name"),
                    jstr (sc, "feature") ? jstr (sc, "feature") : "", (int) jnum (sc, "steps", 0));
          }
        }
      cJSON_Delete (listed);
      return 0;
    }
  if (cJSON_GetArraySize (scenarios) > MAX_SCENARIOS)
    {
      code = test_report_early (ro, 1, "%s declares %d scenarios; at most %d are run", o->file,
                                cJSON_GetArraySize (scenarios), MAX_SCENARIOS);
      cJSON_Delete (listed);
      return code;
    }
  t.reports = calloc ((size_t) cJSON_GetArraySize (scenarios) + 1, sizeof *t.reports);
  if (t.reports == NULL)
    {
      cJSON_Delete (listed);
      return test_report_early (ro, 1, "out of memory");
    }
  cJSON_ArrayForEach (sc, scenarios)
  {
    /* The reply comes from the sandbox: only well-formed entries count.  */
    struct scenario_report *r = &t.reports[t.n_sel];
    if (jstr (sc, "name") == NULL || !selected (o, sc, hit))
      continue;
    r->name = jstr (sc, "name");
    r->feature = jstr (sc, "feature");
    r->shown = untrusted_clean_dup (jstr (sc, "name"));
    r->shown_feature = untrusted_clean_dup (jstr (sc, "feature"));
    r->runs = cJSON_CreateArray ();
    /* Results arrive out of order; each run has its place.  */
    for (unsigned k = 0; k < o->runs; k++)
      cJSON_AddItemToArray (r->runs, cJSON_CreateNull ());
    t.n_sel++;
  }
  for (int i = 0; i < o->n_scenarios; i++)
    if (!hit[i])
      {
        test_report_early (
            ro, 1, "no scenario named \"%s\" in %s; the scenarios are:", o->scenarios[i], o->file);
        untrusted_clean_tree (scenarios);
        cJSON_ArrayForEach (sc, scenarios)
        {
          fprintf (stderr, "  %s\n", jstr (sc, "name"));
        }
        free_reports (t.reports, t.n_sel);
        cJSON_Delete (listed);
        return 1;
      }
  if (t.n_sel == 0)
    {
      free_reports (t.reports, t.n_sel);
      cJSON_Delete (listed);
      return test_report_early (ro, 1, "%s: no scenario could be read from the specifications",
                                o->file);
    }

  pool.workers = o->workers;
  pool.n_jobs = t.n_sel * (int) o->runs;
  pool.run = pool_run;
  pool.done = pool_done;
  pool.ready = pool_ready;
  pool.ctx = &t;
  stop = test_pool_run (&pool, &done);
  code = test_report_finish (ro, t.reports, t.n_sel, stop, done, pool.n_jobs);
  free_reports (t.reports, t.n_sel);
  cJSON_Delete (listed);
  return code;
}

/* ---- eval ---- */

static int
run_eval (struct session *s, const struct test_report_opts *ro)
{
  const struct test_options *o = s->o;
  cJSON *extra = mode_extra (o, "eval");
  cJSON *out, *evals, *e, *summary, *list;
  bool all = true;
  int code;

  if (o->runs_set)
    cJSON_AddNumberToObject (extra, "runs", o->runs);
  out = run_here (s, extra, EVAL_DEFAULT_TIMEOUT);
  cJSON_Delete (extra);
  if (out == NULL)
    return 1;
  if (outcome_code (out) != 0)
    {
      code = outcome_code (out);
      test_report_early (ro, code, "%s: %s", o->file,
                         jstr (out, "message") ? jstr (out, "message") : "failed");
      cJSON_Delete (out);
      return code;
    }
  if (!o->json)
    untrusted_clean_tree (out);
  evals = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (out, "result"),
                                            "evaluations");
  if (cJSON_GetArraySize (evals) == 0)
    {
      test_report_early (ro, 1, "%s has no Evaluation { dataset = ..., evaluators = ... }",
                         o->file);
      cJSON_Delete (out);
      return 1;
    }
  summary = cJSON_CreateObject ();
  cJSON_AddStringToObject (summary, "file", o->file);
  cJSON_AddBoolToObject (summary, "mock", o->mock);
  list = cJSON_AddArrayToObject (summary, "evaluations");
  cJSON_ArrayForEach (e, evals)
  {
    cJSON *x = cJSON_CreateObject ();
    bool ok = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (e, "passed"));
    all = all && ok;
    cJSON_AddStringToObject (x, "name", jstr (e, "name") ? jstr (e, "name") : "?");
    cJSON_AddNumberToObject (x, "success_rate", jnum (e, "success_rate", 0));
    cJSON_AddNumberToObject (x, "passed_runs", jnum (e, "passed_runs", 0));
    cJSON_AddNumberToObject (x, "total_runs", jnum (e, "total_runs", 0));
    cJSON_AddBoolToObject (x, "passed", ok);
    cJSON_AddItemToArray (list, x);
    if (!o->json)
      evaluation_print (e);
  }
  cJSON_AddBoolToObject (summary, "passed", all);
  code = all ? 0 : 1;
  if (o->json)
    {
      cJSON *full = cJSON_Duplicate (summary, 1);
      char *t;
      cJSON_ReplaceItemInObject (full, "evaluations", cJSON_Duplicate (evals, 1));
      cJSON_AddNumberToObject (full, "exit_code", code);
      t = cJSON_PrintUnformatted (full);
      printf ("%s\n", t ? t : "{}");
      cJSON_free (t);
      cJSON_Delete (full);
    }
  else
    {
      char *t = cJSON_PrintUnformatted (summary);
      printf ("summary: %s\n", t ? t : "{}");
      cJSON_free (t);
    }
  cJSON_Delete (summary);
  cJSON_Delete (out);
  return code;
}

/* ---- entry ---- */

static int
test_main (const char *cmd, int argc, char **argv)
{
  struct test_options o = { 0 };
  struct session s = { 0 };
  int r;

  o.cmd = cmd;
  o.runs = 1;
  o.workers = default_workers ();
  o.params = cJSON_CreateObject ();
  r = parse_test_args (argc, argv, &o);
  if (r != 0)
    {
      cJSON_Delete (o.params);
      return r;
    }
  if (o.mock_config && load_mock_config (&o) != 0)
    {
      cJSON_Delete (o.params);
      return 1;
    }
  s.o = &o;
  if (run_load (o.file, &s.source, &s.len, &s.cfg) < 0)
    {
      cJSON_Delete (o.params);
      cJSON_Delete (o.mock_answers);
      return 1;
    }
  /* Scenarios and evaluation cases must not see each other's files: each
   * run's writes to the workspace stay in its own sandbox (an overlay over
   * the directory).  A read-only or absent workspace stays as configured.  */
  if (s.cfg.workspace == CONFIG_WORKSPACE_RW)
    s.cfg.workspace = CONFIG_WORKSPACE_OVERLAY;
  /* Quiet runs: the report is the output.  -v shows the runs' events.  */
  present_init (&s.view, stderr, o.color);
  s.view.verbose = o.verbose;
  s.view.tty = false; /* runs share the terminal at once: no spinner */
  present_trace_attach (&s.trace, &s.view, o.verbose);
  if (o.no_sandbox || !s.cfg.sandbox_enabled)
    fprintf (stderr, "tactus-run: WARNING: running WITHOUT the sandbox: the procedure has the same "
                     "access as you\n");
  if (o.workers > MAX_WORKERS)
    o.workers = MAX_WORKERS;
  {
    struct present out;
    struct test_report_opts ro = { .cmd = cmd,
                                   .file = o.file,
                                   .runs = o.runs,
                                   .mock = o.mock,
                                   .json = o.json,
                                   .verbose = o.verbose,
                                   .out = &out };
    present_init (&out, stdout, o.json ? PRESENT_COLOR_NEVER : o.color);
    r = strcmp (cmd, "eval") == 0 ? run_eval (&s, &ro) : run_tests (&s, &ro);
  }
  free (s.source);
  config_free (&s.cfg);
  cJSON_Delete (o.params);
  cJSON_Delete (o.mock_answers);
  return r;
}

int
cmd_test (int argc, char **argv)
{
  return test_main ("test", argc, argv);
}

int
cmd_eval (int argc, char **argv)
{
  return test_main ("eval", argc, argv);
}
