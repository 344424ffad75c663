/* The tactus-run command line: one file per command group.  */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

int cmd_sandbox (int argc, char **argv);
int cmd_run (int argc, char **argv);
int cmd_answer (int argc, char **argv);

/* Parse "64m", "1g", "4096": bytes.  */
int parse_size (const char *s, uint64_t *out);
int parse_uint (const char *s, uint64_t *out);
int parse_seconds (const char *s, double *out);

#endif
