#include "suit/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/crypto.h"
#include "suit/coswid.h"
#include "suit/encryption.h"

/* Paths through try-each alternatives followed at once, nesting of
 * try-each/run-sequence, decoded sequences kept alive, commands walked. */
#define MAX_STATES 16
#define MAX_NEST   8
#define MAX_LOADED 256
#define MAX_STEPS  100000

/* Manifest and envelope keys of severable members, with their names. */
static const struct {
	int64_t key;
	const char *name;
} severable_names[] = {
	{14, "coswid"},	       {15, "dependency-resolution"},
	{16, "payload-fetch"}, {18, "candidate-verification"},
	{20, "install"},       {23, "text"},
};

bool suit_digest_compute(int64_t alg, const uint8_t *data, size_t len, struct suit_digest *out)
{
	const EVP_MD *md = alg == COSE_ALG_SHA256 ? EVP_sha256()
			   : alg == -43		  ? EVP_sha384()
			   : alg == -44		  ? EVP_sha512()
						  : NULL;
	unsigned int n = 0;

	if (!md || EVP_Digest(data, len, out->bytes, &n, md, NULL) != 1)
		return false;
	out->alg = alg;
	out->len = n;
	return true;
}

bool suit_digest_from_item(const cbor_item_t *item, struct suit_digest *out)
{
	cbor_item_t **a;

	if (!item || !cbor_isa_array(item) || cbor_array_size(item) < 2)
		return false;
	a = cbor_array_handle(item);
	if (!cbor_item_int(a[0], &out->alg) || !cbor_isa_bytestring(a[1]) ||
	    !cbor_bytestring_is_definite(a[1]) || cbor_bytestring_length(a[1]) > SUIT_MAX_DIGEST)
		return false;
	out->len = cbor_bytestring_length(a[1]);
	memcpy(out->bytes, cbor_bytestring_handle(a[1]), out->len);
	return true;
}

static const char *digest_alg_name(int64_t alg)
{
	switch (alg) {
	case -16:
		return "sha-256";
	case -18:
		return "shake128";
	case -43:
		return "sha-384";
	case -44:
		return "sha-512";
	case -45:
		return "shake256";
	default:
		return "unknown";
	}
}

json_t *suit_digest_json(const struct suit_digest *dg)
{
	char hex[2 * SUIT_MAX_DIGEST + 1];

	hex_encode(dg->bytes, dg->len, hex);
	return json_pack("{s:s, s:I, s:s}", "alg", digest_alg_name(dg->alg), "alg_id",
			 (json_int_t)dg->alg, "value", hex);
}

/* ---- walking command sequences ---------------------------------------- */

struct params {
	bool has_digest, has_size, has_slot, assumed;
	struct suit_digest digest;
	uint64_t size;
	int64_t slot, device_slot;
	bool encrypted, has_source; /* encryption-info (19), source-component (22) */
	int64_t source;
	const char *uri; /* in a decoded item kept alive by the walk */
	size_t uri_len;
};

struct state {
	struct params c[SUIT_MAX_COMPONENTS];
	bool sel[SUIT_MAX_COMPONENTS];
};

struct walk {
	struct suit_facts *f;
	unsigned ncomp;
	json_t *digests[SUIT_MAX_COMPONENTS], *sizes[SUIT_MAX_COMPONENTS],
		*uris[SUIT_MAX_COMPONENTS];
	/* Per component: encryption info and where its image comes from
	 * (copy/swap/write), for the facts; which components hold ciphertext. */
	json_t *encryption[SUIT_MAX_COMPONENTS], *sources[SUIT_MAX_COMPONENTS];
	bool ciphertext[SUIT_MAX_COMPONENTS];
	cbor_item_t *loaded[MAX_LOADED];
	unsigned loaded_count;
	unsigned steps;
	struct diag *d;
	enum suit_check err;
};

struct state_set {
	struct state *s;
	unsigned n;
};

static enum suit_check walk_fail(struct walk *w, enum suit_check c, const char *why)
{
	if (!w->err) {
		w->err = c;
		diag_set(w->d, ERR_UNPROCESSABLE, "manifest", "%s", why);
	}
	return c;
}

static void json_add_unique(json_t *arr, json_t *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		if (json_equal(e, v)) {
			json_decref(v);
			return;
		}
	}
	json_array_append_new(arr, v);
}

/* ---- encrypted payloads, copies and CoSWID (issue 16) ------------------ */

/* suit-parameter-encryption-info (19) and source-component (22) on
 * component ci: the first is decoded for the facts (suit/encryption.c). */
static bool component_param(struct walk *w, unsigned ci, struct params *p, int64_t key,
			    const cbor_item_t *v)
{
	char why[200];

	if (key == 22) {
		if (!cbor_isa_uint(v) || cbor_get_int(v) >= w->ncomp) {
			walk_fail(w, SUIT_CBOR_PARSE, "source-component names no such component");
			return false;
		}
		p->has_source = true;
		p->source = (int64_t)cbor_get_int(v);
		return true;
	}
	struct diag ed = {0};
	json_t *info = NULL;
	enum err e = ERR_INVALID;
	if (cbor_isa_bytestring(v) && cbor_bytestring_is_definite(v))
		e = suit_encryption_info_decode(cbor_bytestring_handle(v),
						cbor_bytestring_length(v), &info, &ed);
	else
		diag_set(&ed, ERR_INVALID, "encryption-info", "it is not a bstr");
	if (e) {
		snprintf(why, sizeof(why), "encryption-info of component %u: %s", ci, ed.text);
		walk_fail(w, e == ERR_TOO_LARGE ? SUIT_UNSUPPORTED : SUIT_CBOR_PARSE, why);
		return false;
	}
	if (!w->encryption[ci])
		w->encryption[ci] = json_array();
	json_add_unique(w->encryption[ci], info);
	p->encrypted = true;
	return true;
}

/* directive-write (18), -copy (22), -swap (31): where a component's image
 * comes from; a copy that decrypts marks its source as ciphertext. */
static void record_source(struct walk *w, const struct state *st, int64_t cmd)
{
	for (unsigned ci = 0; ci < w->ncomp; ci++) {
		const struct params *p = &st->c[ci];
		json_t *o;

		if (!st->sel[ci])
			continue;
		o = json_pack("{s:s, s:b}", "directive",
			      cmd == 18	  ? "write"
			      : cmd == 22 ? "copy"
					  : "swap",
			      "decrypts", cmd != 31 && p->encrypted);
		if (cmd != 18)
			json_object_set_new(o, "from",
					    p->has_source ? json_integer((json_int_t)p->source)
							  : json_null());
		if (!w->sources[ci])
			w->sources[ci] = json_array();
		json_add_unique(w->sources[ci], o);
		if (cmd == 22 && p->encrypted && p->has_source)
			w->ciphertext[p->source] = true;
	}
}

/* Component i's extra facts; fetches into a component that a copy decrypts
 * hold ciphertext. */
static void component_facts_finish(struct walk *w, unsigned i, json_t *jc)
{
	json_object_set_new(jc, "encryption", w->encryption[i] ? w->encryption[i] : json_array());
	json_object_set_new(jc, "sources", w->sources[i] ? w->sources[i] : json_array());
	json_object_set_new(jc, "ciphertext", json_boolean(w->ciphertext[i]));
	w->encryption[i] = w->sources[i] = NULL;
	for (unsigned k = 0; k < w->f->image_count; k++)
		if (w->f->images[k].component == i && w->ciphertext[i])
			w->f->images[k].ciphertext = true;
}

/* suit-coswid (14), inline in the manifest (mv a bstr) or severed and in
 * the envelope (ev): decoded into facts "coswid" (suit/coswid.c). */
static enum suit_check coswid_facts(json_t *j, const cbor_item_t *mv,
				    const struct suit_severable *ev, struct diag *d)
{
	struct cbor_span c = {0};
	struct diag cd = {0};
	json_t *tag = NULL;
	enum err e;

	if (mv && cbor_isa_bytestring(mv) && cbor_bytestring_is_definite(mv))
		c = (struct cbor_span){cbor_bytestring_handle(mv), cbor_bytestring_length(mv)};
	else if (!ev || !cbor_bstr_content(ev->envelope_item, &c))
		return SUIT_OK;
	e = suit_coswid_decode(c.p, c.len, &tag, &cd);
	if (e) {
		diag_set(d, ERR_UNPROCESSABLE, "manifest", "suit-coswid (14): %s", cd.text);
		return e == ERR_TOO_LARGE ? SUIT_UNSUPPORTED : SUIT_CBOR_PARSE;
	}
	json_object_set_new(j, "coswid", tag);
	return SUIT_OK;
}

/* A bstr-wrapped command sequence, decoded and kept until the walk ends. */
static cbor_item_t *walk_load(struct walk *w, const cbor_item_t *bstr)
{
	cbor_item_t *it;

	if (!cbor_isa_bytestring(bstr) || !cbor_bytestring_is_definite(bstr)) {
		walk_fail(w, SUIT_CBOR_PARSE, "a command argument is not a bstr-wrapped sequence");
		return NULL;
	}
	if (w->loaded_count >= MAX_LOADED) {
		walk_fail(w, SUIT_UNSUPPORTED, "more nested command sequences than suitd walks");
		return NULL;
	}
	it = cbor_span_load(
		(struct cbor_span){cbor_bytestring_handle(bstr), cbor_bytestring_length(bstr)});
	if (!it || !cbor_isa_array(it) || cbor_array_size(it) % 2) {
		if (it)
			cbor_decref(&it);
		walk_fail(w, SUIT_CBOR_PARSE, "a command sequence is not an array of pairs");
		return NULL;
	}
	w->loaded[w->loaded_count++] = it;
	return it;
}

static void uuid_text(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

/* Apply one parameter map to the selected components of a state. */
static void apply_params(struct walk *w, struct state *st, const cbor_item_t *map, bool override)
{
	struct cbor_pair *pairs;
	size_t n;

	if (!cbor_isa_map(map)) {
		walk_fail(w, SUIT_CBOR_PARSE, "parameters are not a map");
		return;
	}
	pairs = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (unsigned ci = 0; ci < w->ncomp; ci++) {
		struct params *p = &st->c[ci];
		struct suit_component *comp = &w->f->components[ci];
		if (!st->sel[ci])
			continue;
		for (size_t i = 0; i < n; i++) {
			int64_t key;
			const cbor_item_t *v = pairs[i].value;
			if (!cbor_item_int(pairs[i].key, &key))
				continue;
			if (key == 1 && cbor_isa_bytestring(v) && cbor_bytestring_length(v) == 16) {
				comp->has_vendor = true;
				memcpy(comp->vendor, cbor_bytestring_handle(v), 16);
			} else if (key == 2 && cbor_isa_bytestring(v) &&
				   cbor_bytestring_length(v) == 16) {
				comp->has_class = true;
				memcpy(comp->class_id, cbor_bytestring_handle(v), 16);
			} else if (key == 3 && (override || !p->has_digest)) {
				CLEANUP_CBOR cbor_item_t *dg = NULL;
				if (cbor_isa_bytestring(v))
					dg = cbor_span_load(
						(struct cbor_span){cbor_bytestring_handle(v),
								   cbor_bytestring_length(v)});
				if (!suit_digest_from_item(dg, &p->digest)) {
					walk_fail(w, SUIT_CBOR_PARSE,
						  "image-digest is not a bstr-wrapped SUIT_Digest");
					return;
				}
				p->has_digest = true;
				json_add_unique(w->digests[ci], suit_digest_json(&p->digest));
			} else if (key == 5 && cbor_isa_uint(v) && (override || !p->has_slot)) {
				p->has_slot = true;
				p->slot = (int64_t)cbor_get_int(v);
			} else if (key == 14 && cbor_isa_uint(v) && (override || !p->has_size)) {
				p->has_size = true;
				p->size = cbor_get_int(v);
				if (p->size > (uint64_t)INT64_MAX) {
					walk_fail(w, SUIT_UNSUPPORTED,
						  "an image-size above 2^63-1");
					return;
				}
				json_add_unique(w->sizes[ci], json_integer((json_int_t)p->size));
			} else if (key == 21 && cbor_isa_string(v) && cbor_string_is_definite(v) &&
				   (override || !p->uri)) {
				if (cbor_string_length(v) > SUIT_MAX_URI) {
					walk_fail(w, SUIT_UNSUPPORTED,
						  "a uri is longer than 1024 bytes");
					return;
				}
				p->uri = (const char *)cbor_string_handle(v);
				p->uri_len = cbor_string_length(v);
				json_t *u = json_stringn(p->uri, p->uri_len);
				if (!u) {
					walk_fail(w, SUIT_CBOR_PARSE, "a uri is not valid UTF-8");
					return;
				}
				json_add_unique(w->uris[ci], u);
			} else if (key == 19 || key == 22) {
				if (!component_param(w, ci, p, key, v))
					return;
			}
		}
	}
}

static void record_fetch(struct walk *w, const struct state *st)
{
	for (unsigned ci = 0; ci < w->ncomp; ci++) {
		const struct params *p = &st->c[ci];
		struct suit_image img = {.component = ci};
		bool dup = false;

		if (!st->sel[ci])
			continue;
		img.has_digest = p->has_digest;
		img.digest = p->digest;
		img.has_size = p->has_size;
		img.size = p->size;
		img.has_slot = p->has_slot;
		img.slot = p->slot;
		img.encrypted = p->encrypted;
		if (p->uri)
			snprintf(img.uri, sizeof(img.uri), "%.*s", (int)p->uri_len, p->uri);
		for (unsigned i = 0; i < w->f->image_count && !dup; i++) {
			const struct suit_image *o = &w->f->images[i];
			dup = o->component == ci && o->has_digest == img.has_digest &&
			      o->has_size == img.has_size && o->size == img.size &&
			      o->has_slot == img.has_slot && o->slot == img.slot &&
			      o->encrypted == img.encrypted && o->digest.len == img.digest.len &&
			      memcmp(o->digest.bytes, img.digest.bytes, img.digest.len) == 0 &&
			      strcmp(o->uri, img.uri) == 0;
		}
		if (dup)
			continue;
		if (w->f->image_count >= SUIT_MAX_IMAGES) {
			walk_fail(w, SUIT_UNSUPPORTED, "more than 64 fetched images");
			return;
		}
		w->f->images[w->f->image_count++] = img;
	}
}

static bool set_index(struct walk *w, struct state *st, const cbor_item_t *arg)
{
	memset(st->sel, 0, sizeof(st->sel));
	if (cbor_item_is_true(arg)) {
		for (unsigned i = 0; i < w->ncomp; i++)
			st->sel[i] = true;
		return true;
	}
	if (cbor_isa_uint(arg)) {
		if (cbor_get_int(arg) >= w->ncomp)
			return false;
		st->sel[cbor_get_int(arg)] = true;
		return true;
	}
	if (cbor_isa_array(arg)) {
		for (size_t i = 0; i < cbor_array_size(arg); i++) {
			const cbor_item_t *e = cbor_array_handle(arg)[i];
			if (!cbor_isa_uint(e) || cbor_get_int(e) >= w->ncomp)
				return false;
			st->sel[cbor_get_int(e)] = true;
		}
		return true;
	}
	return false;
}

static void run_sequence(struct walk *w, const cbor_item_t *seq, struct state_set *set,
			 unsigned depth);

static void set_append(struct walk *w, struct state_set *out, const struct state *s)
{
	if (out->n >= MAX_STATES) {
		walk_fail(w, SUIT_UNSUPPORTED, "more than 16 alternative paths through try-each");
		return;
	}
	out->s[out->n++] = *s;
}

static void run_try_each(struct walk *w, const cbor_item_t *arg, struct state_set *set,
			 unsigned depth)
{
	struct state_set out = {calloc(MAX_STATES, sizeof(struct state)), 0};
	size_t n;
	bool trailing_nil;

	if (!out.s) {
		walk_fail(w, SUIT_UNSUPPORTED, "out of memory");
		return;
	}
	if (!cbor_isa_array(arg) || cbor_array_size(arg) < 1) {
		free(out.s);
		walk_fail(w, SUIT_CBOR_PARSE, "try-each needs an array of sequences");
		return;
	}
	n = cbor_array_size(arg);
	trailing_nil = cbor_item_is_null(cbor_array_handle(arg)[n - 1]);
	for (unsigned si = 0; si < set->n && !w->err; si++) {
		for (size_t a = 0; a < n && !w->err; a++) {
			const cbor_item_t *alt = cbor_array_handle(arg)[a];
			if (cbor_item_is_null(alt))
				continue;
			const cbor_item_t *seq = walk_load(w, alt);
			struct state_set one = {calloc(MAX_STATES, sizeof(struct state)), 1};
			if (!seq || !one.s) {
				free(one.s);
				break;
			}
			one.s[0] = set->s[si];
			run_sequence(w, seq, &one, depth + 1);
			for (unsigned k = 0; k < one.n && !w->err; k++)
				set_append(w, &out, &one.s[k]);
			free(one.s);
		}
		if (trailing_nil && !w->err)
			set_append(w, &out, &set->s[si]);
	}
	memcpy(set->s, out.s, sizeof(struct state) * out.n);
	set->n = out.n;
	free(out.s);
}

static void run_sequence(struct walk *w, const cbor_item_t *seq, struct state_set *set,
			 unsigned depth)
{
	size_t n = cbor_array_size(seq);
	cbor_item_t **items = cbor_array_handle(seq);

	if (depth > MAX_NEST) {
		walk_fail(w, SUIT_UNSUPPORTED, "command sequences nested more than 8 deep");
		return;
	}
	for (size_t i = 0; i + 1 < n && !w->err; i += 2) {
		int64_t cmd;
		const cbor_item_t *arg = items[i + 1];

		if (++w->steps > MAX_STEPS) {
			walk_fail(w, SUIT_UNSUPPORTED, "too many commands to walk");
			return;
		}
		if (!cbor_item_int(items[i], &cmd)) {
			walk_fail(w, SUIT_CBOR_PARSE, "a command is not an integer");
			return;
		}
		switch (cmd) {
		case 12: /* set-component-index */
			for (unsigned s = 0; s < set->n; s++)
				if (!set_index(w, &set->s[s], arg)) {
					walk_fail(w, SUIT_CBOR_PARSE,
						  "set-component-index names no such component");
					return;
				}
			break;
		case 19: /* set-parameters */
		case 20: /* override-parameters */
			for (unsigned s = 0; s < set->n; s++)
				apply_params(w, &set->s[s], arg, cmd == 20);
			break;
		case 15: /* try-each */
			run_try_each(w, arg, set, depth);
			break;
		case 32: { /* run-sequence */
			const cbor_item_t *sub = walk_load(w, arg);
			if (sub)
				run_sequence(w, sub, set, depth + 1);
			break;
		}
		case 21: /* fetch */
			for (unsigned s = 0; s < set->n; s++)
				record_fetch(w, &set->s[s]);
			break;
		case 18: /* write */
		case 22: /* copy */
		case 31: /* swap */
			for (unsigned s = 0; s < set->n; s++)
				record_source(w, &set->s[s], cmd);
			break;
		case 5: { /* condition-component-slot: an assumption about the device */
			unsigned keep = 0;
			for (unsigned s = 0; s < set->n; s++) {
				struct state *st = &set->s[s];
				bool alive = true;
				for (unsigned ci = 0; ci < w->ncomp; ci++) {
					struct params *p = &st->c[ci];
					if (!st->sel[ci] || !p->has_slot)
						continue;
					if (p->assumed && p->device_slot != p->slot)
						alive = false;
					p->assumed = true;
					p->device_slot = p->slot;
				}
				if (alive)
					set->s[keep++] = *st;
			}
			set->n = keep;
			break;
		}
		default: /* conditions and directives that fetch nothing */
			break;
		}
	}
}

/* ---- the manifest ----------------------------------------------------- */

static json_t *component_id_json(const cbor_item_t *id)
{
	json_t *arr = json_array();

	for (size_t i = 0; cbor_isa_array(id) && i < cbor_array_size(id); i++) {
		const cbor_item_t *e = cbor_array_handle(id)[i];
		char hex[2 * 64 + 1];
		if (!cbor_isa_bytestring(e) || cbor_bytestring_length(e) > 64) {
			json_decref(arr);
			return NULL;
		}
		hex_encode(cbor_bytestring_handle(e), cbor_bytestring_length(e), hex);
		json_array_append_new(arr, json_string(hex));
	}
	return arr;
}

static bool has_duplicate_int_keys(const cbor_item_t *map)
{
	size_t n = cbor_map_size(map);
	struct cbor_pair *p = cbor_map_handle(map);

	if (n > 256)
		return true; /* no SUIT map is that large; refuse rather than scan */
	for (size_t i = 0; i < n; i++) {
		int64_t a, b;
		if (!cbor_item_int(p[i].key, &a))
			continue;
		for (size_t j = i + 1; j < n; j++)
			if (cbor_item_int(p[j].key, &b) && a == b)
				return true;
	}
	return false;
}

static cbor_item_t *load_bstr_item(const cbor_item_t *bstr)
{
	if (!bstr || !cbor_isa_bytestring(bstr) || !cbor_bytestring_is_definite(bstr))
		return NULL;
	return cbor_span_load(
		(struct cbor_span){cbor_bytestring_handle(bstr), cbor_bytestring_length(bstr)});
}

static const char *text_key_name(int64_t k, bool component)
{
	static const char *const manifest_keys[] = {
		NULL, "manifest-description", "update-description", "json-source", "yaml-source"};
	static const char *const component_keys[] = {NULL,
						     "vendor-name",
						     "model-name",
						     "vendor-domain",
						     "model-info",
						     "component-description",
						     "component-version",
						     "version-required",
						     "current-version"};

	if (component)
		return k >= 1 && k <= 8 ? component_keys[k] : NULL;
	return k >= 1 && k <= 4 ? manifest_keys[k] : NULL;
}

static json_t *text_entries(const cbor_item_t *map, bool component)
{
	json_t *o = json_object();

	for (size_t i = 0; cbor_isa_map(map) && i < cbor_map_size(map); i++) {
		struct cbor_pair p = cbor_map_handle(map)[i];
		int64_t k;
		const char *name;
		if (cbor_item_int(p.key, &k) && (name = text_key_name(k, component)) &&
		    cbor_isa_string(p.value) && cbor_string_is_definite(p.value)) {
			json_t *s = json_stringn((const char *)cbor_string_handle(p.value),
						 cbor_string_length(p.value));
			if (s)
				json_object_set_new(o, name, s);
		}
	}
	return o;
}

/* SUIT_Text_Map: { lang => { 1..4 => tstr, component-id => { 1..8 => tstr } } } */
static json_t *text_json(const cbor_item_t *text)
{
	json_t *out = json_object();

	for (size_t i = 0; cbor_isa_map(text) && i < cbor_map_size(text); i++) {
		struct cbor_pair p = cbor_map_handle(text)[i];
		char lang[64];
		json_t *entry, *comps = json_array();
		if (!cbor_isa_string(p.key) || cbor_string_length(p.key) >= sizeof(lang) ||
		    !cbor_isa_map(p.value)) {
			json_decref(comps);
			continue;
		}
		snprintf(lang, sizeof(lang), "%.*s", (int)cbor_string_length(p.key),
			 (const char *)cbor_string_handle(p.key));
		entry = text_entries(p.value, false);
		for (size_t j = 0; j < cbor_map_size(p.value); j++) {
			struct cbor_pair c = cbor_map_handle(p.value)[j];
			json_t *id;
			if (!cbor_isa_array(c.key) || !(id = component_id_json(c.key)))
				continue;
			json_t *ce = text_entries(c.value, true);
			json_object_set_new(ce, "component", id);
			json_array_append_new(comps, ce);
		}
		if (json_array_size(comps))
			json_object_set_new(entry, "components", comps);
		else
			json_decref(comps);
		json_object_set_new(out, lang, entry);
	}
	return out;
}

/* suit-dependencies entry: index and, when given, its encoded prefix. */
static bool record_dependency(struct suit_facts *f, unsigned index, const cbor_item_t *prefix)
{
	struct suit_dependency *dep;
	unsigned char *buf = NULL;
	size_t size = 0, len = 0;

	if (f->dependency_count >= SUIT_MAX_DEPENDENCIES)
		return false;
	dep = &f->dependencies[f->dependency_count];
	memset(dep, 0, sizeof(*dep));
	dep->component = index;
	if (prefix) {
		len = cbor_serialize_alloc(prefix, &buf, &size);
		if (len && len <= sizeof(dep->prefix))
			memcpy(dep->prefix, buf, len);
		free(buf);
		if (!len || len > sizeof(dep->prefix))
			return false;
		dep->prefix_len = len;
	}
	f->dependency_count++;
	return true;
}

/* suit-manifest-component-id (5): a SUIT_Component_Identifier, kept encoded
 * and shown in the facts. */
static bool record_manifest_component_id(struct suit_facts *f, const cbor_item_t *id)
{
	unsigned char *buf = NULL;
	size_t size = 0, len;
	json_t *j;

	if (!id) {
		json_object_set_new(f->json, "manifest_component_id", json_null());
		return true;
	}
	if (!cbor_isa_array(id) || !(j = component_id_json(id)))
		return false;
	len = cbor_serialize_alloc(id, &buf, &size);
	if (len && len <= sizeof(f->manifest_component_id)) {
		memcpy(f->manifest_component_id, buf, len);
		f->manifest_component_id_len = len;
	}
	free(buf);
	if (!f->manifest_component_id_len) {
		json_decref(j);
		return false;
	}
	json_object_set_new(f->json, "manifest_component_id", j);
	return true;
}

static const struct suit_severable *find_severable(const struct suit_severable *sev, unsigned n,
						   int64_t key)
{
	for (unsigned i = 0; i < n; i++)
		if (sev[i].key == key && sev[i].envelope_item.len)
			return &sev[i];
	return NULL;
}

enum suit_check suit_manifest_parse(struct cbor_span manifest_content,
				    const struct suit_severable *severable,
				    unsigned severable_count, struct suit_facts *f, struct diag *d)
{
	CLEANUP_CBOR cbor_item_t *m = cbor_span_load(manifest_content);
	CLEANUP_CBOR cbor_item_t *common = NULL;
	cbor_item_t *sequences[24] = {NULL}; /* decoded sequences by manifest key */
	CLEANUP_CBOR cbor_item_t *text = NULL;
	struct walk w = {.f = f, .d = d};
	json_t *members = json_object(), *j = f->json;
	const cbor_item_t *v;
	int64_t key;

#define FAIL(check, ...)                                                 \
	do {                                                             \
		diag_set(d, ERR_UNPROCESSABLE, "manifest", __VA_ARGS__); \
		w.err = (check);                                         \
		goto out;                                                \
	} while (0)

	if (!m || !cbor_isa_map(m))
		FAIL(SUIT_CBOR_PARSE, "the manifest is not a CBOR map");
	if (has_duplicate_int_keys(m))
		FAIL(SUIT_CBOR_PARSE, "the manifest has a duplicate key");
	/* Encodings of earlier drafts (suit.md §11) misparse silently: refuse. */
	for (int64_t old = 10; old <= 17; old++) {
		if (old == 14 || old == 15 || old == 16)
			continue;
		if (cbor_map_get_int(m, old))
			FAIL(SUIT_OBSOLETE_ENCODING,
			     "manifest key %lld is %s: this manifest was encoded for an obsolete "
			     "draft; re-encode it for draft-ietf-suit-manifest-34 or later",
			     (long long)old,
			     old == 17 ? "install before draft -29 (now 20)"
				       : "a sequence of drafts before -18 (now 7, 8, 9, 23)");
	}
	if (!cbor_item_int(cbor_map_get_int(m, 1), &key))
		FAIL(SUIT_CBOR_PARSE, "the manifest has no manifest-version (1)");
	if (key != 1)
		FAIL(SUIT_MANIFEST_VERSION, "manifest-version %lld is not supported (only 1)",
		     (long long)key);
	f->version = 1;
	v = cbor_map_get_int(m, 2);
	if (!v || !cbor_isa_uint(v))
		FAIL(SUIT_CBOR_PARSE, "the manifest has no unsigned manifest-sequence-number (2)");
	f->sequence = cbor_get_int(v);
	if (f->sequence > (uint64_t)INT64_MAX)
		FAIL(SUIT_UNSUPPORTED, "sequence numbers above 2^63-1 are not supported");
	common = load_bstr_item(cbor_map_get_int(m, 3));
	if (!common || !cbor_isa_map(common) || has_duplicate_int_keys(common))
		FAIL(SUIT_CBOR_PARSE, "the manifest has no bstr-wrapped common map (3)");
	v = cbor_map_get_int(m, 4);
	if (v && cbor_isa_string(v) && cbor_string_is_definite(v)) {
		json_t *ref =
			json_stringn((const char *)cbor_string_handle(v), cbor_string_length(v));
		json_object_set_new(j, "reference_uri", ref ? ref : json_null());
	} else {
		json_object_set_new(j, "reference_uri", json_null());
	}

	/* Components and dependencies. */
	const cbor_item_t *comps = cbor_map_get_int(common, 2), *deps = cbor_map_get_int(common, 1);
	json_t *jcomps = json_array(), *jdeps = json_array();
	json_object_set_new(j, "components", jcomps);
	json_object_set_new(j, "dependencies", jdeps);
	if (comps && (!cbor_isa_array(comps) || cbor_array_size(comps) > SUIT_MAX_COMPONENTS))
		FAIL(cbor_isa_array(comps) ? SUIT_UNSUPPORTED : SUIT_CBOR_PARSE,
		     "components must be an array of at most %d identifiers", SUIT_MAX_COMPONENTS);
	w.ncomp = comps ? (unsigned)cbor_array_size(comps) : 0;
	for (size_t i = 0; deps && cbor_isa_map(deps) && i < cbor_map_size(deps); i++) {
		struct cbor_pair p = cbor_map_handle(deps)[i];
		json_t *prefix = NULL;
		if (!cbor_isa_uint(p.key) || cbor_get_int(p.key) >= SUIT_MAX_COMPONENTS)
			FAIL(SUIT_UNSUPPORTED, "dependency indexes must be below %d",
			     SUIT_MAX_COMPONENTS);
		if (cbor_get_int(p.key) + 1 > w.ncomp)
			w.ncomp = (unsigned)cbor_get_int(p.key) + 1;
		const cbor_item_t *pre = cbor_map_get_int(p.value, 1);
		if (pre)
			prefix = component_id_json(pre);
		json_array_append_new(jdeps, json_pack("{s:I, s:o}", "index",
						       (json_int_t)cbor_get_int(p.key), "prefix",
						       prefix ? prefix : json_null()));
		if (!record_dependency(f, (unsigned)cbor_get_int(p.key), prefix ? pre : NULL))
			FAIL(SUIT_DEPENDENCY_LIMIT,
			     "more than %d dependencies or a dependency-prefix over 128 bytes",
			     SUIT_MAX_DEPENDENCIES);
	}
	if (!record_manifest_component_id(f, cbor_map_get_int(m, 5)))
		FAIL(SUIT_CBOR_PARSE, "manifest-component-id (5) is not a component identifier "
				      "of at most 128 bytes");
	f->component_count = w.ncomp;
	for (unsigned i = 0; i < w.ncomp; i++) {
		w.digests[i] = json_array();
		w.sizes[i] = json_array();
		w.uris[i] = json_array();
		if (comps && i < cbor_array_size(comps)) {
			const cbor_item_t *id = cbor_array_handle(comps)[i];
			unsigned char *buf = NULL;
			size_t size = 0, len;
			json_t *probe = cbor_isa_array(id) ? component_id_json(id) : NULL;
			if (!probe)
				FAIL(SUIT_CBOR_PARSE, "component %u has a malformed identifier", i);
			json_decref(probe);
			len = cbor_serialize_alloc(id, &buf, &size);
			if (len && len <= sizeof(f->components[i].id)) {
				memcpy(f->components[i].id, buf, len);
				f->components[i].id_len = len;
			}
			free(buf);
			if (!f->components[i].id_len)
				FAIL(SUIT_UNSUPPORTED,
				     "component %u has an identifier over %zu encoded bytes", i,
				     sizeof(f->components[i].id));
		}
	}

	/* Severable members: inline (bstr) or severed (digest) in the manifest;
	 * a copy in the envelope must match that digest. */
	for (size_t i = 0; i < sizeof(severable_names) / sizeof(severable_names[0]); i++) {
		int64_t k = severable_names[i].key;
		const cbor_item_t *mv = cbor_map_get_int(m, k);
		const struct suit_severable *ev = find_severable(severable, severable_count, k);
		const char *state = NULL;
		cbor_item_t *content = NULL;

		if (mv && cbor_isa_bytestring(mv)) {
			if (ev)
				FAIL(SUIT_SEVERED_DIGEST_MISMATCH,
				     "the envelope carries %s (%lld), which the manifest does not "
				     "sever",
				     severable_names[i].name, (long long)k);
			state = "inline";
			content = load_bstr_item(mv);
		} else if (mv) {
			struct suit_digest want, got;
			if (!suit_digest_from_item(mv, &want))
				FAIL(SUIT_CBOR_PARSE,
				     "severable %s is neither a bstr nor a SUIT_Digest",
				     severable_names[i].name);
			if (ev) {
				if (!suit_digest_compute(want.alg, ev->envelope_item.p,
							 ev->envelope_item.len, &got))
					FAIL(SUIT_DIGEST_ALG_UNSUPPORTED,
					     "digest algorithm %lld of %s is not supported",
					     (long long)want.alg, severable_names[i].name);
				if (got.len != want.len ||
				    memcmp(got.bytes, want.bytes, got.len) != 0)
					FAIL(SUIT_SEVERED_DIGEST_MISMATCH,
					     "the envelope's %s (%lld) does not match its digest "
					     "in the "
					     "manifest",
					     severable_names[i].name, (long long)k);
				struct cbor_span c;
				if (cbor_bstr_content(ev->envelope_item, &c))
					content = cbor_span_load(c);
				state = "severed, in envelope";
			} else {
				state = "severed";
			}
		} else if (ev) {
			FAIL(SUIT_SEVERED_DIGEST_MISMATCH,
			     "the envelope carries %s (%lld), which the manifest does not name",
			     severable_names[i].name, (long long)k);
		}
		if (state)
			json_object_set_new(members, severable_names[i].name, json_string(state));
		if (state && strcmp(state, "severed") != 0 && !content)
			FAIL(SUIT_CBOR_PARSE, "%s (%lld) is not bstr-wrapped CBOR",
			     severable_names[i].name, (long long)k);
		if (k == 23)
			text = content;
		else if (k == 14) {
			if (content) /* a CoSWID, not a command sequence */
				cbor_decref(&content);
			if (state && strcmp(state, "severed") != 0 &&
			    (w.err = coswid_facts(j, mv, ev, d)) != SUIT_OK)
				goto out;
		} else {
			sequences[k] = content;
		}
	}
	for (int64_t k = 7; k <= 9; k++) {
		v = cbor_map_get_int(m, k);
		if (v) {
			sequences[k] = load_bstr_item(v);
			if (!sequences[k])
				FAIL(SUIT_CBOR_PARSE, "sequence %lld is not a bstr-wrapped array",
				     (long long)k);
			json_object_set_new(members,
					    k == 7   ? "validate"
					    : k == 8 ? "load"
						     : "invoke",
					    json_string("inline"));
		}
	}
	for (int k = 0; k < 24; k++)
		if (sequences[k] &&
		    (!cbor_isa_array(sequences[k]) || cbor_array_size(sequences[k]) % 2))
			FAIL(SUIT_CBOR_PARSE, "sequence %d is not an array of command pairs", k);
	json_object_set_new(j, "members", members);
	members = NULL;
	json_object_set_new(j, "text", text ? text_json(text) : json_object());

	/* Walk: shared sequence, then the update procedure (payload-fetch,
	 * install, validate) and the invocation procedure (validate, load,
	 * invoke), each from the state the shared sequence leaves. */
	{
		struct state_set base = {calloc(MAX_STATES, sizeof(struct state)), 1};
		/* dependency-resolution first: what it sets stays for install */
		static const int chains[2][4] = {{15, 16, 20, 7}, {7, 8, 9, 0}};
		const cbor_item_t *shared = NULL;
		if (!base.s)
			FAIL(SUIT_UNSUPPORTED, "out of memory");
		if (w.ncomp)
			base.s[0].sel[0] = true; /* one component needs no set-component-index */
		v = cbor_map_get_int(common, 4);
		if (v && !(shared = walk_load(&w, v)))
			w.err = w.err ? w.err : SUIT_CBOR_PARSE;
		if (shared && !w.err)
			run_sequence(&w, shared, &base, 0);
		for (int c = 0; c < 2 && !w.err; c++) {
			struct state_set set = {calloc(MAX_STATES, sizeof(struct state)), base.n};
			if (!set.s)
				break;
			memcpy(set.s, base.s, sizeof(struct state) * base.n);
			for (int s = 0; s < 4 && !w.err; s++)
				if (chains[c][s] && sequences[chains[c][s]])
					run_sequence(&w, sequences[chains[c][s]], &set, 0);
			free(set.s);
		}
		free(base.s);
		if (w.err)
			goto out;
	}
	for (unsigned i = 0; i < w.ncomp; i++) {
		struct suit_component *c = &f->components[i];
		char uuid[37];
		json_t *jc = json_pack("{s:I}", "index", (json_int_t)i);
		if (comps && i < cbor_array_size(comps))
			json_object_set_new(jc, "id",
					    component_id_json(cbor_array_handle(comps)[i]));
		else
			json_object_set_new(jc, "dependency", json_true());
		if (c->has_vendor) {
			uuid_text(c->vendor, uuid);
			json_object_set_new(jc, "vendor_id", json_string(uuid));
		}
		if (c->has_class) {
			uuid_text(c->class_id, uuid);
			json_object_set_new(jc, "class_id", json_string(uuid));
		}
		json_object_set_new(jc, "digests", w.digests[i]);
		json_object_set_new(jc, "sizes", w.sizes[i]);
		json_object_set_new(jc, "uris", w.uris[i]);
		w.digests[i] = w.sizes[i] = w.uris[i] = NULL;
		component_facts_finish(&w, i, jc);
		json_array_append_new(jcomps, jc);
	}
out:
#undef FAIL
	json_decref(members);
	for (unsigned i = 0; i < SUIT_MAX_COMPONENTS; i++) {
		json_decref(w.digests[i]);
		json_decref(w.sizes[i]);
		json_decref(w.uris[i]);
		json_decref(w.encryption[i]);
		json_decref(w.sources[i]);
	}
	for (int k = 0; k < 24; k++)
		if (sequences[k])
			cbor_decref(&sequences[k]);
	for (unsigned i = 0; i < w.loaded_count; i++)
		cbor_decref(&w.loaded[i]);
	return w.err;
}
