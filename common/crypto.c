#include "common/crypto.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = SHA256_LEN;

	/* EVP_Digest cannot fail for SHA-256 short of memory corruption. */
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1)
		memset(out, 0, SHA256_LEN);
}

enum err crypto_random(void *out, size_t len)
{
	if (len > INT32_MAX || RAND_bytes(out, (int)len) != 1)
		return ERR_CRYPTO;
	return ERR_OK;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum err crypto_secret_new(const char *prefix, char out[SECRET_TEXT_MAX])
{
	uint8_t raw[SECRET_RANDOM_BYTES + 1] = {0};
	size_t plen = strlen(prefix), o;
	enum err e;

	/* 43 characters encode 258 bits; the extra zero byte pads the last group. */
	if (plen + 43 + 1 > SECRET_TEXT_MAX)
		return ERR_INTERNAL;
	e = crypto_random(raw, SECRET_RANDOM_BYTES);
	if (e)
		return e;
	memcpy(out, prefix, plen);
	o = plen;
	for (size_t i = 0; i < SECRET_RANDOM_BYTES; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
			     (i + 2 < sizeof(raw) ? raw[i + 2] : 0);
		size_t chars = SECRET_RANDOM_BYTES - i >= 3 ? 4 : (SECRET_RANDOM_BYTES - i) + 1;
		for (size_t c = 0; c < chars; c++)
			out[o++] = b64url[(v >> (18 - 6 * c)) & 0x3f];
	}
	out[o] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return ERR_OK;
}

void hex_encode(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool hex_decode(const char *hex, uint8_t *out, size_t len)
{
	if (strlen(hex) != 2 * len)
		return false;
	for (size_t i = 0; i < len; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}
