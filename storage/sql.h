/* Internal to storage/: the statement API the shared storage code is
 * written against, free of any SQL dialect (issue 21). A backend (today
 * storage/sqlite/) prepares each statement of the table (enum stmt) once per
 * connection and hands it out as a struct sql_stmt whose ops it fills.
 *
 * Dispatch is one indirect call per bind, step and column read through the
 * statement's own ops: docs/design.md "Storage layout" has the measurement
 * that this costs nothing the benchmarks can see. */
#ifndef SUITD_STORAGE_SQL_H
#define SUITD_STORAGE_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What sql_step() and the binds answer. The values are SQLite's primary
 * result codes (the SQLite backend passes its own through, extended codes
 * included: compare with SQL_CODE()); another backend maps its errors onto
 * them (PostgreSQL: unique_violation is SQL_CONSTRAINT, disk_full is
 * SQL_FULL, a lost connection SQL_UNAVAILABLE). db_error() turns them into
 * the project's enum err. */
enum sql_code {
	SQL_OK = 0,
	SQL_ERROR = 1,
	SQL_BUSY = 5,
	SQL_LOCKED = 6,
	SQL_NOMEM = 7,
	SQL_IOERR = 10,
	SQL_CORRUPT = 11,
	SQL_FULL = 13,
	SQL_CANTOPEN = 14,
	SQL_TOOBIG = 18,
	SQL_CONSTRAINT = 19,
	SQL_ROW = 100,
	SQL_DONE = 101,
	/* A database server's, which SQLite has not (issue 21): the connection
	 * is lost or the server down (ERR_STORAGE_UNAVAILABLE: 503 with
	 * Retry-After; the backend reconnects), and statement_timeout
	 * (ERR_STORAGE_TIMEOUT). Their low bytes are no SQLite primary code. */
	SQL_UNAVAILABLE = 200,
	SQL_TIMEOUT = 201,
};
#define SQL_CODE(rc) ((rc)&0xff)

struct sql_stmt;

/* What a backend implements per statement. Parameters are 1-based and
 * named ?N in the statement text (a backend whose dialect says $N maps
 * them in its own text); columns are 0-based. */
struct sql_stmt_ops {
	int (*bind_i64)(struct sql_stmt *st, int idx, int64_t v);
	/* Copies the text / bytes. */
	int (*bind_text)(struct sql_stmt *st, int idx, const char *text);
	int (*bind_blob)(struct sql_stmt *st, int idx, const void *data, size_t len);
	/* Does not copy: data stays valid until the statement is reset. */
	int (*bind_blob_ref)(struct sql_stmt *st, int idx, const void *data, size_t len);
	int (*bind_null)(struct sql_stmt *st, int idx);
	int (*step)(struct sql_stmt *st);
	/* Back to before the first step, bindings cleared. */
	void (*reset)(struct sql_stmt *st);
	int64_t (*col_i64)(struct sql_stmt *st, int col);
	/* NULL for SQL NULL; valid until the next step or reset. */
	const char *(*col_text)(struct sql_stmt *st, int col);
	const void *(*col_blob)(struct sql_stmt *st, int col);
	size_t (*col_bytes)(struct sql_stmt *st, int col);
	bool (*col_null)(struct sql_stmt *st, int col);
};

/* A backend's statement starts with this; the rest is the backend's. */
struct sql_stmt {
	const struct sql_stmt_ops *ops;
};

static inline int sql_bind_i64(struct sql_stmt *st, int idx, int64_t v)
{
	return st->ops->bind_i64(st, idx, v);
}

static inline int sql_bind_text(struct sql_stmt *st, int idx, const char *text)
{
	return st->ops->bind_text(st, idx, text);
}

static inline int sql_bind_blob(struct sql_stmt *st, int idx, const void *data, size_t len)
{
	return st->ops->bind_blob(st, idx, data, len);
}

static inline int sql_bind_blob_ref(struct sql_stmt *st, int idx, const void *data, size_t len)
{
	return st->ops->bind_blob_ref(st, idx, data, len);
}

static inline int sql_bind_null(struct sql_stmt *st, int idx)
{
	return st->ops->bind_null(st, idx);
}

static inline int sql_step(struct sql_stmt *st)
{
	return st->ops->step(st);
}

static inline void sql_reset(struct sql_stmt *st)
{
	st->ops->reset(st);
}

static inline int64_t sql_col_i64(struct sql_stmt *st, int col)
{
	return st->ops->col_i64(st, col);
}

/* For the columns that hold small numbers (flags, counts, codes). */
static inline int sql_col_int(struct sql_stmt *st, int col)
{
	return (int)st->ops->col_i64(st, col);
}

static inline const char *sql_col_text(struct sql_stmt *st, int col)
{
	return st->ops->col_text(st, col);
}

static inline const void *sql_col_blob(struct sql_stmt *st, int col)
{
	return st->ops->col_blob(st, col);
}

static inline size_t sql_col_bytes(struct sql_stmt *st, int col)
{
	return st->ops->col_bytes(st, col);
}

static inline bool sql_col_null(struct sql_stmt *st, int col)
{
	return st->ops->col_null(st, col);
}

#endif
