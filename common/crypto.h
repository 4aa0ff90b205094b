/* Content crypto helpers over OpenSSL: digests, randomness, secrets. */
#ifndef SUITD_COMMON_CRYPTO_H
#define SUITD_COMMON_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define SHA256_LEN     32
#define SHA256_HEX_LEN 64
/* Secrets (API keys, device tokens): prefix + base64url of 32 random bytes. */
#define SECRET_RANDOM_BYTES 32
#define SECRET_TEXT_MAX	    64

void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
enum err crypto_random(void *out, size_t len);
/* Constant-time comparison. */
bool crypto_equal(const void *a, const void *b, size_t len);
/* New secret "PREFIX" + 43 base64url characters into out (>= SECRET_TEXT_MAX). */
enum err crypto_secret_new(const char *prefix, char out[SECRET_TEXT_MAX]);

void hex_encode(const uint8_t *data, size_t len, char *out /* 2*len+1 */);
/* Lower- or upper-case hex of exactly 2*len characters; false otherwise. */
bool hex_decode(const char *hex, uint8_t *out, size_t len);

#endif
