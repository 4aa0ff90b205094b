/* Internal to storage/: the per-thread connection and its prepared
 * statements. Only the files of storage/ include it. */
#ifndef SUITD_STORAGE_DB_H
#define SUITD_STORAGE_DB_H

#include <sqlite3.h>

#include "common/error.h"
#include "storage/statements.h"
#include "storage/storage.h"

struct db {
	sqlite3 *handle;
	sqlite3_stmt *stmts[STMT__COUNT];
};

/* The calling thread's connection, opened and prepared on first use. */
enum err db_get(struct storage *s, struct db **ret_db);
sqlite3_stmt *db_stmt(struct db *db, enum stmt id);

/* Map a SQLite result code to the project's error enum. */
enum err db_error(int rc);
/* ERR_OK for SQLITE_DONE/ROW, else the mapped error (never ERR_OK). */
enum err db_result(int rc);

/* Step a statement without parameters once, then reset it. */
enum err db_step_once(struct db *db, enum stmt id);
enum err db_begin(struct db *db);
/* An audit_log row (call inside the transaction of the change). */
enum err db_audit(struct db *db, const char *actor, const char *action, const char *subject);
/* The same with a detail the action and subject do not say (NULL: none),
 * such as the grace of a token rotation. */
enum err db_audit_detail(struct db *db, const char *actor, const char *action, const char *subject,
			 const char *detail);
enum err db_commit(struct db *db);
void db_rollback(struct db *db);

/* Reset (and clear bindings of) a statement when it leaves scope. */
static inline void db_stmt_cleanup(sqlite3_stmt **st)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
}
#define CLEANUP_STMT __attribute__((cleanup(db_stmt_cleanup)))

/* Bind text with SQLITE_TRANSIENT (copies) / blob the same way. */
int db_bind_text(sqlite3_stmt *st, int idx, const char *text);
int db_bind_blob(sqlite3_stmt *st, int idx, const void *data, size_t len);
/* Column text or "" (never NULL). */
const char *db_column_text(sqlite3_stmt *st, int col);

#endif
