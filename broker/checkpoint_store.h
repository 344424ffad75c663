/* Checkpoint files (--storage file): where they live, and why a file the
 * sandbox could have written is never replayed.
 *
 * Replaying a checkpoint skips the code that made it: a forged record of
 * a `Human.approve` would approve a host tool nobody approved.  So:
 *
 *  - by default the records live in $XDG_STATE_HOME/tactus-run/storage/,
 *    named after the procedure and the hash of its real path, outside any
 *    workspace (a workspace that contains the state directory is refused,
 *    policy/workspace_guard.h); --storage-path DIR (or a trusted
 *    storage_path) puts them in DIR/NAME.json instead;
 *  - every record carries an HMAC-SHA256 over its body and the procedure's
 *    real path, with a per-user key kept in the state directory (made once,
 *    0600): a record that does not verify is refused with an error, and
 *    the run does not start;
 *  - the MAC of the latest record written at each place is kept in the
 *    state directory too (storage/heads/): an older, genuine record put
 *    back (say, from before an approval was answered "no") is refused;
 *  - files are opened beneath a directory fd without following symlinks
 *    (openat2 RESOLVE_NO_SYMLINKS; an explicit DIR is opened the same way
 *    from the current directory) and replaced by an O_EXCL temporary
 *    renamed over them: a planted symlink makes nothing be written
 *    elsewhere.
 *
 * File format: one line "tactus-run-checkpoints v1 HEX-HMAC", then the
 * body: JSON {procedure, checkpoints, pending?}.  */
#ifndef TR_CHECKPOINT_STORE_H
#define TR_CHECKPOINT_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/error.h"

struct cJSON;

struct checkpoint_store
{
  char explicit_dir[PATH_MAX]; /* --storage-path DIR, or "" for the state directory */
  char dir[PATH_MAX];          /* where the record is, for messages */
  char name[NAME_MAX + 1];     /* the record's file name */
  char procedure[PATH_MAX];    /* the procedure's real path, bound into the MAC */
  char label[256];             /* its name, for messages */
  int dirfd;                   /* the record's directory, once opened */
  int statefd;                 /* the state directory, once opened */
  char state[PATH_MAX];
  bool have_key;
  uint8_t key[TR_SHA256_LEN];
};

/* Where the record of the procedure at PROCEDURE (a path; its real path
 * names the record) lives: EXPLICIT_DIR, or NULL for the state directory.
 * NAME is the procedure's name (file name without .tac).  Nothing is
 * opened or made yet.  */
int checkpoint_store_init (struct checkpoint_store *s, const char *explicit_dir,
                           const char *procedure, const char *name, struct tr_error *err);
/* The verified body of the record, or NULL (0) when there is none; -1 when
 * a record exists that does not verify (ERR says why and what to do).  */
int checkpoint_store_load (struct checkpoint_store *s, struct cJSON **body, struct tr_error *err);
/* Write BODY as the record (making the directories on first use).  */
int checkpoint_store_save (struct checkpoint_store *s, const struct cJSON *body,
                           struct tr_error *err);
/* Remove the record (a run that completed).  */
int checkpoint_store_clear (struct checkpoint_store *s, struct tr_error *err);
void checkpoint_store_close (struct checkpoint_store *s);

/* The record format on its own (fuzzed: tests/fuzz/fuzz_checkpoint.c).
 * Verify DATA (LEN bytes) against KEY and PROCEDURE: 0 with the body's
 * offset in *BODY_OFF and the MAC in MAC, else -1 with ERR.  */
int checkpoint_record_verify (const uint8_t key[TR_SHA256_LEN], const char *procedure,
                              const char *data, size_t len, size_t *body_off,
                              uint8_t mac[TR_SHA256_LEN], struct tr_error *err);
/* The MAC of BODY for PROCEDURE under KEY.  */
int checkpoint_record_mac (const uint8_t key[TR_SHA256_LEN], const char *procedure,
                           const char *body, size_t len, uint8_t mac[TR_SHA256_LEN],
                           struct tr_error *err);

#endif
