/* Host capabilities, layer by layer (sandbox status).  */
#ifndef TR_SANDBOX_STATUS_H
#define TR_SANDBOX_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#define SANDBOX_STATUS_MAX 24

struct sandbox_layer
{
  const char *name;
  bool ok;
  char detail[600];
};

struct sandbox_status
{
  struct sandbox_layer layers[SANDBOX_STATUS_MAX];
  size_t n;
  bool usable; /* a sandbox can be built here */
};

int sandbox_status_probe (struct sandbox_status *st);

#include "common/error.h"
/* What the sandbox keeps between runs, checked against this binary.  The
 * seccomp programs are built into the binary and nothing is kept on disk:
 * rebuild recompiles each profile with this host's libseccomp and compares
 * it with the built-in program, and removes the program cache older
 * versions kept.  A difference is an error unless FORCE.  */
struct sandbox_rebuild_report
{
  int checked, differ;
  char legacy_dir[512];
  int legacy_removed;
};
int sandbox_rebuild (bool force, struct sandbox_rebuild_report *r, struct tr_error *err);

#endif
