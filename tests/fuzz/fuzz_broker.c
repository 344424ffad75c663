/* Fuzz the broker's handling of what the (untrusted) VM sends: frames are
 * decoded with frame_asm_feed and each complete message goes through
 * broker_handle_message, the same JSON validation and dispatch as
 * broker_serve.  The peer is a real SEQPACKET socketpair whose other end a
 * thread drains (the replies are read and discarded).
 *
 * The broker is set up harmlessly: a policy with no host tools (so no
 * command ever runs) and an empty model allowlist (so no model call is ever
 * made), approvals answered "no" without a terminal, checkpoints in memory,
 * the trace to /dev/null, local modules from a scratch directory.
 *
 * Input: byte 0 is flags
 *   bit 0  JSON mode: the rest is messages separated by '\n', each framed
 *          properly by the harness (split into 64 KiB packets)
 *          otherwise: raw packets, each with a 2-byte little-endian length
 *   bit 1  start with a valid run.start (so later requests get past it)
 * Each input is a fresh broker_state (a fresh run).  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/internal.h"
#include "broker/trace.h"
#include "common/frame.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_broker: invariant failed: %s (line %d)\n", #cond, __LINE__);     \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static int sv[2] = { -1, -1 };
static struct broker_options opts;
static struct broker_peer peer;
static struct policy pol;
static struct trace tr;
static char *no_models[] = { NULL };
static int kills;

static void
peer_kill (void *ctx)
{
  (void) ctx;
  kills++;
}

static int
peer_signal (void *ctx, int sig)
{
  (void) ctx;
  (void) sig;
  return 0;
}

static int
peer_ms_left (void *ctx)
{
  (void) ctx;
  return -1;
}

static void *
drain (void *arg)
{
  static char buf[FRAME_MAX_PACKET + 1];

  (void) arg;
  for (;;)
    if (recv (sv[1], buf, sizeof buf, 0) < 0)
      usleep (1000);
  return NULL;
}

static char dir[] = "/tmp/fuzz_broker.XXXXXX";

static void
cleanup (void)
{
  static const char *const files[] = { "m.tac", "sub/n.tac", "lnk", "sub" };
  char path[256];

  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    {
      snprintf (path, sizeof path, "%s/%s", dir, files[i]);
      if (unlink (path) < 0)
        rmdir (path);
    }
  rmdir (dir);
}

static void
setup (void)
{
  char path[256];
  pthread_t t;
  FILE *f;

  CHECK (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK (pthread_create (&t, NULL, drain, NULL) == 0);
  CHECK (mkdtemp (dir) != NULL);
  atexit (cleanup);
  snprintf (path, sizeof path, "%s/m.tac", dir);
  f = fopen (path, "w");
  CHECK (f != NULL);
  fputs ("return { answer = 42 }\n", f);
  fclose (f);
  snprintf (path, sizeof path, "%s/sub", dir);
  mkdir (path, 0755);
  snprintf (path, sizeof path, "%s/sub/n.tac", dir);
  f = fopen (path, "w");
  CHECK (f != NULL);
  fputs ("return 'n'\n", f);
  fclose (f);
  snprintf (path, sizeof path, "%s/lnk", dir);
  symlink ("/etc", path);

  pol.approve_default = -1;
  pol.models = no_models;
  tr.human = fopen ("/dev/null", "w");
  tr.jsonl = fopen ("/dev/null", "w");
  tr.verbose = true;
  opts.procedure_path = "fuzz.tac";
  opts.procedure_dir = dir;
  opts.procedure_name = "fuzz";
  opts.params = cJSON_Parse ("{\"name\":\"fuzz\"}");
  opts.storage = STORAGE_MEMORY;
  opts.approve = APPROVE_NONE;
  opts.approve_set = true;
  opts.policy = &pol;
  opts.trace = &tr;
  opts.max_violations = 16;
  opts.llm_base_url = "http://127.0.0.1:9"; /* never reached: no model is allowed */
  opts.llm_timeout = 1;
  opts.grace_seconds = 0;
  peer.fd = sv[0];
  peer.pidfd = -1;
  peer.kill = peer_kill;
  peer.signal = peer_signal;
  peer.ms_left = peer_ms_left;
}

static void
feed (struct broker_state *b, struct frame_asm *a, const uint8_t *pkt, size_t n)
{
  struct tr_error err;
  int r = frame_asm_feed (a, pkt, n, &err);

  if (r < 0)
    broker_violation (b, NULL, err.msg); /* as broker_serve does */
  else if (r == FRAME_COMPLETE)
    {
      CHECK (a->len > 0 && a->len <= FRAME_MAX_MESSAGE && a->buf[a->len] == '\0');
      broker_handle_message (b, a->buf, a->len);
      frame_asm_reset (a);
    }
}

/* Frame MSG as frame_send does and feed the packets.  */
static void
feed_message (struct broker_state *b, struct frame_asm *a, const char *msg, size_t len)
{
  static uint8_t pkt[FRAME_MAX_PACKET];
  size_t off = 0;

  do
    {
      size_t chunk = len - off > FRAME_MAX_PAYLOAD ? FRAME_MAX_PAYLOAD : len - off;
      pkt[0] = 'T';
      pkt[1] = 1;
      pkt[2] = off + chunk < len ? FRAME_FLAG_MORE : 0;
      pkt[3] = 0;
      pkt[4] = (uint8_t) chunk;
      pkt[5] = (uint8_t) (chunk >> 8);
      pkt[6] = (uint8_t) (chunk >> 16);
      pkt[7] = (uint8_t) (chunk >> 24);
      memcpy (pkt + FRAME_HEADER, msg + off, chunk);
      feed (b, a, pkt, FRAME_HEADER + chunk);
      off += chunk;
    }
  while (off < len);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char start[] = "{\"id\":1,\"method\":\"run.start\",\"params\":{}}";
  struct broker_outcome out;
  struct broker_state b;
  struct frame_asm a = { 0 };
  size_t i = 1;

  if (size < 1)
    return 0;
  if (sv[0] < 0)
    setup ();
  memset (&out, 0, sizeof out);
  snprintf (out.status, sizeof out.status, "error");
  memset (&b, 0, sizeof b);
  b.o = &opts;
  b.peer = &peer;
  b.out = &out;
  broker_storage_open (&b);

  if (data[0] & 2)
    feed_message (&b, &a, start, sizeof start - 1);
  if (data[0] & 1)
    {
      while (i < size)
        {
          const uint8_t *nl = memchr (data + i, '\n', size - i);
          size_t n = nl ? (size_t) (nl - (data + i)) : size - i;
          feed_message (&b, &a, (const char *) data + i, n);
          i += n + 1;
        }
    }
  else
    {
      while (i + 2 <= size)
        {
          size_t n = (size_t) data[i] | (size_t) data[i + 1] << 8;
          i += 2;
          if (n > size - i)
            n = size - i;
          feed (&b, &a, data + i, n);
          i += n;
        }
    }

  CHECK (out.violations >= 0);
  CHECK (out.killed_for_violations == (out.violations >= opts.max_violations));
  broker_storage_close (&b);
  broker_outcome_free (&out);
  frame_asm_free (&a);
  return 0;
}
