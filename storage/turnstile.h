/* A fair queue for this process's write transactions. SQLite hands its
 * write lock to whichever waiter polls first after it is free; a thread
 * that commits a slice and begins the next one a few microseconds later
 * (the last-seen flush, a fan-out) takes it again before any waiter's
 * 1 ms poll comes round, so the group commit starved behind a long flush
 * and failed busy after 5 s (bench/fleet.sh at a million devices, issue
 * 15). db_begin() first queues here, first come first served; the
 * database lock then only settles who goes next between processes. */
#ifndef SUITD_STORAGE_TURNSTILE_H
#define SUITD_STORAGE_TURNSTILE_H

#include <pthread.h>
#include <stdbool.h>

struct turnstile_waiter;

struct turnstile {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool busy;
	struct turnstile_waiter *head, *tail;
};

void turnstile_init(struct turnstile *t);
void turnstile_destroy(struct turnstile *t);
/* Wait for our turn, at most timeout_ms: true when we hold the turnstile.
 * false after the timeout, so that a holder that never leaves (a bug)
 * costs fairness, never a deadlock: the caller goes on to the database's
 * own lock and its busy timeout. */
bool turnstile_enter(struct turnstile *t, unsigned timeout_ms);
/* Hand the turn to the longest waiter, if any. */
void turnstile_leave(struct turnstile *t);

#endif
