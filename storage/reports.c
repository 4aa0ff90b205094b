#include "storage/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "storage/db.h"

/* Find the device's newest assignment of the manifest, decide, apply,
 * store the report raw: inside the caller's transaction. */
static enum err report_apply(struct db *db, struct batch_job *base)
{
	struct report_job *job = (struct report_job *)base;
	const struct report_new *r = &job->r;
	enum assignment_state current = ASSIGN_PENDING, next = ASSIGN_PENDING;
	int64_t assignment = 0, now = time_now();
	enum err e;
	int rc;

	{
		CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_ASSIGNMENT_FOR_REPORT);
		sqlite3_bind_int64(st, 1, r->device_num);
		db_bind_blob(st, 2, r->digest, r->digest_len);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			assignment = sqlite3_column_int64(st, 0);
			if (!assignment_state_parse(db_column_text(st, 1), &current))
				rc = SQLITE_CORRUPT;
		}
		e = rc == SQLITE_DONE ? ERR_NOT_FOUND : db_result(rc);
	}
	if (!e && !job->decide(current, r, &next, &job->why))
		e = ERR_CONFLICT;
	/* Any accepted report on an open assignment is news from the device: it
	 * restarts the deployment's device_timeout even when the state stays. */
	if (!e && (next != current || assignment_state_active(next))) {
		CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_ASSIGNMENT_REPORTED);
		sqlite3_bind_int64(st, 1, assignment);
		db_bind_text(st, 2, assignment_state_name(next));
		if (next == ASSIGN_FAILED && r->reason)
			db_bind_text(st, 3, r->reason);
		sqlite3_bind_int64(st, 4, now);
		e = db_result(sqlite3_step(st));
	}
	if (!e) {
		CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_REPORT_INSERT);
		sqlite3_bind_int64(st, 1, r->device_num);
		sqlite3_bind_int64(st, 2, assignment);
		db_bind_blob(st, 3, r->digest, r->digest_len);
		db_bind_text(st, 4, assignment_state_name(r->state));
		if (r->progress >= 0)
			sqlite3_bind_int(st, 5, r->progress);
		if (r->reason)
			db_bind_text(st, 6, r->reason);
		if (r->has_code)
			sqlite3_bind_int64(st, 7, r->code);
		db_bind_text(st, 8, r->media_type);
		db_bind_blob(st, 9, r->body, r->body_len);
		sqlite3_bind_int64(st, 10, now);
		if (r->signature)
			db_bind_text(st, 11, r->signature);
		e = db_result(sqlite3_step(st));
	}
	if (!e) {
		job->assignment = assignment;
		job->next = next;
		job->changed = next != current;
	}
	return e;
}

void storage_report_submit(struct batcher *b, struct report_job *job)
{
	job->base.apply = report_apply;
	job->why = NULL;
	batcher_submit(b, &job->base);
}

enum err storage_reports_of_device(struct storage *s, const char *device_id, int64_t before,
				   unsigned max, struct report_row *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQLITE_DONE;

	if (e)
		return e;
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_REPORTS_OF_DEVICE);
	db_bind_text(st, 1, device_id);
	sqlite3_bind_int64(st, 2, before);
	sqlite3_bind_int64(st, 3, max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct report_row *r = &ret[n];
		size_t dl = (size_t)sqlite3_column_bytes(st, 1), bl;
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		r->digest_len = dl <= MANIFEST_DIGEST_MAX ? dl : 0;
		if (r->digest_len)
			memcpy(r->digest, sqlite3_column_blob(st, 1), r->digest_len);
		snprintf(r->state, sizeof(r->state), "%s", db_column_text(st, 2));
		r->progress =
			sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 3);
		snprintf(r->reason, sizeof(r->reason), "%s", db_column_text(st, 4));
		r->has_code = sqlite3_column_type(st, 5) != SQLITE_NULL;
		r->code = sqlite3_column_int64(st, 5);
		snprintf(r->media_type, sizeof(r->media_type), "%s", db_column_text(st, 6));
		bl = (size_t)sqlite3_column_bytes(st, 7);
		r->body = malloc(bl ? bl : 1);
		if (!r->body) {
			e = ERR_NOMEM;
			break;
		}
		if (bl)
			memcpy(r->body, sqlite3_column_blob(st, 7), bl);
		r->body_len = bl;
		r->received_at = sqlite3_column_int64(st, 8);
		snprintf(r->signature, sizeof(r->signature), "%s", db_column_text(st, 9));
		n++;
	}
	if (!e && n < max && rc != SQLITE_DONE)
		e = db_result(rc);
	if (e) {
		while (n)
			report_row_release(&ret[--n]);
		return e;
	}
	*ret_count = n;
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
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_REPORTS_EXPIRE);
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, (int)max);
	e = db_result(sqlite3_step(st));
	if (!e)
		*ret_count = (unsigned)sqlite3_changes(db->handle);
	return e;
}
