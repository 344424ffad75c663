/* One procedure run, from a loaded file and config to a verdict: the part
 * of `tactus-run run` that `test` and `eval` share (cli/run_common.c).
 *
 * run_load reads the .tac and its layered config; run_execute builds the
 * VM config, the broker options and the sandbox spec (or a plain child
 * with --no-sandbox), serves the broker until the VM ends, reaps it and
 * decides the run's status and exit code.  Reporting stays with the
 * caller.  */
#ifndef TR_RUN_COMMON_H
#define TR_RUN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "policy/config.h"

struct cJSON;
struct trace;

struct run_job
{
  const char *file;             /* the .tac as given */
  const char *source;           /* its text (run_load) */
  size_t source_len;
  const struct tr_config *cfg;  /* its config (run_load) */
  struct cJSON *params;         /* --param values (strings), or NULL */
  struct cJSON *start_extra;    /* extra run.start fields (test/eval modes), or NULL */
  bool no_sandbox;
  bool mock_all;
  bool no_jit;
  bool quiet_unsandboxed;       /* the caller already printed the --no-sandbox warning */
  enum broker_storage storage;
  const char *storage_path;     /* --storage-path, or NULL */
  enum broker_approve approve;
  bool approve_set;
  double timeout;               /* seconds; 0: the config's */
  uint64_t memory;              /* VM memory; 0: the config's, else 512 MiB */
  struct trace *trace;
};

struct run_verdict
{
  int code;            /* the exit status of `run` */
  const char *status;  /* success, waiting, error, timeout, oom, interrupted */
  char message[1200];
};

struct run_result
{
  struct broker_outcome out; /* free with broker_outcome_free */
  struct run_verdict v;
  int vm_status;
};

/* Read FILE (source text only: no bytecode, at most 4 MiB) and its config.
 * On failure prints why and returns -1 (CFG is then freed).  */
int run_load (const char *file, char **source, size_t *len, struct tr_config *cfg);

/* Run JOB to the end.  Returns -1 when the run could not be started (the
 * reason is printed on stderr); else 0 with RES filled.  */
int run_execute (const struct run_job *job, struct run_result *res);

/* FINISH.a (or FINISH.a.b) when it is a string, else NULL.  */
const char *run_finish_str (const struct cJSON *finish, const char *a, const char *b);

#endif
