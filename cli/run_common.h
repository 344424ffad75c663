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
#include <stdio.h>

#include "broker/broker.h"
#include "policy/config.h"

struct cJSON;
struct present;
struct trace;
struct sandbox;

struct run_job
{
  const char *file;   /* the .tac as given */
  const char *source; /* its text (run_load) */
  size_t source_len;
  const struct tr_config *cfg; /* its config (run_load) */
  struct cJSON *params;        /* --param values (strings), or NULL */
  struct cJSON *start_extra;   /* extra run.start fields (test/eval modes), or NULL */
  bool no_sandbox;
  bool mock_all;
  bool no_jit;
  bool quiet_unsandboxed; /* the caller already printed the --no-sandbox warning */
  enum broker_storage storage;
  const char *storage_path; /* --storage-path, or NULL */
  enum broker_approve approve;
  bool approve_set;
  double timeout;  /* seconds; 0: the config's */
  uint64_t memory; /* VM memory; 0: the config's, else 512 MiB */
  struct trace *trace;
  /* A warm pool's run: a sandbox made by run_prepare, and where this run's
   * workspace and modules are (paths; "/proc/self/fd/N" works).  */
  struct sandbox *prepared;
  const char *workspace_dir;
  const char *procedure_dir;
};

/* How run_report prints (the run's own options).  */
struct run_report_opts
{
  const char *file;
  bool json;
  bool verbose;
  enum broker_storage storage;
  struct present *view; /* colours, or NULL: none */
};

/* A run paused waiting for a human (Human.* with no one to answer) is
 * neither a success nor a failure: CI must not read it as either.  75 is
 * EX_TEMPFAIL of <sysexits.h>, "try again later": answer, then run
 * again.  */
#define RUN_EXIT_PAUSED 75

struct run_verdict
{
  int code;           /* the exit status of `run` */
  const char *status; /* success, paused, error, timeout, oom, interrupted */
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
/* The same with --config FILE as the last layer (NULL: none).  */
int run_load_config (const char *file, const char *config_file, char **source, size_t *len,
                     struct tr_config *cfg);

/* Run JOB to the end.  Returns -1 when the run could not be started (the
 * reason is printed on stderr); else 0 with RES filled.  */
int run_execute (const struct run_job *job, struct run_result *res);

/* A sandbox built from CFG ahead of a run (warm pool): the namespaces and
 * cgroup exist, the run's workspace and procedure come with run_execute.
 * The spec is allocated and lives as long as the process.  */
int run_prepare (const struct tr_config *cfg, struct sandbox **sb, struct tr_error *err);

/* Where file storage lives: STORAGE_PATH (--storage-path), else the
 * config's storage_path, else $XDG_STATE_HOME/tactus-run/storage (made,
 * private, when missing).  */
void run_storage_dir (const struct tr_config *cfg, const char *storage_path, char *buf,
                      size_t size);

/* Print the result: human lines on OUT/ERR, or one JSON line on OUT.  */
void run_report (const struct run_report_opts *o, const struct run_result *res, FILE *out,
                 FILE *err);

/* FINISH.a (or FINISH.a.b) when it is a string, else NULL.  */
const char *run_finish_str (const struct cJSON *finish, const char *a, const char *b);

#endif
