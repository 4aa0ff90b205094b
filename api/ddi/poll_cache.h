/* What a DDI base poll needs beyond the active assignment (storage_ddi_poll:
 * a cancel to tell, the installedBase action, whether to ask for
 * configData), kept per device so that a "nothing to do" poll reads no
 * SQL, like the device API's check-in (bench/ddi.sh). An entry is valid
 * while the assignment index's generation (every committed assignment
 * change) and the cache's own (a cancel answered, attributes sent) have not
 * moved since it was read: conservative, never stale. */
#ifndef SUITD_API_DDI_POLL_CACHE_H
#define SUITD_API_DDI_POLL_CACHE_H

#include "api/api.h"
#include "storage/ddi.h"

struct ddi_poll_cache;

enum err ddi_poll_cache_new(struct ddi_poll_cache **ret);
void ddi_poll_cache_free(struct ddi_poll_cache *c);

/* The device's poll facts: from the cache, or read and kept (c may be NULL:
 * always read). */
enum err ddi_poll_facts(struct api_ctx *ctx, int64_t device_num, struct ddi_poll *ret);
/* Something a poll shows changed outside the assignments: every entry is
 * stale. */
void ddi_poll_cache_invalidate(struct ddi_poll_cache *c);

#endif
