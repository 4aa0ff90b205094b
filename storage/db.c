/* The shared half of struct db: result codes, stepping, transactions, and
 * the dispatch to the connection's backend (backend.h). */
#include "storage/db.h"

#include "storage/backend.h"

enum err db_error(int rc)
{
	switch (SQL_CODE(rc)) {
	case SQL_OK:
	case SQL_DONE:
	case SQL_ROW:
		return ERR_OK;
	case SQL_BUSY:
	case SQL_LOCKED:
		return ERR_BUSY;
	case SQL_NOMEM:
		return ERR_NOMEM;
	case SQL_CONSTRAINT:
		return ERR_CONFLICT;
	case SQL_TOOBIG:
		return ERR_TOO_LARGE;
	case SQL_IOERR:
	case SQL_FULL: /* the disk, or [storage] max_size */
		return ERR_NO_SPACE;
	case SQL_CANTOPEN:
		return ERR_IO;
	case SQL_UNAVAILABLE:
		return ERR_STORAGE_UNAVAILABLE;
	case SQL_TIMEOUT:
		return ERR_STORAGE_TIMEOUT;
	default:
		return ERR_STORAGE;
	}
}

enum err db_result(int rc)
{
	if (rc == SQL_DONE || rc == SQL_ROW)
		return ERR_OK;
	return db_error(rc) ? db_error(rc) : ERR_STORAGE;
}

struct sql_stmt *db_stmt(struct db *db, enum stmt id)
{
	return db->stmts[id];
}

enum err db_step_row(struct sql_stmt *st)
{
	int rc = sql_step(st);

	if (rc == SQL_ROW)
		return ERR_OK;
	return rc == SQL_DONE ? ERR_NOT_FOUND : db_result(rc);
}

enum err db_step_once(struct db *db, enum stmt id)
{
	struct sql_stmt *st = db->stmts[id];
	int rc = sql_step(st);

	sql_reset(st);
	return rc == SQL_ROW ? ERR_STORAGE : db_result(rc);
}

/* How long a write transaction queues for its turn before it goes to the
 * database's own lock anyway: the busy timeout of the SQLite backend. */
#define WRITER_TURN_WAIT_MS 5000

static void writer_turn_end(struct db *db)
{
	if (db->writer_turn) {
		db->writer_turn = false;
		turnstile_leave(&db->storage->writers);
	}
}

enum err db_begin(struct db *db)
{
	/* A transaction that ended without db_commit() or db_rollback() (the
	 * database rolled it back itself) left nothing to announce. */
	db_events_end(db, false);
	if (!db->writer_turn)
		db->writer_turn = turnstile_enter(&db->storage->writers, WRITER_TURN_WAIT_MS);
	enum err e = db_step_once(db, STMT_BEGIN_IMMEDIATE);
	if (e)
		writer_turn_end(db);
	return e;
}

enum err db_commit(struct db *db)
{
	enum err e = db_step_once(db, STMT_COMMIT);

	if (e)
		db_rollback(db);
	else {
		writer_turn_end(db);
		db_events_end(db, true);
	}
	return e;
}

void db_rollback(struct db *db)
{
	if (sql_in_transaction(db))
		db_step_once(db, STMT_ROLLBACK);
	writer_turn_end(db);
	db_events_end(db, false);
}

int sql_changes(struct db *db)
{
	return db->backend->changes(db);
}

bool sql_in_transaction(struct db *db)
{
	return db->backend->in_transaction(db);
}

int64_t sql_last_insert_id(struct db *db)
{
	return db->backend->last_insert_id(db);
}

enum err storage_ping(struct storage *s)
{
	struct db *db;
	enum err e = db_get(s, &db);
	CLEANUP_STMT struct sql_stmt *st = NULL;

	int rc;

	if (e)
		return e;
	st = db_stmt(db, STMT_PING);
	rc = sql_step(st);
	/* A database server that is gone says so (/readyz: 503 either way). */
	if (rc == SQL_UNAVAILABLE)
		return ERR_STORAGE_UNAVAILABLE;
	return rc == SQL_ROW ? ERR_OK : ERR_UNAVAILABLE;
}
