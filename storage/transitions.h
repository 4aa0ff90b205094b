/* The assignment transitions a device causes on the request path (a
 * check-in delivers or confirms, a download starts or ends) as jobs of the
 * group commit (storage/batch.h), so the server's worker threads never wait
 * for the write lock or an fsync: under load they spent a quarter of their
 * time asleep in SQLite's busy handler (docs/design.md, "Device
 * transitions in the group commit"). */
#ifndef SUITD_STORAGE_TRANSITIONS_H
#define SUITD_STORAGE_TRANSITIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/batch.h"
#include "storage/deployments.h"

struct transition_job {
	struct batch_job base; /* first: done() gets &base */
	int64_t assignment_id;
	/* A state change: compare-and-set from -> to (reason may be ""). */
	enum assignment_state from, to;
	char reason[64];
	/* Or a fetch (fetch true): delivered -> downloading, and for the last
	 * byte of a need (kind, object_id) of manifest_id, that need recorded
	 * and downloaded once none is left. */
	bool fetch, last_byte;
	int64_t manifest_id, object_id;
	enum manifest_need kind;
	/* Out, for done(): whether the assignment's state changed. */
	bool changed;
};

/* Queue the job on b; job->base.done must be set. done() gets
 * ERR_CONFLICT when a state change found another state, like
 * storage_assignment_transition(). */
void storage_transition_submit(struct batcher *b, struct transition_job *job);

#endif
