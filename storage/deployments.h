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

struct deployment {
	int64_t id;
	char name[DEPLOYMENT_NAME_MAX + 1];
	int64_t manifest_id;
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len;
	uint64_t sequence;
	enum target_kind kind;
	char target[DEPLOYMENT_NAME_MAX + 1];
	bool active;
	int64_t created_at;
	char created_by[65];
	int64_t device_timeout; /* seconds */
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
	int64_t device_timeout; /* seconds without news before timed_out */
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
};

struct assignment_row {
	int64_t id;
	char device[129];
	enum assignment_state state;
	char reason[160];
	int64_t updated_at;
};

/* One transaction: the deployment, an assignment per target device (skipped
 * when the device's vendor/class id differs from the manifest's or it runs
 * an equal or newer sequence), superseding each device's older active
 * assignment. ERR_NOT_FOUND: no such manifest. */
enum err storage_deployment_create(struct storage *s, const struct deployment_new *d,
				   int64_t *ret_id);
enum err storage_deployment_get(struct storage *s, int64_t id, struct deployment *ret);
enum err storage_deployment_counts(struct storage *s, int64_t id, unsigned counts[ASSIGN__COUNT]);
enum err storage_deployment_list(struct storage *s, const char *status, const uint8_t *digest,
				 size_t digest_len, int64_t after, unsigned max,
				 struct deployment *ret, unsigned *ret_count);
/* ERR_CONFLICT when not active any more. */
enum err storage_deployment_cancel(struct storage *s, int64_t id, const char *actor);
enum err storage_deployment_devices(struct storage *s, int64_t id, const char *state, int64_t after,
				    unsigned max, struct assignment_row *ret, unsigned *ret_count);
/* Every active assignment (device_num 0) or one device's. */
enum err storage_active_assignments(struct storage *s, int64_t device_num,
				    void (*each)(void *cls, const struct active_assignment *a),
				    void *cls);
/* Compare-and-set: ERR_CONFLICT when the state is no longer `from`. */
enum err storage_assignment_transition(struct storage *s, int64_t id, enum assignment_state from,
				       enum assignment_state to, const char *reason);
/* A device that joined a group or got a tag: an assignment in the newest
 * active deployment that targets it, if it has none there yet. */
enum err storage_deployment_join(struct storage *s, int64_t device_num, bool *ret_joined);
/* Assignments engaged (delivered .. installed) and silent for longer than
 * their deployment's device_timeout become timed_out. */
enum err storage_assignments_time_out(struct storage *s, int64_t now, unsigned *ret_count);
bool storage_manifest_fetches_payload(struct storage *s, int64_t manifest_id, int64_t payload_id);

#endif
