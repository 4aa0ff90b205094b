/* The software inventory (migration 0017): what each device runs (the
 * manifest of its last confirmed assignment, and that manifest's CoSWID
 * software name and version), and which devices run what. */
#ifndef SUITD_STORAGE_INVENTORY_H
#define SUITD_STORAGE_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/devices.h"
#include "storage/manifests.h"
#include "storage/storage.h"

#define INVENTORY_TEXT_MAX 256 /* a CoSWID name or version (suit/coswid.h) */
/* Software name/version pairs one summary lists at most. */
#define INVENTORY_COUNTS_MAX 1000

struct inventory_device {
	int64_t num;
	char id[DEVICE_ID_MAX + 1];
	char version[INVENTORY_TEXT_MAX + 1];
	bool has_version;
	uint8_t digest[MANIFEST_DIGEST_MAX]; /* running manifest; len 0: since deleted */
	size_t digest_len;
	int64_t since; /* confirmed at */
};

struct inventory_count {
	char name[INVENTORY_TEXT_MAX + 1];
	char version[INVENTORY_TEXT_MAX + 1];
	bool has_version;
	uint64_t devices;
};

/* What a device runs. running false: it never confirmed a manifest. */
struct device_software {
	bool running;
	bool has_manifest; /* false when the manifest was deleted since */
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len;
	uint64_t sequence;
	int64_t since;
	char *facts; /* the manifest's facts (JSON text), malloc'ed; NULL: none */
	char name[INVENTORY_TEXT_MAX + 1], version[INVENTORY_TEXT_MAX + 1];
	bool has_name, has_version;
};

/* Devices running software `name` (and `version`, NULL: any), by device
 * number after `after`, at most max of them; *ret_more when there are more. */
enum err storage_inventory_devices(struct storage *s, const char *name, const char *version,
				   int64_t after, unsigned max, struct inventory_device *ret,
				   unsigned *ret_count, bool *ret_more);
/* Devices per software version of `name` (NULL: per name and version of
 * all software), at most INVENTORY_COUNTS_MAX rows into ret. */
enum err storage_inventory_counts(struct storage *s, const char *name, const char *version,
				  struct inventory_count *ret, unsigned *ret_count, bool *ret_more);
enum err storage_device_software(struct storage *s, int64_t device_num,
				 struct device_software *ret);
void device_software_release(struct device_software *sw);

#endif
