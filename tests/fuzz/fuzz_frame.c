/* Fuzz the frame decoder (common/frame.c frame_asm_feed): the piece of the
 * broker that reads bytes from the untrusted VM first.
 *
 * Input layout:
 *   byte 0        the assembler's maximum: 0 = FRAME_MAX_MESSAGE, else
 *                 byte * 64 (so the "message too large" path is reachable
 *                 with small inputs)
 *   then packets, each one length-prefixed:
 *     L (1 byte)  L < 0xff: a packet of L bytes follows
 *     0xff N N N  a packet of N (24-bit little endian) bytes follows
 *   A length past the end of the input takes what is left.
 *
 * Every packet goes to frame_asm_feed, as broker_serve does (and the
 * assembler is reset after a complete message, as every caller does).  An
 * independent model of docs/protocol.md's framing predicts each result;
 * the invariants checked:
 *   - the result is FRAME_COMPLETE, FRAME_INCOMPLETE or -1, as the model says;
 *   - a COMPLETE message is non-empty, at most the maximum, has no NUL
 *     byte, is NUL-terminated, and equals the concatenated payloads;
 *   - a complete message sent back with frame_send and read with
 *     frame_recv over a SEQPACKET socketpair arrives unchanged.  */
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
model_feed (struct model *m, size_t max, const uint8_t *p, size_t n)
{
  size_t plen;

  if (n < 8 || p[0] != 'T' || p[1] != 1 || (p[2] & 0xfe) != 0 || p[3] != 0)
    goto fail;
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

static void
round_trip (const char *msg, size_t len)
{
  struct frame_asm a = { 0 };
  struct tr_error err;

  /* Up to two packets: fits the socket buffer without a reader thread.  */
  if (len > 2 * FRAME_MAX_PAYLOAD)
    return;
  if (pair[0] < 0 && socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return;
  CHECK (frame_send (pair[0], msg, len, &err) == 0);
  CHECK (frame_recv (pair[1], &a, &err) == 1);
  CHECK (a.len == len && memcmp (a.buf, msg, len) == 0);
  frame_asm_free (&a);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct frame_asm a = { 0 };
  struct model m = { 0 };
  struct tr_error err;
  size_t i = 1, max;

  if (size < 1)
    return 0;
  a.max = data[0] ? (size_t) data[0] * 64 : 0;
  max = a.max ? a.max : FRAME_MAX_MESSAGE;
  while (i < size)
    {
      size_t n = data[i++];
      int r, want;

      if (n == 0xff)
        {
          n = 0;
          for (int k = 0; k < 3 && i < size; k++)
            n |= (size_t) data[i++] << (8 * k);
        }
      if (n > size - i)
        n = size - i;
      r = frame_asm_feed (&a, data + i, n, &err);
      want = model_feed (&m, max, data + i, n);
      i += n;
      CHECK (r == want);
      CHECK (a.len == (r == -1 ? 0 : m.len));
      if (a.len)
        CHECK (memcmp (a.buf, m.buf, a.len) == 0);
      if (r == FRAME_COMPLETE)
        {
          CHECK (a.len > 0 && a.len <= max);
          CHECK (memchr (a.buf, '\0', a.len) == NULL);
          CHECK (a.buf[a.len] == '\0');
          round_trip (a.buf, a.len);
          frame_asm_reset (&a);
          m.len = 0;
        }
    }
  frame_asm_free (&a);
  free (m.buf);
  return 0;
}
