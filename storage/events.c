#include "storage/events.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "storage/db.h"

/* SUITD_NO_EVENT_LOG: a build for bench/reports.sh's baseline only (the
 * same code without the cost of the log: no event is written, no trigger
 * created). Never for production; the API still answers, with old events. */

void event_clear(struct event *ev)
{
	free(ev->data);
	memset(ev, 0, sizeof(*ev));
}

void db_event_actor(struct db *db, const char *actor)
{
	snprintf(db->event_actor, sizeof(db->event_actor), "%s", actor ? actor : "");
}

void db_events_end(struct db *db, bool committed)
{
	int64_t newest = db->event_newest;

	db->event_newest = 0;
	db->event_actor[0] = '\0';
	if (committed && newest && db->storage)
		db_events_notify(db->storage, newest);
}

enum err db_event(struct db *db, const char *type, const char *actor, const char *subject,
		  int64_t deployment_id, const char *device_id, bool admin, json_t *data)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_EVENT_INSERT);
	bool has_data = data != NULL;
	char *text;
	enum err e;

#ifdef SUITD_NO_EVENT_LOG
	(void)type, (void)actor, (void)subject, (void)deployment_id, (void)device_id, (void)admin;
	json_decref(data);
	return ERR_OK;
#endif
	text = data ? json_dumps(data, JSON_COMPACT) : NULL;
	json_decref(data);
	if (has_data && !text)
		return ERR_NOMEM;
	sql_bind_i64(st, 1, time_now_ms());
	db_bind_text(st, 2, type);
	db_bind_text(st, 3, actor && actor[0] ? actor : "system");
	db_bind_text(st, 4, subject ? subject : "");
	if (deployment_id)
		sql_bind_i64(st, 5, deployment_id);
	if (device_id && device_id[0])
		db_bind_text(st, 6, device_id);
	sql_bind_i64(st, 7, admin);
	db_bind_text(st, 8, text ? text : "{}");
	e = db_result(sql_step(st));
	free(text);
	return e;
}

enum err db_audit_detail(struct db *db, const char *actor, const char *type, const char *kind,
			 const char *name, const char *detail)
{
	char subject[160];
	json_t *data = json_object();

	if (!data)
		return ERR_NOMEM;
	snprintf(subject, sizeof(subject), "%s:%s", kind, name);
	if (detail && json_object_set_new(data, "detail", json_string(detail)) != 0) {
		json_decref(data);
		return ERR_NOMEM;
	}
	return db_event(db, type, actor, subject, 0, strcmp(kind, "device") == 0 ? name : NULL,
			true, data);
}

enum err db_audit(struct db *db, const char *actor, const char *type, const char *kind,
		  const char *name)
{
	return db_audit_detail(db, actor, type, kind, name, NULL);
}

/* Columns id, at, type, actor, subject, deployment_id, device_id, admin,
 * data. */
static enum err event_from_row(struct sql_stmt *st, struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->id = sql_col_i64(st, 0);
	ev->at_ms = sql_col_i64(st, 1);
	snprintf(ev->type, sizeof(ev->type), "%s", db_column_text(st, 2));
	snprintf(ev->actor, sizeof(ev->actor), "%s", db_column_text(st, 3));
	snprintf(ev->subject, sizeof(ev->subject), "%s", db_column_text(st, 4));
	ev->deployment_id = sql_col_i64(st, 5);
	snprintf(ev->device_id, sizeof(ev->device_id), "%s", db_column_text(st, 6));
	ev->admin = sql_col_int(st, 7) != 0;
	ev->data = strdup(sql_col_null(st, 8) ? "{}" : db_column_text(st, 8));
	return ev->data ? ERR_OK : ERR_NOMEM;
}

/* Step st to the end, each row to cb. */
static enum err rows_to(struct sql_stmt *st, event_cb cb, void *cls)
{
	int rc;

	while ((rc = sql_step(st)) == SQL_ROW) {
		struct event ev;
		enum err e = event_from_row(st, &ev);
		bool more = !e && cb(cls, &ev);
		event_clear(&ev);
		if (e)
			return e;
		if (!more)
			return ERR_OK;
	}
	return db_result(rc);
}

enum err storage_events_after(struct storage *s, int64_t after, unsigned limit, event_cb cb,
			      void *cls)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_EVENTS_AFTER);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	return rows_to(st, cb, cls);
}

enum err storage_events_follow(struct storage *s, int64_t after, unsigned limit, event_brief_cb cb,
			       void *cls)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_EVENTS_FOLLOW);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, limit);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct event_brief ev = {.id = sql_col_i64(st, 0),
					 .at_ms = sql_col_i64(st, 1),
					 .deployment_id = sql_col_i64(st, 4),
					 .device_num = sql_col_i64(st, 5),
					 .first_assignment = sql_col_i64(st, 6),
					 .last_assignment = sql_col_i64(st, 7)};
		const char *subject = db_column_text(st, 3);
		snprintf(ev.type, sizeof(ev.type), "%s", db_column_text(st, 2));
		if (strncmp(subject, "assignment:", 11) == 0)
			ev.assignment_id = strtoll(subject + 11, NULL, 10);
		if (!cb(cls, &ev))
			return ERR_OK;
	}
	return db_result(rc);
}

enum err storage_events_range(struct storage *s, int64_t *ret_oldest, int64_t *ret_newest)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_EVENTS_RANGE);
	if ((rc = sql_step(st)) != SQL_ROW)
		return db_result(rc == SQL_DONE ? SQL_CORRUPT : rc);
	*ret_oldest = sql_col_i64(st, 0);
	*ret_newest = sql_col_i64(st, 1);
	return ERR_OK;
}

static void bind_text_or_null(struct sql_stmt *st, int idx, const char *text)
{
	if (text && text[0])
		db_bind_text(st, idx, text);
}

enum err storage_audit_list(struct storage *s, const struct audit_filter *f, unsigned limit,
			    event_cb cb, void *cls)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_AUDIT_LIST);
	bind_text_or_null(st, 1, f->actor);
	bind_text_or_null(st, 2, f->action);
	bind_text_or_null(st, 3, f->subject);
	if (f->since_ms)
		sql_bind_i64(st, 4, f->since_ms);
	if (f->until_ms)
		sql_bind_i64(st, 5, f->until_ms);
	sql_bind_i64(st, 6, f->before ? f->before : INT64_MAX);
	sql_bind_i64(st, 7, limit);
	sql_bind_i64(st, 8, f->after);
	return rows_to(st, cb, cls);
}

enum err storage_event_append(struct storage *s, const char *type, const char *actor,
			      const char *subject, bool admin, const char *data)
{
	json_t *j = NULL;
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	if (data && !(j = json_loads(data, 0, NULL)))
		return ERR_INVALID;
	if ((e = db_begin(db))) {
		json_decref(j);
		return e;
	}
	e = db_event(db, type, actor, subject, 0, NULL, admin, j);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_events_sweep(struct storage *s, int64_t cutoff_ms, uint64_t max_rows,
			      unsigned batch, unsigned *ret_deleted)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_EVENTS_SWEEP);
	sql_bind_i64(st, 1, cutoff_ms);
	sql_bind_i64(st, 2, max_rows > INT64_MAX ? INT64_MAX : (int64_t)max_rows);
	sql_bind_i64(st, 3, batch);
	e = db_result(sql_step(st));
	if (!e)
		*ret_deleted = (unsigned)sql_changes(db);
	return e;
}
