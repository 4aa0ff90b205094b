/* The PostgreSQL backend's storage (issue 21): the options, one connection
 * per thread with every statement prepared, the reconnect after a lost
 * connection, the schema, and what backup and checks mean here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/postgresql/pg.h"
#include "storage/postgresql/pg_migrate.h"

static struct pg_storage *pg_storage(struct storage *s)
{
	return (struct pg_storage *)(void *)s;
}

int64_t pg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void db_free(struct pg_db *db)
{
	if (!db)
		return;
	pg_db_broken(db); /* closes the connection */
	pg_stmts_free(db);
	free(db);
}

static void db_free_cb(void *p)
{
	db_free(p);
}

/* A slot of pool_size for one more connection. */
static bool slot_take(struct pg_storage *s)
{
	unsigned n = atomic_load(&s->connections);

	do {
		if (s->pool_size && n >= s->pool_size)
			return false;
	} while (!atomic_compare_exchange_weak(&s->connections, &n, n + 1));
	return true;
}

/* Connect db (whose conn is NULL) and prepare its statements. c: a
 * connection already open, or NULL. */
static enum err db_connect(struct pg_db *db, PGconn *c, struct diag *d)
{
	struct pg_storage *s = db->storage;
	enum err e;

	db->retry_ms = pg_now_ms();
	if (!slot_take(s)) {
		PQfinish(c);
		return diag_set(d, ERR_BUSY, "database",
				"all %u connections of [storage] pool_size are in use",
				s->pool_size);
	}
	if (!c && (e = pg_conn_open(&s->conn, &c, d))) {
		atomic_fetch_sub(&s->connections, 1);
		return e;
	}
	db->conn = c;
	/* Nothing deferred survives the connection it was sent on. */
	db->deferred = 0;
	db->deferred_rc = 0;
	e = pg_stmts_prepare(db, d);
	if (e)
		pg_db_broken(db);
	return e;
}

enum err pg_db_reconnect(struct pg_db *db)
{
	if (db->conn)
		return ERR_OK;
	if (pg_now_ms() - db->retry_ms < PG_RECONNECT_INTERVAL_MS)
		return ERR_STORAGE_UNAVAILABLE;
	struct diag d = {0};
	enum err e = db_connect(db, NULL, &d);
	/* For the log of the requests that fail meanwhile (server/). */
	storage_unavailable_set(&db->storage->base, e ? d.text : NULL);
	return e;
}

static enum err pg_connection(struct storage *base, struct db **ret_db)
{
	struct pg_storage *s = pg_storage(base);
	struct pg_db *db = pthread_getspecific(s->conn_key);
	enum err e;

	if (db && db->conn) {
		*ret_db = &db->base;
		return ERR_OK;
	}
	if (!db) {
		db = calloc(1, sizeof(*db));
		if (!db)
			return ERR_NOMEM;
		db->base.backend = &pg_backend;
		db->base.storage = base;
		db->storage = s;
		if (pthread_setspecific(s->conn_key, db) != 0) {
			free(db);
			return ERR_NOMEM;
		}
		db->retry_ms = pg_now_ms() - PG_RECONNECT_INTERVAL_MS;
	}
	e = pg_db_reconnect(db);
	if (e)
		return e;
	*ret_db = &db->base;
	return ERR_OK;
}

static void pg_free(struct storage *base);

static char *strdup_or_null(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

static enum err pg_open(const struct storage_options *opt, struct storage **ret_storage,
			struct diag *d)
{
	struct pg_storage *s;
	struct pg_db *db;
	PGconn *c = NULL;
	enum err e;

	if (!opt->url || !opt->url[0])
		return diag_set(d, ERR_CONFIG, "url", "[storage] backend = postgresql needs url");
	s = calloc(1, sizeof(*s));
	if (!s)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	s->base.backend = &postgresql_storage_backend;
	s->url = strdup(opt->url);
	s->password_file = strdup_or_null(opt->password_file);
	s->pool_size = opt->pool_size;
	if (!s->url || (opt->password_file && opt->password_file[0] && !s->password_file) ||
	    pthread_key_create(&s->conn_key, db_free_cb) != 0) {
		free(s->url);
		free(s->password_file);
		free(s);
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	}
	s->conn.url = s->url;
	s->conn.password_file = s->password_file;
	s->conn.statement_timeout_ms = opt->statement_timeout_ms;
	e = pg_conn_open(&s->conn, &c, d);
	if (!e)
		e = pg_migrate(c, opt->migrate, NULL, d);
	if (e) {
		PQfinish(c);
		pg_free(&s->base);
		return e;
	}
	/* This thread's connection is the one that migrated; every statement
	 * is prepared now, so a bad one fails start-up, not a request. */
	db = calloc(1, sizeof(*db));
	if (!db || pthread_setspecific(s->conn_key, db) != 0) {
		free(db);
		PQfinish(c);
		pg_free(&s->base);
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	}
	db->base.backend = &pg_backend;
	db->base.storage = &s->base;
	db->storage = s;
	e = db_connect(db, c, d);
	if (e) {
		pg_free(&s->base);
		return e;
	}
	*ret_storage = &s->base;
	return ERR_OK;
}

static void pg_free(struct storage *base)
{
	struct pg_storage *s = pg_storage(base);

	pg_cluster_free(s);
	db_free(pthread_getspecific(s->conn_key));
	pthread_setspecific(s->conn_key, NULL);
	pthread_key_delete(s->conn_key);
	free(s->url);
	free(s->password_file);
	free(s);
}

static enum err pg_schema_version_get(struct storage *s, unsigned *ret_have, unsigned *ret_want)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (!e)
		e = pg_schema_version(pg_db(db)->conn, ret_have, NULL);
	if (!e)
		*ret_want = pg_migrations_count;
	return e;
}

/* No WAL of suitd's own: the server checkpoints. */
static void pg_wal_stats(struct storage *s, struct storage_wal_stats *ret)
{
	(void)s;
	memset(ret, 0, sizeof(*ret));
}

/* suitd backup copies SQLite's file; a PostgreSQL database is backed up
 * with the server's tools (docs/operations.md "Backups"). */
static enum err pg_backup(struct storage *s, const char *out, struct diag *d)
{
	(void)s;
	(void)out;
	return diag_set(d, ERR_INVALID, "backup",
			"[storage] backend = postgresql: back the database up with pg_dump "
			"(or the server's base backups); suitd backup copies SQLite files only");
}

/* PostgreSQL has no whole-database check like SQLite's integrity_check
 * (amcheck is an extension, run by the server's operator): this says the
 * server answers a query, and no more. */
static enum err pg_integrity_check(struct storage *s, bool *ret_ok)
{
	enum err e = storage_ping(s);

	if (!e)
		*ret_ok = true;
	return e;
}

const struct storage_backend postgresql_storage_backend = {
	.name = "postgresql",
	.open = pg_open,
	.free = pg_free,
	.connection = pg_connection,
	.schema_version = pg_schema_version_get,
	.wal_stats = pg_wal_stats,
	.backup = pg_backup,
	.integrity_check = pg_integrity_check,
	.cluster_start = pg_cluster_start,
	.cluster_stop = pg_cluster_stop,
	.cluster_stats = pg_cluster_stats,
};
