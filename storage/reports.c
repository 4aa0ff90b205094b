#include "storage/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "storage/db.h"
#include "storage/report_plan.h"

/* The device's newest assignment of the manifest and its state. */
static enum err report_assignment(struct db *db, const struct report_new *r, int64_t *ret_id,
				  enum assignment_state *ret_state)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENT_FOR_REPORT);
	enum err e;

	sql_bind_i64(st, 1, r->device_num);
	db_bind_blob(st, 2, r->digest, r->digest_len);
	if ((e = db_step_row(st)))
		return e;
	if (!assignment_state_parse(db_column_text(st, 1), ret_state))
		return db_result(SQL_CORRUPT);
	*ret_id = sql_col_i64(st, 0);
	return ERR_OK;
}

/* The same bytes as the device's newest report, on the same assignment: a
 * retry whose answer was lost, or a replay. */
static enum err report_is_replay(struct db *db, const struct report_new *r, int64_t assignment,
				 bool *ret)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_REPORT_IS_REPLAY);
	int rc;

	sql_bind_i64(st, 1, r->device_num);
	sql_bind_i64(st, 2, assignment);
	db_bind_blob(st, 3, r->body, r->body_len);
	rc = sql_step(st);
	if (rc != SQL_ROW && rc != SQL_DONE)
		return db_result(rc);
	*ret = rc == SQL_ROW;
	return ERR_OK;
}

enum err report_history_bound(struct db *db, int64_t device_num, uint64_t max_count,
			      uint64_t max_bytes, unsigned *ret_dropped)
{
	int64_t count = 0, bytes = 0;
	unsigned dropped = 0;
	int rc;

	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_REPORT_USAGE);
		sql_bind_i64(st, 1, device_num);
		rc = sql_step(st);
		if (rc == SQL_ROW) {
			count = sql_col_i64(st, 0);
			bytes = sql_col_i64(st, 1);
		} else if (rc != SQL_DONE) {
			return db_result(rc);
		}
	}
	while (count > 1 && ((uint64_t)count > max_count || (uint64_t)bytes > max_bytes)) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_REPORT_DROP_OLDEST);
		sql_bind_i64(st, 1, device_num);
		if ((rc = sql_step(st)) != SQL_ROW)
			return db_result(rc == SQL_DONE ? SQL_CORRUPT : rc);
		bytes -= sql_col_i64(st, 0);
		count--;
		dropped++;
	}
	*ret_dropped = dropped;
	return ERR_OK;
}

static enum err report_insert(struct db *db, const struct report_new *r, int64_t assignment,
			      int64_t now)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_REPORT_INSERT);

	sql_bind_i64(st, 1, r->device_num);
	sql_bind_i64(st, 2, assignment);
	db_bind_blob(st, 3, r->digest, r->digest_len);
	db_bind_text(st, 4, assignment_state_name(r->state));
	if (r->progress >= 0)
		sql_bind_i64(st, 5, r->progress);
	if (r->reason)
		db_bind_text(st, 6, r->reason);
	if (r->has_code)
		sql_bind_i64(st, 7, r->code);
	db_bind_text(st, 8, r->media_type);
	db_bind_blob(st, 9, r->body, r->body_len);
	sql_bind_i64(st, 10, now);
	if (r->signature)
		db_bind_text(st, 11, r->signature);
	return db_result(sql_step(st));
}

void report_plan_make(const struct report_job *job, enum report_verdict verdict,
		      struct report_plan *ret)
{
	const struct report_seen *seen = &job->seen;

	/* A replay is accepted again and not stored; on an open assignment it
	 * is still news that the device is alive. */
	ret->open = verdict == REPORT_MOVE || verdict == REPORT_KEEP;
	ret->next = verdict == REPORT_MOVE && !seen->replay ? job->r.state : seen->state;
	ret->moves = ret->next != seen->state;
	ret->store = ret->open && !seen->replay;
}

void report_plan_done(struct report_job *job, const struct report_plan *plan, unsigned dropped)
{
	job->assignment = job->seen.assignment;
	job->next = plan->next;
	job->changed = plan->moves;
	job->stored = plan->store;
	job->dropped = dropped;
}

enum err report_assignment_write(struct db *db, const struct report_job *job,
				 const struct report_plan *plan, int64_t now)
{
	/* Any accepted report on an open assignment restarts the deployment's
	 * device_timeout, even when the state stays: then without naming the
	 * state, so that no trigger on UPDATE OF state fires. */
	CLEANUP_STMT struct sql_stmt *st =
		db_stmt(db, plan->moves ? STMT_ASSIGNMENT_REPORTED : STMT_ASSIGNMENT_TOUCHED);
	sql_bind_i64(st, 1, job->seen.assignment);
	if (plan->moves) {
		db_bind_text(st, 2, assignment_state_name(plan->next));
		if (plan->next == ASSIGN_FAILED && job->r.reason)
			db_bind_text(st, 3, job->r.reason);
		sql_bind_i64(st, 4, now);
	} else {
		sql_bind_i64(st, 2, now);
	}
	return db_result(sql_step(st));
}

enum err report_decide_on(struct report_job *job, enum report_verdict *ret)
{
	*ret = job->decide(job->seen.state, job->r.state, &job->why);
	return *ret == REPORT_REFUSE && !job->seen.replay ? ERR_CONFLICT : ERR_OK;
}

/* Find the device's newest assignment of the manifest, decide, apply,
 * store the report raw: inside the caller's transaction, statement by
 * statement (a batch run again job by job; report_batch.c is the fast
 * way). */
static enum err report_apply(struct db *db, struct batch_job *base)
{
	struct report_job *job = (struct report_job *)base;
	struct report_seen *seen = &job->seen;
	struct report_plan plan;
	enum report_verdict verdict;
	int64_t now = time_now();
	unsigned dropped = 0;
	enum err e;

	db_event_actor(db, "device"); /* this job's transitions: the reporting device's */
	memset(seen, 0, sizeof(*seen));
	if ((e = report_assignment(db, &job->r, &seen->assignment, &seen->state)) ||
	    (e = report_is_replay(db, &job->r, seen->assignment, &seen->replay)) ||
	    (e = report_decide_on(job, &verdict)))
		return e;
	seen->found = true;
	report_plan_make(job, verdict, &plan);
	if (plan.open && (e = report_assignment_write(db, job, &plan, now)))
		return e;
	if (plan.store && ((e = report_insert(db, &job->r, seen->assignment, now)) ||
			   (e = report_history_bound(db, job->r.device_num, job->history_count,
						     job->history_bytes, &dropped))))
		return e;
	report_plan_done(job, &plan, dropped);
	return ERR_OK;
}

void storage_report_submit(struct batcher *b, struct report_job *job)
{
	job->base.apply = report_apply;
	job->base.fast = &report_fast;
	job->base.key = job->r.device_num;
	job->why = NULL;
	job->stored = false;
	job->dropped = 0;
	batcher_submit(b, &job->base);
}

enum err storage_reports_of_device(struct storage *s, const char *device_id, int64_t before,
				   unsigned max, size_t max_bytes, struct report_row *ret,
				   unsigned *ret_count, bool *ret_more)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	size_t bytes = 0;
	bool more = false;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_REPORTS_OF_DEVICE);
	db_bind_text(st, 1, device_id);
	sql_bind_i64(st, 2, before);
	/* One more than asked: tells whether a next page exists. */
	sql_bind_i64(st, 3, (int64_t)max + 1);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct report_row *r = &ret[n];
		size_t dl = sql_col_bytes(st, 1);
		size_t bl = sql_col_bytes(st, 7);
		if (n == max || (n && bytes + bl > max_bytes)) {
			more = true;
			break;
		}
		bytes += bl;
		memset(r, 0, sizeof(*r));
		r->id = sql_col_i64(st, 0);
		r->digest_len = dl <= MANIFEST_DIGEST_MAX ? dl : 0;
		if (r->digest_len)
			memcpy(r->digest, sql_col_blob(st, 1), r->digest_len);
		snprintf(r->state, sizeof(r->state), "%s", db_column_text(st, 2));
		r->progress = sql_col_null(st, 3) ? -1 : sql_col_int(st, 3);
		snprintf(r->reason, sizeof(r->reason), "%s", db_column_text(st, 4));
		r->has_code = !sql_col_null(st, 5);
		r->code = sql_col_i64(st, 5);
		snprintf(r->media_type, sizeof(r->media_type), "%s", db_column_text(st, 6));
		r->body = malloc(bl ? bl : 1);
		if (!r->body) {
			e = ERR_NOMEM;
			break;
		}
		if (bl)
			memcpy(r->body, sql_col_blob(st, 7), bl);
		r->body_len = bl;
		r->received_at = sql_col_i64(st, 8);
		snprintf(r->signature, sizeof(r->signature), "%s", db_column_text(st, 9));
		n++;
	}
	if (!e && !more && rc != SQL_DONE)
		e = db_result(rc);
	if (e) {
		while (n)
			report_row_release(&ret[--n]);
		return e;
	}
	*ret_count = n;
	*ret_more = more;
	return ERR_OK;
}

void report_row_release(struct report_row *r)
{
	free(r->body);
	r->body = NULL;
}

enum err storage_reports_expire(struct storage *s, int64_t before, unsigned max,
				unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_REPORTS_EXPIRE);
	sql_bind_i64(st, 1, before);
	sql_bind_i64(st, 2, (int)max);
	e = db_result(sql_step(st));
	if (!e)
		*ret_count = (unsigned)sql_changes(db);
	return e;
}
