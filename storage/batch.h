/* Group commit: many small writes from many requests, one transaction and
 * one fsync. A writer thread takes every job queued while the previous
 * commit was running, applies each in its own savepoint (one failing job
 * spoils no other), commits once, then reports each job's outcome. Nothing
 * is acknowledged before its commit: done() runs after it. The batch grows
 * with the load by itself (no timer, no added latency when idle). */
#ifndef SUITD_STORAGE_BATCH_H
#define SUITD_STORAGE_BATCH_H

#include "common/error.h"
#include "storage/storage.h"

struct db;
struct batcher;

struct batch_job {
	/* Inside the batch's transaction (storage/ code only). An error rolls
	 * back this job's savepoint alone. */
	enum err (*apply)(struct db *db, struct batch_job *job);
	/* Once, on the writer thread, after the commit: ERR_OK when the job's
	 * writes are durable, its own error, or the commit's. */
	void (*done)(struct batch_job *job, enum err e);
	struct batch_job *next; /* the batcher's */
};

/* Jobs per transaction at most (a bound on how long the lock is held). */
#define BATCH_MAX 256

/* A writer thread that puts at most MAX_JOBS (1..BATCH_MAX) jobs in one
 * transaction: many for small writes, few for large ones. */
enum err batcher_start(struct storage *s, unsigned max_jobs, struct batcher **ret);
/* Queue a job; never blocks on the database. */
void batcher_submit(struct batcher *b, struct batch_job *job);
/* Run what is queued, then stop the thread. */
void batcher_stop(struct batcher *b);

struct batch_stats {
	unsigned long long jobs, commits;
};
void batcher_stats(struct batcher *b, struct batch_stats *ret);

#endif
