/* Schema migrations embedded at build time from migrations/sqlite/ (the
 * array migrations) and migrations/postgresql/ (pg_migrations), NNNN_name.sql. */
#ifndef SUITD_STORAGE_MIGRATIONS_H
#define SUITD_STORAGE_MIGRATIONS_H

struct migration {
	unsigned version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const unsigned migrations_count;

#endif
