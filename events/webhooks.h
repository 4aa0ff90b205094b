/* The webhook delivery thread and the rules webhooks follow (issue 17).
 *
 * The event log is the outbox (storage/webhooks.h): for each enabled
 * webhook the thread reads the events after its cursor that match its
 * types, POSTs each as a Standard Webhooks message (webhook-id: the event
 * id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">) with libcurl's multi interface (one connection
 * pool, bounded transfers, timeouts; it never runs on a request thread),
 * retries failures with exponential backoff and jitter for [events]
 * webhook_max_age, then records the event as failed and disables the
 * webhook (event webhook.disabled). The cursor moves only past events
 * whose outcome is final, in the transaction that records it: a crash
 * redelivers, never loses. */
#ifndef SUITD_EVENTS_WEBHOOKS_H
#define SUITD_EVENTS_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/metrics.h"
#include "config/config.h"
#include "storage/storage.h"
#include "storage/webhooks.h"

/* Events of one webhook in flight or waiting for their next attempt. */
#define WEBHOOK_WINDOW 8
/* Transfers in flight at once, all webhooks together. */
#define WEBHOOK_CONCURRENCY 32
/* One attempt: connecting, then the whole exchange. */
#define WEBHOOK_CONNECT_TIMEOUT_MS 5000
#define WEBHOOK_TIMEOUT_MS	   10000
/* The longest pause between two attempts of one event. */
#define WEBHOOK_BACKOFF_MAX_MS (2 * 3600 * 1000)
/* At stop, transfers in flight get this long to finish (then they are cut
 * and redelivered after the restart). */
#define WEBHOOK_STOP_GRACE_MS 2000

struct webhook_worker;

/* Starts the thread and registers it as a listener of the event log; call
 * before the daemon serves. m may be NULL. */
enum err webhook_worker_start(struct storage *s, const struct config *config, struct metrics *m,
			      struct webhook_worker **ret);
/* Stops (waiting at most WEBHOOK_STOP_GRACE_MS for transfers in flight)
 * and frees; after every thread that commits events has stopped (the
 * listener stays registered). NULL: no-op. */
void webhook_worker_stop(struct webhook_worker *w);
/* A webhook was created, changed or deleted, or a redelivery requested:
 * the thread rereads them. NULL: no-op. */
void webhook_worker_changed(struct webhook_worker *w);

/* Whether url may be a webhook target: absolute http(s) URL, https unless
 * allow_http, a host that is not (and, when resolve, does not resolve to)
 * a loopback, private, link-local or otherwise special address unless
 * allow_private. ERR_INVALID with why filled. */
enum err webhook_url_check(const char *url, bool allow_http, bool allow_private, bool resolve,
			   char *why, size_t why_size);
/* A comma list of event types and "prefix.*" patterns ("" or "*": all). */
bool webhook_types_valid(const char *types);
bool webhook_types_match(const char *types, const char *type);
/* A new secret: "whsec_" + base64 of WEBHOOK_SECRET_BYTES random bytes. */
enum err webhook_secret_new(char out[WEBHOOK_SECRET_MAX]);
/* "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed by the secret's
 * base64-decoded bytes (the Standard Webhooks signature). */
enum err webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
		      size_t body_len, char *out, size_t out_size);
/* Whether the delivery thread refuses to connect to this address (the
 * SSRF guard, after DNS resolution). sa: struct sockaddr_in or _in6. */
bool webhook_address_private(const void *sa);

#endif
