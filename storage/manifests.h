/* Manifests: envelopes stored byte-for-byte, indexed by manifest digest. */
#ifndef SUITD_STORAGE_MANIFESTS_H
#define SUITD_STORAGE_MANIFESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/error.h"
#include "storage/storage.h"

#define MANIFEST_DIGEST_MAX 64
#define MANIFEST_LINKS_MAX  100

struct manifest_record {
	int64_t id;
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len;
	int64_t digest_alg;
	uint64_t sequence;
	char *facts; /* JSON text, malloc'ed */
	int64_t created_at;
};

struct manifest_component_row {
	unsigned index;
	const uint8_t *id;
	size_t id_len;
	const uint8_t *vendor;	 /* 16 bytes or NULL */
	const uint8_t *class_id; /* 16 bytes or NULL */
};

/* A dependency in the manifest's tree (migration 0016). */
struct manifest_dependency_row {
	uint8_t digest[MANIFEST_DIGEST_MAX]; /* the dependency's manifest digest */
	size_t digest_len;
	int64_t dependency_id; /* the stored manifest of that digest, 0: none */
	bool integrated;
	bool served; /* fetched from PUBLIC_URL/device/v1/manifests/<digest> */
};

/* A download need (migration 0016): the device must fetch, from suitd,
 * one object of each group: a payload (kind 0) or a dependency envelope
 * (kind 1, enum manifest_need). */
#define MANIFEST_NEEDS_MAX 128
struct manifest_need_row {
	unsigned group;
	int kind;
	int64_t object_id;
};

struct manifest_new {
	const uint8_t *digest;
	size_t digest_len;
	int64_t digest_alg;
	const uint8_t *envelope;
	size_t envelope_len;
	uint64_t sequence;
	const char *facts;
	const struct manifest_component_row *components;
	unsigned component_count;
	const int64_t *payload_ids;
	unsigned payload_count;
	const struct manifest_dependency_row *dependencies;
	unsigned dependency_count;
	const struct manifest_need_row *needs;
	unsigned need_count;
	const char *actor; /* who uploads it (the event log) */
};

/* Insert in one transaction. ERR_EXISTS: this digest is stored (*ret is
 * that record). ERR_CONFLICT: another manifest has the same sequence number
 * for a component with the same vendor, class and id (its digest goes to
 * conflict, conflict_len). */
enum err storage_manifest_insert(struct storage *s, const struct manifest_new *m,
				 struct manifest_record *ret, uint8_t conflict[MANIFEST_DIGEST_MAX],
				 size_t *conflict_len);
enum err storage_manifest_get(struct storage *s, const uint8_t *digest, size_t len,
			      struct manifest_record *ret);
/* The envelope as uploaded (malloc'ed). */
enum err storage_manifest_envelope(struct storage *s, const uint8_t *digest, size_t len,
				   uint8_t **ret, size_t *ret_len);
/* Keyset page, optionally only manifests with a component of this vendor
 * and/or class id (16 bytes each, NULL = any). */
enum err storage_manifest_list(struct storage *s, int64_t after, unsigned max,
			       const uint8_t *vendor, const uint8_t *class_id,
			       struct manifest_record *ret, unsigned *ret_count);
enum err storage_manifest_delete(struct storage *s, const uint8_t *digest, size_t len,
				 const char *actor);
/* SHA-256s of the stored payloads a manifest fetches. */
enum err storage_manifest_payloads(struct storage *s, int64_t manifest_id,
				   uint8_t ret[][SHA256_LEN], unsigned max, unsigned *ret_count);
/* Manifest digests that fetch a payload. */
enum err storage_payload_manifests(struct storage *s, int64_t payload_id,
				   uint8_t ret[][MANIFEST_DIGEST_MAX], size_t *ret_lens,
				   unsigned max, unsigned *ret_count);
/* id and facts (malloc'ed JSON text) of the stored manifest with this
 * digest: how a dependency fetched by URI is linked. */
enum err storage_manifest_lookup(struct storage *s, const uint8_t *digest, size_t len,
				 int64_t *ret_id, char **ret_facts);
/* Whether a stored manifest links this one as its dependency (what makes
 * its deletion a conflict when no deployment uses it). */
bool storage_manifest_is_dependency(struct storage *s, const uint8_t *digest, size_t len);
void manifest_record_release(struct manifest_record *r);

#endif
