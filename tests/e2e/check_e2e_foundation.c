/* The foundation end to end: the real daemon over TLS on loopback. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#include "tests/check_run.h"

static struct suitd_proc P;

static void start_default(void)
{
	harness_setup(&P, "[server]\n");
	/* The setup config already has [server]; use a fresh file with limits. */
	harness_write_config(&P, "[log]\nlevel = info\n");
	harness_admin_key(&P);
	harness_start(&P);
}

static void stop_default(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_cleanup(&P);
}

static json_t *body_json(const struct http_result *r)
{
	json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);

	ck_assert_msg(j != NULL, "body is not JSON: %s", r->body ? r->body : "(empty)");
	return j;
}

/* Assert a problem+json response with this status and type slug. */
static void assert_problem(const struct http_result *r, long status, const char *slug)
{
	char ct[128], type[96];
	json_t *j;

	ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status,
		      r->body ? r->body : "");
	ck_assert_ptr_nonnull(http_header(r, "Content-Type", ct, sizeof(ct)));
	ck_assert_str_eq(ct, "application/problem+json");
	j = body_json(r);
	snprintf(type, sizeof(type), "urn:suitd:%s", slug);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), type);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "title")));
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "detail")));
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "instance")));
	json_decref(j);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ". */
static void time_format_utc(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

START_TEST(test_health_ready)
{
	struct http_result r;
	char v[64];

	harness_request(&P, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	http_result_release(&r);
	harness_request(&P, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	harness_request(&P, "HEAD", "/healthz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(http_header(&r, "Content-Length", v, sizeof(v)));
	ck_assert_str_eq(v, "3");
	ck_assert_uint_eq(r.body_len, 0);
	http_result_release(&r);
}
END_TEST

START_TEST(test_metrics_format)
{
	struct http_result r;
	char ct[128];

	harness_request(&P, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
	http_result_release(&r);
	harness_request(&P, "GET", "/nowhere", NULL, NULL, NULL, 0, &r);
	http_result_release(&r);
	/* The two connections above were closed by the client; the server
	 * counts a close when a worker reads it, which may come just after
	 * the scrape on another worker: scrape again until it has (the last
	 * scrape is what the assertions below read). */
	for (int i = 0; i < 50; i++) {
		harness_request(&P, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
		if (i == 49 || !r.body || strstr(r.body, "suitd_http_connections_open 1\n"))
			break;
		http_result_release(&r);
		usleep(20 * 1000);
	}
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(http_header(&r, "Content-Type", ct, sizeof(ct)));
	ck_assert_str_eq(ct, "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(
		r.body,
		"suitd_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "route=\"unmatched\",status=\"404\"} 1\n"));
	ck_assert_ptr_nonnull(
		strstr(r.body, "# TYPE suitd_http_request_duration_seconds histogram\n"));
	ck_assert_ptr_nonnull(
		strstr(r.body, "suitd_http_request_duration_seconds_bucket{le=\"+Inf\"} "));
	ck_assert_ptr_nonnull(strstr(r.body, "suitd_build_info{version=\""));
	ck_assert_ptr_nonnull(strstr(r.body, "suitd_http_connections_open 1\n"));
	/* Every non-comment line is "name{labels} value" or "name value". */
	for (char *line = r.body; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (*line == '#' || *line == '\n')
			continue;
		char name[128];
		double value;
		ck_assert_msg(sscanf(line, "%127[a-z_]%*[^ ] %lf", name, &value) == 2 ||
				      sscanf(line, "%127[a-z_] %lf", name, &value) == 2,
			      "bad metrics line: %.80s", line);
	}
	http_result_release(&r);
}
END_TEST

START_TEST(test_auth_errors)
{
	struct http_result r;
	char v[128], reader[96], out[512];

	harness_request(&P, "GET", "/api/v1/status", NULL, NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized");
	ck_assert_ptr_nonnull(http_header(&r, "WWW-Authenticate", v, sizeof(v)));
	ck_assert_ptr_nonnull(strstr(v, "Bearer"));
	http_result_release(&r);

	harness_request(&P, "GET", "/api/v1/status", "suitd_ak_not-a-real-key", NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized");
	http_result_release(&r);

	/* A key of 1000 bytes is refused without a lookup. */
	char huge[1001];
	memset(huge, 'A', 1000);
	huge[1000] = '\0';
	harness_request(&P, "GET", "/api/v1/status", huge, NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized");
	http_result_release(&r);

	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "ro",
				     "--role", "reader", (char *)NULL),
			 0);
	out[strcspn(out, "\n")] = '\0';
	snprintf(reader, sizeof(reader), "%s", out);
	harness_request(&P, "GET", "/api/v1/status", reader, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "key"), "role")),
			 "reader");
	json_decref(j);
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/keys", reader, NULL, NULL, 0, &r);
	assert_problem(&r, 403, "forbidden");
	http_result_release(&r);
	/* The secret never reaches the log; the key name does. */
	ck_assert(!harness_log_contains(&P, reader));
	ck_assert(harness_log_contains(&P, "key=ro"));
}
END_TEST

START_TEST(test_not_found_and_method)
{
	struct http_result r;
	char allow[64];

	harness_request(&P, "GET", "/api/v1/nothing", P.admin_key, NULL, NULL, 0, &r);
	assert_problem(&r, 404, "not-found");
	http_result_release(&r);
	harness_request(&P, "PUT", "/api/v1/keys", P.admin_key, NULL, NULL, 0, &r);
	assert_problem(&r, 405, "method-not-allowed");
	ck_assert_ptr_nonnull(http_header(&r, "Allow", allow, sizeof(allow)));
	ck_assert_str_eq(allow, "GET, HEAD, POST");
	http_result_release(&r);
}
END_TEST

START_TEST(test_body_errors)
{
	struct http_result r;
	char *big = malloc(2 * 1024 * 1024);

	memset(big, '{', 2 * 1024 * 1024);
	/* Content-Length over max_body (1 MiB): refused before the body. */
	harness_request(&P, "POST", "/api/v1/keys", P.admin_key, "application/json", big,
			2 * 1024 * 1024, &r);
	assert_problem(&r, 413, "too-large");
	http_result_release(&r);
	free(big);
	static const struct {
		const char *type, *body;
		long status;
		const char *slug;
	} bad[] = {
		{"text/plain", "{}", 415, "unsupported-media-type"},
		{"application/json", "{\"name\":", 400, "invalid-request"},
		{"application/json", "[1]", 400, "invalid-request"},
		{"application/json", "{\"name\":\"a\",\"name\":\"b\",\"role\":\"admin\"}", 400,
		 "invalid-request"},
		{"application/json", "{\"name\":\"x y\",\"role\":\"admin\"}", 400,
		 "invalid-request"},
		{"application/json", "{\"name\":\"xy\",\"role\":\"root\"}", 400, "invalid-request"},
		{"application/json", "{\"name\":7,\"role\":\"admin\"}", 400, "invalid-request"},
		{"application/json", "{\"role\":\"admin\"}", 400, "invalid-request"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		harness_request(&P, "POST", "/api/v1/keys", P.admin_key, bad[i].type, bad[i].body,
				strlen(bad[i].body), &r);
		assert_problem(&r, bad[i].status, bad[i].slug);
		http_result_release(&r);
	}
	/* The daemon still answers. */
	harness_request(&P, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
}
END_TEST

START_TEST(test_keys_over_api)
{
	struct http_result r;
	char body[128], key[96], cc[64];
	json_t *j;

	harness_request(&P, "POST", "/api/v1/keys", P.admin_key, "application/json",
			"{\"name\":\"ci\",\"role\":\"operator\"}", 31, &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_ptr_nonnull(http_header(&r, "Cache-Control", cc, sizeof(cc)));
	ck_assert_str_eq(cc, "no-store");
	j = body_json(&r);
	snprintf(key, sizeof(key), "%s", json_string_value(json_object_get(j, "key")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "role")), "operator");
	json_decref(j);
	http_result_release(&r);
	ck_assert_int_eq(strncmp(key, "suitd_ak_", 9), 0);

	harness_request(&P, "POST", "/api/v1/keys", P.admin_key, "application/json",
			"{\"name\":\"ci\",\"role\":\"reader\"}", 29, &r);
	assert_problem(&r, 409, "already-exists");
	http_result_release(&r);

	harness_request(&P, "GET", "/api/v1/status", key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);

	/* Listing: names and roles, never a secret or hash. */
	harness_request(&P, "GET", "/api/v1/keys?limit=1", P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	ck_assert(json_is_string(json_object_get(j, "next")));
	snprintf(body, sizeof(body), "/api/v1/keys?after=%s",
		 json_string_value(json_object_get(j, "next")));
	json_decref(j);
	ck_assert_ptr_null(strstr(r.body, "suitd_ak_"));
	http_result_release(&r);
	harness_request(&P, "GET", body, P.admin_key, NULL, NULL, 0, &r);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	ck_assert(json_is_null(json_object_get(j, "next")));
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "items"), 0), "name")),
			 "ci");
	json_decref(j);
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/keys?limit=0", P.admin_key, NULL, NULL, 0, &r);
	assert_problem(&r, 400, "invalid-request");
	http_result_release(&r);

	harness_request(&P, "DELETE", "/api/v1/keys/ci", P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 204);
	http_result_release(&r);
	harness_request(&P, "DELETE", "/api/v1/keys/ci", P.admin_key, NULL, NULL, 0, &r);
	assert_problem(&r, 404, "not-found");
	http_result_release(&r);
	/* A revoked key stops working at once. */
	harness_request(&P, "GET", "/api/v1/status", key, NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized");
	http_result_release(&r);
	ck_assert(harness_log_contains(&P, "api key 'ci' refused: revoked"));
	ck_assert(!harness_log_contains(&P, key));
}
END_TEST

/* The stored expiry of the unrevoked key named name (0: none). */
static int64_t stored_expiry(const char *name)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(expires_at, 0) FROM api_keys WHERE name = '%s' AND "
		 "revoked_at IS NULL",
		 name);
	return harness_sql_int(&P, sql);
}

/* The expires_at member of an answer about the key named name shows its
 * stored expiry (null for none); that expiry is returned. */
static int64_t assert_expiry(json_t *obj, const char *name)
{
	json_t *at = json_object_get(obj, "expires_at");
	int64_t t = stored_expiry(name);
	char want[32];

	ck_assert_msg(at != NULL, "no expires_at for key '%s'", name);
	if (!t) {
		ck_assert_msg(json_is_null(at), "key '%s' has no expiry but shows one", name);
		return 0;
	}
	time_format_utc(t, want, sizeof(want));
	ck_assert_str_eq(json_string_value(at), want);
	return t;
}

/* POST /api/v1/keys with this body: the status, and on 201 the key into
 * key (may be NULL) and its expires_at into *ret_expires (0 for null). */
static long key_post(const char *json, char key[96], int64_t *ret_expires)
{
	struct http_result r;
	long status;

	harness_request(&P, "POST", "/api/v1/keys", P.admin_key, "application/json", json,
			strlen(json), &r);
	status = r.status;
	if (status == 201) {
		json_t *j = body_json(&r);
		*ret_expires = assert_expiry(j, json_string_value(json_object_get(j, "name")));
		if (key)
			snprintf(key, 96, "%s", json_string_value(json_object_get(j, "key")));
		json_decref(j);
	}
	http_result_release(&r);
	return status;
}

/* GET /api/v1/status with key until it is refused (401), at most until
 * deadline; returns how many times it was accepted, or -1 when it never
 * was refused. Refusal must not come before expires_at. */
static long use_until_refused(const char *key, int64_t expires_at, int64_t deadline)
{
	struct http_result r;
	long accepted = 0;

	while ((int64_t)time(NULL) < deadline) {
		harness_request(&P, "GET", "/api/v1/status", key, NULL, NULL, 0, &r);
		if (r.status != 200) {
			assert_problem(&r, 401, "unauthorized");
			http_result_release(&r);
			ck_assert_int_ge((int64_t)time(NULL), expires_at);
			return accepted;
		}
		http_result_release(&r);
		accepted++;
		sleep_ms(100);
	}
	return -1;
}

/* The unrevoked entry of GET /api/v1/keys named name: its expires_at (0
 * for null), which must be the stored one. */
static int64_t listed_expiry(const char *name)
{
	struct http_result r;
	json_t *j, *item;
	int64_t t = -1;
	size_t i;

	harness_request(&P, "GET", "/api/v1/keys", P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	json_array_foreach(json_object_get(j, "items"), i, item)
	{
		if (strcmp(json_string_value(json_object_get(item, "name")), name) != 0 ||
		    !json_is_null(json_object_get(item, "revoked_at")))
			continue;
		t = assert_expiry(item, name);
	}
	json_decref(j);
	http_result_release(&r);
	ck_assert_msg(t >= 0, "key '%s' is not listed", name);
	return t;
}

/* A key with expires_in works until expires_at, then gets the 401 of a
 * revoked key; the log says why (never the key); the list shows the
 * expiry; the name stays taken until the key is revoked. */
START_TEST(test_key_expiry_api)
{
	char key[96], text[128];
	int64_t at, now = (int64_t)time(NULL);
	long accepted;

	ck_assert_int_eq(
		key_post("{\"name\":\"short\",\"role\":\"reader\",\"expires_in\":2}", key, &at),
		201);
	/* Whole seconds from the creation's second. */
	ck_assert_msg(at >= now + 2 && at <= (int64_t)time(NULL) + 2, "expires_at %lld, now %lld",
		      (long long)at, (long long)now);
	ck_assert_int_eq(listed_expiry("short"), at);
	ck_assert_int_eq(listed_expiry("test-admin"), 0);
	accepted = use_until_refused(key, at, at + 3);
	ck_assert_msg(accepted >= 0, "the key is still accepted 3 s after its expiry");
	ck_assert_msg(accepted >= 1, "the key was refused before its expiry");
	snprintf(text, sizeof(text), "api key 'short' refused: expired at ");
	ck_assert(harness_log_contains(&P, text));
	ck_assert(!harness_log_contains(&P, key));
	/* Expired is still listed, with its expiry, and still holds the name. */
	ck_assert_int_eq(listed_expiry("short"), at);
	ck_assert_int_eq(key_post("{\"name\":\"short\",\"role\":\"reader\"}", NULL, &at), 409);
	char sql[256], detail[64];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM events WHERE type = 'key.created' AND subject = "
		 "'key:short' AND %s LIKE 'expires 20%%Z'",
		 harness_sql_json_text("data", "detail", detail, sizeof(detail)));
	ck_assert_int_eq(harness_sql_int(&P, sql), 1);
	struct http_result r;
	harness_request(&P, "DELETE", "/api/v1/keys/short", P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 204);
	http_result_release(&r);

	/* Every form of expires_in; null and absent: never. */
	static const struct {
		const char *json;
		int64_t seconds; /* 0: never */
	} ok[] = {
		{"{\"name\":\"short\",\"role\":\"reader\",\"expires_in\":\"90m\"}", 5400},
		{"{\"name\":\"k2\",\"role\":\"reader\",\"expires_in\":\"3600\"}", 3600},
		{"{\"name\":\"k3\",\"role\":\"reader\",\"expires_in\":\"45s\"}", 45},
		{"{\"name\":\"k4\",\"role\":\"reader\",\"expires_in\":\"87600h\"}", 315360000},
		{"{\"name\":\"k5\",\"role\":\"reader\",\"expires_in\":null}", 0},
		{"{\"name\":\"k6\",\"role\":\"reader\"}", 0},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		now = (int64_t)time(NULL);
		ck_assert_int_eq(key_post(ok[i].json, NULL, &at), 201);
		if (!ok[i].seconds)
			ck_assert_int_eq(at, 0);
		else
			ck_assert_msg(at >= now + ok[i].seconds && at <= now + ok[i].seconds + 1,
				      "%s: expires_at %lld, now %lld", ok[i].json, (long long)at,
				      (long long)now);
	}
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM events WHERE type = 'key.created' AND subject = 'key:k6' "
		 "AND %s IS NULL",
		 harness_sql_json_text("data", "detail", detail, sizeof(detail)));
	ck_assert_int_eq(harness_sql_int(&P, sql), 1);
}
END_TEST

/* A bad expires_in is 400 naming the field, and creates nothing. */
START_TEST(test_key_expiry_invalid)
{
	static const char *const bad[] = {
		"0",	     "-1",	   "1.5",    "true",	"\"\"",
		"\"0\"",     "\"abc\"",	   "\"2d\"", "\"-5s\"", "\"5 s\"",
		"315360001", "\"87601h\"", "{}",     "[1]",	"9223372036854775807",
	};
	struct http_result r;
	char json[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"name\":\"bad\",\"role\":\"reader\",\"expires_in\":%s}", bad[i]);
		harness_request(&P, "POST", "/api/v1/keys", P.admin_key, "application/json", json,
				strlen(json), &r);
		assert_problem(&r, 400, "invalid-request");
		ck_assert_msg(strstr(r.body, "expires_in") != NULL,
			      "%s: the detail does not name expires_in: %s", bad[i], r.body);
		http_result_release(&r);
	}
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM api_keys WHERE name = 'bad'"),
			 0);
}
END_TEST

/* suitd key create --expires-in: the same expiry from the command line;
 * key list shows it and says expired. */
START_TEST(test_key_expiry_cli)
{
	char out[4096], key[96], *line;
	int64_t at, now = (int64_t)time(NULL);
	long accepted;

	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "brief",
				     "--role", "reader", "--expires-in", "2s", (char *)NULL),
			 0);
	out[strcspn(out, "\n")] = '\0';
	snprintf(key, sizeof(key), "%s", out);
	at = listed_expiry("brief");
	ck_assert(at >= now + 2 && at <= (int64_t)time(NULL) + 2);
	accepted = use_until_refused(key, at, at + 3);
	ck_assert_msg(accepted >= 0, "the key is still accepted 3 s after its expiry");
	ck_assert_msg(accepted >= 1, "the key was refused before its expiry");
	ck_assert(harness_log_contains(&P, "api key 'brief' refused: expired at "));

	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "long",
				     "--role", "reader", "--expires-in", "720h", (char *)NULL),
			 0);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "list", (char *)NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "EXPIRES"));
	/* brief: its expiry, and expired; long: its expiry, and active. */
	char when[32], expires[32], status[16];
	time_format_utc(at, when, sizeof(when));
	ck_assert_ptr_nonnull(line = strstr(out, "\nbrief "));
	ck_assert_int_eq(sscanf(line, "%*s %*s %*s %*s %31s %15s", expires, status), 2);
	ck_assert_str_eq(expires, when);
	ck_assert_str_eq(status, "expired");
	at = listed_expiry("long");
	ck_assert(at >= now + 720 * 3600 && at <= (int64_t)time(NULL) + 720 * 3600);
	time_format_utc(at, when, sizeof(when));
	ck_assert_ptr_nonnull(line = strstr(out, "\nlong "));
	ck_assert_int_eq(sscanf(line, "%*s %*s %*s %*s %31s %15s", expires, status), 2);
	ck_assert_str_eq(expires, when);
	ck_assert_str_eq(status, "active");
	/* No expiry: "-". */
	ck_assert_ptr_nonnull(line = strstr(out, "\ntest-admin "));
	ck_assert_int_eq(sscanf(line, "%*s %*s %*s %*s %31s %15s", expires, status), 2);
	ck_assert_str_eq(expires, "-");
	ck_assert_str_eq(status, "active");

	/* Bad durations: exit 1, a message naming the option, nothing made. */
	static const char *const bad[] = {"0", "abc", "2d", "-1", "87601h", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "bad",
					     "--role", "reader", "--expires-in", bad[i],
					     (char *)NULL),
				 1);
		ck_assert_ptr_null(strstr(out, "suitd_ak_"));
	}
	ck_assert(harness_log_contains(&P, "--expires-in '2d' must be"));
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM api_keys WHERE name = 'bad'"),
			 0);
}
END_TEST

START_TEST(test_keys_cli)
{
	struct http_result r;
	char out[2048], key[96];

	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "cli1",
				     "--role", "operator", (char *)NULL),
			 0);
	/* The key alone on the last line. */
	ck_assert_uint_eq((unsigned)(strchr(out, '\n') - out), strlen(out) - 1);
	out[strcspn(out, "\n")] = '\0';
	snprintf(key, sizeof(key), "%s", out);
	harness_request(&P, "GET", "/api/v1/status", key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "list", (char *)NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "cli1"));
	ck_assert_ptr_nonnull(strstr(out, "operator"));
	ck_assert_ptr_null(strstr(out, key));
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "revoke", "cli1", (char *)NULL),
			 0);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "revoke", "cli1", (char *)NULL),
			 1);
	harness_request(&P, "GET", "/api/v1/status", key, NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized");
	http_result_release(&r);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "bad name",
				     "--role", "admin", (char *)NULL),
			 1);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "x", "--role",
				     "god", (char *)NULL),
			 1);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "frobnicate", (char *)NULL), 2);
}
END_TEST

START_TEST(test_keep_alive)
{
	/* Two requests on one handle share one connection (PLATFORM.md gotcha 1). */
	CURL *c = curl_easy_init();
	char url[256];
	long connects = -1, code = 0;
	FILE *devnull = fopen("/dev/null", "w");

	snprintf(url, sizeof(url), "%s/healthz", P.url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, P.ca);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(connects, 0);
	/* TLS 1.2 still works, with an AEAD suite; TLS 1.1 does not. */
	curl_easy_setopt(c, CURLOPT_SSLVERSION,
			 (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_setopt(c, CURLOPT_SSLVERSION,
			 (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
	curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, "ECDHE-ECDSA-AES128-SHA256");
	ck_assert_int_ne(curl_easy_perform(c), CURLE_OK);
	curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, NULL);
	curl_easy_setopt(c, CURLOPT_SSLVERSION,
			 (long)(CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1));
	ck_assert_int_ne(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	fclose(devnull);
}
END_TEST

START_TEST(test_check_config)
{
	char out[1024];
	FILE *f;

	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "check-config", (char *)NULL), 0);
	ck_assert_str_eq(out, "configuration OK\n");
	harness_write_config(&P, "[server]\nmax_body = lots\n");
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "check-config", (char *)NULL), 1);
	ck_assert_str_eq(out, "");
	/* The line number depends on the [storage] section of the backend. */
	char want[96], line[256];
	int n = 0, at = 0;
	f = fopen(P.conf, "r");
	ck_assert_ptr_nonnull(f);
	while (!at && fgets(line, sizeof(line), f)) {
		n++;
		at = strcmp(line, "max_body = lots\n") == 0 ? n : 0;
	}
	fclose(f);
	ck_assert_int_gt(at, 0);
	snprintf(want, sizeof(want), "suitd.conf:%d: [server] max_body: 'lots' is not a size", at);
	ck_assert_msg(harness_log_contains(&P, want), "no '%s' in the log", want);
	/* A certificate that does not match its key. */
	harness_write_config(&P, "");
	char key[192];
	snprintf(key, sizeof(key), "%s/server.key", P.dir);
	f = fopen(key, "w");
	fputs("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", f);
	fclose(f);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "check-config", (char *)NULL), 1);
	ck_assert(harness_log_contains(&P, "holds no unencrypted PEM private key"));
}
END_TEST

START_TEST(test_sighup_reload)
{
	struct http_result r;

	ck_assert(!harness_log_contains(&P, "<7>"));
	harness_write_config(&P, "[log]\nlevel = debug\n");
	kill(P.pid, SIGHUP);
	for (int i = 0; i < 100 && !harness_log_contains(&P, "reloaded"); i++)
		sleep_ms(50);
	ck_assert(harness_log_contains(&P, "[log] level = debug"));
	/* A broken file keeps the running configuration. */
	harness_write_config(&P, "[log]\nlevel = shouty\n");
	kill(P.pid, SIGHUP);
	for (int i = 0; i < 100 && !harness_log_contains(&P, "keeping the running"); i++)
		sleep_ms(50);
	ck_assert(harness_log_contains(&P, "keeping the running configuration"));
	harness_write_config(&P, "[server]\nmax_body = 2M\n");
	kill(P.pid, SIGHUP);
	for (int i = 0; i < 100 && !harness_log_contains(&P, "after a restart"); i++)
		sleep_ms(50);
	ck_assert(harness_log_contains(&P, "applied only after a restart: [server] max_body"));
	harness_request(&P, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
}
END_TEST

START_TEST(test_backup_online)
{
	char out[512], path[192], text[64];

	snprintf(path, sizeof(path), "%s/backup.db", P.dir);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "backup", path, (char *)NULL), 0);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "backup", path, (char *)NULL), 1);
	ck_assert_str_eq(
		harness_sqlite_file_text(path, "PRAGMA integrity_check", text, sizeof(text)), "ok");
	ck_assert_str_eq(
		harness_sqlite_file_text(path, "SELECT name FROM api_keys", text, sizeof(text)),
		"test-admin");
}
END_TEST

/* Start-up errors are fatal and said clearly, before listening. */
START_TEST(test_refuses_newer_database)
{
	struct suitd_proc p;
	char db[192], out[256];

	harness_setup(&p, "");
	if (harness_backend_is_pg()) {
		/* PostgreSQL's version is the newest row of schema_version. */
		ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "migrate", (char *)NULL), 0);
		ck_assert_int_eq(harness_sql_exec(&p, "INSERT INTO schema_version (version, name) "
						      "VALUES (4242, 'from the future')"),
				 1);
	} else {
		snprintf(db, sizeof(db), "%s/suitd.db", p.dir);
		harness_sqlite_file_rows(db, "PRAGMA user_version = 4242", NULL, NULL);
	}
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "migrate", (char *)NULL), 1);
	ck_assert(harness_log_contains(&p, "schema version 4242 is newer"));
	harness_cleanup(&p);
}
END_TEST

/* Permission bits of DIR/NAME, or -1 when it does not exist. */
static int mode_of(const struct suitd_proc *p, const char *name)
{
	char file[256];
	struct stat st;

	snprintf(file, sizeof(file), "%s/%s", p->dir, name);
	return stat(file, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* The database and its backups hold payloads and credential digests: the
 * command line creates them for the owner alone, whatever the caller's
 * umask (issue 23). */
START_TEST(test_cli_file_modes)
{
	static const char *const files[] = {"suitd.db", "suitd.db-wal", "suitd.db-shm",
					    "backup.db"};
	mode_t umask_was = umask(022); /* a login shell's */
	struct suitd_proc p;
	char out[512], backup[192];

	harness_setup(&p, "");
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "migrate", (char *)NULL), 0);
	harness_admin_key(&p);
	snprintf(backup, sizeof(backup), "%s/backup.db", p.dir);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "backup", backup, (char *)NULL), 0);
	/* SQLite's WAL and shared-memory files exist while the daemon runs. */
	harness_start(&p);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int mode = mode_of(&p, files[i]);
		ck_assert_msg(mode == 0600, "%s has mode %04o, want 0600", files[i],
			      (unsigned)mode);
	}
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
	umask(umask_was);
}
END_TEST

/* suitd backup copies SQLite files: on PostgreSQL it writes nothing, exits
 * 1 and names pg_dump (docs/operations.md "Backups"). */
START_TEST(test_backup_refused_pg)
{
	char out[512], path[192];

	snprintf(path, sizeof(path), "%s/backup.db", P.dir);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "backup", path, (char *)NULL), 1);
	ck_assert(harness_log_contains(
		&P, "suitd: [storage] backend = postgresql: back the database up with pg_dump "
		    "(or the server's base backups); suitd backup copies SQLite files only\n"));
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

/* A config for p on PostgreSQL with this [storage] password_file (NULL:
 * none) and url, in mode MODE. */
static void write_pg_config(struct suitd_proc *p, const char *url, const char *password_file,
			    mode_t mode)
{
	FILE *f = fopen(p->conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[server]\nlisten = 127.0.0.1:0\ntls_cert = server.pem\ntls_key = server.key\n"
		"[storage]\nbackend = postgresql\nurl = %s\n%s%s%s",
		url, password_file ? "password_file = " : "", password_file ? password_file : "",
		password_file ? "\n" : "");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(p->conf, mode), 0);
}

/* PostgreSQL's counterpart of the file modes: the role's password is
 * refused, by the CLI and the daemon and before any connection, when group
 * or others may read it (as libpq refuses such a ~/.pgpass): in
 * [storage] password_file, or in the url of a config file. The password is
 * never logged. */
START_TEST(test_password_file_mode_pg)
{
	char storage[512], password[160], path[192], out[512], want[320], url[320];
	struct suitd_proc p;
	const char *at;
	FILE *f;

	harness_setup(&p, "");
	harness_storage_conf(&p, storage, sizeof(storage));
	at = strstr(storage, "password_file = ");
	ck_assert_ptr_nonnull(at);
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(at + 16, "\n"), at + 16);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(password, sizeof(password), f));
	fclose(f);
	password[strcspn(password, "\n")] = '\0';
	ck_assert_uint_gt(strlen(password), 8);

	snprintf(path, sizeof(path), "%s/password", p.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", password);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0640), 0);
	write_pg_config(&p, p.db_url, path, 0600);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "migrate", (char *)NULL), 1);
	snprintf(want, sizeof(want),
		 "'%s' is accessible by group or others (mode 0640): chmod 0600 it", path);
	ck_assert(harness_log_contains(&p, want));
	ck_assert_int_ne(harness_cli(&p, out, sizeof(out), (char *)NULL), 0); /* the daemon */
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "migrate", (char *)NULL), 0);
	harness_start(&p);
	ck_assert_int_eq(harness_stop(&p), 0);

	/* postgresql://suitd:PASSWORD@host...: only in a file nobody else reads. */
	at = strstr(p.db_url, "suitd@");
	ck_assert_ptr_nonnull(at);
	snprintf(url, sizeof(url), "%.*ssuitd:%s@%s", (int)(at - p.db_url), p.db_url, password,
		 at + 6);
	write_pg_config(&p, url, NULL, 0644);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "migrate", (char *)NULL), 1);
	ck_assert(harness_log_contains(
		&p, "holds a password while the file is readable by group or others"));
	ck_assert(!harness_log_contains(&p, password));
	ck_assert_int_eq(chmod(p.conf, 0600), 0);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "migrate", (char *)NULL), 0);
	ck_assert(!harness_log_contains(&p, password));
	harness_cleanup(&p);
}
END_TEST

START_TEST(test_self_signed_and_plain_warning)
{
	struct suitd_proc p;
	char cert[192];

	harness_setup(&p, "");
	/* Point at files that do not exist and let the daemon make them. */
	harness_write_config(&p, "");
	char storage[512];
	FILE *f = fopen(p.conf, "w");
	fprintf(f,
		"[server]\nlisten = 127.0.0.1:0\ntls_self_signed = on\ntls_cert = gen/c.pem\n"
		"tls_key = gen/k.pem\n%s",
		harness_storage_conf(&p, storage, sizeof(storage)));
	fclose(f);
	snprintf(cert, sizeof(cert), "%s/gen/c.pem", p.dir);
	snprintf(p.ca, sizeof(p.ca), "%s", cert); /* trust the generated certificate */
	harness_start(&p);
	ck_assert(harness_log_contains(&p, "generated a self-signed certificate"));
	ck_assert_int_eq(access(cert, R_OK), 0);
	ck_assert_int_eq(mode_of(&p, "gen/k.pem"), 0600);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

/* [server] rate_limit / rate_burst: an identity past its bucket gets 429
 * with Retry-After, another identity is still served, failed logins count
 * against the address, and the bucket refills. */
START_TEST(test_rate_limit)
{
	struct suitd_proc p;
	struct http_result r;
	char other[128], out[512];
	int ok = 0, limited = 0;

	harness_setup(&p, "[server]\nrate_limit = 2\nrate_burst = 5\n");
	harness_admin_key(&p);
	ck_assert_int_eq(harness_cli(&p, out, sizeof(out), "key", "create", "--name", "second",
				     "--role", "reader", (char *)NULL),
			 0);
	out[strcspn(out, "\n")] = '\0'; /* the key is the first line */
	snprintf(other, sizeof(other), "%s", out);
	harness_start(&p);
	for (int i = 0; i < 8; i++) {
		harness_request(&p, "GET", "/api/v1/status", p.admin_key, NULL, NULL, 0, &r);
		if (r.status == 200) {
			ok++;
		} else {
			char retry[16];
			ck_assert_int_eq(r.status, 429);
			ck_assert_ptr_nonnull(
				strstr(r.body, "\"type\":\"urn:suitd:rate-limited\""));
			ck_assert_ptr_nonnull(http_header(&r, "Retry-After", retry, sizeof(retry)));
			ck_assert_int_ge(strtol(retry, NULL, 10), 1);
			limited++;
		}
		http_result_release(&r);
	}
	/* The burst of 5, maybe one more refilled meanwhile; the rest refused. */
	ck_assert_int_ge(ok, 5);
	ck_assert_int_le(ok, 6);
	ck_assert_int_eq(ok + limited, 8);
	/* Another key has its own bucket. */
	harness_request(&p, "GET", "/api/v1/status", other, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	/* Wrong keys: 401 while the address has tokens, then 429. */
	int unauthorized = 0, refused = 0;
	for (int i = 0; i < 8; i++) {
		harness_request(&p, "GET", "/api/v1/status", "suitd_ak_wrong", NULL, NULL, 0, &r);
		unauthorized += r.status == 401;
		refused += r.status == 429;
		http_result_release(&r);
	}
	ck_assert_int_ge(unauthorized, 1);
	ck_assert_int_ge(refused, 1);
	ck_assert_int_eq(unauthorized + refused, 8);
	/* 2 per second: after 1.5 s the first key may go on. */
	usleep(1500 * 1000);
	harness_request(&p, "GET", "/api/v1/status", p.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

/* GET PATH with the admin key until it answers STATUS (at most WAIT_S
 * seconds: the storage reconnects at most once a second). */
static void await_status(struct suitd_proc *p, const char *path, long status, int wait_s)
{
	struct http_result r;
	time_t t0 = time(NULL);

	for (;;) {
		harness_request(p, "GET", path, p->admin_key, NULL, NULL, 0, &r);
		long got = r.status;
		http_result_release(&r);
		if (got == status)
			return;
		ck_assert_msg(time(NULL) - t0 < wait_s, "%s: %ld for %d s, want %ld", path, got,
			      wait_s, status);
		usleep(100 * 1000);
	}
}

/* The server refuses suitd's connections: SQLSTATE 53300
 * too_many_connections ("too many connections for role", as "sorry, too
 * many clients already" when max_connections is used up). Every request
 * that needs the database answers 503 storage-unavailable with Retry-After,
 * as when the server is down, never 500; suitd comes back by itself once
 * the limit is lifted. Runs last in its case: the limit is the role's, on
 * the server every test shares. */
START_TEST(test_too_many_connections_pg)
{
	struct suitd_proc p;
	struct http_result r;
	char retry[16];

	harness_setup(&p, NULL);
	harness_admin_key(&p);
	harness_start(&p);
	await_status(&p, "/api/v1/devices", 200, 10);
	harness_sql_exec(&p, "ALTER ROLE suitd CONNECTION LIMIT 0");
	/* The connections open now stay open under a role's limit: cut them,
	 * so the pool has to connect again. */
	ck_assert_int_ge(harness_sql_int(&p, "SELECT count(pg_terminate_backend(pid)) FROM "
					     "pg_stat_activity WHERE usename = 'suitd'"),
			 1);
	for (int i = 0; i < 5; i++) {
		harness_request(&p, "GET", "/api/v1/devices", p.admin_key, NULL, NULL, 0, &r);
		assert_problem(&r, 503, "storage-unavailable");
		ck_assert_ptr_nonnull(http_header(&r, "Retry-After", retry, sizeof(retry)));
		ck_assert_int_ge(strtol(retry, NULL, 10), 1);
		http_result_release(&r);
	}
	harness_request(&p, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 503);
	http_result_release(&r);
	/* The log says why, once (the main loop's next round). */
	for (time_t t0 = time(NULL); !harness_log_contains(&p, "the database cannot be reached: "
							       "cannot connect: ");
	     usleep(100 * 1000))
		ck_assert_msg(time(NULL) - t0 < 10, "the log does not say why");
	ck_assert(harness_log_contains(&p, "too many connections for role"));
	harness_sql_exec(&p, "ALTER ROLE suitd CONNECTION LIMIT -1");
	await_status(&p, "/api/v1/devices", 200, 10);
	harness_request(&p, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-foundation");
	TCase *tc = tcase_create("daemon");
	TCase *tc2 = tcase_create("startup");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	tcase_set_timeout(tc2, 60);
	tcase_add_checked_fixture(tc, start_default, stop_default);
	tcase_add_test(tc, test_health_ready);
	tcase_add_test(tc, test_metrics_format);
	tcase_add_test(tc, test_auth_errors);
	tcase_add_test(tc, test_not_found_and_method);
	tcase_add_test(tc, test_body_errors);
	tcase_add_test(tc, test_keys_over_api);
	tcase_add_test(tc, test_keys_cli);
	tcase_add_test(tc, test_key_expiry_api);
	tcase_add_test(tc, test_key_expiry_invalid);
	tcase_add_test(tc, test_key_expiry_cli);
	tcase_add_test(tc, test_keep_alive);
	tcase_add_test(tc, test_check_config);
	tcase_add_test(tc, test_sighup_reload);
	harness_sqlite_only(
		tc, test_backup_online,
		"suitd backup copies the SQLite file (checked with PRAGMA integrity_check); "
		"PostgreSQL: test_backup_refused_pg, restore's test_pg_dump_round_trip_pg");
	harness_pg_only(tc, test_backup_refused_pg,
			"PostgreSQL's refusal; SQLite: test_backup_online");
	tcase_add_test(tc2, test_refuses_newer_database);
	harness_sqlite_only(tc2, test_cli_file_modes,
			    "modes of the SQLite file, its WAL and shm and its backup; PostgreSQL: "
			    "test_password_file_mode_pg");
	harness_pg_only(tc2, test_password_file_mode_pg,
			"[storage] password_file is PostgreSQL's; SQLite: test_cli_file_modes");
	tcase_add_test(tc2, test_rate_limit);
	tcase_add_test(tc2, test_self_signed_and_plain_warning);
	harness_pg_only(tc2, test_too_many_connections_pg,
			"a PostgreSQL role's connection limit (SQLSTATE 53300)");
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tc2);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
