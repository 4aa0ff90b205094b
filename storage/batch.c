#include "storage/batch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/log_burst.h"
#include "common/timeutil.h"
#include "storage/db.h"

struct batcher {
	struct storage *storage;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct batch_job *head, **tail;
	bool stopping;
	unsigned max_jobs;
	unsigned long long jobs, commits, reruns;
	struct log_burst *failures, *reruns_log; /* the writer thread's */
	bool failing; /* the writer thread's: a batch failed since the last commit */
};

/* One job in its own savepoint: its outcome to *ret_err. The returned
 * error ends the batch. */
static enum err job_in_savepoint(struct db *db, struct batch_job *job, enum err *ret_err)
{
	enum err e = db_step_once(db, STMT_SAVEPOINT);

	if (e)
		return e;
	*ret_err = job->apply(db, job);
	/* A full disk, I/O error or lack of memory may have made SQLite roll
	 * back the whole transaction, a lost connection to PostgreSQL too:
	 * then every job failed, for the same reason as this one. */
	if (*ret_err && !sql_in_transaction(db))
		return *ret_err;
	if (*ret_err && (e = db_step_once(db, STMT_ROLLBACK_TO_SAVEPOINT)))
		return e;
	return db_step_once(db, STMT_RELEASE_SAVEPOINT);
}

/* Each job in its own savepoint: one failing job spoils no other. */
static enum err run_safe(struct db *db, struct batch_job **jobs, unsigned n, enum err *errs)
{
	enum err e = db_begin(db);

	for (unsigned i = 0; i < n && !e; i++)
		e = job_in_savepoint(db, jobs[i], &errs[i]);
	if (e) {
		/* db_rollback() also ends our writer turn (and the events):
		 * kept, it held every other writer for WRITER_TURN_WAIT_MS
		 * while this thread idled. */
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

/* The end of the segment that starts at jobs[0]: the jobs after it with
 * the same fast and keys not seen before in it (n <= BATCH_MAX: the
 * quadratic look is a few thousand comparisons at most). */
static unsigned segment_end(struct batch_job **jobs, unsigned n)
{
	unsigned end = 1;

	for (; end < n && jobs[end]->fast == jobs[0]->fast; end++)
		for (unsigned k = 0; k < end; k++)
			if (jobs[k]->key == jobs[end]->key)
				return end;
	return end;
}

/* Segments of fast jobs (one read, writes without savepoints), other
 * jobs each in its own savepoint. Any error spoils the transaction:
 * rolled back, it is the caller's to run the batch again. */
static enum err run_segments(struct db *db, struct batch_job **jobs, unsigned n, enum err *errs)
{
	enum err e = db_begin(db);

	for (unsigned i = 0; i < n && !e;) {
		if (!jobs[i]->fast) {
			e = job_in_savepoint(db, jobs[i], &errs[i]);
			i++;
			continue;
		}
		unsigned end = i + segment_end(jobs + i, n - i);
		const struct batch_fast *fast = jobs[i]->fast;
		unsigned first = i;
		e = fast->prefetch(db, jobs + i, end - i);
		for (; i < end && !e; i++)
			e = fast->apply(db, jobs[i], &errs[i]);
		if (!e)
			e = fast->finish(db, jobs + first, end - first);
	}
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

static bool any_fast(struct batch_job **jobs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (jobs[i]->fast)
			return true;
	return false;
}

/* The outcomes go to errs[]; the returned error is every job's. */
static enum err run_batch(struct batcher *b, struct db *db, struct batch_job **jobs, unsigned n,
			  enum err *errs)
{
	enum err e;

	if (!any_fast(jobs, n))
		return run_safe(db, jobs, n, errs);
	e = run_segments(db, jobs, n, errs);
	/* Which job failed is unknown (a pipelined write answers late), so
	 * all run again, each in its savepoint; unless the database is gone:
	 * then they would only fail again. Nothing of the first run stayed:
	 * it was rolled back. */
	if (!e || e == ERR_STORAGE_UNAVAILABLE || e == ERR_UNAVAILABLE)
		return e;
	/* The first in full, then counts at most every 5 s (the metric
	 * suitd_report_batch_reruns_total counts them all). */
	struct log_burst_count c;
	uint64_t now = time_mono_usec() / 1000;
	if (!b->reruns_log || log_burst_hit(b->reruns_log, e, now))
		log_warn("a batch of %u writes failed (%s): running them again one by one", n,
			 err_title(e));
	else if (log_burst_due(b->reruns_log, e, now, &c))
		log_warn("%lu more batches of writes ran again one by one (%s) in the last %u s",
			 c.count, err_title(e), c.seconds);
	for (unsigned i = 0; i < n; i++)
		errs[i] = ERR_OK;
	pthread_mutex_lock(&b->lock);
	b->reruns++;
	pthread_mutex_unlock(&b->lock);
	return run_safe(db, jobs, n, errs);
}

/* A failed batch in full once, then counts at most every 5 s, then one
 * line when batches commit again: a database outage fails every batch the
 * same way (common/log_burst.h). Without the counter (out of memory at
 * start) every failure is logged. */
static void log_outcome(struct batcher *b, unsigned n, enum err e)
{
	struct log_burst_count c;
	uint64_t now = time_mono_usec() / 1000;

	if (e && (!b->failures || log_burst_hit(b->failures, e, now)))
		log_warn("a batch of %u writes failed: %s", n, err_title(e));
	else if (e && log_burst_due(b->failures, e, now, &c))
		log_warn("%lu more batches of writes failed (%s) in the last %u s", c.count,
			 err_title(e), c.seconds);
	/* Only after failures: a commit in the steady state looks at nothing. */
	if (e)
		b->failing = true;
	for (int k = 0; !e && b->failing && b->failures && k < ERR__COUNT; k++)
		if (log_burst_end(b->failures, (enum err)k, now, &c))
			log_notice("batches of writes commit again, after %lu failed (%s) in %u s",
				   c.total, err_title((enum err)k), c.seconds);
	if (!e)
		b->failing = false;
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
			e = run_batch(b, db, jobs, n, errs);
		log_outcome(b, n, e);
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
	/* NULL (out of memory): every failure logged. */
	(void)log_burst_new(5000, &b->failures);
	(void)log_burst_new(5000, &b->reruns_log);
	b->tail = &b->head;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->wake, NULL);
	if (pthread_create(&b->thread, NULL, writer, b) != 0) {
		pthread_cond_destroy(&b->wake);
		pthread_mutex_destroy(&b->lock);
		log_burst_free(b->failures);
		log_burst_free(b->reruns_log);
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
	log_burst_free(b->failures);
	log_burst_free(b->reruns_log);
	free(b);
}

void batcher_stats(struct batcher *b, struct batch_stats *ret)
{
	pthread_mutex_lock(&b->lock);
	ret->jobs = b->jobs;
	ret->commits = b->commits;
	ret->reruns = b->reruns;
	pthread_mutex_unlock(&b->lock);
}
