/* The in-memory index of active assignments by device: what a check-in
 * needs, so that a "nothing to do" poll touches no database. The database
 * is written first; the index follows every committed change. */
#ifndef SUITD_TRACKER_ASSIGNMENTS_H
#define SUITD_TRACKER_ASSIGNMENTS_H

#include "common/error.h"
#include "storage/deployments.h"

struct assignment_index;

enum err assignment_index_new(struct assignment_index **ret);
void assignment_index_free(struct assignment_index *ix);
/* Rebuild from the database (start-up, deployment created or canceled). */
enum err assignment_index_load(struct assignment_index *ix, struct storage *s);
/* Re-read one device's active assignment. */
enum err assignment_index_refresh(struct assignment_index *ix, struct storage *s,
				  int64_t device_num);
bool assignment_index_get(struct assignment_index *ix, int64_t device_num,
			  struct active_assignment *ret);
unsigned assignment_index_count(struct assignment_index *ix);
/* A stage opened, a pause or a resume: one record (no database read). */
void assignment_index_deployment(struct assignment_index *ix, int64_t deployment_id,
				 unsigned open_stage, bool paused);
/* A cancel or a retry: re-read that deployment's active assignments; its
 * devices no longer among them drop out. */
enum err assignment_index_reload_deployment(struct assignment_index *ix, struct storage *s,
					    int64_t deployment_id);
/* Grows after every load and refresh, i.e. after every committed change of
 * an assignment (the database is written first): a cache of anything read
 * from assignments is valid while this has not moved. */
uint64_t assignment_index_generation(struct assignment_index *ix);

/* Move an assignment from one state to another, database first (compare
 * and set), then the index. ERR_CONFLICT when it changed meanwhile. */
enum err assignment_transition(struct assignment_index *ix, struct storage *s,
			       const struct active_assignment *a, enum assignment_state to,
			       const char *reason);

#endif
