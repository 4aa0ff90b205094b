/* Device token → device identity, in memory: a device's poll authenticates
 * without an SQLite lookup (bench/README.md, checkin.sh: the lookup was the
 * largest share of suitd's own CPU on a "nothing to do" poll). Entries are
 * dropped whenever tokens or identities change (rotation, deletion, group
 * change), so the database stays the truth. */
#ifndef SUITD_API_TOKEN_CACHE_H
#define SUITD_API_TOKEN_CACHE_H

#include <stdbool.h>

#include "common/crypto.h"
#include "common/error.h"
#include "storage/devices.h"

struct token_cache;

enum err token_cache_new(struct token_cache **ret);
void token_cache_free(struct token_cache *c);
bool token_cache_get(struct token_cache *c, const uint8_t hash[SHA256_LEN],
		     struct device_ident *ret);
void token_cache_put(struct token_cache *c, const uint8_t hash[SHA256_LEN],
		     const struct device_ident *d);
/* Forget everything (a token or an identity changed). */
void token_cache_clear(struct token_cache *c);

#endif
