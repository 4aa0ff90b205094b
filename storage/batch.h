/* Group commit: many small writes from many requests, one transaction and
 * one fsync. A writer thread takes every job queued while the previous
 * commit was running, applies each in its own savepoint (one failing job
 * spoils no other) or, for jobs with fast ops, in segments without them
 * (one read for the segment, writes that wait for no answer; a failure
 * runs the batch again job by job), commits once, then reports each job's
 * outcome. Nothing is acknowledged before its commit: done() runs after
 * it. The batch grows with the load by itself (no timer, no added latency
 * when idle). */
#ifndef SUITD_STORAGE_BATCH_H
#define SUITD_STORAGE_BATCH_H

#include <stdint.h>

#include "common/error.h"
#include "storage/storage.h"

struct db;
struct batcher;

struct batch_job;

struct batch_fast {
	/* Read what apply needs for jobs[0..n), into the jobs. */
	enum err (*prefetch)(struct db *db, struct batch_job **jobs, unsigned n);
	/* The job's writes, given what prefetch read. *ret_outcome is the
	 * job's own result when the job wrote nothing (e.g. ERR_CONFLICT); a
	 * returned error means the transaction is spoiled. */
	enum err (*apply)(struct db *db, struct batch_job *job, enum err *ret_outcome);
	/* After apply of each: the writes left for the segment as a whole. */
	enum err (*finish)(struct db *db, struct batch_job **jobs, unsigned n);
};

struct batch_job {
	/* Inside the batch's transaction (storage/ code only). An error rolls
	 * back this job's savepoint alone. */
	enum err (*apply)(struct db *db, struct batch_job *job);
	/* Optional (NULL: apply only). Consecutive jobs with the same fast and
	 * distinct keys run as one segment: one read for them all, then each
	 * job's writes without a savepoint of its own, so that a backend with
	 * round trips (PostgreSQL) sends them all in one pipeline. A failure
	 * then spoils the whole transaction: it is rolled back and the batch
	 * runs again, every job by apply in its own savepoint. */
	const struct batch_fast *fast;
	int64_t key; /* e.g. the device: what two jobs of a segment never share */
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
	unsigned long long reruns; /* batches whose segments failed, run again job by job */
};
void batcher_stats(struct batcher *b, struct batch_stats *ret);

#endif
