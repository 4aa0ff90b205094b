/* Deployments and their assignments (one per deployment and device). */
#ifndef SUITD_STORAGE_DEPLOYMENTS_H
#define SUITD_STORAGE_DEPLOYMENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/manifests.h"
#include "storage/storage.h"

/* X(name, text); the first six are "active" (SQL_ACTIVE_STATES). */
#define ASSIGNMENT_STATE_LIST(X)      \
	X(PENDING, "pending")         \
	X(DELIVERED, "delivered")     \
	X(DOWNLOADING, "downloading") \
	X(DOWNLOADED, "downloaded")   \
	X(INSTALLING, "installing")   \
	X(INSTALLED, "installed")     \
	X(CONFIRMED, "confirmed")     \
	X(FAILED, "failed")           \
	X(TIMED_OUT, "timed_out")     \
	X(CANCELED, "canceled")       \
	X(SKIPPED, "skipped")

enum assignment_state {
#define ASSIGNMENT_STATE_ENUM(name, text) ASSIGN_##name,
	ASSIGNMENT_STATE_LIST(ASSIGNMENT_STATE_ENUM)
#undef ASSIGNMENT_STATE_ENUM
		ASSIGN__COUNT
};

const char *assignment_state_name(enum assignment_state s);
bool assignment_state_parse(const char *text, enum assignment_state *ret);
bool assignment_state_active(enum assignment_state s);

enum target_kind {
	TARGET_DEVICES,
	TARGET_GROUP,
	TARGET_TAG,
};

#define DEPLOYMENT_NAME_MAX 128
#define ROLLOUT_STAGES_MAX  20
#define PAUSE_REASON_MAX    255

/* How a deployment releases its target (DESIGN.md §6). */
struct rollout_policy {
	unsigned stage_count;
	uint8_t stages[ROLLOUT_STAGES_MAX]; /* cumulative %, increasing, the last 100 */
	unsigned success_threshold;	    /* % of released devices done to open the next */
	unsigned failure_threshold;	    /* % failed + timed_out beyond which it pauses */
	int64_t device_timeout;		    /* seconds without news before timed_out */
};

enum deployment_status {
	DEPLOYMENT_ACTIVE,
	DEPLOYMENT_PAUSED,
	DEPLOYMENT_COMPLETED,
	DEPLOYMENT_CANCELED,
	/* Its assignments are being inserted, slice by slice (tracker/fanout.c). */
	DEPLOYMENT_PREPARING,
	DEPLOYMENT__COUNT
};
const char *deployment_status_name(enum deployment_status s);
bool deployment_status_parse(const char *text, enum deployment_status *ret);

/* One device of a deployment's target while its stages are planned. */
struct stage_target {
	int64_t num;
	uint64_t key;
	unsigned stage;
};

/* The rollout rules storage applies inside its transactions (given by
 * tracker/rollout.c: storage knows no policy of its own). */
struct stage_planner {
	uint64_t (*key)(int64_t deployment_id, const char *device_id);
	/* Set every target's stage. */
	void (*plan)(const struct rollout_policy *p, struct stage_target *t, size_t n);
	/* The stage of a device that joins later. */
	unsigned (*stage_of_key)(const struct rollout_policy *p, uint64_t key);
};

struct deployment {
	int64_t id;
	char name[DEPLOYMENT_NAME_MAX + 1];
	int64_t manifest_id;
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len;
	uint64_t sequence;
	enum target_kind kind;
	char target[DEPLOYMENT_NAME_MAX + 1];
	enum deployment_status status;
	int64_t created_at;
	char created_by[65];
	struct rollout_policy rollout;
	unsigned open_stage;			     /* index of the highest open stage */
	int64_t stage_opened_at[ROLLOUT_STAGES_MAX]; /* 0: not yet */
	int64_t paused_at;
	char paused_by[65];
	char pause_reason[PAUSE_REASON_MAX + 1];
	bool paused_auto;
	unsigned failures_acknowledged;
	int64_t completed_at, canceled_at;
	int64_t prepared_at; /* 0: its assignments are still being inserted */
	uint64_t planned;    /* devices targeted when it was created */
};

/* Counts per stage and state, from the trigger-kept counters. */
struct deployment_counts {
	unsigned n[ROLLOUT_STAGES_MAX][ASSIGN__COUNT];
};

struct deployment_new {
	const char *name; /* NULL = none */
	const uint8_t *digest;
	size_t digest_len;
	enum target_kind kind;
	const char *value;   /* group or tag */
	const int64_t *nums; /* TARGET_DEVICES: device numbers */
	unsigned count;
	const char *actor;
	struct rollout_policy rollout;
};

/* What check-in needs of a device's active assignment. */
struct active_assignment {
	int64_t id;
	int64_t device_num;
	int64_t deployment_id;
	int64_t manifest_id;
	enum assignment_state state;
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len;
	uint64_t sequence;
	/* Its stage is not open yet or the deployment is paused: a pending
	 * assignment waits. */
	bool held;
	unsigned stage, open_stage; /* held's parts, so the index can */
	bool paused;		    /* follow a stage or a pause alone */
};

struct assignment_row {
	int64_t id;
	char device[129];
	unsigned stage;
	enum assignment_state state;
	char reason[160];
	int64_t updated_at;
};

/* One short transaction: the deployment (preparing: prepared_at NULL), its
 * stages, how many devices its target has (planned; a device list is kept
 * in deployment_targets) and its created event. The assignments follow in
 * slices (storage_deployment_slice, driven by tracker/fanout.c).
 * ERR_NOT_FOUND: no such manifest. */
enum err storage_deployment_create(struct storage *s, const struct deployment_new *d,
				   int64_t *ret_id);
/* The devices the deployment targets now, their stages planned, sorted by
 * stage then device number (malloc'ed *ret). */
enum err storage_deployment_targets(struct storage *s, int64_t id,
				    const struct stage_planner *planner, struct stage_target **ret,
				    size_t *ret_n);
/* One transaction (*ret_hold_us: how long it held the write lock): an
 * assignment per target (skipped when the device's
 * vendor/class id differs from the manifest's or it runs an equal or newer
 * sequence; a device assigned already is left as it is), superseding each
 * device's older active assignment. *ret_stop: the deployment is no longer
 * preparing (canceled, deleted): nothing was written. */
/* announce: a deployment.assigned event names the ids inserted, so that
 * other nodes read them before the deployment is prepared. */
enum err storage_deployment_slice(struct storage *s, int64_t id, const struct stage_target *t,
				  size_t n, bool announce, bool *ret_stop, uint64_t *ret_hold_us);
/* The assignments of the deployment with ids first..last, ascending. */
typedef bool (*assignment_range_cb)(void *cls, int64_t id, int64_t device_num,
				    enum assignment_state state);
enum err storage_assignments_in_range(struct storage *s, int64_t deployment_id, int64_t first,
				      int64_t last, assignment_range_cb cb, void *cls);
/* The last slice is in: prepared_at set, the kept device list dropped, a
 * deployment.prepared event (unless it was canceled meanwhile). */
enum err storage_deployment_prepared(struct storage *s, int64_t id);
/* Active deployments still preparing (a restart resumes them), by id. */
enum err storage_deployments_preparing(struct storage *s, int64_t after, unsigned max, int64_t *ret,
				       unsigned *ret_n);
enum err storage_deployment_get(struct storage *s, int64_t id, struct deployment *ret);
enum err storage_deployment_counts(struct storage *s, int64_t id, struct deployment_counts *ret);
/* status: NULL = any. */
enum err storage_deployment_list(struct storage *s, const char *status, const uint8_t *digest,
				 size_t digest_len, int64_t after, unsigned max,
				 struct deployment *ret, unsigned *ret_count);
/* The deployment canceled (ERR_CONFLICT when canceled or completed
 * already) and up to max of its active assignments with it, in one
 * transaction; *ret_more: some are left for storage_deployment_cancel_more
 * (until then none is offered: the active-assignment reads skip canceled
 * deployments). */
enum err storage_deployment_cancel(struct storage *s, int64_t id, const char *actor, unsigned max,
				   bool *ret_more);
/* Up to max more of a canceled deployment's active assignments, one
 * transaction (*ret_hold_us: how long it held the write lock). */
enum err storage_deployment_cancel_more(struct storage *s, int64_t id, const char *actor,
					unsigned max, unsigned *ret_n, uint64_t *ret_hold_us);
/* Canceled deployments with active assignments left (a restart goes on). */
enum err storage_deployments_winding_down(struct storage *s, int64_t after, unsigned max,
					  int64_t *ret, unsigned *ret_n);
/* ERR_CONFLICT unless active. automatic: suitd paused it (the failure
 * threshold); resuming then needs an acknowledgment. */
enum err storage_deployment_pause(struct storage *s, int64_t id, const char *actor,
				  const char *reason, bool automatic);
/* ERR_CONFLICT unless paused. acknowledge: the released devices' failures
 * (failed + timed_out) so far no longer count against the threshold. */
enum err storage_deployment_resume(struct storage *s, int64_t id, const char *actor,
				   bool acknowledge);
/* The deployment's failed and timed-out devices start again from pending
 * (held while it is paused), except those with an active assignment in
 * another deployment or that run this sequence number already: *ret_left.
 * ERR_CONFLICT when canceled; a completed deployment runs again. */
enum err storage_deployment_retry(struct storage *s, int64_t id, const char *actor,
				  unsigned *ret_retried, unsigned *ret_left);
/* A completed or canceled deployment, its assignments, stages and
 * counters, in one transaction; the devices' reports stay (they refer to
 * the assignment by id only). ERR_CONFLICT while it is active or paused. */
enum err storage_deployment_delete(struct storage *s, int64_t id, const char *actor);
/* Open stage `stage` (compare-and-set on the open stage before it). */
enum err storage_deployment_open_stage(struct storage *s, int64_t id, unsigned stage);
enum err storage_deployment_complete(struct storage *s, int64_t id);
/* Deployments that are neither paused, completed nor canceled, by id. */
enum err storage_deployments_running(struct storage *s, int64_t after, unsigned max,
				     struct deployment *ret, unsigned *ret_count);
enum err storage_deployment_devices(struct storage *s, int64_t id, const char *state, int64_t after,
				    unsigned max, struct assignment_row *ret, unsigned *ret_count);
/* Every active assignment (device_num 0) or one device's. */
enum err storage_active_assignments(struct storage *s, int64_t device_num,
				    void (*each)(void *cls, const struct active_assignment *a),
				    void *cls);
/* One deployment's active assignments. */
enum err storage_deployment_active_assignments(struct storage *s, int64_t deployment_id,
					       void (*each)(void *cls,
							    const struct active_assignment *a),
					       void *cls);
/* Compare-and-set: ERR_CONFLICT when the state is no longer `from`. */
enum err storage_assignment_transition(struct storage *s, int64_t id, enum assignment_state from,
				       enum assignment_state to, const char *reason);
/* A device that joined a group or got a tag: an assignment in the newest
 * active deployment that targets it, if it has none there yet. */
enum err storage_deployment_join(struct storage *s, int64_t device_num,
				 const struct stage_planner *planner, bool *ret_joined);
/* Assignments engaged (delivered .. installed) and silent for longer than
 * their deployment's device_timeout become timed_out, in slices of a few
 * hundred, each its own transaction; *ret_devices (malloc'ed, also on an
 * error: the slices committed before it) their devices, for the index. */
enum err storage_assignments_time_out(struct storage *s, int64_t now, int64_t **ret_devices,
				      unsigned *ret_count);
/* What a device fetches from suitd for a manifest: the stored payloads it
 * and the stored dependencies it links fetch, and those dependencies'
 * envelopes when fetched from suitd (migration 0016). */
enum manifest_need {
	NEED_PAYLOAD = 0,  /* payloads.id */
	NEED_MANIFEST = 1, /* manifests.id of a dependency envelope */
};
bool storage_manifest_needs(struct storage *s, int64_t manifest_id, enum manifest_need kind,
			    int64_t object_id);
/* The device fetched one need of its assignment to the last byte: record
 * it; *ret_left is how many needs of manifest_id it has not fetched yet. */
enum err storage_assignment_fetched(struct storage *s, int64_t assignment_id, int64_t manifest_id,
				    enum manifest_need kind, int64_t object_id, unsigned *ret_left);

#endif
