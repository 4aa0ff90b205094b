/* Reports in the batch's segments (storage/batch.h): one statement reads
 * what every report of the segment needs, each state change is its own
 * UPDATE (its trigger writes the event), and the rest is three statements
 * for the whole segment: the restarted timeouts, the new rows, the oldest
 * rows beyond the history bound. Nothing waits for an answer before the
 * next segment's read or the COMMIT, so on PostgreSQL a segment costs a
 * round trip or two and each statement's fixed cost (its plan, its CHECK
 * constraints, its triggers' set-up) is paid once per segment, not per
 * report. The statements carry the segment as one JSON array; blobs in it
 * are hex. docs/design.md, "Reports in segments". */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/timeutil.h"
#include "storage/db.h"
#include "storage/report_plan.h"

static struct report_job *job_of(struct batch_job *base)
{
	return (struct report_job *)base;
}

static json_t *hex_string(const void *data, size_t len)
{
	char *hex = malloc(2 * len + 1);
	json_t *s;

	if (!hex)
		return NULL;
	hex_encode(data, len, hex);
	s = json_stringn(hex, 2 * len);
	free(hex);
	return s;
}

/* Append v to a (NULL: out of memory, remembered in *ok). */
static void put(json_t *a, json_t *v, bool *ok)
{
	*ok = *ok && v && json_array_append_new(a, v) == 0;
	if (!*ok)
		json_decref(v);
}

static json_t *text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Run statement id with the JSON array as ?1 and now as ?2 (when the
 * statement has it). */
static enum err run_json(struct db *db, enum stmt id, json_t *array, int64_t now)
{
	char *text = json_dumps(array, JSON_COMPACT);
	enum err e;

	if (!text)
		return ERR_NOMEM;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, id);
		db_bind_text(st, 1, text);
		if (now)
			sql_bind_i64(st, 2, now);
		e = db_result(sql_step(st));
	}
	free(text);
	return e;
}

static enum err report_prefetch(struct db *db, struct batch_job **jobs, unsigned n)
{
	json_t *keys = json_array();
	bool ok = keys != NULL;
	unsigned rows = 0;
	char *text;
	int rc;

	for (unsigned i = 0; i < n && ok; i++) {
		struct report_job *job = job_of(jobs[i]);
		json_t *key = json_array();
		memset(&job->seen, 0, sizeof(job->seen));
		put(key, json_integer(job->r.device_num), &ok);
		put(key, hex_string(job->r.digest, job->r.digest_len), &ok);
		put(keys, key, &ok);
	}
	text = ok ? json_dumps(keys, JSON_COMPACT) : NULL;
	json_decref(keys);
	if (!text)
		return ERR_NOMEM;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_REPORTS_PREFETCH);
	db_bind_text(st, 1, text);
	while ((rc = sql_step(st)) == SQL_ROW) {
		/* One row per job, in order: anything else is a broken statement. */
		if (sql_col_i64(st, 0) != (int64_t)rows || rows == n)
			break;
		struct report_job *job = job_of(jobs[rows++]);
		struct report_seen *seen = &job->seen;
		seen->usage_count = sql_col_i64(st, 5);
		seen->usage_bytes = sql_col_i64(st, 6);
		if (sql_col_null(st, 1))
			continue;
		if (!assignment_state_parse(db_column_text(st, 2), &seen->state))
			break;
		seen->found = true;
		seen->assignment = sql_col_i64(st, 1);
		seen->replay = !sql_col_null(st, 3) && sql_col_i64(st, 3) == seen->assignment &&
			       sql_col_bytes(st, 4) == job->r.body_len &&
			       (!job->r.body_len ||
				memcmp(sql_col_blob(st, 4), job->r.body, job->r.body_len) == 0);
	}
	free(text);
	if (rc != SQL_ROW && rc != SQL_DONE)
		return db_result(rc);
	return rc == SQL_DONE && rows == n ? ERR_OK : db_result(SQL_CORRUPT);
}

/* Decide; a state change is written now (its trigger writes the event in
 * the order of the jobs); the rest is marked for report_finish. */
static enum err report_apply_prefetched(struct db *db, struct batch_job *base,
					enum err *ret_outcome)
{
	struct report_job *job = job_of(base);
	struct report_seen *seen = &job->seen;
	struct report_plan plan;
	enum report_verdict verdict;
	enum err e;

	db_event_actor(db, "device");
	*ret_outcome = !seen->found ? ERR_NOT_FOUND : report_decide_on(job, &verdict);
	if (*ret_outcome)
		return ERR_OK;
	report_plan_make(job, verdict, &plan);
	if (plan.moves && (e = report_assignment_write(db, job, &plan, time_now())))
		return e;
	seen->touch = plan.open && !plan.moves;
	seen->insert = plan.store;
	if (plan.store) {
		/* The count bound is exact from the usage read; the byte
		 * bound needs the sizes of the oldest: one by one then. */
		uint64_t count = (uint64_t)seen->usage_count + 1;
		uint64_t keep = job->history_count ? job->history_count : 1;
		seen->bound_exact =
			(uint64_t)seen->usage_bytes + job->r.body_len > job->history_bytes;
		if (!seen->bound_exact && count > keep)
			seen->drop = count - keep;
	}
	report_plan_done(job, &plan, (unsigned)seen->drop);
	return ERR_OK;
}

/* [device_num, assignment, digest, state, progress, reason, code,
 *  media_type, body, signature]: REPORTS_INSERT_MANY's columns. */
static json_t *row_of(const struct report_job *job)
{
	const struct report_new *r = &job->r;
	json_t *row = json_array();
	bool ok = row != NULL;

	put(row, json_integer(r->device_num), &ok);
	put(row, json_integer(job->seen.assignment), &ok);
	put(row, hex_string(r->digest, r->digest_len), &ok);
	put(row, json_string(assignment_state_name(r->state)), &ok);
	put(row, r->progress >= 0 ? json_integer(r->progress) : json_null(), &ok);
	put(row, text_or_null(r->reason), &ok);
	put(row, r->has_code ? json_integer(r->code) : json_null(), &ok);
	put(row, json_string(r->media_type), &ok);
	put(row, hex_string(r->body, r->body_len), &ok);
	put(row, text_or_null(r->signature), &ok);
	if (!ok) {
		json_decref(row);
		return NULL;
	}
	return row;
}

static enum err report_finish(struct db *db, struct batch_job **jobs, unsigned n)
{
	json_t *touch = json_array(), *insert = json_array(), *drop = json_array();
	bool ok = touch && insert && drop;
	int64_t now = time_now();
	enum err e = ERR_OK;

	for (unsigned i = 0; i < n && ok; i++) {
		struct report_job *job = job_of(jobs[i]);
		if (job->seen.touch)
			put(touch, json_integer(job->seen.assignment), &ok);
		if (job->seen.insert)
			put(insert, row_of(job), &ok);
		if (job->seen.drop) {
			json_t *d = json_array();
			put(d, json_integer(job->r.device_num), &ok);
			put(d, json_integer((json_int_t)job->seen.drop), &ok);
			put(drop, d, &ok);
		}
	}
	if (!ok)
		e = ERR_NOMEM;
	if (!e && json_array_size(touch))
		e = run_json(db, STMT_ASSIGNMENTS_TOUCHED, touch, now);
	if (!e && json_array_size(insert))
		e = run_json(db, STMT_REPORTS_INSERT_MANY, insert, now);
	if (!e && json_array_size(drop))
		e = run_json(db, STMT_REPORTS_DROP_OLDEST_MANY, drop, 0);
	/* The byte bound, rarely reached: after the inserts, one by one. */
	for (unsigned i = 0; i < n && !e; i++) {
		struct report_job *job = job_of(jobs[i]);
		if (job->seen.bound_exact)
			e = report_history_bound(db, job->r.device_num, job->history_count,
						 job->history_bytes, &job->dropped);
	}
	json_decref(touch);
	json_decref(insert);
	json_decref(drop);
	return e;
}

const struct batch_fast report_fast = {
	.prefetch = report_prefetch,
	.apply = report_apply_prefetched,
	.finish = report_finish,
};
