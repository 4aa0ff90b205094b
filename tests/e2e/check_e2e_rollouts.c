/* Staged rollouts end to end: stage membership by a stable hash, devices of
 * a closed stage get 204, the housekeeping loop opens stages as devices
 * confirm, pauses a deployment itself when failures pass the threshold,
 * resumes only with an acknowledgment, completes; operators pause, resume
 * and cancel. Real daemon, real TLS, loopback; keys are test-only. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet.h"
#include "tests/check_run.h"

#define GROUP	    "fleet"
#define DEVICES_MAX 12

struct device {
	char id[32];
	char token[128];
	int stage; /* from 1, as the API shows it */
};

static struct device dev[DEVICES_MAX];

static void add_devices(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		snprintf(dev[i].id, sizeof(dev[i].id), "unit-%02u", i);
		add_device(dev[i].id, GROUP, dev[i].token, sizeof(dev[i].token));
	}
}

/* POST /api/v1/deployments/ID/ACTION with a body (or none): the answer. */
static void action(long id, const char *what, const char *json, struct http_result *r)
{
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/%s", id, what);
	api("POST", path, json, r);
}

static json_t *action_ok(long id, const char *what, const char *json)
{
	struct http_result r;
	json_t *j;

	action(id, what, json, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	http_result_release(&r);
	return j;
}

static void action_refused(long id, const char *what, const char *json, long status,
			   const char *slug, const char *detail)
{
	struct http_result r;

	action(id, what, json, &r);
	assert_problem(&r, status, slug, detail);
	http_result_release(&r);
}

static const char *status_of(json_t *dep)
{
	return json_string_value(json_object_get(dep, "status"));
}

static long current_stage(json_t *dep)
{
	return (long)json_integer_value(json_object_get(dep, "current_stage"));
}

/* Poll the deployment (the housekeeping loop runs about once a second)
 * until its status is `status` and its current stage `stage` (0: any);
 * fails after 15 s. Returns the deployment. */
static json_t *wait_for(long id, const char *status, long stage)
{
	for (int i = 0; i < 150; i++) {
		json_t *dep = deployment(id);
		if (strcmp(status_of(dep), status) == 0 && (!stage || current_stage(dep) == stage))
			return dep;
		json_decref(dep);
		usleep(100 * 1000);
	}
	json_t *dep = deployment(id);
	ck_abort_msg("deployment %ld: status %s stage %ld, want %s stage %ld", id, status_of(dep),
		     current_stage(dep), status, stage);
	return NULL;
}

/* Each device's stage from GET /api/v1/deployments/ID/devices. */
static void read_stages(long id, unsigned n)
{
	struct http_result r;
	char path[96];
	json_t *j, *item;
	size_t i;

	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/devices?limit=100", id);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), n);
	json_array_foreach(json_object_get(j, "items"), i, item)
	{
		const char *d = json_string_value(json_object_get(item, "device"));
		for (unsigned k = 0; k < n; k++)
			if (strcmp(d, dev[k].id) == 0)
				dev[k].stage =
					(int)json_integer_value(json_object_get(item, "stage"));
	}
	json_decref(j);
	http_result_release(&r);
}

/* Devices by the stage the spec says: sorted by SHA-256("<id>:<device>"),
 * the first ceil(n × p / 100) in the stages up to p. Checked against the
 * daemon's answer. */
static void assert_membership(long id, unsigned n, const unsigned *percents, unsigned stages)
{
	char text[64], hex[DEVICES_MAX][65];
	unsigned order[DEVICES_MAX];

	for (unsigned i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%ld:%s", id, dev[i].id);
		sha256_hex(text, strlen(text), hex[i]);
		order[i] = i;
	}
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = i + 1; k < n; k++)
			if (strcmp(hex[order[k]], hex[order[i]]) < 0) {
				unsigned t = order[i];
				order[i] = order[k];
				order[k] = t;
			}
	for (unsigned rank = 0; rank < n; rank++) {
		unsigned s = 0;
		while (s + 1 < stages && rank >= (n * percents[s] + 99) / 100)
			s++;
		ck_assert_msg(dev[order[rank]].stage == (int)s + 1, "%s: stage %d, want %u",
			      dev[order[rank]].id, dev[order[rank]].stage, s + 1);
	}
}

/* Delivered (the check-in), installed, then confirmed by a check-in that
 * reports the new sequence number. */
static void update(const struct device *d)
{
	struct http_result r;

	report_ok(d->token, rep(&F.m1, "installed", ""));
	checkin(d->token, "seq=1", NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
}

static long deploy_group(const char *rollout)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"group\":\"" GROUP "\"},\"rollout\":%s}",
		 F.m1.digest, rollout);
	return deploy(json, NULL);
}

static long stage_devices(json_t *dep, unsigned stage)
{
	json_t *s = json_array_get(json_object_get(dep, "stages"), stage - 1);

	return (long)json_integer_value(json_object_get(s, "devices"));
}

static const struct device *device_in_stage(int stage, unsigned n, unsigned skip)
{
	for (unsigned i = 0; i < n; i++)
		if (dev[i].stage == stage && skip-- == 0)
			return &dev[i];
	ck_abort_msg("no device %u in stage %d", skip, stage);
	return NULL;
}

/* A report never moves an assignment the server has not delivered. The
 * outside review's repro: a device of a closed stage got 204 at check-in,
 * POSTed "downloading" (204) and got the envelope at its next check-in; a
 * SUIT_Report with an invoke record took a held device from pending to
 * confirmed. Now both are 409, nothing is written, and the device is still
 * held; the same in a paused deployment, where a device that already has
 * the manifest goes on reporting. */
START_TEST(test_reports_on_held_assignments)
{
	static const char not_delivered[] = "the manifest has not been delivered to this device";
	unsigned char suit[64];
	size_t suit_len = suit_report_invoked(&F.m1, suit);
	struct http_result r;
	long id;

	add_devices(10);
	id = deploy_group("{\"stages\":[50,100]}");
	read_stages(id, 10);
	const struct device *held = device_in_stage(2, 10, 0), *held2 = device_in_stage(2, 10, 1);
	const struct device *open1 = device_in_stage(1, 10, 0), *open2 = device_in_stage(1, 10, 1);

	expect_nothing(held->token, NULL);
	report_refused(held->token, rep(&F.m1, "downloading", ""), 409, "conflict", not_delivered);
	expect_nothing(held->token, NULL);
	assert_assignment(id, held->id, "pending", "");
	report_ex(held2->token, "application/suit-report+cose", suit, suit_len, &r);
	assert_problem(&r, 409, "conflict", not_delivered);
	http_result_release(&r);
	assert_assignment(id, held2->id, "pending", "");
	expect_nothing(held2->token, NULL);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM reports"), 0);
	ck_assert_uint_eq(harness_metric(&P, "suitd_reports_total{outcome=\"refused\"}"), 2);

	/* Paused: a device of the open stage that has not polled yet waits and
	 * cannot report; one that has the manifest goes on. */
	expect_envelope(open1->token, NULL, &F.m1);
	json_decref(action_ok(id, "pause", NULL));
	expect_nothing(open2->token, NULL);
	report_refused(open2->token, rep(&F.m1, "installed", ""), 409, "conflict", not_delivered);
	assert_assignment(id, open2->id, "pending", "");
	report_ok(open1->token, rep(&F.m1, "downloading", "\"progress\":40"));
	assert_assignment(id, open1->id, "downloading", "");
	report_ex(open1->token, "application/suit-report+cose", suit, suit_len, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	assert_assignment(id, open1->id, "confirmed", "");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM reports"), 2);
	assert_counts(id, "pending=9,confirmed=1");
}
END_TEST

/* Retry: the failed and timed-out devices of a deployment start again from
 * pending and get the manifest at their next check-in; one that a newer
 * deployment took over since is left alone (a retry never supersedes); a
 * completed deployment runs again; a canceled one cannot be retried. */
START_TEST(test_retry)
{
	struct manifest m2;
	json_t *dep, *retry;
	long id, newer;

	add_devices(4);
	id = deploy_group("{\"failure_threshold\":100}");
	for (unsigned i = 0; i < 4; i++)
		expect_envelope(dev[i].token, NULL, &F.m1);
	report_ok(dev[0].token, rep(&F.m1, "failed", "\"reason\":\"flash full\""));
	report_ok(dev[1].token, rep(&F.m1, "failed", "\"reason\":\"power cut\""));
	report_ok(dev[2].token, rep(&F.m1, "failed", "\"reason\":\"bad luck\""));
	update(&dev[3]);
	/* A newer deployment takes dev[2] over. */
	make_manifest("m2", "sensor-v1", "2", &m2);
	char ids[64];
	snprintf(ids, sizeof(ids), "[\"%s\"]", dev[2].id);
	newer = deploy_devices(&m2, ids);
	json_decref(wait_for(id, "completed", 0));

	dep = action_ok(id, "retry", NULL);
	retry = json_object_get(dep, "retry");
	ck_assert_int_eq(json_integer_value(json_object_get(retry, "retried")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(retry, "not_retried")), 1);
	ck_assert_str_eq(status_of(dep), "active");
	json_decref(dep);
	assert_assignment(id, dev[0].id, "pending", "");
	assert_assignment(id, dev[1].id, "pending", "");
	assert_assignment(id, dev[2].id, "failed", "bad luck");
	assert_assignment(newer, dev[2].id, "pending", "");
	assert_counts(id, "pending=2,failed=1,confirmed=1");
	/* Delivered again at the next check-in; then the cycle as usual. */
	expect_envelope(dev[0].token, NULL, &F.m1);
	update(&dev[0]);
	assert_assignment(id, dev[0].id, "confirmed", "");
	expect_envelope(dev[2].token, NULL, &m2);

	/* Nothing left to retry: 200, zero. */
	dep = action_ok(id, "retry", NULL);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(dep, "retry"), "retried")), 0);
	json_decref(dep);
	json_decref(action_ok(id, "cancel", NULL));
	action_refused(id, "retry", NULL, 409, "conflict",
		       "the deployment is canceled: deploy the manifest again");
	action_refused(9999, "retry", NULL, 404, "not-found", "no such deployment");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
					     "'deployment.retried'"),
			 1);
	manifest_release(&m2);
}
END_TEST

/* Three stages open one after the other as their devices confirm; devices
 * of a closed stage get 204; the last confirmation completes it. */
START_TEST(test_stages_advance)
{
	static const unsigned percents[] = {10, 50, 100};
	long id;
	json_t *dep;

	add_devices(10);
	id = deploy_group("{\"stages\":[10,50,100],\"success_threshold\":100,"
			  "\"failure_threshold\":50}");
	read_stages(id, 10);
	assert_membership(id, 10, percents, 3);
	dep = deployment(id);
	ck_assert_str_eq(status_of(dep), "active");
	ck_assert_int_eq(current_stage(dep), 1);
	ck_assert_int_eq(stage_devices(dep, 1), 1);
	ck_assert_int_eq(stage_devices(dep, 2), 4);
	ck_assert_int_eq(stage_devices(dep, 3), 5);
	ck_assert(json_is_string(
		json_object_get(json_array_get(json_object_get(dep, "stages"), 0), "opened_at")));
	ck_assert(json_is_null(
		json_object_get(json_array_get(json_object_get(dep, "stages"), 1), "opened_at")));
	json_decref(dep);

	for (int stage = 1; stage <= 3; stage++) {
		for (unsigned i = 0; i < 10; i++) {
			if (dev[i].stage == stage)
				expect_envelope(dev[i].token, NULL, &F.m1);
			else if (dev[i].stage > stage)
				expect_nothing(dev[i].token, NULL);
		}
		dep = deployment(id);
		long left = stage_devices(dep, (unsigned)stage);
		json_decref(dep);
		/* One device short of the threshold (100 %): the stage stays. */
		for (unsigned i = 0; i < 10; i++) {
			if (dev[i].stage != stage)
				continue;
			if (--left == 0) {
				sleep(2);
				dep = deployment(id);
				ck_assert_int_eq(current_stage(dep), stage);
				ck_assert_str_eq(status_of(dep), "active");
				json_decref(dep);
			}
			update(&dev[i]);
		}
		dep = wait_for(id, stage < 3 ? "active" : "completed", stage < 3 ? stage + 1 : 3);
		json_decref(dep);
	}
	dep = deployment(id);
	ck_assert(json_is_string(json_object_get(dep, "completed_at")));
	ck_assert_int_eq(count_of(dep, "confirmed"), 10);
	json_decref(dep);
	ck_assert(harness_log_contains(&P, "opening stage 3"));
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
					     "'deployment.stage_opened'"),
			 2);
}
END_TEST

/* A failure in a small first stage pauses the deployment; resuming needs
 * an acknowledgment, which accepts the failure; the rest then follows. */
START_TEST(test_auto_pause)
{
	const struct device *a = NULL, *b = NULL, *late = NULL;
	struct http_result r;
	long id;
	json_t *dep, *p;

	add_devices(10);
	id = deploy_group("{\"stages\":[20,100],\"failure_threshold\":10}");
	read_stages(id, 10);
	for (unsigned i = 0; i < 10; i++) {
		if (dev[i].stage != 1)
			late = &dev[i];
		else if (!a)
			a = &dev[i];
		else
			b = &dev[i];
	}
	if (!a || !b || !late)
		ck_abort_msg("stage 1 must hold 2 devices, stage 2 the rest");
	expect_envelope(a->token, NULL, &F.m1);
	report_ok(a->token, rep(&F.m1, "failed", "\"reason\":\"flash write error\""));

	dep = wait_for(id, "paused", 1);
	p = json_object_get(dep, "paused");
	ck_assert(json_is_true(json_object_get(p, "automatic")));
	ck_assert_str_eq(json_string_value(json_object_get(p, "by")), "suitd");
	ck_assert_str_eq(json_string_value(json_object_get(p, "reason")),
			 "1 of 2 released devices failed or timed out (50 %, failure "
			 "threshold 10 %)");
	json_decref(dep);
	/* Paused: nobody pending gets the manifest, no stage opens. */
	expect_nothing(b->token, NULL);
	expect_nothing(late->token, NULL);
	api("GET", "/api/v1/deployments?status=paused", NULL, &r);
	assert_status(&r, 200);
	dep = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(dep, "items")), 1);
	json_decref(dep);
	http_result_release(&r);

	action_refused(id, "resume", NULL, 409, "conflict",
		       "suitd paused this deployment (1 of 2 released devices failed or timed "
		       "out (50 %, failure threshold 10 %)); resume with {\"acknowledge\": "
		       "true} to accept these failures");
	action_refused(id, "resume", "{\"acknowledge\":false}", 409, "conflict", NULL);
	action_refused(id, "resume", "{\"acknowledge\":\"yes\"}", 400, "invalid-request",
		       "field 'acknowledge' must be a boolean");
	dep = action_ok(id, "resume", "{\"acknowledge\":true}");
	ck_assert_str_eq(status_of(dep), "active");
	ck_assert(json_is_null(json_object_get(dep, "paused")));
	ck_assert_int_eq(json_integer_value(json_object_get(dep, "failures_acknowledged")), 1);
	json_decref(dep);

	/* The acknowledged failure counts neither way: b alone opens stage 2. */
	expect_envelope(b->token, NULL, &F.m1);
	expect_nothing(late->token, NULL);
	update(b);
	json_decref(wait_for(id, "active", 2));
	expect_envelope(late->token, NULL, &F.m1);
	ck_assert(harness_log_contains(&P, "paused: 1 of 2 released devices failed"));
}
END_TEST

/* Operators pause and resume; a paused deployment holds pending devices
 * back and can be canceled; refusals say why. */
START_TEST(test_manual_pause)
{
	struct http_result r;
	long id;
	json_t *dep, *p;

	add_devices(2);
	id = deploy_group("{}");
	dep = deployment(id);
	ck_assert_uint_eq(
		json_array_size(json_object_get(json_object_get(dep, "rollout"), "stages")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(dep, "rollout"),
							    "success_threshold")),
			 95);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(dep, "rollout"),
							    "failure_threshold")),
			 5);
	json_decref(dep);
	expect_envelope(dev[0].token, NULL, &F.m1);

	action_refused(id, "pause", "{\"reason\":5}", 400, "invalid-request",
		       "field 'reason' must be a string");
	action_refused(id, "pause", "{\"why\":\"x\"}", 400, "invalid-request",
		       "unknown field 'why' (only 'reason')");
	action_refused(id, "resume", NULL, 409, "conflict", "the deployment is active, not paused");
	dep = action_ok(id, "pause", "{\"reason\":\"holiday freeze\"}");
	ck_assert_str_eq(status_of(dep), "paused");
	p = json_object_get(dep, "paused");
	ck_assert(json_is_false(json_object_get(p, "automatic")));
	ck_assert_str_eq(json_string_value(json_object_get(p, "by")), "test-admin");
	ck_assert_str_eq(json_string_value(json_object_get(p, "reason")), "holiday freeze");
	json_decref(dep);
	action_refused(id, "pause", NULL, 409, "conflict", "the deployment is paused");

	/* Pending devices wait; one that has the manifest goes on. */
	expect_nothing(dev[1].token, NULL);
	expect_envelope(dev[0].token, NULL, &F.m1);
	report_ok(dev[0].token, rep(&F.m1, "downloading", ""));
	sleep(2); /* housekeeping must not touch a paused deployment */
	dep = deployment(id);
	ck_assert_str_eq(status_of(dep), "paused");
	json_decref(dep);

	dep = action_ok(id, "resume", NULL);
	ck_assert_str_eq(status_of(dep), "active");
	json_decref(dep);
	expect_envelope(dev[1].token, NULL, &F.m1);

	json_decref(action_ok(id, "pause", NULL));
	dep = action_ok(id, "cancel", NULL);
	ck_assert_str_eq(status_of(dep), "canceled");
	ck_assert(json_is_string(json_object_get(dep, "canceled_at")));
	json_decref(dep);
	action_refused(id, "pause", NULL, 409, "conflict", "the deployment is canceled");
	action_refused(id, "resume", NULL, 409, "conflict",
		       "the deployment is canceled, not paused");
	action_refused(999, "pause", NULL, 404, "not-found", "no such deployment");
	api("GET", "/api/v1/deployments?status=paused", NULL, &r);
	assert_status(&r, 200);
	dep = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(dep, "items")), 0);
	json_decref(dep);
	http_result_release(&r);
}
END_TEST

/* Completed when no device is left in progress; a device that joins the
 * group later makes it active again and gets the update. */
START_TEST(test_complete_and_join)
{
	char token[128];
	long id;
	json_t *dep;

	add_devices(2);
	id = deploy_group("{}");
	for (unsigned i = 0; i < 2; i++) {
		expect_envelope(dev[i].token, NULL, &F.m1);
		update(&dev[i]);
	}
	dep = wait_for(id, "completed", 0);
	ck_assert(json_is_string(json_object_get(dep, "completed_at")));
	json_decref(dep);
	action_refused(id, "cancel", NULL, 409, "conflict", "the deployment is completed");
	action_refused(id, "pause", NULL, 409, "conflict", "the deployment is completed");

	add_device("late-joiner", GROUP, token, sizeof(token));
	dep = deployment(id);
	ck_assert_str_eq(status_of(dep), "active");
	ck_assert(json_is_null(json_object_get(dep, "completed_at")));
	ck_assert_int_eq(json_integer_value(json_object_get(dep, "devices")), 3);
	json_decref(dep);
	expect_envelope(token, NULL, &F.m1);
}
END_TEST

/* Bad rollout policies are refused with the field named. */
START_TEST(test_bad_rollouts)
{
	static const char stages_why[] = "field 'rollout.stages' must be 1 to 20 increasing "
					 "percentages ending with 100, like [1, 10, 50, 100]";
	static const char threshold_why[] = "fields 'rollout.success_threshold' and "
					    "'rollout.failure_threshold' are percentages 0..100";
	static const struct {
		const char *rollout, *detail;
	} bad[] = {
		{"{\"stages\":[]}", stages_why},
		{"{\"stages\":[10,50]}", stages_why},
		{"{\"stages\":[50,10,100]}", stages_why},
		{"{\"stages\":[10,10,100]}", stages_why},
		{"{\"stages\":[0,100]}", stages_why},
		{"{\"stages\":[1.5,100]}", stages_why},
		{"{\"stages\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,100]}",
		 stages_why},
		{"{\"stages\":\"10,100\"}", stages_why},
		{"{\"success_threshold\":101}", threshold_why},
		{"{\"failure_threshold\":-1}", threshold_why},
		{"{\"failure_threshold\":true}", threshold_why},
	};
	struct http_result r;
	char json[512];

	add_devices(1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"manifest\":\"%s\",\"target\":{\"group\":\"" GROUP "\"},"
			 "\"rollout\":%s}",
			 F.m1.digest, bad[i].rollout);
		api("POST", "/api/v1/deployments", json, &r);
		assert_problem(&r, 400, "invalid-request", bad[i].detail);
		http_result_release(&r);
	}
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM deployments"), 0);
	/* 20 stages is the most. */
	deploy_group("{\"stages\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,100]}");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-rollouts");
	TCase *tc = tcase_create("rollouts");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, fleet_setup, fleet_teardown);
	tcase_add_test(tc, test_stages_advance);
	tcase_add_test(tc, test_auto_pause);
	tcase_add_test(tc, test_manual_pause);
	tcase_add_test(tc, test_complete_and_join);
	tcase_add_test(tc, test_bad_rollouts);
	tcase_add_test(tc, test_reports_on_held_assignments);
	tcase_add_test(tc, test_retry);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
