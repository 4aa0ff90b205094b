#include "tracker/fanout.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "storage/deployments.h"
#include "tracker/assignments.h"
#include "tracker/rollout.h"

/* A slice holds the write lock for about this long: issue 15 allows at
 * most 100 ms; 20 leaves room for a slow commit or a busy core (a slice
 * measured 4x its budget on 2 shared cores). */
#define SLICE_BUDGET_US 20000
#define SLICE_MIN	32
#define SLICE_MAX	512
#define SLICE_GAP_US	2000
#define QUEUE_MAX	64

/* What the worker does for one deployment: prepare it, or cancel what its
 * cancel left active (in the name of who canceled it). */
struct job {
	int64_t id;
	bool cancel;
	char actor[80];
};

struct fanout {
	struct storage *storage;
	struct assignment_index *ix;
	void (*before_read)(void *cls);
	void *before_read_cls;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job queue[QUEUE_MAX];
	unsigned queued;
	_Atomic bool stop;
	bool started;
};

/* The next slice's size from the last one's time per row, aimed at the
 * budget, at most doubling or halving at a time: it follows what the disk,
 * the triggers and the other threads cost per row now. */
static size_t next_size(size_t size, uint64_t took_us)
{
	uint64_t want = took_us ? (uint64_t)size * SLICE_BUDGET_US / took_us : 2 * size;

	if (want > 2 * size)
		want = 2 * size;
	if (want < size / 2)
		want = size / 2;
	return want < SLICE_MIN ? SLICE_MIN : want > SLICE_MAX ? SLICE_MAX : (size_t)want;
}

/* How long the slices held the write lock: the longest, and a histogram
 * by millisecond for the 99th percentile (one slow fsync on a busy disk
 * makes the longest; the percentile says whether it was one). */
#define HOLD_BUCKETS 256

struct hold_stats {
	uint64_t longest_us;
	size_t count;
	uint32_t by_ms[HOLD_BUCKETS]; /* the last bucket: that many ms or more */
};

static void hold_add(struct hold_stats *h, uint64_t took_us)
{
	uint64_t ms = took_us / 1000;

	h->longest_us = took_us > h->longest_us ? took_us : h->longest_us;
	h->by_ms[ms < HOLD_BUCKETS ? ms : HOLD_BUCKETS - 1]++;
	h->count++;
}

/* "at most 80.1 ms, 99 % of the slices under 23 ms" */
static const char *hold_text(const struct hold_stats *h, char *buf, size_t size)
{
	size_t want = h->count - h->count / 100, seen = 0;
	unsigned ms = 0;

	while (ms < HOLD_BUCKETS - 1 && (seen += h->by_ms[ms]) < want)
		ms++;
	snprintf(buf, size, "at most %.1f ms, 99 %% of the slices under %u%s ms",
		 (double)h->longest_us / 1e3, ms + 1, ms == HOLD_BUCKETS - 1 ? "+" : "");
	return buf;
}

enum err fanout_run(struct storage *s, struct assignment_index *ix, int64_t id,
		    const _Atomic bool *stop)
{
	struct stage_target *t = NULL;
	size_t n = 0, done = 0, size = SLICE_MIN, slices = 0;
	uint64_t started = time_mono_usec();
	struct hold_stats hold = {0};
	char held[96];
	bool halted = false;
	enum err e = storage_deployment_targets(s, id, &rollout_planner, &t, &n);

	while (!e && done < n && !halted && !(stop && atomic_load(stop))) {
		size_t k = n - done < size ? n - done : size;
		uint64_t took;
		/* A gap between two slices: writers waiting for the lock (a
		 * report's group commit, a check-in's transition) get in. */
		if (done)
			usleep(SLICE_GAP_US);
		/* A background preparation (n > FANOUT_INLINE_MAX) tells the
		 * other nodes each slice but the last (deployment.prepared
		 * follows that one). */
		e = storage_deployment_slice(s, id, t + done, k,
					     n > FANOUT_INLINE_MAX && done + k < n, &halted, &took);
		if (e || halted)
			break;
		/* After the commit, as for a device that joins: each device of the
		 * slice gets its new assignment from the index together. */
		for (size_t i = done; ix && i < done + k; i++)
			if (assignment_index_refresh(ix, s, t[i].num) != ERR_OK)
				log_err("deployment %lld: cannot refresh device %lld in the index",
					(long long)id, (long long)t[i].num);
		done += k;
		slices++;
		hold_add(&hold, took);
		size = next_size(size, took);
	}
	free(t);
	if (e) {
		log_err("deployment %lld: preparation stopped after %zu of %zu devices: %s",
			(long long)id, done, n, err_title(e));
	} else if (stop && atomic_load(stop) && done < n && !halted) {
		/* the next start resumes it */
	} else if ((e = storage_deployment_prepared(s, id))) {
		log_err("deployment %lld: cannot mark it prepared: %s", (long long)id,
			err_title(e));
	} else if (n > FANOUT_INLINE_MAX || halted) {
		log_notice("deployment %lld %s: %zu devices in %zu slices in %.1f s, the write "
			   "lock held %s",
			   (long long)id, halted ? "stopped preparing (canceled)" : "prepared",
			   done, slices, (double)(time_mono_usec() - started) / 1e6,
			   hold_text(&hold, held, sizeof(held)));
	}
	return e;
}

static void *worker(void *arg)
{
	struct fanout *f = arg;

	pthread_mutex_lock(&f->lock);
	while (!atomic_load(&f->stop)) {
		if (!f->queued) {
			pthread_cond_wait(&f->wake, &f->lock);
			continue;
		}
		struct job job = f->queue[0];
		f->queued--;
		for (unsigned i = 0; i < f->queued; i++)
			f->queue[i] = f->queue[i + 1];
		pthread_mutex_unlock(&f->lock);
		if (job.cancel) {
			fanout_cancel_run(f->storage, job.id, job.actor, &f->stop);
		} else {
			if (f->before_read)
				f->before_read(f->before_read_cls);
			fanout_run(f->storage, f->ix, job.id, &f->stop);
		}
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static enum err enqueue(struct fanout *f, int64_t id, bool cancel, const char *actor)
{
	enum err e = ERR_OK;

	pthread_mutex_lock(&f->lock);
	if (f->queued == QUEUE_MAX) {
		e = ERR_BUSY;
	} else {
		struct job *j = &f->queue[f->queued++];
		j->id = id;
		j->cancel = cancel;
		snprintf(j->actor, sizeof(j->actor), "%s", actor ? actor : "system");
	}
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	return e;
}

enum err fanout_enqueue(struct fanout *f, int64_t id)
{
	return enqueue(f, id, false, NULL);
}

enum err fanout_enqueue_cancel(struct fanout *f, int64_t id, const char *actor)
{
	return enqueue(f, id, true, actor);
}

enum err fanout_cancel_run(struct storage *s, int64_t id, const char *actor,
			   const _Atomic bool *stop)
{
	size_t size = SLICE_MIN, slices = 0, done = 0;
	uint64_t started = time_mono_usec();
	struct hold_stats hold = {0};
	char held[96];
	unsigned n;
	enum err e = ERR_OK;

	while (!e && !(stop && atomic_load(stop))) {
		uint64_t took;
		if (slices)
			usleep(SLICE_GAP_US);
		e = storage_deployment_cancel_more(s, id, actor, (unsigned)size, &n, &took);
		if (e)
			break;
		done += n;
		slices++;
		hold_add(&hold, took);
		if (n < size)
			break;
		size = next_size(size, took);
	}
	if (e)
		log_err("deployment %lld: canceling its assignments stopped after %zu: %s",
			(long long)id, done, err_title(e));
	else if (done)
		log_notice("deployment %lld canceled: %zu more assignments in %zu slices in %.1f "
			   "s, the write lock held %s",
			   (long long)id, done, slices, (double)(time_mono_usec() - started) / 1e6,
			   hold_text(&hold, held, sizeof(held)));
	return e;
}

enum err fanout_start(struct storage *s, struct assignment_index *ix,
		      void (*before_read)(void *cls), void *cls, struct fanout **ret)
{
	struct fanout *f = calloc(1, sizeof(*f));
	int64_t ids[QUEUE_MAX];
	unsigned n = 0;
	enum err e;

	if (!f)
		return ERR_NOMEM;
	f->storage = s;
	f->ix = ix;
	f->before_read = before_read;
	f->before_read_cls = cls;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	/* Left preparing, or canceled with assignments still to cancel, by
	 * the previous run (a crash, a stop). */
	e = storage_deployments_preparing(s, 0, QUEUE_MAX / 2, ids, &n);
	for (unsigned i = 0; !e && i < n; i++) {
		log_notice("deployment %lld: resuming its preparation", (long long)ids[i]);
		f->queue[f->queued++] = (struct job){.id = ids[i]};
	}
	if (!e)
		e = storage_deployments_winding_down(s, 0, QUEUE_MAX / 2, ids, &n);
	for (unsigned i = 0; !e && i < n; i++) {
		log_notice("deployment %lld: resuming its cancel", (long long)ids[i]);
		f->queue[f->queued++] =
			(struct job){.id = ids[i], .cancel = true, .actor = "system"};
	}
	if (!e && pthread_create(&f->thread, NULL, worker, f) != 0)
		e = ERR_NOMEM;
	if (e) {
		pthread_mutex_destroy(&f->lock);
		pthread_cond_destroy(&f->wake);
		free(f);
		return e;
	}
	f->started = true;
	*ret = f;
	return ERR_OK;
}

void fanout_stop(struct fanout *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	atomic_store(&f->stop, true);
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	if (f->started)
		pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->wake);
	free(f);
}
