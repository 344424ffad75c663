#define _GNU_SOURCE
#include "common/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

union fd_cmsg
{
  char buf[CMSG_SPACE (sizeof (int) * FDPASS_MAX)];
  struct cmsghdr align;
};

int
fd_send (int sock, const void *data, size_t len, const int *fds, int nfds)
{
  struct iovec iov = { .iov_base = (void *) data, .iov_len = len };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
  union fd_cmsg u;
  ssize_t n;

  if (nfds < 0 || nfds > FDPASS_MAX)
    {
      errno = EINVAL;
      return -1;
    }
  if (nfds > 0)
    {
      struct cmsghdr *c;
      memset (&u, 0, sizeof u);
      msg.msg_control = u.buf;
      msg.msg_controllen = CMSG_SPACE (sizeof (int) * (size_t) nfds);
      c = CMSG_FIRSTHDR (&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int) * (size_t) nfds);
      memcpy (CMSG_DATA (c), fds, sizeof (int) * (size_t) nfds);
    }
  do
    n = sendmsg (sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -1;
  if ((size_t) n != len)
    {
      errno = EMSGSIZE;
      return -1;
    }
  return 0;
}

ssize_t
fd_recv (int sock, void *data, size_t len, int *fds, int maxfds, int *nfds)
{
  struct iovec iov = { .iov_base = data, .iov_len = len };
  union fd_cmsg u;
  struct msghdr msg
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c;
  ssize_t n;

  *nfds = 0;
  do
    n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -1;
  for (c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        int got = (int) ((c->cmsg_len - CMSG_LEN (0)) / sizeof (int));
        int all[FDPASS_MAX];
        memcpy (all, CMSG_DATA (c), sizeof (int) * (size_t) got);
        for (int i = 0; i < got; i++)
          {
            if (*nfds < maxfds)
              fds[(*nfds)++] = all[i];
            else
              close (all[i]);
          }
      }
  return n;
}
