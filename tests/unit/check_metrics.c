/* common/metrics: the device counts kept for a minute, the per-state report
 * counters and the status slots. Rendering: check_common.c. */
#include <check.h>
#include <string.h>

#include "common/metrics.h"

#include "tests/check_run.h"

/* A read of the device counts that says how often it ran. */
struct reader {
	unsigned calls;
	enum err fail; /* returned instead of reading when not ERR_OK */
	struct metrics_devices next;
};

static enum err reader_read(void *cls, struct metrics_devices *ret)
{
	struct reader *r = cls;

	r->calls++;
	if (r->fail)
		return r->fail;
	*ret = r->next;
	return ERR_OK;
}

static const struct metrics_route routes[] = {{"GET", "/a"}};

#define T0	1000000u /* the monotonic clock at the first call */
#define MAX_AGE METRICS_DEVICES_MAX_AGE_USEC

START_TEST(test_devices_kept_a_minute)
{
	static const struct {
		uint64_t at_usec; /* monotonic time of the call */
		enum err fail;
		uint64_t offered; /* what a read would give */
		unsigned calls;	  /* reads so far */
		enum err want;
		uint64_t seen; /* what the call gives (when ERR_OK) */
	} steps[] = {
		/* The first call reads. */
		{T0, ERR_OK, 10, 1, ERR_OK, 10},
		/* Within a minute: kept, no read. */
		{T0 + 1, ERR_OK, 11, 1, ERR_OK, 10},
		{T0 + MAX_AGE - 1, ERR_OK, 12, 1, ERR_OK, 10},
		/* A minute after the read: read again. */
		{T0 + MAX_AGE, ERR_OK, 13, 2, ERR_OK, 13},
		{T0 + MAX_AGE + 5, ERR_OK, 14, 2, ERR_OK, 13},
		/* A failed read returns its error and leaves the kept counts... */
		{T0 + 3 * MAX_AGE, ERR_STORAGE, 15, 3, ERR_STORAGE, 0},
		/* ...so the next call reads again. */
		{T0 + 3 * MAX_AGE + 1, ERR_OK, 16, 4, ERR_OK, 16},
		{T0 + 3 * MAX_AGE + 2, ERR_OK, 17, 4, ERR_OK, 16},
	};
	struct metrics m;
	struct reader r = {0};

	ck_assert_int_eq(metrics_init(&m, routes, 1), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct metrics_devices got = {.registered = 99, .seen = 99};
		r.fail = steps[i].fail;
		r.next = (struct metrics_devices){.registered = 100 + steps[i].offered,
						  .seen = steps[i].offered};
		ck_assert_int_eq(metrics_devices_get(&m, steps[i].at_usec, reader_read, &r, &got),
				 steps[i].want);
		ck_assert_msg(r.calls == steps[i].calls, "step %zu: %u reads, want %u", i, r.calls,
			      steps[i].calls);
		if (steps[i].want == ERR_OK) {
			ck_assert_uint_eq(got.seen, steps[i].seen);
			ck_assert_uint_eq(got.registered, 100 + steps[i].seen);
		} else {
			ck_assert_uint_eq(got.seen, 99); /* untouched */
		}
	}
	metrics_release(&m);
}
END_TEST

#undef T0
#undef MAX_AGE

START_TEST(test_report_states_and_507)
{
	struct metrics m;
	struct buf out;

	ck_assert_int_eq(metrics_init(&m, routes, 1), 0);
	metrics_report_stored(&m, 3);
	metrics_report_stored(&m, 3);
	metrics_report_stored(&m, 0);
	metrics_report_stored(&m, METRICS_REPORT_STATE_SLOTS); /* out of range: ignored */
	metrics_report_stored(NULL, 3);			       /* no metrics: nothing */
	ck_assert_uint_eq(m.reports_stored[3], 2);
	ck_assert_uint_eq(m.reports_stored[0], 1);
	for (unsigned i = 1; i < METRICS_REPORT_STATE_SLOTS; i++)
		if (i != 3)
			ck_assert_uint_eq(m.reports_stored[i], 0);
	/* 507 (storage full) has a slot of its own, not "other". */
	metrics_request(&m, 0, 507, 10, 0);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(metrics_render(&m, &out, "v", 0), ERR_OK);
	ck_assert_ptr_nonnull(strstr(
		buf_str(&out),
		"suitd_http_requests_total{method=\"GET\",route=\"/a\",status=\"507\"} 1\n"));
	ck_assert_ptr_null(strstr(buf_str(&out), "status=\"other\""));
	buf_release(&out);
	metrics_release(&m);
	metrics_release(&m); /* a second release is harmless */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_devices_kept_a_minute);
	tcase_add_test(tc, test_report_states_and_507);
	suite_add_tcase(s, tc);
	return check_run(s);
}
