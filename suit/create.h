/* Build and sign a single-image SUIT envelope (draft-ietf-suit-manifest
 * App. B Example 1 shape): vendor and class checks in the shared sequence,
 * fetch in install (20), image-match in validate (7), optional severed text
 * (23) and optional integrated payload. Signed with one COSE_Sign1 whose kid
 * is the RFC 9679 thumbprint of the signer's public key. */
#ifndef SUITD_SUIT_CREATE_H
#define SUITD_SUIT_CREATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Bounds the parser also holds to (suit/suit.h, suit/envelope.c). */
#define SUIT_CREATE_MAX_COMPONENT 64  /* bytes of the component id */
#define SUIT_CREATE_MAX_KEY	  127 /* bytes of an integrated payload key */

/* A dependency manifest (draft-ietf-suit-trust-domains) of the envelope
 * built: component index 1, 2 ... in suit-dependencies, its image digest the
 * dependency's manifest digest, fetched in dependency-resolution (15) and
 * processed in install (20). */
#define SUIT_CREATE_MAX_DEPENDENCIES 8
struct suit_create_dependency {
	const uint8_t *envelope; /* the dependency's envelope */
	size_t envelope_len;
	const char *uri;    /* "#key": integrated in the envelope; else fetched from there */
	const char *prefix; /* dependency-prefix: one bstr of these bytes; NULL: none */
};

struct suit_create_options {
	const char *key_path; /* PEM private key: P-256 → ESP256 (-9), Ed25519 → Ed25519 (-19) */
	const uint8_t *payload; /* the image: digest (SHA-256) and size come from it */
	size_t payload_len;
	const char *vendor_domain; /* vendor id = UUID5(NAMESPACE_DNS, vendor_domain) */
	const char *class_info;	   /* class id = UUID5(vendor id, class_info) */
	uint64_t sequence;
	const char *uri;	 /* where devices fetch the image (required) */
	const char *component;	 /* component id: one bstr of these bytes; NULL → h'00' */
	const char *description; /* NULL → no text; else {"en": {1: description}}, severed (23) */
	bool integrated; /* also embed the payload under key uri (which must start with '#') */
	const struct suit_create_dependency *dependencies;
	unsigned dependency_count;
	/* suit-manifest-component-id (5): one bstr of these bytes; NULL → none.
	 * What a trust anchor scoped with prefix= matches for an upload. */
	const char *manifest_component_id;
};

/* The tagged (107) envelope, malloc'ed into *ret; on failure d says why and
 * *ret is untouched. */
enum err suit_manifest_create(const struct suit_create_options *o, uint8_t **ret, size_t *ret_len,
			      struct diag *d);

/* The manifest digest of an envelope (authentication wrapper, checked
 * against the manifest), without verifying any signature. */
enum err suit_envelope_digest(const uint8_t *data, size_t len, uint8_t digest[32], struct diag *d);

/* Name-based UUID, version 5 (RFC 4122 §4.3): SHA-1 over ns ‖ name. */
enum err suit_uuid5(const uint8_t ns[16], const uint8_t *name, size_t name_len, uint8_t out[16]);

/* 6ba7b810-9dad-11d1-80b4-00c04fd430c8 */
extern const uint8_t suit_uuid_namespace_dns[16];

#endif
