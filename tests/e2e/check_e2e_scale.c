/* A million devices on one node (issue 15), end to end over TLS against the
 * real daemon: a deployment to many devices without a long write lock (its
 * assignments are inserted in slices after the answer, it shows as
 * preparing with its progress, check-ins go on meanwhile, a kill -9
 * resumes, a cancel stops it), and a long download by Range is news for
 * device_timeout. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet.h"
#include "tests/check_run.h"

#define FLEET 20000

static void setup(void)
{
	fleet_setup();
}

/* n devices "<group>-NNNNN" in group by one import; tokens
 * "tok-NNNNN-test-only-xxxxxxxx". */
static void import_group(const char *group, int n)
{
	size_t cap = (size_t)n * 128, len = 0;
	char *text = malloc(cap);
	struct http_result r;

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"{\"id\":\"%s-%05d\",\"group\":\"%s\",\"token\":"
					"\"tok-%05d-test-only-xxxxxxxx\"}\n",
					group, i, group, i);
	harness_request(&P, "POST", "/api/v1/devices/import", P.admin_key, "application/x-ndjson",
			text, len, &r);
	assert_status(&r, 200);
	json_t *j = body_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "created")), n);
	json_decref(j);
	http_result_release(&r);
	free(text);
}

/* FLEET devices in group "big". */
static void import_fleet(void)
{
	import_group("big", FLEET);
}

static long create_big(json_t **ret)
{
	char json[256];

	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"group\":\"big\"},"
		 "\"rollout\":{\"stages\":[1,10,100]}}",
		 F.m1.digest);
	return deploy(json, ret);
}

static const char *status_of(json_t *d)
{
	return json_string_value(json_object_get(d, "status"));
}

/* The counters and the rows agree at every moment: a slice commits whole. */
static void assert_not_torn(long id)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SELECT (SELECT coalesce(sum(n), 0) FROM assignment_counts WHERE deployment_id "
		 "= %ld) = (SELECT count(*) FROM assignments WHERE deployment_id = %ld)",
		 id, id);
	ck_assert_int_eq(harness_sql_int(&P, sql), 1);
}

static long long assignments_of(long id)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM assignments WHERE deployment_id = %ld",
		 id);
	return harness_sql_int(&P, sql);
}

/* Wait (at most 120 s) until the deployment is no longer preparing. */
static json_t *wait_prepared(long id)
{
	for (int i = 0; i < 1200; i++) {
		json_t *d = deployment(id);
		if (strcmp(status_of(d), "preparing") != 0)
			return d;
		json_decref(d);
		usleep(100 * 1000);
	}
	ck_abort_msg("deployment %ld still preparing after 120 s", id);
	return NULL;
}

START_TEST(test_sliced_while_devices_poll)
{
	char token[64];
	json_t *created, *d;
	long long last = -1;
	int polls = 0;

	import_fleet();
	long id = create_big(&created);
	/* The answer did not wait for 20,000 assignments. */
	ck_assert_str_eq(status_of(created), "preparing");
	json_t *prep = json_object_get(created, "preparation");
	ck_assert_int_eq(json_integer_value(json_object_get(prep, "planned")), FLEET);
	json_decref(created);
	/* Devices poll meanwhile: every answer is an envelope or nothing, and
	 * the progress only grows. */
	for (;;) {
		d = deployment(id);
		bool preparing = strcmp(status_of(d), "preparing") == 0;
		long long assigned =
			preparing ? json_integer_value(json_object_get(
					    json_object_get(d, "preparation"), "assigned"))
				  : FLEET;
		json_decref(d);
		ck_assert_int_ge(assigned, last);
		last = assigned;
		assert_not_torn(id);
		for (int k = 0; k < 5; k++) {
			struct http_result r;
			snprintf(token, sizeof(token), "tok-%05d-test-only-xxxxxxxx",
				 (polls * 7919 + k * 104729) % FLEET);
			checkin(token, NULL, NULL, &r);
			ck_assert_msg(r.status == 200 || r.status == 204, "check-in answered %ld",
				      r.status);
			http_result_release(&r);
		}
		polls++;
		if (!preparing)
			break;
	}
	d = wait_prepared(id);
	ck_assert(json_is_null(json_object_get(d, "preparation")));
	json_decref(d);
	ck_assert_int_eq(assignments_of(id), FLEET);
	ck_assert(harness_log_contains(&P, "prepared: 20000 devices in"));
	/* Stage 1 (1 %) is open: a device of it gets the manifest. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
					     "'deployment.prepared'"),
			 1);
}
END_TEST

/* kill -9 in the middle: the next start resumes, no device twice. */
START_TEST(test_resumes_after_kill)
{
	import_fleet();
	long id = create_big(NULL);
	/* After the first slices, before the last (most likely). */
	for (int i = 0; i < 10000 && assignments_of(id) == 0; i++)
		usleep(1000);
	harness_kill9(&P);
	long long at_kill = assignments_of(id);
	harness_start(&P);
	json_t *d = wait_prepared(id);
	ck_assert_str_eq(status_of(d), "active");
	json_decref(d);
	ck_assert_int_eq(assignments_of(id), FLEET);
	if (at_kill < FLEET)
		ck_assert(harness_log_contains(&P, "resuming its preparation"));
	assert_not_torn(id);
}
END_TEST

/* A cancel while it prepares stops the slices: nothing stays active. */
START_TEST(test_cancel_while_preparing)
{
	struct http_result r;
	char path[256];

	import_fleet();
	long id = create_big(NULL);
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", id);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	/* The fan-out notices at its next slice. */
	for (int i = 0; i < 600 && harness_sql_int(&P, "SELECT count(*) FROM deployments WHERE "
						       "prepared_at IS NULL") > 0;
	     i++)
		usleep(100 * 1000);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM deployments WHERE "
					     "prepared_at IS NULL"),
			 0);
	json_t *d = deployment(id);
	ck_assert_str_eq(status_of(d), "canceled");
	json_decref(d);
	/* What the cancel left active is canceled in slices after it. */
	snprintf(path, sizeof(path),
		 "SELECT count(*) FROM assignments WHERE deployment_id = %ld AND state IN "
		 "('pending', 'delivered')",
		 id);
	for (int i = 0; i < 600 && harness_sql_int(&P, path) > 0; i++)
		usleep(100 * 1000);
	ck_assert_int_eq(harness_sql_int(&P, path), 0);
	ck_assert_int_lt(assignments_of(id), FLEET + 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM deployment_targets"), 0);
}
END_TEST

/* A cancel of 20,000 assignments: the deployment and a first slice at once,
 * the rest in slices after; no device is offered any of them meanwhile; a
 * kill -9 in the middle resumes. */
START_TEST(test_cancel_in_slices)
{
	char path[256], token[64], sql[256];
	struct http_result r;

	import_fleet();
	long id = create_big(NULL);
	json_decref(wait_prepared(id));
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", id);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	json_t *d = body_json(&r);
	ck_assert_str_eq(status_of(d), "canceled");
	json_decref(d);
	http_result_release(&r);
	/* Stage 1's devices had the update offered; none is now. */
	for (int k = 0; k < 20; k++) {
		snprintf(token, sizeof(token), "tok-%05d-test-only-xxxxxxxx", k * 997 % FLEET);
		expect_nothing(token, NULL);
	}
	harness_kill9(&P);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM assignments WHERE deployment_id = %ld AND state IN "
		 "('pending', 'delivered', 'downloading', 'downloaded', 'installing', "
		 "'installed')",
		 id);
	long long left = harness_sql_int(&P, sql);
	harness_start(&P);
	for (int i = 0; i < 600 && harness_sql_int(&P, sql) > 0; i++)
		usleep(100 * 1000);
	ck_assert_int_eq(harness_sql_int(&P, sql), 0);
	if (left > 0)
		ck_assert(harness_log_contains(&P, "resuming its cancel"));
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM assignments WHERE deployment_id = %ld AND state = "
		 "'canceled'",
		 id);
	ck_assert_int_eq(harness_sql_int(&P, sql), FLEET);
	assert_not_torn(id);
}
END_TEST

/* seen_flush = 1: news reaches the database within about a second. */
static void setup_news(void)
{
	fleet_setup_with(50000, false,
			 "auth = token\nseen_flush = 1\npoll_interval = 100\n"
			 "poll_interval_active = 10\npoll_jitter = 20\n");
}

static void range_get(const char *token, unsigned first, unsigned last)
{
	char path[128], auth[192], range[64];
	const char *headers[] = {auth, range, NULL};
	struct http_result r;

	snprintf(path, sizeof(path), "/device/v1/payloads/%s", F.fw_sha);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	snprintf(range, sizeof(range), "Range: bytes=%u-%u", first, last);
	harness_request_ex(&P, "GET", path, NULL, headers, NULL, 0, &r);
	assert_status(&r, 206);
	http_result_release(&r);
}

/* A slow download by Range keeps its assignment alive past device_timeout
 * (3 s here); once the requests stop, it times out. */
START_TEST(test_range_is_news)
{
	char tok[128], json[512], s[32], why[256];

	add_device("slow", NULL, tok, sizeof(tok));
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"slow\"]},"
		 "\"rollout\":{\"device_timeout\":3}}",
		 F.m1.digest);
	long id = deploy(json, NULL);
	expect_envelope(tok, "seq=0", &F.m1);
	/* 8 s of 1 KiB ranges, one every 0.5 s, never the last byte. */
	for (unsigned i = 0; i < 16; i++) {
		range_get(tok, i * 1024, i * 1024 + 1023);
		/* A download's progress is committed a moment after its bytes
		 * (the group commit, docs/design.md): the first one may take
		 * that moment. */
		for (int k = 0; k < 50; k++) {
			assignment(id, "slow", s, sizeof(s), why, sizeof(why));
			if (i > 0 || strcmp(s, "downloading") == 0)
				break;
			usleep(100 * 1000);
		}
		ck_assert_msg(strcmp(s, "downloading") == 0, "after %u ranges: %s (%s)", i + 1, s,
			      why);
		usleep(500 * 1000);
	}
	for (int i = 0; i < 100; i++) {
		assignment(id, "slow", s, sizeof(s), why, sizeof(why));
		if (strcmp(s, "timed_out") == 0)
			break;
		usleep(200 * 1000);
	}
	ck_assert_str_eq(s, "timed_out");
}
END_TEST

/* A fleet that goes silent at once times out in slices of 500, each its
 * own transaction, all in one sweep: 1,200 delivered assignments whose
 * news is two minutes older than device_timeout (60 s; the clock moved by
 * rewriting updated_at) give one log line for the 1,200, the counters
 * agree with the rows, and a device that polls again gets nothing. */
#define QUIET 1200
START_TEST(test_mass_timeout)
{
	char json[512], token[64], sql[160];
	struct http_result r;

	import_group("quiet", QUIET);
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"group\":\"quiet\"},"
		 "\"rollout\":{\"device_timeout\":60}}",
		 F.m1.digest);
	long id = deploy(json, NULL);
	for (int i = 0; i < QUIET; i++) {
		snprintf(token, sizeof(token), "tok-%05d-test-only-xxxxxxxx", i);
		checkin(token, "seq=0", NULL, &r);
		assert_envelope(&r, &F.m1);
		http_result_release(&r);
	}
	ck_assert(!harness_log_contains(&P, "assignments timed out"));
	snprintf(sql, sizeof(sql),
		 "UPDATE assignments SET updated_at = updated_at - 120 WHERE deployment_id = %ld "
		 "RETURNING 1",
		 id);
	ck_assert_int_eq(harness_sql_int(&P, sql), 1);
	for (int i = 0; i < 100 && !harness_log_contains(&P, "assignments timed out"); i++)
		usleep(100 * 1000);
	ck_assert_msg(harness_log_contains(&P, "1200 assignments timed out"),
		      "the sweep did not time out all 1,200 at once");
	assert_counts(id, "timed_out=1200");
	assert_not_torn(id);
	checkin("tok-00007-test-only-xxxxxxxx", "seq=0", NULL, &r);
	assert_nothing(&r);
	http_result_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e_scale");
	TCase *tc = tcase_create("fanout");
	TCase *news = tcase_create("news");

	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, fleet_teardown);
	tcase_add_test(tc, test_sliced_while_devices_poll);
	tcase_add_test(tc, test_resumes_after_kill);
	tcase_add_test(tc, test_cancel_while_preparing);
	tcase_add_test(tc, test_cancel_in_slices);
	suite_add_tcase(s, tc);
	tcase_set_timeout(news, 60);
	tcase_add_checked_fixture(news, setup_news, fleet_teardown);
	tcase_add_test(news, test_range_is_news);
	tcase_add_test(news, test_mass_timeout);
	suite_add_tcase(s, news);
	return check_run(s);
}
