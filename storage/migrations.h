/* Schema migrations embedded at build time from migrations/sqlite/ (the
 * array migrations) and migrations/postgresql/ (pg_migrations), NNNN_name.sql. */
#ifndef SUITD_STORAGE_MIGRATIONS_H
#define SUITD_STORAGE_MIGRATIONS_H

#include <stdbool.h>

#include "common/error.h"

struct migration {
	unsigned version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const unsigned migrations_count;

/* A database at schema version HAVE, opened by a binary that knows WANT:
 * ERR_DB_TOO_NEW when newer (never touched), ERR_STORAGE "run 'suitd
 * migrate'" when older and not APPLY; the same words for every backend. */
enum err migrations_version_check(unsigned have, unsigned want, bool apply, struct diag *d);

#endif
