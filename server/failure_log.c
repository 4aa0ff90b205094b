/* One line per burst of a failure, not per request: see failure_log.h. */
#include "server/failure_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/log_burst.h"
#include "common/timeutil.h"

/* A worker thread reconnects at most once a second after the database
 * came back (storage/postgresql): a second without a failure, then the
 * ping, before the outage is called over. */
#define FAILURE_LOG_STORAGE_QUIET_MS 1000

struct failure_log {
	struct log_burst *bursts;
	struct storage *storage;
	/* The reason last logged during this outage (main loop only). */
	char why[160];
};

static uint64_t now_ms(void)
{
	return time_mono_usec() / 1000;
}

enum err failure_log_new(struct storage *s, struct failure_log **ret_log)
{
	struct failure_log *l = calloc(1, sizeof(*l));

	if (!l || log_burst_new(FAILURE_LOG_INTERVAL_MS, &l->bursts) != ERR_OK) {
		free(l);
		return ERR_NOMEM;
	}
	l->storage = s;
	*ret_log = l;
	return ERR_OK;
}

void failure_log_free(struct failure_log *l)
{
	if (!l)
		return;
	log_burst_free(l->bursts);
	free(l);
}

void failure_log_request(struct failure_log *l, enum err e, const char *method, const char *path,
			 const char *detail)
{
	if (!l || log_burst_hit(l->bursts, e, now_ms()))
		log_err("%s %s: %s: %s", method, path, err_title(e), detail);
	else
		log_debug("%s %s: %s: %s", method, path, err_title(e), detail);
}

/* Whether the burst of KIND, last failed at LAST_MS, is over. */
static bool burst_over(struct failure_log *l, enum err kind, uint64_t last_ms, uint64_t now)
{
	if (kind != ERR_STORAGE_UNAVAILABLE)
		return now >= last_ms + FAILURE_LOG_INTERVAL_MS;
	return now >= last_ms + FAILURE_LOG_STORAGE_QUIET_MS && storage_ping(l->storage) == ERR_OK;
}

/* The storage's reason, when it is new for this outage. */
static void why_log(struct failure_log *l)
{
	char why[sizeof(l->why)];

	storage_unavailable_why(l->storage, why, sizeof(why));
	if (why[0] && strcmp(why, l->why) != 0)
		log_err("the database cannot be reached: %s", why);
	if (why[0])
		memcpy(l->why, why, sizeof(why));
}

void failure_log_tick(struct failure_log *l)
{
	struct log_burst_count c;
	uint64_t last, now;

	if (!l)
		return;
	for (int k = ERR_OK + 1; k < ERR__COUNT; k++) {
		if (!log_burst_active(l->bursts, (enum err)k, &last))
			continue;
		if (k == ERR_STORAGE_UNAVAILABLE)
			why_log(l);
		now = now_ms();
		if (log_burst_due(l->bursts, (enum err)k, now, &c))
			log_warn("%lu more requests failed with urn:suitd:%s in the last %u s",
				 c.count, err_slug((enum err)k), c.seconds);
		if (!burst_over(l, (enum err)k, last, now) ||
		    !log_burst_end(l->bursts, (enum err)k, now, &c))
			continue;
		/* A single failure was its own line: nothing more to say. */
		if (k != ERR_STORAGE_UNAVAILABLE && c.total == 1)
			continue;
		if (k == ERR_STORAGE_UNAVAILABLE)
			l->why[0] = '\0';
		log_notice("%s: %lu requests failed with urn:suitd:%s over %u s, the last %lu "
			   "of them not logged before",
			   k == ERR_STORAGE_UNAVAILABLE ? "the database answers again"
							: "requests no longer fail",
			   c.total, err_slug((enum err)k), c.seconds, c.count);
	}
}
