/* suit/report.c and suit/report_cose.c: SUIT_Report parsing, on the shared
 * vector and built cases, and the COSE_Sign1 wrapper. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "suit/cbor.h"
#include "suit/report.h"
#include "tests/check_run.h"

static unsigned char *read_vector(const char *name, size_t *len)
{
	const char *src = getenv("SUITD_SRC");
	char path[512];
	unsigned char *buf = malloc(4096);
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/suit/reports/%s", src ? src : ".", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	*len = fread(buf, 1, 4096, f);
	fclose(f);
	return buf;
}

START_TEST(test_attestam_success)
{
	size_t len;
	unsigned char *b = read_vector("report-attestam-success.cbor", &len);
	struct suit_report r;
	struct diag d = {0};

	ck_assert_int_eq(suit_report_parse(b, len, &r, &d), ERR_OK);
	ck_assert(r.success);
	ck_assert(!r.invoked);
	ck_assert_int_eq(r.manifest_digest.alg, -16);
	ck_assert_uint_eq(r.manifest_digest.len, 32);
	/* = manifest digest of spec-example0.signed.suit */
	ck_assert_int_eq(r.manifest_digest.bytes[0], 0x66);
	ck_assert_int_eq(r.manifest_digest.bytes[31], 0xaf);
	free(b);
}
END_TEST

/* A report built with libcbor: {99: ["", [-16, digest]], 3: records, 4: result}
 * with keys in the order given (any order must do). */
static size_t build(unsigned char *out, size_t size, bool result_true, bool invoke_record,
		    bool reverse_order, bool duplicate)
{
	uint8_t digest[32];
	memset(digest, 0xab, sizeof(digest));
	cbor_item_t *ref = cbor_new_definite_array(2), *dg = cbor_new_definite_array(2);
	cbor_array_push(dg, cbor_move(cbor_build_negint8(15)));
	cbor_array_push(dg, cbor_move(cbor_build_bytestring(digest, 32)));
	cbor_array_push(ref, cbor_move(cbor_build_string("")));
	cbor_array_push(ref, cbor_move(dg));
	cbor_item_t *records = cbor_new_definite_array(1), *rec = cbor_new_definite_array(5);
	cbor_array_push(rec, cbor_move(cbor_new_definite_array(0)));
	cbor_array_push(rec, cbor_move(cbor_build_uint8(invoke_record ? 9 : 20)));
	cbor_array_push(rec, cbor_move(cbor_build_uint8(4)));
	cbor_array_push(rec, cbor_move(cbor_build_uint8(0)));
	cbor_array_push(rec, cbor_move(cbor_new_definite_map(0)));
	cbor_array_push(records, rec);
	cbor_item_t *result;
	if (result_true) {
		result = cbor_build_bool(true);
	} else {
		result = cbor_new_definite_map(3);
		cbor_map_add(result, (struct cbor_pair){cbor_move(cbor_build_uint8(5)),
							cbor_move(cbor_build_negint8(41))});
		cbor_map_add(result, (struct cbor_pair){cbor_move(cbor_build_uint8(6)), rec});
		cbor_map_add(result, (struct cbor_pair){cbor_move(cbor_build_uint8(7)),
							cbor_move(cbor_build_uint8(10))});
	}
	cbor_item_t *m = cbor_new_definite_map(duplicate ? 4 : 3);
	struct cbor_pair pr = {cbor_move(cbor_build_uint8(99)), ref};
	struct cbor_pair pc = {cbor_move(cbor_build_uint8(3)), records};
	struct cbor_pair ps = {cbor_move(cbor_build_uint8(4)), result};
	if (reverse_order) {
		cbor_map_add(m, ps);
		cbor_map_add(m, pc);
		cbor_map_add(m, pr);
	} else {
		cbor_map_add(m, pr);
		cbor_map_add(m, pc);
		cbor_map_add(m, ps);
	}
	if (duplicate)
		cbor_map_add(m, (struct cbor_pair){cbor_move(cbor_build_uint8(4)),
						   cbor_move(cbor_build_bool(true))});
	size_t n = cbor_serialize(m, out, size);
	cbor_decref(&m);
	cbor_decref(&ref);
	cbor_decref(&records);
	cbor_decref(&rec);
	cbor_decref(&result);
	return n;
}

START_TEST(test_built_reports)
{
	unsigned char buf[512];
	struct suit_report r;
	struct diag d = {0};
	size_t n;

	n = build(buf, sizeof(buf), true, true, false, false);
	ck_assert_int_eq(suit_report_parse(buf, n, &r, &d), ERR_OK);
	ck_assert(r.success && r.invoked);
	/* Non-canonical key order is tolerated. */
	n = build(buf, sizeof(buf), true, false, true, false);
	ck_assert_int_eq(suit_report_parse(buf, n, &r, &d), ERR_OK);
	ck_assert(r.success && !r.invoked);
	n = build(buf, sizeof(buf), false, false, false, false);
	ck_assert_int_eq(suit_report_parse(buf, n, &r, &d), ERR_OK);
	ck_assert(!r.success);
	ck_assert(r.has_code);
	ck_assert_int_eq(r.code, -42);
	ck_assert_int_eq(r.reason, 10);
	ck_assert_str_eq(suit_report_reason_name(r.reason), "condition-failed");
	ck_assert(r.has_record);
	ck_assert_int_eq(r.section, 20);
	ck_assert_int_eq(r.offset, 4);
	/* A repeated key is refused. */
	n = build(buf, sizeof(buf), true, false, false, true);
	ck_assert_int_eq(suit_report_parse(buf, n, &r, &d), ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(d.text, "twice"));
}
END_TEST

static const struct bad {
	const char *hex;
	const char *field;
} bad[] = {
	{"", "report"},
	{"a0", "suit-reference"},
	{"a1186380", "suit-reference"},
	{"a2186382608220582000", "report"}, /* truncated: not one CBOR item */
	{"a1186382608230", "report"},
	{"a118638260820000", "suit-reference"}, /* digest bytes not a bstr */
	{"a21863826082205820"
	 "0000000000000000000000000000000000000000000000000000000000000000"
	 "0304",
	 "suit-report-records"},
	{"ff", "report"},
	{"9fff", "report"},
	{"a11863bb7fffffffffffffff", "report"}, /* huge declared map */
};

static size_t unhex(const char *h, unsigned char *out)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
	return n;
}

START_TEST(test_bad_reports)
{
	unsigned char buf[128];
	struct suit_report r;
	struct diag d = {0};
	size_t n = unhex(bad[_i].hex, buf);

	ck_assert_int_eq(suit_report_parse(buf, n, &r, &d), ERR_INVALID);
	ck_assert_str_eq(d.field, bad[_i].field);
}
END_TEST

START_TEST(test_reason_names)
{
	ck_assert_str_eq(suit_report_reason_name(0), "ok");
	ck_assert_str_eq(suit_report_reason_name(4), "unauthorised");
	ck_assert_str_eq(suit_report_reason_name(12), "invoke-pending");
	ck_assert_str_eq(suit_report_reason_name(13), "unknown");
	ck_assert_str_eq(suit_report_reason_name(-1), "unknown");
}
END_TEST

/* Regression (fuzz_report): libcbor 0.8's cbor_is_bool/cbor_is_null abort
 * on a float; suit/ uses safe tests everywhere (manifest walk included). */
START_TEST(test_simple_values_safe_on_floats)
{
	cbor_item_t *f = cbor_build_float4(1.5f), *t = cbor_build_bool(true), *n = cbor_new_null(),
		    *u = cbor_build_uint8(1);

	ck_assert(!cbor_item_is_true(f) && !cbor_item_is_null(f));
	ck_assert(cbor_item_is_true(t) && !cbor_item_is_null(t));
	ck_assert(cbor_item_is_null(n) && !cbor_item_is_true(n));
	ck_assert(!cbor_item_is_true(u) && !cbor_item_is_null(u));
	ck_assert(!cbor_item_is_true(NULL) && !cbor_item_is_null(NULL));
	cbor_decref(&f);
	cbor_decref(&t);
	cbor_decref(&n);
	cbor_decref(&u);
}
END_TEST

/* The COSE wrapper: hostile and unsupported shapes (hex), with and without
 * a registered key (generated per run, test-only). Payload "a0" is any
 * CBOR; opening does not parse the report. */
static const struct {
	const char *hex;
	bool with_key;
	enum err want;
	enum suit_report_auth auth;
	const char *payload_hex; /* on success */
} wrapped[] = {
	{"", false, ERR_INVALID, 0, NULL},
	{"a10102", false, ERR_OK, SUIT_REPORT_BARE, "a10102"},
	{"a10102", true, ERR_OK, SUIT_REPORT_BARE, "a10102"},	    /* the handler refuses it */
	{"d18443a10105a041a040", false, ERR_MEDIA_TYPE, 0, NULL},   /* COSE_Mac0 */
	{"d08343a1010aa041a0", false, ERR_MEDIA_TYPE, 0, NULL},	    /* COSE_Encrypt0 */
	{"d8628443a10126a041a080", false, ERR_MEDIA_TYPE, 0, NULL}, /* COSE_Sign */
	{"d2", false, ERR_INVALID, 0, NULL},
	{"d284", false, ERR_INVALID, 0, NULL},
	{"d28443a10126a041a0", false, ERR_INVALID, 0, NULL},	     /* 3 of 4 */
	{"d28443a10126a041a040ff", false, ERR_INVALID, 0, NULL},     /* trailing byte */
	{"d28443a10126a0f640", false, ERR_INVALID, 0, NULL},	     /* detached */
	{"d28443a10126a04040", false, ERR_INVALID, 0, NULL},	     /* empty payload */
	{"d28443a10126a0a0a040", false, ERR_INVALID, 0, NULL},	     /* payload not a bstr */
	{"d28443a10126a05a0000000140", false, ERR_INVALID, 0, NULL}, /* huge declared length */
	{"d28443a10126a041a040", false, ERR_OK, SUIT_REPORT_SIGNED_UNCHECKED, "a0"},
	{"d28443a10126a041a040", true, ERR_UNPROCESSABLE, 0, NULL},   /* empty signature */
	{"d28444a1013822a041a040", true, ERR_UNPROCESSABLE, 0, NULL}, /* ES384 */
	{"d28440a041a040", true, ERR_UNPROCESSABLE, 0, NULL},	      /* no algorithm */
	{"d2849f40a041a040ff", false, ERR_INVALID, 0, NULL},	      /* indefinite array */
};

START_TEST(test_wrapped_reports)
{
	unsigned char buf[128], want[64];
	struct cbor_span payload = {0};
	enum suit_report_auth auth = SUIT_REPORT_BARE;
	struct diag d = {0};
	char pem[512] = "";
	size_t n = unhex(wrapped[_i].hex, buf);

	if (wrapped[_i].with_key) {
		EVP_PKEY *k = EVP_EC_gen("P-256");
		BIO *b = BIO_new(BIO_s_mem());
		char *data;
		ck_assert(PEM_write_bio_PUBKEY(b, k));
		long len = BIO_get_mem_data(b, &data);
		ck_assert_int_lt(len, (long)sizeof(pem));
		memcpy(pem, data, (size_t)len);
		BIO_free(b);
		EVP_PKEY_free(k);
	}
	enum err e = suit_report_open(n ? buf : NULL, n, wrapped[_i].with_key ? pem : NULL,
				      &payload, &auth, &d);
	ck_assert_msg(e == wrapped[_i].want, "%s: %s, want %s (%s: %s)", wrapped[_i].hex,
		      err_title(e), err_title(wrapped[_i].want), d.field, d.text);
	if (e)
		return;
	ck_assert_int_eq(auth, wrapped[_i].auth);
	size_t wn = unhex(wrapped[_i].payload_hex, want);
	ck_assert_uint_eq(payload.len, wn);
	ck_assert_mem_eq(payload.p, want, wn);
	ck_assert(payload.p >= buf && payload.p + payload.len <= buf + n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_attestam_success);
	tcase_add_test(tc, test_built_reports);
	tcase_add_loop_test(tc, test_bad_reports, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_reason_names);
	tcase_add_loop_test(tc, test_wrapped_reports, 0,
			    (int)(sizeof(wrapped) / sizeof(wrapped[0])));
	tcase_add_test(tc, test_simple_values_safe_on_floats);
	suite_add_tcase(s, tc);
	return check_run(s);
}
