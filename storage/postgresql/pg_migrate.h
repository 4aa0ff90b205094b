/* The PostgreSQL schema (issue 21): migrations/postgresql/NNNN_name.sql,
 * embedded as pg_migrations[] by tools/embed-migrations.sh, applied in
 * order, one transaction each, under an advisory lock. */
#ifndef SUITD_STORAGE_POSTGRESQL_PG_MIGRATE_H
#define SUITD_STORAGE_POSTGRESQL_PG_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "common/error.h"
#include "storage/migrations.h"

extern const struct migration pg_migrations[];
extern const unsigned pg_migrations_count;

/* The key of pg_advisory_xact_lock() every migration transaction takes, so
 * that two nodes (or two `suitd migrate`) never migrate at once: the bytes
 * of "suitdmig" as a big-endian int64. Another application sharing the
 * database must not use it. */
#define PG_MIGRATE_LOCK_KEY INT64_C(0x73756974646d6967)

/* The newest version in the table schema_version (0: none, or no table). */
enum err pg_schema_version(PGconn *c, unsigned *ret_have, struct diag *d);

/* Bring the schema to pg_migrations_count: each pending migration in its own
 * transaction together with its schema_version row (version, name,
 * applied_at), each transaction holding the advisory lock and reading the
 * version again under it, so a migrator that waited finds the work done.
 * apply false: only check (ERR_STORAGE when migrations are pending).
 * ERR_DB_TOO_NEW when the database has a version this binary does not know.
 * ret_applied (may be NULL): how many migrations this call applied. */
enum err pg_migrate(PGconn *c, bool apply, unsigned *ret_applied, struct diag *d);

#endif
