#include "api/token_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/i64map.h"

/* More entries than this and the cache starts over (memory stays bounded
 * whatever the fleet size: ~200 bytes an entry). */
#define TOKEN_CACHE_MAX 1000000

struct entry {
	uint8_t hash[SHA256_LEN];
	struct device_ident device;
	int64_t until; /* a previous token's end of grace; 0 = none */
};

struct token_cache {
	pthread_rwlock_t lock;
	struct i64map map; /* first 63 bits of the hash → entry (full hash checked) */
	/* Bumped by every clear, under the write lock, and compared by put
	 * under it: a put and a clear are never interleaved. Atomic so that a
	 * lookup can read it without the lock. */
	_Atomic uint64_t generation;
};

static int64_t key_of(const uint8_t hash[SHA256_LEN])
{
	uint64_t k;

	memcpy(&k, hash, sizeof(k));
	k &= INT64_MAX;
	return k ? (int64_t)k : 1;
}

enum err token_cache_new(struct token_cache **ret)
{
	struct token_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return ERR_NOMEM;
	pthread_rwlock_init(&c->lock, NULL);
	i64map_init(&c->map, sizeof(struct entry));
	*ret = c;
	return ERR_OK;
}

void token_cache_free(struct token_cache *c)
{
	if (!c)
		return;
	i64map_release(&c->map);
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

bool token_cache_get(struct token_cache *c, const uint8_t hash[SHA256_LEN], int64_t now,
		     struct device_ident *ret)
{
	const struct entry *e;
	bool hit = false;

	pthread_rwlock_rdlock(&c->lock);
	e = i64map_get(&c->map, key_of(hash));
	/* An ended grace is a miss: the database lookup then refuses it too,
	 * and the stale entry goes with the next clear. */
	if (e && crypto_equal(e->hash, hash, SHA256_LEN) && (!e->until || now < e->until)) {
		*ret = e->device;
		hit = true;
	}
	pthread_rwlock_unlock(&c->lock);
	return hit;
}

uint64_t token_cache_generation(struct token_cache *c)
{
	return atomic_load(&c->generation);
}

bool token_cache_put(struct token_cache *c, uint64_t generation, const uint8_t hash[SHA256_LEN],
		     const struct device_ident *d, int64_t until)
{
	struct entry *e = NULL;
	bool fresh;

	pthread_rwlock_wrlock(&c->lock);
	/* Cleared since the lookup read the database: what it read may be a
	 * token or identity that the clear's commit replaced. */
	if (atomic_load(&c->generation) == generation) {
		if (c->map.used >= TOKEN_CACHE_MAX)
			i64map_clear(&c->map);
		e = i64map_put(&c->map, key_of(hash), &fresh);
		if (e) {
			memcpy(e->hash, hash, SHA256_LEN);
			e->device = *d;
			e->until = until;
		}
	}
	pthread_rwlock_unlock(&c->lock);
	return e != NULL;
}

void token_cache_clear(struct token_cache *c)
{
	if (!c)
		return;
	pthread_rwlock_wrlock(&c->lock);
	i64map_clear(&c->map);
	atomic_fetch_add(&c->generation, 1);
	pthread_rwlock_unlock(&c->lock);
}
