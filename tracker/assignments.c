#include "tracker/assignments.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/i64map.h"

/* Per device: what changes per device. What every device of a deployment
 * shares (manifest, digest, sequence, open stage, pause) is kept once per
 * deployment: 32 bytes a slot instead of 136, so a million active
 * assignments take 64 MiB (the map grows at half full), not 272, and a
 * stage that opens, a pause or a resume changes one record, not a million
 * (issue 15, docs/design.md). A slot counts only while its epoch is its
 * deployment's: a cancel or a retry re-reads that deployment's active
 * assignments under a new epoch, and the slots it no longer has lapse. */
struct slot {
	int64_t id;
	int64_t deployment_id;
	uint32_t epoch;
	uint8_t state; /* enum assignment_state */
	uint8_t stage;
};

struct shared {
	int64_t manifest_id;
	uint64_t sequence;
	uint8_t digest[MANIFEST_DIGEST_MAX];
	uint8_t digest_len;
	uint8_t open_stage;
	bool paused;
	uint32_t epoch;
};

struct assignment_index {
	pthread_rwlock_t lock;
	struct i64map map;	   /* device num → struct slot */
	struct i64map deployments; /* deployment id → struct shared */
	/* One more after every change of what a lookup answers: a load, a
	 * refresh, a deployment's record or epoch (api/ddi/poll_cache.c). */
	atomic_uint_fast64_t generation;
};

enum err assignment_index_new(struct assignment_index **ret)
{
	struct assignment_index *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return ERR_NOMEM;
	pthread_rwlock_init(&ix->lock, NULL);
	i64map_init(&ix->map, sizeof(struct slot));
	i64map_init(&ix->deployments, sizeof(struct shared));
	*ret = ix;
	return ERR_OK;
}

void assignment_index_free(struct assignment_index *ix)
{
	if (!ix)
		return;
	i64map_release(&ix->map);
	i64map_release(&ix->deployments);
	pthread_rwlock_destroy(&ix->lock);
	free(ix);
}

/* The deployment's shared record, made from a when new; the open stage and
 * pause follow what a says (it was read from the database just now). */
static struct shared *shared_of(struct i64map *deployments, const struct active_assignment *a)
{
	bool fresh;
	struct shared *sh = i64map_put(deployments, a->deployment_id, &fresh);

	if (!sh)
		return NULL;
	if (fresh) {
		sh->manifest_id = a->manifest_id;
		sh->sequence = a->sequence;
		sh->digest_len =
			(uint8_t)(a->digest_len <= MANIFEST_DIGEST_MAX ? a->digest_len : 0);
		memcpy(sh->digest, a->digest, sh->digest_len);
	}
	sh->open_stage = (uint8_t)a->open_stage;
	sh->paused = a->paused;
	return sh;
}

/* Store a into map (keep_newest: the newest of a device's, should two
 * exist) under its deployment's current epoch. */
static bool put(struct i64map *map, struct i64map *deployments, const struct active_assignment *a,
		bool keep_newest)
{
	bool fresh;
	struct shared *sh = shared_of(deployments, a);
	struct slot *slot = sh ? i64map_put(map, a->device_num, &fresh) : NULL;

	if (!slot)
		return false;
	/* Two active assignments cannot exist; keep the newest if they did. */
	if (keep_newest && !fresh && a->id < slot->id)
		return true;
	*slot = (struct slot){.id = a->id,
			      .deployment_id = a->deployment_id,
			      .epoch = sh->epoch,
			      .state = (uint8_t)a->state,
			      .stage = (uint8_t)a->stage};
	return true;
}

struct fill {
	struct i64map *map, *deployments;
	bool failed;
};

static void fill_one(void *cls, const struct active_assignment *a)
{
	struct fill *f = cls;

	if (!put(f->map, f->deployments, a, true))
		f->failed = true;
}

enum err assignment_index_load(struct assignment_index *ix, struct storage *s)
{
	struct i64map fresh, deployments;
	struct fill f = {&fresh, &deployments, false};
	enum err e;

	/* Build aside, swap under the write lock: polls never wait on SQL. */
	i64map_init(&fresh, sizeof(struct slot));
	i64map_init(&deployments, sizeof(struct shared));
	e = storage_active_assignments(s, 0, fill_one, &f);
	if (!e && f.failed)
		e = ERR_NOMEM;
	if (e) {
		i64map_release(&fresh);
		i64map_release(&deployments);
		return e;
	}
	pthread_rwlock_wrlock(&ix->lock);
	struct i64map old = ix->map, old_deployments = ix->deployments;
	ix->map = fresh;
	ix->deployments = deployments;
	atomic_fetch_add(&ix->generation, 1);
	pthread_rwlock_unlock(&ix->lock);
	i64map_release(&old);
	i64map_release(&old_deployments);
	return ERR_OK;
}

struct one {
	bool found;
	struct active_assignment a;
};

static void take_one(void *cls, const struct active_assignment *a)
{
	struct one *o = cls;

	if (!o->found || a->id > o->a.id)
		o->a = *a;
	o->found = true;
}

enum err assignment_index_refresh(struct assignment_index *ix, struct storage *s,
				  int64_t device_num)
{
	struct one o = {0};
	enum err e = storage_active_assignments(s, device_num, take_one, &o);

	if (e)
		return e;
	pthread_rwlock_wrlock(&ix->lock);
	if (o.found) {
		if (!put(&ix->map, &ix->deployments, &o.a, false))
			e = ERR_NOMEM;
	} else {
		i64map_del(&ix->map, device_num);
	}
	atomic_fetch_add(&ix->generation, 1);
	pthread_rwlock_unlock(&ix->lock);
	return e;
}

uint64_t assignment_index_generation(struct assignment_index *ix)
{
	return atomic_load(&ix->generation);
}

bool assignment_index_get(struct assignment_index *ix, int64_t device_num,
			  struct active_assignment *ret)
{
	const struct slot *slot;
	const struct shared *sh = NULL;
	bool found = false;

	pthread_rwlock_rdlock(&ix->lock);
	slot = i64map_get(&ix->map, device_num);
	if (slot && (sh = i64map_get(&ix->deployments, slot->deployment_id)) &&
	    slot->epoch == sh->epoch) {
		*ret = (struct active_assignment){.id = slot->id,
						  .device_num = device_num,
						  .deployment_id = slot->deployment_id,
						  .manifest_id = sh->manifest_id,
						  .state = (enum assignment_state)slot->state,
						  .digest_len = sh->digest_len,
						  .sequence = sh->sequence,
						  .held = slot->stage > sh->open_stage ||
							  sh->paused,
						  .stage = slot->stage,
						  .open_stage = sh->open_stage,
						  .paused = sh->paused};
		memcpy(ret->digest, sh->digest, sh->digest_len);
		found = true;
	}
	pthread_rwlock_unlock(&ix->lock);
	return found;
}

void assignment_index_deployment(struct assignment_index *ix, int64_t deployment_id,
				 unsigned open_stage, bool paused)
{
	struct shared *sh;

	pthread_rwlock_wrlock(&ix->lock);
	if ((sh = i64map_get(&ix->deployments, deployment_id))) {
		sh->open_stage = (uint8_t)open_stage;
		sh->paused = paused;
		atomic_fetch_add(&ix->generation, 1);
	}
	pthread_rwlock_unlock(&ix->lock);
}

struct rows {
	struct active_assignment *a;
	size_t n, cap;
	bool failed;
};

static void row_keep(void *cls, const struct active_assignment *a)
{
	struct rows *r = cls;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct active_assignment *grown = realloc(r->a, cap * sizeof(*grown));
		if (!grown) {
			r->failed = true;
			return;
		}
		r->a = grown;
		r->cap = cap;
	}
	r->a[r->n++] = *a;
}

enum err assignment_index_reload_deployment(struct assignment_index *ix, struct storage *s,
					    int64_t deployment_id)
{
	struct rows r = {0};
	struct shared *sh;
	enum err e = storage_deployment_active_assignments(s, deployment_id, row_keep, &r);

	if (!e && r.failed)
		e = ERR_NOMEM;
	if (e) {
		free(r.a);
		return e;
	}
	pthread_rwlock_wrlock(&ix->lock);
	/* The slots of the old epoch lapse: devices no longer active in it. */
	if ((sh = i64map_get(&ix->deployments, deployment_id)))
		sh->epoch++;
	for (size_t i = 0; i < r.n && !e; i++)
		if (!put(&ix->map, &ix->deployments, &r.a[i], false))
			e = ERR_NOMEM;
	atomic_fetch_add(&ix->generation, 1);
	pthread_rwlock_unlock(&ix->lock);
	free(r.a);
	return e;
}

unsigned assignment_index_count(struct assignment_index *ix)
{
	size_t n;

	pthread_rwlock_rdlock(&ix->lock);
	n = ix->map.used;
	pthread_rwlock_unlock(&ix->lock);
	return (unsigned)n;
}

enum err assignment_transition(struct assignment_index *ix, struct storage *s,
			       const struct active_assignment *a, enum assignment_state to,
			       const char *reason)
{
	enum err e = storage_assignment_transition(s, a->id, a->state, to, reason);

	/* Either way the index is re-read: it may have been stale. */
	enum err r = assignment_index_refresh(ix, s, a->device_num);
	return e ? e : r;
}
