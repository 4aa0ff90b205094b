/* Internal to storage/sqlite/: the SQLite backend's connection and
 * statements, which the shared code sees as struct db and struct sql_stmt. */
#ifndef SUITD_STORAGE_SQLITE_SQLITE_H
#define SUITD_STORAGE_SQLITE_SQLITE_H

#include <sqlite3.h>
#include <stddef.h>

#include "storage/db.h"
#include "storage/sqlite/statements.h"

struct sqlite_stmt {
	struct sql_stmt base;
	sqlite3_stmt *handle;
};

struct sqlite_db {
	struct db base; /* first: a struct db * is a struct sqlite_db * */
	sqlite3 *handle;
	struct sqlite_stmt stmts[STMT__COUNT];
};

static inline struct sqlite_db *sqlite_db(struct db *db)
{
	return (struct sqlite_db *)(void *)((char *)db - offsetof(struct sqlite_db, base));
}

/* Wrap the prepared statement into st (stmt.c). */
void sqlite_stmt_init(struct sqlite_stmt *st, sqlite3_stmt *handle);
extern const struct db_backend sqlite_backend;

/* Connection set-up for the event log, after the migrations: the update
 * hook, the SQL function suitd_event_actor() and the TEMP trigger of
 * assignment transitions that calls it (hooks.c). */
int sqlite_events_attach(sqlite3 *h, struct db *db);

#endif
