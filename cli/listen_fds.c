/* Socket activation for tactus-run serve (see listen_fds.h).
 *
 * Why this is safe: the fd is used only when LISTEN_PID names this very
 * process (a variable inherited from an ancestor is ignored), and only
 * when it is what serve would have made itself — a listening unix
 * SOCK_SEQPACKET socket; the pool still checks every client's uid
 * (SO_PEERCRED).  Anything else is an error, never a fallback to some
 * other fd.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/listen_fds.h"

static int
parse_pos (const char *s, long *out)
{
  char *end;
  long v;

  if (s == NULL || *s == '\0')
    return -1;
  errno = 0;
  v = strtol (s, &end, 10);
  if (errno || *end || v <= 0)
    return -1;
  *out = v;
  return 0;
}

int
listen_fds_take (char *path, size_t size, struct tr_error *err)
{
  const char *spid = getenv ("LISTEN_PID"), *sfds = getenv ("LISTEN_FDS");
  struct sockaddr_un addr;
  socklen_t len;
  long pid, n;
  int fd = LISTEN_FDS_START, v;
  int rc = 0;

  path[0] = '\0';
  if (spid == NULL)
    goto out;
  if (parse_pos (spid, &pid) < 0 || pid != (long) getpid ())
    goto out; /* meant for another process */
  if (parse_pos (sfds, &n) < 0)
    {
      rc = tr_fail (err, 0, "socket activation: LISTEN_FDS=\"%s\" is not a count of sockets",
                    sfds ? sfds : "");
      goto out;
    }
  if (n != 1)
    {
      rc = tr_fail (err, 0,
                    "socket activation: %ld sockets passed (LISTEN_FDS), serve listens on "
                    "exactly one (one ListenSequentialPacket= in the .socket unit)",
                    n);
      goto out;
    }
  len = sizeof v;
  if (getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0)
    {
      rc = tr_fail (err, errno, "socket activation: fd %d is not a socket", fd);
      goto out;
    }
  if (v != AF_UNIX)
    {
      rc = tr_fail (err, 0, "socket activation: fd %d is not a unix socket", fd);
      goto out;
    }
  len = sizeof v;
  if (getsockopt (fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_SEQPACKET)
    {
      rc = tr_fail (err, 0,
                    "socket activation: fd %d is not a SOCK_SEQPACKET socket (use "
                    "ListenSequentialPacket= in the .socket unit)",
                    fd);
      goto out;
    }
  len = sizeof v;
  if (getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
    {
      rc = tr_fail (err, 0, "socket activation: fd %d is not listening", fd);
      goto out;
    }
  memset (&addr, 0, sizeof addr);
  len = sizeof addr;
  if (getsockname (fd, (struct sockaddr *) &addr, &len) == 0 && addr.sun_path[0])
    snprintf (path, size, "%.*s", (int) sizeof addr.sun_path, addr.sun_path);
  else
    snprintf (path, size, "(fd %d)", fd);
  if (fcntl (fd, F_SETFD, FD_CLOEXEC) < 0)
    {
      rc = tr_fail (err, errno, "socket activation: fd %d", fd);
      goto out;
    }
  rc = fd;
out:
  unsetenv ("LISTEN_PID");
  unsetenv ("LISTEN_FDS");
  unsetenv ("LISTEN_FDNAMES");
  return rc;
}
