#include "api/token_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/i64map.h"

/* More entries than this and the cache starts over (memory stays bounded
 * whatever the fleet size: 64 bytes a slot, the map grows at half full,
 * plus the id and group on the heap, about 180 bytes a device in all;
 * docs/design.md). */
#define TOKEN_CACHE_MAX 1000000
/* Shards, each its own lock and map: a map that doubles rehashes one
 * shard's entries (a 64th), not a million under one lock that every poll
 * waits for (bench/million.sh: p99 of 200 ms before), and polls on
 * different cores rarely meet on a lock. */
#define TOKEN_SHARDS	64
#define TOKEN_SHARD_MAX (TOKEN_CACHE_MAX / TOKEN_SHARDS)

struct entry {
	uint8_t hash[SHA256_LEN];
	int64_t num;
	int64_t until; /* a previous token's end of grace; 0 = none */
	char *names;   /* "id\0group\0", malloc'ed: ids are short, the limit is 128 */
};

struct shard {
	pthread_rwlock_t lock;
	struct i64map map; /* first 63 bits of the hash → entry (full hash checked) */
} __attribute__((aligned(64)));

struct token_cache {
	struct shard shards[TOKEN_SHARDS];
	/* Bumped by every clear while it holds every shard's write lock, and
	 * compared by put under its shard's: a put and a clear are never
	 * interleaved. Atomic so that a lookup can read it without a lock. */
	_Atomic uint64_t generation;
};

static int64_t key_of(const uint8_t hash[SHA256_LEN])
{
	uint64_t k;

	memcpy(&k, hash, sizeof(k));
	k &= INT64_MAX;
	return k ? (int64_t)k : 1;
}

/* The shard by other bits of the hash than the map's key. */
static struct shard *shard_of(struct token_cache *c, const uint8_t hash[SHA256_LEN])
{
	return &c->shards[hash[SHA256_LEN - 1] % TOKEN_SHARDS];
}

enum err token_cache_new(struct token_cache **ret)
{
	struct token_cache *c = aligned_alloc(64, sizeof(*c));

	if (!c)
		return ERR_NOMEM;
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < TOKEN_SHARDS; i++) {
		pthread_rwlock_init(&c->shards[i].lock, NULL);
		i64map_init(&c->shards[i].map, sizeof(struct entry));
	}
	*ret = c;
	return ERR_OK;
}

static void names_free(void *cls, int64_t key, void *value)
{
	struct entry *e = value;

	(void)cls;
	(void)key;
	free(e->names);
}

/* Drop every entry of the shard (its write lock held). */
static void shard_clear(struct shard *sh)
{
	i64map_each(&sh->map, names_free, NULL);
	i64map_clear(&sh->map);
}

void token_cache_free(struct token_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < TOKEN_SHARDS; i++) {
		i64map_each(&c->shards[i].map, names_free, NULL);
		i64map_release(&c->shards[i].map);
		pthread_rwlock_destroy(&c->shards[i].lock);
	}
	free(c);
}

bool token_cache_get(struct token_cache *c, const uint8_t hash[SHA256_LEN], int64_t now,
		     struct device_ident *ret)
{
	struct shard *sh = shard_of(c, hash);
	const struct entry *e;
	bool hit = false;

	pthread_rwlock_rdlock(&sh->lock);
	e = i64map_get(&sh->map, key_of(hash));
	/* An ended grace is a miss: the database lookup then refuses it too,
	 * and the stale entry goes with the next clear. */
	if (e && crypto_equal(e->hash, hash, SHA256_LEN) && (!e->until || now < e->until)) {
		size_t id_len = strlen(e->names);
		memset(ret, 0, sizeof(*ret));
		ret->num = e->num;
		memcpy(ret->id, e->names, id_len + 1);
		snprintf(ret->group, sizeof(ret->group), "%s", e->names + id_len + 1);
		hit = true;
	}
	pthread_rwlock_unlock(&sh->lock);
	return hit;
}

uint64_t token_cache_generation(struct token_cache *c)
{
	return atomic_load(&c->generation);
}

bool token_cache_put(struct token_cache *c, uint64_t generation, const uint8_t hash[SHA256_LEN],
		     const struct device_ident *d, int64_t until)
{
	struct shard *sh = shard_of(c, hash);
	size_t id_len = strlen(d->id), group_len = strlen(d->group);
	char *names = malloc(id_len + group_len + 2);
	struct entry *e = NULL;
	bool fresh;

	if (!names)
		return false;
	memcpy(names, d->id, id_len + 1);
	memcpy(names + id_len + 1, d->group, group_len + 1);
	pthread_rwlock_wrlock(&sh->lock);
	/* Cleared since the lookup read the database: what it read may be a
	 * token or identity that the clear's commit replaced. */
	if (atomic_load(&c->generation) == generation) {
		/* Full: this shard starts over (dropping entries is always safe). */
		if (sh->map.used >= TOKEN_SHARD_MAX)
			shard_clear(sh);
		e = i64map_put(&sh->map, key_of(hash), &fresh);
		if (e) {
			if (!fresh)
				free(e->names);
			memcpy(e->hash, hash, SHA256_LEN);
			e->num = d->num;
			e->until = until;
			e->names = names;
			names = NULL;
		}
	}
	pthread_rwlock_unlock(&sh->lock);
	free(names);
	return e != NULL;
}

void token_cache_clear(struct token_cache *c)
{
	if (!c)
		return;
	/* Every shard's lock at once, in order: no put sees the old generation
	 * after its shard was cleared. */
	for (unsigned i = 0; i < TOKEN_SHARDS; i++)
		pthread_rwlock_wrlock(&c->shards[i].lock);
	for (unsigned i = 0; i < TOKEN_SHARDS; i++)
		shard_clear(&c->shards[i]);
	atomic_fetch_add(&c->generation, 1);
	for (unsigned i = TOKEN_SHARDS; i-- > 0;)
		pthread_rwlock_unlock(&c->shards[i].lock);
}
