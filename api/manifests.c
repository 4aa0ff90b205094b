#include "api/manifests.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/input.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "storage/manifests.h"
#include "storage/payloads.h"

/* ---- policy ------------------------------------------------------------ */

struct manifest_policy {
	_Atomic int refs;
	struct suit_keyring *keyring;
	bool require_signature;
	bool allow_external_uri;
	uint64_t max_size;
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
		if ((e = suit_keyring_add_pem(p->keyring, config->manifests.trust_anchors.items[i],
					      d)))
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

#define PAYLOAD_PATH "/device/v1/payloads/"

/* A URI served by suitd: PUBLIC_URL/device/v1/payloads/<sha256 hex> (any
 * origin when [server] public_url is empty). */
static bool uri_is_ours(const char *uri, const char *public_url, uint8_t sha[SHA256_LEN])
{
	const char *path = strstr(uri, PAYLOAD_PATH);
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
	return hex_decode(path + strlen(PAYLOAD_PATH), sha, SHA256_LEN);
}

/* The Firmware Server serves every form of the envelope, so it needs the
 * members that say what to fetch; a severed text is fine. */
static enum suit_check require_fetching_members(const struct suit_facts *facts, struct diag *d)
{
	static const char *const needed[] = {"payload-fetch", "install"};
	json_t *members = json_object_get(facts->json, "members");

	for (size_t i = 0; i < 2; i++) {
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

enum suit_check manifest_accept(struct storage *storage, const struct manifest_policy *p,
				const char *public_url, const uint8_t *data, size_t len,
				struct suit_facts *facts, int64_t payload_ids[SUIT_MAX_IMAGES],
				unsigned *ret_payload_count, enum err *ret_error, struct diag *d)
{
	struct suit_verify_options opt = {.keyring = p->keyring,
					  .require_signature = p->require_signature};
	enum suit_check c = suit_envelope_check(data, len, &opt, facts, d);
	unsigned n = 0;

	*ret_error = ERR_OK;
	if (c)
		return c;
	c = require_fetching_members(facts, d);
	for (unsigned i = 0; i < facts->image_count && !c; i++) {
		const struct suit_image *img = &facts->images[i];
		uint8_t sha[SHA256_LEN];
		char hex[SHA256_HEX_LEN + 1];
		struct payload pl;

		if (img->uri[0] == '#' || img->uri[0] == '\0')
			continue; /* integrated (checked by suit/) or no URI to fetch from */
		if (!uri_is_ours(img->uri, public_url, sha)) {
			if (!p->allow_external_uri)
				c = suit_fail(
					d, SUIT_EXTERNAL_URI,
					"component %u is fetched from '%.60s', outside suitd; set "
					"[manifests] allow_external_uri = on to allow it",
					img->component, img->uri);
			continue;
		}
		hex_encode(sha, SHA256_LEN, hex);
		if (!img->has_digest || img->digest.alg != COSE_ALG_SHA256 ||
		    img->digest.len != SHA256_LEN ||
		    memcmp(img->digest.bytes, sha, SHA256_LEN) != 0) {
			c = suit_fail(
				d, SUIT_PAYLOAD_MISSING,
				"component %u fetches payload %s, but its image digest is another",
				img->component, hex);
			break;
		}
		enum err e = storage_payload_get(storage, sha, &pl);
		if (e == ERR_NOT_FOUND) {
			c = suit_fail(d, SUIT_PAYLOAD_MISSING,
				      "payload %s is not stored: upload it first", hex);
			break;
		}
		if (e) {
			*ret_error = e;
			c = suit_fail(d, SUIT_UNSUPPORTED, "cannot look up payload %s", hex);
			break;
		}
		if (img->has_size && img->size != pl.size) {
			c = suit_fail(d, SUIT_PAYLOAD_SIZE_MISMATCH,
				      "payload %s is %llu bytes; the manifest says %llu", hex,
				      (unsigned long long)pl.size, (unsigned long long)img->size);
			break;
		}
		payload_ids[n++] = pl.id;
	}
	if (c) {
		suit_facts_release(facts);
		return c;
	}
	*ret_payload_count = n;
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
	int64_t payload_ids[SUIT_MAX_IMAGES];
	unsigned payload_count = 0;
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
			    (const uint8_t *)u->body.data, u->body.len, &facts, payload_ids,
			    &payload_count, &e, &d);
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
		.payload_ids = payload_ids,
		.payload_count = payload_count,
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

enum err api_manifests_delete(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t len = 0;
	enum err e = digest_param(req, res, digest, &len);

	if (e)
		return e;
	e = storage_manifest_delete(ctx->storage, digest, len);
	if (e == ERR_NOT_FOUND)
		return api_fail(res, e, "no manifest with this digest");
	if (e == ERR_CONFLICT)
		return api_fail(res, e, "the manifest is deployed");
	if (e)
		return api_fail(res, e, "cannot delete the manifest");
	res->status = 204;
	return ERR_OK;
}
