/* Framing of broker messages over the SOCK_SEQPACKET socketpair.
 *
 * A message is one JSON document (UTF-8, at most FRAME_MAX_MESSAGE bytes).
 * It travels as one or more packets; SEQPACKET keeps packet boundaries, so
 * no length prefix has to be parsed out of a byte stream.  Each packet is
 *
 *   byte 0    'T'
 *   byte 1    version (1)
 *   byte 2    flags: bit 0 = more packets of this message follow
 *   byte 3    0
 *   bytes 4-7 payload length, little endian (== packet length - 8)
 *   payload   at most FRAME_MAX_PAYLOAD bytes
 *
 * See docs/protocol.md.  The decoder (frame_asm_feed) is the piece that
 * reads untrusted bytes; it is fuzzed (tests/fuzz/fuzz_frame.c).  */
#ifndef TR_FRAME_H
#define TR_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define FRAME_HEADER 8
#define FRAME_MAX_PAYLOAD (64 * 1024)
#define FRAME_MAX_PACKET (FRAME_HEADER + FRAME_MAX_PAYLOAD)
#define FRAME_MAX_MESSAGE (8 * 1024 * 1024)
#define FRAME_FLAG_MORE 0x01

struct frame_asm
{
  char *buf; /* the message being assembled, NUL-terminated when complete */
  size_t len;
  size_t cap;
  size_t max;  /* 0: FRAME_MAX_MESSAGE */
  bool binary; /* allow NUL bytes (the sandbox's own setup payload, not JSON) */
};

enum
{
  FRAME_INCOMPLETE = 0,
  FRAME_COMPLETE = 1,
};

/* Feed one packet.  Returns FRAME_COMPLETE when A->buf holds a whole
 * message (A->len bytes), FRAME_INCOMPLETE when more packets are needed, or
 * -1 with ERR filled (the assembler is reset).  */
int frame_asm_feed (struct frame_asm *a, const uint8_t *pkt, size_t n, struct tr_error *err);
/* Forget the message just returned (keeps the buffer).  */
void frame_asm_reset (struct frame_asm *a);
void frame_asm_free (struct frame_asm *a);

/* Send one message; blocks (on a blocking socket).  Returns 0, or -1 with
 * ERR filled.  The VM's side; the broker never blocks on the VM and uses
 * frame_pack with its own outbound queue (broker/broker.c).  */
int frame_send (int fd, const char *msg, size_t len, struct tr_error *err);

/* Split MSG into packets (header and payload contiguous, at most
 * FRAME_MAX_PACKET bytes) and call EMIT for each, in order.  Returns 0, or
 * -1 with ERR filled (an empty or oversized message, or EMIT returned a
 * negative value with errno set: the message may be partly emitted).  */
int frame_pack (const char *msg, size_t len, int (*emit) (void *ctx, const uint8_t *pkt, size_t n),
                void *ctx, struct tr_error *err);

/* Receive packets until a message is complete.  Returns 1 with the message
 * in A, 0 on EOF, -1 on error (a protocol error leaves the socket usable).  */
int frame_recv (int fd, struct frame_asm *a, struct tr_error *err);

/* Receive and feed exactly one packet (for event loops).  Same returns as
 * frame_asm_feed, plus -2 on EOF.  */
int frame_recv_packet (int fd, struct frame_asm *a, struct tr_error *err);

#endif
