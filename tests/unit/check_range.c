/* api/range.c: the Range header parser, table-driven, hostile inputs too. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/range.h"
#include "tests/check_run.h"

#define SIZE 1000

static const struct range_case {
	const char *value;
	enum range_result want;
	unsigned count;
	uint64_t f0, l0, f1, l1;
} cases[] = {
	{NULL, RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=0-0", RANGE_SATISFIABLE, 1, 0, 0, 0, 0},
	{"bytes=0-499", RANGE_SATISFIABLE, 1, 0, 499, 0, 0},
	{"bytes=500-", RANGE_SATISFIABLE, 1, 500, 999, 0, 0},
	{"bytes=-200", RANGE_SATISFIABLE, 1, 800, 999, 0, 0},
	{"bytes=-5000", RANGE_SATISFIABLE, 1, 0, 999, 0, 0},
	{"bytes=900-5000", RANGE_SATISFIABLE, 1, 900, 999, 0, 0},
	{"Bytes=1-2", RANGE_SATISFIABLE, 1, 1, 2, 0, 0},
	{"bytes= 1-2 , 4-5 ", RANGE_SATISFIABLE, 2, 1, 2, 4, 5},
	{"bytes=1-2,,\t,4-5", RANGE_SATISFIABLE, 2, 1, 2, 4, 5},
	{"bytes=0-0,-1", RANGE_SATISFIABLE, 2, 0, 0, 999, 999},
	{"bytes=5000-6000,1-1", RANGE_SATISFIABLE, 1, 1, 1, 0, 0}, /* unsatisfiable one dropped */
	{"bytes=1000-", RANGE_UNSATISFIABLE, 0, 0, 0, 0, 0},
	{"bytes=-0", RANGE_UNSATISFIABLE, 0, 0, 0, 0, 0},
	{"bytes=1000-2000,3000-", RANGE_UNSATISFIABLE, 0, 0, 0, 0, 0},
	{"bytes=", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=,", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=5-4", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=-", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=--1", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=1", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=1-2-3", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=+1-2", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=0x10-0x20", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=1 -2", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=1-2;x", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes 1-2", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"items=1-2", RANGE_IGNORE, 0, 0, 0, 0, 0},
	{"bytes=99999999999999999999-", RANGE_IGNORE, 0, 0, 0, 0, 0}, /* overflow */
	{"bytes=18446744073709551615-", RANGE_UNSATISFIABLE, 0, 0, 0, 0, 0},
	{"bytes=0-18446744073709551615", RANGE_SATISFIABLE, 1, 0, 999, 0, 0},
	{"bytes=1-1\r\nX: y", RANGE_IGNORE, 0, 0, 0, 0, 0},
};

START_TEST(test_parse)
{
	const struct range_case *c = &cases[_i];
	struct byte_range r[RANGE_MAX];
	unsigned count = 99;
	enum range_result got = range_parse(c->value, SIZE, r, &count);

	ck_assert_msg(got == c->want, "'%s': got %d want %d", c->value ? c->value : "(null)", got,
		      c->want);
	if (got == RANGE_IGNORE)
		return;
	ck_assert_uint_eq(count, c->count);
	if (count > 0) {
		ck_assert_uint_eq(r[0].first, c->f0);
		ck_assert_uint_eq(r[0].last, c->l0);
	}
	if (count > 1) {
		ck_assert_uint_eq(r[1].first, c->f1);
		ck_assert_uint_eq(r[1].last, c->l1);
	}
}
END_TEST

START_TEST(test_many_ranges_ignored)
{
	char value[4096] = "bytes=";
	struct byte_range r[RANGE_MAX];
	unsigned count;

	for (int i = 0; i < RANGE_MAX; i++)
		snprintf(value + strlen(value), sizeof(value) - strlen(value), "%s%d-%d",
			 i ? "," : "", i, i);
	ck_assert_int_eq(range_parse(value, SIZE, r, &count), RANGE_SATISFIABLE);
	ck_assert_uint_eq(count, RANGE_MAX);
	snprintf(value + strlen(value), sizeof(value) - strlen(value), ",%d-%d", 500, 501);
	ck_assert_int_eq(range_parse(value, SIZE, r, &count), RANGE_IGNORE);
	/* Thousands of ranges cost a bounded scan, then are ignored. */
	char *huge = malloc(200000);
	size_t n = (size_t)snprintf(huge, 200000, "bytes=");
	for (int i = 0; i < 20000 && n + 10 < 200000; i++)
		n += (size_t)snprintf(huge + n, 200000 - n, "%d-%d,", i, i);
	ck_assert_int_eq(range_parse(huge, SIZE, r, &count), RANGE_IGNORE);
	free(huge);
}
END_TEST

START_TEST(test_empty_representation)
{
	struct byte_range r[RANGE_MAX];
	unsigned count;

	ck_assert_int_eq(range_parse("bytes=0-", 0, r, &count), RANGE_UNSATISFIABLE);
	ck_assert_int_eq(range_parse("bytes=-10", 0, r, &count), RANGE_UNSATISFIABLE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("range");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_many_ranges_ignored);
	tcase_add_test(tc, test_empty_representation);
	suite_add_tcase(s, tc);
	return check_run(s);
}
