/* Bulk onboarding end to end (issue 15): POST /api/v1/devices/import with
 * NDJSON, `suitd device import`, GET /api/v1/devices/export, against the real
 * daemon over TLS. Tokens in these files are test-only. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "tests/check_run.h"

#define IMPORT "/api/v1/devices/import"
#define EXPORT "/api/v1/devices/export"
#define NDJSON "application/x-ndjson"

static void setup(void)
{
	fleet_setup();
}

/* POST the NDJSON text with the admin key (or key), query appended. */
static void import_as(const char *key, const char *query, const char *text, struct http_result *r)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", IMPORT, query ? query : "");
	harness_request(&P, "POST", path, key, NDJSON, text, strlen(text), r);
}

static json_t *import_ok(const char *query, const char *text)
{
	struct http_result r;

	import_as(P.admin_key, query, text, &r);
	assert_status(&r, 200);
	json_t *j = body_json(&r);
	http_result_release(&r);
	return j;
}

static long long member(json_t *j, const char *name)
{
	json_t *v = json_object_get(j, name);

	ck_assert_msg(json_is_integer(v), "no integer member '%s'", name);
	return json_integer_value(v);
}

static void assert_summary(json_t *j, long long created, long long updated, long long unchanged,
			   long long failed)
{
	ck_assert_int_eq(member(j, "created"), created);
	ck_assert_int_eq(member(j, "updated"), updated);
	ck_assert_int_eq(member(j, "unchanged"), unchanged);
	ck_assert_int_eq(member(j, "failed"), failed);
	ck_assert_int_eq((long long)json_array_size(json_object_get(j, "errors")),
			 failed < 100 ? failed : 100);
}

/* The error listed for a line: its type slug and detail. */
static json_t *error_of_line(json_t *summary, long long line)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(summary, "errors"), i, e)
	{
		if (member(e, "line") == line)
			return e;
	}
	ck_abort_msg("no error for line %lld", line);
	return NULL;
}

static long long devices(void)
{
	return harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id LIKE 'imp-%'");
}

/* 10,000 lines, three bad ones: each reported by its line number, every
 * other line committed; the same file again changes nothing. */
START_TEST(test_import_ten_thousand)
{
	size_t cap = 10000 * 96, len = 0;
	char *text = malloc(cap);

	for (int i = 1; i <= 10000; i++) {
		int n;
		if (i == 5)
			n = snprintf(text + len, cap - len, "{\"id\": \"imp-5\", \n");
		else if (i == 5000)
			n = snprintf(text + len, cap - len, "{\"id\": \"bad id!\"}\n");
		else if (i == 9999)
			n = snprintf(text + len, cap - len,
				     "{\"id\": \"imp-9999\", \"colour\": 1}\n");
		else
			n = snprintf(
				text + len, cap - len,
				"{\"id\":\"imp-%d\",\"group\":\"line-%d\",\"tags\":[\"t%d\"]}\n", i,
				i % 3, i % 7);
		len += (size_t)n;
	}
	json_t *j = import_ok(NULL, text);
	assert_summary(j, 9997, 0, 0, 3);
	ck_assert_int_eq(member(j, "lines"), 10000);
	ck_assert(json_is_false(json_object_get(j, "dry_run")));
	json_t *e = error_of_line(j, 5);
	ck_assert_str_eq(json_string_value(json_object_get(e, "type")),
			 "urn:suitd:invalid-request");
	ck_assert_int_eq(member(e, "status"), 400);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "detail")), "not JSON"));
	e = error_of_line(j, 5000);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "detail")), "'id'"));
	e = error_of_line(j, 9999);
	ck_assert_str_eq(json_string_value(json_object_get(e, "id")), "imp-9999");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "detail")), "colour"));
	json_decref(j);
	ck_assert_int_eq(devices(), 9997);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM device_tags t JOIN devices d "
					     "ON d.num = t.device_num WHERE d.id = 'imp-7' AND "
					     "t.tag = 't0'"),
			 1);
	/* One summary event per committed batch, not one per device. */
	long long events =
		harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = 'devices.imported'");
	ck_assert_int_ge(events, 10000 / 500);
	ck_assert_int_le(events, 10000 / 500 + 1);
	char sql[256], created[64];
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(sum(%s), 0) FROM events WHERE type = 'devices.imported'",
		 harness_sql_json_int("data", "created", created, sizeof(created)));
	ck_assert_int_eq(harness_sql_int(&P, sql), 9997);

	j = import_ok(NULL, text);
	assert_summary(j, 0, 0, 9997, 3);
	json_decref(j);
	ck_assert_int_eq(events, harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
						     "'devices.imported'"));
	free(text);
}
END_TEST

/* Given members change, absent ones stay; a dry run counts the same and
 * writes nothing. */
START_TEST(test_update_and_dry_run)
{
	json_t *j = import_ok(NULL, "{\"id\":\"imp-a\",\"group\":\"g1\",\"tags\":[\"x\"],"
				    "\"attributes\":{\"hw\":\"rev1\"}}\n"
				    "{\"id\":\"imp-b\"}\n");
	assert_summary(j, 2, 0, 0, 0);
	json_decref(j);

	const char *change = "{\"id\":\"imp-a\",\"attributes\":{\"hw\":\"rev2\"}}\n"
			     "{\"id\":\"imp-b\",\"group\":\"g1\"}\n"
			     "{\"id\":\"imp-c\"}\n";
	j = import_ok("?dry_run=1", change);
	assert_summary(j, 1, 2, 0, 0);
	ck_assert(json_is_true(json_object_get(j, "dry_run")));
	json_decref(j);
	ck_assert_int_eq(devices(), 2);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'imp-a' AND "
					     "attributes = '{\"hw\":\"rev1\"}'"),
			 1);
	char sql[256], updated[64];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM events WHERE type = 'devices.imported' AND %s > 0",
		 harness_sql_json_int("data", "updated", updated, sizeof(updated)));
	ck_assert_int_eq(harness_sql_int(&P, sql), 0);

	j = import_ok(NULL, change);
	assert_summary(j, 1, 2, 0, 0);
	json_decref(j);
	/* imp-a kept its group and tags; its attributes changed. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'imp-a' AND "
					     "grp = 'g1' AND attributes = '{\"hw\":\"rev2\"}'"),
			 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM device_tags t JOIN devices d "
					     "ON d.num = t.device_num WHERE d.id = 'imp-a'"),
			 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'imp-b' AND "
					     "grp = 'g1'"),
			 1);
	/* An id fixed once: vendor and class do not change by import. */
	j = import_ok(NULL, "{\"id\":\"imp-b\",\"class_id\":\"1492af14-2569-5e48-bf42-"
			    "9b2d51f2ab45\"}\n");
	assert_summary(j, 0, 0, 0, 1);
	ck_assert_int_eq(member(error_of_line(j, 1), "status"), 409);
	json_decref(j);
}
END_TEST

/* Export streams every device as an import line (no token, ever); the
 * export imported again changes nothing; filters apply. */
START_TEST(test_export_round_trip)
{
	struct http_result r;
	char line[160], token[128];
	size_t cap = 1200 * 128, len = 0;
	char *text = malloc(cap);

	for (int i = 0; i < 1200; i++) /* more than two export pages */
		len += (size_t)snprintf(
			text + len, cap - len,
			"{\"id\":\"imp-%04d\",\"group\":\"%s\",\"tags\":[\"a\",\"b\"],"
			"\"attributes\":{\"n\":%d}}\n",
			i, i % 2 ? "odd" : "even", i);
	json_t *j = import_ok(NULL, text);
	assert_summary(j, 1200, 0, 0, 0);
	json_decref(j);
	create_device("{\"id\":\"imp-tok\",\"vendor_id\":\"fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe\"}",
		      token, sizeof(token));

	harness_request(&P, "GET", EXPORT, P.admin_key, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	ck_assert_str_eq(hdr(&r, "Content-Type"), NDJSON);
	ck_assert_ptr_null(strstr(r.body, token));
	ck_assert_ptr_null(strstr(r.body, "token"));
	long lines = 0;
	for (size_t i = 0; i < r.body_len; i++)
		lines += r.body[i] == '\n';
	ck_assert_int_eq(lines, 1201);
	ck_assert_int_eq(r.body[r.body_len - 1], '\n');
	j = import_ok(NULL, r.body);
	assert_summary(j, 0, 0, 1201, 0);
	json_decref(j);
	http_result_release(&r);

	harness_request(&P, "GET", EXPORT "?group=odd&tag=a", P.admin_key, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	lines = 0;
	for (size_t i = 0; i < r.body_len; i++)
		lines += r.body[i] == '\n';
	ck_assert_int_eq(lines, 600);
	snprintf(line, sizeof(line), "{\"id\":\"imp-0001\",\"group\":\"odd\"");
	ck_assert_ptr_nonnull(strstr(r.body, line));
	http_result_release(&r);

	harness_request(&P, "GET", EXPORT "?group=none-such", P.admin_key, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	ck_assert_int_eq((long)r.body_len, 0);
	http_result_release(&r);
	harness_request(&P, "GET", EXPORT "?seen_since=yesterday", P.admin_key, NULL, NULL, 0, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	free(text);
}
END_TEST

static long whoami(const char *token)
{
	struct http_result r;
	char auth[300];
	const char *headers[] = {auth, NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	harness_request_ex(&P, "GET", "/device/v1/whoami", NULL, headers, NULL, 0, &r);
	long status = r.status;
	http_result_release(&r);
	return status;
}

/* Factory tokens: stored as a hash, usable at once, replaced by a new
 * import; generated tokens come back once, never in the log. */
START_TEST(test_tokens)
{
	const char *t1 = "factory-token-0001-test-only-aaaaaaaaaaaa";
	const char *t2 = "factory-token-0002-test-only-bbbbbbbbbbbb";
	char text[512];
	struct http_result r;

	snprintf(text, sizeof(text), "{\"id\":\"imp-f1\",\"token\":\"%s\"}\n", t1);
	json_t *j = import_ok(NULL, text);
	assert_summary(j, 1, 0, 0, 0);
	json_decref(j);
	ck_assert_int_eq(whoami(t1), 200);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT length(token_hash) FROM devices WHERE id = "
					     "'imp-f1'"),
			 32);
	/* The same token again: unchanged. Another device with it: refused. */
	snprintf(text, sizeof(text),
		 "{\"id\":\"imp-f1\",\"token\":\"%s\"}\n{\"id\":\"imp-f2\",\"token\":\"%s\"}\n"
		 "{\"id\":\"imp-f3\",\"token\":\"short\"}\n",
		 t1, t1);
	j = import_ok(NULL, text);
	assert_summary(j, 0, 0, 1, 2);
	ck_assert_int_eq(member(error_of_line(j, 2), "status"), 409);
	ck_assert_int_eq(member(error_of_line(j, 3), "status"), 400);
	json_decref(j);
	ck_assert_int_eq(devices(), 1);
	/* A new token replaces the old at once (a rotation has a grace; an
	 * import does not). */
	snprintf(text, sizeof(text), "{\"id\":\"imp-f1\",\"token\":\"%s\"}\n", t2);
	j = import_ok(NULL, text);
	assert_summary(j, 0, 1, 0, 0);
	json_decref(j);
	ck_assert_int_eq(whoami(t2), 200);
	ck_assert_int_eq(whoami(t1), 401);

	/* Generated: one NDJSON line per new device, then the summary. The
	 * existing device keeps its token. */
	import_as(P.admin_key, "?tokens=generate",
		  "{\"id\":\"imp-g1\"}\n{\"id\":\"imp-g2\"}\n{\"id\":\"imp-f1\"}\n", &r);
	assert_status(&r, 200);
	ck_assert_str_eq(hdr(&r, "Content-Type"), NDJSON);
	ck_assert_str_eq(hdr(&r, "Cache-Control"), "no-store");
	char *save = NULL, *body = strdup(r.body);
	char *l1 = strtok_r(body, "\n", &save), *l2 = strtok_r(NULL, "\n", &save),
	     *l3 = strtok_r(NULL, "\n", &save);
	ck_assert_ptr_nonnull(l3);
	ck_assert_ptr_null(strtok_r(NULL, "\n", &save));
	const char *ids[] = {"imp-g1", "imp-g2"};
	char *lines[] = {l1, l2};
	for (int i = 0; i < 2; i++) {
		json_t *t = json_loads(lines[i], 0, NULL);
		ck_assert_str_eq(json_string_value(json_object_get(t, "id")), ids[i]);
		const char *tok = json_string_value(json_object_get(t, "token"));
		ck_assert_ptr_nonnull(tok);
		ck_assert_int_eq(whoami(tok), 200);
		ck_assert(!harness_log_contains(&P, tok));
		json_decref(t);
	}
	j = json_loads(l3, 0, NULL);
	assert_summary(json_object_get(j, "summary"), 2, 0, 1, 0);
	json_decref(j);
	free(body);
	http_result_release(&r);
	ck_assert_int_eq(whoami(t2), 200);
	ck_assert(!harness_log_contains(&P, t2));
}
END_TEST

/* Refused before a line is read: role, media type, query. Long and empty
 * lines: only that line. */
START_TEST(test_refusals)
{
	struct http_result r;
	char reader[96];

	harness_request(&P, "POST", IMPORT, P.admin_key, "application/json", "{}", 2, &r);
	assert_problem(&r, 415, "unsupported-media-type", NULL);
	http_result_release(&r);
	import_as(P.admin_key, "?dry_run=maybe", "{\"id\":\"imp-x\"}\n", &r);
	assert_problem(&r, 400, "invalid-request", "dry_run must be 1, 0, true or false");
	http_result_release(&r);
	import_as(P.admin_key, "?tokens=all", "{\"id\":\"imp-x\"}\n", &r);
	assert_problem(&r, 400, "invalid-request", "tokens must be 'generate' when given");
	http_result_release(&r);
	import_as(P.admin_key, "?colour=1", "{\"id\":\"imp-x\"}\n", &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	ck_assert_int_eq(harness_cli(&P, reader, sizeof(reader), "key", "create", "--name", "ro",
				     "--role", "reader", (char *)NULL),
			 0);
	reader[strcspn(reader, "\n")] = '\0';
	import_as(reader, NULL, "{\"id\":\"imp-x\"}\n", &r);
	assert_problem(&r, 403, "forbidden", NULL);
	http_result_release(&r);
	harness_request(&P, "GET", EXPORT, reader, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	ck_assert_int_eq(devices(), 0);

	size_t big = 70 * 1024;
	char *text = malloc(big + 200);
	int n = snprintf(text, 200, "\n  \r\n{\"id\":\"imp-long\",\"attributes\":{\"x\":\"");
	memset(text + n, 'a', big);
	snprintf(text + n + big, 200, "\"}}\n[1]\n{\"id\":\"imp-after\"}");
	json_t *j = import_ok(NULL, text);
	assert_summary(j, 1, 0, 0, 2);
	ck_assert_int_eq(member(j, "lines"), 5);
	ck_assert_int_eq(member(error_of_line(j, 3), "status"), 413);
	ck_assert_ptr_nonnull(
		strstr(json_string_value(json_object_get(error_of_line(j, 4), "detail")),
		       "one JSON object"));
	json_decref(j);
	free(text);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = "
					     "'imp-after'"),
			 1);
}
END_TEST

/* A device imported into a deployed group joins the rollout, as one created
 * one by one does: its first check-in gets the manifest. */
START_TEST(test_joins_deployment)
{
	char json[256];
	const char *tok = "factory-token-join-test-only-cccccccccccc";

	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"group\":\"wave\"}}",
		 F.m1.digest);
	long id = deploy(json, NULL);
	snprintf(json, sizeof(json), "{\"id\":\"imp-j1\",\"group\":\"wave\",\"token\":\"%s\"}\n",
		 tok);
	json_t *j = import_ok(NULL, json);
	assert_summary(j, 1, 0, 0, 0);
	json_decref(j);
	assert_assignment(id, "imp-j1", "pending", "");
	expect_envelope(tok, NULL, &F.m1);
}
END_TEST

/* `suitd device import` runs the same engine on the server's machine; a
 * running daemon follows (token cache and assignments). */
START_TEST(test_cli_import)
{
	char path[256], out[4096];
	const char *tok = "factory-token-cli-test-only-dddddddddddddd";

	harness_path(&P, "devices", "ndjson", path, sizeof(path));
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"id\":\"imp-c1\",\"token\":\"%s\"}\n{\"id\":\"imp-c2\"}\nnot json\n", tok);
	fclose(f);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "device", "import", "--dry-run", path,
				     (char *)NULL),
			 1);
	ck_assert_int_eq(devices(), 0);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "device", "import", path, (char *)NULL),
			 1);
	json_t *j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	assert_summary(j, 2, 0, 0, 1);
	json_decref(j);
	ck_assert_int_eq(devices(), 2);
	ck_assert_int_eq(whoami(tok), 200);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "device", "import", "--bogus", path,
				     (char *)NULL),
			 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e_import");
	TCase *tc = tcase_create("import");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, fleet_teardown);
	tcase_add_test(tc, test_import_ten_thousand);
	tcase_add_test(tc, test_update_and_dry_run);
	tcase_add_test(tc, test_export_round_trip);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_joins_deployment);
	tcase_add_test(tc, test_cli_import);
	suite_add_tcase(s, tc);
	return check_run(s);
}
