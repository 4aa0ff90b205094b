/* Deployments end to end: a signed manifest made with `suitd manifest
 * create`, devices registered through the API, deployments to a device list,
 * a group and a tag, and the device check-in (GET /device/v1/manifest) with
 * its states: pending, delivered, downloading, downloaded, confirmed,
 * skipped, canceled. Everything runs against the real daemon over real TLS on
 * loopback; the author key and the PKI are test-only, generated per run. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fleet.h"
#include "tests/check_run.h"

#define VENDOR_OTHER "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe"
#define CLASS_OTHER  "bb8ec15d-a2be-4fbe-9a0b-8dbd5c2d6f8e"

/* The device ids of GET /api/v1/deployments/ID/devices?QUERY, comma-joined. */
static void device_list(long id, const char *query, char *out, size_t size)
{
	struct http_result r;
	char path[160];
	size_t used = 0, i;
	json_t *j, *it;

	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/devices%s%s", id, query ? "?" : "",
		 query ? query : "");
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	out[0] = '\0';
	json_array_foreach(json_object_get(j, "items"), i, it)
	{
		int n = snprintf(out + used, size - used, "%s%s", used ? "," : "",
				 json_string_value(json_object_get(it, "device")));
		ck_assert(n > 0 && (size_t)n < size - used);
		used += (size_t)n;
	}
	json_decref(j);
	http_result_release(&r);
}

/* The ids of GET /api/v1/deployments?QUERY, comma-joined, are want. */
static void assert_deployment_ids(const char *query, const char *want)
{
	struct http_result r;
	char path[256], got[256];
	size_t used = 0, i;
	json_t *j, *it;

	snprintf(path, sizeof(path), "/api/v1/deployments%s", query);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	got[0] = '\0';
	json_array_foreach(json_object_get(j, "items"), i, it)
	{
		int n = snprintf(got + used, sizeof(got) - used, "%s%lld", used ? "," : "",
				 (long long)json_integer_value(json_object_get(it, "id")));
		ck_assert(n > 0 && (size_t)n < sizeof(got) - used);
		used += (size_t)n;
	}
	json_decref(j);
	http_result_release(&r);
	ck_assert_msg(strcmp(got, want) == 0, "deployments%s: [%s], want [%s]", query, got, want);
}

static long wal_size(void)
{
	char path[192];
	struct stat st;

	snprintf(path, sizeof(path), "%s/suitd.db-wal", P.dir);
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* ---- Fixture ---- */

/* ---- Tests ---- */

/* Upload, sign, register, deploy to a list, a group and a tag: each targeted
 * device gets exactly its envelope, others nothing. */
START_TEST(test_full_flow)
{
	struct manifest m2, m3;
	char tok[8][128], json[512], etag[80], inm[128], list[512];
	struct http_result r;
	json_t *d;
	long dl, dg, dt;

	/* The manifest's identity is UUID5(DNS, example.com) and
	 * UUID5(vendor, class-info), as the upload reports. */
	ck_assert_str_eq(F.m1.vendor, "cfbff0d1-9375-5685-968c-48ce8b15ae17");
	make_manifest("m2", "sensor-v1", "2", &m2);
	make_manifest("m3", "gateway-v1", "1", &m3);
	ck_assert_str_eq(m3.vendor, F.m1.vendor);
	ck_assert_str_ne(m3.class_id, F.m1.class_id);

	/* d-match names the manifest's vendor and class; d-wrong-class and
	 * d-wrong-vendor do not match it. */
	add_device("d-plain", NULL, tok[0], sizeof(tok[0]));
	snprintf(json, sizeof(json),
		 "{\"id\":\"d-match\",\"vendor_id\":\"%s\",\"class_id\":\"%s\"}", F.m1.vendor,
		 F.m1.class_id);
	create_device(json, tok[1], sizeof(tok[1]));
	snprintf(json, sizeof(json),
		 "{\"id\":\"d-wrong-class\",\"vendor_id\":\"%s\",\"class_id\":\"%s\"}", F.m1.vendor,
		 CLASS_OTHER);
	create_device(json, tok[2], sizeof(tok[2]));
	snprintf(json, sizeof(json), "{\"id\":\"d-wrong-vendor\",\"vendor_id\":\"%s\"}",
		 VENDOR_OTHER);
	create_device(json, tok[3], sizeof(tok[3]));
	add_device("g-1", "ring-a", tok[4], sizeof(tok[4]));
	add_device("g-2", "ring-a", tok[5], sizeof(tok[5]));
	create_device("{\"id\":\"t-1\",\"tags\":[\"gw\",\"eu\"]}", tok[6], sizeof(tok[6]));
	add_device("other", "ring-b", tok[7], sizeof(tok[7]));

	/* Before any deployment: nothing to do for anyone. */
	for (int i = 0; i < 8; i++)
		expect_nothing(tok[i], "seq=0");

	/* A device list. */
	snprintf(json, sizeof(json),
		 "{\"name\":\"canary\",\"manifest\":\"%s\",\"target\":{\"devices\":"
		 "[\"d-plain\",\"d-match\",\"d-wrong-class\",\"d-wrong-vendor\"]}}",
		 F.m1.digest);
	dl = deploy(json, &d);
	ck_assert_str_eq(json_string_value(json_object_get(d, "name")), "canary");
	ck_assert_str_eq(json_string_value(json_object_get(d, "manifest")), F.m1.digest);
	ck_assert_int_eq(json_integer_value(json_object_get(d, "sequence_number")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "target"), "kind")),
			 "devices");
	ck_assert_str_eq(json_string_value(json_object_get(d, "status")), "active");
	ck_assert_str_eq(json_string_value(json_object_get(d, "created_by")), "test-admin");
	ck_assert(json_is_string(json_object_get(d, "created_at")));
	ck_assert_int_eq(count_of(d, "pending"), 2);
	ck_assert_int_eq(count_of(d, "skipped"), 2);
	json_decref(d);
	assert_assignment(dl, "d-plain", "pending", "");
	assert_assignment(dl, "d-match", "pending", "");
	assert_assignment(dl, "d-wrong-class", "skipped", "class id differs from the manifest");
	assert_assignment(dl, "d-wrong-vendor", "skipped", "vendor id differs from the manifest");

	/* A group (another manifest) and a tag (a third). */
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"group\":\"ring-a\"}}",
		 m2.digest);
	dg = deploy(json, &d);
	ck_assert(json_is_null(json_object_get(d, "name")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "target"), "kind")),
			 "group");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "target"), "group")),
			 "ring-a");
	ck_assert_int_eq(json_integer_value(json_object_get(d, "sequence_number")), 2);
	json_decref(d);
	assert_counts(dg, "pending=2");
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"tag\":\"gw\"}}",
		 m3.digest);
	dt = deploy(json, &d);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "target"), "tag")),
			 "gw");
	json_decref(d);
	assert_counts(dt, "pending=1");

	/* Each targeted device gets exactly its envelope; the rest nothing. */
	expect_envelope(tok[0], "seq=0", &F.m1);
	expect_envelope(tok[1], NULL, &F.m1);
	expect_nothing(tok[2], "seq=0"); /* skipped: never offered */
	expect_nothing(tok[3], NULL);
	expect_envelope(tok[4], "seq=0", &m2);
	expect_envelope(tok[5], "seq=1", &m2);
	expect_envelope(tok[6], "seq=0", &m3);
	expect_nothing(tok[7], "seq=0");
	assert_counts(dl, "delivered=2,skipped=2");
	assert_counts(dg, "delivered=2");
	assert_counts(dt, "delivered=1");

	/* If-None-Match with the ETag: 304, same ETag, no body, still the
	 * active interval; another ETag: the envelope again. */
	snprintf(etag, sizeof(etag), "\"%s\"", F.m1.digest);
	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	checkin(tok[0], "seq=0", inm, &r);
	assert_status(&r, 304);
	ck_assert_uint_eq(r.body_len, 0);
	ck_assert_str_eq(hdr(&r, "ETag"), etag);
	assert_max_age(&r, ACTIVE_MIN, ACTIVE_MAX);
	http_result_release(&r);
	snprintf(inm, sizeof(inm), "If-None-Match: \"%s\"", m2.digest);
	checkin(tok[0], "seq=0", inm, &r);
	assert_envelope(&r, &F.m1);
	http_result_release(&r);
	/* Delivered stays delivered: a repeat poll is offered the same bytes. */
	expect_envelope(tok[1], "seq=0", &F.m1);
	assert_counts(dl, "delivered=2,skipped=2");

	/* The devices filter. */
	device_list(dl, "state=delivered", list, sizeof(list));
	ck_assert_str_eq(list, "d-plain,d-match");
	device_list(dl, "state=skipped", list, sizeof(list));
	ck_assert_str_eq(list, "d-wrong-class,d-wrong-vendor");
	device_list(dl, "state=pending", list, sizeof(list));
	ck_assert_str_eq(list, "");
	device_list(dl, NULL, list, sizeof(list));
	ck_assert_str_eq(list, "d-plain,d-match,d-wrong-class,d-wrong-vendor");
	device_list(dg, "state=delivered&limit=1", list, sizeof(list));
	ck_assert_str_eq(list, "g-1");

	/* The severed form on request (text is in the envelope). */
	checkin(tok[0], "seq=0&sever=text", NULL, &r);
	assert_status(&r, 200);
	ck_assert_uint_lt(r.body_len, F.m1.env_len);
	http_result_release(&r);
	checkin(tok[0], "seq=0&sever=bogus", NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	manifest_release(&m2);
	manifest_release(&m3);
}
END_TEST

/* Cache-Control on 200 and 204 within the configured ranges, jittered. */
START_TEST(test_poll_intervals)
{
	char tok_idle[128], tok_active[128];
	struct http_result r;
	long first_idle = -1, first_active = -1;
	bool idle_varies = false, active_varies = false;

	add_device("idle", NULL, tok_idle, sizeof(tok_idle));
	add_device("busy", NULL, tok_active, sizeof(tok_active));
	deploy_devices(&F.m1, "[\"busy\"]");
	for (int i = 0; i < 40; i++) {
		checkin(tok_idle, "seq=0", NULL, &r);
		assert_nothing(&r);
		if (first_idle < 0)
			first_idle = max_age(&r);
		idle_varies = idle_varies || max_age(&r) != first_idle;
		http_result_release(&r);
		checkin(tok_active, "seq=0", NULL, &r);
		assert_envelope(&r, &F.m1);
		if (first_active < 0)
			first_active = max_age(&r);
		active_varies = active_varies || max_age(&r) != first_active;
		http_result_release(&r);
	}
	/* ±20 % of 100 is 41 values, of 10 it is 5: 40 equal draws would
	 * mean no jitter. */
	ck_assert_msg(idle_varies, "40 idle polls all had max-age=%ld", first_idle);
	ck_assert_msg(active_varies, "40 active polls all had max-age=%ld", first_active);
}
END_TEST

/* A newer manifest deployed to the same device supersedes the older
 * assignment; a skipped one never displaces a valid update. */
START_TEST(test_supersede)
{
	struct manifest m2;
	char tok[128], reason[64], json[256];
	long d1, d2, d3;

	add_device("dev", NULL, tok, sizeof(tok));
	d1 = deploy_devices(&F.m1, "[\"dev\"]");
	expect_envelope(tok, "seq=0", &F.m1);
	assert_assignment(d1, "dev", "delivered", "");

	make_manifest("m2", "sensor-v1", "2", &m2);
	d2 = deploy_devices(&m2, "[\"dev\"]");
	snprintf(reason, sizeof(reason), "superseded by deployment %ld", d2);
	assert_assignment(d1, "dev", "canceled", reason);
	assert_counts(d1, "canceled=1");
	assert_assignment(d2, "dev", "pending", "");
	/* The device runs sequence 1 (older): it is offered the new envelope. */
	expect_envelope(tok, "seq=1", &m2);
	assert_counts(d2, "delivered=1");
	/* The first deployment itself is not canceled: it stays active until
	 * the next housekeeping round finds nothing left to do in it and
	 * completes it (a second at most; a loaded machine gets there before
	 * this line). */
	json_t *d = deployment(d1);
	const char *st = json_string_value(json_object_get(d, "status"));
	ck_assert_msg(strcmp(st, "active") == 0 || strcmp(st, "completed") == 0,
		      "deployment %ld is %s", d1, st);
	json_decref(d);

	/* m1 again: the device reported sequence 1, so it is skipped and the
	 * delivered m2 assignment is kept. */
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"dev\"]}}",
		 F.m1.digest);
	d3 = deploy(json, NULL);
	assert_assignment(d3, "dev", "skipped", "device runs sequence 1");
	assert_assignment(d2, "dev", "delivered", "");
	expect_envelope(tok, "seq=1", &m2);

	/* Canceling the newer deployment does not bring the superseded one
	 * back. */
	struct http_result r;
	char path[96];
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", d2);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	expect_nothing(tok, "seq=1");
	expect_nothing(tok, NULL);
	assert_assignment(d1, "dev", "canceled", reason);
	assert_assignment(d2, "dev", "canceled", "deployment canceled");
	manifest_release(&m2);
}
END_TEST

/* Cancel: active assignments canceled, the device gets 204; twice → 409. */
START_TEST(test_cancel)
{
	char tok_a[128], tok_b[128], tok_c[128], path[96], list[256];
	struct http_result r;
	long id;
	json_t *j;

	add_device("a", "fleet", tok_a, sizeof(tok_a));
	add_device("b", "fleet", tok_b, sizeof(tok_b));
	add_device("c", "fleet", tok_c, sizeof(tok_c));
	char json[256];
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"group\":\"fleet\"}}",
		 F.m1.digest);
	id = deploy(json, NULL);
	expect_envelope(tok_a, "seq=0", &F.m1);
	expect_envelope(tok_b, "seq=0", &F.m1);
	expect_nothing(tok_b, "seq=1"); /* b confirms */
	assert_counts(id, "pending=1,delivered=1,confirmed=1");

	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", id);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "canceled");
	ck_assert_int_eq(count_of(j, "canceled"), 2);
	ck_assert_int_eq(count_of(j, "confirmed"), 1);
	json_decref(j);
	http_result_release(&r);
	assert_assignment(id, "a", "canceled", "deployment canceled");
	assert_assignment(id, "c", "canceled", "deployment canceled");
	assert_assignment(id, "b", "confirmed", "");
	expect_nothing(tok_a, "seq=0");
	expect_nothing(tok_c, "seq=0");
	device_list(id, "state=canceled", list, sizeof(list));
	ck_assert_str_eq(list, "a,c");

	api("POST", path, NULL, &r);
	assert_problem(&r, 409, "conflict", "the deployment is canceled");
	http_result_release(&r);
	api("POST", "/api/v1/deployments/999/cancel", NULL, &r);
	assert_problem(&r, 404, "not-found", "no such deployment");
	http_result_release(&r);
	api("POST", "/api/v1/deployments/x/cancel", NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);

	/* A late joiner does not join a canceled deployment. */
	add_device("d", "fleet", tok_c, sizeof(tok_c));
	expect_nothing(tok_c, "seq=0");
	assert_counts(id, "canceled=2,confirmed=1");
}
END_TEST

/* The sequence number a device reports decides. */
START_TEST(test_seq_rules)
{
	char tok[5][128];
	struct http_result r;
	long id;

	add_device("older", NULL, tok[0], sizeof(tok[0]));
	add_device("newer", NULL, tok[1], sizeof(tok[1]));
	add_device("equal-pending", NULL, tok[2], sizeof(tok[2]));
	add_device("ahead", NULL, tok[3], sizeof(tok[3]));
	add_device("no-seq", NULL, tok[4], sizeof(tok[4]));
	/* ahead reported sequence 3 before the deployment exists. */
	expect_nothing(tok[3], "seq=3");
	id = deploy_devices(&F.m1, "[\"older\",\"newer\",\"equal-pending\",\"ahead\",\"no-seq\"]");
	/* Known at creation (the reported sequences are flushed first). */
	assert_assignment(id, "ahead", "skipped", "device runs sequence 3");
	expect_nothing(tok[3], "seq=3");

	/* Older: the envelope; then equal after delivery: confirmed, 204. */
	expect_envelope(tok[0], "seq=0", &F.m1);
	assert_assignment(id, "older", "delivered", "");
	expect_nothing(tok[0], "seq=1");
	assert_assignment(id, "older", "confirmed", "");
	expect_nothing(tok[0], "seq=1");
	expect_nothing(tok[0], "seq=0"); /* confirmed is not active: never offered again */

	/* Newer on a pending assignment: skipped with the reason, 204. */
	expect_nothing(tok[1], "seq=5");
	assert_assignment(id, "newer", "skipped", "device runs sequence 5");
	expect_nothing(tok[1], "seq=0");

	/* Equal while still pending (never delivered): skipped, not confirmed. */
	expect_nothing(tok[2], "seq=1");
	assert_assignment(id, "equal-pending", "skipped", "device runs sequence 1");

	/* No seq: the envelope, whatever it runs. */
	expect_envelope(tok[4], NULL, &F.m1);
	assert_counts(id, "delivered=1,confirmed=1,skipped=3");

	/* Malformed seq. */
	const char *bad[] = {"seq=",   "seq=-1",  "seq=%2B1",
			     "seq=1x", "seq=0x1", "seq=9223372036854775808"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		checkin(tok[4], bad[i], NULL, &r);
		ck_assert_msg(r.status == 400, "%s: %ld", bad[i], r.status);
		assert_problem(&r, 400, "invalid-request", "seq must be an unsigned number");
		http_result_release(&r);
	}
	/* Largest allowed: newer than anything, so skipped. */
	checkin(tok[4], "seq=9223372036854775807", NULL, &r);
	assert_nothing(&r);
	http_result_release(&r);
	assert_assignment(id, "no-seq", "skipped", "device runs sequence 9223372036854775807");

	/* No or a wrong token: 401. */
	checkin(NULL, "seq=0", NULL, &r);
	assert_status(&r, 401);
	http_result_release(&r);
	checkin("suitd_dt_not-a-token", "seq=0", NULL, &r);
	assert_status(&r, 401);
	http_result_release(&r);
	/* An API key is not a device identity. */
	checkin(P.admin_key, "seq=0", NULL, &r);
	assert_status(&r, 401);
	http_result_release(&r);

	/* Leading white space is refused too: "seq=+1" arrives as " 1"
	 * (libmicrohttpd decodes '+' as a space, like "%20"), and strtoull()
	 * would skip it; api_checkin wants a digit first. */
	const char *spaced[] = {"seq=+1", "seq=%201", "seq=%091"};
	for (size_t i = 0; i < sizeof(spaced) / sizeof(spaced[0]); i++) {
		checkin(tok[4], spaced[i], NULL, &r);
		ck_assert_msg(r.status == 400, "%s: %ld, want 400", spaced[i], r.status);
		assert_problem(&r, 400, "invalid-request", "seq must be an unsigned number");
		http_result_release(&r);
	}
}
END_TEST

/* Late joiners: a device created in, or moved to, a deployed group or tag
 * gets the envelope; one whose class differs is skipped. */
START_TEST(test_late_joiner)
{
	char tok[5][128], json[256];
	struct http_result r;
	long g, t;

	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"group\":\"late\"}}",
		 F.m1.digest);
	g = deploy(json, NULL);
	assert_counts(g, "");
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"tag\":\"beta\"}}",
		 F.m1.digest);
	t = deploy(json, NULL);

	add_device("mover", NULL, tok[0], sizeof(tok[0]));
	expect_nothing(tok[0], "seq=0");
	api("PATCH", "/api/v1/devices/mover", "{\"group\":\"late\"}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(g, "mover", "pending", "");
	expect_envelope(tok[0], "seq=0", &F.m1);

	add_device("born-in", "late", tok[1], sizeof(tok[1]));
	expect_envelope(tok[1], "seq=0", &F.m1);

	add_device("tagged", NULL, tok[2], sizeof(tok[2]));
	api("PATCH", "/api/v1/devices/tagged", "{\"tags\":[\"x\",\"beta\"]}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	expect_envelope(tok[2], "seq=0", &F.m1);
	assert_assignment(t, "tagged", "delivered", "");

	snprintf(json, sizeof(json),
		 "{\"id\":\"odd-class\",\"group\":\"late\",\"vendor_id\":\"%s\",\"class_id\":\"%"
		 "s\"}",
		 F.m1.vendor, CLASS_OTHER);
	create_device(json, tok[3], sizeof(tok[3]));
	assert_assignment(g, "odd-class", "skipped", "class id differs from the manifest");
	expect_nothing(tok[3], "seq=0");

	/* An unrelated change (attributes) adds nothing; a group elsewhere
	 * neither. */
	add_device("stay", "elsewhere", tok[4], sizeof(tok[4]));
	api("PATCH", "/api/v1/devices/stay", "{\"attributes\":{\"k\":1}}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	expect_nothing(tok[4], "seq=0");
	assert_counts(g, "delivered=2,skipped=1");
	assert_counts(t, "delivered=1");

	/* Leaving the group keeps the assignment. */
	api("PATCH", "/api/v1/devices/mover", "{\"group\":null}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	expect_envelope(tok[0], "seq=0", &F.m1);

	/* `suitd device add` joins in the database; the running daemon notices
	 * its own command line's change within a second or two and offers the
	 * envelope, with no SIGHUP (before, it waited for one). */
	char out[256], cli_tok[128];
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "device", "add", "cli-dev", "--group",
				     "late", (char *)NULL),
			 0);
	snprintf(cli_tok, sizeof(cli_tok), "%.*s", (int)strcspn(out, "\n"), out);
	assert_assignment(g, "cli-dev", "pending", "");
	for (int i = 0; i < 50 && !harness_log_contains(&P, "after a command-line change"); i++)
		usleep(100000);
	ck_assert(harness_log_contains(&P, "reloaded the active assignments after a "
					   "command-line change"));
	/* HEAD answers like GET without the body, and delivers nothing
	 * (api/deployments.c: "only a GET delivers"). */
	{
		char head_path[64];
		snprintf(head_path, sizeof(head_path), "%s?seq=0", CHECKIN);
		harness_request_ex(&P, "HEAD", head_path, cli_tok, NULL, NULL, 0, &r);
		assert_status(&r, 200);
		ck_assert_uint_eq(r.body_len, 0);
		char etag[80];
		snprintf(etag, sizeof(etag), "\"%s\"", F.m1.digest);
		ck_assert_str_eq(hdr(&r, "ETag"), etag);
		assert_max_age(&r, ACTIVE_MIN, ACTIVE_MAX);
		http_result_release(&r);
	}
	assert_assignment(g, "cli-dev", "pending", "");
	expect_envelope(cli_tok, "seq=0", &F.m1);
	assert_assignment(g, "cli-dev", "delivered", "");
	assert_counts(g, "delivered=3,skipped=1");

	/* A device that reported sequence 4 (in memory: seen_flush = 60) joins
	 * the group deployed with sequence 1. Creating a deployment flushes
	 * the reported sequences first so that such a device is skipped; a
	 * late joiner should be judged the same way.
	 * (man/suitd.8, "Late joiners": "the skip and supersession rules
	 * apply as at creation"; "Skips": the reported sequence numbers are
	 * written first.)
	 * BUG: api/deployments.c:311 deployments_device_changed() calls
	 * storage_deployment_join() without seen_flush(), and the
	 * ASSIGNMENT_INSERT statement (storage/sqlite/statements.h) reads
	 * devices.reported_sequence, still NULL in the database. The
	 * assignment is "pending" instead of "skipped" with "device runs
	 * sequence 4" (a later flush does not revisit it); the next check-in
	 * with seq=4 skips it, but one without seq is offered the older
	 * envelope, and a pending assignment supersedes the device's active
	 * one in another deployment. Left failing on purpose. */
	expect_nothing(tok[4], "seq=4");
	api("PATCH", "/api/v1/devices/stay", "{\"group\":\"late\"}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(g, "stay", "skipped", "device runs sequence 4");
}
END_TEST

/* Joining a group or tag never offers a rollback. The outside review's
 * repro: deployment A (sequence 1) to tag beta, device x1 created,
 * deployment B (sequence 2) to x1, then PATCH x1 {"tags": ["beta"]}: B's
 * assignment was canceled, superseded by A, and x1 was offered sequence 1.
 * A join now never replaces an active assignment of a newer deployment or
 * of a higher sequence number; a newer, higher one still joins. */
START_TEST(test_join_no_rollback)
{
	char tok[128], tok2[128], json[256], reason[64];
	struct manifest m2;
	struct http_result r;
	long a, b, c, d;

	make_manifest("m2", "sensor-v1", "2", &m2);
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"tag\":\"beta\"}}",
		 F.m1.digest);
	a = deploy(json, NULL);
	add_device("x1", NULL, tok, sizeof(tok));
	b = deploy_devices(&m2, "[\"x1\"]");
	api("PATCH", "/api/v1/devices/x1", "{\"tags\":[\"beta\"]}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(b, "x1", "pending", "");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM assignments a JOIN devices d "
					     "ON d.num = a.device_num WHERE d.id = 'x1'"),
			 1);
	expect_envelope(tok, "seq=0", &m2);
	assert_counts(a, "");

	/* A PATCH that repeats the device's tags and group changes no
	 * membership: nothing joins. */
	api("PATCH", "/api/v1/devices/x1", "{\"tags\":[\"beta\"],\"group\":null}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(b, "x1", "delivered", "");

	/* Newer and higher: joining supersedes the older, lower assignment. */
	add_device("x2", NULL, tok2, sizeof(tok2));
	c = deploy_devices(&F.m1, "[\"x2\"]");
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"tag\":\"gamma\"}}",
		 m2.digest);
	d = deploy(json, NULL);
	api("PATCH", "/api/v1/devices/x2", "{\"tags\":[\"gamma\"]}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	snprintf(reason, sizeof(reason), "superseded by deployment %ld", d);
	assert_assignment(c, "x2", "canceled", reason);
	assert_assignment(d, "x2", "pending", "");
	expect_envelope(tok2, "seq=0", &m2);

	/* Creation follows the same rule: a deployment of a lower sequence
	 * skips a device whose update to a higher one is under way (it would
	 * offer a rollback); once that one is canceled, it is assigned. */
	long lower = deploy_devices(&F.m1, "[\"x2\"]");
	assert_assignment(lower, "x2", "skipped", "an update to sequence 2 is under way");
	assert_assignment(d, "x2", "delivered", "");
	char cancel[96];
	snprintf(cancel, sizeof(cancel), "/api/v1/deployments/%ld/cancel", d);
	api("POST", cancel, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	lower = deploy_devices(&F.m1, "[\"x2\"]");
	assert_assignment(lower, "x2", "pending", "");
	expect_envelope(tok2, "seq=0", &F.m1);
	manifest_release(&m2);
}
END_TEST

/* Unknown query parameters are refused with 400 naming them (before, GET
 * /api/v1/devices?state=failed listed every device), and so are repeated
 * ones; the device routes likewise. Authentication comes first. */
START_TEST(test_unknown_query)
{
	static const struct {
		const char *path, *detail;
	} bad[] = {
		{"/api/v1/devices?state=failed",
		 "unknown query parameter 'state'; this route takes limit after group tag "
		 "class_id seen_since not_seen_since sequence sequence_below assignment_state"},
		{"/api/v1/devices?limit=1&limit=1000", NULL},
		{"/api/v1/deployments?Status=active", NULL},
		{"/api/v1/devices/a/reports?limit=5&since=1", NULL},
		{"/api/v1/status?verbose",
		 "unknown query parameter 'verbose'; this route takes none"},
		{"/api/v1/deployments/1/devices?state=pending&x=", NULL},
		{"/api/v1/keys?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9", NULL},
	};
	struct http_result r;
	char tok[128];

	add_device("q", "grp", tok, sizeof(tok));
	deploy_devices(&F.m1, "[\"q\"]");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api("GET", bad[i].path, NULL, &r);
		assert_problem(&r, 400, "invalid-request", bad[i].detail);
		http_result_release(&r);
	}
	/* Known ones still work, in any order. */
	api("GET", "/api/v1/devices?tag=x&group=grp&limit=5", NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	/* The device side: an unknown parameter is refused, nothing delivered. */
	checkin(tok, "seq=0&sequence=0", NULL, &r);
	assert_problem(&r, 400, "invalid-request",
		       "unknown query parameter 'sequence'; this route takes seq sever");
	http_result_release(&r);
	assert_assignment(1, "q", "pending", "");
	expect_envelope(tok, "seq=0", &F.m1);
	/* Without credentials: 401, whatever the query. */
	harness_request(&P, "GET", "/api/v1/devices?state=failed", NULL, NULL, NULL, 0, &r);
	assert_status(&r, 401);
	http_result_release(&r);
}
END_TEST

/* GET /api/v1/devices?QUERY: the ids listed, sorted, comma-separated. */
static void listed(const char *query, char *out, size_t size)
{
	struct http_result r;
	char path[256];
	json_t *j, *it;
	size_t i;

	snprintf(path, sizeof(path), "/api/v1/devices?%s", query);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	http_result_release(&r);
	out[0] = '\0';
	json_array_foreach(json_object_get(j, "items"), i, it)
	{
		size_t used = strlen(out);
		snprintf(out + used, size - used, "%s%s", used ? "," : "",
			 json_string_value(json_object_get(it, "id")));
	}
	json_decref(j);
}

/* GET /api/v1/devices?QUERY lists exactly these ids, in this order
 * (comma-separated; "" for none). */
static void assert_listed(const char *query, const char *want)
{
	char got[512];

	listed(query, got, sizeof(got));
	ck_assert_msg(strcmp(got, want) == 0, "?%s lists '%s', want '%s'", query, got, want);
}

/* Devices across deployments: by the state of their newest assignment, by
 * the sequence they run, and the silent ones (not seen since T, or never). */
START_TEST(test_device_filters)
{
	char t[4][128], q[96];
	struct http_result r;
	struct manifest m2;
	long b;

	add_device("fa", "f", t[0], sizeof(t[0]));
	add_device("fb", "f", t[1], sizeof(t[1]));
	add_device("fc", "f", t[2], sizeof(t[2]));
	add_device("fd", "f", t[3], sizeof(t[3]));
	deploy_devices(&F.m1, "[\"fa\",\"fb\",\"fc\"]");
	expect_envelope(t[0], "seq=0", &F.m1);
	expect_envelope(t[1], "seq=0", &F.m1);
	report_ok(t[1], rep(&F.m1, "failed", "\"reason\":\"x\""));
	expect_nothing(t[2], "seq=1"); /* fc runs 1 already: skipped */

	assert_listed("assignment_state=failed", "fb");
	assert_listed("assignment_state=delivered", "fa");
	assert_listed("assignment_state=skipped&group=f", "fc");
	/* A newer deployment: fb's newest assignment is pending now. */
	make_manifest("m2", "sensor-v1", "2", &m2);
	b = deploy_devices(&m2, "[\"fb\"]");
	ck_assert_int_gt(b, 0);
	assert_listed("assignment_state=failed", "");
	assert_listed("assignment_state=pending", "fb");

	/* Sequences: fa and fb reported 0, fc 1, fd nothing yet (seen_flush is
	 * 60 s here: the list writes the sightings first). */
	assert_listed("sequence=1", "fc");
	assert_listed("sequence_below=1&group=f", "fa,fb,fd");
	assert_listed("sequence=0&limit=1", "fa");

	/* Silent devices: fd never polled; the others did just now. */
	snprintf(q, sizeof(q), "not_seen_since=%lld&group=f", (long long)time(NULL) - 60);
	assert_listed(q, "fd");
	snprintf(q, sizeof(q), "not_seen_since=%lld&group=f", (long long)time(NULL) + 60);
	assert_listed(q, "fa,fb,fc,fd");

	static const char *const bad[] = {
		"/api/v1/devices?assignment_state=broken", "/api/v1/devices?sequence=-1",
		"/api/v1/devices?sequence_below=x", "/api/v1/devices?sequence=9223372036854775808",
		"/api/v1/devices?not_seen_since=yesterday"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api("GET", bad[i], NULL, &r);
		assert_problem(&r, 400, "invalid-request", NULL);
		http_result_release(&r);
	}
	manifest_release(&m2);
}
END_TEST

/* Follow the list's 'next' from the first page of `limit` on: every id in
 * order (comma-separated), and the cursors in `cursors` (space-separated). */
static void walk(const char *query, int limit, char *out, size_t size, char *cursors, size_t csize)
{
	char path[320], after[64] = "";
	struct http_result r;

	out[0] = cursors[0] = '\0';
	for (int pages = 0; pages < 20; pages++) {
		json_t *j, *it, *next;
		size_t i;

		snprintf(path, sizeof(path), "/api/v1/devices?%s&limit=%d%s%s", query, limit,
			 after[0] ? "&after=" : "", after);
		api("GET", path, NULL, &r);
		assert_status(&r, 200);
		j = body_json(&r);
		http_result_release(&r);
		json_array_foreach(json_object_get(j, "items"), i, it)
		{
			size_t used = strlen(out);
			snprintf(out + used, size - used, "%s%s", used ? "," : "",
				 json_string_value(json_object_get(it, "id")));
		}
		next = json_object_get(j, "next");
		if (!json_is_string(next)) {
			json_decref(j);
			return;
		}
		snprintf(after, sizeof(after), "%s", json_string_value(next));
		size_t used = strlen(cursors);
		snprintf(cursors + used, csize - used, "%s%s", used ? " " : "", after);
		json_decref(j);
	}
	ck_abort_msg("?%s: more than 20 pages", query);
}

/* The filters without a group, tag or class are driven by their own index
 * (migration 0021): the list is in the order of last seen, running sequence
 * or when the newest assignment entered its state, with the device number
 * (or assignment id) as tie-break, and a page goes on inside one key. */
START_TEST(test_device_filters_keyed)
{
	static const char *const ids[] = {"k1", "k2", "k3", "k4", "k5"};
	static const char *const seqs[] = {"seq=5", "seq=3", "seq=3", "seq=7", NULL};
	char t[5][128], got[256], cursors[256], q[96];
	struct http_result r;
	struct manifest m9;

	for (int i = 0; i < 5; i++)
		add_device(ids[i], NULL, t[i], sizeof(t[i]));
	for (int i = 0; i < 5; i++)
		if (seqs[i])
			expect_nothing(t[i], seqs[i]);
	/* None reported (-1) first, then 3, 3, 5, 7; pages of two go on
	 * inside key 3 (k2 | k3). */
	walk("sequence_below=10", 2, got, sizeof(got), cursors, sizeof(cursors));
	ck_assert_str_eq(got, "k5,k2,k3,k1,k4");
	ck_assert_msg(strncmp(cursors, "3.", 2) == 0 && strstr(cursors, " 5.") != NULL,
		      "cursors '%s'", cursors);
	walk("sequence=3", 1, got, sizeof(got), cursors, sizeof(cursors));
	ck_assert_str_eq(got, "k2,k3");
	walk("sequence_below=5&sequence=3", 1, got, sizeof(got), cursors, sizeof(cursors));
	ck_assert_str_eq(got, "k2,k3");
	/* Never seen (k5) first; the others were seen this second or the last
	 * one, in that order, device number breaking ties. */
	snprintf(q, sizeof(q), "not_seen_since=%lld", (long long)time(NULL) + 60);
	walk(q, 1, got, sizeof(got), cursors, sizeof(cursors));
	ck_assert_msg(strncmp(got, "k5,", 3) == 0 && strlen(got) == strlen("k5,k1,k2,k3,k4"),
		      "not seen: '%s'", got);
	ck_assert_msg(strncmp(cursors, "-1.", 3) == 0, "cursors '%s'", cursors);
	snprintf(q, sizeof(q), "seen_since=%lld", (long long)time(NULL) - 60);
	walk(q, 3, got, sizeof(got), cursors, sizeof(cursors));
	ck_assert_int_eq((int)strlen(got), (int)strlen("k1,k2,k3,k4"));
	ck_assert_ptr_null(strstr(got, "k5"));

	/* By the newest assignment's state: all pending, then k2 delivered. */
	make_manifest("m9", "sensor-v1", "9", &m9);
	ck_assert_int_gt(deploy_devices(&m9, "[\"k1\",\"k2\",\"k3\"]"), 0);
	walk("assignment_state=pending", 1, got, sizeof(got), cursors, sizeof(cursors));
	ck_assert_str_eq(got, "k1,k2,k3");
	expect_envelope(t[1], "seq=3", &m9);
	walk("assignment_state=pending", 1, got, sizeof(got), cursors, sizeof(cursors));
	ck_assert_str_eq(got, "k1,k3");
	walk("assignment_state=delivered", 5, got, sizeof(got), cursors, sizeof(cursors));
	ck_assert_str_eq(got, "k2");

	/* A cursor of the other order, or no cursor at all: 400. */
	static const char *const bad[] = {"/api/v1/devices?sequence_below=10&after=5",
					  "/api/v1/devices?after=3.5",
					  "/api/v1/devices?group=x&after=-1.4",
					  "/api/v1/devices?sequence=3&after=-2.5",
					  "/api/v1/devices?sequence=3&after=3.",
					  "/api/v1/devices?sequence=3&after=.5",
					  "/api/v1/devices?sequence=3&after=3.5.1",
					  "/api/v1/devices?sequence=3&after=3.-5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api("GET", bad[i], NULL, &r);
		assert_problem(&r, 400, "invalid-request", NULL);
		http_result_release(&r);
	}
	manifest_release(&m9);
}
END_TEST

/* The count on the line of `kind` in the table `suitd gc` prints. */
static long gc_count(const char *out, const char *kind)
{
	size_t n = strlen(kind);

	for (const char *line = out; line && *line; line = strchr(line, '\n'), line += !!line)
		if (strncmp(line, kind, n) == 0 && line[n] == ' ')
			return strtol(line + n, NULL, 10);
	ck_abort_msg("no line '%s' in: %s", kind, out);
	return -1;
}

/* Firmware lifecycle: a finished deployment can be deleted (an active one
 * cannot), which frees its manifest and then its payload; the devices'
 * reports stay. `suitd gc` lists what that would free, then deletes it. */
START_TEST(test_lifecycle)
{
	char tok[128], path[160], out[1024];
	struct http_result r;
	long id;

	add_device("life", NULL, tok, sizeof(tok));
	id = deploy_devices(&F.m1, "[\"life\"]");
	expect_envelope(tok, "seq=0", &F.m1);
	report_ok(tok, rep(&F.m1, "downloading", ""));
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld", id);
	api("DELETE", path, NULL, &r);
	assert_problem(&r, 409, "conflict",
		       "the deployment is active: only a completed or canceled deployment can be "
		       "deleted (cancel it first)");
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", id);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	sleep(1); /* the cutoff below is "before now", to the second */

	/* A dry run lists the deployment, its manifest and its payload. */
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "gc", "--older-than", "0", (char *)NULL),
			 0);
	ck_assert_int_eq(gc_count(out, "deployments"), 1);
	ck_assert_int_eq(gc_count(out, "manifests"), 1);
	ck_assert_int_eq(gc_count(out, "payloads"), 1);
	/* ... and deletes nothing; with the default age (30 days), nothing is
	 * old enough. */
	assert_assignment(id, "life", "canceled", "deployment canceled");
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "gc", (char *)NULL), 0);
	ck_assert_int_eq(gc_count(out, "deployments"), 0);
	ck_assert_int_eq(gc_count(out, "payloads"), 0);

	snprintf(path, sizeof(path), "/api/v1/deployments/%ld", id);
	api("DELETE", path, NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	api("GET", path, NULL, &r);
	assert_status(&r, 404);
	http_result_release(&r);
	api("DELETE", path, NULL, &r);
	assert_status(&r, 404);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
					     "'deployment.deleted'"),
			 1);

	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "gc", "--older-than", "0", "--delete",
				     (char *)NULL),
			 0);
	ck_assert_int_eq(gc_count(out, "deployments"), 0);
	ck_assert_int_eq(gc_count(out, "manifests"), 1);
	ck_assert_int_eq(gc_count(out, "payloads"), 1);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s", F.m1.digest);
	api("GET", path, NULL, &r);
	assert_status(&r, 404);
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/payloads/%s", F.fw_sha);
	api("GET", path, NULL, &r);
	assert_status(&r, 404);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM chunks"), 0);
	/* The device's history stays. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM reports"), 1);
	api("GET", "/api/v1/devices/life/reports", NULL, &r);
	assert_status(&r, 200);
	json_t *j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	http_result_release(&r);
}
END_TEST

/* Payload downloads move the assignment: a range → downloading, the last
 * byte → downloaded. */
START_TEST(test_download_states)
{
	char tok[3][128], path[128], list[128];
	const char *range[] = {"Range: bytes=0-999", NULL};
	struct http_result r;
	long id;

	add_device("fetcher", NULL, tok[0], sizeof(tok[0]));
	add_device("early", NULL, tok[1], sizeof(tok[1]));
	add_device("bystander", NULL, tok[2], sizeof(tok[2]));
	/* A repeated id is one assignment. */
	id = deploy_devices(&F.m1, "[\"fetcher\",\"early\",\"fetcher\"]");
	assert_counts(id, "pending=2");
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", F.fw_sha);

	/* Before the envelope was delivered: a download changes nothing. */
	harness_request_ex(&P, "GET", path, tok[1], NULL, NULL, 0, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(id, "early", "pending", "");

	expect_envelope(tok[0], "seq=0", &F.m1);
	harness_request_ex(&P, "GET", path, tok[0], range, NULL, 0, &r);
	assert_status(&r, 206);
	ck_assert_uint_eq(r.body_len, 1000);
	ck_assert(memcmp(r.body, F.fw_bytes, 1000) == 0);
	http_result_release(&r);
	assert_assignment(id, "fetcher", "downloading", "");
	assert_counts(id, "pending=1,downloading=1");
	device_list(id, "state=downloading", list, sizeof(list));
	ck_assert_str_eq(list, "fetcher");

	harness_request_ex(&P, "GET", path, tok[0], NULL, NULL, 0, &r);
	assert_status(&r, 200);
	ck_assert_uint_eq(r.body_len, F.fw_len);
	ck_assert(memcmp(r.body, F.fw_bytes, F.fw_len) == 0);
	http_result_release(&r);
	assert_assignment(id, "fetcher", "downloaded", "");
	assert_counts(id, "pending=1,downloaded=1");
	device_list(id, "state=downloaded", list, sizeof(list));
	ck_assert_str_eq(list, "fetcher");
	/* Still active: still offered while it installs. */
	expect_envelope(tok[0], "seq=0", &F.m1);

	/* The whole payload in one go straight after delivery: downloaded. */
	expect_envelope(tok[1], "seq=0", &F.m1);
	harness_request_ex(&P, "GET", path, tok[1], NULL, NULL, 0, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(id, "early", "downloaded", "");

	/* A device outside the deployment downloads: no assignment appears. */
	harness_request_ex(&P, "GET", path, tok[2], NULL, NULL, 0, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	assert_counts(id, "downloaded=2");

	/* The device reports the sequence: confirmed. */
	expect_nothing(tok[0], "seq=1");
	expect_nothing(tok[1], "seq=1");
	assert_counts(id, "confirmed=2");
}
END_TEST

/* List filters, lookups, and every refusal with its status and detail. */
START_TEST(test_list_and_refusals)
{
	struct manifest m2;
	char tok[128], json[1024], path[160];
	struct http_result r;
	long a, b;
	json_t *j, *items;

	add_device("x", NULL, tok, sizeof(tok));
	add_device("y", "grp", NULL, 0);
	make_manifest("m2", "sensor-v1", "2", &m2);
	a = deploy_devices(&F.m1, "[\"x\"]");
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"group\":\"grp\"}}",
		 m2.digest);
	b = deploy(json, NULL);
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", b);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);

	/* Filters. */
	char want_ab[64], want_a[32], want_b[32];
	snprintf(want_ab, sizeof(want_ab), "%ld,%ld", a, b);
	snprintf(want_a, sizeof(want_a), "%ld", a);
	snprintf(want_b, sizeof(want_b), "%ld", b);
	assert_deployment_ids("", want_ab);
	assert_deployment_ids("?status=active", want_a);
	assert_deployment_ids("?status=canceled", want_b);
	assert_deployment_ids("?limit=1", want_a);
	snprintf(path, sizeof(path), "?manifest=%s", m2.digest);
	assert_deployment_ids(path, want_b);
	snprintf(path, sizeof(path), "?manifest=%s", F.m1.digest);
	assert_deployment_ids(path, want_a);
	snprintf(path, sizeof(path), "?status=active&manifest=%s", m2.digest);
	assert_deployment_ids(path, "");
	api("GET", "/api/v1/deployments?limit=1", NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert(json_is_string(json_object_get(j, "next")));
	snprintf(path, sizeof(path), "/api/v1/deployments?limit=1&after=%s",
		 json_string_value(json_object_get(j, "next")));
	json_decref(j);
	http_result_release(&r);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	items = json_object_get(j, "items");
	ck_assert_uint_eq(json_array_size(items), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), b);
	json_decref(j);
	http_result_release(&r);

	/* Lookups. */
	api("GET", "/api/v1/deployments/424242", NULL, &r);
	assert_problem(&r, 404, "not-found", "no such deployment");
	http_result_release(&r);
	api("GET", "/api/v1/deployments/424242/devices", NULL, &r);
	assert_problem(&r, 404, "not-found", "no such deployment");
	http_result_release(&r);
	const char *bad_get[] = {
		"/api/v1/deployments/abc",
		"/api/v1/deployments/0",
		"/api/v1/deployments/-1",
		"/api/v1/deployments?status=done",
		"/api/v1/deployments?manifest=zz",
		"/api/v1/deployments?limit=0",
		"/api/v1/deployments/1/devices?state=bogus",
	};
	for (size_t i = 0; i < sizeof(bad_get) / sizeof(bad_get[0]); i++) {
		api("GET", bad_get[i], NULL, &r);
		ck_assert_msg(r.status == 400, "%s: %ld", bad_get[i], r.status);
		assert_problem(&r, 400, "invalid-request", NULL);
		http_result_release(&r);
	}

	/* 422: unknown devices are named; an unknown manifest. */
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"x\",\"ghost-1\",\"ghost-2\"]}}",
		 F.m1.digest);
	api("POST", "/api/v1/deployments", json, &r);
	assert_problem(&r, 422, "unprocessable", "2 unknown devices: ghost-1, ghost-2");
	http_result_release(&r);
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"ghost-3\"]}}",
		 F.m1.digest);
	api("POST", "/api/v1/deployments", json, &r);
	assert_problem(&r, 422, "unprocessable", "1 unknown device: ghost-3");
	http_result_release(&r);
	char zeros[65];
	memset(zeros, '0', 64);
	zeros[64] = '\0';
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"x\"]}}",
		 zeros);
	api("POST", "/api/v1/deployments", json, &r);
	char detail[128];
	snprintf(detail, sizeof(detail), "no manifest with digest %s", zeros);
	assert_problem(&r, 422, "unprocessable", detail);
	http_result_release(&r);

	/* 400: malformed bodies. */
	const char *bad_body[] = {
		"{",
		"[]",
		"{}",
		"{\"manifest\":12,\"target\":{\"group\":\"grp\"}}",
		"{\"manifest\":\"abc\",\"target\":{\"group\":\"grp\"}}",
		"{\"manifest\":\"MANIFEST\"}",
		"{\"manifest\":\"MANIFEST\",\"target\":{}}",
		"{\"manifest\":\"MANIFEST\",\"target\":[\"x\"]}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"group\":\"grp\",\"tag\":\"t\"}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"devices\":[]}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"devices\":\"x\"}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"devices\":[\"bad id\"]}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"devices\":[7]}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"group\":\"\"}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"group\":5}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"tag\":\"a b\"}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"label\":\"x\"}}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"group\":\"grp\"},\"extra\":1}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"group\":\"grp\"},\"name\":\"\"}",
		"{\"manifest\":\"MANIFEST\",\"target\":{\"group\":\"grp\"},\"name\":3}",
	};
	for (size_t i = 0; i < sizeof(bad_body) / sizeof(bad_body[0]); i++) {
		char body[512], *at;
		snprintf(body, sizeof(body), "%s", bad_body[i]);
		if ((at = strstr(body, "MANIFEST"))) {
			char rest[512];
			snprintf(rest, sizeof(rest), "%s", at + 8);
			snprintf(at, sizeof(body) - (size_t)(at - body), "%s%s", F.m1.digest, rest);
		}
		api("POST", "/api/v1/deployments", body, &r);
		ck_assert_msg(r.status == 400, "body %s: status %ld %s", body, r.status,
			      r.body ? r.body : "");
		assert_problem(&r, 400, "invalid-request", NULL);
		http_result_release(&r);
	}
	harness_request(&P, "POST", "/api/v1/deployments", P.admin_key, "text/plain", "x", 1, &r);
	assert_status(&r, 415);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM deployments"), 2);

	/* A manifest a deployment uses cannot be deleted (active or not). */
	snprintf(path, sizeof(path), "/api/v1/manifests/%s", F.m1.digest);
	api("DELETE", path, NULL, &r);
	assert_problem(&r, 409, "conflict", "the manifest is deployed");
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/manifests/%s", m2.digest);
	api("DELETE", path, NULL, &r);
	assert_problem(&r, 409, "conflict", "the manifest is deployed");
	http_result_release(&r);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	/* A reader key cannot deploy. */
	char reader[256], *nl;
	ck_assert_int_eq(harness_cli(&P, reader, sizeof(reader), "key", "create", "--name", "ro",
				     "--role", "reader", (char *)NULL),
			 0);
	reader[strcspn(reader, "\n")] = '\0';
	nl = strrchr(reader, '\n');
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"x\"]}}",
		 F.m1.digest);
	harness_request(&P, "POST", "/api/v1/deployments", nl ? nl + 1 : reader, "application/json",
			json, strlen(json), &r);
	assert_status(&r, 403);
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/deployments", nl ? nl + 1 : reader, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	manifest_release(&m2);
}
END_TEST

/* A poll with nothing to do answers from memory: after 200 of them the
 * database's WAL has not grown; the reported sequence is shown from memory
 * before any flush (seen_flush = 60), and written at shutdown. */
START_TEST(test_no_write_on_idle_poll)
{
	char tok[128], tok_busy[128], inm[128];
	struct http_result r;
	struct harness_conn *c;
	long before, after;
	json_t *j;

	add_device("quiet", NULL, tok, sizeof(tok));
	add_device("busy", NULL, tok_busy, sizeof(tok_busy));
	deploy_devices(&F.m1, "[\"busy\"]");
	expect_envelope(tok_busy, NULL, &F.m1);
	expect_nothing(tok, "seq=6");

	c = harness_conn_open(&P, NULL);
	/* No commit of any kind (both backends); on SQLite also the WAL file
	 * itself: a checkpoint lets later writes reuse the WAL from its start
	 * without growing it, so its bytes must be unchanged too (a checkpoint
	 * alone writes the database file, not the WAL). */
	bool sqlite = !harness_backend_is_pg();
	char wal[192];
	size_t wal_len0 = 0, wal_len1 = 0;
	unsigned char *wal0 = NULL;
	struct harness_writes *writes = harness_writes_watch(&P);
	before = wal_size();
	snprintf(wal, sizeof(wal), "%s/suitd.db-wal", P.dir);
	if (sqlite) {
		ck_assert_int_gt(before, 0);
		wal0 = read_all(wal, &wal_len0);
	}
	for (int i = 0; i < 200; i++) {
		harness_conn_request(c, "GET", CHECKIN "?seq=7", tok, NULL, NULL, 0, &r);
		assert_nothing(&r);
		http_result_release(&r);
	}
	/* A delivered assignment answered 304 or 200 is no write either. */
	snprintf(inm, sizeof(inm), "If-None-Match: \"%s\"", F.m1.digest);
	const char *h[] = {inm, NULL};
	for (int i = 0; i < 50; i++) {
		harness_conn_request(c, "GET", CHECKIN "?seq=0", tok_busy, h, NULL, 0, &r);
		assert_status(&r, 304);
		http_result_release(&r);
		harness_conn_request(c, "GET", CHECKIN, tok_busy, NULL, NULL, 0, &r);
		assert_envelope(&r, &F.m1);
		http_result_release(&r);
	}
	ck_assert_int_eq(harness_conn_connects(c), 1);
	harness_conn_close(c);
	ck_assert_msg(!harness_writes_seen(writes), "a write was committed during 300 polls");
	if (sqlite) {
		after = wal_size();
		ck_assert_msg(after <= before, "the WAL grew from %ld to %ld bytes over 300 polls",
			      before, after);
		unsigned char *wal1 = read_all(wal, &wal_len1);
		ck_assert_msg(wal_len0 == wal_len1 && memcmp(wal0, wal1, wal_len0) == 0,
			      "the WAL was written during 300 polls");
		free(wal0);
		free(wal1);
	}

	/* Shown from memory, not yet in the database. */
	api("GET", "/api/v1/devices/quiet", NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "reported_sequence")), 7);
	ck_assert(json_is_string(json_object_get(j, "last_seen_at")));
	json_decref(j);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'quiet' "
					     "AND reported_sequence IS NULL"),
			 1);
	ck_assert_int_eq(harness_stop(&P), 0);
	ck_assert_int_eq(
		harness_sql_int(&P, "SELECT reported_sequence FROM devices WHERE id = 'quiet'"), 7);
	harness_start(&P);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-deployments");
	TCase *tc = tcase_create("deployments");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, fleet_setup, fleet_teardown);
	tcase_add_test(tc, test_full_flow);
	tcase_add_test(tc, test_poll_intervals);
	tcase_add_test(tc, test_supersede);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_seq_rules);
	tcase_add_test(tc, test_late_joiner);
	tcase_add_test(tc, test_download_states);
	tcase_add_test(tc, test_list_and_refusals);
	tcase_add_test(tc, test_no_write_on_idle_poll);
	tcase_add_test(tc, test_join_no_rollback);
	tcase_add_test(tc, test_unknown_query);
	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_device_filters);
	tcase_add_test(tc, test_device_filters_keyed);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
