/* Device reports end to end: POST /device/v1/reports (the state machine
 * of an assignment driven by a device: downloading .. installed, failed,
 * refusals) and GET /api/v1/devices/{id}/reports (history, newest first,
 * keyset pagination, the raw body round-trips byte for byte). Everything
 * runs against the real daemon over real TLS on loopback; the author key
 * and the PKI are test-only, generated per run. */
#include <check.h>
#include <pthread.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/pem.h>

#include "fleet.h"
#include "tests/check_run.h"

/* ---- Fixture ---- */

/* ---- Report helpers ---- */

static long long report_rows(void)
{
	return harness_sql_int(&P, "SELECT count(*) FROM reports");
}

/* GET /api/v1/devices/ID/reports?QUERY, 200, the body. */
static json_t *reports_of(const char *device, const char *query)
{
	struct http_result r;
	char path[256];
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/devices/%s/reports%s%s", device, query ? "?" : "",
		 query ? query : "");
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/json");
	j = body_json(&r);
	http_result_release(&r);
	ck_assert(json_is_array(json_object_get(j, "items")));
	return j;
}

/* Decode base64 text; the decoded length into *len. */
static unsigned char *unbase64(const char *text, size_t *len)
{
	size_t n = strlen(text);
	unsigned char *out = malloc(n + 1);
	int got;

	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(n % 4, 0);
	got = EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
	ck_assert_int_ge(got, 0);
	if (n >= 1 && text[n - 1] == '=')
		got--;
	if (n >= 2 && text[n - 2] == '=')
		got--;
	*len = (size_t)got;
	return out;
}

/* Deploy m to one device; the device checks in and gets it (delivered). */
static long deploy_delivered(const char *device, const char *token)
{
	char ids[160];
	long id;

	snprintf(ids, sizeof(ids), "[\"%s\"]", device);
	id = deploy_devices(&F.m1, ids);
	assert_assignment(id, device, "pending", "");
	expect_envelope(token, "seq=0", &F.m1);
	assert_assignment(id, device, "delivered", "");
	return id;
}

/* ---- Tests ---- */

/* pending -> delivered (check-in) -> downloading -> downloaded -> installing
 * -> installed (reports) -> confirmed (check-in with the same sequence). A
 * late report is stored and changes nothing; once confirmed, 409. */
START_TEST(test_full_cycle)
{
	char tok[128], want[128];
	/* Spaces, a newline and a \u escape: the stored body is the raw bytes. */
	char raw[512];
	json_t *j, *items, *it;
	unsigned char *dec;
	size_t dec_len;
	long id;

	add_device("cycle", NULL, tok, sizeof(tok));
	id = deploy_delivered("cycle", tok);
	ck_assert_int_eq(report_rows(), 0);

	snprintf(raw, sizeof(raw),
		 "{ \"manifest\" : \"%s\",\n  \"state\": \"downloading\", \"progress\": 10,"
		 " \"reason\": \"caf\\u00e9 \xc3\xa9\" }\n",
		 F.m1.digest);
	{
		struct http_result r;
		report(tok, raw, &r);
		assert_status(&r, 204);
		http_result_release(&r);
	}
	assert_assignment(id, "cycle", "downloading", "");
	assert_counts(id, "downloading=1");
	report_ok(tok, rep(&F.m1, "downloaded", "\"progress\":100"));
	assert_assignment(id, "cycle", "downloaded", "");
	report_ok(tok, rep(&F.m1, "installing", ""));
	assert_assignment(id, "cycle", "installing", "");
	report_ok(tok, rep(&F.m1, "installed", "\"code\":0"));
	assert_assignment(id, "cycle", "installed", "");
	assert_counts(id, "installed=1");
	ck_assert_int_eq(report_rows(), 4);

	/* Stale and repeated reports: stored, 204, the state stays. */
	report_ok(tok, rep(&F.m1, "downloading", "\"progress\":50"));
	assert_assignment(id, "cycle", "installed", "");
	report_ok(tok, rep(&F.m1, "installed", ""));
	assert_assignment(id, "cycle", "installed", "");
	ck_assert_int_eq(report_rows(), 6);

	/* A check-in with a lower sequence changes nothing; the same sequence
	 * confirms. */
	expect_envelope(tok, "seq=0", &F.m1);
	assert_assignment(id, "cycle", "installed", "");
	expect_nothing(tok, "seq=1");
	assert_assignment(id, "cycle", "confirmed", "");
	assert_counts(id, "confirmed=1");

	/* Closed: refused, not stored. An exact replay of the newest report
	 * (a retry whose answer was lost) is accepted again and not stored. */
	report_ok(tok, rep(&F.m1, "installed", ""));
	ck_assert_int_eq(report_rows(), 6);
	report_refused(tok, rep(&F.m1, "installed", "\"code\":1"), 409, "conflict",
		       "the assignment is already confirmed");
	report_refused(tok, rep(&F.m1, "failed", "\"reason\":\"late\""), 409, "conflict",
		       "the assignment is already confirmed");
	ck_assert_int_eq(report_rows(), 6);
	assert_assignment(id, "cycle", "confirmed", "");

	/* The history: newest first, every field. */
	j = reports_of("cycle", NULL);
	items = json_object_get(j, "items");
	ck_assert_uint_eq(json_array_size(items), 6);
	ck_assert(json_is_null(json_object_get(j, "next")));
	static const char *const states[] = {"installed",  "downloading", "installed",
					     "installing", "downloaded",  "downloading"};
	long long prev = 0;
	for (size_t i = 0; i < 6; i++) {
		it = json_array_get(items, i);
		ck_assert_uint_eq(json_object_size(it), 11);
		/* The JSON report decoded: the same state and manifest. */
		json_t *body = json_object_get(it, "body");
		ck_assert(json_is_object(body));
		ck_assert_str_eq(json_string_value(json_object_get(body, "state")), states[i]);
		ck_assert_str_eq(json_string_value(json_object_get(body, "manifest")), F.m1.digest);
		ck_assert(json_is_null(json_object_get(it, "signature")));
		long long rid = json_integer_value(json_object_get(it, "id"));
		ck_assert_int_gt(rid, 0);
		if (i)
			ck_assert_int_lt(rid, prev);
		prev = rid;
		ck_assert_str_eq(json_string_value(json_object_get(it, "state")), states[i]);
		ck_assert_str_eq(json_string_value(json_object_get(it, "manifest")), F.m1.digest);
		ck_assert_str_eq(json_string_value(json_object_get(it, "media_type")),
				 "application/json");
		ck_assert(json_is_string(json_object_get(it, "received_at")));
		ck_assert(json_is_string(json_object_get(it, "body_base64")));
	}
	/* The oldest: the raw body byte for byte, progress and reason parsed. */
	it = json_array_get(items, 5);
	ck_assert_int_eq(json_integer_value(json_object_get(it, "progress")), 10);
	ck_assert_str_eq(json_string_value(json_object_get(it, "reason")), "caf\xc3\xa9 \xc3\xa9");
	ck_assert(json_is_null(json_object_get(it, "code")));
	dec = unbase64(json_string_value(json_object_get(it, "body_base64")), &dec_len);
	ck_assert_uint_eq(dec_len, strlen(raw));
	ck_assert(memcmp(dec, raw, dec_len) == 0);
	free(dec);
	/* installed with code 0: code 0, not null; progress and reason null. */
	it = json_array_get(items, 2);
	ck_assert(json_is_integer(json_object_get(it, "code")));
	ck_assert_int_eq(json_integer_value(json_object_get(it, "code")), 0);
	ck_assert(json_is_null(json_object_get(it, "progress")));
	ck_assert(json_is_null(json_object_get(it, "reason")));
	it = json_array_get(items, 4);
	ck_assert_int_eq(json_integer_value(json_object_get(it, "progress")), 100);
	dec = unbase64(json_string_value(json_object_get(it, "body_base64")), &dec_len);
	snprintf(want, sizeof(want), "%s", rep(&F.m1, "downloaded", "\"progress\":100"));
	ck_assert_uint_eq(dec_len, strlen(want));
	ck_assert(memcmp(dec, want, dec_len) == 0);
	free(dec);
	json_decref(j);
}
END_TEST

/* failed with a reason and a code: stored on the assignment; the same
 * failed report again is idempotent and not stored; anything else
 * afterwards 409. Not from pending: the device never got the manifest. */
START_TEST(test_failed)
{
	char tok[128], tok2[128];
	json_t *j, *it;
	long id, id2;

	add_device("broken", NULL, tok, sizeof(tok));
	id = deploy_delivered("broken", tok);
	report_ok(tok, rep(&F.m1, "downloading", "\"progress\":30"));
	assert_assignment(id, "broken", "downloading", "");
	const char *failed = rep(&F.m1, "failed", "\"reason\":\"flash write error\",\"code\":-7");
	char again[1024];
	snprintf(again, sizeof(again), "%s", failed);
	report_ok(tok, failed);
	assert_assignment(id, "broken", "failed", "flash write error");
	assert_counts(id, "failed=1");
	report_ok(tok, again);
	assert_assignment(id, "broken", "failed", "flash write error");
	/* Another failed report (another reason): accepted, changes and
	 * stores nothing; the first reason stays. */
	report_ok(tok, rep(&F.m1, "failed", "\"reason\":\"retry failed too\""));
	assert_assignment(id, "broken", "failed", "flash write error");
	ck_assert_int_eq(report_rows(), 2);
	report_refused(tok, rep(&F.m1, "installed", ""), 409, "conflict",
		       "the assignment has failed");
	report_refused(tok, rep(&F.m1, "downloading", ""), 409, "conflict",
		       "the assignment has failed");
	assert_assignment(id, "broken", "failed", "flash write error");
	ck_assert_int_eq(report_rows(), 2);

	j = reports_of("broken", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 2);
	it = json_array_get(json_object_get(j, "items"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(it, "state")), "failed");
	ck_assert_str_eq(json_string_value(json_object_get(it, "reason")), "flash write error");
	ck_assert_int_eq(json_integer_value(json_object_get(it, "code")), -7);
	ck_assert(json_is_null(json_object_get(it, "progress")));
	json_decref(j);

	/* Not from pending (never checked in): 409, nothing written, and the
	 * manifest is still delivered at the next check-in. */
	add_device("early", NULL, tok2, sizeof(tok2));
	id2 = deploy_devices(&F.m1, "[\"early\"]");
	assert_assignment(id2, "early", "pending", "");
	report_refused(tok2, rep(&F.m1, "failed", "\"reason\":\"no space\""), 409, "conflict",
		       "the manifest has not been delivered to this device");
	assert_assignment(id2, "early", "pending", "");
	ck_assert_int_eq(report_rows(), 2);
	expect_envelope(tok2, "seq=0", &F.m1);
	report_ok(tok2, rep(&F.m1, "failed", "\"reason\":\"no space\""));
	assert_assignment(id2, "early", "failed", "no space");
	/* The failed assignment is not delivered any more. */
	expect_nothing(tok2, "seq=0");
}
END_TEST

/* 409 for a manifest never assigned to this device; 400, 413, 415 and 401
 * refusals; none of them stored. */
START_TEST(test_refusals)
{
	char tok[128], tok2[128], json[2048], reason[300], extra[400], zeros[65];
	struct http_result r;
	long id;

	add_device("owner", NULL, tok, sizeof(tok));
	add_device("stranger", NULL, tok2, sizeof(tok2));
	id = deploy_devices(&F.m1, "[\"owner\"]");

	/* Another device cannot report for the first one's manifest. */
	report_refused(tok2, rep(&F.m1, "downloading", ""), 409, "conflict",
		       "this device was never assigned that manifest");
	/* A digest no deployment has. */
	memset(zeros, 'a', 64);
	zeros[64] = '\0';
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"state\":\"installed\"}", zeros);
	report_refused(tok, json, 409, "conflict", "this device was never assigned that manifest");
	assert_assignment(id, "owner", "pending", "");

	/* 400s. */
	report_refused(tok, "{\"manifest\":", 400, "invalid-request", NULL);
	report_refused(tok, "[1,2]", 400, "invalid-request", NULL);
	static const char *const bad_states[] = {"confirmed", "pending",   "delivered",
						 "timed_out", "canceled",  "skipped",
						 "bogus",     "INSTALLED", ""};
	for (size_t i = 0; i < sizeof(bad_states) / sizeof(bad_states[0]); i++)
		report_refused(tok, rep(&F.m1, bad_states[i], ""), 400, "invalid-request",
			       "field 'state' must be downloading, downloaded, installing, "
			       "installed or failed");
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"state\":7}", F.m1.digest);
	report_refused(tok, json, 400, "invalid-request", NULL);
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\"}", F.m1.digest);
	report_refused(tok, json, 400, "invalid-request", NULL);
	report_refused(tok, "{\"state\":\"installed\"}", 400, "invalid-request", NULL);
	report_refused(tok, rep(&F.m1, "downloading", "\"progress\":101"), 400, "invalid-request",
		       "field 'progress' must be 0 to 100");
	report_refused(tok, rep(&F.m1, "downloading", "\"progress\":-1"), 400, "invalid-request",
		       "field 'progress' must be 0 to 100");
	report_refused(tok, rep(&F.m1, "downloading", "\"progress\":\"5\""), 400, "invalid-request",
		       "field 'progress' must be 0 to 100");
	report_refused(tok, rep(&F.m1, "downloading", "\"progress\":5.5"), 400, "invalid-request",
		       "field 'progress' must be 0 to 100");
	memset(reason, 'r', 257);
	reason[257] = '\0';
	snprintf(extra, sizeof(extra), "\"reason\":\"%s\"", reason);
	report_refused(tok, rep(&F.m1, "failed", extra), 400, "invalid-request",
		       "field 'reason' must be a string of at most 256 bytes");
	report_refused(tok, rep(&F.m1, "failed", "\"reason\":5"), 400, "invalid-request",
		       "field 'reason' must be a string of at most 256 bytes");
	report_refused(tok, rep(&F.m1, "failed", "\"code\":\"E7\""), 400, "invalid-request",
		       "field 'code' must be an integer");
	report_refused(tok, rep(&F.m1, "installed", "\"extra\":1"), 400, "invalid-request",
		       "unknown field 'extra'");
	report_refused(tok, rep(&F.m1, "installed", "\"Progress\":1"), 400, "invalid-request",
		       "unknown field 'Progress'");
	static const char *const bad_digests[] = {
		"abcd", "", "zz",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"};
	for (size_t i = 0; i < sizeof(bad_digests) / sizeof(bad_digests[0]); i++) {
		snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"state\":\"installed\"}",
			 bad_digests[i]);
		report_refused(tok, json, 400, "invalid-request",
			       "field 'manifest' must be a manifest digest in hex");
	}
	snprintf(json, sizeof(json), "{\"manifest\":42,\"state\":\"installed\"}");
	report_refused(tok, json, 400, "invalid-request", NULL);
	assert_assignment(id, "owner", "pending", "");
	ck_assert_int_eq(report_rows(), 0);
	/* Valid, but the manifest was never delivered to the owner yet. */
	report_refused(tok, rep(&F.m1, "downloading", ""), 409, "conflict",
		       "the manifest has not been delivered to this device");
	assert_assignment(id, "owner", "pending", "");
	ck_assert_int_eq(report_rows(), 0);
	expect_envelope(tok, "seq=0", &F.m1);

	/* A reason of exactly 256 bytes is fine. */
	memset(reason, 'r', 256);
	reason[256] = '\0';
	snprintf(extra, sizeof(extra), "\"reason\":\"%s\"", reason);
	report_ok(tok, rep(&F.m1, "downloading", extra));
	assert_assignment(id, "owner", "downloading", "");
	ck_assert_int_eq(report_rows(), 1);

	/* 413: over max_report_size = 1K (checked before anything else). */
	memset(reason, 'x', 200);
	reason[200] = '\0';
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"state\":\"installed\",\"reason\":\"",
		 F.m1.digest);
	size_t len = strlen(json);
	memset(json + len, 'x', 1100 - len);
	snprintf(json + 1100, sizeof(json) - 1100, "\"}");
	report(tok, json, &r);
	assert_problem(&r, 413, "too-large", "a report is at most 1024 bytes");
	http_result_release(&r);
	/* Exactly 1024 bytes is not too large (it fails later, on the reason). */
	json[0] = '\0';
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"state\":\"installed\",\"code\":1}",
		 F.m1.digest);
	size_t n = strlen(json);
	memset(json + n, ' ', 1024 - n);
	json[1024] = '\0';
	report(tok, json, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	ck_assert_int_eq(report_rows(), 2);
	assert_assignment(id, "owner", "installed", "");

	/* A SUIT_Report body that is not one: 400 (test_suit_reports covers
	 * the real ones); JSON sent as a SUIT report is not CBOR either. */
	report_ex(tok, "application/suit-report+cose", "\xa1\x01\x02", 3, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"state\":\"installed\"}", F.m1.digest);
	report_ex(tok, "application/suit-report+cose; charset=x", json, strlen(json), &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	report_ex(tok, "text/plain", json, strlen(json), &r);
	ck_assert_msg(r.status == 415 || r.status == 400, "text/plain: %ld", r.status);
	http_result_release(&r);

	/* No or a wrong device token: 401; an admin key is not a device. */
	report(NULL, json, &r);
	assert_status(&r, 401);
	http_result_release(&r);
	report("not-a-token", json, &r);
	assert_status(&r, 401);
	http_result_release(&r);
	ck_assert_int_eq(report_rows(), 2);

	/* The history endpoint: 404 unknown device, 400 bad paging, 401 no key. */
	api("GET", "/api/v1/devices/nobody/reports", NULL, &r);
	assert_problem(&r, 404, "not-found", "no such device");
	http_result_release(&r);
	api("GET", "/api/v1/devices/owner/reports?limit=0", NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	api("GET", "/api/v1/devices/owner/reports?after=x", NULL, &r);
	assert_problem(&r, 400, "invalid-request", NULL);
	http_result_release(&r);
	harness_request(&P, "GET", "/api/v1/devices/owner/reports", NULL, NULL, NULL, 0, &r);
	assert_status(&r, 401);
	http_result_release(&r);
	/* The stranger has no history. */
	json_t *j = reports_of("stranger", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 0);
	ck_assert(json_is_null(json_object_get(j, "next")));
	json_decref(j);
}
END_TEST

/* 25 reports, pages of 10: 10, 10, 5, newest first, no duplicates. */
START_TEST(test_history_pages)
{
	char tok[128], tok2[128], query[64], extra[64];
	long long seen[25];
	size_t count = 0;
	const char *next = NULL;
	char cursor[32] = "";
	json_t *j;

	add_device("chatty", NULL, tok, sizeof(tok));
	add_device("other", NULL, tok2, sizeof(tok2));
	deploy_devices(&F.m1, "[\"chatty\",\"other\"]");
	expect_envelope(tok, "seq=0", &F.m1);
	expect_envelope(tok2, "seq=0", &F.m1);
	for (int i = 0; i < 25; i++) {
		snprintf(extra, sizeof(extra), "\"progress\":%d", i * 4);
		report_ok(tok, rep(&F.m1, "downloading", extra));
		/* Interleaved reports of another device are not in the history. */
		if (i % 5 == 0)
			report_ok(tok2, rep(&F.m1, "downloading", extra));
	}
	ck_assert_int_eq(report_rows(), 30);

	for (int page = 0; page < 4; page++) {
		size_t i;
		json_t *it;

		snprintf(query, sizeof(query), "limit=10%s%s", cursor[0] ? "&after=" : "", cursor);
		j = reports_of("chatty", query);
		json_t *items = json_object_get(j, "items");
		size_t want = page < 2 ? 10 : 5;
		ck_assert_msg(page < 3, "a fourth page");
		ck_assert_uint_eq(json_array_size(items), want);
		json_array_foreach(items, i, it)
		{
			long long id = json_integer_value(json_object_get(it, "id"));
			/* Newest first: progress falls 96, 92, ... 0. */
			ck_assert_int_eq(json_integer_value(json_object_get(it, "progress")),
					 (long long)(24 - count) * 4);
			for (size_t k = 0; k < count; k++)
				ck_assert_int_ne(seen[k], id);
			if (count)
				ck_assert_int_lt(id, seen[count - 1]);
			seen[count++] = id;
		}
		next = json_string_value(json_object_get(j, "next"));
		if (page < 2) {
			ck_assert_ptr_nonnull(next);
			/* The cursor is the last id of this page. */
			ck_assert_int_eq(strtoll(next, NULL, 10), seen[count - 1]);
			snprintf(cursor, sizeof(cursor), "%s", next);
			json_decref(j);
		} else {
			ck_assert(json_is_null(json_object_get(j, "next")));
			json_decref(j);
			break;
		}
	}
	ck_assert_uint_eq(count, 25);

	/* Without a limit: all 25 in one page (the default page is larger). */
	j = reports_of("chatty", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 25);
	json_decref(j);
	j = reports_of("other", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 5);
	json_decref(j);
}
END_TEST

/* SUIT_Report bodies: the spec's shared vector (success, referring to spec
 * example 0) and a failure built by hand. */
START_TEST(test_suit_reports)
{
	static const char digest[] =
		"6658ea560262696dd1f13b782239a064da7c6c5cbaf52fded428a6fc83c7e5af";
	const char *src = getenv("SUITD_SRC");
	char file[512], tok[128], ids[64];
	struct http_result r;
	unsigned char *env, *rep_bytes, failure[64];
	size_t env_len, rep_len, n = 0;
	long id;

	snprintf(file, sizeof(file), "%s/tests/data/suit/spec-example0.signed.suit",
		 src ? src : ".");
	env = read_all(file, &env_len);
	harness_request(&P, "POST", "/api/v1/manifests", P.admin_key,
			"application/suit-envelope+cose", env, env_len, &r);
	assert_status(&r, 201);
	http_result_release(&r);
	free(env);
	add_device("spec-dev", NULL, tok, sizeof(tok));
	snprintf(ids, sizeof(ids), "[\"spec-dev\"]");
	char json[256];
	snprintf(json, sizeof(json), "{\"manifest\":\"%s\",\"target\":{\"devices\":%s}}", digest,
		 ids);
	id = deploy(json, NULL);
	checkin(tok, "", NULL, &r); /* example 0 has sequence 0: no seq sent */
	assert_status(&r, 200);
	http_result_release(&r);
	assert_assignment(id, "spec-dev", "delivered", "");
	snprintf(file, sizeof(file), "%s/tests/data/suit/reports/report-attestam-success.cbor",
		 src ? src : ".");
	rep_bytes = read_all(file, &rep_len);
	report_ex(tok, "application/suit-report+cose", rep_bytes, rep_len, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	free(rep_bytes);
	assert_assignment(id, "spec-dev", "installed", "");
	/* {99: ["", [-16, digest]], 3: [], 4: {5: -42, 6: [[], 20, 4, 0, {}], 7: 10}} */
	static const unsigned char head[] = {0xa3, 0x18, 0x63, 0x82, 0x60, 0x82, 0x2f, 0x58, 0x20};
	static const unsigned char tail[] = {0x03, 0x80, 0x04, 0xa3, 0x05, 0x38, 0x29, 0x06,
					     0x85, 0x80, 0x14, 0x04, 0x00, 0xa0, 0x07, 0x0a};
	memcpy(failure, head, sizeof(head));
	n = sizeof(head);
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		sscanf(digest + 2 * i, "%2x", &v);
		failure[n++] = (unsigned char)v;
	}
	memcpy(failure + n, tail, sizeof(tail));
	n += sizeof(tail);
	report_ex(tok, "application/suit-report+cose", failure, n, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	assert_assignment(id, "spec-dev", "failed",
			  "condition-failed at section 20 offset 4 component 0");
	/* Both SUIT reports decoded in the history, newest first. */
	{
		json_t *j = reports_of("spec-dev", NULL), *items = json_object_get(j, "items");
		ck_assert_uint_eq(json_array_size(items), 2);
		json_t *fail = json_object_get(json_array_get(items, 0), "body");
		json_t *ok = json_object_get(json_array_get(items, 1), "body");
		ck_assert_str_eq(json_string_value(json_object_get(
					 json_object_get(fail, "manifest_digest"), "value")),
				 digest);
		ck_assert_str_eq(json_string_value(json_object_get(
					 json_object_get(fail, "manifest_digest"), "alg")),
				 "sha-256");
		json_t *res = json_object_get(fail, "result");
		ck_assert_str_eq(json_string_value(json_object_get(res, "reason")),
				 "condition-failed");
		ck_assert_int_eq(json_integer_value(json_object_get(res, "code")), -42);
		ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res, "record"),
								    "section")),
				 20);
		ck_assert(json_is_false(json_object_get(fail, "invoked")));
		ck_assert(json_is_true(json_object_get(ok, "result")));
		ck_assert_str_eq(json_string_value(json_object_get(
					 json_object_get(ok, "manifest_digest"), "value")),
				 digest);
		json_decref(j);
	}
	/* Garbage and COSE-wrapped reports are refused, nothing stored. */
	long long rows = report_rows();
	report_ex(tok, "application/suit-report+cose", "\xa1\x01\x02", 3, &r);
	assert_status(&r, 400);
	http_result_release(&r);
	/* A COSE_Sign1 must carry the report; a COSE_Mac0 is not accepted. */
	report_ex(tok, "application/suit-report+cose", "\xd2\x84\x40\xa0\xf6\x40", 6, &r);
	assert_problem(&r, 400, "invalid-request",
		       "COSE_Sign1 payload: must carry the SUIT_Report (a detached payload is "
		       "not accepted)");
	http_result_release(&r);
	report_ex(tok, "application/suit-report+cose", "\xd1\x84\x40\xa0\xf6\x40", 6, &r);
	assert_status(&r, 415);
	http_result_release(&r);
	ck_assert_int_eq(report_rows(), rows);
}
END_TEST

/* ---- Group commit ---- */

#define GC_THREADS 8
#define GC_EACH	   25

struct gc_worker {
	pthread_t thread;
	char token[128];
	long statuses[GC_EACH];
};

static void *gc_post(void *arg)
{
	struct gc_worker *w = arg;
	struct http_result r;
	char json[256];

	for (int i = 0; i < GC_EACH; i++) {
		snprintf(json, sizeof(json),
			 "{\"manifest\":\"%s\",\"state\":\"downloading\",\"progress\":%d}",
			 F.m1.digest, i);
		harness_request(&P, "POST", REPORTS, w->token, "application/json", json,
				strlen(json), &r);
		w->statuses[i] = r.status;
		http_result_release(&r);
	}
	return NULL;
}

/* A metric's value from GET /metrics. */
/* Reports from many devices at once go through the group commit: every
 * one is answered 204 only after it is stored, each exactly once, and no
 * more transactions than reports were needed. */
START_TEST(test_group_commit)
{
	struct gc_worker w[GC_THREADS];
	char id[32], ids[512] = "[";
	long long rows;
	unsigned long long written, commits;

	for (int t = 0; t < GC_THREADS; t++) {
		snprintf(id, sizeof(id), "busy-%d", t);
		add_device(id, NULL, w[t].token, sizeof(w[t].token));
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s\"%s\"", t ? "," : "",
			 id);
	}
	snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "]");
	deploy_devices(&F.m1, ids);
	for (int t = 0; t < GC_THREADS; t++)
		expect_envelope(w[t].token, "seq=0", &F.m1);
	rows = report_rows();
	written = harness_metric(&P, "suitd_reports_written_total");
	commits = harness_metric(&P, "suitd_report_commits_total");
	for (int t = 0; t < GC_THREADS; t++)
		ck_assert_int_eq(pthread_create(&w[t].thread, NULL, gc_post, &w[t]), 0);
	for (int t = 0; t < GC_THREADS; t++)
		pthread_join(w[t].thread, NULL);
	for (int t = 0; t < GC_THREADS; t++)
		for (int i = 0; i < GC_EACH; i++)
			ck_assert_msg(w[t].statuses[i] == 204, "device %d report %d: %ld", t, i,
				      w[t].statuses[i]);
	ck_assert_int_eq(report_rows(), rows + GC_THREADS * GC_EACH);
	ck_assert_uint_eq(harness_metric(&P, "suitd_reports_written_total"),
			  written + GC_THREADS * GC_EACH);
	unsigned long long used = harness_metric(&P, "suitd_report_commits_total") - commits;
	ck_assert_uint_ge(used, 1);
	ck_assert_uint_le(used, GC_THREADS * GC_EACH);
	for (int t = 0; t < GC_THREADS; t++) {
		snprintf(id, sizeof(id), "busy-%d", t);
		assert_assignment(1, id, "downloading", "");
	}
}
END_TEST

/* ---- Signed SUIT reports ---- */

/* A success SUIT_Report for manifest m: {99: ["", [-16, digest]], 3: [],
 * 4: true}. Returns its length. */
static size_t success_report(const struct manifest *m, unsigned char out[64])
{
	static const unsigned char head[] = {0xa3, 0x18, 0x63, 0x82, 0x60, 0x82, 0x2f, 0x58, 0x20};
	size_t n = sizeof(head);

	memcpy(out, head, n);
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		sscanf(m->digest + 2 * i, "%2x", &v);
		out[n++] = (unsigned char)v;
	}
	out[n++] = 0x03;
	out[n++] = 0x80;
	out[n++] = 0x04;
	out[n++] = 0xf5;
	return n;
}

/* COSE_Sign1 over payload (< 256 bytes) with k: ES256 for P-256, EdDSA
 * for Ed25519; the signature is r||s for ECDSA (RFC 9053). */
static size_t sign1(EVP_PKEY *k, const unsigned char *payload, size_t len, unsigned char *out)
{
	bool ed = EVP_PKEY_get_id(k) == EVP_PKEY_ED25519;
	unsigned char prot[] = {0xa1, 0x01, ed ? 0x27 : 0x26}, tbs[512], der[128], sig[64];
	size_t n = 0, der_len = sizeof(der);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	/* Sig_structure = ["Signature1", protected, h'', payload] */
	tbs[n++] = 0x84;
	tbs[n++] = 0x6a;
	memcpy(tbs + n, "Signature1", 10);
	n += 10;
	tbs[n++] = 0x43;
	memcpy(tbs + n, prot, 3);
	n += 3;
	tbs[n++] = 0x40;
	tbs[n++] = 0x58;
	tbs[n++] = (unsigned char)len;
	memcpy(tbs + n, payload, len);
	n += len;
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, ed ? NULL : EVP_sha256(), NULL, k), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, der, &der_len, tbs, n), 1);
	EVP_MD_CTX_free(ctx);
	if (ed) {
		ck_assert_uint_eq(der_len, 64);
		memcpy(sig, der, 64);
	} else {
		const unsigned char *p = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
		ck_assert_ptr_nonnull(es);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
		ECDSA_SIG_free(es);
	}
	n = 0;
	out[n++] = 0xd2;
	out[n++] = 0x84;
	out[n++] = 0x43;
	memcpy(out + n, prot, 3);
	n += 3;
	out[n++] = 0xa0;
	out[n++] = 0x58;
	out[n++] = (unsigned char)len;
	memcpy(out + n, payload, len);
	n += len;
	out[n++] = 0x58;
	out[n++] = 0x40;
	memcpy(out + n, sig, 64);
	return n + 64;
}

/* PATCH the device's report_key with k's public key in PEM (or null). */
static void set_report_key(const char *device, EVP_PKEY *k, char *pem, size_t pem_size)
{
	struct http_result r;
	char path[160];
	json_t *body = json_object(), *got;

	if (k) {
		BIO *b = BIO_new(BIO_s_mem());
		char *data;
		ck_assert(PEM_write_bio_PUBKEY(b, k));
		long len = BIO_get_mem_data(b, &data);
		ck_assert_int_lt(len, (long)pem_size);
		memcpy(pem, data, (size_t)len);
		pem[len] = '\0';
		BIO_free(b);
		json_object_set_new(body, "report_key", json_string(pem));
	} else {
		json_object_set_new(body, "report_key", json_null());
	}
	char *text = json_dumps(body, 0);
	snprintf(path, sizeof(path), "/api/v1/devices/%s", device);
	api("PATCH", path, text, &r);
	free(text);
	json_decref(body);
	assert_status(&r, 200);
	got = body_json(&r);
	if (k)
		ck_assert_str_eq(json_string_value(json_object_get(got, "report_key")), pem);
	else
		ck_assert(json_is_null(json_object_get(got, "report_key")));
	json_decref(got);
	http_result_release(&r);
}

/* The newest report of a device: its signature member ("" = null). */
static void newest_signature(const char *device, char *out, size_t size)
{
	json_t *j = reports_of(device, NULL);
	json_t *s = json_object_get(json_array_get(json_object_get(j, "items"), 0), "signature");

	snprintf(out, size, "%s", json_is_string(s) ? json_string_value(s) : "");
	json_decref(j);
}

/* A device with a registered report key: its COSE_Sign1 reports are
 * verified (P-256 and Ed25519), a wrong key, a tampered payload and an
 * unsigned report are refused with nothing stored; a device without a key
 * has its signed reports accepted as unchecked. Test-only keys. */
START_TEST(test_signed_reports)
{
	EVP_PKEY *k = EVP_EC_gen("P-256"), *wrong = EVP_EC_gen("P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	unsigned char payload[64], cose[256];
	char tok[128], tok2[128], pem[1024], sig[32];
	struct http_result r;
	size_t plen, n;
	long long rows;

	ck_assert_ptr_nonnull(ed);
	add_device("signer", NULL, tok, sizeof(tok));
	add_device("keyless", NULL, tok2, sizeof(tok2));
	set_report_key("signer", k, pem, sizeof(pem));
	deploy_devices(&F.m1, "[\"signer\",\"keyless\"]");
	expect_envelope(tok, "seq=0", &F.m1);
	expect_envelope(tok2, "seq=0", &F.m1);
	plen = success_report(&F.m1, payload);
	rows = report_rows();

	report_ex(tok, "application/suit-report+cose", payload, plen, &r);
	assert_problem(&r, 422, "unprocessable",
		       "this device has a report_key: its SUIT reports must be COSE_Sign1 "
		       "signed with it");
	http_result_release(&r);
	n = sign1(wrong, payload, plen, cose);
	report_ex(tok, "application/suit-report+cose", cose, n, &r);
	assert_problem(&r, 422, "unprocessable",
		       "COSE_Sign1: the ES256 signature does not verify with the device's "
		       "report_key");
	http_result_release(&r);
	n = sign1(k, payload, plen, cose);
	cose[12] ^= 0x01; /* inside the payload's digest */
	report_ex(tok, "application/suit-report+cose", cose, n, &r);
	assert_status(&r, 422);
	http_result_release(&r);
	ck_assert_int_eq(report_rows(), rows);
	assert_assignment(1, "signer", "delivered", "");

	n = sign1(k, payload, plen, cose);
	report_ex(tok, "application/suit-report+cose", cose, n, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	assert_assignment(1, "signer", "installed", "");
	newest_signature("signer", sig, sizeof(sig));
	ck_assert_str_eq(sig, "verified");
	/* JSON reports stay possible (the TLS channel authenticates them). */
	report_ok(tok, rep(&F.m1, "installed", "\"progress\":100"));
	newest_signature("signer", sig, sizeof(sig));
	ck_assert_str_eq(sig, "");

	/* Ed25519, and a key removed again. */
	set_report_key("signer", ed, pem, sizeof(pem));
	n = sign1(ed, payload, plen, cose);
	report_ex(tok, "application/suit-report+cose", cose, n, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	newest_signature("signer", sig, sizeof(sig));
	ck_assert_str_eq(sig, "verified");
	set_report_key("signer", NULL, pem, sizeof(pem));
	report_ex(tok, "application/suit-report+cose", payload, plen, &r);
	assert_status(&r, 204);
	http_result_release(&r);

	/* No key registered: the signature is kept but not checked. */
	n = sign1(wrong, payload, plen, cose);
	report_ex(tok2, "application/suit-report+cose", cose, n, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	newest_signature("keyless", sig, sizeof(sig));
	ck_assert_str_eq(sig, "unchecked");

	/* Keys that are not P-256 or Ed25519 public keys. */
	static const char *const bad[] = {
		"{\"report_key\":\"not a key\"}",
		"{\"report_key\":5}",
		"{\"report_key\":\"\"}",
		"{\"report_key\":\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC "
		"KEY-----\\n\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api("PATCH", "/api/v1/devices/keyless", bad[i], &r);
		assert_problem(&r, 400, "invalid-request", NULL);
		http_result_release(&r);
	}
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	PEM_write_bio_PUBKEY(b, rsa);
	long len = BIO_get_mem_data(b, &data);
	json_t *body = json_pack("{s:s%}", "report_key", data, (size_t)len);
	char *text = json_dumps(body, 0);
	api("PATCH", "/api/v1/devices/keyless", text, &r);
	assert_problem(&r, 400, "invalid-request",
		       "field 'report_key' must be a PEM P-256 or Ed25519 public key");
	http_result_release(&r);
	free(text);
	json_decref(body);
	BIO_free(b);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(k);
	EVP_PKEY_free(wrong);
	EVP_PKEY_free(ed);
}
END_TEST

/* rollout.device_timeout: a delivered assignment with no news for longer is
 * timed_out (swept about once a second); the reason names the timeout. A
 * device that keeps reporting is not timed out; bad values are refused. */
START_TEST(test_device_timeout)
{
	char tok[128], tok2[128], json[512], s[32], why[256];
	struct http_result r;
	json_t *dep;
	long id;
	int i;

	add_device("quiet", NULL, tok, sizeof(tok));
	add_device("chatty", NULL, tok2, sizeof(tok2));
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"quiet\",\"chatty\"]},"
		 "\"rollout\":{\"device_timeout\":3}}",
		 F.m1.digest);
	id = deploy(json, &dep);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(dep, "rollout"),
							    "device_timeout")),
			 3);
	json_decref(dep);
	expect_envelope(tok, "seq=0", &F.m1);
	expect_envelope(tok2, "seq=0", &F.m1);
	assert_assignment(id, "quiet", "delivered", "");
	/* chatty reports every second; quiet says nothing. */
	for (i = 0; i < 100; i++) {
		report_ok(tok2, rep(&F.m1, "downloading", "\"progress\":1"));
		assignment(id, "quiet", s, sizeof(s), why, sizeof(why));
		if (strcmp(s, "timed_out") == 0)
			break;
		usleep(200 * 1000);
	}
	ck_assert_str_eq(s, "timed_out");
	ck_assert_str_eq(why, "no news from the device for 3 s");
	assert_assignment(id, "chatty", "downloading", "");
	assert_counts(id, "timed_out=1,downloading=1");

	/* The default is one day, echoed back. */
	id = deploy_devices(&F.m1, "[\"quiet\"]");
	dep = deployment(id);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(dep, "rollout"),
							    "device_timeout")),
			 86400);
	json_decref(dep);

	static const char timeout_why[] =
		"field 'rollout.device_timeout' must be 1..31536000 seconds";
	static const struct {
		const char *rollout, *detail;
	} bad[] = {
		{"{\"device_timeout\":0}", timeout_why},
		{"{\"device_timeout\":31536001}", timeout_why},
		{"{\"device_timeout\":\"3\"}", timeout_why},
		{"{\"timeout\":3}", "unknown field 'rollout.timeout' (stages, success_threshold, "
				    "failure_threshold, device_timeout)"},
		{"7", "field 'rollout' must be an object"},
	};
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		snprintf(
			json, sizeof(json),
			"{\"manifest\":\"%s\",\"target\":{\"devices\":[\"quiet\"]},\"rollout\":%s}",
			F.m1.digest, bad[i].rollout);
		api("POST", "/api/v1/deployments", json, &r);
		assert_problem(&r, 400, "invalid-request", bad[i].detail);
		http_result_release(&r);
	}
}
END_TEST

/* [devices] report_retention: reports older than it leave the history (and
 * the table); the assignment keeps the state they gave it. */
START_TEST(test_report_retention)
{
	char tok[128];
	json_t *j;
	long id;
	int i;

	add_device("old", NULL, tok, sizeof(tok));
	id = deploy_delivered("old", tok);
	report_ok(tok, rep(&F.m1, "downloading", "\"progress\":5"));
	ck_assert_int_eq(report_rows(), 1);
	ck_assert_int_eq(harness_stop(&P), 0);
	fleet_write_config("report_retention = 2s\n");
	harness_start(&P);
	/* Survives the restart and is deleted only once older than 2 s. */
	for (i = 0; i < 100 && report_rows() > 0; i++)
		usleep(200 * 1000);
	ck_assert_int_eq(report_rows(), 0);
	j = reports_of("old", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	assert_assignment(id, "old", "downloading", "");
	ck_assert(harness_log_contains(&P, "1 reports older than report_retention deleted"));
	/* A fresh report is accepted and kept for now. */
	report_ok(tok, rep(&F.m1, "downloaded", ""));
	ck_assert_int_eq(report_rows(), 1);
}
END_TEST

/* A JSON report padded with spaces to exactly len bytes (len < size). */
static void padded_report(char *out, size_t size, size_t len, const char *state, int progress)
{
	snprintf(out, size, "{\"manifest\":\"%s\",\"state\":\"%s\",\"progress\":%d}", F.m1.digest,
		 state, progress);
	size_t n = strlen(out);
	ck_assert_uint_lt(len, size);
	ck_assert_uint_le(n, len);
	memset(out + n, ' ', len - n);
	out[len] = '\0';
}

/* An aggregate (count(*), sum(...)) over the stored reports of `flood`. */
static long long flood_reports(const char *aggregate)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM reports r JOIN devices d ON d.num = r.device_num "
		 "WHERE d.id = 'flood'",
		 aggregate);
	return harness_sql_int(&P, sql);
}

/* One device's reports are bounded by count and bytes ([devices]
 * report_history, report_history_size): the oldest go first, the newest
 * always stays, and /metrics counts what was dropped. Before, every report
 * was kept: one token could add megabytes a second. */
START_TEST(test_report_history_bound)
{
	char tok[128], tok2[128], extra[64], json[1100];
	json_t *j, *items;

	ck_assert_int_eq(harness_stop(&P), 0);
	fleet_write_config("report_history = 5\nreport_history_size = 2K\n");
	harness_start(&P);
	add_device("flood", NULL, tok, sizeof(tok));
	add_device("calm", NULL, tok2, sizeof(tok2));
	deploy_delivered("flood", tok);
	deploy_delivered("calm", tok2);
	report_ok(tok2, rep(&F.m1, "downloading", "\"progress\":1"));
	for (int i = 0; i < 8; i++) {
		snprintf(extra, sizeof(extra), "\"progress\":%d", 10 + i);
		report_ok(tok, rep(&F.m1, "downloading", extra));
	}
	j = reports_of("flood", NULL);
	items = json_object_get(j, "items");
	ck_assert_uint_eq(json_array_size(items), 5);
	/* The newest five, newest first: progress 17 .. 13. */
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(
			json_integer_value(json_object_get(json_array_get(items, i), "progress")),
			17 - (int)i);
	json_decref(j);
	ck_assert_uint_eq(harness_metric(&P, "suitd_reports_dropped_total"), 3);
	/* The other device's history is untouched. */
	j = reports_of("calm", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);

	/* By bytes: 900-byte reports, at most 2 KiB kept: two. */
	for (int i = 0; i < 4; i++) {
		padded_report(json, sizeof(json), 900, "downloading", 50 + i);
		report_ok(tok, json);
	}
	ck_assert_int_eq(flood_reports("count(*)"), 2);
	ck_assert_int_le(flood_reports("sum(length(body))"), 2048);
	ck_assert_int_eq(flood_reports("max(progress)"), 53);
	/* 5 stored before, 4 more, 2 kept. */
	ck_assert_uint_eq(harness_metric(&P, "suitd_reports_dropped_total"), 3 + 7);
	/* One report larger than the byte bound alone is still kept. */
	ck_assert_int_eq(harness_stop(&P), 0);
	fleet_write_config("report_history = 5\nreport_history_size = 1K\nmax_report_size = 2K\n");
	harness_start(&P);
	padded_report(json, sizeof(json), 1090, "installing", 0);
	report_ok(tok, json);
	ck_assert_int_eq(flood_reports("count(*)"), 1);
	assert_assignment(1, "flood", "installing", "");
}
END_TEST

/* An exact replay of a device's newest report is accepted (a retry whose
 * answer was lost) but stored once, and still restarts the timeout. */
START_TEST(test_report_replay)
{
	char tok[128];

	add_device("again", NULL, tok, sizeof(tok));
	deploy_delivered("again", tok);
	const char *body = rep(&F.m1, "downloading", "\"progress\":5");
	char copy[512];
	snprintf(copy, sizeof(copy), "%s", body);
	report_ok(tok, copy);
	for (int i = 0; i < 5; i++)
		report_ok(tok, copy);
	ck_assert_int_eq(report_rows(), 1);
	ck_assert_uint_eq(harness_metric(&P, "suitd_reports_total{outcome=\"stored\"}"), 1);
	ck_assert_uint_eq(harness_metric(&P, "suitd_reports_total{outcome=\"duplicate\"}"), 5);
	/* A different report in between: the old one is new again. */
	report_ok(tok, rep(&F.m1, "downloading", "\"progress\":6"));
	report_ok(tok, copy);
	ck_assert_int_eq(report_rows(), 3);
	assert_assignment(1, "again", "downloading", "");
}
END_TEST

/* A listing's memory is bounded whatever `limit` asks: a page ends early
 * with a `next` cursor once its bodies reach 1 MiB, and the pages together
 * hold every report exactly once. Before, ?limit=1000 loaded every body,
 * its base64 and a JSON tree, then failed with 413 past 8 MiB. */
START_TEST(test_report_listing_bounded)
{
	enum { COUNT = 140, SIZE = 63 * 1024 };
	char tok[128], path[160], cursor[32] = "";
	char *json = malloc(SIZE + 1);
	long long seen_ids[COUNT];
	size_t total = 0, pages = 0;

	ck_assert_ptr_nonnull(json);
	ck_assert_int_eq(harness_stop(&P), 0);
	fleet_write_config("max_report_size = 64K\nreport_history = 1000\n"
			   "report_history_size = 64M\n");
	harness_start(&P);
	add_device("big", NULL, tok, sizeof(tok));
	deploy_delivered("big", tok);
	for (int i = 0; i < COUNT; i++) {
		snprintf(json, SIZE + 1,
			 "{\"manifest\":\"%s\",\"state\":\"downloading\",\"progress\":%d,"
			 "\"code\":%d}",
			 F.m1.digest, i % 101, i);
		size_t n = strlen(json);
		memset(json + n, ' ', SIZE - n);
		json[SIZE] = '\0';
		report_ok(tok, json);
	}
	free(json);
	for (;;) {
		struct http_result r;
		size_t bytes = 0, i;
		json_t *j, *item;
		snprintf(path, sizeof(path), "/api/v1/devices/big/reports?limit=1000%s%s",
			 cursor[0] ? "&after=" : "", cursor);
		api("GET", path, NULL, &r);
		assert_status(&r, 200);
		j = body_json(&r);
		http_result_release(&r);
		json_array_foreach(json_object_get(j, "items"), i, item)
		{
			ck_assert_uint_lt(total, COUNT);
			seen_ids[total++] = json_integer_value(json_object_get(item, "id"));
			bytes += strlen(json_string_value(json_object_get(item, "body_base64"))) *
				 3 / 4;
		}
		ck_assert_uint_gt(json_array_size(json_object_get(j, "items")), 0);
		ck_assert_uint_le(bytes, 1 << 20);
		pages++;
		json_t *next = json_object_get(j, "next");
		if (json_is_null(next)) {
			json_decref(j);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		json_decref(j);
		ck_assert_uint_lt(pages, COUNT);
	}
	ck_assert_uint_eq(total, COUNT);
	ck_assert_uint_ge(pages, COUNT * SIZE / (1 << 20));
	for (size_t i = 1; i < total; i++)
		ck_assert_int_lt(seen_ids[i], seen_ids[i - 1]);
}
END_TEST

/* PostgreSQL's disk_full (SQLSTATE 53100) in the group commit: the report
 * is answered 507 insufficient-storage, never 204, and nothing of it is
 * stored (its savepoint is rolled back, the assignment keeps its state);
 * a device insert likewise. With space back both work. Test triggers raise
 * the SQLSTATE (the payloads suite fills a real file system). */
START_TEST(test_disk_full_pg)
{
	struct http_result r;
	char tok[128];
	long id;

	add_device("full", NULL, tok, sizeof(tok));
	id = deploy_delivered("full", tok);
	harness_pg_hook(&P, "reports",
			"RAISE EXCEPTION 'test: no space' USING ERRCODE = 'disk_full';");
	report_refused(tok, rep(&F.m1, "downloading", "\"progress\":10"), 507,
		       "insufficient-storage", NULL);
	ck_assert_int_eq(report_rows(), 0);
	assert_assignment(id, "full", "delivered", "");
	harness_request(&P, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);

	harness_pg_hook(&P, "devices",
			"RAISE EXCEPTION 'test: no space' USING ERRCODE = 'disk_full';");
	harness_request(&P, "POST", "/api/v1/devices", P.admin_key, "application/json",
			"{\"id\":\"no-room\"}", 16, &r);
	ck_assert_int_eq(r.status, 507);
	ck_assert_ptr_nonnull(strstr(r.body, "\"type\":\"urn:suitd:insufficient-storage\""));
	http_result_release(&r);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices WHERE id = 'no-room'"),
			 0);

	harness_pg_hook_drop(&P, "reports");
	harness_pg_hook_drop(&P, "devices");
	report_ok(tok, rep(&F.m1, "downloading", "\"progress\":10"));
	ck_assert_int_eq(report_rows(), 1);
	assert_assignment(id, "full", "downloading", "");
	add_device("no-room", NULL, tok, sizeof(tok));
}
END_TEST

/* A segment of the group commit whose write fails is rolled back and run
 * again job by job (storage/batch.c): the report is then stored once by
 * the statement-by-statement way, its state change and event once. The
 * hook fails the first insert only: a sequence is not rolled back. */
START_TEST(test_segment_rerun_pg)
{
	char tok[128];
	unsigned long long reruns;
	long id;

	add_device("rerun", NULL, tok, sizeof(tok));
	id = deploy_delivered("rerun", tok);
	harness_sql_exec(&P, "CREATE SEQUENCE test_fail_once");
	harness_sql_exec(&P, "GRANT ALL ON SEQUENCE test_fail_once TO PUBLIC");
	harness_pg_hook(
		&P, "reports",
		"IF nextval('test_fail_once') = 1 THEN RAISE EXCEPTION 'test: once'; END IF;");
	reruns = harness_metric(&P, "suitd_report_batch_reruns_total");
	report_ok(tok, rep(&F.m1, "downloading", "\"progress\":10"));
	ck_assert_uint_eq(harness_metric(&P, "suitd_report_batch_reruns_total"), reruns + 1);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT last_value FROM test_fail_once"), 2);
	ck_assert_int_eq(report_rows(), 1);
	assert_assignment(id, "rerun", "downloading", "");
	ck_assert_int_eq(harness_sql_int(&P,
					 "SELECT count(*) FROM events WHERE device_id = 'rerun' "
					 "AND type = 'assignment.downloading'"),
			 1);
	harness_pg_hook_drop(&P, "reports");
	/* The fast way again: no rerun, the second row. */
	report_ok(tok, rep(&F.m1, "downloading", "\"progress\":20"));
	ck_assert_uint_eq(harness_metric(&P, "suitd_report_batch_reruns_total"), reruns + 1);
	ck_assert_int_eq(report_rows(), 2);
}
END_TEST

/* The lines of P's log that hold TEXT, and the sum of the numbers right
 * after it (AFTER) or at the start of the line's text, after its "<N>"
 * priority (!AFTER). */
static unsigned log_sum(const char *text, bool after, unsigned long *ret_sum)
{
	FILE *f = fopen(P.log, "r");
	char line[2048];
	unsigned n = 0;

	ck_assert_ptr_nonnull(f);
	*ret_sum = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *at = strstr(line, text);
		if (at) {
			n++;
			*ret_sum += strtoul(after ? at + strlen(text) : line + 3, NULL, 10);
		}
	}
	fclose(f);
	return n;
}

/* A database outage under check-ins: each fails 503, and the log holds one
 * line for the first, counts ("N more requests failed with ...") and one
 * line when the database answers again with the total, which is every
 * failed check-in; not a line per request. (The group-commit thread's
 * "a batch of N writes failed" per failed report batch is not counted
 * here: storage/batch.c, docs/design.md.) */
START_TEST(test_outage_log_bounded_pg)
{
	const char *first = "GET /device/v1/manifest: Storage unavailable";
	const char *more = "more requests failed with urn:suitd:storage-unavailable";
	struct http_result r;
	unsigned long failed = 0, sum, total, unlogged;
	long status = 0;
	char tok[128];

	add_device("out", NULL, tok, sizeof(tok));
	deploy_delivered("out", tok);
	harness_pg_outage(3);
	/* Check-ins until the database answers again (at least two failed). */
	for (int64_t t0 = time(NULL); status != 200 || failed < 2; usleep(20 * 1000)) {
		ck_assert_msg(time(NULL) - t0 < 60, "no recovery: %lu check-ins failed", failed);
		checkin(tok, "seq=0", NULL, &r);
		status = r.status;
		ck_assert_msg(status == 200 || status == 503, "check-in: %ld", status);
		if (status == 503) {
			ck_assert_ptr_nonnull(strstr(r.body, "urn:suitd:storage-unavailable"));
			failed++;
		}
		http_result_release(&r);
	}
	/* The end of the burst: a second without a failure, then a ping. */
	for (int64_t t0 = time(NULL); !harness_log_contains(&P, "the database answers again");
	     usleep(100 * 1000))
		ck_assert_msg(time(NULL) - t0 < 30, "no line for the end of the outage");
	ck_assert_uint_eq(log_sum(first, true, &sum), 1);
	log_sum(more, false, &sum);
	ck_assert_uint_eq(log_sum("the database answers again: ", true, &total), 1);
	ck_assert_uint_eq(total, failed);
	ck_assert_uint_eq(log_sum("s, the last ", true, &unlogged), 1);
	/* Every failure in exactly one line: the first, a count, the end. */
	ck_assert_uint_eq(1 + sum + unlogged, total);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-reports");
	TCase *tc = tcase_create("reports");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, fleet_setup, fleet_teardown);
	tcase_add_test(tc, test_full_cycle);
	tcase_add_test(tc, test_failed);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_history_pages);
	tcase_add_test(tc, test_suit_reports);
	tcase_add_test(tc, test_signed_reports);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_device_timeout);
	tcase_add_test(tc, test_report_retention);
	tcase_add_test(tc, test_report_history_bound);
	tcase_add_test(tc, test_report_replay);
	tcase_add_test(tc, test_report_listing_bounded);
	harness_pg_only(
		tc, test_disk_full_pg,
		"SQLSTATE 53100 comes from PostgreSQL; SQLite: payloads test_database_full");
	harness_pg_only(tc, test_segment_rerun_pg,
			"a failure once needs a sequence (not rolled back); SQLite: the unit test "
			"check_storage test_batch_spoiled_runs_again");
	suite_add_tcase(s, tc);
	/* Its own case: CK_RUN_CASE=outage runs it alone. */
	TCase *out = tcase_create("outage");
	tcase_set_timeout(out, 120);
	tcase_add_checked_fixture(out, fleet_setup, fleet_teardown);
	harness_pg_only(out, test_outage_log_bounded_pg, "an outage of the database server");
	suite_add_tcase(s, out);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
