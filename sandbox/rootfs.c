/* The mount tree of a container whose root is a directory from a bundle.
 *
 * Runs in the container's init, in its new mount namespace, before and
 * after pivot_root.  The hardening list of the OCI runtimes' CVEs:
 *   - every destination is resolved inside the rootfs with openat2
 *     RESOLVE_IN_ROOT (an absolute symlink in the image stays inside it;
 *     CVE-2019-18837, CVE-2024-45310), missing components are created with
 *     *at() calls relative to verified directory fds;
 *   - mounts are built detached (open_tree / fsopen+fsmount) and attached
 *     onto the fd of the destination with move_mount, so swapping the
 *     destination for a symlink after the check changes nothing
 *     (CVE-2021-30465);
 *   - /proc and /sys destinations that are symlinks are refused
 *     (CVE-2023-27561/28642); only procfs goes on /proc (CVE-2019-16884),
 *     nothing goes under it but binds of regular files over the files
 *     lxcfs emulates (runc's checkProcMount), checked on the cleaned name
 *     and again on where the destination resolved (fstatfs);
 *   - masked files are covered with a /dev/null that was opened and
 *     checked to be the char device 1:3 (CVE-2025-31133); masked
 *     directories with an empty read-only tmpfs;
 *   - writes to /proc (sysctls) go through a private procfs that is never
 *     attached anywhere, opened without symlinks, magic links or mount
 *     crossings and checked to be procfs (CVE-2025-52881);
 *   - a cgroup mount without a cgroup namespace is read-only
 *     (CVE-2023-25809); cgroup v1 is never mounted.  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/container.h"
#include "sandbox/internal.h"

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

/* The new root, open from rootfs_prepare to rootfs_pivot.  */
static int root_fd = -1;

/* Lexically clean PATH into OUT as a relative path ("a/b"), ".." clamped
 * at the root; "" is the root itself.  */
static int
clean_rel (const char *path, char *out, size_t size)
{
  size_t n = 0;
  const char *p = path;

  out[0] = '\0';
  while (*p)
    {
      const char *c;
      size_t len;
      while (*p == '/')
        p++;
      c = p;
      while (*p && *p != '/')
        p++;
      len = (size_t) (p - c);
      if (len == 0 || (len == 1 && c[0] == '.'))
        continue;
      if (len == 2 && c[0] == '.' && c[1] == '.')
        {
          while (n > 0 && out[n - 1] != '/')
            n--;
          if (n > 0)
            n--;
          out[n] = '\0';
          continue;
        }
      if (n + len + 2 > size)
        return -1;
      if (n)
        out[n++] = '/';
      memcpy (out + n, c, len);
      n += len;
      out[n] = '\0';
    }
  return 0;
}

int
ct_clean_path (const char *path, char *out, size_t size)
{
  if (size < 2 || clean_rel (path, out + 1, size - 1) < 0)
    return -1;
  out[0] = '/';
  return 0;
}

enum ct_proc_dest
ct_proc_dest (const char *clean_dest)
{
  /* runc's validProcMounts: what lxcfs emulates (and ns_last_pid).  */
  static const char *const files[] = {
    "/proc/cpuinfo", "/proc/diskstats",
    "/proc/meminfo", "/proc/stat",
    "/proc/swaps",   "/proc/uptime",
    "/proc/loadavg", "/proc/slabinfo",
    "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
  };

  if (strncmp (clean_dest, "/proc", 5) != 0 || (clean_dest[5] != '\0' && clean_dest[5] != '/'))
    return CT_PROC_OUTSIDE;
  if (clean_dest[5] == '\0')
    return CT_PROC_ROOT;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (strcmp (clean_dest, files[i]) == 0)
      return CT_PROC_FILE;
  return CT_PROC_REFUSED;
}

static int
mkpath (int rootfd, const char *rel, bool last_dir, int depth, struct tr_error *err)
{
  char buf[4096];
  char *slash;
  size_t len;

  if (depth > 40)
    return tr_fail (err, ELOOP, "create /%s in the container", rel);
  if (clean_rel (rel, buf, sizeof buf) < 0)
    return tr_fail (err, ENAMETOOLONG, "create /%s", rel);
  len = strlen (buf);
  /* Walk prefix by prefix; each existing prefix is resolved in-root.  */
  for (size_t i = 0; i <= len; i++)
    {
      bool is_last = i == len;
      char saved;
      cleanup_close int fd = -1;
      cleanup_close int parent = -1;
      const char *name;
      char link[4096];
      ssize_t n;

      if (!is_last && buf[i] != '/')
        continue;
      saved = buf[i];
      buf[i] = '\0';
      if (buf[0] == '\0')
        {
          buf[i] = saved;
          continue;
        }
      fd = sys_openat2 (rootfd, buf, O_PATH | O_CLOEXEC, IN_ROOT);
      if (fd >= 0)
        {
          buf[i] = saved;
          continue;
        }
      if (errno != ENOENT)
        return tr_fail (err, errno, "resolve /%s in the container", buf);
      slash = strrchr (buf, '/');
      if (slash)
        {
          *slash = '\0';
          parent = sys_openat2 (rootfd, buf, O_PATH | O_DIRECTORY | O_CLOEXEC, IN_ROOT);
          *slash = '/';
          name = slash + 1;
        }
      else
        {
          parent = fcntl (rootfd, F_DUPFD_CLOEXEC, 0);
          name = buf;
        }
      if (parent < 0)
        return tr_fail (err, errno, "resolve the parent of /%s in the container", buf);
      if (!is_last || last_dir)
        {
          if (mkdirat (parent, name, 0755) == 0)
            {
              buf[i] = saved;
              continue;
            }
        }
      else
        {
          int f = openat (parent, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
          if (f >= 0)
            {
              close (f);
              buf[i] = saved;
              continue;
            }
        }
      if (errno != EEXIST)
        return tr_fail (err, errno, "create /%s in the container", buf);
      /* EEXIST after ENOENT: a dangling symlink.  Create what it points
       * at, inside the root.  */
      n = readlinkat (parent, name, link, sizeof link - 1);
      if (n < 0)
        return tr_fail (err, errno, "create /%s in the container", buf);
      link[n] = '\0';
      {
        char target[8192];
        if (link[0] == '/')
          snprintf (target, sizeof target, "%s", link);
        else if (slash)
          {
            *slash = '\0';
            snprintf (target, sizeof target, "%s/%s", buf, link);
            *slash = '/';
          }
        else
          snprintf (target, sizeof target, "%s", link);
        if (mkpath (rootfd, target, is_last ? last_dir : true, depth + 1, err) < 0)
          return -1;
      }
      buf[i] = saved;
    }
  return 0;
}

int
inroot_open (int rootfd, const char *path, int flags, bool create, bool dir, struct tr_error *err)
{
  char rel[4096];
  int fd;

  if (clean_rel (path, rel, sizeof rel) < 0)
    return tr_fail (err, ENAMETOOLONG, "%s", path);
  fd = sys_openat2 (rootfd, rel[0] ? rel : ".", flags | O_CLOEXEC, IN_ROOT);
  if (fd >= 0 || errno != ENOENT || !create)
    {
      if (fd < 0)
        return tr_fail (err, errno, "open %s in the container", path);
      return fd;
    }
  if (mkpath (rootfd, rel, dir, 0, err) < 0)
    return -1;
  fd = sys_openat2 (rootfd, rel, flags | O_CLOEXEC, IN_ROOT);
  if (fd < 0)
    return tr_fail (err, errno, "open %s in the container", path);
  return fd;
}

/* ---- procfs ---- */

int
procfs_open_private (struct tr_error *err)
{
  cleanup_close int mnt
      = new_fs ("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
  struct statfs sf;

  if (mnt < 0)
    return tr_wrap (err, "a private procfs");
  if (fstatfs (mnt, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
    return tr_fail (err, EXDEV, "a private procfs: not procfs");
  return steal_fd (&mnt);
}

int
procfs_write (int procfd, const char *path, const char *value, struct tr_error *err)
{
  cleanup_close int fd = -1;
  struct statfs sf;
  size_t len = strlen (value);

  fd = sys_openat2 (procfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
                        | RESOLVE_NO_XDEV);
  if (fd < 0)
    return tr_fail (err, errno, "/proc/%s", path);
  if (fstatfs (fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
    return tr_fail (err, EXDEV, "/proc/%s: not on procfs", path);
  if (write (fd, value, len) != (ssize_t) len)
    return tr_fail (err, errno, "write /proc/%s", path);
  return 0;
}

/* ---- mounts ---- */

static int
setattr (int fd, uint64_t set, uint64_t clr, unsigned long prop, bool recursive, const char *what,
         struct tr_error *err)
{
  struct mount_attr a = { .attr_set = set, .attr_clr = clr, .propagation = prop };

  if (set == 0 && clr == 0 && prop == 0)
    return 0;
  if (mount_setattr (fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a) < 0)
    return tr_fail (err, errno, "%s: set mount flags", what);
  return 0;
}

/* Refuse a /proc or /sys (or anything under them) reached through a
 * symlink in the image.  */
static int
check_special_dest (int rootfd, const char *dest, struct tr_error *err)
{
  static const char *const special[] = { "proc", "sys" };
  char rel[4096];

  if (clean_rel (dest, rel, sizeof rel) < 0)
    return tr_fail (err, ENAMETOOLONG, "%s", dest);
  for (size_t i = 0; i < 2; i++)
    {
      size_t n = strlen (special[i]);
      if (strncmp (rel, special[i], n) == 0 && (rel[n] == '\0' || rel[n] == '/'))
        {
          struct stat st;
          if (fstatat (rootfd, special[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
            return tr_fail (err, 0, "mount %s: /%s in the rootfs is a symlink", dest, special[i]);
        }
    }
  return 0;
}

/* Copy the directory SRC's contents into DST (tmpcopyup).  */
static int
copy_tree (int src, int dst, int depth, struct tr_error *err)
{
  cleanup_close int dfd = -1;
  DIR *d;
  struct dirent *e;
  int r = 0;

  if (depth > 64)
    return tr_fail (err, ELOOP, "tmpcopyup: too deep");
  dfd = openat (src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || (d = fdopendir (dfd)) == NULL)
    return tr_fail (err, errno, "tmpcopyup: open");
  dfd = -1; /* owned by d */
  while (r == 0 && (e = readdir (d)) != NULL)
    {
      struct stat st;
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          cleanup_close int s2 = -1;
          cleanup_close int d2 = -1;
          if (mkdirat (dst, e->d_name, st.st_mode & 07777) < 0 && errno != EEXIST)
            r = tr_fail (err, errno, "tmpcopyup: mkdir %s", e->d_name);
          else if ((s2 = openat (dirfd (d), e->d_name,
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
                       < 0
                   || (d2
                       = openat (dst, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
                          < 0)
            r = tr_fail (err, errno, "tmpcopyup: open %s", e->d_name);
          else
            r = copy_tree (s2, d2, depth + 1, err);
        }
      else if (S_ISLNK (st.st_mode))
        {
          char link[4096];
          ssize_t n = readlinkat (dirfd (d), e->d_name, link, sizeof link - 1);
          if (n >= 0)
            {
              link[n] = '\0';
              if (symlinkat (link, dst, e->d_name) < 0)
                r = tr_fail (err, errno, "tmpcopyup: symlink %s", e->d_name);
            }
        }
      else if (S_ISREG (st.st_mode))
        {
          cleanup_close int in = openat (dirfd (d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
          cleanup_close int out = -1;
          char buf[65536];
          ssize_t n;
          if (in < 0)
            continue;
          out = openat (dst, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 07777);
          if (out < 0)
            {
              r = tr_fail (err, errno, "tmpcopyup: create %s", e->d_name);
              break;
            }
          while ((n = read (in, buf, sizeof buf)) > 0)
            if (write (out, buf, (size_t) n) != n)
              {
                r = tr_fail (err, errno, "tmpcopyup: write %s", e->d_name);
                break;
              }
        }
      else
        continue;
      /* Ownership and mode follow the original where the user namespace
       * allows; an unmapped owner keeps the copy as ours.  */
      if (r == 0 && fchownat (dst, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0
          && errno != EINVAL && errno != EPERM)
        r = tr_fail (err, errno, "tmpcopyup: chown %s", e->d_name);
      if (r == 0 && !S_ISLNK (st.st_mode) && fchmodat (dst, e->d_name, st.st_mode & 07777, 0) < 0)
        r = tr_fail (err, errno, "tmpcopyup: chmod %s", e->d_name);
    }
  closedir (d);
  return r;
}

/* A detached mount of a new filesystem of type M->type.  */
static int
make_fs (const struct ct_mount *m, const char *type, struct tr_error *err)
{
  cleanup_free const char **opts = calloc (2 * m->n_data + 3, sizeof *opts);
  uint64_t attrs = m->attr_set & ~(uint64_t) MOUNT_ATTR_IDMAP;
  size_t n = 0;
  int mnt;

  if (opts == NULL)
    return tr_fail (err, ENOMEM, "%s", m->what);
  /* The spec's source: what mountinfo shows for a virtual filesystem, the
   * device (looked up by the kernel, from inside the container's mount
   * namespace) for one that needs it.  */
  if (m->source && m->source[0])
    {
      opts[n++] = "source";
      opts[n++] = m->source;
    }
  for (size_t i = 0; i < m->n_data; i++)
    {
      opts[n++] = m->data_keys[i];
      opts[n++] = m->data_values[i];
    }
  mnt = new_fs (type, opts, attrs, err);
  if (mnt < 0)
    return tr_wrap (err, "%s", m->what);
  return mnt;
}

static int
mount_one (int rootfd, const struct ct_mount *m, const struct ct_rootfs *rs, struct tr_error *err)
{
  cleanup_close int tree = -1;
  cleanup_close int dst = -1;
  struct stat st;
  bool is_dir = true;
  const char *type = m->type;
  uint64_t set = m->attr_set, clr = m->attr_clr;
  bool bind = m->bind;
  const char *source = m->source;
  bool recursive = m->recursive;
  char clean[4096];
  enum ct_proc_dest where;
  struct statfs dsf;

  if (check_special_dest (rootfd, m->destination, err) < 0)
    return tr_wrap (err, "%s", m->what);
  /* The parser refuses these already; the sandbox does not rely on it.  */
  if (ct_clean_path (m->destination, clean, sizeof clean) < 0)
    return tr_fail (err, ENAMETOOLONG, "%s", m->what);
  where = ct_proc_dest (clean);
  if (where == CT_PROC_REFUSED
      || (where == CT_PROC_ROOT && (bind || type == NULL || strcmp (type, "proc") != 0))
      || (where == CT_PROC_FILE && !bind))
    return tr_fail (err, EPERM,
                    "%s: %s cannot be mounted (only procfs on /proc, and binds of "
                    "regular files over the files lxcfs emulates)",
                    m->what, clean);

  if (!bind && type && (strcmp (type, "cgroup") == 0 || strcmp (type, "cgroup2") == 0))
    {
      /* Only cgroup v2, ever.  Without a cgroup namespace, the container's
       * own cgroup directory, read-only.  */
      if (rs->cgroupns)
        type = "cgroup2";
      else if (rs->cgroup_path && rs->cgroup_path[0])
        {
          bind = true;
          source = rs->cgroup_path;
          recursive = true;
          set |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        }
      else
        {
          /* No cgroup of its own: an empty read-only directory.  */
          static const char *const empty[] = { "size", "0", "mode", "0555", NULL };
          tree = new_fs (
              "tmpfs", empty,
              MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
          if (tree < 0)
            return tr_wrap (err, "%s", m->what);
        }
    }
  if (!bind && tree < 0 && type && strcmp (type, "sysfs") == 0 && rs->userns && !rs->new_netns)
    {
      /* sysfs of the host's network namespace cannot be mounted from a
       * user namespace: bind the host's, read-only (as runc).  */
      bind = true;
      source = "/sys";
      recursive = true;
      set |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    }

  if (tree < 0 && bind)
    {
      tree = open_tree (AT_FDCWD, source,
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
      if (tree < 0)
        return tr_fail (err, errno, "%s: bind source %s", m->what, source);
      if (fstat (tree, &st) < 0)
        return tr_fail (err, errno, "%s: stat %s", m->what, source);
      is_dir = S_ISDIR (st.st_mode);
      if (where == CT_PROC_FILE && !S_ISREG (st.st_mode))
        return tr_fail (err, EPERM,
                        "%s: only a regular file can be bound over %s (%s is not "
                        "one)",
                        m->what, clean, source);
      if (setattr (tree, set, clr, 0, false, m->what, err) < 0)
        return -1;
      /* A read-only rbind is read-only all the way down: a writable
       * submount under it (a host cgroup filesystem under a /sys bound
       * into a rootless container, the class of CVE-2023-25809) would
       * undo it.  */
      if (recursive && (set & MOUNT_ATTR_RDONLY)
          && setattr (tree, MOUNT_ATTR_RDONLY, 0, 0, true, m->what, err) < 0)
        return -1;
    }
  else if (tree < 0)
    {
      tree = make_fs (m, type, err);
      if (tree < 0)
        return -1;
    }

  dst = inroot_open (rootfd, m->destination, O_PATH | (is_dir ? O_DIRECTORY : 0), true, is_dir,
                     err);
  if (dst < 0)
    return tr_wrap (err, "%s", m->what);
  /* A destination outside /proc that resolved into it (a symlink in the
   * image, or one met on the procfs mounted there) is refused: the
   * checks above went by the name.  */
  if (fstatfs (dst, &dsf) < 0)
    return tr_fail (err, errno, "%s: statfs %s", m->what, clean);
  if (dsf.f_type == PROC_SUPER_MAGIC && where == CT_PROC_OUTSIDE)
    return tr_fail (err, EPERM, "%s: %s resolves to a path inside /proc", m->what, clean);
  if (!is_dir)
    {
      struct stat ds;
      if (fstat (dst, &ds) == 0 && S_ISDIR (ds.st_mode))
        return tr_fail (err, ENOTDIR, "%s: the source is a file but %s is a directory", m->what,
                        m->destination);
    }
  if (m->tmpcopyup)
    {
      cleanup_close int from = openat (dst, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      cleanup_close int to = openat (tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (from < 0 || to < 0)
        return tr_fail (err, errno, "%s: tmpcopyup", m->what);
      if (copy_tree (from, to, 0, err) < 0)
        return tr_wrap (err, "%s", m->what);
    }
  if (attach (tree, dst, m->what, err) < 0)
    return -1;
  /* After the attach TREE names the mounted tree.  */
  if (setattr (tree, m->rattr_set, m->rattr_clr, 0, true, m->what, err) < 0)
    return -1;
  if (m->propagation && setattr (tree, 0, 0, m->propagation, m->prop_recursive, m->what, err) < 0)
    return -1;
  return 0;
}

static bool
has_dev_bind (const struct ct_rootfs *rs)
{
  for (size_t i = 0; i < rs->n_mounts; i++)
    if (strcmp (rs->mounts[i].destination, "/dev") == 0 && rs->mounts[i].bind)
      return true;
  return false;
}

int
rootfs_prepare (const struct ct_rootfs *rs, struct tr_error *err)
{
  unsigned long base = MS_SLAVE | MS_REC;

  /* Nothing below may propagate to the host: every mount becomes a slave
   * (private with rprivate).  rootfsPropagation is for the container's /,
   * applied after pivot_root, as runc does.  */
  if (rs->propagation == (MS_PRIVATE | MS_REC))
    base = rs->propagation;
  if (mount (NULL, "/", NULL, base, NULL) < 0)
    return tr_fail (err, errno, "mount namespace: make / %s",
                    base & MS_PRIVATE ? "private" : "a slave");
  /* The rootfs becomes a mount point of its own (pivot_root needs one).  */
  if (mount (rs->rootfs, rs->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return tr_fail (err, errno, "root.path %s: bind it onto itself", rs->rootfs);
  if (root_fd >= 0)
    close (root_fd);
  root_fd = open (rs->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return tr_fail (err, errno, "root.path %s", rs->rootfs);

  for (size_t i = 0; i < rs->n_mounts; i++)
    if (mount_one (root_fd, &rs->mounts[i], rs, err) < 0)
      return -1;
  if (!has_dev_bind (rs)
      && devices_create (root_fd, rs->devices, rs->n_devices, rs->userns, err) < 0)
    return -1;
  if (rs->console)
    {
      /* The pty peer is bound here later (console.c).  */
      cleanup_close int c
          = inroot_open (root_fd, "/dev/console", O_PATH | O_NOFOLLOW, true, false, err);
      if (c < 0)
        return tr_wrap (err, "/dev/console");
    }
  return 0;
}

/* mountinfo's octal escapes (\040 for a space) undone in place.  */
static void
unescape_mountinfo (char *s)
{
  char *o = s;
  for (; *s; s++)
    {
      if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0'
          && s[3] <= '7')
        {
          *o++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
          s += 3;
        }
      else
        *o++ = *s;
    }
  *o = '\0';
}

/* --no-pivot leaves the old root's mounts in the container's mount
 * namespace, under the chroot.  A fully visible procfs or sysfs there lets
 * a process of the container that makes a user namespace mount a fresh,
 * unmasked one (the kernel's mount_too_revealing only refuses when none is
 * visible).  Every procfs and sysfs outside the new root is detached
 * (deepest first), or, when it cannot be (locked in a user namespace),
 * covered with an empty read-only tmpfs, as runc does.  This mount
 * namespace is the container's and every mount in it a slave: nothing of
 * this reaches the host.  */
static int
hide_outer_proc_sys (const char *rootfs, struct tr_error *err)
{
  cleanup_free char *buf = NULL;
  cleanup_free char *root = realpath (rootfs, NULL);
  size_t len = 0, rlen;
  char *lines[4096];
  size_t n = 0;
  FILE *f;

  /* mountinfo names the root by its resolved path.  */
  if (root == NULL)
    return tr_fail (err, errno, "--no-pivot: resolve %s", rootfs);
  rlen = strlen (root);
  f = fopen ("/proc/self/mountinfo", "re");
  if (f == NULL)
    return tr_fail (err, errno, "--no-pivot: read /proc/self/mountinfo");
  if (getdelim (&buf, &len, '\0', f) < 0)
    {
      int e = errno;
      fclose (f);
      return tr_fail (err, e, "--no-pivot: read /proc/self/mountinfo");
    }
  fclose (f);
  for (char *save = NULL, *line = strtok_r (buf, "\n", &save); line && n < 4096;
       line = strtok_r (NULL, "\n", &save))
    lines[n++] = line;
  while (n-- > 0)
    {
      char *fields[5], *p = lines[n], *sep = strstr (lines[n], " - ");
      char type[32];
      size_t k = 0;
      if (sep == NULL || sscanf (sep + 3, "%31s", type) != 1)
        continue;
      if (strcmp (type, "proc") != 0 && strcmp (type, "sysfs") != 0)
        continue;
      *sep = '\0';
      for (char *save = NULL, *t = strtok_r (p, " ", &save); t && k < 5;
           t = strtok_r (NULL, " ", &save))
        fields[k++] = t;
      if (k < 5)
        continue;
      unescape_mountinfo (fields[4]);
      if (strncmp (fields[4], root, rlen) == 0
          && (fields[4][rlen] == '/' || fields[4][rlen] == '\0'))
        continue;
      if (umount2 (fields[4], MNT_DETACH) == 0 || errno == ENOENT)
        continue;
      if (mount ("tmpfs", fields[4], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "size=0,mode=0555")
          < 0)
        return tr_fail (err, errno, "--no-pivot: hide the %s at %s", type, fields[4]);
    }
  return 0;
}

int
rootfs_pivot (const struct ct_rootfs *rs, struct tr_error *err)
{
  cleanup_close int oldroot = -1;

  if (root_fd < 0)
    return tr_fail (err, EBADF, "pivot_root: no prepared root");
  if (fchdir (root_fd) < 0)
    return tr_fail (err, errno, "pivot_root: chdir to the new root");
  if (rs->no_pivot)
    {
      /* --no-pivot: move the root over / and chroot (weaker: the old root
       * stays mounted underneath).  */
      if (hide_outer_proc_sys (rs->rootfs, err) < 0)
        return -1;
      if (mount (".", "/", NULL, MS_MOVE, NULL) < 0)
        return tr_fail (err, errno, "without pivot_root: move the root over /");
      if (chroot (".") < 0)
        return tr_fail (err, errno, "without pivot_root: chroot");
    }
  else
    {
      oldroot = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (oldroot < 0)
        return tr_fail (err, errno, "pivot_root: open /");
      if (syscall (SYS_pivot_root, ".", ".") < 0)
        return tr_fail (err, errno, "pivot_root");
      /* The old root is stacked on /: make it a slave first so that its
       * unmount cannot propagate anywhere, then detach it.  */
      if (fchdir (oldroot) < 0)
        return tr_fail (err, errno, "pivot_root: chdir to the old root");
      if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return tr_fail (err, errno, "pivot_root: make the old root a slave");
      if (umount2 (".", MNT_DETACH) < 0)
        return tr_fail (err, errno, "pivot_root: detach the old root");
    }
  if (chdir ("/") < 0)
    return tr_fail (err, errno, "pivot_root: chdir /");
  close (root_fd);
  root_fd = -1;
  return 0;
}

/* A /dev/null that really is the char device 1:3, for masking files.  */
static int
verified_null (int rootfd, struct tr_error *err)
{
  int fd = sys_openat2 (rootfd, "dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW,
                        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  struct stat st;

  if (fd < 0)
    return tr_fail (err, errno, "maskedPaths: /dev/null (needed to mask files)");
  if (fstat (fd, &st) < 0 || !S_ISCHR (st.st_mode) || st.st_rdev != makedev (1, 3))
    {
      close (fd);
      return tr_fail (err, 0, "maskedPaths: /dev/null is not the null device");
    }
  return fd;
}

static int
mask_path (int rootfd, int *null_fd, const char *path, struct tr_error *err)
{
  cleanup_close int t = -1;
  cleanup_close int m = -1;
  struct stat st;
  char rel[4096];

  if (clean_rel (path, rel, sizeof rel) < 0 || rel[0] == '\0')
    return tr_fail (err, EINVAL, "maskedPaths: %s", path);
  t = sys_openat2 (rootfd, rel, O_PATH | O_CLOEXEC | O_NOFOLLOW, IN_ROOT);
  if (t < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        return 0;
      return tr_fail (err, errno, "maskedPaths: %s", path);
    }
  if (fstat (t, &st) < 0)
    return tr_fail (err, errno, "maskedPaths: %s", path);
  if (S_ISDIR (st.st_mode))
    {
      static const char *const empty[] = { "size", "0", "mode", "0555", NULL };
      m = new_fs ("tmpfs", empty,
                  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                  err);
      if (m < 0)
        return tr_wrap (err, "maskedPaths: %s", path);
    }
  else
    {
      if (*null_fd < 0)
        {
          *null_fd = verified_null (rootfd, err);
          if (*null_fd < 0)
            return -1;
        }
      m = open_tree (*null_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
      if (m < 0)
        return tr_fail (err, errno, "maskedPaths: %s: clone /dev/null", path);
    }
  return attach (m, t, path, err);
}

static int
readonly_path (int rootfd, const char *path, struct tr_error *err)
{
  cleanup_close int t = -1;
  cleanup_close int tree = -1;
  char rel[4096];

  if (clean_rel (path, rel, sizeof rel) < 0 || rel[0] == '\0')
    return tr_fail (err, EINVAL, "readonlyPaths: %s", path);
  t = sys_openat2 (rootfd, rel, O_PATH | O_CLOEXEC, IN_ROOT);
  if (t < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        return 0;
      return tr_fail (err, errno, "readonlyPaths: %s", path);
    }
  tree = open_tree (t, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
  if (tree < 0)
    return tr_fail (err, errno, "readonlyPaths: %s: clone", path);
  if (setattr (tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, true, path,
               err)
      < 0)
    return -1;
  return attach (tree, t, path, err);
}

int
rootfs_finish (const struct ct_rootfs *rs, struct tr_error *err)
{
  cleanup_close int rootfd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int null_fd = -1;

  if (rootfd < 0)
    return tr_fail (err, errno, "open /");
  for (size_t i = 0; i < rs->n_masked; i++)
    if (mask_path (rootfd, &null_fd, rs->masked[i], err) < 0)
      return -1;
  for (size_t i = 0; i < rs->n_readonly; i++)
    if (readonly_path (rootfd, rs->readonly_paths[i], err) < 0)
      return -1;
  if (rs->readonly)
    {
      cleanup_close int top = open_tree (AT_FDCWD, "/", OPEN_TREE_CLOEXEC);
      if (top < 0 || setattr (top, MOUNT_ATTR_RDONLY, 0, 0, false, "root.readonly", err) < 0)
        return top < 0 ? tr_fail (err, errno, "root.readonly") : -1;
    }
  /* The non-r forms apply to / alone, the r forms to the whole tree.  */
  if (rs->propagation && mount (NULL, "/", NULL, rs->propagation, NULL) < 0)
    return tr_fail (err, errno, "linux.rootfsPropagation");
  return 0;
}
