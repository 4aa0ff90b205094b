#include "storage/devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "storage/db.h"

bool device_name_valid(const char *name, size_t max)
{
	size_t n = strlen(name);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '@' || c == '-'))
			return false;
	}
	return true;
}

static void ident_from_row(struct sql_stmt *st, struct device_ident *d)
{
	memset(d, 0, sizeof(*d));
	d->num = sql_col_i64(st, 0);
	snprintf(d->id, sizeof(d->id), "%s", db_column_text(st, 1));
	snprintf(d->group, sizeof(d->group), "%s", db_column_text(st, 2));
}

static void uuid_column(struct sql_stmt *st, int col, bool *has, uint8_t out[16])
{
	*has = sql_col_bytes(st, col) == 16;
	if (*has)
		memcpy(out, sql_col_blob(st, col), 16);
}

static enum err load_tags(struct db *db, struct device *d)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_TAGS);
	int rc;

	sql_bind_i64(st, 1, d->ident.num);
	d->tag_count = 0;
	while ((rc = sql_step(st)) == SQL_ROW && d->tag_count < DEVICE_TAGS_MAX)
		snprintf(d->tags[d->tag_count++], DEVICE_TAG_MAX + 1, "%s", db_column_text(st, 0));
	return rc == SQL_ROW ? ERR_OK : db_result(rc);
}

/* Columns: num, id, grp, vendor_id, class_id, attributes, seq, seen, created,
 * report_key. */
static enum err device_from_row(struct db *db, struct sql_stmt *st, struct device *d)
{
	memset(d, 0, sizeof(*d));
	ident_from_row(st, &d->ident);
	uuid_column(st, 3, &d->has_vendor, d->vendor);
	uuid_column(st, 4, &d->has_class, d->class_id);
	d->attributes = strdup(db_column_text(st, 5));
	d->has_sequence = !sql_col_null(st, 6);
	d->reported_sequence = (uint64_t)sql_col_i64(st, 6);
	d->last_seen_at = sql_col_i64(st, 7);
	d->created_at = sql_col_i64(st, 8);
	if (!sql_col_null(st, 9) && !(d->report_key = strdup(db_column_text(st, 9))))
		return ERR_NOMEM;
	if (!d->attributes)
		return ERR_NOMEM;
	return load_tags(db, d);
}

void device_release(struct device *d)
{
	free(d->attributes);
	d->attributes = NULL;
	free(d->report_key);
	d->report_key = NULL;
}

enum err db_device_set_tags(struct db *db, int64_t num, const char *const *tags, unsigned n)
{
	enum err e;

	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_TAGS_CLEAR);
		sql_bind_i64(st, 1, num);
		if ((e = db_result(sql_step(st))))
			return e;
	}
	for (unsigned i = 0; i < n; i++) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_TAG_INSERT);
		sql_bind_i64(st, 1, num);
		db_bind_text(st, 2, tags[i]);
		if ((e = db_result(sql_step(st))))
			return e;
	}
	return ERR_OK;
}

static enum err ident_by_id(struct db *db, const char *id, struct device_ident *ret)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_IDENT_BY_ID);
	enum err e;

	db_bind_text(st, 1, id);
	if ((e = db_step_row(st)))
		return e;
	ident_from_row(st, ret);
	return ERR_OK;
}

enum err db_device_insert(struct db *db, const struct device_new *d, int64_t *ret_num)
{
	enum err e;

	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_INSERT);
		db_bind_text(st, 1, d->id);
		if (d->group && d->group[0])
			db_bind_text(st, 2, d->group);
		if (d->vendor)
			db_bind_blob(st, 3, d->vendor, 16);
		if (d->class_id)
			db_bind_blob(st, 4, d->class_id, 16);
		db_bind_text(st, 5, d->attributes ? d->attributes : "{}");
		if (d->token_hash)
			db_bind_blob(st, 6, d->token_hash, SHA256_LEN);
		sql_bind_i64(st, 7, time_now());
		e = db_result(sql_step(st));
	}
	if (e == ERR_CONFLICT)
		return ERR_EXISTS;
	if (e)
		return e;
	*ret_num = sql_last_insert_id(db);
	return db_device_set_tags(db, *ret_num, d->tags, d->tag_count);
}

enum err storage_device_insert(struct storage *s, const struct device_new *d, const char *actor,
			       struct device_ident *ret)
{
	struct db *db;
	int64_t num;
	enum err e = db_get(s, &db);

	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	e = db_device_insert(db, d, &num);
	if (!e)
		e = db_audit(db, actor, "device.created", "device", d->id);
	if (!e)
		e = ident_by_id(db, d->id, ret);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_device_get(struct storage *s, const char *id, struct device *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_BY_ID);
	db_bind_text(st, 1, id);
	if ((e = db_step_row(st)))
		return e;
	e = device_from_row(db, st, ret);
	if (e)
		device_release(ret);
	return e;
}

enum err storage_device_ident(struct storage *s, const char *id, struct device_ident *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	return e ? e : ident_by_id(db, id, ret);
}

/* Column col holds exactly this hash (constant time). */
static bool hash_column_equal(struct sql_stmt *st, int col, const uint8_t hash[SHA256_LEN])
{
	return sql_col_bytes(st, col) == SHA256_LEN &&
	       crypto_equal(sql_col_blob(st, col), hash, SHA256_LEN);
}

enum err storage_device_by_token(struct storage *s, const uint8_t hash[SHA256_LEN], int64_t now,
				 struct device_ident *ret, int64_t *ret_expires_at)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int64_t until;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_BY_TOKEN);
	db_bind_blob(st, 1, hash, SHA256_LEN);
	if ((e = db_step_row(st)))
		return e;
	if (hash_column_equal(st, 3, hash)) {
		until = 0;
	} else {
		/* The previous token, only within its grace (NULL reads as 0). */
		until = sql_col_i64(st, 5);
		if (!hash_column_equal(st, 4, hash) || now >= until)
			return ERR_NOT_FOUND;
	}
	ident_from_row(st, ret);
	*ret_expires_at = until;
	return ERR_OK;
}

/* What drives a list, first match: a tag, a group, a class (in the order
 * of num), then assignment_state, the seen filters, the sequence filters
 * (in the order of their key), else num. */
enum drive { DRIVE_NUM, DRIVE_STATE, DRIVE_SEEN, DRIVE_SEQUENCE };

static enum drive list_drive(const struct device_filter *f)
{
	if (f->tag || f->group || f->class_id)
		return DRIVE_NUM;
	if (f->assignment_state)
		return DRIVE_STATE;
	if (f->has_seen_since || f->has_not_seen_since)
		return DRIVE_SEEN;
	if (f->has_sequence || f->has_sequence_below)
		return DRIVE_SEQUENCE;
	return DRIVE_NUM;
}

bool device_list_keyed(const struct device_filter *f)
{
	return list_drive(f) != DRIVE_NUM;
}

/* The keys [lo, hi) the filter admits in the order of its drive. */
static void key_range(const struct device_filter *f, enum drive drive, int64_t *lo, int64_t *hi)
{
	*lo = INT64_MIN;
	*hi = INT64_MAX;
	if (drive == DRIVE_SEEN) {
		if (f->has_seen_since)
			*lo = f->seen_since;
		if (f->has_not_seen_since)
			*hi = f->not_seen_since;
	} else if (drive == DRIVE_SEQUENCE) {
		/* Sequence numbers are at most INT64_MAX (api/devices.c). */
		if (f->has_sequence) {
			*lo = (int64_t)f->sequence;
			*hi = f->sequence < INT64_MAX ? (int64_t)f->sequence + 1 : INT64_MAX;
		}
		if (f->has_sequence_below && (int64_t)f->sequence_below < *hi)
			*hi = (int64_t)f->sequence_below;
	}
}

static void bind_filter(struct sql_stmt *st, const struct device_filter *f, enum drive drive,
			unsigned max)
{
	sql_bind_i64(st, 2, max);
	if (f->group)
		db_bind_text(st, 3, f->group);
	if (f->class_id)
		db_bind_blob(st, 4, f->class_id, 16);
	if (f->has_seen_since)
		sql_bind_i64(st, 5, f->seen_since);
	if (f->tag)
		db_bind_text(st, 6, f->tag);
	if (f->has_not_seen_since)
		sql_bind_i64(st, 7, f->not_seen_since);
	if (f->has_sequence)
		sql_bind_i64(st, 8, (int64_t)f->sequence);
	if (f->has_sequence_below)
		sql_bind_i64(st, 9, (int64_t)f->sequence_below);
	/* The state drive's own ?13 finds it; a residual ?10 would ask again. */
	if (drive == DRIVE_STATE)
		db_bind_text(st, 13, f->assignment_state);
	else if (f->assignment_state)
		db_bind_text(st, 10, f->assignment_state);
}

/* Append the rows of one prepared statement to ret[*n .. max). */
static enum err list_rows(struct db *db, struct sql_stmt *st, bool keyed, unsigned max,
			  struct device *ret, unsigned *n)
{
	enum err e = ERR_OK;
	int rc = SQL_DONE;

	while (*n < max && (rc = sql_step(st)) == SQL_ROW) {
		struct device *d = &ret[(*n)++];
		e = device_from_row(db, st, d);
		d->cursor = keyed ? (struct device_cursor){true, sql_col_i64(st, 10),
							   sql_col_i64(st, 11)}
				  : (struct device_cursor){false, 0, d->ident.num};
		if (e)
			return e;
	}
	return *n < max && rc != SQL_DONE ? db_result(rc) : ERR_OK;
}

static const enum stmt keyed_stmts[][2] = {
	[DRIVE_STATE] = {STMT_DEVICE_LIST_BY_STATE_EQ, STMT_DEVICE_LIST_BY_STATE_RANGE},
	[DRIVE_SEEN] = {STMT_DEVICE_LIST_BY_SEEN_EQ, STMT_DEVICE_LIST_BY_SEEN_RANGE},
	[DRIVE_SEQUENCE] = {STMT_DEVICE_LIST_BY_SEQUENCE_EQ, STMT_DEVICE_LIST_BY_SEQUENCE_RANGE},
};

/* A keyed page: the rest of the cursor's key, then the keys after it. */
static enum err list_keyed(struct db *db, const struct device_filter *f, enum drive drive,
			   const struct device_cursor *after, unsigned max, struct device *ret,
			   unsigned *n)
{
	int64_t lo, hi;
	enum err e;

	key_range(f, drive, &lo, &hi);
	if (after) {
		if (after->key >= lo && after->key < hi) {
			CLEANUP_STMT struct sql_stmt *st = db_stmt(db, keyed_stmts[drive][0]);
			bind_filter(st, f, drive, max);
			sql_bind_i64(st, 11, after->key);
			sql_bind_i64(st, 1, after->id);
			if ((e = list_rows(db, st, true, max, ret, n)))
				return e;
		}
		if (after->key == INT64_MAX)
			return ERR_OK;
		if (after->key + 1 > lo)
			lo = after->key + 1;
	}
	if (*n == max || lo >= hi)
		return ERR_OK;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, keyed_stmts[drive][1]);
	bind_filter(st, f, drive, max - *n);
	sql_bind_i64(st, 11, lo);
	sql_bind_i64(st, 12, hi);
	return list_rows(db, st, true, max, ret, n);
}

enum err storage_device_list(struct storage *s, const struct device_filter *f,
			     const struct device_cursor *after, unsigned max, struct device *ret,
			     unsigned *ret_count)
{
	enum drive drive = list_drive(f);
	struct db *db;
	enum err e;
	unsigned n = 0;

	if (after && after->keyed != (drive != DRIVE_NUM))
		return ERR_INVALID;
	if ((e = db_get(s, &db)))
		return e;
	if (drive != DRIVE_NUM) {
		e = list_keyed(db, f, drive, after, max, ret, &n);
	} else {
		/* The index that drives the walk: a tag, a group, a class, or none. */
		CLEANUP_STMT struct sql_stmt *st =
			db_stmt(db, f->tag	  ? STMT_DEVICE_LIST_BY_TAG
				    : f->group	  ? STMT_DEVICE_LIST_BY_GROUP
				    : f->class_id ? STMT_DEVICE_LIST_BY_CLASS
						  : STMT_DEVICE_LIST);
		bind_filter(st, f, drive, max);
		sql_bind_i64(st, 1, after ? after->id : 0);
		e = list_rows(db, st, false, max, ret, &n);
	}
	if (e) {
		while (n)
			device_release(&ret[--n]);
		return e;
	}
	*ret_count = n;
	return ERR_OK;
}

enum err db_device_set_text(struct db *db, enum stmt which, int64_t num, const char *text)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, which);

	sql_bind_i64(st, 1, num);
	if (text[0])
		db_bind_text(st, 2, text);
	return db_result(sql_step(st));
}

static bool tag_listed(const char *tag, const char *const *tags, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(tag, tags[i]) == 0)
			return true;
	return false;
}

/* Whether the device's tags are exactly these (in any order, repeats
 * allowed). */
enum err db_device_tags_same(struct db *db, int64_t num, const char *const *tags, unsigned n,
			     bool *ret)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_TAGS);
	long found = 0; /* stored tags, less the distinct listed ones */
	bool same = true;
	int rc;

	sql_bind_i64(st, 1, num);
	while (same && (rc = sql_step(st)) == SQL_ROW) {
		same = tag_listed(db_column_text(st, 0), tags, n);
		found++;
	}
	if (same && rc != SQL_DONE)
		return db_result(rc);
	/* Every stored tag is listed; every listed one stored? */
	for (unsigned i = 0; same && i < n; i++) {
		unsigned first = 0;
		while (strcmp(tags[first], tags[i]) != 0)
			first++;
		if (first == i)
			found--; /* a distinct listed tag, matched by a stored one */
	}
	*ret = same && found == 0;
	return ERR_OK;
}

enum err storage_device_update(struct storage *s, const char *id, const struct device_change *c,
			       const char *actor, bool *ret_membership_changed)
{
	struct device_ident ident = {0};
	struct db *db;
	bool membership = false, same = true;
	enum err e = db_get(s, &db);

	if (!e)
		e = db_begin(db);
	if (e)
		return e;
	e = ident_by_id(db, id, &ident);
	if (!e && c->group) {
		e = db_device_set_text(db, STMT_DEVICE_SET_GROUP, ident.num, c->group);
		membership = !e && sql_changes(db) > 0;
	}
	if (!e && c->attributes)
		e = db_device_set_text(db, STMT_DEVICE_SET_ATTRIBUTES, ident.num, c->attributes);
	if (!e && c->report_key)
		e = db_device_set_text(db, STMT_DEVICE_SET_REPORT_KEY, ident.num, c->report_key);
	if (!e && c->set_tags &&
	    !(e = db_device_tags_same(db, ident.num, c->tags, c->tag_count, &same)) && !same) {
		e = db_device_set_tags(db, ident.num, c->tags, c->tag_count);
		membership = true;
	}
	if (!e)
		e = db_audit(db, actor, "device.updated", "device", id);
	if (e) {
		db_rollback(db);
		return e;
	}
	if ((e = db_commit(db)))
		return e;
	*ret_membership_changed = membership;
	return ERR_OK;
}

enum err storage_device_report_key(struct storage *s, int64_t num, char **ret_pem)
{
	struct db *db;
	enum err e = db_get(s, &db);

	*ret_pem = NULL;
	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_REPORT_KEY);
	sql_bind_i64(st, 1, num);
	if ((e = db_step_row(st)))
		return e;
	if (!sql_col_null(st, 0) && !(*ret_pem = strdup(db_column_text(st, 0))))
		return ERR_NOMEM;
	return ERR_OK;
}

/* The thread's connection, in a write transaction. */
static enum err change_begin(struct storage *s, struct db **ret_db)
{
	enum err e = db_get(s, ret_db);

	return e ? e : db_begin(*ret_db);
}

/* After a change e of the device id: its audit row and the commit, or the
 * rollback. */
static enum err change_end(struct db *db, enum err e, const char *actor, const char *action,
			   const char *id, const char *detail)
{
	if (!e)
		e = db_audit_detail(db, actor, action, "device", id, detail);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

enum err storage_device_delete(struct storage *s, const char *id, const char *actor)
{
	struct db *db;
	enum err e = change_begin(s, &db);

	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_DELETE);
		db_bind_text(st, 1, id);
		e = db_result(sql_step(st));
		if (!e && sql_changes(db) == 0)
			e = ERR_NOT_FOUND;
	}
	return change_end(db, e, actor, "device.deleted", id, NULL);
}

enum err storage_device_set_token(struct storage *s, const char *id, const uint8_t hash[SHA256_LEN],
				  int64_t grace, const char *actor, int64_t *ret_previous_until)
{
	char detail[32] = "";
	int64_t until = 0;
	struct db *db;
	enum err e = change_begin(s, &db);

	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_SET_TOKEN);
		db_bind_text(st, 1, id);
		db_bind_blob(st, 2, hash, SHA256_LEN);
		if (grace > 0)
			sql_bind_i64(st, 3, time_now() + grace);
		int rc = sql_step(st);
		if (rc == SQL_ROW) /* RETURNING: one row when the device exists */
			until = sql_col_i64(st, 0);
		e = rc == SQL_DONE ? ERR_NOT_FOUND : db_result(rc);
	}
	if (grace > 0)
		snprintf(detail, sizeof(detail), "grace %llds", (long long)grace);
	e = change_end(db, e, actor, "device.token_rotated", id, detail[0] ? detail : NULL);
	if (!e)
		*ret_previous_until = until;
	return e;
}

/* Sightings per transaction: a flush of a million polling devices must not
 * hold the write lock for seconds (issue 15). 2,000 rows of a
 * million-device table held it for a few hundred ms while the group
 * commit queued behind; 500 keep each turn short. */
#define SEEN_CHUNK 500

enum err storage_device_seen(struct storage *s, const struct device_seen *entries, unsigned n)
{
	struct db *db;
	enum err e = db_get(s, &db);

	for (unsigned from = 0; !e && from < n; from += SEEN_CHUNK) {
		unsigned to = n - from > SEEN_CHUNK ? from + SEEN_CHUNK : n;
		if (from)
			usleep(1000); /* a gap for the writers waiting (storage.c) */
		if ((e = db_begin(db)))
			break;
		for (unsigned i = from; i < to && !e; i++) {
			CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_SEEN);
			sql_bind_i64(st, 1, entries[i].num);
			sql_bind_i64(st, 2, entries[i].at);
			e = db_result(sql_step(st));
			if (!e && entries[i].has_sequence) {
				CLEANUP_STMT struct sql_stmt *seq =
					db_stmt(db, STMT_DEVICE_SEEN_SEQUENCE);
				sql_bind_i64(seq, 1, entries[i].num);
				sql_bind_i64(seq, 2, (int64_t)entries[i].sequence);
				e = db_result(sql_step(seq));
			}
			if (!e && entries[i].news) {
				CLEANUP_STMT struct sql_stmt *news =
					db_stmt(db, STMT_ASSIGNMENT_NEWS);
				sql_bind_i64(news, 1, entries[i].num);
				sql_bind_i64(news, 2, entries[i].at);
				e = db_result(sql_step(news));
			}
		}
		if (e)
			db_rollback(db);
		else
			e = db_commit(db);
	}
	return e;
}
