/* The pieces of broker/workspace.c that tests reach directly.  */
#ifndef TR_BROKER_WORKSPACE_H
#define TR_BROKER_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>

/* Check a workspace-relative PATH and write its normalized form to NORM
 * ("." components dropped; "." for the workspace itself).  -1 with *WHY
 * when it is refused: empty, absolute, '..' or an empty component, too
 * long.  */
int broker_ws_check_path (const char *path, char *norm, size_t size, const char **why);

/* Open REL (relative, no '..') beneath DIRFD with FLAGS, following no
 * symlink in any component: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * | RESOLVE_NO_MAGICLINKS), or, where the kernel has no openat2 (or
 * FORCE_WALK), one component at a time with O_NOFOLLOW.  */
int broker_ws_open_beneath (int dirfd, const char *rel, int flags, bool force_walk);

/* Tests: take the component walk even where openat2 exists.  */
extern bool broker_ws_force_walk;

#endif
