/* A device's assignments over time: every deployment that included it and
 * how its assignment ended (the console's device page). */
#ifndef SUITD_STORAGE_TIMELINE_H
#define SUITD_STORAGE_TIMELINE_H

#include <stdint.h>

#include "common/error.h"
#include "storage/deployments.h"
#include "storage/storage.h"

struct device_assignment {
	int64_t id;
	int64_t deployment;
	unsigned stage; /* from 0 */
	enum assignment_state state;
	char reason[160];
	int64_t created_at, updated_at;
};

/* The device's assignments with id > after, oldest first, at most max;
 * *ret_count written. */
enum err storage_device_assignments(struct storage *s, int64_t device_num, int64_t after,
				    unsigned max, struct device_assignment *ret,
				    unsigned *ret_count);

#endif
