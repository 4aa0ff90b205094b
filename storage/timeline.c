#include "storage/timeline.h"

#include <stdio.h>
#include <string.h>

#include "storage/db.h"

enum err storage_device_assignments(struct storage *s, int64_t device_num, int64_t after,
				    unsigned max, struct device_assignment *ret,
				    unsigned *ret_count)
{
	struct db *db;
	enum err e = db_get(s, &db);
	unsigned n = 0;
	int rc = SQL_DONE;

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_DEVICE_ASSIGNMENTS);
	sql_bind_i64(st, 1, device_num);
	sql_bind_i64(st, 2, after);
	sql_bind_i64(st, 3, max);
	while (n < max && (rc = sql_step(st)) == SQL_ROW) {
		struct device_assignment *a = &ret[n++];
		memset(a, 0, sizeof(*a));
		a->id = sql_col_i64(st, 0);
		a->deployment = sql_col_i64(st, 1);
		a->stage = (unsigned)sql_col_i64(st, 2);
		if (!assignment_state_parse(db_column_text(st, 3), &a->state))
			a->state = ASSIGN_FAILED;
		snprintf(a->reason, sizeof(a->reason), "%s", db_column_text(st, 4));
		a->created_at = sql_col_i64(st, 5);
		a->updated_at = sql_col_i64(st, 6);
	}
	if (n < max && rc != SQL_DONE)
		return db_result(rc);
	*ret_count = n;
	return ERR_OK;
}
