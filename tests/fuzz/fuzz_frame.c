/* Fuzz the frame decoder (common/frame.c frame_asm_feed_fd): the piece of
 * the broker that reads bytes from the untrusted VM first, and of the VM
 * that takes the descriptors the broker passes.
 *
 * Input layout:
 *   byte 0        bits 0-6: the assembler's maximum: 0 = FRAME_MAX_MESSAGE,
 *                 else value * 64 (so the "message too large" path is
 *                 reachable with small inputs); bit 7: the assembler
 *                 accepts descriptors (the VM's side), and every packet
 *                 has one more prefix byte: how many descriptors came with
 *                 it (0-3; real ones, so a leak shows)
 *   then packets, each one length-prefixed:
 *     [D (1 byte) descriptors, with bit 7 of byte 0]
 *     L (1 byte)  L < 0xff: a packet of L bytes follows
 *     0xff N N N  a packet of N (24-bit little endian) bytes follows
 *   A length past the end of the input takes what is left.
 *
 * Every packet goes to frame_asm_feed_fd, as broker_serve and the VM do
 * (and the assembler is reset after a complete message, as every caller
 * does).  An independent model of docs/protocol.md's framing predicts each
 * result; the invariants checked:
 *   - the result is FRAME_COMPLETE, FRAME_INCOMPLETE or -1, as the model says;
 *   - a COMPLETE message has a descriptor exactly when the model says (its
 *     last packet had the flag and one descriptor), and after each input no
 *     descriptor is left open;
 *   - a COMPLETE message is non-empty, at most the maximum, has no NUL
 *     byte, is NUL-terminated, and equals the concatenated payloads;
 *   - a complete message sent back with frame_send (and, when it came with
 *     a descriptor, with frame_pack and a descriptor, as the broker sends)
 *     and read with frame_recv over a SEQPACKET socketpair arrives
 *     unchanged.  */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/frame.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_frame: invariant failed: %s (line %d)\n", #cond, __LINE__);       \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

/* The model: what a correct decoder holds.  */
struct model
{
  uint8_t *buf;
  size_t len, cap;
};

static int
model_feed (struct model *m, size_t max, const uint8_t *p, size_t n, bool accept_fd, int nfds,
            bool *has_fd)
{
  size_t plen;
  bool flag;

  *has_fd = false;
  if (n < 8 || p[0] != 'T' || p[1] != 1 || (p[2] & 0xfc) != 0 || p[3] != 0)
    goto fail;
  flag = (p[2] & 2) != 0;
  if (flag && !accept_fd)
    goto fail;
  if (flag != (nfds > 0) || (flag && (nfds != 1 || (p[2] & 1))))
    goto fail;
  *has_fd = flag;
  plen = (size_t) p[4] | (size_t) p[5] << 8 | (size_t) p[6] << 16 | (size_t) p[7] << 24;
  if (plen != n - 8 || plen > FRAME_MAX_PAYLOAD || m->len + plen > max)
    goto fail;
  if (m->buf == NULL || m->len + plen > m->cap)
    {
      m->cap = (m->len + plen) * 2 + 16;
      m->buf = realloc (m->buf, m->cap);
      CHECK (m->buf != NULL);
    }
  memcpy (m->buf + m->len, p + 8, plen);
  m->len += plen;
  if (p[2] & 1)
    return FRAME_INCOMPLETE;
  if (m->len == 0 || memchr (m->buf, 0, m->len) != NULL)
    goto fail;
  return FRAME_COMPLETE;
fail:
  m->len = 0;
  return -1;
}

static int pair[2] = { -1, -1 };

static int
emit_sendmsg (void *ctx, const uint8_t *pkt, size_t n, int fd)
{
  struct iovec iov = { .iov_base = (void *) pkt, .iov_len = n };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

  (void) ctx;
  if (fd >= 0)
    {
      struct cmsghdr *c;
      memset (&u, 0, sizeof u);
      mh.msg_control = u.buf;
      mh.msg_controllen = sizeof u.buf;
      c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (c), &fd, sizeof fd);
    }
  return sendmsg (pair[0], &mh, MSG_NOSIGNAL) == (ssize_t) n ? 0 : -1;
}

/* A complete message goes back through the real sockets: with frame_send,
 * and (when WITH_FD) packed with a descriptor as the broker sends one; it
 * arrives unchanged, the descriptor with it.  */
static void
round_trip (const char *msg, size_t len, bool with_fd)
{
  struct frame_asm a = { .accept_fd = true };
  struct tr_error err;

  /* Up to two packets: fits the socket buffer without a reader thread.  */
  if (len > 2 * FRAME_MAX_PAYLOAD)
    return;
  CHECK (frame_send (pair[0], msg, len, &err) == 0);
  CHECK (frame_recv (pair[1], &a, &err) == 1);
  CHECK (a.len == len && memcmp (a.buf, msg, len) == 0 && !a.has_fd);
  frame_asm_reset (&a);
  if (with_fd)
    {
      int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC), got;
      CHECK (fd >= 0 && frame_pack (msg, len, fd, emit_sendmsg, NULL, &err) == 0);
      close (fd);
      CHECK (frame_recv (pair[1], &a, &err) == 1);
      CHECK (a.len == len && memcmp (a.buf, msg, len) == 0);
      got = frame_asm_take_fd (&a);
      CHECK (got >= 0);
      close (got);
    }
  frame_asm_free (&a);
}

static int
open_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *de;
  int n = 0;

  while (d && (de = readdir (d)))
    n += de->d_name[0] != '.';
  if (d)
    closedir (d);
  return n;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct frame_asm a = { 0 };
  struct model m = { 0 };
  struct tr_error err;
  size_t i = 1, max;
  int fds_before;

  if (size < 1)
    return 0;
  if (pair[0] < 0)
    CHECK (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
  fds_before = open_fds ();
  a.accept_fd = (data[0] & 0x80) != 0;
  a.max = (data[0] & 0x7f) ? (size_t) (data[0] & 0x7f) * 64 : 0;
  max = a.max ? a.max : FRAME_MAX_MESSAGE;
  while (i < size)
    {
      size_t n;
      int r, want, nfds = 0, fd = -1;
      bool has_fd;

      if (a.accept_fd)
        {
          nfds = data[i++] & 3;
          /* What a receiver hands over: the first descriptor (the others
           * are closed as they arrive).  */
          if (nfds > 0)
            fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
          CHECK (nfds == 0 || fd >= 0);
          if (i >= size)
            {
              if (fd >= 0)
                close (fd);
              break;
            }
        }
      n = data[i++];
      if (n == 0xff)
        {
          n = 0;
          for (int k = 0; k < 3 && i < size; k++)
            n |= (size_t) data[i++] << (8 * k);
        }
      if (n > size - i)
        n = size - i;
      r = frame_asm_feed_fd (&a, data + i, n, nfds, fd, &err);
      want = model_feed (&m, max, data + i, n, a.accept_fd, nfds, &has_fd);
      i += n;
      CHECK (r == want);
      CHECK (a.has_fd == (r == FRAME_COMPLETE && has_fd));
      CHECK (a.len == (r == -1 ? 0 : m.len));
      if (a.len)
        CHECK (memcmp (a.buf, m.buf, a.len) == 0);
      if (r == FRAME_COMPLETE)
        {
          CHECK (a.len > 0 && a.len <= max);
          CHECK (memchr (a.buf, '\0', a.len) == NULL);
          CHECK (a.buf[a.len] == '\0');
          round_trip (a.buf, a.len, has_fd);
          if (has_fd)
            {
              int got = frame_asm_take_fd (&a);
              CHECK (got >= 0 && fcntl (got, F_GETFD) >= 0);
              close (got);
            }
          frame_asm_reset (&a);
          m.len = 0;
        }
    }
  frame_asm_free (&a);
  free (m.buf);
  CHECK (open_fds () == fds_before);
  return 0;
}
