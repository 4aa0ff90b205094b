#include "storage/fleet_stats.h"

#include "storage/db.h"

static uint64_t column_count(struct sql_stmt *st, int col)
{
	int64_t v = sql_col_i64(st, col);

	return v > 0 ? (uint64_t)v : 0;
}

enum err storage_fleet_deployments(struct storage *s, struct fleet_deployments *ret)
{
	struct fleet_deployments f = {0};
	enum deployment_status status;
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_FLEET_DEPLOYMENTS);
	while ((rc = sql_step(st)) == SQL_ROW) {
		if (!deployment_status_parse(db_column_text(st, 0), &status))
			continue;
		f.by_status[status] = column_count(st, 1);
		/* A canceled deployment keeps the flag of the pause it had. */
		if (status == DEPLOYMENT_PAUSED)
			f.paused_auto = column_count(st, 2);
	}
	if ((e = db_result(rc)))
		return e;
	*ret = f;
	return ERR_OK;
}

enum err storage_fleet_assignments(struct storage *s, struct fleet_assignments *ret)
{
	struct fleet_assignments f = {0};
	enum assignment_state state;
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	/* Summed here: a GROUP BY would sort the rows first (3× slower on
	 * 300,000 of them, docs/operations.md). */
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_FLEET_ASSIGNMENTS);
	while ((rc = sql_step(st)) == SQL_ROW)
		if (assignment_state_parse(db_column_text(st, 0), &state))
			f.by_state[state] += column_count(st, 1);
	if ((e = db_result(rc)))
		return e;
	*ret = f;
	return ERR_OK;
}

enum err storage_fleet_devices(struct storage *s, int64_t seen_since, uint64_t *ret_registered,
			       uint64_t *ret_seen)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_FLEET_DEVICES);
	sql_bind_i64(st, 1, seen_since);
	if ((rc = sql_step(st)) != SQL_ROW)
		return rc == SQL_DONE ? ERR_STORAGE : db_result(rc); /* aggregates: one row */
	*ret_registered = column_count(st, 0);
	*ret_seen = column_count(st, 1);
	return ERR_OK;
}

enum err storage_fleet_database_size(struct storage *s, uint64_t *ret_bytes,
				     uint64_t *ret_free_bytes)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_FLEET_DATABASE_SIZE);
	if ((rc = sql_step(st)) != SQL_ROW)
		return rc == SQL_DONE ? ERR_STORAGE : db_result(rc); /* aggregates: one row */
	*ret_bytes = column_count(st, 0);
	*ret_free_bytes = column_count(st, 1);
	return ERR_OK;
}
