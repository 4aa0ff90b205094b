#include "api/seen.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/i64map.h"
#include "common/log.h"
#include "storage/devices.h"

struct sighting {
	int64_t at;
	bool has_sequence;
	uint64_t sequence;
	bool news; /* a download in progress (issue 15): the assignment is alive */
};

/* Shards by device number, each its own lock and map: a map that doubles
 * rehashes a 16th of the pending sightings, not all of them under the one
 * lock every poll takes (issue 15). */
#define SEEN_SHARDS 16

struct seen_shard {
	pthread_mutex_t lock;
	struct i64map map; /* device num → struct sighting */
} __attribute__((aligned(64)));

struct seen_tracker {
	struct seen_shard shards[SEEN_SHARDS];
};

static struct seen_shard *shard_of(struct seen_tracker *t, int64_t device_num)
{
	return &t->shards[((uint64_t)device_num * 0x9e3779b97f4a7c15ULL) >> 60];
}

enum err seen_tracker_new(struct seen_tracker **ret)
{
	struct seen_tracker *t = aligned_alloc(64, sizeof(*t));

	if (!t)
		return ERR_NOMEM;
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < SEEN_SHARDS; i++) {
		pthread_mutex_init(&t->shards[i].lock, NULL);
		i64map_init(&t->shards[i].map, sizeof(struct sighting));
	}
	*ret = t;
	return ERR_OK;
}

void seen_tracker_free(struct seen_tracker *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < SEEN_SHARDS; i++) {
		pthread_mutex_destroy(&t->shards[i].lock);
		i64map_release(&t->shards[i].map);
	}
	free(t);
}

static void record(struct seen_tracker *t, int64_t device_num, int64_t at, bool has_sequence,
		   uint64_t sequence, bool restore, bool news)
{
	struct seen_shard *sh = shard_of(t, device_num);
	struct sighting *s;
	bool fresh;

	pthread_mutex_lock(&sh->lock);
	/* Out of memory: this sighting is dropped (only a last-seen time). */
	s = i64map_put(&sh->map, device_num, &fresh);
	if (s) {
		if (at > s->at)
			s->at = at;
		s->news = s->news || news;
		/* A restored (older) sequence never replaces one reported since. */
		if (has_sequence && !(restore && s->has_sequence)) {
			s->has_sequence = true;
			s->sequence = sequence;
		}
	}
	pthread_mutex_unlock(&sh->lock);
}

void seen_record(struct seen_tracker *t, int64_t device_num, int64_t at, bool has_sequence,
		 uint64_t sequence)
{
	record(t, device_num, at, has_sequence, sequence, false, false);
}

void seen_news(struct seen_tracker *t, int64_t device_num, int64_t at)
{
	record(t, device_num, at, false, 0, false, true);
}

bool seen_pending(struct seen_tracker *t, int64_t device_num, int64_t *ret_at,
		  bool *ret_has_sequence, uint64_t *ret_sequence)
{
	struct seen_shard *sh = shard_of(t, device_num);
	const struct sighting *s;

	pthread_mutex_lock(&sh->lock);
	s = i64map_get(&sh->map, device_num);
	if (s) {
		*ret_at = s->at;
		*ret_has_sequence = s->has_sequence;
		*ret_sequence = s->sequence;
	}
	pthread_mutex_unlock(&sh->lock);
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

	c->batch[c->n++] = (struct device_seen){.num = key,
						.at = s->at,
						.has_sequence = s->has_sequence,
						.sequence = s->sequence,
						.news = s->news};
}

static int by_num(const void *a, const void *b)
{
	int64_t x = ((const struct device_seen *)a)->num, y = ((const struct device_seen *)b)->num;

	return (x > y) - (x < y);
}

enum err seen_flush(struct seen_tracker *t, struct storage *s, unsigned *ret_count)
{
	struct collect c = {NULL, 0};
	size_t cap = 0;
	enum err e;

	/* Take the pending set, a shard at a time, and release each lock
	 * before any I/O. */
	for (unsigned i = 0; i < SEEN_SHARDS; i++) {
		struct seen_shard *sh = &t->shards[i];
		pthread_mutex_lock(&sh->lock);
		if (sh->map.used && c.n + sh->map.used > cap) {
			size_t want = c.n + sh->map.used + cap / 2;
			struct device_seen *grown = realloc(c.batch, want * sizeof(*grown));
			if (grown) {
				c.batch = grown;
				cap = want;
			}
		}
		/* Out of memory: this shard stays pending for the next flush. */
		if (sh->map.used && c.n + sh->map.used <= cap) {
			i64map_each(&sh->map, collect_one, &c);
			i64map_clear(&sh->map);
		}
		pthread_mutex_unlock(&sh->lock);
	}
	*ret_count = 0;
	if (!c.n)
		return ERR_OK;
	/* In the order of the devices table: each transaction then rewrites a
	 * run of neighbouring rows, a page once for all of its devices, where
	 * the hash order touched a page per device (a flush of 500,000 of a
	 * million devices: 1.7x the rows/s and a third of the WAL). */
	qsort(c.batch, c.n, sizeof(*c.batch), by_num);
	e = storage_device_seen(s, c.batch, (unsigned)c.n);
	if (e) {
		/* Put it back; newer sightings recorded meanwhile win. */
		for (size_t i = 0; i < c.n; i++)
			record(t, c.batch[i].num, c.batch[i].at, c.batch[i].has_sequence,
			       c.batch[i].sequence, true, c.batch[i].news);
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

void seen_flush_logged(struct seen_tracker *t, struct storage *s)
{
	unsigned n = 0;
	enum err e = seen_flush(t, s, &n);

	if (e)
		log_warn("cannot write device last-seen times (%s); kept for the next try",
			 err_title(e));
	else if (n)
		log_debug("wrote last-seen times of %u devices", n);
}

struct seen_flusher {
	struct seen_tracker *t;
	struct storage *s;
	unsigned interval_s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop; /* under lock */
};

static void *flusher_main(void *arg)
{
	struct seen_flusher *f = arg;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += f->interval_s;
		while (!f->stop && pthread_cond_timedwait(&f->wake, &f->lock, &until) == 0)
			;
		if (f->stop)
			break;
		pthread_mutex_unlock(&f->lock);
		seen_flush_logged(f->t, f->s);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

enum err seen_flusher_start(struct seen_tracker *t, struct storage *s, unsigned interval_s,
			    struct seen_flusher **ret)
{
	struct seen_flusher *f = calloc(1, sizeof(*f));

	if (!f)
		return ERR_NOMEM;
	f->t = t;
	f->s = s;
	f->interval_s = interval_s ? interval_s : 1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	if (pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return ERR_NOMEM;
	}
	*ret = f;
	return ERR_OK;
}

void seen_flusher_stop(struct seen_flusher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
