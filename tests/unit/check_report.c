/* suit/report.c: SUIT_Report parsing, on the shared vector and built cases. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

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

int main(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_attestam_success);
	tcase_add_test(tc, test_built_reports);
	tcase_add_loop_test(tc, test_bad_reports, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_reason_names);
	tcase_add_test(tc, test_simple_values_safe_on_floats);
	suite_add_tcase(s, tc);
	return check_run(s);
}
