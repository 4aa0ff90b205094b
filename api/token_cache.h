/* Device token → device identity, in memory: a device's poll authenticates
 * without an SQLite lookup (bench/README.md, checkin.sh: the lookup was the
 * largest share of suitd's own CPU on a "nothing to do" poll). Entries are
 * dropped whenever tokens or identities change (rotation, deletion, group
 * change), so the database stays the truth.
 *
 * A lookup that misses reads the database and puts what it found, and a
 * change commits and then clears; a lookup that read the row before the
 * commit could put it back after the clear, and a revoked token would stay
 * valid until the next clear (issue 23). So every clear starts a new
 * generation, and a put stores only when the generation is still the one
 * read before the database lookup:
 *
 *	uint64_t g = token_cache_generation(c);   (before the read)
 *	storage_device_by_token(...);
 *	token_cache_put(c, g, hash, &d, until);    (refused after a clear)
 *
 * A previous token in its grace (POST .../token?grace=) ends at a time, not
 * with a change that clears: its entry carries that time, and a get at or
 * after it misses, so the token stops on time with nothing cleared. */
#ifndef SUITD_API_TOKEN_CACHE_H
#define SUITD_API_TOKEN_CACHE_H

#include <stdbool.h>

#include "common/crypto.h"
#include "common/error.h"
#include "storage/devices.h"

struct token_cache;

enum err token_cache_new(struct token_cache **ret);
void token_cache_free(struct token_cache *c);
/* A hit only while now (seconds since the epoch) is before the entry's end. */
bool token_cache_get(struct token_cache *c, const uint8_t hash[SHA256_LEN], int64_t now,
		     struct device_ident *ret);
/* The current generation; take it before reading the database. */
uint64_t token_cache_generation(struct token_cache *c);
/* Store what a lookup read at generation `generation`; until is when the
 * token stops (0: no end, the current token). False when nothing was
 * stored: the cache was cleared since (or no memory). */
bool token_cache_put(struct token_cache *c, uint64_t generation, const uint8_t hash[SHA256_LEN],
		     const struct device_ident *d, int64_t until);
/* Forget everything and start a new generation (a token or an identity
 * changed). Call it after the change is committed. */
void token_cache_clear(struct token_cache *c);

#endif
