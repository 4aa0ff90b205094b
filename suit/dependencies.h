/* Dependency manifests (draft-ietf-suit-trust-domains).
 * A component index listed in suit-dependencies is another manifest; an
 * integrated one ("#key" member) is verified here, recursively, within the
 * depth, size and count bounds of the whole tree. api/manifests.c checks a
 * stored dependency again where a dependent links it (suit_envelope_check_at
 * under the dependent's prefix). */
#ifndef SUITD_SUIT_DEPENDENCIES_H
#define SUITD_SUIT_DEPENDENCIES_H

#include "suit/suit.h"

/* What the whole tree has used so far, and where this envelope sits. */
struct suit_dep_walk {
	unsigned depth;	       /* 0: the envelope checked */
	unsigned nodes;	       /* dependency envelopes checked so far */
	uint64_t bytes;	       /* their bytes */
	const uint8_t *prefix; /* the dependency-prefix this envelope is checked under */
	size_t prefix_len;
};

/* The check of suit_envelope_check at a place in a dependency tree. */
enum suit_check suit_envelope_check_at(const uint8_t *data, size_t len,
				       const struct suit_verify_options *opt,
				       struct suit_facts *facts, struct diag *d,
				       struct suit_dep_walk *walk);

/* Whether component index ci is a dependency of f. */
bool suit_is_dependency(const struct suit_facts *f, unsigned ci);

/* Fill f's dependencies from what its command sequences fetch, verify the
 * integrated ones against their manifest digest, signature and scope, and
 * show them in f->json ("dependencies"). data/len: f's envelope. */
enum suit_check suit_dependencies_check(const uint8_t *data, size_t len,
					const struct suit_verify_options *opt, struct suit_facts *f,
					struct suit_dep_walk *walk, struct diag *d);

/* The signers of f may sign it where it sits (scoped trust anchors). */
enum suit_check suit_scope_check(const struct suit_verify_options *opt, struct suit_facts *f,
				 const struct suit_dep_walk *walk, struct diag *d);

/* Free the facts of integrated dependencies, recursively. */
void suit_dependencies_release(struct suit_facts *f);

#endif
