/* Counting bursts of one failure: see log_burst.h. */
#include "common/log_burst.h"

#include <pthread.h>
#include <stdlib.h>

struct burst {
	bool active;
	uint64_t first_ms;   /* the burst's first failure */
	uint64_t line_ms;    /* its last line: the first failure or a count */
	uint64_t last_ms;    /* its last failure */
	unsigned long count; /* since line_ms, not logged */
	unsigned long total;
};

struct log_burst {
	pthread_mutex_t lock;
	unsigned interval_ms;
	struct burst kinds[ERR__COUNT];
};

enum err log_burst_new(unsigned interval_ms, struct log_burst **ret_burst)
{
	struct log_burst *b = calloc(1, sizeof(*b));

	if (!b)
		return ERR_NOMEM;
	pthread_mutex_init(&b->lock, NULL);
	b->interval_ms = interval_ms;
	*ret_burst = b;
	return ERR_OK;
}

void log_burst_free(struct log_burst *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static unsigned seconds_between(uint64_t from_ms, uint64_t to_ms)
{
	return to_ms > from_ms ? (unsigned)((to_ms - from_ms + 500) / 1000) : 0;
}

bool log_burst_hit(struct log_burst *b, enum err kind, uint64_t now_ms)
{
	bool first = true;

	if ((unsigned)kind >= ERR__COUNT)
		return true;
	pthread_mutex_lock(&b->lock);
	struct burst *k = &b->kinds[kind];
	if (k->active) {
		first = false;
		k->count++;
	} else {
		*k = (struct burst){.active = true, .first_ms = now_ms, .line_ms = now_ms};
	}
	k->total++;
	k->last_ms = now_ms;
	pthread_mutex_unlock(&b->lock);
	return first;
}

bool log_burst_active(struct log_burst *b, enum err kind, uint64_t *ret_last_ms)
{
	bool active;

	if ((unsigned)kind >= ERR__COUNT)
		return false;
	pthread_mutex_lock(&b->lock);
	active = b->kinds[kind].active;
	if (ret_last_ms)
		*ret_last_ms = b->kinds[kind].last_ms;
	pthread_mutex_unlock(&b->lock);
	return active;
}

bool log_burst_due(struct log_burst *b, enum err kind, uint64_t now_ms, struct log_burst_count *ret)
{
	bool due;

	if ((unsigned)kind >= ERR__COUNT)
		return false;
	pthread_mutex_lock(&b->lock);
	struct burst *k = &b->kinds[kind];
	due = k->active && k->count > 0 && now_ms >= k->line_ms + b->interval_ms;
	if (due) {
		*ret = (struct log_burst_count){.count = k->count,
						.total = k->total,
						.seconds = seconds_between(k->line_ms, now_ms)};
		k->count = 0;
		k->line_ms = now_ms;
	}
	pthread_mutex_unlock(&b->lock);
	return due;
}

bool log_burst_end(struct log_burst *b, enum err kind, uint64_t now_ms, struct log_burst_count *ret)
{
	bool active;

	if ((unsigned)kind >= ERR__COUNT)
		return false;
	pthread_mutex_lock(&b->lock);
	struct burst *k = &b->kinds[kind];
	active = k->active;
	if (active) {
		*ret = (struct log_burst_count){.count = k->count,
						.total = k->total,
						.seconds = seconds_between(k->first_ms, now_ms)};
		*k = (struct burst){0};
	}
	pthread_mutex_unlock(&b->lock);
	return active;
}
