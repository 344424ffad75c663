/* The dry read of a .tac (vm/lua/inspect.lua) behind `validate`, `info`
 * and `run -i` (cli/cmd_inspect.c).  */
#ifndef TR_CLI_INSPECT_H
#define TR_CLI_INSPECT_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

struct inspect_options
{
  bool no_sandbox;
  bool no_jit;
  bool verbose;
  bool quiet_unsandboxed; /* the caller already warned about --no-sandbox */
};

/* Read FILE dry in the sandbox.  0 with *REPORT (the VM's report, to
 * cJSON_Delete; untrusted), or -1 with WHY (cleaned for a terminal).  */
int inspect_run (const char *file, const struct inspect_options *io, struct cJSON **report,
                 char *why, size_t why_size);

#endif
