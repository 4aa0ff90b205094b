/* Internal to storage/sqlite/: the SQLite backend's connection and
 * statements, which the shared code sees as struct db and struct sql_stmt. */
#ifndef SUITD_STORAGE_SQLITE_SQLITE_H
#define SUITD_STORAGE_SQLITE_SQLITE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "storage/backend.h"
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

/* Run SQL text (several statements) on a raw connection (storage.c). */
enum err sqlite_exec(sqlite3 *h, const char *sql, struct diag *d);
/* PRAGMA user_version; apply the pending migrations, or only check that
 * none is pending unless apply (migrate.c). */
enum err sqlite_user_version(sqlite3 *h, unsigned *ret);
enum err sqlite_migrate(sqlite3 *h, bool apply, struct diag *d);
/* storage_backup(), storage_integrity_check() (backup.c). */
enum err sqlite_backup(struct storage *s, const char *out, struct diag *d);
enum err sqlite_integrity_check(struct storage *s, bool *ret_ok);

/* Connection set-up for the event log, after the migrations: the update
 * hook, the SQL function suitd_event_actor() and the TEMP trigger of
 * assignment transitions that calls it (hooks.c). */
int sqlite_events_attach(sqlite3 *h, struct db *db);

/* suitd_unhex(), for the batch statements that carry blobs as hex (unhex.c). */
int sqlite_unhex_attach(sqlite3 *h);

#endif
