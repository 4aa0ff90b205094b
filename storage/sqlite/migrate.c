/* The SQLite schema: migrations/sqlite/ applied in order, each in its own
 * transaction with its version in PRAGMA user_version. */
#include <stdio.h>

#include "storage/migrations.h"
#include "storage/sqlite/sqlite.h"

enum err sqlite_user_version(sqlite3 *h, unsigned *ret)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_error(rc) ? db_error(rc) : ERR_STORAGE;
	}
	*ret = (unsigned)sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return ERR_OK;
}

/* Apply every migration newer than the file, each in its own transaction
 * together with its user_version, so a crash leaves a whole version. */
enum err sqlite_migrate(sqlite3 *h, bool apply, struct diag *d)
{
	unsigned have;
	enum err e = sqlite_user_version(h, &have);

	if (e)
		return diag_set(d, e, "database", "cannot read schema version: %s",
				sqlite3_errmsg(h));
	e = migrations_version_check(have, migrations_count, apply, d);
	if (e)
		return e;
	for (unsigned i = have; i < migrations_count; i++) {
		char pragma[64];

		e = sqlite_exec(h, "BEGIN IMMEDIATE", d);
		if (e)
			return e;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", migrations[i].version);
		e = sqlite_exec(h, migrations[i].sql, d);
		if (!e)
			e = sqlite_exec(h, pragma, d);
		if (!e)
			e = sqlite_exec(h, "COMMIT", d);
		if (e) {
			sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
			if (d) {
				char why[sizeof(d->text)];
				snprintf(why, sizeof(why), "%s", d->text);
				diag_set(d, e, "database", "migration %s failed: %s",
					 migrations[i].name, why);
			}
			return e;
		}
	}
	return ERR_OK;
}
