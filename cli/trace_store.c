/* The trace file storage keeps (trace_store.h).  The default storage is
 * out of every workspace ($XDG_STATE_HOME/tactus-run/storage), but a
 * --storage-path may lie inside the workspace the procedure may write: a
 * procedure could plant a symlink there (.tactus/storage/traces -> the
 * user's files) for the next run's host to write through, so every
 * component under the current directory is opened refusing symlinks, and
 * the file itself is created new (O_EXCL | O_NOFOLLOW).  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/trace_store.h"
#include "common/cleanup.h"

static int
open_no_symlinks (int dirfd, const char *path)
{
  struct open_how how
      = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
          .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  return (int) syscall (SYS_openat2, dirfd, path, &how, sizeof how);
}

/* Open (and with CREATE make) the directory REL under DIRFD, one
 * component at a time, never through a symlink.  */
static int
open_beneath (int dirfd, const char *rel, bool create)
{
  char comp[NAME_MAX + 1];
  const char *p = rel;
  int cur = fcntl (dirfd, F_DUPFD_CLOEXEC, 0);

  while (*p == '/')
    p++;
  while (cur >= 0 && *p)
    {
      size_t n = strcspn (p, "/");
      int next;
      if (n > NAME_MAX)
        {
          close (cur);
          errno = ENAMETOOLONG;
          return -1;
        }
      memcpy (comp, p, n);
      comp[n] = '\0';
      if (strcmp (comp, "..") == 0)
        {
          close (cur);
          errno = EPERM;
          return -1;
        }
      if (create && mkdirat (cur, comp, 0700) < 0 && errno != EEXIST)
        {
          int e = errno;
          close (cur);
          errno = e;
          return -1;
        }
      next = open_no_symlinks (cur, comp);
      close (cur);
      cur = next;
      p += n;
      while (*p == '/')
        p++;
    }
  return cur;
}

int
trace_store_dir (const char *storage_dir, bool create, struct tr_error *err)
{
  char cwd[PATH_MAX], path[2 * PATH_MAX + 16];
  size_t n;
  int base, fd;

  if (getcwd (cwd, sizeof cwd) == NULL)
    return tr_fail (err, errno, "getcwd");
  /* A relative path is under the current directory: walked the same way.  */
  if (storage_dir[0] == '/')
    snprintf (path, sizeof path, "%s/traces", storage_dir);
  else
    snprintf (path, sizeof path, "%s/%s/traces", cwd, storage_dir);
  n = strlen (cwd);
  if (strncmp (path, cwd, n) == 0 && path[n] == '/')
    {
      /* Under the workspace: nothing may be a symlink.  */
      base = open (cwd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      fd = base < 0 ? -1 : open_beneath (base, path + n + 1, create);
    }
  else
    {
      /* A directory the user chose: its own path is trusted, the traces
       * directory in it is not followed if it is a symlink.  */
      base = open (storage_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (base < 0 && create && errno == ENOENT && mkdir (storage_dir, 0700) == 0)
        base = open (storage_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      fd = base < 0 ? -1 : open_beneath (base, "traces", create);
    }
  if (fd < 0)
    {
      int e = errno;
      if (base >= 0)
        close (base);
      return tr_fail (err, e, "%s%s", path,
                      e == ELOOP || e == EXDEV ? " (a symlink in the path; it is not followed)"
                                               : "");
    }
  close (base);
  return fd;
}

FILE *
trace_store_create (const char *storage_dir, const char *procedure, char *run_id, size_t size,
                    struct tr_error *err)
{
  cleanup_close int dir = trace_store_dir (storage_dir, true, err);
  char name[96], file[160];
  struct timespec ts;
  struct tm tm;
  size_t i;
  int fd;
  FILE *f;

  if (dir < 0)
    return NULL;
  for (i = 0; procedure && procedure[i] && i < 64; i++)
    {
      char c = procedure[i];
      name[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                        || c == '-' || c == '_'
                    ? c
                    : '_';
    }
  name[i] = '\0';
  if (i == 0)
    snprintf (name, sizeof name, "main");
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  snprintf (run_id, size, "%s-%04d%02d%02d-%02d%02d%02d-%04lx", name, tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (unsigned long) ((ts.tv_nsec / 1000) ^ getpid ()) & 0xffff);
  snprintf (file, sizeof file, "%s.jsonl", run_id);
  fd = openat (dir, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      tr_fail (err, errno, "%s/traces/%s", storage_dir, file);
      return NULL;
    }
  f = fdopen (fd, "w");
  if (f == NULL)
    {
      tr_fail (err, errno, "%s/traces/%s", storage_dir, file);
      close (fd);
    }
  return f;
}
