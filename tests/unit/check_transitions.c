/* tracker/transitions.c: what a device report does to its assignment, every
 * cell of the table: each current state × each state a device may report,
 * and every state a device may not report. The expected table is written
 * out here a second time, as the rules read in docs/design.md ("Reports"),
 * so that a change to one without the other fails. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/check_run.h"
#include "tracker/transitions.h"

/* Columns: downloading downloaded installing installed confirmed failed.
 * M moves to the reported state, K keeps the state (stored), S accepts the
 * final state again (nothing written), X refuses (409). */
static const struct {
	enum assignment_state current;
	const char *verdicts;
	const char *why; /* for X */
} rows[] = {
	{ASSIGN_PENDING, "XXXXXX", "the manifest has not been delivered to this device"},
	{ASSIGN_DELIVERED, "MMMMMM", NULL},
	{ASSIGN_DOWNLOADING, "KMMMMM", NULL},
	{ASSIGN_DOWNLOADED, "KKMMMM", NULL},
	{ASSIGN_INSTALLING, "KKKMMM", NULL},
	{ASSIGN_INSTALLED, "KKKKMM", NULL},
	{ASSIGN_CONFIRMED, "XXXXSX", "the assignment is already confirmed"},
	{ASSIGN_FAILED, "XXXXXS", "the assignment has failed"},
	{ASSIGN_TIMED_OUT, "XXXXXX", "the assignment has timed out"},
	{ASSIGN_CANCELED, "XXXXXX", "the assignment was canceled"},
	{ASSIGN_SKIPPED, "XXXXXX", "the assignment was skipped"},
};

static const enum assignment_state reported[] = {
	ASSIGN_DOWNLOADING, ASSIGN_DOWNLOADED, ASSIGN_INSTALLING,
	ASSIGN_INSTALLED,   ASSIGN_CONFIRMED,  ASSIGN_FAILED,
};

static char letter(enum report_verdict v)
{
	switch (v) {
	case REPORT_MOVE:
		return 'M';
	case REPORT_KEEP:
		return 'K';
	case REPORT_SAME:
		return 'S';
	case REPORT_REFUSE:
		return 'X';
	}
	return '?';
}

START_TEST(test_every_cell)
{
	unsigned cells = 0;

	ck_assert_uint_eq(sizeof(rows) / sizeof(rows[0]), ASSIGN__COUNT);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (size_t c = 0; c < 6; c++) {
			const char *why = NULL;
			enum report_verdict v =
				report_transition(rows[i].current, reported[c], &why);
			ck_assert_msg(letter(v) == rows[i].verdicts[c],
				      "%s reported on %s: %c, want %c",
				      assignment_state_name(reported[c]),
				      assignment_state_name(rows[i].current), letter(v),
				      rows[i].verdicts[c]);
			if (v == REPORT_REFUSE)
				ck_assert_str_eq(why, rows[i].why);
			cells++;
		}
	}
	ck_assert_uint_eq(cells, ASSIGN__COUNT * 6);
}
END_TEST

/* pending and delivered are the server's to set (check-in), as are
 * timed_out, canceled and skipped: never reportable, always refused. */
START_TEST(test_unreportable_states)
{
	static const enum assignment_state never[] = {ASSIGN_PENDING, ASSIGN_DELIVERED,
						      ASSIGN_TIMED_OUT, ASSIGN_CANCELED,
						      ASSIGN_SKIPPED};

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		ck_assert(!report_state_reportable(never[i]));
		for (int cur = 0; cur < ASSIGN__COUNT; cur++) {
			const char *why = NULL;
			ck_assert_int_eq(
				report_transition((enum assignment_state)cur, never[i], &why),
				REPORT_REFUSE);
			ck_assert_ptr_nonnull(why);
		}
	}
	for (size_t c = 0; c < 6; c++)
		ck_assert(report_state_reportable(reported[c]));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("transitions");
	TCase *tc = tcase_create("transitions");

	tcase_add_test(tc, test_every_cell);
	tcase_add_test(tc, test_unreportable_states);
	suite_add_tcase(s, tc);
	return check_run(s);
}
