/* common/ and the error mapping of api/: bounded buffer, errors, secrets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/i64map.h"
#include "common/log_burst.h"
#include "common/metrics.h"
#include "common/parse.h"
#include "common/timeutil.h"

#include "tests/check_run.h"

START_TEST(test_buf_bounded)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_str_eq(buf_str(&b), "");
	ck_assert_int_eq(buf_append(&b, "12345", 5), ERR_OK);
	ck_assert_int_eq(buf_append(&b, "678", 3), ERR_OK);
	ck_assert_str_eq(buf_str(&b), "12345678");
	/* One byte past the maximum fails and changes nothing. */
	ck_assert_int_eq(buf_append(&b, "9", 1), ERR_TOO_LARGE);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_int_eq(buf_append(&b, "", 0), ERR_OK);
	ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX), ERR_TOO_LARGE);
	buf_clear(&b);
	ck_assert_int_eq(buf_printf(&b, "%d-%s", 42, "ab"), ERR_OK);
	ck_assert_str_eq(buf_str(&b), "42-ab");
	ck_assert_int_eq(buf_printf(&b, "%s", "toolong"), ERR_TOO_LARGE);
	ck_assert_str_eq(buf_str(&b), "42-ab");
	size_t n;
	char *p = buf_take(&b, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(p, "42-ab");
	ck_assert_ptr_null(b.data);
	free(p);
	buf_release(&b);
}
END_TEST

START_TEST(test_errors_complete)
{
	/* Every code has a distinct slug and title; 4xx/5xx as intended. */
	for (int e = 0; e < ERR__COUNT; e++) {
		ck_assert_ptr_nonnull(err_slug((enum err)e));
		ck_assert_ptr_nonnull(err_title((enum err)e));
		for (int f = 0; f < e; f++)
			ck_assert_str_ne(err_slug((enum err)e), err_slug((enum err)f));
		unsigned status = api_http_status((enum err)e);
		ck_assert(e == ERR_OK ? status == 200 : status >= 400 && status <= 599);
	}
	ck_assert_uint_eq(api_http_status(ERR_INVALID), 400);
	ck_assert_uint_eq(api_http_status(ERR_UNAUTHORIZED), 401);
	ck_assert_uint_eq(api_http_status(ERR_FORBIDDEN), 403);
	ck_assert_uint_eq(api_http_status(ERR_NOT_FOUND), 404);
	ck_assert_uint_eq(api_http_status(ERR_METHOD), 405);
	ck_assert_uint_eq(api_http_status(ERR_EXISTS), 409);
	ck_assert_uint_eq(api_http_status(ERR_TOO_LARGE), 413);
	ck_assert_uint_eq(api_http_status(ERR_MEDIA_TYPE), 415);
	ck_assert_uint_eq(api_http_status(ERR_UNPROCESSABLE), 422);
	ck_assert_uint_eq(api_http_status(ERR_BUSY), 503);
	ck_assert_uint_eq(api_http_status(ERR_NOMEM), 503);
	ck_assert_uint_eq(api_http_status(ERR_STORAGE), 500);
	ck_assert_str_eq(err_slug(ERR_NOT_FOUND), "not-found");
}
END_TEST

START_TEST(test_problem_render)
{
	struct response res;
	json_t *j;

	response_init(&res);
	api_fail(&res, ERR_INVALID, "bad \x01 field \xff");
	api_problem_render(&res, "/x/\x80y");
	ck_assert_uint_eq(res.status, 400);
	ck_assert_str_eq(res.content_type, "application/problem+json");
	j = json_loads(buf_str(&res.body), 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")),
			 "urn:suitd:invalid-request");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 400);
	/* Control and non-ASCII bytes never reach the document. */
	ck_assert_str_eq(json_string_value(json_object_get(j, "detail")), "bad ? field ?");
	ck_assert_str_eq(json_string_value(json_object_get(j, "instance")), "/x/?y");
	json_decref(j);
	/* Internal errors do not leak their detail. */
	api_fail(&res, ERR_STORAGE, "disk /secret/path broke");
	api_problem_render(&res, "/");
	ck_assert_ptr_null(strstr(buf_str(&res.body), "secret"));
	ck_assert_uint_eq(res.status, 500);
	response_release(&res);
}
END_TEST

START_TEST(test_secret_and_hex)
{
	char a[SECRET_TEXT_MAX], b[SECRET_TEXT_MAX], hex[65];
	uint8_t raw[32], back[32];

	ck_assert_int_eq(crypto_secret_new("p_", a), ERR_OK);
	ck_assert_int_eq(crypto_secret_new("p_", b), ERR_OK);
	ck_assert_uint_eq(strlen(a), 2 + 43);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(
		strspn(a + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		43);
	crypto_sha256("abc", 3, raw);
	hex_encode(raw, 32, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert(hex_decode(hex, back, 32));
	ck_assert(crypto_equal(raw, back, 32));
	ck_assert(!hex_decode("zz", back, 1));
	ck_assert(!hex_decode("abc", back, 2));
}
END_TEST

START_TEST(test_metrics_render)
{
	static const struct metrics_route r[] = {{"GET", "/a"}};
	struct metrics m;
	struct buf out;

	ck_assert_int_eq(metrics_init(&m, r, 1), 0);
	metrics_request(&m, 0, 200, 150, 10);
	metrics_request(&m, 0, 200, 150, 10);
	metrics_request(&m, 1, 404, 20000000, 0);
	metrics_request(&m, 0, 299, 1, 0);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(metrics_render(&m, &out, "v", 0), ERR_OK);
	const char *t = buf_str(&out);
	ck_assert_ptr_nonnull(strstr(
		t, "suitd_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "route=\"unmatched\",status=\"404\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "status=\"other\"} 1\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "suitd_http_request_duration_seconds_bucket{le=\"0.00025\"} 3\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "suitd_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(t, "suitd_http_request_duration_seconds_count 4\n"));
	buf_release(&out);
	metrics_release(&m);
}
END_TEST

/* Random puts and deletes against a plain array as the reference. */
START_TEST(test_i64map_against_reference)
{
	enum { KEYS = 5000 };
	static int64_t ref[KEYS + 1]; /* value per key, 0 = absent */
	struct i64map m;
	unsigned seed = 7;
	bool fresh;

	memset(ref, 0, sizeof(ref));
	i64map_init(&m, sizeof(int64_t));
	ck_assert_ptr_null(i64map_get(&m, 1));
	ck_assert_ptr_null(i64map_put(&m, 0, &fresh));
	ck_assert_ptr_null(i64map_put(&m, -5, &fresh));
	for (int step = 0; step < 200000; step++) {
		seed = seed * 1103515245u + 12345u;
		int64_t key = 1 + (int64_t)((seed >> 8) % KEYS);
		if ((seed >> 4) % 3) {
			int64_t *v = i64map_put(&m, key, &fresh);
			ck_assert_ptr_nonnull(v);
			ck_assert(fresh == (ref[key] == 0));
			*v = ref[key] = step + 1;
		} else {
			ck_assert(i64map_del(&m, key) == (ref[key] != 0));
			ref[key] = 0;
		}
	}
	size_t live = 0;
	for (int64_t k = 1; k <= KEYS; k++) {
		int64_t *v = i64map_get(&m, k);
		ck_assert(ref[k] ? v && *v == ref[k] : v == NULL);
		live += ref[k] != 0;
	}
	ck_assert_uint_eq(m.used, live);
	i64map_clear(&m);
	ck_assert_ptr_null(i64map_get(&m, 1));
	i64map_release(&m);
}
END_TEST

/* The strict unsigned decimals of headers, parameters and config values. */
START_TEST(test_parse_u64)
{
	static const struct {
		const char *text;
		bool ok;
		uint64_t value;
		const char *rest; /* parse_u64_prefix */
	} cases[] = {
		{"0", true, 0, ""},
		{"42", true, 42, ""},
		{"18446744073709551615", true, UINT64_MAX, ""},
		{"18446744073709551616", false, 0, NULL}, /* overflow */
		{"", false, 0, NULL},
		{"+1", false, 0, NULL},
		{"-1", false, 0, NULL},
		{" 1", false, 0, NULL},
		{"x1", false, 0, NULL},
		{"12K", false, 12, "K"}, /* a suffix: only the prefix form takes it */
		{"1 ", false, 1, " "},
	};
	uint64_t v;
	const char *rest;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 7;
		ck_assert_msg(parse_u64(cases[i].text, &v) == cases[i].ok, "case %zu", i);
		if (cases[i].ok)
			ck_assert_uint_eq(v, cases[i].value);
		bool prefix = parse_u64_prefix(cases[i].text, &v, &rest);
		ck_assert_msg(prefix == (cases[i].rest != NULL), "prefix case %zu", i);
		if (prefix) {
			ck_assert_uint_eq(v, cases[i].value);
			ck_assert_str_eq(rest, cases[i].rest);
		}
	}
	ck_assert(!parse_u64(NULL, &v));
}
END_TEST

/* The slow-header guard's clock test. A time stored by another thread after
 * NOW was read once wrapped around and cut busy keep-alive connections. */
START_TEST(test_mono_expired)
{
	static const struct {
		uint64_t now, since, limit;
		bool expired;
	} cases[] = {
		{1000, 0, 10, false},	 /* not waiting */
		{1000, 990, 10, false},	 /* exactly the limit */
		{1000, 989, 10, true},	 /* past it */
		{1000, 1000, 10, false}, /* just now */
		{1000, 1001, 10, false}, /* stored after NOW was read */
		{1000, UINT64_MAX, 0, false}, {UINT64_MAX, 1, UINT64_MAX - 2, true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(time_mono_expired(cases[i].now, cases[i].since, cases[i].limit) ==
				      cases[i].expired,
			      "case %zu", i);
}
END_TEST

/* A burst is its first failure in full, then counts at most once per
 * interval, then its end with the total; kinds are apart. */
START_TEST(test_log_burst)
{
	struct log_burst *b;
	struct log_burst_count c;
	uint64_t last = 0;

	ck_assert_int_eq(log_burst_new(5000, &b), ERR_OK);
	ck_assert(!log_burst_active(b, ERR_STORAGE_UNAVAILABLE, NULL));
	ck_assert(!log_burst_due(b, ERR_STORAGE_UNAVAILABLE, 1000, &c));
	ck_assert(log_burst_hit(b, ERR_STORAGE_UNAVAILABLE, 1000));
	for (int i = 0; i < 3; i++)
		ck_assert(!log_burst_hit(b, ERR_STORAGE_UNAVAILABLE, 1100 + (uint64_t)i));
	/* Another kind has a burst of its own. */
	ck_assert(log_burst_hit(b, ERR_STORAGE_TIMEOUT, 1200));
	ck_assert(!log_burst_due(b, ERR_STORAGE_UNAVAILABLE, 5999, &c));
	ck_assert(log_burst_due(b, ERR_STORAGE_UNAVAILABLE, 6000, &c));
	ck_assert_uint_eq(c.count, 3);
	ck_assert_uint_eq(c.total, 4);
	ck_assert_uint_eq(c.seconds, 5);
	/* Nothing counted since: nothing due, the burst goes on. */
	ck_assert(!log_burst_due(b, ERR_STORAGE_UNAVAILABLE, 20000, &c));
	ck_assert(!log_burst_hit(b, ERR_STORAGE_UNAVAILABLE, 21000));
	ck_assert(log_burst_active(b, ERR_STORAGE_UNAVAILABLE, &last));
	ck_assert_uint_eq(last, 21000);
	/* The end: the one not counted yet, the whole burst's total. */
	ck_assert(log_burst_end(b, ERR_STORAGE_UNAVAILABLE, 23000, &c));
	ck_assert_uint_eq(c.count, 1);
	ck_assert_uint_eq(c.total, 5);
	ck_assert_uint_eq(c.seconds, 22);
	ck_assert(!log_burst_end(b, ERR_STORAGE_UNAVAILABLE, 23000, &c));
	ck_assert(!log_burst_active(b, ERR_STORAGE_UNAVAILABLE, NULL));
	/* The next failure begins a new burst; the other kind's goes on. */
	ck_assert(log_burst_hit(b, ERR_STORAGE_UNAVAILABLE, 24000));
	ck_assert(!log_burst_hit(b, ERR_STORAGE_TIMEOUT, 24000));
	/* A kind out of range is always logged, never kept. */
	ck_assert(log_burst_hit(b, ERR__COUNT, 24000));
	ck_assert(log_burst_hit(b, ERR__COUNT, 24001));
	ck_assert(!log_burst_active(b, ERR__COUNT, NULL));
	log_burst_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("common");
	int rc;

	tcase_add_test(tc, test_buf_bounded);
	tcase_add_test(tc, test_mono_expired);
	tcase_add_test(tc, test_parse_u64);
	tcase_add_test(tc, test_errors_complete);
	tcase_add_test(tc, test_log_burst);
	tcase_add_test(tc, test_problem_render);
	tcase_add_test(tc, test_secret_and_hex);
	tcase_add_test(tc, test_metrics_render);
	tcase_add_test(tc, test_i64map_against_reference);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	return rc;
}
