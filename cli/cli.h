/* The tactus-run command line: one file per command group.  */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

int cmd_sandbox (int argc, char **argv);
int cmd_run (int argc, char **argv);
int cmd_answer (int argc, char **argv);
int cmd_trust (int argc, char **argv);
int cmd_serve (int argc, char **argv);
int cmd_test (int argc, char **argv);
int cmd_eval (int argc, char **argv);

int cmd_validate (int argc, char **argv);
int cmd_info (int argc, char **argv);
int cmd_trace (int argc, char **argv);

/* Parse "64m", "1g", "4096": bytes.  */
int parse_size (const char *s, uint64_t *out);
int parse_uint (const char *s, uint64_t *out);
int parse_seconds (const char *s, double *out);
/* --param KEY=VALUE into PARAMS, a JSON object of strings (a later KEY
 * replaces an earlier one).  -1 unless KV is KEY=VALUE with a key of 1 to
 * 255 bytes.  Fuzzed by tests/fuzz/fuzz_param.c.  */
struct cJSON;
int parse_param (struct cJSON *params, const char *kv);

#endif
