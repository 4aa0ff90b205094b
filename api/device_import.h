/* Bulk device import from NDJSON (one device object per line, as in POST
 * /api/v1/devices, plus an optional factory-provisioned `token`), and its
 * HTTP door POST /api/v1/devices/import. The daemon and `suitd device
 * import` share the engine, so a file imports the same either way. */
#ifndef SUITD_API_DEVICE_IMPORT_H
#define SUITD_API_DEVICE_IMPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"

/* Lines per transaction: each batch holds SQLite's write lock for tens of
 * milliseconds (bench/million.sh measures it). */
#define DEVICE_IMPORT_BATCH 500
/* The longest line read; a longer one is an error of that line only. */
#define DEVICE_IMPORT_LINE_MAX (64 * 1024)
/* Per-line errors listed in the answer (all are counted). */
#define DEVICE_IMPORT_ERRORS_MAX 100
/* New devices given a generated token per import (the tokens are held in
 * memory until the answer). */
#define DEVICE_IMPORT_GENERATE_MAX 100000

struct device_import_options {
	bool dry_run;
	bool generate_tokens; /* a new token for each new device without one */
	const char *actor;
};

struct device_import;

/* ctx may be NULL (the CLI): then no in-memory index or cache is updated. */
enum err device_import_new(struct storage *s, struct api_ctx *ctx,
			   const struct device_import_options *o, struct device_import **ret);
/* The next bytes of the file. Errors are fatal only (no memory, storage
 * gone); a bad line is counted and listed instead. */
enum err device_import_feed(struct device_import *im, const char *data, size_t len);
/* After the last byte: the last line and batch. */
enum err device_import_finish(struct device_import *im);
/* {"lines", "created", "updated", "unchanged", "failed", "errors": [...],
 * "errors_truncated", "dry_run"} */
json_t *device_import_summary(const struct device_import *im);
/* The generated tokens as NDJSON lines {"id", "token"} ("" when none). */
const char *device_import_tokens(const struct device_import *im);
/* Any device created or updated (the CLI then tells a running daemon). */
bool device_import_changed(const struct device_import *im);
void device_import_free(struct device_import *im);

extern const struct api_upload api_devices_import;

#endif
