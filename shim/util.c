/* Small helpers of the runc command line: an arena that is freed at exit
 * (every runtime invocation is short-lived, so config data simply lives
 * until then), id validation, whole-file reads and atomic writes, signal
 * names, /proc/PID/stat, and a two-space JSON printer like runc's.  */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "shim/runc.h"

struct ar_block
{
  struct ar_block *next;
  max_align_t data[];
};

static struct ar_block *ar_head;
static cJSON **ar_json;
static size_t ar_n_json, ar_cap_json;
static bool ar_registered;

static _Noreturn void
oom (void)
{
  fputs (RUNC_NAME ": out of memory\n", stderr);
  _exit (1);
}

void
ar_free_all (void)
{
  while (ar_head)
    {
      struct ar_block *b = ar_head;
      ar_head = b->next;
      free (b);
    }
  for (size_t i = 0; i < ar_n_json; i++)
    cJSON_Delete (ar_json[i]);
  free (ar_json);
  ar_json = NULL;
  ar_n_json = ar_cap_json = 0;
}

static void
ar_register (void)
{
  if (!ar_registered)
    {
      ar_registered = true;
      atexit (ar_free_all);
    }
}

void *
ar_alloc (size_t size)
{
  struct ar_block *b = calloc (1, sizeof *b + size);

  if (b == NULL)
    oom ();
  ar_register ();
  b->next = ar_head;
  ar_head = b;
  return b->data;
}

char *
ar_strdup (const char *s)
{
  size_t n = strlen (s);
  char *r = ar_alloc (n + 1);
  memcpy (r, s, n);
  return r;
}

char *
ar_printf (const char *fmt, ...)
{
  va_list ap;
  int n;
  char *r;

  va_start (ap, fmt);
  n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  if (n < 0)
    oom ();
  r = ar_alloc ((size_t) n + 1);
  va_start (ap, fmt);
  vsnprintf (r, (size_t) n + 1, fmt, ap);
  va_end (ap);
  return r;
}

void
ar_track_json (cJSON *j)
{
  if (j == NULL)
    return;
  ar_register ();
  if (ar_n_json == ar_cap_json)
    {
      size_t cap = ar_cap_json ? ar_cap_json * 2 : 8;
      cJSON **n = realloc (ar_json, cap * sizeof *n);
      if (n == NULL)
        oom ();
      ar_json = n;
      ar_cap_json = cap;
    }
  ar_json[ar_n_json++] = j;
}

int
validate_id (const char *id, struct tr_error *err)
{
  size_t n = strlen (id);

  if (n == 0)
    return tr_fail (err, 0, "container id cannot be empty");
  if (n > 1024)
    return tr_fail (err, 0, "invalid container id: longer than 1024 characters");
  if (strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
    return tr_fail (err, 0, "invalid container id format: %s", id);
  for (const char *p = id; *p; p++)
    if (!(isalnum ((unsigned char) *p) || *p == '_' || *p == '+' || *p == '-' || *p == '.'))
      return tr_fail (err, 0, "invalid container id format: %s (only [A-Za-z0-9_+.-] are allowed)",
                      id);
  return 0;
}

int
read_whole_file (const char *path, size_t max, char **out, size_t *len, struct tr_error *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  size_t cap = 4096, n = 0;
  char *buf;

  if (fd < 0)
    return tr_fail (err, errno, "open %s", path);
  buf = malloc (cap);
  if (buf == NULL)
    oom ();
  for (;;)
    {
      ssize_t r;
      if (n + 1 >= cap)
        {
          char *nb;
          if (cap >= max)
            {
              free (buf);
              return tr_fail (err, EFBIG, "read %s: larger than %zu bytes", path, max);
            }
          cap *= 2;
          nb = realloc (buf, cap);
          if (nb == NULL)
            oom ();
          buf = nb;
        }
      r = read (fd, buf + n, cap - n - 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          int e = errno;
          free (buf);
          return tr_fail (err, e, "read %s", path);
        }
      if (r == 0)
        break;
      n += (size_t) r;
    }
  buf[n] = '\0';
  *out = buf;
  if (len)
    *len = n;
  return 0;
}

int
write_file_atomic (const char *path, const char *data, size_t len, mode_t mode,
                   struct tr_error *err)
{
  char tmp[PATH_MAX];
  int fd;

  if (snprintf (tmp, sizeof tmp, "%s.tmp-%d", path, (int) getpid ()) >= (int) sizeof tmp)
    return tr_fail (err, ENAMETOOLONG, "write %s", path);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return tr_fail (err, errno, "write %s", path);
  while (len > 0)
    {
      ssize_t w = write (fd, data, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          int e = errno;
          close (fd);
          unlink (tmp);
          return tr_fail (err, e, "write %s", path);
        }
      data += w;
      len -= (size_t) w;
    }
  if (close (fd) < 0 || rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return tr_fail (err, e, "write %s", path);
    }
  return 0;
}

int
parse_signal (const char *s, int *out)
{
  char up[32];
  const char *name;
  size_t i;

  if (s == NULL || *s == '\0')
    return -1;
  if (isdigit ((unsigned char) *s))
    {
      char *end;
      long v = strtol (s, &end, 10);
      if (*end || v <= 0 || v > SIGRTMAX)
        return -1;
      *out = (int) v;
      return 0;
    }
  for (i = 0; s[i] && i < sizeof up - 1; i++)
    up[i] = (char) toupper ((unsigned char) s[i]);
  up[i] = '\0';
  name = strncmp (up, "SIG", 3) == 0 ? up + 3 : up;
  if (strncmp (name, "RTMIN", 5) == 0 || strncmp (name, "RTMAX", 5) == 0)
    {
      int base = name[3] == 'I' ? SIGRTMIN : SIGRTMAX;
      long off = 0;
      if (name[5])
        {
          char *end;
          off = strtol (name + 5, &end, 10);
          if (*end)
            return -1;
        }
      if (base + off < SIGRTMIN || base + off > SIGRTMAX)
        return -1;
      *out = (int) (base + off);
      return 0;
    }
  for (int sig = 1; sig < SIGRTMIN; sig++)
    {
      const char *abbrev = sigabbrev_np (sig);
      if (abbrev && strcmp (abbrev, name) == 0)
        {
          *out = sig;
          return 0;
        }
    }
  return -1;
}

const char *
signal_name (int sig)
{
  const char *a = sigabbrev_np (sig);
  return a ? a : "?";
}

unsigned long long
proc_start_time (pid_t pid, char *state)
{
  char path[64], buf[1024];
  struct tr_error e;
  char *p;
  unsigned long long v = 0;

  if (state)
    *state = '?';
  if (pid <= 0)
    return 0;
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  if (read_file_at (AT_FDCWD, path, buf, sizeof buf, &e) < 0)
    return 0;
  /* "pid (comm) S ppid ..." — comm may hold spaces and ')' */
  p = strrchr (buf, ')');
  if (p == NULL || p[1] != ' ')
    return 0;
  p += 2;
  if (state)
    *state = *p;
  /* state is field 3; starttime is field 22 */
  for (int field = 3; field < 22 && p; field++)
    {
      p = strchr (p, ' ');
      if (p)
        p++;
    }
  if (p)
    v = strtoull (p, NULL, 10);
  return v;
}

char *
json_pretty (const cJSON *j)
{
  /* cJSON indents with tabs; runc prints two spaces.  */
  char *s = cJSON_Print (j);
  size_t n, tabs = 0;
  char *r, *o;
  bool in_str = false;

  if (s == NULL)
    oom ();
  n = strlen (s);
  for (size_t i = 0; i < n; i++)
    tabs += s[i] == '\t';
  r = ar_alloc (n + tabs + 1);
  o = r;
  for (size_t i = 0; i < n; i++)
    {
      char c = s[i];
      if (in_str)
        {
          *o++ = c;
          if (c == '\\' && i + 1 < n)
            *o++ = s[++i];
          else if (c == '"')
            in_str = false;
          continue;
        }
      if (c == '"')
        in_str = true;
      if (c == '\t')
        {
          *o++ = ' ';
          *o++ = ' ';
        }
      else if (c == ':' && i + 1 < n && s[i + 1] == '\t')
        {
          *o++ = ':';
          *o++ = ' ';
          i++;
        }
      else
        *o++ = c;
    }
  *o = '\0';
  free (s);
  return r;
}

void
json_print_pretty (const cJSON *j)
{
  fputs (json_pretty (j), stdout);
  fputc ('\n', stdout);
}

int
mkdir_p (const char *path, mode_t mode, struct tr_error *err)
{
  char buf[PATH_MAX];
  size_t n = strlen (path);

  if (n >= sizeof buf)
    return tr_fail (err, ENAMETOOLONG, "mkdir %s", path);
  memcpy (buf, path, n + 1);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (buf, mode) < 0 && errno != EEXIST)
          return tr_fail (err, errno, "mkdir %s", buf);
        *p = '/';
      }
  if (mkdir (buf, mode) < 0 && errno != EEXIST)
    return tr_fail (err, errno, "mkdir %s", buf);
  return 0;
}

void
fds_cloexec_from (int first)
{
  if (close_range ((unsigned) first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return;
  /* Old kernels: walk the fds.  */
  for (int fd = first; fd < 65536; fd++)
    {
      int fl = fcntl (fd, F_GETFD);
      if (fl >= 0 && !(fl & FD_CLOEXEC))
        fcntl (fd, F_SETFD, fl | FD_CLOEXEC);
    }
}

/* The spec's SHOULD NOT: a capability the runtime's own bounding set lacks
 * (or this kernel does not have) does not fail the container; it is
 * dropped from every set with a warning.  Only for a container without a
 * new user namespace: one that gets its own starts with every capability
 * of that namespace.  */
void
oci_caps_fit_bounding (struct ct_caps *caps, const char *what)
{
  int last = caps_last_cap ();
  uint64_t all
      = caps->bounding | caps->effective | caps->permitted | caps->inheritable | caps->ambient;

  for (int c = 0; c <= 63; c++)
    {
      uint64_t bit = 1ull << c;
      if (!(all & bit) || (c <= last && prctl (PR_CAPBSET_READ, c, 0, 0, 0) == 1))
        continue;
      char name[40] = "?";
      if (caps_name (c))
        for (size_t i = 0; caps_name (c)[i] && i < sizeof name - 1; i++)
          name[i] = (char) toupper ((unsigned char) caps_name (c)[i]), name[i + 1] = '\0';
      log_warn ("%s: CAP_%s is not in the runtime's bounding set: dropped", what, name);
      caps->bounding &= ~bit;
      caps->effective &= ~bit;
      caps->permitted &= ~bit;
      caps->inheritable &= ~bit;
      caps->ambient &= ~bit;
    }
}
