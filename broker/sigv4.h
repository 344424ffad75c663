/* AWS Signature Version 4 for one request (Bedrock's Converse calls).
 *
 * Why not libcurl's CURLOPT_AWS_SIGV4: before curl 8.8 it puts the request
 * path into the canonical request as it is sent, where AWS (every service
 * but S3) URI-encodes each path segment once more.  Bedrock model IDs hold
 * a ':' (anthropic.claude-3-5-sonnet-20240620-v1:0), sent as %3A, which
 * AWS then signs as %253A: with Debian 12's libcurl (7.88) every such call
 * would fail with a signature mismatch.  The signing itself is small; the
 * hashes come from libcrypto, loaded on first use (libcurl has already
 * loaded it by then).  */
#ifndef TR_BROKER_SIGV4_H
#define TR_BROKER_SIGV4_H

#include <stddef.h>

struct sigv4_request
{
  const char *method; /* POST */
  const char *path;   /* as sent (percent-encoded once), e.g. /model/x%3A0/converse */
  const char *query;  /* canonical query string ("" for none) */
  const char *const
      *headers; /* "lowercase-name:value", sorted by name, host and x-amz-date included */
  int n_headers;
  const char *payload;
  size_t payload_len;
  const char *region, *service;
  const char *amz_date; /* YYYYMMDDTHHMMSSZ */
  const char *access_key_id, *secret_access_key;
  int encode_path_again; /* 1 for every service but S3 */
};

/* The Authorization header's value into AUTH; 0, or -1 with WHY (no
 * libcrypto, or a field too long).  */
int sigv4_sign (const struct sigv4_request *r, char *auth, size_t size, char *why, size_t whysize);

/* The canonical URI of PATH: each segment URI-encoded once more when
 * AGAIN (exposed for the tests).  */
void sigv4_canonical_path (const char *path, int again, char *out, size_t size);

#endif
