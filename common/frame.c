#define _GNU_SOURCE
#include "common/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fdpass.h"

static uint32_t
get_le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void
put_le32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) v;
  p[1] = (uint8_t) (v >> 8);
  p[2] = (uint8_t) (v >> 16);
  p[3] = (uint8_t) (v >> 24);
}

static void
drop_fd (struct frame_asm *a)
{
  if (a->has_fd)
    close (a->fd);
  a->has_fd = false;
  a->fd = -1;
}

void
frame_asm_reset (struct frame_asm *a)
{
  a->len = 0;
  drop_fd (a);
}

void
frame_asm_free (struct frame_asm *a)
{
  free (a->buf);
  a->buf = NULL;
  a->len = a->cap = 0;
  drop_fd (a);
}

int
frame_asm_take_fd (struct frame_asm *a)
{
  int fd = a->has_fd ? a->fd : -1;

  a->has_fd = false;
  a->fd = -1;
  return fd;
}

static int
asm_fail (struct frame_asm *a, struct tr_error *err, const char *why)
{
  frame_asm_reset (a);
  return tr_fail (err, 0, "broker frame: %s", why);
}

int
frame_asm_feed (struct frame_asm *a, const uint8_t *pkt, size_t n, struct tr_error *err)
{
  return frame_asm_feed_fd (a, pkt, n, 0, -1, err);
}

int
frame_asm_feed_fd (struct frame_asm *a, const uint8_t *pkt, size_t n, int nfds, int fd,
                   struct tr_error *err)
{
  size_t max = a->max ? a->max : FRAME_MAX_MESSAGE;
  uint32_t plen;
  bool flag_fd;

  if (nfds > 0 && fd >= 0 && (nfds != 1 || a->has_fd || !a->accept_fd))
    {
      /* Ours to close: more than one, a second one for this message, or a
       * receiver that takes none.  */
      close (fd);
      fd = -1;
      nfds = nfds ? nfds : 1;
    }
  if (n < FRAME_HEADER)
    goto bad_header;
  flag_fd = (pkt[2] & FRAME_FLAG_FD) != 0;
  if (pkt[0] != 'T' || pkt[1] != 1)
    {
      if (fd >= 0)
        close (fd);
      return asm_fail (a, err, "bad magic or version");
    }
  if ((pkt[2] & ~(FRAME_FLAG_MORE | FRAME_FLAG_FD)) != 0 || pkt[3] != 0
      || (flag_fd && !a->accept_fd))
    {
      if (fd >= 0)
        close (fd);
      return asm_fail (a, err, "unknown flags");
    }
  if (flag_fd != (nfds > 0) || (flag_fd && (fd < 0 || (pkt[2] & FRAME_FLAG_MORE))))
    {
      if (fd >= 0)
        close (fd);
      return asm_fail (a, err,
                       "a file descriptor without the flag, a flag without exactly one, or one "
                       "before the message's last packet");
    }
  if (fd >= 0)
    {
      a->fd = fd;
      a->has_fd = true;
    }
  plen = get_le32 (pkt + 4);
  if (plen != n - FRAME_HEADER)
    return asm_fail (a, err, "payload length does not match the packet");
  if (plen > FRAME_MAX_PAYLOAD)
    return asm_fail (a, err, "packet too large");
  if (a->len + plen > max)
    return asm_fail (a, err, "message larger than the maximum size");
  if (a->len + plen + 1 > a->cap)
    {
      size_t cap = a->cap ? a->cap : 4096;
      char *nb;
      while (cap < a->len + plen + 1)
        cap *= 2;
      nb = realloc (a->buf, cap);
      if (nb == NULL)
        return asm_fail (a, err, "out of memory");
      a->buf = nb;
      a->cap = cap;
    }
  memcpy (a->buf + a->len, pkt + FRAME_HEADER, plen);
  a->len += plen;
  a->buf[a->len] = '\0';
  if (pkt[2] & FRAME_FLAG_MORE)
    return FRAME_INCOMPLETE;
  if (a->len == 0)
    return asm_fail (a, err, "empty message");
  if (!a->binary && memchr (a->buf, '\0', a->len) != NULL)
    return asm_fail (a, err, "NUL byte inside a message");
  return FRAME_COMPLETE;
bad_header:
  if (fd >= 0)
    close (fd);
  return asm_fail (a, err, "packet shorter than its header");
}

int
frame_pack (const char *msg, size_t len, int fd,
            int (*emit) (void *ctx, const uint8_t *pkt, size_t n, int fd), void *ctx,
            struct tr_error *err)
{
  uint8_t pkt[FRAME_MAX_PACKET];
  size_t off = 0;

  if (len == 0 || len > FRAME_MAX_MESSAGE)
    return tr_fail (err, EMSGSIZE, "broker frame: message of %zu bytes (maximum %d)", len,
                    FRAME_MAX_MESSAGE);
  do
    {
      size_t chunk = len - off > FRAME_MAX_PAYLOAD ? FRAME_MAX_PAYLOAD : len - off;
      bool last = off + chunk == len;

      pkt[0] = 'T';
      pkt[1] = 1;
      pkt[2] = (last ? 0 : FRAME_FLAG_MORE) | (last && fd >= 0 ? FRAME_FLAG_FD : 0);
      pkt[3] = 0;
      put_le32 (pkt + 4, (uint32_t) chunk);
      memcpy (pkt + FRAME_HEADER, msg + off, chunk);
      if (emit (ctx, pkt, FRAME_HEADER + chunk, last ? fd : -1) < 0)
        return tr_fail (err, errno, "broker frame: send");
      off += chunk;
    }
  while (off < len);
  return 0;
}

int
frame_send (int fd, const char *msg, size_t len, struct tr_error *err)
{
  uint8_t hdr[FRAME_HEADER];
  size_t off = 0;

  if (len == 0 || len > FRAME_MAX_MESSAGE)
    return tr_fail (err, EMSGSIZE, "broker frame: message of %zu bytes (maximum %d)", len,
                    FRAME_MAX_MESSAGE);
  do
    {
      size_t chunk = len - off > FRAME_MAX_PAYLOAD ? FRAME_MAX_PAYLOAD : len - off;
      struct iovec iov[2] = { { hdr, FRAME_HEADER }, { (void *) (msg + off), chunk } };
      struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
      ssize_t w;

      hdr[0] = 'T';
      hdr[1] = 1;
      hdr[2] = off + chunk < len ? FRAME_FLAG_MORE : 0;
      hdr[3] = 0;
      put_le32 (hdr + 4, (uint32_t) chunk);
      do
        w = sendmsg (fd, &mh, MSG_NOSIGNAL);
      while (w < 0 && errno == EINTR);
      if (w < 0)
        return tr_fail (err, errno, "broker frame: send");
      off += chunk;
    }
  while (off < len);
  return 0;
}

/* Receive one packet with the descriptors that came with it (closing all
 * but the first); *NFDS says how many came.  */
static ssize_t
recv_with_fds (int sock, uint8_t *pkt, size_t size, int *nfds, int *fd)
{
  struct iovec iov = { .iov_base = pkt, .iov_len = size };
  union
  {
    char buf[CMSG_SPACE (sizeof (int) * FDPASS_MAX)];
    struct cmsghdr align;
  } u;
  struct msghdr mh
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  ssize_t n;

  *nfds = 0;
  *fd = -1;
  do
    n = recvmsg (sock, &mh, MSG_TRUNC | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c; c = CMSG_NXTHDR (&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        size_t got = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
        for (size_t i = 0; i < got; i++)
          {
            int one;
            memcpy (&one, CMSG_DATA (c) + i * sizeof (int), sizeof one);
            if (*fd < 0)
              *fd = one;
            else
              close (one);
            (*nfds)++;
          }
      }
  /* Descriptors cut off by a full table (MSG_CTRUNC) count as "more than
   * asked for": the message is refused.  */
  if (mh.msg_flags & MSG_CTRUNC)
    (*nfds)++;
  return n;
}

int
frame_recv_packet (int fd, struct frame_asm *a, struct tr_error *err)
{
  uint8_t pkt[FRAME_MAX_PACKET + 1];
  ssize_t n;
  int nfds = 0, got = -1;

  if (a->accept_fd)
    n = recv_with_fds (fd, pkt, sizeof pkt, &nfds, &got);
  else
    do
      n = recv (fd, pkt, sizeof pkt, MSG_TRUNC);
    while (n < 0 && errno == EINTR);
  if (n < 0)
    return tr_fail (err, errno, "broker frame: receive");
  if (n == 0)
    {
      if (got >= 0)
        close (got);
      return -2;
    }
  if ((size_t) n > FRAME_MAX_PACKET)
    {
      if (got >= 0)
        close (got);
      frame_asm_reset (a);
      return tr_fail (err, 0, "broker frame: packet of %zd bytes is too large", n);
    }
  return frame_asm_feed_fd (a, pkt, (size_t) n, nfds, got, err);
}

int
frame_recv (int fd, struct frame_asm *a, struct tr_error *err)
{
  for (;;)
    {
      int r = frame_recv_packet (fd, a, err);
      if (r == -2)
        return 0;
      if (r < 0)
        return -1;
      if (r == FRAME_COMPLETE)
        return 1;
    }
}
