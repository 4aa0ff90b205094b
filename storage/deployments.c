#include "storage/deployments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "storage/db.h"

static const char *const state_names[] = {
#define ASSIGNMENT_STATE_NAME(name, text) [ASSIGN_##name] = text,
	ASSIGNMENT_STATE_LIST(ASSIGNMENT_STATE_NAME)
#undef ASSIGNMENT_STATE_NAME
};

static const char *const kind_names[] = {"devices", "group", "tag"};
static const char *const status_names[] = {
	[DEPLOYMENT_ACTIVE] = "active",	      [DEPLOYMENT_PAUSED] = "paused",
	[DEPLOYMENT_COMPLETED] = "completed", [DEPLOYMENT_CANCELED] = "canceled",
	[DEPLOYMENT_PREPARING] = "preparing",
};

const char *deployment_status_name(enum deployment_status s)
{
	return (unsigned)s < DEPLOYMENT__COUNT ? status_names[s] : "unknown";
}

bool deployment_status_parse(const char *text, enum deployment_status *ret)
{
	for (unsigned i = 0; i < DEPLOYMENT__COUNT; i++) {
		if (strcmp(text, status_names[i]) == 0) {
			*ret = (enum deployment_status)i;
			return true;
		}
	}
	return false;
}

const char *assignment_state_name(enum assignment_state s)
{
	return (unsigned)s < ASSIGN__COUNT ? state_names[s] : "unknown";
}

bool assignment_state_parse(const char *text, enum assignment_state *ret)
{
	for (int i = 0; i < ASSIGN__COUNT; i++) {
		if (strcmp(text, state_names[i]) == 0) {
			*ret = (enum assignment_state)i;
			return true;
		}
	}
	return false;
}

bool assignment_state_active(enum assignment_state s)
{
	return s <= ASSIGN_INSTALLED;
}

struct manifest_identity {
	int64_t id;
	uint64_t sequence;
	bool has_vendor, has_class;
	uint8_t vendor[16], class_id[16];
};

static enum err manifest_identity(struct db *db, enum stmt which, const void *key, size_t key_len,
				  int64_t id, struct manifest_identity *ret)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, which);
	enum err e;

	if (key)
		db_bind_blob(st, 1, key, key_len);
	else
		sql_bind_i64(st, 1, id);
	if ((e = db_step_row(st)))
		return e;
	memset(ret, 0, sizeof(*ret));
	ret->id = sql_col_i64(st, 0);
	ret->sequence = (uint64_t)sql_col_i64(st, 1);
	ret->has_vendor = sql_col_bytes(st, 2) == 16;
	if (ret->has_vendor)
		memcpy(ret->vendor, sql_col_blob(st, 2), 16);
	ret->has_class = sql_col_bytes(st, 3) == 16;
	if (ret->has_class)
		memcpy(ret->class_id, sql_col_blob(st, 3), 16);
	return ERR_OK;
}

/* Assign one device; supersede its older active assignment only when the
 * new one is pending (a skipped one never displaces a valid update). */
static enum err assign(struct db *db, int64_t deployment_id, const struct manifest_identity *m,
		       int64_t device_num, unsigned stage, int64_t now, bool *ret_inserted)
{
	enum err e = ERR_OK;
	char reason[64];
	int rc;
	bool pending = false;

	*ret_inserted = false;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENT_INSERT);
		sql_bind_i64(st, 1, deployment_id);
		sql_bind_i64(st, 2, device_num);
		if (m->has_vendor)
			db_bind_blob(st, 3, m->vendor, 16);
		if (m->has_class)
			db_bind_blob(st, 4, m->class_id, 16);
		sql_bind_i64(st, 5, (int64_t)m->sequence);
		sql_bind_i64(st, 6, now);
		sql_bind_i64(st, 7, stage);
		rc = sql_step(st);
		if (rc == SQL_ROW) {
			*ret_inserted = true;
			pending = strcmp(db_column_text(st, 0), "pending") == 0;
			rc = sql_step(st);
		}
		e = db_result(rc);
	}
	if (e || !pending)
		return e;
	snprintf(reason, sizeof(reason), "superseded by deployment %lld", (long long)deployment_id);
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENT_SUPERSEDE);
	sql_bind_i64(st, 1, device_num);
	sql_bind_i64(st, 2, deployment_id);
	db_bind_text(st, 3, reason);
	sql_bind_i64(st, 4, now);
	return db_result(sql_step(st));
}

/* Stage first, then device number: the open stage's devices are assigned
 * by the first slices, and ids follow the devices' order within a stage. */
static int by_stage_num(const void *a, const void *b)
{
	const struct stage_target *x = a, *y = b;

	if (x->stage != y->stage)
		return x->stage < y->stage ? -1 : 1;
	return (x->num > y->num) - (x->num < y->num);
}

/* The target's device numbers and stage keys, in one growing array. */
struct targets {
	struct stage_target *t;
	size_t n, cap;
};

static enum err target_add(struct targets *ts, const struct stage_planner *planner,
			   int64_t deployment_id, struct sql_stmt *row)
{
	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? 2 * ts->cap : 256;
		struct stage_target *t = realloc(ts->t, cap * sizeof(*t));
		if (!t)
			return ERR_NOMEM;
		ts->t = t;
		ts->cap = cap;
	}
	ts->t[ts->n++] = (struct stage_target){
		.num = sql_col_i64(row, 0),
		.key = planner->key(deployment_id, db_column_text(row, 1)),
	};
	return ERR_OK;
}

/* Every device the deployment targets now (rows of num, id): its group's
 * or tag's members, or its kept device list. */
static enum err targets_collect(struct db *db, const struct deployment *d,
				const struct stage_planner *planner, struct targets *ts)
{
	enum stmt which = d->kind == TARGET_GROUP ? STMT_DEVICE_NUMS_BY_GROUP
			  : d->kind == TARGET_TAG ? STMT_DEVICE_NUMS_BY_TAG
						  : STMT_DEPLOYMENT_TARGETS;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, which);
	enum err e = ERR_OK;
	int rc;

	if (d->kind == TARGET_DEVICES)
		sql_bind_i64(st, 1, d->id);
	else
		db_bind_text(st, 1, d->target);
	while (!e && (rc = sql_step(st)) == SQL_ROW)
		e = target_add(ts, planner, d->id, st);
	return e ? e : db_result(rc);
}

/* How many devices the new deployment targets (its planned count); a
 * device list is kept for the fan-out (and a restart). */
static enum err targets_plan(struct db *db, const struct deployment_new *d, int64_t id,
			     int64_t *ret_planned)
{
	enum err e = ERR_OK;

	if (d->kind == TARGET_DEVICES) {
		for (unsigned i = 0; i < d->count && !e; i++) {
			CLEANUP_STMT struct sql_stmt *st =
				db_stmt(db, STMT_DEPLOYMENT_TARGET_INSERT);
			sql_bind_i64(st, 1, id);
			sql_bind_i64(st, 2, d->nums[i]);
			e = db_result(sql_step(st));
		}
		*ret_planned = d->count;
		return e;
	}
	CLEANUP_STMT struct sql_stmt *st = db_stmt(
		db, d->kind == TARGET_GROUP ? STMT_DEVICES_IN_GROUP : STMT_DEVICES_WITH_TAG);
	db_bind_text(st, 1, d->value);
	int rc = sql_step(st);
	*ret_planned = sql_col_i64(st, 0);
	return db_result(rc);
}

static enum err stages_insert(struct db *db, int64_t id, const struct rollout_policy *p,
			      int64_t now)
{
	enum err e = ERR_OK;

	for (unsigned i = 0; i < p->stage_count && !e; i++) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_STAGE_INSERT);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, i);
		sql_bind_i64(st, 3, p->stages[i]);
		if (i == 0)
			sql_bind_i64(st, 4, now);
		e = db_result(sql_step(st));
	}
	return e;
}

/* An event of deployment id: data {"deployment": id} and what extra adds
 * (stolen, may be NULL); admin when an operator did it. */
static enum err deployment_event(struct db *db, const char *actor, const char *type, int64_t id,
				 bool admin, json_t *extra)
{
	char subject[40];
	json_t *data = extra ? extra : json_object();

	if (!data || json_object_set_new(data, "deployment", json_integer(id)) != 0) {
		json_decref(data);
		return ERR_NOMEM;
	}
	snprintf(subject, sizeof(subject), "deployment:%lld", (long long)id);
	return db_event(db, type, actor, subject, id, NULL, admin, data);
}

/* The thread's connection, in a write transaction. */
static enum err begin(struct storage *s, struct db **ret_db)
{
	enum err e = db_get(s, ret_db);

	return e ? e : db_begin(*ret_db);
}

/* Commit on success, roll back otherwise. */
static enum err finish(struct db *db, enum err e)
{
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_deployment_create(struct storage *s, const struct deployment_new *d,
				   int64_t *ret_id)
{
	struct manifest_identity m = {0};
	struct db *db;
	int64_t id = 0, now = time_now(), planned = 0;
	enum err e = begin(s, &db);

	if (e)
		return e;
	e = manifest_identity(db, STMT_MANIFEST_IDENTITY, d->digest, d->digest_len, 0, &m);
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_INSERT);
		if (d->name && d->name[0])
			db_bind_text(st, 1, d->name);
		sql_bind_i64(st, 2, m.id);
		db_bind_text(st, 3, kind_names[d->kind]);
		if (d->kind != TARGET_DEVICES)
			db_bind_text(st, 4, d->value);
		db_bind_text(st, 5, d->actor);
		sql_bind_i64(st, 6, now);
		sql_bind_i64(st, 7, d->rollout.device_timeout);
		sql_bind_i64(st, 8, d->rollout.success_threshold);
		sql_bind_i64(st, 9, d->rollout.failure_threshold);
		sql_bind_i64(st, 10, 0);
		e = db_result(sql_step(st));
		id = sql_last_insert_id(db);
	}
	if (!e)
		e = stages_insert(db, id, &d->rollout, now);
	if (!e)
		e = targets_plan(db, d, id, &planned);
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_SET_PLANNED);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, planned);
		e = db_result(sql_step(st));
	}
	if (!e) {
		json_t *data = json_pack(
			"{s:s?, s:s, s:s?, s:I, s:i}", "name",
			d->name && d->name[0] ? d->name : NULL, "target", kind_names[d->kind],
			"target_value", d->kind != TARGET_DEVICES ? d->value : NULL, "devices",
			(json_int_t)planned, "stages", (int)d->rollout.stage_count);
		e = data ? deployment_event(db, d->actor, "deployment.created", id, true, data)
			 : ERR_NOMEM;
	}
	e = finish(db, e);
	if (!e)
		*ret_id = id;
	return e;
}

enum err storage_deployment_targets(struct storage *s, int64_t id,
				    const struct stage_planner *planner, struct stage_target **ret,
				    size_t *ret_n)
{
	struct targets ts = {0};
	struct deployment d;
	struct db *db;
	enum err e = storage_deployment_get(s, id, &d);

	if (!e)
		e = db_get(s, &db);
	if (!e)
		e = targets_collect(db, &d, planner, &ts);
	if (e) {
		free(ts.t);
		return e;
	}
	if (ts.n) {
		planner->plan(&d.rollout, ts.t, ts.n);
		qsort(ts.t, ts.n, sizeof(*ts.t), by_stage_num);
	}
	*ret = ts.t;
	*ret_n = ts.n;
	return ERR_OK;
}

/* The newest assignment id (under the write lock: exact). */
static enum err assignment_max_id(struct db *db, int64_t *ret)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENT_MAX_ID);
	enum err e = db_step_row(st);

	if (!e)
		*ret = sql_col_i64(st, 0);
	return e;
}

enum err storage_deployment_slice(struct storage *s, int64_t id, const struct stage_target *t,
				  size_t n, bool announce, bool *ret_stop, uint64_t *ret_hold_us)
{
	int64_t before = 0, after = 0;
	struct manifest_identity m = {0};
	char actor[65] = "";
	int64_t manifest_id = 0, now = time_now();
	bool inserted;
	struct db *db;
	enum err e = begin(s, &db);
	int rc;

	uint64_t locked = time_mono_usec(); /* the write lock is held from here */

	*ret_stop = false;
	*ret_hold_us = 0;
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_FOR_SLICE);
		sql_bind_i64(st, 1, id);
		rc = sql_step(st);
		if (rc == SQL_ROW) {
			manifest_id = sql_col_i64(st, 0);
			snprintf(actor, sizeof(actor), "%s", db_column_text(st, 1));
		}
	}
	if (rc != SQL_ROW) { /* canceled, deleted or prepared meanwhile */
		*ret_stop = rc == SQL_DONE;
		db_rollback(db);
		return rc == SQL_DONE ? ERR_OK : db_result(rc);
	}
	/* Superseded assignments of other deployments: its creator did it. */
	db_event_actor(db, actor);
	e = manifest_identity(db, STMT_MANIFEST_IDENTITY_BY_ID, NULL, 0, manifest_id, &m);
	if (!e && announce)
		e = assignment_max_id(db, &before);
	for (size_t i = 0; i < n && !e; i++)
		e = assign(db, id, &m, t[i].num, t[i].stage, now, &inserted);
	/* The ids this slice inserted, for the other nodes (api/cluster.c):
	 * every writer holds the write lock, so they are (before, after]. */
	if (!e && announce)
		e = assignment_max_id(db, &after);
	if (!e && announce && after > before)
		e = deployment_event(db, "system", "deployment.assigned", id, false,
				     json_pack("{s:I, s:I, s:I}", "devices", (json_int_t)n, "first",
					       (json_int_t)before + 1, "last", (json_int_t)after));
	e = finish(db, e);
	*ret_hold_us = time_mono_usec() - locked;
	return e;
}

enum err storage_assignments_in_range(struct storage *s, int64_t deployment_id, int64_t first,
				      int64_t last, assignment_range_cb cb, void *cls)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENTS_IN_RANGE);
	sql_bind_i64(st, 1, first);
	sql_bind_i64(st, 2, last);
	sql_bind_i64(st, 3, deployment_id);
	while ((rc = sql_step(st)) == SQL_ROW) {
		enum assignment_state state;
		if (!assignment_state_parse(db_column_text(st, 2), &state))
			return db_result(SQL_CORRUPT);
		if (!cb(cls, sql_col_i64(st, 0), sql_col_i64(st, 1), state))
			return ERR_OK;
	}
	return db_result(rc);
}

enum err storage_deployment_prepared(struct storage *s, int64_t id)
{
	struct db *db;
	enum err e = begin(s, &db);
	int rc;

	if (e)
		return e;
	bool changed = false; /* and active: not canceled meanwhile */
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_PREPARED);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, time_now());
		rc = sql_step(st);
		if (rc == SQL_ROW) {
			changed = strcmp(db_column_text(st, 0), "active") == 0;
			rc = sql_step(st);
		}
		e = db_result(rc);
	}
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_TARGETS_DELETE);
		sql_bind_i64(st, 1, id);
		e = db_result(sql_step(st));
	}
	if (!e && changed) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENTS_OF_DEPLOYMENT);
		sql_bind_i64(st, 1, id);
		rc = sql_step(st);
		e = db_result(rc);
		if (!e)
			e = deployment_event(
				db, "system", "deployment.prepared", id, false,
				json_pack("{s:I}", "devices", (json_int_t)sql_col_i64(st, 0)));
	}
	return finish(db, e);
}

enum err storage_deployments_preparing(struct storage *s, int64_t after, unsigned max, int64_t *ret,
				       unsigned *ret_n)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENTS_PREPARING);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	while (n < max && (rc = sql_step(st)) == SQL_ROW)
		ret[n++] = sql_col_i64(st, 0);
	*ret_n = n;
	return n < max ? db_result(rc) : ERR_OK;
}

static void deployment_from_row(struct sql_stmt *st, struct deployment *d)
{
	const char *kind = db_column_text(st, 4);
	size_t n = sql_col_bytes(st, 3);

	memset(d, 0, sizeof(*d));
	d->id = sql_col_i64(st, 0);
	snprintf(d->name, sizeof(d->name), "%s", db_column_text(st, 1));
	d->manifest_id = sql_col_i64(st, 2);
	d->digest_len = n <= MANIFEST_DIGEST_MAX ? n : 0;
	if (d->digest_len)
		memcpy(d->digest, sql_col_blob(st, 3), d->digest_len);
	d->kind = strcmp(kind, "group") == 0 ? TARGET_GROUP
		  : strcmp(kind, "tag") == 0 ? TARGET_TAG
					     : TARGET_DEVICES;
	snprintf(d->target, sizeof(d->target), "%s", db_column_text(st, 5));
	if (!deployment_status_parse(db_column_text(st, 6), &d->status))
		d->status = DEPLOYMENT_CANCELED;
	d->created_at = sql_col_i64(st, 7);
	snprintf(d->created_by, sizeof(d->created_by), "%s", db_column_text(st, 8));
	d->sequence = (uint64_t)sql_col_i64(st, 9);
	d->rollout.device_timeout = sql_col_i64(st, 10);
	d->rollout.success_threshold = (unsigned)sql_col_int(st, 11);
	d->rollout.failure_threshold = (unsigned)sql_col_int(st, 12);
	d->open_stage = (unsigned)sql_col_int(st, 13);
	d->paused_at = sql_col_i64(st, 14);
	snprintf(d->paused_by, sizeof(d->paused_by), "%s", db_column_text(st, 15));
	snprintf(d->pause_reason, sizeof(d->pause_reason), "%s", db_column_text(st, 16));
	d->paused_auto = sql_col_int(st, 17) != 0;
	d->failures_acknowledged = (unsigned)sql_col_int(st, 18);
	d->completed_at = sql_col_i64(st, 19);
	d->canceled_at = sql_col_i64(st, 20);
	d->prepared_at = sql_col_i64(st, 21);
	d->planned = (uint64_t)sql_col_i64(st, 22);
}

static enum err stages_load(struct db *db, struct deployment *d)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_STAGES);
	int rc;

	sql_bind_i64(st, 1, d->id);
	d->rollout.stage_count = 0;
	while ((rc = sql_step(st)) == SQL_ROW && d->rollout.stage_count < ROLLOUT_STAGES_MAX) {
		unsigned i = d->rollout.stage_count++;
		d->rollout.stages[i] = (uint8_t)sql_col_int(st, 1);
		d->stage_opened_at[i] = sql_col_i64(st, 2);
	}
	if (rc == SQL_ROW)
		rc = SQL_DONE; /* more stages than a policy holds: not written by suitd */
	return db_result(rc);
}

/* Rows of SQL_DEPLOYMENT_COLUMNS into ret[], each with its stages. */
static enum err deployments_read(struct db *db, struct sql_stmt *st, unsigned max,
				 struct deployment *ret, unsigned *ret_count)
{
	enum err e = ERR_OK;
	unsigned n = 0;
	int rc = SQL_DONE;

	while (n < max && (rc = sql_step(st)) == SQL_ROW)
		deployment_from_row(st, &ret[n++]);
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	sql_reset(st);
	for (unsigned i = 0; i < n && !e; i++)
		e = stages_load(db, &ret[i]);
	if (!e)
		*ret_count = n;
	return e;
}

/* One deployment by id on this connection (inside a caller's transaction
 * or not). */
static enum err deployment_by_id(struct db *db, int64_t id, struct deployment *ret)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_BY_ID);
	unsigned n = 0;
	enum err e;

	sql_bind_i64(st, 1, id);
	e = deployments_read(db, st, 1, ret, &n);
	return e ? e : n ? ERR_OK : ERR_NOT_FOUND;
}

enum err storage_deployment_get(struct storage *s, int64_t id, struct deployment *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	return e ? e : deployment_by_id(db, id, ret);
}

enum err storage_deployment_counts(struct storage *s, int64_t id, struct deployment_counts *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);
	enum assignment_state state;
	int rc;

	if (e)
		return e;
	memset(ret, 0, sizeof(*ret));
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_COUNTS);
	sql_bind_i64(st, 1, id);
	while ((rc = sql_step(st)) == SQL_ROW) {
		int64_t stage = sql_col_i64(st, 0);
		if (stage >= 0 && stage < ROLLOUT_STAGES_MAX &&
		    assignment_state_parse(db_column_text(st, 1), &state))
			ret->n[stage][state] = (unsigned)sql_col_i64(st, 2);
	}
	return db_result(rc);
}

enum err storage_deployment_list(struct storage *s, const char *status, const uint8_t *digest,
				 size_t digest_len, int64_t after, unsigned max,
				 struct deployment *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_LIST);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	if (status)
		db_bind_text(st, 3, status);
	if (digest)
		db_bind_blob(st, 4, digest, digest_len);
	return deployments_read(db, st, max, ret, ret_count);
}

enum err storage_deployments_running(struct storage *s, int64_t after, unsigned max,
				     struct deployment *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENTS_RUNNING);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	return deployments_read(db, st, max, ret, ret_count);
}

/* One compare-and-set UPDATE of a deployment and its event (data: extra,
 * stolen, may be NULL), in a transaction; ERR_CONFLICT when it changed
 * nothing. */
static enum err deployment_update(struct db *db, struct sql_stmt *st, const char *actor,
				  const char *type, int64_t id, bool admin, json_t *extra)
{
	enum err e = db_result(sql_step(st));

	if (!e && sql_changes(db) == 0)
		e = ERR_CONFLICT;
	if (!e)
		return deployment_event(db, actor, type, id, admin, extra);
	json_decref(extra);
	return e;
}

/* Up to max of the canceled deployment's active assignments become
 * canceled (the transaction is the caller's); *ret_n how many. */
static enum err cancel_some(struct db *db, int64_t id, int64_t now, unsigned max, unsigned *ret_n)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENTS_CANCEL);
	enum err e;

	sql_bind_i64(st, 1, id);
	db_bind_text(st, 2, "deployment canceled");
	sql_bind_i64(st, 3, now);
	sql_bind_i64(st, 4, max);
	e = db_result(sql_step(st));
	*ret_n = e ? 0 : (unsigned)sql_changes(db);
	return e;
}

enum err storage_deployment_cancel(struct storage *s, int64_t id, const char *actor, unsigned max,
				   bool *ret_more)
{
	struct db *db;
	int64_t now = time_now();
	unsigned n = 0;
	enum err e = begin(s, &db);

	*ret_more = false;
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_CANCEL);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, now);
		e = deployment_update(db, st, actor, "deployment.canceled", id, true, NULL);
	}
	db_event_actor(db, actor);
	if (!e)
		e = cancel_some(db, id, now, max, &n);
	e = finish(db, e);
	*ret_more = !e && n == max;
	return e;
}

enum err storage_deployment_cancel_more(struct storage *s, int64_t id, const char *actor,
					unsigned max, unsigned *ret_n, uint64_t *ret_hold_us)
{
	struct db *db;
	enum err e = begin(s, &db);
	uint64_t locked = time_mono_usec();
	int rc;

	*ret_n = 0;
	*ret_hold_us = 0;
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_IS_CANCELED);
		sql_bind_i64(st, 1, id);
		rc = sql_step(st);
	}
	if (rc != SQL_ROW) { /* deleted meanwhile: nothing left to cancel */
		db_rollback(db);
		return rc == SQL_DONE ? ERR_OK : db_result(rc);
	}
	db_event_actor(db, actor);
	e = finish(db, cancel_some(db, id, time_now(), max, ret_n));
	*ret_hold_us = time_mono_usec() - locked;
	return e;
}

enum err storage_deployments_winding_down(struct storage *s, int64_t after, unsigned max,
					  int64_t *ret, unsigned *ret_n)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENTS_WINDING_DOWN);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	while (n < max && (rc = sql_step(st)) == SQL_ROW)
		ret[n++] = sql_col_i64(st, 0);
	*ret_n = n;
	return n < max ? db_result(rc) : ERR_OK;
}

enum err storage_deployment_pause(struct storage *s, int64_t id, const char *actor,
				  const char *reason, bool automatic)
{
	struct db *db;
	enum err e = begin(s, &db);

	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_PAUSE);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, time_now());
		db_bind_text(st, 3, actor);
		if (reason && reason[0])
			db_bind_text(st, 4, reason);
		sql_bind_i64(st, 5, automatic);
		e = deployment_update(
			db, st, automatic ? "system" : actor, "deployment.paused", id, !automatic,
			json_pack("{s:s?, s:b}", "reason", reason && reason[0] ? reason : NULL,
				  "automatic", automatic));
	}
	return finish(db, e);
}

enum err storage_deployment_resume(struct storage *s, int64_t id, const char *actor,
				   bool acknowledge)
{
	struct db *db;
	enum err e = begin(s, &db);

	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_RESUME);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, acknowledge);
		e = deployment_update(db, st, actor, "deployment.resumed", id, true,
				      json_pack("{s:b}", "acknowledged", acknowledge));
	}
	return finish(db, e);
}

enum err storage_deployment_retry(struct storage *s, int64_t id, const char *actor,
				  unsigned *ret_retried, unsigned *ret_left)
{
	struct deployment d;
	unsigned retried = 0, open = 0, failed = 0;
	struct db *db;
	enum err e = begin(s, &db);
	int rc;

	if (e)
		return e;
	db_event_actor(db, actor);
	e = deployment_by_id(db, id, &d);
	if (!e && d.status == DEPLOYMENT_CANCELED)
		e = ERR_CONFLICT;
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENTS_FAILED_COUNT);
		sql_bind_i64(st, 1, id);
		if ((rc = sql_step(st)) == SQL_ROW)
			failed = (unsigned)sql_col_i64(st, 0);
		else
			e = db_result(rc);
	}
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENTS_RETRY);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, time_now());
		while ((rc = sql_step(st)) == SQL_ROW) {
			retried++;
			if ((unsigned)sql_col_i64(st, 0) <= d.open_stage)
				open++;
		}
		e = db_result(rc);
	}
	if (!e && retried) {
		/* Failures acknowledged at a resume that are now retried no
		 * longer hide new ones; a completed rollout runs again. */
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_RETRIED);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, open);
		e = deployment_update(db, st, actor, "deployment.retried", id, true,
				      json_pack("{s:i}", "retried", (int)retried));
	}
	if ((e = finish(db, e)))
		return e;
	*ret_retried = retried;
	*ret_left = failed - retried;
	return ERR_OK;
}

enum err storage_deployment_delete(struct storage *s, int64_t id, const char *actor)
{
	static const enum stmt steps[] = {STMT_DEPLOYMENT_COUNTS_DELETE,
					  STMT_DEPLOYMENT_ASSIGNMENTS_DELETE,
					  STMT_DEPLOYMENT_STAGES_DELETE};
	struct deployment d;
	struct db *db;
	enum err e = begin(s, &db);

	if (e)
		return e;
	e = deployment_by_id(db, id, &d);
	/* Only what can no longer deliver anything: a device's current
	 * assignment is always in an active or paused deployment. */
	if (!e && d.status != DEPLOYMENT_COMPLETED && d.status != DEPLOYMENT_CANCELED)
		e = ERR_CONFLICT;
	for (size_t i = 0; !e && i < sizeof(steps) / sizeof(steps[0]); i++) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, steps[i]);
		sql_bind_i64(st, 1, id);
		e = db_result(sql_step(st));
	}
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_DELETE);
		sql_bind_i64(st, 1, id);
		e = deployment_update(db, st, actor, "deployment.deleted", id, true, NULL);
	}
	return finish(db, e);
}

enum err storage_deployment_open_stage(struct storage *s, int64_t id, unsigned stage)
{
	struct db *db;
	enum err e = begin(s, &db);

	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_OPEN_STAGE);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, stage);
		e = deployment_update(db, st, "system", "deployment.stage_opened", id, false,
				      json_pack("{s:i}", "stage", (int)stage));
	}
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_STAGE_OPENED);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, stage);
		sql_bind_i64(st, 3, time_now());
		e = db_result(sql_step(st));
	}
	return finish(db, e);
}

enum err storage_deployment_complete(struct storage *s, int64_t id)
{
	struct db *db;
	enum err e = begin(s, &db);

	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_COMPLETE);
		sql_bind_i64(st, 1, id);
		sql_bind_i64(st, 2, time_now());
		e = deployment_update(db, st, "system", "deployment.completed", id, false, NULL);
	}
	return finish(db, e);
}

enum err storage_deployment_devices(struct storage *s, int64_t id, const char *state, int64_t after,
				    unsigned max, struct assignment_row *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st =
		db_stmt(db, state ? STMT_DEPLOYMENT_DEVICES_IN_STATE : STMT_DEPLOYMENT_DEVICES);
	sql_bind_i64(st, 1, id);
	sql_bind_i64(st, 2, after);
	sql_bind_i64(st, 3, max);
	if (state)
		db_bind_text(st, 4, state);
	while (n < max && (rc = sql_step(st)) == SQL_ROW) {
		struct assignment_row *r = &ret[n++];
		memset(r, 0, sizeof(*r));
		r->id = sql_col_i64(st, 0);
		snprintf(r->device, sizeof(r->device), "%s", db_column_text(st, 1));
		assignment_state_parse(db_column_text(st, 2), &r->state);
		snprintf(r->reason, sizeof(r->reason), "%s", db_column_text(st, 3));
		r->updated_at = sql_col_i64(st, 4);
		r->stage = (unsigned)sql_col_int(st, 5);
	}
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

static enum err active_assignments(struct storage *s, enum stmt which, int64_t key,
				   void (*each)(void *cls, const struct active_assignment *a),
				   void *cls)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, which);
	if (key)
		sql_bind_i64(st, 1, key);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct active_assignment a = {0};
		size_t n = sql_col_bytes(st, 5);
		a.id = sql_col_i64(st, 0);
		a.device_num = sql_col_i64(st, 1);
		a.deployment_id = sql_col_i64(st, 2);
		a.manifest_id = sql_col_i64(st, 3);
		assignment_state_parse(db_column_text(st, 4), &a.state);
		a.digest_len = n <= MANIFEST_DIGEST_MAX ? n : 0;
		if (a.digest_len)
			memcpy(a.digest, sql_col_blob(st, 5), a.digest_len);
		a.sequence = (uint64_t)sql_col_i64(st, 6);
		a.held = sql_col_int(st, 7) != 0;
		a.stage = (unsigned)sql_col_int(st, 8);
		a.open_stage = (unsigned)sql_col_int(st, 9);
		a.paused = sql_col_int(st, 10) != 0;
		each(cls, &a);
	}
	return db_result(rc);
}

enum err storage_active_assignments(struct storage *s, int64_t device_num,
				    void (*each)(void *cls, const struct active_assignment *a),
				    void *cls)
{
	return active_assignments(
		s, device_num ? STMT_ACTIVE_ASSIGNMENTS_OF_DEVICE : STMT_ACTIVE_ASSIGNMENTS,
		device_num, each, cls);
}

enum err storage_deployment_active_assignments(struct storage *s, int64_t deployment_id,
					       void (*each)(void *cls,
							    const struct active_assignment *a),
					       void *cls)
{
	return active_assignments(s, STMT_ACTIVE_ASSIGNMENTS_OF_DEPLOYMENT, deployment_id, each,
				  cls);
}

enum err db_assignment_set_state(struct db *db, int64_t id, enum assignment_state from,
				 enum assignment_state to, const char *reason, bool *ret_changed)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENT_SET_STATE);
	enum err e;

	*ret_changed = false;
	db_event_actor(db, "device"); /* check-ins and downloads: the device's doing */
	sql_bind_i64(st, 1, id);
	db_bind_text(st, 2, assignment_state_name(from));
	db_bind_text(st, 3, assignment_state_name(to));
	if (reason)
		db_bind_text(st, 4, reason);
	sql_bind_i64(st, 5, time_now());
	e = db_result(sql_step(st));
	if (!e)
		*ret_changed = sql_changes(db) > 0;
	return e;
}

enum err storage_assignment_transition(struct storage *s, int64_t id, enum assignment_state from,
				       enum assignment_state to, const char *reason)
{
	struct db *db;
	enum err e = db_get(s, &db);
	bool changed = false;

	if (e)
		return e;
	e = db_assignment_set_state(db, id, from, to, reason, &changed);
	/* Its own (autocommit) transaction: committed already. */
	if (!sql_in_transaction(db))
		db_events_end(db, !e);
	if (!e && !changed)
		e = ERR_CONFLICT;
	return e;
}

enum err db_deployment_join(struct db *db, int64_t device_num, const struct stage_planner *planner,
			    bool *ret_joined)
{
	struct manifest_identity m = {0};
	struct deployment d = {0};
	int64_t manifest_id;
	char device_id[129] = "";
	bool completed;
	enum err e;
	int rc;

	*ret_joined = false;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_FOR_JOIN);
		sql_bind_i64(st, 1, device_num);
		rc = sql_step(st);
		d.id = sql_col_i64(st, 0);
		manifest_id = sql_col_i64(st, 1);
		completed = !sql_col_null(st, 2);
	}
	if (rc == SQL_DONE)
		return ERR_OK;
	e = db_result(rc);
	if (!e) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_ID_BY_NUM);
		sql_bind_i64(st, 1, device_num);
		rc = sql_step(st);
		if (rc == SQL_ROW)
			snprintf(device_id, sizeof(device_id), "%s", db_column_text(st, 1));
		e = rc == SQL_ROW ? ERR_OK : rc == SQL_DONE ? ERR_NOT_FOUND : db_result(rc);
	}
	if (!e)
		e = stages_load(db, &d);
	if (!e)
		e = manifest_identity(db, STMT_MANIFEST_IDENTITY_BY_ID, NULL, 0, manifest_id, &m);
	if (!e)
		e = assign(db, d.id, &m, device_num,
			   planner->stage_of_key(&d.rollout, planner->key(d.id, device_id)),
			   time_now(), ret_joined);
	/* A completed rollout with a new member is running again. */
	if (!e && *ret_joined && completed) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEPLOYMENT_REOPEN);
		sql_bind_i64(st, 1, d.id);
		e = db_result(sql_step(st));
	}
	return e;
}

enum err storage_deployment_join(struct storage *s, int64_t device_num,
				 const struct stage_planner *planner, bool *ret_joined)
{
	struct db *db;
	enum err e = db_get(s, &db);

	*ret_joined = false;
	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	return finish(db, db_deployment_join(db, device_num, planner, ret_joined));
}

bool storage_manifest_needs(struct storage *s, int64_t manifest_id, enum manifest_need kind,
			    int64_t object_id)
{
	struct db *db;

	if (db_get(s, &db))
		return false;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_NEEDS_OBJECT);
	sql_bind_i64(st, 1, manifest_id);
	sql_bind_i64(st, 2, kind);
	sql_bind_i64(st, 3, object_id);
	return sql_step(st) == SQL_ROW;
}

enum err db_assignment_fetched(struct db *db, int64_t assignment_id, int64_t manifest_id,
			       enum manifest_need kind, int64_t object_id, unsigned *ret_left)
{
	enum err e;
	int rc;

	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENT_FETCHED);
		sql_bind_i64(st, 1, assignment_id);
		sql_bind_i64(st, 2, kind);
		sql_bind_i64(st, 3, object_id);
		if ((e = db_result(sql_step(st))))
			return e;
	}
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_MANIFEST_NEEDS_LEFT);
	sql_bind_i64(st, 1, manifest_id);
	sql_bind_i64(st, 2, assignment_id);
	rc = sql_step(st);
	if (rc != SQL_ROW)
		return db_result(rc);
	*ret_left = (unsigned)sql_col_i64(st, 0);
	return ERR_OK;
}

enum err storage_assignment_fetched(struct storage *s, int64_t assignment_id, int64_t manifest_id,
				    enum manifest_need kind, int64_t object_id, unsigned *ret_left)
{
	struct db *db;
	enum err e = db_get(s, &db);

	return e ? e
		 : db_assignment_fetched(db, assignment_id, manifest_id, kind, object_id, ret_left);
}

/* Assignments timed out per statement (its own transaction): a fleet that
 * went silent at once must not hold the write lock for seconds (issue 15);
 * each row also runs the transition trigger (counters, event). */
#define TIME_OUT_SLICE 500

/* One slice; appends the devices to *devices. *ret_changed: rows changed. */
static enum err time_out_slice(struct db *db, int64_t now, int64_t **devices, unsigned *n,
			       unsigned *cap, unsigned *ret_changed)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_ASSIGNMENTS_TIME_OUT);
	enum err e = ERR_OK;
	int rc = SQL_DONE;

	*ret_changed = 0;
	sql_bind_i64(st, 1, now);
	sql_bind_i64(st, 2, TIME_OUT_SLICE);
	/* RETURNING: every row is changed before the first is returned. */
	while (!e && (rc = sql_step(st)) == SQL_ROW) {
		if (*n == *cap) {
			unsigned want = *cap ? 2 * *cap : 64;
			int64_t *grown = realloc(*devices, want * sizeof(**devices));
			if (!grown) {
				e = ERR_NOMEM;
				break;
			}
			*devices = grown;
			*cap = want;
		}
		(*devices)[(*n)++] = sql_col_i64(st, 0);
		(*ret_changed)++;
	}
	if (!e)
		e = db_result(rc);
	return e;
}

enum err storage_assignments_time_out(struct storage *s, int64_t now, int64_t **ret_devices,
				      unsigned *ret_count)
{
	int64_t *devices = NULL;
	unsigned n = 0, cap = 0, changed = TIME_OUT_SLICE;
	struct db *db;
	enum err e = db_get(s, &db);

	*ret_devices = NULL;
	*ret_count = 0;
	if (e)
		return e;
	while (!e && changed == TIME_OUT_SLICE) {
		if (n)
			usleep(1000); /* a gap for the writers waiting (storage.c) */
		e = time_out_slice(db, now, &devices, &n, &cap, &changed);
		/* One statement, its own transaction: the trigger's events are in. */
		if (!sql_in_transaction(db))
			db_events_end(db, !e);
	}
	if (e && !n) {
		free(devices);
		return e;
	}
	/* The slices committed before a failure are done: the index hears
	 * of them; the rest waits for the next sweep. */
	*ret_devices = devices;
	*ret_count = n;
	return e;
}
