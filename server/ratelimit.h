/* Per-identity request rate limits ([server] rate_limit, rate_burst): a
 * token bucket per device, API key or client address, so that one noisy
 * client gets 429 instead of slowing everyone down. Thread-safe. */
#ifndef SUITD_SERVER_RATELIMIT_H
#define SUITD_SERVER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct ratelimit;

/* rate 0: every request passes (and nothing is kept). */
enum err ratelimit_new(unsigned rate, unsigned burst, struct ratelimit **ret);
void ratelimit_free(struct ratelimit *rl);

/* An identity's key: kind ('d' device, 'k' API key, 'a' address) and bytes. */
int64_t ratelimit_key(char kind, const void *id, size_t len);

/* Take one request from key's bucket at now_us. False when it is empty;
 * *ret_retry_after is then the whole seconds until the next one (>= 1). */
bool ratelimit_take(struct ratelimit *rl, int64_t key, uint64_t now_us, unsigned *ret_retry_after);

/* Forget buckets that have refilled (idle clients); run now and then. */
void ratelimit_prune(struct ratelimit *rl, uint64_t now_us);

#endif
