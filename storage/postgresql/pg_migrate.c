/* PostgreSQL migrations: see pg_migrate.h. */
#include "storage/postgresql/pg_migrate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "storage/postgresql/pg_error.h"

static const char sql_schema_version[] = "CREATE TABLE IF NOT EXISTS schema_version ("
					 "version bigint PRIMARY KEY, name text NOT NULL, "
					 "applied_at timestamptz NOT NULL DEFAULT now())";

/* One statement without parameters (or several, for a migration's text). */
static enum err exec(PGconn *c, const char *sql, struct diag *d)
{
	PGresult *r = PQexec(c, sql);
	enum err e = pg_error_result(c, r, d);

	PQclear(r);
	return e;
}

static void rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

/* max(version) of schema_version; the table must exist. */
static enum err version_read(PGconn *c, unsigned *ret, struct diag *d)
{
	PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version");
	enum err e = pg_error_result(c, r, d);

	if (!e && PQntuples(r) == 1) {
		unsigned long v = strtoul(PQgetvalue(r, 0, 0), NULL, 10);
		*ret = v > 1000000 ? 1000000 : (unsigned)v;
	} else if (!e) {
		e = diag_set(d, ERR_STORAGE, "database", "schema_version gave no row");
	}
	PQclear(r);
	return e;
}

enum err pg_schema_version(PGconn *c, unsigned *ret_have, struct diag *d)
{
	PGresult *r = PQexec(c, "SELECT to_regclass('schema_version') IS NOT NULL");
	enum err e = pg_error_result(c, r, d);
	bool exists = !e && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';

	PQclear(r);
	if (e)
		return e;
	if (!exists) {
		*ret_have = 0;
		return ERR_OK;
	}
	return version_read(c, ret_have, d);
}

/* Versions have/want in the words of the SQLite path (storage/migrations.c). */
static enum err version_check(unsigned have, bool apply, struct diag *d)
{
	return migrations_version_check(have, pg_migrations_count, apply, d);
}

/* One transaction: lock, read the version, apply the next migration if one
 * is pending. *ret_done: nothing was left to do. */
static enum err migrate_step(PGconn *c, bool apply, bool *ret_done, struct diag *d)
{
	char lock[96], record[64];
	const struct migration *m;
	unsigned have = 0;
	enum err e;

	snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%" PRId64 ")",
		 PG_MIGRATE_LOCK_KEY);
	e = exec(c, "BEGIN", d);
	if (e)
		return e;
	e = exec(c, lock, d);
	/* Created under the lock: two CREATE TABLE IF NOT EXISTS at once can
	 * still collide in the catalog. */
	if (!e && apply)
		e = exec(c, sql_schema_version, d);
	if (!e)
		e = apply ? version_read(c, &have, d) : pg_schema_version(c, &have, d);
	if (!e)
		e = version_check(have, apply, d);
	if (e || have >= pg_migrations_count) {
		if (e)
			rollback(c);
		else
			e = exec(c, "COMMIT", d);
		*ret_done = true;
		return e;
	}
	m = &pg_migrations[have];
	e = exec(c, m->sql, d);
	if (!e) {
		const char *values[2] = {record, m->name};
		PGresult *r;

		snprintf(record, sizeof(record), "%u", m->version);
		r = PQexecParams(c, "INSERT INTO schema_version (version, name) VALUES ($1, $2)", 2,
				 NULL, values, NULL, NULL, 0);
		e = pg_error_result(c, r, d);
		PQclear(r);
	}
	if (!e)
		e = exec(c, "COMMIT", d);
	if (e) {
		rollback(c);
		if (d) {
			char why[sizeof(d->text)];
			snprintf(why, sizeof(why), "%s", d->text);
			diag_set(d, e, "database", "migration %s failed: %s", m->name, why);
		}
		return e;
	}
	*ret_done = false;
	return ERR_OK;
}

enum err pg_migrate(PGconn *c, bool apply, unsigned *ret_applied, struct diag *d)
{
	unsigned applied = 0;
	bool done = false;
	enum err e = ERR_OK;

	while (!e && !done) {
		e = migrate_step(c, apply, &done, d);
		if (!e && !done)
			applied++;
	}
	if (!e && ret_applied)
		*ret_applied = applied;
	return e;
}
