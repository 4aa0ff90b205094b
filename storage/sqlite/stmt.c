/* The SQLite backend of sql.h and backend.h: each op one call into SQLite. */
#include <assert.h>

#include "storage/backend.h"
#include "storage/sqlite/sqlite.h"

/* sql.h's codes are SQLite's own: results pass through unchanged. */
static_assert(SQL_OK == SQLITE_OK && SQL_ERROR == SQLITE_ERROR && SQL_BUSY == SQLITE_BUSY &&
		      SQL_LOCKED == SQLITE_LOCKED && SQL_NOMEM == SQLITE_NOMEM &&
		      SQL_IOERR == SQLITE_IOERR && SQL_CORRUPT == SQLITE_CORRUPT &&
		      SQL_FULL == SQLITE_FULL && SQL_CANTOPEN == SQLITE_CANTOPEN &&
		      SQL_TOOBIG == SQLITE_TOOBIG && SQL_CONSTRAINT == SQLITE_CONSTRAINT &&
		      SQL_ROW == SQLITE_ROW && SQL_DONE == SQLITE_DONE,
	      "sql.h codes are SQLite's");

static sqlite3_stmt *h(struct sql_stmt *st)
{
	return ((struct sqlite_stmt *)(void *)st)->handle;
}

static int bind_i64(struct sql_stmt *st, int idx, int64_t v)
{
	return sqlite3_bind_int64(h(st), idx, v);
}

static int bind_text(struct sql_stmt *st, int idx, const char *text)
{
	return sqlite3_bind_text(h(st), idx, text, -1, SQLITE_TRANSIENT);
}

static int bind_blob(struct sql_stmt *st, int idx, const void *data, size_t len)
{
	return sqlite3_bind_blob64(h(st), idx, data, (sqlite3_uint64)len, SQLITE_TRANSIENT);
}

static int bind_blob_ref(struct sql_stmt *st, int idx, const void *data, size_t len)
{
	return sqlite3_bind_blob64(h(st), idx, data, (sqlite3_uint64)len, SQLITE_STATIC);
}

static int bind_null(struct sql_stmt *st, int idx)
{
	return sqlite3_bind_null(h(st), idx);
}

static int step(struct sql_stmt *st)
{
	return sqlite3_step(h(st));
}

static void reset(struct sql_stmt *st)
{
	sqlite3_reset(h(st));
	sqlite3_clear_bindings(h(st));
}

static int64_t col_i64(struct sql_stmt *st, int col)
{
	return sqlite3_column_int64(h(st), col);
}

static const char *col_text(struct sql_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(h(st), col);
}

static const void *col_blob(struct sql_stmt *st, int col)
{
	return sqlite3_column_blob(h(st), col);
}

static size_t col_bytes(struct sql_stmt *st, int col)
{
	int n = sqlite3_column_bytes(h(st), col);

	return n > 0 ? (size_t)n : 0;
}

static bool col_null(struct sql_stmt *st, int col)
{
	return sqlite3_column_type(h(st), col) == SQLITE_NULL;
}

static const struct sql_stmt_ops sqlite_stmt_ops = {
	.bind_i64 = bind_i64,
	.bind_text = bind_text,
	.bind_blob = bind_blob,
	.bind_blob_ref = bind_blob_ref,
	.bind_null = bind_null,
	.step = step,
	.reset = reset,
	.col_i64 = col_i64,
	.col_text = col_text,
	.col_blob = col_blob,
	.col_bytes = col_bytes,
	.col_null = col_null,
};

void sqlite_stmt_init(struct sqlite_stmt *st, sqlite3_stmt *handle)
{
	st->base.ops = &sqlite_stmt_ops;
	st->handle = handle;
}

static int changes(struct db *db)
{
	return sqlite3_changes(sqlite_db(db)->handle);
}

static bool in_transaction(struct db *db)
{
	return !sqlite3_get_autocommit(sqlite_db(db)->handle);
}

static int64_t last_insert_id(struct db *db)
{
	return sqlite3_last_insert_rowid(sqlite_db(db)->handle);
}

const struct db_backend sqlite_backend = {
	.name = "sqlite",
	.changes = changes,
	.in_transaction = in_transaction,
	.last_insert_id = last_insert_id,
};
