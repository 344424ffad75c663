/* The wire formats' own pieces, against published known answers:
 *
 *   - SigV4 (broker/sigv4.c) on AWS's worked example from its Signature
 *     Version 4 documentation (IAM ListUsers, 20150830T123600Z,
 *     AKIDEXAMPLE): the signature AWS prints, and the canonical URI rule
 *     that Bedrock model IDs need (each segment encoded once more);
 *   - the AWS event stream decoder (broker/eventstream.c) on a message
 *     built by hand: headers, payload, both CRCs; a flipped bit in either
 *     CRC, a truncated message and a header running past its end refused;
 *     CRC-32 on its check value ("123456789" -> cbf43926);
 *   - the price table: exact, by prefix (a dated name), a Bedrock
 *     inference profile, an override, and an unknown model.  */
#include <stdint.h>
#include <string.h>

#include "broker/llm.h"
#include "broker/sigv4.h"
#include "tests/unit/unit.h"

static void
test_sigv4 (void)
{
  static const char *const headers[] = {
    "content-type:application/x-www-form-urlencoded; charset=utf-8",
    "host:iam.amazonaws.com",
    "x-amz-date:20150830T123600Z",
  };
  struct sigv4_request r = {
    .method = "GET",
    .path = "/",
    .query = "Action=ListUsers&Version=2010-05-08",
    .headers = headers,
    .n_headers = 3,
    .payload = "",
    .payload_len = 0,
    .region = "us-east-1",
    .service = "iam",
    .amz_date = "20150830T123600Z",
    .access_key_id = "AKIDEXAMPLE",
    .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .encode_path_again = 1,
  };
  char auth[512], why[200], path[200];
  int rc = sigv4_sign (&r, auth, sizeof auth, why, sizeof why);

  report (
      rc == 0
          && strcmp (auth,
                     "AWS4-HMAC-SHA256 "
                     "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                     "SignedHeaders=content-type;host;x-amz-date, "
                     "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
                 == 0,
      "sigv4: AWS's documented example signs to the signature AWS prints", "rc %d: %s", rc,
      rc ? why : auth);
  sigv4_canonical_path ("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", 1, path,
                        sizeof path);
  report (strcmp (path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse") == 0,
          "sigv4: a Bedrock model ID's %3A is %253A in the canonical URI (every service but S3)",
          "%s", path);
  sigv4_canonical_path ("/model/x%3A0/converse", 0, path, sizeof path);
  report (strcmp (path, "/model/x%3A0/converse") == 0, "sigv4: S3's rule keeps the path as sent",
          "%s", path);
}

static size_t
put_header (uint8_t *p, const char *name, const char *value)
{
  size_t n = strlen (name), v = strlen (value), o = 0;
  p[o++] = (uint8_t) n;
  memcpy (p + o, name, n);
  o += n;
  p[o++] = 7;
  p[o++] = (uint8_t) (v >> 8);
  p[o++] = (uint8_t) v;
  memcpy (p + o, value, v);
  return o + v;
}

static void
put32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24), p[1] = (uint8_t) (v >> 16), p[2] = (uint8_t) (v >> 8),
  p[3] = (uint8_t) v;
}

static size_t
message (uint8_t *m, const char *payload)
{
  size_t h = 0, plen = strlen (payload), total;

  h += put_header (m + 12 + h, ":event-type", "contentBlockDelta");
  h += put_header (m + 12 + h, ":content-type", "application/json");
  h += put_header (m + 12 + h, ":message-type", "event");
  total = 12 + h + plen + 4;
  put32 (m, (uint32_t) total);
  put32 (m + 4, (uint32_t) h);
  put32 (m + 8, (uint32_t) es_crc32 (0, m, 8));
  memcpy (m + 12 + h, payload, plen);
  put32 (m + total - 4, (uint32_t) es_crc32 (0, m, total - 4));
  return total;
}

static void
test_eventstream (void)
{
  static const char payload[] = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"hi\"}}";
  uint8_t m[512], bad[512];
  struct es_message e;
  size_t n = message (m, payload);
  long r;

  report (es_crc32 (0, (const unsigned char *) "123456789", 9) == 0xcbf43926,
          "eventstream: CRC-32 check value", "%lx",
          es_crc32 (0, (const unsigned char *) "123456789", 9));
  r = es_decode (m, n, &e);
  report (r == (long) n && e.event_type && strcmp (e.event_type, "contentBlockDelta") == 0
              && e.message_type && strcmp (e.message_type, "event") == 0
              && e.payload_len == sizeof payload - 1
              && memcmp (e.payload, payload, e.payload_len) == 0,
          "eventstream: a message decodes to its headers and payload", "r %ld", r);
  report (es_decode (m, n - 1, &e) == 0 && es_decode (m, 11, &e) == 0,
          "eventstream: a truncated message asks for more", "%s", "no");
  memcpy (bad, m, n);
  bad[9] ^= 1;
  report (es_decode (bad, n, &e) == -1, "eventstream: a bad prelude CRC is refused", "%s", "no");
  memcpy (bad, m, n);
  bad[n - 1] ^= 1;
  report (es_decode (bad, n, &e) == -1, "eventstream: a bad message CRC is refused", "%s", "no");
  /* A header whose string length runs past the headers: re-CRC'd so only
   * the length is wrong.  */
  memcpy (bad, m, n);
  bad[12 + 1 + 11 + 1] = 0x7f;
  put32 (bad + n - 4, (uint32_t) es_crc32 (0, bad, n - 4));
  report (es_decode (bad, n, &e) == -1, "eventstream: a header running past its end is refused",
          "%s", "no");
}

static void
test_prices (void)
{
  double in = -1, out = -1;

  report (prices_lookup ("openai", "gpt-4o-mini", NULL, &in, &out) == 0 && in == 0.15 && out == 0.6,
          "prices: an exact name", "%g %g", in, out);
  report (prices_lookup ("openai", "gpt-4o-2024-08-06", NULL, &in, &out) == 0 && in == 2.5,
          "prices: a dated name takes its family's price", "%g", in);
  report (prices_lookup ("bedrock", "us.anthropic.claude-3-5-sonnet-20240620-v1:0", NULL, &in, &out)
                  == 0
              && in == 3 && out == 15,
          "prices: a Bedrock inference profile (us.) and version (:0)", "%g %g", in, out);
  report (prices_lookup ("anthropic", "claude-x",
                         "{\"anthropic/claude-x\":{\"input\":7,\"output\":9}}", &in, &out)
                  == 0
              && in == 7 && out == 9,
          "prices: an override from the config", "%g %g", in, out);
  report (prices_lookup ("openai", "unpriced-test-model", NULL, &in, &out) == -1,
          "prices: an unknown model has no price", "%s", "no");
}

int
main (void)
{
  test_sigv4 ();
  test_eventstream ();
  test_prices ();
  return failures ? 1 : 0;
}
