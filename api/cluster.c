/* This node's memory follows the event log of the shared database
 * (api/cluster.h). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/cluster.h"
#include "api/ddi/poll_cache.h"
#include "api/token_cache.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "events/webhooks.h"
#include "storage/cluster.h"
#include "storage/deployments.h"
#include "storage/events.h"
#include "tracker/assignments.h"

/* What one batch of events asks for, each thing once. */
struct batch {
	int64_t devices[CLUSTER_FOLLOW_BATCH]; /* whose index entry to read again */
	unsigned device_count;
	struct {
		int64_t id;
		bool records_only; /* a stage opened, a pause or a resume */
	} deployments[CLUSTER_FOLLOW_BATCH];
	unsigned deployment_count;
	struct {
		int64_t deployment, first, last;
	} ranges[CLUSTER_FOLLOW_BATCH]; /* slices of a deployment still preparing */
	unsigned range_count;
	bool tokens;   /* a device's token or identity changed */
	bool webhooks; /* the webhook set changed or a redelivery waits */
	unsigned rows, skipped;
	int64_t last_id, last_at_ms;
	struct assignment_index *ix;
};

struct cluster_follower {
	struct api_ctx *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool signaled, stop; /* under lock */
	bool joined;	     /* the thread has ended */
	atomic_bool resync;  /* a reload is asked for */
	atomic_bool stale;   /* from the ask to the reload's success */
	int64_t cursor;	     /* the thread's */
	struct batch b;
	_Atomic uint64_t applied, skipped, reloads;
	_Atomic int64_t lag_ms;
};

static void signal_thread(struct cluster_follower *f)
{
	pthread_mutex_lock(&f->lock);
	f->signaled = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

static void on_events(void *cls, int64_t newest_id)
{
	(void)newest_id; /* a hint: the thread reads from its cursor */
	signal_thread(cls);
}

static void on_resync(void *cls)
{
	struct cluster_follower *f = cls;

	atomic_store(&f->stale, true);
	atomic_store(&f->resync, true);
	signal_thread(f);
}

bool cluster_follower_ready(struct cluster_follower *f)
{
	return !atomic_load(&f->stale);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void deployment_add(struct batch *b, int64_t id, bool records_only)
{
	for (unsigned i = 0; i < b->deployment_count; i++)
		if (b->deployments[i].id == id) {
			b->deployments[i].records_only &= records_only;
			return;
		}
	b->deployments[b->deployment_count].id = id;
	b->deployments[b->deployment_count++].records_only = records_only;
}

/* Whether the index already shows the device's assignment id in state
 * st: this node's own changes (the index followed them as they
 * committed), or a later state. Then reading the device again would
 * change nothing. */
static bool index_has(struct assignment_index *ix, int64_t device_num, int64_t id,
		      enum assignment_state st)
{
	struct active_assignment a;
	bool has = assignment_index_get(ix, device_num, &a);

	if (assignment_state_active(st))
		return has && a.id == id && a.state == st;
	return !has || a.id != id; /* final: out of the index */
}

static bool index_shows(struct assignment_index *ix, const struct event_brief *ev)
{
	enum assignment_state st;

	if (!ev->assignment_id || !assignment_state_parse(ev->type + strlen("assignment."), &st))
		return false;
	return index_has(ix, ev->device_num, ev->assignment_id, st);
}

static bool collect(void *cls, const struct event_brief *ev)
{
	struct batch *b = cls;

	b->rows++;
	b->last_id = ev->id;
	b->last_at_ms = ev->at_ms;
	/* assignment.<state>: one device's active assignment moved. */
	if (starts_with(ev->type, "assignment.") && ev->device_num > 0) {
		if (index_shows(b->ix, ev))
			b->skipped++;
		else
			b->devices[b->device_count++] = ev->device_num;
	}
	/* device.*: created (it may have joined a deployment), updated (group,
	 * tags, identity), token_rotated, deleted: its entry and every cached
	 * token identity. */
	if (starts_with(ev->type, "device.")) {
		b->tokens = true;
		if (ev->device_num > 0)
			b->devices[b->device_count++] = ev->device_num;
	}
	/* deployment.*: a stage opened, a pause, a resume change the records
	 * every device of it shares; prepared, canceled, retried, completed,
	 * deleted change which assignments are active. */
	if (starts_with(ev->type, "deployment.") && ev->deployment_id > 0)
		deployment_add(b, ev->deployment_id,
			       strcmp(ev->type, "deployment.stage_opened") == 0 ||
				       strcmp(ev->type, "deployment.paused") == 0 ||
				       strcmp(ev->type, "deployment.resumed") == 0);
	if (strcmp(ev->type, "deployment.assigned") == 0 && ev->first_assignment > 0 &&
	    ev->last_assignment >= ev->first_assignment) {
		b->ranges[b->range_count].deployment = ev->deployment_id;
		b->ranges[b->range_count].first = ev->first_assignment;
		b->ranges[b->range_count++].last = ev->last_assignment;
	}
	if (starts_with(ev->type, "webhook."))
		b->webhooks = true;
	return true;
}

/* The devices of a slice whose entry does not show their assignment
 * (another node prepared it), gathered before any is read again. */
struct range_devices {
	struct assignment_index *ix;
	int64_t *nums;
	size_t n, cap;
	bool nomem;
};

static bool range_device(void *cls, int64_t id, int64_t device_num, enum assignment_state state)
{
	struct range_devices *r = cls;

	if (index_has(r->ix, device_num, id, state))
		return true;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;
		int64_t *p = realloc(r->nums, cap * sizeof(*p));
		if (!p) {
			r->nomem = true;
			return false;
		}
		r->nums = p;
		r->cap = cap;
	}
	r->nums[r->n++] = device_num;
	return true;
}

static bool range_apply(struct api_ctx *ctx, int64_t deployment, int64_t first, int64_t last)
{
	struct range_devices r = {.ix = ctx->assignments};
	enum err e = storage_assignments_in_range(ctx->storage, deployment, first, last,
						  range_device, &r);

	for (size_t i = 0; !e && !r.nomem && i < r.n; i++)
		e = assignment_index_refresh(ctx->assignments, ctx->storage, r.nums[i]);
	free(r.nums);
	return !e && !r.nomem;
}

static int num_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static enum err deployment_apply(struct api_ctx *ctx, int64_t id, bool records_only)
{
	struct deployment d;
	enum err e;

	if (!records_only)
		return assignment_index_reload_deployment(ctx->assignments, ctx->storage, id);
	e = storage_deployment_get(ctx->storage, id, &d);
	if (e == ERR_NOT_FOUND)
		return assignment_index_reload_deployment(ctx->assignments, ctx->storage, id);
	if (!e)
		assignment_index_deployment(ctx->assignments, id, d.open_stage, d.paused_at != 0);
	return e;
}

/* Apply one batch; false when the storage failed (the cursor stays). */
static bool apply(struct cluster_follower *f, struct batch *b)
{
	struct api_ctx *ctx = f->ctx;

	qsort(b->devices, b->device_count, sizeof(*b->devices), num_cmp);
	/* The token cache first: a revoked token is refused from now on. */
	if (b->tokens)
		token_cache_clear(ctx->tokens);
	for (unsigned i = 0; i < b->device_count; i++)
		if ((!i || b->devices[i] != b->devices[i - 1]) &&
		    assignment_index_refresh(ctx->assignments, ctx->storage, b->devices[i]))
			return false;
	for (unsigned i = 0; i < b->deployment_count; i++)
		if (deployment_apply(ctx, b->deployments[i].id, b->deployments[i].records_only))
			return false;
	for (unsigned i = 0; i < b->range_count; i++)
		if (!range_apply(ctx, b->ranges[i].deployment, b->ranges[i].first,
				 b->ranges[i].last))
			return false;
	if (b->device_count || b->deployment_count || b->range_count)
		ddi_poll_cache_invalidate(ctx->ddi_polls);
	if (b->webhooks)
		webhook_worker_changed(ctx->webhooks);
	return true;
}

/* Everything read anew: after a lost connection, or a cursor the
 * retention swept past. */
static void reload_all(struct cluster_follower *f)
{
	struct api_ctx *ctx = f->ctx;
	int64_t oldest, newest;

	if (storage_events_range(ctx->storage, &oldest, &newest) != ERR_OK) {
		atomic_store(&f->resync, true); /* the next round tries again */
		return;
	}
	token_cache_clear(ctx->tokens);
	if (assignment_index_load(ctx->assignments, ctx->storage) != ERR_OK) {
		atomic_store(&f->resync, true);
		return;
	}
	ddi_poll_cache_invalidate(ctx->ddi_polls);
	webhook_worker_changed(ctx->webhooks);
	f->cursor = newest;
	/* Unless another loss asked again meanwhile. */
	if (!atomic_load(&f->resync))
		atomic_store(&f->stale, false);
	atomic_fetch_add(&f->reloads, 1);
	log_info("cluster: reloaded %u active assignments",
		 assignment_index_count(ctx->assignments));
}

static void follow(struct cluster_follower *f)
{
	struct batch *b = &f->b;
	int64_t oldest, newest;

	if (storage_events_range(f->ctx->storage, &oldest, &newest) != ERR_OK)
		return;
	if (newest > f->cursor && oldest > f->cursor + 1) {
		log_warn("cluster: events %" PRId64 "..%" PRId64 " were swept before this node "
			 "read them; reloading",
			 f->cursor + 1, oldest - 1);
		reload_all(f);
		return;
	}
	while (newest > f->cursor) {
		b->device_count = b->deployment_count = b->range_count = b->rows = b->skipped = 0;
		b->tokens = b->webhooks = false;
		b->ix = f->ctx->assignments;
		if (storage_events_follow(f->ctx->storage, f->cursor, CLUSTER_FOLLOW_BATCH, collect,
					  b) != ERR_OK ||
		    b->rows == 0 || !apply(f, b))
			return;
		f->cursor = b->last_id;
		atomic_fetch_add(&f->applied, b->rows);
		atomic_fetch_add(&f->skipped, b->skipped);
		atomic_store(&f->lag_ms, time_now_ms() - b->last_at_ms);
	}
}

static void *follower_main(void *arg)
{
	struct cluster_follower *f = arg;

	for (;;) {
		struct timespec until;
		pthread_mutex_lock(&f->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		while (!f->signaled && !f->stop)
			if (pthread_cond_timedwait(&f->wake, &f->lock, &until) != 0)
				break; /* a second without news: look at the log anyway */
		bool woken = f->signaled;
		f->signaled = false;
		bool stop = f->stop;
		pthread_mutex_unlock(&f->lock);
		if (stop)
			break;
		/* Told at COMMIT, before the committing thread has brought the
		 * index up to date: a moment's wait lets this node's own change
		 * land there first (then it is skipped, not read again), and
		 * gathers a burst of commits into one read. */
		if (woken)
			usleep(CLUSTER_FOLLOW_DELAY_MS * 1000);
		if (atomic_exchange(&f->resync, false))
			reload_all(f);
		else
			follow(f);
	}
	return NULL;
}

enum err cluster_follower_start(struct api_ctx *ctx, int64_t cursor, struct cluster_follower **ret)
{
	struct cluster_follower *f;
	enum err e;

	*ret = NULL;
	if (!storage_shared(ctx->storage))
		return ERR_OK;
	f = calloc(1, sizeof(*f));
	if (!f)
		return ERR_NOMEM;
	f->ctx = ctx;
	f->cursor = cursor;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	if ((e = storage_events_listen(ctx->storage, on_events, f)) != ERR_OK ||
	    pthread_create(&f->thread, NULL, follower_main, f) != 0) {
		free(f);
		return e ? e : ERR_NOMEM;
	}
	/* Once registered, the listener stays: f is freed only by
	 * cluster_follower_free(), after every thread that commits. */
	*ret = f;
	if ((e = storage_cluster_start(ctx->storage, on_resync, f)) != ERR_OK)
		cluster_follower_stop(f);
	return e;
}

void cluster_follower_stop(struct cluster_follower *f)
{
	if (!f || f->joined)
		return;
	storage_cluster_stop(f->ctx->storage);
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	f->joined = true;
}

void cluster_follower_free(struct cluster_follower *f)
{
	if (!f)
		return;
	cluster_follower_stop(f);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

enum err cluster_metrics_render(struct cluster_follower *f, struct buf *out)
{
	struct storage_cluster_stats st;

	if (!f)
		return ERR_OK;
	storage_cluster_stats(f->ctx->storage, &st);
	return buf_printf(
		out,
		"# HELP suitd_cluster_housekeeper 1 while this node holds the housekeeper "
		"lease (stages, timeouts, retention, webhooks run here).\n"
		"# TYPE suitd_cluster_housekeeper gauge\n"
		"suitd_cluster_housekeeper %d\n"
		"# HELP suitd_cluster_housekeeper_gained_total Times this node took the lease.\n"
		"# TYPE suitd_cluster_housekeeper_gained_total counter\n"
		"suitd_cluster_housekeeper_gained_total %" PRIu64 "\n"
		"# HELP suitd_cluster_listening 1 while the notification connection is up.\n"
		"# TYPE suitd_cluster_listening gauge\n"
		"suitd_cluster_listening %d\n"
		"# HELP suitd_cluster_notifications_total Commit notifications received "
		"(every node's).\n"
		"# TYPE suitd_cluster_notifications_total counter\n"
		"suitd_cluster_notifications_total %" PRIu64 "\n"
		"# HELP suitd_cluster_reconnects_total Times the notification connection came "
		"back after a loss (each one reloads the caches).\n"
		"# TYPE suitd_cluster_reconnects_total counter\n"
		"suitd_cluster_reconnects_total %" PRIu64 "\n"
		"# HELP suitd_cluster_events_applied_total Events of the log applied to this "
		"node's memory.\n"
		"# TYPE suitd_cluster_events_applied_total counter\n"
		"suitd_cluster_events_applied_total %" PRIu64 "\n"
		"# HELP suitd_cluster_events_current_total Assignment events the index already "
		"showed (this node's own changes): nothing read.\n"
		"# TYPE suitd_cluster_events_current_total counter\n"
		"suitd_cluster_events_current_total %" PRIu64 "\n"
		"# HELP suitd_cluster_reloads_total Full reloads of the index and token cache.\n"
		"# TYPE suitd_cluster_reloads_total counter\n"
		"suitd_cluster_reloads_total %" PRIu64 "\n"
		"# HELP suitd_cluster_notification_lag_seconds From the newest applied event's "
		"write to its application here, at the last batch.\n"
		"# TYPE suitd_cluster_notification_lag_seconds gauge\n"
		"suitd_cluster_notification_lag_seconds %.3f\n",
		st.housekeeper, st.housekeeper_gained, st.listening, st.notifications,
		st.reconnects, (uint64_t)atomic_load(&f->applied),
		(uint64_t)atomic_load(&f->skipped), (uint64_t)atomic_load(&f->reloads),
		(double)atomic_load(&f->lag_ms) / 1000.0);
}
