#include "storage/storage.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/timeutil.h"
#include "storage/sqlite/checkpoint.h"
#include "storage/backend.h"
#include "storage/db.h"
#include "storage/sqlite/sqlite.h"
#include "storage/events.h"
#include "storage/migrations.h"

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

struct storage {
	char *path;
	bool synchronous_full;
	uint64_t mmap_size;
	uint64_t max_size; /* bytes, 0 = no cap */
	pthread_key_t conn_key;
	struct checkpointer *checkpointer; /* NULL: commits checkpoint inline */
	atomic_ullong inline_checkpoints;  /* by a committing connection */
	/* Told of committed events (storage/events.h); written before the
	 * daemon serves, the count published last. */
	storage_events_listener listeners[STORAGE_EVENTS_LISTENERS];
	void *listener_cls[STORAGE_EVENTS_LISTENERS];
	atomic_uint listener_count;
};

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

static enum err db_exec(sqlite3 *h, const char *sql, struct diag *d)
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
	return db_exec(h, sql, d);
}

/* Replaces SQLite's auto-checkpoint (which is itself a WAL hook): after each
 * commit, with FRAMES pages in the WAL. */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int frames)
{
	struct storage *s = arg;

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

static enum err db_open_handle(const struct storage *s, sqlite3 **ret, struct diag *d)
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
	e = db_exec(h, pragmas, d);
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

enum err db_get(struct storage *s, struct db **ret_db)
{
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
	db->storage = s;
	if (sqlite_events_attach(sdb->handle, db) != SQLITE_OK) {
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

enum err storage_events_listen(struct storage *s, storage_events_listener fn, void *cls)
{
	unsigned n = atomic_load(&s->listener_count);

	if (n >= STORAGE_EVENTS_LISTENERS)
		return ERR_INTERNAL;
	s->listeners[n] = fn;
	s->listener_cls[n] = cls;
	atomic_store(&s->listener_count, n + 1);
	return ERR_OK;
}

void db_events_notify(struct storage *s, int64_t newest_id)
{
	unsigned n = atomic_load(&s->listener_count);

	for (unsigned i = 0; i < n; i++)
		s->listeners[i](s->listener_cls[i], newest_id);
}

static enum err user_version(sqlite3 *h, unsigned *ret)
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
static enum err migrate(sqlite3 *h, bool apply, struct diag *d)
{
	unsigned have;
	enum err e = user_version(h, &have);

	if (e)
		return diag_set(d, e, "database", "cannot read schema version: %s",
				sqlite3_errmsg(h));
	if (have > migrations_count)
		return diag_set(d, ERR_DB_TOO_NEW, "database",
				"schema version %u is newer than this suitd knows (%u): refusing "
				"to touch it",
				have, migrations_count);
	if (have < migrations_count && !apply)
		return diag_set(d, ERR_STORAGE, "database",
				"schema version %u is older than %u: run 'suitd migrate'", have,
				migrations_count);
	for (unsigned i = have; i < migrations_count; i++) {
		char pragma[64];

		e = db_exec(h, "BEGIN IMMEDIATE", d);
		if (e)
			return e;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", migrations[i].version);
		e = db_exec(h, migrations[i].sql, d);
		if (!e)
			e = db_exec(h, pragma, d);
		if (!e)
			e = db_exec(h, "COMMIT", d);
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

enum err storage_open(const struct storage_options *opt, struct storage **ret_storage,
		      struct diag *d)
{
	struct storage *s;
	sqlite3 *h = NULL;
	enum err e;

	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(opt->path))) {
		free(s);
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	}
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
		e = db_exec(h, "PRAGMA journal_mode = WAL", d);
	if (!e)
		e = migrate(h, opt->migrate, d);
	sqlite3_close(h);
	if (e) {
		storage_free(s);
		return e;
	}
	/* Prepare every statement now: a bad one fails start-up, not a request. */
	struct db *db;
	e = db_get(s, &db);
	if (e) {
		storage_free(s);
		return diag_set(d, e, "database", "cannot prepare statements on '%s'", opt->path);
	}
	if (opt->background_checkpoint && checkpointer_start(s, &s->checkpointer) != ERR_OK) {
		storage_free(s);
		return diag_set(d, ERR_NOMEM, "", "cannot start the checkpoint thread");
	}
	*ret_storage = s;
	return ERR_OK;
}

void storage_free(struct storage *s)
{
	if (!s)
		return;
	checkpointer_stop(s->checkpointer);
	s->checkpointer = NULL;
	db_free(pthread_getspecific(s->conn_key));
	pthread_setspecific(s->conn_key, NULL);
	pthread_key_delete(s->conn_key);
	free(s->path);
	free(s);
}

enum err storage_schema_version(struct storage *s, unsigned *ret_have, unsigned *ret_want)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (!e)
		e = user_version(sqlite_db(db)->handle, ret_have);
	if (!e)
		*ret_want = migrations_count;
	return e;
}

void storage_wal_stats(struct storage *s, struct storage_wal_stats *ret)
{
	struct checkpoint_stats cs = {0};

	if (s->checkpointer)
		checkpointer_stats(s->checkpointer, &cs);
	ret->background_checkpoints = cs.runs;
	ret->inline_checkpoints =
		atomic_load_explicit(&s->inline_checkpoints, memory_order_relaxed);
	ret->writer_waits = cs.waits;
}

enum err storage_backup(struct storage *s, const char *out, struct diag *d)
{
	struct db *db;
	sqlite3_stmt *st = NULL;
	CLEANUP_FREE char *tmp = NULL;
	enum err e = db_get(s, &db);
	size_t n;
	int rc, fd;

	if (e)
		return diag_set(d, e, "", "cannot open database");
	if (access(out, F_OK) == 0)
		return diag_set(d, ERR_EXISTS, "", "'%s' exists: refusing to overwrite it", out);
	n = strlen(out) + 32;
	tmp = malloc(n);
	if (!tmp)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	snprintf(tmp, n, "%s.partial-%ld", out, (long)getpid());
	unlink(tmp);
	/* VACUUM INTO reads one snapshot: consistent while writers go on. */
	rc = sqlite3_prepare_v2(sqlite_db(db)->handle, "VACUUM INTO ?1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, tmp, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		diag_set(d, ERR_IO, "", "backup to '%s' failed: %s", out,
			 sqlite3_errmsg(sqlite_db(db)->handle));
		sqlite3_finalize(st);
		unlink(tmp);
		return ERR_IO;
	}
	sqlite3_finalize(st);
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		e = diag_set(d, ERR_IO, "", "cannot sync '%s': %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return e;
	}
	close(fd);
	/* link() does not replace an existing file, unlike rename(). */
	if (link(tmp, out) != 0) {
		e = diag_set(d, errno == EEXIST ? ERR_EXISTS : ERR_IO, "", "cannot create '%s': %s",
			     out, strerror(errno));
		unlink(tmp);
		return e;
	}
	unlink(tmp);
	/* The new name must survive a crash too: sync the folder. */
	CLEANUP_FREE char *dir = strdup(out);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		*slash = '\0';
	fd = open(slash ? (slash == dir ? "/" : dir) : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return ERR_OK;
}

enum err storage_integrity_check(struct storage *s, bool *ret_ok)
{
	struct db *db;
	sqlite3_stmt *st = NULL;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	rc = sqlite3_prepare_v2(sqlite_db(db)->handle, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return ERR_STORAGE;
	}
	const unsigned char *t = sqlite3_column_text(st, 0);
	*ret_ok = t && strcmp((const char *)t, "ok") == 0;
	sqlite3_finalize(st);
	return ERR_OK;
}
