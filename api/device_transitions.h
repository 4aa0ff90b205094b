/* The assignment transitions a device's requests cause, through the group
 * commit (storage/transitions.h) instead of a write on the worker thread:
 * a check-in's answer waits for its commit with the connection suspended,
 * a download's progress is recorded without holding the download up. */
#ifndef SUITD_API_DEVICE_TRANSITIONS_H
#define SUITD_API_DEVICE_TRANSITIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "api/http.h"
#include "storage/deployments.h"

/* Compare-and-set a's state to `to` (reason NULL or text) before res is
 * sent: on a failure other than a lost race (ERR_CONFLICT) res becomes
 * the problem `what`. The assignment index is refreshed after the commit. */
enum err device_transition_defer(struct api_ctx *ctx, struct response *res,
				 const struct active_assignment *a, enum assignment_state to,
				 const char *reason, const char *what);

/* A fetch of a need (kind, object_id) of a's manifest: delivered ->
 * downloading, and with last_byte downloaded once every need was fetched.
 * Queued; the download goes on at once. */
void device_fetch_record(struct api_ctx *ctx, const struct active_assignment *a,
			 enum manifest_need kind, int64_t object_id, bool last_byte);

#endif
