/* The event log (migration 0014): every admin mutation and every state
 * change of deployments and assignments, one row each, written in the
 * transaction of the change (db_event() in storage/db.h; assignment
 * transitions by a trigger). Read by GET /api/v1/audit, the SSE hub
 * (events/stream.h) and the webhook worker. */
#ifndef SUITD_STORAGE_EVENTS_H
#define SUITD_STORAGE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/storage.h"

struct event {
	int64_t id;	       /* monotonically increasing log id, never reused */
	int64_t at_ms;	       /* milliseconds since the epoch */
	char type[64];	       /* "deployment.stage_opened", "assignment.failed", "key.created" */
	char actor[144];       /* API key name, "local:cli", "system", "device:<id>" */
	char subject[160];     /* "deployment:12", "device:abc", "key:ops", "manifest:<digest>" */
	int64_t deployment_id; /* 0: none */
	char device_id[129];   /* "": none */
	bool admin;	       /* an admin mutation (shown by /api/v1/audit) */
	char *data;	       /* one JSON object, heap, freed by event_clear() */
};

void event_clear(struct event *ev);

/* Called for each event in id order; return false to stop. */
typedef bool (*event_cb)(void *cls, const struct event *ev);

/* Events with id > after, ascending, at most limit (0 = no limit). */
enum err storage_events_after(struct storage *s, int64_t after, unsigned limit, event_cb cb,
			      void *cls);
/* What the cluster follower needs of an event (api/cluster.h), with the
 * device's number read in the same statement. */
struct event_brief {
	int64_t id;
	int64_t at_ms;
	char type[64];
	int64_t assignment_id; /* from the subject "assignment:<id>"; 0: another subject */
	int64_t deployment_id; /* 0: none */
	int64_t device_num;    /* 0: none, or the device is gone */
	/* deployment.assigned: the assignment ids of the slice (0: other types) */
	int64_t first_assignment, last_assignment;
};
typedef bool (*event_brief_cb)(void *cls, const struct event_brief *ev);
/* Events with id > after, ascending, at most limit. */
enum err storage_events_follow(struct storage *s, int64_t after, unsigned limit, event_brief_cb cb,
			       void *cls);
/* Oldest and newest id in the log (0, 0 when empty). Retention never
 * deletes the newest row, so once written the log is never empty again. */
enum err storage_events_range(struct storage *s, int64_t *ret_oldest, int64_t *ret_newest);

/* Called (from the committing thread, after COMMIT) whenever a transaction
 * that wrote events commits; cheap and non-blocking (it only signals).
 * newest_id is a hint (a job rolled back to its savepoint may have taken
 * its event with it): read the log from your own cursor. Several
 * listeners (SSE hub, webhook worker), registered before the daemon
 * serves; at most STORAGE_EVENTS_LISTENERS. */
#define STORAGE_EVENTS_LISTENERS 4
typedef void (*storage_events_listener)(void *cls, int64_t newest_id);
enum err storage_events_listen(struct storage *s, storage_events_listener fn, void *cls);

/* GET /api/v1/audit: admin events newest first. NULL/0 fields do not filter. */
struct audit_filter {
	const char *actor;   /* exact */
	const char *action;  /* the type, exact or "prefix.*" */
	const char *subject; /* exact */
	int64_t since_ms;    /* at >= since (0: none) */
	int64_t until_ms;    /* at < until (0: none) */
	int64_t before;	     /* id < before (0: none): the next page */
	int64_t after;	     /* id > after (0: none): what came since */
};
/* At most limit events, newest first. */
enum err storage_audit_list(struct storage *s, const struct audit_filter *f, unsigned limit,
			    event_cb cb, void *cls);

/* An admin event written outside any other change (a configuration
 * reload): its own transaction. data: a JSON object text or NULL. */
enum err storage_event_append(struct storage *s, const char *type, const char *actor,
			      const char *subject, bool admin, const char *data);

/* Retention: delete at most batch of the oldest events that are older than
 * cutoff_ms or beyond the newest max_rows (0: no cap); never the newest. */
enum err storage_events_sweep(struct storage *s, int64_t cutoff_ms, uint64_t max_rows,
			      unsigned batch, unsigned *ret_deleted);

#endif
