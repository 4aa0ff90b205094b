/* tracker/rollout.c: stage membership and the decision a running
 * deployment gets from its counts, table-driven. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/check_run.h"
#include "tracker/rollout.h"

static struct rollout_policy policy(const char *stages, unsigned success, unsigned failure)
{
	struct rollout_policy p = {.success_threshold = success, .failure_threshold = failure};
	unsigned v;
	int used;

	for (const char *s = stages; sscanf(s, "%u%n", &v, &used) == 1; s += used) {
		p.stages[p.stage_count++] = (uint8_t)v;
		if (s[used] == ',')
			used++;
	}
	return p;
}

START_TEST(test_member_key)
{
	/* Known answers: the first 8 bytes of SHA-256 of the text, big-endian
	 * (python3 -c "import hashlib; print(hashlib.sha256(b'7:unit-01')...)"). */
	ck_assert_uint_eq(rollout_member_key(7, "unit-01"), 0xd3bc55f1a06384c3ULL);
	ck_assert_uint_eq(rollout_member_key(1, "a"), 0x4162fddd39a3e422ULL);
	/* Another deployment, another order. */
	ck_assert_uint_ne(rollout_member_key(8, "unit-01"), rollout_member_key(7, "unit-01"));
}
END_TEST

START_TEST(test_stage_of_rank)
{
	static const struct {
		const char *stages;
		size_t count;
		const char *want; /* the stage of each rank, as digits */
	} cases[] = {
		{"100", 3, "000"},
		{"10,50,100", 10, "0111122222"},
		{"1,10,50,100", 10, "0222233333"}, /* ceil: 1 % of 10 is one device */
		{"50,100", 1, "0"},
		{"50,100", 2, "01"},
		{"99,100", 4, "0000"},
		{"1,100", 200, NULL}, /* checked below */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rollout_policy p = policy(cases[i].stages, 95, 5);
		if (!cases[i].want)
			continue;
		for (size_t r = 0; r < cases[i].count; r++)
			ck_assert_msg(rollout_stage_of_rank(&p, r, cases[i].count) ==
					      (unsigned)(cases[i].want[r] - '0'),
				      "%s, %zu devices: rank %zu", cases[i].stages, cases[i].count,
				      r);
	}
	struct rollout_policy p = policy("1,100", 95, 5);
	ck_assert_uint_eq(rollout_stage_of_rank(&p, 1, 200), 0);
	ck_assert_uint_eq(rollout_stage_of_rank(&p, 2, 200), 1);
}
END_TEST

START_TEST(test_stage_of_key)
{
	struct rollout_policy p = policy("1,10,50,100", 95, 5);

	ck_assert_uint_eq(rollout_stage_of_key(&p, 0), 0);
	ck_assert_uint_eq(rollout_stage_of_key(&p, 99), 0);
	ck_assert_uint_eq(rollout_stage_of_key(&p, 100), 1);
	ck_assert_uint_eq(rollout_stage_of_key(&p, 999), 1);
	ck_assert_uint_eq(rollout_stage_of_key(&p, 1000), 2);
	ck_assert_uint_eq(rollout_stage_of_key(&p, 5000), 3);
	ck_assert_uint_eq(rollout_stage_of_key(&p, 10000 + 42), 0);
	ck_assert_uint_eq(rollout_stage_of_key(&p, UINT64_MAX), 2); /* 1615 basis points */
	/* Over many keys the shares follow the percentages. */
	unsigned per[4] = {0};
	for (unsigned i = 0; i < 100000; i++)
		per[rollout_stage_of_key(&p, i * 0x9E3779B97F4A7C15ULL)]++;
	ck_assert_uint_eq(per[0] + per[1] + per[2] + per[3], 100000);
	ck_assert_uint_gt(per[0], 500);
	ck_assert_uint_lt(per[0], 1500);
}
END_TEST

/* The same devices in any input order get the same stages. */
START_TEST(test_plan_stable)
{
	struct rollout_policy p = policy("10,50,100", 95, 5);
	struct stage_target a[50], b[50];
	char id[16];

	for (int i = 0; i < 50; i++) {
		snprintf(id, sizeof(id), "dev-%d", i);
		a[i] = (struct stage_target){.num = i + 1, .key = rollout_member_key(3, id)};
		b[49 - i] = a[i];
	}
	rollout_plan(&p, a, 50);
	rollout_plan(&p, b, 50);
	unsigned per[3] = {0};
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(a[i].num, b[i].num);
		ck_assert_uint_eq(a[i].stage, b[i].stage);
		if (i)
			ck_assert(a[i - 1].key <= a[i].key);
		per[a[i].stage]++;
	}
	ck_assert_uint_eq(per[0], 5);
	ck_assert_uint_eq(per[1], 20);
	ck_assert_uint_eq(per[2], 25);
}
END_TEST

/* counts per stage: "pending=3,confirmed=1|pending=5" (stages split by |). */
static void parse_counts(const char *text, unsigned counts[][ASSIGN__COUNT])
{
	char name[32];
	unsigned stage = 0, n;
	int used;

	for (const char *s = text; *s;) {
		if (*s == '|') {
			stage++;
			s++;
			continue;
		}
		ck_assert_int_eq(sscanf(s, "%31[a-z_]=%u%n", name, &n, &used), 2);
		enum assignment_state st;
		ck_assert_msg(assignment_state_parse(name, &st), "state %s", name);
		counts[stage][st] = n;
		s += used;
		if (*s == ',')
			s++;
	}
}

START_TEST(test_evaluate)
{
	static const struct {
		const char *stages;
		unsigned success, failure, open, acknowledged;
		const char *counts;
		enum rollout_action want;
		const char *why; /* NULL: not checked */
	} cases[] = {
		/* Waiting for the first stage. */
		{"10,100", 95, 5, 0, 0, "pending=1|pending=9", ROLLOUT_WAIT, NULL},
		{"10,100", 95, 5, 0, 0, "confirmed=1|pending=9", ROLLOUT_OPEN_NEXT,
		 "stage 1: 1 of 1 released devices done (success threshold 95 %): opening "
		 "stage 2"},
		/* skipped counts as done; superseded (canceled) counts neither way. */
		{"50,100", 100, 5, 0, 0, "skipped=1,confirmed=1,canceled=3|pending=2",
		 ROLLOUT_OPEN_NEXT, NULL},
		/* 19 of 20 = 95 % reaches 95. */
		{"20,100", 95, 50, 0, 0, "confirmed=19,installing=1|pending=80", ROLLOUT_OPEN_NEXT,
		 NULL},
		{"20,100", 96, 50, 0, 0, "confirmed=19,installing=1|pending=80", ROLLOUT_WAIT,
		 NULL},
		/* Failures: above the threshold pauses, at it does not. */
		{"20,100", 95, 5, 0, 0, "failed=1,confirmed=19|pending=80", ROLLOUT_OPEN_NEXT,
		 NULL},
		{"20,100", 95, 5, 0, 0, "failed=1,timed_out=1,confirmed=18|pending=80",
		 ROLLOUT_PAUSE,
		 "2 of 20 released devices failed or timed out (10 %, failure threshold 5 %)"},
		{"100", 95, 0, 0, 0, "failed=1,confirmed=999", ROLLOUT_PAUSE, NULL},
		/* Unreleased stages count for neither. */
		{"10,100", 95, 5, 0, 0, "confirmed=1|failed=9", ROLLOUT_OPEN_NEXT, NULL},
		/* Acknowledged failures leave both sides. */
		{"20,100", 95, 10, 0, 1, "failed=1,confirmed=1|pending=8", ROLLOUT_OPEN_NEXT, NULL},
		{"20,100", 95, 10, 0, 1, "failed=2,confirmed=1|pending=8", ROLLOUT_PAUSE,
		 "1 of 2 released devices failed or timed out (50 %, failure threshold 10 %)"},
		/* An empty stage opens the next at once. */
		{"1,100", 95, 5, 0, 0, "|pending=50", ROLLOUT_OPEN_NEXT, NULL},
		/* Last stage: completed when nothing is in progress in any stage. */
		{"10,100", 95, 5, 1, 0, "confirmed=1|confirmed=8,installed=1", ROLLOUT_WAIT,
		 "1 devices in progress"},
		{"10,100", 95, 5, 1, 0, "confirmed=1|confirmed=8,failed=0,canceled=1",
		 ROLLOUT_COMPLETE, NULL},
		{"100", 95, 5, 0, 0, "", ROLLOUT_COMPLETE, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rollout_policy p =
			policy(cases[i].stages, cases[i].success, cases[i].failure);
		unsigned counts[ROLLOUT_STAGES_MAX][ASSIGN__COUNT] = {{0}};
		char why[256] = "";

		parse_counts(cases[i].counts, counts);
		enum rollout_action got = rollout_evaluate(&p, cases[i].open, cases[i].acknowledged,
							   (const unsigned(*)[ASSIGN__COUNT])counts,
							   why, sizeof(why));
		ck_assert_msg(got == cases[i].want, "case %zu (%s): action %d, want %d (%s)", i,
			      cases[i].counts, got, cases[i].want, why);
		if (cases[i].why)
			ck_assert_str_eq(why, cases[i].why);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rollout");
	TCase *tc = tcase_create("rollout");

	tcase_add_test(tc, test_member_key);
	tcase_add_test(tc, test_stage_of_rank);
	tcase_add_test(tc, test_stage_of_key);
	tcase_add_test(tc, test_plan_stable);
	tcase_add_test(tc, test_evaluate);
	suite_add_tcase(s, tc);
	return check_run(s);
}
