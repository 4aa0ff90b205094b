/* Several suitd nodes on one database (issue 22; docs/design.md "Several
 * nodes on one PostgreSQL"). A backend that can be shared (PostgreSQL) runs
 * one thread with a connection of its own that
 *  - listens for events other nodes commit (the trigger of
 *    migrations/postgresql/0004) and tells this process's event listeners
 *    (storage_events_listen(): the SSE hub, the webhook worker, the cache
 *    follower of server/cluster.c), and
 *  - competes for the housekeeper lease, a session advisory lock: the node
 *    whose connection holds it runs what happens on a clock (stages,
 *    timeouts, retention, webhook delivery); when that node dies, its
 *    connection ends, the server releases the lock and another node takes
 *    it within STORAGE_HOUSEKEEPER_RETRY_MS.
 * A backend that cannot be shared (SQLite: one file, one node) starts
 * nothing: this node is always the housekeeper and nobody else commits. */
#ifndef SUITD_STORAGE_CLUSTER_H
#define SUITD_STORAGE_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/storage.h"

/* How often a node that is not the housekeeper tries the lease, and how
 * often the thread polls when no notification comes. */
#define STORAGE_HOUSEKEEPER_RETRY_MS 1000

/* Called from the cluster thread after its connection was lost and came
 * back: notifications may have been missed meanwhile, so whatever is kept
 * in memory must be read anew. Cheap and non-blocking (signal a thread). */
typedef void (*storage_resync_cb)(void *cls);

struct storage_cluster_stats {
	bool shared;		     /* the backend can be shared by several nodes */
	bool housekeeper;	     /* this node holds the lease (always, unshared) */
	bool listening;		     /* the notification connection is up (always, unshared) */
	uint64_t notifications;	     /* received */
	uint64_t reconnects;	     /* of the notification connection */
	uint64_t housekeeper_gained; /* times this node took the lease */
};

/* Whether several suitd nodes may use this storage at once. */
bool storage_shared(struct storage *s);
/* Whether this is the only node on the database now (asked before this
 * node starts its cluster thread; always on SQLite): e.g. every upload left
 * 'receiving' is then its own previous run's. */
enum err storage_nodes_alone(struct storage *s, bool *ret);
/* Start the cluster thread (no-op unless shared); after every event
 * listener is registered, before the daemon serves. */
enum err storage_cluster_start(struct storage *s, storage_resync_cb resync, void *cls);
/* Stop it (releases the lease); before storage_free(). No-op if not started. */
void storage_cluster_stop(struct storage *s);
/* Whether this node runs the clock's work now. Any thread. */
bool storage_housekeeper(struct storage *s);
void storage_cluster_stats(struct storage *s, struct storage_cluster_stats *ret);

#endif
