#include "storage/batch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "storage/db.h"

struct batcher {
	struct storage *storage;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct batch_job *head, **tail;
	bool stopping;
	unsigned max_jobs;
	unsigned long long jobs, commits;
};

/* Apply each job in its own savepoint; the outcomes go to errs[]. */
static enum err run_batch(struct db *db, struct batch_job **jobs, unsigned n, enum err *errs)
{
	enum err e = db_begin(db);

	for (unsigned i = 0; i < n && !e; i++) {
		if ((e = db_step_once(db, STMT_SAVEPOINT)))
			break;
		errs[i] = jobs[i]->apply(db, jobs[i]);
		/* A full disk, I/O error or lack of memory may have made SQLite
		 * roll back the whole transaction, a lost connection to
		 * PostgreSQL too: then every job failed, for the same reason as
		 * this one. db_rollback() still ends our writer turn (and the
		 * events): kept, it held every other writer for
		 * WRITER_TURN_WAIT_MS while this thread idled. */
		if (errs[i] && !sql_in_transaction(db)) {
			db_rollback(db);
			return errs[i];
		}
		if (errs[i])
			e = db_step_once(db, STMT_ROLLBACK_TO_SAVEPOINT);
		if (!e)
			e = db_step_once(db, STMT_RELEASE_SAVEPOINT);
	}
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

static void *writer(void *arg)
{
	struct batcher *b = arg;
	struct batch_job *jobs[BATCH_MAX];
	enum err errs[BATCH_MAX];

	for (;;) {
		unsigned n = 0;

		pthread_mutex_lock(&b->lock);
		while (!b->head && !b->stopping)
			pthread_cond_wait(&b->wake, &b->lock);
		while (b->head && n < b->max_jobs) {
			jobs[n++] = b->head;
			b->head = b->head->next;
		}
		if (!b->head)
			b->tail = &b->head;
		bool stop = !n && b->stopping;
		pthread_mutex_unlock(&b->lock);
		if (stop)
			break;

		/* db_get() per batch (a thread-local look-up): it opens the
		 * connection again once a lost one is found (PostgreSQL); a
		 * connection kept across batches stayed broken for good
		 * (tests/cluster/run.sh case c, check_pg_backend). On SQLite it
		 * is the same handle each time. */
		struct db *db = NULL;
		enum err e = db_get(b->storage, &db);
		for (unsigned i = 0; i < n; i++)
			errs[i] = ERR_OK;
		if (!e)
			e = run_batch(db, jobs, n, errs);
		if (e)
			log_warn("a batch of %u writes failed: %s", n, err_title(e));
		pthread_mutex_lock(&b->lock);
		b->jobs += n;
		b->commits += !e;
		pthread_mutex_unlock(&b->lock);
		/* Nothing was committed when the batch failed: every job hears so. */
		for (unsigned i = 0; i < n; i++)
			jobs[i]->done(jobs[i], e ? e : errs[i]);
	}
	return NULL;
}

enum err batcher_start(struct storage *s, unsigned max_jobs, struct batcher **ret)
{
	struct batcher *b;

	if (max_jobs < 1 || max_jobs > BATCH_MAX)
		return ERR_INTERNAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return ERR_NOMEM;
	b->storage = s;
	b->max_jobs = max_jobs;
	b->tail = &b->head;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->wake, NULL);
	if (pthread_create(&b->thread, NULL, writer, b) != 0) {
		pthread_cond_destroy(&b->wake);
		pthread_mutex_destroy(&b->lock);
		free(b);
		return ERR_INTERNAL;
	}
	*ret = b;
	return ERR_OK;
}

void batcher_submit(struct batcher *b, struct batch_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&b->lock);
	*b->tail = job;
	b->tail = &job->next;
	pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->lock);
}

void batcher_stop(struct batcher *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void batcher_stats(struct batcher *b, struct batch_stats *ret)
{
	pthread_mutex_lock(&b->lock);
	ret->jobs = b->jobs;
	ret->commits = b->commits;
	pthread_mutex_unlock(&b->lock);
}
