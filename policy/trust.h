/* The trust store: which project-local config layers the user trusted,
 * by their exact content.
 *
 * A project-local layer (./.tactus/config.yml, a sidecar NAME.tac.yml) may
 * have been written by an earlier run or come with a cloned repository; it
 * is honoured only as far as it grants nothing (policy/grants.c), or when
 * the user ran `tactus-run trust FILE` on this very content.  A sidecar's
 * record also holds the hash of its procedure: a grant covers the code it
 * was given to, and a procedure rewritten since (by a run allowed to write
 * its directory) loses it until trusted again.
 *
 * The store is one JSON file, $XDG_STATE_HOME/tactus-run/trusted.json, in
 * a private directory (common/userdir.h) that no read-write workspace may
 * contain (policy/workspace_guard.c), replaced atomically under a lock.  */
#ifndef TR_TRUST_H
#define TR_TRUST_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/error.h"

struct cJSON;

/* What is trusted: a layer by its real path and content, and for a sidecar
 * the procedure's content too.  */
struct trust_subject
{
  char file[PATH_MAX];
  uint8_t sha256[TR_SHA256_LEN];
  bool bound; /* a sidecar: procedure and procedure_sha256 are set */
  char procedure[PATH_MAX];
  uint8_t procedure_sha256[TR_SHA256_LEN];
};

enum trust_verdict
{
  TRUST_UNKNOWN = 0,       /* no record for this file */
  TRUST_OK,                /* the record matches */
  TRUST_CHANGED,           /* the file's content is not what was trusted */
  TRUST_PROCEDURE_CHANGED, /* the sidecar is, its procedure is not */
};

/* S for the layer FILE (a real path) holding TEXT; for a sidecar,
 * PROCEDURE (a real path) holding PROC_TEXT as well (NULL otherwise).  */
int trust_subject_make (struct trust_subject *s, const char *file, const char *text, size_t len,
                        const char *procedure, const char *proc_text, size_t proc_len,
                        struct tr_error *err);
int trust_check (const struct trust_subject *s, enum trust_verdict *v, struct tr_error *err);
/* Record S (replacing an older record of the same file).  */
int trust_add (const struct trust_subject *s, struct tr_error *err);
/* Forget the record of FILE (a real path); *FOUND says whether one was.  */
int trust_remove (const char *file, bool *found, struct tr_error *err);
/* Every record: a JSON array of {file, sha256, procedure?, procedure_sha256?,
 * trusted_at}, owned by the caller; an empty array when there is no store.  */
int trust_records (struct cJSON **records, struct tr_error *err);

#endif
