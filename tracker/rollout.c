#include "tracker/rollout.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/crypto.h"

uint64_t rollout_member_key(int64_t deployment_id, const char *device_id)
{
	char text[32 + 129];
	uint8_t digest[SHA256_LEN];
	uint64_t key = 0;
	int n = snprintf(text, sizeof(text), "%lld:%s", (long long)deployment_id, device_id);

	crypto_sha256(text, n > 0 && (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1,
		      digest);
	for (int i = 0; i < 8; i++)
		key = key << 8 | digest[i];
	return key;
}

unsigned rollout_stage_of_rank(const struct rollout_policy *p, size_t rank, size_t count)
{
	for (unsigned i = 0; i + 1 < p->stage_count; i++) {
		/* ceil(count × percent / 100): a 1 % stage of 10 devices has one. */
		size_t upto = (count * p->stages[i] + 99) / 100;
		if (rank < upto)
			return i;
	}
	return p->stage_count ? p->stage_count - 1 : 0;
}

unsigned rollout_stage_of_key(const struct rollout_policy *p, uint64_t key)
{
	unsigned bp = (unsigned)(key % 10000);

	for (unsigned i = 0; i + 1 < p->stage_count; i++)
		if (bp < p->stages[i] * 100u)
			return i;
	return p->stage_count ? p->stage_count - 1 : 0;
}

static int by_key(const void *a, const void *b)
{
	const struct stage_target *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->num > y->num) - (x->num < y->num);
}

void rollout_plan(const struct rollout_policy *p, struct stage_target *t, size_t n)
{
	if (n > 1)
		qsort(t, n, sizeof(*t), by_key);
	for (size_t i = 0; i < n; i++)
		t[i].stage = rollout_stage_of_rank(p, i, n);
}

const struct stage_planner rollout_planner = {
	.key = rollout_member_key,
	.plan = rollout_plan,
	.stage_of_key = rollout_stage_of_key,
};

/* a/b > t % without floating point; b > 0. */
static int above(uint64_t a, uint64_t b, unsigned t)
{
	return a * 100 > (uint64_t)t * b;
}

enum rollout_action rollout_evaluate(const struct rollout_policy *p, unsigned open_stage,
				     unsigned acknowledged_failures,
				     const unsigned counts[][ASSIGN__COUNT], char *why,
				     size_t why_len)
{
	uint64_t released = 0, failures = 0, done = 0, total_busy = 0;

	for (unsigned s = 0; s < p->stage_count; s++) {
		const unsigned *c = counts[s];
		for (int st = ASSIGN_PENDING; st <= ASSIGN_INSTALLED; st++)
			total_busy += c[st];
		if (s > open_stage)
			continue;
		/* Superseded devices left this rollout for a newer one. */
		for (int st = 0; st < ASSIGN__COUNT; st++)
			if (st != ASSIGN_CANCELED)
				released += c[st];
		failures += (uint64_t)c[ASSIGN_FAILED] + c[ASSIGN_TIMED_OUT];
		done += (uint64_t)c[ASSIGN_CONFIRMED] + c[ASSIGN_SKIPPED];
	}
	/* Failures an operator acknowledged at resume count neither way. */
	uint64_t ack = acknowledged_failures < failures ? acknowledged_failures : failures;
	uint64_t fresh = failures - ack, base = released - ack;

	if (base && above(fresh, base, p->failure_threshold)) {
		snprintf(why, why_len,
			 "%llu of %llu released devices failed or timed out (%llu %%, "
			 "failure threshold %u %%)",
			 (unsigned long long)fresh, (unsigned long long)base,
			 (unsigned long long)(fresh * 100 / base), p->failure_threshold);
		return ROLLOUT_PAUSE;
	}
	if (open_stage + 1 < p->stage_count) {
		if (base && done * 100 < (uint64_t)p->success_threshold * base) {
			snprintf(why, why_len, "stage %u: %llu of %llu done", open_stage + 1,
				 (unsigned long long)done, (unsigned long long)base);
			return ROLLOUT_WAIT;
		}
		snprintf(why, why_len,
			 "stage %u: %llu of %llu released devices done (success threshold %u "
			 "%%): opening stage %u",
			 open_stage + 1, (unsigned long long)done, (unsigned long long)base,
			 p->success_threshold, open_stage + 2);
		return ROLLOUT_OPEN_NEXT;
	}
	if (total_busy) {
		snprintf(why, why_len, "%llu devices in progress", (unsigned long long)total_busy);
		return ROLLOUT_WAIT;
	}
	snprintf(why, why_len, "every stage open, no device in progress");
	return ROLLOUT_COMPLETE;
}
