/* SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto, loaded on first use.
 *
 * Only a run that has a project-local config layer to check against the
 * trust store (policy/trust.c) or that keeps checkpoints in files
 * (broker/checkpoint_store.c) needs a hash; linking libcrypto would make
 * every start map and relocate it.  libcrypto.so.3 is on every host that
 * has libcurl4 (Debian's OpenSSL flavour), which tactus-run needs anyway.
 * The same pattern as broker/curl_lazy.c.  */
#ifndef TR_CRYPTO_H
#define TR_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define TR_SHA256_LEN 32
#define TR_SHA256_HEX (2 * TR_SHA256_LEN + 1)

int tr_sha256 (const void *data, size_t len, uint8_t out[TR_SHA256_LEN], struct tr_error *err);
int tr_hmac_sha256 (const uint8_t *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[TR_SHA256_LEN], struct tr_error *err);

/* Lower-case hex of LEN bytes into OUT (2 * LEN + 1 bytes).  */
void tr_hex (const uint8_t *bytes, size_t len, char *out);
/* Compare in time independent of where they differ (MAC checks).  */
bool tr_equal_consttime (const void *a, const void *b, size_t len);

#endif
