/* Dependency manifests (draft-ietf-suit-trust-domains, "Processing
 * Dependencies"): the image digest of a dependency component is the
 * dependency's manifest digest, the value in its authentication wrapper,
 * not a digest of the envelope bytes (those change when members are
 * severed). Integrated dependencies are verified here as envelopes of
 * their own: signature, scope of the anchor, their own dependencies. */
#include "suit/dependencies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "suit/cbor.h"
#include "suit/keys.h"
#include "suit/manifest.h"

bool suit_is_dependency(const struct suit_facts *f, unsigned ci)
{
	for (unsigned i = 0; i < f->dependency_count; i++)
		if (f->dependencies[i].component == ci)
			return true;
	return false;
}

/* The bstr content of the envelope member "#key". */
static bool integrated_member(const uint8_t *data, size_t len, const char *key,
			      struct cbor_span *ret)
{
	struct cbor_span whole = {data, len}, k, v;
	struct cbor_head h;
	struct cbor_iter it;
	size_t klen = strlen(key);

	if (!cbor_head_read(data, len, &h))
		return false;
	if (h.major == CBOR_TAG) {
		whole.p += h.head_len;
		whole.len -= h.head_len;
	}
	if (!cbor_iter_init(whole, CBOR_MAP, &it))
		return false;
	while (cbor_iter_next(&it, &k, &v)) {
		struct cbor_head kh;
		if (cbor_head_read(k.p, k.len, &kh) && kh.major == CBOR_TSTR && kh.arg == klen &&
		    memcmp(k.p + kh.head_len, key, klen) == 0)
			return cbor_bstr_content(v, ret);
	}
	return false;
}

enum suit_check suit_scope_check(const struct suit_verify_options *opt, struct suit_facts *f,
				 const struct suit_dep_walk *walk, struct diag *d)
{
	bool verified = false;
	const char *name = NULL;

	for (unsigned i = 0; i < f->signer_count; i++) {
		struct suit_signer *s = &f->signers[i];
		unsigned in_scope;
		if (s->result != SUIT_OK || s->anchor < 0)
			continue;
		verified = true;
		if (!suit_keyring_scoped(opt->keyring, (unsigned)s->anchor))
			return SUIT_OK;
		if (suit_keyring_in_scope(opt->keyring, (unsigned)s->anchor, walk->prefix,
					  walk->prefix_len, f, &in_scope)) {
			s->anchor = (int)in_scope;
			return SUIT_OK;
		}
		name = suit_keyring_name(opt->keyring, (unsigned)s->anchor);
	}
	if (!verified)
		return SUIT_OK; /* unsigned, allowed by require_signature = off */
	return suit_fail(d, SUIT_ANCHOR_OUT_OF_SCOPE,
			 "the trust anchor '%.60s' is scoped and this manifest is outside its "
			 "scope (%s)",
			 name ? name : "",
			 walk->prefix ? "its dependency-prefix differs"
				      : "its manifest-component-id or class id differs");
}

/* The image digest, size and URI the manifest sets for dependency dep
 * where it fetches it (the first fetch with a digest wins). */
static void dependency_fetch(struct suit_facts *f, struct suit_dependency *dep)
{
	for (unsigned i = 0; i < f->image_count; i++) {
		const struct suit_image *img = &f->images[i];
		if (img->component != dep->component)
			continue;
		if (dep->has_digest && !img->has_digest)
			continue;
		dep->has_digest = img->has_digest;
		dep->digest = img->digest;
		dep->has_size = img->has_size;
		dep->size = img->size;
		size_t n = strnlen(img->uri, sizeof(dep->uri) - 1);
		memcpy(dep->uri, img->uri, n);
		dep->uri[n] = '\0';
		if (dep->has_digest)
			return;
	}
}

static enum suit_check check_integrated_dependency(const uint8_t *data, size_t len,
						   const struct suit_verify_options *opt,
						   struct suit_dependency *dep,
						   struct suit_dep_walk *walk, struct diag *d)
{
	unsigned max_depth =
		opt->max_dependency_depth ? opt->max_dependency_depth : SUIT_DEFAULT_DEP_DEPTH;
	uint64_t max_size =
		opt->max_dependency_size ? opt->max_dependency_size : SUIT_DEFAULT_DEP_SIZE;
	struct cbor_span content;
	struct diag inner = {0};
	enum suit_check c;

	if (!integrated_member(data, len, dep->uri, &content))
		return suit_fail(d, SUIT_PAYLOAD_MISSING,
				 "integrated dependency '%.100s' is not in the envelope", dep->uri);
	if (!dep->has_digest)
		return suit_fail(d, SUIT_DEPENDENCY_MISMATCH,
				 "dependency '%.100s' is fetched without an image digest (its "
				 "manifest digest)",
				 dep->uri);
	if (dep->has_size && dep->size != content.len)
		return suit_fail(
			d, SUIT_DEPENDENCY_MISMATCH,
			"integrated dependency '%.100s' is %zu bytes, the manifest says %llu",
			dep->uri, content.len, (unsigned long long)dep->size);
	if (walk->depth + 1 > max_depth)
		return suit_fail(d, SUIT_DEPENDENCY_LIMIT,
				 "integrated dependencies nest deeper than %u levels "
				 "([manifests] dependency_max_depth)",
				 max_depth);
	if (walk->nodes + 1 > SUIT_MAX_DEPENDENCY_TREE)
		return suit_fail(d, SUIT_DEPENDENCY_LIMIT,
				 "more than %d dependency manifests in one envelope",
				 SUIT_MAX_DEPENDENCY_TREE);
	if (content.len > max_size || walk->bytes + content.len > max_size)
		return suit_fail(d, SUIT_DEPENDENCY_LIMIT,
				 "integrated dependency envelopes exceed %llu bytes in all "
				 "([manifests] dependency_max_size)",
				 (unsigned long long)max_size);
	walk->nodes++;
	walk->bytes += content.len;
	dep->facts = calloc(1, sizeof(*dep->facts));
	if (!dep->facts)
		return suit_fail(d, SUIT_UNSUPPORTED, "out of memory");
	struct suit_dep_walk below = *walk;
	below.depth = walk->depth + 1;
	below.prefix = dep->prefix_len ? dep->prefix : NULL;
	below.prefix_len = dep->prefix_len;
	c = suit_envelope_check_at(content.p, content.len, opt, dep->facts, &inner, &below);
	walk->nodes = below.nodes;
	walk->bytes = below.bytes;
	if (c) {
		free(dep->facts);
		dep->facts = NULL;
		return suit_fail(d, c, "dependency '%.60s': %s", dep->uri, inner.text);
	}
	if (dep->facts->manifest_digest.alg != dep->digest.alg ||
	    dep->facts->manifest_digest.len != dep->digest.len ||
	    memcmp(dep->facts->manifest_digest.bytes, dep->digest.bytes, dep->digest.len) != 0)
		return suit_fail(d, SUIT_DEPENDENCY_MISMATCH,
				 "dependency '%.100s': its manifest digest is not the image digest "
				 "the dependent gives",
				 dep->uri);
	return SUIT_OK;
}

/* One entry of the facts' "dependencies": the link, and for an integrated
 * dependency what it is (sequence, signers, its own dependencies). */
static void dependency_json(json_t *entry, const struct suit_dependency *dep)
{
	json_object_set_new(entry, "digest",
			    dep->has_digest ? suit_digest_json(&dep->digest) : json_null());
	json_object_set_new(entry, "size",
			    dep->has_size ? json_integer((json_int_t)dep->size) : json_null());
	json_object_set_new(entry, "uri", dep->uri[0] ? json_string(dep->uri) : json_null());
	json_object_set_new(entry, "integrated", json_boolean(dep->integrated));
	json_object_set_new(entry, "present", json_boolean(dep->facts != NULL));
	if (!dep->facts)
		return;
	static const char *const copied[] = {"sequence_number", "manifest_component_id", "signers",
					     "dependencies", "fetches"};
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
		json_t *v = json_object_get(dep->facts->json, copied[i]);
		if (v)
			json_object_set(entry, copied[i], v);
	}
}

enum suit_check suit_dependencies_check(const uint8_t *data, size_t len,
					const struct suit_verify_options *opt, struct suit_facts *f,
					struct suit_dep_walk *walk, struct diag *d)
{
	json_t *arr = json_object_get(f->json, "dependencies");

	for (unsigned i = 0; i < f->dependency_count; i++) {
		struct suit_dependency *dep = &f->dependencies[i];
		enum suit_check c;
		dependency_fetch(f, dep);
		dep->integrated = dep->uri[0] == '#';
		if (dep->integrated &&
		    (c = check_integrated_dependency(data, len, opt, dep, walk, d)))
			return c;
		json_t *entry = json_array_get(arr, i);
		if (entry)
			dependency_json(entry, dep);
	}
	return SUIT_OK;
}

void suit_dependencies_release(struct suit_facts *f)
{
	for (unsigned i = 0; i < f->dependency_count; i++) {
		struct suit_dependency *dep = &f->dependencies[i];
		if (dep->facts) {
			suit_facts_release(dep->facts);
			free(dep->facts);
			dep->facts = NULL;
		}
	}
}
