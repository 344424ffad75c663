#define _GNU_SOURCE
#include "common/crypto.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

/* Debian's runtime package (libssl3) provides this soname.  */
#define LIBCRYPTO_SONAME "libcrypto.so.3"

static struct
{
  int (*digest) (const void *, size_t, unsigned char *, unsigned int *, const EVP_MD *, ENGINE *);
  const EVP_MD *(*sha256) (void);
  unsigned char *(*hmac) (const EVP_MD *, const void *, int, const unsigned char *, size_t,
                          unsigned char *, unsigned int *);
} api;
static int loaded; /* 0 not tried, 1 ok, -1 failed */
static char load_error[256];

static int
load (struct tr_error *err)
{
  void *h;

  if (loaded == 0)
    {
      loaded = -1;
      h = dlopen (LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
      if (h == NULL)
        snprintf (load_error, sizeof load_error, "cannot load %s (install libssl3): %s",
                  LIBCRYPTO_SONAME, dlerror ());
      else if ((*(void **) &api.digest = dlsym (h, "EVP_Digest")) == NULL
               || (*(void **) &api.sha256 = dlsym (h, "EVP_sha256")) == NULL
               || (*(void **) &api.hmac = dlsym (h, "HMAC")) == NULL)
        snprintf (load_error, sizeof load_error, "%s lacks EVP_Digest, EVP_sha256 or HMAC",
                  LIBCRYPTO_SONAME);
      else
        loaded = 1;
    }
  return loaded == 1 ? 0 : tr_fail (err, 0, "%s", load_error);
}

int
tr_sha256 (const void *data, size_t len, uint8_t out[TR_SHA256_LEN], struct tr_error *err)
{
  unsigned int n = 0;

  if (load (err) < 0)
    return -1;
  if (api.digest (data, len, out, &n, api.sha256 (), NULL) != 1 || n != TR_SHA256_LEN)
    return tr_fail (err, 0, "%s: SHA-256 failed", LIBCRYPTO_SONAME);
  return 0;
}

int
tr_hmac_sha256 (const uint8_t *key, size_t key_len, const void *data, size_t len,
                uint8_t out[TR_SHA256_LEN], struct tr_error *err)
{
  unsigned int n = 0;

  if (load (err) < 0)
    return -1;
  if (key_len > 1024 || api.hmac (api.sha256 (), key, (int) key_len, data, len, out, &n) == NULL
      || n != TR_SHA256_LEN)
    return tr_fail (err, 0, "%s: HMAC-SHA256 failed", LIBCRYPTO_SONAME);
  return 0;
}

void
tr_hex (const uint8_t *bytes, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";

  for (size_t i = 0; i < len; i++)
    {
      out[2 * i] = digits[bytes[i] >> 4];
      out[2 * i + 1] = digits[bytes[i] & 15];
    }
  out[2 * len] = '\0';
}

bool
tr_equal_consttime (const void *a, const void *b, size_t len)
{
  const volatile uint8_t *x = a, *y = b;
  uint8_t d = 0;

  for (size_t i = 0; i < len; i++)
    d |= (uint8_t) (x[i] ^ y[i]);
  return d == 0;
}
