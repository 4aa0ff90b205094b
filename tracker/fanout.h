/* The fan-out of a deployment: its assignments inserted in slices, each a
 * transaction short enough (a time budget, not a count) that check-ins and
 * reports never wait long on SQLite's write lock, the check-in index
 * following each slice. Small deployments run on the request's thread (the
 * answer shows them whole); large ones on a thread of their own, while the
 * API shows them as "preparing" with their progress. A restart resumes
 * those still preparing (the slices skip devices assigned already). A
 * cancel goes the same way: the deployment and a first slice of its
 * assignments in one transaction, the rest in slices on the worker. */
#ifndef SUITD_TRACKER_FANOUT_H
#define SUITD_TRACKER_FANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/storage.h"

struct assignment_index;
struct fanout;

/* Deployments of at most this many devices are prepared before the answer. */
#define FANOUT_INLINE_MAX 2000
/* A cancel cancels this many assignments with the deployment; more go to
 * the worker. */
#define FANOUT_CANCEL_INLINE 2000

/* The worker thread; it resumes the deployments left preparing.
 * before_read(cls) runs before a deployment's targets are read (the API
 * writes the sightings still in memory: a skip reads reported sequences). */
enum err fanout_start(struct storage *s, struct assignment_index *ix,
		      void (*before_read)(void *cls), void *cls, struct fanout **ret);
/* Stops between two slices (what is left resumes at the next start). */
void fanout_stop(struct fanout *f);
/* Prepare deployment id on the worker (returns at once). */
enum err fanout_enqueue(struct fanout *f, int64_t id);
/* Cancel, in slices on the worker, what the cancel of deployment id left
 * active; in the name of actor (its assignment events). */
enum err fanout_enqueue_cancel(struct fanout *f, int64_t id, const char *actor);
/* The same on this thread (stop may be NULL). */
enum err fanout_cancel_run(struct storage *s, int64_t id, const char *actor,
			   const _Atomic bool *stop);
/* Prepare deployment id on this thread; stop (may be NULL) is read
 * between slices. */
enum err fanout_run(struct storage *s, struct assignment_index *ix, int64_t id,
		    const _Atomic bool *stop);

#endif
