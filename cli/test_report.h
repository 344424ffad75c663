/* How `tactus-run test` and `eval` report: one line per scenario (and
 * the failing step, why, with -v every step), flaky scenarios, the
 * summary line or one JSON document; an evaluation's cases, evaluators and
 * thresholds (cli/test_report.c).  What is reported came from the VM:
 * names and messages are cleaned for the terminal (cli/present.h).  */
#ifndef TR_CLI_TEST_REPORT_H
#define TR_CLI_TEST_REPORT_H

#include <stdbool.h>

struct cJSON;
struct present;

struct test_report_opts
{
  const char *cmd; /* "test" or "eval" */
  const char *file;
  unsigned runs; /* --runs */
  bool mock;
  bool json;
  bool verbose;
  const struct present *out; /* stdout's colours (cli/present.h), or NULL */
};

/* One scenario: its runs' outcomes, in run order.  */
struct scenario_report
{
  const char *name; /* as the VM named it (sent back to select it) */
  char *shown;      /* the name and feature for the terminal */
  char *shown_feature;
  const char *feature;
  struct cJSON *runs; /* array of outcomes (null until a run's arrives) */
  int passed, failed;
  bool consistent;
  const char *status; /* passed, failed, flaky */
  bool printed;
};

/* Every run in: count, decide passed / failed / flaky.  */
void scenario_finalize (struct scenario_report *sc);
/* Its line (under its Feature: heading when it changes).  */
void scenario_print (const struct test_report_opts *o, struct scenario_report *sc,
                     const char **last_feature);
/* The end: the JSON document (--json) or the flaky names and the summary
 * line; returns the exit status (INTERRUPTED: the stopping signal, or 0).  */
int test_report_finish (const struct test_report_opts *o, struct scenario_report *reports, int n,
                        int interrupted, int done, int n_jobs);
/* An error before any report: on stderr, and with --json as
 * {file, error, exit_code} on stdout.  Returns CODE.  */
int test_report_early (const struct test_report_opts *o, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* An evaluation's table (eval without --json).  */
void evaluation_print (const struct cJSON *e);

#endif
