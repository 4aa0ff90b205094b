/* storage/postgresql/ (issue 21) on a throwaway PostgreSQL server
 * (tests/pg/pg_tmp.h): migrations, the password file, SQLSTATE mapping, and
 * the parity of the PostgreSQL schema with the one SQLite's migrations
 * build, which keeps the two from drifting apart. */
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "storage/postgresql/pg_conn.h"
#include "storage/postgresql/pg_error.h"
#include "storage/postgresql/pg_migrate.h"
#include "storage/sqlite/statements.h"
#include "storage/storage.h"

#include "tests/check_run.h"
#include "tests/pg/pg_tmp.h"

static struct pg_tmp srv;

static void server_start(void)
{
	ck_assert_msg(pg_tmp_start(&srv), "cannot start a throwaway PostgreSQL");
}

static void server_stop(void)
{
	pg_tmp_stop(&srv);
}

/* A fresh database for one test, connected as role suitd with the harness'
 * password file. */
static PGconn *db_new(const char *name, char *ret_url, size_t size)
{
	struct pg_conn_options opt = {.password_file = srv.password_file};
	struct diag d = {0};
	PGconn *c = NULL;

	ck_assert(pg_tmp_createdb(&srv, name, ret_url, size));
	opt.url = ret_url;
	ck_assert_msg(pg_conn_open(&opt, &c, &d) == ERR_OK, "connect: %s", d.text);
	return c;
}

static PGconn *db_open(const char *url, unsigned timeout_ms)
{
	struct pg_conn_options opt = {
		.url = url, .password_file = srv.password_file, .statement_timeout_ms = timeout_ms};
	struct diag d = {0};
	PGconn *c = NULL;

	ck_assert_msg(pg_conn_open(&opt, &c, &d) == ERR_OK, "connect: %s", d.text);
	return c;
}

/* Every row of a query, "a|b|c\n" each, NULL as "NULL". */
static void pg_rows(PGconn *c, const char *sql, struct buf *out)
{
	PGresult *r = PQexec(c, sql);
	struct diag d = {0};

	ck_assert_msg(pg_error_result(c, r, &d) == ERR_OK, "%s: %s", sql, d.text);
	for (int i = 0; i < PQntuples(r); i++) {
		for (int j = 0; j < PQnfields(r); j++)
			buf_printf(out, "%s%s", j ? "|" : "",
				   PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
		buf_append_str(out, "\n");
	}
	PQclear(r);
}

static void pg_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	struct diag d = {0};

	ck_assert_msg(pg_error_result(c, r, &d) == ERR_OK, "%s: %s", sql, d.text);
	PQclear(r);
}

static enum err pg_try(PGconn *c, const char *sql, struct diag *d)
{
	PGresult *r = PQexec(c, sql);
	enum err e = pg_error_result(c, r, d);

	PQclear(r);
	return e;
}

static void sqlite_rows(sqlite3 *h, const char *sql, struct buf *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(h));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int j = 0; j < sqlite3_column_count(st); j++) {
			const unsigned char *t = sqlite3_column_text(st, j);
			buf_printf(out, "%s%s", j ? "|" : "", t ? (const char *)t : "NULL");
		}
		buf_append_str(out, "\n");
	}
	ck_assert_msg(rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(h));
	sqlite3_finalize(st);
}

/* Equal texts, or a message naming the first line that differs. */
static void assert_same(const char *what, const struct buf *sqlite, const struct buf *pg)
{
	const char *a = buf_str(sqlite), *b = buf_str(pg);
	size_t i = 0, line = 0;

	while (a[i] && a[i] == b[i])
		i++;
	if (!a[i] && !b[i])
		return;
	while (i > 0 && a[i - 1] != '\n')
		i--;
	line = i;
	ck_abort_msg("%s differ at:\n  sqlite:     %.*s\n  postgresql: %.*s", what,
		     (int)strcspn(a + line, "\n"), a + line, (int)strcspn(b + line, "\n"),
		     b + line);
}

static unsigned count_rows(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	unsigned n;

	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	n = (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

START_TEST(test_migrate_applies_all)
{
	char url[256];
	PGconn *c = db_new("t_apply", url, sizeof(url));
	struct buf rows, want;
	struct diag d = {0};
	unsigned applied = 99, have = 99;

	ck_assert_int_eq(pg_schema_version(c, &have, &d), ERR_OK);
	ck_assert_uint_eq(have, 0);
	/* Not applied without being asked. */
	ck_assert_int_eq(pg_migrate(c, false, &applied, &d), ERR_STORAGE);
	ck_assert_ptr_nonnull(strstr(d.text, "suitd migrate"));
	ck_assert_int_eq(pg_migrate(c, true, &applied, &d), ERR_OK);
	ck_assert_uint_eq(applied, pg_migrations_count);
	ck_assert_int_eq(pg_schema_version(c, &have, &d), ERR_OK);
	ck_assert_uint_eq(have, pg_migrations_count);

	buf_init(&rows, 1 << 16);
	buf_init(&want, 1 << 16);
	pg_rows(c, "SELECT version, name FROM schema_version ORDER BY version", &rows);
	for (unsigned i = 0; i < pg_migrations_count; i++)
		buf_printf(&want, "%u|%s\n", pg_migrations[i].version, pg_migrations[i].name);
	ck_assert_str_eq(buf_str(&rows), buf_str(&want));
	/* The seed row of SQLite's 0012, and chunk data stored out of line
	 * without compression (STORAGE EXTERNAL). */
	buf_clear(&rows);
	pg_rows(c, "SELECT id, generation FROM cli_changes", &rows);
	ck_assert_str_eq(buf_str(&rows), "1|0\n");
	buf_clear(&rows);
	pg_rows(c,
		"SELECT attstorage FROM pg_attribute WHERE attrelid = 'chunks'::regclass "
		"AND attname = 'data'",
		&rows);
	ck_assert_str_eq(buf_str(&rows), "e\n");
	buf_release(&rows);
	buf_release(&want);
	PQfinish(c);
}
END_TEST

/* What a second run could change: the objects of the schema and the
 * version rows with their times. */
static void fingerprint(PGconn *c, struct buf *out)
{
	pg_rows(c,
		"SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON "
		"n.oid = c.relnamespace WHERE n.nspname = current_schema() ORDER BY 1",
		out);
	pg_rows(c, "SELECT version, name, applied_at FROM schema_version ORDER BY 1", out);
	pg_rows(c, "SELECT * FROM cli_changes", out);
}

/* pg_migrate, applying and only checking, answers want (with why in its
 * text) and leaves the schema as it was. */
static void assert_migrate_keeps(PGconn *c, enum err want, const char *why)
{
	struct buf before, after;

	buf_init(&before, 1 << 20);
	buf_init(&after, 1 << 20);
	fingerprint(c, &before);
	for (int apply = 1; apply >= 0; apply--) {
		struct diag d = {0};
		unsigned applied = 99;

		ck_assert_int_eq(pg_migrate(c, apply, &applied, &d), want);
		if (!want)
			ck_assert_uint_eq(applied, 0);
		if (why)
			ck_assert_msg(strstr(d.text, why), "'%s' lacks '%s'", d.text, why);
	}
	fingerprint(c, &after);
	ck_assert_str_eq(buf_str(&before), buf_str(&after));
	buf_release(&before);
	buf_release(&after);
}

START_TEST(test_migrate_twice_changes_nothing)
{
	char url[256];
	PGconn *c = db_new("t_twice", url, sizeof(url));
	struct diag d = {0};
	unsigned applied = 99;

	ck_assert_int_eq(pg_migrate(c, true, &applied, &d), ERR_OK);
	assert_migrate_keeps(c, ERR_OK, NULL);
	PQfinish(c);
}
END_TEST

struct migrator {
	const char *url;
	pthread_barrier_t *start;
	enum err e;
	unsigned applied;
	char why[160];
};

static void *migrator_run(void *arg)
{
	struct migrator *m = arg;
	struct pg_conn_options opt = {.url = m->url, .password_file = srv.password_file};
	struct diag d = {0};
	PGconn *c = NULL;

	m->e = pg_conn_open(&opt, &c, &d);
	pthread_barrier_wait(m->start);
	if (!m->e)
		m->e = pg_migrate(c, true, &m->applied, &d);
	snprintf(m->why, sizeof(m->why), "%s", d.text);
	PQfinish(c);
	return NULL;
}

START_TEST(test_migrate_concurrent_once)
{
	char url[256];
	PGconn *c = db_new("t_concurrent", url, sizeof(url));
	pthread_barrier_t start;
	struct migrator m[2] = {{.url = url, .start = &start}, {.url = url, .start = &start}};
	pthread_t th[2];

	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, migrator_run, &m[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	ck_assert_msg(m[0].e == ERR_OK, "first: %s", m[0].why);
	ck_assert_msg(m[1].e == ERR_OK, "second: %s", m[1].why);
	/* Every migration applied by exactly one of them. */
	ck_assert_uint_eq(m[0].applied + m[1].applied, pg_migrations_count);
	ck_assert_uint_eq(count_rows(c, "SELECT count(*) FROM schema_version"),
			  pg_migrations_count);
	ck_assert_uint_eq(count_rows(c, "SELECT count(*) FROM cli_changes"), 1);
	PQfinish(c);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
	char url[256], sql[160];
	PGconn *c = db_new("t_newer", url, sizeof(url));
	struct diag d = {0};
	unsigned applied = 99;

	ck_assert_int_eq(pg_migrate(c, true, &applied, &d), ERR_OK);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO schema_version (version, name) VALUES (%u, '9999_future')",
		 pg_migrations_count + 1);
	pg_ok(c, sql);
	assert_migrate_keeps(c, ERR_DB_TOO_NEW, "newer than this suitd");
	PQfinish(c);
}
END_TEST

static void file_write(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static enum err connect_with(const char *url, const char *password_file, struct diag *d)
{
	struct pg_conn_options opt = {.url = url, .password_file = password_file};
	PGconn *c = NULL;
	enum err e = pg_conn_open(&opt, &c, d);

	PQfinish(c);
	return e;
}

START_TEST(test_password_file)
{
	char dir[] = "/tmp/suitd-check-pgpw-XXXXXX", path[128], pw[PG_PASSWORD_MAX + 1],
	     text[PG_PASSWORD_MAX + 16], long_text[PG_PASSWORD_MAX + 8];
	struct diag d = {0};

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	ck_assert_int_eq(pg_password_file_read(srv.password_file, pw, sizeof(pw), &d), ERR_OK);

	/* The password with "\n", with "\r\n": both connect. */
	snprintf(text, sizeof(text), "%s\n", pw);
	file_write(path, text, 0600);
	ck_assert_msg(connect_with(srv.url, path, &d) == ERR_OK, "%s", d.text);
	snprintf(text, sizeof(text), "%s\r\n", pw);
	file_write(path, text, 0400);
	ck_assert_msg(connect_with(srv.url, path, &d) == ERR_OK, "%s", d.text);
	/* Readable by group or others: refused before connecting. */
	file_write(path, text, 0640);
	ck_assert_int_eq(connect_with(srv.url, path, &d), ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(d.text, "chmod 0600"));
	file_write(path, text, 0604);
	ck_assert_int_eq(connect_with(srv.url, path, &d), ERR_CONFIG);
	/* A wrong password: the server refuses; no password in the text. */
	file_write(path, "not-the-password\n", 0600);
	ck_assert_int_eq(connect_with(srv.url, path, &d), ERR_CONFIG);
	ck_assert_ptr_null(strstr(d.text, "not-the-password"));
	ck_assert_ptr_null(strstr(d.text, pw));
	/* Empty, two lines, too long, missing. */
	file_write(path, "\n", 0600);
	ck_assert_int_eq(pg_password_file_read(path, pw, sizeof(pw), &d), ERR_CONFIG);
	file_write(path, "a\nb\n", 0600);
	ck_assert_int_eq(pg_password_file_read(path, pw, sizeof(pw), &d), ERR_CONFIG);
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	file_write(path, long_text, 0600);
	ck_assert_int_eq(pg_password_file_read(path, pw, sizeof(pw), &d), ERR_TOO_LARGE);
	unlink(path);
	ck_assert_int_eq(pg_password_file_read(path, pw, sizeof(pw), &d), ERR_IO);

	/* No password_file: libpq's PGPASSFILE (host:port:db:user:password). */
	ck_assert_int_eq(pg_password_file_read(srv.password_file, pw, sizeof(pw), &d), ERR_OK);
	snprintf(text, sizeof(text), "127.0.0.1:%u:suitd:suitd:%s\n", srv.port, pw);
	file_write(path, text, 0600);
	setenv("PGPASSFILE", path, 1);
	ck_assert_msg(connect_with(srv.url, NULL, &d) == ERR_OK, "%s", d.text);
	unsetenv("PGPASSFILE");
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_sqlstate_table)
{
	static const struct {
		const char *state;
		enum err want;
		bool retry;
	} cases[] = {
		{"08006", ERR_STORAGE_UNAVAILABLE, false}, /* connection_failure */
		{"08001", ERR_STORAGE_UNAVAILABLE, false}, /* cannot connect */
		{"57P01", ERR_STORAGE_UNAVAILABLE, false}, /* admin_shutdown */
		{"57P03", ERR_STORAGE_UNAVAILABLE, false}, /* cannot_connect_now */
		{"53300", ERR_STORAGE_UNAVAILABLE, false}, /* too_many_connections */
		{"53200", ERR_NOMEM, false},		   /* out_of_memory */
		{"53100", ERR_NO_SPACE, false},		   /* disk_full */
		/* insufficient_resources is ENFILE/EMFILE in file access, and a
		 * file-size limit or quota (EFBIG, EDQUOT) is internal_error:
		 * neither is a full disk (docs/design.md). */
		{"53000", ERR_STORAGE, false},
		{"XX000", ERR_STORAGE, false},
		{"57014", ERR_STORAGE_TIMEOUT, false}, /* query_canceled */
		{"23505", ERR_EXISTS, false},	       /* unique_violation */
		{"23503", ERR_CONFLICT, false},	       /* foreign_key_violation */
		{"40001", ERR_BUSY, true},	       /* serialization_failure */
		{"40P01", ERR_BUSY, true},	       /* deadlock_detected */
		{"28P01", ERR_CONFIG, false},	       /* invalid_password */
		{"42601", ERR_STORAGE, false},	       /* syntax_error */
		{"", ERR_STORAGE, false},
		{NULL, ERR_STORAGE, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(pg_error_from_sqlstate(cases[i].state) == cases[i].want, "%s",
			      cases[i].state ? cases[i].state : "NULL");
		ck_assert(pg_error_retryable(cases[i].state) == cases[i].retry);
	}
	ck_assert_str_eq(err_slug(ERR_STORAGE_UNAVAILABLE), "storage-unavailable");
}
END_TEST

START_TEST(test_sqlstate_live)
{
	char url[256], kill_sql[96], refused[64];
	PGconn *c = db_new("t_sqlstate", url, sizeof(url)), *slow, *victim;
	struct diag d = {0};
	unsigned applied;

	ck_assert_int_eq(pg_migrate(c, true, &applied, &d), ERR_OK);
	/* A unique violation. */
	pg_ok(c, "INSERT INTO devices (id, created_at) VALUES ('d1', 1)");
	ck_assert_int_eq(pg_try(c, "INSERT INTO devices (id, created_at) VALUES ('d1', 2)", &d),
			 ERR_EXISTS);
	ck_assert_ptr_nonnull(strstr(d.text, "23505"));
	/* statement_timeout, set per connection by pg_conn_open. */
	slow = db_open(url, 50);
	ck_assert_int_eq(pg_try(slow, "SELECT pg_sleep(30)", &d), ERR_STORAGE_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(d.text, "57014"));
	ck_assert_int_eq(pg_try(slow, "SELECT 1", &d), ERR_OK);
	PQfinish(slow);
	/* A backend terminated under a connection: storage unavailable. */
	victim = db_open(url, 0);
	snprintf(kill_sql, sizeof(kill_sql), "SELECT pg_terminate_backend(%d)",
		 PQbackendPID(victim));
	pg_ok(c, kill_sql);
	ck_assert_int_eq(pg_try(victim, "SELECT 1", &d), ERR_STORAGE_UNAVAILABLE);
	PQfinish(victim);
	/* Nothing listens: unavailable, not a configuration error. */
	snprintf(refused, sizeof(refused), "postgresql://suitd@127.0.0.1:1/suitd");
	ck_assert_int_eq(connect_with(refused, srv.password_file, &d), ERR_STORAGE_UNAVAILABLE);
	PQfinish(c);
}
END_TEST

/* ---- schema parity --------------------------------------------------- */

/* Intended differences, each with its reason:
 * - sqlite_sequence: SQLite's own table behind AUTOINCREMENT; PostgreSQL's
 *   identity columns keep their counters in sequences.
 * - schema_version: PostgreSQL's version table; SQLite keeps the version in
 *   PRAGMA user_version.
 * - Indexes SQLite makes itself for PRIMARY KEY/UNIQUE (sqlite_autoindex_*)
 *   and PostgreSQL's constraint indexes (*_pkey, *_key): named by each
 *   engine, compared through the columns' constraints instead.
 * - The trigger assignment_events: a TEMP trigger of each suitd connection
 *   in SQLite (storage/sqlite/hooks.c), part of the schema in PostgreSQL, so it
 *   is added to SQLite's list here and created below for the effects.
 * - The trigger events_notify (migrations/postgresql/0004): tells the other
 *   suitd nodes on the same database that events committed; SQLite has one
 *   node, so it is added to SQLite's list here.
 * - The indexes of migrations/postgresql/0003 end in the table's key
 *   (num, id), which SQLite's carry as the rowid without naming it: their
 *   last column is not compared. */
static const char sqlite_columns[] =
	"SELECT m.name, p.name, CASE upper(p.type) WHEN 'INTEGER' THEN 'bigint' "
	"WHEN 'BLOB' THEN 'bytea' WHEN 'TEXT' THEN 'text' ELSE p.type END, "
	"CASE WHEN p.\"notnull\" OR p.pk THEN 'NO' ELSE 'YES' END, coalesce(p.dflt_value, '') "
	"FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' "
	"AND m.name <> 'sqlite_sequence' ORDER BY 1, 2";
static const char pg_columns[] =
	"SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, "
	"CASE WHEN c.is_identity = 'YES' THEN '' ELSE "
	"regexp_replace(coalesce(c.column_default, ''), '::text$', '') END "
	"FROM information_schema.columns c JOIN information_schema.tables t "
	"ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
	"WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
	"AND c.table_name <> 'schema_version' ORDER BY 1, 2";
static const char sqlite_indexes[] =
	"SELECT m.name, m.tbl_name, (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM "
	"pragma_index_info(m.name) ii ORDER BY ii.seqno)), m.sql LIKE 'CREATE UNIQUE%', "
	"replace(replace(m.sql, char(10), ' '), char(9), ' ') LIKE '% WHERE %' FROM sqlite_master "
	"m WHERE m.type = 'index' "
	"AND m.sql IS NOT NULL ORDER BY 1";
static const char pg_indexes[] =
	"SELECT c.relname, t.relname, (SELECT string_agg(a.attname, ',' ORDER BY k.ord) "
	"FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a "
	"ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE NOT (k.ord = i.indnatts AND "
	"c.relname IN ('devices_seen', 'devices_sequence', 'assignments_state_updated', "
	"'assignments_by_deployment'))), i.indisunique::int, "
	"(i.indpred IS NOT NULL)::int FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
	"JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE n.nspname = current_schema() AND NOT EXISTS "
	"(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY 1";
/* Constraints SQLite builds its automatic indexes for: the column lists of
 * every PRIMARY KEY and UNIQUE (the single-column INTEGER PRIMARY KEY is
 * the rowid, no index, but a key all the same). */
static const char sqlite_keys[] =
	"SELECT m.name, (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM "
	"pragma_index_info(l.name) ii ORDER BY ii.seqno)), l.origin FROM sqlite_master m, "
	"pragma_index_list(m.name) l WHERE m.type = 'table' AND l.origin IN ('pk', 'u') "
	"UNION ALL SELECT m.name, p.name, 'pk' FROM sqlite_master m, pragma_table_info(m.name) p "
	"WHERE m.type = 'table' AND p.pk = 1 AND upper(p.type) = 'INTEGER' AND NOT EXISTS "
	"(SELECT 1 FROM pragma_index_list(m.name) l WHERE l.origin = 'pk') ORDER BY 1, 2";
static const char pg_keys[] =
	"SELECT t.relname, (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM "
	"unnest(c.conkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a "
	"ON a.attrelid = c.conrelid AND a.attnum = k.attnum), "
	"CASE c.contype WHEN 'p' THEN 'pk' ELSE 'u' END FROM pg_constraint c "
	"JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
	"WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u') "
	"AND t.relname <> 'schema_version' ORDER BY 1, 2";
static const char sqlite_triggers[] =
	"SELECT name, tbl_name FROM (SELECT name, tbl_name FROM sqlite_master WHERE "
	"type = 'trigger' UNION ALL SELECT 'assignment_events', 'assignments' "
	"UNION ALL SELECT 'events_notify', 'events') ORDER BY 1";
static const char pg_triggers[] =
	"SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
	"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
	"AND NOT t.tgisinternal ORDER BY 1";

/* The same writes on both: portable SQL, with X'..' blobs that become
 * '\x..'::bytea for PostgreSQL, and "ACTOR x" lines that set the actor the
 * assignment trigger records ("" = none: "system"). One transaction. */
static const char *const scenario[] = {
	"INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES (1, 'ops', 'admin', "
	"X'0000000000000000000000000000000000000000000000000000000000000001', 100)",
	"INSERT INTO ui_sessions (id, session_hash, key_id, role, csrf_token, created_at, "
	"last_used_at) VALUES (1, "
	"X'1111111111111111111111111111111111111111111111111111111111111111"
	"', 1, 'admin', 'c', 100, 100)",
	"INSERT INTO manifests (id, digest, digest_alg, envelope, sequence_number, facts, "
	"created_at) VALUES (1, X'aa', -16, X'a0', 7, "
	"'{\"coswid\":{\"software_name\":\"fw\",\"software_version\":\"1.2\"}}', 100)",
	"INSERT INTO manifests (id, digest, digest_alg, envelope, sequence_number, facts, "
	"created_at) VALUES (2, X'bb', -16, X'a0', 8, 'not json', 100)",
	"INSERT INTO manifests (id, digest, digest_alg, envelope, sequence_number, facts, "
	"created_at) VALUES (3, X'cc', -16, X'a0', 9, '{\"coswid\":{}}', 100)",
	"INSERT INTO devices (num, id, created_at) VALUES (1, 'd1', 100), (2, 'd2', 100), "
	"(3, 'd\"3', 100)",
	"INSERT INTO deployments (id, manifest_id, target_kind, created_by, created_at) "
	"VALUES (1, 1, 'devices', 'ops', 100)",
	"INSERT INTO deployment_stages (deployment_id, stage, percent, opened_at) "
	"VALUES (1, 0, 50, 100), (1, 1, 100, NULL)",
	"INSERT INTO assignments (id, deployment_id, device_num, state, created_at, updated_at, "
	"stage) VALUES (1, 1, 1, 'pending', 100, 100, 0), (2, 1, 2, 'pending', 100, 100, 0), "
	"(3, 1, 3, 'pending', 100, 100, 1)",
	"ACTOR device",
	"UPDATE assignments SET state = 'delivered', updated_at = 101 WHERE id = 1",
	"UPDATE assignments SET state = 'delivered', updated_at = 101 WHERE id = 2",
	"UPDATE assignments SET state = 'downloading', updated_at = 102 WHERE id = 1",
	"UPDATE assignments SET state = 'installed', updated_at = 103 WHERE id = 1",
	/* The same state again: no event, no count moves. */
	"UPDATE assignments SET state = 'installed', updated_at = 103 WHERE id = 1",
	"UPDATE assignments SET state = 'confirmed', updated_at = 104 WHERE id = 1",
	"ACTOR ops",
	"UPDATE assignments SET state = 'canceled', reason = 'operator said \"stop\"', "
	"updated_at = 105 WHERE id = 2",
	"ACTOR ",
	"UPDATE assignments SET state = 'skipped', updated_at = 106 WHERE id = 3",
	"DELETE FROM assignments WHERE id = 3",
	"INSERT INTO reports (id, device_num, assignment_id, manifest_digest, state, media_type, "
	"body, received_at) VALUES (1, 1, 1, X'aa', 'installed', 'application/json', "
	"X'0102030405', 101), (2, 1, 1, X'aa', 'confirmed', 'application/json', X'0102', 102), "
	"(3, 2, 2, X'aa', 'delivered', 'application/json', X'01', 103)",
	"DELETE FROM reports WHERE id = 1",
	"UPDATE api_keys SET revoked_at = 200 WHERE id = 1",
	"DELETE FROM devices WHERE num = 3",
};

/* What the triggers keep, read the same way on both. */
static const char *const effects[] = {
	"SELECT deployment_id, stage, state, n FROM assignment_counts ORDER BY 1, 2, 3",
	"SELECT device_num, reports, bytes FROM report_usage ORDER BY 1",
	"SELECT device_num, assignment_id FROM ddi_cancels ORDER BY 1",
	"SELECT num, running_manifest_id, running_since, software_name, software_version "
	"FROM devices ORDER BY 1",
	"SELECT id, software_name, software_version FROM manifests ORDER BY 1",
	"SELECT count(*) FROM ui_sessions", /* the revoked key took its session */
	"SELECT type, actor, subject, deployment_id, device_id, admin, data FROM events "
	"ORDER BY id",
	"SELECT id, generation FROM cli_changes",
};

/* X'hex' -> '\xhex'::bytea. */
static void to_pg(const char *sql, struct buf *out)
{
	buf_clear(out);
	for (const char *p = sql; *p; p++) {
		if (p[0] == 'X' && p[1] == '\'') {
			size_t n = strcspn(p + 2, "'");
			buf_printf(out, "'\\x%.*s'::bytea", (int)n, p + 2);
			p += 2 + n;
		} else {
			buf_append(out, p, 1);
		}
	}
}

static char sqlite_actor[32];

static void sql_event_actor(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	if (sqlite_actor[0])
		sqlite3_result_text(ctx, sqlite_actor, -1, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

static void sql_event_ms(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_int64(ctx, 0);
}

/* A SQLite database built by the real migrations (storage_open), opened
 * again as suitd's connections are: foreign keys on, the TEMP trigger. */
static sqlite3 *sqlite_schema(const char *dir)
{
	char path[128];
	struct storage_options opt = {.path = path, .migrate = true};
	struct storage *s = NULL;
	struct diag d = {0};
	sqlite3 *h = NULL;

	snprintf(path, sizeof(path), "%s/parity.db", dir);
	ck_assert_msg(storage_open(&opt, &s, &d) == ERR_OK, "%s", d.text);
	storage_free(s);
	ck_assert_int_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_create_function(h, "suitd_event_actor", 0, SQLITE_UTF8, NULL,
						 sql_event_actor, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_create_function(h, "suitd_event_ms", 0, SQLITE_UTF8, NULL,
						 sql_event_ms, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, SQL_ASSIGNMENT_EVENTS_TRIGGER, NULL, NULL, NULL),
			 SQLITE_OK);
	return h;
}

static void compare(sqlite3 *h, PGconn *c, const char *what, const char *sqlite_sql,
		    const char *pg_sql)
{
	struct buf a, b;

	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	sqlite_rows(h, sqlite_sql, &a);
	pg_rows(c, pg_sql, &b);
	ck_assert_msg(a.len > 0, "%s: nothing read from SQLite", what);
	assert_same(what, &a, &b);
	buf_release(&a);
	buf_release(&b);
}

START_TEST(test_schema_parity)
{
	char dir[] = "/tmp/suitd-check-parity-XXXXXX", url[256], cmd[96];
	PGconn *c = db_new("t_parity", url, sizeof(url));
	struct diag d = {0};
	struct buf pg_sql;
	unsigned applied;
	sqlite3 *h;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	h = sqlite_schema(dir);
	ck_assert_int_eq(pg_migrate(c, true, &applied, &d), ERR_OK);

	compare(h, c, "columns (table, column, type, nullable, default)", sqlite_columns,
		pg_columns);
	compare(h, c, "indexes (name, table, columns, unique, partial)", sqlite_indexes,
		pg_indexes);
	compare(h, c, "keys (table, columns, primary/unique)", sqlite_keys, pg_keys);
	compare(h, c, "triggers (name, table)", sqlite_triggers, pg_triggers);

	/* The triggers' effects: the same writes, the same counters. */
	buf_init(&pg_sql, 1 << 16);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	pg_ok(c, "BEGIN");
	for (size_t i = 0; i < sizeof(scenario) / sizeof(scenario[0]); i++) {
		if (strncmp(scenario[i], "ACTOR ", 6) == 0) {
			const char *values[1] = {scenario[i] + 6};
			PGresult *r;

			snprintf(sqlite_actor, sizeof(sqlite_actor), "%s", scenario[i] + 6);
			r = PQexecParams(c, "SELECT set_config('suitd.actor', $1, true)", 1, NULL,
					 values, NULL, NULL, 0);
			ck_assert_int_eq(pg_error_result(c, r, &d), ERR_OK);
			PQclear(r);
			continue;
		}
		ck_assert_msg(sqlite3_exec(h, scenario[i], NULL, NULL, NULL) == SQLITE_OK,
			      "sqlite: %s: %s", scenario[i], sqlite3_errmsg(h));
		to_pg(scenario[i], &pg_sql);
		pg_ok(c, buf_str(&pg_sql));
	}
	ck_assert_int_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	pg_ok(c, "COMMIT");
	for (size_t i = 0; i < sizeof(effects) / sizeof(effects[0]); i++)
		compare(h, c, effects[i], effects[i], effects[i]);
	buf_release(&pg_sql);

	sqlite3_close(h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	PQfinish(c);
}
END_TEST

/* The harness itself: a test process killed by SIGKILL (no pg_tmp_stop)
 * leaves no server and no directory behind (the watchdog of pg_tmp.sh). */
START_TEST(test_harness_killed_owner)
{
	struct pg_tmp t;
	int fds[2];
	pid_t pid;
	char url[300];
	struct stat st;
	int status, waited = 0;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (pg_tmp_start(&t)) {
			ssize_t n = write(fds[1], &t, sizeof(t));
			(void)n;
		}
		kill(getpid(), SIGKILL);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &t, sizeof(t)), (ssize_t)sizeof(t));
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	snprintf(url, sizeof(url), "%s&connect_timeout=2", t.url_admin);
	/* The watchdog polls once a second; allow it a generous minute. */
	while (stat(t.dir, &st) == 0 && waited++ < 600)
		usleep(100 * 1000);
	ck_assert_msg(stat(t.dir, &st) != 0, "'%s' is still there", t.dir);
	ck_assert_int_eq(PQping(url), PQPING_NO_RESPONSE);
}
END_TEST

static Suite *pg_schema_suite(void)
{
	Suite *s = suite_create("pg_schema");
	TCase *tc = tcase_create("postgresql");

	tcase_add_unchecked_fixture(tc, server_start, server_stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_migrate_applies_all);
	tcase_add_test(tc, test_migrate_twice_changes_nothing);
	tcase_add_test(tc, test_migrate_concurrent_once);
	tcase_add_test(tc, test_newer_schema_refused);
	tcase_add_test(tc, test_password_file);
	tcase_add_test(tc, test_sqlstate_table);
	tcase_add_test(tc, test_sqlstate_live);
	tcase_add_test(tc, test_schema_parity);
	tcase_add_test(tc, test_harness_killed_owner);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(pg_schema_suite());
}
