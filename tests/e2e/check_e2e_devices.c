/* Devices end to end: the registry API, device authentication by TLS client
 * certificate (mTLS) and by token, scoping, last-seen times. Everything runs
 * against the real daemon over real TLS on loopback; the device PKI (CAs and
 * client certificates) is test-only and generated for every run. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tests/check_run.h"

static struct suitd_proc P;

#define WHOAMI	 "/device/v1/whoami"
#define ZERO_SHA "0000000000000000000000000000000000000000000000000000000000000000"
#define CLASS_1	 "1492af14-2569-5e48-bf42-9b2d51f2ab45"
#define CLASS_2	 "bb8ec15d-a2be-4fbe-9a0b-8dbd5c2d6f8e"
#define VENDOR_1 "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe"

/* ---- Fixtures ---- */

/* A daemon whose [devices] section (and anything else) is conf. The device
 * CA is device-ca; rogue-ca is a stranger; impostor-ca carries the device
 * CA's very name with another key. */
static void start_with(const char *conf)
{
	harness_setup(&P, "");
	harness_make_ca(&P, "device-ca", "suitd device CA (test only)");
	harness_make_ca(&P, "rogue-ca", "rogue CA (test only)");
	harness_make_ca(&P, "impostor-ca", "suitd device CA (test only)");
	harness_write_config(&P, conf);
	harness_admin_key(&P);
	harness_start(&P);
}

static void start_mtls(void)
{
	start_with("[devices]\nauth = certificate, token\nclient_ca = device-ca.pem\n"
		   "[payloads]\nanonymous_download = off\n");
}

static void start_autoreg(void)
{
	start_with("[devices]\nauth = certificate, token\nclient_ca = device-ca.pem\n"
		   "auto_register = on\ndefault_group = fleet\n");
}

static void start_san_uri(void)
{
	start_with(
		"[devices]\nauth = certificate\nclient_ca = device-ca.pem\nidentity = san-uri\n");
}

static void start_token_only(void)
{
	start_with("[devices]\nauth = token\nclient_ca = device-ca.pem\n");
}

/* seen_flush = 1: the seen_since filter (database times) sees a sighting
 * within about a second. */
static void start_registry(void)
{
	start_with("[devices]\nauth = token\nseen_flush = 1\n");
}

/* seen_flush = 60: no periodic flush during a test; only shutdown flushes. */
static void start_seen(void)
{
	start_with("[devices]\nauth = token\nseen_flush = 60\n");
}

static void stop(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_db_intact(&P);
	harness_cleanup(&P);
}

/* ---- Helpers ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static json_t *body_json(const struct http_result *r)
{
	json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);

	ck_assert_msg(j != NULL, "body is not JSON: %s", r->body ? r->body : "(empty)");
	return j;
}

static const char *hdr(const struct http_result *r, const char *name)
{
	static char v[512];

	return http_header(r, name, v, sizeof(v));
}

static void assert_status(const struct http_result *r, long status)
{
	ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status,
		      r->body ? r->body : "");
}

/* The one device failure: 401 with exactly this body, no hint. */
static void assert_device_denied(const struct http_result *r, const char *path)
{
	char want[512];

	assert_status(r, 401);
	ck_assert_str_eq(hdr(r, "Content-Type"), "application/problem+json");
	ck_assert_str_eq(hdr(r, "WWW-Authenticate"), "Bearer realm=\"suitd\"");
	snprintf(
		want, sizeof(want),
		"{\"type\":\"urn:suitd:unauthorized\",\"title\":\"Authentication required\","
		"\"status\":401,\"detail\":\"device authentication failed\",\"instance\":\"%s\"}\n",
		path);
	ck_assert_str_eq(r->body, want);
}

/* A problem+json answer with this status, slug and (when not NULL) detail. */
static void assert_problem(const struct http_result *r, long status, const char *slug,
			   const char *detail)
{
	char type[96];
	json_t *j;

	assert_status(r, status);
	ck_assert_str_eq(hdr(r, "Content-Type"), "application/problem+json");
	j = body_json(r);
	snprintf(type, sizeof(type), "urn:suitd:%s", slug);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), type);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
	if (detail)
		ck_assert_str_eq(json_string_value(json_object_get(j, "detail")), detail);
	json_decref(j);
}

/* whoami answered 200 with exactly {"id":ID,"group":GROUP-or-null}. */
static void assert_whoami(const struct http_result *r, const char *id, const char *group)
{
	char want[512];

	assert_status(r, 200);
	ck_assert_str_eq(hdr(r, "Content-Type"), "application/json");
	if (group)
		snprintf(want, sizeof(want), "{\"id\":\"%s\",\"group\":\"%s\"}\n", id, group);
	else
		snprintf(want, sizeof(want), "{\"id\":\"%s\",\"group\":null}\n", id);
	ck_assert_str_eq(r->body, want);
}

static void api(const char *method, const char *path, const char *key, const char *json,
		struct http_result *r)
{
	harness_request(&P, method, path, key, json ? "application/json" : NULL, json,
			json ? strlen(json) : 0, r);
}

/* POST /api/v1/devices with this body; 201 expected; the token into token. */
static void create_device(const char *json, char *token, size_t size)
{
	struct http_result r;
	json_t *j;

	api("POST", "/api/v1/devices", P.admin_key, json, &r);
	assert_status(&r, 201);
	j = body_json(&r);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "token")));
	if (token)
		snprintf(token, size, "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	http_result_release(&r);
}

static void add_device(const char *id, const char *group, char *token, size_t size)
{
	char json[512];

	if (group)
		snprintf(json, sizeof(json), "{\"id\":\"%s\",\"group\":\"%s\"}", id, group);
	else
		snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	create_device(json, token, size);
}

/* GET /device/v1/whoami presenting certificate cert (NULL: none) and token
 * (NULL: none), each on a new TLS connection. */
static void whoami(const char *cert, const char *token, struct http_result *r)
{
	harness_request_cert(&P, cert, "GET", WHOAMI, token, NULL, NULL, 0, r);
}

static void cert_cn(const char *name, const char *cn)
{
	struct harness_cert_opts o = {.cn = cn};

	harness_make_cert(&P, "device-ca", name, &o);
}

/* Number of devices in the registry, through the API. */
static size_t device_count(const char *query)
{
	struct http_result r;
	char path[256];
	json_t *j;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/devices?limit=1000%s", query ? query : "");
	api("GET", path, P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	n = json_array_size(json_object_get(j, "items"));
	json_decref(j);
	http_result_release(&r);
	return n;
}

/* The ids of one list answer, comma-separated, into out. */
static void list_ids(const char *query, char *out, size_t size)
{
	struct http_result r;
	char path[512];
	size_t i, used = 0;
	json_t *j, *item;

	snprintf(path, sizeof(path), "/api/v1/devices%s", query);
	api("GET", path, P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	out[0] = '\0';
	json_array_foreach(json_object_get(j, "items"), i, item)
	{
		int n = snprintf(out + used, size - used, "%s%s", used ? "," : "",
				 json_string_value(json_object_get(item, "id")));
		ck_assert(n > 0 && (size_t)n < size - used);
		used += (size_t)n;
	}
	ck_assert(json_is_null(json_object_get(j, "next")));
	json_decref(j);
	http_result_release(&r);
}

static int64_t parse_time(const char *text)
{
	struct tm tm = {0};
	const char *end;

	ck_assert_ptr_nonnull(text);
	end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	ck_assert_msg(end && !*end, "not RFC 3339 UTC: %s", text);
	return (int64_t)timegm(&tm);
}

/* ---- mTLS: auth = certificate, token ---- */

START_TEST(test_cert_registered)
{
	struct http_result r;
	struct harness_conn *c;

	add_device("dev-1", "lab", NULL, 0);
	cert_cn("dev-1", "dev-1");
	whoami("dev-1", NULL, &r);
	assert_whoami(&r, "dev-1", "lab");
	http_result_release(&r);

	/* Several requests on one connection (the certificate is checked once
	 * per connection): each is the device. */
	c = harness_conn_open(&P, "dev-1");
	for (int i = 0; i < 3; i++) {
		harness_conn_request(c, "GET", WHOAMI, NULL, NULL, NULL, 0, &r);
		assert_whoami(&r, "dev-1", "lab");
		http_result_release(&r);
	}
	ck_assert_int_eq(harness_conn_connects(c), 1);
	harness_conn_close(c);

	/* A presented certificate decides: a token beside it changes nothing. */
	whoami("dev-1", "suitd_dt_garbage", &r);
	assert_whoami(&r, "dev-1", "lab");
	http_result_release(&r);
}
END_TEST

START_TEST(test_cert_unregistered_refused)
{
	struct http_result r;

	cert_cn("ghost", "ghost-1");
	whoami("ghost", NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	/* auto_register is off: nothing was created. */
	api("GET", "/api/v1/devices/ghost-1", P.admin_key, NULL, &r);
	assert_problem(&r, 404, "not-found", NULL);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices"), 0);
}
END_TEST

/* Certificates that must not authenticate, each for registered device dev-1
 * (or a name that cannot be a device id): the cert alone and the cert with
 * dev-1's valid token are both 401. */
static const struct bad_cert {
	const char *what;
	const char *ca;
	struct harness_cert_opts o;
	const char *log; /* reason in the log; NULL: none expected */
	/* The TLS client may refuse to use it: OpenSSL does not sign the
	 * handshake with a key whose keyUsage lacks digitalSignature, so the
	 * handshake fails before HTTP (curl error, no status) instead of 401. */
	bool handshake_may_fail;
} bad_certs[] = {
	{"expired",
	 "device-ca",
	 {.cn = "dev-1", .window = true, .not_before = -10 * 86400, .not_after = -86400},
	 "client certificate refused: certificate expired",
	 false},
	{"not yet valid",
	 "device-ca",
	 {.cn = "dev-1", .window = true, .not_before = 86400, .not_after = 10 * 86400},
	 "client certificate refused: certificate not yet valid",
	 false},
	{"rogue CA",
	 "rogue-ca",
	 {.cn = "dev-1"},
	 "client certificate refused: issuer is not a device CA",
	 false},
	{"impostor CA (same name as the device CA)",
	 "impostor-ca",
	 {.cn = "dev-1"},
	 "client certificate refused: ",
	 false},
	{"CN with a slash", "device-ca", {.cn = "dev/1"}, NULL, false},
	{"CN with a space", "device-ca", {.cn = "a b"}, NULL, false},
	{"EKU serverAuth only",
	 "device-ca",
	 {.cn = "dev-1", .eku = "serverAuth"},
	 "client certificate refused: extended key usage lacks clientAuth",
	 false},
	{"keyUsage without digitalSignature",
	 "device-ca",
	 {.cn = "dev-1", .key_usage = "critical,keyEncipherment"},
	 NULL,
	 true},
	{"no CN",
	 "device-ca",
	 {.san = "DNS:dev-1"},
	 "client certificate refused: certificate names no device identity",
	 false},
};

START_TEST(test_cert_refused)
{
	const struct bad_cert *b = &bad_certs[_i];
	struct http_result r;
	char token[128];

	add_device("dev-1", NULL, token, sizeof(token));
	harness_make_cert(&P, b->ca, "bad", &b->o);
	for (int with_token = 0; with_token < 2; with_token++) {
		/* A bad certificate is not rescued by a valid token either. */
		whoami("bad", with_token ? token : NULL, &r);
		if (b->handshake_may_fail && r.status < 0) {
			http_result_release(&r);
			continue;
		}
		ck_assert_msg(r.status == 401, "%s%s: %ld", b->what,
			      with_token ? " with token" : "", r.status);
		assert_device_denied(&r, WHOAMI);
		http_result_release(&r);
	}
	if (b->log)
		ck_assert_msg(harness_log_contains(&P, b->log), "%s: log lacks '%s'", b->what,
			      b->log);
	/* The token alone still works: the refusal was the certificate's. */
	whoami(NULL, token, &r);
	assert_whoami(&r, "dev-1", NULL);
	http_result_release(&r);
	/* The id the certificate names (if a valid one) was not created. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices"), 1);
}
END_TEST

/* keyUsage and EKU are checked only when present; EKU may list more. */
START_TEST(test_cert_usage_optional)
{
	struct harness_cert_opts bare = {.cn = "dev-2", .eku = "", .key_usage = ""};
	struct harness_cert_opts both = {.cn = "dev-2", .eku = "serverAuth,clientAuth"};
	struct http_result r;

	add_device("dev-2", NULL, NULL, 0);
	harness_make_cert(&P, "device-ca", "bare", &bare);
	harness_make_cert(&P, "device-ca", "both", &both);
	whoami("bare", NULL, &r);
	assert_whoami(&r, "dev-2", NULL);
	http_result_release(&r);
	whoami("both", NULL, &r);
	assert_whoami(&r, "dev-2", NULL);
	http_result_release(&r);
}
END_TEST

START_TEST(test_no_credentials)
{
	static const char *const bad_auth[] = {
		"Authorization: Basic ZGV2OnB3",
		"Authorization: Bearer",
		"Authorization: Bearer ",
		"Authorization: suitd_dt_x",
		NULL,
	};
	struct http_result r;

	add_device("dev-1", NULL, NULL, 0);
	whoami(NULL, NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	for (unsigned i = 0; bad_auth[i]; i++) {
		const char *h[] = {bad_auth[i], NULL};
		harness_request_ex(&P, "GET", WHOAMI, NULL, h, NULL, 0, &r);
		assert_device_denied(&r, WHOAMI);
		http_result_release(&r);
	}
	/* An over-long bearer is refused like any other. */
	char huge[2001];
	memset(huge, 'A', 2000);
	huge[2000] = '\0';
	whoami(NULL, huge, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
}
END_TEST

START_TEST(test_tokens)
{
	struct http_result r;
	char token[128], token2[128];
	json_t *j;

	add_device("tok-1", "g", token, sizeof(token));
	ck_assert_int_eq(strncmp(token, "suitd_dt_", 9), 0);
	whoami(NULL, token, &r);
	assert_whoami(&r, "tok-1", "g");
	http_result_release(&r);

	/* Rotation: {id, token}, no-store; the old token fails at once. */
	api("POST", "/api/v1/devices/tok-1/token", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	ck_assert_str_eq(hdr(&r, "Cache-Control"), "no-store");
	j = body_json(&r);
	ck_assert_uint_eq(json_object_size(j), 3);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "tok-1");
	snprintf(token2, sizeof(token2), "%s", json_string_value(json_object_get(j, "token")));
	/* Without ?grace= nothing of the old token remains. */
	ck_assert(json_is_null(json_object_get(j, "previous_token_expires_at")));
	json_decref(j);
	http_result_release(&r);
	ck_assert_int_eq(strncmp(token2, "suitd_dt_", 9), 0);
	ck_assert_str_ne(token, token2);
	whoami(NULL, token, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	whoami(NULL, token2, &r);
	assert_whoami(&r, "tok-1", "g");
	http_result_release(&r);
	/* The secret is in no log line. */
	ck_assert(!harness_log_contains(&P, token2));

	/* Rotation of unknown / invalid ids. */
	api("POST", "/api/v1/devices/nobody/token", P.admin_key, NULL, &r);
	assert_problem(&r, 404, "not-found", "no such device");
	http_result_release(&r);

	/* Deleted: the token stops working. */
	api("DELETE", "/api/v1/devices/tok-1", P.admin_key, NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	whoami(NULL, token2, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
}
END_TEST

/* POST /api/v1/devices/ID/token with query (e.g. "?grace=2s", "" for none);
 * 200 expected: the new token into token, previous_token_expires_at into
 * *ret_until (0 for null). */
static void rotate(const char *id, const char *query, char token[128], int64_t *ret_until)
{
	struct http_result r;
	char path[256];
	json_t *j, *until;

	snprintf(path, sizeof(path), "/api/v1/devices/%s/token%s", id, query);
	api("POST", path, P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	snprintf(token, 128, "%s", json_string_value(json_object_get(j, "token")));
	until = json_object_get(j, "previous_token_expires_at");
	ck_assert_msg(until != NULL, "no previous_token_expires_at: %s", r.body);
	*ret_until = json_is_null(until) ? 0 : parse_time(json_string_value(until));
	json_decref(j);
	http_result_release(&r);
}

/* whoami with token answers 200 as device id (want true) or the 401. */
static void assert_token(const char *token, const char *id, bool want)
{
	struct http_result r;

	whoami(NULL, token, &r);
	if (want)
		assert_whoami(&r, id, NULL);
	else
		assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
}

/* Audit rows of the device's token rotations with this detail (NULL: none). */
static long long token_audits(const char *id, const char *detail)
{
	char sql[320], member[64];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM events WHERE type = 'device.token_rotated' AND "
		 "subject = 'device:%s' AND %s %s%s%s",
		 id, harness_sql_json_text("data", "detail", member, sizeof(member)),
		 detail ? "= '" : "IS NULL", detail ? detail : "", detail ? "'" : "");
	return harness_sql_int(&P, sql);
}

/* ?grace= keeps the replaced token valid until previous_token_expires_at,
 * and not a second longer, though it was cached meanwhile (the cache
 * entry carries the end of the grace: nothing clears the cache when a
 * grace runs out). */
START_TEST(test_token_grace)
{
	char t0[128], t1[128], t2[128];
	int64_t until, now;
	bool refused = false;
	unsigned accepted = 0;

	add_device("gr-1", NULL, t0, sizeof(t0));
	rotate("gr-1", "?grace=2s", t1, &until);
	now = (int64_t)time(NULL);
	/* The grace counts from the rotation's second. */
	ck_assert_msg(until >= now + 1 && until <= now + 2, "until %lld, now %lld",
		      (long long)until, (long long)now);
	assert_token(t1, "gr-1", true);
	/* Poll with the old token: accepted (from the cache after the first
	 * time) until the end of the grace, then refused. */
	while (!refused && (int64_t)time(NULL) < until + 3) {
		struct http_result r;
		whoami(NULL, t0, &r);
		if (r.status == 200) {
			assert_whoami(&r, "gr-1", NULL);
			accepted++;
		} else {
			assert_device_denied(&r, WHOAMI);
			refused = true;
			/* Never before the end the answer announced. */
			ck_assert_int_ge((int64_t)time(NULL), until);
		}
		http_result_release(&r);
		sleep_ms(100);
	}
	ck_assert_msg(accepted >= 2, "the old token was accepted %u times during its grace",
		      accepted);
	ck_assert_msg(refused, "the old token is still accepted 3 s after its grace ended");
	assert_token(t0, "gr-1", false);
	assert_token(t1, "gr-1", true);
	ck_assert_int_eq(token_audits("gr-1", "grace 2s"), 1);

	/* grace=0 is no grace: the replaced token stops at once. */
	rotate("gr-1", "?grace=0", t2, &until);
	ck_assert_int_eq(until, 0);
	assert_token(t1, "gr-1", false);
	assert_token(t2, "gr-1", true);
	ck_assert_int_eq(token_audits("gr-1", NULL), 1);
	/* Seconds without a unit; minutes and hours. */
	rotate("gr-1", "?grace=90", t1, &until);
	now = (int64_t)time(NULL);
	ck_assert(until >= now + 89 && until <= now + 90);
	rotate("gr-1", "?grace=15m", t2, &until);
	ck_assert(until >= now + 899 && until <= now + 901);
	rotate("gr-1", "?grace=168h", t1, &until);
	ck_assert(until >= now + 604799 && until <= now + 604801);
	ck_assert_int_eq(token_audits("gr-1", "grace 604800s"), 1);
}
END_TEST

/* One previous token at most: a rotation during a grace makes the token it
 * replaces the previous one, and the older one stops at once; a rotation
 * without grace ends both; a deletion ends everything. */
START_TEST(test_token_grace_rotated_again)
{
	char a[128], b[128], c[128], d[128];
	int64_t until;

	add_device("gr-2", NULL, a, sizeof(a));
	rotate("gr-2", "?grace=1h", b, &until);
	ck_assert_int_ne(until, 0);
	assert_token(a, "gr-2", true);
	assert_token(b, "gr-2", true);
	rotate("gr-2", "?grace=1h", c, &until);
	ck_assert_int_ne(until, 0);
	assert_token(a, "gr-2", false); /* cached a moment ago: the clear ends it */
	assert_token(b, "gr-2", true);
	assert_token(c, "gr-2", true);
	rotate("gr-2", "", d, &until);
	ck_assert_int_eq(until, 0);
	assert_token(b, "gr-2", false);
	assert_token(c, "gr-2", false);
	assert_token(d, "gr-2", true);
	ck_assert_int_eq(token_audits("gr-2", "grace 3600s"), 2);
	ck_assert_int_eq(token_audits("gr-2", NULL), 1);

	/* Deleting the device ends the token and the one in its grace. */
	rotate("gr-2", "?grace=1h", a, &until);
	assert_token(d, "gr-2", true);
	struct http_result r;
	api("DELETE", "/api/v1/devices/gr-2", P.admin_key, NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	assert_token(a, "gr-2", false);
	assert_token(d, "gr-2", false);
	/* A new device of the same name has only its own token. */
	add_device("gr-2", NULL, b, sizeof(b));
	assert_token(d, "gr-2", false);
	assert_token(b, "gr-2", true);
}
END_TEST

/* A device without a token (registered by its certificate) gets one with
 * ?grace=: there is no previous token, and the answer says so. */
START_TEST(test_token_grace_without_token)
{
	struct http_result r;
	char t[128];
	int64_t until;

	cert_cn("gr-3", "gr-3");
	whoami("gr-3", NULL, &r);
	assert_whoami(&r, "gr-3", "fleet");
	http_result_release(&r);
	rotate("gr-3", "?grace=1h", t, &until);
	ck_assert_int_eq(until, 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'gr-3' "
					     "AND prev_token_hash IS NULL AND "
					     "prev_token_expires_at IS NULL"),
			 1);
	whoami(NULL, t, &r);
	assert_whoami(&r, "gr-3", "fleet");
	http_result_release(&r);
}
END_TEST

/* A bad grace is 400 naming the parameter, and rotates nothing. */
START_TEST(test_token_grace_invalid)
{
	static const char *const bad[] = {
		"?grace=",
		"?grace=abc",
		"?grace=-1",
		"?grace=1.5",
		"?grace=2d",
		"?grace=5%20s",
		"?grace=1sm",
		"?grace=604801",
		"?grace=169h",
		"?grace=10081m",
		"?grace=99999999999999999999999",
	};
	char token[128], path[256];
	struct http_result r;
	json_t *j;

	add_device("gr-4", NULL, token, sizeof(token));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/api/v1/devices/gr-4/token%s", bad[i]);
		api("POST", path, P.admin_key, NULL, &r);
		assert_problem(&r, 400, "invalid-request", NULL);
		j = body_json(&r);
		ck_assert_msg(strstr(json_string_value(json_object_get(j, "detail")), "grace"),
			      "%s: the detail does not name grace: %s", bad[i], r.body);
		json_decref(j);
		http_result_release(&r);
	}
	/* Repeated, or misspelt: the router refuses it by name. */
	api("POST", "/api/v1/devices/gr-4/token?grace=1&grace=2", P.admin_key, NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	ck_assert_ptr_nonnull(strstr(r.body, "grace"));
	http_result_release(&r);
	api("POST", "/api/v1/devices/gr-4/token?grase=1h", P.admin_key, NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	ck_assert_ptr_nonnull(strstr(r.body, "grase"));
	http_result_release(&r);
	/* Nothing was rotated. */
	assert_token(token, "gr-4", true);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE type = "
					     "'device.token_rotated' AND subject = 'device:gr-4'"),
			 0);
	/* The id is checked first; an unknown device is 404 with a grace too. */
	api("POST", "/api/v1/devices/nobody/token?grace=1h", P.admin_key, NULL, &r);
	assert_problem(&r, 404, "not-found", "no such device");
	http_result_release(&r);
}
END_TEST

START_TEST(test_cross_use)
{
	struct http_result r;
	char token[128];

	add_device("x-1", NULL, token, sizeof(token));
	/* An API key (even admin) is never a device identity. */
	whoami(NULL, P.admin_key, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	/* A device token never opens /api/v1. */
	api("GET", "/api/v1/status", token, NULL, &r);
	assert_problem(&r, 401, "unauthorized", "the API key is not valid");
	ck_assert_str_eq(hdr(&r, "WWW-Authenticate"), "Bearer realm=\"suitd\"");
	http_result_release(&r);
	api("GET", "/api/v1/devices", token, NULL, &r);
	assert_problem(&r, 401, "unauthorized", "the API key is not valid");
	http_result_release(&r);
	/* Nor does a device certificate. */
	cert_cn("x-1", "x-1");
	harness_request_cert(&P, "x-1", "GET", "/api/v1/status", NULL, NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
}
END_TEST

START_TEST(test_scoping)
{
	struct http_result r;
	char ta[128], tb[128];

	add_device("dev-a", "ga", ta, sizeof(ta));
	add_device("dev-b", "gb", tb, sizeof(tb));
	cert_cn("dev-a", "dev-a");
	cert_cn("dev-b", "dev-b");
	whoami(NULL, ta, &r);
	assert_whoami(&r, "dev-a", "ga");
	http_result_release(&r);
	whoami(NULL, tb, &r);
	assert_whoami(&r, "dev-b", "gb");
	http_result_release(&r);
	whoami("dev-a", NULL, &r);
	assert_whoami(&r, "dev-a", "ga");
	http_result_release(&r);
	whoami("dev-b", NULL, &r);
	assert_whoami(&r, "dev-b", "gb");
	http_result_release(&r);
	/* B's certificate with A's token is B (the certificate decides). */
	whoami("dev-b", ta, &r);
	assert_whoami(&r, "dev-b", "gb");
	http_result_release(&r);
	/* Alternating on two connections keeps each one's identity. */
	struct harness_conn *ca = harness_conn_open(&P, "dev-a"),
			    *cb = harness_conn_open(&P, "dev-b");
	for (int i = 0; i < 3; i++) {
		harness_conn_request(ca, "GET", WHOAMI, NULL, NULL, NULL, 0, &r);
		assert_whoami(&r, "dev-a", "ga");
		http_result_release(&r);
		harness_conn_request(cb, "GET", WHOAMI, NULL, NULL, NULL, 0, &r);
		assert_whoami(&r, "dev-b", "gb");
		http_result_release(&r);
	}
	harness_conn_close(ca);
	harness_conn_close(cb);
}
END_TEST

START_TEST(test_payload_route_needs_identity)
{
	static const char data[] = "firmware image bytes for the device route test\n";
	struct http_result r;
	char token[128], path[160], sha[65];
	const char *ct[] = {"Content-Type: application/octet-stream", NULL};
	json_t *j;

	add_device("pl-1", NULL, token, sizeof(token));
	cert_cn("pl-1", "pl-1");
	harness_request(&P, "GET", "/device/v1/payloads/" ZERO_SHA, NULL, NULL, NULL, 0, &r);
	assert_device_denied(&r, "/device/v1/payloads/" ZERO_SHA);
	http_result_release(&r);
	/* With an identity, auth passes and the lookup answers 404. */
	harness_request(&P, "GET", "/device/v1/payloads/" ZERO_SHA, token, NULL, NULL, 0, &r);
	assert_problem(&r, 404, "not-found", NULL);
	http_result_release(&r);
	harness_request_cert(&P, "pl-1", "GET", "/device/v1/payloads/" ZERO_SHA, NULL, NULL, NULL,
			     0, &r);
	assert_problem(&r, 404, "not-found", NULL);
	http_result_release(&r);
	/* A stored payload: 200 with its bytes for the device, 401 without. */
	harness_request_ex(&P, "POST", "/api/v1/payloads", P.admin_key, ct, data, strlen(data), &r);
	assert_status(&r, 201);
	j = body_json(&r);
	snprintf(sha, sizeof(sha), "%s", json_string_value(json_object_get(j, "sha256")));
	json_decref(j);
	http_result_release(&r);
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", sha);
	harness_request(&P, "GET", path, token, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	ck_assert_uint_eq(r.body_len, strlen(data));
	ck_assert_int_eq(memcmp(r.body, data, r.body_len), 0);
	/* Only for authenticated devices: no shared cache may keep it. */
	ck_assert_str_eq(hdr(&r, "Cache-Control"), "private, max-age=31536000, immutable");
	http_result_release(&r);
	harness_request(&P, "GET", path, NULL, NULL, NULL, 0, &r);
	assert_device_denied(&r, path);
	http_result_release(&r);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	assert_device_denied(&r, path);
	http_result_release(&r);
}
END_TEST

START_TEST(test_cli_device_add)
{
	struct http_result r;
	char out[1024], *last, token[128];
	size_t n;

	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "device", "add", "cli-1", "--group",
				     "g1", "--tag", "t1", "--tag", "t2", (char *)NULL),
			 0);
	n = strlen(out);
	ck_assert_uint_gt(n, 1);
	ck_assert_int_eq(out[n - 1], '\n');
	out[n - 1] = '\0';
	last = strrchr(out, '\n');
	snprintf(token, sizeof(token), "%s", last ? last + 1 : out);
	ck_assert_int_eq(strncmp(token, "suitd_dt_", 9), 0);
	whoami(NULL, token, &r);
	assert_whoami(&r, "cli-1", "g1");
	http_result_release(&r);
	api("GET", "/api/v1/devices/cli-1", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	json_t *j = body_json(&r);
	json_t *want = json_pack("[s,s]", "t1", "t2");
	ck_assert(json_equal(json_object_get(j, "tags"), want));
	json_decref(want);
	json_decref(j);
	http_result_release(&r);
	/* Again: exists, exit 1, nothing on stdout. */
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "device", "add", "cli-1", (char *)NULL),
			 1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "device", "add", "bad id", (char *)NULL),
			 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices"), 1);
}
END_TEST

/* ---- Auto-registration ---- */

START_TEST(test_auto_register)
{
	struct harness_cert_opts expired = {
		.cn = "exp-1", .window = true, .not_before = -10 * 86400, .not_after = -86400};
	struct http_result r;
	json_t *j, *item;

	ck_assert_uint_eq(device_count(NULL), 0);
	cert_cn("new", "new-dev-9");
	whoami("new", NULL, &r);
	assert_whoami(&r, "new-dev-9", "fleet");
	http_result_release(&r);
	ck_assert(harness_log_contains(&P, "registered device 'new-dev-9' from its certificate"));

	api("GET", "/api/v1/devices?group=fleet", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	item = json_array_get(json_object_get(j, "items"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(item, "id")), "new-dev-9");
	ck_assert_str_eq(json_string_value(json_object_get(item, "group")), "fleet");
	json_decref(j);
	http_result_release(&r);

	/* The next connection finds it; still one device. */
	whoami("new", NULL, &r);
	assert_whoami(&r, "new-dev-9", "fleet");
	http_result_release(&r);
	ck_assert_uint_eq(device_count(NULL), 1);

	/* Bad certificates register nothing. */
	harness_make_cert(&P, "device-ca", "expired", &expired);
	whoami("expired", NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	harness_make_cert(&P, "rogue-ca", "rogue", &(struct harness_cert_opts){.cn = "rogue-1"});
	whoami("rogue", NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	cert_cn("space", "a b");
	whoami("space", NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	harness_make_cert(&P, "device-ca", "srv",
			  &(struct harness_cert_opts){.cn = "srv-1", .eku = "serverAuth"});
	whoami("srv", NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	/* Tokens never auto-register. */
	whoami(NULL, "suitd_dt_unknown", &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	ck_assert_uint_eq(device_count(NULL), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices"), 1);
}
END_TEST

/* ---- Identity from subjectAltName ---- */

START_TEST(test_identity_san_uri)
{
	struct http_result r;

	add_device("urn:dev:abc-1", NULL, NULL, 0);
	harness_make_cert(&P, "device-ca", "uri",
			  &(struct harness_cert_opts){.cn = "cn-not-used",
						      .san = "DNS:dns-not-used,URI:urn:dev:abc-1"});
	whoami("uri", NULL, &r);
	assert_whoami(&r, "urn:dev:abc-1", NULL);
	http_result_release(&r);
	api("GET", "/api/v1/devices/urn:dev:abc-1", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	/* Only a CN naming the device: no SAN URI, no identity. */
	cert_cn("cn-only", "urn:dev:abc-1");
	whoami("cn-only", NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	/* A SAN URI that is no valid device id. */
	harness_make_cert(&P, "device-ca", "bad-uri",
			  &(struct harness_cert_opts){.san = "URI:https://example.com/dev/1"});
	whoami("bad-uri", NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);

	/* identity = san-dns: the DNS name decides. */
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_write_config(&P, "[devices]\nauth = certificate\nclient_ca = device-ca.pem\n"
				 "identity = san-dns\n");
	harness_start(&P);
	add_device("dev-7.fleet.example", "dns", NULL, 0);
	harness_make_cert(&P, "device-ca", "dns",
			  &(struct harness_cert_opts){.cn = "cn-not-used",
						      .san = "URI:urn:x,DNS:dev-7.fleet.example"});
	whoami("dns", NULL, &r);
	assert_whoami(&r, "dev-7.fleet.example", "dns");
	http_result_release(&r);
	whoami("uri", NULL, &r); /* its DNS name is not registered */
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	/* auth = certificate only: a token is not accepted. */
	char token[128];
	add_device("tok-only", NULL, token, sizeof(token));
	whoami(NULL, token, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
}
END_TEST

/* ---- auth = token only ---- */

START_TEST(test_token_only_ignores_cert)
{
	struct http_result r;
	char token[128];

	add_device("dev-1", NULL, token, sizeof(token));
	cert_cn("dev-1", "dev-1");
	whoami("dev-1", NULL, &r);
	assert_device_denied(&r, WHOAMI);
	http_result_release(&r);
	whoami("dev-1", token, &r);
	assert_whoami(&r, "dev-1", NULL);
	http_result_release(&r);
	whoami(NULL, token, &r);
	assert_whoami(&r, "dev-1", NULL);
	http_result_release(&r);
	/* Even a bad certificate does not spoil the token here. */
	harness_make_cert(&P, "rogue-ca", "rogue", &(struct harness_cert_opts){.cn = "dev-1"});
	whoami("rogue", token, &r);
	assert_whoami(&r, "dev-1", NULL);
	http_result_release(&r);
}
END_TEST

/* ---- Registry API ---- */

START_TEST(test_create_every_field)
{
	static const char body[] =
		"{\"id\":\"full-1\",\"group\":\"lab.eu\",\"tags\":[\"beta\",\"alpha\"],"
		"\"vendor_id\":\"" VENDOR_1
		"\",\"class_id\":\"1492AF14-2569-5E48-BF42-9B2D51F2AB45\","
		"\"attributes\":{\"hw\":\"rev2\",\"slots\":2,\"nested\":{\"a\":[1,2]}}}";
	struct http_result r;
	json_t *j, *want;
	char created[64];
	time_t before = time(NULL);

	api("POST", "/api/v1/devices", P.admin_key, body, &r);
	assert_status(&r, 201);
	ck_assert_str_eq(hdr(&r, "Cache-Control"), "no-store");
	ck_assert_str_eq(hdr(&r, "Location"), "/api/v1/devices/full-1");
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/json");
	j = body_json(&r);
	ck_assert_int_eq(strncmp(json_string_value(json_object_get(j, "token")), "suitd_dt_", 9),
			 0);
	snprintf(created, sizeof(created), "%s",
		 json_string_value(json_object_get(j, "created_at")));
	int64_t at = parse_time(created);
	ck_assert_int_ge(at, (int64_t)before);
	ck_assert_int_le(at, (int64_t)time(NULL));
	json_object_del(j, "token");
	want = json_pack("{s:s, s:s, s:[s,s], s:s, s:s, s:{s:s, s:i, s:{s:[i,i]}}, s:n, s:n, s:n, "
			 "s:n, s:s}",
			 "id", "full-1", "group", "lab.eu", "tags", "alpha", "beta", "vendor_id",
			 VENDOR_1, "class_id", CLASS_1, "attributes", "hw", "rev2", "slots", 2,
			 "nested", "a", 1, 2, "reported_sequence", "last_seen_at", "assignment",
			 "report_key", "created_at", created);
	ck_assert_msg(json_equal(j, want), "got %s", r.body);
	json_decref(j);
	http_result_release(&r);

	/* GET: the same, never the token, plus what it runs (nothing yet). */
	json_object_set_new(want, "software", json_null());
	api("GET", "/api/v1/devices/full-1", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	ck_assert_ptr_null(hdr(&r, "Cache-Control"));
	j = body_json(&r);
	ck_assert_msg(json_equal(j, want), "got %s", r.body);
	json_decref(j);
	http_result_release(&r);
	json_decref(want);

	/* Duplicate id: 409, the first one untouched. */
	api("POST", "/api/v1/devices", P.admin_key, "{\"id\":\"full-1\",\"group\":\"other\"}", &r);
	assert_problem(&r, 409, "already-exists", "a device with id 'full-1' exists");
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE grp = 'lab.eu'"),
			 1);

	/* Minimal device: nulls and empties. */
	api("POST", "/api/v1/devices", P.admin_key, "{\"id\":\"min-1\"}", &r);
	assert_status(&r, 201);
	j = body_json(&r);
	ck_assert(json_is_null(json_object_get(j, "group")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "tags")), 0);
	ck_assert(json_is_null(json_object_get(j, "vendor_id")));
	ck_assert(json_is_null(json_object_get(j, "class_id")));
	ck_assert_uint_eq(json_object_size(json_object_get(j, "attributes")), 0);
	ck_assert(json_is_object(json_object_get(j, "attributes")));
	json_decref(j);
	http_result_release(&r);

	/* Boundaries: a 128-character id of every allowed character class. */
	char id[129], json[256];
	memset(id, 'a', 128);
	memcpy(id, "Az09._:@-", 9);
	id[128] = '\0';
	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	create_device(json, NULL, 0);
}
END_TEST

static const char *const bad_creates[] = {
	"{\"id\":\"a b\"}",
	"{\"id\":\"dev/1\"}",
	"{\"id\":\"\"}",
	"{\"id\":\"x2345678901234567890123456789012345678901234567890123456789012345678901234"
	"567890123456789012345678901234567890123456789012345678901234567890\"}", /* 129 */
	"{\"id\":\"caf\\u00e9\"}",
	"{\"id\":5}",
	"{\"id\":null}",
	"{}",
	"{\"group\":\"g\"}",
	"{\"id\":\"x\",\"group\":\"a b\"}",
	"{\"id\":\"x\",\"group\":\"\"}",
	"{\"id\":\"x\",\"group\":5}",
	"{\"id\":\"x\",\"tags\":[\"ok\",\"bad tag\"]}",
	"{\"id\":\"x\",\"tags\":\"t\"}",
	"{\"id\":\"x\",\"tags\":[5]}",
	"{\"id\":\"x\",\"tags\":[\"\"]}",
	"{\"id\":\"x\",\"tags\":["
	"\"x2345678901234567890123456789012345678901234567890123456789012345\"]}",
	"{\"id\":\"x\",\"tags\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\","
	"\"11\","
	"\"12\",\"13\",\"14\",\"15\",\"16\",\"17\",\"18\",\"19\",\"20\",\"21\",\"22\",\"23\","
	"\"24\",\"25\",\"26\",\"27\",\"28\",\"29\",\"30\",\"31\",\"32\",\"33\"]}",
	"{\"id\":\"x\",\"color\":\"red\"}",
	"{\"id\":\"x\",\"token\":\"suitd_dt_mine\"}",
	"{\"id\":\"x\",\"vendor_id\":\"not-a-uuid\"}",
	"{\"id\":\"x\",\"vendor_id\":5}",
	"{\"id\":\"x\",\"class_id\":\"1492af14-2569-5e48-bf42-9b2d51f2ab4\"}",
	"{\"id\":\"x\",\"class_id\":\"1492af14x2569-5e48-bf42-9b2d51f2ab45\"}",
	"{\"id\":\"x\",\"class_id\":\"1492af1425695e48bf429b2d51f2ab45\"}",
	"{\"id\":\"x\",\"class_id\":\"g492af14-2569-5e48-bf42-9b2d51f2ab45\"}",
	"{\"id\":\"x\",\"attributes\":[1]}",
	"{\"id\":\"x\",\"attributes\":\"s\"}",
	"{\"id\":\"x\",\"attributes\":null}",
	"{\"id\":\"x\",\"id\":\"y\"}",
	"[{\"id\":\"x\"}]",
	"{\"id\":",
};

START_TEST(test_create_invalid)
{
	struct http_result r;
	char big[6000];

	for (unsigned i = 0; i < sizeof(bad_creates) / sizeof(bad_creates[0]); i++) {
		api("POST", "/api/v1/devices", P.admin_key, bad_creates[i], &r);
		ck_assert_msg(r.status == 400, "%s: %ld %s", bad_creates[i], r.status, r.body);
		assert_problem(&r, 400, "invalid-request", NULL);
		http_result_release(&r);
	}
	/* Attributes over 4096 bytes of JSON. */
	int n = snprintf(big, sizeof(big), "{\"id\":\"x\",\"attributes\":{\"k\":\"");
	memset(big + n, 'v', 4100);
	snprintf(big + n + 4100, sizeof(big) - (size_t)n - 4100, "\"}}");
	api("POST", "/api/v1/devices", P.admin_key, big, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	/* Exact details for the common mistakes. */
	api("POST", "/api/v1/devices", P.admin_key, "{\"id\":\"x\",\"colour\":1}", &r);
	assert_problem(&r, 400, "invalid-request", "unknown field 'colour'");
	http_result_release(&r);
	api("POST", "/api/v1/devices", P.admin_key, "{\"id\":\"a b\"}", &r);
	assert_problem(&r, 400, "invalid-request", "field 'id' must match [A-Za-z0-9._:@-]{1,128}");
	http_result_release(&r);
	api("POST", "/api/v1/devices", P.admin_key, "{\"id\":\"x\",\"class_id\":\"nope\"}", &r);
	assert_problem(&r, 400, "invalid-request", "field 'class_id' must be a UUID");
	http_result_release(&r);
	api("POST", "/api/v1/devices", P.admin_key, "{\"id\":\"x\",\"attributes\":[]}", &r);
	assert_problem(&r, 400, "invalid-request", "field 'attributes' must be an object");
	http_result_release(&r);
	/* Not JSON at all: 415. */
	harness_request(&P, "POST", "/api/v1/devices", P.admin_key, "text/plain", "{\"id\":\"x\"}",
			10, &r);
	assert_problem(&r, 415, "unsupported-media-type", NULL);
	http_result_release(&r);
	/* Nothing was created by any of these. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices"), 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM device_tags"), 0);
}
END_TEST

START_TEST(test_roles)
{
	struct http_result r;
	char out[512], reader[96], operator[96];

	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "ro",
				     "--role", "reader", (char *)NULL),
			 0);
	out[strcspn(out, "\n")] = '\0';
	snprintf(reader, sizeof(reader), "%s", out);
	ck_assert_int_eq(harness_cli(&P, out, sizeof(out), "key", "create", "--name", "op",
				     "--role", "operator", (char *)NULL),
			 0);
	out[strcspn(out, "\n")] = '\0';
	snprintf(operator, sizeof(operator), "%s", out);

	api("POST", "/api/v1/devices", reader, "{\"id\":\"r-1\"}", &r);
	assert_problem(&r, 403, "forbidden", NULL);
	http_result_release(&r);
	api("POST", "/api/v1/devices", operator, "{\"id\":\"r-1\"}", &r);
	assert_status(&r, 201);
	http_result_release(&r);
	api("GET", "/api/v1/devices", reader, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	api("GET", "/api/v1/devices/r-1", reader, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	api("PATCH", "/api/v1/devices/r-1", reader, "{\"group\":\"g\"}", &r);
	assert_problem(&r, 403, "forbidden", NULL);
	http_result_release(&r);
	api("PATCH", "/api/v1/devices/r-1", operator, "{\"group\":\"g\"}", &r);
	assert_status(&r, 200);
	http_result_release(&r);
	api("POST", "/api/v1/devices/r-1/token", reader, NULL, &r);
	assert_problem(&r, 403, "forbidden", NULL);
	http_result_release(&r);
	api("POST", "/api/v1/devices/r-1/token", operator, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);
	api("DELETE", "/api/v1/devices/r-1", operator, NULL, &r);
	assert_problem(&r, 403, "forbidden", NULL);
	http_result_release(&r);
	api("GET", "/api/v1/devices", NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	http_result_release(&r);
	/* The audit log names the key. */
	ck_assert_int_eq(harness_sql_int(&P,
					 "SELECT count(*) FROM events WHERE actor = 'op' "
					 "AND type = 'device.created' AND subject = 'device:r-1'"),
			 1);
}
END_TEST

static json_t *patch(const char *id, const char *json, long status)
{
	struct http_result r;
	char path[256];
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/api/v1/devices/%s", id);
	api("PATCH", path, P.admin_key, json, &r);
	ck_assert_msg(r.status == status, "PATCH %s: %ld, want %ld: %s", json, r.status, status,
		      r.body);
	if (status == 200)
		j = body_json(&r);
	http_result_release(&r);
	return j;
}

START_TEST(test_patch)
{
	struct http_result r;
	json_t *j, *want;

	create_device("{\"id\":\"p-1\",\"group\":\"g1\",\"tags\":[\"t1\"],\"class_id\":\"" CLASS_1
		      "\",\"attributes\":{\"a\":1}}",
		      NULL, 0);
	j = patch("p-1", "{\"group\":\"g2\"}", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "group")), "g2");
	want = json_pack("[s]", "t1");
	ck_assert(json_equal(json_object_get(j, "tags"), want));
	json_decref(want);
	want = json_pack("{s:i}", "a", 1);
	ck_assert(json_equal(json_object_get(j, "attributes"), want));
	json_decref(want);
	ck_assert_str_eq(json_string_value(json_object_get(j, "class_id")), CLASS_1);
	json_decref(j);

	j = patch("p-1", "{\"tags\":[\"y\",\"x\"]}", 200);
	want = json_pack("[s,s]", "x", "y");
	ck_assert(json_equal(json_object_get(j, "tags"), want));
	json_decref(want);
	ck_assert_str_eq(json_string_value(json_object_get(j, "group")), "g2");
	json_decref(j);

	/* attributes are replaced whole, not merged. */
	j = patch("p-1", "{\"attributes\":{\"b\":{\"c\":true}}}", 200);
	want = json_pack("{s:{s:b}}", "b", "c", 1);
	ck_assert(json_equal(json_object_get(j, "attributes"), want));
	json_decref(want);
	json_decref(j);

	/* All three at once; null clears the group; [] removes every tag. */
	j = patch("p-1", "{\"group\":null,\"tags\":[],\"attributes\":{}}", 200);
	ck_assert(json_is_null(json_object_get(j, "group")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "tags")), 0);
	ck_assert_uint_eq(json_object_size(json_object_get(j, "attributes")), 0);
	json_decref(j);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM device_tags"), 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE grp IS NULL"), 1);

	/* An empty object changes nothing. */
	j = patch("p-1", "{}", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "p-1");
	json_decref(j);

	/* Refused: unknown or immutable fields, bad values; nothing changes. */
	j = patch("p-1", "{\"group\":\"keep\",\"tags\":[\"keep\"]}", 200);
	json_decref(j);
	static const char *const bad[] = {
		"{\"id\":\"p-2\"}",
		"{\"vendor_id\":\"" VENDOR_1 "\"}",
		"{\"class_id\":\"" CLASS_2 "\"}",
		"{\"token\":\"x\"}",
		"{\"group\":\"a b\"}",
		"{\"group\":\"\"}",
		"{\"group\":\"g3\",\"tags\":[\"bad tag\"]}",
		"{\"group\":\"g3\",\"attributes\":[]}",
		"{\"tags\":null}",
		"{\"attributes\":null}",
		"[]",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_null(patch("p-1", bad[i], 400));
	api("GET", "/api/v1/devices/p-1", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "group")), "keep");
	want = json_pack("[s]", "keep");
	ck_assert(json_equal(json_object_get(j, "tags"), want));
	json_decref(want);
	ck_assert_str_eq(json_string_value(json_object_get(j, "class_id")), CLASS_1);
	json_decref(j);
	http_result_release(&r);

	api("PATCH", "/api/v1/devices/nobody", P.admin_key, "{\"group\":\"g\"}", &r);
	assert_problem(&r, 404, "not-found", "no such device");
	http_result_release(&r);
	api("PATCH", "/api/v1/devices/a%20b", P.admin_key, "{\"group\":\"g\"}", &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
}
END_TEST

START_TEST(test_delete)
{
	struct http_result r;

	create_device("{\"id\":\"d-1\",\"tags\":[\"a\",\"b\"]}", NULL, 0);
	create_device("{\"id\":\"d-2\",\"tags\":[\"a\"]}", NULL, 0);
	api("DELETE", "/api/v1/devices/d-1", P.admin_key, NULL, &r);
	assert_status(&r, 204);
	ck_assert_uint_eq(r.body_len, 0);
	http_result_release(&r);
	api("GET", "/api/v1/devices/d-1", P.admin_key, NULL, &r);
	assert_problem(&r, 404, "not-found", "no such device");
	http_result_release(&r);
	api("DELETE", "/api/v1/devices/d-1", P.admin_key, NULL, &r);
	assert_problem(&r, 404, "not-found", "no such device");
	http_result_release(&r);
	api("GET", "/api/v1/devices/a%20b", P.admin_key, NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	api("DELETE", "/api/v1/devices/a%20b", P.admin_key, NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	/* Its tags went with it; the other device is untouched. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM device_tags"), 1);
	char ids[256];
	list_ids("?tag=a", ids, sizeof(ids));
	ck_assert_str_eq(ids, "d-2");
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM events WHERE "
					     "type = 'device.deleted' AND subject = 'device:d-1'"),
			 1);
	/* The id can be used again. */
	create_device("{\"id\":\"d-1\"}", NULL, 0);
}
END_TEST

START_TEST(test_filters)
{
	struct http_result r;
	char ids[512], q[160], token[128], rfc[32];

	create_device("{\"id\":\"f-1\",\"group\":\"a\",\"tags\":[\"x\"],\"class_id\":\"" CLASS_1
		      "\"}",
		      NULL, 0);
	create_device("{\"id\":\"f-2\",\"group\":\"a\",\"tags\":[\"y\"],\"class_id\":\"" CLASS_2
		      "\"}",
		      token, sizeof(token));
	create_device("{\"id\":\"f-3\",\"group\":\"b\",\"tags\":[\"x\",\"y\"]}", NULL, 0);
	create_device("{\"id\":\"f-4\"}", NULL, 0);

	list_ids("", ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-1,f-2,f-3,f-4");
	list_ids("?group=a", ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-1,f-2");
	list_ids("?group=b", ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-3");
	list_ids("?group=A", ids, sizeof(ids)); /* exact match */
	ck_assert_str_eq(ids, "");
	list_ids("?tag=x", ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-1,f-3");
	list_ids("?tag=y", ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-2,f-3");
	list_ids("?tag=y&group=a", ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-2");
	list_ids("?tag=z", ids, sizeof(ids));
	ck_assert_str_eq(ids, "");
	list_ids("?class_id=" CLASS_1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-1");
	list_ids("?class_id=BB8EC15D-A2BE-4FBE-9A0B-8DBD5C2D6F8E", ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-2");
	list_ids("?class_id=" CLASS_1 "&group=b", ids, sizeof(ids));
	ck_assert_str_eq(ids, "");

	/* seen_since: never-seen devices are left out; f-2 is seen now. */
	time_t t0 = time(NULL);
	snprintf(q, sizeof(q), "?seen_since=%lld", (long long)t0 - 3600);
	list_ids(q, ids, sizeof(ids));
	ck_assert_str_eq(ids, "");
	whoami(NULL, token, &r);
	assert_whoami(&r, "f-2", "a");
	http_result_release(&r);
	/* The filter reads the database: wait for the flush (seen_flush = 1). */
	for (int i = 0; i < 100 && harness_sql_int(&P, "SELECT count(*) FROM devices WHERE "
						       "last_seen_at IS NOT NULL") == 0;
	     i++)
		sleep_ms(50);
	list_ids(q, ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-2");
	struct tm tm;
	time_t t1 = t0 - 60;
	gmtime_r(&t1, &tm);
	strftime(rfc, sizeof(rfc), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(q, sizeof(q), "?seen_since=%s&group=a", rfc);
	list_ids(q, ids, sizeof(ids));
	ck_assert_str_eq(ids, "f-2");
	snprintf(q, sizeof(q), "?seen_since=%s&group=b", rfc);
	list_ids(q, ids, sizeof(ids));
	ck_assert_str_eq(ids, "");
	snprintf(q, sizeof(q), "?seen_since=%lld", (long long)t0 + 3600);
	list_ids(q, ids, sizeof(ids));
	ck_assert_str_eq(ids, "");

	/* Bad filter values: 400. */
	static const char *const bad[] = {
		"?class_id=nope",
		"?class_id=" CLASS_1 "0",
		"?seen_since=yesterday",
		"?seen_since=2026-11-25T20:00:00",
		"?seen_since=2026-11-25T20:00:00%2B01:00",
		"?seen_since=2026-11-25T20:00:00.5Z",
		"?seen_since=12x",
		"?limit=0",
		"?limit=1001",
		"?limit=x",
		"?after=-1",
		"?after=x",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), "/api/v1/devices%s", bad[i]);
		api("GET", path, P.admin_key, NULL, &r);
		ck_assert_msg(r.status == 400, "%s: %ld", bad[i], r.status);
		assert_problem(&r, 400, "invalid-request", NULL);
		http_result_release(&r);
	}
}
END_TEST

#define MANY 2000

/* Walk every page of query with this page size; mark each id seen; return
 * the number of pages. */
static unsigned walk_pages(struct harness_conn *c, const char *query, unsigned limit,
			   unsigned char *seen, unsigned *ret_items)
{
	struct http_result r;
	char path[256], after[32] = "";
	unsigned pages = 0, items = 0;
	int last = -1;

	for (;;) {
		snprintf(path, sizeof(path), "/api/v1/devices?limit=%u%s%s%s", limit, query,
			 after[0] ? "&after=" : "", after);
		harness_conn_request(c, "GET", path, P.admin_key, NULL, NULL, 0, &r);
		assert_status(&r, 200);
		json_t *j = body_json(&r), *item;
		json_t *arr = json_object_get(j, "items"), *next = json_object_get(j, "next");
		size_t i;
		pages++;
		ck_assert_uint_le(json_array_size(arr), limit);
		json_array_foreach(arr, i, item)
		{
			int n = -1;
			ck_assert_int_eq(
				sscanf(json_string_value(json_object_get(item, "id")), "pg-%d", &n),
				1);
			ck_assert_msg(n >= 0 && n < MANY, "id %d", n);
			ck_assert_msg(!seen[n], "duplicate pg-%04d", n);
			ck_assert_msg(n > last, "out of order: pg-%04d after pg-%04d", n, last);
			seen[n] = 1;
			last = n;
			items++;
		}
		if (json_is_null(next)) {
			json_decref(j);
			http_result_release(&r);
			break;
		}
		ck_assert(json_is_string(next));
		/* A full page when more follow. */
		ck_assert_uint_eq(json_array_size(arr), limit);
		snprintf(after, sizeof(after), "%s", json_string_value(next));
		json_decref(j);
		http_result_release(&r);
		ck_assert_uint_lt(pages, 100);
	}
	*ret_items = items;
	return pages;
}

START_TEST(test_pagination)
{
	struct harness_conn *c = harness_conn_open(&P, NULL);
	static unsigned char seen[MANY];
	struct http_result r;
	unsigned items, expect;
	char body[160];

	/* 2000 devices through the API on one keep-alive connection. */
	for (int i = 0; i < MANY; i++) {
		int n = snprintf(body, sizeof(body), "{\"id\":\"pg-%04d\",\"group\":\"%s\"%s}", i,
				 i % 2 ? "odd" : "even", i % 3 ? "" : ",\"tags\":[\"three\"]");
		harness_conn_request(c, "POST", "/api/v1/devices", P.admin_key,
				     (const char *const[]){"Content-Type: application/json", NULL},
				     body, (size_t)n, &r);
		ck_assert_msg(r.status == 201, "pg-%04d: %ld %s", i, r.status, r.body);
		http_result_release(&r);
	}
	ck_assert_int_eq(harness_conn_connects(c), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices"), MANY);

	/* limit=500: exactly 4 pages, none missing, no duplicates. */
	memset(seen, 0, sizeof(seen));
	ck_assert_uint_eq(walk_pages(c, "", 500, seen, &items), 4);
	ck_assert_uint_eq(items, MANY);
	for (int i = 0; i < MANY; i++)
		ck_assert_msg(seen[i], "pg-%04d missing", i);

	/* A page size that does not divide the total. */
	memset(seen, 0, sizeof(seen));
	ck_assert_uint_eq(walk_pages(c, "", 333, seen, &items), 7);
	ck_assert_uint_eq(items, MANY);

	/* Filters with pagination. */
	memset(seen, 0, sizeof(seen));
	ck_assert_uint_eq(walk_pages(c, "&group=even", 300, seen, &items), 4);
	ck_assert_uint_eq(items, MANY / 2);
	for (int i = 0; i < MANY; i++)
		ck_assert_int_eq(seen[i], i % 2 == 0);
	memset(seen, 0, sizeof(seen));
	walk_pages(c, "&tag=three&group=odd", 100, seen, &items);
	expect = 0;
	for (int i = 0; i < MANY; i++) {
		ck_assert_int_eq(seen[i], i % 3 == 0 && i % 2 == 1);
		expect += i % 3 == 0 && i % 2 == 1;
	}
	ck_assert_uint_eq(items, expect);

	/* The default page is 100 with a cursor. */
	harness_conn_request(c, "GET", "/api/v1/devices", P.admin_key, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	json_t *j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 100);
	ck_assert(json_is_string(json_object_get(j, "next")));
	json_decref(j);
	http_result_release(&r);
	ck_assert_int_eq(harness_conn_connects(c), 1);
	harness_conn_close(c);
}
END_TEST

/* ---- Last seen ---- */

START_TEST(test_last_seen_flushed_at_shutdown)
{
	struct http_result r;
	char token[128], seen_at[64];
	json_t *j;
	time_t t0, t1;

	add_device("s-1", NULL, token, sizeof(token));
	add_device("s-2", NULL, NULL, 0);
	api("GET", "/api/v1/devices/s-1", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert(json_is_null(json_object_get(j, "last_seen_at")));
	json_decref(j);
	http_result_release(&r);

	t0 = time(NULL);
	whoami(NULL, token, &r);
	assert_whoami(&r, "s-1", NULL);
	http_result_release(&r);
	t1 = time(NULL);

	/* Merged from memory: shown at once, though not yet in the database. */
	api("GET", "/api/v1/devices/s-1", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert(json_is_string(json_object_get(j, "last_seen_at")));
	snprintf(seen_at, sizeof(seen_at), "%s",
		 json_string_value(json_object_get(j, "last_seen_at")));
	json_decref(j);
	http_result_release(&r);
	int64_t at = parse_time(seen_at);
	ck_assert_int_ge(at, (int64_t)t0);
	ck_assert_int_le(at, (int64_t)t1);
	/* The list merges it too; the other device was never seen. */
	api("GET", "/api/v1/devices", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "items"), 0), "last_seen_at")),
			 seen_at);
	ck_assert(json_is_null(
		json_object_get(json_array_get(json_object_get(j, "items"), 1), "last_seen_at")));
	json_decref(j);
	http_result_release(&r);
	ck_assert_int_eq(
		harness_sql_int(&P, "SELECT count(*) FROM devices WHERE last_seen_at IS NOT NULL"),
		0);

	/* SIGTERM: flushed at shutdown. */
	ck_assert_int_eq(harness_stop(&P), 0);
	ck_assert_int_eq(
		harness_sql_int(&P, "SELECT count(*) FROM devices WHERE last_seen_at IS NOT NULL"),
		1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT last_seen_at FROM devices WHERE id = 's-1'"),
			 at);

	/* After a restart the database value is served. */
	harness_start(&P);
	api("GET", "/api/v1/devices/s-1", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "last_seen_at")), seen_at);
	json_decref(j);
	http_result_release(&r);
}
END_TEST

/* A sighting belongs to the device that made it. Device numbers are the
 * SQLite rowid (INTEGER PRIMARY KEY without AUTOINCREMENT), so after the
 * newest device is deleted the next one created gets the same number; the
 * in-memory sighting of the deleted device must not show up on it. */
START_TEST(test_last_seen_not_inherited)
{
	struct http_result r;
	char token[128];
	json_t *j;

	add_device("old-1", NULL, token, sizeof(token));
	whoami(NULL, token, &r);
	assert_whoami(&r, "old-1", NULL);
	http_result_release(&r);
	api("DELETE", "/api/v1/devices/old-1", P.admin_key, NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	add_device("new-1", NULL, NULL, 0);
	api("GET", "/api/v1/devices/new-1", P.admin_key, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	bool never_seen = json_is_null(json_object_get(j, "last_seen_at"));
	char shown[64];
	snprintf(shown, sizeof(shown), "%s",
		 never_seen ? "null" : json_string_value(json_object_get(j, "last_seen_at")));
	json_decref(j);
	http_result_release(&r);
	/* Regression: api/seen.c keys pending sightings by device number; a
	 * new device once reused a deleted one's number (and its pending
	 * last_seen_at). devices.num is AUTOINCREMENT now: never reused. */
	ck_assert_msg(never_seen,
		      "a never-seen device shows last_seen_at %s (inherited from a deleted "
		      "device with the same number)",
		      shown);
	ck_assert_int_eq(harness_stop(&P), 0);
	ck_assert_int_eq(
		harness_sql_int(&P, "SELECT count(*) FROM devices WHERE last_seen_at IS NOT NULL"),
		0);
}
END_TEST
/* statement_timeout = 1s: a statement the server cancels (57014). */
static void start_timeout(void)
{
	start_with("[devices]\nauth = token\n[storage]\nstatement_timeout = 1s\n");
}

/* A statement that outlives [storage] statement_timeout (a test trigger
 * sleeps in the device insert far longer than the 1 s) is canceled by the
 * server: 503 storage-timeout with Retry-After, nothing stored, the daemon
 * answers the next request; without the trigger the same insert works. */
START_TEST(test_statement_timeout_pg)
{
	struct http_result r;

	harness_pg_hook(&P, "devices", "PERFORM pg_sleep(60);");
	api("POST", "/api/v1/devices", P.admin_key, "{\"id\":\"slow\"}", &r);
	assert_problem(&r, 503, "storage-timeout", NULL);
	ck_assert_str_eq(hdr(&r, "Retry-After"), "2");
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'slow'"), 0);
	ck_assert_uint_eq(device_count(""), 0);
	harness_pg_hook_drop(&P, "devices");
	add_device("slow", NULL, NULL, 0);
	ck_assert_uint_eq(device_count(""), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-devices");
	TCase *mtls = tcase_create("mtls");
	TCase *autoreg = tcase_create("auto-register");
	TCase *ident = tcase_create("identity");
	TCase *tok = tcase_create("token-only");
	TCase *reg = tcase_create("registry");
	TCase *seen = tcase_create("last-seen");
	TCase *timeout = tcase_create("statement-timeout");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	TCase *all[] = {mtls, autoreg, ident, tok, reg, seen, timeout};
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		tcase_set_timeout(all[i], 120);

	tcase_add_checked_fixture(mtls, start_mtls, stop);
	tcase_add_test(mtls, test_cert_registered);
	tcase_add_test(mtls, test_cert_unregistered_refused);
	tcase_add_loop_test(mtls, test_cert_refused, 0,
			    (int)(sizeof(bad_certs) / sizeof(bad_certs[0])));
	tcase_add_test(mtls, test_cert_usage_optional);
	tcase_add_test(mtls, test_no_credentials);
	tcase_add_test(mtls, test_tokens);
	tcase_add_test(mtls, test_token_grace);
	tcase_add_test(mtls, test_token_grace_rotated_again);
	tcase_add_test(mtls, test_token_grace_invalid);
	tcase_add_test(mtls, test_cross_use);
	tcase_add_test(mtls, test_scoping);
	tcase_add_test(mtls, test_payload_route_needs_identity);
	tcase_add_test(mtls, test_cli_device_add);

	tcase_add_checked_fixture(autoreg, start_autoreg, stop);
	tcase_add_test(autoreg, test_auto_register);
	tcase_add_test(autoreg, test_token_grace_without_token);

	tcase_add_checked_fixture(ident, start_san_uri, stop);
	tcase_add_test(ident, test_identity_san_uri);

	tcase_add_checked_fixture(tok, start_token_only, stop);
	tcase_add_test(tok, test_token_only_ignores_cert);

	tcase_add_checked_fixture(reg, start_registry, stop);
	tcase_add_test(reg, test_create_every_field);
	tcase_add_test(reg, test_create_invalid);
	tcase_add_test(reg, test_roles);
	tcase_add_test(reg, test_patch);
	tcase_add_test(reg, test_delete);
	tcase_add_test(reg, test_filters);
	tcase_add_test(reg, test_pagination);

	tcase_add_checked_fixture(seen, start_seen, stop);
	tcase_add_test(seen, test_last_seen_flushed_at_shutdown);
	tcase_add_test(seen, test_last_seen_not_inherited);

	tcase_add_checked_fixture(timeout, start_timeout, stop);
	harness_pg_only(timeout, test_statement_timeout_pg,
			"[storage] statement_timeout is PostgreSQL's; SQLite has none");

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		suite_add_tcase(s, all[i]);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
