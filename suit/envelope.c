/* SUIT_Envelope: byte extents, manifest digest, authentication, facts
 * (suit.md §1-§2, §9). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "suit/cbor.h"
#include "suit/cose.h"
#include "suit/dependencies.h"
#include "suit/manifest.h"
#include "suit/suit.h"

static const char *const check_slugs[] = {
#define SUIT_CHECK_SLUG(name, slug) [SUIT_##name] = slug,
	SUIT_CHECK_LIST(SUIT_CHECK_SLUG)
#undef SUIT_CHECK_SLUG
};

const char *suit_check_slug(enum suit_check c)
{
	return (unsigned)c < SUIT__COUNT ? check_slugs[c] : "unsupported";
}

#define MAX_SEVERABLE 8

struct envelope {
	bool tagged;
	struct cbor_span map;	   /* the envelope map item */
	struct cbor_span auth;	   /* bstr item at key 2 */
	struct cbor_span manifest; /* bstr item at key 3 */
	struct suit_severable severable[MAX_SEVERABLE];
	unsigned severable_count;
};

enum suit_check suit_fail(struct diag *d, enum suit_check c, const char *fmt, ...)
{
	va_list ap;
	char text[160];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	diag_set(d, ERR_UNPROCESSABLE, "envelope", "%s", text);
	return c;
}

static bool is_severable_key(int64_t k)
{
	return k == 14 || k == 15 || k == 16 || k == 18 || k == 20 || k == 23;
}

/* Find the extents of the envelope's members; integrated payloads go
 * straight into the facts. */
static enum suit_check envelope_split(const uint8_t *data, size_t len, struct envelope *env,
				      struct suit_facts *f, struct diag *d)
{
	struct cbor_head h;
	struct cbor_span whole = {data, len}, key, value;
	struct cbor_iter it;
	size_t n;
	int64_t k;
	bool seen[32] = {false};

	if (!cbor_item_len(data, len, &n))
		return suit_fail(d, SUIT_CBOR_PARSE,
				 "not one well-formed CBOR item (truncated, "
				 "indefinite length or nested deeper than %d)",
				 CBOR_MAX_DEPTH);
	if (n != len)
		return suit_fail(d, SUIT_CBOR_PARSE, "%zu bytes follow the envelope", len - n);
	cbor_head_read(data, len, &h);
	if (h.major == CBOR_TAG) {
		if (h.arg == 48 || h.arg == 480)
			return suit_fail(
				d, SUIT_OBSOLETE_ENCODING,
				"tag %llu is from draft -11 to -13 (now 107): re-encode the "
				"envelope",
				(unsigned long long)h.arg);
		if (h.arg == 1070)
			return suit_fail(
				d, SUIT_UNSUPPORTED,
				"a bare SUIT_Manifest (tag 1070) has no authentication: upload "
				"the envelope (tag 107)");
		if (h.arg != 107)
			return suit_fail(d, SUIT_CBOR_PARSE,
					 "tag %llu is not a SUIT_Envelope (107)",
					 (unsigned long long)h.arg);
		env->tagged = true;
		whole.p += h.head_len;
		whole.len -= h.head_len;
	}
	env->map = whole;
	if (!cbor_iter_init(whole, CBOR_MAP, &it))
		return suit_fail(d, SUIT_CBOR_PARSE, "the envelope is not a CBOR map");
	while (cbor_iter_next(&it, &key, &value)) {
		struct cbor_head kh;
		if (cbor_head_read(key.p, key.len, &kh) && kh.major == CBOR_TSTR) {
			/* Integrated payload: "#name" => bstr. */
			struct cbor_span content;
			struct suit_integrated *ip;
			if (!cbor_bstr_content(value, &content))
				return suit_fail(d, SUIT_CBOR_PARSE,
						 "an integrated payload is not a bstr");
			if (f->integrated_count >= SUIT_MAX_INTEGRATED || kh.arg >= sizeof(ip->key))
				return suit_fail(
					d, SUIT_UNSUPPORTED,
					"more than %d integrated payloads or a key over 127 bytes",
					SUIT_MAX_INTEGRATED);
			const char *text = (const char *)key.p + kh.head_len;
			if (memchr(text, '\0', (size_t)kh.arg))
				return suit_fail(d, SUIT_CBOR_PARSE,
						 "an integrated payload key holds a NUL");
			for (unsigned k2 = 0; k2 < f->integrated_count; k2++)
				if (strlen(f->integrated[k2].key) == kh.arg &&
				    memcmp(f->integrated[k2].key, text, (size_t)kh.arg) == 0)
					return suit_fail(
						d, SUIT_CBOR_PARSE,
						"integrated payload key '%.60s' appears twice",
						f->integrated[k2].key);
			ip = &f->integrated[f->integrated_count++];
			snprintf(ip->key, sizeof(ip->key), "%.*s", (int)kh.arg, text);
			suit_digest_compute(COSE_ALG_SHA256, content.p, content.len, &ip->digest);
			ip->size = content.len;
			continue;
		}
		if (!cbor_span_int(key, &k))
			return suit_fail(d, SUIT_CBOR_PARSE,
					 "an envelope key is neither integer nor text");
		if (k >= 0 && k < 32) {
			if (seen[k])
				return suit_fail(d, SUIT_CBOR_PARSE,
						 "envelope key %lld appears twice", (long long)k);
			seen[k] = true;
		}
		if (k == 2)
			env->auth = value;
		else if (k == 3)
			env->manifest = value;
		else if (is_severable_key(k)) {
			if (!cbor_head_read(value.p, value.len, &kh) || kh.major != CBOR_BSTR)
				return suit_fail(d, SUIT_CBOR_PARSE,
						 "envelope member %lld is not a bstr",
						 (long long)k);
			env->severable[env->severable_count].key = k;
			env->severable[env->severable_count].envelope_item = value;
			env->severable_count++;
		}
		/* Other keys (extensions) are kept byte-for-byte and ignored. */
	}
	if (!cbor_iter_done(&it))
		return suit_fail(d, SUIT_CBOR_PARSE, "the envelope map is malformed");
	if (!env->manifest.len && env->auth.len && seen[1])
		return suit_fail(
			d, SUIT_OBSOLETE_ENCODING,
			"authentication at key 1 and manifest at key 2 are from drafts before "
			"-05: re-encode the envelope");
	if (!env->auth.len)
		return suit_fail(d, SUIT_CBOR_PARSE, "no authentication-wrapper (envelope key 2)");
	if (!env->manifest.len)
		return suit_fail(d, SUIT_CBOR_PARSE, "no manifest (envelope key 3)");
	struct cbor_span c;
	if (!cbor_bstr_content(env->auth, &c) || !cbor_bstr_content(env->manifest, &c))
		return suit_fail(
			d, SUIT_CBOR_PARSE,
			"the authentication-wrapper and the manifest must be bstr-wrapped");
	return SUIT_OK;
}

/* SUIT_Authentication: [ bstr(SUIT_Digest), * bstr(COSE block) ]. */
static enum suit_check authenticate(const struct envelope *env,
				    const struct suit_verify_options *opt, struct suit_facts *f,
				    struct diag *d)
{
	struct cbor_span auth, digest_item, digest_content, block, unused;
	struct cbor_iter it;
	struct suit_digest want, got;
	enum suit_check worst = SUIT_OK;
	struct diag first = {0};
	bool verified = false;

	cbor_bstr_content(env->auth, &auth);
	if (!cbor_iter_init(auth, CBOR_ARRAY, &it) || it.left < 1 ||
	    !cbor_iter_next(&it, &digest_item, &unused))
		return suit_fail(d, SUIT_CBOR_PARSE, "the authentication-wrapper is not an array");
	if (!cbor_bstr_content(digest_item, &digest_content))
		return suit_fail(d, SUIT_OBSOLETE_ENCODING,
				 "the authentication-wrapper does not start with a bstr-wrapped "
				 "SUIT_Digest (drafts before -11 put COSE objects there)");
	{
		CLEANUP_CBOR cbor_item_t *dg = cbor_span_load(digest_content);
		if (!suit_digest_from_item(dg, &want))
			return suit_fail(d, SUIT_CBOR_PARSE,
					 "the manifest digest is not a SUIT_Digest");
	}
	/* The digest covers the manifest bstr as encoded, header included. */
	if (!suit_digest_compute(want.alg, env->manifest.p, env->manifest.len, &got))
		return suit_fail(
			d, SUIT_DIGEST_ALG_UNSUPPORTED,
			"manifest digest algorithm %lld is not supported (use SHA-256, -16)",
			(long long)want.alg);
	if (got.len != want.len || memcmp(got.bytes, want.bytes, got.len) != 0)
		return suit_fail(
			d, SUIT_DIGEST_MISMATCH,
			"the manifest does not match the digest in its authentication-wrapper");
	f->manifest_digest = got;
	while (it.left) {
		struct suit_signer *s;
		enum suit_check r;
		struct diag bd = {0};
		if (!cbor_iter_next(&it, &block, &unused))
			return suit_fail(d, SUIT_CBOR_PARSE,
					 "the authentication-wrapper is malformed");
		if (f->signer_count >= SUIT_MAX_SIGNERS)
			return suit_fail(d, SUIT_UNSUPPORTED, "more than %d authentication blocks",
					 SUIT_MAX_SIGNERS);
		struct cbor_span content;
		if (!cbor_bstr_content(block, &content))
			return suit_fail(
				d, SUIT_OBSOLETE_ENCODING,
				"an authentication block is not bstr-wrapped (drafts before -05)");
		s = &f->signers[f->signer_count++];
		r = suit_cose_verify(content, digest_content, opt->keyring, s, &bd);
		if (r == SUIT_CBOR_PARSE) {
			*d = bd;
			return r;
		}
		if (r == SUIT_OK) {
			verified = true;
			continue;
		}
		/* Report the most telling failure: a bad signature over an
		 * unknown signer over an unsupported algorithm. */
		static const int rank[SUIT__COUNT] = {[SUIT_SIGNATURE_INVALID] = 4,
						      [SUIT_NO_TRUSTED_SIGNATURE] = 3,
						      [SUIT_ALG_UNSUPPORTED] = 2,
						      [SUIT_UNSUPPORTED] = 1};
		if (rank[r] > rank[worst]) {
			worst = r;
			first = bd;
		}
	}
	if (!cbor_iter_done(&it))
		return suit_fail(d, SUIT_CBOR_PARSE, "the authentication-wrapper is malformed");
	if (verified)
		return SUIT_OK;
	if (f->signer_count == 0)
		return opt->require_signature
			       ? suit_fail(d, SUIT_UNSIGNED,
					   "the envelope has no COSE authentication block and "
					   "[manifests] require_signature is on")
			       : SUIT_OK;
	*d = first;
	return worst;
}

/* Images the manifest fetches from "#key" must be integrated payloads that
 * match their digest and size. */
static enum suit_check check_integrated(struct suit_facts *f, struct diag *d)
{
	for (unsigned i = 0; i < f->image_count; i++) {
		const struct suit_image *img = &f->images[i];
		const struct suit_integrated *ip = NULL;
		/* A dependency's digest is its manifest digest (suit/dependencies.c). */
		if (img->uri[0] != '#' || suit_is_dependency(f, img->component))
			continue;
		for (unsigned k = 0; k < f->integrated_count && !ip; k++)
			if (strcmp(f->integrated[k].key, img->uri) == 0)
				ip = &f->integrated[k];
		if (!ip)
			return suit_fail(d, SUIT_PAYLOAD_MISSING,
					 "integrated payload '%.100s' is not in the envelope",
					 img->uri);
		if (img->has_digest &&
		    (img->digest.alg != COSE_ALG_SHA256 || img->digest.len != ip->digest.len ||
		     memcmp(img->digest.bytes, ip->digest.bytes, ip->digest.len) != 0))
			return suit_fail(
				d, SUIT_INTEGRATED_PAYLOAD_MISMATCH,
				"integrated payload '%.100s' does not match the image digest",
				img->uri);
		if (img->has_size && img->size != ip->size)
			return suit_fail(
				d, SUIT_INTEGRATED_PAYLOAD_MISMATCH,
				"integrated payload '%.100s' is %llu bytes, the manifest says %llu",
				img->uri, (unsigned long long)ip->size,
				(unsigned long long)img->size);
	}
	return SUIT_OK;
}

static json_t *facts_json_finish(struct suit_facts *f, const struct suit_verify_options *opt,
				 size_t len)
{
	json_t *j = f->json, *fetches = json_array(), *signers = json_array(),
	       *integrated = json_array();

	json_object_set_new(j, "digest", suit_digest_json(&f->manifest_digest));
	json_object_set_new(j, "size", json_integer((json_int_t)len));
	json_object_set_new(j, "tagged", json_boolean(f->tagged));
	json_object_set_new(j, "manifest_version", json_integer((json_int_t)f->version));
	json_object_set_new(j, "sequence_number", json_integer((json_int_t)f->sequence));
	for (unsigned i = 0; i < f->image_count; i++) {
		const struct suit_image *img = &f->images[i];
		json_t *o = json_pack("{s:I}", "component", (json_int_t)img->component);
		json_object_set_new(o, "digest",
				    img->has_digest ? suit_digest_json(&img->digest) : json_null());
		json_object_set_new(o, "size",
				    img->has_size ? json_integer((json_int_t)img->size)
						  : json_null());
		json_object_set_new(o, "uri", img->uri[0] ? json_string(img->uri) : json_null());
		json_object_set_new(o, "slot",
				    img->has_slot ? json_integer((json_int_t)img->slot)
						  : json_null());
		json_object_set_new(o, "encrypted", json_boolean(img->encrypted));
		json_object_set_new(o, "ciphertext", json_boolean(img->ciphertext));
		json_array_append_new(fetches, o);
	}
	json_object_set_new(j, "fetches", fetches);
	for (unsigned i = 0; i < f->integrated_count; i++)
		json_array_append_new(
			integrated, json_pack("{s:s, s:o, s:I}", "key", f->integrated[i].key,
					      "digest", suit_digest_json(&f->integrated[i].digest),
					      "size", (json_int_t)f->integrated[i].size));
	json_object_set_new(j, "integrated_payloads", integrated);
	for (unsigned i = 0; i < f->signer_count; i++) {
		const struct suit_signer *s = &f->signers[i];
		char kid[2 * sizeof(s->kid) + 1];
		hex_encode(s->kid, s->kid_len, kid);
		json_array_append_new(
			signers,
			json_pack("{s:s, s:I, s:o, s:s, s:o}", "alg", suit_cose_alg_name(s->alg),
				  "alg_id", (json_int_t)s->alg, "kid",
				  s->kid_len ? json_string(kid) : json_null(), "result",
				  s->result == SUIT_OK ? "verified" : suit_check_slug(s->result),
				  "trust_anchor",
				  s->anchor >= 0 ? json_string(suit_keyring_name(
							   opt->keyring, (unsigned)s->anchor))
						 : json_null()));
	}
	json_object_set_new(j, "signers", signers);
	return j;
}

enum suit_check suit_envelope_check(const uint8_t *data, size_t len,
				    const struct suit_verify_options *opt, struct suit_facts *f,
				    struct diag *d)
{
	struct suit_dep_walk walk = {0};

	return suit_envelope_check_at(data, len, opt, f, d, &walk);
}

enum suit_check suit_envelope_check_at(const uint8_t *data, size_t len,
				       const struct suit_verify_options *opt, struct suit_facts *f,
				       struct diag *d, struct suit_dep_walk *walk)
{
	struct envelope env = {0};
	struct cbor_span manifest_content;
	enum suit_check c;

	memset(f, 0, sizeof(*f));
	f->json = json_object();
	if (!f->json)
		return suit_fail(d, SUIT_UNSUPPORTED, "out of memory");
	c = envelope_split(data, len, &env, f, d);
	if (!c)
		c = authenticate(&env, opt, f, d);
	f->tagged = env.tagged;
	if (!c) {
		cbor_bstr_content(env.manifest, &manifest_content);
		c = suit_manifest_parse(manifest_content, env.severable, env.severable_count, f, d);
	}
	if (!c)
		c = check_integrated(f, d);
	if (!c)
		c = suit_scope_check(opt, f, walk, d);
	if (!c) {
		facts_json_finish(f, opt, len);
		c = suit_dependencies_check(data, len, opt, f, walk, d);
	}
	if (c) {
		suit_facts_release(f);
		return c;
	}
	return SUIT_OK;
}

void suit_facts_release(struct suit_facts *f)
{
	suit_dependencies_release(f);
	json_decref(f->json);
	f->json = NULL;
}

enum suit_check suit_envelope_sever(const uint8_t *data, size_t len, const int64_t *keys,
				    unsigned key_count, uint8_t **ret, size_t *ret_len,
				    struct diag *d)
{
	struct suit_facts scratch = {0};
	struct envelope env = {0};
	struct cbor_span content, key, value;
	struct cbor_iter it;
	uint8_t *out, head[16];
	size_t used, head_len, kept = 0;
	enum suit_check c = envelope_split(data, len, &env, &scratch, d);

	if (c)
		return c;
	cbor_bstr_content(env.manifest, &content);
	CLEANUP_CBOR cbor_item_t *m = cbor_span_load(content);
	if (!m || !cbor_isa_map(m))
		return suit_fail(d, SUIT_CBOR_PARSE, "the manifest is not a CBOR map");
	/* Only a member whose digest is in the manifest may go. */
	for (unsigned i = 0; i < key_count; i++) {
		const cbor_item_t *mv = cbor_map_get_int(m, keys[i]);
		if (mv && !cbor_isa_array(mv))
			return suit_fail(
				d, SUIT_UNSUPPORTED,
				"member %lld is inline in this manifest and cannot be severed",
				(long long)keys[i]);
	}
	out = malloc(len);
	if (!out)
		return suit_fail(d, SUIT_UNSUPPORTED, "out of memory");
	/* Tag (if any) and a new map head, then the kept pairs verbatim. */
	used = (size_t)(env.map.p - data);
	memcpy(out, data, used);
	cbor_iter_init(env.map, CBOR_MAP, &it);
	while (cbor_iter_next(&it, &key, &value)) {
		int64_t k;
		bool drop = false;
		for (unsigned i = 0; i < key_count; i++)
			drop = drop || (cbor_span_int(key, &k) && k == keys[i]);
		kept += !drop;
	}
	head_len = cbor_encode_map_start(kept, head, sizeof(head));
	memcpy(out + used, head, head_len);
	used += head_len;
	cbor_iter_init(env.map, CBOR_MAP, &it);
	while (cbor_iter_next(&it, &key, &value)) {
		int64_t k;
		bool drop = false;
		for (unsigned i = 0; i < key_count; i++)
			drop = drop || (cbor_span_int(key, &k) && k == keys[i]);
		if (drop)
			continue;
		memcpy(out + used, key.p, key.len + value.len);
		used += key.len + value.len;
	}
	*ret = out;
	*ret_len = used;
	return SUIT_OK;
}
