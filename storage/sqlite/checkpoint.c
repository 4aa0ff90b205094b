#include "storage/sqlite/checkpoint.h"

#include "common/timeutil.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "storage/sqlite/sqlite.h"

struct checkpointer {
	struct storage *storage;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t ran; /* a run ended (checkpointer_wait) */
	bool wanted, running, stopping;
	unsigned long long runs, waits;
};

static void *checkpoint_loop(void *arg)
{
	struct checkpointer *c = arg;
	struct db *db = NULL;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (!c->wanted && !c->stopping)
			pthread_cond_wait(&c->wake, &c->lock);
		bool stop = c->stopping;
		c->wanted = false;
		c->running = !stop;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		if (!db && db_get(c->storage, &db) != ERR_OK)
			db = NULL; /* the run ends at once; waiters go on */
		/* PASSIVE: copies what no reader still needs, never waits for a
		 * lock; writers go on appending meanwhile. */
		int rc = db ? sqlite3_wal_checkpoint_v2(sqlite_db(db)->handle, NULL,
							SQLITE_CHECKPOINT_PASSIVE, NULL, NULL)
			    : SQLITE_CANTOPEN;
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_warn("WAL checkpoint failed: %s", sqlite3_errstr(rc));
		pthread_mutex_lock(&c->lock);
		c->runs++;
		c->running = false;
		pthread_cond_broadcast(&c->ran);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

enum err checkpointer_start(struct storage *s, struct checkpointer **ret)
{
	struct checkpointer *c = calloc(1, sizeof(*c));

	if (!c)
		return ERR_NOMEM;
	c->storage = s;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->ran, NULL);
	if (pthread_create(&c->thread, NULL, checkpoint_loop, c) != 0) {
		pthread_cond_destroy(&c->ran);
		pthread_cond_destroy(&c->wake);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return ERR_NOMEM;
	}
	*ret = c;
	return ERR_OK;
}

void checkpointer_poke(struct checkpointer *c)
{
	pthread_mutex_lock(&c->lock);
	if (!c->wanted) {
		c->wanted = true;
		pthread_cond_signal(&c->wake);
	}
	pthread_mutex_unlock(&c->lock);
}

void checkpointer_wait(struct checkpointer *c, unsigned timeout_ms)
{
	struct timespec until = time_deadline(CLOCK_REALTIME, timeout_ms);

	pthread_mutex_lock(&c->lock);
	/* A run already going may have started before the caller's commit:
	 * wait for the one after it. */
	unsigned long long target = c->runs + (c->running ? 2 : 1);
	c->waits++;
	c->wanted = true;
	pthread_cond_signal(&c->wake);
	while (c->runs < target && !c->stopping)
		if (pthread_cond_timedwait(&c->ran, &c->lock, &until) != 0)
			break;
	pthread_mutex_unlock(&c->lock);
}

void checkpointer_stop(struct checkpointer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_cond_broadcast(&c->ran);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->ran);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void checkpointer_stats(struct checkpointer *c, struct checkpoint_stats *ret)
{
	pthread_mutex_lock(&c->lock);
	ret->runs = c->runs;
	ret->waits = c->waits;
	pthread_mutex_unlock(&c->lock);
}
