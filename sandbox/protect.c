/* Protected paths in a native cage (common/protected.h): the entries the
 * host trusts later (.git, .envrc, sidecars...) that already exist in a
 * host directory the cage can write are bound read-only over themselves;
 * the supervisor (supervise.c) refuses to create new ones.
 *
 * Why this is safe:
 *   - it runs after pivot_root, as sandbox root in the cage's own mount
 *     namespace: nothing here is seen by the host, and a symlink planted
 *     in the workspace resolves inside the cage (a protected name that is a
 *     symlink protects what it points to there; one that points nowhere is
 *     refused, since the cage could create its target);
 *   - the read-only binds are recursive and made before seccomp, which
 *     then forbids every mount call: the cage can neither remove nor
 *     move them (a rename of .git itself is EBUSY, a hard link out of it
 *     EXDEV);
 *   - the walk opens each directory with O_NOFOLLOW from its parent and
 *     stops at a bound of directories: a tree too large to check is an
 *     error, never an unchecked cage.
 * What it does not cover: a hard link to a protected file made before the
 * run under another name (the cage can write that name), and creation
 * while the walk runs (nothing of the cage runs yet).  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/protected.h"
#include "sandbox/internal.h"

#define PROTECT_MAX_DIRS 200000
#define PROTECT_MAX_DEPTH 256
#define PROTECT_MAX_MOUNTS 10000

struct walk
{
  const char *const *list;
  size_t dirs, mounts;
  char path[4096]; /* the directory being walked, for messages */
};

bool
protect_needed (const struct sandbox_spec *spec)
{
  const char *const *list = spec->protected_paths ? spec->protected_paths : protected_defaults;

  if (list[0] == NULL)
    return false;
  if (spec->workspace == SANDBOX_WORKSPACE_RW)
    return true;
  for (size_t i = 0; i < spec->n_binds; i++)
    if (spec->binds[i].writable)
      return true;
  return false;
}

/* Bind the object FD refers to read-only over itself.  */
static int
bind_readonly (struct walk *w, int fd, const char *name, struct tr_error *err)
{
  cleanup_close int tree = -1;

  if (++w->mounts > PROTECT_MAX_MOUNTS)
    return tr_fail_hint (
        err, TR_HINT_WORKSPACE_READONLY, 0,
        "protected paths: more than %d protected entries under %s (remove some, or "
        "give the workspace read-only)",
        PROTECT_MAX_MOUNTS, w->path);
  tree = open_tree (fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  if (tree < 0)
    return tr_fail (err, errno, "protected paths: %s/%s: clone", w->path, name);
  if (set_attrs (tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true, name, err)
      < 0)
    return tr_wrap (err, "protected paths: %s", w->path);
  if (move_mount (tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return tr_fail (err, errno, "protected paths: %s/%s: bind read-only", w->path, name);
  return 0;
}

static int
protect_entry (struct walk *w, int dirfd, const char *name, struct tr_error *err)
{
  cleanup_close int fd = openat (dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;

  if (fd < 0 || fstat (fd, &st) < 0)
    return tr_fail (err, errno, "protected paths: %s/%s", w->path, name);
  if (S_ISLNK (st.st_mode))
    {
      /* What the link names, inside the cage (the root is the cage's).  */
      cleanup_close int target = openat (dirfd, name, O_PATH | O_CLOEXEC);
      if (target < 0 && (errno == ENOENT || errno == ENOTDIR))
        return tr_fail_hint (
            err, TR_HINT_WORKSPACE_READONLY, 0,
            "protected paths: %s/%s is a symlink to something missing: the run could "
            "create what it names (remove the link, or run with the workspace "
            "read-only)",
            w->path, name);
      if (target < 0)
        return tr_fail (err, errno, "protected paths: %s/%s: follow the symlink", w->path, name);
      return bind_readonly (w, target, name, err);
    }
  return bind_readonly (w, fd, name, err);
}

static int
walk_dir (struct walk *w, int dirfd, int depth, struct tr_error *err)
{
  DIR *d;
  struct dirent *de;
  size_t len = strlen (w->path);
  int r = 0, fd;

  if (++w->dirs > PROTECT_MAX_DIRS || depth > PROTECT_MAX_DEPTH)
    return tr_fail (err, 0,
                    "protected paths: more than %d directories (or deeper than %d) under a "
                    "writable workspace or bind: they cannot all be checked (give the workspace "
                    "read-only or as an overlay)",
                    PROTECT_MAX_DIRS, PROTECT_MAX_DEPTH);
  fd = fcntl (dirfd, F_DUPFD_CLOEXEC, 0);
  d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      /* A directory the cage cannot read is one it cannot write in either
       * (sandbox root has no capability).  */
      return errno == EACCES ? 0 : tr_fail (err, errno, "protected paths: read %s", w->path);
    }
  while (r == 0 && (de = readdir (d)) != NULL)
    {
      const char *n = de->d_name;
      unsigned char type = de->d_type;
      int sub;

      if (strcmp (n, ".") == 0 || strcmp (n, "..") == 0)
        continue;
      if (protected_name (w->list, n, strlen (n), NULL))
        {
          r = protect_entry (w, dirfd, n, err);
          continue;
        }
      if (type == DT_UNKNOWN)
        {
          struct stat st;
          if (fstatat (dirfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
          type = S_ISDIR (st.st_mode) ? DT_DIR : DT_REG;
        }
      if (type != DT_DIR)
        continue;
      sub = openat (dirfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0)
        {
          if (errno == EACCES)
            continue;
          r = tr_fail (err, errno, "protected paths: open %s/%s", w->path, n);
          break;
        }
      snprintf (w->path + len, sizeof w->path - len, "/%s", n);
      r = walk_dir (w, sub, depth + 1, err);
      w->path[len] = '\0';
      close (sub);
    }
  closedir (d);
  return r;
}

static int
protect_tree (struct walk *w, const char *root, struct tr_error *err)
{
  cleanup_close int fd = open (root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd < 0)
    return tr_fail (err, errno, "protected paths: open %s", root);
  snprintf (w->path, sizeof w->path, "%s", root);
  return walk_dir (w, fd, 0, err);
}

int
protect_existing (const struct sandbox_spec *spec, struct tr_error *err)
{
  struct walk w = { .list = spec->protected_paths ? spec->protected_paths : protected_defaults };

  if (spec->workspace == SANDBOX_WORKSPACE_RW && protect_tree (&w, "/workspace", err) < 0)
    return -1;
  for (size_t i = 0; i < spec->n_binds; i++)
    if (spec->binds[i].writable && protect_tree (&w, spec->binds[i].target, err) < 0)
      return -1;
  return 0;
}
