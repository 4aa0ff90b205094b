#include "storage/api_keys.h"

#include <stdio.h>
#include <string.h>

#include "common/timeutil.h"
#include "storage/db.h"

static const char *const role_names[] = {
	[ROLE_NONE] = "none",
	[ROLE_READER] = "reader",
	[ROLE_OPERATOR] = "operator",
	[ROLE_ADMIN] = "admin",
};

const char *role_name(enum role role)
{
	return role <= ROLE_ADMIN ? role_names[role] : "none";
}

bool role_parse(const char *name, enum role *ret_role)
{
	for (int r = ROLE_READER; r <= ROLE_ADMIN; r++) {
		if (strcmp(name, role_names[r]) == 0) {
			*ret_role = (enum role)r;
			return true;
		}
	}
	return false;
}

enum err storage_api_key_insert(struct storage *s, const char *name, enum role role,
				const uint8_t hash[SHA256_LEN], int64_t expires_at,
				const char *actor)
{
	char detail[16 + RFC3339_LEN] = "";
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	e = db_begin(db);
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_API_KEY_INSERT);
		db_bind_text(st, 1, name);
		db_bind_text(st, 2, role_name(role));
		db_bind_blob(st, 3, hash, SHA256_LEN);
		sql_bind_i64(st, 4, time_now());
		if (expires_at)
			sql_bind_i64(st, 5, expires_at);
		e = db_error(sql_step(st));
	}
	if (e == ERR_CONFLICT)
		e = ERR_EXISTS;
	if (expires_at) {
		char at[RFC3339_LEN];
		time_format_rfc3339(expires_at, at);
		snprintf(detail, sizeof(detail), "expires %s", at);
	}
	if (!e)
		e = db_audit_detail(db, actor, "key.created", "key", name,
				    detail[0] ? detail : NULL);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

void db_api_key_from_row(struct sql_stmt *st, int first, struct api_key *k)
{
	snprintf(k->name, sizeof(k->name), "%s", db_column_text(st, first));
	if (!role_parse(db_column_text(st, first + 1), &k->role))
		k->role = ROLE_NONE;
	k->created_at = sql_col_i64(st, first + 2);
	k->last_used_at = sql_col_i64(st, first + 3);
	k->revoked_at = sql_col_i64(st, first + 4);
	k->expires_at = sql_col_i64(st, first + 5);
}

enum err storage_api_key_by_hash(struct storage *s, const uint8_t hash[SHA256_LEN],
				 struct api_key *ret_key)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_API_KEY_BY_HASH);
	db_bind_blob(st, 1, hash, SHA256_LEN);
	if ((e = db_step_row(st)))
		return e;
	memset(ret_key, 0, sizeof(*ret_key));
	db_api_key_from_row(st, 0, ret_key);
	memcpy(ret_key->hash, hash, SHA256_LEN);
	return ERR_OK;
}

enum err storage_api_key_touch(struct storage *s, const uint8_t hash[SHA256_LEN], int64_t now)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_API_KEY_TOUCH);
	db_bind_blob(st, 1, hash, SHA256_LEN);
	sql_bind_i64(st, 2, now);
	return db_error(sql_step(st));
}

enum err storage_api_key_list(struct storage *s, int64_t after, unsigned max,
			      struct api_key *ret_keys, unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_API_KEY_LIST);
	sql_bind_i64(st, 1, after);
	sql_bind_i64(st, 2, max);
	while ((rc = sql_step(st)) == SQL_ROW && n < max) {
		memset(&ret_keys[n], 0, sizeof(ret_keys[n]));
		ret_keys[n].id = sql_col_i64(st, 0);
		db_api_key_from_row(st, 1, &ret_keys[n]);
		n++;
	}
	if (rc != SQL_DONE && rc != SQL_ROW)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}

enum err storage_api_key_revoke(struct storage *s, const char *name, const char *actor)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	e = db_begin(db);
	if (e)
		return e;
	{
		CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_API_KEY_REVOKE);
		db_bind_text(st, 1, name);
		sql_bind_i64(st, 2, time_now());
		e = db_error(sql_step(st));
		if (!e && sql_changes(db) == 0)
			e = ERR_NOT_FOUND;
	}
	if (!e)
		e = db_audit(db, actor, "key.revoked", "key", name);
	if (e) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}
