/* Bulk device import: one transaction per batch of lines, a savepoint per
 * line, so a bad line leaves nothing of itself and never undoes its
 * neighbours (POST /api/v1/devices/import, `suitd device import`). */
#ifndef SUITD_STORAGE_DEVICE_IMPORT_H
#define SUITD_STORAGE_DEVICE_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/deployments.h"
#include "storage/devices.h"

/* One line. A member left NULL (or set_tags false) is not given: a new
 * device gets the default, an existing one keeps what it has. */
struct device_import_row {
	const char *id;
	const char *group; /* "" = none */
	bool set_tags;
	const char *const *tags;
	unsigned tag_count;
	const uint8_t *vendor, *class_id; /* fixed once the device exists */
	const char *attributes;		  /* normalised JSON object text */
	const uint8_t *token_hash;	  /* replaces the current token, no grace */
	const uint8_t *new_token_hash;	  /* a generated token: for a new device only */
};

enum device_import_outcome {
	DEVICE_IMPORT_CREATED,
	DEVICE_IMPORT_UPDATED,
	DEVICE_IMPORT_UNCHANGED,
	DEVICE_IMPORT_FAILED,
};

struct device_import_result {
	enum device_import_outcome outcome;
	enum err error; /* DEVICE_IMPORT_FAILED */
	char detail[160];
	int64_t num;
	bool joined;	       /* it joined an active deployment of its group or tag */
	bool identity_changed; /* group or token: cached identities are stale */
};

/* Apply rows[0..n) in one transaction (rolled back when dry_run), one
 * "devices.imported" event with the counts when something changed. An
 * error return means the batch as a whole did not commit: every result is
 * then DEVICE_IMPORT_FAILED with that error. */
enum err storage_devices_import(struct storage *s, const struct device_import_row *rows, unsigned n,
				const struct stage_planner *planner, bool dry_run,
				const char *actor, struct device_import_result *ret);

#endif
