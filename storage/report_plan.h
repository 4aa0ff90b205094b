/* Internal to storage/: what a report does, shared by the job-by-job way
 * (reports.c) and the batch's segments (report_batch.c). */
#ifndef SUITD_STORAGE_REPORT_PLAN_H
#define SUITD_STORAGE_REPORT_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/batch.h"
#include "storage/reports.h"

struct db;

struct report_plan {
	enum assignment_state next;
	bool open;  /* the assignment is written (moved, or its timeout restarted) */
	bool moves; /* its state changes */
	bool store; /* the report becomes a row */
};

/* ERR_CONFLICT (job->why set) when decide refuses what is not a replay. */
enum err report_decide_on(struct report_job *job, enum report_verdict *ret);
void report_plan_make(const struct report_job *job, enum report_verdict verdict,
		      struct report_plan *ret);
/* The job's answer fields, from its plan. */
void report_plan_done(struct report_job *job, const struct report_plan *plan, unsigned dropped);
/* The assignment's write of an open plan: its new state, or only the
 * restarted timeout. */
enum err report_assignment_write(struct db *db, const struct report_job *job,
				 const struct report_plan *plan, int64_t now);
/* Drop the device's oldest reports while it holds more than the bound
 * (the one just stored always stays), one by one, each counted. */
enum err report_history_bound(struct db *db, int64_t device_num, uint64_t max_count,
			      uint64_t max_bytes, unsigned *ret_dropped);

/* The batch's way (report_batch.c). */
extern const struct batch_fast report_fast;

#endif
