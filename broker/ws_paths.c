/* The VM's files (broker/workspace.c): paths, their resolution beneath
 * the workspace (openat2, or the equivalent walk), the owner's identity,
 * and the view the VM has (the overlay's upper layer over the host).  */
#define _GNU_SOURCE
#define TR_BROKER_WS_INTERNAL
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker/internal.h"
#include "broker/overlay.h"
#include "broker/trace.h"
#include "broker/workspace.h"
#include "common/cleanup.h"
#include "common/protected.h"
#include "common/strv.h"
#include "common/userdir.h"

/* ---- paths ---------------------------------------------------------------- */

int
ws_fail (struct ws_error *e, const char *type, const char *fmt, ...)
{
  va_list ap;

  e->type = type;
  va_start (ap, fmt);
  vsnprintf (e->msg, sizeof e->msg, fmt, ap);
  va_end (ap);
  return -1;
}

/* An errno as the message the VM shows (the same words as the kernel's,
 * with what to do for the common cases).  */
int
ws_errno (struct ws_error *e, const char *path, int errnum)
{
  switch (errnum)
    {
    case ELOOP:
      return ws_fail (e, "FileError", "'%.300s': is a symlink (symlinks are not followed)", path);
    case ENOSPC:
    case EDQUOT:
      return ws_fail (e, "FileError", "'%.300s': the disk is full", path);
    case EFBIG:
      return ws_fail (e, "FileError", "'%.300s': the file size limit was reached", path);
    default:
      return ws_fail (e, "FileError", "'%.300s': %s", path, strerror (errnum));
    }
}

int
broker_ws_check_path (const char *path, char *norm, size_t size, const char **why)
{
  const char *p = path;
  size_t out = 0;

  *why = NULL;
  if (path == NULL || path[0] == '\0')
    *why = "the path must be a non-empty string";
  else if (path[0] == '/')
    *why = "absolute paths are not allowed; use a path relative to the workspace";
  else if (strlen (path) >= WS_PATH_MAX || strlen (path) >= size)
    *why = "the path is too long";
  if (*why)
    return -1;
  while (*p)
    {
      size_t n = strcspn (p, "/");
      if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.'))
        {
          *why = "'..' and empty path components are not allowed";
          return -1;
        }
      if (n > 255)
        {
          *why = "path component too long";
          return -1;
        }
      if (!(n == 1 && p[0] == '.'))
        {
          if (out)
            norm[out++] = '/';
          memcpy (norm + out, p, n);
          out += n;
        }
      p += n;
      if (*p == '/')
        {
          p++;
          if (*p == '\0')
            {
              *why = "'..' and empty path components are not allowed";
              return -1;
            }
        }
    }
  if (out == 0)
    norm[out++] = '.';
  norm[out] = '\0';
  return 0;
}

/* The root NORM lies under (the longest volume target that is a prefix of
 * it, component-wise, else the workspace); *REST is what is left ("" for
 * the root itself).  */
size_t
ws_pick_root (const struct broker_workspace *ws, const char *norm, const char **rest)
{
  size_t best = 0, best_len = 0;

  *rest = strcmp (norm, ".") == 0 ? "" : norm;
  for (size_t i = 1; i < ws->n_roots; i++)
    {
      const struct ws_root *r = &ws->roots[i];
      if (r->target_len > best_len && strncmp (norm, r->target, r->target_len) == 0
          && (norm[r->target_len] == '\0' || norm[r->target_len] == '/'))
        best = i, best_len = r->target_len;
    }
  if (best)
    *rest = norm + best_len + (norm[best_len] == '/');
  return best;
}

/* Whether NORM is a proper prefix of a volume target (a directory that
 * exists only because a volume lies below it).  */
bool
ws_volume_parent (const struct broker_workspace *ws, const char *norm)
{
  size_t len = strlen (norm);

  for (size_t i = 1; i < ws->n_roots; i++)
    if (strcmp (norm, ".") == 0
        || (ws->roots[i].target_len > len && strncmp (ws->roots[i].target, norm, len) == 0
            && ws->roots[i].target[len] == '/'))
      return true;
  return false;
}

int
broker_ws_open_beneath (int dirfd, const char *rel, int flags, bool force_walk)
{
  const unsigned long long resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

  if (rel[0] == '\0')
    return flags & O_PATH ? fcntl (dirfd, F_DUPFD_CLOEXEC, 0)
                          : openat (dirfd, ".", flags | O_CLOEXEC);
  /* common/userdir.c: openat2, or the same walk where the kernel has none.  */
  return force_walk ? tr_openat2_walk (dirfd, rel, flags | O_CLOEXEC, resolve)
                    : tr_openat2 (dirfd, rel, flags | O_CLOEXEC, resolve);
}

/* The directory that holds REST's last component, beneath ROOTFD; *BASE
 * is that component ("." when REST is the root itself).  */
int
ws_open_parent (const struct broker_workspace *ws, int rootfd, const char *rest, char *buf,
                size_t size, const char **base)
{
  const char *slash = strrchr (rest, '/');

  (void) ws;
  if (rest[0] == '\0')
    {
      *base = ".";
      return fcntl (rootfd, F_DUPFD_CLOEXEC, 0);
    }
  if (slash == NULL)
    {
      *base = rest;
      return fcntl (rootfd, F_DUPFD_CLOEXEC, 0);
    }
  snprintf (buf, size, "%.*s", (int) (slash - rest), rest);
  *base = slash + 1;
  return broker_ws_open_beneath (rootfd, buf, O_PATH | O_DIRECTORY, broker_ws_force_walk);
}

int
ws_parent_error (struct ws_error *e, const char *path, int errnum)
{
  if (errnum == ELOOP || errnum == ENOTDIR || errnum == EXDEV)
    return ws_fail (e, "FileError",
                    "'%.300s': a directory in the path is a symlink or not a directory "
                    "(symlinks are not followed)",
                    path);
  return ws_errno (e, path, errnum);
}

/* A new open file description of the object O_PATH fd FD refers to (the
 * same inode: nothing can be swapped in between).  */
int
ws_reopen (int fd, int flags)
{
  char proc[64];

  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  return open (proc, flags | O_CLOEXEC | O_NOCTTY);
}

/* ---- identity --------------------------------------------------------------- */

/* Raw syscalls: they change this thread only (glibc's wrappers would
 * change every thread of the launcher).  */
int
ws_id_enter (const struct broker_workspace *ws)
{
  if (!ws->switch_id)
    return 0;
  if (syscall (SYS_setgroups, 0, NULL) < 0)
    return -1;
  syscall (SYS_setfsgid, ws->gid);
  syscall (SYS_setfsuid, ws->uid);
  /* setfs*id report nothing on failure: read them back.  */
  if ((uid_t) syscall (SYS_setfsuid, -1) != ws->uid
      || (gid_t) syscall (SYS_setfsgid, -1) != ws->gid)
    return -1;
  return 0;
}

void
ws_id_leave (const struct broker_workspace *ws)
{
  if (!ws->switch_id)
    return;
  syscall (SYS_setfsuid, 0);
  syscall (SYS_setfsgid, getegid ());
  syscall (SYS_setgroups, ws->ngroups, ws->groups);
}

/* ---- the merged view -------------------------------------------------------- */

const char *
ws_type_name (enum ws_type t)
{
  static const char *const names[] = { "none", "file", "dir", "symlink", "other" };
  return names[t];
}

enum ws_type
ws_mode_type (mode_t m)
{
  return S_ISREG (m) ? WS_FILE : S_ISDIR (m) ? WS_DIR : S_ISLNK (m) ? WS_SYMLINK : WS_OTHER;
}

/* What NORM is on the host beneath root R (REST below it); ENOENT and a
 * missing parent are WS_NONE, a symlinked parent is an error.  */
int
ws_lower_stat (const struct broker_workspace *ws, size_t r, const char *rest, const char *path,
               enum ws_type *type, off_t *size, struct ws_error *e)
{
  char buf[WS_PATH_MAX];
  const char *base;
  cleanup_close int dir = ws_open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
  struct stat st;

  *type = WS_NONE;
  *size = 0;
  if (dir < 0)
    return errno == ENOENT ? 0 : ws_parent_error (e, path, errno);
  if (fstatat (dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0 : ws_errno (e, path, errno);
  *type = ws_mode_type (st.st_mode);
  *size = st.st_size;
  return 0;
}

/* What NORM is in the view the VM has (the overlay's upper layer over the
 * host, volume mount points included).  */
int
ws_merged_stat (const struct broker_workspace *ws, const char *path, const char *norm,
                enum ws_type *type, off_t *size, struct ws_error *e)
{
  const char *rest;
  size_t r = ws_pick_root (ws, norm, &rest);
  int memfd = -1;
  struct stat st;

  *type = WS_NONE;
  *size = 0;
  if (r == 0 && ws->ov)
    switch (overlay_lookup (ws->ov, norm, &memfd))
      {
      case OVERLAY_FILE:
        *type = WS_FILE;
        *size = fstat (memfd, &st) == 0 ? st.st_size : 0;
        return 0;
      case OVERLAY_DIR:
        *type = WS_DIR;
        return 0;
      case OVERLAY_GONE:
      case OVERLAY_NOTDIR:
        return 0;
      case OVERLAY_LOWER:
        break;
      }
  if (ws_lower_stat (ws, r, rest, path, type, size, e) < 0)
    return -1;
  if (*type == WS_NONE && ws_volume_parent (ws, norm))
    *type = WS_DIR;
  return 0;
}

void
ws_dirname (const char *norm, char *buf, size_t size)
{
  const char *slash = strrchr (norm, '/');
  if (slash == NULL)
    snprintf (buf, size, ".");
  else
    snprintf (buf, size, "%.*s", (int) (slash - norm), norm);
}

/* The parent of NORM must be a directory of the merged view.  */
int
ws_need_parent_dir (const struct broker_workspace *ws, const char *path, const char *norm,
                    struct ws_error *e)
{
  char parent[WS_PATH_MAX];
  enum ws_type t;
  off_t size;

  ws_dirname (norm, parent, sizeof parent);
  if (ws_merged_stat (ws, path, parent, &t, &size, e) < 0)
    return -1;
  if (t == WS_NONE)
    return ws_errno (e, path, ENOENT);
  if (t != WS_DIR)
    return ws_errno (e, path, ENOTDIR);
  return 0;
}

int
ws_new_memfd (void)
{
  return memfd_create ("tactus-overlay", MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

/* Copy what FROM holds into a new memfd (an overlay copy-up).  */
int
ws_copy_to_memfd (int from, off_t size)
{
  int m = ws_new_memfd ();
  off_t off = 0;

  if (m < 0)
    return -1;
  while (off < size)
    {
      ssize_t n = sendfile (m, from, &off, (size_t) (size - off));
      if (n <= 0)
        {
          int e = n == 0 ? EIO : errno;
          if (n < 0 && errno == EINTR)
            continue;
          close (m);
          errno = e;
          return -1;
        }
    }
  return m;
}

/* The host file NORM as an open descriptor for reading (O_PATH, checked,
 * reopened).  */
int
ws_lower_open_read (const struct broker_workspace *ws, size_t r, const char *rest, const char *path,
                    off_t *size, struct ws_error *e)
{
  char buf[WS_PATH_MAX];
  const char *base;
  cleanup_close int dir = ws_open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
  cleanup_close int o = -1;
  struct stat st;
  int fd;

  if (dir < 0)
    return ws_parent_error (e, path, errno);
  o = openat (dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (o < 0)
    return ws_errno (e, path, errno);
  if (fstat (o, &st) < 0)
    return ws_errno (e, path, errno);
  if (S_ISLNK (st.st_mode))
    return ws_errno (e, path, ELOOP);
  if (!S_ISREG (st.st_mode))
    return ws_fail (e, "FileError", "'%.300s': not a regular file", path);
  fd = ws_reopen (o, O_RDONLY);
  if (fd < 0)
    return ws_errno (e, path, errno);
  *size = st.st_size;
  return fd;
}
