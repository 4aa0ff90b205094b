/*
 * pg_layout — the facts the PostgreSQL backend (issue 21) is designed on,
 * measured on a throwaway server (tests/pg/pg_tmp.sh, fsync on) next to
 * SQLite in the same run.
 *
 * 1. Payload chunks. For chunk sizes 16 KiB, 64 KiB, 256 KiB, 1 MiB and for
 *    chunks.data with STORAGE EXTERNAL (no TOAST compression) and with the
 *    default EXTENDED (pglz is tried on every value, fails on random bytes):
 *      write  — a 64 MiB pseudo-random payload (fixed seed) as
 *               (upload_id, seq, data bytea) rows, binary parameters, one
 *               transaction per 4 MiB (what suitd's upload writer commits);
 *      row    — N random 128 KiB ranges, each one SELECT of the whole rows
 *               (seq BETWEEN), the slice copied out;
 *      substr — the same ranges with substring() computed by the server,
 *               so only the slice crosses the socket (and, for values stored
 *               uncompressed out of line, only the TOAST chunks needed are
 *               read);
 *      seq    — the whole payload read in 256 KiB blocks (row strategy).
 *    Every range and block is checked byte for byte. Size: the table with
 *    its TOAST table and indexes against the 64 MiB.
 * 2. Committed small inserts (a report-sized row: ~300 bytes) with
 *    synchronous_commit = on: one per transaction, 100 per transaction
 *    (one statement each), 100 per transaction pipelined (libpq pipeline
 *    mode: one round trip per batch), and single-row transactions pipelined
 *    (100 in flight). SQLite in the same run (WAL, synchronous = FULL, as
 *    suitd's reports), one per transaction and 100 per transaction.
 * 3. A prepared point SELECT by primary key: round trip in µs over the unix
 *    socket and over TCP loopback (median and mean), and SQLite's in-process
 *    lookup for scale.
 *
 * Usage: pg_layout URL_SOCKET URL_TCP PASSWORD_FILE SQLITE_DIR [N [ROUNDS]]
 * (N ranges per strategy, default 2000; ROUNDS of the chunk tests, default 3)
 */
#define _POSIX_C_SOURCE 200809L

#include <libpq-fe.h>
#include <sqlite3.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAYLOAD	    (64u << 20)
#define RANGE	    (128u << 10)
#define BLOCK	    (256u << 10)
#define TXN_BYTES   (4u << 20)
#define REPORT_BODY 300

static unsigned char *payload;
static char password[1024];

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("pg_layout: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: the same payload and ranges on every run. */
static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717u;
}

static PGconn *connect_url(const char *url)
{
	const char *keys[] = {"dbname", "password", NULL};
	const char *values[] = {url, password, NULL};
	PGconn *c = PQconnectdbParams(keys, values, 1);

	if (PQstatus(c) != CONNECTION_OK)
		die("connect: %s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

static void ok(PGconn *c, PGresult *r, const char *what)
{
	ExecStatusType s = PQresultStatus(r);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		die("%s: %s", what, PQerrorMessage(c));
}

static void exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	ok(c, r, sql);
	PQclear(r);
}

static uint64_t be64(uint64_t v)
{
	return ((uint64_t)htonl((uint32_t)v) << 32) | htonl((uint32_t)(v >> 32));
}

/* ---- 1. payload chunks ------------------------------------------------ */

static void chunks_write(PGconn *c, unsigned cs, double *ret_mbs)
{
	uint64_t up = be64(1), seq;
	const char *values[3];
	int lengths[3] = {8, 8, 0}, formats[3] = {1, 1, 1};
	unsigned per_txn = TXN_BYTES / cs ? TXN_BYTES / cs : 1;
	double t0 = now();

	values[0] = (const char *)&up;
	values[1] = (const char *)&seq;
	PQclear(PQprepare(c, "ins", "INSERT INTO chunks (upload_id, seq, data) VALUES ($1, $2, $3)",
			  3, NULL));
	for (unsigned i = 0; i < PAYLOAD / cs; i++) {
		PGresult *r;

		if (i % per_txn == 0)
			exec(c, "BEGIN");
		seq = be64(i);
		values[2] = (const char *)payload + (size_t)i * cs;
		lengths[2] = (int)cs;
		r = PQexecPrepared(c, "ins", 3, values, lengths, formats, 1);
		ok(c, r, "insert chunk");
		PQclear(r);
		if (i % per_txn == per_txn - 1 || i == PAYLOAD / cs - 1)
			exec(c, "COMMIT");
	}
	*ret_mbs = PAYLOAD / 1e6 / (now() - t0);
	exec(c, "DEALLOCATE ins");
}

static uint64_t get_be64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64(v);
}

/* One range [off, off + len) into out, whole rows or server-side slices. */
static void range_read(PGconn *c, unsigned cs, uint64_t off, unsigned len, int substr,
		       unsigned char *out)
{
	uint64_t up = be64(1), first = be64(off / cs), last = be64((off + len - 1) / cs),
		 o = be64(off), size = be64(cs), l = be64(len);
	const char *values[6] = {(const char *)&up, (const char *)&first, (const char *)&last,
				 (const char *)&o,  (const char *)&size,  (const char *)&l};
	int lengths[6] = {8, 8, 8, 8, 8, 8}, formats[6] = {1, 1, 1, 1, 1, 1};
	PGresult *r = PQexecPrepared(c, substr ? "substr" : "row", substr ? 6 : 3, values, lengths,
				     formats, 1);
	unsigned done = 0;

	ok(c, r, "range");
	for (int i = 0; i < PQntuples(r); i++) {
		uint64_t s = get_be64(PQgetvalue(r, i, 0));
		const char *data = PQgetvalue(r, i, 1);
		unsigned n = (unsigned)PQgetlength(r, i, 1);

		if (substr) {
			memcpy(out + done, data, n);
			done += n;
		} else {
			uint64_t start = s * cs, from = off > start ? off - start : 0,
				 to = off + len - start < n ? off + len - start : n;
			memcpy(out + done, data + from, to - from);
			done += (unsigned)(to - from);
		}
	}
	PQclear(r);
	if (done != len || memcmp(out, payload + off, len) != 0)
		die("range %llu+%u: wrong bytes", (unsigned long long)off, len);
}

static void chunks_prepare_reads(PGconn *c)
{
	PQclear(PQprepare(c, "row",
			  "SELECT seq, data FROM chunks WHERE upload_id = $1 AND seq BETWEEN $2 "
			  "AND $3 ORDER BY seq",
			  3, NULL));
	/* Slice of each chunk: from max(off - seq*cs, 0) to min(off + len - seq*cs, cs). */
	PQclear(PQprepare(c, "substr",
			  "SELECT seq, substring(data FROM (greatest($4 - seq * $5, 0) + 1)::int "
			  "FOR (least($4 + $6 - seq * $5, $5) - greatest($4 - seq * $5, 0))::int) "
			  "FROM chunks WHERE upload_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
			  6, (const Oid[]){20, 20, 20, 20, 20, 20}));
}

static double ranges(PGconn *c, unsigned cs, unsigned n, int substr)
{
	unsigned char *out = malloc(RANGE);
	double t0;

	rng = 0x1234567u;
	t0 = now();
	for (unsigned i = 0; i < n; i++) {
		uint64_t off = rnd() % (PAYLOAD - RANGE + 1);
		range_read(c, cs, off, RANGE, substr, out);
	}
	free(out);
	return n / (now() - t0);
}

static double sequential(PGconn *c, unsigned cs)
{
	unsigned char *out = malloc(BLOCK);
	double t0 = now();

	for (uint64_t off = 0; off < PAYLOAD; off += BLOCK)
		range_read(c, cs, off, BLOCK, 0, out);
	free(out);
	return PAYLOAD / 1e6 / (now() - t0);
}

static double table_mib(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT pg_total_relation_size('chunks')");
	double v;

	ok(c, r, "size");
	v = strtod(PQgetvalue(r, 0, 0), NULL) / (1 << 20);
	PQclear(r);
	return v;
}

static double median(double *v, unsigned n)
{
	double t[8];

	memcpy(t, v, n * sizeof(*t));
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && t[j] < t[j - 1]; j--) {
			double x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t[n / 2];
}

/* Rounds interleave every size and storage, so that load from elsewhere
 * on the machine spreads over all of them; medians are printed. */
static void chunks_all(const char *url, unsigned n, unsigned rounds)
{
	static const unsigned sizes[] = {16u << 10, 64u << 10, 256u << 10, 1u << 20};
	static const char *const storage[] = {"EXTERNAL", "EXTENDED"};
	double res[4][2][5][8];

	printf("== payload chunks: 64 MiB payload, %u random 128 KiB ranges (unix socket), "
	       "median of %u interleaved rounds\n",
	       n, rounds);
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			for (size_t s = 0; s < sizeof(storage) / sizeof(storage[0]); s++) {
				PGconn *c = connect_url(url);
				char sql[160];

				exec(c, "DROP TABLE IF EXISTS chunks");
				exec(c,
				     "CREATE TABLE chunks (upload_id bigint NOT NULL, seq bigint "
				     "NOT NULL, data bytea NOT NULL, PRIMARY KEY (upload_id, "
				     "seq))");
				snprintf(sql, sizeof(sql),
					 "ALTER TABLE chunks ALTER COLUMN data SET STORAGE %s",
					 storage[s]);
				exec(c, sql);
				chunks_write(c, sizes[i], &res[i][s][0][r]);
				exec(c, "VACUUM ANALYZE chunks");
				chunks_prepare_reads(c);
				res[i][s][1][r] = ranges(c, sizes[i], n, 0);
				res[i][s][2][r] = ranges(c, sizes[i], n, 1);
				res[i][s][3][r] = sequential(c, sizes[i]);
				res[i][s][4][r] = table_mib(c);
				exec(c, "DROP TABLE chunks");
				PQfinish(c);
			}
		}
		fprintf(stderr, "pg_layout: chunk round %u of %u done\n", r + 1, rounds);
	}
	printf("%-8s %-9s %10s %12s %12s %10s %10s\n", "chunk", "storage", "write MB/s",
	       "row rng/s", "substr rng/s", "seq MB/s", "size MiB");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t s = 0; s < sizeof(storage) / sizeof(storage[0]); s++)
			printf("%-8u %-9s %10.1f %12.0f %12.0f %10.1f %10.1f\n", sizes[i] >> 10,
			       storage[s], median(res[i][s][0], rounds),
			       median(res[i][s][1], rounds), median(res[i][s][2], rounds),
			       median(res[i][s][3], rounds), median(res[i][s][4], rounds));
	printf("(chunk in KiB)\n\n");
	fflush(stdout);
}

/* ---- 2. committed small inserts ---------------------------------------- */

static char body[REPORT_BODY];

static void report_params(uint64_t i, uint64_t *dev, uint64_t *at, const char *values[4],
			  int lengths[4], int formats[4])
{
	*dev = be64(i % 1000);
	*at = be64(1700000000000u + i);
	values[0] = (const char *)dev;
	values[1] = "installed";
	values[2] = body;
	values[3] = (const char *)at;
	lengths[0] = 8, lengths[1] = 9, lengths[2] = REPORT_BODY, lengths[3] = 8;
	formats[0] = 1, formats[1] = 1, formats[2] = 1, formats[3] = 1;
}

static const char report_insert[] =
	"INSERT INTO reports (device_num, state, body, received_at) VALUES ($1, $2, $3, $4)";

/* rows in transactions of per_txn, each statement its own round trip. */
static double inserts_plain(PGconn *c, unsigned rows, unsigned per_txn)
{
	double t0 = now();

	for (unsigned i = 0; i < rows; i++) {
		uint64_t dev, at;
		const char *values[4];
		int lengths[4], formats[4];
		PGresult *r;

		if (per_txn > 1 && i % per_txn == 0)
			exec(c, "BEGIN");
		report_params(i, &dev, &at, values, lengths, formats);
		r = PQexecPrepared(c, "rep", 4, values, lengths, formats, 0);
		ok(c, r, "insert report");
		PQclear(r);
		if (per_txn > 1 && i % per_txn == per_txn - 1)
			exec(c, "COMMIT");
	}
	return rows / (now() - t0);
}

/* Drain results up to and including the next PGRES_PIPELINE_SYNC. */
static void pipeline_drain(PGconn *c)
{
	for (;;) {
		PGresult *r = PQgetResult(c);
		ExecStatusType s;

		if (!r)
			continue; /* end of one query's results */
		s = PQresultStatus(r);
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return;
		}
		if (s != PGRES_COMMAND_OK)
			die("pipeline: %s", PQerrorMessage(c));
		PQclear(r);
	}
}

/* Pipelined: batch rows per round trip. in_txn: the batch is one
 * transaction (BEGIN ... COMMIT, one Sync); else each row is its own
 * transaction (a Sync after each), batch of them in flight. */
static double inserts_pipelined(PGconn *c, unsigned rows, unsigned batch, int in_txn)
{
	double t0 = now();

	if (!PQenterPipelineMode(c))
		die("pipeline mode: %s", PQerrorMessage(c));
	for (unsigned i = 0; i < rows; i += batch) {
		unsigned syncs = 0;

		if (in_txn)
			PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
		for (unsigned j = i; j < i + batch && j < rows; j++) {
			uint64_t dev, at;
			const char *values[4];
			int lengths[4], formats[4];

			report_params(j, &dev, &at, values, lengths, formats);
			if (!PQsendQueryPrepared(c, "rep", 4, values, lengths, formats, 0))
				die("send: %s", PQerrorMessage(c));
			if (!in_txn) {
				PQpipelineSync(c);
				syncs++;
			}
		}
		if (in_txn) {
			PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
			PQpipelineSync(c);
			syncs++;
		}
		while (syncs--)
			pipeline_drain(c);
	}
	PQexitPipelineMode(c);
	return rows / (now() - t0);
}

static double sqlite_inserts(sqlite3 *h, unsigned rows, unsigned per_txn)
{
	sqlite3_stmt *st;
	double t0;

	sqlite3_prepare_v2(h,
			   "INSERT INTO reports (device_num, state, body, received_at) "
			   "VALUES (?1, ?2, ?3, ?4)",
			   -1, &st, NULL);
	t0 = now();
	for (unsigned i = 0; i < rows; i++) {
		if (per_txn > 1 && i % per_txn == 0)
			sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		sqlite3_bind_int64(st, 1, i % 1000);
		sqlite3_bind_text(st, 2, "installed", -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, body, REPORT_BODY, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, 1700000000000 + i);
		if (sqlite3_step(st) != SQLITE_DONE)
			die("sqlite insert: %s", sqlite3_errmsg(h));
		sqlite3_reset(st);
		if (per_txn > 1 && i % per_txn == per_txn - 1)
			sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
	}
	sqlite3_finalize(st);
	return rows / (now() - t0);
}

static sqlite3 *sqlite_reports(const char *dir)
{
	char path[512];
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/reports.db", dir);
	if (sqlite3_open(path, &h) != SQLITE_OK)
		die("sqlite open '%s'", path);
	sqlite3_exec(
		h,
		"PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		"CREATE TABLE reports (id INTEGER PRIMARY KEY AUTOINCREMENT, device_num INTEGER "
		"NOT NULL, state TEXT NOT NULL, body BLOB NOT NULL, received_at INTEGER NOT NULL);"
		"CREATE INDEX reports_device ON reports (device_num, id)",
		NULL, NULL, NULL);
	return h;
}

static void inserts_all(const char *url, const char *dir, unsigned scale)
{
	PGconn *c = connect_url(url);
	sqlite3 *h = sqlite_reports(dir);
	unsigned single = 1000 * scale, batched = 20000 * scale;

	memset(body, 'r', sizeof(body));
	exec(c, "SET synchronous_commit = on");
	exec(c, "DROP TABLE IF EXISTS reports");
	exec(c, "CREATE TABLE reports (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
		"device_num bigint NOT NULL, state text NOT NULL, body bytea NOT NULL, "
		"received_at bigint NOT NULL)");
	exec(c, "CREATE INDEX reports_device ON reports (device_num, id)");
	PQclear(PQprepare(c, "rep", report_insert, 4, NULL));
	printf("== committed inserts of a %d-byte report row, synchronous_commit = on "
	       "(unix socket); SQLite: WAL, synchronous = FULL\n",
	       REPORT_BODY);
	printf("%-44s %12s %12s\n", "mode", "PG rows/s", "SQLite rows/s");
	printf("%-44s %12.0f %12.0f\n", "1 per transaction", inserts_plain(c, single, 1),
	       sqlite_inserts(h, single, 1));
	printf("%-44s %12.0f %12.0f\n", "100 per transaction", inserts_plain(c, batched, 100),
	       sqlite_inserts(h, batched, 100));
	printf("%-44s %12.0f %12s\n", "100 per transaction, pipelined (1 round trip)",
	       inserts_pipelined(c, batched, 100, 1), "-");
	printf("%-44s %12.0f %12s\n", "1 per transaction, pipelined (100 in flight)",
	       inserts_pipelined(c, single * 2, 100, 0), "-");
	printf("\n");
	sqlite3_close(h);
	PQfinish(c);
}

/* ---- 3. point SELECT round trip --------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void point_pg(const char *what, const char *url, unsigned n)
{
	PGconn *c = connect_url(url);
	double *t = malloc(n * sizeof(*t)), sum = 0;

	PQclear(PQprepare(c, "pt", "SELECT device_num, state FROM reports WHERE id = $1", 1, NULL));
	for (unsigned i = 0; i < n; i++) {
		uint64_t id = be64(1 + i % 1000);
		const char *values[1] = {(const char *)&id};
		int lengths[1] = {8}, formats[1] = {1};
		double t0 = now();
		PGresult *r = PQexecPrepared(c, "pt", 1, values, lengths, formats, 1);

		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
			die("point select: %s", PQerrorMessage(c));
		PQclear(r);
		t[i] = (now() - t0) * 1e6;
		sum += t[i];
	}
	qsort(t, n, sizeof(*t), cmp_double);
	printf("%-28s %10.1f %10.1f\n", what, t[n / 2], sum / n);
	free(t);
	PQfinish(c);
}

static void point_sqlite(const char *dir, unsigned n)
{
	char path[512];
	sqlite3 *h;
	sqlite3_stmt *st;
	double *t = malloc(n * sizeof(*t)), sum = 0;

	snprintf(path, sizeof(path), "%s/reports.db", dir);
	sqlite3_open(path, &h);
	sqlite3_prepare_v2(h, "SELECT device_num, state FROM reports WHERE id = ?1", -1, &st, NULL);
	for (unsigned i = 0; i < n; i++) {
		double t0 = now();

		sqlite3_bind_int64(st, 1, 1 + i % 1000);
		if (sqlite3_step(st) != SQLITE_ROW)
			die("sqlite point select");
		sqlite3_reset(st);
		t[i] = (now() - t0) * 1e6;
		sum += t[i];
	}
	qsort(t, n, sizeof(*t), cmp_double);
	printf("%-28s %10.1f %10.1f\n", "SQLite (in process)", t[n / 2], sum / n);
	sqlite3_finalize(st);
	sqlite3_close(h);
	free(t);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 2000;
	unsigned rounds = argc > 6 ? (unsigned)strtoul(argv[6], NULL, 10) : 3;
	FILE *f;

	if (argc < 5)
		die("usage: pg_layout URL_SOCKET URL_TCP PASSWORD_FILE SQLITE_DIR [N [ROUNDS]]");
	if (rounds < 1 || rounds > 8)
		die("ROUNDS: 1 to 8");
	f = fopen(argv[3], "r");
	if (!f || !fgets(password, sizeof(password), f))
		die("cannot read '%s'", argv[3]);
	fclose(f);
	password[strcspn(password, "\r\n")] = '\0';
	payload = malloc(PAYLOAD);
	for (size_t i = 0; i < PAYLOAD; i += 8) {
		uint64_t v = rnd();
		memcpy(payload + i, &v, 8);
	}
	chunks_all(argv[1], n, rounds);
	inserts_all(argv[1], argv[4], 1);
	printf("== prepared point SELECT by primary key, 20000 round trips\n");
	printf("%-28s %10s %10s\n", "path", "median µs", "mean µs");
	point_pg("PostgreSQL, unix socket", argv[1], 20000);
	point_pg("PostgreSQL, TCP 127.0.0.1", argv[2], 20000);
	point_sqlite(argv[4], 20000);
	free(payload);
	return 0;
}
