/* The VM's files.  The VM's cage holds no host directory at all: File.*,
 * tactus.io.* and local modules ask the broker, which opens the path
 * beneath the workspace and hands the VM the open descriptor over the
 * socketpair (SCM_RIGHTS), so the VM reads and writes it directly and
 * large files cost no copies (docs/protocol.md "Files").
 *
 * Why this is safe:
 *   - a path is relative, without '..' or empty components, and every
 *     directory is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 *     | RESOLVE_NO_MAGICLINKS): the kernel refuses a symlink anywhere in
 *     it, so no path leads out, whatever the VM (or anyone) swaps in
 *     between two calls.  Kernels without openat2 get the equivalent walk,
 *     one component at a time with O_NOFOLLOW from a held directory fd;
 *   - the last component is opened with O_PATH | O_NOFOLLOW, checked to be
 *     a regular file, then reopened through /proc/self/fd: a FIFO cannot
 *     block the broker, a device node is never opened;
 *   - the workspace mode (rw, ro, overlay, off), read-only volumes and the
 *     protected paths (common/protected.h) are decided here, in one place,
 *     before anything is opened for writing;
 *   - a root launcher does the work with the workspace owner's file-system
 *     ids (setfsuid/setfsgid, no supplementary groups) on this thread only,
 *     as the sandbox root mapped to that owner would: created files belong
 *     to the owner and the kernel checks permissions for the owner;
 *   - a write goes to an O_EXCL temporary beside the target, renamed into
 *     place on fs.commit, so a full disk never leaves half a file; what a
 *     run leaves uncommitted is removed when it ends.
 * Every access is a file_access trace event; a refused write is also a
 * policy_violation event.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
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

#define WS_MAX_HANDLES 4
#define WS_MAX_VOLUMES 32
#define WS_PATH_MAX 4096
#define DEFAULT_OVERLAY_BYTES (64ull << 20)
#define MAX_MODULE_SIZE (4 << 20)

/* The workspace itself (index 0) and the volumes beneath it.  */
struct ws_root
{
  char *target; /* "" for the workspace, else "data", "vol/x" */
  size_t target_len;
  int fd; /* O_PATH directory */
  bool writable;
};

/* A file the VM has open for writing.  */
struct ws_handle
{
  bool used;
  bool append;
  bool overlay; /* FD is a memfd for the overlay's upper layer */
  int dirfd;    /* the directory holding the target (not for overlay) */
  char *path;   /* normalized, for the overlay and the trace */
  char base[256];
  char tmp[300]; /* the temporary beside the target ("" for append) */
  int fd;        /* the broker's own copy */
  off_t start;   /* append: the size when opened */
};

struct broker_workspace
{
  enum broker_ws_mode mode;
  struct ws_root roots[1 + WS_MAX_VOLUMES];
  size_t n_roots;
  char **protected;
  struct overlay *ov;
  struct ws_handle h[WS_MAX_HANDLES];
  unsigned serial; /* handles and temporary names */
  uid_t owner_uid; /* the workspace directory's owner */
  gid_t owner_gid;
  /* A root launcher's file-system identity for the work (see above).  */
  bool switch_id;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  int ngroups;
};

bool broker_ws_force_walk;

/* ---- paths ---------------------------------------------------------------- */

/* The error of a request: its type (docs/protocol.md) and message.  */
struct ws_error
{
  const char *type;
  char msg[700];
  bool violation; /* a refused write: also a policy_violation event */
};

static int ws_fail (struct ws_error *e, const char *type, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
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
static int
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
static size_t
pick_root (const struct broker_workspace *ws, const char *norm, const char **rest)
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
static bool
volume_parent (const struct broker_workspace *ws, const char *norm)
{
  size_t len = strlen (norm);

  for (size_t i = 1; i < ws->n_roots; i++)
    if (strcmp (norm, ".") == 0
        || (ws->roots[i].target_len > len && strncmp (ws->roots[i].target, norm, len) == 0
            && ws->roots[i].target[len] == '/'))
      return true;
  return false;
}

/* The component-by-component equivalent of openat2's RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS for a path without '..': each directory opened with
 * O_NOFOLLOW from the one before.  */
static int
walk_beneath (int dirfd, const char *rel, int flags)
{
  char comp[256];
  const char *p = rel;
  int cur = fcntl (dirfd, F_DUPFD_CLOEXEC, 0);

  while (cur >= 0 && *p)
    {
      size_t n = strcspn (p, "/");
      int next, e;
      if (n == 0 || n >= sizeof comp || (n == 2 && p[0] == '.' && p[1] == '.'))
        {
          close (cur);
          errno = n == 0 || n >= sizeof comp ? ENOENT : EXDEV;
          return -1;
        }
      memcpy (comp, p, n);
      comp[n] = '\0';
      p += n;
      while (*p == '/')
        p++;
      next = openat (cur, comp, (*p ? O_PATH | O_DIRECTORY : flags) | O_NOFOLLOW | O_CLOEXEC);
      e = errno;
      /* O_DIRECTORY | O_NOFOLLOW says ENOTDIR for a symlink: say ELOOP,
       * as openat2 does.  */
      if (next < 0 && (e == ENOTDIR || e == ELOOP))
        {
          struct stat st;
          if (fstatat (cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
            e = ELOOP;
        }
      close (cur);
      errno = e;
      cur = next;
    }
  return cur;
}

int
broker_ws_open_beneath (int dirfd, const char *rel, int flags, bool force_walk)
{
  const unsigned long long resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

  if (rel[0] == '\0')
    return flags & O_PATH ? fcntl (dirfd, F_DUPFD_CLOEXEC, 0) : openat (dirfd, ".", flags);
  if (!force_walk)
    for (int tries = 0; tries < 16; tries++)
      {
        struct open_how how = { .flags = (unsigned long long) (flags | O_CLOEXEC),
                                .resolve = resolve };
        int fd = (int) syscall (SYS_openat2, dirfd, rel, &how, sizeof how);
        if (fd >= 0 || (errno != EAGAIN && errno != ENOSYS))
          return fd;
        if (errno == ENOSYS)
          break;
      }
  return walk_beneath (dirfd, rel, flags);
}

/* The directory that holds REST's last component, beneath ROOTFD; *BASE
 * is that component ("." when REST is the root itself).  */
static int
open_parent (const struct broker_workspace *ws, int rootfd, const char *rest, char *buf,
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

static int
parent_error (struct ws_error *e, const char *path, int errnum)
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
static int
reopen (int fd, int flags)
{
  char proc[64];

  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  return open (proc, flags | O_CLOEXEC | O_NOCTTY);
}

/* ---- identity --------------------------------------------------------------- */

/* Raw syscalls: they change this thread only (glibc's wrappers would
 * change every thread of the launcher).  */
static int
id_enter (const struct broker_workspace *ws)
{
  if (!ws->switch_id)
    return 0;
  if (syscall (SYS_setgroups, 0, NULL) < 0)
    return -1;
  syscall (SYS_setfsgid, ws->gid);
  syscall (SYS_setfsuid, ws->uid);
  /* setfs*id report nothing on failure: read them back.  */
  if ((uid_t) syscall (SYS_setfsuid, -1) != ws->uid || (gid_t) syscall (SYS_setfsgid, -1) != ws->gid)
    return -1;
  return 0;
}

static void
id_leave (const struct broker_workspace *ws)
{
  if (!ws->switch_id)
    return;
  syscall (SYS_setfsuid, 0);
  syscall (SYS_setfsgid, getegid ());
  syscall (SYS_setgroups, ws->ngroups, ws->groups);
}

/* ---- open and close --------------------------------------------------------- */

int
broker_workspace_open (const struct broker_workspace_spec *spec, struct broker_workspace **out,
                       struct tr_error *err)
{
  cleanup_free struct broker_workspace *ws = calloc (1, sizeof *ws);
  const char *const *prot = spec->protected_paths ? spec->protected_paths : protected_defaults;
  struct stat st;

  *out = NULL;
  if (ws == NULL)
    return tr_fail (err, ENOMEM, "workspace");
  ws->mode = spec->mode;
  for (size_t i = 0; i < WS_MAX_HANDLES; i++)
    ws->h[i].fd = ws->h[i].dirfd = -1;
  for (size_t i = 0; i < 1 + WS_MAX_VOLUMES; i++)
    ws->roots[i].fd = -1;
  for (const char *const *p = prot; *p; p++)
    if (strv_push (&ws->protected, *p) < 0)
      goto nomem;
  if (ws->protected == NULL && strv_push (&ws->protected, "") < 0)
    goto nomem;
  if (spec->mode == BROKER_WS_OFF)
    {
      *out = steal_ptr (&ws);
      return 0;
    }
  ws->roots[0].target = strdup ("");
  ws->roots[0].fd = open (spec->dir ? spec->dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  ws->roots[0].writable = spec->mode != BROKER_WS_RO;
  ws->n_roots = 1;
  if (ws->roots[0].fd < 0 || fstat (ws->roots[0].fd, &st) < 0)
    {
      int e = errno;
      broker_workspace_close (steal_ptr (&ws));
      return tr_fail (err, e,
                      "workspace %s: cannot open it (pass an existing directory, or turn the "
                      "workspace off: sandbox.mount_current_dir: false)",
                      spec->dir ? spec->dir : ".");
    }
  ws->owner_uid = st.st_uid;
  ws->owner_gid = st.st_gid;
  if (geteuid () == 0)
    {
      /* The sandbox maps its root to the workspace owner (docs/sandbox.md);
       * the broker acts as that owner too.  */
      ws->switch_id = true;
      ws->uid = st.st_uid;
      ws->gid = st.st_gid;
      ws->ngroups = getgroups (0, NULL);
      if (ws->ngroups > 0)
        {
          ws->groups = calloc ((size_t) ws->ngroups, sizeof *ws->groups);
          if (ws->groups == NULL || getgroups (ws->ngroups, ws->groups) < 0)
            ws->ngroups = 0;
        }
      else
        ws->ngroups = 0;
    }
  for (size_t i = 0; i < spec->n_volumes; i++)
    {
      const struct broker_volume *v = &spec->volumes[i];
      char norm[WS_PATH_MAX];
      const char *why;
      struct ws_root *r;

      if (ws->n_roots > WS_MAX_VOLUMES)
        {
          broker_workspace_close (steal_ptr (&ws));
          return tr_fail (err, 0, "sandbox.volumes: at most %d volumes beneath /workspace",
                          WS_MAX_VOLUMES);
        }
      if (broker_ws_check_path (v->target, norm, sizeof norm, &why) < 0
          || strcmp (norm, ".") == 0)
        {
          broker_workspace_close (steal_ptr (&ws));
          return tr_fail (err, 0, "sandbox.volumes: target /workspace/%s: %s", v->target,
                          why ? why : "the workspace itself cannot be a volume");
        }
      /* The target is served by name, never mounted, but a directory on
       * its way that is a symlink (or a file) in the workspace makes the
       * configuration mean two things: refused.  */
      for (char *slash = strchr (norm, '/'); slash; slash = strchr (slash + 1, '/'))
        {
          int fd;
          *slash = '\0';
          fd = broker_ws_open_beneath (ws->roots[0].fd, norm, O_PATH | O_DIRECTORY, false);
          if (fd < 0 && errno != ENOENT)
            {
              int e = errno;
              broker_workspace_close (steal_ptr (&ws));
              return tr_fail (err, e,
                              "sandbox.volumes: target /workspace/%s: /workspace/%s is a symlink "
                              "or not a directory in the workspace (a volume is never served "
                              "through a symlink)",
                              v->target, norm);
            }
          *slash = '/';
          if (fd < 0)
            break;
          close (fd);
        }
      r = &ws->roots[ws->n_roots++];
      r->target = strdup (norm);
      r->target_len = strlen (norm);
      r->writable = v->writable;
      r->fd = open (v->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (r->target == NULL || r->fd < 0)
        {
          int e = r->target ? errno : ENOMEM;
          broker_workspace_close (steal_ptr (&ws));
          return tr_fail (err, e, "sandbox.volumes: %s -> /workspace/%s: open the source",
                          v->source, norm);
        }
    }
  if (spec->mode == BROKER_WS_OVERLAY)
    {
      ws->ov = overlay_new (spec->overlay_bytes ? spec->overlay_bytes : DEFAULT_OVERLAY_BYTES);
      if (ws->ov == NULL)
        goto nomem;
    }
  *out = steal_ptr (&ws);
  return 0;
nomem:
  broker_workspace_close (steal_ptr (&ws));
  return tr_fail (err, ENOMEM, "workspace");
}

bool
broker_workspace_owner (const struct broker_workspace *ws, uid_t *uid, gid_t *gid)
{
  if (ws == NULL || ws->n_roots == 0)
    return false;
  *uid = ws->owner_uid;
  *gid = ws->owner_gid;
  return true;
}

static void
handle_release (struct broker_workspace *ws, struct ws_handle *h, bool remove_tmp)
{
  if (!h->used)
    return;
  if (remove_tmp && h->tmp[0] && h->dirfd >= 0)
    {
      id_enter (ws);
      unlinkat (h->dirfd, h->tmp, 0);
      id_leave (ws);
    }
  if (h->fd >= 0)
    close (h->fd);
  if (h->dirfd >= 0)
    close (h->dirfd);
  free (h->path);
  memset (h, 0, sizeof *h);
  h->fd = h->dirfd = -1;
}

void
broker_workspace_close (struct broker_workspace *ws)
{
  if (ws == NULL)
    return;
  for (size_t i = 0; i < WS_MAX_HANDLES; i++)
    handle_release (ws, &ws->h[i], true);
  for (size_t i = 0; i < 1 + WS_MAX_VOLUMES; i++)
    {
      if (ws->roots[i].fd >= 0)
        close (ws->roots[i].fd);
      free (ws->roots[i].target);
    }
  overlay_free (ws->ov);
  strv_free (ws->protected);
  free (ws->groups);
  free (ws);
}

/* ---- policy: one place ------------------------------------------------------ */

static const char *
mode_name (enum broker_ws_mode m)
{
  return m == BROKER_WS_RO ? "ro" : m == BROKER_WS_OVERLAY ? "overlay" : m == BROKER_WS_OFF ? "off" : "rw";
}

/* May the run change PATH (NORM, under root R)?  */
static int
may_write (const struct broker_workspace *ws, size_t r, const char *path, const char *norm,
           struct ws_error *e)
{
  const char *entry = NULL;
  size_t len;

  if (protected_component ((const char *const *) ws->protected, norm, &len, &entry))
    {
      e->violation = true;
      return ws_fail (e, "PermissionDenied",
                      "PermissionDenied: '%.300s' is protected (sandbox.protected_paths)", path);
    }
  if (!ws->roots[r].writable)
    {
      e->violation = true;
      if (r == 0)
        return ws_fail (e, "PermissionDenied",
                        "'%.300s': Read-only file system (PermissionDenied: the workspace is "
                        "read-only, sandbox.mount_current_dir: ro)",
                        path);
      return ws_fail (e, "PermissionDenied",
                      "'%.300s': Read-only file system (PermissionDenied: the volume at "
                      "/workspace/%s is read-only)",
                      path, ws->roots[r].target);
    }
  return 0;
}

/* ---- the trace ---------------------------------------------------------------- */

static void
access_event (struct broker_state *b, const char *op, const char *path, const char *to,
              long long bytes, const struct ws_error *e)
{
  cJSON *ev = cJSON_CreateObject ();

  cJSON_AddStringToObject (ev, "event_type", "file_access");
  cJSON_AddStringToObject (ev, "operation", op);
  cJSON_AddStringToObject (ev, "path", path ? path : "");
  if (to)
    cJSON_AddStringToObject (ev, "to", to);
  if (bytes >= 0)
    cJSON_AddNumberToObject (ev, "bytes", (double) bytes);
  if (b->o->workspace)
    cJSON_AddStringToObject (ev, "workspace_mode", mode_name (b->o->workspace->mode));
  cJSON_AddStringToObject (ev, "status",
                           e == NULL                                   ? "ok"
                           : strcmp (e->type, "PermissionDenied") == 0 ? "denied"
                                                                       : "failed");
  if (e)
    cJSON_AddStringToObject (ev, "message", e->msg);
  trace_event (b->o->trace, ev);
  cJSON_Delete (ev);
  if (e && e->violation)
    {
      ev = cJSON_CreateObject ();
      cJSON_AddStringToObject (ev, "event_type", "policy_violation");
      cJSON_AddStringToObject (ev, "level", "WARNING");
      cJSON_AddStringToObject (ev, "operation", op);
      cJSON_AddStringToObject (ev, "path", path ? path : "");
      {
        char msg[800];
        snprintf (msg, sizeof msg, "File %s refused: %s", op, e->msg);
        cJSON_AddStringToObject (ev, "message", msg);
      }
      trace_event (b->o->trace, ev);
      cJSON_Delete (ev);
    }
}

/* ---- the merged view -------------------------------------------------------- */

enum ws_type
{
  WS_NONE = 0,
  WS_FILE,
  WS_DIR,
  WS_SYMLINK,
  WS_OTHER,
};

static const char *
type_name (enum ws_type t)
{
  static const char *const names[] = { "none", "file", "dir", "symlink", "other" };
  return names[t];
}

static enum ws_type
mode_type (mode_t m)
{
  return S_ISREG (m) ? WS_FILE : S_ISDIR (m) ? WS_DIR : S_ISLNK (m) ? WS_SYMLINK : WS_OTHER;
}

/* What NORM is on the host beneath root R (REST below it); ENOENT and a
 * missing parent are WS_NONE, a symlinked parent is an error.  */
static int
lower_stat (const struct broker_workspace *ws, size_t r, const char *rest, const char *path,
            enum ws_type *type, off_t *size, struct ws_error *e)
{
  char buf[WS_PATH_MAX];
  const char *base;
  cleanup_close int dir = open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
  struct stat st;

  *type = WS_NONE;
  *size = 0;
  if (dir < 0)
    return errno == ENOENT ? 0 : parent_error (e, path, errno);
  if (fstatat (dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0 : ws_errno (e, path, errno);
  *type = mode_type (st.st_mode);
  *size = st.st_size;
  return 0;
}

/* What NORM is in the view the VM has (the overlay's upper layer over the
 * host, volume mount points included).  */
static int
merged_stat (const struct broker_workspace *ws, const char *path, const char *norm,
             enum ws_type *type, off_t *size, struct ws_error *e)
{
  const char *rest;
  size_t r = pick_root (ws, norm, &rest);
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
  if (lower_stat (ws, r, rest, path, type, size, e) < 0)
    return -1;
  if (*type == WS_NONE && volume_parent (ws, norm))
    *type = WS_DIR;
  return 0;
}

static void
dirname_of (const char *norm, char *buf, size_t size)
{
  const char *slash = strrchr (norm, '/');
  if (slash == NULL)
    snprintf (buf, size, ".");
  else
    snprintf (buf, size, "%.*s", (int) (slash - norm), norm);
}

/* The parent of NORM must be a directory of the merged view.  */
static int
need_parent_dir (const struct broker_workspace *ws, const char *path, const char *norm,
                 struct ws_error *e)
{
  char parent[WS_PATH_MAX];
  enum ws_type t;
  off_t size;

  dirname_of (norm, parent, sizeof parent);
  if (merged_stat (ws, path, parent, &t, &size, e) < 0)
    return -1;
  if (t == WS_NONE)
    return ws_errno (e, path, ENOENT);
  if (t != WS_DIR)
    return ws_errno (e, path, ENOTDIR);
  return 0;
}

static int
new_memfd (void)
{
  return memfd_create ("tactus-overlay", MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

/* Copy what FROM holds into a new memfd (an overlay copy-up).  */
static int
copy_to_memfd (int from, off_t size)
{
  int m = new_memfd ();
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
static int
lower_open_read (const struct broker_workspace *ws, size_t r, const char *rest, const char *path,
                 off_t *size, struct ws_error *e)
{
  char buf[WS_PATH_MAX];
  const char *base;
  cleanup_close int dir = open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
  cleanup_close int o = -1;
  struct stat st;
  int fd;

  if (dir < 0)
    return parent_error (e, path, errno);
  o = openat (dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (o < 0)
    return ws_errno (e, path, errno);
  if (fstat (o, &st) < 0)
    return ws_errno (e, path, errno);
  if (S_ISLNK (st.st_mode))
    return ws_errno (e, path, ELOOP);
  if (!S_ISREG (st.st_mode))
    return ws_fail (e, "FileError", "'%.300s': not a regular file", path);
  fd = reopen (o, O_RDONLY);
  if (fd < 0)
    return ws_errno (e, path, errno);
  *size = st.st_size;
  return fd;
}

/* ---- the methods ----------------------------------------------------------- */

/* What a method hands back: DATA for the done event, FD for the VM (closed
 * after the reply when OWN_FD), BYTES and TO for the trace event.  */
struct ws_result
{
  cJSON *data;
  int fd;
  bool own_fd;
  long long bytes;
  char to[WS_PATH_MAX];
};

enum
{
  WS_VIOLATION = -2, /* bad params: a protocol violation */
};

static const char *
param_str (const cJSON *params, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (params, key);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

static struct ws_handle *
new_handle (struct broker_workspace *ws, struct ws_error *e)
{
  for (size_t i = 0; i < WS_MAX_HANDLES; i++)
    if (!ws->h[i].used)
      {
        struct ws_handle *h = &ws->h[i];
        memset (h, 0, sizeof *h);
        h->used = true;
        h->fd = h->dirfd = -1;
        return h;
      }
  ws_fail (e, "FileError",
           "more than %d files open for writing at once (each write ends with fs.commit)",
           WS_MAX_HANDLES);
  return NULL;
}

static double
handle_id (const struct broker_workspace *ws, const struct ws_handle *h)
{
  return (double) ((h - ws->h) + 1);
}

static int
op_read (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
         struct ws_error *e)
{
  const char *rest;
  size_t r = pick_root (ws, norm, &rest);
  off_t size = 0;
  int memfd = -1, fd;
  struct stat st;

  if (r == 0 && ws->ov)
    switch (overlay_lookup (ws->ov, norm, &memfd))
      {
      case OVERLAY_FILE:
        fd = reopen (memfd, O_RDONLY);
        if (fd < 0 || fstat (fd, &st) < 0)
          return ws_errno (e, path, errno);
        size = st.st_size;
        goto done;
      case OVERLAY_DIR:
        return ws_fail (e, "FileError", "'%.300s': not a regular file", path);
      case OVERLAY_GONE:
        return ws_errno (e, path, ENOENT);
      case OVERLAY_NOTDIR:
        return parent_error (e, path, ENOTDIR);
      case OVERLAY_LOWER:
        break;
      }
  fd = lower_open_read (ws, r, rest, path, &size, e);
  if (fd < 0)
    return -1;
done:
  res->fd = fd;
  res->own_fd = true;
  res->bytes = size;
  res->data = cJSON_CreateObject ();
  cJSON_AddNumberToObject (res->data, "size", (double) size);
  return 0;
}

static int
op_write (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
          struct ws_error *e)
{
  const char *rest;
  size_t r = pick_root (ws, norm, &rest);
  struct ws_handle *h;
  enum ws_type t;
  off_t size;

  if (may_write (ws, r, path, norm, e) < 0)
    return -1;
  if (rest[0] == '\0')
    return ws_errno (e, path, EISDIR);
  if (merged_stat (ws, path, norm, &t, &size, e) < 0)
    return -1;
  if (t == WS_DIR)
    return ws_errno (e, path, EISDIR);
  if (r == 0 && ws->ov)
    {
      if (need_parent_dir (ws, path, norm, e) < 0 || (h = new_handle (ws, e)) == NULL)
        return -1;
      h->overlay = true;
      h->fd = new_memfd ();
      h->path = strdup (norm);
      if (h->fd < 0 || h->path == NULL)
        {
          int err = h->fd < 0 ? errno : ENOMEM;
          handle_release (ws, h, false);
          return ws_errno (e, path, err);
        }
    }
  else
    {
      char buf[WS_PATH_MAX];
      const char *base;
      int dir = open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
      if (dir < 0)
        return parent_error (e, path, errno);
      if ((h = new_handle (ws, e)) == NULL)
        {
          close (dir);
          return -1;
        }
      h->dirfd = dir;
      h->path = strdup (norm);
      snprintf (h->base, sizeof h->base, "%s", base);
      for (int tries = 0; tries < 16 && h->fd < 0; tries++)
        {
          snprintf (h->tmp, sizeof h->tmp, ".%.200s.tmp-%d-%u", base, (int) getpid (),
                    ++ws->serial);
          h->fd = openat (dir, h->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (h->fd < 0 && errno != EEXIST)
            break;
        }
      if (h->fd < 0 || h->path == NULL)
        {
          int err = h->path ? errno : ENOMEM;
          h->tmp[0] = '\0';
          handle_release (ws, h, false);
          return ws_errno (e, path, err);
        }
    }
  res->fd = h->fd;
  res->own_fd = false;
  res->data = cJSON_CreateObject ();
  cJSON_AddNumberToObject (res->data, "handle", handle_id (ws, h));
  return 0;
}

static int
op_append (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
           struct ws_error *e)
{
  const char *rest;
  size_t r = pick_root (ws, norm, &rest);
  struct ws_handle *h;
  struct stat st;
  int fd = -1, memfd = -1;
  off_t size = 0;

  if (may_write (ws, r, path, norm, e) < 0)
    return -1;
  if (rest[0] == '\0')
    return ws_errno (e, path, EISDIR);
  if (r == 0 && ws->ov)
    {
      /* Appending makes a new upper file: a copy of what the run sees
       * there, sealed again when the append is committed.  */
      int src = -1, m;
      switch (overlay_lookup (ws->ov, norm, &memfd))
        {
        case OVERLAY_FILE:
          src = reopen (memfd, O_RDONLY);
          if (src < 0 || fstat (src, &st) < 0)
            return ws_errno (e, path, errno);
          size = st.st_size;
          break;
        case OVERLAY_DIR:
          return ws_errno (e, path, EISDIR);
        case OVERLAY_NOTDIR:
          return parent_error (e, path, ENOTDIR);
        case OVERLAY_GONE:
          if (need_parent_dir (ws, path, norm, e) < 0)
            return -1;
          break;
        case OVERLAY_LOWER:
          {
            enum ws_type t;
            off_t sz;
            if (merged_stat (ws, path, norm, &t, &sz, e) < 0)
              return -1;
            if (t == WS_DIR)
              return ws_errno (e, path, EISDIR);
            if (t == WS_NONE)
              {
                if (need_parent_dir (ws, path, norm, e) < 0)
                  return -1;
                break;
              }
            src = lower_open_read (ws, r, rest, path, &size, e);
            if (src < 0)
              return -1;
          }
          break;
        }
      if (!overlay_fits (ws->ov, norm, (uint64_t) size))
        {
          if (src >= 0)
            close (src);
          return ws_errno (e, path, ENOSPC);
        }
      m = src >= 0 ? copy_to_memfd (src, size) : new_memfd ();
      if (src >= 0)
        close (src);
      if (m < 0)
        return ws_errno (e, path, errno);
      fd = reopen (m, O_WRONLY | O_APPEND);
      if (fd < 0 || (h = new_handle (ws, e)) == NULL)
        {
          int err = errno;
          close (m);
          if (fd >= 0)
            close (fd);
          return fd < 0 ? ws_errno (e, path, err) : -1;
        }
      h->overlay = true;
      h->fd = m;
    }
  else
    {
      char buf[WS_PATH_MAX];
      const char *base;
      cleanup_close int dir = open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
      if (dir < 0)
        return parent_error (e, path, errno);
      for (int tries = 0; fd < 0 && tries < 8; tries++)
        {
          cleanup_close int o = openat (dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
          if (o < 0 && errno == ENOENT)
            {
              fd = openat (dir, base, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0644);
              if (fd < 0 && errno == EEXIST)
                continue;
              if (fd < 0)
                return ws_errno (e, path, errno);
              break;
            }
          if (o < 0 || fstat (o, &st) < 0)
            return ws_errno (e, path, errno);
          if (S_ISLNK (st.st_mode))
            return ws_errno (e, path, ELOOP);
          if (!S_ISREG (st.st_mode))
            return ws_fail (e, "FileError", "'%.300s': not a regular file", path);
          size = st.st_size;
          fd = reopen (o, O_WRONLY | O_APPEND);
          if (fd < 0)
            return ws_errno (e, path, errno);
        }
      if (fd < 0)
        return ws_errno (e, path, EAGAIN);
      if ((h = new_handle (ws, e)) == NULL)
        {
          close (fd);
          return -1;
        }
      h->fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
      if (h->fd < 0)
        {
          int err = errno;
          close (fd);
          handle_release (ws, h, false);
          return ws_errno (e, path, err);
        }
    }
  h->append = true;
  h->start = size;
  h->path = strdup (norm);
  if (h->path == NULL)
    {
      close (fd);
      handle_release (ws, h, false);
      return ws_errno (e, path, ENOMEM);
    }
  res->fd = fd;
  res->own_fd = true;
  res->data = cJSON_CreateObject ();
  cJSON_AddNumberToObject (res->data, "handle", handle_id (ws, h));
  cJSON_AddNumberToObject (res->data, "size", (double) size);
  return 0;
}

static struct ws_handle *
find_handle (struct broker_workspace *ws, const cJSON *params)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (params, "handle");
  double d;

  if (!cJSON_IsNumber (v))
    return NULL;
  d = v->valuedouble;
  if (!(d >= 1 && d <= WS_MAX_HANDLES) || d != (double) (int) d || !ws->h[(int) d - 1].used)
    return NULL;
  return &ws->h[(int) d - 1];
}

/* fs.commit: the write takes effect (the temporary renamed into place, or
 * the overlay's new file sealed and put in); fs.abort: it does not.  */
static int
op_commit (struct broker_state *b, struct broker_workspace *ws, const cJSON *params, bool abort_it,
           struct ws_result *res, struct ws_error *e, char *path, size_t size)
{
  struct ws_handle *h = find_handle (ws, params);
  struct stat st;

  if (h == NULL)
    return WS_VIOLATION;
  snprintf (path, size, "%s", h->path ? h->path : "");
  res->data = cJSON_CreateObject ();
  if (abort_it)
    {
      handle_release (ws, h, true);
      return 0;
    }
  if (fstat (h->fd, &st) < 0)
    {
      int err = errno;
      handle_release (ws, h, true);
      return ws_errno (e, path, err);
    }
  res->bytes = h->append ? st.st_size - h->start : st.st_size;
  if (h->overlay)
    {
      /* From here the VM's copy of the descriptor cannot change the file:
       * the budget holds for what was committed.  */
      int seal = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;
      if (fcntl (h->fd, F_ADD_SEALS, seal) < 0 || fstat (h->fd, &st) < 0)
        {
          int err = errno;
          handle_release (ws, h, false);
          return ws_errno (e, path, err);
        }
      res->bytes = h->append ? st.st_size - h->start : st.st_size;
      if (overlay_put_file (ws->ov, h->path, h->fd) < 0)
        {
          int err = errno;
          h->fd = -1; /* closed by overlay_put_file */
          handle_release (ws, h, false);
          if (err == ENOSPC)
            return ws_fail (e, "FileError",
                            "'%.300s': the disk is full (an overlay workspace holds at most "
                            "%llu MiB of the run's files)",
                            path, (unsigned long long) (overlay_used (ws->ov) >> 20));
          return ws_errno (e, path, err);
        }
      h->fd = -1;
    }
  else if (!h->append && renameat (h->dirfd, h->tmp, h->dirfd, h->base) < 0)
    {
      int err = errno;
      handle_release (ws, h, true);
      return ws_errno (e, path, err);
    }
  else
    h->tmp[0] = '\0';
  cJSON_AddNumberToObject (res->data, "bytes", (double) res->bytes);
  handle_release (ws, h, false);
  (void) b;
  return 0;
}

static int
op_stat (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
         struct ws_error *e)
{
  enum ws_type t;
  off_t size;

  if (merged_stat (ws, path, norm, &t, &size, e) < 0)
    return -1;
  res->data = cJSON_CreateObject ();
  cJSON_AddStringToObject (res->data, "type", type_name (t));
  if (t == WS_FILE)
    {
      cJSON_AddNumberToObject (res->data, "size", (double) size);
      res->bytes = size;
    }
  return 0;
}

/* ---- listing ---------------------------------------------------------------- */

#define LIST_MAX_BYTES (6 << 20) /* the reply stays well under FRAME_MAX_MESSAGE */

struct listing
{
  char **names;
  size_t n, cap, bytes;
  bool too_big;
};

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
listing_add (struct listing *l, const char *name)
{
  if (l->too_big)
    return;
  l->bytes += strlen (name) + 4;
  if (l->bytes > LIST_MAX_BYTES)
    {
      l->too_big = true;
      return;
    }
  if (l->n == l->cap)
    {
      size_t cap = l->cap ? l->cap * 2 : 64;
      char **nn = realloc (l->names, cap * sizeof *nn);
      if (nn == NULL)
        {
          l->too_big = true;
          return;
        }
      l->names = nn;
      l->cap = cap;
    }
  if ((l->names[l->n] = strdup (name)) != NULL)
    l->n++;
}

static void
listing_free (struct listing *l)
{
  for (size_t i = 0; i < l->n; i++)
    free (l->names[i]);
  free (l->names);
}

static bool
listing_has (const struct listing *l, size_t sorted, const char *name)
{
  if (sorted && bsearch (&name, l->names, sorted, sizeof *l->names, cmp_names))
    return true;
  for (size_t i = sorted; i < l->n; i++)
    if (strcmp (l->names[i], name) == 0)
      return true;
  return false;
}

/* Remove NAME, keeping the order (the first *SORTED stay sorted).  */
static void
listing_remove (struct listing *l, size_t *sorted, const char *name)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp (l->names[i], name) == 0)
      {
        free (l->names[i]);
        memmove (&l->names[i], &l->names[i + 1], (l->n - i - 1) * sizeof *l->names);
        l->n--;
        if (i < *sorted)
          (*sorted)--;
        return;
      }
}

struct upper_ctx
{
  struct listing *l;
  size_t sorted;
};

static void
upper_child (void *ctx, const char *name, enum overlay_kind kind)
{
  struct upper_ctx *u = ctx;

  if (kind == OVERLAY_GONE)
    listing_remove (u->l, &u->sorted, name);
  else if (!listing_has (u->l, u->sorted, name))
    listing_add (u->l, name);
}

static int
op_list (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
         struct ws_error *e)
{
  const char *rest;
  size_t r = pick_root (ws, norm, &rest), sorted;
  struct listing l = { 0 };
  bool lower = true, upper = false;
  enum ws_type t;
  off_t size;
  int fd;
  DIR *d;
  struct dirent *de;
  size_t nlen = strlen (norm);

  if (merged_stat (ws, path, norm, &t, &size, e) < 0)
    return -1;
  if (t == WS_NONE)
    return ws_errno (e, path, ENOENT);
  if (t == WS_SYMLINK)
    return ws_errno (e, path, ELOOP);
  if (t != WS_DIR)
    return ws_errno (e, path, ENOTDIR);
  if (r == 0 && ws->ov)
    {
      enum overlay_kind k = overlay_lookup (ws->ov, norm, NULL);
      upper = true;
      lower = k == OVERLAY_LOWER || (k == OVERLAY_DIR && !overlay_opaque (ws->ov, norm));
    }
  if (lower)
    {
      fd = broker_ws_open_beneath (ws->roots[r].fd, rest, O_RDONLY | O_DIRECTORY,
                                   broker_ws_force_walk);
      if (fd < 0 && errno != ENOENT)
        return parent_error (e, path, errno);
      if (fd >= 0)
        {
          d = fdopendir (fd);
          if (d == NULL)
            {
              int err = errno;
              close (fd);
              return ws_errno (e, path, err);
            }
          while ((de = readdir (d)) != NULL)
            if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
              listing_add (&l, de->d_name);
          closedir (d);
        }
    }
  if (l.n)
    qsort (l.names, l.n, sizeof *l.names, cmp_names);
  sorted = l.n;
  if (upper)
    {
      struct upper_ctx u = { &l, sorted };
      overlay_children (ws->ov, norm, upper_child, &u);
      sorted = u.sorted;
    }
  /* Volume mount points below this directory (their first component).  */
  for (size_t i = 1; i < ws->n_roots; i++)
    {
      const char *t2 = ws->roots[i].target, *name;
      char first[256];
      if (strcmp (norm, ".") == 0)
        name = t2;
      else if (strncmp (t2, norm, nlen) == 0 && t2[nlen] == '/')
        name = t2 + nlen + 1;
      else
        continue;
      snprintf (first, sizeof first, "%.*s", (int) strcspn (name, "/"), name);
      if (!listing_has (&l, sorted, first))
        listing_add (&l, first);
    }
  if (l.too_big)
    {
      listing_free (&l);
      return ws_fail (e, "FileError", "'%.300s': too many entries to list (more than %d MiB of names)",
                      path, LIST_MAX_BYTES >> 20);
    }
  res->data = cJSON_CreateObject ();
  {
    cJSON *names = cJSON_AddArrayToObject (res->data, "names");
    for (size_t i = 0; i < l.n; i++)
      cJSON_AddItemToArray (names, cJSON_CreateString (l.names[i]));
  }
  res->bytes = (long long) l.n;
  listing_free (&l);
  return 0;
}

/* ---- directories, removal, renaming ----------------------------------------- */

static int
make_one_dir (struct broker_workspace *ws, const char *path, const char *prefix,
              struct ws_error *e)
{
  const char *rest;
  size_t r = pick_root (ws, prefix, &rest);

  if (may_write (ws, r, path, prefix, e) < 0)
    return -1;
  if (r == 0 && ws->ov)
    {
      bool opaque = overlay_lookup (ws->ov, prefix, NULL) == OVERLAY_GONE;
      if (need_parent_dir (ws, path, prefix, e) < 0)
        return -1;
      if (overlay_put_dir (ws->ov, prefix, opaque) < 0)
        return ws_errno (e, path, errno == EMFILE ? ENOSPC : errno);
      return 0;
    }
  {
    char buf[WS_PATH_MAX];
    const char *base;
    cleanup_close int dir = open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
    if (dir < 0)
      return parent_error (e, path, errno);
    if (mkdirat (dir, base, 0755) < 0 && errno != EEXIST)
      return ws_errno (e, path, errno);
  }
  return 0;
}

static int
op_mkdir (struct broker_workspace *ws, const char *path, const char *norm, bool parents,
          struct ws_result *res, struct ws_error *e)
{
  char prefix[WS_PATH_MAX];
  enum ws_type t;
  off_t size;
  const char *rest;
  size_t r = pick_root (ws, norm, &rest);

  if (may_write (ws, r, path, norm, e) < 0)
    return -1;
  for (const char *p = parents ? norm : norm + strlen (norm); p;)
    {
      const char *slash = strchr (p, '/');
      size_t len = slash ? (size_t) (slash - norm) : strlen (norm);
      snprintf (prefix, sizeof prefix, "%.*s", (int) len, norm);
      if (merged_stat (ws, path, prefix, &t, &size, e) < 0)
        return -1;
      if (t == WS_NONE)
        {
          if (make_one_dir (ws, path, prefix, e) < 0)
            return -1;
        }
      else if (t != WS_DIR && slash)
        return parent_error (e, path, ENOTDIR);
      /* The last component: an existing entry is not an error (as before).  */
      p = slash ? slash + 1 : NULL;
    }
  res->data = cJSON_CreateObject ();
  return 0;
}

/* Whether the merged directory NORM has no entries.  */
static int
dir_empty (struct broker_workspace *ws, const char *path, const char *norm, bool *empty,
           struct ws_error *e)
{
  struct ws_result sub = { .fd = -1, .bytes = -1 };

  if (op_list (ws, path, norm, &sub, e) < 0)
    return -1;
  *empty = cJSON_GetArraySize (cJSON_GetObjectItemCaseSensitive (sub.data, "names")) == 0;
  cJSON_Delete (sub.data);
  return 0;
}

static int
op_remove (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
           struct ws_error *e)
{
  const char *rest;
  size_t r = pick_root (ws, norm, &rest);

  if (may_write (ws, r, path, norm, e) < 0)
    return -1;
  if (rest[0] == '\0' || volume_parent (ws, norm))
    return ws_fail (e, "FileError", "'%.300s': %s", path,
                    strcmp (norm, ".") == 0 ? "the workspace itself cannot be removed"
                                            : "a volume is mounted there (Device or resource busy)");
  if (r == 0 && ws->ov)
    {
      enum ws_type t, lt;
      off_t size;
      bool empty = true;
      if (merged_stat (ws, path, norm, &t, &size, e) < 0
          || (t != WS_NONE && lower_stat (ws, 0, rest, path, &lt, &size, e) < 0))
        return -1;
      if (t == WS_NONE)
        return ws_errno (e, path, ENOENT);
      if (t == WS_DIR && dir_empty (ws, path, norm, &empty, e) < 0)
        return -1;
      if (!empty)
        return ws_errno (e, path, ENOTEMPTY);
      if (overlay_remove (ws->ov, norm, lt != WS_NONE) < 0)
        return ws_errno (e, path, errno == EMFILE ? ENOSPC : errno);
    }
  else
    {
      char buf[WS_PATH_MAX];
      const char *base;
      cleanup_close int dir = open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
      if (dir < 0)
        return parent_error (e, path, errno);
      if (unlinkat (dir, base, 0) < 0)
        {
          if (errno != EISDIR || unlinkat (dir, base, AT_REMOVEDIR) < 0)
            return ws_errno (e, path, errno);
        }
    }
  res->data = cJSON_CreateObject ();
  return 0;
}

static int
op_rename (struct broker_workspace *ws, const char *from, const char *nfrom, const char *to,
           const char *nto, struct ws_result *res, struct ws_error *e)
{
  const char *rf, *rt;
  size_t r1 = pick_root (ws, nfrom, &rf), r2 = pick_root (ws, nto, &rt);

  if (may_write (ws, r1, from, nfrom, e) < 0 || may_write (ws, r2, to, nto, e) < 0)
    return -1;
  if (rf[0] == '\0' || rt[0] == '\0' || volume_parent (ws, nfrom) || volume_parent (ws, nto))
    return ws_fail (e, "FileError", "'%.300s' -> '%.300s': a mount point cannot be renamed (Device or resource busy)",
                    from, to);
  if (r1 != r2)
    return ws_fail (e, "FileError",
                    "'%.300s' -> '%.300s': Invalid cross-device link (the workspace and a volume, "
                    "or two volumes)",
                    from, to);
  if (r1 == 0 && ws->ov)
    {
      enum ws_type t, lt;
      off_t size;
      int memfd = -1, m;
      if (merged_stat (ws, from, nfrom, &t, &size, e) < 0)
        return -1;
      if (t == WS_NONE)
        return ws_errno (e, from, ENOENT);
      if (t == WS_DIR)
        return ws_fail (e, "FileError",
                        "'%.300s': renaming a directory is not supported in an overlay workspace "
                        "(Invalid cross-device link, as overlayfs)",
                        from);
      if (t != WS_FILE)
        return ws_fail (e, "FileError", "'%.300s': not a regular file", from);
      if (need_parent_dir (ws, to, nto, e) < 0 || merged_stat (ws, to, nto, &lt, &size, e) < 0)
        return -1;
      if (lt == WS_DIR)
        return ws_errno (e, to, EISDIR);
      if (strcmp (nfrom, nto) == 0)
        goto done;
      if (overlay_lookup (ws->ov, nfrom, &memfd) == OVERLAY_FILE)
        m = fcntl (memfd, F_DUPFD_CLOEXEC, 0);
      else
        {
          int src = lower_open_read (ws, 0, rf, from, &size, e);
          if (src < 0)
            return -1;
          if (!overlay_fits (ws->ov, nto, (uint64_t) size))
            {
              close (src);
              return ws_errno (e, to, ENOSPC);
            }
          m = copy_to_memfd (src, size);
          close (src);
          if (m >= 0)
            fcntl (m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
        }
      if (m < 0)
        return ws_errno (e, from, errno);
      if (lower_stat (ws, 0, rf, from, &lt, &size, e) < 0)
        {
          close (m);
          return -1;
        }
      if (overlay_remove (ws->ov, nfrom, lt != WS_NONE) < 0 || overlay_put_file (ws->ov, nto, m) < 0)
        return ws_errno (e, to, errno == EMFILE ? ENOSPC : errno);
    }
  else
    {
      char b1[WS_PATH_MAX], b2[WS_PATH_MAX];
      const char *base1, *base2;
      cleanup_close int d1 = open_parent (ws, ws->roots[r1].fd, rf, b1, sizeof b1, &base1);
      cleanup_close int d2 = -1;
      if (d1 < 0)
        return parent_error (e, from, errno);
      d2 = open_parent (ws, ws->roots[r2].fd, rt, b2, sizeof b2, &base2);
      if (d2 < 0)
        return parent_error (e, to, errno);
      if (renameat (d1, base1, d2, base2) < 0)
        return ws_errno (e, from, errno);
    }
done:
  snprintf (res->to, sizeof res->to, "%s", to);
  res->data = cJSON_CreateObject ();
  return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

void
broker_fs (struct broker_state *b, const cJSON *id, const char *op, const cJSON *params)
{
  struct broker_workspace *ws = b->o->workspace;
  struct ws_error e = { 0 };
  struct ws_result res = { .fd = -1, .bytes = -1 };
  const char *path = param_str (params, "path"), *mode = param_str (params, "mode");
  const char *event_op = op;
  char norm[WS_PATH_MAX], norm2[WS_PATH_MAX], hpath[WS_PATH_MAX] = "";
  const char *why = NULL;
  bool is_open = strcmp (op, "open") == 0, is_handle = false;
  int r;

  if (is_open)
    {
      if (mode == NULL || (strcmp (mode, "read") != 0 && strcmp (mode, "write") != 0
                           && strcmp (mode, "append") != 0))
        return broker_violation (b, id, "fs.open needs params.mode: read, write or append");
      event_op = mode;
    }
  else if (strcmp (op, "commit") == 0 || strcmp (op, "abort") == 0)
    is_handle = true;
  else if (strcmp (op, "stat") != 0 && strcmp (op, "list") != 0 && strcmp (op, "mkdir") != 0
           && strcmp (op, "remove") != 0 && strcmp (op, "rename") != 0)
    {
      broker_reply_error (b, id, "MethodNotFound", "unknown method 'fs.%.60s'", op);
      return;
    }
  if (strcmp (op, "rename") == 0)
    path = param_str (params, "from");
  if (!is_handle && path == NULL)
    return broker_violation (b, id, "fs.* methods need params.path (a string)");
  if (strcmp (op, "rename") == 0 && param_str (params, "to") == NULL)
    return broker_violation (b, id, "fs.rename needs params.from and params.to (strings)");

  if (!is_handle && broker_ws_check_path (path, norm, sizeof norm, &why) < 0)
    r = ws_fail (&e, "InvalidPath", "'%.300s': %s", path, why);
  else if (strcmp (op, "rename") == 0
           && broker_ws_check_path (param_str (params, "to"), norm2, sizeof norm2, &why) < 0)
    r = ws_fail (&e, "InvalidPath", "'%.300s': %s", param_str (params, "to"), why);
  else if (ws == NULL || ws->mode == BROKER_WS_OFF)
    r = ws_fail (&e, "PermissionDenied",
                 "no workspace is mounted (sandbox.mount_current_dir is off)");
  else if (id_enter (ws) < 0)
    {
      id_leave (ws);
      r = ws_fail (&e, "FileError",
                   "the broker cannot take the workspace owner's file-system ids (uid %u, gid "
                   "%u)",
                   (unsigned) ws->uid, (unsigned) ws->gid);
    }
  else
    {
      if (is_open && strcmp (mode, "read") == 0)
        r = op_read (ws, path, norm, &res, &e);
      else if (is_open && strcmp (mode, "write") == 0)
        r = op_write (ws, path, norm, &res, &e);
      else if (is_open)
        r = op_append (ws, path, norm, &res, &e);
      else if (is_handle)
        {
          const struct ws_handle *h = find_handle (ws, params);
          event_op = h && h->append ? "append" : "write";
          r = op_commit (b, ws, params, strcmp (op, "abort") == 0, &res, &e, hpath, sizeof hpath);
          path = hpath;
          if (strcmp (op, "abort") == 0)
            event_op = "abort";
        }
      else if (strcmp (op, "stat") == 0)
        r = op_stat (ws, path, norm, &res, &e);
      else if (strcmp (op, "list") == 0)
        r = op_list (ws, path, norm, &res, &e);
      else if (strcmp (op, "mkdir") == 0)
        r = op_mkdir (ws, path, norm,
                      cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (params, "parents")), &res,
                      &e);
      else if (strcmp (op, "remove") == 0)
        r = op_remove (ws, path, norm, &res, &e);
      else
        r = op_rename (ws, path, norm, param_str (params, "to"), norm2, &res, &e);
      id_leave (ws);
    }
  if (r == WS_VIOLATION)
    return broker_violation (b, id, "fs.commit/fs.abort need params.handle, a file open for writing");
  /* Opening for writing is traced when it is committed, with its size.  */
  if (r < 0 || !(is_open && strcmp (mode, "read") != 0))
    access_event (b, event_op, path, res.to[0] ? res.to : NULL, r < 0 ? -1 : res.bytes,
                  r < 0 ? &e : NULL);
  if (r < 0)
    {
      cJSON_Delete (res.data);
      broker_reply_error (b, id, e.type, "%s", e.msg);
      return;
    }
  broker_reply_fd (b, id, "done", res.data, res.fd);
  if (res.own_fd && res.fd >= 0)
    close (res.fd);
}

/* ---- local modules ---------------------------------------------------------- */

/* A local module NAME.tac beside the procedure.  NAME was checked by the VM
 * too, but only this check counts: no absolute paths, no '..', and the
 * file is opened beneath the procedure's directory without following any
 * symlink.  */
void
broker_module_load (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const char *name = param_str (params, "name");
  const char *dirpath = b->o->procedure_dir ? b->o->procedure_dir : ".";
  char path[1024];
  struct stat st;
  cleanup_free char *buf = NULL;
  cleanup_close int dir = -1, o = -1, fd = -1;
  struct ws_error e = { 0 };
  ssize_t n = -1;
  cJSON *data;

  if (name == NULL || name[0] == '\0' || name[0] == '/' || strstr (name, "..")
      || strlen (name) > 200
      || strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./")
             != strlen (name))
    {
      ws_fail (&e, "NotFound", "module '%s': only modules beside the procedure may be loaded",
               name ? name : "");
      access_event (b, "module", name ? name : "", NULL, -1, &e);
      broker_reply_error (b, id, e.type, "%s", e.msg);
      return;
    }
  snprintf (path, sizeof path, "%s.tac", name);
  dir = open (dirpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
  o = dir < 0 ? -1 : broker_ws_open_beneath (dir, path, O_PATH | O_NOFOLLOW, broker_ws_force_walk);
  if (o < 0 || fstat (o, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_MODULE_SIZE
      || (fd = reopen (o, O_RDONLY)) < 0 || (buf = malloc ((size_t) st.st_size + 1)) == NULL
      || (n = read (fd, buf, (size_t) st.st_size)) != st.st_size)
    {
      int err = errno;
      ws_fail (&e, "NotFound", "module '%s': %s/%s: %s", name, dirpath, path,
               o < 0 ? (err == ELOOP || err == ENOTDIR ? "a symlink in the path (symlinks are "
                                                         "not followed)"
                                                       : strerror (err))
               : n < 0 && fd >= 0 ? "read failed"
                                  : "not a regular file under 4 MiB");
      access_event (b, "module", path, NULL, -1, &e);
      broker_reply_error (b, id, e.type, "%s", e.msg);
      return;
    }
  buf[n] = '\0';
  access_event (b, "module", path, NULL, n, NULL);
  data = cJSON_CreateObject ();
  cJSON_AddStringToObject (data, "source", buf);
  cJSON_AddStringToObject (data, "path", path);
  broker_reply (b, id, "done", data);
}
