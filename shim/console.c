/* Terminals.
 *
 * The pty is made inside the container, from the container's own devpts
 * (after pivot_root): /dev/pts/ptmx is opened without following symlinks
 * and checked to be the ptmx of a devpts mount; the peer comes from
 * TIOCGPTPEER on that fd (never by path: CVE-2025-52565) and is bound onto
 * /dev/console from the fd.  The master goes to the --console-socket as
 * go-runc and conmon expect it: one message, the pty name as data, exactly
 * one SCM_RIGHTS fd; then the socket is closed without waiting for a reply
 * (the shim only accepts after create has returned).
 *
 * Without a console socket (run/exec -t), the master comes back to the
 * runtime, which copies between it and its own stdio.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdpass.h"
#include "shim/runc.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO ('T', 0x41)
#endif

int
console_connect (const char *path, struct tr_error *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = -1;

  if (strlen (path) >= sizeof addr.sun_path)
    return tr_fail (err, ENAMETOOLONG, "--console-socket %s", path);
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return tr_fail (err, errno, "--console-socket: socket");
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return tr_fail (err, errno, "--console-socket %s: connect", path);
  return steal_fd (&fd);
}

int
console_setup (bool bind_console, const struct oci_process *p, char *name, size_t name_size,
               struct tr_error *err)
{
  cleanup_close int master = -1;
  cleanup_close int peer = -1;
  struct stat st;
  struct statfs sf;
  unsigned n = 0;
  int unlock = 0;

  master = sys_openat2 (AT_FDCWD, "/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC,
                        RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (master < 0)
    return tr_fail (err, errno,
                    "terminal: open /dev/pts/ptmx (a devpts mount at /dev/pts is "
                    "needed for process.terminal)");
  if (fstat (master, &st) < 0 || !S_ISCHR (st.st_mode) || major (st.st_rdev) != 5
      || minor (st.st_rdev) != 2 || fstatfs (master, &sf) < 0 || sf.f_type != DEVPTS_SUPER_MAGIC)
    return tr_fail (err, 0, "terminal: /dev/pts/ptmx is not a devpts ptmx");
  if (ioctl (master, TIOCSPTLCK, &unlock) < 0 || ioctl (master, TIOCGPTN, &n) < 0)
    return tr_fail (err, errno, "terminal: unlock the pty");
  peer = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (peer < 0)
    return tr_fail (err, errno, "terminal: open the pty peer (TIOCGPTPEER)");
  snprintf (name, name_size, "/dev/pts/%u", n);
  if (p->has_console_size)
    {
      struct winsize ws = { .ws_row = (unsigned short) p->console_height,
                            .ws_col = (unsigned short) p->console_width };
      ioctl (master, TIOCSWINSZ, &ws);
    }
  if (bind_console)
    {
      cleanup_close int tree
          = open_tree (peer, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
      cleanup_close int dst = -1;
      if (tree < 0)
        return tr_fail (err, errno, "terminal: clone the pty peer for /dev/console");
      dst = sys_openat2 (AT_FDCWD, "/dev/console", O_PATH | O_CLOEXEC | O_NOFOLLOW,
                         RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
      if (dst < 0)
        return tr_fail (err, errno, "terminal: /dev/console");
      if (move_mount (tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return tr_fail (err, errno, "terminal: bind the pty onto /dev/console");
    }
  if (fchown (peer, p->uid, (gid_t) -1) < 0 && errno != EPERM && errno != EINVAL)
    return tr_fail (err, errno, "terminal: chown the pty");
  if (setsid () < 0)
    return tr_fail (err, errno, "terminal: setsid");
  if (ioctl (peer, TIOCSCTTY, 0) < 0)
    return tr_fail (err, errno, "terminal: make the pty the controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2 (peer, fd) < 0)
      return tr_fail (err, errno, "terminal: the pty as fd %d", fd);
  return steal_fd (&master);
}

int
console_send (int sock, int master, const char *name, struct tr_error *err)
{
  /* Exactly one message with one fd: go-runc rejects anything else.  */
  if (fd_send (sock, name[0] ? name : " ", name[0] ? strlen (name) : 1, &master, 1) < 0)
    return tr_fail (err, errno, "terminal: send the pty master to the console socket");
  return 0;
}

int
console_recv (int sock, int *master, struct tr_error *err)
{
  char data[256];
  int fds[2], nfds;
  ssize_t n = fd_recv (sock, data, sizeof data, fds, 2, &nfds);

  if (n <= 0)
    {
      for (int i = 0; i < nfds; i++)
        close (fds[i]);
      return tr_fail (err, n < 0 ? errno : EPIPE, "terminal: receive the pty master");
    }
  if (nfds != 1)
    {
      for (int i = 0; i < nfds; i++)
        close (fds[i]);
      return tr_fail (err, EPROTO, "terminal: no pty master in the message");
    }
  *master = fds[0];
  return 0;
}

static volatile sig_atomic_t winch;

static void
on_winch (int sig)
{
  (void) sig;
  winch = 1;
}

static void
copy_winsize (int master)
{
  struct winsize ws;
  if (ioctl (0, TIOCGWINSZ, &ws) == 0)
    ioctl (master, TIOCSWINSZ, &ws);
}

void
console_proxy (int master, int pidfd)
{
  struct termios saved, raw;
  bool restore = false;
  bool in_open = true;
  struct sigaction sa = { .sa_handler = on_winch };

  if (isatty (0) && tcgetattr (0, &saved) == 0)
    {
      raw = saved;
      cfmakeraw (&raw);
      restore = tcsetattr (0, TCSANOW, &raw) == 0;
      copy_winsize (master);
      sigaction (SIGWINCH, &sa, NULL);
    }
  for (;;)
    {
      struct pollfd p[3] = { { .fd = master, .events = POLLIN },
                             { .fd = in_open ? 0 : -1, .events = POLLIN },
                             { .fd = pidfd, .events = POLLIN } };
      char buf[4096];
      ssize_t n;

      if (winch)
        {
          winch = 0;
          copy_winsize (master);
        }
      if (poll (p, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        {
          n = read (master, buf, sizeof buf);
          if (n <= 0)
            break;
          if (write (1, buf, (size_t) n) < 0)
            break;
        }
      if (p[1].revents & (POLLIN | POLLHUP))
        {
          n = read (0, buf, sizeof buf);
          if (n <= 0)
            in_open = false;
          else if (write (master, buf, (size_t) n) < 0)
            in_open = false;
        }
      if (p[2].revents & POLLIN)
        {
          /* The process is gone: drain what it wrote, then stop.  */
          fcntl (master, F_SETFL, O_NONBLOCK);
          while ((n = read (master, buf, sizeof buf)) > 0)
            if (write (1, buf, (size_t) n) < 0)
              break;
          break;
        }
    }
  if (restore)
    tcsetattr (0, TCSANOW, &saved);
}
