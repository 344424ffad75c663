/* The worker pool of `tactus-run test`: every scenario run in a process of
 * its own (which starts its own sandbox), up to N at once, each sending its
 * outcome back on a pipe (cli/test_pool.c).  */
#ifndef TR_CLI_TEST_POOL_H
#define TR_CLI_TEST_POOL_H

#include <stdbool.h>

struct cJSON;

struct test_pool
{
  unsigned workers; /* at most TEST_POOL_MAX_WORKERS */
  int n_jobs;
  /* In the worker (a forked child): run job J; its outcome (a JSON object
   * {code, status, message, ...}), or NULL when it could not start.  */
  struct cJSON *(*run) (void *ctx, int job);
  /* In the parent: job J's outcome (to keep or delete), as it arrives, in
   * any order; then ready() is asked to print what it can.  */
  void (*done) (void *ctx, int job, struct cJSON *outcome);
  void (*ready) (void *ctx);
  void *ctx;
};

#define TEST_POOL_MAX_WORKERS 64

/* Run the jobs.  SIGINT/SIGTERM stop starting new ones; one sent to this
 * process alone (not from the terminal, which reaches the workers too) is
 * forwarded to the running workers, which end their runs gracefully.
 * Returns the stopping signal (0 when every job ran); *DONE counts the
 * jobs whose outcome arrived.  */
int test_pool_run (const struct test_pool *p, int *done);

#endif
