#include "storage/deployments.h"

#include <stdio.h>
#include <string.h>

#include "common/timeutil.h"
#include "storage/db.h"

static const char *const state_names[] = {
#define ASSIGNMENT_STATE_NAME(name, text) [ASSIGN_##name] = text,
	ASSIGNMENT_STATE_LIST(ASSIGNMENT_STATE_NAME)
#undef ASSIGNMENT_STATE_NAME
};

static const char *const kind_names[] = {"devices", "group", "tag"};

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
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, which);
	int rc;

	if (key)
		db_bind_blob(st, 1, key, key_len);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return ERR_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return db_result(rc);
	memset(ret, 0, sizeof(*ret));
	ret->id = sqlite3_column_int64(st, 0);
	ret->sequence = (uint64_t)sqlite3_column_int64(st, 1);
	ret->has_vendor = sqlite3_column_bytes(st, 2) == 16;
	if (ret->has_vendor)
		memcpy(ret->vendor, sqlite3_column_blob(st, 2), 16);
	ret->has_class = sqlite3_column_bytes(st, 3) == 16;
	if (ret->has_class)
		memcpy(ret->class_id, sqlite3_column_blob(st, 3), 16);
	return ERR_OK;
}

/* Assign one device; supersede its older active assignment only when the
 * new one is pending (a skipped one never displaces a valid update). */
static enum err assign(struct db *db, int64_t deployment_id, const struct manifest_identity *m,
		       int64_t device_num, int64_t now, bool *ret_inserted)
{
	enum err e = ERR_OK;
	char reason[64];
	int rc;
	bool pending = false;

	*ret_inserted = false;
	{
		CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_ASSIGNMENT_INSERT);
		sqlite3_bind_int64(st, 1, deployment_id);
		sqlite3_bind_int64(st, 2, device_num);
		if (m->has_vendor)
			db_bind_blob(st, 3, m->vendor, 16);
		if (m->has_class)
			db_bind_blob(st, 4, m->class_id, 16);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)m->sequence);
		sqlite3_bind_int64(st, 6, now);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*ret_inserted = true;
			pending = strcmp(db_column_text(st, 0), "pending") == 0;
			rc = sqlite3_step(st);
		}
		e = db_result(rc);
	}
	if (e || !pending)
		return e;
	snprintf(reason, sizeof(reason), "superseded by deployment %lld", (long long)deployment_id);
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_ASSIGNMENT_SUPERSEDE);
	sqlite3_bind_int64(st, 1, device_num);
	sqlite3_bind_int64(st, 2, deployment_id);
	db_bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, now);
	return db_result(sqlite3_step(st));
}

static enum err assign_query(struct db *db, enum stmt which, const char *value,
			     int64_t deployment_id, const struct manifest_identity *m, int64_t now)
{
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, which);
	enum err e = ERR_OK;
	int rc;
	bool inserted;

	db_bind_text(st, 1, value);
	/* Two statements interleave here; both are prepared per connection. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !e)
		e = assign(db, deployment_id, m, sqlite3_column_int64(st, 0), now, &inserted);
	return e ? e : db_result(rc);
}

enum err storage_deployment_create(struct storage *s, const struct deployment_new *d,
				   int64_t *ret_id)
{
	struct manifest_identity m = {0};
	struct db *db;
	int64_t id, now = time_now();
	bool inserted;
	enum err e = db_get(s, &db);

	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	e = manifest_identity(db, STMT_MANIFEST_IDENTITY, d->digest, d->digest_len, 0, &m);
	if (!e) {
		CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_DEPLOYMENT_INSERT);
		if (d->name && d->name[0])
			db_bind_text(st, 1, d->name);
		sqlite3_bind_int64(st, 2, m.id);
		db_bind_text(st, 3, kind_names[d->kind]);
		if (d->kind != TARGET_DEVICES)
			db_bind_text(st, 4, d->value);
		db_bind_text(st, 5, d->actor);
		sqlite3_bind_int64(st, 6, now);
		sqlite3_bind_int64(st, 7, d->device_timeout > 0 ? d->device_timeout : 86400);
		e = db_result(sqlite3_step(st));
	}
	id = sqlite3_last_insert_rowid(db->handle);
	if (!e && d->kind == TARGET_DEVICES)
		for (unsigned i = 0; i < d->count && !e; i++)
			e = assign(db, id, &m, d->nums[i], now, &inserted);
	else if (!e)
		e = assign_query(db,
				 d->kind == TARGET_GROUP ? STMT_DEVICE_NUMS_BY_GROUP
							 : STMT_DEVICE_NUMS_BY_TAG,
				 d->value, id, &m, now);
	if (!e) {
		char subject[32];
		snprintf(subject, sizeof(subject), "%lld", (long long)id);
		e = db_audit(db, d->actor, "deployment.create", subject);
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

static void deployment_from_row(sqlite3_stmt *st, struct deployment *d)
{
	const char *kind = db_column_text(st, 4);
	size_t n = (size_t)sqlite3_column_bytes(st, 3);

	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	snprintf(d->name, sizeof(d->name), "%s", db_column_text(st, 1));
	d->manifest_id = sqlite3_column_int64(st, 2);
	d->digest_len = n <= MANIFEST_DIGEST_MAX ? n : 0;
	if (d->digest_len)
		memcpy(d->digest, sqlite3_column_blob(st, 3), d->digest_len);
	d->kind = strcmp(kind, "group") == 0 ? TARGET_GROUP
		  : strcmp(kind, "tag") == 0 ? TARGET_TAG
					     : TARGET_DEVICES;
	snprintf(d->target, sizeof(d->target), "%s", db_column_text(st, 5));
	d->active = strcmp(db_column_text(st, 6), "active") == 0;
	d->created_at = sqlite3_column_int64(st, 7);
	snprintf(d->created_by, sizeof(d->created_by), "%s", db_column_text(st, 8));
	d->sequence = (uint64_t)sqlite3_column_int64(st, 9);
	d->device_timeout = sqlite3_column_int64(st, 10);
}

enum err storage_deployment_get(struct storage *s, int64_t id, struct deployment *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_DEPLOYMENT_BY_ID);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return ERR_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return db_result(rc);
	deployment_from_row(st, ret);
	return ERR_OK;
}

enum err storage_deployment_counts(struct storage *s, int64_t id, unsigned counts[ASSIGN__COUNT])
{
	struct db *db;
	enum err e = db_get(s, &db);
	enum assignment_state st_;
	int rc;

	if (e)
		return e;
	memset(counts, 0, sizeof(unsigned) * ASSIGN__COUNT);
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_DEPLOYMENT_COUNTS);
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (assignment_state_parse(db_column_text(st, 0), &st_))
			counts[st_] = (unsigned)sqlite3_column_int64(st, 1);
	return db_result(rc);
}

enum err storage_deployment_list(struct storage *s, const char *status, const uint8_t *digest,
				 size_t digest_len, int64_t after, unsigned max,
				 struct deployment *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQLITE_DONE;

	if (e)
		return e;
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_DEPLOYMENT_LIST);
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, max);
	if (status)
		db_bind_text(st, 3, status);
	if (digest)
		db_bind_blob(st, 4, digest, digest_len);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		deployment_from_row(st, &ret[n++]);
	if (n < max && rc != SQLITE_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

enum err storage_deployment_cancel(struct storage *s, int64_t id, const char *actor)
{
	struct db *db;
	char subject[32];
	enum err e = db_get(s, &db);

	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	{
		CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_DEPLOYMENT_CANCEL);
		sqlite3_bind_int64(st, 1, id);
		e = db_result(sqlite3_step(st));
		if (!e && sqlite3_changes(db->handle) == 0)
			e = ERR_CONFLICT;
	}
	if (!e) {
		CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_ASSIGNMENTS_CANCEL);
		sqlite3_bind_int64(st, 1, id);
		db_bind_text(st, 2, "deployment canceled");
		sqlite3_bind_int64(st, 3, time_now());
		e = db_result(sqlite3_step(st));
	}
	snprintf(subject, sizeof(subject), "%lld", (long long)id);
	if (!e)
		e = db_audit(db, actor, "deployment.cancel", subject);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_deployment_devices(struct storage *s, int64_t id, const char *state, int64_t after,
				    unsigned max, struct assignment_row *ret, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQLITE_DONE;

	if (e)
		return e;
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_DEPLOYMENT_DEVICES);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, max);
	if (state)
		db_bind_text(st, 4, state);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct assignment_row *r = &ret[n++];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		snprintf(r->device, sizeof(r->device), "%s", db_column_text(st, 1));
		assignment_state_parse(db_column_text(st, 2), &r->state);
		snprintf(r->reason, sizeof(r->reason), "%s", db_column_text(st, 3));
		r->updated_at = sqlite3_column_int64(st, 4);
	}
	if (n < max && rc != SQLITE_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

enum err storage_active_assignments(struct storage *s, int64_t device_num,
				    void (*each)(void *cls, const struct active_assignment *a),
				    void *cls)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_ACTIVE_ASSIGNMENTS);
	if (device_num)
		sqlite3_bind_int64(st, 1, device_num);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct active_assignment a = {0};
		size_t n = (size_t)sqlite3_column_bytes(st, 5);
		a.id = sqlite3_column_int64(st, 0);
		a.device_num = sqlite3_column_int64(st, 1);
		a.deployment_id = sqlite3_column_int64(st, 2);
		a.manifest_id = sqlite3_column_int64(st, 3);
		assignment_state_parse(db_column_text(st, 4), &a.state);
		a.digest_len = n <= MANIFEST_DIGEST_MAX ? n : 0;
		if (a.digest_len)
			memcpy(a.digest, sqlite3_column_blob(st, 5), a.digest_len);
		a.sequence = (uint64_t)sqlite3_column_int64(st, 6);
		each(cls, &a);
	}
	return db_result(rc);
}

enum err storage_assignment_transition(struct storage *s, int64_t id, enum assignment_state from,
				       enum assignment_state to, const char *reason)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_ASSIGNMENT_SET_STATE);
	sqlite3_bind_int64(st, 1, id);
	db_bind_text(st, 2, assignment_state_name(from));
	db_bind_text(st, 3, assignment_state_name(to));
	if (reason)
		db_bind_text(st, 4, reason);
	sqlite3_bind_int64(st, 5, time_now());
	e = db_result(sqlite3_step(st));
	if (!e && sqlite3_changes(db->handle) == 0)
		e = ERR_CONFLICT;
	return e;
}

enum err storage_deployment_join(struct storage *s, int64_t device_num, bool *ret_joined)
{
	struct manifest_identity m = {0};
	struct db *db;
	int64_t deployment_id, manifest_id;
	enum err e = db_get(s, &db);
	int rc;

	*ret_joined = false;
	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	{
		CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_DEPLOYMENT_FOR_JOIN);
		sqlite3_bind_int64(st, 1, device_num);
		rc = sqlite3_step(st);
		deployment_id = sqlite3_column_int64(st, 0);
		manifest_id = sqlite3_column_int64(st, 1);
	}
	if (rc == SQLITE_DONE) {
		db_rollback(db);
		return ERR_OK;
	}
	e = db_result(rc);
	if (!e)
		e = manifest_identity(db, STMT_MANIFEST_IDENTITY_BY_ID, NULL, 0, manifest_id, &m);
	if (!e)
		e = assign(db, deployment_id, &m, device_num, time_now(), ret_joined);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

bool storage_manifest_fetches_payload(struct storage *s, int64_t manifest_id, int64_t payload_id)
{
	struct db *db;

	if (db_get(s, &db))
		return false;
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_MANIFEST_FETCHES_PAYLOAD);
	sqlite3_bind_int64(st, 1, manifest_id);
	sqlite3_bind_int64(st, 2, payload_id);
	return sqlite3_step(st) == SQLITE_ROW;
}

enum err storage_assignments_time_out(struct storage *s, int64_t now, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT sqlite3_stmt *st = db_stmt(db, STMT_ASSIGNMENTS_TIME_OUT);
	sqlite3_bind_int64(st, 1, now);
	e = db_result(sqlite3_step(st));
	if (!e)
		*ret_count = (unsigned)sqlite3_changes(db->handle);
	return e;
}
