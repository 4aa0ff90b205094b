/*
 * storage_layout — how should suitd lay out firmware payload bytes in SQLite
 * so that a random 128 KiB range of a 64 MiB payload is served fastest
 * without reading the rest of the payload?
 *
 * For each chunk size in {16 KiB, 64 KiB, 256 KiB, 1 MiB} this program:
 *   1. creates a fresh database (default 4096-byte pages, WAL,
 *      synchronous=NORMAL) in the directory given on the command line;
 *   2. writes a 64 MiB pseudo-random payload (fixed seed) as rows of
 *        chunks(id INTEGER PRIMARY KEY, upload_id, seq, data BLOB,
 *               UNIQUE(upload_id, seq))
 *      in transactions of about 1 MiB, and reports the write rate;
 *   3. serves N (default 10000) random 128 KiB ranges with two strategies:
 *        row  — one prepared
 *               SELECT data FROM chunks WHERE upload_id=?1
 *                 AND seq BETWEEN ?2 AND ?3 ORDER BY seq
 *               per range; sqlite3_column_blob() materialises whole rows,
 *               the needed slice of each is copied out;
 *        blob — per touched chunk, a prepared SELECT id ... WHERE upload_id=?
 *               AND seq=? finds the rowid, then sqlite3_blob_open (first
 *               chunk) / sqlite3_blob_reopen (next chunks) + sqlite3_blob_read
 *               read only the needed slice; the handle is closed after each
 *               range.
 *      Every range is its own short read transaction (autocommit statements
 *      only; a blob handle holds its read transaction only until it is
 *      closed at the end of the range).  Every range is verified byte for
 *      byte against the in-memory payload; a mismatch is fatal.
 *      The range test runs twice: "warm" on the connection that just wrote
 *      the data, and "reopen" on a fresh connection with
 *      PRAGMA cache_size=-2000.  Both are warm in the OS page cache: the
 *      files were just written, so the difference between the two is only
 *      the content of SQLite's own page cache.
 *   4. reads the whole payload sequentially in 256 KiB blocks with the row
 *      strategy and reports MiB/s.
 *
 * Besides wall-clock time it reports, per range:
 *   sqlKiB  — bytes handed out by SQLite (whole rows for "row", the slices
 *             for "blob");
 *   osKiB / preads — bytes and xRead calls that reached the OS, counted by a
 *             pass-through VFS wrapped around the default one (large
 *             overflow reads bypass the pager, so pager statistics alone
 *             would miss them);
 *   pgHit / pgMiss — SQLite pager cache hits / misses
 *             (SQLITE_DBSTATUS_CACHE_HIT / _MISS).
 *
 * Build: cc -O2 -o build/bench/storage_layout bench/storage_layout.c \
 *            $(pkg-config --cflags --libs sqlite3)
 * Usage: storage_layout TMPDIR [N]
 */
#define _POSIX_C_SOURCE 200809L

#include <sqlite3.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KIB	     ((size_t)1024)
#define MIB	     (KIB * KIB)
#define PAYLOAD_SIZE (64 * MIB)
#define RANGE_LEN    (128 * KIB)
#define SEQ_BLOCK    (256 * KIB)
#define TXN_BYTES    (1 * MIB)
#define UPLOAD_ID    1
#define DEFAULT_N    10000L
#define PAYLOAD_SEED UINT64_C(0x5017D0001)
#define OFFSET_SEED  UINT64_C(0x5017D0002)

static const size_t CHUNK_SIZES[] = {16 * KIB, 64 * KIB, 256 * KIB, 1 * MIB};
#define N_CHUNK_SIZES (sizeof CHUNK_SIZES / sizeof CHUNK_SIZES[0])

enum strategy { STRAT_ROW = 0, STRAT_BLOB = 1 };
static const char *const STRAT_NAME[] = {"row", "blob"};

/* ------------------------------------------------------------------ util */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("storage_layout: FATAL: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void check(sqlite3 *db, int rc, int want, const char *what)
{
	if (rc != want)
		die("%s: rc=%d (%s)", what, rc, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, fast, good enough, and repeatable everywhere. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}
static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* -------------------------------------------- counting pass-through VFS */

static struct {
	uint64_t reads;
	uint64_t bytes;
} g_os;

static sqlite3_vfs *g_real_vfs;

typedef struct {
	sqlite3_file base;
	sqlite3_file *real; /* lives right after this struct */
} count_file;

#define REAL(f) (((count_file *)(void *)(f))->real)

static int cf_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int cf_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	g_os.reads++;
	g_os.bytes += (uint64_t)amt;
	return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}
static int cf_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}
static int cf_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int cf_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int cf_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int cf_lock(sqlite3_file *f, int lvl)
{
	return REAL(f)->pMethods->xLock(REAL(f), lvl);
}
static int cf_unlock(sqlite3_file *f, int lvl)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lvl);
}
static int cf_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int cf_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int cf_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int cf_device_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int cf_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	if (REAL(f)->pMethods->iVersion < 2 || !REAL(f)->pMethods->xShmMap)
		return SQLITE_IOERR_SHMMAP;
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int cf_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void cf_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int cf_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int cf_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	if (REAL(f)->pMethods->iVersion < 3 || !REAL(f)->pMethods->xFetch) {
		*pp = NULL;
		return SQLITE_OK;
	}
	return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}
static int cf_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	if (REAL(f)->pMethods->iVersion < 3 || !REAL(f)->pMethods->xUnfetch)
		return SQLITE_OK;
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods cf_io = {
	.iVersion = 3,
	.xClose = cf_close,
	.xRead = cf_read,
	.xWrite = cf_write,
	.xTruncate = cf_truncate,
	.xSync = cf_sync,
	.xFileSize = cf_file_size,
	.xLock = cf_lock,
	.xUnlock = cf_unlock,
	.xCheckReservedLock = cf_check_reserved,
	.xFileControl = cf_file_control,
	.xSectorSize = cf_sector_size,
	.xDeviceCharacteristics = cf_device_chars,
	.xShmMap = cf_shm_map,
	.xShmLock = cf_shm_lock,
	.xShmBarrier = cf_shm_barrier,
	.xShmUnmap = cf_shm_unmap,
	.xFetch = cf_fetch,
	.xUnfetch = cf_unfetch,
};

static int cv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	(void)vfs;
	count_file *cf = (count_file *)(void *)f;
	cf->real = (sqlite3_file *)(void *)(cf + 1);
	int rc = g_real_vfs->xOpen(g_real_vfs, name, cf->real, flags, out_flags);
	cf->base.pMethods = cf->real->pMethods ? &cf_io : NULL;
	return rc;
}
static int cv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return g_real_vfs->xDelete(g_real_vfs, name, sync_dir);
}
static int cv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return g_real_vfs->xAccess(g_real_vfs, name, flags, out);
}
static int cv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return g_real_vfs->xFullPathname(g_real_vfs, name, n, out);
}
static void *cv_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return g_real_vfs->xDlOpen(g_real_vfs, name);
}
static void cv_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	g_real_vfs->xDlError(g_real_vfs, n, msg);
}
static void (*cv_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return g_real_vfs->xDlSym(g_real_vfs, h, sym);
}
static void cv_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	g_real_vfs->xDlClose(g_real_vfs, h);
}
static int cv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return g_real_vfs->xRandomness(g_real_vfs, n, out);
}
static int cv_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return g_real_vfs->xSleep(g_real_vfs, us);
}
static int cv_current_time(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	return g_real_vfs->xCurrentTime(g_real_vfs, t);
}
static int cv_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	return g_real_vfs->xGetLastError ? g_real_vfs->xGetLastError(g_real_vfs, n, msg) : 0;
}
static int cv_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	(void)vfs;
	return g_real_vfs->xCurrentTimeInt64(g_real_vfs, t);
}

static sqlite3_vfs g_count_vfs;

static void install_counting_vfs(void)
{
	g_real_vfs = sqlite3_vfs_find(NULL);
	if (!g_real_vfs)
		die("no default VFS");
	if (g_real_vfs->iVersion < 2 || !g_real_vfs->xCurrentTimeInt64)
		die("default VFS too old");
	g_count_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(count_file) + g_real_vfs->szOsFile,
		.mxPathname = g_real_vfs->mxPathname,
		.zName = "storage_layout_count",
		.xOpen = cv_open,
		.xDelete = cv_delete,
		.xAccess = cv_access,
		.xFullPathname = cv_full_pathname,
		.xDlOpen = cv_dlopen,
		.xDlError = cv_dlerror,
		.xDlSym = cv_dlsym,
		.xDlClose = cv_dlclose,
		.xRandomness = cv_randomness,
		.xSleep = cv_sleep,
		.xCurrentTime = cv_current_time,
		.xGetLastError = cv_last_error,
		.xCurrentTimeInt64 = cv_current_time64,
	};
	check(NULL, sqlite3_vfs_register(&g_count_vfs, 1), SQLITE_OK, "sqlite3_vfs_register");
}

/* ------------------------------------------------------------- database */

typedef struct {
	sqlite3 *db;
	sqlite3_stmt *row; /* SELECT data ... BETWEEN ... ORDER BY seq */
	sqlite3_stmt *id;  /* SELECT id ... AND seq=? */
	size_t chunk;
} conn;

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		die("%s: %s", sql, err ? err : sqlite3_errstr(rc));
}

static sqlite3_int64 pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, sql);
	check(db, sqlite3_step(st), SQLITE_ROW, sql);
	sqlite3_int64 v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void set_wal(sqlite3 *db)
{
	sqlite3_stmt *st;
	const char *sql = "PRAGMA journal_mode=WAL";
	check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, sql);
	check(db, sqlite3_step(st), SQLITE_ROW, sql);
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal") != 0)
		die("journal_mode is %s, not wal", mode ? mode : "(null)");
	sqlite3_finalize(st);
}

static void conn_open(conn *c, const char *path, size_t chunk, int reopen)
{
	memset(c, 0, sizeof *c);
	c->chunk = chunk;
	check(NULL, sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	      SQLITE_OK, "sqlite3_open_v2");
	set_wal(c->db);
	exec(c->db, "PRAGMA synchronous=NORMAL");
	if (reopen)
		exec(c->db, "PRAGMA cache_size=-2000");
	else
		exec(c->db, "CREATE TABLE IF NOT EXISTS chunks ("
			    " id INTEGER PRIMARY KEY,"
			    " upload_id INTEGER NOT NULL,"
			    " seq INTEGER NOT NULL,"
			    " data BLOB NOT NULL,"
			    " UNIQUE (upload_id, seq))");
	const char *q_row = "SELECT data FROM chunks WHERE upload_id=?1 "
			    "AND seq BETWEEN ?2 AND ?3 ORDER BY seq";
	const char *q_id = "SELECT id FROM chunks WHERE upload_id=?1 AND seq=?2";
	check(c->db, sqlite3_prepare_v2(c->db, q_row, -1, &c->row, NULL), SQLITE_OK, q_row);
	check(c->db, sqlite3_prepare_v2(c->db, q_id, -1, &c->id, NULL), SQLITE_OK, q_id);
}

static void conn_close(conn *c)
{
	sqlite3_finalize(c->row);
	sqlite3_finalize(c->id);
	check(c->db, sqlite3_close(c->db), SQLITE_OK, "sqlite3_close");
	c->db = NULL;
}

static void remove_db(const char *path)
{
	char p[4096];
	const char *sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			die("unlink %s: %s", p, strerror(errno));
	}
}

/* Returns elapsed seconds for inserts+commits (auto-checkpoints included). */
static double write_payload(conn *c, const unsigned char *payload)
{
	sqlite3_stmt *ins;
	const char *sql = "INSERT INTO chunks (upload_id, seq, data) VALUES (?1, ?2, ?3)";
	check(c->db, sqlite3_prepare_v2(c->db, sql, -1, &ins, NULL), SQLITE_OK, sql);
	size_t nchunks = PAYLOAD_SIZE / c->chunk;
	size_t per_txn = max_sz(1, TXN_BYTES / c->chunk);

	uint64_t t0 = now_ns();
	for (size_t seq = 0; seq < nchunks;) {
		exec(c->db, "BEGIN");
		for (size_t k = 0; k < per_txn && seq < nchunks; k++, seq++) {
			sqlite3_bind_int64(ins, 1, UPLOAD_ID);
			sqlite3_bind_int64(ins, 2, (sqlite3_int64)seq);
			sqlite3_bind_blob(ins, 3, payload + seq * c->chunk, (int)c->chunk,
					  SQLITE_STATIC);
			check(c->db, sqlite3_step(ins), SQLITE_DONE, "insert chunk");
			sqlite3_reset(ins);
		}
		exec(c->db, "COMMIT");
	}
	uint64_t t1 = now_ns();
	sqlite3_finalize(ins);
	return (double)(t1 - t0) / 1e9;
}

/* ------------------------------------------------------------- readers */

/* Strategy (a): one statement, whole rows materialised, slices copied. */
static size_t read_range_row(conn *c, size_t off, size_t len, unsigned char *out)
{
	size_t cs = c->chunk;
	size_t first = off / cs, last = (off + len - 1) / cs;
	size_t got = 0, seq = first;
	int rc;

	sqlite3_bind_int64(c->row, 1, UPLOAD_ID);
	sqlite3_bind_int64(c->row, 2, (sqlite3_int64)first);
	sqlite3_bind_int64(c->row, 3, (sqlite3_int64)last);
	while ((rc = sqlite3_step(c->row)) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(c->row, 0);
		int n = sqlite3_column_bytes(c->row, 0);
		if (!p || n <= 0 || (size_t)n != cs || seq > last)
			die("row read: seq %zu: bad row (bytes=%d)", seq, n);
		size_t cstart = seq * cs;
		size_t from = max_sz(off, cstart);
		size_t to = min_sz(off + len, cstart + (size_t)n);
		memcpy(out + (from - off), p + (from - cstart), to - from);
		got += (size_t)n;
		seq++;
	}
	check(c->db, rc, SQLITE_DONE, "row read step");
	sqlite3_reset(c->row); /* ends the autocommit read transaction */
	if (seq != last + 1)
		die("row read: got rows %zu..%zu, want ..%zu", first, seq, last);
	return got;
}

/* Strategy (b): rowid lookup + incremental blob I/O of just the slice. */
static size_t read_range_blob(conn *c, size_t off, size_t len, unsigned char *out)
{
	size_t cs = c->chunk;
	size_t first = off / cs, last = (off + len - 1) / cs;
	size_t got = 0;
	sqlite3_blob *blob = NULL;

	for (size_t seq = first; seq <= last; seq++) {
		sqlite3_bind_int64(c->id, 1, UPLOAD_ID);
		sqlite3_bind_int64(c->id, 2, (sqlite3_int64)seq);
		check(c->db, sqlite3_step(c->id), SQLITE_ROW, "id lookup");
		sqlite3_int64 rowid = sqlite3_column_int64(c->id, 0);
		sqlite3_reset(c->id);

		if (!blob)
			check(c->db,
			      sqlite3_blob_open(c->db, "main", "chunks", "data", rowid, 0, &blob),
			      SQLITE_OK, "sqlite3_blob_open");
		else
			check(c->db, sqlite3_blob_reopen(blob, rowid), SQLITE_OK,
			      "sqlite3_blob_reopen");
		int n = sqlite3_blob_bytes(blob);
		if (n <= 0 || (size_t)n != cs)
			die("blob read: seq %zu: bad size %d", seq, n);
		size_t cstart = seq * cs;
		size_t from = max_sz(off, cstart);
		size_t to = min_sz(off + len, cstart + (size_t)n);
		check(c->db,
		      sqlite3_blob_read(blob, out + (from - off), (int)(to - from),
					(int)(from - cstart)),
		      SQLITE_OK, "sqlite3_blob_read");
		got += to - from;
	}
	/* Closing the handle ends the read transaction it held. */
	check(c->db, sqlite3_blob_close(blob), SQLITE_OK, "sqlite3_blob_close");
	return got;
}

/* ----------------------------------------------------------- range test */

typedef struct {
	double rps; /* ranges / summed per-range latency */
	double med_us, p99_us;
	double sql_kib; /* bytes delivered by SQLite per range */
	double os_kib;	/* bytes read from the OS per range */
	double preads;	/* xRead calls per range */
	double pg_hit, pg_miss;
} result;

static void cache_stats(sqlite3 *db, int reset, int *hit, int *miss)
{
	int cur, hi;
	check(db, sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_HIT, &cur, &hi, reset), SQLITE_OK,
	      "db_status hit");
	*hit = cur;
	check(db, sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, reset), SQLITE_OK,
	      "db_status miss");
	*miss = cur;
}

static void run_ranges(conn *c, enum strategy s, const unsigned char *payload,
		       const size_t *offsets, long n, uint64_t *lat, unsigned char *buf, result *r)
{
	int hit, miss;
	uint64_t sql_bytes = 0, total = 0;

	cache_stats(c->db, 1, &hit, &miss);
	g_os.reads = g_os.bytes = 0;
	for (long i = 0; i < n; i++) {
		size_t off = offsets[i];
		memset(buf, 0xA5, RANGE_LEN); /* poison: stale bytes must not pass */
		uint64_t t0 = now_ns();
		size_t got = s == STRAT_ROW ? read_range_row(c, off, RANGE_LEN, buf)
					    : read_range_blob(c, off, RANGE_LEN, buf);
		uint64_t t1 = now_ns();
		if (memcmp(buf, payload + off, RANGE_LEN) != 0)
			die("%s: chunk %zu: range %ld at offset %zu: bytes differ", STRAT_NAME[s],
			    c->chunk, i, off);
		lat[i] = t1 - t0;
		total += t1 - t0;
		sql_bytes += got;
	}
	cache_stats(c->db, 1, &hit, &miss);

	qsort(lat, (size_t)n, sizeof lat[0], cmp_u64);
	size_t p99 = (size_t)((99 * n + 99) / 100) - 1; /* ceil(0.99 n) - 1 */
	double dn = (double)n;
	r->rps = dn / ((double)total / 1e9);
	r->med_us =
		(n % 2 ? (double)lat[n / 2] : ((double)lat[n / 2 - 1] + (double)lat[n / 2]) / 2) /
		1e3;
	r->p99_us = (double)lat[p99] / 1e3;
	r->sql_kib = (double)sql_bytes / dn / 1024.0;
	r->os_kib = (double)g_os.bytes / dn / 1024.0;
	r->preads = (double)g_os.reads / dn;
	r->pg_hit = (double)hit / dn;
	r->pg_miss = (double)miss / dn;
}

/* Strategy (a) over the whole payload in SEQ_BLOCK blocks. */
static double seq_read(conn *c, const unsigned char *payload, unsigned char *buf, double *os_mib)
{
	uint64_t total = 0;
	g_os.reads = g_os.bytes = 0;
	for (size_t off = 0; off < PAYLOAD_SIZE; off += SEQ_BLOCK) {
		uint64_t t0 = now_ns();
		read_range_row(c, off, SEQ_BLOCK, buf);
		total += now_ns() - t0;
		if (memcmp(buf, payload + off, SEQ_BLOCK) != 0)
			die("seq: chunk %zu: block at %zu: bytes differ", c->chunk, off);
	}
	*os_mib = (double)g_os.bytes / (double)MIB;
	return (double)PAYLOAD_SIZE / (double)MIB / ((double)total / 1e9);
}

/* ----------------------------------------------------------------- main */

static void print_result(const char *phase, const result *r)
{
	printf(" | %-6s %8.0f %7.1f %7.1f %7.0f %6.1f %6.1f %6.1f", phase, r->rps, r->med_us,
	       r->p99_us, r->os_kib, r->preads, r->pg_hit, r->pg_miss);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s TMPDIR [N]\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	long n = DEFAULT_N;
	if (argc == 3) {
		char *end;
		errno = 0;
		n = strtol(argv[2], &end, 10);
		if (errno || *end || n < 1 || n > 100000000L)
			die("bad N: %s", argv[2]);
	}

	install_counting_vfs();

	unsigned char *payload = malloc(PAYLOAD_SIZE);
	unsigned char *buf = malloc(SEQ_BLOCK > RANGE_LEN ? SEQ_BLOCK : RANGE_LEN);
	size_t *offsets = malloc((size_t)n * sizeof *offsets);
	uint64_t *lat = malloc((size_t)n * sizeof *lat);
	if (!payload || !buf || !offsets || !lat)
		die("out of memory");

	uint64_t s = PAYLOAD_SEED;
	for (size_t i = 0; i < PAYLOAD_SIZE; i += 8) {
		uint64_t v = rng_next(&s);
		memcpy(payload + i, &v, 8);
	}
	/* Same offsets for every chunk size, strategy and phase. */
	s = OFFSET_SEED;
	uint64_t span = (uint64_t)(PAYLOAD_SIZE - RANGE_LEN) + 1;
	for (long i = 0; i < n; i++)
		offsets[i] = (size_t)(rng_next(&s) % span);

	printf("storage_layout: SQLite %s, payload %zu MiB, range %zu KiB, N=%ld ranges, "
	       "seeds fixed\n",
	       sqlite3_libversion(), PAYLOAD_SIZE / MIB, RANGE_LEN / KIB, n);
	printf("db: journal_mode=WAL synchronous=NORMAL, default page size; write txns ~%zu KiB; "
	       "one short read txn per range\n",
	       TXN_BYTES / KIB);
	printf("warm   = same connection that wrote the payload (its default page cache)\n");
	printf("reopen = new connection, PRAGMA cache_size=-2000\n");
	printf("NOTE: both phases are warm in the OS page cache (files just written); only "
	       "SQLite's own cache differs.\n");
	printf("columns: rng/s = ranges / summed per-range time (verification excluded); "
	       "med/p99 in us;\n"
	       "         sqlKiB = bytes SQLite returned per range (row: whole rows, blob: "
	       "slices);\n"
	       "         osKiB/preads = bytes/xRead calls reaching the OS per range; "
	       "pgHit/pgMiss = pager cache hits/misses per range\n\n");

	char path[4096];
	for (size_t ci = 0; ci < N_CHUNK_SIZES; ci++) {
		size_t cs = CHUNK_SIZES[ci];
		int len = snprintf(path, sizeof path, "%s/layout_%zuk.db", dir, cs / KIB);
		if (len < 0 || (size_t)len >= sizeof path)
			die("path too long");
		remove_db(path);

		conn c;
		conn_open(&c, path, cs, 0);
		sqlite3_int64 page_size = pragma_int(c.db, "PRAGMA page_size");
		sqlite3_int64 cache_size = pragma_int(c.db, "PRAGMA cache_size");
		sqlite3_int64 mmap_size = pragma_int(c.db, "PRAGMA mmap_size");
		double wsec = write_payload(&c, payload);
		uint64_t t0 = now_ns();
		exec(c.db, "PRAGMA wal_checkpoint(TRUNCATE)");
		double ckpt_ms = (double)(now_ns() - t0) / 1e6;
		sqlite3_int64 pages = pragma_int(c.db, "PRAGMA page_count");

		printf("== chunk %zu KiB: %zu rows, page_size=%lld cache_size=%lld mmap_size=%lld; "
		       "write %.1f MiB/s (inserts+commits, auto-checkpoints incl.), final "
		       "checkpoint(TRUNCATE) %.1f ms; db file %.2f MiB (%.2f%% overhead)\n",
		       cs / KIB, PAYLOAD_SIZE / cs, (long long)page_size, (long long)cache_size,
		       (long long)mmap_size, (double)PAYLOAD_SIZE / (double)MIB / wsec, ckpt_ms,
		       (double)(pages * page_size) / (double)MIB,
		       100.0 * ((double)(pages * page_size) / (double)PAYLOAD_SIZE - 1.0));
		if (page_size != 4096)
			printf("   WARNING: page_size is %lld, not 4096\n", (long long)page_size);

		result warm[2], cold[2];
		for (int st = 0; st < 2; st++)
			run_ranges(&c, (enum strategy)st, payload, offsets, n, lat, buf, &warm[st]);
		conn_close(&c);

		conn_open(&c, path, cs, 1);
		for (int st = 0; st < 2; st++)
			run_ranges(&c, (enum strategy)st, payload, offsets, n, lat, buf, &cold[st]);
		double os_mib;
		double seq = seq_read(&c, payload, buf, &os_mib);
		conn_close(&c);

		printf("%-6s %-5s %7s | %-6s %8s %7s %7s %7s %6s %6s %6s | %-6s %8s %7s %7s %7s "
		       "%6s %6s %6s\n",
		       "chunk", "strat", "sqlKiB", "phase", "rng/s", "med", "p99", "osKiB",
		       "preads", "pgHit", "pgMiss", "phase", "rng/s", "med", "p99", "osKiB",
		       "preads", "pgHit", "pgMiss");
		for (int st = 0; st < 2; st++) {
			char label[32];
			snprintf(label, sizeof label, "%zuK", cs / KIB);
			printf("%-6s %-5s %7.1f", label, STRAT_NAME[st], warm[st].sql_kib);
			print_result("warm", &warm[st]);
			print_result("reopen", &cold[st]);
			printf("\n");
		}
		printf("%zuK    seq (row strategy, %zu KiB blocks, reopened conn): %.0f MiB/s, "
		       "%.1f MiB read from OS for %zu MiB payload\n\n",
		       cs / KIB, SEQ_BLOCK / KIB, seq, os_mib, PAYLOAD_SIZE / MIB);
		fflush(stdout);
		remove_db(path);
	}

	free(lat);
	free(offsets);
	free(buf);
	free(payload);
	return 0;
}
