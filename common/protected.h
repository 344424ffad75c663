/* Protected paths: the names in a workspace that the host trusts or runs
 * later without asking (git's repository and config, Tactus config and
 * sidecars, direnv, editor settings, shell start-up files), so that a run
 * can never write them.  One list, one matcher, used by every path into
 * the workspace: the broker (the VM's files), the native cage's mounts and
 * its creation supervisor, and the config (sandbox.protected_paths).
 *
 * An entry is one path component, matched against every component of a
 * path, case-insensitively (ASCII) and ignoring trailing dots and spaces
 * (names that case-insensitive or Windows-style filesystems treat as the
 * same file).  '*' and '?' are wildcards ("*.tac.yml").  */
#ifndef TR_PROTECTED_H
#define TR_PROTECTED_H

#include <stdbool.h>
#include <stddef.h>

/* The built-in list, NULL-terminated (docs/sandbox.md explains each).  */
extern const char *const protected_defaults[];

/* Whether the component NAME (LEN bytes, no '/') matches an entry of LIST
 * (NULL-terminated); *ENTRY (when not NULL) is set to the entry.  */
bool protected_name (const char *const *list, const char *name, size_t len, const char **entry);

/* The first component of PATH ('/'-separated, relative) that is
 * protected: returns its start and sets *LEN and *ENTRY, or NULL.  */
const char *protected_component (const char *const *list, const char *path, size_t *len,
                                 const char **entry);

/* Whether PATTERN can be an entry: one component, not empty, not '.' or
 * '..'.  NULL when it can, else why not.  */
const char *protected_entry_invalid (const char *pattern);

#endif
