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

struct tr_error
{
  int errnum;                 /* errno value, 0 if not a system error */
  int exit_code;              /* exit status the CLI should use (default 1) */
  char msg[TR_ERROR_MSG_MAX]; /* "what failed: why (fix)" */
};

/* Fill ERR and return -1.  When ERRNUM is non-zero, ": strerror" is appended. */
int tr_fail (struct tr_error *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Prefix an existing error with more context: "context: old message". */
int tr_wrap (struct tr_error *err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

void tr_error_clear (struct tr_error *err);

/* Print "tactus-run: message" on stderr. */
void tr_error_print (const struct tr_error *err);

#endif
