/* The upper layer of an overlay workspace, kept in the broker: files the
 * run wrote (each a memfd), directories it made, and whiteouts for what it
 * removed.  The lower layer is the workspace directory, which the broker
 * only reads in this mode.  broker/workspace.c composes the two; this file
 * only keeps the upper layer's entries and their size.  */
#ifndef TR_BROKER_OVERLAY_H
#define TR_BROKER_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct overlay;

/* What a path is in the merged view, as far as the upper layer knows.  */
enum overlay_kind
{
  OVERLAY_LOWER,  /* not in the upper layer: look at the lower one */
  OVERLAY_GONE,   /* removed by the run (a whiteout on it or on a parent) */
  OVERLAY_NOTDIR, /* a parent is a file of the upper layer */
  OVERLAY_FILE,   /* a file of the upper layer (*MEMFD) */
  OVERLAY_DIR,    /* a directory made by the run */
};

/* BUDGET: bytes the files of the upper layer may hold in all.  */
struct overlay *overlay_new (uint64_t budget);
void overlay_free (struct overlay *ov);

/* PATH is normalized: components joined by '/', no '.', '..' or empty
 * components ("." is the workspace itself).  */
enum overlay_kind overlay_lookup (const struct overlay *ov, const char *path, int *memfd);

/* Put a file (MEMFD, owned by the overlay from here) at PATH, replacing
 * what the upper layer had there.  -1 with errno ENOSPC when the files
 * would hold more than the budget (MEMFD is then closed), ENOMEM, or
 * EMFILE when there are too many entries.  */
int overlay_put_file (struct overlay *ov, const char *path, int memfd);
/* A directory made by the run; OPAQUE hides the lower layer's directory
 * of the same name (made over one the run removed).  */
int overlay_put_dir (struct overlay *ov, const char *path, bool opaque);
/* Remove PATH and everything below it from the upper layer; with
 * WHITEOUT, also hide the lower layer's entry.  */
int overlay_remove (struct overlay *ov, const char *path, bool whiteout);
/* Whether the upper directory PATH hides the lower one (a whiteout was
 * made on it before the run made it again).  */
bool overlay_opaque (const struct overlay *ov, const char *path);

/* The direct children of DIR in the upper layer: CB (NAME, KIND) with KIND
 * OVERLAY_FILE, OVERLAY_DIR or OVERLAY_GONE (a whiteout).  */
void overlay_children (const struct overlay *ov, const char *dir,
                       void (*cb) (void *ctx, const char *name, enum overlay_kind kind), void *ctx);

/* Bytes held by the upper layer's files, and whether ADD more (replacing
 * the file at PATH, if any) would stay within the budget.  */
uint64_t overlay_used (const struct overlay *ov);
bool overlay_fits (const struct overlay *ov, const char *path, uint64_t add);

#endif
