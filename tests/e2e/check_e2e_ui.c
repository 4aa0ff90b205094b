/* The web console's server side (issue 18): POST /ui/session and its
 * cookie (flags, the CSRF token on state changes, idle and absolute
 * expiry, death with its key, survival across a restart, sign-out), the
 * sign-in's bad inputs, and the embedded files (security headers on every
 * answer, content-hash caching, 404 for unknown files and pages, [ui]
 * enabled = off). The browser side is tests/ui/. Real daemon, real TLS. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tests/check_run.h"

#define CSP                                                                               \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static struct suitd_proc P;

static void start(void)
{
	harness_setup(&P, "");
	harness_write_config(&P, "[server]\nmax_body = 4K\n");
	harness_admin_key(&P);
	harness_start(&P);
}

static void stop(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_cleanup(&P);
}

/* A console session: the cookie header line and the CSRF token. */
struct session {
	char cookie[160]; /* "Cookie: suitd_session=..." */
	char csrf[96];
	char set_cookie[256];
};

static void request(const char *method, const char *path, const char *key, const struct session *s,
		    const char *csrf, const char *type, const char *body, struct http_result *r)
{
	char csrf_line[128], type_line[96];
	const char *headers[4] = {NULL};
	unsigned n = 0;

	if (s)
		headers[n++] = s->cookie;
	if (csrf) {
		snprintf(csrf_line, sizeof(csrf_line), "X-CSRF-Token: %s", csrf);
		headers[n++] = csrf_line;
	}
	if (type) {
		snprintf(type_line, sizeof(type_line), "Content-Type: %s", type);
		headers[n++] = type_line;
	}
	harness_request_ex(&P, method, path, key, headers, body, body ? strlen(body) : 0, r);
}

static void assert_problem(const struct http_result *r, long status, const char *type)
{
	json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);

	ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status,
		      r->body ? r->body : "");
	ck_assert_msg(j != NULL, "not JSON: %s", r->body ? r->body : "");
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), type);
	json_decref(j);
}

static void sign_in(const char *key, struct session *s)
{
	struct http_result r;
	char body[160], *v;
	json_t *j;

	snprintf(body, sizeof(body), "{\"api_key\": \"%s\"}", key);
	request("POST", "/ui/session", NULL, NULL, NULL, "application/json", body, &r);
	ck_assert_msg(r.status == 201, "sign-in: %ld %s", r.status, r.body ? r.body : "");
	ck_assert_ptr_nonnull(http_header(&r, "Set-Cookie", s->set_cookie, sizeof(s->set_cookie)));
	ck_assert_msg(strncmp(s->set_cookie, "suitd_session=", 14) == 0, "%s", s->set_cookie);
	v = s->set_cookie + 14;
	snprintf(s->cookie, sizeof(s->cookie), "Cookie: suitd_session=%.*s", (int)strcspn(v, ";"),
		 v);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ck_assert_ptr_nonnull(j);
	snprintf(s->csrf, sizeof(s->csrf), "%s",
		 json_string_value(json_object_get(j, "csrf_token")));
	ck_assert_uint_gt(strlen(s->csrf), 40);
	json_decref(j);
	http_result_release(&r);
}

static long status_of(const char *method, const char *path, const struct session *s,
		      const char *csrf)
{
	struct http_result r;
	long st;

	request(method, path, NULL, s, csrf, NULL, NULL, &r);
	st = r.status;
	http_result_release(&r);
	return st;
}

START_TEST(test_cookie_flags_and_use)
{
	struct session s;
	struct http_result r;
	char v[256];

	sign_in(P.admin_key, &s);
	ck_assert_ptr_nonnull(strstr(s.set_cookie, "; HttpOnly"));
	ck_assert_ptr_nonnull(strstr(s.set_cookie, "; Secure"));
	ck_assert_ptr_nonnull(strstr(s.set_cookie, "; SameSite=Strict"));
	ck_assert_ptr_nonnull(strstr(s.set_cookie, "; Path=/"));
	ck_assert_ptr_nonnull(strstr(s.set_cookie, "; Max-Age=43200"));
	/* The cookie is not the key, and only its hash is stored. */
	ck_assert_ptr_null(strstr(s.cookie, P.admin_key));
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM ui_sessions"), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT length(session_hash) FROM ui_sessions"), 32);

	/* In place of Authorization on the management API, reads without CSRF. */
	request("GET", "/api/v1/status", NULL, &s, NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"role\":\"admin\""));
	http_result_release(&r);
	/* Nothing of it on device routes. */
	ck_assert_int_eq(status_of("GET", "/device/v1/whoami", &s, s.csrf), 401);

	/* GET /ui/session gives a reloaded page its CSRF token and role. */
	request("GET", "/ui/session", NULL, &s, NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, s.csrf));
	ck_assert_ptr_nonnull(http_header(&r, "Cache-Control", v, sizeof(v)));
	ck_assert_str_eq(v, "no-store");
	http_result_release(&r);
	ck_assert_int_eq(status_of("GET", "/ui/session", NULL, NULL), 204);

	/* The Authorization header also signs in. */
	request("POST", "/ui/session", P.admin_key, NULL, NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 201);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM ui_sessions"), 2);
}
END_TEST

START_TEST(test_csrf)
{
	struct session s;
	struct http_result r;

	sign_in(P.admin_key, &s);
	request("POST", "/api/v1/devices", NULL, &s, NULL, "application/json", "{\"id\": \"c1\"}",
		&r);
	assert_problem(&r, 403, "urn:suitd:csrf-token");
	http_result_release(&r);
	request("POST", "/api/v1/devices", NULL, &s, "not-the-token", "application/json",
		"{\"id\": \"c1\"}", &r);
	assert_problem(&r, 403, "urn:suitd:csrf-token");
	http_result_release(&r);
	ck_assert_int_eq(status_of("DELETE", "/api/v1/devices/c1", &s, NULL), 403);
	request("POST", "/api/v1/devices", NULL, &s, s.csrf, "application/json", "{\"id\": \"c1\"}",
		&r);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	http_result_release(&r);
	/* The key's own header needs no token (curl, suitctl). */
	request("DELETE", "/api/v1/devices/c1", P.admin_key, NULL, NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 204);
	http_result_release(&r);

	/* Sign-out needs the token too, then the cookie is dead and cleared. */
	ck_assert_int_eq(status_of("DELETE", "/ui/session", &s, NULL), 403);
	request("DELETE", "/ui/session", NULL, &s, s.csrf, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 204);
	char v[256];
	ck_assert_ptr_nonnull(http_header(&r, "Set-Cookie", v, sizeof(v)));
	ck_assert_ptr_nonnull(strstr(v, "suitd_session=; Path=/; Max-Age=0"));
	http_result_release(&r);
	ck_assert_int_eq(status_of("GET", "/api/v1/status", &s, NULL), 401);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM ui_sessions"), 0);
}
END_TEST

START_TEST(test_role)
{
	struct session s;
	struct http_result r;
	char body[160], secret[96];
	json_t *j;

	request("POST", "/api/v1/keys", P.admin_key, NULL, NULL, "application/json",
		"{\"name\": \"ro\", \"role\": \"reader\"}", &r);
	ck_assert_int_eq(r.status, 201);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	snprintf(secret, sizeof(secret), "%s", json_string_value(json_object_get(j, "key")));
	json_decref(j);
	http_result_release(&r);
	sign_in(secret, &s);
	ck_assert_int_eq(status_of("GET", "/api/v1/devices", &s, NULL), 200);
	snprintf(body, sizeof(body), "{\"id\": \"r1\"}");
	request("POST", "/api/v1/devices", NULL, &s, s.csrf, "application/json", body, &r);
	assert_problem(&r, 403, "urn:suitd:forbidden");
	http_result_release(&r);

	/* Revoking the key ends its sessions, in the same transaction. */
	request("DELETE", "/api/v1/keys/ro", P.admin_key, NULL, NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 204);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM ui_sessions"), 0);
	ck_assert_int_eq(status_of("GET", "/api/v1/devices", &s, NULL), 401);
}
END_TEST

START_TEST(test_expiry_and_restart)
{
	struct session s;

	/* Idle: last use more than [ui] session_idle (30m) ago. */
	sign_in(P.admin_key, &s);
	ck_assert_int_eq(status_of("GET", "/api/v1/status", &s, NULL), 200);
	ck_assert_int_eq(harness_sql_int(&P, "UPDATE ui_sessions SET last_used_at = last_used_at "
					     "- 1801 RETURNING 1"),
			 1);
	ck_assert_int_eq(status_of("GET", "/api/v1/status", &s, NULL), 401);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM ui_sessions"), 0);

	/* Absolute: created more than session_lifetime (12h) ago, used just now. */
	sign_in(P.admin_key, &s);
	ck_assert_int_eq(harness_sql_int(&P, "UPDATE ui_sessions SET created_at = created_at - "
					     "43201 RETURNING 1"),
			 1);
	ck_assert_int_eq(status_of("GET", "/api/v1/status", &s, NULL), 401);

	/* A session is in the database: it survives a restart. */
	sign_in(P.admin_key, &s);
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_start(&P);
	ck_assert_int_eq(status_of("GET", "/api/v1/status", &s, NULL), 200);
}
END_TEST

START_TEST(test_bad_sign_in)
{
	struct http_result r;
	char big[6000];
	struct session garbage = {.cookie = "Cookie: suitd_session=\"<script>\""};
	struct session unknown = {.cookie = "Cookie: suitd_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAA"};

	request("POST", "/ui/session", NULL, NULL, NULL, "application/json",
		"{\"api_key\": \"suitd_ak_wrong\"}", &r);
	assert_problem(&r, 401, "urn:suitd:unauthorized");
	ck_assert_int_eq(r.headers[0] != '\0', 1);
	ck_assert_ptr_null(strstr(r.headers, "Set-Cookie"));
	http_result_release(&r);
	request("POST", "/ui/session", NULL, NULL, NULL, "application/json", "{\"api_key\": ", &r);
	assert_problem(&r, 400, "urn:suitd:invalid-request");
	http_result_release(&r);
	request("POST", "/ui/session", NULL, NULL, NULL, "application/json", "{\"api_key\": 7}",
		&r);
	assert_problem(&r, 400, "urn:suitd:invalid-request");
	http_result_release(&r);
	request("POST", "/ui/session", NULL, NULL, NULL, "application/json",
		"{\"api_key\": \"x\", \"role\": \"admin\"}", &r);
	assert_problem(&r, 400, "urn:suitd:invalid-request");
	http_result_release(&r);
	request("POST", "/ui/session", NULL, NULL, NULL, "text/plain", "api_key=x", &r);
	ck_assert_msg(r.status == 415, "%ld", r.status);
	http_result_release(&r);
	request("POST", "/ui/session", NULL, NULL, NULL, NULL, NULL, &r);
	assert_problem(&r, 401, "urn:suitd:unauthorized");
	http_result_release(&r);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "{\"api_key\": \"", 13);
	request("POST", "/ui/session", NULL, NULL, NULL, "application/json", big, &r);
	assert_problem(&r, 413, "urn:suitd:too-large");
	http_result_release(&r);
	/* Cookies that are no session: 401 like a bad key, never a 500. */
	ck_assert_int_eq(status_of("GET", "/api/v1/status", &garbage, NULL), 401);
	ck_assert_int_eq(status_of("GET", "/api/v1/status", &unknown, NULL), 401);
	ck_assert_int_eq(status_of("GET", "/ui/session", &garbage, NULL), 204);
	ck_assert_int_eq(status_of("DELETE", "/ui/session", &unknown, NULL), 204);
}
END_TEST

static void assert_console_headers(const struct http_result *r)
{
	char v[300];

	ck_assert_ptr_nonnull(http_header(r, "Content-Security-Policy", v, sizeof(v)));
	ck_assert_str_eq(v, CSP);
	ck_assert_ptr_nonnull(http_header(r, "X-Content-Type-Options", v, sizeof(v)));
	ck_assert_str_eq(v, "nosniff");
	ck_assert_ptr_nonnull(http_header(r, "Referrer-Policy", v, sizeof(v)));
	ck_assert_str_eq(v, "no-referrer");
}

START_TEST(test_assets)
{
	struct http_result r;
	char v[300], asset[160], etag[80], inm[100];
	const char *at;

	request("GET", "/", NULL, NULL, NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	assert_console_headers(&r);
	ck_assert_ptr_nonnull(http_header(&r, "Content-Type", v, sizeof(v)));
	ck_assert_str_eq(v, "text/html; charset=utf-8");
	ck_assert_ptr_nonnull(http_header(&r, "Cache-Control", v, sizeof(v)));
	ck_assert_str_eq(v, "no-cache");
	ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof(etag)));
	/* No inline script: every script is a file of this origin. */
	ck_assert_ptr_null(strstr(r.body, "<script>"));
	at = strstr(r.body, "src=\"/ui/assets/");
	ck_assert_ptr_nonnull(at);
	snprintf(asset, sizeof(asset), "%.*s", (int)strcspn(at + 5, "\""), at + 5);
	http_result_release(&r);

	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	const char *h304[] = {inm, NULL};
	harness_request_ex(&P, "GET", "/", NULL, h304, NULL, 0, &r);
	ck_assert_int_eq(r.status, 304);
	http_result_release(&r);

	request("GET", asset, NULL, NULL, NULL, NULL, NULL, &r);
	ck_assert_msg(r.status == 200, "%s: %ld", asset, r.status);
	assert_console_headers(&r);
	ck_assert_ptr_nonnull(http_header(&r, "Content-Type", v, sizeof(v)));
	ck_assert_str_eq(v, "text/javascript; charset=utf-8");
	ck_assert_ptr_nonnull(http_header(&r, "Cache-Control", v, sizeof(v)));
	ck_assert_str_eq(v, "public, max-age=31536000, immutable");
	http_result_release(&r);

	/* Deep links reload the console; other names are 404. */
	request("GET", "/ui/deployments/12", NULL, NULL, NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "/ui/assets/"));
	http_result_release(&r);
	request("GET", "/ui/secrets", NULL, NULL, NULL, NULL, NULL, &r);
	assert_problem(&r, 404, "urn:suitd:not-found");
	assert_console_headers(&r);
	http_result_release(&r);
	/* Another file of this build, another build's hash, a path outside. */
	snprintf(v, sizeof(v), "%.*sno-such.js", (int)(strrchr(asset, '/') + 1 - asset), asset);
	request("GET", v, NULL, NULL, NULL, NULL, NULL, &r);
	assert_problem(&r, 404, "urn:suitd:not-found");
	assert_console_headers(&r);
	http_result_release(&r);
	ck_assert_int_eq(status_of("GET", "/ui/assets/0123456789abcdef/app.js", NULL, NULL), 404);
	ck_assert_int_eq(status_of("GET", "/ui/assets/..%2f..%2fsuitd.db/x", NULL, NULL), 404);
	ck_assert_int_eq(status_of("POST", "/", NULL, NULL), 405);
}
END_TEST

/* GET /api/v1/devices/{id}/assignments (the device page's timeline; one
 * with assignments is in tests/ui/, after a suit-sim rollout). */
START_TEST(test_device_assignments)
{
	struct http_result r;

	request("POST", "/api/v1/devices", P.admin_key, NULL, NULL, "application/json",
		"{\"id\": \"t1\"}", &r);
	ck_assert_int_eq(r.status, 201);
	http_result_release(&r);
	request("GET", "/api/v1/devices/t1/assignments", P.admin_key, NULL, NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"items\":[],\"next\":null}\n");
	http_result_release(&r);
	request("GET", "/api/v1/devices/nobody/assignments", P.admin_key, NULL, NULL, NULL, NULL,
		&r);
	assert_problem(&r, 404, "urn:suitd:not-found");
	http_result_release(&r);
	request("GET", "/api/v1/devices/t1/assignments?limit=0", P.admin_key, NULL, NULL, NULL,
		NULL, &r);
	assert_problem(&r, 400, "urn:suitd:invalid-request");
	http_result_release(&r);
	request("GET", "/api/v1/devices/t1/assignments?state=failed", P.admin_key, NULL, NULL, NULL,
		NULL, &r);
	assert_problem(&r, 400, "urn:suitd:invalid-request");
	http_result_release(&r);
}
END_TEST

START_TEST(test_disabled)
{
	struct suitd_proc q;
	struct http_result r;

	harness_setup(&q, "");
	harness_write_config(&q, "[ui]\nenabled = off\n");
	harness_admin_key(&q);
	harness_start(&q);
	harness_request_ex(&q, "GET", "/", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	http_result_release(&r);
	harness_request(&q, "POST", "/ui/session", q.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	http_result_release(&r);
	const char *h[] = {"Cookie: suitd_session=AAAA", NULL};
	harness_request_ex(&q, "GET", "/api/v1/status", NULL, h, NULL, 0, &r);
	ck_assert_int_eq(r.status, 401);
	http_result_release(&r);
	ck_assert_int_eq(harness_stop(&q), 0);
	harness_cleanup(&q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-ui");
	TCase *tc = tcase_create("console");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(tc, test_cookie_flags_and_use);
	tcase_add_test(tc, test_csrf);
	tcase_add_test(tc, test_role);
	tcase_add_test(tc, test_expiry_and_restart);
	tcase_add_test(tc, test_bad_sign_in);
	tcase_add_test(tc, test_assets);
	tcase_add_test(tc, test_device_assignments);
	tcase_add_test(tc, test_disabled);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
