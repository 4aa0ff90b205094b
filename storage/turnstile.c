/* A fair queue for write transactions: see storage/turnstile.h. */
#include "storage/turnstile.h"

#include "common/timeutil.h"

struct turnstile_waiter {
	struct turnstile_waiter *next;
	bool granted;
};

void turnstile_init(struct turnstile *t)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &attr);
	pthread_condattr_destroy(&attr);
	t->busy = false;
	t->head = t->tail = NULL;
}

void turnstile_destroy(struct turnstile *t)
{
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}

static void unlink_waiter(struct turnstile *t, struct turnstile_waiter *w)
{
	struct turnstile_waiter **at = &t->head, *prev = NULL;

	while (*at && *at != w) {
		prev = *at;
		at = &(*at)->next;
	}
	if (!*at)
		return;
	*at = w->next;
	if (t->tail == w)
		t->tail = prev;
}

bool turnstile_enter(struct turnstile *t, unsigned timeout_ms)
{
	struct turnstile_waiter w = {NULL, false};
	struct timespec deadline;
	bool held;

	pthread_mutex_lock(&t->lock);
	if (!t->busy && !t->head) {
		t->busy = true;
		pthread_mutex_unlock(&t->lock);
		return true;
	}
	if (t->tail)
		t->tail->next = &w;
	else
		t->head = &w;
	t->tail = &w;
	deadline = time_deadline(CLOCK_MONOTONIC, timeout_ms);
	while (!w.granted)
		if (pthread_cond_timedwait(&t->cond, &t->lock, &deadline) != 0)
			break;
	held = w.granted;
	if (!held)
		unlink_waiter(t, &w);
	pthread_mutex_unlock(&t->lock);
	return held;
}

void turnstile_leave(struct turnstile *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->head) {
		struct turnstile_waiter *w = t->head;
		t->head = w->next;
		if (!t->head)
			t->tail = NULL;
		w->granted = true; /* the turn passes on: busy stays true */
		pthread_cond_broadcast(&t->cond);
	} else {
		t->busy = false;
	}
	pthread_mutex_unlock(&t->lock);
}
