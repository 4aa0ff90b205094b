#include "storage/device_import.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "storage/db.h"

/* A fixed UUID column against a given one: equal, or not given. */
static bool uuid_same(struct sql_stmt *st, int col, const uint8_t *given)
{
	if (!given)
		return true;
	return sql_col_bytes(st, col) == 16 && memcmp(sql_col_blob(st, col), given, 16) == 0;
}

static enum err fail(struct device_import_result *r, enum err e, const char *detail)
{
	r->outcome = DEVICE_IMPORT_FAILED;
	r->error = e;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
	return e;
}

/* An existing device: change what the line gives and differs. */
static enum err update_row(struct db *db, struct sql_stmt *found,
			   const struct device_import_row *row, struct device_import_result *r,
			   bool *ret_membership)
{
	bool changed = false, same;
	enum err e = ERR_OK;

	r->num = sql_col_i64(found, 0);
	if (!uuid_same(found, 2, row->vendor) || !uuid_same(found, 3, row->class_id))
		return fail(r, ERR_CONFLICT,
			    "vendor_id and class_id of an existing device cannot change (delete "
			    "and re-create it)");
	if (row->group && strcmp(row->group, db_column_text(found, 1)) != 0) {
		e = db_device_set_text(db, STMT_DEVICE_SET_GROUP, r->num, row->group);
		changed = *ret_membership = r->identity_changed = true;
	}
	if (!e && row->attributes && strcmp(row->attributes, db_column_text(found, 4)) != 0) {
		e = db_device_set_text(db, STMT_DEVICE_SET_ATTRIBUTES, r->num, row->attributes);
		changed = true;
	}
	if (!e && row->set_tags &&
	    !(e = db_device_tags_same(db, r->num, row->tags, row->tag_count, &same)) && !same) {
		e = db_device_set_tags(db, r->num, row->tags, row->tag_count);
		changed = *ret_membership = true;
	}
	if (!e && row->token_hash &&
	    !(sql_col_bytes(found, 5) == SHA256_LEN &&
	      crypto_equal(sql_col_blob(found, 5), row->token_hash, SHA256_LEN))) {
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_SET_TOKEN);
		db_bind_text(st, 1, row->id);
		db_bind_blob(st, 2, row->token_hash, SHA256_LEN);
		e = db_result(sql_step(st));
		changed = r->identity_changed = true;
		if (e == ERR_CONFLICT)
			return fail(r, e, "another device has this token");
	}
	if (e)
		return fail(r, e, "cannot update the device");
	r->outcome = changed ? DEVICE_IMPORT_UPDATED : DEVICE_IMPORT_UNCHANGED;
	return ERR_OK;
}

static enum err import_row(struct db *db, const struct device_import_row *row,
			   const struct stage_planner *planner, struct device_import_result *r)
{
	bool membership = false;
	enum err e;
	int rc;

	memset(r, 0, sizeof(*r));
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_IMPORT_LOOKUP);
		db_bind_text(st, 1, row->id);
		rc = sql_step(st);
		if (rc == SQL_ROW) {
			e = update_row(db, st, row, r, &membership);
			if (e)
				return e;
		} else if (rc != SQL_DONE) {
			return fail(r, db_result(rc), "cannot read the device");
		}
	}
	if (rc == SQL_DONE) {
		struct device_new d = {.id = row->id,
				       .group = row->group,
				       .vendor = row->vendor,
				       .class_id = row->class_id,
				       .attributes = row->attributes,
				       .tags = row->tags,
				       .tag_count = row->set_tags ? row->tag_count : 0,
				       .token_hash = row->token_hash ? row->token_hash
								     : row->new_token_hash};
		/* The id is free (looked up above): only the token can clash. */
		if ((e = db_device_insert(db, &d, &r->num)) == ERR_EXISTS)
			return fail(r, ERR_CONFLICT, "another device has this token");
		if (e)
			return fail(r, e, "cannot create the device");
		r->outcome = DEVICE_IMPORT_CREATED;
		membership = true;
	}
	if (membership && (e = db_deployment_join(db, r->num, planner, &r->joined)))
		return fail(r, e, "cannot join the device to its deployment");
	return ERR_OK;
}

static enum err imported_event(struct db *db, const char *actor,
			       const struct device_import_row *rows,
			       const struct device_import_result *results, unsigned n)
{
	unsigned created = 0, updated = 0;
	const char *first = NULL, *last = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (results[i].outcome == DEVICE_IMPORT_CREATED)
			created++;
		else if (results[i].outcome == DEVICE_IMPORT_UPDATED)
			updated++;
		else
			continue;
		if (!first)
			first = rows[i].id;
		last = rows[i].id;
	}
	if (!first)
		return ERR_OK;
	json_t *data = json_pack("{s:I, s:I, s:s, s:s}", "created", (json_int_t)created, "updated",
				 (json_int_t)updated, "first", first, "last", last);
	if (!data)
		return ERR_NOMEM;
	return db_event(db, "devices.imported", actor, "devices:import", 0, NULL, true, data);
}

enum err storage_devices_import(struct storage *s, const struct device_import_row *rows, unsigned n,
				const struct stage_planner *planner, bool dry_run,
				const char *actor, struct device_import_result *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (!e)
		e = db_begin(db);
	for (unsigned i = 0; !e && i < n; i++) {
		if ((e = db_step_once(db, STMT_DEVICE_IMPORT_SAVEPOINT)))
			break;
		if (import_row(db, &rows[i], planner, &ret[i]))
			e = db_step_once(db, STMT_DEVICE_IMPORT_UNDO);
		if (!e)
			e = db_step_once(db, STMT_DEVICE_IMPORT_RELEASE);
	}
	if (!e && !dry_run)
		e = imported_event(db, actor, rows, ret, n);
	if (!e) {
		if (dry_run) {
			db_rollback(db);
			return ERR_OK;
		}
		e = db_commit(db);
	} else {
		db_rollback(db);
	}
	if (e)
		for (unsigned i = 0; i < n; i++)
			fail(&ret[i], e, "the batch of this line did not commit");
	return e;
}
