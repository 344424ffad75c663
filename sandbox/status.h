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
  char detail[1024];
};

struct sandbox_status
{
  struct sandbox_layer layers[SANDBOX_STATUS_MAX];
  size_t n;
  bool usable; /* a sandbox can be built here */
};

int sandbox_status_probe (struct sandbox_status *st);

/* hostcheck.c: why a cage cannot be built here and the fix, read from the
 * proc root PROC ("/proc"; a fake tree in tests).  ERRNUM is what
 * unshare(CLONE_NEWUSER) returned; PRIVILEGED: running as root.  */
void hostcheck_userns_reason (const char *proc, int errnum, bool privileged, char *out,
                              size_t size);
/* Mounts over paths under /proc (a container runtime's masks): their
 * number, the first ones in OUT.  */
int hostcheck_proc_masked (const char *proc, char *out, size_t size);
/* Why the cage may be refused in an outer container, with the fixes:
 * "; /proc is partly masked ...", "; a seccomp filter outside ...", or "".  */
void hostcheck_cage_hint (const char *proc, char *out, size_t size);

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
