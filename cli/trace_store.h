/* The traces file storage keeps: with `run --storage file`, every event of
 * the run is also written to STORAGE_DIR/traces/RUN_ID.jsonl, which
 * `tactus-run trace list|show|export` read (cli/cmd_trace.c).  */
#ifndef TR_CLI_TRACE_STORE_H
#define TR_CLI_TRACE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

/* STORAGE_DIR/traces, opened as a directory.  Under the current directory
 * (the workspace, which the cage can write) no component may be a symlink
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); with CREATE, missing
 * directories are made (0700).  -1 with ERR.  */
int trace_store_dir (const char *storage_dir, bool create, struct tr_error *err);

/* A new trace file for a run of PROCEDURE (O_EXCL, 0600, never through a
 * symlink); its run id in RUN_ID.  NULL with ERR.  */
FILE *trace_store_create (const char *storage_dir, const char *procedure, char *run_id, size_t size,
                          struct tr_error *err);

#endif
