/* --log FILE / --log-format text|json.
 *
 * containerd's shim re-reads FILE after a failed command and takes the
 * last line whose level is "error"; each line is decoded as JSON with the
 * keys level, msg and time (RFC 3339, decoded into a Go time.Time, so it
 * must parse).  Errors also go to stderr, as runc prints them: podman
 * (through conmon) reads the runtime's stderr.  The text format is
 * logrus's: time="..." level=error msg="...".  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim/runc.h"

static int log_fd_ = -1;
static bool log_json_;

void
rfc3339_now (char *buf, size_t size)
{
  struct timespec ts;
  struct tm tm;
  char base[32];

  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf, size, "%s.%09ldZ", base, ts.tv_nsec);
}

int
log_open (const char *path, bool json, struct tr_error *err)
{
  log_json_ = json;
  if (path == NULL || *path == '\0')
    return 0;
  log_fd_ = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (log_fd_ < 0)
    return tr_fail (err, errno, "open log file %s", path);
  return 0;
}

int
log_fd (void)
{
  return log_fd_;
}

static void
append_json_string (char *out, size_t size, size_t *pos, const char *s)
{
  static const char hex[] = "0123456789abcdef";
  size_t n = *pos;

#define PUT(c)                                                                                     \
  do                                                                                               \
    {                                                                                              \
      if (n + 1 < size)                                                                            \
        out[n++] = (c);                                                                            \
    }                                                                                              \
  while (0)
  PUT ('"');
  for (; *s; s++)
    {
      unsigned char c = (unsigned char) *s;
      if (c == '"' || c == '\\')
        {
          PUT ('\\');
          PUT ((char) c);
        }
      else if (c == '\n')
        {
          PUT ('\\');
          PUT ('n');
        }
      else if (c < 0x20)
        {
          PUT ('\\');
          PUT ('u');
          PUT ('0');
          PUT ('0');
          PUT (hex[c >> 4]);
          PUT (hex[c & 15]);
        }
      else
        PUT ((char) c);
    }
  PUT ('"');
#undef PUT
  out[n < size ? n : size - 1] = '\0';
  *pos = n;
}

static size_t
format_line (char *out, size_t size, bool json, const char *level, const char *msg)
{
  char now[64];
  size_t n = 0;

  rfc3339_now (now, sizeof now);
  if (json)
    {
      n = (size_t) snprintf (out, size, "{\"level\":\"%s\",\"msg\":", level);
      if (n >= size)
        n = size - 1;
      append_json_string (out, size, &n, msg);
      n += (size_t) snprintf (out + n, size > n ? size - n : 0, ",\"time\":\"%s\"}\n", now);
    }
  else
    {
      n = (size_t) snprintf (out, size, "time=\"%s\" level=%s msg=", now, level);
      if (n >= size)
        n = size - 1;
      append_json_string (out, size, &n, msg);
      n += (size_t) snprintf (out + n, size > n ? size - n : 0, "\n");
    }
  if (n >= size)
    n = size - 1;
  return n;
}

void
log_line_fd (int fd, bool json, const char *level, const char *msg)
{
  char line[8 * TR_ERROR_MSG_MAX];
  size_t n = format_line (line, sizeof line, json, level, msg);

  if (fd >= 0)
    {
      ssize_t w = write (fd, line, n);
      (void) w;
    }
}

void
log_line (const char *level, const char *fmt, ...)
{
  char msg[TR_ERROR_MSG_MAX];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (log_fd_ >= 0)
    log_line_fd (log_fd_, log_json_, level, msg);
  else if (strcmp (level, "debug") != 0 || runc_g.debug)
    {
      /* Without --log, runc's logrus writes to stderr.  */
      char line[8 * TR_ERROR_MSG_MAX];
      size_t n = format_line (line, sizeof line, log_json_, level, msg);
      fwrite (line, 1, n, stderr);
    }
}

int
log_fail (const struct tr_error *err)
{
  const char *msg = err->msg[0] ? err->msg : "unknown error";

  if (log_fd_ >= 0)
    log_line_fd (log_fd_, log_json_, "error", msg);
  else if (log_json_)
    {
      /* No log file: the JSON line goes to stderr, as runc's logrus does.  */
      fflush (stderr);
      log_line_fd (2, true, "error", msg);
    }
  fprintf (stderr, "%s: %s\n", RUNC_NAME, msg);
  fflush (stderr);
  return err->exit_code ? err->exit_code : 1;
}
