#include "api/manifests.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/deployments.h"
#include "api/input.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "storage/manifests.h"
#include "storage/payloads.h"
#include "suit/dependencies.h"

/* ---- policy ------------------------------------------------------------ */

struct manifest_policy {
	_Atomic int refs;
	struct suit_keyring *keyring;
	bool require_signature;
	bool allow_external_uri;
	uint64_t max_size;
	unsigned max_dependency_depth;
	uint64_t max_dependency_size;
};

struct manifest_policy_holder {
	pthread_mutex_t lock;
	struct manifest_policy *current;
};

enum err manifest_policy_new(const struct config *config, struct manifest_policy **ret,
			     struct diag *d)
{
	struct manifest_policy *p = calloc(1, sizeof(*p));
	enum err e = p ? suit_keyring_new(&p->keyring) : ERR_NOMEM;

	/* A file that does not load is a config error at the line naming it. */
	for (unsigned i = 0; !e && i < config->manifests.trust_anchors.count; i++)
		if ((e = suit_keyring_add_anchor(p->keyring,
						 config->manifests.trust_anchors.items[i], d)))
			config_diag_key(config, d, "manifests", "trust_anchor", i);
	for (unsigned i = 0; !e && i < config->manifests.hmac_keys.count; i++)
		if ((e = suit_keyring_add_hmac(p->keyring, config->manifests.hmac_keys.items[i],
					       d)))
			config_diag_key(config, d, "manifests", "hmac_key", i);
	if (e) {
		if (p)
			suit_keyring_free(p->keyring);
		free(p);
		return e;
	}
	atomic_init(&p->refs, 1);
	p->require_signature = config->manifests.require_signature;
	p->allow_external_uri = config->manifests.allow_external_uri;
	p->max_size = config->manifests.max_size;
	p->max_dependency_depth = config->manifests.dependency_max_depth;
	p->max_dependency_size = config->manifests.dependency_max_size;
	*ret = p;
	return ERR_OK;
}

void manifest_policy_put(struct manifest_policy *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
		suit_keyring_free(p->keyring);
		free(p);
	}
}

unsigned manifest_policy_anchor_count(const struct manifest_policy *p)
{
	return suit_keyring_count(p->keyring);
}

enum err manifest_policy_holder_new(struct manifest_policy *initial,
				    struct manifest_policy_holder **ret)
{
	struct manifest_policy_holder *h = calloc(1, sizeof(*h));

	if (!h)
		return ERR_NOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->current = initial;
	*ret = h;
	return ERR_OK;
}

void manifest_policy_holder_free(struct manifest_policy_holder *h)
{
	if (!h)
		return;
	manifest_policy_put(h->current);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

struct manifest_policy *manifest_policy_get(struct manifest_policy_holder *h)
{
	struct manifest_policy *p;

	pthread_mutex_lock(&h->lock);
	p = h->current;
	atomic_fetch_add(&p->refs, 1);
	pthread_mutex_unlock(&h->lock);
	return p;
}

void manifest_policy_swap(struct manifest_policy_holder *h, struct manifest_policy *fresh)
{
	struct manifest_policy *old;

	pthread_mutex_lock(&h->lock);
	old = h->current;
	h->current = fresh;
	pthread_mutex_unlock(&h->lock);
	manifest_policy_put(old);
}

/* ---- acceptance -------------------------------------------------------- */

#define PAYLOAD_PATH  "/device/v1/payloads/"
#define MANIFEST_PATH "/device/v1/manifests/"

/* A URI served by suitd: PUBLIC_URL<path><hex> (any origin when [server]
 * public_url is empty), hex of exactly len bytes. */
static bool uri_is_ours_at(const char *uri, const char *public_url, const char *path_prefix,
			   uint8_t *out, size_t len)
{
	const char *path = strstr(uri, path_prefix);
	size_t base;

	if (!path)
		return false;
	if (public_url && public_url[0]) {
		base = strlen(public_url);
		while (base && public_url[base - 1] == '/')
			base--;
		if ((size_t)(path - uri) != base || strncmp(uri, public_url, base) != 0)
			return false;
	}
	path += strlen(path_prefix);
	return strlen(path) == 2 * len && hex_decode(path, out, len);
}

static bool uri_is_ours(const char *uri, const char *public_url, uint8_t sha[SHA256_LEN])
{
	return uri_is_ours_at(uri, public_url, PAYLOAD_PATH, sha, SHA256_LEN);
}

/* The Firmware Server serves every form of the envelope, so it needs the
 * members that say what to fetch; a severed text is fine. */
static enum suit_check require_fetching_members(const struct suit_facts *facts, struct diag *d)
{
	/* dependency-resolution: where a dependent fetches its dependencies,
	 * whose digests suitd checks (suit/dependencies.c). */
	static const char *const needed[] = {"payload-fetch", "install", "dependency-resolution"};
	json_t *members = json_object_get(facts->json, "members");

	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		const char *state = json_string_value(json_object_get(members, needed[i]));
		if (state && strcmp(state, "severed") == 0)
			return suit_fail(
				d, SUIT_SEVERED_MEMBER_MISSING,
				"%s is severed and not in the envelope: upload the full envelope "
				"(suitd severs it for devices on request)",
				needed[i]);
	}
	return SUIT_OK;
}

struct accept {
	struct storage *storage;
	const struct manifest_policy *p;
	const char *public_url;
	struct manifest_links *links;
	unsigned nodes; /* manifests of the tree walked so far */
	enum err error;
	struct diag *d;
};

static enum suit_check add_need(struct accept *ac, unsigned group, enum manifest_need kind,
				int64_t object_id)
{
	struct manifest_links *l = ac->links;

	for (unsigned i = 0; i < l->need_count; i++)
		if (l->needs[i].group == group && l->needs[i].kind == (int)kind &&
		    l->needs[i].object_id == object_id)
			return SUIT_OK;
	if (l->need_count >= MANIFEST_NEEDS_MAX)
		return suit_fail(ac->d, SUIT_UNSUPPORTED,
				 "more than %d download needs in one dependency tree",
				 MANIFEST_NEEDS_MAX);
	l->needs[l->need_count++] = (struct manifest_need_row){
		.group = group, .kind = (int)kind, .object_id = object_id};
	return SUIT_OK;
}

/* The stored payloads a manifest (or one of its integrated dependencies)
 * fetches. */
static enum suit_check accept_payloads(struct accept *ac, const struct suit_facts *facts,
				       unsigned node)
{
	struct diag *d = ac->d;
	int64_t served[SUIT_MAX_IMAGES] = {0}; /* payload id when fetched from suitd */
	enum suit_check c;

	for (unsigned i = 0; i < facts->image_count; i++) {
		const struct suit_image *img = &facts->images[i];
		uint8_t sha[SHA256_LEN];
		char hex[SHA256_HEX_LEN + 1];
		struct payload pl;
		bool dup = false;

		if (suit_is_dependency(facts, img->component))
			continue; /* another manifest: accept_dependencies */
		if (img->uri[0] == '#' || img->uri[0] == '\0')
			continue; /* integrated (checked by suit/) or no URI to fetch from */
		if (!uri_is_ours(img->uri, ac->public_url, sha)) {
			if (!ac->p->allow_external_uri)
				return suit_fail(
					d, SUIT_EXTERNAL_URI,
					"component %u is fetched from '%.60s', outside suitd; set "
					"[manifests] allow_external_uri = on to allow it",
					img->component, img->uri);
			continue;
		}
		hex_encode(sha, SHA256_LEN, hex);
		/* Encrypted payloads (suit/encryption.h): an image the device
		 * decrypts as it fetches has the plaintext's digest and size, which
		 * suitd cannot check; ciphertext that a copy decrypts is checked
		 * like any payload, and needs no digest (the URI names it). */
		bool plaintext_facts = img->encrypted;
		bool digest_optional = img->ciphertext && !img->has_digest;
		if (!plaintext_facts && !digest_optional &&
		    (!img->has_digest || img->digest.alg != COSE_ALG_SHA256 ||
		     img->digest.len != SHA256_LEN ||
		     memcmp(img->digest.bytes, sha, SHA256_LEN) != 0))
			return suit_fail(
				d, SUIT_PAYLOAD_MISSING,
				"component %u fetches payload %s, but its image digest is another",
				img->component, hex);
		enum err e = storage_payload_get(ac->storage, sha, &pl);
		if (e == ERR_NOT_FOUND)
			return suit_fail(d, SUIT_PAYLOAD_MISSING,
					 "payload %s is not stored: upload it first", hex);
		if (e) {
			ac->error = e;
			return suit_fail(d, SUIT_UNSUPPORTED, "cannot look up payload %s", hex);
		}
		if (img->has_size && !plaintext_facts && img->size != pl.size)
			return suit_fail(d, SUIT_PAYLOAD_SIZE_MISMATCH,
					 "payload %s is %llu bytes; the manifest says %llu", hex,
					 (unsigned long long)pl.size,
					 (unsigned long long)img->size);
		served[i] = pl.id;
		for (unsigned k = 0; k < ac->links->payload_count && !dup; k++)
			dup = ac->links->payload_ids[k] == pl.id;
		if (dup)
			continue;
		if (ac->links->payload_count >= SUIT_MAX_IMAGES)
			return suit_fail(d, SUIT_UNSUPPORTED,
					 "more than %d stored payloads in one dependency tree",
					 SUIT_MAX_IMAGES);
		ac->links->payload_ids[ac->links->payload_count++] = pl.id;
	}
	/* Download needs: a component is one when every way the manifest
	 * fetches it is from suitd; any one of those images (try-each
	 * alternatives, A/B slots) satisfies it. */
	for (unsigned ci = 0; ci < facts->component_count; ci++) {
		bool any = false, all = true;
		if (suit_is_dependency(facts, ci))
			continue;
		for (unsigned i = 0; i < facts->image_count; i++)
			if (facts->images[i].component == ci) {
				any = true;
				all = all && served[i] > 0;
			}
		for (unsigned i = 0; any && all && i < facts->image_count; i++)
			if (facts->images[i].component == ci &&
			    (c = add_need(ac, node * SUIT_MAX_COMPONENTS + ci, NEED_PAYLOAD,
					  served[i])))
				return c;
	}
	return SUIT_OK;
}

/* A dependency stored in suitd, checked again where it is now used: under
 * the dependent's prefix (scoped anchors) and the anchors of today. Its
 * facts go into the dependent's tree. */
static enum suit_check link_stored(struct accept *ac, const struct suit_dependency *dep,
				   json_t *entry, int64_t *ret_id)
{
	struct suit_verify_options opt = {.keyring = ac->p->keyring,
					  .require_signature = ac->p->require_signature,
					  .max_dependency_depth = ac->p->max_dependency_depth,
					  .max_dependency_size = ac->p->max_dependency_size};
	struct suit_dep_walk walk = {.depth = 1,
				     .prefix = dep->prefix_len ? dep->prefix : NULL,
				     .prefix_len = dep->prefix_len};
	struct suit_facts *facts;
	struct diag inner = {0};
	char *stored_facts = NULL, hex[2 * SUIT_MAX_DIGEST + 1];
	uint8_t *env = NULL;
	size_t env_len = 0;
	enum suit_check c;
	enum err e = storage_manifest_lookup(ac->storage, dep->digest.bytes, dep->digest.len,
					     ret_id, &stored_facts);

	free(stored_facts);
	if (e == ERR_NOT_FOUND) {
		*ret_id = 0;
		return SUIT_OK;
	}
	if (!e)
		e = storage_manifest_envelope(ac->storage, dep->digest.bytes, dep->digest.len, &env,
					      &env_len);
	if (e) {
		ac->error = e;
		return suit_fail(ac->d, SUIT_UNSUPPORTED, "cannot read a stored dependency");
	}
	facts = calloc(1, sizeof(*facts));
	if (!facts) {
		free(env);
		ac->error = ERR_NOMEM;
		return suit_fail(ac->d, SUIT_UNSUPPORTED, "out of memory");
	}
	hex_encode(dep->digest.bytes, dep->digest.len, hex);
	c = suit_envelope_check_at(env, env_len, &opt, facts, &inner, &walk);
	free(env);
	if (c) {
		free(facts);
		return suit_fail(ac->d, c, "stored dependency %.16s...: %s", hex, inner.text);
	}
	json_object_set_new(entry, "present", json_true());
	json_object_set_new(entry, "stored", json_true());
	static const char *const copied[] = {"sequence_number", "manifest_component_id", "signers",
					     "dependencies", "fetches"};
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
		json_t *v = json_object_get(facts->json, copied[i]);
		if (v)
			json_object_set(entry, copied[i], v);
	}
	suit_facts_release(facts);
	free(facts);
	return SUIT_OK;
}

static enum suit_check add_link(struct accept *ac, const struct suit_dependency *dep, int64_t id,
				bool served)
{
	struct manifest_links *l = ac->links;
	struct manifest_dependency_row *r;

	for (unsigned i = 0; i < l->dependency_count; i++)
		if (l->dependencies[i].digest_len == dep->digest.len &&
		    memcmp(l->dependencies[i].digest, dep->digest.bytes, dep->digest.len) == 0)
			return SUIT_OK;
	if (l->dependency_count >= SUIT_MAX_DEPENDENCY_TREE)
		return suit_fail(ac->d, SUIT_DEPENDENCY_LIMIT,
				 "more than %d dependencies in one dependency tree",
				 SUIT_MAX_DEPENDENCY_TREE);
	r = &l->dependencies[l->dependency_count++];
	memset(r, 0, sizeof(*r));
	memcpy(r->digest, dep->digest.bytes, dep->digest.len);
	r->digest_len = dep->digest.len;
	r->dependency_id = id;
	r->integrated = dep->integrated;
	r->served = served;
	return SUIT_OK;
}

/* Dependencies: integrated ones (verified by suit/) are walked for their
 * payloads and dependencies; one fetched by URI from suitd must be stored;
 * any stored manifest of the digest is linked. */
static enum suit_check accept_tree(struct accept *ac, const struct suit_facts *facts,
				   unsigned depth)
{
	json_t *entries = json_object_get(facts->json, "dependencies");
	unsigned node = ac->nodes++;
	enum suit_check c = accept_payloads(ac, facts, node);

	for (unsigned i = 0; i < facts->dependency_count && !c; i++) {
		const struct suit_dependency *dep = &facts->dependencies[i];
		json_t *entry = json_array_get(entries, i);
		uint8_t want[SUIT_MAX_DIGEST];
		bool served = false;
		int64_t id = 0;

		if (dep->integrated) {
			if (dep->facts && depth < SUIT_DEFAULT_DEP_DEPTH * 4)
				c = accept_tree(ac, dep->facts, depth + 1);
			if (!c)
				c = add_link(ac, dep, 0, false);
			continue;
		}
		if (!dep->has_digest)
			continue; /* nothing to link it by */
		if (dep->uri[0]) {
			served = uri_is_ours_at(dep->uri, ac->public_url, MANIFEST_PATH, want,
						dep->digest.len);
			if (served && memcmp(want, dep->digest.bytes, dep->digest.len) != 0)
				return suit_fail(ac->d, SUIT_DEPENDENCY_MISMATCH,
						 "component %u fetches manifest '%.80s', but its "
						 "image digest is another",
						 dep->component, dep->uri);
			if (!served && !ac->p->allow_external_uri)
				return suit_fail(
					ac->d, SUIT_EXTERNAL_URI,
					"dependency %u is fetched from '%.60s', outside "
					"suitd; set [manifests] allow_external_uri = on to "
					"allow it",
					dep->component, dep->uri);
		}
		if (entry && (c = link_stored(ac, dep, entry, &id)))
			return c;
		if (served && !id) {
			char hex[2 * SUIT_MAX_DIGEST + 1];
			hex_encode(dep->digest.bytes, dep->digest.len, hex);
			return suit_fail(ac->d, SUIT_DEPENDENCY_MISSING,
					 "dependency manifest %.64s is not stored: upload it first",
					 hex);
		}
		c = add_link(ac, dep, id, served);
		if (!c && served && id)
			c = add_need(ac, node * SUIT_MAX_COMPONENTS + dep->component, NEED_MANIFEST,
				     id);
	}
	return c;
}

enum suit_check manifest_accept(struct storage *storage, const struct manifest_policy *p,
				const char *public_url, const uint8_t *data, size_t len,
				struct suit_facts *facts, struct manifest_links *links,
				enum err *ret_error, struct diag *d)
{
	struct suit_verify_options opt = {.keyring = p->keyring,
					  .require_signature = p->require_signature,
					  .max_dependency_depth = p->max_dependency_depth,
					  .max_dependency_size = p->max_dependency_size};
	struct accept ac = {
		.storage = storage, .p = p, .public_url = public_url, .links = links, .d = d};
	enum suit_check c = suit_envelope_check(data, len, &opt, facts, d);

	*ret_error = ERR_OK;
	memset(links, 0, sizeof(*links));
	if (c)
		return c;
	c = require_fetching_members(facts, d);
	if (!c)
		c = accept_tree(&ac, facts, 0);
	if (c) {
		*ret_error = ac.error;
		suit_facts_release(facts);
		return c;
	}
	return SUIT_OK;
}

/* ---- HTTP -------------------------------------------------------------- */

static const char *const check_types[SUIT__COUNT] = {
#define SUIT_CHECK_TYPE(name, slug) [SUIT_##name] = "manifest:" slug,
	SUIT_CHECK_LIST(SUIT_CHECK_TYPE)
#undef SUIT_CHECK_TYPE
};

static json_t *record_json(struct api_ctx *ctx, const struct manifest_record *r)
{
	json_t *j = json_loads(r->facts, 0, NULL), *payloads = json_array();
	uint8_t shas[SUIT_MAX_IMAGES][SHA256_LEN];
	unsigned n = 0;
	char created[RFC3339_LEN], hex[SHA256_HEX_LEN + 1];

	if (!j)
		j = json_object();
	time_format_rfc3339(r->created_at, created);
	json_object_set_new(j, "created_at", json_string(created));
	if (storage_manifest_payloads(ctx->storage, r->id, shas, SUIT_MAX_IMAGES, &n) == ERR_OK)
		for (unsigned i = 0; i < n; i++) {
			hex_encode(shas[i], SHA256_LEN, hex);
			json_array_append_new(payloads, json_string(hex));
		}
	json_object_set_new(j, "payloads", payloads);
	return j;
}

struct upload {
	struct manifest_policy *policy;
	struct buf body;
};

static void upload_release(void *state)
{
	struct upload *u = state;

	manifest_policy_put(u->policy);
	buf_release(&u->body);
	free(u);
}

static enum err upload_begin(struct api_ctx *ctx, const struct request *req, struct response *res,
			     void **ret_state)
{
	const char *type = req->header(req, "Content-Type");
	const char *length = req->header(req, "Content-Length");
	struct upload *u;

	if (!type || (strncasecmp(type, "application/suit-envelope+cose", 30) != 0 &&
		      strncasecmp(type, "application/suit-envelope", 25) != 0))
		return api_fail(res, ERR_MEDIA_TYPE,
				"the body must be application/suit-envelope+cose");
	u = calloc(1, sizeof(*u));
	if (!u)
		return ERR_NOMEM;
	u->policy = manifest_policy_get(ctx->manifests);
	buf_init(&u->body, u->policy->max_size);
	if (length) {
		uint64_t n;
		if (parse_u64(length, &n) && n > u->policy->max_size) {
			unsigned long long max = u->policy->max_size;
			upload_release(u);
			return api_fail(res, ERR_TOO_LARGE,
					"the envelope is %llu bytes; [manifests] max_size is %llu",
					(unsigned long long)n, max);
		}
	}
	*ret_state = u;
	return ERR_OK;
}

static enum err upload_data(void *state, const char *data, size_t len, struct response *res)
{
	struct upload *u = state;

	if (buf_append(&u->body, data, len) != ERR_OK)
		return api_fail(res, ERR_TOO_LARGE,
				"the envelope exceeds [manifests] max_size (%zu)", u->body.max);
	return ERR_OK;
}

static enum err upload_finish(struct api_ctx *ctx, const struct request *req, void *state,
			      struct response *res)
{
	struct upload *u = state;
	struct suit_facts facts;
	struct diag d = {0};
	struct manifest_links links;
	struct manifest_component_row rows[SUIT_MAX_COMPONENTS];
	struct manifest_record rec;
	uint8_t conflict[MANIFEST_DIGEST_MAX];
	size_t conflict_len = 0;
	char hex[2 * MANIFEST_DIGEST_MAX + 1];
	enum suit_check c;
	enum err e;

	(void)req;
	if (u->body.len == 0)
		return api_fail(res, ERR_INVALID, "the body is empty");
	c = manifest_accept(ctx->storage, u->policy, ctx->config->server.public_url,
			    (const uint8_t *)u->body.data, u->body.len, &facts, &links, &e, &d);
	if (c && e)
		return api_fail(res, e, "%s", d.text);
	if (c)
		return api_fail_type(res, ERR_UNPROCESSABLE, check_types[c], "%s", d.text);
	for (unsigned i = 0; i < facts.component_count; i++) {
		const struct suit_component *sc = &facts.components[i];
		rows[i] = (struct manifest_component_row){
			.index = i,
			.id = sc->id,
			.id_len = sc->id_len,
			.vendor = sc->has_vendor ? sc->vendor : NULL,
			.class_id = sc->has_class ? sc->class_id : NULL,
		};
	}
	char *facts_text = json_dumps(facts.json, JSON_COMPACT);
	struct manifest_new m = {
		.digest = facts.manifest_digest.bytes,
		.digest_len = facts.manifest_digest.len,
		.digest_alg = facts.manifest_digest.alg,
		.envelope = (const uint8_t *)u->body.data,
		.envelope_len = u->body.len,
		.sequence = facts.sequence,
		.facts = facts_text ? facts_text : "{}",
		.components = rows,
		.component_count = facts.component_count,
		.payload_ids = links.payload_ids,
		.payload_count = links.payload_count,
		.dependencies = links.dependencies,
		.dependency_count = links.dependency_count,
		.needs = links.needs,
		.need_count = links.need_count,
		.actor = req->key ? req->key->name : NULL,
	};
	e = storage_manifest_insert(ctx->storage, &m, &rec, conflict, &conflict_len);
	free(facts_text);
	suit_facts_release(&facts);
	if (e == ERR_CONFLICT) {
		hex_encode(conflict, conflict_len, hex);
		return api_fail_type(res, ERR_CONFLICT, check_types[SUIT_SEQUENCE_CONFLICT],
				     "manifest %s already has sequence number %llu for the same "
				     "vendor, class and component",
				     hex, (unsigned long long)m.sequence);
	}
	if (e && e != ERR_EXISTS)
		return api_fail(res, e, "cannot store the manifest");
	hex_encode(rec.digest, rec.digest_len, hex);
	e = response_json(res, e == ERR_EXISTS ? 200 : 201, record_json(ctx, &rec));
	manifest_record_release(&rec);
	if (!e)
		e = response_header_set(res, "Location", "/api/v1/manifests/%s", hex);
	return e;
}

const struct api_upload api_manifests_upload = {
	.begin = upload_begin,
	.data = upload_data,
	.finish = upload_finish,
	.release = upload_release,
};

static enum err digest_param(const struct request *req, struct response *res,
			     uint8_t digest[MANIFEST_DIGEST_MAX], size_t *ret_len)
{
	size_t n = strlen(req->params[0]);

	if (n % 2 || n < (size_t)64 || n > (size_t)2 * MANIFEST_DIGEST_MAX ||
	    !hex_decode(req->params[0], digest, n / 2))
		return api_fail(res, ERR_INVALID, "'%.80s' is not a manifest digest in hex",
				req->params[0]);
	*ret_len = n / 2;
	return ERR_OK;
}

static enum err uuid_param(const struct request *req, struct response *res, const char *name,
			   uint8_t out[16], bool *ret_present)
{
	const char *v = req->query(req, name);
	char hex[33];
	size_t n = 0;

	*ret_present = false;
	if (!v)
		return ERR_OK;
	for (const char *p = v; *p && n < 32; p++)
		if (*p != '-')
			hex[n++] = *p;
	hex[n] = '\0';
	if (strlen(v) != 36 || !hex_decode(hex, out, 16))
		return api_fail(res, ERR_INVALID, "%s must be a UUID (8-4-4-4-12 hex)", name);
	*ret_present = true;
	return ERR_OK;
}

enum err api_manifests_list(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct manifest_record *items;
	uint8_t vendor[16], class_id[16];
	bool has_vendor, has_class;
	unsigned limit, n = 0;
	int64_t after;
	json_t *arr;
	enum err e;

	if ((e = api_page_params(req, res, &limit, &after)) ||
	    (e = uuid_param(req, res, "vendor_id", vendor, &has_vendor)) ||
	    (e = uuid_param(req, res, "class_id", class_id, &has_class)))
		return e;
	items = calloc(limit + 1, sizeof(*items));
	if (!items)
		return ERR_NOMEM;
	e = storage_manifest_list(ctx->storage, after, limit + 1, has_vendor ? vendor : NULL,
				  has_class ? class_id : NULL, items, &n);
	if (e) {
		free(items);
		return api_fail(res, e, "cannot list manifests");
	}
	arr = json_array();
	for (unsigned i = 0; i < n && i < limit; i++)
		json_array_append_new(arr, record_json(ctx, &items[i]));
	int64_t last = n ? items[(n > limit ? limit : n) - 1].id : 0;
	for (unsigned i = 0; i < n; i++)
		manifest_record_release(&items[i]);
	free(items);
	return response_json(res, 200, api_page_json(arr, n > limit, last));
}

enum err api_manifests_get(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t len = 0;
	struct manifest_record rec;
	enum err e = digest_param(req, res, digest, &len);

	if (e)
		return e;
	e = storage_manifest_get(ctx->storage, digest, len, &rec);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no manifest with this digest");
	if (e)
		return api_fail(res, e, "cannot read the manifest");
	e = response_json(res, 200, record_json(ctx, &rec));
	manifest_record_release(&rec);
	return e;
}

/* ?sever=text,install,... → member keys, in a canonical order. */
static const struct {
	const char *name;
	int64_t key;
} severable[] = {
	{"coswid", 14},	       {"dependency-resolution", 15},
	{"payload-fetch", 16}, {"candidate-verification", 18},
	{"install", 20},       {"text", 23},
};
#define SEVERABLE_COUNT (sizeof(severable) / sizeof(severable[0]))

static enum err sever_param(const char *v, struct response *res, int64_t *keys, unsigned *count,
			    char *canonical, size_t canonical_size)
{
	bool want[SEVERABLE_COUNT] = {false};
	size_t used = 0;

	*count = 0;
	canonical[0] = '\0';
	for (const char *p = v; p && *p;) {
		size_t n = strcspn(p, ",");
		bool found = false;
		for (size_t i = 0; i < SEVERABLE_COUNT; i++) {
			if (strlen(severable[i].name) == n &&
			    strncmp(p, severable[i].name, n) == 0) {
				want[i] = found = true;
			}
		}
		if (!found && n)
			return api_fail(res, ERR_INVALID,
					"sever takes payload-fetch, install, text, coswid, "
					"dependency-resolution, candidate-verification");
		p += n;
		if (*p == ',')
			p++;
	}
	for (size_t i = 0; i < SEVERABLE_COUNT; i++) {
		if (!want[i])
			continue;
		keys[(*count)++] = severable[i].key;
		int w = snprintf(canonical + used, canonical_size - used, "%s%s", used ? "," : "",
				 severable[i].name);
		if (w > 0 && (size_t)w < canonical_size - used)
			used += (size_t)w;
	}
	return ERR_OK;
}

enum err api_manifests_envelope(struct api_ctx *ctx, const struct request *req,
				struct response *res)
{
	uint8_t digest[MANIFEST_DIGEST_MAX], *env = NULL, *cut = NULL;
	size_t len = 0, env_len, cut_len;
	int64_t keys[SEVERABLE_COUNT];
	unsigned key_count = 0;
	char hex[2 * MANIFEST_DIGEST_MAX + 1], canonical[128], etag[300];
	const char *inm = req->header(req, "If-None-Match");
	struct diag d = {0};
	enum err e;

	if ((e = digest_param(req, res, digest, &len)) ||
	    (e = sever_param(req->query(req, "sever"), res, keys, &key_count, canonical,
			     sizeof(canonical))))
		return e;
	hex_encode(digest, len, hex);
	snprintf(etag, sizeof(etag), "\"%s%s%s\"", hex, key_count ? ";sever=" : "", canonical);
	e = storage_manifest_envelope(ctx->storage, digest, len, &env, &env_len);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no manifest with this digest");
	if (e)
		return api_fail(res, e, "cannot read the manifest");
	response_header_set(res, "ETag", "%s", etag);
	if (inm && strstr(inm, etag)) {
		free(env);
		res->status = 304;
		return ERR_OK;
	}
	if (key_count) {
		enum suit_check c =
			suit_envelope_sever(env, env_len, keys, key_count, &cut, &cut_len, &d);
		free(env);
		if (c)
			return api_fail_type(res, ERR_UNPROCESSABLE, check_types[c], "%s", d.text);
		env = cut;
		env_len = cut_len;
	}
	buf_clear(&res->body);
	e = buf_append(&res->body, env, env_len);
	free(env);
	if (e)
		return e;
	res->status = 200;
	res->content_type = "application/suit-envelope+cose";
	return ERR_OK;
}

/* GET /device/v1/manifests/{digest}: a device fetches a stored dependency
 * envelope (same identity rules as payload downloads). It counts towards
 * its assignment's download when its manifest needs this one. */
enum err api_manifests_device_envelope(struct api_ctx *ctx, const struct request *req,
				       struct response *res)
{
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t len = 0;
	int64_t id = 0;
	char *facts = NULL;
	enum err e = api_manifests_envelope(ctx, req, res);

	if (e || res->status != 200 || !req->device || req->method != HTTP_GET)
		return e;
	if (digest_param(req, res, digest, &len) == ERR_OK &&
	    storage_manifest_lookup(ctx->storage, digest, len, &id, &facts) == ERR_OK)
		deployments_fetch(ctx, req->device, NEED_MANIFEST, id, true);
	free(facts);
	return ERR_OK;
}

enum err api_manifests_delete(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t len = 0;
	enum err e = digest_param(req, res, digest, &len);

	if (e)
		return e;
	e = storage_manifest_delete(ctx->storage, digest, len, req->key ? req->key->name : NULL);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no manifest with this digest");
	if (e == ERR_CONFLICT)
		return api_fail(res, e,
				storage_manifest_is_dependency(ctx->storage, digest, len)
					? "a stored manifest links it as its dependency"
					: "the manifest is deployed");
	if (e)
		return api_fail(res, e, "cannot delete the manifest");
	res->status = 204;
	return ERR_OK;
}
