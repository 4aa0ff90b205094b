/* Payload store end to end: upload, metadata, resumable download. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "harness.h"
#include "tests/check_run.h"

#define MIB (1024 * 1024)

static struct suitd_proc P;
static unsigned char *data5; /* 5 MiB of random bytes */
static char sha5[65];

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	static const char digits[] = "0123456789abcdef";

	EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

static void fill_random(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

static void setup(void)
{
	harness_setup(&P, "[payloads]\nmax_size = 8M\nanonymous_download = on\n");
	harness_admin_key(&P);
	harness_start(&P);
}

static void teardown(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	/* Whatever a test did, the database stays sound. */
	harness_db_intact(&P);
	harness_cleanup(&P);
}

static long upload(const void *body, size_t len, const char *query, const char *extra_header,
		   struct http_result *r)
{
	const char *headers[] = {"Content-Type: application/octet-stream", extra_header, NULL};
	char path[300];

	snprintf(path, sizeof(path), "/api/v1/payloads%s", query ? query : "");
	harness_request_ex(&P, "POST", path, P.admin_key, headers, body, len, r);
	return r->status;
}

static void get(const char *path, const char *h1, const char *h2, struct http_result *r)
{
	const char *headers[] = {h1, h2, NULL};

	if (!h1)
		headers[0] = h2, headers[1] = NULL;
	harness_request_ex(&P, "GET", path, NULL, headers, NULL, 0, r);
}

static void upload5(void)
{
	struct http_result r;

	ck_assert_int_eq(upload(data5, 5 * MIB, "?name=fw-1.0.bin", NULL, &r), 201);
	http_result_release(&r);
}

static const char *hdr(const struct http_result *r, const char *name)
{
	static char v[512];

	return http_header(r, name, v, sizeof(v));
}

START_TEST(test_round_trip)
{
	struct http_result r;
	char path[128], got[65];
	json_t *j;

	ck_assert_int_eq(upload(data5, 5 * MIB, "?name=fw-1.0.bin", NULL, &r), 201);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "sha256")), sha5);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), 5 * MIB);
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "fw-1.0.bin");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/payloads/%s", sha5);
	ck_assert_str_eq(hdr(&r, "Location"), path);
	http_result_release(&r);

	/* Device route (anonymous here) and management route give the same bytes. */
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", sha5);
	get(path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 5 * MIB);
	sha256_hex(r.body, r.body_len, got);
	ck_assert_str_eq(got, sha5);
	ck_assert_str_eq(hdr(&r, "Accept-Ranges"), "bytes");
	char etag[80];
	snprintf(etag, sizeof(etag), "\"%s\"", sha5);
	ck_assert_str_eq(hdr(&r, "ETag"), etag);
	/* Anyone may fetch it here: a shared cache may keep it. */
	ck_assert_str_eq(hdr(&r, "Cache-Control"), "public, max-age=31536000, immutable");
	http_result_release(&r);
	snprintf(path, sizeof(path), "/api/v1/payloads/%s/content", sha5);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	/* Behind an API key: the client's own cache only. */
	ck_assert_str_eq(hdr(&r, "Cache-Control"), "private, max-age=31536000, immutable");
	sha256_hex(r.body, r.body_len, got);
	ck_assert_str_eq(got, sha5);
	http_result_release(&r);
	harness_request(&P, "GET", path, NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 401);
	http_result_release(&r);

	/* Same bytes again: 200 and the same single record. */
	ck_assert_int_eq(upload(data5, 5 * MIB, NULL, NULL, &r), 200);
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/payloads", P.admin_key, NULL, NULL, 0, &r);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads"), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT sum(length(data)) FROM chunks"), 5 * MIB);
}
END_TEST

/* Range forms: each request and the exact bytes expected. */
static const struct range_case {
	const char *range;
	long status;
	long long first, last; /* -1: whole body */
} range_cases[] = {
	{"bytes=0-99", 206, 0, 99},
	{"bytes=100-", 206, 100, 5 * MIB - 1},
	{"bytes=-500", 206, 5 * MIB - 500, 5 * MIB - 1},
	{"bytes=5242879-", 206, 5 * MIB - 1, 5 * MIB - 1},
	{"bytes=-99999999", 206, 0, 5 * MIB - 1},
	{"bytes=131072-262143", 206, 131072, 262143},
	{"bytes=65530-65545", 206, 65530, 65545}, /* across a chunk border */
	/* Mid-chunk to mid-chunk over several 256 KiB response blocks: on
	 * PostgreSQL each block after the first was read ahead. */
	{"bytes=70001-1500000", 206, 70001, 1500000},
	{"bytes=0-999999999", 206, 0, 5 * MIB - 1},
	{"BYTES=1-1", 206, 1, 1},
	{"bytes=5-2", 200, -1, -1},    /* malformed: ignored */
	{"bytes=abc", 200, -1, -1},    /* malformed: ignored */
	{"pages=1-2", 200, -1, -1},    /* other unit: ignored */
	{"bytes=", 200, -1, -1},       /* no ranges: ignored */
	{"bytes=-0", 416, 0, 0},       /* unsatisfiable */
	{"bytes=5242880-", 416, 0, 0}, /* starts at the end */
};

START_TEST(test_range)
{
	const struct range_case *c = &range_cases[_i];
	struct http_result r;
	char path[128], h[128], want[128];

	upload5();
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", sha5);
	snprintf(h, sizeof(h), "Range: %s", c->range);
	get(path, h, NULL, &r);
	ck_assert_msg(r.status == c->status, "%s: %ld", c->range, r.status);
	if (c->status == 416) {
		snprintf(want, sizeof(want), "bytes */%d", 5 * MIB);
		ck_assert_str_eq(hdr(&r, "Content-Range"), want);
		ck_assert_str_eq(hdr(&r, "Content-Type"), "application/problem+json");
	} else if (c->status == 206) {
		snprintf(want, sizeof(want), "bytes %lld-%lld/%d", c->first, c->last, 5 * MIB);
		ck_assert_str_eq(hdr(&r, "Content-Range"), want);
		ck_assert_uint_eq(r.body_len, (size_t)(c->last - c->first + 1));
		ck_assert(memcmp(r.body, data5 + c->first, r.body_len) == 0);
	} else {
		ck_assert_uint_eq(r.body_len, 5 * MIB);
		ck_assert_ptr_null(hdr(&r, "Content-Range"));
	}
	http_result_release(&r);
}
END_TEST

START_TEST(test_multipart)
{
	struct http_result r;
	char path[128], boundary[80], want[256];
	const char *ct;

	upload5();
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", sha5);
	/* The first part spans several 256 KiB response blocks from mid-chunk
	 * to mid-chunk (read ahead on PostgreSQL up to the part's end, not
	 * beyond), the second jumps back. */
	get(path, "Range: bytes=600001-1400000, 1000-1019,-5", NULL, &r);
	ck_assert_int_eq(r.status, 206);
	ct = hdr(&r, "Content-Type");
	ck_assert_int_eq(strncmp(ct, "multipart/byteranges; boundary=", 31), 0);
	snprintf(boundary, sizeof(boundary), "%s", ct + 31);
	/* Rebuild the exact body expected and compare byte for byte. */
	size_t cap = 4096 + 800000, n = 0;
	char *expect = malloc(cap);
	ck_assert_ptr_nonnull(expect);
	long long parts[3][2] = {{600001, 1400000}, {1000, 1019}, {5 * MIB - 5, 5 * MIB - 1}};
	for (int i = 0; i < 3; i++) {
		n += (size_t)snprintf(expect + n, cap - n,
				      "%s--%s\r\nContent-Type: application/octet-stream\r\n"
				      "Content-Range: bytes %lld-%lld/%d\r\n\r\n",
				      i ? "\r\n" : "", boundary, parts[i][0], parts[i][1], 5 * MIB);
		memcpy(expect + n, data5 + parts[i][0], (size_t)(parts[i][1] - parts[i][0] + 1));
		n += (size_t)(parts[i][1] - parts[i][0] + 1);
	}
	n += (size_t)snprintf(expect + n, cap - n, "\r\n--%s--\r\n", boundary);
	ck_assert_uint_eq(r.body_len, n);
	ck_assert(memcmp(r.body, expect, n) == 0);
	snprintf(want, sizeof(want), "%zu", n);
	ck_assert_str_eq(hdr(&r, "Content-Length"), want);
	free(expect);
	http_result_release(&r);
	/* More than RANGE_MAX ranges: the header is ignored, the whole body sent. */
	char many[2048] = "Range: bytes=";
	for (int i = 0; i < 40; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%d-%d", i ? "," : "",
			 i * 10, i * 10 + 1);
	get(path, many, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 5 * MIB);
	http_result_release(&r);
}
END_TEST

START_TEST(test_conditionals_and_head)
{
	struct http_result r;
	char path[128], inm[128], ifr[128];

	upload5();
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", sha5);
	snprintf(inm, sizeof(inm), "If-None-Match: \"abc\", \"%s\"", sha5);
	get(path, inm, NULL, &r);
	ck_assert_int_eq(r.status, 304);
	ck_assert_uint_eq(r.body_len, 0);
	http_result_release(&r);
	get(path, "If-None-Match: \"other\"", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	/* If-Range with our ETag keeps the range; any other makes it a 200. */
	snprintf(ifr, sizeof(ifr), "If-Range: \"%s\"", sha5);
	get(path, "Range: bytes=10-19", ifr, &r);
	ck_assert_int_eq(r.status, 206);
	ck_assert_uint_eq(r.body_len, 10);
	http_result_release(&r);
	get(path, "Range: bytes=10-19", "If-Range: \"stale\"", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 5 * MIB);
	http_result_release(&r);
	harness_request(&P, "HEAD", path, NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(hdr(&r, "Content-Length"), "5242880");
	ck_assert_str_eq(hdr(&r, "Accept-Ranges"), "bytes");
	ck_assert_uint_eq(r.body_len, 0);
	http_result_release(&r);
}
END_TEST

START_TEST(test_upload_errors)
{
	struct http_result r;
	unsigned char md[32];
	char digest[128], b64[64];
	unsigned char *big = calloc(1, 9 * MIB);

	/* Content-Length over max_size with Expect: the answer comes before the body. */
	ck_assert_int_eq(upload(big, 9 * MIB, NULL, "Expect: 100-continue", &r), 413);
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/problem+json");
	http_result_release(&r);
	ck_assert_int_eq(upload(big, 9 * MIB, NULL, NULL, &r), 413);
	http_result_release(&r);
	free(big);
	/* Content-Digest checked: a wrong one is 422, a good one passes. */
	EVP_Digest("other", 5, md, NULL, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)b64, md, 32);
	snprintf(digest, sizeof(digest), "Content-Digest: sha-256=:%s:", b64);
	ck_assert_int_eq(upload(data5, MIB, NULL, digest, &r), 422);
	ck_assert_ptr_nonnull(strstr(r.body, "urn:suitd:unprocessable"));
	http_result_release(&r);
	EVP_Digest(data5, MIB, md, NULL, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)b64, md, 32);
	snprintf(digest, sizeof(digest), "Content-Digest: sha-512=:AAAA:, sha-256=:%s:", b64);
	ck_assert_int_eq(upload(data5, MIB, NULL, digest, &r), 201);
	http_result_release(&r);
	ck_assert_int_eq(upload(data5, 10, NULL, "Content-Digest: sha-256=:nope:", &r), 400);
	http_result_release(&r);
	harness_request(&P, "POST", "/api/v1/payloads", P.admin_key, "text/plain", "x", 1, &r);
	ck_assert_int_eq(r.status, 415);
	http_result_release(&r);
	ck_assert_int_eq(upload("", 0, NULL, NULL, &r), 400);
	http_result_release(&r);
	ck_assert_int_eq(upload(data5, 10, "?name=%01bad", NULL, &r), 400);
	http_result_release(&r);
	/* Only the one good upload is stored: no leftovers of the others. */
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads"), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads"), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM chunks"), 16);
}
END_TEST

START_TEST(test_lookup_errors_and_delete)
{
	struct http_result r;
	char path[160];

	get("/device/v1/payloads/0000000000000000000000000000000000000000000000000000000000000000",
	    NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	http_result_release(&r);
	get("/device/v1/payloads/xyz", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "urn:suitd:invalid-request"));
	http_result_release(&r);
	upload5();
	snprintf(path, sizeof(path), "/api/v1/payloads/%s", sha5);
	harness_request(&P, "GET", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"size\":5242880"));
	http_result_release(&r);
	harness_request(&P, "DELETE", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 204);
	http_result_release(&r);
	harness_request(&P, "DELETE", path, P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM chunks"), 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads"), 0);
}
END_TEST

/* An upload whose body stops after `stop_after` bytes of `total`; with
 * hold_at, it pauses there until the test resumes it. */
struct partial {
	size_t sent, stop_after, total, hold_at;
};

static size_t partial_read(char *buf, size_t size, size_t n, void *userp)
{
	struct partial *pa = userp;
	size_t want = size * n;

	if (pa->sent >= pa->stop_after)
		return CURL_READFUNC_ABORT;
	if (pa->hold_at && pa->sent >= pa->hold_at)
		return CURL_READFUNC_PAUSE;
	if (pa->hold_at && want > pa->hold_at - pa->sent)
		want = pa->hold_at - pa->sent;
	if (want > pa->stop_after - pa->sent)
		want = pa->stop_after - pa->sent;
	memcpy(buf, data5 + pa->sent, want);
	pa->sent += want;
	return want;
}

static size_t discard(char *data, size_t size, size_t n, void *userp)
{
	(void)data;
	(void)userp;
	return size * n;
}

static CURL *partial_upload_to(struct suitd_proc *p, struct partial *pa, struct curl_slist **h)
{
	CURL *c = curl_easy_init();
	char url[256], auth[160];

	snprintf(url, sizeof(url), "%s/api/v1/payloads", p->url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->admin_key);
	*h = curl_slist_append(NULL, auth);
	*h = curl_slist_append(*h, "Content-Type: application/octet-stream");
	*h = curl_slist_append(*h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, p->ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)pa->total);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, partial_read);
	curl_easy_setopt(c, CURLOPT_READDATA, pa);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	return c;
}

static CURL *partial_upload(struct partial *pa, struct curl_slist **h)
{
	return partial_upload_to(&P, pa, h);
}

/* Drive C on M to its end, then free it and its headers H: its status. */
static long multi_finish(CURLM *m, CURL *c, struct curl_slist *h)
{
	int running = 1;
	long status = 0;

	while (running) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 20, NULL);
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(m, c);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return status;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

START_TEST(test_client_abort_leaves_nothing)
{
	struct partial pa = {0, 3 * MIB, 5 * MIB, 0};
	struct curl_slist *h;
	CURL *c = partial_upload(&pa, &h);

	ck_assert_int_ne(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	/* The daemon notices the closed connection and drops the chunks. */
	long long left = -1;
	for (int i = 0; i < 100 && left != 0; i++) {
		sleep_ms(50);
		left = harness_sql_int(&P, "SELECT count(*) FROM uploads") +
		       harness_sql_int(&P, "SELECT count(*) FROM chunks");
	}
	ck_assert_int_eq(left, 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads"), 0);
}
END_TEST

START_TEST(test_kill9_mid_upload)
{
	struct partial pa = {0, 5 * MIB, 5 * MIB, 0};
	struct curl_slist *h;
	CURL *c = partial_upload(&pa, &h);
	CURLM *m = curl_multi_init();
	int running = 1;

	curl_multi_add_handle(m, c);
	/* Drive the upload until 3 MiB are out, then crash the daemon. */
	while (running && pa.sent < 3 * MIB) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	ck_assert_uint_ge(pa.sent, 3 * MIB);
	sleep_ms(100);
	harness_kill9(&P);
	curl_multi_remove_handle(m, c);
	curl_easy_cleanup(c);
	curl_multi_cleanup(m);
	curl_slist_free_all(h);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads"), 0);
	/* Restart: start-up removes the dead upload; the daemon serves again. */
	harness_start(&P);
	ck_assert(harness_log_contains(&P, "unfinished uploads") ||
		  harness_sql_int(&P, "SELECT count(*) FROM chunks") == 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM chunks"), 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads"), 0);
	upload5();
}
END_TEST

START_TEST(test_concurrent_identical_uploads)
{
	CURLM *m = curl_multi_init();
	CURL *c[4];
	struct curl_slist *h = NULL;
	char url[256], auth[160];
	int running = 1, created = 0, existing = 0;
	FILE *devnull = fopen("/dev/null", "w");

	snprintf(url, sizeof(url), "%s/api/v1/payloads", P.url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", P.admin_key);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	h = curl_slist_append(h, "Expect:");
	for (int i = 0; i < 4; i++) {
		c[i] = curl_easy_init();
		curl_easy_setopt(c[i], CURLOPT_URL, url);
		curl_easy_setopt(c[i], CURLOPT_CAINFO, P.ca);
		curl_easy_setopt(c[i], CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c[i], CURLOPT_POSTFIELDS, data5);
		curl_easy_setopt(c[i], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(3 * MIB));
		curl_easy_setopt(c[i], CURLOPT_WRITEDATA, devnull);
		curl_multi_add_handle(m, c[i]);
	}
	while (running) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (int i = 0; i < 4; i++) {
		long code = 0;
		curl_easy_getinfo(c[i], CURLINFO_RESPONSE_CODE, &code);
		created += code == 201;
		existing += code == 200;
		curl_multi_remove_handle(m, c[i]);
		curl_easy_cleanup(c[i]);
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(h);
	fclose(devnull);
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(existing, 3);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads"), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads"), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT sum(length(data)) FROM chunks"), 3 * MIB);
}
END_TEST

START_TEST(test_device_route_closed_by_default)
{
	struct suitd_proc p;
	struct http_result r;

	harness_setup(&p, "");
	harness_start(&p);
	harness_request(&p, "GET",
			"/device/v1/payloads/" /* any */
			"0000000000000000000000000000000000000000000000000000000000000000",
			NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_ptr_nonnull(strstr(r.body, "urn:suitd:unauthorized"));
	http_result_release(&r);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

/* [storage] max_size reached mid-upload: 507, nothing of the upload left
 * behind, and what is stored still downloads. */
START_TEST(test_database_full)
{
	struct suitd_proc p;
	struct http_result r;
	const char *headers[] = {"Content-Type: application/octet-stream", NULL};
	char sha[65], path[128];

	harness_setup(&p, "[storage]\nmax_size = 3M\n[payloads]\nanonymous_download = on\n");
	harness_admin_key(&p);
	harness_start(&p);
	harness_request_ex(&p, "POST", "/api/v1/payloads", p.admin_key, headers, data5, MIB, &r);
	ck_assert_int_eq(r.status, 201);
	const char *at = strstr(r.body, "\"sha256\":\"");
	ck_assert_ptr_nonnull(at);
	snprintf(sha, sizeof(sha), "%.64s", at + 10);
	http_result_release(&r);
	long long chunks = harness_sql_int(&p, "SELECT count(*) FROM chunks");

	harness_request_ex(&p, "POST", "/api/v1/payloads", p.admin_key, headers, data5 + MIB,
			   4 * MIB, &r);
	ck_assert_int_eq(r.status, 507);
	ck_assert_ptr_nonnull(strstr(r.body, "\"type\":\"urn:suitd:insufficient-storage\""));
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&p, "SELECT count(*) FROM payloads"), 1);
	ck_assert_int_eq(harness_sql_int(&p, "SELECT count(*) FROM chunks"), chunks);
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", sha);
	harness_request(&p, "GET", path, NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, MIB);
	ck_assert_mem_eq(r.body, data5, MIB);
	http_result_release(&r);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

/* After a refused 5 MiB upload: data5 is not listed, /readyz says 200. */
static void assert_not_listed_still_ready(void)
{
	struct http_result r;

	harness_request(&P, "GET", "/api/v1/payloads?limit=100", P.admin_key, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body, sha5));
	http_result_release(&r);
	harness_request(&P, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
}

/* Space is back: the 5 MiB upload works and reads back whole. */
static void upload5_read_back(void)
{
	struct http_result r;
	char path[128];

	upload5();
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", sha5);
	get(path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 5 * MIB);
	ck_assert_mem_eq(r.body, data5, 5 * MIB);
	http_result_release(&r);
}

/* PostgreSQL's disk_full (SQLSTATE 53100: a relation cannot grow, ENOSPC)
 * in the middle of an upload, after its first 4 MiB transaction of chunks
 * was committed: 507 insufficient-storage as SQLite's full file, the
 * chunks written so far are gone, nothing is listed, reads go on; with
 * space back the same upload works. A test trigger raises the SQLSTATE at
 * chunk 70 of an upload (test_tablespace_full_pg fills a file system). */
START_TEST(test_disk_full_pg)
{
	struct http_result r;

	ck_assert_int_eq(upload(data5, MIB, NULL, NULL, &r), 201);
	http_result_release(&r);
	long long chunks = harness_sql_int(&P, "SELECT count(*) FROM chunks");
	long long uploads = harness_sql_int(&P, "SELECT count(*) FROM uploads");
	harness_pg_hook(&P, "chunks",
			"IF NEW.seq >= 70 THEN RAISE EXCEPTION 'test: could not extend file' "
			"USING ERRCODE = 'disk_full'; END IF;");
	ck_assert_int_eq(upload(data5, 5 * MIB, NULL, NULL, &r), 507);
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/problem+json");
	ck_assert_ptr_nonnull(strstr(r.body, "\"type\":\"urn:suitd:insufficient-storage\""));
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads"), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM chunks"), chunks);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM uploads"), uploads);
	assert_not_listed_still_ready();
	harness_pg_hook_drop(&P, "chunks");
	upload5_read_back();
}
END_TEST

/* A tmpfs of SIZE bytes at DIR (a new folder) owned by the PostgreSQL
 * server's user ("postgres" as root: tests/pg/pg_tmp.sh); 0 or errno. */
static int tiny_fs_mount(char *dir, size_t dir_size, unsigned long size)
{
	const struct passwd *pw = getpwnam("postgres");
	char opts[96];

	if (!pw)
		return ENOENT;
	snprintf(dir, dir_size, "/tmp/suitd-tiny-XXXXXX");
	if (!mkdtemp(dir))
		return errno;
	snprintf(opts, sizeof(opts), "size=%lu,mode=0700,uid=%u,gid=%u", size, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid);
	if (mount("suitd-tiny", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0) {
		int e = errno;
		rmdir(dir);
		return e;
	}
	return 0;
}

static void tiny_fs_unmount(const char *dir)
{
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* The test's tmpfs, unmounted at exit: a failed assertion ends the test
 * process with exit() (Check forks each test), which runs atexit. */
static char tiny_dir[64];

static void tiny_fs_at_exit(void)
{
	if (tiny_dir[0])
		tiny_fs_unmount(tiny_dir);
	tiny_dir[0] = '\0';
}

/* Can this process mount a file system (root with CAP_SYS_ADMIN, as on a
 * developer's machine; often not in a container)? NULL, or why not. */
static const char *tiny_fs_unavailable(void)
{
	static char why[128];
	char dir[64];
	int e;

	if (!harness_backend_is_pg())
		return NULL; /* not registered there anyway */
	if (geteuid() != 0)
		return "mounting a tmpfs needs root (the server runs as user postgres then)";
	e = tiny_fs_mount(dir, sizeof(dir), 1u << 20);
	if (e) {
		snprintf(why, sizeof(why), "cannot mount a tmpfs here: %s", strerror(e));
		return why;
	}
	tiny_fs_unmount(dir);
	return NULL;
}

/* The real thing: chunks (and their TOAST table) in a tablespace on a
 * 4 MiB tmpfs. PostgreSQL fails the relation extension with ENOSPC as
 * SQLSTATE 53100, the one error suitd answers 507 for on PostgreSQL (its
 * WAL is on the data directory's file system, so the server goes on, no
 * PANIC); the 5 MiB upload gets 507 and leaves nothing,
 * reads go on; with the table moved to a file system with room (an
 * operator's bigger disk) the same upload works. */
START_TEST(test_tablespace_full_pg)
{
	char dir[64], sql[256];
	struct http_result r;

	ck_assert_int_eq(tiny_fs_mount(dir, sizeof(dir), 4u << 20), 0);
	snprintf(tiny_dir, sizeof(tiny_dir), "%s", dir);
	atexit(tiny_fs_at_exit);
	snprintf(sql, sizeof(sql), "CREATE TABLESPACE %s_tiny LOCATION '%s'", P.db_name, dir);
	harness_sql_exec(&P, sql);
	snprintf(sql, sizeof(sql), "ALTER TABLE chunks SET TABLESPACE %s_tiny", P.db_name);
	harness_sql_exec(&P, sql);
	ck_assert_int_eq(upload(data5 + MIB, MIB, NULL, NULL, &r), 201);
	http_result_release(&r);
	long long chunks = harness_sql_int(&P, "SELECT count(*) FROM chunks");

	ck_assert_int_eq(upload(data5, 5 * MIB, NULL, NULL, &r), 507);
	ck_assert_ptr_nonnull(strstr(r.body, "\"type\":\"urn:suitd:insufficient-storage\""));
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads"), 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM chunks"), chunks);
	assert_not_listed_still_ready();
	harness_sql_exec(&P, "ALTER TABLE chunks SET TABLESPACE pg_default");
	upload5_read_back();
	snprintf(sql, sizeof(sql), "DROP TABLESPACE %s_tiny", P.db_name);
	harness_sql_exec(&P, sql);
	tiny_fs_at_exit();
}
END_TEST

/* chunks.data is STORAGE EXTERNAL (migrations/postgresql/0001): every chunk
 * out of line and never compressed, compressible bytes too (a default
 * column would pglz 1 MiB of zeros into a few KiB stored in line), in
 * 64 KiB rows as docs/design.md measured and chose. */
START_TEST(test_toast_uncompressed_pg)
{
	unsigned char *zeros = calloc(1, MIB);
	struct http_result r;

	ck_assert_ptr_nonnull(zeros);
	ck_assert_int_eq(upload(zeros, MIB, NULL, NULL, &r), 201);
	http_result_release(&r);
	free(zeros);
	ck_assert_int_eq(upload(data5, MIB, NULL, NULL, &r), 201);
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM chunks"), 32);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM chunks "
					     "WHERE pg_column_compression(data) IS NOT NULL"),
			 0);
	ck_assert_int_eq(
		harness_sql_int(&P,
				"SELECT count(*) FROM chunks WHERE octet_length(data) <> 65536"),
		0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT min(chunk_size) FROM uploads"), 65536);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT max(chunk_size) FROM uploads"), 65536);
	/* The 2 MiB are in the TOAST table (its pages hold 4 slices of 1996
	 * bytes: ~3 % more), the table itself holds pointers. */
	long long toast = harness_sql_int(&P, "SELECT pg_relation_size(reltoastrelid) FROM "
					      "pg_class WHERE oid = 'chunks'::regclass");
	ck_assert_msg(toast >= 2 * MIB && toast <= 2 * MIB + 2 * MIB / 10,
		      "TOAST table of chunks: %lld bytes for 2 MiB", toast);
	ck_assert_int_le(harness_sql_int(&P, "SELECT pg_relation_size('chunks')"), 16384);
}
END_TEST

/* Four 5 MiB uploads fill the WAL past the 1024 pages at which suitd asks
 * its checkpoint thread to copy it into the database file; no request ever
 * checkpoints by itself. */
START_TEST(test_checkpoint_thread)
{
	unsigned char *copy = malloc(5 * MIB);
	struct http_result r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, data5, 5 * MIB);
	for (int i = 0; i < 4; i++) {
		copy[0] = (unsigned char)(0xa0 + i); /* four digests */
		ck_assert_int_eq(upload(copy, 5 * MIB, NULL, NULL, &r), 201);
		http_result_release(&r);
	}
	free(copy);
	unsigned long long background = 0;
	for (int i = 0; i < 500 && !background; i++) {
		background = harness_metric(&P, "suitd_wal_checkpoints_total{by=\"background\"}");
		if (!background)
			sleep_ms(20);
	}
	ck_assert_uint_ge(background, 1);
	ck_assert_uint_eq(harness_metric(&P, "suitd_wal_checkpoints_total{by=\"inline\"}"), 0);
}
END_TEST

/* POST 1 MiB to P with the admin key: the status; Retry-After and the
 * problem type into RETRY / TYPE when given. */
static long upload_small(struct suitd_proc *p, unsigned char first, char *retry, char *type)
{
	const char *headers[] = {"Content-Type: application/octet-stream", NULL};
	struct http_result r;
	unsigned char *body = malloc(MIB);
	long status;

	ck_assert_ptr_nonnull(body);
	memcpy(body, data5, MIB);
	body[0] = first;
	harness_request_ex(p, "POST", "/api/v1/payloads", p->admin_key, headers, body, MIB, &r);
	free(body);
	status = r.status;
	if (retry && !http_header(&r, "Retry-After", retry, 16))
		retry[0] = '\0';
	if (type) {
		const char *at = strstr(r.body ? r.body : "", "\"type\":\"");
		snprintf(type, 64, "%.*s", at ? (int)strcspn(at + 8, "\"") : 0, at ? at + 8 : "");
	}
	http_result_release(&r);
	return status;
}

/* [payloads] max_uploads = 1: a second upload while one is in progress
 * gets 503 + Retry-After; the place comes back when the first finishes,
 * and when a client gives up mid-body. */
START_TEST(test_max_uploads)
{
	struct suitd_proc p;
	struct partial pa = {0, 2 * MIB, 2 * MIB, 0};
	struct curl_slist *h;
	CURLM *m = curl_multi_init();
	CURL *c;
	char retry[16], type[64];
	int running = 1;
	long status = 0;

	harness_setup(&p, "[payloads]\nmax_uploads = 1\n");
	harness_admin_key(&p);
	harness_start(&p);
	c = partial_upload_to(&p, &pa, &h);
	curl_multi_add_handle(m, c);
	while (running && pa.sent < MIB) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 20, NULL);
	}
	ck_assert_uint_ge(pa.sent, MIB); /* the first upload is under way, and held */
	sleep_ms(100);
	ck_assert_uint_eq(harness_metric(&p, "suitd_uploads_in_progress"), 1);
	ck_assert_int_eq(upload_small(&p, 0xb1, retry, type), 503);
	ck_assert_str_eq(retry, "5");
	ck_assert_str_eq(type, "urn:suitd:busy");
	ck_assert_int_eq(multi_finish(m, c, h), 201);
	ck_assert_int_eq(upload_small(&p, 0xb2, NULL, NULL), 201);
	ck_assert_uint_eq(harness_metric(&p, "suitd_uploads_in_progress"), 0);

	/* A client that disconnects mid-body gives its place back. */
	pa = (struct partial){0, MIB, 2 * MIB, 0};
	c = partial_upload_to(&p, &pa, &h);
	ck_assert_int_ne(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	for (int i = 0; i < 100 && status != 201; i++) {
		status = upload_small(&p, (unsigned char)(0xc0 + i % 32), NULL, NULL);
		ck_assert_msg(status == 201 || status == 503, "status %ld", status);
		if (status != 201)
			sleep_ms(50);
	}
	ck_assert_int_eq(status, 201);
	curl_multi_cleanup(m);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

/* GET /readyz until it answers STATUS (the test fails after 30 s). */
static void await_ready(long status)
{
	struct http_result r;

	for (time_t t0 = time(NULL);; sleep_ms(50)) {
		ck_assert_msg(time(NULL) - t0 < 30, "/readyz never answered %ld", status);
		harness_request(&P, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
		long got = r.status;
		http_result_release(&r);
		if (got == status)
			return;
	}
}

static long long cut_upload_rows(void)
{
	return harness_sql_int(&P, "SELECT count(*) FROM uploads WHERE state = 'receiving'") +
	       harness_sql_int(&P, "SELECT count(*) FROM chunks WHERE upload_id NOT IN "
				   "(SELECT upload_id FROM payloads)");
}

/* The database goes down in the middle of an upload: its last transaction
 * fails (503), and its chunks cannot be deleted then. Once the database is
 * back, the running suitd deletes them (the start-up cleanup used to be
 * the only one); a committed payload with the same bytes is untouched. */
START_TEST(test_upload_cut_by_outage_pg)
{
	struct partial pa = {0, 5 * MIB, 5 * MIB, 4 * MIB + MIB / 2};
	struct curl_slist *h;
	struct http_result r;
	CURL *c;
	CURLM *m = curl_multi_init();
	int running = 1;
	char path[128], sha[65];

	upload5();
	c = partial_upload(&pa, &h);
	curl_multi_add_handle(m, c);
	/* Until the body is held at 4.5 MiB and a batch (4 MiB) is stored. */
	for (time_t t0 = time(NULL); running && cut_upload_rows() < 64 + 1;) {
		ck_assert_msg(time(NULL) - t0 < 30, "no chunks of the upload were stored");
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	ck_assert_int_eq(running, 1);
	harness_pg_outage(4);
	await_ready(503);
	pa.hold_at = 0;
	curl_easy_pause(c, CURLPAUSE_CONT);
	ck_assert_int_eq(multi_finish(m, c, h), 503);
	curl_multi_cleanup(m);
	await_ready(200);
	/* Removed by the same process, within a few housekeeping rounds. */
	for (time_t t0 = time(NULL); cut_upload_rows() != 0; sleep_ms(100))
		ck_assert_msg(time(NULL) - t0 < 30, "the cut upload is still there");
	ck_assert(
		harness_log_contains(&P, "removed 1 unfinished uploads cut short by the database"));
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM payloads"), 1);
	snprintf(path, sizeof(path), "/device/v1/payloads/%s", sha5);
	/* A connection of the pool idle through the outage learns of it on
	 * its first statement: that request answers 503 (with Retry-After)
	 * and the connection is opened again for the next one. */
	get(path, NULL, NULL, &r);
	for (time_t t0 = time(NULL); r.status == 503; get(path, NULL, NULL, &r)) {
		ck_assert_msg(time(NULL) - t0 < 10, "the payload still answers 503");
		http_result_release(&r);
		sleep_ms(100);
	}
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 5 * MIB);
	sha256_hex(r.body, r.body_len, sha);
	ck_assert_str_eq(sha, sha5);
	http_result_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-payloads");
	TCase *tc = tcase_create("payloads");
	TCase *tc2 = tcase_create("closed");
	int rc;

	data5 = malloc(5 * MIB);
	fill_random(data5, 5 * MIB, 42);
	sha256_hex(data5, 5 * MIB, sha5);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_set_timeout(tc2, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_loop_test(tc, test_range, 0, (int)(sizeof(range_cases) / sizeof(range_cases[0])));
	tcase_add_test(tc, test_multipart);
	tcase_add_test(tc, test_conditionals_and_head);
	tcase_add_test(tc, test_upload_errors);
	tcase_add_test(tc, test_lookup_errors_and_delete);
	tcase_add_test(tc, test_client_abort_leaves_nothing);
	tcase_add_test(tc, test_kill9_mid_upload);
	tcase_add_test(tc, test_concurrent_identical_uploads);
	harness_sqlite_only(tc, test_checkpoint_thread,
			    "SQLite's WAL checkpoint thread; no counterpart: the PostgreSQL "
			    "server checkpoints by itself (checkpoint_timeout, max_wal_size), "
			    "suitd_wal_checkpoints_total stays 0");
	harness_pg_only(tc, test_disk_full_pg,
			"SQLSTATE 53100 comes from PostgreSQL; SQLite: test_database_full");
	harness_pg_only(tc, test_toast_uncompressed_pg, "TOAST is PostgreSQL's");
	harness_pg_only(
		tc, test_upload_cut_by_outage_pg,
		"an outage of the database server; SQLite: test_client_abort_leaves_nothing");
	const char *no_tiny_fs = tiny_fs_unavailable();
	if (no_tiny_fs)
		harness_skip_on_pg("test_tablespace_full_pg", no_tiny_fs);
	else
		harness_pg_only(tc, test_tablespace_full_pg,
				"a tablespace is PostgreSQL's; SQLite: test_database_full");
	tcase_add_test(tc2, test_device_route_closed_by_default);
	harness_sqlite_only(tc2, test_database_full,
			    "[storage] max_size caps the SQLite file; PostgreSQL: "
			    "test_disk_full_pg, test_tablespace_full_pg");
	tcase_add_test(tc2, test_max_uploads);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tc2);
	rc = check_run(s);
	curl_global_cleanup();
	free(data5);
	return rc;
}
