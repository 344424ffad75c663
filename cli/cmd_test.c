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
 *             (memory storage, nothing shared), up to --workers at once,
 *             each in a worker process that sends its verdict back on a pipe
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
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/trace.h"
#include "cli/cli.h"
#include "cli/run_common.h"
#include "common/cleanup.h"
#include "policy/config.h"

#define TEST_DEFAULT_TIMEOUT 120.0 /* seconds per scenario run, unless --timeout or config */
#define EVAL_DEFAULT_TIMEOUT 600.0 /* seconds for the whole eval run */
#define MAX_WORKERS 64
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
  bool json;
  bool verbose;
  bool list_only;
  bool no_sandbox;
  bool no_jit;
  double timeout;
  uint64_t memory;
  enum broker_approve approve;
  bool approve_set;
};

/* What every run of one command shares.  */
struct session
{
  const struct test_options *o;
  char *source;
  size_t len;
  struct tr_config cfg;
  struct trace trace;
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t stop_from_tty;

/* The parent: stop starting runs, let the running ones end.  A signal
 * from the terminal reached the workers too (same process group); one
 * sent to this process alone is forwarded to them.  */
static void
on_stop (int sig, siginfo_t *si, void *uc)
{
  (void) uc;
  stop_signal = sig;
  stop_from_tty = si && si->si_code == SI_KERNEL;
}

/* A worker: remembered until its broker takes over the signals (after
 * that they go to the broker's signalfd and end the run gracefully).  */
static volatile sig_atomic_t worker_signal;

static void
on_worker_stop (int sig)
{
  worker_signal = sig;
}

static void
test_usage (FILE *f, const char *cmd)
{
  if (strcmp (cmd, "eval") == 0)
    {
      fprintf (
          f,
          "usage: tactus-run eval FILE.tac [OPTIONS]\n"
          "\n"
          "Run every Evaluation { dataset, evaluators, thresholds } of FILE in the sandbox.\n"
          "\n"
          "  --runs N              runs per dataset case (default: the Evaluation's runs, else 1)\n"
          "  --mock                mock agents, models, host tools and humans (no network);\n"
          "                        field.llm_judge is skipped in this mode (no judge model)\n"
          "  --param KEY=VALUE     an input given to every case (the case's inputs win)\n"
          "  --json                the whole report as one JSON document\n"
          "  --timeout SECONDS     limit for the whole eval run (default 600)\n"
          "  --memory SIZE         memory limit of the VM (default 512m)\n"
          "  --no-sandbox          run the VM without the sandbox (NOT isolated)\n"
          "  --no-jit              run the Lua interpreter only\n"
          "  -v, --verbose         show the run's events\n"
          "\n"
          "exit status: 0 when every evaluation meets its thresholds, else 1\n");
      return;
    }
  fprintf (f,
           "usage: tactus-run test FILE.tac [OPTIONS]\n"
           "\n"
           "Run the Gherkin scenarios of FILE's Specification blocks, each in a fresh sandbox.\n"
           "\n"
           "  --mock                mock agents, models, host tools and humans (no network)\n"
           "  --scenario NAME       run only this scenario (or every example of this outline);\n"
           "                        may be repeated\n"
           "  --runs N              run each scenario N times and report flaky ones (default 1)\n"
           "  --workers N           scenarios run at once (default: CPUs, at most 4)\n"
           "  --param KEY=VALUE     an input for every scenario (Given steps win)\n"
           "  --approve all|none    answer Human requests no Given answers (default none)\n"
           "  --list                list the scenarios and exit\n"
           "  --json                the whole report as one JSON document\n"
           "  --timeout SECONDS     limit per scenario run (default 120)\n"
           "  --memory SIZE         memory limit of each VM (default 512m)\n"
           "  --no-sandbox          run the VMs without the sandbox (NOT isolated)\n"
           "  --no-jit              run the Lua interpreter only\n"
           "  -v, --verbose         show every step, and the runs' events\n"
           "\n"
           "exit status: 0 when every scenario passed, else 1 (130/143 when interrupted)\n");
}

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
  enum
  {
    O_PARAM = 256,
    O_MOCK,
    O_SCEN,
    O_RUNS,
    O_WORKERS,
    O_JSON,
    O_LIST,
    O_TIMEOUT,
    O_MEM,
    O_NOSB,
    O_NOJIT,
    O_APPROVE,
    O_HELP
  };
  static const struct option opts[] = {
    { "param", required_argument, 0, O_PARAM },
    { "mock", no_argument, 0, O_MOCK },
    { "mock-all", no_argument, 0, O_MOCK },
    { "scenario", required_argument, 0, O_SCEN },
    { "runs", required_argument, 0, O_RUNS },
    { "workers", required_argument, 0, O_WORKERS },
    { "json", no_argument, 0, O_JSON },
    { "list", no_argument, 0, O_LIST },
    { "timeout", required_argument, 0, O_TIMEOUT },
    { "memory", required_argument, 0, O_MEM },
    { "no-sandbox", no_argument, 0, O_NOSB },
    { "no-jit", no_argument, 0, O_NOJIT },
    { "approve", required_argument, 0, O_APPROVE },
    { "verbose", no_argument, 0, 'v' },
    { "help", no_argument, 0, O_HELP },
    { 0, 0, 0, 0 },
  };
  bool eval = strcmp (o->cmd, "eval") == 0;
  uint64_t n;
  int c;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "v", opts, NULL)) != -1)
    switch (c)
      {
      case O_PARAM:
        if (parse_param (o->params, optarg) < 0)
          return usage_error (o->cmd, "--param '%s': expected KEY=VALUE", optarg);
        break;
      case O_MOCK:
        o->mock = true;
        break;
      case O_SCEN:
        if (eval)
          return usage_error (o->cmd, "--scenario is an option of tactus-run test");
        if (o->n_scenarios >= MAX_SCENARIO_ARGS)
          return usage_error (o->cmd, "--scenario: at most %d", MAX_SCENARIO_ARGS);
        o->scenarios[o->n_scenarios++] = optarg;
        break;
      case O_RUNS:
        if (parse_uint (optarg, &n) < 0 || n < 1 || n > MAX_RUNS)
          return usage_error (o->cmd, "--runs '%s': expected a number from 1 to %d", optarg,
                              MAX_RUNS);
        o->runs = (unsigned) n;
        o->runs_set = true;
        break;
      case O_WORKERS:
        if (eval)
          return usage_error (o->cmd, "--workers is an option of tactus-run test");
        if (parse_uint (optarg, &n) < 0 || n < 1 || n > MAX_WORKERS)
          return usage_error (o->cmd, "--workers '%s': expected a number from 1 to %d", optarg,
                              MAX_WORKERS);
        o->workers = (unsigned) n;
        break;
      case O_JSON:
        o->json = true;
        break;
      case O_LIST:
        if (eval)
          return usage_error (o->cmd, "--list is an option of tactus-run test");
        o->list_only = true;
        break;
      case O_TIMEOUT:
        if (parse_seconds (optarg, &o->timeout) < 0 || o->timeout <= 0)
          return usage_error (o->cmd, "--timeout '%s': expected a positive number of seconds",
                              optarg);
        break;
      case O_MEM:
        if (parse_size (optarg, &o->memory) < 0 || o->memory < (4u << 20))
          return usage_error (o->cmd, "--memory '%s': expected a size of at least 4m, such as 256m",
                              optarg);
        break;
      case O_NOSB:
        o->no_sandbox = true;
        break;
      case O_NOJIT:
        o->no_jit = true;
        break;
      case O_APPROVE:
        o->approve_set = true;
        if (strcmp (optarg, "all") == 0)
          o->approve = APPROVE_ALL;
        else if (strcmp (optarg, "none") == 0)
          o->approve = APPROVE_NONE;
        else
          return usage_error (o->cmd, "--approve '%s': expected all or none", optarg);
        break;
      case 'v':
        o->verbose = true;
        break;
      case O_HELP:
        test_usage (stdout, o->cmd);
        exit (0);
      default:
        return usage_error (o->cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
      }
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

static const char *
jstr (const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, key);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

static double
jnum (const cJSON *o, const char *key, double def)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, key);
  return cJSON_IsNumber (v) ? v->valuedouble : def;
}

/* Text from the VM is as untrusted as the .tac: in human output, control
 * characters (an ESC starting a terminal sequence, say) become '?'.  */
static void
clean_text (char *t)
{
  for (unsigned char *p = (unsigned char *) t; p && *p; p++)
    if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
      *p = '?';
}

static void
clean_tree (cJSON *x)
{
  for (; x; x = x->next)
    {
      if (cJSON_IsString (x))
        clean_text (x->valuestring);
      clean_tree (x->child);
    }
}

static char *
clean_dup (const char *t)
{
  char *c = t ? strdup (t) : NULL;
  clean_text (c);
  return c;
}

/* ---- workers: one forked process per scenario run ---- */

struct job
{
  int scenario; /* index into the selected scenarios */
  int run;      /* 0-based */
};

struct slot
{
  pid_t pid;
  int fd;
  int job;
  char *buf;
  size_t len, cap;
};

static int
write_all (int fd, const char *p, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return -1;
      p += w;
      n -= (size_t) w;
    }
  return 0;
}

static int
start_worker (struct session *s, const char *scenario, struct slot *slot)
{
  int p[2];
  pid_t pid;

  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  if (pid < 0)
    {
      close (p[0]);
      close (p[1]);
      return -1;
    }
  if (pid == 0)
    {
      cJSON *extra, *r;
      char *text;

      struct sigaction wa = { 0 };

      close (p[0]);
      wa.sa_handler = on_worker_stop;
      sigemptyset (&wa.sa_mask);
      sigaction (SIGINT, &wa, NULL);
      sigaction (SIGTERM, &wa, NULL);
      signal (SIGPIPE, SIG_DFL);
      prctl (PR_SET_PDEATHSIG, SIGTERM);
      extra = mode_extra (s->o, "scenario");
      cJSON_AddStringToObject (extra, "scenario", scenario);
      r = worker_signal ? NULL : run_here (s, extra, TEST_DEFAULT_TIMEOUT);
      if (worker_signal && (r == NULL || outcome_code (r) < 128))
        {
          /* Stopped before the broker could see the signal.  */
          cJSON_Delete (r);
          r = cJSON_CreateObject ();
          cJSON_AddNumberToObject (r, "code", 128 + worker_signal);
          cJSON_AddStringToObject (r, "status", "interrupted");
          cJSON_AddStringToObject (r, "message",
                                   worker_signal == SIGTERM ? "interrupted by SIGTERM"
                                                            : "interrupted by SIGINT");
        }
      text = r ? cJSON_PrintUnformatted (r) : NULL;
      if (text)
        write_all (p[1], text, strlen (text));
      _exit (text ? 0 : 1);
    }
  close (p[1]);
  slot->pid = pid;
  slot->fd = p[0];
  slot->len = 0;
  return 0;
}

/* Read what is there; 1 at end of file, 0 for more, -1 on error.  */
static int
slot_read (struct slot *slot)
{
  char tmp[65536];
  ssize_t n = read (slot->fd, tmp, sizeof tmp);

  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? 0 : -1;
  if (n == 0)
    return 1;
  if (slot->len + (size_t) n + 1 > slot->cap)
    {
      size_t cap = (slot->cap ? slot->cap * 2 : 65536);
      char *b;
      while (cap < slot->len + (size_t) n + 1)
        cap *= 2;
      b = realloc (slot->buf, cap);
      if (b == NULL)
        return -1;
      slot->buf = b;
      slot->cap = cap;
    }
  memcpy (slot->buf + slot->len, tmp, (size_t) n);
  slot->len += (size_t) n;
  slot->buf[slot->len] = '\0';
  return 0;
}

static cJSON *
slot_finish (struct slot *slot)
{
  int status = 0;
  cJSON *r = NULL;

  close (slot->fd);
  slot->fd = -1;
  while (waitpid (slot->pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (slot->len > 0)
    r = cJSON_Parse (slot->buf);
  if (r == NULL)
    {
      char msg[256];
      r = cJSON_CreateObject ();
      if (WIFSIGNALED (status))
        snprintf (msg, sizeof msg, "the scenario's worker was killed by signal %d",
                  WTERMSIG (status));
      else
        snprintf (msg, sizeof msg, "the scenario could not be run (worker exit status %d)",
                  WIFEXITED (status) ? WEXITSTATUS (status) : -1);
      cJSON_AddNumberToObject (
          r, "code",
          WIFSIGNALED (status) && (WTERMSIG (status) == SIGINT || WTERMSIG (status) == SIGTERM)
              ? 128 + WTERMSIG (status)
              : 1);
      cJSON_AddStringToObject (r, "status", "error");
      cJSON_AddStringToObject (r, "message", msg);
    }
  slot->len = 0;
  return r;
}

/* ---- reporting ---- */

struct scenario_report
{
  const char *name; /* as the VM named it (sent back to select it) */
  char *shown;      /* the name and feature for the terminal */
  char *shown_feature;
  const char *feature;
  cJSON *runs; /* array of outcomes, in run order */
  int passed, failed;
  bool consistent;
  const char *status; /* passed, failed, flaky */
  bool printed;
};

static bool
run_passed (const cJSON *r)
{
  const cJSON *res = cJSON_GetObjectItemCaseSensitive (r, "result");
  const char *st = jstr (res, "status");
  return outcome_code (r) == 0 && st && strcmp (st, "passed") == 0;
}

/* A run's shape, to compare runs: each step's status, or the VM's status.  */
static void
run_signature (const cJSON *r, char *buf, size_t size)
{
  const cJSON *steps
      = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "result"), "steps");
  const cJSON *st;
  size_t n = 0;

  if (outcome_code (r) != 0 || steps == NULL)
    {
      snprintf (buf, size, "vm:%s", jstr (r, "status") ? jstr (r, "status") : "?");
      return;
    }
  buf[0] = '\0';
  cJSON_ArrayForEach (st, steps)
  {
    const char *s = jstr (st, "status");
    if (n + 2 >= size)
      break;
    buf[n++] = s ? s[0] : '?';
    buf[n] = '\0';
  }
}

/* The first failing step of run R: "Then the x ..." and why.  */
static void
run_failure (const cJSON *r, const char **keyword, const char **step, const char **why, int *line)
{
  const cJSON *res = cJSON_GetObjectItemCaseSensitive (r, "result");
  const cJSON *steps = cJSON_GetObjectItemCaseSensitive (res, "steps");
  const cJSON *st;

  *keyword = *step = NULL;
  *line = 0;
  *why = jstr (r, "message");
  if (outcome_code (r) != 0 || steps == NULL)
    return;
  cJSON_ArrayForEach (st, steps)
  {
    const char *s = jstr (st, "status");
    if (s && strcmp (s, "passed") != 0 && strcmp (s, "skipped") != 0)
      {
        *keyword = jstr (st, "keyword");
        *step = jstr (st, "step");
        *why = jstr (st, "message");
        *line = (int) jnum (st, "line", 0);
        return;
      }
  }
}

static void
finalize_scenario (struct scenario_report *sc)
{
  char first[512] = "", sig[512];
  const cJSON *r;
  bool have = false;

  sc->passed = sc->failed = 0;
  sc->consistent = true;
  cJSON_ArrayForEach (r, sc->runs)
  {
    if (run_passed (r))
      sc->passed++;
    else
      sc->failed++;
    run_signature (r, sig, sizeof sig);
    if (!have)
      snprintf (first, sizeof first, "%s", sig), have = true;
    else if (strcmp (first, sig) != 0)
      sc->consistent = false;
  }
  if (!sc->consistent)
    sc->status = "flaky";
  else
    sc->status = sc->failed == 0 ? "passed" : "failed";
}

static void
print_steps (const cJSON *r)
{
  const cJSON *steps
      = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "result"), "steps");
  const cJSON *st;

  cJSON_ArrayForEach (st, steps)
  {
    const char *s = jstr (st, "status");
    const char *mark = !s                           ? "?"
                       : strcmp (s, "passed") == 0  ? "✓"
                       : strcmp (s, "skipped") == 0 ? "-"
                                                    : "✗";
    bool plain = s && (strcmp (s, "passed") == 0 || strcmp (s, "failed") == 0);
    printf ("        %s %s %s%s%s%s\n", mark, jstr (st, "keyword") ? jstr (st, "keyword") : "",
            jstr (st, "step") ? jstr (st, "step") : "", plain ? "" : "  (",
            plain ? "" : (s ? s : "?"), plain ? "" : ")");
  }
}

static void
print_failure_of (const cJSON *r, const char *prefix)
{
  const char *kw, *step, *why;
  int line;

  run_failure (r, &kw, &step, &why, &line);
  if (step)
    printf ("      %s%s %s", prefix, kw ? kw : "", step);
  else
    printf ("      %sthe scenario's run failed", prefix);
  if (line > 0)
    printf ("   (spec line %d)", line);
  printf ("\n");
  if (why && *why)
    {
      /* indent continuation lines too */
      const char *p = why;
      while (*p)
        {
          const char *nl = strchr (p, '\n');
          int n = nl ? (int) (nl - p) : (int) strlen (p);
          printf ("        %.*s\n", n, p);
          p += n;
          if (*p == '\n')
            p++;
        }
    }
}

static void
print_scenario (const struct test_options *o, struct scenario_report *sc, const char **last_feature)
{
  const cJSON *r;
  int i = 0;

  if (sc->shown_feature
      && (*last_feature == NULL || strcmp (*last_feature, sc->shown_feature) != 0))
    {
      printf ("Feature: %s\n", sc->shown_feature);
      *last_feature = sc->shown_feature;
    }
  if (strcmp (sc->status, "passed") == 0)
    {
      if (o->runs > 1)
        printf ("  PASS  %s  (%d/%d runs)\n", sc->shown, sc->passed, sc->passed + sc->failed);
      else
        printf ("  PASS  %s\n", sc->shown);
      if (o->verbose)
        print_steps (cJSON_GetArrayItem (sc->runs, 0));
      return;
    }
  if (strcmp (sc->status, "flaky") == 0)
    {
      const cJSON *q;
      int shown = 0;
      printf ("  FAIL  %s  (flaky: %d of %d runs passed; the runs do not agree)\n", sc->shown,
              sc->passed, sc->passed + sc->failed);
      /* Each distinct failure once, with the runs that had it.  */
      cJSON_ArrayForEach (r, sc->runs)
      {
        const char *kw, *step, *why, *kw2, *step2, *why2;
        int line, line2, j = 0, seen = 0;
        char prefix[512];
        size_t n;
        i++;
        if (run_passed (r))
          continue;
        run_failure (r, &kw, &step, &why, &line);
        cJSON_ArrayForEach (q, sc->runs)
        {
          if (++j >= i)
            break;
          if (run_passed (q))
            continue;
          run_failure (q, &kw2, &step2, &why2, &line2);
          if (line == line2 && (why == why2 || (why && why2 && strcmp (why, why2) == 0)))
            seen = 1;
        }
        if (seen)
          continue;
        if (++shown > 5)
          {
            printf ("      ... and more failures\n");
            break;
          }
        n = (size_t) snprintf (prefix, sizeof prefix, "run");
        j = 0;
        cJSON_ArrayForEach (q, sc->runs)
        {
          j++;
          if (run_passed (q))
            continue;
          run_failure (q, &kw2, &step2, &why2, &line2);
          if (line == line2 && (why == why2 || (why && why2 && strcmp (why, why2) == 0))
              && n < sizeof prefix - 16)
            n += (size_t) snprintf (prefix + n, sizeof prefix - n, "%s %d", n > 3 ? "," : "", j);
        }
        snprintf (prefix + n, sizeof prefix - n, ": ");
        print_failure_of (r, prefix);
        if (o->verbose)
          print_steps (r);
      }
      return;
    }
  if (o->runs > 1)
    printf ("  FAIL  %s  (0/%d runs)\n", sc->shown, sc->passed + sc->failed);
  else
    printf ("  FAIL  %s\n", sc->shown);
  r = cJSON_GetArrayItem (sc->runs, 0);
  print_failure_of (r, "");
  if (o->verbose)
    print_steps (r);
}

/* A failure before any report: the reason on stderr, and with --json a
 * JSON document on stdout too ({file, error, exit_code}).  Returns CODE.  */
static int early_failure (const struct test_options *o, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
early_failure (const struct test_options *o, int code, const char *fmt, ...)
{
  char msg[4096];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  clean_text (msg);
  fprintf (stderr, "tactus-run %s: %s\n", o->cmd, msg);
  if (o->json)
    {
      cJSON *r = cJSON_CreateObject ();
      char *t;
      cJSON_AddStringToObject (r, "file", o->file);
      cJSON_AddStringToObject (r, "error", msg);
      cJSON_AddNumberToObject (r, "exit_code", code);
      t = cJSON_PrintUnformatted (r);
      printf ("%s\n", t ? t : "{}");
      cJSON_free (t);
      cJSON_Delete (r);
    }
  return code;
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

static int
interrupted_code (void)
{
  return stop_signal == SIGTERM ? 143 : 130;
}

static int
run_tests (struct session *s)
{
  const struct test_options *o = s->o;
  cJSON *extra = mode_extra (o, "list");
  cJSON *listed = run_here (s, extra, TEST_DEFAULT_TIMEOUT);
  cJSON *scenarios, *sc, *report;
  struct scenario_report *reports = NULL;
  struct job *jobs = NULL;
  struct slot slots[MAX_WORKERS];
  bool hit[MAX_SCENARIO_ARGS] = { false };
  int n_sel = 0, n_jobs, next = 0, active = 0, done = 0, printed = 0, passed = 0, failed = 0,
      not_run = 0, code;
  const char *last_feature = NULL;
  struct sigaction sa = { 0 }, old_int, old_term;
  bool forwarded = false;

  cJSON_Delete (extra);
  if (listed == NULL)
    return 1;
  if (outcome_code (listed) != 0)
    {
      code = outcome_code (listed);
      early_failure (o, code, "%s: the specifications could not be read: %s", o->file,
                     jstr (listed, "message") ? jstr (listed, "message") : "unknown error");
      cJSON_Delete (listed);
      return code;
    }
  scenarios = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (listed, "result"),
                                                "scenarios");
  if (cJSON_GetArraySize (scenarios) == 0)
    {
      early_failure (o, 1, "%s has no scenarios (no Specification([[ Feature: ... ]]) block)",
                     o->file);
      cJSON_Delete (listed);
      return 1;
    }
  if (o->list_only)
    {
      if (o->json)
        {
          char *t = cJSON_PrintUnformatted (cJSON_GetObjectItemCaseSensitive (listed, "result"));
          printf ("%s\n", t ? t : "{}");
          cJSON_free (t);
        }
      else
        {
          clean_tree (scenarios);
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
      code = early_failure (o, 1, "%s declares %d scenarios; at most %d are run", o->file,
                            cJSON_GetArraySize (scenarios), MAX_SCENARIOS);
      cJSON_Delete (listed);
      return code;
    }
  reports = calloc ((size_t) cJSON_GetArraySize (scenarios) + 1, sizeof *reports);
  if (reports == NULL)
    {
      cJSON_Delete (listed);
      return early_failure (o, 1, "out of memory");
    }
  cJSON_ArrayForEach (sc, scenarios)
  {
    /* The reply comes from the sandbox: only well-formed entries count.  */
    if (jstr (sc, "name") == NULL || !selected (o, sc, hit))
      continue;
    reports[n_sel].name = jstr (sc, "name");
    reports[n_sel].feature = jstr (sc, "feature");
    reports[n_sel].shown = clean_dup (jstr (sc, "name"));
    reports[n_sel].shown_feature = clean_dup (jstr (sc, "feature"));
    reports[n_sel].runs = cJSON_CreateArray ();
    n_sel++;
  }
  for (int i = 0; i < o->n_scenarios; i++)
    if (!hit[i])
      {
        early_failure (o, 1, "no scenario named \"%s\" in %s; the scenarios are:", o->scenarios[i],
                       o->file);
        clean_tree (scenarios);
        cJSON_ArrayForEach (sc, scenarios)
        {
          fprintf (stderr, "  %s\n", jstr (sc, "name"));
        }
        for (int j = 0; j < n_sel; j++)
          {
            cJSON_Delete (reports[j].runs);
            free (reports[j].shown);
            free (reports[j].shown_feature);
          }
        free (reports);
        cJSON_Delete (listed);
        return 1;
      }

  if (n_sel == 0)
    {
      free (reports);
      cJSON_Delete (listed);
      return early_failure (o, 1, "%s: no scenario could be read from the specifications", o->file);
    }
  n_jobs = n_sel * (int) o->runs;
  jobs = calloc ((size_t) n_jobs + 1, sizeof *jobs);
  if (jobs == NULL)
    {
      for (int i = 0; i < n_sel; i++)
        {
          cJSON_Delete (reports[i].runs);
          free (reports[i].shown);
          free (reports[i].shown_feature);
        }
      free (reports);
      cJSON_Delete (listed);
      return early_failure (o, 1, "out of memory");
    }
  for (int i = 0, k = 0; i < n_sel; i++)
    for (unsigned r = 0; r < o->runs; r++, k++)
      jobs[k].scenario = i, jobs[k].run = (int) r;
  /* Results arrive out of order; each run has its place.  */
  for (int i = 0; i < n_sel; i++)
    for (unsigned r = 0; r < o->runs; r++)
      cJSON_AddItemToArray (reports[i].runs, cJSON_CreateNull ());

  sa.sa_sigaction = on_stop;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, &old_int);
  sigaction (SIGTERM, &sa, &old_term);
  for (unsigned i = 0; i < MAX_WORKERS; i++)
    slots[i].fd = -1, slots[i].buf = NULL, slots[i].cap = 0;

  while (done < n_jobs)
    {
      struct pollfd pfd[MAX_WORKERS];
      int map[MAX_WORKERS], np = 0;

      for (unsigned i = 0; i < o->workers && next < n_jobs && !stop_signal; i++)
        if (slots[i].fd < 0)
          {
            if (start_worker (s, reports[jobs[next].scenario].name, &slots[i]) < 0)
              {
                fprintf (stderr, "tactus-run test: cannot start a worker: %s\n", strerror (errno));
                stop_signal = SIGTERM;
                break;
              }
            slots[i].job = next++;
            active++;
          }
      if (active == 0)
        break;
      if (stop_signal && !forwarded)
        {
          forwarded = true;
          if (!stop_from_tty)
            for (unsigned i = 0; i < o->workers; i++)
              if (slots[i].fd >= 0)
                kill (slots[i].pid, stop_signal);
        }
      for (unsigned i = 0; i < o->workers; i++)
        if (slots[i].fd >= 0)
          {
            pfd[np].fd = slots[i].fd;
            pfd[np].events = POLLIN;
            map[np++] = (int) i;
          }
      if (poll (pfd, (nfds_t) np, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      for (int k = 0; k < np; k++)
        {
          struct slot *slot = &slots[map[k]];
          int rr;
          if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
          rr = slot_read (slot);
          if (rr != 0)
            {
              cJSON *res = slot_finish (slot);
              struct job *j = &jobs[slot->job];
              if (!o->json)
                clean_tree (res);
              cJSON_ReplaceItemInArray (reports[j->scenario].runs, j->run, res);
              active--;
              done++;
            }
        }
      /* Print the scenarios whose runs are all in, in order.  */
      while (printed < n_sel)
        {
          struct scenario_report *r = &reports[printed];
          const cJSON *x;
          bool complete = true;
          cJSON_ArrayForEach (x, r->runs)
          {
            if (cJSON_IsNull (x))
              complete = false;
          }
          if (!complete)
            break;
          finalize_scenario (r);
          if (!o->json)
            {
              print_scenario (o, r, &last_feature);
              fflush (stdout);
            }
          r->printed = true;
          printed++;
        }
    }
  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
  for (unsigned i = 0; i < MAX_WORKERS; i++)
    free (slots[i].buf);

  report = cJSON_CreateObject ();
  cJSON_AddStringToObject (report, "file", o->file);
  cJSON_AddBoolToObject (report, "mock", o->mock);
  cJSON_AddNumberToObject (report, "runs", o->runs);
  {
    cJSON *arr = cJSON_AddArrayToObject (report, "scenarios");
    cJSON *flaky = cJSON_CreateArray ();
    for (int i = 0; i < n_sel; i++)
      {
        struct scenario_report *r = &reports[i];
        cJSON *x = cJSON_CreateObject ();
        const char *kw, *step, *why;
        int line;
        if (!r->printed)
          {
            r->status = "not run";
            not_run++;
          }
        else if (strcmp (r->status, "passed") == 0)
          passed++;
        else
          failed++;
        if (r->printed && strcmp (r->status, "flaky") == 0)
          cJSON_AddItemToArray (flaky, cJSON_CreateString (r->name));
        cJSON_AddStringToObject (x, "name", r->name);
        if (r->feature)
          cJSON_AddStringToObject (x, "feature", r->feature);
        cJSON_AddStringToObject (x, "status", r->status);
        cJSON_AddNumberToObject (x, "passed_runs", r->passed);
        cJSON_AddNumberToObject (x, "failed_runs", r->failed);
        if (r->printed && strcmp (r->status, "passed") != 0)
          {
            const cJSON *fr = NULL, *y;
            cJSON_ArrayForEach (y, r->runs)
            {
              if (!run_passed (y))
                {
                  fr = y;
                  break;
                }
            }
            if (fr)
              {
                cJSON *f = cJSON_AddObjectToObject (x, "failure");
                run_failure (fr, &kw, &step, &why, &line);
                if (step)
                  {
                    char full[2048];
                    snprintf (full, sizeof full, "%s %s", kw ? kw : "", step);
                    cJSON_AddStringToObject (f, "step", full);
                    cJSON_AddNumberToObject (f, "line", line);
                  }
                cJSON_AddStringToObject (f, "message", why ? why : "");
              }
          }
        cJSON_AddItemToObject (x, "runs", r->runs);
        r->runs = NULL;
        cJSON_AddItemToArray (arr, x);
      }
    cJSON_AddNumberToObject (report, "passed", passed);
    cJSON_AddNumberToObject (report, "failed", failed);
    cJSON_AddNumberToObject (report, "not_run", not_run);
    cJSON_AddItemToObject (report, "flaky", flaky);
    code = stop_signal ? interrupted_code () : failed + not_run > 0 ? 1 : 0;
    cJSON_AddNumberToObject (report, "exit_code", code);
    if (stop_signal)
      cJSON_AddBoolToObject (report, "interrupted", true);
    if (o->json)
      {
        char *t = cJSON_PrintUnformatted (report);
        printf ("%s\n", t ? t : "{}");
        cJSON_free (t);
      }
    else
      {
        if (cJSON_GetArraySize (flaky) > 0)
          {
            const cJSON *f;
            printf ("flaky (the runs did not agree):");
            cJSON_ArrayForEach (f, flaky)
            {
              char *c = clean_dup (f->valuestring);
              printf (" \"%s\"", c ? c : "");
              free (c);
            }
            printf ("\n");
          }
        if (stop_signal)
          printf ("interrupted: %d of %d scenario runs finished\n", done, n_jobs);
        if (not_run)
          printf ("%d passed, %d failed, %d not run\n", passed, failed, not_run);
        else
          printf ("%d passed, %d failed\n", passed, failed);
      }
  }
  cJSON_Delete (report);
  for (int i = 0; i < n_sel; i++)
    {
      free (reports[i].shown);
      free (reports[i].shown_feature);
    }
  free (jobs);
  free (reports);
  cJSON_Delete (listed);
  return code;
}

/* ---- eval ---- */

static void
print_evaluation (const cJSON *e)
{
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive (e, "cases");
  const cJSON *c, *t, *ev;
  int width = 4, ewidth = 9;

  printf ("Evaluation: %s  (%d cases x %d runs)\n", jstr (e, "name") ? jstr (e, "name") : "?",
          cJSON_GetArraySize (cases), (int) jnum (e, "runs_per_case", 1));
  cJSON_ArrayForEach (c, cases)
  {
    const char *n = jstr (c, "name");
    if (n && (int) strlen (n) > width)
      width = (int) strlen (n) > 40 ? 40 : (int) strlen (n);
  }
  printf ("  %-*s  %-7s  %s\n", width, "CASE", "PASSED", "WHY (the first run that failed)");
  cJSON_ArrayForEach (c, cases)
  {
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive (c, "runs"), *r, *bad = NULL;
    char frac[32];
    snprintf (frac, sizeof frac, "%d/%d", (int) jnum (c, "passed", 0), (int) jnum (c, "total", 0));
    cJSON_ArrayForEach (r, runs)
    {
      if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (r, "passed")))
        {
          bad = r;
          break;
        }
    }
    printf ("  %-*.*s  %-7s ", width, width, jstr (c, "name") ? jstr (c, "name") : "?", frac);
    if (bad == NULL)
      printf (" ✓");
    else if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (bad, "ok")))
      printf (" the procedure failed: %s", jstr (bad, "error") ? jstr (bad, "error") : "?");
    else
      {
        const char *sep = " ";
        cJSON_ArrayForEach (ev, cJSON_GetObjectItemCaseSensitive (bad, "evaluators"))
        {
          if (!cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (ev, "passed")))
            continue;
          printf ("%s✗ %s: %s", sep, jstr (ev, "name") ? jstr (ev, "name") : "?",
                  jstr (ev, "reason") ? jstr (ev, "reason") : "failed");
          sep = "; ";
        }
      }
    printf ("\n");
  }
  cJSON_ArrayForEach (ev, cJSON_GetObjectItemCaseSensitive (e, "evaluators"))
  {
    const char *n = jstr (ev, "name");
    if (n && (int) strlen (n) > ewidth)
      ewidth = (int) strlen (n) > 50 ? 50 : (int) strlen (n);
  }
  printf ("  %-*s  %s\n", ewidth, "EVALUATOR", "PASSED");
  cJSON_ArrayForEach (ev, cJSON_GetObjectItemCaseSensitive (e, "evaluators"))
  {
    int p = (int) jnum (ev, "passed", 0), f = (int) jnum (ev, "failed", 0),
        sk = (int) jnum (ev, "skipped", 0);
    printf ("  %-*.*s  %d/%d", ewidth, ewidth, jstr (ev, "name") ? jstr (ev, "name") : "?", p,
            p + f);
    if (sk)
      printf ("  (%d skipped%s%s)", sk, jstr (ev, "skip_reason") ? ": " : "",
              jstr (ev, "skip_reason") ? jstr (ev, "skip_reason") : "");
    printf ("\n");
  }
  printf ("  success rate %.0f%% (%d/%d runs)\n", jnum (e, "success_rate", 0) * 100,
          (int) jnum (e, "passed_runs", 0), (int) jnum (e, "total_runs", 0));
  cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive (e, "thresholds"))
  {
    bool ok = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (t, "passed"));
    const char *name = jstr (t, "name") ? jstr (t, "name") : "?";
    if (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (t, "actual")))
      printf ("  %s %s: %.3g, limit %.3g", ok ? "✓" : "✗", name, jnum (t, "actual", 0),
              jnum (t, "limit", 0));
    else
      printf ("  %s %s: unknown, limit %.3g", ok ? "✓" : "✗", name, jnum (t, "limit", 0));
    if (jstr (t, "note"))
      printf ("  (%s)", jstr (t, "note"));
    printf ("\n");
  }
  printf ("  %s\n",
          cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (e, "passed")) ? "PASS" : "FAIL");
}

static int
run_eval (struct session *s)
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
      early_failure (o, code, "%s: %s", o->file,
                     jstr (out, "message") ? jstr (out, "message") : "failed");
      cJSON_Delete (out);
      return code;
    }
  if (!o->json)
    clean_tree (out);
  evals = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (out, "result"),
                                            "evaluations");
  if (cJSON_GetArraySize (evals) == 0)
    {
      early_failure (o, 1, "%s has no Evaluation { dataset = ..., evaluators = ... }", o->file);
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
      print_evaluation (e);
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
  s.o = &o;
  if (run_load (o.file, &s.source, &s.len, &s.cfg) < 0)
    {
      cJSON_Delete (o.params);
      return 1;
    }
  /* Scenarios and evaluation cases must not see each other's files: each
   * run's writes to the workspace stay in its own sandbox (an overlay over
   * the directory).  A read-only or absent workspace stays as configured.  */
  if (s.cfg.workspace == CONFIG_WORKSPACE_RW)
    s.cfg.workspace = CONFIG_WORKSPACE_OVERLAY;
  /* Quiet runs: the report is the output.  -v shows the runs' events.  */
  s.trace.human = o.verbose ? stderr : NULL;
  s.trace.verbose = o.verbose;
  if (o.no_sandbox || !s.cfg.sandbox_enabled)
    fprintf (stderr, "tactus-run: WARNING: running WITHOUT the sandbox: the procedure has the same "
                     "access as you\n");
  if (o.workers > MAX_WORKERS)
    o.workers = MAX_WORKERS;
  r = strcmp (cmd, "eval") == 0 ? run_eval (&s) : run_tests (&s);
  free (s.source);
  config_free (&s.cfg);
  cJSON_Delete (o.params);
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
