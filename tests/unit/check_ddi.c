/* api/ddi: DDI feedback (execution, finished) as a state of suitd's model,
 * for every execution value hawkBit's DdiStatus knows (/work/shared/ddi.md
 * §4), before and after the artifact was fetched whole. */
#include <check.h>
#include <string.h>

#include "api/ddi/ddi.h"

#include "tests/check_run.h"

static const struct feedback_case {
	const char *execution, *finished;
	enum assignment_state current;
	bool known;
	enum assignment_state want;
	const char *note;
} cases[] = {
	{"closed", "success", ASSIGN_INSTALLING, true, ASSIGN_CONFIRMED, NULL},
	{"closed", "none", ASSIGN_DELIVERED, true, ASSIGN_CONFIRMED, NULL},
	{"closed", "failure", ASSIGN_DOWNLOADING, true, ASSIGN_FAILED, NULL},
	{"canceled", "none", ASSIGN_DELIVERED, true, ASSIGN_FAILED, "canceled by the device"},
	{"rejected", "none", ASSIGN_DELIVERED, true, ASSIGN_DOWNLOADING, "rejected by the device"},
	{"rejected", "none", ASSIGN_DOWNLOADED, true, ASSIGN_INSTALLING, "rejected by the device"},
	{"download", "none", ASSIGN_DELIVERED, true, ASSIGN_DOWNLOADING, NULL},
	{"downloaded", "none", ASSIGN_DOWNLOADING, true, ASSIGN_DOWNLOADED, NULL},
	{"proceeding", "none", ASSIGN_DELIVERED, true, ASSIGN_DOWNLOADING, NULL},
	{"proceeding", "none", ASSIGN_DOWNLOADING, true, ASSIGN_DOWNLOADING, NULL},
	{"proceeding", "none", ASSIGN_DOWNLOADED, true, ASSIGN_INSTALLING, NULL},
	{"proceeding", "none", ASSIGN_INSTALLED, true, ASSIGN_INSTALLING, NULL},
	{"scheduled", "none", ASSIGN_DELIVERED, true, ASSIGN_DOWNLOADING, NULL},
	{"resumed", "none", ASSIGN_INSTALLING, true, ASSIGN_INSTALLING, NULL},
	/* A closed assignment: progress reads as downloading (the state
	 * machine then refuses it). */
	{"proceeding", "none", ASSIGN_CONFIRMED, true, ASSIGN_DOWNLOADING, NULL},
	{"exploded", "none", ASSIGN_DELIVERED, false, ASSIGN_PENDING, NULL},
	{"closed", "maybe", ASSIGN_DELIVERED, false, ASSIGN_PENDING, NULL},
	{"CLOSED", "success", ASSIGN_DELIVERED, false, ASSIGN_PENDING, NULL},
	{"", "", ASSIGN_DELIVERED, false, ASSIGN_PENDING, NULL},
};

START_TEST(test_feedback_state)
{
	const struct feedback_case *c = &cases[_i];
	enum assignment_state got = ASSIGN_PENDING;
	const char *note = "unset";
	bool known = ddi_feedback_state(c->execution, c->finished, c->current, &got, &note);

	ck_assert_msg(known == c->known, "%s/%s: known %d", c->execution, c->finished, known);
	if (!known)
		return;
	ck_assert_msg(got == c->want, "%s/%s on %s: %s, want %s", c->execution, c->finished,
		      assignment_state_name(c->current), assignment_state_name(got),
		      assignment_state_name(c->want));
	if (c->note)
		ck_assert_str_eq(note, c->note);
	else
		ck_assert_ptr_null(note);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ddi");
	TCase *tc = tcase_create("feedback");

	tcase_add_loop_test(tc, test_feedback_state, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	suite_add_tcase(s, tc);
	return check_run(s);
}
