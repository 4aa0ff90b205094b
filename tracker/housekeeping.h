/* The Status Tracker's timers, run by the daemon's main loop about once a
 * second (DESIGN.md §2): device timeouts, rollout stages, report retention.
 * Each does indexed reads when there is nothing to do and writes only what
 * changed. */
#ifndef SUITD_TRACKER_HOUSEKEEPING_H
#define SUITD_TRACKER_HOUSEKEEPING_H

#include <stdint.h>

#include "storage/storage.h"
#include "tracker/assignments.h"

/* Engaged assignments silent past their deployment's device_timeout
 * become timed_out. */
void housekeeping_timeouts(struct storage *s, struct assignment_index *ix);
/* Every running deployment: open its next stage, pause it on failures, or
 * mark it completed (tracker/rollout.c decides). */
void housekeeping_rollouts(struct storage *s, struct assignment_index *ix);
/* Reports older than `retention` seconds (0 = keep), a bounded batch. */
void housekeeping_reports(struct storage *s, int64_t retention);
/* Events older than `retention` seconds or beyond the newest max_rows (0:
 * no cap), in small batches (each its own short transaction). */
void housekeeping_events(struct storage *s, int64_t retention, uint64_t max_rows);

#endif
