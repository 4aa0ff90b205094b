#include "tracker/housekeeping.h"

#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "storage/deployments.h"
#include "storage/events.h"
#include "storage/reports.h"
#include "tracker/assignments.h"
#include "tracker/rollout.h"

/* Reports deleted per second at most: the write lock is never held long. */
#define REPORT_EXPIRE_BATCH 5000
/* Events deleted per statement, and statements per second at most: 20,000
 * events a second keep up with the report bench's rate. */
#define EVENTS_EXPIRE_BATCH  2000
#define EVENTS_EXPIRE_ROUNDS 10
/* Running deployments read per query. */
#define ROLLOUT_BATCH 16

void housekeeping_timeouts(struct storage *s, struct assignment_index *ix)
{
	int64_t *devices;
	unsigned n = 0;

	/* On a failure the slices before it are committed: their devices are
	 * in the list all the same. */
	if (storage_assignments_time_out(s, time_now(), &devices, &n) != ERR_OK)
		log_warn("cannot time out silent assignments");
	/* Those devices only, not the whole index (issue 15). */
	for (unsigned i = 0; i < n; i++)
		if (assignment_index_refresh(ix, s, devices[i]) != ERR_OK)
			log_err("cannot refresh device %lld in the index", (long long)devices[i]);
	/* Once the index shows it too: from this line on no such device is
	 * offered its manifest (on PostgreSQL the refreshes of a large sweep
	 * take a round trip each). */
	if (n)
		log_notice("%u assignments timed out (no news from their device)", n);
	free(devices);
}

/* Apply one decision; the index follows in one record. */
static void rollout_step(struct storage *s, struct assignment_index *ix, const struct deployment *d)
{
	struct deployment_counts c;
	char why[PAUSE_REASON_MAX + 1];
	enum err e = ERR_OK;

	if (storage_deployment_counts(s, d->id, &c) != ERR_OK) {
		log_warn("deployment %lld: cannot read its counts", (long long)d->id);
		return;
	}
	switch (rollout_evaluate(&d->rollout, d->open_stage, d->failures_acknowledged,
				 (const unsigned(*)[ASSIGN__COUNT])c.n, why, sizeof(why))) {
	case ROLLOUT_WAIT:
		return;
	case ROLLOUT_OPEN_NEXT:
		e = storage_deployment_open_stage(s, d->id, d->open_stage + 1);
		if (!e) {
			assignment_index_deployment(ix, d->id, d->open_stage + 1, false);
			log_notice("deployment %lld: %s", (long long)d->id, why);
		}
		break;
	case ROLLOUT_PAUSE:
		e = storage_deployment_pause(s, d->id, "suitd", why, true);
		if (!e) {
			assignment_index_deployment(ix, d->id, d->open_stage, true);
			log_warn("deployment %lld paused: %s", (long long)d->id, why);
		}
		break;
	case ROLLOUT_COMPLETE:
		e = storage_deployment_complete(s, d->id);
		if (!e)
			log_notice("deployment %lld completed: %s", (long long)d->id, why);
		break;
	}
	/* ERR_CONFLICT: an operator paused or canceled it meanwhile. */
	if (e && e != ERR_CONFLICT)
		log_warn("deployment %lld: cannot apply the rollout step: %s", (long long)d->id,
			 err_title(e));
}

void housekeeping_rollouts(struct storage *s, struct assignment_index *ix)
{
	struct deployment batch[ROLLOUT_BATCH];
	int64_t after = 0;
	unsigned n;

	do {
		if (storage_deployments_running(s, after, ROLLOUT_BATCH, batch, &n) != ERR_OK) {
			log_warn("cannot read the running deployments");
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			after = batch[i].id;
			rollout_step(s, ix, &batch[i]);
		}
	} while (n == ROLLOUT_BATCH);
}

void housekeeping_reports(struct storage *s, int64_t retention)
{
	unsigned n = 0;

	if (!retention)
		return;
	if (storage_reports_expire(s, time_now() - retention, REPORT_EXPIRE_BATCH, &n) != ERR_OK)
		log_warn("cannot delete expired reports");
	else if (n)
		log_info("%u reports older than report_retention deleted", n);
}

void housekeeping_events(struct storage *s, int64_t retention, uint64_t max_rows)
{
	unsigned total = 0, n = EVENTS_EXPIRE_BATCH;

	/* A full batch: more may wait; a few more batches, the write lock
	 * free between them. */
	for (unsigned i = 0; i < EVENTS_EXPIRE_ROUNDS && n == EVENTS_EXPIRE_BATCH; i++) {
		n = 0;
		if (storage_events_sweep(s, (time_now() - retention) * 1000, max_rows,
					 EVENTS_EXPIRE_BATCH, &n) != ERR_OK) {
			log_warn("cannot delete expired events");
			return;
		}
		total += n;
	}
	if (total)
		log_debug("%u events past [events] retention or max_rows deleted", total);
}
