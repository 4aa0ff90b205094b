/* storage/turnstile.c: write transactions take turns first come first
 * served, and a holder that never leaves delays a waiter by the timeout
 * only. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "storage/turnstile.h"
#include "tests/check_run.h"

#define WAITERS 6

static struct turnstile T;
static atomic_uint arrived;
static unsigned order[WAITERS];
static atomic_uint served;

static void *waiter(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;

	/* Queue in the order of the ids: each starts after the previous one
	 * is in the queue (arrived counts the ones about to block). */
	while (atomic_load(&arrived) != me)
		usleep(100);
	atomic_fetch_add(&arrived, 1);
	ck_assert(turnstile_enter(&T, 10000));
	order[atomic_fetch_add(&served, 1)] = me;
	turnstile_leave(&T);
	return NULL;
}

START_TEST(test_first_come_first_served)
{
	pthread_t th[WAITERS];

	turnstile_init(&T);
	atomic_store(&arrived, 0);
	atomic_store(&served, 0);
	ck_assert(turnstile_enter(&T, 0)); /* free: at once */
	for (unsigned i = 0; i < WAITERS; i++) {
		ck_assert_int_eq(pthread_create(&th[i], NULL, waiter, (void *)(uintptr_t)i), 0);
		/* Let it block in the queue before the next one comes. */
		while (atomic_load(&arrived) != i + 1)
			usleep(100);
		usleep(20000);
	}
	ck_assert_uint_eq(atomic_load(&served), 0); /* all wait for the holder */
	turnstile_leave(&T);
	for (unsigned i = 0; i < WAITERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(atomic_load(&served), WAITERS);
	for (unsigned i = 0; i < WAITERS; i++)
		ck_assert_uint_eq(order[i], i);
	/* Free again after the last one left. */
	ck_assert(turnstile_enter(&T, 0));
	turnstile_leave(&T);
	turnstile_destroy(&T);
}
END_TEST

static void *late_leaver(void *arg)
{
	(void)arg;
	usleep(300000);
	turnstile_leave(&T);
	return NULL;
}

START_TEST(test_timeout_and_hand_over)
{
	struct timespec a, b;
	pthread_t th;

	turnstile_init(&T);
	ck_assert(turnstile_enter(&T, 0));
	/* A holder that does not leave: the waiter gives up after its
	 * timeout, without the turn, and leaves the queue. */
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert(!turnstile_enter(&T, 50));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 >= 50);
	/* The holder leaves later: a waiter with time enough gets the turn,
	 * and the one that timed out is no longer in its way. */
	ck_assert_int_eq(pthread_create(&th, NULL, late_leaver, NULL), 0);
	ck_assert(turnstile_enter(&T, 10000));
	pthread_join(th, NULL);
	turnstile_leave(&T);
	ck_assert(turnstile_enter(&T, 0));
	turnstile_leave(&T);
	turnstile_destroy(&T);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turnstile");
	TCase *tc = tcase_create("turnstile");

	tcase_add_test(tc, test_first_come_first_served);
	tcase_add_test(tc, test_timeout_and_hand_over);
	suite_add_tcase(s, tc);
	return check_run(s);
}
