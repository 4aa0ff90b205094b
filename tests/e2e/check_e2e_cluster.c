/* Several suitd nodes on one PostgreSQL database (issue 22): three real
 * daemons on the suite's throwaway server, each with its own port and
 * certificates. What one node changes, the others' memory follows (a
 * deployment offered, a rotated token refused, through the event log and
 * NOTIFY); exactly one node is the housekeeper, another takes over when it
 * is killed, and the clock's steps of a rollout happen once; a restart of
 * the database server is survived without restarting any node. On SQLite
 * (one node) the suite checks that none of this is switched on. Keys and
 * certificates are test-only. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "tests/check_run.h"

/* How long a test waits for what the design promises in about a second
 * (docs/design.md "Several nodes on one PostgreSQL"): a bound on a hang,
 * not a timing claim. The measured windows are printed, and bench/
 * cluster.sh measures them. The housekeeper's takeover is promised within
 * 10 s by the issue: that one is asserted. */
#define WAIT_MS		10000
#define TAKEOVER_MAX_MS 10000
#define GROUP		"fleet"
#define ROLLOUT_DEVICES 10

static struct suitd_proc B, C;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup(void)
{
	fleet_setup();
	if (!harness_backend_is_pg())
		return;
	harness_setup_node(&B, &P);
	harness_setup_node(&C, &P);
	harness_start(&B);
	harness_start(&C);
}

static void teardown(void)
{
	if (harness_backend_is_pg()) {
		ck_assert_int_eq(harness_stop(&B), 0);
		ck_assert_int_eq(harness_stop(&C), 0);
		harness_cleanup(&B);
		harness_cleanup(&C);
	}
	fleet_teardown();
}

static void node_api(struct suitd_proc *n, const char *method, const char *path, const char *json,
		     struct http_result *r)
{
	harness_request(n, method, path, n->admin_key, json ? "application/json" : NULL, json,
			json ? strlen(json) : 0, r);
}

/* The status of a check-in with token on node n (query: NULL or "seq=N");
 * when it is 200, the body must be manifest m's envelope. */
static long node_checkin_q(struct suitd_proc *n, const char *token, const char *query,
			   const struct manifest *m)
{
	struct http_result r;
	char path[128];
	long status;

	snprintf(path, sizeof(path), "%s%s%s", CHECKIN, query ? "?" : "", query ? query : "");
	harness_request_ex(n, "GET", path, token, NULL, NULL, 0, &r);
	status = r.status;
	if (status == 200 && m)
		assert_envelope(&r, m);
	http_result_release(&r);
	return status;
}

static long node_checkin(struct suitd_proc *n, const char *token, const struct manifest *m)
{
	return node_checkin_q(n, token, NULL, m);
}

static void node_report(struct suitd_proc *n, const char *token, const char *json)
{
	struct http_result r;

	harness_request(n, "POST", REPORTS, token, "application/json", json, strlen(json), &r);
	assert_status(&r, 204);
	http_result_release(&r);
}

/* Poll node n's check-in with token until it answers want; the time it
 * took in ms. */
static int64_t wait_checkin(struct suitd_proc *n, const char *token, long want,
			    const struct manifest *m)
{
	int64_t t0 = now_ms();
	long got;

	while ((got = node_checkin(n, token, m)) != want) {
		ck_assert_msg(now_ms() - t0 < WAIT_MS,
			      "node %s: check-in %ld, want %ld after %d ms", n->url, got, want,
			      WAIT_MS);
		usleep(5 * 1000);
	}
	return now_ms() - t0;
}

static unsigned long long metric(struct suitd_proc *n, const char *series)
{
	return harness_metric(n, series);
}

/* The same while the database may be down: /metrics then answers 503
 * (it reads the fleet counts), and that is "not yet": 0. */
static unsigned long long metric_or_0(struct suitd_proc *n, const char *series)
{
	struct http_result r;
	unsigned long long v = 0;

	node_api(n, "GET", "/metrics", NULL, &r);
	if (r.status == 200)
		v = harness_metric_of(&r, series);
	else
		assert_status(&r, 503);
	http_result_release(&r);
	return v;
}

/* The node holding the lease, once exactly one of the live ones does (it
 * is taken within a second of a start). */
static struct suitd_proc *housekeeper(struct suitd_proc *const *nodes, unsigned count)
{
	int64_t t0 = now_ms();

	for (;;) {
		struct suitd_proc *h = NULL;
		unsigned holders = 0;
		for (unsigned i = 0; i < count; i++)
			if (metric(nodes[i], "suitd_cluster_housekeeper") == 1) {
				h = nodes[i];
				holders++;
			}
		ck_assert_msg(holders <= 1, "%u nodes hold the housekeeper lease", holders);
		if (holders == 1)
			return h;
		ck_assert_msg(now_ms() - t0 < TAKEOVER_MAX_MS, "no housekeeper after %d ms",
			      TAKEOVER_MAX_MS);
		usleep(20 * 1000);
	}
}

static json_t *node_deployment(struct suitd_proc *n, long id)
{
	struct http_result r;
	char path[64];
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/deployments/%ld", id);
	node_api(n, "GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	http_result_release(&r);
	return j;
}

/* Poll the deployment through node n until status and current stage. */
static void wait_deployment(struct suitd_proc *n, long id, const char *status, long stage)
{
	int64_t t0 = now_ms();

	for (;;) {
		json_t *d = node_deployment(n, id);
		const char *s = json_string_value(json_object_get(d, "status"));
		long cur = (long)json_integer_value(json_object_get(d, "current_stage"));
		bool done = s && strcmp(s, status) == 0 && cur == stage;
		if (!done && now_ms() - t0 >= 15000)
			ck_abort_msg("deployment %ld: %s stage %ld, want %s stage %ld", id, s, cur,
				     status, stage);
		json_decref(d);
		if (done)
			return;
		usleep(50 * 1000);
	}
}

static long events_of(const char *type, long deployment)
{
	char sql[192];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM events WHERE type = '%s' AND deployment_id = %ld", type,
		 deployment);
	return harness_sql_int(&P, sql);
}

/* A deployment created through node A is offered by nodes B and C, which
 * had answered "nothing to do" from memory just before. */
START_TEST(test_deployment_offered_by_every_node)
{
	char token[128];
	long id;

	add_device("d1", NULL, token, sizeof(token));
	ck_assert_int_eq(node_checkin(&B, token, NULL), 204);
	ck_assert_int_eq(node_checkin(&C, token, NULL), 204);
	id = deploy_devices(&F.m1, "[\"d1\"]");
	int64_t on_c = wait_checkin(&C, token, 200, &F.m1);
	int64_t on_b = wait_checkin(&B, token, 200, &F.m1);
	fprintf(stderr, "deployment %ld offered by node C after %lld ms, B after %lld ms more\n",
		id, (long long)on_c, (long long)on_b);
	/* The delivery on C moved the assignment; A and B follow. C's own
	 * events are ones its index already showed: nothing read for them. */
	assert_assignment(id, "d1", "delivered", "");
	node_report(&C, token, rep(&F.m1, "downloading", ""));
	node_report(&C, token, rep(&F.m1, "installed", ""));
	ck_assert_uint_ge(metric(&B, "suitd_cluster_events_applied_total"), 1);
	ck_assert_uint_ge(metric(&C, "suitd_cluster_notifications_total"), 1);
	int64_t t0 = now_ms();
	while (metric(&C, "suitd_cluster_events_current_total") < 1)
		ck_assert_msg(now_ms() - t0 < WAIT_MS && usleep(20 * 1000) == 0,
			      "node C read each of its own changes again");
}
END_TEST

/* A deployment too large to prepare inline (tracker/fanout.c) reaches the
 * other nodes slice by slice (deployment.assigned), not only once it is
 * prepared: here it never is, since a test hook fails the slice of the
 * group's last device. Node B offers it to a device of the first slice. */
START_TEST(test_large_deployment_reaches_nodes_while_preparing)
{
	char token[128], json[256];
	long id;

	add_device("big-0", "big", token, sizeof(token));
	ck_assert_int_eq(node_checkin(&B, token, NULL), 204);
	harness_sql_exec(&P, "INSERT INTO devices (id, grp, created_at) "
			     "SELECT 'big-' || g, 'big', 1 FROM generate_series(1, 2100) g");
	harness_pg_hook(&P, "assignments",
			"IF NEW.device_num = (SELECT max(num) FROM devices WHERE grp = 'big') THEN "
			"RAISE EXCEPTION 'test: the last slice fails'; END IF;");
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"group\":\"big\"}}",
		 F.m1.digest);
	id = deploy(json, NULL);
	int64_t on_b = wait_checkin(&B, token, 200, &F.m1);
	fprintf(stderr,
		"deployment %ld (2101 devices, preparing) offered by node B after %lld ms\n", id,
		(long long)on_b);
	ck_assert_int_ge(events_of("deployment.assigned", id), 1);
	ck_assert_int_eq(events_of("deployment.prepared", id), 0);
	harness_pg_hook_drop(&P, "assignments");
}
END_TEST

/* A node that starts removes the unfinished uploads of a crashed run, but
 * on a shared database only those older than a day: another node may be
 * receiving the younger ones. */
START_TEST(test_restart_keeps_uploads_of_other_nodes)
{
	harness_sql_exec(&P, "INSERT INTO uploads (state, chunk_size, started_at) VALUES "
			     "('receiving', 65536, extract(epoch FROM now())::bigint - 60), "
			     "('receiving', 65536, extract(epoch FROM now())::bigint - 172800)");
	harness_kill9(&C);
	harness_start(&C);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads WHERE state = "
					     "'receiving' AND started_at > extract(epoch FROM "
					     "now())::bigint - 3600"),
			 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads WHERE state = "
					     "'receiving' AND started_at < extract(epoch FROM "
					     "now())::bigint - 86400"),
			 0);
	ck_assert(harness_log_contains(&C,
				       "removed 1 unfinished uploads started more than 24 h ago"));
	/* Alone on the database (every other node stopped, their sessions
	 * and presence locks gone), a node removes every one. */
	harness_stop(&P);
	harness_stop(&B);
	harness_kill9(&C);
	for (int64_t t0 = now_ms(); harness_sql_int(&P, "SELECT count(*) FROM pg_locks "
							"WHERE locktype = 'advisory'") > 0;
	     usleep(20 * 1000))
		ck_assert_msg(now_ms() - t0 < WAIT_MS, "the stopped nodes' locks stay");
	harness_start(&C);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads WHERE state = "
					     "'receiving'"),
			 0);
	ck_assert(
		harness_log_contains(&C, "removed 1 unfinished uploads left by the previous run"));
	harness_start(&P);
	harness_start(&B);
}
END_TEST

/* A token rotated through node B is refused by A and C, which had it in
 * their token caches; the new one works everywhere. */
START_TEST(test_token_rotated_on_one_node_refused_by_all)
{
	struct http_result r;
	char token[128], fresh[128];
	json_t *j;

	add_device("d2", NULL, token, sizeof(token));
	ck_assert_int_eq(node_checkin(&P, token, NULL), 204);
	ck_assert_int_eq(node_checkin(&C, token, NULL), 204);
	node_api(&B, "POST", "/api/v1/devices/d2/token", NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	snprintf(fresh, sizeof(fresh), "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	http_result_release(&r);
	int64_t on_a = wait_checkin(&P, token, 401, NULL);
	int64_t on_c = wait_checkin(&C, token, 401, NULL);
	fprintf(stderr, "rotated token refused by node A after %lld ms, C after %lld ms more\n",
		(long long)on_a, (long long)on_c);
	ck_assert_int_eq(node_checkin(&P, fresh, NULL), 204);
	ck_assert_int_eq(node_checkin(&C, fresh, NULL), 204);
	ck_assert_int_eq(node_checkin(&B, token, NULL), 401);
}
END_TEST

/* One housekeeper; killed, another node takes the lease within 10 s; the
 * killed node, started again, waits as a standby. */
START_TEST(test_housekeeper_takeover)
{
	struct suitd_proc *all[] = {&P, &B, &C};
	struct suitd_proc *h = housekeeper(all, 3), *rest[2];
	unsigned k = 0;

	for (unsigned i = 0; i < 3; i++)
		if (all[i] != h)
			rest[k++] = all[i];
	harness_kill9(h);
	int64_t t0 = now_ms();
	struct suitd_proc *next = housekeeper(rest, 2);
	fprintf(stderr, "housekeeper taken over after %lld ms\n", (long long)(now_ms() - t0));
	ck_assert_ptr_ne(next, h);
	ck_assert_uint_eq(metric(next, "suitd_cluster_housekeeper_gained_total"), 1);
	harness_start(h);
	ck_assert_ptr_eq(housekeeper(all, 3), next);
	ck_assert_uint_eq(metric(h, "suitd_cluster_housekeeper"), 0);
}
END_TEST

/* A staged rollout whose housekeeper is killed mid-rollout: the next one
 * opens stage 2 and later pauses the deployment on a failure, each step
 * once in the event log. */
START_TEST(test_rollout_survives_its_housekeeper)
{
	struct suitd_proc *all[] = {&P, &B, &C};
	char tokens[ROLLOUT_DEVICES][128], id_text[32], json[512];
	long stage_of[ROLLOUT_DEVICES], id;
	struct http_result r;
	json_t *j, *item;
	size_t i;

	for (unsigned d = 0; d < ROLLOUT_DEVICES; d++) {
		snprintf(id_text, sizeof(id_text), "unit-%02u", d);
		add_device(id_text, GROUP, tokens[d], sizeof(tokens[d]));
	}
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"group\":\"" GROUP "\"},"
		 "\"rollout\":{\"stages\":[20,100],\"success_threshold\":100,"
		 "\"failure_threshold\":5}}",
		 F.m1.digest);
	id = deploy(json, NULL);
	snprintf(json, sizeof(json), "/api/v1/deployments/%ld/devices?limit=100", id);
	node_api(&B, "GET", json, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	json_array_foreach(json_object_get(j, "items"), i, item)
	{
		unsigned long d =
			strtoul(json_string_value(json_object_get(item, "device")) + 5, NULL, 10);
		ck_assert_uint_lt(d, ROLLOUT_DEVICES);
		stage_of[d] = (long)json_integer_value(json_object_get(item, "stage"));
	}
	json_decref(j);
	http_result_release(&r);

	/* Stage 1's devices get the manifest from B and C; then the node
	 * holding the lease dies before they confirm. */
	for (unsigned d = 0; d < ROLLOUT_DEVICES; d++)
		if (stage_of[d] == 1)
			wait_checkin(d % 2 ? &B : &C, tokens[d], 200, &F.m1);
	for (unsigned d = 0; d < ROLLOUT_DEVICES; d++)
		if (stage_of[d] != 1)
			ck_assert_int_eq(node_checkin(d % 2 ? &B : &C, tokens[d], NULL), 204);
	struct suitd_proc *h = housekeeper(all, 3);
	harness_kill9(h);
	struct suitd_proc *live = h == &B ? &C : &B;
	for (unsigned d = 0; d < ROLLOUT_DEVICES; d++)
		if (stage_of[d] == 1) {
			/* Installed, then confirmed by the new sequence number. */
			node_report(live, tokens[d], rep(&F.m1, "installed", ""));
			ck_assert_int_eq(node_checkin_q(live, tokens[d], "seq=1", NULL), 204);
		}
	wait_deployment(live, id, "active", 2);
	/* Stage 2: one device fails, 1 of 10, over the 5 % threshold. */
	for (unsigned d = 0; d < ROLLOUT_DEVICES; d++)
		if (stage_of[d] == 2) {
			wait_checkin(live, tokens[d], 200, &F.m1);
			node_report(live, tokens[d], rep(&F.m1, "failed", "\"reason\":\"test\""));
			break;
		}
	wait_deployment(live, id, "paused", 2);
	harness_start(h);
	sleep(2); /* a few housekeeping rounds of every node */
	ck_assert_int_eq(events_of("deployment.stage_opened", id), 1);
	ck_assert_int_eq(events_of("deployment.paused", id), 1);
}
END_TEST

/* The database server restarts (-m immediate: every connection cut): each
 * node reconnects by itself, reloads its memory, one takes the lease, and
 * what changes afterwards reaches every node. */
START_TEST(test_database_restart)
{
	struct suitd_proc *all[] = {&P, &B, &C};
	char token[128];
	long id;

	add_device("d3", NULL, token, sizeof(token));
	ck_assert_int_eq(node_checkin(&C, token, NULL), 204);
	harness_pg_restart();
	for (unsigned n = 0; n < 3; n++) {
		int64_t t0 = now_ms();
		/* Reconnected, then reloaded (on the follower's thread, once its
		 * own connection is back too). */
		while (metric_or_0(all[n], "suitd_cluster_reconnects_total") < 1 ||
		       metric_or_0(all[n], "suitd_cluster_reloads_total") < 1) {
			ck_assert_msg(now_ms() - t0 < WAIT_MS,
				      "node %u did not reconnect and reload", n);
			usleep(50 * 1000);
		}
		struct http_result r;
		harness_request(all[n], "GET", "/readyz", NULL, NULL, NULL, 0, &r);
		assert_status(&r, 200);
		http_result_release(&r);
	}
	housekeeper(all, 3);
	id = deploy_devices(&F.m1, "[\"d3\"]");
	wait_checkin(&C, token, 200, &F.m1);
	assert_assignment(id, "d3", "delivered", "");
}
END_TEST

/* The database is down for a few seconds while a device reports to node C:
 * the reports get 503 and C's group-commit writer finds no server when it
 * tries to reconnect. Once the server is back, the reports commit again.
 * (The writer kept its first handle and so never reconnected: every report
 * to that node got 503 until it was restarted; tests/cluster/run.sh found
 * it.) */
START_TEST(test_writer_reconnects_after_outage)
{
	char token[128];
	struct http_result r;
	const char *body;
	long status = 0;
	int64_t t0;

	add_device("d5", NULL, token, sizeof(token));
	deploy_devices(&F.m1, "[\"d5\"]");
	wait_checkin(&C, token, 200, &F.m1);
	body = rep(&F.m1, "downloading", "");
	node_report(&C, token, body);
	harness_pg_outage(3);
	/* Reports until one fails: the server is down and the writer met it. */
	for (t0 = now_ms(); status != 503; usleep(20 * 1000)) {
		ck_assert_msg(now_ms() - t0 < WAIT_MS,
			      "no report failed while the database was down");
		harness_request(&C, "POST", REPORTS, token, "application/json", body, strlen(body),
				&r);
		status = r.status;
		ck_assert_msg(status == 204 || status == 503, "report: %ld", status);
		http_result_release(&r);
	}
	/* Then until one commits again, on the same node. */
	for (t0 = now_ms(); status != 204; usleep(50 * 1000)) {
		ck_assert_msg(now_ms() - t0 < WAIT_MS + 3000,
			      "node C still refuses reports %d ms after the outage began",
			      WAIT_MS + 3000);
		harness_request(&C, "POST", REPORTS, token, "application/json", body, strlen(body),
				&r);
		status = r.status;
		http_result_release(&r);
	}
}
END_TEST

/* SQLite: one node. Nothing of the cluster runs; its series are absent. */
START_TEST(test_single_node_has_no_cluster)
{
	struct http_result r;

	node_api(&P, "GET", "/metrics", NULL, &r);
	assert_status(&r, 200);
	ck_assert_ptr_null(strstr(r.body, "suitd_cluster_"));
	http_result_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-cluster");
	TCase *tc = tcase_create("cluster");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	if (harness_backend_is_pg()) {
		tcase_add_test(tc, test_deployment_offered_by_every_node);
		tcase_add_test(tc, test_large_deployment_reaches_nodes_while_preparing);
		tcase_add_test(tc, test_restart_keeps_uploads_of_other_nodes);
		tcase_add_test(tc, test_token_rotated_on_one_node_refused_by_all);
		tcase_add_test(tc, test_housekeeper_takeover);
		tcase_add_test(tc, test_rollout_survives_its_housekeeper);
		tcase_add_test(tc, test_database_restart);
		tcase_add_test(tc, test_writer_reconnects_after_outage);
	} else {
		tcase_add_test(tc, test_single_node_has_no_cluster);
	}
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
