/* Fuzz the checkpoint record format (broker/checkpoint_store.c): the bytes
 * of a record in an explicit --storage-path may come from the sandbox.
 *
 * Three things per input:
 *   - the input as a record: checkpoint_record_verify must not crash, and
 *     accepts it only if its MAC is the one checkpoint_record_mac gives
 *     for its body (it never is for fuzzed bytes: the key is secret to
 *     the harness's "user");
 *   - the input as a body: signed, the record verifies, its body where the
 *     verifier says;
 *   - that record with one byte changed (which one: the input's first
 *     byte): it never verifies, nor for another procedure.  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/checkpoint_store.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_checkpoint: invariant failed: %s (line %d)\n", #cond, __LINE__);  \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

#define FORMAT "tactus-run-checkpoints v1"

static const uint8_t key[TR_SHA256_LEN] = "0123456789abcdef0123456789abcde";
static const char *const proc = "/home/user/project/gate.tac";

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t mac[TR_SHA256_LEN], want[TR_SHA256_LEN];
  char hex[TR_SHA256_HEX];
  struct tr_error err;
  size_t off, rlen;
  char *rec;

  tr_error_clear (&err);
  if (checkpoint_record_verify (key, proc, (const char *) data, size, &off, mac, &err) == 0)
    {
      CHECK (off <= size);
      CHECK (checkpoint_record_mac (key, proc, (const char *) data + off, size - off, want, &err)
             == 0);
      CHECK (memcmp (mac, want, sizeof mac) == 0);
    }
  else
    CHECK (err.msg[0] != '\0');

  /* The input as a body, signed as tactus-run signs it.  */
  CHECK (checkpoint_record_mac (key, proc, (const char *) data, size, mac, &err) == 0);
  tr_hex (mac, sizeof mac, hex);
  rlen = strlen (FORMAT) + 1 + strlen (hex) + 1 + size;
  rec = malloc (rlen + 1);
  CHECK (rec != NULL);
  snprintf (rec, rlen + 1, "%s %s\n", FORMAT, hex);
  memcpy (rec + rlen - size, data, size);
  CHECK (checkpoint_record_verify (key, proc, rec, rlen, &off, want, &err) == 0);
  CHECK (off == rlen - size && memcmp (want, mac, sizeof mac) == 0);
  CHECK (checkpoint_record_verify (key, "/elsewhere/gate.tac", rec, rlen, &off, want, &err) < 0);

  /* One byte changed anywhere: refused.  */
  {
    size_t at = size ? data[0] * 257u % rlen : rlen / 2;
    rec[at] ^= 1;
    CHECK (checkpoint_record_verify (key, proc, rec, rlen, &off, want, &err) < 0);
  }
  free (rec);
  return 0;
}
