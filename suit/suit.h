/* SUIT envelopes (draft-ietf-suit-manifest): parse, verify, extract facts.
 * No HTTP and no SQL in here. docs/suit.md describes what is checked. */
#ifndef SUITD_SUIT_SUIT_H
#define SUITD_SUIT_SUIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

/* Every reason an envelope is refused; the slug is the problem type
 * urn:suitd:manifest:<slug>. X(name, slug) */
#define SUIT_CHECK_LIST(X)                                            \
	X(OK, "ok")                                                   \
	X(CBOR_PARSE, "cbor-parse")                                   \
	X(OBSOLETE_ENCODING, "obsolete-encoding")                     \
	X(MANIFEST_VERSION, "manifest-version")                       \
	X(UNSUPPORTED, "unsupported")                                 \
	X(DIGEST_ALG_UNSUPPORTED, "digest-alg-unsupported")           \
	X(DIGEST_MISMATCH, "digest-mismatch")                         \
	X(UNSIGNED, "unsigned")                                       \
	X(ALG_UNSUPPORTED, "alg-unsupported")                         \
	X(SIGNATURE_INVALID, "signature-invalid")                     \
	X(NO_TRUSTED_SIGNATURE, "no-trusted-signature")               \
	X(SEVERED_DIGEST_MISMATCH, "severed-digest-mismatch")         \
	X(SEVERED_MEMBER_MISSING, "severed-member-missing")           \
	X(INTEGRATED_PAYLOAD_MISMATCH, "integrated-payload-mismatch") \
	X(PAYLOAD_MISSING, "payload-missing")                         \
	X(PAYLOAD_SIZE_MISMATCH, "payload-size-mismatch")             \
	X(EXTERNAL_URI, "external-uri")                               \
	X(SEQUENCE_CONFLICT, "sequence-conflict")                     \
	X(DEPENDENCY_MISMATCH, "dependency-mismatch")                 \
	X(DEPENDENCY_LIMIT, "dependency-limit")                       \
	X(DEPENDENCY_MISSING, "dependency-missing")                   \
	X(ANCHOR_OUT_OF_SCOPE, "anchor-out-of-scope")

enum suit_check {
#define SUIT_CHECK_ENUM(name, slug) SUIT_##name,
	SUIT_CHECK_LIST(SUIT_CHECK_ENUM)
#undef SUIT_CHECK_ENUM
		SUIT__COUNT
};

const char *suit_check_slug(enum suit_check c);
/* Fill d (field "envelope") with the formatted reason and return c. */
enum suit_check suit_fail(struct diag *d, enum suit_check c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Bounds of what suitd indexes; larger manifests are refused as
 * unsupported rather than silently truncated. */
#define SUIT_MAX_COMPONENTS 16
#define SUIT_MAX_IMAGES	    64
#define SUIT_MAX_SIGNERS    8
#define SUIT_MAX_DIGEST	    64
#define SUIT_MAX_URI	    1024
#define SUIT_MAX_INTEGRATED 16
/* Dependencies (draft-ietf-suit-trust-domains): per manifest, and manifests
 * in one tree of integrated dependencies (suit/dependencies.c). */
#define SUIT_MAX_DEPENDENCIES	 8
#define SUIT_MAX_DEPENDENCY_TREE 32
#define SUIT_DEFAULT_DEP_DEPTH	 4
#define SUIT_DEFAULT_DEP_SIZE	 ((uint64_t)4 << 20)

/* COSE algorithm ids */
#define COSE_ALG_ES256	 (-7)
#define COSE_ALG_ESP256	 (-9)
#define COSE_ALG_EDDSA	 (-8)
#define COSE_ALG_ED25519 (-19)
#define COSE_ALG_HMAC256 5
#define COSE_ALG_SHA256	 (-16)

struct suit_digest {
	int64_t alg;
	uint8_t bytes[SUIT_MAX_DIGEST];
	size_t len;
};

/* One image the manifest fetches: directive-fetch with these parameters. */
struct suit_image {
	unsigned component;
	bool has_digest;
	struct suit_digest digest;
	bool has_size;
	uint64_t size;
	char uri[SUIT_MAX_URI + 1];
	bool has_slot; /* component-slot (5) at the fetch: try-each alternatives */
	int64_t slot;
	/* encrypted: encryption-info (19) was set when it was fetched, so the
	 * device decrypts as it fetches and the image digest and size are the
	 * plaintext's. ciphertext: a copy to another component decrypts it, so
	 * digest and size (when given) are the ciphertext's (suit/encryption.h). */
	bool encrypted, ciphertext;
};

struct suit_component {
	bool has_vendor, has_class;
	uint8_t vendor[16], class_id[16];
	uint8_t id[128]; /* encoded SUIT_Component_Identifier */
	size_t id_len;
};

struct suit_signer {
	int64_t alg;
	uint8_t kid[64];
	size_t kid_len;
	int anchor; /* index into the keyring, -1 when not verified */
	enum suit_check result;
};

struct suit_integrated {
	char key[128];
	struct suit_digest digest; /* SHA-256 of the bstr content */
	uint64_t size;
};

struct suit_keyring;
struct suit_facts;

/* A component index listed in suit-dependencies: another manifest. Its
 * image digest is that manifest's digest (its authentication wrapper), its
 * image size the size of its envelope. */
struct suit_dependency {
	unsigned component;
	uint8_t prefix[128]; /* encoded SUIT_Component_Identifier, prefix_len 0: none */
	size_t prefix_len;
	bool has_digest;
	struct suit_digest digest;
	bool has_size;
	uint64_t size;
	char uri[SUIT_MAX_URI + 1]; /* "" when the manifest fetches it from nowhere */
	bool integrated;	    /* "#key" of this envelope */
	struct suit_facts *facts;   /* integrated: its verified facts (owned) */
};

struct suit_facts {
	bool tagged;
	struct suit_digest manifest_digest;
	uint64_t version;
	uint64_t sequence;
	unsigned component_count;
	struct suit_component components[SUIT_MAX_COMPONENTS];
	unsigned image_count; /* fetched images */
	struct suit_image images[SUIT_MAX_IMAGES];
	unsigned signer_count;
	struct suit_signer signers[SUIT_MAX_SIGNERS];
	unsigned integrated_count;
	struct suit_integrated integrated[SUIT_MAX_INTEGRATED];
	uint8_t manifest_component_id[128]; /* key 5, encoded; len 0: absent */
	size_t manifest_component_id_len;
	unsigned dependency_count;
	struct suit_dependency dependencies[SUIT_MAX_DEPENDENCIES];
	/* Everything, for the API (components with digests/sizes/URIs,
	 * dependencies, text, reference URI, severable members, signers). */
	json_t *json;
};

struct suit_verify_options {
	const struct suit_keyring *keyring;
	bool require_signature;
	/* Integrated dependencies: levels below the envelope and the bytes of
	 * all dependency envelopes checked (0: SUIT_DEFAULT_DEP_*). */
	unsigned max_dependency_depth;
	uint64_t max_dependency_size;
};

/* Parse and verify an envelope; on failure ret_check and d say why. On
 * success facts is filled (release with suit_facts_release). */
enum suit_check suit_envelope_check(const uint8_t *data, size_t len,
				    const struct suit_verify_options *opt, struct suit_facts *facts,
				    struct diag *d);
void suit_facts_release(struct suit_facts *facts);

/* Copy of the envelope without the severable members named (16 payload-fetch,
 * 20 install, 23 text ...) whose digests are in the manifest, so the
 * signature stays valid. *ret is malloc'ed. */
enum suit_check suit_envelope_sever(const uint8_t *data, size_t len, const int64_t *keys,
				    unsigned key_count, uint8_t **ret, size_t *ret_len,
				    struct diag *d);

/* ---- trust anchors ---- */
enum err suit_keyring_new(struct suit_keyring **ret);
/* PEM public key (SubjectPublicKeyInfo) or certificate: P-256 or Ed25519. */
enum err suit_keyring_add_pem(struct suit_keyring *kr, const char *path, struct diag *d);
/* A [manifests] trust_anchor value: "PATH" (any manifest) or "PATH SCOPE..."
 * where each SCOPE is prefix=E1[/E2...] (elements as text, or h'hex') or
 * class=UUID: the key then verifies only a manifest that is a dependency
 * under such a dependency-prefix, or whose manifest-component-id starts
 * with it, or whose components' class ids are all that UUID. */
enum err suit_keyring_add_anchor(struct suit_keyring *kr, const char *spec, struct diag *d);
/* A raw 32-byte HMAC-SHA-256 secret. */
/* The same from PEM text in memory (a device's report key); `name` names it
 * in d. */
enum err suit_keyring_add_pem_text(struct suit_keyring *kr, const char *pem, size_t len,
				   const char *name, struct diag *d);
enum err suit_keyring_add_hmac(struct suit_keyring *kr, const char *path, struct diag *d);
unsigned suit_keyring_count(const struct suit_keyring *kr);
/* Whether anchor i carries a scope (then it verifies only what it names). */
bool suit_keyring_scoped(const struct suit_keyring *kr, unsigned i);
/* Name (file) and RFC 9679 thumbprint of anchor i. */
const char *suit_keyring_name(const struct suit_keyring *kr, unsigned i);
const uint8_t *suit_keyring_kid(const struct suit_keyring *kr, unsigned i);
void suit_keyring_free(struct suit_keyring *kr);

#endif
