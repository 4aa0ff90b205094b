/* Several suitd nodes on one database (issue 22; docs/design.md "Several
 * nodes on one PostgreSQL"): what this node keeps in memory follows what
 * every node commits. The event log is the feed: every change that the
 * check-in index or the token cache depends on writes an event in its
 * transaction (assignment transitions by the trigger; deployments, devices,
 * tokens, webhooks by db_event()). A thread reads the log after its cursor
 * whenever the storage says events committed (this node's commits, and
 * other nodes' through storage/cluster.h's notifications) and at least once
 * a second, and applies each event: a device's index entry and the token
 * cache, a deployment's index records, the webhook set. After the cluster
 * connection was lost it reloads everything, as notifications are not
 * durable and the log may have been swept past its cursor meanwhile.
 *
 * Only on a shared storage: SQLite has one node, whose own writes update
 * its memory directly (and the command line's through cli_changes). */
#ifndef SUITD_API_CLUSTER_H
#define SUITD_API_CLUSTER_H

#include <stdint.h>

#include "api/api.h"
#include "common/buf.h"

/* Events read per statement. */
#define CLUSTER_FOLLOW_BATCH 512
/* From a notification to the read of the log: part of the window in
 * which other nodes see a change (docs/design.md). */
#define CLUSTER_FOLLOW_DELAY_MS 10

struct cluster_follower;

/* Start following after cursor (the newest event id read before the index
 * was loaded, so nothing committed in between is missed). ctx must outlive
 * the follower; registers an event listener and the storage's cluster
 * thread. *ret NULL (and ERR_OK) when the storage is not shared; on a
 * failure *ret may be set all the same: free it. */
enum err cluster_follower_start(struct api_ctx *ctx, int64_t cursor, struct cluster_follower **ret);
/* Stops its thread and the storage's cluster thread (the lease is
 * released); before the webhook worker stops. NULL: no-op. */
void cluster_follower_stop(struct cluster_follower *f);
/* Frees it: after every thread that commits events (its listener stays
 * registered with the storage until then). NULL: no-op. */
void cluster_follower_free(struct cluster_follower *f);
/* False from a lost notification connection until the reload that
 * follows it has completed (/readyz answers 503 meanwhile). */
bool cluster_follower_ready(struct cluster_follower *f);
/* suitd_cluster_* lines for /metrics (nothing when f is NULL). */
enum err cluster_metrics_render(struct cluster_follower *f, struct buf *out);

#endif
