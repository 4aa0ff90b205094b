#include "api/seen.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/i64map.h"
#include "storage/devices.h"

struct sighting {
	int64_t at;
	bool has_sequence;
	uint64_t sequence;
};

struct seen_tracker {
	pthread_mutex_t lock;
	struct i64map map; /* device num → struct sighting */
};

enum err seen_tracker_new(struct seen_tracker **ret)
{
	struct seen_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return ERR_NOMEM;
	pthread_mutex_init(&t->lock, NULL);
	i64map_init(&t->map, sizeof(struct sighting));
	*ret = t;
	return ERR_OK;
}

void seen_tracker_free(struct seen_tracker *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	i64map_release(&t->map);
	free(t);
}

static void record(struct seen_tracker *t, int64_t device_num, int64_t at, bool has_sequence,
		   uint64_t sequence, bool restore)
{
	struct sighting *s;
	bool fresh;

	pthread_mutex_lock(&t->lock);
	/* Out of memory: this sighting is dropped (only a last-seen time). */
	s = i64map_put(&t->map, device_num, &fresh);
	if (s) {
		if (at > s->at)
			s->at = at;
		/* A restored (older) sequence never replaces one reported since. */
		if (has_sequence && !(restore && s->has_sequence)) {
			s->has_sequence = true;
			s->sequence = sequence;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void seen_record(struct seen_tracker *t, int64_t device_num, int64_t at, bool has_sequence,
		 uint64_t sequence)
{
	record(t, device_num, at, has_sequence, sequence, false);
}

bool seen_pending(struct seen_tracker *t, int64_t device_num, int64_t *ret_at,
		  bool *ret_has_sequence, uint64_t *ret_sequence)
{
	const struct sighting *s;

	pthread_mutex_lock(&t->lock);
	s = i64map_get(&t->map, device_num);
	if (s) {
		*ret_at = s->at;
		*ret_has_sequence = s->has_sequence;
		*ret_sequence = s->sequence;
	}
	pthread_mutex_unlock(&t->lock);
	return s != NULL;
}

struct collect {
	struct device_seen *batch;
	size_t n;
};

static void collect_one(void *cls, int64_t key, void *value)
{
	struct collect *c = cls;
	const struct sighting *s = value;

	c->batch[c->n++] = (struct device_seen){
		.num = key, .at = s->at, .has_sequence = s->has_sequence, .sequence = s->sequence};
}

enum err seen_flush(struct seen_tracker *t, struct storage *s, unsigned *ret_count)
{
	struct collect c = {NULL, 0};
	enum err e;

	/* Take the pending set and release the lock before any I/O. */
	pthread_mutex_lock(&t->lock);
	c.batch = t->map.used ? malloc(t->map.used * sizeof(*c.batch)) : NULL;
	if (c.batch) {
		i64map_each(&t->map, collect_one, &c);
		i64map_clear(&t->map);
	}
	pthread_mutex_unlock(&t->lock);
	*ret_count = 0;
	if (!c.n)
		return ERR_OK;
	e = storage_device_seen(s, c.batch, (unsigned)c.n);
	if (e) {
		/* Put it back; newer sightings recorded meanwhile win. */
		for (size_t i = 0; i < c.n; i++)
			record(t, c.batch[i].num, c.batch[i].at, c.batch[i].has_sequence,
			       c.batch[i].sequence, true);
	} else {
		*ret_count = (unsigned)c.n;
	}
	free(c.batch);
	return e;
}

void seen_flush_before_read(struct seen_tracker *t, struct storage *s)
{
	unsigned written;

	if (t)
		seen_flush(t, s, &written);
}
