/* libFuzzer target: SUIT envelopes (suit/envelope.c, suit/manifest.c,
 * suit/cose.c, suit/cbor.c): check with and without a required signature,
 * then sever payload-fetch, install and text and check the result again. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suit/suit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_FILE "tests/data/suit/suit-spec-examples-p256.pub.pem"

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
	return kr;
}

/* One check, with the invariants every caller relies on. */
static enum suit_check check(const uint8_t *data, size_t size, bool require_signature)
{
	struct suit_verify_options opt = {keyring_get(), require_signature};
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
	} else if (f->json) {
		abort(); /* released on failure */
	}
	suit_facts_release(f);
	free(f);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t sever_keys[] = {16, 20, 23};
	enum suit_check orig[2], severed[2];
	uint8_t *out = NULL;
	size_t out_len = 0;
	struct diag d = {0};

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
