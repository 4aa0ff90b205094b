#include "server/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/i64map.h"

/* Beyond this many tracked identities, idle ones are pruned inline. */
#define RATELIMIT_MAX_KEYS (1u << 20)

struct bucket {
	double tokens;
	uint64_t at_us; /* when tokens was last brought up to date */
};

struct ratelimit {
	double rate, burst;
	pthread_mutex_t lock;
	struct i64map buckets; /* key → struct bucket */
};

enum err ratelimit_new(unsigned rate, unsigned burst, struct ratelimit **ret)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return ERR_NOMEM;
	rl->rate = rate;
	rl->burst = burst ? burst : 1;
	pthread_mutex_init(&rl->lock, NULL);
	i64map_init(&rl->buckets, sizeof(struct bucket));
	*ret = rl;
	return ERR_OK;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	i64map_release(&rl->buckets);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

int64_t ratelimit_key(char kind, const void *id, size_t len)
{
	/* FNV-1a 64; the map wants keys > 0. */
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p = id;

	h = (h ^ (unsigned char)kind) * 1099511628211ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	h &= INT64_MAX;
	return h ? (int64_t)h : 1;
}

static double refill(const struct ratelimit *rl, const struct bucket *b, uint64_t now_us)
{
	double t = b->tokens;

	if (now_us > b->at_us)
		t += (double)(now_us - b->at_us) * rl->rate / 1e6;
	return t > rl->burst ? rl->burst : t;
}

struct prune {
	const struct ratelimit *rl;
	uint64_t now_us;
	int64_t *keys;
	size_t n, cap;
};

static void collect_full(void *cls, int64_t key, void *value)
{
	struct prune *p = cls;

	if (p->n < p->cap && refill(p->rl, value, p->now_us) >= p->rl->burst)
		p->keys[p->n++] = key;
}

/* Under the lock. */
static void prune_locked(struct ratelimit *rl, uint64_t now_us)
{
	struct prune p = {rl, now_us, NULL, 0, rl->buckets.used};

	if (!p.cap || !(p.keys = malloc(p.cap * sizeof(*p.keys))))
		return;
	i64map_each(&rl->buckets, collect_full, &p);
	for (size_t i = 0; i < p.n; i++)
		i64map_del(&rl->buckets, p.keys[i]);
	free(p.keys);
}

bool ratelimit_take(struct ratelimit *rl, int64_t key, uint64_t now_us, unsigned *ret_retry_after)
{
	struct bucket *b;
	bool fresh, ok;

	if (!rl || rl->rate <= 0)
		return true;
	pthread_mutex_lock(&rl->lock);
	if (rl->buckets.used >= RATELIMIT_MAX_KEYS)
		prune_locked(rl, now_us);
	b = i64map_put(&rl->buckets, key, &fresh);
	if (!b) {
		/* Out of memory: let it through rather than refuse everyone. */
		pthread_mutex_unlock(&rl->lock);
		return true;
	}
	if (fresh)
		*b = (struct bucket){rl->burst, now_us};
	b->tokens = refill(rl, b, now_us);
	b->at_us = now_us;
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	else
		*ret_retry_after = (unsigned)((1.0 - b->tokens) / rl->rate) + 1;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

void ratelimit_prune(struct ratelimit *rl, uint64_t now_us)
{
	if (!rl || rl->rate <= 0)
		return;
	pthread_mutex_lock(&rl->lock);
	prune_locked(rl, now_us);
	pthread_mutex_unlock(&rl->lock);
}
