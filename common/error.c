#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
tr_fail (struct tr_error *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  err->errnum = errnum;
  if (err->exit_code == 0)
    err->exit_code = 1;
  va_start (ap, fmt);
  n = vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (errnum != 0 && n >= 0 && (size_t) n < sizeof err->msg)
    snprintf (err->msg + n, sizeof err->msg - n, ": %s", strerror (errnum));
  return -1;
}

int
tr_fail_hint (struct tr_error *err, int hint, int errnum, const char *fmt, ...)
{
  char msg[TR_ERROR_MSG_MAX];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  tr_fail (err, errnum, "%s", msg);
  err->hint = hint;
  return -1;
}

int
tr_wrap (struct tr_error *err, const char *fmt, ...)
{
  char prefix[TR_ERROR_MSG_MAX];
  char old[TR_ERROR_MSG_MAX];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, err->msg, sizeof old);
  /* Truncation is fine: the message is for people.  */
  size_t n = strnlen (prefix, sizeof err->msg - 3);
  memcpy (err->msg, prefix, n);
  memcpy (err->msg + n, ": ", 2);
  n += 2;
  size_t m = strnlen (old, sizeof err->msg - n - 1);
  memcpy (err->msg + n, old, m);
  err->msg[n + m] = '\0';
  if (err->exit_code == 0)
    err->exit_code = 1;
  return -1;
}

void
tr_error_clear (struct tr_error *err)
{
  err->errnum = 0;
  err->exit_code = 0;
  err->hint = TR_HINT_NONE;
  err->msg[0] = '\0';
}

void
tr_error_print (const struct tr_error *err)
{
  fprintf (stderr, "tactus-run: %s\n", err->msg[0] ? err->msg : "unknown error");
}
