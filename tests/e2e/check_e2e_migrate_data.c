/* `suitd migrate-data` (issue 21): a database built by the real daemon on
 * SQLite (devices, a payload of several chunks, manifests, a deployment
 * with assignments in several states, reports, events, a webhook, API
 * keys) copied into a throwaway PostgreSQL, served from there as it was
 * (the payload's bytes, the counters, the tokens; new rows get new ids),
 * copied back into a new SQLite file equal to the original row for row;
 * and what the command refuses. */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"
#include "tests/check_run.h"
#include "tests/pg/pg_tmp.h"

static struct pg_tmp PG;

static void md_setup(void)
{
	fleet_setup_with(300000, true, NULL); /* 5 chunks of 64 KiB */
	ck_assert_msg(pg_tmp_start(&PG), "cannot start a throwaway PostgreSQL");
}

static void md_teardown(void)
{
	fleet_teardown();
	pg_tmp_stop(&PG);
}

/* suitd migrate-data --from FROM --to TO --password-file (PG's); its exit
 * code, stdout into out. */
static int migrate_data(const char *from, const char *to, char *out, size_t size)
{
	return harness_cli(&P, out, size, "migrate-data", "--from", from, "--to", to,
			   "--password-file", PG.password_file, (char *)NULL);
}

/* The digest column of TABLE's line in the verification table ("" if none),
 * its check column "ok". */
static void digest_of(const char *out, const char *table, char hex[65])
{
	char name[64], check[16];
	long long src, dst;
	const char *line = out;

	hex[0] = '\0';
	while (line && *line) {
		if (sscanf(line, "%63s %lld %lld %64s %15s", name, &src, &dst, hex, check) == 5 &&
		    strcmp(name, table) == 0) {
			ck_assert_int_eq(src, dst);
			ck_assert_str_eq(check, "ok");
			return;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	hex[0] = '\0';
}

static const char *const TABLES[] = {
	"api_keys",
	"uploads",
	"chunks",
	"payloads",
	"manifests",
	"manifest_components",
	"manifest_payloads",
	"devices",
	"device_tags",
	"deployments",
	"deployment_targets",
	"assignments",
	"reports",
	"events",
	"webhooks",
	"assignment_counts",
	"report_usage",
	"cli_changes",
};

/* Every table of the two SQLite files holds the same rows (values and
 * their types: EXCEPT tells 1 from '1'), sqlite_sequence included. */
static void sqlite_files_equal(const char *a, const char *b)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *tables = NULL;
	char *sql;
	unsigned n = 0;

	ck_assert_int_eq(sqlite3_open_v2(a, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sql = sqlite3_mprintf("ATTACH %Q AS b", b);
	ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(sql);
	ck_assert_int_eq(sqlite3_prepare_v2(h,
					    "SELECT name FROM main.sqlite_schema WHERE type = "
					    "'table' ORDER BY name",
					    -1, &tables, NULL),
			 SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(tables, 0);
		sqlite3_stmt *st = NULL;
		sql = sqlite3_mprintf("SELECT (SELECT count(*) FROM main.\"%w\"), (SELECT count(*) "
				      "FROM b.\"%w\"), (SELECT count(*) FROM (SELECT * FROM "
				      "main.\"%w\" EXCEPT SELECT * FROM b.\"%w\")), (SELECT "
				      "count(*) FROM (SELECT * FROM b.\"%w\" EXCEPT SELECT * "
				      "FROM main.\"%w\"))",
				      t, t, t, t, t, t);
		ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
		sqlite3_free(sql);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_msg(sqlite3_column_int64(st, 0) == sqlite3_column_int64(st, 1) &&
				      sqlite3_column_int64(st, 2) == 0 &&
				      sqlite3_column_int64(st, 3) == 0,
			      "table %s differs", t);
		sqlite3_finalize(st);
		n++;
	}
	sqlite3_finalize(tables);
	sqlite3_close(h);
	ck_assert_uint_gt(n, 20);
}

static long long rows_in(const char *db, const char *table)
{
	char sql[128], out[32];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return atoll(harness_sqlite_file_text(db, sql, out, sizeof(out)));
}

static size_t items(const char *path)
{
	struct http_result r;
	json_t *j;
	size_t n;

	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	n = json_array_size(json_object_get(j, "items"));
	json_decref(j);
	http_result_release(&r);
	return n;
}

static unsigned char *saved_conf;
static size_t saved_len;

/* P's configuration on the PostgreSQL database url instead of its file. */
static void config_to_pg(const char *url)
{
	size_t len;
	char *conf = (char *)read_all(P.conf, &len), *at, pg[512];
	conf[len] = '\0'; /* read_all leaves room for it */
	const char *sqlite_part = "[storage]\ndatabase = suitd.db\nsynchronous = normal\n";
	FILE *f;

	at = strstr(conf, sqlite_part);
	ck_assert_ptr_nonnull(at);
	snprintf(pg, sizeof(pg), "[storage]\nbackend = postgresql\nurl = %s\npassword_file = %s\n",
		 url, PG.password_file);
	f = fopen(P.conf, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(conf, 1, (size_t)(at - conf), f);
	fputs(pg, f);
	fputs(at + strlen(sqlite_part), f);
	fclose(f);
	saved_conf = (unsigned char *)conf;
	saved_len = len;
}

static void config_restore(void)
{
	write_file(P.conf, saved_conf, saved_len);
	free(saved_conf);
	saved_conf = NULL;
}

static void assert_payload_served(const char *token)
{
	struct http_result r;
	char path[160], sha[65];

	snprintf(path, sizeof(path), "/device/v1/payloads/%s", F.fw_sha);
	harness_request(&P, "GET", path, token, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	ck_assert_uint_eq(r.body_len, F.fw_len);
	sha256_hex(r.body, r.body_len, sha);
	ck_assert_str_eq(sha, F.fw_sha);
	http_result_release(&r);
}

START_TEST(test_round_trip)
{
	char tok_a[128], tok_b[128], tok_c[128], tok_new[128], url[256], from[300], to[300];
	char out1[8192], out2[8192], back[256], orig[256], h1[65], h2[65], key2[128];
	struct http_result r;
	long dep;

	add_device("dev-a", "lab", tok_a, sizeof(tok_a));
	add_device("dev-b", NULL, tok_b, sizeof(tok_b));
	add_device("dev-c", NULL, tok_c, sizeof(tok_c));
	api("PATCH", "/api/v1/devices/dev-c", "{\"tags\": [\"blue\", \"north\"]}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	dep = deploy_devices(&F.m1, "[\"dev-a\",\"dev-b\",\"dev-c\"]");
	expect_envelope(tok_a, "seq=0", &F.m1);
	report_ok(tok_a, rep(&F.m1, "downloading", "\"progress\":40"));
	expect_envelope(tok_b, "seq=0", &F.m1);
	assert_counts(dep, "pending=1,delivered=1,downloading=1");
	api("POST", "/api/v1/webhooks",
	    "{\"url\": \"https://93.184.215.14/h\", \"enabled\": false}", &r);
	assert_status(&r, 201);
	http_result_release(&r);
	ck_assert_int_eq(harness_cli(&P, key2, sizeof(key2), "key", "create", "--name", "reader",
				     "--role", "reader", (char *)NULL),
			 0);
	ck_assert_int_eq(harness_stop(&P), 0);

	/* SQLite to PostgreSQL: every table verified, the chunks too. */
	snprintf(orig, sizeof(orig), "%s/suitd.db", P.dir);
	snprintf(from, sizeof(from), "sqlite:%s", orig);
	ck_assert(pg_tmp_createdb(&PG, "copy", url, sizeof(url)));
	ck_assert_int_eq(migrate_data(from, url, out1, sizeof(out1)), 0);
	ck_assert(harness_log_contains(&P, "verified and committed"));
	ck_assert(harness_log_contains(&P, "rows/s"));
	for (size_t i = 0; i < sizeof(TABLES) / sizeof(TABLES[0]); i++) {
		digest_of(out1, TABLES[i], h1);
		ck_assert_msg(h1[0], "no line for %s", TABLES[i]);
	}
	ck_assert_int_eq(rows_in(orig, "chunks"), 5);

	/* And back into a new SQLite file: the same digests, the same rows. */
	snprintf(back, sizeof(back), "%s/back.db", P.dir);
	snprintf(to, sizeof(to), "sqlite:%s", back);
	ck_assert_int_eq(migrate_data(url, to, out2, sizeof(out2)), 0);
	for (size_t i = 0; i < sizeof(TABLES) / sizeof(TABLES[0]); i++) {
		digest_of(out1, TABLES[i], h1);
		digest_of(out2, TABLES[i], h2);
		ck_assert_str_eq(h1, h2);
	}
	sqlite_files_equal(orig, back);
	struct stat st;
	ck_assert_int_eq(stat(back, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600); /* payloads, token digests */

	/* suitd on the PostgreSQL copy serves what the file held. */
	config_to_pg(url);
	harness_start(&P);
	ck_assert(harness_log_contains(&P, "3 active assignments in memory"));
	assert_counts(dep, "pending=1,delivered=1,downloading=1");
	assert_assignment(dep, "dev-a", "downloading", "");
	assert_assignment(dep, "dev-c", "pending", "");
	assert_payload_served(tok_a);
	ck_assert_uint_eq(items("/api/v1/devices/dev-a/reports"), 1);
	ck_assert_uint_eq(items("/api/v1/webhooks"), 1);
	ck_assert_uint_eq(items("/api/v1/keys"), 2);
	/* New rows take ids after the copied ones (the sequences were set). */
	add_device("dev-new", NULL, tok_new, sizeof(tok_new));
	report_ok(tok_a, rep(&F.m1, "installed", ""));
	expect_envelope(tok_c, "seq=0", &F.m1);
	assert_counts(dep, "delivered=2,installed=1");
	ck_assert_uint_eq(items("/api/v1/devices/dev-a/reports"), 2);
	ck_assert_int_eq(harness_stop(&P), 0);
	/* fleet_teardown checks the file it was given: put it back. */
	config_restore();
	harness_start(&P);
}
END_TEST

/* A copy of the file db named NAME in P's folder; its path into out. */
static void copy_of(const char *db, const char *name, char *out, size_t size)
{
	size_t len;
	unsigned char *data = read_all(db, &len);

	snprintf(out, size, "%s/%s", P.dir, name);
	write_file(out, data, len);
	free(data);
}

START_TEST(test_refusals)
{
	char url[256], from[300], to[300], out[8192], db[256], old[256], bad[256];
	char tok[128];

	add_device("dev-a", NULL, tok, sizeof(tok));
	ck_assert_int_eq(harness_stop(&P), 0);
	snprintf(db, sizeof(db), "%s/suitd.db", P.dir);
	snprintf(from, sizeof(from), "sqlite:%s", db);

	/* Usage and addresses. */
	ck_assert_int_eq(
		harness_cli(&P, out, sizeof(out), "migrate-data", "--from", from, (char *)NULL), 2);
	ck_assert_int_eq(migrate_data(from, "mysql://x/y", out, sizeof(out)), 2);
	ck_assert(harness_log_contains(&P, "is neither sqlite:PATH nor a postgresql:// URL"));
	ck_assert_int_eq(
		migrate_data("sqlite:/nonexistent/suitd.db", "sqlite:/tmp/x.db", out, sizeof(out)),
		1);
	ck_assert(harness_log_contains(&P, "cannot open '/nonexistent/suitd.db'"));
	ck_assert_int_eq(
		migrate_data(from, "postgresql://suitd@127.0.0.1:1/suitd", out, sizeof(out)), 1);
	ck_assert(harness_log_contains(&P, "cannot connect"));
	ck_assert_int_eq(
		migrate_data(from, "postgresql://suitd:secret@127.0.0.1:1/suitd", out, sizeof(out)),
		1);
	ck_assert(harness_log_contains(&P, "a password in the URL is visible"));
	ck_assert(!harness_log_contains(&P, "secret@"));

	/* A source at another schema version. */
	copy_of(db, "old.db", old, sizeof(old));
	harness_sqlite_file_rows(old, "PRAGMA user_version = 5", NULL, NULL);
	snprintf(to, sizeof(to), "sqlite:%s", old);
	ck_assert(pg_tmp_createdb(&PG, "one", url, sizeof(url)));
	ck_assert_int_eq(migrate_data(to, url, out, sizeof(out)), 1);
	ck_assert(harness_log_contains(&P, "run `suitd migrate` on it first"));

	/* Values that do not fit: text not UTF-8, text in an integer column.
	 * The error names the row; the target keeps nothing. */
	copy_of(db, "bad.db", bad, sizeof(bad));
	harness_sqlite_file_rows(bad, "UPDATE devices SET grp = CAST(x'ff41' AS TEXT)", NULL, NULL);
	snprintf(to, sizeof(to), "sqlite:%s", bad);
	ck_assert_int_eq(migrate_data(to, url, out, sizeof(out)), 1);
	ck_assert(harness_log_contains(
		&P, "devices num=1, column grp: a text value is not valid UTF-8"));
	ck_assert(harness_log_contains(&P, "nothing was committed"));
	harness_sqlite_file_rows(bad, "UPDATE devices SET grp = NULL, last_seen_at = 'soon'", NULL,
				 NULL);
	ck_assert_int_eq(migrate_data(to, url, out, sizeof(out)), 1);
	ck_assert(harness_log_contains(
		&P, "devices num=1, column last_seen_at: a text value does not fit an integer"));

	/* A row the target changes on insert: PostgreSQL's BEFORE INSERT
	 * trigger sets a manifest's software name from its facts, which this
	 * edited row contradicts. The digests tell, nothing is committed. */
	harness_sqlite_file_rows(bad, "UPDATE devices SET last_seen_at = NULL", NULL, NULL);
	ck_assert_int_eq(rows_in(bad, "manifests"), 1);
	harness_sqlite_file_rows(bad,
				 "UPDATE manifests SET facts = '{\"coswid\": {\"software_name\": "
				 "\"fw\"}}', software_name = 'other'",
				 NULL, NULL);
	ck_assert_int_eq(migrate_data(to, url, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "DIFFERS"), "%s", out);
	ck_assert(harness_log_contains(&P, "1 tables differ between source and target; nothing "
					   "was committed"));

	/* The target kept nothing: the good source copies into it. */
	ck_assert_int_eq(migrate_data(from, url, out, sizeof(out)), 0);
	/* Now it is not empty; nor is a SQLite file with rows. */
	ck_assert_int_eq(migrate_data(from, url, out, sizeof(out)), 1);
	ck_assert(harness_log_contains(&P, "the target is not empty: table api_keys has 1 rows"));
	snprintf(to, sizeof(to), "sqlite:%s/copy.db", P.dir);
	ck_assert_int_eq(migrate_data(url, to, out, sizeof(out)), 0);
	ck_assert_int_eq(migrate_data(url, to, out, sizeof(out)), 1);
	ck_assert(harness_log_contains(&P, "copy.db: the target is not empty"));
	harness_start(&P);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-migrate-data");
	TCase *tc = tcase_create("migrate-data");

	tcase_set_timeout(tc, 180);
	tcase_add_checked_fixture(tc, md_setup, md_teardown);
	harness_sqlite_only(tc, test_round_trip,
			    "starts from a SQLite file the daemon made; makes its own PostgreSQL");
	harness_sqlite_only(tc, test_refusals,
			    "starts from a SQLite file the daemon made; makes its own PostgreSQL");
	suite_add_tcase(s, tc);
	return check_run(s);
}
