/* The transaction statements of the PostgreSQL backend and the event-log
 * plumbing that rides on them (docs/design.md "Storage: PostgreSQL
 * backend"): BEGIN_IMMEDIATE takes the writer lock, the trigger's actor is
 * the setting suitd.actor, COMMIT (or a change outside a transaction)
 * learns the newest event id. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/postgresql/pg.h"

/* The server's answer to a simple query of one or more statements: SQL_OK,
 * or the first failure. ret_max (may be NULL): the first column of the first
 * row of the first result, when it is a number. */
static int simple_query(struct pg_db *db, const char *sql, int64_t *ret_max)
{
	PGresult *r;
	int rc = SQL_OK;
	bool first = true;

	if (!PQsendQuery(db->conn, sql)) {
		rc = pg_sql_code(db->conn, NULL);
		goto broken;
	}
	while ((r = PQgetResult(db->conn))) {
		ExecStatusType status = PQresultStatus(r);
		if (status == PGRES_TUPLES_OK && first && ret_max && PQntuples(r) == 1 &&
		    !PQgetisnull(r, 0, 0))
			*ret_max = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && rc == SQL_OK)
			rc = pg_sql_code(db->conn, r);
		/* COMMIT of a transaction a failed statement aborted rolls back
		 * and says so in its tag, with no error: nothing was committed. */
		if (status == PGRES_COMMAND_OK && rc == SQL_OK &&
		    strcmp(PQcmdStatus(r), "ROLLBACK") == 0 && strncmp(sql, "ROLLBACK", 8) != 0)
			rc = SQL_ERROR;
		first = false;
		PQclear(r);
	}
	if (rc == SQL_OK || (rc != SQL_UNAVAILABLE && PQstatus(db->conn) != CONNECTION_BAD))
		return rc;
broken:
	pg_db_broken(db);
	return SQL_UNAVAILABLE;
}

/* lock_timeout for this transaction only: a writer waits for another as
 * long as SQLite's busy timeout, then fails busy (55P03 -> SQL_BUSY). */
const char pg_writer_lock_sql[] = "SELECT set_config('lock_timeout', '5000', true), "
				  "pg_advisory_xact_lock(8319671835259531881)";
static_assert(PG_WRITER_LOCK_TIMEOUT_MS == 5000 &&
		      PG_WRITER_LOCK_KEY == INT64_C(8319671835259531881),
	      "pg_writer_lock_sql says the key and the timeout");

int pg_tx_begin(struct pg_stmt *st)
{
	struct pg_db *db = st->db;
	char sql[256];
	int rc;

	/* One round trip: BEGIN (the table's text), then the lock, which the
	 * transaction holds until it ends. */
	snprintf(sql, sizeof(sql), "%s; %s", st->text, pg_writer_lock_sql);
	db->events_maybe = false;
	rc = simple_query(db, sql, NULL);
	/* A BEGIN that failed halfway (the lock) leaves no transaction behind. */
	if (rc != SQL_OK && db->conn && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		PQclear(PQexec(db->conn, "ROLLBACK"));
	return rc;
}

int pg_tx_commit(struct pg_stmt *st)
{
	struct pg_db *db = st->db;
	int64_t newest = 0;
	char sql[96];
	int rc;

	/* The trigger's rows: their ids are the largest in the table while
	 * this transaction holds the writer lock (every writer of events takes
	 * it), read in the COMMIT's round trip. Only after a statement that
	 * changed assignment rows: nothing else fires the trigger. */
	if (db->events_maybe)
		snprintf(sql, sizeof(sql), "SELECT max(id) FROM events; %s", st->text);
	else
		snprintf(sql, sizeof(sql), "%s", st->text);
	rc = simple_query(db, sql, db->events_maybe ? &newest : NULL);
	if (rc == SQL_OK && newest > db->base.event_newest)
		db->base.event_newest = newest;
	db->events_maybe = false;
	/* A COMMIT that failed rolled back: a setting made in it is gone. */
	if (rc != SQL_OK)
		db->actor_set = false;
	return rc;
}

int pg_tx_actor(struct pg_db *db)
{
	const char *want = db->base.event_actor;
	const char *values[1] = {want};
	PGresult *r;
	int rc;

	/* A session setting, not SET LOCAL: the statements that change
	 * assignment states also run outside a transaction (check-ins), and a
	 * session setting lasts until the next change, so a run of reports
	 * by devices sets it once. A ROLLBACK undoes a setting made in its
	 * transaction: the backend forgets what it set then (actor_set). */
	if (db->actor_set && strcmp(db->actor, want) == 0)
		return SQL_OK;
	r = PQexecParams(db->conn, "SELECT set_config('suitd.actor', $1, false)", 1, NULL, values,
			 NULL, NULL, 0);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_sql_code(db->conn, r);
		PQclear(r);
		if (rc == SQL_UNAVAILABLE || PQstatus(db->conn) == CONNECTION_BAD) {
			pg_db_broken(db);
			rc = SQL_UNAVAILABLE;
		}
		return rc;
	}
	PQclear(r);
	snprintf(db->actor, sizeof(db->actor), "%s", want);
	db->actor_set = true;
	return SQL_OK;
}

int pg_events_newest(struct pg_db *db)
{
	int64_t newest = 0;
	int rc = simple_query(db, "SELECT max(id) FROM events", &newest);

	if (rc == SQL_OK && newest > db->base.event_newest)
		db->base.event_newest = newest;
	return rc;
}
