/* The SQLite backend's storage: the file, one connection per thread with
 * the daemon's PRAGMAs, the prepared statements, WAL checkpoints. */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/migrations.h"
#include "storage/sqlite/checkpoint.h"
#include "common/log.h"
#include "storage/sqlite/sqlite.h"

/* The checkpoint thread is asked for a checkpoint once the WAL holds this
 * many pages (4 MiB, one upload batch), so that it stays busy while an
 * upload outruns it: at 4096 pages it sat idle while the next 16 MiB were
 * appended, and a 1 GiB upload into a database that held 1 GiB went at
 * ~190 instead of ~240 MB/s (bench/upload.sh). Without the thread (the
 * command line), commits checkpoint inline at this size, as SQLite would. */
#define WAL_CHECKPOINT_PAGES 1024
/* With a checkpointer thread, a connection whose commit leaves the WAL
 * beyond this (64 MiB) waits for the next checkpoint (at most
 * WAL_WAIT_MS): a writer faster than the checkpointer is slowed down to its
 * pace instead of growing the WAL without bound. Checkpointing by itself
 * would not do: a PASSIVE checkpoint returns at once while another runs. */
#define WAL_BACKSTOP_PAGES 16384
#define WAL_WAIT_MS	   1000
/* Writers wait this long for the write lock before the request fails busy. */
#define BUSY_TIMEOUT_MS 5000

/* SQLite's own busy handler backs off to 100 ms sleeps: a waiter then
 * misses the short gaps between the slices of a long job (a deployment's
 * fan-out, a large seen flush) and waits for its end. Polling every
 * millisecond lets it in at the next gap (issue 15). */
static int busy_wait(void *cls, int count)
{
	(void)cls;
	if ((long)count >= BUSY_TIMEOUT_MS)
		return 0;
	usleep(1000);
	return 1;
}

struct sqlite_storage {
	struct storage base; /* first: the shared part (storage/backend.h) */
	char *path;
	bool synchronous_full;
	uint64_t mmap_size;
	uint64_t max_size; /* bytes, 0 = no cap */
	pthread_key_t conn_key;
	struct checkpointer *checkpointer; /* NULL: commits checkpoint inline */
	atomic_ullong inline_checkpoints;  /* by a committing connection */
};

static struct sqlite_storage *sqlite_storage(struct storage *s)
{
	return (struct sqlite_storage *)(void *)s;
}

static const char *const statement_sql[] = {
#define STATEMENT_SQL(name, sql) [STMT_##name] = sql,
	STATEMENT_LIST(STATEMENT_SQL)
#undef STATEMENT_SQL
};

/* Text for every name: a name twice is an error of its own (-Woverride-init),
 * so with the count equal no name is without text. */
enum {
#define STATEMENT_ONE(name, sql) +1
	STATEMENT_TEXTS = 0 STATEMENT_LIST(STATEMENT_ONE)
#undef STATEMENT_ONE
};
static_assert((int)STATEMENT_TEXTS == (int)STMT__COUNT,
	      "SQL text for every statement of storage/statements.h");

static void db_free(struct db *db)
{
	if (!db)
		return;
	struct sqlite_db *sdb = sqlite_db(db);
	for (int i = 0; i < STMT__COUNT; i++)
		sqlite3_finalize(sdb->stmts[i].handle);
	sqlite3_close(sdb->handle);
	free(sdb);
}

static void db_free_cb(void *p)
{
	db_free(p);
}

enum err sqlite_exec(sqlite3 *h, const char *sql, struct diag *d)
{
	char *msg = NULL;
	int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		diag_set(d, db_error(rc), "", "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return db_error(rc) ? db_error(rc) : ERR_STORAGE;
	}
	return ERR_OK;
}

/* A raw connection with the daemon's pragmas but no prepared statements. */

/* [storage] max_size: SQLite answers SQLITE_FULL (507 to clients) once the
 * file would grow beyond it; the pages of the database's own page size. */
static enum err cap_size(sqlite3 *h, uint64_t max_size, struct diag *d)
{
	sqlite3_stmt *st = NULL;
	char sql[64];
	int64_t page = 0;

	if (sqlite3_prepare_v2(h, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		page = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (page <= 0)
		return diag_set(d, ERR_STORAGE, "database", "cannot read the page size");
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %llu;",
		 (unsigned long long)(max_size / (uint64_t)page));
	return sqlite_exec(h, sql, d);
}

/* Replaces SQLite's auto-checkpoint (which is itself a WAL hook): after each
 * commit, with FRAMES pages in the WAL. */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int frames)
{
	struct sqlite_storage *s = arg;

	if (frames < WAL_CHECKPOINT_PAGES)
		return SQLITE_OK;
	/* SQLite calls this after the commit, with no lock held. */
	if (s->checkpointer && frames < WAL_BACKSTOP_PAGES) {
		checkpointer_poke(s->checkpointer);
		return SQLITE_OK;
	}
	if (s->checkpointer) {
		checkpointer_wait(s->checkpointer, WAL_WAIT_MS);
		return SQLITE_OK;
	}
	atomic_fetch_add_explicit(&s->inline_checkpoints, 1, memory_order_relaxed);
	(void)sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

static enum err db_open_handle(const struct sqlite_storage *s, sqlite3 **ret, struct diag *d)
{
	sqlite3 *h = NULL;
	enum err e;
	int rc = sqlite3_open_v2(s->path, &h,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);

	if (rc != SQLITE_OK) {
		diag_set(d, ERR_IO, "database", "cannot open '%s': %s", s->path,
			 h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		sqlite3_close(h);
		return ERR_IO;
	}
	sqlite3_extended_result_codes(h, 1);
	sqlite3_busy_handler(h, busy_wait, NULL);
	char pragmas[160];
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA synchronous = %s; PRAGMA foreign_keys = ON; PRAGMA mmap_size = %llu;",
		 s->synchronous_full ? "FULL" : "NORMAL", (unsigned long long)s->mmap_size);
	e = sqlite_exec(h, pragmas, d);
	/* The const cast: the hook only counts in the storage. */
	sqlite3_wal_hook(h, wal_hook, (void *)s);
	if (!e && s->max_size)
		e = cap_size(h, s->max_size, d);
	if (e) {
		sqlite3_close(h);
		return e;
	}
	*ret = h;
	return ERR_OK;
}

static enum err sqlite_connection(struct storage *base, struct db **ret_db)
{
	struct sqlite_storage *s = sqlite_storage(base);
	struct db *db = pthread_getspecific(s->conn_key);
	enum err e;

	if (db) {
		*ret_db = db;
		return ERR_OK;
	}
	struct sqlite_db *sdb = calloc(1, sizeof(*sdb));
	if (!sdb)
		return ERR_NOMEM;
	e = db_open_handle(s, &sdb->handle, NULL);
	if (e) {
		free(sdb);
		return e;
	}
	db = &sdb->base;
	db->backend = &sqlite_backend;
	db->storage = base;
	if (sqlite_events_attach(sdb->handle, db) != SQLITE_OK ||
	    sqlite_unhex_attach(sdb->handle) != SQLITE_OK) {
		db_free(db);
		return ERR_STORAGE;
	}
	for (int i = 0; i < STMT__COUNT; i++) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v3(sdb->handle, statement_sql[i], -1,
					    SQLITE_PREPARE_PERSISTENT, &st, NULL);
		sqlite_stmt_init(&sdb->stmts[i], st);
		db->stmts[i] = &sdb->stmts[i].base;
		if (rc != SQLITE_OK) {
			/* A statement this SQLite cannot compile: a bug, named. */
			log_err("statement %d: %s", i, sqlite3_errmsg(sdb->handle));
			db_free(db);
			return ERR_STORAGE;
		}
	}
	if (pthread_setspecific(s->conn_key, db) != 0) {
		db_free(db);
		return ERR_NOMEM;
	}
	*ret_db = db;
	return ERR_OK;
}

static void sqlite_free(struct storage *base);

static enum err sqlite_open(const struct storage_options *opt, struct storage **ret_storage,
			    struct diag *d)
{
	struct sqlite_storage *s;
	sqlite3 *h = NULL;
	enum err e;

	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(opt->path))) {
		free(s);
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	}
	s->base.backend = &sqlite_storage_backend;
	s->synchronous_full = opt->synchronous_full;
	s->mmap_size = opt->mmap_size;
	s->max_size = opt->max_size;
	if (pthread_key_create(&s->conn_key, db_free_cb) != 0) {
		free(s->path);
		free(s);
		return diag_set(d, ERR_NOMEM, "", "out of thread keys");
	}
	e = db_open_handle(s, &h, d);
	/* WAL is persistent in the file: readers never block the writer. */
	if (!e)
		e = sqlite_exec(h, "PRAGMA journal_mode = WAL", d);
	if (!e)
		e = sqlite_migrate(h, opt->migrate, d);
	sqlite3_close(h);
	if (e) {
		sqlite_free(&s->base);
		return e;
	}
	/* Prepare every statement now: a bad one fails start-up, not a request. */
	struct db *db;
	e = sqlite_connection(&s->base, &db);
	if (e) {
		sqlite_free(&s->base);
		return diag_set(d, e, "database", "cannot prepare statements on '%s'", opt->path);
	}
	if (opt->background_checkpoint &&
	    checkpointer_start(&s->base, &s->checkpointer) != ERR_OK) {
		sqlite_free(&s->base);
		return diag_set(d, ERR_NOMEM, "", "cannot start the checkpoint thread");
	}
	*ret_storage = &s->base;
	return ERR_OK;
}

static void sqlite_free(struct storage *base)
{
	struct sqlite_storage *s = sqlite_storage(base);

	checkpointer_stop(s->checkpointer);
	s->checkpointer = NULL;
	db_free(pthread_getspecific(s->conn_key));
	pthread_setspecific(s->conn_key, NULL);
	pthread_key_delete(s->conn_key);
	free(s->path);
	free(s);
}

static enum err sqlite_schema_version(struct storage *s, unsigned *ret_have, unsigned *ret_want)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (!e)
		e = sqlite_user_version(sqlite_db(db)->handle, ret_have);
	if (!e)
		*ret_want = migrations_count;
	return e;
}

static void sqlite_wal_stats(struct storage *base, struct storage_wal_stats *ret)
{
	struct sqlite_storage *s = sqlite_storage(base);
	struct checkpoint_stats cs = {0};

	if (s->checkpointer)
		checkpointer_stats(s->checkpointer, &cs);
	ret->background_checkpoints = cs.runs;
	ret->inline_checkpoints =
		atomic_load_explicit(&s->inline_checkpoints, memory_order_relaxed);
	ret->writer_waits = cs.waits;
}

const struct storage_backend sqlite_storage_backend = {
	.name = "sqlite",
	.open = sqlite_open,
	.free = sqlite_free,
	.connection = sqlite_connection,
	.schema_version = sqlite_schema_version,
	.wal_stats = sqlite_wal_stats,
	.backup = sqlite_backup,
	.integrity_check = sqlite_integrity_check,
};
