/* The PostgreSQL backend (storage/postgresql/, issue 21) through the
 * storage API on a throwaway server (tests/pg/pg_tmp.h): open and migrate,
 * devices, a deployment and a report, inserted ids, a unique violation,
 * the writer lock, the listener woken by the trigger's event, the statement
 * timeout, the TCP options of every connection, and a lost connection that comes back (for the
 * group commit's thread too). */
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/api_keys.h"
#include "storage/batch.h"
#include "storage/db.h"
#include "storage/deployments.h"
#include "storage/devices.h"
#include "storage/events.h"
#include "storage/manifests.h"
#include "storage/postgresql/pg.h"
#include "storage/reports.h"
#include "storage/storage.h"
#include "tracker/rollout.h"

#include "tests/batch_wait.h"
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

/* pg_ctl on the server's data directory: "stop -m immediate" or "start". */
static void server_ctl(const char *how)
{
	char cmd[768];

	snprintf(
		cmd, sizeof(cmd),
		"sh -c '. %s/env; run=; [ \"$(id -u)\" -eq 0 ] && run=\"runuser -u postgres --\"; "
		"$run \"$PG_TMP_BIN/pg_ctl\" -D \"$PG_TMP_DIR/data\" -l \"$PG_TMP_DIR/server.log\" "
		"-w %s' >/dev/null",
		srv.dir, how);
	ck_assert_msg(system(cmd) == 0, "pg_ctl %s", how);
}

static char url[256];

static void db_fresh(const char *name)
{
	ck_assert(pg_tmp_createdb(&srv, name, url, sizeof(url)));
}

static enum err open_pg(bool migrate, unsigned timeout_ms, struct storage **ret, struct diag *d)
{
	struct storage_options opt = {
		.backend = STORAGE_POSTGRESQL,
		.url = url,
		.password_file = srv.password_file,
		.migrate = migrate,
		.statement_timeout_ms = timeout_ms,
	};

	return storage_open(&opt, ret, d);
}

static struct storage *open_ok(void)
{
	struct storage *s = NULL;
	struct diag d = {0};

	ck_assert_msg(open_pg(true, 0, &s, &d) == ERR_OK, "open: %s", d.text);
	return s;
}

/* A connection of our own to the test's database (role suitd). */
static PGconn *side_conn(void)
{
	struct pg_conn_options o = {.url = url, .password_file = srv.password_file};
	struct diag d = {0};
	PGconn *c = NULL;

	ck_assert_msg(pg_conn_open(&o, &c, &d) == ERR_OK, "connect: %s", d.text);
	return c;
}

/* One number a query answers, on a connection of its own. */
static long long side_value(const char *sql)
{
	PGconn *c = side_conn();
	PGresult *r = PQexec(c, sql);
	long long v;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
}

static enum err device_add(struct storage *s, const char *id, struct device_ident *ret)
{
	struct device_new dn = {.id = id, .attributes = "{}"};

	return storage_device_insert(s, &dn, "test", ret);
}

START_TEST(test_open_needs_migrate)
{
	struct storage *s = NULL;
	struct diag d = {0};
	unsigned have = 0, want = 0;
	struct storage_options no_url = {.backend = STORAGE_POSTGRESQL};

	ck_assert_int_eq(storage_open(&no_url, &s, &d), ERR_CONFIG);
	db_fresh("t_open");
	ck_assert_int_eq(open_pg(false, 0, &s, &d), ERR_STORAGE);
	ck_assert_ptr_nonnull(strstr(d.text, "migrate"));
	ck_assert_int_eq(open_pg(true, 0, &s, &d), ERR_OK);
	ck_assert_int_eq(storage_schema_version(s, &have, &want), ERR_OK);
	ck_assert_uint_gt(want, 0);
	ck_assert_uint_eq(have, want);
	ck_assert_int_eq(storage_ping(s), ERR_OK);
	storage_free(s);
	/* Migrated: opening without migrate is fine now. */
	ck_assert_int_eq(open_pg(false, 0, &s, &d), ERR_OK);
	storage_free(s);
}
END_TEST

/* A statement the schema does not fit fails start-up with its name and the
 * server's words. */
START_TEST(test_bad_statement_fails_open)
{
	struct storage *s = NULL;
	struct diag d = {0};
	PGconn *c;
	PGresult *r;

	db_fresh("t_badstmt");
	s = open_ok();
	storage_free(s);
	c = side_conn();
	r = PQexec(c, "ALTER TABLE webhooks RENAME TO webhooks_gone");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);
	ck_assert_int_eq(open_pg(false, 0, &s, &d), ERR_STORAGE);
	ck_assert_msg(strstr(d.text, "statement WEBHOOK_") && strstr(d.text, "webhooks"), "%s",
		      d.text);
}
END_TEST

START_TEST(test_device_roundtrip)
{
	struct device_ident a, b;
	struct device dev;
	struct storage *s;

	db_fresh("t_device");
	s = open_ok();
	ck_assert_int_eq(device_add(s, "dev-1", &a), ERR_OK);
	ck_assert_int_eq(device_add(s, "dev-2", &b), ERR_OK);
	/* Inserted ids (RETURNING): the identity column's values. */
	ck_assert_int_gt(a.num, 0);
	ck_assert_int_eq(b.num, a.num + 1);
	ck_assert_int_eq(storage_device_get(s, "dev-2", &dev), ERR_OK);
	ck_assert_int_eq(dev.ident.num, b.num);
	ck_assert_str_eq(dev.ident.id, "dev-2");
	ck_assert_str_eq(dev.attributes, "{}");
	device_release(&dev);
	/* A unique violation is "exists", and the connection goes on. */
	ck_assert_int_eq(device_add(s, "dev-1", &b), ERR_EXISTS);
	ck_assert_int_eq(storage_device_get(s, "dev-1", &dev), ERR_OK);
	ck_assert_int_eq(dev.ident.num, a.num);
	device_release(&dev);
	ck_assert_int_eq(storage_device_get(s, "dev-3", &dev), ERR_NOT_FOUND);
	storage_free(s);
}
END_TEST

static unsigned heard;
static int64_t heard_newest;

static void listener(void *cls, int64_t newest)
{
	(void)cls;
	heard++;
	heard_newest = newest;
}

static void each_active_cb(void *cls, const struct active_assignment *a)
{
	*(struct active_assignment *)cls = *a;
}

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static bool job_done;
static enum err job_err;

static void report_done(struct batch_job *job, enum err e)
{
	(void)job;
	pthread_mutex_lock(&done_lock);
	job_done = true;
	job_err = e;
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&done_lock);
}

static enum report_verdict report_move(enum assignment_state current,
				       enum assignment_state reported, const char **ret_why)
{
	(void)current;
	(void)reported;
	(void)ret_why;
	return REPORT_MOVE;
}

START_TEST(test_deployment_and_report)
{
	static const uint8_t digest[32] = {1, 2, 3}, envelope[4] = {0xa0, 1, 2, 3};
	struct manifest_new mn = {.digest = digest,
				  .digest_len = sizeof(digest),
				  .digest_alg = -16,
				  .envelope = envelope,
				  .envelope_len = sizeof(envelope),
				  .sequence = 7,
				  .facts = "{}",
				  .actor = "test"};
	struct manifest_record rec = {0};
	uint8_t conflict[MANIFEST_DIGEST_MAX];
	size_t conflict_len = 0;
	struct device_ident dev;
	struct deployment_new dn = {.digest = digest,
				    .digest_len = sizeof(digest),
				    .kind = TARGET_DEVICES,
				    .count = 1,
				    .actor = "test",
				    .rollout = {.stage_count = 1,
						.stages = {100},
						.success_threshold = 100,
						.failure_threshold = 100,
						.device_timeout = 3600}};
	struct stage_target *targets = NULL;
	struct active_assignment act = {0};
	struct report_row rows[2];
	struct batcher *b = NULL;
	struct report_job job = {0};
	unsigned n = 0;
	size_t nt = 0;
	bool stop = true, more = true;
	uint64_t hold;
	int64_t id;
	struct storage *s;

	db_fresh("t_deploy");
	s = open_ok();
	ck_assert_int_eq(storage_events_listen(s, listener, NULL), ERR_OK);
	ck_assert_int_eq(device_add(s, "d-1", &dev), ERR_OK);
	ck_assert_int_eq(storage_manifest_insert(s, &mn, &rec, conflict, &conflict_len), ERR_OK);
	ck_assert_int_gt(rec.id, 0);
	free(rec.facts);
	dn.nums = &dev.num;
	ck_assert_int_eq(storage_deployment_create(s, &dn, &id), ERR_OK);
	ck_assert_int_gt(id, 0);
	/* The listener heard the deployment's created event, by its id. */
	ck_assert_int_eq(heard_newest, side_value("SELECT max(id) FROM events"));
	ck_assert_int_eq(storage_deployment_targets(s, id, &rollout_planner, &targets, &nt),
			 ERR_OK);
	ck_assert_uint_eq(nt, 1);
	ck_assert_int_eq(storage_deployment_slice(s, id, targets, nt, false, &stop, &hold), ERR_OK);
	ck_assert(!stop);
	free(targets);
	ck_assert_int_eq(storage_deployment_prepared(s, id), ERR_OK);
	ck_assert_int_eq(storage_active_assignments(s, dev.num, each_active_cb, &act), ERR_OK);
	ck_assert_int_eq(act.deployment_id, id);
	ck_assert_int_eq(act.state, ASSIGN_PENDING);

	/* A state change outside a transaction (a check-in's) that the
	 * trigger turns into an event with the device as its actor: the
	 * listener is told that event's id. */
	heard = 0;
	ck_assert_int_eq(
		storage_assignment_transition(s, act.id, ASSIGN_PENDING, ASSIGN_DELIVERED, NULL),
		ERR_OK);
	ck_assert_uint_eq(heard, 1);
	ck_assert_int_eq(heard_newest, side_value("SELECT max(id) FROM events"));
	ck_assert_int_eq(side_value("SELECT count(*) FROM events WHERE type = "
				    "'assignment.delivered' AND actor = 'device:d-1'"),
			 1);

	/* A report through the batcher (savepoint per job, the device as the
	 * trigger's actor), read back. */
	ck_assert_int_eq(batcher_start(s, 8, &b), ERR_OK);
	job.base.done = report_done;
	job.r = (struct report_new){.device_num = dev.num,
				    .digest = digest,
				    .digest_len = sizeof(digest),
				    .state = ASSIGN_INSTALLED,
				    .progress = -1,
				    .media_type = "application/json",
				    .body = "{}",
				    .body_len = 2};
	job.decide = report_move;
	job.history_count = 10;
	job.history_bytes = 1 << 20;
	heard = 0;
	storage_report_submit(b, &job);
	pthread_mutex_lock(&done_lock);
	while (!job_done)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
	batcher_stop(b);
	ck_assert_int_eq(job_err, ERR_OK);
	ck_assert(job.changed);
	ck_assert_uint_eq(heard, 1);
	ck_assert_int_eq(heard_newest, side_value("SELECT max(id) FROM events"));
	ck_assert_int_eq(side_value("SELECT count(*) FROM events WHERE type = "
				    "'assignment.installed' AND actor = 'device:d-1'"),
			 1);
	ck_assert_int_eq(
		storage_reports_of_device(s, "d-1", INT64_MAX, 2, 1 << 20, rows, &n, &more),
		ERR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(rows[0].state, "installed");
	ck_assert_uint_eq(rows[0].body_len, 2);
	ck_assert_int_eq(memcmp(rows[0].body, "{}", 2), 0);
	ck_assert_uint_eq(rows[0].digest_len, sizeof(digest));
	ck_assert_int_eq(memcmp(rows[0].digest, digest, sizeof(digest)), 0);
	report_row_release(&rows[0]);
	storage_free(s);
}
END_TEST

/* ---- the writer lock ------------------------------------------------- */

/* The second writer opens a storage of its own, as another suitd node
 * would: within one process db_begin() first queues in the storage's
 * turnstile (storage/turnstile.h), and this test is about the database's
 * lock. */
struct writer {
	struct storage *s;
	_Atomic enum err begun;
	_Atomic int64_t backend_pid;
};

static void *second_writer(void *arg)
{
	struct writer *w = arg;
	struct db *db;
	enum err e;

	ck_assert_int_eq(db_get(w->s, &db), ERR_OK);
	atomic_store(&w->backend_pid, PQbackendPID(pg_db(db)->conn));
	e = db_begin(db);
	if (!e)
		e = db_commit(db);
	atomic_store(&w->begun, e);
	return NULL;
}

START_TEST(test_writer_lock_serialises)
{
	struct writer w = {.begun = ERR_INTERNAL};
	struct storage *first;
	char sql[160];
	struct db *db;
	pthread_t t;
	int waited = 0;

	db_fresh("t_lock");
	first = open_ok();
	w.s = open_ok();
	ck_assert_int_eq(db_get(first, &db), ERR_OK);
	ck_assert_int_eq(db_begin(db), ERR_OK);
	ck_assert_int_eq(pthread_create(&t, NULL, second_writer, &w), 0);
	/* The other thread's BEGIN waits for this one's lock: its backend is
	 * seen waiting for an advisory lock (bounded: a minute). */
	while (waited++ < 600) {
		int64_t pid = atomic_load(&w.backend_pid);
		if (pid) {
			snprintf(sql, sizeof(sql),
				 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
				 "NOT granted AND pid = %lld",
				 (long long)pid);
			if (side_value(sql) == 1)
				break;
		}
		usleep(100 * 1000);
	}
	ck_assert_int_lt(waited, 600);
	ck_assert_int_eq(atomic_load(&w.begun), ERR_INTERNAL); /* still waiting */
	ck_assert_int_eq(db_commit(db), ERR_OK);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(atomic_load(&w.begun), ERR_OK);
	storage_free(w.s);
	storage_free(first);
}
END_TEST

/* statement_timeout ends a wait for the writer lock with its own error. */
START_TEST(test_statement_timeout)
{
	static const uint8_t hash[SHA256_LEN] = {1};
	char lock[128];
	struct storage *s = NULL;
	struct diag d = {0};
	PGconn *holder;
	PGresult *r;

	db_fresh("t_timeout");
	ck_assert_int_eq(open_pg(true, 200, &s, &d), ERR_OK);
	/* Another session holds the writer lock (advisory locks are per
	 * database). */
	holder = side_conn();
	snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%lld)",
		 (long long)PG_WRITER_LOCK_KEY);
	r = PQexec(holder, lock);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	ck_assert_int_eq(storage_event_append(s, "test.x", "t", "x", true, NULL),
			 ERR_STORAGE_TIMEOUT);
	/* A write outside a transaction waits for the writer lock too, as in
	 * SQLite (a key's last use: no such key, but the lock comes first). */
	ck_assert_int_eq(storage_api_key_touch(s, hash, 1), ERR_STORAGE_TIMEOUT);
	ck_assert_int_eq(storage_ping(s), ERR_OK); /* reads go on */
	PQfinish(holder);			   /* the lock goes with the session */
	ck_assert_int_eq(storage_event_append(s, "test.x", "t", "x", true, NULL), ERR_OK);
	ck_assert_int_eq(storage_api_key_touch(s, hash, 1), ERR_OK);
	storage_free(s);
}
END_TEST

/* ---- TCP options ------------------------------------------------------ */

/* The value of a libpq option on an open connection ("" if unset). */
static void option_of(PGconn *c, const char *key, char *buf, size_t size)
{
	PQconninfoOption *opts = PQconninfo(c), *o;

	ck_assert_ptr_nonnull(opts);
	buf[0] = '\0';
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, key) == 0 && o->val)
			snprintf(buf, size, "%s", o->val);
	PQconninfoFree(opts);
}

/* Every connection gets keepalives, tcp_user_timeout and connect_timeout
 * (a partition would block its thread for TCP's retransmissions
 * otherwise, pg_conn.c), and a url's own values win over them. */
START_TEST(test_tcp_defaults)
{
	static const char *const want[][3] = {
		/* option, default, with the url's own */
		{"keepalives", "1", "1"},
		{"keepalives_idle", "10", "2"},
		{"keepalives_interval", "5", "5"},
		{"keepalives_count", "3", "3"},
		{"tcp_user_timeout", "20000", "3000"},
		{"connect_timeout", "10", "4"},
	};
	char own[384], v[32];
	struct pg_conn_options o = {.url = own, .password_file = srv.password_file};
	struct diag d = {0};
	PGconn *c;
	size_t i;

	db_fresh("t_tcp");
	c = side_conn();
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		option_of(c, want[i][0], v, sizeof(v));
		ck_assert_msg(strcmp(v, want[i][1]) == 0, "%s: '%s', want %s", want[i][0], v,
			      want[i][1]);
	}
	PQfinish(c);
	snprintf(own, sizeof(own), "%s?keepalives_idle=2&tcp_user_timeout=3000&connect_timeout=4",
		 url);
	ck_assert_msg(pg_conn_open(&o, &c, &d) == ERR_OK, "connect: %s", d.text);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		option_of(c, want[i][0], v, sizeof(v));
		ck_assert_msg(strcmp(v, want[i][2]) == 0, "%s: '%s', want %s (the url's)",
			      want[i][0], v, want[i][2]);
	}
	PQfinish(c);
}
END_TEST

/* ---- a lost connection ----------------------------------------------- */

START_TEST(test_connection_loss)
{
	struct device_ident a;
	struct device dev;
	struct storage *s;
	enum err e = ERR_INTERNAL;
	int tries = 0;

	db_fresh("t_loss");
	s = open_ok();
	ck_assert_int_eq(device_add(s, "kept", &a), ERR_OK);
	server_ctl("-m immediate stop");
	ck_assert_int_eq(storage_device_get(s, "kept", &dev), ERR_STORAGE_UNAVAILABLE);
	ck_assert_int_eq(storage_ping(s), ERR_STORAGE_UNAVAILABLE);
	ck_assert_int_eq(device_add(s, "lost", &a), ERR_STORAGE_UNAVAILABLE);
	server_ctl("start");
	/* Back without a restart of the storage: at most one attempt per
	 * second per thread, so a few tries (bounded: a minute). */
	while (tries++ < 600 && (e = storage_ping(s)) == ERR_STORAGE_UNAVAILABLE)
		usleep(100 * 1000);
	ck_assert_int_eq(e, ERR_OK);
	ck_assert_int_eq(storage_device_get(s, "kept", &dev), ERR_OK);
	ck_assert_str_eq(dev.ident.id, "kept");
	device_release(&dev);
	ck_assert_int_eq(storage_device_get(s, "lost", &dev), ERR_NOT_FOUND);
	ck_assert_int_eq(device_add(s, "after", &a), ERR_OK);
	storage_free(s);
}
END_TEST

/* The group-commit thread keeps one connection for all its batches. One
 * that broke mid-batch (a crash of the server) was never opened again:
 * every later report failed 503 until suitd restarted (found by
 * tests/crash/run.sh on PostgreSQL). A job that writes nothing: BEGIN with
 * the writer lock, a savepoint and COMMIT are the batcher's own. */
static enum err nop_apply(struct db *db, struct batch_job *job)
{
	(void)db;
	(void)job;
	return ERR_OK;
}

START_TEST(test_batcher_reconnects)
{
	struct batcher *b;
	struct storage *s;
	enum err e = ERR_INTERNAL;
	int tries = 0;

	db_fresh("t_batch_loss");
	s = open_ok();
	ck_assert_int_eq(batcher_start(s, 4, &b), ERR_OK);
	ck_assert_int_eq(batch_wait_run(b, nop_apply), ERR_OK);
	server_ctl("-m immediate stop");
	ck_assert_int_eq(batch_wait_run(b, nop_apply), ERR_STORAGE_UNAVAILABLE);
	server_ctl("start");
	/* As test_connection_loss: one attempt per second per thread. */
	while (tries++ < 600 && (e = batch_wait_run(b, nop_apply)) == ERR_STORAGE_UNAVAILABLE)
		usleep(100 * 1000);
	ck_assert_int_eq(e, ERR_OK);
	batcher_stop(b);
	storage_free(s);
}
END_TEST

static Suite *pg_backend_suite(void)
{
	Suite *s = suite_create("pg_backend");
	TCase *tc = tcase_create("postgresql");

	tcase_add_unchecked_fixture(tc, server_start, server_stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_open_needs_migrate);
	tcase_add_test(tc, test_bad_statement_fails_open);
	tcase_add_test(tc, test_device_roundtrip);
	tcase_add_test(tc, test_deployment_and_report);
	tcase_add_test(tc, test_writer_lock_serialises);
	tcase_add_test(tc, test_statement_timeout);
	tcase_add_test(tc, test_tcp_defaults);
	/* Last: it stops and starts the server. */
	tcase_add_test(tc, test_connection_loss);
	tcase_add_test(tc, test_batcher_reconnects);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(pg_backend_suite());
}
