/* The supervisor of a native cage: it serves the seccomp user
 * notifications of the cage's supervised filter (supervise-*.policy):
 *   - the calls that create a name (mkdir, symlink, link, rename, open with
 *     O_CREAT), where the cage can write a host directory: a protected name
 *     (common/protected.h) is refused there, any other is created;
 *   - connect, where the cage may use unix sockets: a pathname socket on a
 *     host filesystem (the workspace, a bind) is refused unless the spec
 *     lists it; everything else is connected.
 *
 * Why this is safe (the rule of every seccomp supervisor: never let the
 * kernel re-read what was checked, SECCOMP_USER_NOTIF_FLAG_CONTINUE is
 * never used):
 *   - the supervisor makes the call itself.  It reads each path from the
 *     cage's memory once (/proc/PID/mem), resolves it in the cage's own
 *     view with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from the
 *     cage's root (/proc/PID/root; relative paths start from the cage's
 *     cwd or directory fd, as /proc names it inside the cage), checks the
 *     last component, and acts on the directory fd it resolved: a thread
 *     of the cage that rewrites the string, or swaps a symlink in, changes
 *     nothing it checked.  A created file is handed back with
 *     SECCOMP_IOCTL_NOTIF_ADDFD (the call's return value);
 *   - an O_CREAT open that meets a symlink as its last component follows
 *     it here, one link at a time, checking each name it would create;
 *   - a connect is made on the cage's own socket (a copy taken with
 *     pidfd_getfd: same socket, same network namespace) to
 *     /proc/self/fd/N, the O_PATH fd of the socket that was checked, not
 *     to the path again;
 *   - the supervisor acts with the ids the cage's root has on the host
 *     (a root launcher switches its effective and file-system ids per call,
 *     without supplementary groups, which also empties its effective
 *     capabilities): it can do nothing the cage could not, except refuse.
 *     The peer of a connection sees those ids (SO_PEERCRED), and the
 *     supervisor's pid;
 *   - it is a separate process, not dumpable, outside the cage's pid
 *     namespace: the cage cannot signal, trace or read it.  It ends when
 *     the cage does (the listener hangs up) or with the launcher.
 * Each notification's id is checked valid after the cage's memory and
 * /proc entries were read, so a recycled pid is never acted for.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/protected.h"
#include "sandbox/internal.h"

#define MAX_LINKS 40
#define MAX_LOGGED 20

struct sup
{
  const struct supervisor_config *c;
  const char *const *list;
  dev_t private_devs[8]; /* the cage's own filesystems (root, /tmp, /dev...) */
  int n_private;
  int logged;
};

/* ---- the cage's view -------------------------------------------------------- */

static bool
id_valid (const struct sup *s, uint64_t id)
{
  return ioctl (s->c->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* A NUL-terminated string at ADDR in the cage's memory (MEM: its
 * /proc/PID/mem).  */
static int
read_string (int mem, uint64_t addr, char *buf, size_t size)
{
  size_t got = 0;

  if (addr == 0)
    return -EFAULT;
  while (got < size)
    {
      /* Up to the end of the page: the next one may not be mapped.  */
      size_t chunk = 4096 - ((addr + got) & 4095);
      ssize_t n;
      if (chunk > size - got)
        chunk = size - got;
      n = pread (mem, buf + got, chunk, (off_t) (addr + got));
      if (n <= 0)
        return -EFAULT;
      if (memchr (buf + got, '\0', (size_t) n))
        return 0;
      got += (size_t) n;
    }
  return -ENAMETOOLONG;
}

/* PATH (from the cage, relative to DIRFD there) as an absolute path in
 * the cage: its cwd or the directory DIRFD, as the cage's /proc names
 * them, joined with PATH.  */
static int
cage_path (int procfd, int dirfd, const char *path, char *out, size_t size)
{
  char link[64], base[PATH_MAX];
  ssize_t n;

  if (path[0] == '/')
    {
      if (strlen (path) >= size)
        return -ENAMETOOLONG;
      strcpy (out, path);
      return 0;
    }
  if (dirfd == AT_FDCWD)
    snprintf (link, sizeof link, "cwd");
  else
    snprintf (link, sizeof link, "fd/%d", dirfd);
  n = readlinkat (procfd, link, base, sizeof base - 1);
  if (n < 0)
    return dirfd == AT_FDCWD ? -ENOENT : -EBADF;
  base[n] = '\0';
  if (base[0] != '/')
    return -ENOTDIR; /* a pipe, a socket... */
  if ((size_t) snprintf (out, size, "%s%s%s", base, path[0] ? "/" : "", path) >= size)
    return -ENAMETOOLONG;
  return 0;
}

static int
open_in_root (int rootfd, const char *abs, int flags)
{
  struct open_how how = { .flags = (unsigned long long) (flags | O_CLOEXEC),
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  const char *rel = abs;

  while (*rel == '/')
    rel++;
  return (int) syscall (SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof how);
}

/* The directory holding ABS's last component (opened in the cage's view)
 * and that component in NAME.  Trailing slashes go (mkdir "d/").  */
static int
open_parent (int rootfd, char *abs, char *name, size_t size)
{
  size_t len = strlen (abs);
  char *slash;
  int fd;

  while (len > 1 && abs[len - 1] == '/')
    abs[--len] = '\0';
  slash = strrchr (abs, '/');
  if (slash == NULL || slash[1] == '\0')
    {
      snprintf (name, size, ".");
      return open_in_root (rootfd, abs, O_PATH | O_DIRECTORY);
    }
  if (strlen (slash + 1) >= size)
    return -ENAMETOOLONG;
  strcpy (name, slash + 1);
  *slash = '\0';
  fd = open_in_root (rootfd, abs[0] ? abs : "/", O_PATH | O_DIRECTORY);
  *slash = '/';
  return fd < 0 ? -errno : fd;
}

static bool
on_private_fs (const struct sup *s, int fd)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return false;
  for (int i = 0; i < s->n_private; i++)
    if (s->private_devs[i] == st.st_dev)
      return true;
  return false;
}

/* What a refusal looks like on the launcher's stderr (with the caller's
 * HINT when it gave one: the sandbox names no flag): the cage's bytes
 * escaped (every control, and every byte past ASCII: a C1 control or a
 * bidi override is UTF-8 there), and not more than MAX_LOGGED lines.  */
static void
log_refusal (struct sup *s, const char *what, const char *path, const char *hint)
{
  char clean[512];
  size_t o = 0;

  if (s->logged++ >= MAX_LOGGED)
    {
      if (s->logged == MAX_LOGGED + 1)
        fprintf (stderr, "tactus-run: sandbox: further refusals are not shown\n");
      return;
    }
  for (const unsigned char *p = (const unsigned char *) path; *p && o + 5 < sizeof clean; p++)
    {
      if (*p < 0x20 || *p >= 0x7f || *p == '\\')
        o += (size_t) snprintf (clean + o, sizeof clean - o, "\\x%02x", *p);
      else
        clean[o++] = (char) *p;
    }
  clean[o] = '\0';
  fprintf (stderr, "tactus-run: sandbox: refused %s '%s'%s%s%s\n", what, clean, hint ? " (" : "",
           hint ? hint : "", hint ? ")" : "");
}

/* The cage's umask (it applies to what the supervisor creates for it).  */
static mode_t
cage_umask (int procfd)
{
  char buf[2048];
  cleanup_close int fd = openat (procfd, "status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  const char *u;

  if (n <= 0)
    return 022;
  buf[n] = '\0';
  u = strstr (buf, "\nUmask:\t");
  return u ? (mode_t) strtoul (u + 8, NULL, 8) : 022;
}

/* A pidfd for the process of the notifying thread (its thread group:
 * before Linux 6.9 a pidfd names a whole process, and the thread's
 * descriptors are its process's).  */
static int
cage_pidfd (int procfd)
{
  char buf[2048];
  cleanup_close int fd = openat (procfd, "status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  const char *t;

  if (n <= 0)
    return -1;
  buf[n] = '\0';
  t = strstr (buf, "\nTgid:\t");
  if (t == NULL)
    return -1;
  return (int) syscall (SYS_pidfd_open, (pid_t) strtol (t + 7, NULL, 10), 0);
}

/* ---- acting as the cage ------------------------------------------------------ */

static void
id_enter (const struct sup *s, mode_t mask)
{
  umask (mask);
  if (!s->c->root_caller)
    return;
  /* glibc's wrappers: this process has one thread.  Effective ids only:
   * the saved ones stay 0, so id_leave can come back.  */
  if (setgroups (0, NULL) < 0 || setresgid (-1, s->c->gid, -1) < 0
      || setresuid (-1, s->c->uid, -1) < 0)
    _exit (1); /* never act as root */
}

static void
id_leave (const struct sup *s)
{
  umask (077);
  if (!s->c->root_caller)
    return;
  if (setresuid (-1, 0, -1) < 0 || setresgid (-1, 0, -1) < 0)
    _exit (1);
}

/* ---- the calls ------------------------------------------------------------------- */

/* Resolve (DIRFD, PATH) of the cage to its parent directory and last
 * component, and check the component where it would be created.
 * Returns the directory fd, or -errno.  */
static int
creation_target (struct sup *s, int procfd, int rootfd, int dirfd, const char *path, char *name,
                 size_t size, const char *what)
{
  char abs[PATH_MAX + 256];
  int r = cage_path (procfd, dirfd, path, abs, sizeof abs), fd;

  if (r < 0)
    return r;
  fd = open_parent (rootfd, abs, name, size);
  if (fd < 0)
    return fd;
  if (!on_private_fs (s, fd) && protected_name (s->list, name, strlen (name), NULL))
    {
      close (fd);
      log_refusal (s, what, abs, NULL);
      return -EACCES;
    }
  return fd;
}

static int64_t
do_open (struct sup *s, const struct seccomp_notif *req, int procfd, int mem, int rootfd, int dirfd,
         uint64_t path_addr, int flags, mode_t mode, int *out_fd)
{
  char path[PATH_MAX], abs[PATH_MAX + 256], name[256], target[PATH_MAX];
  mode_t mask = cage_umask (procfd);
  int r;

  *out_fd = -1;
  if ((r = read_string (mem, path_addr, path, sizeof path)) < 0)
    return r;
  if (!id_valid (s, req->id))
    return -ESRCH;
  if ((r = cage_path (procfd, dirfd, path, abs, sizeof abs)) < 0)
    return r;
  for (int links = 0; links <= MAX_LINKS; links++)
    {
      cleanup_close int dir = -1;
      int fd, e;
      ssize_t n;
      char *slash;

      if (strlen (abs) > 1 && abs[strlen (abs) - 1] == '/')
        return -EISDIR;
      dir = open_parent (rootfd, abs, name, sizeof name);
      if (dir < 0)
        return dir;
      if (!on_private_fs (s, dir) && protected_name (s->list, name, strlen (name), NULL))
        {
          log_refusal (s, "to create", abs, NULL);
          return -EACCES;
        }
      id_enter (s, mask);
      fd = openat (dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
      e = errno;
      id_leave (s);
      if (fd >= 0)
        {
          *out_fd = fd;
          return 0;
        }
      /* The last component is a symlink: the kernel would follow it and
       * create what it names.  Follow it here, checking that name.  */
      if (e != ELOOP || (flags & (O_NOFOLLOW | O_EXCL)))
        return -e;
      n = readlinkat (dir, name, target, sizeof target - 1);
      if (n < 0)
        return -ELOOP;
      target[n] = '\0';
      if (target[0] == '/')
        snprintf (abs, sizeof abs, "%s", target);
      else
        {
          slash = strrchr (abs, '/');
          if (slash == NULL)
            return -ENOENT;
          slash[1] = '\0';
          if (strlen (abs) + strlen (target) >= sizeof abs)
            return -ENAMETOOLONG;
          strcat (abs, target);
        }
    }
  return -ELOOP;
}

/* mkdir, symlink, link, rename: (DIRFD, PATH) of each name they take.  */
static int64_t
do_names (struct sup *s, const struct seccomp_notif *req, int procfd, int mem, int rootfd)
{
  const __u64 *a = req->data.args;
  int nr = req->data.nr;
  char p1[PATH_MAX], p2[PATH_MAX], n1[256], n2[256];
  cleanup_close int d1 = -1, d2 = -1;
  mode_t mask = cage_umask (procfd);
  int r, e;

  switch (nr)
    {
    case SYS_mkdir:
    case SYS_mkdirat:
      {
        int dirfd = nr == SYS_mkdir ? AT_FDCWD : (int) a[0];
        uint64_t pa = nr == SYS_mkdir ? a[0] : a[1];
        mode_t mode = (mode_t) (nr == SYS_mkdir ? a[1] : a[2]);
        if ((r = read_string (mem, pa, p1, sizeof p1)) < 0)
          return r;
        if (!id_valid (s, req->id))
          return -ESRCH;
        d1 = creation_target (s, procfd, rootfd, dirfd, p1, n1, sizeof n1, "to create");
        if (d1 < 0)
          return d1;
        id_enter (s, mask);
        r = mkdirat (d1, n1, mode);
        e = errno;
        id_leave (s);
        return r < 0 ? -e : 0;
      }
    case SYS_symlink:
    case SYS_symlinkat:
      {
        int dirfd = nr == SYS_symlink ? AT_FDCWD : (int) a[1];
        uint64_t pa = nr == SYS_symlink ? a[1] : a[2];
        if ((r = read_string (mem, a[0], p2, sizeof p2)) < 0
            || (r = read_string (mem, pa, p1, sizeof p1)) < 0)
          return r;
        if (!id_valid (s, req->id))
          return -ESRCH;
        d1 = creation_target (s, procfd, rootfd, dirfd, p1, n1, sizeof n1, "to create");
        if (d1 < 0)
          return d1;
        id_enter (s, mask);
        r = symlinkat (p2, d1, n1);
        e = errno;
        id_leave (s);
        return r < 0 ? -e : 0;
      }
    case SYS_link:
    case SYS_linkat:
      {
        int od = nr == SYS_link ? AT_FDCWD : (int) a[0],
            nd = nr == SYS_link ? AT_FDCWD : (int) a[2];
        uint64_t op = nr == SYS_link ? a[0] : a[1], np = nr == SYS_link ? a[1] : a[3];
        int flags = nr == SYS_link ? 0 : (int) a[4];
        if ((r = read_string (mem, op, p1, sizeof p1)) < 0
            || (r = read_string (mem, np, p2, sizeof p2)) < 0)
          return r;
        if (!id_valid (s, req->id))
          return -ESRCH;
        d2 = creation_target (s, procfd, rootfd, nd, p2, n2, sizeof n2, "to create");
        if (d2 < 0)
          return d2;
        if ((flags & AT_EMPTY_PATH) && p1[0] == '\0')
          {
            /* An unnamed file (O_TMPFILE) given a name.  */
            cleanup_close int pidfd = cage_pidfd (procfd);
            cleanup_close int src = pidfd < 0 ? -1 : (int) syscall (SYS_pidfd_getfd, pidfd, od, 0);
            if (src < 0)
              return -EBADF;
            id_enter (s, mask);
            r = linkat (src, "", d2, n2, AT_EMPTY_PATH);
            e = errno;
            id_leave (s);
            return r < 0 ? -e : 0;
          }
        {
          char abs[PATH_MAX + 256];
          if ((r = cage_path (procfd, od, p1, abs, sizeof abs)) < 0)
            return r;
          d1 = open_parent (rootfd, abs, n1, sizeof n1);
          if (d1 < 0)
            return d1;
        }
        id_enter (s, mask);
        r = linkat (d1, n1, d2, n2, flags & AT_SYMLINK_FOLLOW);
        e = errno;
        id_leave (s);
        return r < 0 ? -e : 0;
      }
    case SYS_rename:
    case SYS_renameat:
    case SYS_renameat2:
      {
        int od = nr == SYS_rename ? AT_FDCWD : (int) a[0],
            nd = nr == SYS_rename ? AT_FDCWD : (int) a[2];
        uint64_t op = nr == SYS_rename ? a[0] : a[1], np = nr == SYS_rename ? a[1] : a[3];
        unsigned flags = nr == SYS_renameat2 ? (unsigned) a[4] : 0;
        if ((r = read_string (mem, op, p1, sizeof p1)) < 0
            || (r = read_string (mem, np, p2, sizeof p2)) < 0)
          return r;
        if (!id_valid (s, req->id))
          return -ESRCH;
        d1 = creation_target (s, procfd, rootfd, od, p1, n1, sizeof n1, "to rename");
        if (d1 < 0)
          return d1;
        d2 = creation_target (s, procfd, rootfd, nd, p2, n2, sizeof n2, "to create");
        if (d2 < 0)
          return d2;
        id_enter (s, mask);
        r = (int) syscall (SYS_renameat2, d1, n1, d2, n2, flags);
        e = errno;
        id_leave (s);
        return r < 0 ? -e : 0;
      }
    default:
      return -ENOSYS;
    }
}

static bool
socket_allowed (const struct sup *s, int fd)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return false;
  if (on_private_fs (s, fd))
    return true;
  for (size_t i = 0; i < s->c->n_sockets; i++)
    if (s->c->sockets[i].dev == st.st_dev && s->c->sockets[i].ino == st.st_ino)
      return true;
  return false;
}

static int64_t
do_connect (struct sup *s, const struct seccomp_notif *req, int procfd, int mem, int rootfd)
{
  struct sockaddr_storage ss;
  socklen_t len = (socklen_t) req->data.args[2];
  cleanup_close int pidfd = -1, copy = -1, sock = -1;
  struct sockaddr_un *su = (struct sockaddr_un *) &ss;
  int r, e;

  if (len > sizeof ss)
    return -EINVAL;
  memset (&ss, 0, sizeof ss);
  if (len > 0 && pread (mem, &ss, len, (off_t) req->data.args[1]) != (ssize_t) len)
    return -EFAULT;
  pidfd = cage_pidfd (procfd);
  copy = pidfd < 0 ? -1 : (int) syscall (SYS_pidfd_getfd, pidfd, (int) req->data.args[0], 0);
  if (!id_valid (s, req->id))
    return -ESRCH;
  if (copy < 0)
    return -EBADF;
  if (len > offsetof (struct sockaddr_un, sun_path) && ss.ss_family == AF_UNIX
      && su->sun_path[0] != '\0')
    {
      /* A pathname socket: the one the cage names, checked, then reached
       * through its O_PATH fd, never through the path again.  */
      char path[sizeof su->sun_path + 1], abs[PATH_MAX + 256];
      size_t plen = len - offsetof (struct sockaddr_un, sun_path);
      struct stat st;

      memcpy (path, su->sun_path, plen);
      path[plen] = '\0';
      if ((r = cage_path (procfd, AT_FDCWD, path, abs, sizeof abs)) < 0)
        return r;
      sock = open_in_root (rootfd, abs, O_PATH);
      if (sock < 0)
        return -errno;
      if (fstat (sock, &st) < 0 || !S_ISSOCK (st.st_mode))
        return -ECONNREFUSED;
      if (!socket_allowed (s, sock))
        {
          log_refusal (s, "to connect to the unix socket", abs, s->c->socket_hint);
          return -EACCES;
        }
      memset (su, 0, sizeof *su);
      su->sun_family = AF_UNIX;
      snprintf (su->sun_path, sizeof su->sun_path, "/proc/self/fd/%d", sock);
      len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + strlen (su->sun_path) + 1);
    }
  /* Anything else (IP, an abstract or unnamed unix address) is looked up
   * in the socket's own network namespace: the cage's.  */
  id_enter (s, 077);
  r = connect (copy, (struct sockaddr *) &ss, len);
  e = errno;
  id_leave (s);
  return r < 0 ? -e : 0;
}

/* ---- the loop ---------------------------------------------------------------------- */

static void
handle (struct sup *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
  char proc[64];
  cleanup_close int procfd = -1, mem = -1, rootfd = -1;
  const __u64 *a = req->data.args;
  int64_t r = -ENOSYS;
  int fd = -1;

  snprintf (proc, sizeof proc, "/proc/%d", (int) req->pid);
  procfd = open (proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (procfd >= 0)
    {
      mem = openat (procfd, "mem", O_RDONLY | O_CLOEXEC);
      rootfd = openat (procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
  memset (resp, 0, sizeof *resp);
  resp->id = req->id;
  if (mem < 0 || rootfd < 0 || !id_valid (s, req->id))
    r = -ESRCH;
  else
    switch (req->data.nr)
      {
      case SYS_open:
        r = do_open (s, req, procfd, mem, rootfd, AT_FDCWD, a[0], (int) a[1], (mode_t) a[2], &fd);
        break;
      case SYS_creat:
        r = do_open (s, req, procfd, mem, rootfd, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC,
                     (mode_t) a[1], &fd);
        break;
      case SYS_openat:
        r = do_open (s, req, procfd, mem, rootfd, (int) a[0], a[1], (int) a[2], (mode_t) a[3], &fd);
        break;
      case SYS_connect:
        r = s->c->connect ? do_connect (s, req, procfd, mem, rootfd) : -ENOSYS;
        break;
      default:
        r = do_names (s, req, procfd, mem, rootfd);
        break;
      }
  if (fd >= 0)
    {
      /* The new descriptor is the call's result (Linux 5.14).  */
      int flags = (int) (req->data.nr == SYS_openat ? a[2] : req->data.nr == SYS_open ? a[1] : 0);
      struct seccomp_notif_addfd add = { .id = req->id,
                                         .flags = SECCOMP_ADDFD_FLAG_SEND,
                                         .srcfd = (uint32_t) fd,
                                         .newfd_flags = (uint32_t) (flags & O_CLOEXEC) };
      if (ioctl (s->c->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0 && errno != ENOENT)
        {
          close (fd);
          resp->error = -EMFILE;
          ioctl (s->c->listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
          return;
        }
      close (fd);
      return;
    }
  if (r < 0)
    resp->error = (int32_t) r;
  else
    resp->val = r;
  ioctl (s->c->listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

/* The cage's own filesystems, where any name may be made: its root,
 * /tmp, /dev (and what else is mounted fresh there).  */
static void
find_private_devs (struct sup *s)
{
  static const char *const dirs[] = { ".", "tmp", "dev", "dev/pts", "dev/shm", "proc" };
  char proc[64];
  cleanup_close int root = -1;

  snprintf (proc, sizeof proc, "/proc/%d/root", (int) s->c->pid1);
  root = open (proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (size_t i = 0; root >= 0 && i < sizeof dirs / sizeof dirs[0]; i++)
    {
      struct stat st;
      if (fstatat (root, dirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode))
        s->private_devs[s->n_private++] = st.st_dev;
    }
}

static _Noreturn void
serve (const struct supervisor_config *c)
{
  struct sup s = { .c = c, .list = c->protected_paths ? c->protected_paths : protected_defaults };
  struct seccomp_notif_sizes sizes;
  struct seccomp_notif *req;
  struct seccomp_notif_resp *resp;

  if (syscall (SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
    _exit (1);
  req = calloc (1, sizes.seccomp_notif > sizeof *req ? sizes.seccomp_notif : sizeof *req);
  resp = calloc (1,
                 sizes.seccomp_notif_resp > sizeof *resp ? sizes.seccomp_notif_resp : sizeof *resp);
  if (req == NULL || resp == NULL)
    _exit (1);
  find_private_devs (&s);
  umask (077);
  for (;;)
    {
      struct pollfd p = { .fd = c->listener, .events = POLLIN };
      if (poll (&p, 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          _exit (1);
        }
      if (p.revents & POLLHUP)
        _exit (0); /* no process of the cage is left */
      if (!(p.revents & POLLIN))
        continue;
      memset (req, 0, sizes.seccomp_notif);
      if (ioctl (c->listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
        {
          if (errno == EINTR || errno == ENOENT)
            continue;
          _exit (1);
        }
      handle (&s, req, resp);
    }
}

int
supervisor_possible (bool root_caller, struct tr_error *err)
{
  char buf[16] = "";
  struct tr_error ignored;

  /* Yama's relational ptrace (scope 1) lets only an ancestor read a
   * process's memory: the supervisor is the cage's sibling.  Root has
   * CAP_SYS_PTRACE; scope 0 (Debian's default) or no Yama is fine.  */
  if (root_caller
      || read_file_at (AT_FDCWD, "/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf, &ignored)
             < 0
      || atoi (buf) == 0)
    return 0;
  return tr_fail (err, 0,
                  "sandbox: a writable workspace or bind, or a unix socket allowed, needs the "
                  "supervisor to read the cage's memory, which kernel.yama.ptrace_scope=%d "
                  "forbids for an unprivileged user (give the workspace read-only or as an "
                  "overlay, run as root, or set the sysctl to 0)",
                  atoi (buf));
}

pid_t
supervisor_start (const struct supervisor_config *c, struct tr_error *err)
{
  pid_t pid = fork ();

  if (pid < 0)
    return tr_fail (err, errno, "sandbox: start the supervisor");
  if (pid > 0)
    return pid;
  /* Nothing of the launcher but the listener and stderr.  */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || prctl (PR_SET_DUMPABLE, 0) < 0
      || dup2 (c->listener, 3) < 0 || close_range (4, ~0U, 0) < 0)
    _exit (1);
  if (getppid () == 1)
    _exit (1);
  signal (SIGINT, SIG_IGN);
  signal (SIGTERM, SIG_DFL);
  {
    struct supervisor_config local = *c;
    local.listener = 3;
    serve (&local);
  }
}
