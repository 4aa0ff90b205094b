/* Tests: run one job through a batcher (storage/batch.h) and wait for its
 * outcome (done() runs on the batcher's thread after the commit). */
#ifndef SUITD_TESTS_BATCH_WAIT_H
#define SUITD_TESTS_BATCH_WAIT_H

#include <pthread.h>
#include <stdbool.h>

#include "storage/batch.h"

struct batch_wait {
	struct batch_job job; /* first: done() gets this pointer */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	enum err e;
};

static inline void batch_wait_done(struct batch_job *job, enum err e)
{
	struct batch_wait *w = (struct batch_wait *)(void *)job;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	w->e = e;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Submit a job applying APPLY and wait: its outcome, or the batch's. */
static inline enum err batch_wait_run(struct batcher *b,
				      enum err (*apply)(struct db *db, struct batch_job *job))
{
	struct batch_wait w = {.job = {.apply = apply, .done = batch_wait_done},
			       .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER};

	batcher_submit(b, &w.job);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	return w.e;
}

#endif
