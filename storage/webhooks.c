#include "storage/webhooks.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/timeutil.h"
#include "storage/db.h"

static const char *const result_names[] = {
	[WEBHOOK_OK] = "ok",
	[WEBHOOK_RETRY] = "retry",
	[WEBHOOK_FAILED] = "failed",
};

const char *webhook_result_name(enum webhook_result r)
{
	return r <= WEBHOOK_FAILED ? result_names[r] : "failed";
}

static enum webhook_result result_parse(const char *name)
{
	for (int r = WEBHOOK_OK; r <= WEBHOOK_FAILED; r++)
		if (strcmp(name, result_names[r]) == 0)
			return (enum webhook_result)r;
	return WEBHOOK_FAILED;
}

/* Columns of SQL_WEBHOOK_COLUMNS. */
static void webhook_from_row(struct sql_stmt *st, struct webhook *w)
{
	memset(w, 0, sizeof(*w));
	w->id = sql_col_i64(st, 0);
	snprintf(w->url, sizeof(w->url), "%s", db_column_text(st, 1));
	snprintf(w->types, sizeof(w->types), "%s", db_column_text(st, 2));
	snprintf(w->description, sizeof(w->description), "%s", db_column_text(st, 3));
	snprintf(w->secret, sizeof(w->secret), "%s", db_column_text(st, 4));
	w->enabled = sql_col_int(st, 5) != 0;
	snprintf(w->disabled_reason, sizeof(w->disabled_reason), "%s", db_column_text(st, 6));
	w->created_at = sql_col_i64(st, 7);
	w->updated_at = sql_col_i64(st, 8);
	snprintf(w->created_by, sizeof(w->created_by), "%s", db_column_text(st, 9));
	w->cursor = sql_col_i64(st, 10);
}

/* Columns of SQL_WEBHOOK_DELIVERY_COLUMNS. */
static void delivery_from_row(struct sql_stmt *st, struct webhook_delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->n = sql_col_i64(st, 0);
	d->webhook_id = sql_col_i64(st, 1);
	d->event_id = sql_col_i64(st, 2);
	snprintf(d->event_type, sizeof(d->event_type), "%s", db_column_text(st, 3));
	d->attempt = (unsigned)sql_col_int(st, 4);
	d->manual = sql_col_int(st, 5) != 0;
	d->at_ms = sql_col_i64(st, 6);
	d->status = (unsigned)sql_col_int(st, 7);
	d->latency_ms = (unsigned)sql_col_int(st, 8);
	d->result = result_parse(db_column_text(st, 9));
	snprintf(d->error, sizeof(d->error), "%s", db_column_text(st, 10));
}

static void subject_of(int64_t id, char out[32])
{
	snprintf(out, 32, "webhook:%lld", (long long)id);
}

enum err storage_webhook_insert(struct storage *s, const struct webhook *w, const char *actor,
				int64_t *ret_id)
{
	char subject[32];
	struct db *db;
	int64_t id = 0;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	e = db_begin(db);
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_INSERT);
		db_bind_text(st, 1, w->url);
		db_bind_text(st, 2, w->types);
		db_bind_text(st, 3, w->description);
		db_bind_text(st, 4, w->secret);
		sql_bind_i64(st, 5, w->enabled);
		sql_bind_i64(st, 6, time_now());
		db_bind_text(st, 7, actor);
		e = db_error(sql_step(st));
		id = sql_last_insert_id(db);
	}
	subject_of(id, subject);
	if (!e)
		e = db_event(db, "webhook.created", actor, subject, 0, NULL, true,
			     json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)id, "url", w->url,
				       "types", w->types, "enabled", w->enabled));
	/* From now on: the cursor is the event just written. */
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_CURSOR);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, db->event_newest);
		e = db_error(sql_step(st));
	}
	if (e) {
		db_rollback(db);
		return e;
	}
	e = db_commit(db);
	if (!e)
		*ret_id = id;
	return e;
}

enum err storage_webhook_get(struct storage *s, int64_t id, struct webhook *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_GET);
	sql_bind_i64(st, 1, id);
	if ((e = db_step_row(st)))
		return e;
	webhook_from_row(st, ret);
	return ERR_OK;
}

enum err storage_webhook_list(struct storage *s, int64_t after, unsigned max,
			      struct webhook *ret_hooks, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_LIST);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	while (n < max && (rc = sql_step(st)) == SQL_ROW)
		webhook_from_row(st, &ret_hooks[n++]);
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

enum err storage_webhook_update(struct storage *s, int64_t id, const struct webhook_change *c,
				const char *actor)
{
	char subject[32], reason[WEBHOOK_REASON_MAX + 1];
	json_t *data = json_pack("{s:I}", "id", (json_int_t)id);
	struct db *db;
	enum err e = db_get(s, &db);

	if (e || !data) {
		json_decref(data);
		return e ? e : ERR_NOMEM;
	}
	if (c->url)
		json_object_set_new(data, "url", json_string(c->url));
	if (c->types)
		json_object_set_new(data, "types", json_string(c->types));
	if (c->description)
		json_object_set_new(data, "description", json_string(c->description));
	if (c->enabled >= 0)
		json_object_set_new(data, "enabled", json_boolean(c->enabled));
	snprintf(reason, sizeof(reason), "disabled by %s", actor);
	e = db_begin(db);
	if (e) {
		json_decref(data);
		return e;
	}
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_UPDATE);
		sql_bind_i64(st, 1, id);
		if (c->url)
			db_bind_text(st, 2, c->url);
		if (c->types)
			db_bind_text(st, 3, c->types);
		if (c->description)
			db_bind_text(st, 4, c->description);
		if (c->enabled >= 0)
			sql_bind_i64(st, 5, c->enabled);
		db_bind_text(st, 6, reason);
		sql_bind_i64(st, 7, time_now());
		e = db_error(sql_step(st));
		if (!e && sql_changes(db) == 0)
			e = ERR_NOT_FOUND;
	}
	subject_of(id, subject);
	if (!e)
		e = db_event(db, "webhook.updated", actor, subject, 0, NULL, true, data);
	else
		json_decref(data);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_webhook_delete(struct storage *s, int64_t id, const char *actor)
{
	char subject[32];
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	e = db_begin(db);
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_DELETE);
		sql_bind_i64(st, 1, id);
		e = db_error(sql_step(st));
		if (!e && sql_changes(db) == 0)
			e = ERR_NOT_FOUND;
	}
	subject_of(id, subject);
	if (!e)
		e = db_event(db, "webhook.deleted", actor, subject, 0, NULL, true,
			     json_pack("{s:I}", "id", (json_int_t)id));
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_webhook_deliveries(struct storage *s, int64_t webhook_id, int64_t before,
				    int64_t event_id, unsigned max, struct webhook_delivery *ret,
				    unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_DELIVERIES);
	sql_bind_i64(st, 1, webhook_id);
	sql_bind_i64(st, 2, before > 0 ? before : INT64_MAX);
	sql_bind_i64(st, 3, event_id);
	sql_bind_i64(st, 4, max);
	while (n < max && (rc = sql_step(st)) == SQL_ROW)
		delivery_from_row(st, &ret[n++]);
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

enum err storage_webhook_delivery_get(struct storage *s, int64_t webhook_id, int64_t n,
				      struct webhook_delivery *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_DELIVERY_GET);
	sql_bind_i64(st, 1, webhook_id);
	sql_bind_i64(st, 2, n);
	if ((e = db_step_row(st)))
		return e;
	delivery_from_row(st, ret);
	return ERR_OK;
}

enum err storage_webhook_attempts(struct storage *s, int64_t webhook_id, int64_t event_id,
				  unsigned *ret_count, int64_t *ret_first_ms)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_ATTEMPTS);
	sql_bind_i64(st, 1, webhook_id);
	sql_bind_i64(st, 2, event_id);
	rc = sql_step(st);
	if (rc != SQL_ROW)
		return rc == SQL_DONE ? ERR_STORAGE : db_result(rc);
	*ret_count = (unsigned)sql_col_int(st, 0);
	*ret_first_ms = sql_col_i64(st, 1);
	return ERR_OK;
}

enum err storage_webhook_redelivery_insert(struct storage *s, int64_t webhook_id, int64_t event_id,
					   const char *actor, int64_t *ret_id)
{
	char subject[32];
	struct db *db;
	int64_t id = 0;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	e = db_begin(db);
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_REDELIVERY_INSERT);
		sql_bind_i64(st, 1, webhook_id);
		sql_bind_i64(st, 2, event_id);
		sql_bind_i64(st, 3, time_now());
		db_bind_text(st, 4, actor);
		e = db_error(sql_step(st));
		id = sql_last_insert_id(db);
	}
	if (e == ERR_CONFLICT)
		e = ERR_NOT_FOUND; /* the webhook is gone (foreign key) */
	subject_of(webhook_id, subject);
	if (!e)
		e = db_event(db, "webhook.redelivery_requested", actor, subject, 0, NULL, true,
			     json_pack("{s:I, s:I}", "id", (json_int_t)webhook_id, "event_id",
				       (json_int_t)event_id));
	if (e) {
		db_rollback(db);
		return e;
	}
	e = db_commit(db);
	if (!e)
		*ret_id = id;
	return e;
}

enum err storage_webhook_redeliveries(struct storage *s, int64_t after, unsigned max,
				      struct webhook_redelivery *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_REDELIVERIES);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	while (n < max && (rc = sql_step(st)) == SQL_ROW) {
		ret[n].id = sql_col_i64(st, 0);
		ret[n].webhook_id = sql_col_i64(st, 1);
		ret[n].event_id = sql_col_i64(st, 2);
		n++;
	}
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

static enum err attempt_insert(struct db *db, const struct webhook_delivery *d)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_DELIVERY_INSERT);

	sql_bind_i64(st, 1, d->webhook_id);
	sql_bind_i64(st, 2, d->event_id);
	db_bind_text(st, 3, d->event_type);
	sql_bind_i64(st, 4, d->manual);
	sql_bind_i64(st, 5, d->at_ms);
	if (d->status)
		sql_bind_i64(st, 6, (int)d->status);
	sql_bind_i64(st, 7, (int)d->latency_ms);
	db_bind_text(st, 8, webhook_result_name(d->result));
	if (d->error[0])
		db_bind_text(st, 9, d->error);
	return db_error(sql_step(st));
}

static enum err disable(struct db *db, const struct webhook_disable *d)
{
	char subject[32];
	enum err e;

	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_DISABLE);
		sql_bind_i64(st, 1, d->webhook_id);
		db_bind_text(st, 2, d->reason);
		sql_bind_i64(st, 3, time_now());
		e = db_error(sql_step(st));
		if (e || sql_changes(db) == 0)
			return e; /* deleted or disabled meanwhile */
	}
	subject_of(d->webhook_id, subject);
	return db_event(
		db, "webhook.disabled", "system", subject, 0, NULL, true,
		json_pack("{s:I, s:s}", "id", (json_int_t)d->webhook_id, "reason", d->reason));
}

enum err storage_webhook_record(struct storage *s, const struct webhook_batch *b)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	e = db_begin(db);
	if (e)
		return e;
	for (unsigned i = 0; !e && i < b->attempt_count; i++)
		e = attempt_insert(db, &b->attempts[i]);
	for (unsigned i = 0; !e && i < b->cursor_count; i++) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_CURSOR);
		sql_bind_i64(st, 1, b->cursors[i].webhook_id);
		sql_bind_i64(st, 2, b->cursors[i].cursor);
		e = db_error(sql_step(st));
	}
	for (unsigned i = 0; !e && i < b->disable_count; i++)
		e = disable(db, &b->disables[i]);
	for (unsigned i = 0; !e && i < b->redelivery_count; i++) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_REDELIVERY_DELETE);
		sql_bind_i64(st, 1, b->redeliveries_done[i]);
		e = db_error(sql_step(st));
	}
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_webhook_deliveries_sweep(struct storage *s, int64_t before_ms, unsigned batch,
					  unsigned *ret_deleted)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_WEBHOOK_DELIVERIES_SWEEP);
	sql_bind_i64(st, 1, before_ms);
	sql_bind_i64(st, 2, batch);
	e = db_error(sql_step(st));
	if (!e)
		*ret_deleted = (unsigned)sql_changes(db);
	return e;
}
