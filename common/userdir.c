#define _GNU_SOURCE
#include "common/userdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* openat2 without the syscall (kernels before 5.6, valgrind): the same
 * walk done one component at a time, each opened with O_NOFOLLOW, so a
 * symlink anywhere on the way is refused (ELOOP) just the same.  Only the
 * RESOLVE_ flags used here: BENEATH, NO_SYMLINKS, NO_MAGICLINKS.  */
int
tr_openat2_walk (int dirfd, const char *path, int flags, unsigned long long resolve)
{
  char buf[PATH_MAX], *save = NULL, *part, *next;
  int fd, r;

  if (snprintf (buf, sizeof buf, "%s", path) >= (int) sizeof buf)
    return errno = ENAMETOOLONG, -1;
  if (buf[0] == '/' && (resolve & RESOLVE_BENEATH))
    return errno = EXDEV, -1;
  fd = buf[0] == '/' ? open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC)
                     : openat (dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  part = strtok_r (buf, "/", &save);
  if (part == NULL) /* "/" or "": the start itself */
    {
      if (fd >= 0)
        close (fd);
      return openat (dirfd, buf[0] == '/' ? "/" : ".", flags | O_CLOEXEC);
    }
  for (; fd >= 0 && part; part = next)
    {
      next = strtok_r (NULL, "/", &save);
      if (strcmp (part, "..") == 0 && (resolve & RESOLVE_BENEATH))
        {
          close (fd);
          return errno = EXDEV, -1;
        }
      r = next ? openat (fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
               : openat (fd, part, flags | O_NOFOLLOW | O_CLOEXEC);
      if (r < 0 && errno == ENOTDIR)
        {
          /* O_DIRECTORY | O_NOFOLLOW on a symlink says ENOTDIR.  */
          struct stat st;
          if (fstatat (fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
            errno = ELOOP;
        }
      close (fd);
      fd = r;
    }
  return fd;
}

int
tr_openat2 (int dirfd, const char *path, int flags, unsigned long long resolve)
{
  struct open_how how = { .flags = (unsigned long long) flags, .resolve = resolve };
  int fd = (int) syscall (SYS_openat2, dirfd, path, &how, sizeof how);

  if (fd < 0 && errno == ENOSYS)
    return tr_openat2_walk (dirfd, path, flags, resolve);
  return fd;
}

const char *
userdir_home (void)
{
  const char *home = getenv ("HOME");
  return home && home[0] == '/' ? home : NULL;
}

int
userdir_state_path (char *buf, size_t size, struct tr_error *err)
{
  const char *xdg = getenv ("XDG_STATE_HOME"), *home = userdir_home ();
  int n;

  /* The XDG spec: a relative value is invalid and must be ignored.  */
  if (xdg && xdg[0] == '/')
    n = snprintf (buf, size, "%s/tactus-run", xdg);
  else if (home)
    n = snprintf (buf, size, "%s/.local/state/tactus-run", home);
  else
    return tr_fail (err, 0,
                    "neither XDG_STATE_HOME nor HOME is set: tactus-run keeps its trust store "
                    "and checkpoints under $XDG_STATE_HOME/tactus-run (set one of them)");
  if (n < 0 || (size_t) n >= size)
    return tr_fail (err, ENAMETOOLONG, "the state directory");
  return 0;
}

void
userdir_runtime_path (char *buf, size_t size)
{
  const char *xdg = getenv ("XDG_RUNTIME_DIR");

  if (geteuid () == 0)
    snprintf (buf, size, "/run/tactus-run");
  else if (xdg && xdg[0] == '/')
    snprintf (buf, size, "%s/tactus-run", xdg);
  else
    /* /tmp is shared: anyone may create this name first.  userdir_open
     * refuses it then (not ours, or not private), never uses it.  */
    snprintf (buf, size, "/tmp/tactus-run-%u", (unsigned) geteuid ());
}

int
userdir_pool_socket (char *buf, size_t size, bool make, struct tr_error *err)
{
  char dir[PATH_MAX];
  int fd;

  userdir_runtime_path (dir, sizeof dir);
  fd = userdir_open (dir, make, err);
  if (fd < 0)
    {
      if (errno == ENOENT)
        tr_fail (err, 0, "no pool at %s (start one with: tactus-run serve)", dir);
      return -1;
    }
  close (fd);
  if (snprintf (buf, size, "%s/%s", dir, USERDIR_POOL_SOCKET) >= (int) size)
    return tr_fail (err, ENAMETOOLONG, "%s", dir);
  return 0;
}

int
userdir_check_server (int sock, const char *path, struct tr_error *err)
{
  struct ucred cred;
  socklen_t len = sizeof cred;

  if (getsockopt (sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return tr_fail (err, errno, "%s: whose socket is it (SO_PEERCRED)", path);
  if (cred.uid != geteuid () && cred.uid != 0)
    return tr_fail (err, 0,
                    "%s is served by uid %u (pid %d), not by you (uid %u) or root: refusing to "
                    "send it anything (another user may be posing as your pool)",
                    path, (unsigned) cred.uid, (int) cred.pid, (unsigned) geteuid ());
  return 0;
}

/* FD (PATH) is a directory owned by us that nobody else may enter.  */
static int
check_private (int fd, const char *path, struct tr_error *err)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return tr_fail (err, errno, "%s", path);
  if (!S_ISDIR (st.st_mode))
    return tr_fail (err, ENOTDIR, "%s", path);
  if (st.st_uid != geteuid ())
    return tr_fail (err, 0,
                    "%s belongs to uid %u, not to you (uid %u): another user may have made it "
                    "to catch tactus-run's files or connections; refusing to use it (remove it, "
                    "or make tactus-run use another place)",
                    path, (unsigned) st.st_uid, (unsigned) geteuid ());
  if (st.st_mode & 077)
    return tr_fail (err, 0,
                    "%s has mode %04o: it must be private to you, since others could put files "
                    "in it or read them (chmod 700 %s)",
                    path, (unsigned) (st.st_mode & 07777), path);
  return 0;
}

/* mkdir -p of PATH's parents (0700 for the ones made: the XDG spec's
 * mode for the state directory's parents too).  */
static void
make_parents (const char *path)
{
  char buf[PATH_MAX];

  if (snprintf (buf, sizeof buf, "%s", path) >= (int) sizeof buf)
    return;
  for (char *p = buf + 1; (p = strchr (p, '/')) != NULL; p++)
    {
      *p = '\0';
      mkdir (buf, 0700);
      *p = '/';
    }
}

int
userdir_open (const char *path, bool create, struct tr_error *err)
{
  cleanup_close int fd = -1;

  if (create)
    {
      make_parents (path);
      if (mkdir (path, 0700) < 0 && errno != EEXIST)
        return tr_fail (err, errno, "cannot make %s", path);
    }
  /* O_NOFOLLOW: a symlink planted at PATH (in /tmp, say) is refused, not
   * followed.  The parents are the user's own (or /tmp, /run).  */
  fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int e = errno;
      struct stat st;
      /* (With O_DIRECTORY, a symlink gives ENOTDIR.)  */
      bool link = e == ELOOP || (e == ENOTDIR && lstat (path, &st) == 0 && S_ISLNK (st.st_mode));
      tr_fail (err, link ? 0 : e, link ? "%s is a symlink: refused" : "%s", path);
      errno = e;
      return -1;
    }
  if (check_private (fd, path, err) < 0)
    return -1;
  return steal_fd (&fd);
}

int
userdir_open_at (int dirfd, const char *display, const char *name, bool create,
                 struct tr_error *err)
{
  cleanup_close int fd = -1;
  char path[PATH_MAX + 256];

  snprintf (path, sizeof path, "%s/%s", display, name);
  if (create && mkdirat (dirfd, name, 0700) < 0 && errno != EEXIST)
    return tr_fail (err, errno, "cannot make %s", path);
  fd = tr_openat2 (dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, BENEATH);
  if (fd < 0)
    {
      int e = errno;
      tr_fail (err, e == ELOOP ? 0 : e, e == ELOOP ? "%s is a symlink: refused" : "%s", path);
      errno = e;
      return -1;
    }
  if (check_private (fd, path, err) < 0)
    return -1;
  return steal_fd (&fd);
}

/* The regular file open at FD (WHAT in messages), at most MAX bytes.  */
static int
read_all (int fd, const char *what, size_t max, char **buf, size_t *len, struct tr_error *err)
{
  cleanup_free char *p = NULL;
  struct stat st;
  size_t got = 0;

  if (fstat (fd, &st) < 0)
    return tr_fail (err, errno, "%s", what);
  if (!S_ISREG (st.st_mode))
    return tr_fail (err, 0, "%s is not a regular file: refused", what);
  if ((uint64_t) st.st_size > max)
    return tr_fail (err, EFBIG, "%s: larger than %zu bytes", what, max);
  p = malloc ((size_t) st.st_size + 1);
  if (p == NULL)
    return tr_fail (err, ENOMEM, "%s", what);
  while (got < (size_t) st.st_size)
    {
      ssize_t n = read (fd, p + got, (size_t) st.st_size - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return tr_fail (err, errno, "%s", what);
      if (n == 0)
        break;
      got += (size_t) n;
    }
  p[got] = '\0';
  *buf = steal_ptr (&p);
  *len = got;
  return 0;
}

int
userdir_read (int dirfd, const char *display, const char *name, size_t max, char **buf, size_t *len,
              struct tr_error *err)
{
  cleanup_close int fd = -1;
  char what[PATH_MAX + 256];

  *buf = NULL;
  *len = 0;
  snprintf (what, sizeof what, "%s/%s", display, name);
  fd = tr_openat2 (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, BENEATH);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return errno == ELOOP ? tr_fail (err, 0, "%s is a symlink: refused", what)
                          : tr_fail (err, errno, "%s", what);
  return read_all (fd, what, max, buf, len, err);
}

/* A new file beneath DIRFD with a name nobody can guess, made with O_EXCL
 * (so never through a link), holding DATA; its name in TMP.  */
static int
write_temporary (int dirfd, const char *display, const char *name, const void *data, size_t len,
                 char *tmp, size_t tmpsize, struct tr_error *err)
{
  cleanup_close int fd = -1;
  uint8_t rnd[6];
  size_t off = 0;

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    return tr_fail (err, errno, "getrandom");
  snprintf (tmp, tmpsize, ".%s.%02x%02x%02x%02x%02x%02x.tmp", name, rnd[0], rnd[1], rnd[2], rnd[3],
            rnd[4], rnd[5]);
  fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return tr_fail (err, errno, "cannot write in %s", display);
  while (off < len)
    {
      ssize_t n = write (fd, (const char *) data + off, len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int e = n < 0 ? errno : EIO;
          unlinkat (dirfd, tmp, 0);
          return tr_fail (err, e, "cannot write %s/%s", display, name);
        }
      off += (size_t) n;
    }
  if (close (steal_fd (&fd)) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return tr_fail (err, e, "cannot write %s/%s", display, name);
    }
  return 0;
}

int
userdir_write (int dirfd, const char *display, const char *name, const void *data, size_t len,
               struct tr_error *err)
{
  char tmp[NAME_MAX + 1];

  if (strlen (name) > NAME_MAX - 20)
    return tr_fail (err, ENAMETOOLONG, "%s/%s", display, name);
  if (write_temporary (dirfd, display, name, data, len, tmp, sizeof tmp, err) < 0)
    return -1;
  /* rename replaces NAME itself, even when it is a symlink: nothing is
   * ever written through one.  */
  if (renameat (dirfd, tmp, dirfd, name) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return tr_fail (err, e, "cannot write %s/%s", display, name);
    }
  return 0;
}

int
userdir_remove (int dirfd, const char *display, const char *name, struct tr_error *err)
{
  if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
    return tr_fail (err, errno, "cannot remove %s/%s", display, name);
  return 0;
}

int
userdir_secret (int dirfd, const char *display, const char *name, uint8_t *key, size_t len,
                struct tr_error *err)
{
  char tmp[NAME_MAX + 1];
  char *buf;
  size_t n;

  for (int attempt = 0; attempt < 2; attempt++)
    {
      if (userdir_read (dirfd, display, name, len + 1, &buf, &n, err) < 0)
        return -1;
      if (buf)
        {
          bool ok = n == len;
          if (ok)
            memcpy (key, buf, len);
          explicit_bzero (buf, n);
          free (buf);
          if (!ok)
            return tr_fail (err, 0,
                            "%s/%s is not a key of %zu bytes (damaged?): remove it to make a "
                            "new one (what it signed is then refused)",
                            display, name, len);
          return 0;
        }
      if (getrandom (key, len, 0) != (ssize_t) len)
        return tr_fail (err, errno, "getrandom");
      if (strlen (name) > NAME_MAX - 20
          || write_temporary (dirfd, display, name, key, len, tmp, sizeof tmp, err) < 0)
        return -1;
      /* linkat fails with EEXIST when another process made the key first:
       * then that one is read and used.  */
      if (linkat (dirfd, tmp, dirfd, name, 0) == 0)
        {
          unlinkat (dirfd, tmp, 0);
          return 0;
        }
      n = (size_t) errno;
      unlinkat (dirfd, tmp, 0);
      explicit_bzero (key, len);
      if ((int) n != EEXIST)
        return tr_fail (err, (int) n, "cannot make %s/%s", display, name);
    }
  return tr_fail (err, 0, "%s/%s: cannot be made or read", display, name);
}

int
tr_read_file (const char *path, size_t max, char **buf, size_t *len, char *real, size_t realsize,
              struct tr_error *err)
{
  cleanup_close int fd = -1;
  char link[64];
  ssize_t n;

  *buf = NULL;
  *len = 0;
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0 : tr_fail (err, errno, "%s", path);
  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, real, realsize - 1);
  if (n > 0 && real[0] == '/')
    real[n] = '\0';
  else if (realpath (path, real) == NULL) /* no /proc */
    return tr_fail (err, errno, "%s", path);
  return read_all (fd, path, max, buf, len, err);
}
