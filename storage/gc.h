/* What `suitd gc` may free: finished deployments, then the manifests no
 * remaining deployment uses, then the payloads no remaining manifest
 * fetches, each older than a cutoff (recent uploads are never touched:
 * they are likely about to be deployed). */
#ifndef SUITD_STORAGE_GC_H
#define SUITD_STORAGE_GC_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/storage.h"

enum gc_kind {
	GC_DEPLOYMENT, /* completed or canceled before the cutoff */
	GC_MANIFEST,   /* uploaded before the cutoff, used only by such deployments */
	GC_PAYLOAD,    /* uploaded before the cutoff, fetched only by such manifests */
	GC__KINDS,
};

struct gc_item {
	enum gc_kind kind;
	int64_t id;
	uint8_t key[64]; /* manifest digest or payload SHA-256 */
	size_t key_len;
	uint64_t bytes; /* envelope or payload size; assignments for a deployment */
};

/* Call each() for every item of `kind` as if the items of the kinds before
 * it were deleted already: the same answer for a dry run and, kind by kind,
 * for the deletion itself. */
enum err storage_gc_scan(struct storage *s, enum gc_kind kind, int64_t cutoff,
			 enum err (*each)(void *cls, const struct gc_item *it), void *cls);

#endif
