/* libFuzzer target: SUIT envelopes (suit/envelope.c, suit/manifest.c,
 * suit/cose.c, suit/cbor.c): check with and without a required signature,
 * then sever payload-fetch, install and text and check the result again. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suit/coswid.h"
#include "suit/encryption.h"
#include "suit/suit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_FILE    "tests/data/suit/suit-spec-examples-p256.pub.pem"
#define TD_KEY_FILE "tests/data/suit/trust-domains/trust-domains-examples-p256.pub.pem"

/* The trust anchor that signs the spec examples (the seed corpus), so the
 * signed seeds reach the end of the check. Built once and kept for the life
 * of the process; a key that cannot be loaded leaves the keyring empty. */
static const struct suit_keyring *keyring_get(void)
{
	static struct suit_keyring *kr;
	static bool ready;
	const char *src = getenv("SUITD_SRC");
	char path[4096];
	struct diag d = {0};

	if (ready)
		return kr;
	ready = true;
	if (suit_keyring_new(&kr) != ERR_OK) {
		kr = NULL; /* the check treats a NULL keyring as an empty one */
		return kr;
	}
	if (src && *src)
		snprintf(path, sizeof(path), "%s/%s", src, KEY_FILE);
	else
		snprintf(path, sizeof(path), "%s", KEY_FILE);
	if (suit_keyring_add_pem(kr, path, &d) != ERR_OK)
		fprintf(stderr, "fuzz_envelope: no trust anchor (%s); signatures stay unverified\n",
			d.text);
	/* The trust-domains draft's key, scoped first and then unscoped, so
	 * that its signed seeds reach the dependency walk (suit/dependencies.c)
	 * and the scope check looks for the unscoped entry of the same key. */
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s%s%s", src && *src ? src : "",
			 src && *src ? "/" : "", TD_KEY_FILE, i ? "" : " prefix=dependent.suit");
		if (suit_keyring_add_anchor(kr, path, &d) != ERR_OK)
			fprintf(stderr, "fuzz_envelope: no trust-domains anchor (%s)\n", d.text);
	}
	return kr;
}

/* Integrated dependencies of an accepted envelope were verified, and their
 * manifest digest is the one the dependent gives, at every level. */
static void check_dependencies(const struct suit_facts *f, unsigned depth)
{
	if (depth > SUIT_DEFAULT_DEP_DEPTH || f->dependency_count > SUIT_MAX_DEPENDENCIES)
		abort();
	for (unsigned i = 0; i < f->dependency_count; i++) {
		const struct suit_dependency *dep = &f->dependencies[i];
		if (dep->integrated != (dep->uri[0] == '#') ||
		    dep->integrated != (dep->facts != NULL))
			abort();
		if (!dep->facts)
			continue;
		if (!dep->has_digest || dep->digest.len != dep->facts->manifest_digest.len ||
		    memcmp(dep->digest.bytes, dep->facts->manifest_digest.bytes, dep->digest.len))
			abort();
		check_dependencies(dep->facts, depth + 1);
	}
}

/* One check, with the invariants every caller relies on. */
static enum suit_check check(const uint8_t *data, size_t size, bool require_signature)
{
	struct suit_verify_options opt = {.keyring = keyring_get(),
					  .require_signature = require_signature};
	struct suit_facts *f = malloc(sizeof(*f)); /* large: keep it off the stack */
	struct diag d = {0};
	enum suit_check c;

	if (!f)
		return SUIT_UNSUPPORTED;
	c = suit_envelope_check(data, size, &opt, f, &d);
	if ((unsigned)c >= SUIT__COUNT || !suit_check_slug(c))
		abort();
	if (memchr(d.text, '\0', sizeof(d.text)) == NULL ||
	    memchr(d.field, '\0', sizeof(d.field)) == NULL)
		abort();
	if (c == SUIT_OK) {
		if (!f->json || !json_is_object(f->json) || !json_object_get(f->json, "digest"))
			abort();
		if (f->component_count > SUIT_MAX_COMPONENTS || f->image_count > SUIT_MAX_IMAGES ||
		    f->signer_count > SUIT_MAX_SIGNERS || f->integrated_count > SUIT_MAX_INTEGRATED)
			abort();
		/* A required signature means one block verified with an anchor. */
		bool verified = false;
		for (unsigned i = 0; i < f->signer_count; i++)
			verified = verified ||
				   (f->signers[i].result == SUIT_OK && f->signers[i].anchor >= 0);
		if (require_signature && !verified)
			abort();
		check_dependencies(f, 0);
	} else if (f->json) {
		abort(); /* released on failure */
	}
	suit_facts_release(f);
	free(f);
	return c;
}

/* The CoSWID and encryption-info decoders (suit/coswid.c,
 * suit/encryption.c) on the raw input too: inside an envelope they are
 * reached only behind a valid manifest. A result is an object, or nothing
 * and a reason. */
static void member_decoders(const uint8_t *data, size_t size)
{
	enum err (*const decode[])(const uint8_t *, size_t, json_t **, struct diag *) = {
		suit_coswid_decode, suit_encryption_info_decode};

	for (size_t i = 0; i < sizeof(decode) / sizeof(decode[0]); i++) {
		json_t *j = NULL;
		struct diag d = {0};
		enum err e = decode[i](data, size, &j, &d);
		if ((e == ERR_OK) != (j != NULL) || (j && !json_is_object(j)) ||
		    (e && (!d.text[0] || memchr(d.text, '\0', sizeof(d.text)) == NULL)))
			abort();
		json_decref(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t sever_keys[] = {16, 20, 23};
	enum suit_check orig[2], severed[2];
	uint8_t *out = NULL;
	size_t out_len = 0;
	struct diag d = {0};

	member_decoders(data, size);
	orig[0] = check(data, size, false);
	orig[1] = check(data, size, true);
	/* A required signature can only refuse more. */
	if (orig[1] == SUIT_OK && orig[0] != SUIT_OK)
		abort();

	if (suit_envelope_sever(data, size, sever_keys,
				(unsigned)(sizeof(sever_keys) / sizeof(sever_keys[0])), &out,
				&out_len, &d) != SUIT_OK)
		return 0;
	if (!out || out_len > size)
		abort();
	severed[0] = check(out, out_len, false);
	severed[1] = check(out, out_len, true);
	/* Severing keeps the signature valid: what verified still verifies. */
	for (int i = 0; i < 2; i++)
		if (orig[i] == SUIT_OK && severed[i] != SUIT_OK) {
			fprintf(stderr,
				"fuzz_envelope: severed copy fails (%s, require_signature=%d)\n",
				suit_check_slug(severed[i]), i);
			abort();
		}
	free(out);
	return 0;
}
