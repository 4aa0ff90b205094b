/* Webhooks and their deliveries (migration 0015). The event log is the
 * outbox: each webhook keeps a cursor, the last event it is done with; the
 * delivery thread (events/webhooks.h) moves it only past events whose
 * outcome is final, in the transaction that records that outcome. */
#ifndef SUITD_STORAGE_WEBHOOKS_H
#define SUITD_STORAGE_WEBHOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/storage.h"

#define WEBHOOK_URL_MAX		2048
#define WEBHOOK_TYPES_MAX	512
#define WEBHOOK_DESCRIPTION_MAX 256
/* "whsec_" + base64 of WEBHOOK_SECRET_BYTES random bytes. */
#define WEBHOOK_SECRET_BYTES 32
#define WEBHOOK_SECRET_MAX   64
#define WEBHOOK_REASON_MAX   200
#define WEBHOOK_ERROR_MAX    200

struct webhook {
	int64_t id;
	char url[WEBHOOK_URL_MAX + 1];
	char types[WEBHOOK_TYPES_MAX + 1]; /* comma list of type patterns; "" = all */
	char description[WEBHOOK_DESCRIPTION_MAX + 1];
	char secret[WEBHOOK_SECRET_MAX];
	bool enabled;
	char disabled_reason[WEBHOOK_REASON_MAX + 1]; /* "" while enabled */
	int64_t created_at, updated_at;		      /* seconds since the epoch */
	char created_by[80];
	int64_t cursor; /* the last event id it is done with */
};

/* A new webhook from w's url, types, description, secret and enabled; its
 * cursor starts at the newest event (the webhook.created event this
 * writes), so it delivers what happens from now on. */
enum err storage_webhook_insert(struct storage *s, const struct webhook *w, const char *actor,
				int64_t *ret_id);
/* ERR_NOT_FOUND when there is no such webhook. */
enum err storage_webhook_get(struct storage *s, int64_t id, struct webhook *ret);
/* Webhooks with id > after, by id, at most max. */
enum err storage_webhook_list(struct storage *s, int64_t after, unsigned max,
			      struct webhook *ret_hooks, unsigned *ret_count);

/* What PATCH changes: NULL / -1 leave a field as it is. Enabling clears the
 * disabled reason. */
struct webhook_change {
	const char *url;
	const char *types;
	const char *description;
	int enabled; /* -1, 0 or 1 */
};
/* Writes webhook.updated (data: the fields changed). ERR_NOT_FOUND. */
enum err storage_webhook_update(struct storage *s, int64_t id, const struct webhook_change *c,
				const char *actor);
/* Deletes the webhook with its deliveries; writes webhook.deleted. */
enum err storage_webhook_delete(struct storage *s, int64_t id, const char *actor);

enum webhook_result {
	WEBHOOK_OK,	/* 2xx */
	WEBHOOK_RETRY,	/* failed; another attempt follows */
	WEBHOOK_FAILED, /* failed for the last time */
};
const char *webhook_result_name(enum webhook_result r);

/* One attempt, as GET /api/v1/webhooks/{id}/deliveries shows it. */
struct webhook_delivery {
	int64_t n; /* the attempt's id, across webhooks */
	int64_t webhook_id;
	int64_t event_id;
	char event_type[64];
	unsigned attempt; /* 1, 2, ... for this event (manual ones count too) */
	bool manual;	  /* POST .../retry */
	int64_t at_ms;
	unsigned status; /* HTTP status, 0: no response */
	unsigned latency_ms;
	enum webhook_result result;
	char error[WEBHOOK_ERROR_MAX + 1];
};

/* Attempts of a webhook newest first, n < before (0: from the newest), of
 * one event when event_id > 0, at most max. */
enum err storage_webhook_deliveries(struct storage *s, int64_t webhook_id, int64_t before,
				    int64_t event_id, unsigned max, struct webhook_delivery *ret,
				    unsigned *ret_count);
/* ERR_NOT_FOUND when the webhook has no attempt n. */
enum err storage_webhook_delivery_get(struct storage *s, int64_t webhook_id, int64_t n,
				      struct webhook_delivery *ret);
/* Attempts made so far for one event (*ret_count 0: none) and when the
 * first was made: the retry schedule survives a restart. */
enum err storage_webhook_attempts(struct storage *s, int64_t webhook_id, int64_t event_id,
				  unsigned *ret_count, int64_t *ret_first_ms);

/* A manual redelivery of an event, durable until the delivery thread has
 * made the attempt. Writes webhook.redelivery_requested. */
enum err storage_webhook_redelivery_insert(struct storage *s, int64_t webhook_id, int64_t event_id,
					   const char *actor, int64_t *ret_id);
struct webhook_redelivery {
	int64_t id, webhook_id, event_id;
};
/* The oldest requests with id > after, at most max. */
enum err storage_webhook_redeliveries(struct storage *s, int64_t after, unsigned max,
				      struct webhook_redelivery *ret, unsigned *ret_count);

/* What the delivery thread writes in one transaction: attempts, cursors,
 * webhooks it disables, and manual requests it has served. Rows of a
 * webhook deleted meanwhile are skipped. */
struct webhook_cursor {
	int64_t webhook_id, cursor;
};
struct webhook_disable {
	int64_t webhook_id;
	char reason[WEBHOOK_REASON_MAX + 1];
};
struct webhook_batch {
	const struct webhook_delivery *attempts;
	unsigned attempt_count;
	const struct webhook_cursor *cursors;
	unsigned cursor_count;
	const struct webhook_disable *disables;
	unsigned disable_count;
	const int64_t *redeliveries_done;
	unsigned redelivery_count;
};
enum err storage_webhook_record(struct storage *s, const struct webhook_batch *b);

/* Delete attempts made before before_ms, at most batch (housekeeping). */
enum err storage_webhook_deliveries_sweep(struct storage *s, int64_t before_ms, unsigned batch,
					  unsigned *ret_deleted);

#endif
