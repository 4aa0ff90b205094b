/* What the hawkBit DDI adapter (api/ddi/) reads and writes beyond the
 * device API's tables (migration 0018): cancels still to tell a device, an
 * action as DDI shows it, a manifest's payloads with the SHA-1 and MD5 that
 * DDI clients check. */
#ifndef SUITD_STORAGE_DDI_H
#define SUITD_STORAGE_DDI_H

#include <stdbool.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/error.h"
#include "storage/deployments.h"
#include "storage/payloads.h"
#include "storage/storage.h"

#define DDI_SOFTWARE_MAX  128
#define DDI_ARTIFACTS_MAX 16
#define SHA1_LEN	  20
#define MD5_LEN		  16

/* What a base poll links besides the active assignment: the canceled
 * assignment to tell (0: none), the newest confirmed one (0: none), and
 * whether the device has never sent its attributes over DDI. */
struct ddi_poll {
	int64_t cancel_id;
	int64_t installed_id;
	bool wants_attributes;
};
enum err storage_ddi_poll(struct storage *s, int64_t device_num, struct ddi_poll *ret);

/* The device sent its attributes (PUT configData) at `at`. */
enum err storage_ddi_config_sent(struct storage *s, int64_t device_num, int64_t at);

/* Whether this cancel waits for the device's answer (ERR_NOT_FOUND: no);
 * ack removes it. */
enum err storage_ddi_cancel_get(struct storage *s, int64_t device_num, int64_t assignment_id);
enum err storage_ddi_cancel_ack(struct storage *s, int64_t device_num, int64_t assignment_id);

/* One assignment of the device, as deploymentBase shows it. ERR_NOT_FOUND:
 * no such assignment of this device. */
struct ddi_action {
	enum assignment_state state;
	int64_t manifest_id;
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len;
	uint64_t sequence;
	char software_name[DDI_SOFTWARE_MAX + 1];    /* "" = no CoSWID */
	char software_version[DDI_SOFTWARE_MAX + 1]; /* "" = no CoSWID */
};
enum err storage_ddi_action(struct storage *s, int64_t device_num, int64_t assignment_id,
			    struct ddi_action *ret);

/* The stored payloads a manifest fetches, with SHA-1 and MD5: computed
 * from the stored bytes and kept the first time they are missing (payloads
 * stored before migration 0018). */
struct ddi_artifact {
	uint8_t sha256[SHA256_LEN];
	uint8_t sha1[SHA1_LEN];
	uint8_t md5[MD5_LEN];
	uint64_t size;
	char name[PAYLOAD_NAME_MAX + 1]; /* "" = none */
};
enum err storage_ddi_artifacts(struct storage *s, int64_t manifest_id, struct ddi_artifact *ret,
			       unsigned max, unsigned *ret_count);

/* Store a payload's SHA-1 and MD5 (at upload, or filled later). */
enum err storage_ddi_hashes_set(struct storage *s, int64_t payload_id, const uint8_t sha1[SHA1_LEN],
				const uint8_t md5[MD5_LEN]);

/* Whether the device has an assignment of this manifest it was given
 * (delivered or later, not canceled): what an artifact download needs. */
bool storage_ddi_module_allowed(struct storage *s, int64_t device_num, int64_t manifest_id);

/* The devices whose attribute name (a key of their attributes, set by DDI
 * configData or the API) is the string value, by num: at most max into
 * ret (*ret_count; max + 1 rows tell the caller there are more). */
enum err storage_ddi_devices_by_attribute(struct storage *s, const char *name, const char *value,
					  unsigned max, int64_t *ret, unsigned *ret_count);

#endif
