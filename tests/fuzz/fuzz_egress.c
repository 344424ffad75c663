/* Fuzz the egress proxy's parsers and the egress rules (broker/egress_proto.c,
 * policy/egress.c): what a caged program sends the proxy is untrusted, and
 * so, for robustness, is every rule text.
 *
 * Input: byte 0 picks the part:
 *   0  an HTTP proxy request (the rest), offered in growing prefixes as a
 *      client would send it byte by byte or all at once (byte 1 % 7 + 1 sets
 *      the step): never an answer before the head is complete, and a
 *      complete one names a valid host and port; a forward request's new
 *      head is whole lines ending in an empty one and holds
 *      "Connection: close" and no Proxy-* header;
 *   1  SOCKS5: a greeting then a request, in the same growing prefixes;
 *   2  rules: the rest is lines; the first ones (up to a line "--") are
 *      allow / deny entries ('-' prefix), the others targets "HOST PORT"
 *      checked against them, and each address literal among them checked as
 *      an address too.
 * Invariants: no crash, leak or overread; a refusal always says why.  */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/egress.h"
#include "policy/egress.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_egress: invariant failed: %s (line %d)\n", #cond, __LINE__);      \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static void
http (const uint8_t *d, size_t n, size_t step)
{
  for (size_t len = step < n ? step : n;; len = len + step < n ? len + step : n)
    {
      char *buf = malloc (len + 1), why[300];
      struct egress_request r;
      int rc;
      CHECK (buf != NULL);
      memcpy (buf, d, len); /* exact size (+1 unused): overreads are caught */
      rc = egress_parse_http (buf, len, &r, why, sizeof why);
      if (rc == 1)
        {
          char norm[256];
          CHECK (r.port > 0 && r.head_len <= len);
          CHECK (egress_host_normalize (r.host, norm, sizeof norm) && strcmp (norm, r.host) == 0);
          if (r.kind == EGRESS_HTTP_FORWARD)
            {
              CHECK (r.forward != NULL && r.forward_len >= 4);
              CHECK (memcmp (r.forward + r.forward_len - 4, "\r\n\r\n", 4) == 0);
              CHECK (strstr (r.forward, "Connection: close\r\n") != NULL);
              CHECK (strcasestr (r.forward, "\r\nProxy-") == NULL);
            }
        }
      else if (rc == 0)
        CHECK (memmem (buf, len, "\r\n\r\n", 4) == NULL);
      free (r.forward);
      free (buf);
      if (rc != 0 || len == n)
        break;
    }
}

static void
socks (const uint8_t *d, size_t n, size_t step)
{
  size_t used = 0;
  bool no_auth;

  for (size_t len = step < n ? step : n;; len = len + step < n ? len + step : n)
    {
      uint8_t *buf = malloc (len ? len : 1);
      int r;
      CHECK (buf != NULL);
      memcpy (buf, d, len);
      r = egress_socks5_greeting (buf, len, &no_auth);
      free (buf);
      if (r != 0)
        {
          used = r > 0 ? (size_t) r : 0;
          CHECK (r < 0 || (size_t) r <= len);
          break;
        }
      if (len == n)
        return;
    }
  if (used == 0)
    return;
  d += used, n -= used;
  for (size_t len = step < n ? step : n;; len = len + step < n ? len + step : n)
    {
      uint8_t *buf = malloc (len ? len : 1), code;
      struct egress_request r;
      int rc;
      CHECK (buf != NULL);
      memcpy (buf, d, len);
      rc = egress_socks5_request (buf, len, &r, &code);
      free (buf);
      if (rc > 0)
        CHECK ((size_t) rc <= len && r.port > 0 && r.host[0]);
      if (rc != 0 || len == n)
        break;
    }
}

static void
rules (const uint8_t *d, size_t n)
{
  struct egress_rules rs = { 0 };
  char *text = strndup ((const char *) d, n), *save = NULL, *line, why[400];
  bool targets = false;

  CHECK (text != NULL);
  for (line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      if (strcmp (line, "--") == 0)
        {
          targets = true;
          continue;
        }
      if (!targets)
        {
          egress_rules_add (&rs, line[0] == '-', line + (line[0] == '-'), why, sizeof why);
          continue;
        }
      char host[300];
      unsigned port = 0;
      if (sscanf (line, "%299s %u", host, &port) != 2 || port > 65535)
        continue;
      why[0] = '\0';
      int allowed = egress_check_target (&rs, host, (uint16_t) port, why, sizeof why);
      /* A refusal always says why; an allowed target says nothing.  */
      CHECK ((allowed == 0) == (why[0] == '\0'));
      struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons ((uint16_t) port) };
      struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
      if (inet_pton (AF_INET, host, &s4.sin_addr) == 1)
        egress_check_address (&rs, (struct sockaddr *) &s4, (uint16_t) port, why, sizeof why);
      else if (inet_pton (AF_INET6, host, &s6.sin6_addr) == 1)
        egress_check_address (&rs, (struct sockaddr *) &s6, (uint16_t) port, why, sizeof why);
    }
  egress_rules_free (&rs);
  free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  switch (data[0] % 3)
    {
    case 0:
      http (data + 2, size - 2, (size_t) (data[1] % 7) + 1);
      break;
    case 1:
      socks (data + 2, size - 2, (size_t) (data[1] % 7) + 1);
      break;
    default:
      rules (data + 2, size - 2);
      break;
    }
  return 0;
}
