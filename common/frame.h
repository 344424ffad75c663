/* Framing of broker messages over the SOCK_SEQPACKET socketpair.
 *
 * A message is one JSON document (UTF-8, at most FRAME_MAX_MESSAGE bytes).
 * It travels as one or more packets; SEQPACKET keeps packet boundaries, so
 * no length prefix has to be parsed out of a byte stream.  Each packet is
 *
 *   byte 0    'T'
 *   byte 1    version (1)
 *   byte 2    flags: bit 0 = more packets of this message follow,
 *             bit 1 = this packet carries one file descriptor (SCM_RIGHTS)
 *   byte 3    0
 *   bytes 4-7 payload length, little endian (== packet length - 8)
 *   payload   at most FRAME_MAX_PAYLOAD bytes
 *
 * A descriptor travels only from the broker to the VM (an open file of the
 * workspace, docs/protocol.md "File descriptors"), at most one per
 * message, on the message's last packet.  A receiver that does not accept
 * descriptors (the broker) treats the flag as a protocol violation, and a
 * descriptor that arrives without the flag (or more than one) is closed and
 * refused.
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
#define FRAME_FLAG_FD 0x02

struct frame_asm
{
  char *buf; /* the message being assembled, NUL-terminated when complete */
  size_t len;
  size_t cap;
  size_t max;     /* 0: FRAME_MAX_MESSAGE */
  bool binary;    /* allow NUL bytes (the sandbox's own setup payload, not JSON) */
  bool accept_fd; /* a descriptor may come with a message (the VM's side) */
  bool has_fd;    /* one came with the message being assembled */
  int fd;         /* that descriptor (owned here until frame_asm_take_fd) */
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
/* The same, for a packet that came with NFDS descriptors (FD is the
 * first, the others were already closed by the receiver).  The assembler
 * owns FD from here: it keeps it with the message when the packet's flag
 * says so and the assembler accepts one, else closes it and fails.  */
int frame_asm_feed_fd (struct frame_asm *a, const uint8_t *pkt, size_t n, int nfds, int fd,
                       struct tr_error *err);
/* The descriptor of the complete message, or -1; the caller owns it.  */
int frame_asm_take_fd (struct frame_asm *a);
/* Forget the message just returned (keeps the buffer; closes a descriptor
 * nobody took).  */
void frame_asm_reset (struct frame_asm *a);
void frame_asm_free (struct frame_asm *a);

/* Send one message; blocks (on a blocking socket).  Returns 0, or -1 with
 * ERR filled.  The VM's side; the broker never blocks on the VM and uses
 * frame_pack with its own outbound queue (broker/broker.c).  */
int frame_send (int fd, const char *msg, size_t len, struct tr_error *err);

/* Split MSG into packets (header and payload contiguous, at most
 * FRAME_MAX_PACKET bytes) and call EMIT for each, in order.  FD (-1: none)
 * goes with the last packet, which then has FRAME_FLAG_FD; EMIT gets -1
 * for the others.  Returns 0, or -1 with ERR filled (an empty or oversized
 * message, or EMIT returned a negative value with errno set: the message
 * may be partly emitted).  FD stays the caller's.  */
int frame_pack (const char *msg, size_t len, int fd,
                int (*emit) (void *ctx, const uint8_t *pkt, size_t n, int fd), void *ctx,
                struct tr_error *err);

/* Receive packets until a message is complete.  Returns 1 with the message
 * in A, 0 on EOF, -1 on error (a protocol error leaves the socket usable).
 * Descriptors are received only when A->accept_fd.  */
int frame_recv (int fd, struct frame_asm *a, struct tr_error *err);

/* Receive and feed exactly one packet (for event loops).  Same returns as
 * frame_asm_feed, plus -2 on EOF.  */
int frame_recv_packet (int fd, struct frame_asm *a, struct tr_error *err);

#endif
