/* The SQLite side of the event log (storage/events.c): SQL functions, the
 * update hook that sees the ids of inserted events, the TEMP trigger. */
#include <string.h>

#include "common/timeutil.h"
#include "storage/sqlite/sqlite.h"

/* suitd_event_actor(): the actor the C code set for this transaction. */
static void sql_event_actor(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct db *db = sqlite3_user_data(ctx);

	(void)argc;
	(void)argv;
	if (db && db->event_actor[0])
		sqlite3_result_text(ctx, db->event_actor, -1, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

/* Every insert into events, the trigger's too: the newest id of the
 * transaction. Called for each row any statement changes, so it only
 * compares. */
static void update_hook(void *arg, int op, const char *dbname, const char *table,
			sqlite3_int64 rowid)
{
	struct db *db = arg;

	(void)dbname;
	if (op == SQLITE_INSERT && table[0] == 'e' && strcmp(table, "events") == 0)
		db->event_newest = rowid;
}

/* suitd_event_ms(): milliseconds since the epoch. */
static void sql_event_ms(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_int64(ctx, time_now_ms());
}

int sqlite_events_attach(sqlite3 *h, struct db *db)
{
	int rc = sqlite3_create_function(h, "suitd_event_actor", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS,
					 db, sql_event_actor, NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(h, "suitd_event_ms", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS,
					     NULL, sql_event_ms, NULL, NULL);

	sqlite3_update_hook(h, update_hook, db);
#ifndef SUITD_NO_EVENT_LOG
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, SQL_ASSIGNMENT_EVENTS_TRIGGER, NULL, NULL, NULL);
#endif
	return rc;
}
