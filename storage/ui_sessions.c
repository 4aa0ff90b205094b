#include "storage/ui_sessions.h"

#include <stdio.h>
#include <string.h>

#include "storage/db.h"

enum err storage_ui_session_insert(struct storage *s, const uint8_t hash[SHA256_LEN],
				   const uint8_t key_hash[SHA256_LEN], const char *csrf,
				   int64_t now)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_UI_SESSION_INSERT);
	db_bind_blob(st, 1, hash, SHA256_LEN);
	db_bind_blob(st, 2, key_hash, SHA256_LEN);
	db_bind_text(st, 3, csrf);
	sql_bind_i64(st, 4, now);
	e = db_error(sql_step(st));
	if (!e && sql_changes(db) == 0)
		e = ERR_NOT_FOUND; /* revoked between the check and here */
	return e;
}

enum err storage_ui_session_get(struct storage *s, const uint8_t hash[SHA256_LEN],
				struct ui_session *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_UI_SESSION_GET);
	db_bind_blob(st, 1, hash, SHA256_LEN);
	if ((e = db_step_row(st)))
		return e;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->csrf, sizeof(ret->csrf), "%s", db_column_text(st, 0));
	ret->created_at = sql_col_i64(st, 1);
	ret->last_used_at = sql_col_i64(st, 2);
	db_api_key_from_row(st, 3, &ret->key);
	if (sql_col_bytes(st, 9) == SHA256_LEN)
		memcpy(ret->key.hash, sql_col_blob(st, 9), SHA256_LEN);
	return ERR_OK;
}

static enum err session_by_hash(struct storage *s, enum stmt id, const uint8_t hash[SHA256_LEN],
				int64_t now)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, id);
	db_bind_blob(st, 1, hash, SHA256_LEN);
	if (id == STMT_UI_SESSION_TOUCH)
		sql_bind_i64(st, 2, now);
	return db_error(sql_step(st));
}

enum err storage_ui_session_touch(struct storage *s, const uint8_t hash[SHA256_LEN], int64_t now)
{
	return session_by_hash(s, STMT_UI_SESSION_TOUCH, hash, now);
}

enum err storage_ui_session_delete(struct storage *s, const uint8_t hash[SHA256_LEN])
{
	return session_by_hash(s, STMT_UI_SESSION_DELETE, hash, 0);
}

enum err storage_ui_session_sweep(struct storage *s, int64_t idle_before, int64_t created_before)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_UI_SESSION_SWEEP);
	sql_bind_i64(st, 1, idle_before);
	sql_bind_i64(st, 2, created_before);
	return db_error(sql_step(st));
}
