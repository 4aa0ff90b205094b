/* The PostgreSQL backend of sql.h and backend.h's connection ops: each
 * statement prepared once per connection (PQprepare), parameters in text
 * format (bytea in binary), results in binary format and fetched whole at
 * the first step (the shared code interleaves statements on one
 * connection), served row by row from there (docs/design.md "Storage:
 * PostgreSQL backend"). */
#include <assert.h>
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/postgresql/pg.h"
#include "storage/postgresql/pg_error.h"
#include "storage/postgresql/pg_types.h"
#include "storage/postgresql/statements.h"

static const char *const statement_sql[] = {
#define STATEMENT_SQL(name, sql) [STMT_##name] = sql,
	PG_STATEMENT_LIST(STATEMENT_SQL)
#undef STATEMENT_SQL
};

/* Text for every name, as the SQLite backend checks its own. */
enum {
#define STATEMENT_ONE(name, sql) +1
	PG_STATEMENT_TEXTS = 0 PG_STATEMENT_LIST(STATEMENT_ONE)
#undef STATEMENT_ONE
};
static_assert((int)PG_STATEMENT_TEXTS == (int)STMT__COUNT,
	      "PostgreSQL text for every statement of storage/statements.h");

/* The prepared statements' names on the server: the names of the table. */
static const char *const statement_names[] = {
#define STATEMENT_NAME(name) [STMT_##name] = #name,
	STATEMENT_NAMES(STATEMENT_NAME)
#undef STATEMENT_NAME
};

static struct pg_stmt *pst(struct sql_stmt *st)
{
	return (struct pg_stmt *)(void *)st;
}

int pg_sql_code(PGconn *c, const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (!state)
		return PQstatus(c) == CONNECTION_BAD ? SQL_UNAVAILABLE : SQL_ERROR;
	/* Class 23, integrity: unique, foreign key, check, not null; the
	 * shared code reads SQLite's CONSTRAINT as "exists" or "conflict". */
	if (strncmp(state, "23", 2) == 0)
		return SQL_CONSTRAINT;
	/* lock_not_available: the writer lock's lock_timeout (pg_events.c),
	 * SQLite's busy timeout. */
	if (strcmp(state, "55P03") == 0)
		return SQL_BUSY;
	if (strcmp(state, "53200") == 0)
		return SQL_NOMEM;
	if (strcmp(state, "54000") == 0)
		return SQL_TOOBIG;
	switch (pg_error_from_sqlstate(state)) {
	case ERR_STORAGE_UNAVAILABLE:
		return SQL_UNAVAILABLE;
	case ERR_STORAGE_TIMEOUT:
		return SQL_TIMEOUT;
	case ERR_NO_SPACE:
		return SQL_FULL;
	case ERR_BUSY:
		return SQL_BUSY;
	default:
		return SQL_ERROR;
	}
}

void pg_db_broken(struct pg_db *db)
{
	/* Results stay readable (a PGresult does not need its connection);
	 * the bindings stay for a statement run again after a reconnect. */
	if (db->conn) {
		PQfinish(db->conn);
		db->conn = NULL;
		atomic_fetch_sub(&db->storage->connections, 1);
	}
	db->events_maybe = false;
	db->actor_set = false;
	db->deferred = 0;
}

/* A failed statement: its code, and the connection dropped when it is gone
 * (libpq says CONNECTION_BAD, or the server said it is shutting down). */
static int failed(struct pg_db *db, const PGresult *r)
{
	int rc = pg_sql_code(db->conn, r);

	if (rc == SQL_UNAVAILABLE || PQstatus(db->conn) == CONNECTION_BAD) {
		pg_db_broken(db);
		rc = SQL_UNAVAILABLE;
	}
	return rc;
}

static void param_clear(struct pg_stmt *st, int i)
{
	free(st->owned[i]);
	st->owned[i] = NULL;
	st->values[i] = NULL;
	st->lengths[i] = 0;
	st->formats[i] = 0;
}

static int param_index(struct pg_stmt *st, int idx)
{
	if (idx < 1 || idx > st->nparams)
		return -1;
	param_clear(st, idx - 1);
	return idx - 1;
}

static int bind_i64(struct sql_stmt *s, int idx, int64_t v)
{
	struct pg_stmt *st = pst(s);
	int i = param_index(st, idx);

	if (i < 0)
		return SQL_ERROR;
	snprintf(st->num[i], sizeof(st->num[i]), "%" PRId64, v);
	st->values[i] = st->num[i];
	return SQL_OK;
}

static int bind_copy(struct pg_stmt *st, int idx, const void *data, size_t len, int format)
{
	int i = param_index(st, idx);
	char *copy;

	if (i < 0)
		return SQL_ERROR;
	if (len > INT32_MAX)
		return SQL_TOOBIG;
	copy = malloc(len + 1);
	if (!copy)
		return SQL_NOMEM;
	if (len)
		memcpy(copy, data, len);
	copy[len] = '\0';
	st->owned[i] = copy;
	st->values[i] = copy;
	st->lengths[i] = (int)len;
	st->formats[i] = format;
	return SQL_OK;
}

static int bind_text(struct sql_stmt *s, int idx, const char *text)
{
	if (!text)
		return pst(s)->base.ops->bind_null(s, idx);
	return bind_copy(pst(s), idx, text, strlen(text), 0);
}

static int bind_blob(struct sql_stmt *s, int idx, const void *data, size_t len)
{
	return bind_copy(pst(s), idx, data, len, 1);
}

static int bind_blob_ref(struct sql_stmt *s, int idx, const void *data, size_t len)
{
	struct pg_stmt *st = pst(s);
	int i = param_index(st, idx);

	if (i < 0)
		return SQL_ERROR;
	if (len > INT32_MAX)
		return SQL_TOOBIG;
	/* libpq reads a NULL value as SQL NULL: an empty blob needs a pointer. */
	st->values[i] = len ? data : "";
	st->lengths[i] = (int)len;
	st->formats[i] = 1;
	return SQL_OK;
}

static int bind_null(struct sql_stmt *s, int idx)
{
	return param_index(pst(s), idx) < 0 ? SQL_ERROR : SQL_OK;
}

static void result_clear(struct pg_stmt *st)
{
	PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	st->rows = 0;
}

/* PQcmdTuples of an INSERT, UPDATE or DELETE (SELECT leaves changes as
 * they were, as sqlite3_changes()). */
static void changes_note(struct pg_db *db, const PGresult *r)
{
	const char *status = PQcmdStatus((PGresult *)(uintptr_t)r);

	if (strncmp(status, "INSERT", 6) == 0 || strncmp(status, "UPDATE", 6) == 0 ||
	    strncmp(status, "DELETE", 6) == 0 || strncmp(status, "MERGE", 5) == 0)
		db->changes = (int)strtol(PQcmdTuples((PGresult *)(uintptr_t)r), NULL, 10);
}

/* Room for an integer column's decimal text per column of the result. */
static int coltext_fit(struct pg_stmt *st)
{
	int n = PQnfields(st->res);

	if (n <= st->coltext_n)
		return SQL_OK;
	void *p = realloc(st->coltext, (size_t)n * sizeof(*st->coltext));
	if (!p)
		return SQL_NOMEM;
	st->coltext = p;
	st->coltext_n = n;
	return SQL_OK;
}

/* A write outside a transaction, as SQLite runs it: under the writer lock
 * (pg_events.c), which a transaction of its own holds. One round trip: a
 * pipeline, whose statements up to the sync are one implicit transaction:
 * the lock; for a statement that may change assignment states, the
 * trigger's actor when it changed (pg_tx_actor's reason) and, after it, the
 * newest event id into *ret_newest (exact: under the lock). Without the
 * lock, such a write (a check-in's state change, a key's last use) would
 * slip between the read and the write of a locked transaction, and its
 * event could commit after one with a higher id. The statement's result,
 * or the first failure before it. */
static PGresult *exec_locked(struct pg_stmt *st, int64_t *ret_newest)
{
	struct pg_db *db = st->db;
	PGconn *c = db->conn;
	const char *actor = db->base.event_actor;
	bool assignments = st->kind == PG_STMT_ASSIGNMT;
	bool set_actor = assignments && !(db->actor_set && strcmp(db->actor, actor) == 0);
	/* The queries in order; 's' is the statement. */
	const char *plan = set_actor ? "las" : "ls";
	PGresult *r, *failure = NULL, *res = NULL;
	bool sent;

	if (!PQenterPipelineMode(c))
		return NULL;
	sent = PQsendQueryParams(c, pg_writer_lock_sql, 0, NULL, NULL, NULL, NULL, 0);
	if (sent && set_actor)
		sent = PQsendQueryParams(c, "SELECT set_config('suitd.actor', $1, false)", 1, NULL,
					 &actor, NULL, NULL, 0);
	sent = sent && PQsendQueryPrepared(c, st->name, st->nparams, st->values, st->lengths,
					   st->formats, 1);
	if (sent && assignments) {
		sent = PQsendQueryParams(c, "SELECT max(id) FROM events", 0, NULL, NULL, NULL, NULL,
					 0);
		plan = set_actor ? "lasm" : "lsm";
	}
	sent = sent && PQpipelineSync(c);
	/* Each query's results end with a NULL; the sync's result comes last.
	 * A failure anywhere rolls the implicit transaction back: the first
	 * one is the answer (those after it say only "aborted"). */
	for (size_t q = 0; sent && q <= strlen(plan); q++) {
		while ((r = PQgetResult(c))) {
			ExecStatusType t = PQresultStatus(r);
			bool ok = t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK;
			if (plan[q] == 'm' && ok && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
				*ret_newest = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			if (!ok && t != PGRES_PIPELINE_SYNC && !failure)
				failure = r;
			else if (plan[q] == 's' && !res)
				res = r;
			else
				PQclear(r);
			if (t == PGRES_PIPELINE_SYNC || PQstatus(c) == CONNECTION_BAD)
				break;
		}
		if (PQstatus(c) == CONNECTION_BAD)
			break;
	}
	/* Results left unread (a connection that broke): it cannot go on. */
	if (!PQexitPipelineMode(c)) {
		PQclear(res);
		PQclear(failure);
		pg_db_broken(db);
		return NULL;
	}
	if (failure || !res) {
		PQclear(res);
		return failure;
	}
	/* The implicit transaction committed: the session has the actor now. */
	if (set_actor) {
		snprintf(db->actor, sizeof(db->actor), "%s", actor);
		db->actor_set = true;
	}
	return res;
}

/* Deferred statements. Per device report, the batch writer runs a
 * SAVEPOINT, two reads, an UPDATE, an INSERT, a read and a RELEASE; per
 * 4 MiB of an upload, 64 chunk INSERTs: each a round trip, a wake-up of the
 * server process and of this thread, which on a busy machine costs more
 * than the statement. The statements whose answer nobody waits for
 * (deferrable: the job's SAVEPOINT, the report's UPDATE and INSERT, a
 * payload chunk's INSERT, whose callers read no rows, no change count and
 * no constraint code from them) are sent in pipeline mode inside the
 * transaction; their answers arrive with the next statement that waits
 * (sent in the same pipeline: one round trip) or at COMMIT. A failure of a
 * deferred statement is the answer of that next statement: the transaction
 * is in error then, and what the caller does with any failure (ROLLBACK TO
 * SAVEPOINT, ROLLBACK) undoes it. Each report job ends with a RELEASE that
 * waits, so a failure never reaches the next job. */
static bool deferrable_id(enum stmt id)
{
	return id == STMT_SAVEPOINT || id == STMT_ASSIGNMENT_REPORTED ||
	       id == STMT_ASSIGNMENT_TOUCHED || id == STMT_REPORT_INSERT ||
	       id == STMT_ASSIGNMENTS_TOUCHED || id == STMT_REPORTS_INSERT_MANY ||
	       id == STMT_REPORTS_DROP_OLDEST_MANY || id == STMT_CHUNK_INSERT;
}

/* The answers of the deferred statements, then (unless NULL is sent) the
 * statement st's, all after one sync. The first failure is the result;
 * else st's result (or NULL with st NULL and *ret_rc SQL_OK). */
static PGresult *pipeline_finish(struct pg_db *db, struct pg_stmt *st, int *ret_rc)
{
	PGconn *c = db->conn;
	PGresult *r, *failure = NULL, *res = NULL;
	int queries = db->deferred + (st != NULL);
	bool sent = true;

	*ret_rc = SQL_OK;
	if (st)
		sent = PQsendQueryPrepared(c, st->name, st->nparams, st->values, st->lengths,
					   st->formats, 1);
	sent = sent && PQpipelineSync(c);
	db->deferred = 0;
	for (int q = 0; sent && q <= queries; q++) {
		while ((r = PQgetResult(c))) {
			ExecStatusType t = PQresultStatus(r);
			bool ok = t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK;
			if (ok)
				changes_note(db, r);
			if (!ok && t != PGRES_PIPELINE_SYNC && t != PGRES_PIPELINE_ABORTED &&
			    !failure)
				failure = r;
			else if (st && q == queries - 1 && ok && !res)
				res = r;
			else
				PQclear(r);
			if (t == PGRES_PIPELINE_SYNC || PQstatus(c) == CONNECTION_BAD)
				break;
		}
		if (PQstatus(c) == CONNECTION_BAD)
			break;
	}
	if (!PQexitPipelineMode(c) || !sent) {
		PQclear(res);
		PQclear(failure);
		pg_db_broken(db);
		*ret_rc = SQL_UNAVAILABLE;
		return NULL;
	}
	if (failure) {
		PQclear(res);
		return failure;
	}
	return res;
}

int pg_flush(struct pg_db *db)
{
	PGresult *r;
	int rc;

	if (!db->conn || !db->deferred)
		return SQL_OK;
	r = pipeline_finish(db, NULL, &rc);
	if (r) {
		rc = failed(db, r);
		PQclear(r);
	}
	return rc;
}

/* Send st without waiting for its answer: SQL_OK, its answer comes later. */
static int defer(struct pg_stmt *st)
{
	struct pg_db *db = st->db;
	PGconn *c = db->conn;

	if (!db->deferred && !PQenterPipelineMode(c))
		return SQL_ERROR;
	if (!PQsendQueryPrepared(c, st->name, st->nparams, st->values, st->lengths, st->formats,
				 1)) {
		int rc;
		PGresult *r = pipeline_finish(db, NULL, &rc);
		PQclear(r);
		return rc != SQL_OK ? rc : SQL_ERROR;
	}
	db->deferred++;
	/* The trigger may write events: COMMIT reads the newest id. */
	if (st->kind == PG_STMT_ASSIGNMT)
		db->events_maybe = true;
	return SQL_OK;
}

/* Run the statement with its bindings; the whole result lands in st->res. */
static int run(struct pg_stmt *st)
{
	struct pg_db *db = st->db;
	bool alone = st->writes && !db->deferred && PQtransactionStatus(db->conn) == PQTRANS_IDLE;
	int64_t newest = 0;
	PGresult *r;
	int rc;

	/* A failure changes() found: the next statement's answer, unless
	 * that undoes it. */
	if (db->deferred_rc) {
		rc = db->deferred_rc;
		db->deferred_rc = SQL_OK;
		if (st->kind != PG_STMT_UNDO)
			return rc;
	}
	/* Deferred: inside a transaction, with the session's actor already
	 * the one an assignment change needs. */
	if (st->deferrable && (db->deferred || PQtransactionStatus(db->conn) == PQTRANS_INTRANS) &&
	    (st->kind != PG_STMT_ASSIGNMT ||
	     (db->actor_set && strcmp(db->actor, db->base.event_actor) == 0)))
		return defer(st);
	/* A rollback must not be skipped as part of a failed pipeline: the
	 * deferred answers first (a failure among them is what it undoes). */
	if (st->kind == PG_STMT_UNDO || st->kind == PG_STMT_BEGIN || st->kind == PG_STMT_COMMIT ||
	    st->kind == PG_STMT_ASSIGNMT) {
		rc = pg_flush(db);
		if (rc != SQL_OK && st->kind != PG_STMT_UNDO)
			return rc;
		if (!db->conn)
			return SQL_UNAVAILABLE;
	}

	switch (st->kind) {
	case PG_STMT_BEGIN:
		return pg_tx_begin(st);
	case PG_STMT_COMMIT:
		return pg_tx_commit(st);
	case PG_STMT_ASSIGNMT:
		if (!alone && (rc = pg_tx_actor(db)) != SQL_OK)
			return rc;
		break;
	case PG_STMT_PLAIN:
	case PG_STMT_INSERT_ID:
	case PG_STMT_UNDO:
		break;
	}
	if (alone) {
		r = exec_locked(st, &newest);
	} else if (db->deferred) {
		r = pipeline_finish(db, st, &rc);
		if (!r)
			return rc != SQL_OK ? rc : SQL_ERROR;
	} else {
		r = PQexecPrepared(db->conn, st->name, st->nparams, st->values, st->lengths,
				   st->formats, 1);
	}
	switch (r ? PQresultStatus(r) : PGRES_FATAL_ERROR) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		break;
	default:
		rc = failed(db, r);
		PQclear(r);
		return rc;
	}
	changes_note(db, r);
	if (st->kind == PG_STMT_UNDO)
		db->actor_set = false;
	st->res = r;
	st->rows = PQntuples(r);
	st->row = -1;
	if (st->kind == PG_STMT_ASSIGNMT && db->changes > 0) {
		/* In a transaction COMMIT reads the trigger's newest event id;
		 * alone, the change is committed and the shared code tells the
		 * listeners now (storage_assignment_transition). */
		if (PQtransactionStatus(db->conn) == PQTRANS_INTRANS)
			db->events_maybe = true;
		else if (alone && newest > db->base.event_newest)
			db->base.event_newest = newest;
		else if (!alone && (rc = pg_events_newest(db)) != SQL_OK) {
			result_clear(st);
			return rc;
		}
	}
	return coltext_fit(st);
}

/* Whether a statement that met a lost connection may simply run again on a
 * new one: a BEGIN, or a read outside a transaction. Nothing else: a write
 * whose answer was lost may have been committed. */
static bool rerun_safe(const struct pg_stmt *st)
{
	return st->kind == PG_STMT_BEGIN || strncmp(st->text, "SELECT ", 7) == 0;
}

static int execute(struct pg_stmt *st)
{
	struct pg_db *db = st->db;
	bool idle;
	int rc;

	if (!db->conn)
		return SQL_UNAVAILABLE;
	/* A connection the server closed while it was idle (a restart, a
	 * failover, an idle timeout) is found broken only now: the first
	 * statement of a transaction or a lone read runs again on a new one,
	 * so that a server that is back does not cost each thread a 503. */
	idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
	rc = run(st);
	if (rc == SQL_UNAVAILABLE && idle && rerun_safe(st) && pg_db_reconnect(db) == ERR_OK)
		rc = run(st);
	return rc;
}

static int64_t value_i64(const PGresult *r, int row, int col)
{
	const char *v = PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (PQftype(r, col)) {
	case OID_BOOL:
		return len == 1 && v[0] != 0;
	case OID_INT2:
		if (len != 2)
			return 0;
		memcpy(&u16, v, 2);
		return (int16_t)be16toh(u16);
	case OID_INT4:
		if (len != 4)
			return 0;
		memcpy(&u32, v, 4);
		return (int32_t)be32toh(u32);
	case OID_INT8:
		if (len != 8)
			return 0;
		memcpy(&u64, v, 8);
		return (int64_t)be64toh(u64);
	default:
		/* Text (and bytea) holding a number, as SQLite converts it. */
		return strtoll(v, NULL, 10);
	}
}

static bool is_integer(Oid type)
{
	return type == OID_BOOL || type == OID_INT2 || type == OID_INT4 || type == OID_INT8;
}

static int step(struct sql_stmt *s)
{
	struct pg_stmt *st = pst(s);
	int rc;

	/* After SQL_DONE a step starts over, as sqlite3_step() does. */
	if (st->res && st->row >= st->rows)
		result_clear(st);
	if (!st->res) {
		rc = execute(st);
		if (rc != SQL_OK)
			return rc;
		if (!st->res) /* BEGIN, COMMIT: no rows */
			return SQL_DONE;
		if (st->kind == PG_STMT_INSERT_ID) {
			if (st->rows >= 1 && PQnfields(st->res) >= 1 &&
			    !PQgetisnull(st->res, 0, 0)) {
				st->db->last_insert_id = value_i64(st->res, 0, 0);
				if (st->id == STMT_EVENT_INSERT &&
				    st->db->last_insert_id > st->db->base.event_newest)
					st->db->base.event_newest = st->db->last_insert_id;
			}
			st->row = st->rows;
			return SQL_DONE;
		}
	}
	st->row++;
	return st->row < st->rows ? SQL_ROW : SQL_DONE;
}

static void reset(struct sql_stmt *s)
{
	struct pg_stmt *st = pst(s);

	result_clear(st);
	for (int i = 0; i < st->nparams; i++)
		param_clear(st, i);
}

/* Whether col of the current row exists. */
static bool cell(struct pg_stmt *st, int col)
{
	return st->res && st->row >= 0 && st->row < st->rows && col >= 0 &&
	       col < PQnfields(st->res);
}

static int64_t col_i64(struct sql_stmt *s, int col)
{
	struct pg_stmt *st = pst(s);

	if (!cell(st, col) || PQgetisnull(st->res, st->row, col))
		return 0;
	return value_i64(st->res, st->row, col);
}

static const char *col_text(struct sql_stmt *s, int col)
{
	struct pg_stmt *st = pst(s);

	if (!cell(st, col) || PQgetisnull(st->res, st->row, col))
		return NULL;
	if (is_integer(PQftype(st->res, col))) {
		snprintf(st->coltext[col], sizeof(st->coltext[col]), "%" PRId64,
			 value_i64(st->res, st->row, col));
		return st->coltext[col];
	}
	/* Binary text and bytea are the bytes, and libpq ends every value
	 * with a NUL byte. */
	return PQgetvalue(st->res, st->row, col);
}

static const void *col_blob(struct sql_stmt *s, int col)
{
	struct pg_stmt *st = pst(s);

	if (!cell(st, col) || PQgetisnull(st->res, st->row, col))
		return NULL;
	if (is_integer(PQftype(st->res, col)))
		return col_text(s, col);
	return PQgetvalue(st->res, st->row, col);
}

static size_t col_bytes(struct sql_stmt *s, int col)
{
	struct pg_stmt *st = pst(s);

	if (!cell(st, col) || PQgetisnull(st->res, st->row, col))
		return 0;
	if (is_integer(PQftype(st->res, col)))
		return strlen(col_text(s, col));
	return (size_t)PQgetlength(st->res, st->row, col);
}

static bool col_null(struct sql_stmt *s, int col)
{
	struct pg_stmt *st = pst(s);

	return !cell(st, col) || PQgetisnull(st->res, st->row, col);
}

static const struct sql_stmt_ops pg_stmt_ops = {
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

/* " RETURNING id" at the end, or " RETURNING <column> AS id": the inserted
 * row's key (pg_iface.md §4). */
static bool returns_id(const char *text)
{
	static const char tail[] = " RETURNING id", as[] = " AS id";
	size_t n = strlen(text);
	const char *ret;

	if (n >= sizeof(tail) - 1 && strcmp(text + n - (sizeof(tail) - 1), tail) == 0)
		return true;
	if (n < sizeof(as) - 1 || strcmp(text + n - (sizeof(as) - 1), as) != 0)
		return false;
	ret = strstr(text, " RETURNING ");
	/* One column before AS: no comma, no space. */
	return ret && strcspn(ret + 11, ", ") == (size_t)(text + n - (sizeof(as) - 1) - (ret + 11));
}

static enum pg_stmt_kind stmt_kind(enum stmt id, const char *text)
{
	if (id == STMT_BEGIN_IMMEDIATE)
		return PG_STMT_BEGIN;
	if (id == STMT_COMMIT)
		return PG_STMT_COMMIT;
	if (strncmp(text, "ROLLBACK", 8) == 0)
		return PG_STMT_UNDO;
	if (returns_id(text))
		return PG_STMT_INSERT_ID;
	/* The trigger assignment_events fires on UPDATE OF state. */
	if (strstr(text, "UPDATE assignments"))
		return PG_STMT_ASSIGNMT;
	return PG_STMT_PLAIN;
}

static enum err prepare_fail(const char *name, PGconn *c, const PGresult *r, struct diag *d)
{
	struct diag why = {0};
	enum err e = pg_error_result(c, r, &why);

	if (!e)
		e = ERR_STORAGE;
	return diag_set(d, e, "database", "statement %s: %s", name, why.text);
}

/* The result columns must be of the types the column readers know. */
static enum err columns_check(struct pg_stmt *st, const PGresult *desc, struct diag *d)
{
	for (int c = 0; c < PQnfields(desc); c++) {
		Oid t = PQftype(desc, c);
		if (!is_integer(t) && t != OID_TEXT && t != OID_VARCHAR && t != OID_BYTEA)
			return diag_set(d, ERR_STORAGE, "database",
					"statement %s: column %d (%s) has type oid %u: cast it to "
					"bigint, text or bytea",
					st->name, c + 1, PQfname(desc, c), (unsigned)t);
	}
	return ERR_OK;
}

/* What the server said of one statement: its description (PQdescribePrepared),
 * after its Parse went through. */
static enum err stmt_described(struct pg_stmt *st, const PGresult *r, struct diag *d)
{
	int n = PQnparams(r);
	enum err e = columns_check(st, r, d);

	if (e)
		return e;
	/* The parameter arrays, sized at the first connection (a reconnect
	 * finds the same count). */
	if (st->values)
		return n == st->nparams ? ERR_OK
					: diag_set(d, ERR_INTERNAL, "database",
						   "statement %s changed", st->name);
	st->nparams = n;
	st->values = calloc((size_t)n + 1, sizeof(*st->values));
	st->lengths = calloc((size_t)n + 1, sizeof(*st->lengths));
	st->formats = calloc((size_t)n + 1, sizeof(*st->formats));
	st->owned = calloc((size_t)n + 1, sizeof(*st->owned));
	st->num = calloc((size_t)n + 1, sizeof(*st->num));
	if (!st->values || !st->lengths || !st->formats || !st->owned || !st->num)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	return ERR_OK;
}

/* Statements prepared and described per round trip: a pipeline of this
 * many answers (a few KiB) fits the socket buffers, so sending them all
 * before reading cannot block both ends. */
#define PREPARE_BATCH 32

/* The next result of a pipeline, and the NULL that ends it. */
static PGresult *pipeline_next(PGconn *c)
{
	PGresult *r = PQgetResult(c), *end;

	if (r && PQresultStatus(r) != PGRES_PIPELINE_SYNC && (end = PQgetResult(c)))
		PQclear(end); /* not expected: one result per query */
	return r;
}

/* Prepare and describe statements [from, to) in one round trip; the first
 * failure names its statement. */
static enum err prepare_batch(struct pg_db *db, int from, int to, struct diag *d)
{
	PGconn *c = db->conn;
	enum err e = ERR_OK;
	bool sent = PQenterPipelineMode(c);
	PGresult *r;

	for (int i = from; sent && i < to; i++)
		sent = PQsendPrepare(c, db->stmts[i].name, db->stmts[i].text, 0, NULL) &&
		       PQsendDescribePrepared(c, db->stmts[i].name);
	sent = sent && PQpipelineSync(c);
	for (int i = from; sent && i < to; i++) {
		struct pg_stmt *st = &db->stmts[i];
		for (int step = 0; step < 2; step++) {
			r = pipeline_next(c);
			if (!e && (!r || PQresultStatus(r) != PGRES_COMMAND_OK))
				e = prepare_fail(st->name, c, r, d);
			else if (!e && step == 1)
				e = stmt_described(st, r, d);
			PQclear(r);
			if (!r) {
				sent = false;
				break;
			}
		}
	}
	/* The sync's own result ends the pipeline. */
	if (sent && (r = PQgetResult(c)))
		PQclear(r);
	if (!PQexitPipelineMode(c))
		sent = false; /* results left: the connection cannot go on */
	if (!sent && !e)
		e = prepare_fail(db->stmts[from].name, c, NULL, d);
	return e;
}

enum err pg_stmts_prepare(struct pg_db *db, struct diag *d)
{
	for (int i = 0; i < STMT__COUNT; i++) {
		struct pg_stmt *st = &db->stmts[i];

		/* Once: a reconnect leaves bindings and results as they are. */
		if (!st->base.ops) {
			st->base.ops = &pg_stmt_ops;
			st->db = db;
			st->id = (enum stmt)i;
			st->name = statement_names[i];
			st->text = statement_sql[i];
			st->kind = stmt_kind(st->id, st->text);
			st->writes = strncmp(st->text, "INSERT", 6) == 0 ||
				     strncmp(st->text, "UPDATE", 6) == 0 ||
				     strncmp(st->text, "DELETE", 6) == 0;
			st->deferrable = deferrable_id(st->id);
			st->row = -1;
			db->base.stmts[i] = &st->base;
		}
	}
	for (int i = 0; i < STMT__COUNT; i += PREPARE_BATCH) {
		enum err e = prepare_batch(
			db, i, i + PREPARE_BATCH < STMT__COUNT ? i + PREPARE_BATCH : STMT__COUNT,
			d);
		if (e)
			return e;
	}
	return ERR_OK;
}

void pg_stmts_release(struct pg_db *db)
{
	for (int i = 0; i < STMT__COUNT; i++) {
		struct pg_stmt *st = &db->stmts[i];
		result_clear(st);
		for (int j = 0; st->owned && j < st->nparams; j++)
			param_clear(st, j);
	}
}

void pg_stmts_free(struct pg_db *db)
{
	pg_stmts_release(db);
	for (int i = 0; i < STMT__COUNT; i++) {
		struct pg_stmt *st = &db->stmts[i];
		free(st->values);
		free(st->lengths);
		free(st->formats);
		free(st->owned);
		free(st->num);
		free(st->coltext);
	}
}

static int changes(struct db *base)
{
	struct pg_db *db = pg_db(base);
	int rc = pg_flush(db);

	/* The next statement hears the failure (none does now). */
	if (rc != SQL_OK)
		db->deferred_rc = rc;
	return db->changes;
}

static bool in_transaction(struct db *base)
{
	struct pg_db *db = pg_db(base);

	if (!db->conn)
		return false;
	/* INERROR too: a failed statement left it open, ROLLBACK ends it. */
	switch (PQtransactionStatus(db->conn)) {
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
	case PQTRANS_ACTIVE:
		return true;
	case PQTRANS_IDLE:
	case PQTRANS_UNKNOWN:
		return false;
	}
	return false;
}

static int64_t last_insert_id(struct db *db)
{
	return pg_db(db)->last_insert_id;
}

const struct db_backend pg_backend = {
	.name = "postgresql",
	.changes = changes,
	.in_transaction = in_transaction,
	.last_insert_id = last_insert_id,
};
