/* Workspaces a run may not write.
 *
 * A read-write workspace is the one place a run's writes reach the host.
 * Some directories hold what the host trusts or executes later: the home
 * directory (shell rc files, ~/.ssh, ~/.gitconfig, ~/.tactus/config.yml —
 * a layer that needs no trust), everything above it, and tactus-run's own
 * state (the trust store, the checkpoint key and records, the pool's
 * socket directory).  A run whose read-write workspace is or contains one
 * of them could raise every later run's power, so it is refused; a
 * read-only, overlay or absent workspace is fine.  */
#ifndef TR_WORKSPACE_GUARD_H
#define TR_WORKSPACE_GUARD_H

#include "common/error.h"

/* 0 when DIR may be a read-write workspace; else -1 with ERR saying why
 * (the caller adds how to opt in).  */
int workspace_guard (const char *dir, struct tr_error *err);

#endif
