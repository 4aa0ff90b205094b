#include "tracker/assignments.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/i64map.h"

struct assignment_index {
	pthread_rwlock_t lock;
	struct i64map map; /* device num → struct active_assignment */
	/* One more after every load and refresh (api/ddi/poll_cache.c). */
	atomic_uint_fast64_t generation;
};

enum err assignment_index_new(struct assignment_index **ret)
{
	struct assignment_index *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return ERR_NOMEM;
	pthread_rwlock_init(&ix->lock, NULL);
	i64map_init(&ix->map, sizeof(struct active_assignment));
	*ret = ix;
	return ERR_OK;
}

void assignment_index_free(struct assignment_index *ix)
{
	if (!ix)
		return;
	i64map_release(&ix->map);
	pthread_rwlock_destroy(&ix->lock);
	free(ix);
}

struct fill {
	struct i64map *map;
	bool failed;
};

static void fill_one(void *cls, const struct active_assignment *a)
{
	struct fill *f = cls;
	bool fresh;
	struct active_assignment *slot = i64map_put(f->map, a->device_num, &fresh);

	if (!slot) {
		f->failed = true;
		return;
	}
	/* Two active assignments cannot exist; keep the newest if they did. */
	if (fresh || a->id > slot->id)
		*slot = *a;
}

enum err assignment_index_load(struct assignment_index *ix, struct storage *s)
{
	struct i64map fresh;
	struct fill f = {&fresh, false};
	enum err e;

	/* Build aside, swap under the write lock: polls never wait on SQL. */
	i64map_init(&fresh, sizeof(struct active_assignment));
	e = storage_active_assignments(s, 0, fill_one, &f);
	if (!e && f.failed)
		e = ERR_NOMEM;
	if (e) {
		i64map_release(&fresh);
		return e;
	}
	pthread_rwlock_wrlock(&ix->lock);
	struct i64map old = ix->map;
	ix->map = fresh;
	atomic_fetch_add(&ix->generation, 1);
	pthread_rwlock_unlock(&ix->lock);
	i64map_release(&old);
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
	bool fresh;

	if (e)
		return e;
	pthread_rwlock_wrlock(&ix->lock);
	if (o.found) {
		struct active_assignment *slot = i64map_put(&ix->map, device_num, &fresh);
		if (slot)
			*slot = o.a;
		else
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
	const struct active_assignment *a;

	pthread_rwlock_rdlock(&ix->lock);
	a = i64map_get(&ix->map, device_num);
	if (a)
		*ret = *a;
	pthread_rwlock_unlock(&ix->lock);
	return a != NULL;
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
