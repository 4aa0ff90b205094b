/* storage/: migrations on a temp database, API keys, backup, WAL checkpoints. */
#include <check.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/api_keys.h"
#include "storage/backend.h"
#include "storage/batch.h"
#include "storage/db.h"
#include "storage/devices.h"
#include "storage/migrations.h"
#include "storage/payloads.h"
#include "storage/readahead.h"
#include "storage/sqlite/statements.h"
#include "storage/storage.h"

#include "tests/batch_wait.h"
#include "tests/check_run.h"

static char dir[64], db_path[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/suitd-check-storage-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/t.db", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct storage *open_db_cap(bool migrate, bool background_checkpoint, uint64_t max_size,
				   enum err expect)
{
	struct storage_options opt = {.path = db_path,
				      .synchronous_full = true,
				      .migrate = migrate,
				      .max_size = max_size,
				      .background_checkpoint = background_checkpoint};
	struct storage *s = NULL;
	struct diag d = {0};

	ck_assert_int_eq(storage_open(&opt, &s, &d), expect);
	return s;
}

static struct storage *open_db_opt(bool migrate, bool background_checkpoint, enum err expect)
{
	return open_db_cap(migrate, background_checkpoint, 0, expect);
}

static struct storage *open_db(bool migrate, enum err expect)
{
	return open_db_opt(migrate, false, expect);
}

static int pragma_int(const char *pragma)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int v;

	ck_assert_int_eq(sqlite3_open(db_path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, pragma, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

START_TEST(test_migrate_fresh_and_again)
{
	struct storage *s = open_db(true, ERR_OK);
	unsigned have, want;

	ck_assert_int_eq(storage_schema_version(s, &have, &want), ERR_OK);
	ck_assert_uint_eq(have, migrations_count);
	ck_assert_uint_eq(want, migrations_count);
	storage_free(s);
	/* Idempotent: a second open applies nothing and keeps the version. */
	s = open_db(true, ERR_OK);
	storage_free(s);
	ck_assert_int_eq(pragma_int("PRAGMA user_version"), (int)migrations_count);
	/* WAL persists in the file. */
	sqlite3 *h;
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_open(db_path, &h), SQLITE_OK);
	sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(h);
}
END_TEST

START_TEST(test_refuse_newer_database)
{
	sqlite3 *h;

	ck_assert_int_eq(sqlite3_open(db_path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	ck_assert_ptr_null(open_db(true, ERR_DB_TOO_NEW));
	/* And it was not touched. */
	ck_assert_int_eq(pragma_int("PRAGMA user_version"), 999);
}
END_TEST

START_TEST(test_refuse_unmigrated_without_migrate)
{
	ck_assert_ptr_null(open_db(false, ERR_STORAGE));
	ck_assert_int_eq(pragma_int("PRAGMA user_version"), 0);
}
END_TEST

START_TEST(test_api_keys)
{
	struct storage *s = open_db(true, ERR_OK);
	uint8_t h1[SHA256_LEN], h2[SHA256_LEN], h3[SHA256_LEN];
	struct api_key k, list[4];
	unsigned n;

	crypto_sha256("one", 3, h1);
	crypto_sha256("two", 3, h2);
	crypto_sha256("three", 5, h3);
	ck_assert_int_eq(storage_api_key_insert(s, "ops", ROLE_OPERATOR, h1, 0, "test"), ERR_OK);
	ck_assert_int_eq(storage_api_key_insert(s, "ops", ROLE_ADMIN, h2, 0, "test"), ERR_EXISTS);
	ck_assert_int_eq(storage_api_key_by_hash(s, h1, &k), ERR_OK);
	ck_assert_str_eq(k.name, "ops");
	ck_assert_int_eq(k.role, ROLE_OPERATOR);
	ck_assert_int_eq(k.revoked_at, 0);
	ck_assert_int_eq(storage_api_key_by_hash(s, h2, &k), ERR_NOT_FOUND);
	ck_assert_int_eq(storage_api_key_touch(s, h1, 12345), ERR_OK);
	ck_assert_int_eq(storage_api_key_by_hash(s, h1, &k), ERR_OK);
	ck_assert_int_eq(k.last_used_at, 12345);
	ck_assert_int_eq(storage_api_key_revoke(s, "ops", "test"), ERR_OK);
	ck_assert_int_eq(storage_api_key_revoke(s, "ops", "test"), ERR_NOT_FOUND);
	ck_assert_int_eq(storage_api_key_by_hash(s, h1, &k), ERR_OK);
	ck_assert_int_ne(k.revoked_at, 0);
	/* The name is free again once revoked. */
	ck_assert_int_eq(storage_api_key_insert(s, "ops", ROLE_ADMIN, h2, 0, "test"), ERR_OK);
	ck_assert_int_eq(storage_api_key_insert(s, "other", ROLE_READER, h3, 0, "test"), ERR_OK);
	/* Keyset pagination. */
	ck_assert_int_eq(storage_api_key_list(s, 0, 2, list, &n), ERR_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(storage_api_key_list(s, list[1].id, 4, list, &n), ERR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].name, "other");
	storage_free(s);
	/* 3 creations and 1 revocation; the refused ones left no row. */
	ck_assert_int_eq(pragma_int("SELECT count(*) FROM events WHERE admin = 1"), 4);
}
END_TEST

/* A device change reports whether its group or set of tags really changed:
 * only then may it join a deployment (a PATCH that repeats them once let
 * an older deployment supersede a newer one). */
START_TEST(test_device_membership_change)
{
	struct storage *s = open_db(true, ERR_OK);
	static const char *const ab[] = {"a", "b"}, *const baa[] = {"b", "a", "a"},
				 *const a[] = {"a"}, *const abc[] = {"a", "b", "c"};
	struct device_new d = {.id = "dev", .group = "g", .tags = ab, .tag_count = 2};
	struct device_ident ident;
	static const struct {
		const char *group;
		const char *const *tags;
		unsigned tag_count;
		bool set_tags;
		const char *attributes;
		bool want;
	} steps[] = {
		{"g", NULL, 0, false, NULL, false},  /* the same group */
		{NULL, baa, 3, true, NULL, false},   /* the same set, another order, a repeat */
		{NULL, NULL, 0, false, "{}", false}, /* attributes only */
		{"h", NULL, 0, false, NULL, true},   /* another group */
		{"", NULL, 0, false, NULL, true},    /* no group */
		{"", NULL, 0, false, NULL, false},   /* still none */
		{NULL, a, 1, true, NULL, true},	     /* fewer tags */
		{NULL, abc, 3, true, NULL, true},    /* more tags */
		{NULL, NULL, 0, true, NULL, true},   /* none */
		{NULL, NULL, 0, true, NULL, false},  /* still none */
	};

	ck_assert_int_eq(storage_device_insert(s, &d, "test", &ident), ERR_OK);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct device_change c = {.group = steps[i].group,
					  .tags = steps[i].tags,
					  .tag_count = steps[i].tag_count,
					  .set_tags = steps[i].set_tags,
					  .attributes = steps[i].attributes};
		bool changed = !steps[i].want;
		ck_assert_int_eq(storage_device_update(s, "dev", &c, "t", &changed), ERR_OK);
		ck_assert_msg(changed == steps[i].want, "step %zu: changed %d", i, changed);
	}
	storage_free(s);
}
END_TEST

START_TEST(test_backup)
{
	struct storage *s = open_db(true, ERR_OK), *copy;
	uint8_t h[SHA256_LEN];
	char out[160];
	struct diag d = {0};
	bool ok = false;

	crypto_sha256("k", 1, h);
	ck_assert_int_eq(storage_api_key_insert(s, "a", ROLE_ADMIN, h, 0, "test"), ERR_OK);
	snprintf(out, sizeof(out), "%s/backup.db", dir);
	ck_assert_int_eq(storage_backup(s, out, &d), ERR_OK);
	ck_assert_int_eq(storage_backup(s, out, &d), ERR_EXISTS);
	storage_free(s);
	snprintf(db_path, sizeof(db_path), "%s", out);
	copy = open_db(false, ERR_OK);
	ck_assert_int_eq(storage_integrity_check(copy, &ok), ERR_OK);
	ck_assert(ok);
	struct api_key k;
	ck_assert_int_eq(storage_api_key_by_hash(copy, h, &k), ERR_OK);
	storage_free(copy);
}
END_TEST

/* Store SIZE bytes (a pattern that differs in every MiB) as a payload, with
 * chunks written in place or by BATCHER's thread, and read them all back. */
static void payload_round_trip(struct storage *s, struct batcher *batcher, size_t size)
{
	static unsigned char block[1 << 20], back[1 << 20];
	struct payload_writer *w;
	struct payload p;
	uint8_t sha[SHA256_LEN] = {1};
	bool created = false;

	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (unsigned char)(i * 7 + i / 4096);
	ck_assert_int_eq(storage_payload_writer_new(s, batcher, &w), ERR_OK);
	/* Odd-sized appends: buffer boundaries fall inside them. */
	for (size_t off = 0; off < size; off += sizeof(block)) {
		block[0] = (unsigned char)(off >> 20);
		ck_assert_int_eq(storage_payload_writer_append(w, block, 1000), ERR_OK);
		ck_assert_int_eq(
			storage_payload_writer_append(w, block + 1000, sizeof(block) - 1000),
			ERR_OK);
	}
	ck_assert_int_eq(storage_payload_writer_commit(w, sha, size, "t", "t", &p, &created),
			 ERR_OK);
	storage_payload_writer_free(w);
	ck_assert(created);
	ck_assert_uint_eq(p.size, size);
	for (size_t off = 0; off < size; off += sizeof(back)) {
		block[0] = (unsigned char)(off >> 20);
		ck_assert_int_eq(storage_payload_read(s, &p, off, back, sizeof(back)), ERR_OK);
		ck_assert_msg(memcmp(back, block, sizeof(back)) == 0, "MiB %zu differs", off >> 20);
	}
}

/* 40 MiB is ~10,000 WAL pages: past the 1024 that ask for a checkpoint and
 * short of the 16,384 beyond which a committing thread waits for the
 * checkpoint thread. */
#define CHECKPOINT_TEST_BYTES (40u << 20)

START_TEST(test_checkpoint_thread)
{
	struct storage *s = open_db_opt(true, true, ERR_OK);
	struct storage_wal_stats ws = {0};
	bool ok = false;

	payload_round_trip(s, NULL, CHECKPOINT_TEST_BYTES);
	/* The thread was poked by the commits; give it time to run. */
	for (int i = 0; i < 1000 && ws.background_checkpoints == 0; i++) {
		storage_wal_stats(s, &ws);
		if (!ws.background_checkpoints)
			usleep(10000);
	}
	ck_assert_uint_gt(ws.background_checkpoints, 0);
	ck_assert_int_eq(storage_integrity_check(s, &ok), ERR_OK);
	ck_assert(ok);
	storage_free(s); /* stops and joins the thread */
}
END_TEST

/* A reader that keeps its snapshot stops every checkpoint short, so the WAL
 * grows past 64 MiB: each commit then waits for a checkpoint run, which
 * ends at once. Writers are slowed, never stopped. */
START_TEST(test_checkpoint_writer_waits)
{
	struct storage *s = open_db_opt(true, true, ERR_OK);
	struct storage_wal_stats ws = {0};
	sqlite3 *reader;
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_open(db_path, &reader), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(reader, "SELECT count(*) FROM chunks", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW); /* the snapshot is taken */
	payload_round_trip(s, NULL, 80u << 20);
	storage_wal_stats(s, &ws);
	ck_assert_uint_gt(ws.writer_waits, 0);
	ck_assert_uint_eq(ws.inline_checkpoints, 0);
	sqlite3_finalize(st);
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	storage_free(s);
}
END_TEST

START_TEST(test_checkpoint_inline_without_thread)
{
	struct storage *s = open_db_opt(true, false, ERR_OK);
	struct storage_wal_stats ws = {0};

	payload_round_trip(s, NULL, CHECKPOINT_TEST_BYTES);
	storage_wal_stats(s, &ws);
	ck_assert_uint_eq(ws.background_checkpoints, 0);
	ck_assert_uint_gt(ws.inline_checkpoints, 0);
	storage_free(s);
}
END_TEST

/* Chunks written by a batcher's thread while the next buffer fills. */
START_TEST(test_writer_in_background)
{
	struct storage *s = open_db(true, ERR_OK);
	struct batcher *b;
	struct batch_stats bs;

	ck_assert_int_eq(batcher_start(s, 4, &b), ERR_OK);
	payload_round_trip(s, b, 21u << 20); /* 5 full buffers and a short one */
	batcher_stats(b, &bs);
	ck_assert_uint_eq(bs.jobs, 5); /* the last buffer is written by the commit */
	batcher_stop(b);
	storage_free(s);
}
END_TEST

/* A background write that fails (the database is at [storage] max_size)
 * fails the upload with the cause, and dropping it leaves no chunk. */
START_TEST(test_writer_in_background_full)
{
	static unsigned char block[1 << 20];
	struct storage *s = open_db_cap(true, false, 6u << 20, ERR_OK);
	struct payload_writer *w;
	struct batcher *b;
	struct payload p;
	uint8_t sha[SHA256_LEN] = {2};
	bool created = false;
	enum err e = ERR_OK;

	ck_assert_int_eq(batcher_start(s, 4, &b), ERR_OK);
	ck_assert_int_eq(storage_payload_writer_new(s, b, &w), ERR_OK);
	for (int i = 0; i < 16 && !e; i++)
		e = storage_payload_writer_append(w, block, sizeof(block));
	if (!e)
		e = storage_payload_writer_commit(w, sha, 16u << 20, NULL, "t", &p, &created);
	ck_assert_int_eq(e, ERR_NO_SPACE);
	ck_assert(!created);
	storage_payload_writer_free(w);
	batcher_stop(b);
	storage_free(s);
	ck_assert_int_eq(pragma_int("SELECT count(*) FROM chunks"), 0);
	ck_assert_int_eq(pragma_int("SELECT count(*) FROM uploads"), 0);
}
END_TEST

/* Byte I of the read-ahead test's payload: differs within and across
 * chunks and blocks. */
static unsigned char ra_byte(uint64_t i)
{
	return (unsigned char)(i * 7 + i / 65537 + i / 262147);
}

/* Read [OFF, OFF + LEN) through C and compare with the pattern. */
static void ra_read_check(struct payload_cursor *c, uint64_t off, size_t len, uint64_t ahead_end)
{
	static unsigned char back[600000];

	ck_assert_uint_le(len, sizeof(back));
	ck_assert_int_eq(payload_cursor_read(c, off, back, len, ahead_end), ERR_OK);
	for (size_t i = 0; i < len; i++)
		if (back[i] != ra_byte(off + i))
			ck_abort_msg("byte %llu: %u, expected %u", (unsigned long long)(off + i),
				     back[i], ra_byte(off + i));
}

/* Download reads through the read-ahead threads (storage/readahead.h):
 * sequential reads of sizes that are not the block's (served from the
 * block read ahead, in whole or in part), a read larger than the block, a
 * jump back, a range that ends mid-chunk, a cursor freed while its block is
 * being read, and a cursor without threads. */
START_TEST(test_readahead_cursor)
{
	static unsigned char buf[1 << 20];
	const uint64_t size = 2621440 + 1234; /* 40 chunks and a short one */
	struct storage *s = open_db(true, ERR_OK);
	struct payload_writer *w;
	struct payload_cursor *c;
	struct readahead *ra;
	struct payload p;
	uint8_t sha[SHA256_LEN] = {3};
	bool created = false;

	ck_assert_int_eq(storage_payload_writer_new(s, NULL, &w), ERR_OK);
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = ra_byte(off + i);
		ck_assert_int_eq(storage_payload_writer_append(w, buf, n), ERR_OK);
	}
	ck_assert_int_eq(storage_payload_writer_commit(w, sha, size, "ra", "t", &p, &created),
			 ERR_OK);
	storage_payload_writer_free(w);
	ck_assert_int_eq(readahead_start(s, 2, &ra), ERR_OK);

	/* A range from mid-chunk to mid-chunk over several blocks. */
	ck_assert_int_eq(payload_cursor_new(ra, s, &p, &c), ERR_OK);
	uint64_t first = 70001, end = 2000001;
	for (uint64_t off = first; off < end; off += 100000)
		ra_read_check(c, off, end - off < 100000 ? (size_t)(end - off) : 100000, end);
	/* One download, free threads: every read after the first found its
	 * bytes read ahead (the thread is idle again before it says done). */
	ck_assert_uint_eq(readahead_blocks(ra), 19);
	ra_read_check(c, 5, 300000, size);	     /* back, larger than a block */
	ra_read_check(c, 300005, 500000, size + 99); /* past the end: clamped */
	ra_read_check(c, 800005, (size_t)(size - 800005 < 600000 ? size - 800005 : 600000), size);
	payload_cursor_free(c);

	/* Freed with its next block in flight (or just read): no leak, no use
	 * after free (the sanitizer builds run this). */
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(payload_cursor_new(ra, s, &p, &c), ERR_OK);
		ra_read_check(c, (uint64_t)i * 65536, 1000, size);
		payload_cursor_free(c);
	}
	readahead_stop(ra);

	ck_assert_int_eq(payload_cursor_new(NULL, s, &p, &c), ERR_OK);
	ra_read_check(c, size - 70000, 70000, size);
	payload_cursor_free(c);
	storage_free(s);
}
END_TEST

/* Issue 15: a filtered device list walks the index of its filter from the
 * cursor on and never sorts the matches (SQLite's plan, on the migrated
 * schema): a page at any depth of a million devices is an index range. */
#define X(name, sql) [STMT_##name] = sql,
static const char *const statement_text[] = {STATEMENT_LIST(X)};
#undef X

static void assert_plan(sqlite3 *h, enum stmt which, const char *search)
{
	char q[8192];
	sqlite3_stmt *st;
	bool searched = false;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", statement_text[which]);
	ck_assert_int_eq(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(st, 3);
		if (sqlite3_column_int(st, 1) != 0)
			continue; /* the state filter's subquery: one device's rows */
		ck_assert_msg(!strstr(detail, "TEMP B-TREE"), "statement %d sorts: %s", which,
			      detail);
		searched = searched || strstr(detail, search) != NULL;
	}
	sqlite3_finalize(st);
	ck_assert_msg(searched, "statement %d does not use %s", which, search);
}

/* A job after which the database's transaction is gone (SQLite rolls it
 * back itself on a full disk; PostgreSQL's connection breaks when the
 * server crashes): the batch fails, and the batcher must leave the writer
 * turnstile. It kept it while it idled, and every other write transaction
 * of the process then queued 5 s for its turn (found by tests/crash/run.sh
 * on PostgreSQL: no write acknowledged for seconds after an outage). */
static enum err gone_apply(struct db *db, struct batch_job *job)
{
	(void)job;
	ck_assert_int_eq(db_step_once(db, STMT_ROLLBACK), ERR_OK);
	return ERR_NO_SPACE;
}

START_TEST(test_batch_transaction_gone_leaves_turn)
{
	struct storage *s = open_db(true, ERR_OK);
	struct batcher *b;

	ck_assert_int_eq(batcher_start(s, 4, &b), ERR_OK);
	ck_assert_int_eq(batch_wait_run(b, gone_apply), ERR_NO_SPACE);
	/* The batcher idles now: the turn is free at once (no wait at all). */
	ck_assert_msg(turnstile_enter(&s->writers, 0), "the batcher kept the writer turn");
	turnstile_leave(&s->writers);
	batcher_stop(b);
	storage_free(s);
}
END_TEST

/* Segments of the group commit (storage/batch.c): consecutive fast jobs
 * with distinct keys share one prefetch; a job without fast ops runs in
 * its own savepoint between them; a fast job that spoils the transaction
 * makes the whole batch run again job by job, and nothing of the first
 * run stays. Each job writes a row (an API key named after it), so a
 * rerun that kept the first run's writes would show twice. A gate job
 * holds the writer while the others queue: they are one batch. */
struct seg_job {
	struct batch_job base; /* first */
	int id;
	bool spoil_fast; /* the fast apply fails: the transaction is spoiled */
	bool fail_safe;	 /* apply fails: this job's outcome */
	bool conflict;	 /* both: refused without a write */
	unsigned prefetched, segment_size, fast_runs, safe_runs, finished;
	enum err outcome;
	bool done;
};

static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t seg_cond = PTHREAD_COND_INITIALIZER;
static bool gate_entered, gate_open;

static enum err seg_write(struct db *db, const struct seg_job *j)
{
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_API_KEY_INSERT);
	char name[16];
	uint8_t hash[32] = {0};

	snprintf(name, sizeof(name), "job-%d", j->id);
	hash[0] = (uint8_t)j->id;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, "reader");
	db_bind_blob(st, 3, hash, sizeof(hash));
	sql_bind_i64(st, 4, 1);
	return db_result(sql_step(st));
}

static enum err seg_apply(struct db *db, struct batch_job *base)
{
	struct seg_job *j = (struct seg_job *)base;

	j->safe_runs++;
	if (j->conflict)
		return ERR_CONFLICT;
	enum err e = seg_write(db, j);
	return e ? e : j->fail_safe ? ERR_STORAGE : ERR_OK;
}

static enum err seg_prefetch(struct db *db, struct batch_job **jobs, unsigned n)
{
	(void)db;
	for (unsigned i = 0; i < n; i++) {
		((struct seg_job *)jobs[i])->prefetched++;
		((struct seg_job *)jobs[i])->segment_size = n;
	}
	return ERR_OK;
}

static enum err seg_apply_fast(struct db *db, struct batch_job *base, enum err *ret_outcome)
{
	struct seg_job *j = (struct seg_job *)base;

	j->fast_runs++;
	*ret_outcome = j->conflict ? ERR_CONFLICT : ERR_OK;
	if (j->conflict)
		return ERR_OK;
	enum err e = seg_write(db, j);
	return e ? e : j->spoil_fast ? ERR_STORAGE : ERR_OK;
}

/* Once per segment, after every job of it. */
static enum err seg_finish(struct db *db, struct batch_job **jobs, unsigned n)
{
	(void)db;
	for (unsigned i = 0; i < n; i++) {
		struct seg_job *j = (struct seg_job *)jobs[i];
		ck_assert_uint_eq(j->fast_runs, 1);
		j->finished++;
	}
	return ERR_OK;
}

static const struct batch_fast seg_fast = {
	.prefetch = seg_prefetch, .apply = seg_apply_fast, .finish = seg_finish};

static void seg_done(struct batch_job *base, enum err e)
{
	struct seg_job *j = (struct seg_job *)base;

	pthread_mutex_lock(&seg_lock);
	j->outcome = e;
	j->done = true;
	pthread_cond_broadcast(&seg_cond);
	pthread_mutex_unlock(&seg_lock);
}

static enum err gate_apply(struct db *db, struct batch_job *base)
{
	(void)db, (void)base;
	pthread_mutex_lock(&seg_lock);
	gate_entered = true;
	pthread_cond_broadcast(&seg_cond);
	while (!gate_open)
		pthread_cond_wait(&seg_cond, &seg_lock);
	pthread_mutex_unlock(&seg_lock);
	return ERR_OK;
}

/* Run jobs[] as one batch behind the gate; the batcher's stats after. */
static void seg_run(struct storage *s, struct seg_job *jobs, unsigned n, struct batch_stats *ret)
{
	struct seg_job gate = {.base = {.apply = gate_apply, .done = seg_done}};
	struct batcher *b;

	gate_entered = gate_open = false;
	ck_assert_int_eq(batcher_start(s, BATCH_MAX, &b), ERR_OK);
	batcher_submit(b, &gate.base);
	pthread_mutex_lock(&seg_lock);
	while (!gate_entered)
		pthread_cond_wait(&seg_cond, &seg_lock);
	pthread_mutex_unlock(&seg_lock);
	for (unsigned i = 0; i < n; i++) {
		jobs[i].base.apply = seg_apply;
		jobs[i].base.done = seg_done;
		batcher_submit(b, &jobs[i].base);
	}
	pthread_mutex_lock(&seg_lock);
	gate_open = true;
	pthread_cond_broadcast(&seg_cond);
	for (unsigned i = 0; i < n; i++)
		while (!jobs[i].done)
			pthread_cond_wait(&seg_cond, &seg_lock);
	pthread_mutex_unlock(&seg_lock);
	batcher_stats(b, ret);
	batcher_stop(b);
}

/* The names of the API keys, in id order, comma-separated. */
static void seg_rows(char *out, size_t size)
{
	sqlite3 *h;
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_open(db_path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h,
					    "SELECT coalesce(group_concat(name, ','), '') FROM "
					    "(SELECT name FROM api_keys ORDER BY id)",
					    -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

START_TEST(test_batch_segments)
{
	struct storage *s = open_db(true, ERR_OK);
	/* keys 1 2 3 | 2 | (no fast) | 4 5, and a refusal in the first */
	struct seg_job jobs[] = {
		{.id = 1, .base.key = 1},
		{.id = 2, .base.key = 2, .conflict = true},
		{.id = 3, .base.key = 3},
		{.id = 4, .base.key = 2},
		{.id = 5},
		{.id = 6, .base.key = 4},
		{.id = 7, .base.key = 5},
	};
	unsigned n = sizeof(jobs) / sizeof(jobs[0]);
	static const unsigned segment[] = {3, 3, 3, 1, 0, 2, 2};
	struct batch_stats bs;
	char rows[256];

	for (unsigned i = 0; i < n; i++)
		jobs[i].base.fast = jobs[i].id == 5 ? NULL : &seg_fast;
	seg_run(s, jobs, n, &bs);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(jobs[i].segment_size, segment[i]);
		ck_assert_uint_eq(jobs[i].fast_runs, jobs[i].id == 5 ? 0 : 1);
		ck_assert_uint_eq(jobs[i].safe_runs, jobs[i].id == 5 ? 1 : 0);
		ck_assert_uint_eq(jobs[i].finished, jobs[i].id == 5 ? 0 : 1);
		ck_assert_int_eq(jobs[i].outcome, jobs[i].id == 2 ? ERR_CONFLICT : ERR_OK);
	}
	ck_assert_uint_eq(bs.reruns, 0);
	ck_assert_uint_eq(bs.commits, 2); /* the gate's batch and this one */
	storage_free(s);
	seg_rows(rows, sizeof(rows));
	ck_assert_str_eq(rows, "job-1,job-3,job-4,job-5,job-6,job-7");
}
END_TEST

START_TEST(test_batch_spoiled_runs_again)
{
	struct storage *s = open_db(true, ERR_OK);
	struct seg_job jobs[] = {
		{.id = 1, .base.key = 1},
		{.id = 2, .base.key = 2, .spoil_fast = true, .fail_safe = true},
		{.id = 3, .base.key = 3, .conflict = true},
		{.id = 4, .base.key = 4},
	};
	unsigned n = sizeof(jobs) / sizeof(jobs[0]);
	struct batch_stats bs;
	char rows[256];

	for (unsigned i = 0; i < n; i++)
		jobs[i].base.fast = &seg_fast;
	seg_run(s, jobs, n, &bs);
	ck_assert_uint_eq(bs.reruns, 1);
	/* Job 2 spoiled the segment: 3 and 4 never ran fast; all ran again. */
	ck_assert_uint_eq(jobs[0].fast_runs, 1);
	ck_assert_uint_eq(jobs[1].fast_runs, 1);
	ck_assert_uint_eq(jobs[2].fast_runs, 0);
	ck_assert_uint_eq(jobs[0].finished, 0); /* the segment never got there */
	for (unsigned i = 0; i < n; i++)
		ck_assert_uint_eq(jobs[i].safe_runs, 1);
	ck_assert_int_eq(jobs[0].outcome, ERR_OK);
	ck_assert_int_eq(jobs[1].outcome, ERR_STORAGE);
	ck_assert_int_eq(jobs[2].outcome, ERR_CONFLICT);
	ck_assert_int_eq(jobs[3].outcome, ERR_OK);
	storage_free(s);
	/* Once each, job 2's write undone by its savepoint. */
	seg_rows(rows, sizeof(rows));
	ck_assert_str_eq(rows, "job-1,job-4");
}
END_TEST

START_TEST(test_device_list_plans)
{
	struct storage *s = open_db(true, ERR_OK);
	sqlite3 *h;

	storage_free(s);
	ck_assert_int_eq(sqlite3_open(db_path, &h), SQLITE_OK);
	assert_plan(h, STMT_DEVICE_LIST, "USING INTEGER PRIMARY KEY (rowid>?)");
	assert_plan(h, STMT_DEVICE_LIST_BY_GROUP, "USING INDEX devices_group (grp=? AND num>?)");
	assert_plan(h, STMT_DEVICE_LIST_BY_CLASS,
		    "USING INDEX devices_class (class_id=? AND num>?)");
	assert_plan(h, STMT_DEVICE_LIST_BY_TAG,
		    "USING COVERING INDEX device_tags_tag (tag=? AND device_num>?)");
	/* The keyed orders (migration 0021): a cursor's key, then later keys. */
	assert_plan(h, STMT_DEVICE_LIST_BY_SEEN_EQ,
		    "USING INDEX devices_seen (<expr>=? AND rowid>?)");
	assert_plan(h, STMT_DEVICE_LIST_BY_SEEN_RANGE,
		    "USING INDEX devices_seen (<expr>>? AND <expr><?)");
	assert_plan(h, STMT_DEVICE_LIST_BY_SEQUENCE_EQ,
		    "USING INDEX devices_sequence (<expr>=? AND rowid>?)");
	assert_plan(h, STMT_DEVICE_LIST_BY_SEQUENCE_RANGE,
		    "USING INDEX devices_sequence (<expr>>? AND <expr><?)");
	assert_plan(h, STMT_DEVICE_LIST_BY_STATE_EQ,
		    "USING INDEX assignments_state_updated (state=? AND updated_at=? AND rowid>?)");
	assert_plan(h, STMT_DEVICE_LIST_BY_STATE_RANGE,
		    "USING INDEX assignments_state_updated (state=? AND updated_at>? AND "
		    "updated_at<?)");
	/* A deployment's devices likewise, all of them or in one state. */
	assert_plan(h, STMT_DEPLOYMENT_DEVICES,
		    "USING INDEX assignments_by_deployment (deployment_id=? AND rowid>?)");
	assert_plan(h, STMT_DEPLOYMENT_DEVICES_IN_STATE,
		    "USING INDEX assignments_deployment_state (deployment_id=? AND state=? AND "
		    "id>?)");
	sqlite3_close(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("storage");
	TCase *tc = tcase_create("sqlite");
	int rc;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_migrate_fresh_and_again);
	tcase_add_test(tc, test_refuse_newer_database);
	tcase_add_test(tc, test_refuse_unmigrated_without_migrate);
	tcase_add_test(tc, test_api_keys);
	tcase_add_test(tc, test_backup);
	tcase_add_test(tc, test_device_membership_change);
	tcase_add_test(tc, test_device_list_plans);
	tcase_add_test(tc, test_checkpoint_thread);
	tcase_add_test(tc, test_checkpoint_writer_waits);
	tcase_add_test(tc, test_checkpoint_inline_without_thread);
	tcase_add_test(tc, test_writer_in_background);
	tcase_add_test(tc, test_writer_in_background_full);
	tcase_add_test(tc, test_readahead_cursor);
	tcase_add_test(tc, test_batch_transaction_gone_leaves_turn);
	tcase_add_test(tc, test_batch_segments);
	tcase_add_test(tc, test_batch_spoiled_runs_again);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	return rc;
}
