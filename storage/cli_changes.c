/* The generation counter of changes made by the command line, which a
 * running daemon polls to reload what it holds in memory. */
#include "storage/db.h"

enum err storage_cli_changes_mark(struct storage *s)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_CLI_CHANGES_MARK);
	return db_result(sql_step(st));
}

enum err storage_cli_changes(struct storage *s, int64_t *ret_generation)
{
	struct db *db;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_CLI_CHANGES);
	if ((rc = sql_step(st)) != SQL_ROW)
		return db_result(rc == SQL_DONE ? SQL_CORRUPT : rc);
	*ret_generation = sql_col_i64(st, 0);
	return ERR_OK;
}
