/* Error reporting shared by every module.
 *
 * Every fallible function returns a negative value and fills a caller-owned
 * struct tr_error.  The struct lives on the caller's stack, so it also works
 * in a freshly cloned child where allocation is best avoided, and it can be
 * sent over the setup socket as plain bytes.  */
#ifndef TR_ERROR_H
#define TR_ERROR_H

#include <stddef.h>

#define TR_ERROR_MSG_MAX 1024

/* A fix that depends on how the user called us (a command-line flag or a
 * config key): the module that fails names it, the CLI words it
 * (cli/present_error.c), so no module below the CLI names a flag.  */
enum tr_hint
{
  TR_HINT_NONE,
  TR_HINT_PATH_NOT_BOUND,     /* a path the sandbox needs is not mounted in it */
  TR_HINT_WORKSPACE_READONLY, /* giving the workspace read-only would avoid it */
  TR_HINT_IDMAP_WORKSPACE,    /* a root-owned workspace on a filesystem without idmapped mounts */
  TR_HINT_SECCOMP_FORCE,      /* built-in seccomp programs differ; --force accepts them */
  TR_HINT_NOT_STORED,         /* no stored run: it was not run with file storage */
};

struct tr_error
{
  int errnum;                 /* errno value, 0 if not a system error */
  int exit_code;              /* exit status the CLI should use (default 1) */
  int hint;                   /* enum tr_hint */
  char msg[TR_ERROR_MSG_MAX]; /* "what failed: why (fix)" */
};

/* Fill ERR and return -1.  When ERRNUM is non-zero, ": strerror" is appended. */
int tr_fail (struct tr_error *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* The same with HINT (enum tr_hint) for the CLI to word.  */
int tr_fail_hint (struct tr_error *err, int hint, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/* Prefix an existing error with more context: "context: old message". */
int tr_wrap (struct tr_error *err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

void tr_error_clear (struct tr_error *err);

/* Print "tactus-run: message" on stderr. */
void tr_error_print (const struct tr_error *err);

#endif
