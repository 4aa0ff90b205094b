/* Disaster recovery (issue 24, docs/operations.md): a backup taken while
 * suitd serves, restored with `suitd restore` into a fresh state folder that
 * holds only the files the operations guide says to keep, serves what the
 * backup held: API keys, device tokens, assignments, check-in answers and
 * payload bytes. And `suitd restore` refuses what would lose data. */
#include <check.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"

#include "tests/check_run.h"

/* The daemon the backup was taken from, kept until the end of the test. */
static struct suitd_proc OLD;

static void restore_teardown(void)
{
	fleet_teardown();
	harness_cleanup(&OLD);
	memset(&OLD, 0, sizeof(OLD));
}

/* Files of DIR matching NAME (a glob pattern); the first into first. */
static size_t files_like(const char *dir, const char *name, char *first, size_t size)
{
	char pattern[256];
	glob_t g;
	size_t n;

	snprintf(pattern, sizeof(pattern), "%s/%s", dir, name);
	if (glob(pattern, 0, NULL, &g) != 0)
		return 0;
	n = g.gl_pathc;
	if (first && n)
		snprintf(first, size, "%s", g.gl_pathv[0]);
	globfree(&g);
	return n;
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name)
{
	char from[256], to[256];
	unsigned char *data;
	size_t len;

	snprintf(from, sizeof(from), "%s/%s", from_dir, name);
	snprintf(to, sizeof(to), "%s/%s", to_dir, name);
	data = read_all(from, &len);
	write_file(to, data, len);
	free(data);
}

static unsigned file_mode(const char *path)
{
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "no %s", path);
	return (unsigned)(st.st_mode & 07777);
}

/* A new machine: a state folder with what docs/operations.md lists besides
 * the database — the configuration (its paths moved to the new folder), the
 * TLS certificate and key, the trust anchor — and no database. */
static void fresh_state(struct suitd_proc *to, const struct suitd_proc *from)
{
	unsigned char *conf;
	size_t len, dir_len = strlen(from->dir);
	FILE *f;

	memset(to, 0, sizeof(*to));
	snprintf(to->dir, sizeof(to->dir), "/tmp/suitd-e2e-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(to->dir));
	snprintf(to->conf, sizeof(to->conf), "%s/suitd.conf", to->dir);
	snprintf(to->log, sizeof(to->log), "%s/suitd.log", to->dir);
	snprintf(to->ca, sizeof(to->ca), "%s/ca.pem", to->dir);
	copy_file(from->dir, to->dir, "server.pem");
	copy_file(from->dir, to->dir, "server.key");
	copy_file(from->dir, to->dir, "author.pub");
	copy_file(from->dir, to->dir, "ca.pem"); /* the test client's trust, not suitd's */
	conf = read_all(from->conf, &len);
	f = fopen(to->conf, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < len;) {
		if (i + dir_len <= len && memcmp(conf + i, from->dir, dir_len) == 0) {
			fputs(to->dir, f);
			i += dir_len;
		} else {
			fputc(conf[i++], f);
		}
	}
	fclose(f);
	free(conf);
	/* API keys live in the database: the old admin key must work. */
	snprintf(to->admin_key, sizeof(to->admin_key), "%s", from->admin_key);
}

/* What a check-in answered, minus Cache-Control (its jitter differs). */
struct answer {
	long status;
	char etag[80], type[80];
	unsigned char *body;
	size_t len;
};

static void answer_take(const char *token, struct answer *a)
{
	struct http_result r;

	checkin(token, "seq=0", NULL, &r);
	a->status = r.status;
	snprintf(a->etag, sizeof(a->etag), "%s", hdr(&r, "ETag") ? hdr(&r, "ETag") : "");
	snprintf(a->type, sizeof(a->type), "%s",
		 hdr(&r, "Content-Type") ? hdr(&r, "Content-Type") : "");
	a->len = r.body_len;
	a->body = malloc(r.body_len + 1);
	ck_assert_ptr_nonnull(a->body);
	memcpy(a->body, r.body ? r.body : "", r.body_len);
	http_result_release(&r);
}

static void answer_assert_same(const struct answer *a, const struct answer *b)
{
	ck_assert_int_eq(a->status, b->status);
	ck_assert_str_eq(a->etag, b->etag);
	ck_assert_str_eq(a->type, b->type);
	ck_assert_uint_eq(a->len, b->len);
	ck_assert(memcmp(a->body, b->body, a->len) == 0);
}

static size_t report_count(const char *device)
{
	struct http_result r;
	char path[128];
	size_t n;
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/devices/%s/reports", device);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	n = json_array_size(json_object_get(j, "items"));
	json_decref(j);
	http_result_release(&r);
	return n;
}

/* GET /device/v1/whoami with this token answers status. */
static void assert_whoami(const char *token, long status)
{
	struct http_result r;

	harness_request(&P, "GET", "/device/v1/whoami", token, NULL, NULL, 0, &r);
	assert_status(&r, status);
	http_result_release(&r);
}

/* The state at backup time: dev-a has its envelope and reported
 * downloading, dev-b has not checked in yet (pending). The deployment's id;
 * the tokens, and dev-a's check-in answer into before. */
static long state_at_backup(char tok_a[128], char tok_b[128], struct answer *before)
{
	long dep;

	add_device("dev-a", NULL, tok_a, 128);
	add_device("dev-b", NULL, tok_b, 128);
	dep = deploy_devices(&F.m1, "[\"dev-a\",\"dev-b\"]");
	expect_envelope(tok_a, "seq=0", &F.m1);
	report_ok(tok_a, rep(&F.m1, "downloading", "\"progress\":40"));
	assert_counts(dep, "pending=1,downloading=1");
	answer_take(tok_a, before);
	ck_assert_int_eq(before->status, 200);
	return dep;
}

/* The restored daemon P serves state_at_backup's state: the API key and
 * the device tokens are the backup's (tok_late, made after it, is not),
 * the assignments and dev-a's check-in answer are as they were, the
 * payload comes back byte for byte. */
static void assert_state_at_backup(long dep, const char *tok_a, const char *tok_late,
				   const struct answer *before)
{
	struct answer after;
	struct http_result r;
	char path[256];

	assert_counts(dep, "pending=1,downloading=1");
	assert_assignment(dep, "dev-a", "downloading", "");
	assert_assignment(dep, "dev-b", "pending", "");
	ck_assert_uint_eq(report_count("dev-a"), 1);
	answer_take(tok_a, &after);
	answer_assert_same(before, &after);
	free(after.body);
	assert_whoami(tok_late, 401);
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", F.fw_sha);
	harness_request(&P, "GET", path, tok_a, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	ck_assert_uint_eq(r.body_len, F.fw_len);
	ck_assert(memcmp(r.body, F.fw_bytes, F.fw_len) == 0);
	http_result_release(&r);
}

START_TEST(test_backup_restore_round_trip)
{
	char tok_a[128], tok_b[128], tok_late[128], backup[256], out[1024], path[256];
	struct answer before;
	struct http_result r;
	long dep;

	dep = state_at_backup(tok_a, tok_b, &before);

	/* The backup, while the daemon serves. */
	snprintf(backup, sizeof(backup), "%s/backup.db", P.dir);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "backup", backup, (char *)NULL), 0);
	ck_assert_uint_eq(file_mode(backup), 0600);

	/* After it, and so not in it: dev-a installs, dev-b is delivered, a
	 * device is added. */
	report_ok(tok_a, rep(&F.m1, "installed", ""));
	expect_envelope(tok_b, "seq=0", &F.m1);
	add_device("dev-late", NULL, tok_late, sizeof(tok_late));
	assert_counts(dep, "delivered=1,installed=1");

	/* Restore refuses the database of a running daemon, which goes on. */
	ck_assert_int_eq(
		harness_cli(&P, out, sizeof(out), "restore", "--force", backup, (char *)NULL), 1);
	ck_assert(harness_log_contains(&P, "is in use by another process"));
	assert_whoami(tok_late, 200);
	assert_counts(dep, "delivered=1,installed=1");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices"), 3);
	ck_assert_uint_eq(files_like(P.dir, "suitd.db.*", NULL, 0), 0);

	ck_assert_int_eq(harness_stop(&P), 0);
	OLD = P;

	/* A new state folder, the backup as its database. */
	fresh_state(&P, &OLD);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "restore", backup, (char *)NULL), 0);
	ck_assert_msg(strstr(out, "restored '"), "%s", out);
	snprintf(path, sizeof(path), "%s/suitd.db", P.dir);
	ck_assert_uint_eq(file_mode(path), 0600);
	harness_db_intact(&P);
	harness_start(&P);
	/* The index of active assignments is rebuilt from the database. */
	ck_assert(harness_log_contains(&P, "2 active assignments in memory"));

	assert_state_at_backup(dep, tok_a, tok_late, &before);
	/* The payload by the API too. */
	snprintf(path, sizeof(path), "/api/v1/payloads/%s/content", F.fw_sha);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	ck_assert_uint_eq(r.body_len, F.fw_len);
	ck_assert(memcmp(r.body, F.fw_bytes, F.fw_len) == 0);
	http_result_release(&r);

	/* What happened after the backup is redone by the devices: dev-a
	 * reports again, dev-b checks in again. */
	report_ok(tok_a, rep(&F.m1, "installed", ""));
	expect_envelope(tok_b, "seq=0", &F.m1);
	assert_counts(dep, "delivered=1,installed=1");
	free(before.body);
}
END_TEST

/* PostgreSQL's backup and restore are its own tools, as docs/operations.md
 * "Backups" says: pg_dump -Fc as the suitd role while the daemon serves,
 * pg_restore as that role into an empty database, and suitd serves there
 * what the dump held (API key, device tokens, assignments, check-in answer,
 * payload bytes), nothing written after it. suitd restore refuses (exit 1)
 * and names pg_restore, the database untouched. */
START_TEST(test_pg_dump_round_trip_pg)
{
	char tok_a[128], tok_b[128], tok_late[128], dump[256], out[1024];
	struct answer before;
	long dep;

	dep = state_at_backup(tok_a, tok_b, &before);

	snprintf(dump, sizeof(dump), "%s/suitd.dump", P.dir);
	ck_assert_int_eq(
		harness_pg_client(&P, "pg_dump", "-Fc", "-d", P.db_url, "-f", dump, (char *)NULL),
		0);
	report_ok(tok_a, rep(&F.m1, "installed", ""));
	add_device("dev-late", NULL, tok_late, sizeof(tok_late));

	ck_assert_int_eq(
		harness_cli(&P, out, sizeof(out), "restore", "--force", dump, (char *)NULL), 1);
	ck_assert(harness_log_contains(&P, "suitd: restore puts back SQLite backups; restore a "
					   "PostgreSQL database with pg_restore or psql "
					   "(docs/operations.md)\n"));
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices"), 3);
	assert_counts(dep, "pending=1,installed=1");
	ck_assert_int_eq(harness_stop(&P), 0);
	OLD = P;

	fresh_state(&P, &OLD);
	harness_pg_database_empty(&P);
	fleet_write_config("");
	ck_assert_int_eq(harness_pg_client(&P, "pg_restore", "--exit-on-error", "-d", P.db_url,
					   dump, (char *)NULL),
			 0);
	harness_start(&P);
	ck_assert(harness_log_contains(&P, "2 active assignments in memory"));
	assert_state_at_backup(dep, tok_a, tok_late, &before);
	assert_whoami(tok_b, 200);
	/* Writes go on where the dump left off (the sequences came along). */
	add_device("dev-new", NULL, tok_late, sizeof(tok_late));
	report_ok(tok_a, rep(&F.m1, "installed", ""));
	assert_counts(dep, "pending=1,installed=1");
	free(before.body);
}
END_TEST

/* ---- What restore refuses, and what it keeps ---- */

static void set_user_version(const char *db, int version)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	harness_sqlite_file_rows(db, sql, NULL, NULL);
}

struct names {
	char *out;
	size_t size, used;
};

static void add_name(const char *const *cols, unsigned ncols, void *arg)
{
	struct names *n = arg;

	ck_assert_uint_eq(ncols, 1);
	if (n->used < n->size)
		n->used += (size_t)snprintf(n->out + n->used, n->size - n->used, "%s%s",
					    n->used ? "," : "", cols[0]);
}

/* Keys in the database at db, by name, comma-separated. */
static void key_names(const char *db, char *out, size_t size)
{
	struct names n = {out, size, 0};

	out[0] = '\0';
	harness_sqlite_file_rows(db, "SELECT name FROM api_keys ORDER BY id", add_name, &n);
}

static int restore(struct suitd_proc *p, const char *force, const char *file)
{
	char out[512];

	if (force)
		return harness_cli(p, out, sizeof(out), "restore", force, file, (char *)NULL);
	return harness_cli(p, out, sizeof(out), "restore", file, (char *)NULL);
}

START_TEST(test_restore_refuses)
{
	struct suitd_proc p;
	char backup[256], bad[256], db[256], names[256], out[512];
	unsigned char *data;
	size_t len;

	harness_setup(&p, "");
	snprintf(db, sizeof(db), "%s/suitd.db", p.dir);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "key", "create", "--name", "before",
				     "--role", "admin", (char *)NULL),
			 0);
	snprintf(backup, sizeof(backup), "%s/backup.db", p.dir);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "backup", backup, (char *)NULL), 0);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "key", "create", "--name", "after",
				     "--role", "admin", (char *)NULL),
			 0);

	/* An existing database is replaced only with --force. */
	ck_assert_int_eq(restore(&p, NULL, backup), 1);
	ck_assert(harness_log_contains(&p, "exists: stop suitd, then add --force"));
	key_names(db, names, sizeof(names));
	ck_assert_str_eq(names, "before,after");

	/* A damaged backup: every page after the first overwritten. */
	data = read_all(backup, &len);
	ck_assert_uint_gt(len, 8192);
	memset(data + 4096, 0x55, len - 4096);
	snprintf(bad, sizeof(bad), "%s/damaged.db", p.dir);
	write_file(bad, data, len);
	ck_assert_int_eq(restore(&p, "--force", bad), 1);
	ck_assert(harness_log_contains(&p, "damaged.db' fails PRAGMA integrity_check"));
	/* Not a database at all; not a suitd database; a newer suitd's. */
	memset(data, 0x55, len);
	write_file(bad, data, len);
	ck_assert_int_eq(restore(&p, "--force", bad), 1);
	ck_assert(harness_log_contains(&p, "file is not a database; nothing was changed"));
	free(data);
	unlink(bad);
	set_user_version(bad, 0); /* a new, empty SQLite database */
	ck_assert_int_eq(restore(&p, "--force", bad), 1);
	ck_assert(harness_log_contains(&p, "is not a suitd database"));
	snprintf(bad, sizeof(bad), "%s/newer.db", p.dir);
	data = read_all(backup, &len);
	write_file(bad, data, len);
	free(data);
	set_user_version(bad, 9999);
	ck_assert_int_eq(restore(&p, "--force", bad), 1);
	ck_assert(harness_log_contains(&p, "has schema version 9999, newer than this suitd"));
	/* After all that, the database is untouched and nothing was set aside. */
	key_names(db, names, sizeof(names));
	ck_assert_str_eq(names, "before,after");
	ck_assert_uint_eq(files_like(p.dir, "suitd.db.*", NULL, 0), 0);

	/* --force: the backup's keys; the replaced database kept, whole. Run
	 * by root, the copy belongs to the owner of the database it replaces
	 * (the service user), not to root. */
	bool root = geteuid() == 0;
	if (root)
		ck_assert_int_eq(chown(db, 65534, 65534), 0);
	ck_assert_int_eq(restore(&p, "--force", backup), 0);
	key_names(db, names, sizeof(names));
	ck_assert_str_eq(names, "before");
	ck_assert_uint_eq(file_mode(db), 0600);
	struct stat st;
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_uint_eq(st.st_uid, root ? 65534 : geteuid());
	char kept[256];
	ck_assert_uint_eq(files_like(p.dir, "suitd.db.*", kept, sizeof(kept)), 1);
	ck_assert_ptr_nonnull(strstr(kept, "/suitd.db.replaced-"));
	ck_assert_uint_eq(file_mode(kept), 0600);
	key_names(kept, names, sizeof(names));
	ck_assert_str_eq(names, "before,after");
	/* The restored database serves. */
	harness_start(&p);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-restore");
	TCase *tc = tcase_create("restore");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, fleet_setup, restore_teardown);
	harness_sqlite_only(tc, test_backup_restore_round_trip,
			    "suitd backup/restore copy the SQLite file; PostgreSQL: "
			    "test_pg_dump_round_trip_pg");
	harness_pg_only(tc, test_pg_dump_round_trip_pg,
			"pg_dump and pg_restore are PostgreSQL's; SQLite: "
			"test_backup_restore_round_trip");
	suite_add_tcase(s, tc);
	TCase *refuse = tcase_create("refuse");
	tcase_set_timeout(refuse, 60);
	harness_sqlite_only(refuse, test_restore_refuses,
			    "restore's refusals are about SQLite files (damaged, newer, in use); "
			    "PostgreSQL: suitd restore refuses every file "
			    "(test_pg_dump_round_trip_pg), pg_restore checks its own");
	suite_add_tcase(s, refuse);
	return check_run(s);
}
