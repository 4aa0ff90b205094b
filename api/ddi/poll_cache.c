#include "api/ddi/poll_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "tracker/assignments.h"

/* Direct-mapped by device number: 64 Ki entries (3 MiB), 256 locks. A
 * collision only costs a read. */
#define SLOTS	65536u
#define STRIPES 256u

struct slot {
	int64_t num; /* 0: empty */
	uint64_t generation;
	struct ddi_poll facts;
};

struct ddi_poll_cache {
	atomic_uint_fast64_t generation;
	pthread_mutex_t lock[STRIPES];
	struct slot slot[SLOTS];
};

enum err ddi_poll_cache_new(struct ddi_poll_cache **ret)
{
	struct ddi_poll_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return ERR_NOMEM;
	for (unsigned i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->lock[i], NULL);
	*ret = c;
	return ERR_OK;
}

void ddi_poll_cache_free(struct ddi_poll_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->lock[i]);
	free(c);
}

void ddi_poll_cache_invalidate(struct ddi_poll_cache *c)
{
	if (c)
		atomic_fetch_add(&c->generation, 1);
}

enum err ddi_poll_facts(struct api_ctx *ctx, int64_t device_num, struct ddi_poll *ret)
{
	struct ddi_poll_cache *c = ctx->ddi_polls;

	if (!c || !ctx->assignments)
		return storage_ddi_poll(ctx->storage, device_num, ret);
	/* Both counters only grow: their sum moves whenever either does. Read
	 * before the SQL, so that a change committed meanwhile leaves the
	 * entry stale, never wrong. */
	uint64_t gen = atomic_load(&c->generation) + assignment_index_generation(ctx->assignments);
	unsigned i = (unsigned)((uint64_t)device_num % SLOTS);
	pthread_mutex_t *lock = &c->lock[i % STRIPES];
	struct slot *s = &c->slot[i];

	pthread_mutex_lock(lock);
	bool hit = s->num == device_num && s->generation == gen;
	if (hit)
		*ret = s->facts;
	pthread_mutex_unlock(lock);
	if (hit)
		return ERR_OK;
	struct ddi_poll facts;
	enum err e = storage_ddi_poll(ctx->storage, device_num, &facts);
	if (e)
		return e;
	pthread_mutex_lock(lock);
	*s = (struct slot){.num = device_num, .generation = gen, .facts = facts};
	pthread_mutex_unlock(lock);
	*ret = facts;
	return ERR_OK;
}
