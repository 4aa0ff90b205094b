#include "api/seen.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "storage/devices.h"

/* Open addressing on the device number; num 0 marks a free slot (device
 * numbers start at 1). */
struct seen_tracker {
	pthread_mutex_t lock;
	struct device_seen *slots;
	size_t cap, used;
};

#define INITIAL_CAP 1024

enum err seen_tracker_new(struct seen_tracker **ret)
{
	struct seen_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return ERR_NOMEM;
	pthread_mutex_init(&t->lock, NULL);
	*ret = t;
	return ERR_OK;
}

void seen_tracker_free(struct seen_tracker *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t);
}

static size_t slot_of(const struct seen_tracker *t, int64_t num)
{
	size_t i = (size_t)((uint64_t)num * 0x9E3779B97F4A7C15ull) & (t->cap - 1);

	while (t->slots[i].num && t->slots[i].num != num)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static bool grow(struct seen_tracker *t)
{
	struct seen_tracker bigger = {.cap = t->cap ? t->cap * 2 : INITIAL_CAP};

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return false;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].num)
			bigger.slots[slot_of(&bigger, t->slots[i].num)] = t->slots[i];
	free(t->slots);
	t->slots = bigger.slots;
	t->cap = bigger.cap;
	return true;
}

static void record(struct seen_tracker *t, int64_t device_num, int64_t at, bool has_sequence,
		   uint64_t sequence, bool restore)
{
	struct device_seen *s;

	if (device_num <= 0)
		return;
	pthread_mutex_lock(&t->lock);
	/* Keep the load under one half; if memory runs out, this sighting is
	 * dropped (it is only a last-seen time). */
	if ((t->used + 1) * 2 > t->cap && !grow(t)) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	s = &t->slots[slot_of(t, device_num)];
	if (!s->num) {
		s->num = device_num;
		t->used++;
	}
	if (at > s->at)
		s->at = at;
	/* A restored (older) sequence never replaces one reported since. */
	if (has_sequence && !(restore && s->has_sequence)) {
		s->has_sequence = true;
		s->sequence = sequence;
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
	bool found = false;

	pthread_mutex_lock(&t->lock);
	if (t->cap) {
		const struct device_seen *s = &t->slots[slot_of(t, device_num)];
		if (s->num == device_num) {
			found = true;
			*ret_at = s->at;
			*ret_has_sequence = s->has_sequence;
			*ret_sequence = s->sequence;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

enum err seen_flush(struct seen_tracker *t, struct storage *s, unsigned *ret_count)
{
	struct device_seen *batch;
	size_t n = 0;
	enum err e;

	/* Take the pending set and release the lock before any I/O. */
	pthread_mutex_lock(&t->lock);
	batch = t->used ? malloc(t->used * sizeof(*batch)) : NULL;
	if (batch) {
		for (size_t i = 0; i < t->cap; i++)
			if (t->slots[i].num)
				batch[n++] = t->slots[i];
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
		t->used = 0;
	}
	pthread_mutex_unlock(&t->lock);
	*ret_count = 0;
	if (!n)
		return ERR_OK;
	e = storage_device_seen(s, batch, (unsigned)n);
	if (e) {
		/* Put it back; newer sightings recorded meanwhile win. */
		for (size_t i = 0; i < n; i++)
			record(t, batch[i].num, batch[i].at, batch[i].has_sequence,
			       batch[i].sequence, true);
	} else {
		*ret_count = (unsigned)n;
	}
	free(batch);
	return e;
}
