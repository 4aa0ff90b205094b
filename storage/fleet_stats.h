/* What /metrics shows of the fleet (docs/operations.md, Monitoring). Reads
 * only, each in its own statement; the cost of each is said below. */
#ifndef SUITD_STORAGE_FLEET_STATS_H
#define SUITD_STORAGE_FLEET_STATS_H

#include <stdint.h>

#include "common/error.h"
#include "storage/deployments.h"
#include "storage/storage.h"

struct fleet_deployments {
	uint64_t by_status[DEPLOYMENT__COUNT]; /* enum deployment_status */
	uint64_t paused_auto;		       /* paused by suitd, not an operator */
};

/* Deployments by status: a scan of the deployments table (one row per
 * deployment, whatever the fleet size). */
enum err storage_fleet_deployments(struct storage *s, struct fleet_deployments *ret);

struct fleet_assignments {
	uint64_t by_state[ASSIGN__COUNT];
};

/* Assignments by state: the trigger-kept counters (migration 0009), one row
 * per deployment, stage and state, never the assignments themselves. */
enum err storage_fleet_assignments(struct storage *s, struct fleet_assignments *ret);

/* Registered devices, and those last seen at or after `seen_since`: counts
 * of index entries, O(devices) — a caller reads them rarely and keeps them. */
enum err storage_fleet_devices(struct storage *s, int64_t seen_since, uint64_t *ret_registered,
			       uint64_t *ret_seen);

/* The database file in bytes as the current snapshot sees it (WAL included,
 * the -wal file itself not), and the bytes of free pages inside it (reused
 * before the file grows): read from the header, O(1). */
enum err storage_fleet_database_size(struct storage *s, uint64_t *ret_bytes,
				     uint64_t *ret_free_bytes);

#endif
