/* AWS Signature Version 4 (sigv4.h).  The steps, as AWS documents them:
 * a canonical request (method, canonical URI, canonical query, canonical
 * headers, signed header names, the payload's SHA-256), a string to sign
 * (algorithm, date, credential scope, the canonical request's SHA-256),
 * a signing key derived by HMAC-SHA256 from "AWS4" + secret through the
 * date, region, service and "aws4_request", and the signature: the
 * HMAC-SHA256 of the string to sign with that key.  */
#define _GNU_SOURCE
#include "broker/sigv4.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Debian's libssl3 provides this soname; libcurl4 depends on it.  */
#define LIBCRYPTO_SONAME "libcrypto.so.3"

static struct
{
  unsigned char *(*sha256) (const unsigned char *d, size_t n, unsigned char *md);
  unsigned char *(*hmac) (const void *md, const void *key, int key_len, const unsigned char *d,
                          size_t n, unsigned char *out, unsigned int *out_len);
  const void *(*evp_sha256) (void);
  int loaded; /* 0 not tried, 1 ok, -1 failed */
} crypto;

static int
crypto_load (char *why, size_t size)
{
  void *h;

  if (crypto.loaded == 1)
    return 0;
  h = dlopen (LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL)
    {
      snprintf (why, size, "cannot load %s (install libssl3): %s", LIBCRYPTO_SONAME, dlerror ());
      return -1;
    }
  *(void **) &crypto.sha256 = dlsym (h, "SHA256");
  *(void **) &crypto.hmac = dlsym (h, "HMAC");
  *(void **) &crypto.evp_sha256 = dlsym (h, "EVP_sha256");
  if (!crypto.sha256 || !crypto.hmac || !crypto.evp_sha256)
    {
      snprintf (why, size, "%s lacks SHA256, HMAC or EVP_sha256", LIBCRYPTO_SONAME);
      return -1;
    }
  crypto.loaded = 1;
  return 0;
}

static void
hex (const unsigned char *d, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    {
      out[2 * i] = digits[d[i] >> 4];
      out[2 * i + 1] = digits[d[i] & 15];
    }
  out[2 * n] = '\0';
}

static void
sha256_hex (const void *d, size_t n, char out[65])
{
  unsigned char md[32];
  crypto.sha256 (d, n, md);
  hex (md, 32, out);
}

static void
hmac (const unsigned char *key, size_t klen, const char *data, unsigned char out[32])
{
  unsigned int len = 32;
  crypto.hmac (crypto.evp_sha256 (), key, (int) klen, (const unsigned char *) data, strlen (data),
               out, &len);
}

void
sigv4_canonical_path (const char *path, int again, char *out, size_t size)
{
  static const char digits[] = "0123456789ABCDEF";
  size_t o = 0;

  if (path == NULL || path[0] == '\0')
    path = "/";
  for (; *path && o + 4 < size; path++)
    {
      unsigned char c = (unsigned char) *path;
      if (!again || c == '/' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~')
        out[o++] = (char) c;
      else
        {
          out[o++] = '%';
          out[o++] = digits[c >> 4];
          out[o++] = digits[c & 15];
        }
    }
  out[o] = '\0';
}

int
sigv4_sign (const struct sigv4_request *r, char *auth, size_t size, char *why, size_t whysize)
{
  char canon_path[4096], payload_hash[65], creq_hash[65], signature[65];
  char date[9], scope[256], names[1024] = "", *creq = NULL, *sts = NULL, *key = NULL;
  unsigned char k1[32], k2[32];
  size_t hlen = 0;
  int rc = -1;

  why[0] = '\0';
  if (crypto_load (why, whysize) < 0)
    return -1;
  if (strlen (r->amz_date) != 16)
    {
      snprintf (why, whysize, "sigv4: bad date");
      return -1;
    }
  memcpy (date, r->amz_date, 8);
  date[8] = '\0';
  sigv4_canonical_path (r->path, r->encode_path_again, canon_path, sizeof canon_path);
  sha256_hex (r->payload ? r->payload : "", r->payload ? r->payload_len : 0, payload_hash);
  for (int i = 0; i < r->n_headers; i++)
    {
      const char *colon = strchr (r->headers[i], ':');
      size_t n = colon ? (size_t) (colon - r->headers[i]) : strlen (r->headers[i]);
      size_t len = strlen (names);
      if (len + n + 2 >= sizeof names)
        {
          snprintf (why, whysize, "sigv4: too many headers");
          return -1;
        }
      snprintf (names + len, sizeof names - len, "%s%.*s", i ? ";" : "", (int) n, r->headers[i]);
      hlen += strlen (r->headers[i]) + 1;
    }
  /* The canonical request.  */
  {
    size_t cap = strlen (r->method) + strlen (canon_path) + strlen (r->query) + hlen
                 + strlen (names) + 64 + 8;
    size_t o;
    creq = malloc (cap);
    if (creq == NULL)
      goto out;
    o = (size_t) snprintf (creq, cap, "%s\n%s\n%s\n", r->method, canon_path, r->query);
    for (int i = 0; i < r->n_headers; i++)
      o += (size_t) snprintf (creq + o, cap - o, "%s\n", r->headers[i]);
    snprintf (creq + o, cap - o, "\n%s\n%s", names, payload_hash);
  }
  sha256_hex (creq, strlen (creq), creq_hash);
  snprintf (scope, sizeof scope, "%s/%s/%s/aws4_request", date, r->region, r->service);
  if (asprintf (&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope, creq_hash) < 0)
    {
      sts = NULL;
      goto out;
    }
  /* The signing key: HMAC("AWS4" + secret, date) -> region -> service ->
   * "aws4_request".  */
  if (asprintf (&key, "AWS4%s", r->secret_access_key) < 0)
    {
      key = NULL;
      goto out;
    }
  hmac ((const unsigned char *) key, strlen (key), date, k1);
  hmac (k1, 32, r->region, k2);
  hmac (k2, 32, r->service, k1);
  hmac (k1, 32, "aws4_request", k2);
  hmac (k2, 32, sts, k1);
  hex (k1, 32, signature);
  if ((size_t) snprintf (auth, size,
                         "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                         r->access_key_id, scope, names, signature)
      < size)
    rc = 0;
  else
    snprintf (why, whysize, "sigv4: the Authorization header is too long");
out:
  if (rc < 0 && why[0] == '\0')
    snprintf (why, whysize, "sigv4: out of memory");
  explicit_bzero (k1, sizeof k1);
  explicit_bzero (k2, sizeof k2);
  if (key)
    {
      explicit_bzero (key, strlen (key));
      free (key);
    }
  free (creq);
  free (sts);
  return rc;
}
