/* The sandbox's filesystem: a fresh tmpfs root, read-only binds of only what
 * the payload needs, /workspace, a new /proc with the dangerous entries
 * masked, a minimal /dev, then pivot_root and the old root detached.
 *
 * Why this is safe:
 *   - the mount namespace is new and made private first, so nothing here
 *     propagates to the host;
 *   - every mount is built detached (open_tree/fsmount) and attached with
 *     move_mount onto a directory opened with openat2(RESOLVE_BENEATH |
 *     RESOLVE_NO_SYMLINKS) under the new root: a symlink planted in a bound
 *     directory can never redirect a mount target outside the root;
 *   - binds are recursive (a non-recursive bind could reveal what a host
 *     submount hides) and made read-only recursively with mount_setattr;
 *   - the root itself is read-only once built; only /tmp (size-limited) and
 *     /workspace are writable.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

#define ROOT_TMPFS_SIZE "4m"
#define DEFAULT_TMP_SIZE (64ull << 20)

/* Files under /proc that leak host information or control the host.  */
static const char *const proc_masked_files[] = {
  "kcore",       "keys",          "latency_stats", "timer_list", "timer_stats",
  "sched_debug", "sysrq-trigger", "kallsyms",      "kpagecount", "kpageflags",
  "kpagecgroup", "config.gz",     "vmallocinfo",
};
static const char *const proc_masked_dirs[] = { "acpi", "asound", "scsi", "driver", "tty/driver" };
static const char *const proc_readonly[] = { "sys", "bus", "fs", "irq" };

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

int
sys_openat2 (int dirfd, const char *path, int flags, unsigned long long resolve)
{
  struct open_how how = { .flags = (unsigned long long) flags, .resolve = resolve };
  return (int) syscall (SYS_openat2, dirfd, path, &how, sizeof how);
}

int
open_dir_in_root (int rootfd, const char *path, bool create, struct tr_error *err)
{
  const unsigned long long resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  cleanup_free char *copy = strdup (path);
  char *save = NULL, *comp;
  int cur;

  if (copy == NULL)
    return tr_fail (err, ENOMEM, "mount target %s", path);
  cur = fcntl (rootfd, F_DUPFD_CLOEXEC, 0);
  if (cur < 0)
    return tr_fail (err, errno, "mount target %s", path);
  for (comp = strtok_r (copy, "/", &save); comp; comp = strtok_r (NULL, "/", &save))
    {
      int next;

      if (strcmp (comp, "..") == 0)
        {
          close (cur);
          return tr_fail (err, EINVAL, "mount target %s: '..' is not allowed", path);
        }
      next = sys_openat2 (cur, comp, O_PATH | O_DIRECTORY | O_CLOEXEC, resolve);
      if (next < 0 && errno == ENOENT && create)
        {
          if (mkdirat (cur, comp, 0755) < 0 && errno != EEXIST)
            {
              tr_fail (err, errno, "mount target %s: mkdir %s", path, comp);
              close (cur);
              return -1;
            }
          next = sys_openat2 (cur, comp, O_PATH | O_DIRECTORY | O_CLOEXEC, resolve);
        }
      if (next < 0)
        {
          int e = errno;
          close (cur);
          return tr_fail (err, e,
                          "mount target %s (component '%s' must be a directory, not a "
                          "symlink)",
                          path, comp);
        }
      close (cur);
      cur = next;
    }
  return cur;
}

/* Open (creating if needed) a regular file under ROOTFD to mount a file
 * over.  The parent directory is resolved without symlinks.  */
static int
open_file_in_root (int rootfd, const char *path, struct tr_error *err)
{
  cleanup_free char *dir = strdup (path);
  cleanup_close int dirfd = -1;
  char *slash;
  const char *base;
  int fd;

  if (dir == NULL)
    return tr_fail (err, ENOMEM, "mount target %s", path);
  slash = strrchr (dir, '/');
  if (slash)
    {
      *slash = '\0';
      base = slash + 1;
    }
  else
    base = path;
  dirfd = open_dir_in_root (rootfd, slash ? dir : "", true, err);
  if (dirfd < 0)
    return -1;
  fd = sys_openat2 (dirfd, base, O_PATH | O_CLOEXEC | O_NOFOLLOW,
                    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
  if (fd < 0 && errno == ENOENT)
    {
      /* O_PATH cannot create; make the file first.  dirfd is O_PATH, so use
       * a real directory fd.  */
      cleanup_close int wdir = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      int f;
      if (wdir < 0)
        return tr_fail (err, errno, "mount target %s", path);
      f = openat (wdir, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (f < 0 && errno != EEXIST)
        return tr_fail (err, errno, "mount target %s: create", path);
      if (f >= 0)
        close (f);
      fd = sys_openat2 (dirfd, base, O_PATH | O_CLOEXEC | O_NOFOLLOW,
                        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    }
  if (fd < 0)
    return tr_fail (err, errno, "mount target %s", path);
  return fd;
}

int
attach (int mntfd, int targetfd, const char *what, struct tr_error *err)
{
  if (move_mount (mntfd, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return tr_fail (err, errno, "mount %s", what);
  return 0;
}

int
set_attrs (int mntfd, uint64_t set, bool recursive, const char *what, struct tr_error *err)
{
  struct mount_attr attr = { .attr_set = set };

  if (set == 0)
    return 0;
  if (mount_setattr (mntfd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr)
      < 0)
    return tr_fail (err, errno, "mount %s: set flags", what);
  return 0;
}

/* Bind SRC (a path, or SRCFD when PATH is NULL) at TARGET under ROOTFD.  */
static int
bind_tree_at (int rootfd, int tree, const char *target, uint64_t attrs, struct tr_error *err)
{
  cleanup_close int dst = -1;
  struct stat st;

  if (fstat (tree, &st) < 0)
    return tr_fail (err, errno, "bind %s", target);
  dst = S_ISDIR (st.st_mode) ? open_dir_in_root (rootfd, target, true, err)
                             : open_file_in_root (rootfd, target, err);
  if (dst < 0)
    return -1;
  if (set_attrs (tree, attrs, true, target, err) < 0)
    return -1;
  return attach (tree, dst, target, err);
}

/* A detached, recursive copy of the host path SRC.  */
static int
clone_source (const char *src, const char *target, struct tr_error *err)
{
  int tree = open_tree (AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0)
    return tr_fail (err, errno, "bind %s -> %s: open the source", src, target);
  return tree;
}

static int
bind_at (int rootfd, const char *src, const char *target, uint64_t attrs, struct tr_error *err)
{
  cleanup_close int tree = clone_source (src, target, err);
  if (tree < 0)
    return -1;
  return bind_tree_at (rootfd, tree, target, attrs, err);
}

int
new_fs (const char *type, const char *const *opts, uint64_t attrs, struct tr_error *err)
{
  cleanup_close int fs = fsopen (type, FSOPEN_CLOEXEC);
  int mnt;

  if (fs < 0)
    return tr_fail (err, errno, "%s: fsopen", type);
  for (; opts && opts[0]; opts += 2)
    if (fsconfig (fs, opts[1] ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, opts[0], opts[1], 0) < 0)
      return tr_fail (err, errno, "%s: option %s", type, opts[0]);
  if (fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return tr_fail (err, errno, "%s: create", type);
  mnt = fsmount (fs, FSMOUNT_CLOEXEC, (unsigned) attrs);
  if (mnt < 0)
    return tr_fail (err, errno, "%s: fsmount", type);
  return mnt;
}

static int
mount_new_fs_at (int rootfd, const char *type, const char *const *opts, uint64_t attrs,
                 const char *target, struct tr_error *err)
{
  cleanup_close int mnt = new_fs (type, opts, attrs, err);
  cleanup_close int dst = -1;

  if (mnt < 0)
    return tr_wrap (err, "mount %s", target);
  dst = open_dir_in_root (rootfd, target, true, err);
  if (dst < 0)
    return -1;
  return attach (mnt, dst, target, err);
}

static int
symlink_in_root (int rootfd, const char *linkpath, const char *target, struct tr_error *err)
{
  if (symlinkat (target, rootfd, linkpath) < 0 && errno != EEXIST)
    return tr_fail (err, errno, "symlink /%s", linkpath);
  return 0;
}

static int
mount_system (int rootfd, struct tr_error *err)
{
  static const char *const dirs[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
  const uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  char path[64], link[256];

  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    {
      struct stat st;
      ssize_t n;

      snprintf (path, sizeof path, "/%s", dirs[i]);
      if (lstat (path, &st) < 0)
        continue;
      if (S_ISLNK (st.st_mode))
        {
          /* usrmerge: /bin -> usr/bin.  Recreate the link, do not bind.  */
          n = readlink (path, link, sizeof link - 1);
          if (n < 0)
            return tr_fail (err, errno, "system: readlink %s", path);
          link[n] = '\0';
          if (symlink_in_root (rootfd, dirs[i], link, err) < 0)
            return -1;
        }
      else if (S_ISDIR (st.st_mode) && bind_at (rootfd, path, path, ro, err) < 0)
        return -1;
    }
  if (access ("/etc/ld.so.cache", R_OK) == 0
      && bind_at (rootfd, "/etc/ld.so.cache", "/etc/ld.so.cache", ro, err) < 0)
    return -1;
  return 0;
}

/* An unprivileged parent cannot clone its own mounts, and a mount of the
 * parent's namespace cannot be cloned from this one (EINVAL).  clone3 gave
 * us a copy of the parent's mount tree, so the same absolute path resolves
 * here; it must be cloned before the new root covers /tmp, and it must
 * still be the directory the parent opened (same device and inode).  */
static int
clone_workspace (const struct mounts_ctx *ctx, struct tr_error *err)
{
  cleanup_close int tree = -1;
  struct stat got;

  tree = open_tree (AT_FDCWD, ctx->ws_path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0)
    return tr_fail (err, errno, "workspace %s: clone the mount", ctx->ws_path);
  if (fstat (tree, &got) < 0)
    return tr_fail (err, errno, "workspace %s: stat", ctx->ws_path);
  if ((uint64_t) got.st_dev != ctx->ws_dev || (uint64_t) got.st_ino != ctx->ws_ino)
    return tr_fail (err, 0,
                    "workspace %s: not the directory the launcher opened (replaced, or "
                    "mounted after the sandbox was prepared)",
                    ctx->ws_path);
  return steal_fd (&tree);
}

/* The workspace as the lower layer of an overlay whose upper layer is a
 * private tmpfs: the run sees the directory's files and may change them,
 * but every change stays in the tmpfs and goes with the sandbox.  The
 * lower layer is read-only, so the host directory is never written.
 *
 * overlayfs takes private clones of its layers, and only of mounts in the
 * caller's mount namespace: the workspace is attached at /workspace first,
 * the overlay created from it, the lower mount detached again (nothing can
 * reach it after that), and the overlay attached in its place.  */
static int
mount_workspace_overlay (int rootfd, int ws_tree, int dst, uint64_t attrs,
                         const struct sandbox_limits *lim, struct tr_error *err)
{
  char size[32], lower[64], upper[64], work[64];
  const char *scratch_opts[] = { "size", size, "mode", "0755", NULL };
  cleanup_close int scratch = -1;
  cleanup_close int lowerfd = -1;
  cleanup_close int fs = -1;
  cleanup_close int mnt = -1;

  snprintf (size, sizeof size, "%llu",
            (unsigned long long) (lim->tmpfs_bytes ? lim->tmpfs_bytes : DEFAULT_TMP_SIZE));
  if (set_attrs (ws_tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true,
                 "/workspace (lower layer)", err)
          < 0
      || attach (ws_tree, dst, "/workspace (lower layer)", err) < 0)
    return -1;
  lowerfd = open_dir_in_root (rootfd, "/workspace", false, err);
  if (lowerfd < 0)
    return -1;
  scratch = new_fs ("tmpfs", scratch_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
  if (scratch < 0)
    return tr_wrap (err, "/workspace overlay: upper layer");
  if (mkdirat (scratch, "upper", 0755) < 0 || mkdirat (scratch, "work", 0755) < 0)
    return tr_fail (err, errno, "/workspace overlay: upper layer directories");
  snprintf (lower, sizeof lower, "/proc/self/fd/%d", lowerfd);
  snprintf (upper, sizeof upper, "/proc/self/fd/%d/upper", scratch);
  snprintf (work, sizeof work, "/proc/self/fd/%d/work", scratch);
  fs = fsopen ("overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return tr_fail (err, errno,
                    "/workspace overlay: fsopen overlay (overlayfs in a user "
                    "namespace needs Linux 5.11 or later; use workspace mode rw or ro)");
  /* userxattr: a user namespace may only set user.* xattrs on the upper.  */
  if (fsconfig (fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0
      || fsconfig (fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0
      || fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return tr_fail (err, errno, "/workspace overlay: create");
  mnt = fsmount (fs, FSMOUNT_CLOEXEC, (unsigned) attrs);
  if (mnt < 0)
    return tr_fail (err, errno, "/workspace overlay: fsmount");
  if (umount2 (lower, MNT_DETACH) < 0)
    return tr_fail (err, errno, "/workspace overlay: detach the lower layer");
  return attach (mnt, dst, "/workspace", err);
}

static int
mount_workspace (int rootfd, const struct sandbox_spec *spec, int ws_tree, struct tr_error *err)
{
  uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  cleanup_close int dst = -1;

  if (spec->workspace == SANDBOX_WORKSPACE_OFF)
    return 0;
  if (ws_tree < 0)
    return tr_fail (err, EINVAL, "workspace: none was given to the sandbox");
  if (spec->workspace == SANDBOX_WORKSPACE_RO)
    attrs |= MOUNT_ATTR_RDONLY;
  /* The VM never executes files; a native program may run what it built.  */
  if (spec->entry)
    attrs |= MOUNT_ATTR_NOEXEC;
  dst = open_dir_in_root (rootfd, "/workspace", true, err);
  if (dst < 0)
    return -1;
  if (spec->workspace == SANDBOX_WORKSPACE_OVERLAY)
    return mount_workspace_overlay (rootfd, ws_tree, dst, attrs, &spec->limits, err);
  /* A detached clone (idmapped by the parent, or made by clone_workspace);
   * only the flags and the attach are left.  */
  if (set_attrs (ws_tree, attrs, true, "/workspace", err) < 0)
    return -1;
  return attach (ws_tree, dst, "/workspace", err);
}

static int
mask_proc (int rootfd, struct tr_error *err)
{
  cleanup_close int proc = open_dir_in_root (rootfd, "/proc", false, err);
  const uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  static const char *const empty_opts[] = { "size", "0", "mode", "0555", NULL };

  if (proc < 0)
    return -1;
  for (size_t i = 0; i < sizeof proc_masked_files / sizeof proc_masked_files[0]; i++)
    {
      cleanup_close int t = openat (proc, proc_masked_files[i], O_PATH | O_CLOEXEC | O_NOFOLLOW);
      cleanup_close int null = -1;
      if (t < 0 && errno == ENOENT)
        continue; /* not on this kernel */
      if (t < 0)
        return tr_fail (err, errno, "/proc: mask %s", proc_masked_files[i]);
      null = open_tree (rootfd, "dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (null < 0)
        return tr_fail (err, errno, "/proc: mask %s", proc_masked_files[i]);
      if (attach (null, t, proc_masked_files[i], err) < 0)
        return -1;
    }
  for (size_t i = 0; i < sizeof proc_masked_dirs / sizeof proc_masked_dirs[0]; i++)
    {
      cleanup_close int t
          = openat (proc, proc_masked_dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      cleanup_close int empty = -1;
      if (t < 0 && errno == ENOENT)
        continue; /* not on this kernel */
      if (t < 0)
        return tr_fail (err, errno, "/proc: mask %s", proc_masked_dirs[i]);
      empty = new_fs ("tmpfs", empty_opts, ro, err);
      if (empty < 0 || attach (empty, t, proc_masked_dirs[i], err) < 0)
        return tr_wrap (err, "/proc: mask %s", proc_masked_dirs[i]);
    }
  for (size_t i = 0; i < sizeof proc_readonly / sizeof proc_readonly[0]; i++)
    {
      cleanup_close int tree
          = open_tree (proc, proc_readonly[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
      cleanup_close int t = -1;
      /* Only absence is tolerated: a /proc/sys we cannot make read-only
       * must stop the run, not leave it writable.  */
      if (tree < 0 && errno == ENOENT)
        continue;
      if (tree < 0)
        return tr_fail (err, errno, "/proc: read-only %s", proc_readonly[i]);
      t = openat (proc, proc_readonly[i], O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (t < 0)
        return tr_fail (err, errno, "/proc/%s", proc_readonly[i]);
      if (set_attrs (tree, ro, true, proc_readonly[i], err) < 0
          || attach (tree, t, proc_readonly[i], err) < 0)
        return tr_wrap (err, "/proc: read-only %s", proc_readonly[i]);
    }
  return 0;
}

static int
mount_proc (int rootfd, struct tr_error *err)
{
  const uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

  if (mount_new_fs_at (rootfd, "proc", NULL, attrs, "/proc", err) < 0)
    return tr_wrap (err, "proc (a new /proc needs a pid namespace and a fully visible host /proc)");
  return mask_proc (rootfd, err);
}

static int
mount_dev (int rootfd, bool pts, struct tr_error *err)
{
  static const char *const dev_opts[] = { "size", "64k", "mode", "0755", "nr_inodes", "64", NULL };
  static const char *const pts_opts[]
      = { "newinstance", NULL, "ptmxmode", "0666", "mode", "0620", NULL };
  const uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
  char path[32];

  if (mount_new_fs_at (rootfd, "tmpfs", dev_opts, attrs, "/dev", err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof dev_nodes / sizeof dev_nodes[0]; i++)
    {
      snprintf (path, sizeof path, "/dev/%s", dev_nodes[i]);
      /* Device nodes cannot be created in a user namespace; bind the
       * host's.  The bind keeps the device usable; NOSUID|NOEXEC hold.  */
      if (bind_at (rootfd, path, path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err) < 0)
        return -1;
    }
  if (symlink_in_root (rootfd, "dev/fd", "/proc/self/fd", err) < 0
      || symlink_in_root (rootfd, "dev/stdin", "/proc/self/fd/0", err) < 0
      || symlink_in_root (rootfd, "dev/stdout", "/proc/self/fd/1", err) < 0
      || symlink_in_root (rootfd, "dev/stderr", "/proc/self/fd/2", err) < 0)
    return -1;
  if (pts)
    {
      if (mount_new_fs_at (rootfd, "devpts", pts_opts, attrs, "/dev/pts", err) < 0)
        return -1;
      if (symlink_in_root (rootfd, "dev/ptmx", "pts/ptmx", err) < 0)
        return -1;
    }
  return 0;
}

static int
mount_tmp (int rootfd, const struct sandbox_limits *lim, struct tr_error *err)
{
  char size[32];
  const char *opts[] = { "size", size, "mode", "1777", NULL };

  snprintf (size, sizeof size, "%llu",
            (unsigned long long) (lim->tmpfs_bytes ? lim->tmpfs_bytes : DEFAULT_TMP_SIZE));
  return mount_new_fs_at (rootfd, "tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "/tmp", err);
}

/* Attach the fresh root somewhere in the (private) old tree so that
 * pivot_root has a mount point to pivot to.  */
static int
attach_new_root (int rootmnt, struct tr_error *err)
{
  static const char *const spots[] = { "/tmp", "/mnt", "/run", "/" };

  for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++)
    if (move_mount (rootmnt, "", AT_FDCWD, spots[i], MOVE_MOUNT_F_EMPTY_PATH) == 0)
      return 0;
  return tr_fail (err, errno, "root: attach the new root");
}

static int
pivot (int rootfd, struct tr_error *err)
{
  /* pivot_root(".", ".") stacks the old root on top of the new one; the
   * detach below removes it, so no host path stays reachable.  */
  if (fchdir (rootfd) < 0)
    return tr_fail (err, errno, "pivot_root: chdir to the new root");
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return tr_fail (err, errno, "pivot_root");
  if (umount2 (".", MNT_DETACH) < 0)
    return tr_fail (err, errno, "pivot_root: detach the old root");
  if (chdir ("/") < 0)
    return tr_fail (err, errno, "pivot_root: chdir /");
  return 0;
}

int
mounts_build_root (const struct sandbox_spec *spec, const struct mounts_ctx *ctx,
                   struct tr_error *err)
{
  static const char *const root_opts[] = { "size", ROOT_TMPFS_SIZE, "mode", "0755", NULL };
  cleanup_close int rootmnt = -1;
  cleanup_close int rootfd = -1;
  cleanup_close int ws_clone = -1;
  int ws_tree = ctx->workspace_mnt;
  struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
  cleanup_free int *bind_trees = NULL;
  int r = -1;

  /* Nothing done below may propagate back to the host.  */
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return tr_fail (err, errno, "mount namespace: make / private");
  /* Bind sources are cloned while the host tree is still whole: the new
   * root is attached over /tmp below, which would hide sources there.  */
  bind_trees = calloc (spec->n_binds + 1, sizeof *bind_trees);
  if (bind_trees == NULL)
    return tr_fail (err, ENOMEM, "binds");
  for (size_t i = 0; i < spec->n_binds; i++)
    bind_trees[i] = -1;
  for (size_t i = 0; i < spec->n_binds; i++)
    if ((bind_trees[i] = clone_source (spec->binds[i].source, spec->binds[i].target, err)) < 0)
      goto out;
  if (spec->workspace != SANDBOX_WORKSPACE_OFF && ws_tree < 0 && ctx->ws_path)
    {
      ws_clone = clone_workspace (ctx, err);
      if (ws_clone < 0)
        {
          tr_wrap (err, "workspace");
          goto out;
        }
      ws_tree = ws_clone;
    }
  rootmnt = new_fs ("tmpfs", root_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
  if (rootmnt < 0)
    {
      tr_wrap (err, "root");
      goto out;
    }
  if (attach_new_root (rootmnt, err) < 0)
    goto out;
  /* rootmnt still names the new root's top directory after the move.  */
  rootfd = openat (rootmnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    {
      tr_fail (err, errno, "root: open");
      goto out;
    }
  if (spec->mount_dev && mount_dev (rootfd, spec->dev_pts, err) < 0)
    {
      tr_wrap (err, "/dev");
      goto out;
    }
  if ((spec->mount_proc && mount_proc (rootfd, err) < 0)
      || (spec->system_binds && mount_system (rootfd, err) < 0))
    goto out;
  if (spec->mount_tmp && mount_tmp (rootfd, &spec->limits, err) < 0)
    {
      tr_wrap (err, "/tmp");
      goto out;
    }
  if (mount_workspace (rootfd, spec, ws_tree, err) < 0)
    goto out;
  for (size_t i = 0; i < spec->n_binds; i++)
    {
      const struct sandbox_bind *b = &spec->binds[i];
      uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->writable ? 0 : MOUNT_ATTR_RDONLY);
      if (bind_tree_at (rootfd, bind_trees[i], b->target, attrs, err) < 0)
        goto out;
    }
  /* The root's own directories are fixed from here on.  */
  if (mount_setattr (rootmnt, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0)
    {
      tr_fail (err, errno, "root: make read-only");
      goto out;
    }
  r = pivot (rootfd, err);
out:
  for (size_t i = 0; i < spec->n_binds; i++)
    if (bind_trees[i] >= 0)
      close (bind_trees[i]);
  return r;
}
