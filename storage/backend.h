/* Internal to storage/: what a storage backend implements besides its
 * statements (sql.h), for the shared code of storage/ (issue 21). The SQLite
 * backend (storage/sqlite/) is the one wired today; its connection, schema,
 * checkpoints, backup and restore are its own, behind storage.h. */
#ifndef SUITD_STORAGE_BACKEND_H
#define SUITD_STORAGE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

struct db;

struct db_backend {
	const char *name;
	/* Rows the last INSERT, UPDATE or DELETE of this connection changed. */
	int (*changes)(struct db *db);
	/* Whether a transaction is open (it may have been rolled back by the
	 * database itself after an error: then false). */
	bool (*in_transaction)(struct db *db);
	/* The id the last INSERT of this connection gave its row (SQLite's
	 * rowid; PostgreSQL: lastval() of the serial column). */
	int64_t (*last_insert_id)(struct db *db);
};

#endif
