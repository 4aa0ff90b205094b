/* Staged rollouts: which stage a device belongs to, and what a deployment
 * should do next given its counts. Pure functions; storage and the
 * housekeeping loop apply the decisions. */
#ifndef SUITD_TRACKER_ROLLOUT_H
#define SUITD_TRACKER_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/deployments.h"

/* Stage membership key: the first 8 bytes of SHA-256("<deployment id>:<device
 * id>"), so a device's place in a rollout is stable and independent of the
 * order devices were registered in. */
uint64_t rollout_member_key(int64_t deployment_id, const char *device_id);

/* Stages for `count` devices sorted by key (rank 0 first): the first
 * ceil(count × percent[i] / 100) devices belong to stages 0..i. */
unsigned rollout_stage_of_rank(const struct rollout_policy *p, size_t rank, size_t count);

/* A device that joins after creation (a new group member): by its key's
 * position in [0, 10000) basis points. */
unsigned rollout_stage_of_key(const struct rollout_policy *p, uint64_t key);

/* Sort the targets by key and set their stages by rank. */
void rollout_plan(const struct rollout_policy *p, struct stage_target *t, size_t n);

/* The three above, for storage's transactions. */
extern const struct stage_planner rollout_planner;

enum rollout_action {
	ROLLOUT_WAIT,	   /* nothing to do yet */
	ROLLOUT_OPEN_NEXT, /* the open stages reached the success threshold */
	ROLLOUT_PAUSE,	   /* failures exceed the failure threshold */
	ROLLOUT_COMPLETE,  /* every stage open, no assignment left in progress */
};

/* Decide for a running deployment from its counts per stage and state
 * (counts[stage][state]); `why` gets a sentence for the pause reason or
 * the log. */
enum rollout_action rollout_evaluate(const struct rollout_policy *p, unsigned open_stage,
				     unsigned acknowledged_failures,
				     const unsigned counts[][ASSIGN__COUNT], char *why,
				     size_t why_len);

#endif
