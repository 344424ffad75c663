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
/* Regenerate what the sandbox keeps between runs (the compiled seccomp
 * programs), for this binary.  FORCE rewrites entries that are still valid.
 * DIR receives the cache directory.  */
int sandbox_rebuild (bool force, char *dir, size_t dirsize, int *written, struct tr_error *err);


#endif
