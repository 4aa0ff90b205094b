/* The PostgreSQL statement table (storage/postgresql/statements.h, issue 21)
 * against SQLite's (storage/sqlite/statements.h), on a throwaway server
 * (tests/pg/pg_tmp.h) and a SQLite database built by the real migrations:
 * - every statement prepares without parameter types, with the parameter
 *   count and result column count of its SQLite twin, only the parameter
 *   types the C code binds (int8, text, bytea) and only the result types
 *   the backend reads; RETURNING id exactly where the C code reads an id;
 * - the subtle translations give the same rows and the same change counts
 *   on the same writes (upserts, the keyed device lists with NULL keys,
 *   text order, the event type prefix filter, the DDI attribute lookup, ...)
 *   in a database whose own collation is not byte order (ICU en-US);
 * - the device lists and a deployment's devices are index seeks in the
 *   order of the page, with custom and with generic plans. */
#include <assert.h>
#include <check.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "storage/postgresql/pg_conn.h"
#include "storage/postgresql/pg_error.h"
#include "storage/postgresql/pg_migrate.h"
#include "storage/postgresql/pg_types.h"
#include "storage/postgresql/statements.h"
#include "storage/sqlite/sqlite.h"
#include "storage/sqlite/statements.h"
#include "storage/storage.h"

#include "tests/check_run.h"
#include "tests/pg/pg_tmp.h"

static const char *const sqlite_sql[] = {
#define X(name, sql) [STMT_##name] = sql,
	STATEMENT_LIST(X)
#undef X
};
static const char *const pg_sql[] = {
#define X(name, sql) [STMT_##name] = sql,
	PG_STATEMENT_LIST(X)
#undef X
};
/* A text for every name (the backend's build has the same check): a name
 * twice is -Woverride-init, so with the count equal none is missing. */
enum {
#define X(name, sql) +1
	PG_TEXTS = 0 PG_STATEMENT_LIST(X)
#undef X
};
static_assert((int)PG_TEXTS == (int)STMT__COUNT, "PostgreSQL text for every statement");
static const char *const stmt_name[] = {
#define X(name) [STMT_##name] = #name,
	STATEMENT_NAMES(X)
#undef X
};

/* The inserts whose generated id the storage code reads with sql_last_insert_id(). */
static const enum stmt reads_insert_id[] = {
	STMT_DEPLOYMENT_INSERT, STMT_DEVICE_INSERT,  STMT_MANIFEST_INSERT,
	STMT_UPLOAD_INSERT,	STMT_WEBHOOK_INSERT, STMT_WEBHOOK_REDELIVERY_INSERT,
	STMT_EVENT_INSERT,
};

static struct pg_tmp srv;

static void server_start(void)
{
	ck_assert_msg(pg_tmp_start(&srv), "cannot start a throwaway PostgreSQL");
}

static void server_stop(void)
{
	pg_tmp_stop(&srv);
}

static PGconn *pg_connect(const char *url)
{
	struct pg_conn_options opt = {.url = url, .password_file = srv.password_file};
	struct diag d = {0};
	PGconn *c = NULL;

	ck_assert_msg(pg_conn_open(&opt, &c, &d) == ERR_OK, "connect: %s", d.text);
	return c;
}

static void pg_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	struct diag d = {0};

	ck_assert_msg(pg_error_result(c, r, &d) == ERR_OK, "%s: %s", sql, d.text);
	PQclear(r);
}

/* A migrated database of its own; icu: its collation is ICU's en-US, not
 * byte order, so that an ORDER BY without COLLATE "C" shows. */
static PGconn *pg_database(const char *name, bool icu)
{
	char url[256], sql[256];
	struct diag d = {0};
	unsigned applied;
	PGconn *c;

	if (icu) {
		PGconn *admin = PQconnectdb(srv.url_admin);

		ck_assert_int_eq(PQstatus(admin), CONNECTION_OK);
		snprintf(sql, sizeof(sql),
			 "CREATE DATABASE %s OWNER suitd TEMPLATE template0 "
			 "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
			 name);
		pg_ok(admin, sql);
		PQfinish(admin);
		snprintf(url, sizeof(url), "postgresql://suitd@127.0.0.1:%u/%s", srv.port, name);
	} else {
		ck_assert(pg_tmp_createdb(&srv, name, url, sizeof(url)));
	}
	c = pg_connect(url);
	ck_assert_msg(pg_migrate(c, true, &applied, &d) == ERR_OK, "migrate: %s", d.text);
	return c;
}

/* A SQLite database built by the real migrations (storage_open), opened
 * again with foreign keys on, as suitd's connections are. */
static sqlite3 *sqlite_database(char *dir)
{
	char path[128];
	struct storage_options opt = {.path = path, .migrate = true};
	struct storage *s = NULL;
	struct diag d = {0};
	sqlite3 *h = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/statements.db", dir);
	ck_assert_msg(storage_open(&opt, &s, &d) == ERR_OK, "%s", d.text);
	storage_free(s);
	ck_assert_int_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
	/* As suitd's connections have it (storage/sqlite/unhex.c). */
	ck_assert_int_eq(sqlite_unhex_attach(h), SQLITE_OK);
	return h;
}

static void sqlite_database_remove(sqlite3 *h, const char *dir)
{
	char cmd[96];

	sqlite3_close(h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The highest ?N of a SQLite text. */
static int highest_param(const char *sql)
{
	int n = 0;

	for (const char *p = strchr(sql, '?'); p; p = strchr(p + 1, '?')) {
		int v = (int)strtol(p + 1, NULL, 10);
		if (v > n)
			n = v;
	}
	return n;
}

static bool reads_id(enum stmt which)
{
	for (size_t i = 0; i < sizeof(reads_insert_id) / sizeof(reads_insert_id[0]); i++)
		if (reads_insert_id[i] == which)
			return true;
	return false;
}

/* The PostgreSQL text adds a RETURNING its SQLite twin does not have: the
 * id the backend keeps for sql_last_insert_id(). */
static bool adds_returning(enum stmt which)
{
	return strstr(pg_sql[which], " RETURNING ") && !strstr(sqlite_sql[which], " RETURNING ");
}

static bool type_in(Oid t, const Oid *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == t)
			return true;
	return false;
}

START_TEST(test_every_statement_prepares)
{
	static const Oid param_types[] = {OID_INT8, OID_TEXT, OID_BYTEA};
	static const Oid column_types[] = {OID_INT2, OID_INT4,	  OID_INT8, OID_BOOL,
					   OID_TEXT, OID_VARCHAR, OID_BYTEA};
	char dir[] = "/tmp/suitd-check-pgstmt-XXXXXX";
	PGconn *c = pg_database("t_prepare", false);
	sqlite3 *h = sqlite_database(dir);

	for (int i = 0; i < STMT__COUNT; i++) {
		const char *name = stmt_name[i];
		sqlite3_stmt *st = NULL;
		PGresult *r;
		int params = 0;

		ck_assert_msg(pg_sql[i] && sqlite_sql[i], "%s: no text", name);
		ck_assert_msg(!strchr(pg_sql[i], '?'), "%s: a ?N left in the PostgreSQL text",
			      name);
		r = PQprepare(c, name, pg_sql[i], 0, NULL);
		ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", name,
			      PQresultErrorMessage(r));
		PQclear(r);
		r = PQdescribePrepared(c, name);
		ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", name,
			      PQresultErrorMessage(r));
		ck_assert_msg(sqlite3_prepare_v2(h, sqlite_sql[i], -1, &st, NULL) == SQLITE_OK,
			      "%s (sqlite): %s", name, sqlite3_errmsg(h));
		params = highest_param(sqlite_sql[i]);
		ck_assert_msg(sqlite3_bind_parameter_count(st) == params, "%s", name);
		ck_assert_msg(PQnparams(r) == params, "%s: %d parameters, SQLite's has %d", name,
			      PQnparams(r), params);
		for (int p = 0; p < PQnparams(r); p++)
			ck_assert_msg(type_in(PQparamtype(r, p), param_types, 3),
				      "%s: $%d is of type %u, not int8, text or bytea", name, p + 1,
				      PQparamtype(r, p));
		if (adds_returning((enum stmt)i)) {
			/* The id the backend keeps; the C code sees DONE. */
			ck_assert_msg(PQnfields(r) == 1 && PQftype(r, 0) == OID_INT8 &&
					      strcmp(PQfname(r, 0), "id") == 0,
				      "%s: RETURNING an id of type int8 named id", name);
		} else {
			ck_assert_msg(PQnfields(r) == sqlite3_column_count(st),
				      "%s: %d columns, SQLite's has %d", name, PQnfields(r),
				      sqlite3_column_count(st));
		}
		ck_assert_msg(adds_returning((enum stmt)i) == reads_id((enum stmt)i),
			      "%s: RETURNING id where the C code reads the inserted id, only there",
			      name);
		for (int f = 0; f < PQnfields(r); f++)
			ck_assert_msg(type_in(PQftype(r, f), column_types, 7),
				      "%s: column %d is of type %u", name, f, PQftype(r, f));
		sqlite3_finalize(st);
		PQclear(r);
	}
	sqlite_database_remove(h, dir);
	PQfinish(c);
}
END_TEST

/* ---- the same writes and reads on both ------------------------------- */

/* A parameter: 'i' an integer, 't' text, 'b' bytes (hex), 'n' NULL; 0: not
 * bound (NULL as well). */
struct param {
	char kind;
	const char *v;
};
#define STR(x) #x
#define I(x)                \
	{                   \
		'i', STR(x) \
	}
#define T(x)           \
	{              \
		't', x \
	}
#define B(x)           \
	{              \
		'b', x \
	}
#define N                 \
	{                 \
		'n', NULL \
	}

/* One statement on both databases. sorted: it has no ORDER BY, compare
 * its rows as a set. */
struct step {
	enum stmt which;
	struct param p[13];
	bool sorted;
};

static size_t hex_bytes(const char *hex, unsigned char *out, size_t size)
{
	size_t n = strlen(hex) / 2;

	ck_assert_uint_le(n, size);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
	return n;
}

/* Rows as "a|b|c\n", NULL as "NULL", bytes as \x<hex>, booleans as 0/1:
 * the values the C code reads through either backend. */
static void sqlite_run(sqlite3 *h, const struct step *s, struct buf *out, int64_t *ret_changes,
		       int64_t *ret_id)
{
	sqlite3_stmt *st = NULL;
	unsigned char bytes[64];
	int rc;

	ck_assert_msg(sqlite3_prepare_v2(h, sqlite_sql[s->which], -1, &st, NULL) == SQLITE_OK,
		      "%s: %s", stmt_name[s->which], sqlite3_errmsg(h));
	for (int i = 0; i < 13; i++) {
		const struct param *p = &s->p[i];
		if (p->kind == 'i')
			rc = sqlite3_bind_int64(st, i + 1, strtoll(p->v, NULL, 10));
		else if (p->kind == 't')
			rc = sqlite3_bind_text(st, i + 1, p->v, -1, SQLITE_TRANSIENT);
		else if (p->kind == 'b')
			rc = sqlite3_bind_blob(st, i + 1, bytes, (int)hex_bytes(p->v, bytes, 64),
					       SQLITE_TRANSIENT);
		else
			continue;
		ck_assert_msg(rc == SQLITE_OK, "%s ?%d", stmt_name[s->which], i + 1);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int j = 0; j < sqlite3_column_count(st); j++) {
			const unsigned char *b;
			if (j)
				buf_append_str(out, "|");
			/* The type first: reading a value may convert it. */
			switch (sqlite3_column_type(st, j)) {
			case SQLITE_NULL:
				buf_append_str(out, "NULL");
				break;
			case SQLITE_BLOB:
				b = sqlite3_column_blob(st, j);
				buf_append_str(out, "\\x");
				for (int k = 0; k < sqlite3_column_bytes(st, j); k++)
					buf_printf(out, "%02x", b[k]);
				break;
			default:
				buf_append_str(out, (const char *)sqlite3_column_text(st, j));
			}
		}
		buf_append_str(out, "\n");
	}
	ck_assert_msg(rc == SQLITE_DONE, "%s: %s", stmt_name[s->which], sqlite3_errmsg(h));
	*ret_changes = sqlite3_stmt_readonly(st) ? 0 : sqlite3_changes(h);
	*ret_id = sqlite3_last_insert_rowid(h);
	sqlite3_finalize(st);
}

/* As the backend runs it: no parameter types, integers and text in text
 * format, bytes in binary. */
static void pg_run(PGconn *c, const struct step *s, struct buf *out, int64_t *ret_changes,
		   int64_t *ret_id)
{
	unsigned char bytes[13][64];
	const char *values[13];
	int lengths[13], formats[13];
	int n = highest_param(sqlite_sql[s->which]);
	PGresult *r;
	struct diag d = {0};

	for (int i = 0; i < n; i++) {
		const struct param *p = &s->p[i];
		values[i] = p->kind == 'i' || p->kind == 't' ? p->v : NULL;
		lengths[i] = 0;
		formats[i] = 0;
		if (p->kind == 'b') {
			lengths[i] = (int)hex_bytes(p->v, bytes[i], 64);
			values[i] = (const char *)bytes[i];
			formats[i] = 1;
		}
	}
	r = PQexecParams(c, pg_sql[s->which], n, NULL, values, lengths, formats, 0);
	ck_assert_msg(pg_error_result(c, r, &d) == ERR_OK, "%s: %s", stmt_name[s->which], d.text);
	if (adds_returning(s->which)) {
		ck_assert_int_eq(PQntuples(r), 1);
		*ret_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	} else {
		for (int i = 0; i < PQntuples(r); i++) {
			for (int j = 0; j < PQnfields(r); j++) {
				const char *v = PQgetvalue(r, i, j);
				if (j)
					buf_append_str(out, "|");
				if (PQgetisnull(r, i, j))
					buf_append_str(out, "NULL");
				else if (PQftype(r, j) == OID_BOOL)
					buf_append_str(out, strcmp(v, "t") == 0 ? "1" : "0");
				else
					buf_append_str(out, v);
			}
			buf_append_str(out, "\n");
		}
	}
	/* A SELECT's count is its rows: SQLite counts writes only. */
	if (strncmp(PQcmdStatus(r), "SELECT", 6) != 0 && PQcmdTuples(r)[0])
		*ret_changes = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of out in byte order. */
static void sort_lines(struct buf *out)
{
	char *text = strdup(buf_str(out)), *lines[256], *save = NULL;
	size_t n = 0;

	ck_assert_ptr_nonnull(text);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		ck_assert_uint_lt(n, 256);
		lines[n++] = l;
	}
	qsort(lines, n, sizeof(lines[0]), line_cmp);
	buf_clear(out);
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%s\n", lines[i]);
	free(text);
}

static void run_both(sqlite3 *h, PGconn *c, const struct step *s)
{
	struct buf a, b;
	int64_t changes_a = 0, changes_b = 0, id_a = 0, id_b = 0;

	buf_init(&a, 1 << 16);
	buf_init(&b, 1 << 16);
	sqlite_run(h, s, &a, &changes_a, &id_a);
	pg_run(c, s, &b, &changes_b, &id_b);
	if (s->sorted) {
		sort_lines(&a);
		sort_lines(&b);
	}
	ck_assert_msg(strcmp(buf_str(&a), buf_str(&b)) == 0,
		      "%s: rows differ\n--- sqlite\n%s--- postgresql\n%s", stmt_name[s->which],
		      buf_str(&a), buf_str(&b));
	ck_assert_msg(changes_a == changes_b, "%s: %" PRId64 " changes, SQLite %" PRId64,
		      stmt_name[s->which], changes_b, changes_a);
	if (adds_returning(s->which))
		ck_assert_msg(id_a == id_b, "%s: id %" PRId64 ", SQLite %" PRId64,
			      stmt_name[s->which], id_b, id_a);
	buf_release(&a);
	buf_release(&b);
}

/* A step: S(NAME, parameters...), S0(NAME) without parameters; SORTED*
 * for a statement without ORDER BY. */
#define S(w, ...)                                       \
	{                                               \
		.which = STMT_##w, .p = { __VA_ARGS__ } \
	}
#define S0(w)                     \
	{                         \
		.which = STMT_##w \
	}
#define SORTED(w, ...)                                                \
	{                                                             \
		.which = STMT_##w, .p = {__VA_ARGS__}, .sorted = true \
	}
#define SORTED0(w)                                \
	{                                         \
		.which = STMT_##w, .sorted = true \
	}

#define VENDOR		     "00112233445566778899aabbccddeeff"
#define VENDOR2		     "ffeeddccbbaa99887766554433221100"
#define CLASS		     "0123456789abcdef0123456789abcdef"
#define TOKEN1		     "1111111111111111111111111111111111111111111111111111111111111111"
#define TOKEN2		     "2222222222222222222222222222222222222222222222222222222222222222"
#define TOKEN3		     "3333333333333333333333333333333333333333333333333333333333333333"
#define MIN64		     -9223372036854775808
#define MAX64		     9223372036854775807
#define FACTS(name, version) "{\"coswid\":{\"software_name\":\"" name "\"" version "}}"

/* Each step runs on both and compares; the order matters where ids are
 * generated (an identity value spent by ON CONFLICT DO NOTHING is not
 * SQLite's, so the duplicate inserts come after the table's last insert)
 * and for the events (the assignment trigger writes them on PostgreSQL
 * only here: this SQLite connection has no TEMP trigger). */
static const struct step scenario[] = {
	/* Manifests: CoSWID names that differ in case, one without a version. */
	S(MANIFEST_INSERT, B("aa01"), I(-16), B("a0"), I(7),
	  T(FACTS("fw", ",\"software_version\":\"1.2\"")), I(100)),
	S(MANIFEST_INSERT, B("aa02"), I(-16), B("a1"), I(8), T(FACTS("fw", "")), I(100)),
	S(MANIFEST_INSERT, B("aa03"), I(-16), B("a2"), I(9),
	  T(FACTS("Fw", ",\"software_version\":\"2.0\"")), I(100)),
	S(MANIFEST_COMPONENT_INSERT, I(1), I(0), B("c0"), N, N),
	S(MANIFEST_COMPONENT_INSERT, I(2), I(0), B("c0"), B(VENDOR), N),
	/* "IS ?": NULL matches NULL. */
	S(MANIFEST_SEQUENCE_CONFLICT, N, N, B("c0"), I(7), B("ff")),
	S(MANIFEST_SEQUENCE_CONFLICT, B(VENDOR), N, B("c0"), I(8), B("ff")),
	S(MANIFEST_SEQUENCE_CONFLICT, N, N, B("c0"), I(8), B("ff")),
	S(MANIFEST_IDENTITY, B("aa02")),
	S(MANIFEST_LIST, I(0), I(10), B(VENDOR), N),
	/* Devices; the attributes are for the DDI lookup. */
	S(DEVICE_INSERT, T("d1"), T("g1"), B(VENDOR), B(CLASS), T("{\"k\":\"v\"}"), B(TOKEN1),
	  I(100)),
	S(DEVICE_INSERT, T("d2"), N, N, N, T("{\"k\":\"V\",\"n\":1}"), N, I(100)),
	S(DEVICE_INSERT, T("d3"), T("g1"), N, N, T("{\"k\":1}"), N, I(100)),
	S(DEVICE_INSERT, T("d4"), N, N, B(CLASS), T("{\"x\":\"v\",\"k\":\"v\"}"), N, I(100)),
	S(DEVICE_INSERT, T("d5"), N, N, N, T("{\"k\":\"v\\u00e9\"}"), N, I(100)),
	S(DEVICE_INSERT, T("d6"), N, N, N, T("{\"k\":[\"v\"]}"), N, I(100)),
	S(DDI_DEVICES_BY_ATTRIBUTE, T("k"), T("v"), I(10)),
	S(DDI_DEVICES_BY_ATTRIBUTE, T("k"), T("v\xc3\xa9"), I(10)),
	S(DDI_DEVICES_BY_ATTRIBUTE, T("k"), T("1"), I(10)),
	S(DDI_DEVICES_BY_ATTRIBUTE, T("n"), T("1"), I(10)),
	S(DDI_DEVICES_BY_ATTRIBUTE, T("k"), T("v"), I(1)),
	/* Tags: a duplicate is no change; byte order (B _x a b), not en-US's. */
	S(DEVICE_TAG_INSERT, I(1), T("b")),
	S(DEVICE_TAG_INSERT, I(1), T("B")),
	S(DEVICE_TAG_INSERT, I(1), T("a")),
	S(DEVICE_TAG_INSERT, I(1), T("_x")),
	S(DEVICE_TAG_INSERT, I(1), T("b")),
	S(DEVICE_TAG_INSERT, I(3), T("b")),
	S(DEVICE_TAGS, I(1)),
	/* Sightings: the later one wins (greatest); a sequence only when it
	 * changes; a group only when it differs, NULL included. */
	S(DEVICE_SEEN, I(1), I(500)),
	S(DEVICE_SEEN, I(1), I(400)),
	S(DEVICE_SEEN, I(3), I(300)),
	S(DEVICE_SEEN, I(4), I(300)),
	S(DEVICE_SEEN_SEQUENCE, I(1), I(7)),
	S(DEVICE_SEEN_SEQUENCE, I(1), I(7)),
	S(DEVICE_SEEN_SEQUENCE, I(3), I(5)),
	S(DEVICE_SET_GROUP, I(2), N),
	S(DEVICE_SET_GROUP, I(2), T("g2")),
	S(DEVICE_SET_GROUP, I(2), T("g2")),
	S(DEVICE_SET_GROUP, I(2), N),
	/* The device lists: never seen / none reported sort as -1. */
	S(DEVICE_LIST, I(0), I(100)),
	S(DEVICE_LIST, I(1), I(100), T("g1"), N, I(0), T("b")),
	S(DEVICE_LIST_BY_TAG, I(0), I(100), N, N, N, T("b")),
	S(DEVICE_LIST_BY_GROUP, I(0), I(100), T("g1"), N, N, N, N, I(5)),
	S(DEVICE_LIST_BY_CLASS, I(0), I(100), N, B(CLASS)),
	S(DEVICE_LIST_BY_SEEN_RANGE, N, I(100), [10] = I(MIN64), I(MAX64)),
	S(DEVICE_LIST_BY_SEEN_RANGE, N, I(2), [10] = I(-1), I(400)),
	S(DEVICE_LIST_BY_SEEN_EQ, I(2), I(100), [10] = I(-1)),
	S(DEVICE_LIST_BY_SEEN_EQ, I(0), I(100), [4] = I(0), [10] = I(300)),
	S(DEVICE_LIST_BY_SEQUENCE_RANGE, N, I(100), [10] = I(MIN64), I(MAX64)),
	S(DEVICE_LIST_BY_SEQUENCE_EQ, I(0), I(100), [10] = I(-1)),
	S(FLEET_DEVICES, I(300)),
	/* Tokens: the replaced one stays until $3, or not at all. */
	S(DEVICE_SET_TOKEN, T("d1"), B(TOKEN2), I(1000)),
	S(DEVICE_BY_TOKEN, B(TOKEN1)),
	S(DEVICE_SET_TOKEN, T("d2"), B(TOKEN3), I(1000)),
	S(DEVICE_SET_TOKEN, T("d1"), B(TOKEN1), N),
	S(DEVICE_BY_TOKEN, B(TOKEN2)),
	/* The audit log's filters: "deployment.*" is a prefix up to the dot. */
	S(EVENT_INSERT, I(100), T("deployment.created"), T("ops"), T("deployment:1"), I(1), N, I(1),
	  T("{}")),
	S(EVENT_INSERT, I(101), T("deployment.paused"), T("ops"), T("deployment:1"), I(1), N, I(1),
	  T("{}")),
	S(EVENT_INSERT, I(102), T("deploymentx.y"), T("ops"), T("deployment:1"), I(1), N, I(1),
	  T("{}")),
	S(EVENT_INSERT, I(103), T("device.created"), T("sys"), T("device:d1"), N, T("d1"), I(1),
	  T("{}")),
	S(EVENT_INSERT, I(104), T("device.created"), T("ops"), T("device:d2"), N, T("d2"), I(0),
	  T("{}")),
	S(AUDIT_LIST, N, T("deployment.*"), N, N, N, I(MAX64), I(10), I(0)),
	S(AUDIT_LIST, N, T("deployment.created"), N, N, N, I(MAX64), I(10), I(0)),
	S(AUDIT_LIST, N, T("d*"), N, N, N, I(MAX64), I(10), I(0)),
	S(AUDIT_LIST, T("ops"), N, N, I(101), I(103), I(MAX64), I(10), I(0)),
	S(AUDIT_LIST, N, N, T("device:d1"), N, N, I(5), I(10), I(0)),
	S(EVENTS_AFTER, I(1), I(2)),
	S0(EVENTS_RANGE),
	/* Deployments and assignments: skipped with each reason. */
	S(DEPLOYMENT_INSERT, T("one"), I(1), T("group"), T("g1"), T("ops"), I(100), I(3600), I(95),
	  I(5), I(0)),
	S(DEPLOYMENT_INSERT, N, I(2), T("devices"), N, T("ops"), I(100), I(3600), I(95), I(5),
	  I(0)),
	S(DEPLOYMENT_INSERT, N, I(3), T("tag"), T("b"), T("ops"), I(100), I(3600), I(95), I(5),
	  I(0)),
	S(DEPLOYMENT_STAGE_INSERT, I(1), I(0), I(50), I(100)),
	S(DEPLOYMENT_STAGE_INSERT, I(1), I(1), I(100), N),
	S(DEPLOYMENT_TARGET_INSERT, I(2), I(1)),
	S(DEPLOYMENT_TARGET_INSERT, I(2), I(1)),
	S(ASSIGNMENT_INSERT, I(1), I(1), B(VENDOR), N, I(7), I(100), I(0)),
	S(ASSIGNMENT_INSERT, I(1), I(3), B(VENDOR), B(CLASS), I(7), I(100), I(1)),
	S(ASSIGNMENT_INSERT, I(1), I(2), N, N, I(7), I(100), I(0)),
	S(ASSIGNMENT_INSERT, I(2), I(1), B(VENDOR2), N, I(8), I(100), I(0)),
	S(ASSIGNMENT_INSERT, I(2), I(4), N, B(VENDOR), I(8), I(100), I(0)),
	S(ASSIGNMENT_INSERT, I(2), I(2), N, N, I(6), I(100), I(0)),
	S(ASSIGNMENT_INSERT, I(3), I(3), N, N, I(4), I(100), I(0)),
	S(ASSIGNMENT_INSERT, I(3), I(5), N, N, I(9), I(100), I(0)),
	S(ASSIGNMENT_INSERT, I(3), I(6), N, N, I(9), I(120), I(0)),
	S(ASSIGNMENT_INSERT, I(2), I(3), N, N, I(8), I(100), I(0)),
	S(ASSIGNMENT_INSERT, I(1), I(1), N, N, I(7), I(100), I(0)),
	S(DEPLOYMENT_DEVICES, I(1), I(0), I(10)),
	S(DEPLOYMENT_DEVICES_IN_STATE, I(3), I(0), I(10), T("pending")),
	SORTED(DEPLOYMENT_COUNTS, I(1)),
	S(ASSIGNMENTS_OF_DEPLOYMENT, I(1)),
	SORTED0(ACTIVE_ASSIGNMENTS),
	S(DEPLOYMENT_FOR_JOIN, I(1)),
	S(DEVICE_LIST_BY_STATE_RANGE, N, I(100), [10] = I(MIN64), I(MAX64), T("pending")),
	S(DEVICE_LIST_BY_STATE_EQ, I(1), I(100), [10] = I(100), N, T("pending")),
	S(DEVICE_LIST, I(0), I(100), [9] = T("skipped")),
	/* Pause, resume with the failures acknowledged, retry. */
	S(DEPLOYMENT_PAUSE, I(1), I(200), T("ops"), T("why"), I(1)),
	S(DEPLOYMENT_LIST, I(0), I(10), T("paused"), N),
	S(DEPLOYMENT_RESUME, I(1), I(1)),
	S(DEPLOYMENT_RETRIED, I(1), I(5)),
	S(DEPLOYMENT_BY_ID, I(1)),
	SORTED0(FLEET_DEPLOYMENTS),
	/* Running software: confirmations (the trigger of migration 0017). */
	S(ASSIGNMENT_SET_STATE, I(1), T("pending"), T("confirmed"), N, I(200)),
	S(ASSIGNMENT_SET_STATE, I(3), T("pending"), T("confirmed"), N, I(200)),
	S(ASSIGNMENT_SET_STATE, I(10), T("pending"), T("confirmed"), N, I(200)),
	S(ASSIGNMENT_SET_STATE, I(8), T("pending"), T("confirmed"), N, I(200)),
	S(DDI_POLL, I(2)),
	S0(INVENTORY_COUNTS_ALL),
	S(INVENTORY_COUNTS, T("fw"), N),
	S(INVENTORY_COUNTS, T("fw"), T("1.2")),
	S(INVENTORY_DEVICES, T("fw"), I(0), I(10)),
	S(INVENTORY_DEVICES_VERSION, T("Fw"), I(0), I(10), T("2.0")),
	S(DEVICE_SOFTWARE, I(5)),
	/* Dependencies and needs: duplicates ignored; the closure. */
	S(MANIFEST_DEPENDENCY_INSERT, I(3), B("aa01"), I(1), I(0), I(1)),
	S(MANIFEST_DEPENDENCY_INSERT, I(3), B("aa01"), I(1), I(0), I(1)),
	S(MANIFEST_NEED_INSERT, I(1), I(0), I(0), I(42)),
	S(MANIFEST_NEED_INSERT, I(1), I(0), I(0), I(42)),
	S(MANIFEST_NEED_INSERT, I(3), I(0), I(0), I(43)),
	S(ASSIGNMENT_FETCHED, I(9), I(0), I(43)),
	S(ASSIGNMENT_FETCHED, I(9), I(0), I(43)),
	S(MANIFEST_NEEDS_OBJECT, I(3), I(0), I(42)),
	S(MANIFEST_NEEDS_LEFT, I(3), I(9)),
	S(MANIFEST_IS_DEPENDENCY, B("aa01")),
	/* Reports: a replay, the oldest dropped with its length. */
	S(REPORT_INSERT, I(1), I(1), B("aa01"), T("installed"), I(100), N, N, T("application/json"),
	  B("0102030405"), I(101), N),
	S(REPORT_INSERT, I(1), I(1), B("aa01"), T("confirmed"), N, N, N, T("application/json"),
	  B("0102"), I(102), T("verified")),
	S(REPORT_IS_REPLAY, I(1), I(1), B("0102")),
	S(REPORT_IS_REPLAY, I(1), I(1), B("0102030405")),
	S(REPORT_DROP_OLDEST, I(1)),
	S(REPORT_USAGE, I(1)),
	S(REPORTS_OF_DEVICE, T("d1"), I(MAX64), I(10)),
	/* Webhooks: an update that disables, attempts counted per event. */
	S(WEBHOOK_INSERT, T("https://example.com/h"), T(""), T("d"), T("s"), I(1), I(100),
	  T("ops")),
	S(WEBHOOK_UPDATE, I(1), N, T("deployment.*"), N, I(0), T("bad"), I(101)),
	S(WEBHOOK_GET, I(1)),
	S(WEBHOOK_UPDATE, I(1), N, N, N, I(1), N, I(102)),
	S(WEBHOOK_GET, I(1)),
	S(WEBHOOK_DELIVERY_INSERT, I(1), I(1), T("t"), I(0), I(200), N, I(5), T("retry"), N),
	S(WEBHOOK_DELIVERY_INSERT, I(1), I(1), T("t"), I(0), I(300), I(200), I(5), T("ok"), T("e")),
	S(WEBHOOK_DELIVERY_INSERT, I(9), I(1), T("t"), I(0), I(300), I(200), I(5), T("ok"), N),
	S(WEBHOOK_DELIVERIES, I(1), I(MAX64), I(0), I(10)),
	S(WEBHOOK_ATTEMPTS, I(1), I(1)),
	/* Garbage collection of what finished before $1. */
	S(DEPLOYMENT_CANCEL, I(2), I(300)),
	S(GC_DEPLOYMENTS, I(1000)),
	S(GC_MANIFESTS, I(1000)),
};

START_TEST(test_same_rows)
{
	char dir[] = "/tmp/suitd-check-pgstmt-XXXXXX";
	PGconn *c = pg_database("t_rows", true);
	sqlite3 *h = sqlite_database(dir);

	for (size_t i = 0; i < sizeof(scenario) / sizeof(scenario[0]); i++)
		run_both(h, c, &scenario[i]);
	sqlite_database_remove(h, dir);
	PQfinish(c);
}
END_TEST

/* ---- plans -------------------------------------------------------------- */

/* One plan: names index outside a SubPlan and sorts nothing there (a sort
 * inside a SubPlan, the state filter's newest assignment of one device,
 * has that device's rows only). */
static void assert_plan_text(PGresult *r, enum stmt which, const char *mode, const char *index)
{
	struct buf plan;
	size_t subplan_indent = SIZE_MAX;
	bool uses = false, sorts = false;

	buf_init(&plan, 1 << 16);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *line = PQgetvalue(r, i, 0);
		size_t indent = strspn(line, " ");

		buf_printf(&plan, "%s\n", line);
		if (indent <= subplan_indent)
			subplan_indent = strstr(line, "SubPlan") ? indent : SIZE_MAX;
		if (subplan_indent != SIZE_MAX)
			continue;
		sorts = sorts || strstr(line, "Sort");
		uses = uses || strstr(line, index);
	}
	ck_assert_msg(uses && !sorts, "%s (%s): %s, not an index range of %s:\n%s",
		      stmt_name[which], mode, sorts ? "sorts" : "another index", index,
		      buf_str(&plan));
	buf_release(&plan);
}

/* The plans of statement which with the arguments args (an EXECUTE list)
 * as the backend gets them: PostgreSQL plans the first five executions of a
 * prepared statement for their values (custom plans), then keeps a generic
 * plan if its estimate is no worse. Both must be index ranges in the order
 * of the page. */
static void assert_plan(PGconn *c, enum stmt which, const char *args, const char *index)
{
	char explain[512], execute[512], sql[128];
	PGresult *r;

	r = PQprepare(c, stmt_name[which], pg_sql[which], 0, NULL);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", stmt_name[which],
		      PQresultErrorMessage(r));
	PQclear(r);
	snprintf(execute, sizeof(execute), "EXECUTE \"%s\" (%s)", stmt_name[which], args);
	snprintf(explain, sizeof(explain), "EXPLAIN %s", execute);
	r = PQexec(c, explain);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", explain,
		      PQresultErrorMessage(r));
	assert_plan_text(r, which, "custom plan", index);
	PQclear(r);
	for (int i = 0; i < 6; i++)
		pg_ok(c, execute);
	r = PQexec(c, explain);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", explain,
		      PQresultErrorMessage(r));
	assert_plan_text(r, which, "the plan after six executions", index);
	PQclear(r);
	snprintf(sql, sizeof(sql), "DEALLOCATE \"%s\"", stmt_name[which]);
	pg_ok(c, sql);
}

/* 20,000 devices in 100 groups and 101 classes, a tag on every tenth (100
 * tags), 1 % never seen and without a sequence (key -1, the key an index
 * without the id would read whole and sort), one assignment each in 99
 * deployments, 4 states and 25 times. PostgreSQL plans by cost: these
 * filters and keys match about 1 % of the rows, more than a page, as a
 * group, a class, a tag or a deployment of a large fleet does. One that
 * matches a large part of the fleet may walk the primary key from the
 * cursor instead (a page of rows in about page / share reads, no sort);
 * one that matches less than a page is read whole and sorted. */
static const char *const fleet[] = {
	"INSERT INTO manifests (digest, digest_alg, envelope, sequence_number, facts, created_at) "
	"VALUES ('\\xaa'::bytea, -16, '\\xa0'::bytea, 1, '{}', 1)",
	"INSERT INTO devices (id, grp, class_id, last_seen_at, reported_sequence, created_at) "
	"SELECT 'dev-' || i, 'g' || (i % 100), decode(lpad(to_hex(i % 101), 32, '0'), 'hex'), "
	"CASE WHEN i % 100 <> 0 THEN 1000 + i % 500 END, CASE WHEN i % 100 <> 0 THEN i % 7 END, 1 "
	"FROM generate_series(1, 20000) i",
	"INSERT INTO device_tags (device_num, tag) SELECT num, 't' || (num % 100) FROM devices "
	"WHERE num % 10 = 0",
	"INSERT INTO deployments (manifest_id, target_kind, created_by, created_at) "
	"SELECT 1, 'devices', 'ops', i FROM generate_series(1, 100) i",
	"INSERT INTO assignments (deployment_id, device_num, state, created_at, updated_at) "
	"SELECT 1 + num % 99, num, (ARRAY['pending', 'delivered', 'failed', 'confirmed'])"
	"[1 + num % 4], 1, 1000 + num % 25 FROM devices",
	"ANALYZE",
};

START_TEST(test_device_list_plans)
{
	PGconn *c = pg_database("t_plans", false);

	for (size_t i = 0; i < sizeof(fleet) / sizeof(fleet[0]); i++)
		pg_ok(c, fleet[i]);
	/* $1 cursor, $2 page, $3 group, $4 class, $5 seen since, $6 tag, $7 not
	 * seen since, $8 sequence, $9 below, $10 state, $11/$12 keys, $13 state. */
	assert_plan(c, STMT_DEVICE_LIST, "100, 50, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
		    "devices_pkey");
	assert_plan(c, STMT_DEVICE_LIST_BY_GROUP,
		    "100, 50, 'g3', NULL, NULL, NULL, NULL, NULL, NULL, NULL", "devices_group");
	assert_plan(c, STMT_DEVICE_LIST_BY_CLASS,
		    "100, 50, NULL, '\\x00000000000000000000000000000007', NULL, NULL, NULL, NULL, "
		    "NULL, NULL",
		    "devices_class");
	assert_plan(c, STMT_DEVICE_LIST_BY_TAG,
		    "100, 50, NULL, NULL, NULL, 't7', NULL, NULL, NULL, NULL", "device_tags_tag");
	/* The keyed orders: the rest of the cursor's key, then later keys. */
	assert_plan(c, STMT_DEVICE_LIST_BY_SEEN_EQ,
		    "100, 50, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1", "devices_seen");
	assert_plan(c, STMT_DEVICE_LIST_BY_SEEN_RANGE,
		    "NULL, 50, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, 1200",
		    "devices_seen");
	assert_plan(c, STMT_DEVICE_LIST_BY_SEQUENCE_EQ,
		    "100, 50, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1",
		    "devices_sequence");
	assert_plan(c, STMT_DEVICE_LIST_BY_SEQUENCE_RANGE,
		    "NULL, 50, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, 4",
		    "devices_sequence");
	assert_plan(c, STMT_DEVICE_LIST_BY_STATE_EQ,
		    "100, 50, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1001, NULL, "
		    "'failed'",
		    "assignments_state_updated");
	assert_plan(c, STMT_DEVICE_LIST_BY_STATE_RANGE,
		    "NULL, 50, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1000, 1200, "
		    "'failed'",
		    "assignments_state_updated");
	/* A deployment's devices likewise, all of them or in one state. */
	assert_plan(c, STMT_DEPLOYMENT_DEVICES, "3, 100, 50", "assignments_by_deployment");
	assert_plan(c, STMT_DEPLOYMENT_DEVICES_IN_STATE, "3, 100, 20, 'failed'",
		    "assignments_deployment_state");
	PQfinish(c);
}
END_TEST

static Suite *pg_statements_suite(void)
{
	Suite *s = suite_create("pg_statements");
	TCase *tc = tcase_create("postgresql");

	tcase_add_unchecked_fixture(tc, server_start, server_stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_every_statement_prepares);
	tcase_add_test(tc, test_same_rows);
	tcase_add_test(tc, test_device_list_plans);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(pg_statements_suite());
}
