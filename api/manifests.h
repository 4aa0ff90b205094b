/* /api/v1/manifests: upload (verify, cross-check, store), list, facts,
 * envelope (optionally severed), delete; and the manifest policy (trust
 * anchors and rules, reloaded on SIGHUP). */
#ifndef SUITD_API_MANIFESTS_H
#define SUITD_API_MANIFESTS_H

#include "api/api.h"
#include "storage/deployments.h"
#include "storage/manifests.h"
#include "suit/suit.h"

struct manifest_policy;

/* Build a policy from [manifests] (loads every trust anchor and HMAC key). */
enum err manifest_policy_new(const struct config *config, struct manifest_policy **ret,
			     struct diag *d);
enum err manifest_policy_holder_new(struct manifest_policy *initial,
				    struct manifest_policy_holder **ret);
void manifest_policy_holder_free(struct manifest_policy_holder *h);
/* Install a new policy; requests in flight keep the one they started with. */
void manifest_policy_swap(struct manifest_policy_holder *h, struct manifest_policy *fresh);
unsigned manifest_policy_anchor_count(const struct manifest_policy *p);

/* The whole acceptance check (signature, digests, payloads stored, URIs),
 * as for an upload. Fills facts and the ids of stored payloads fetched. */
/* A storage failure (not the envelope's fault) is SUIT_UNSUPPORTED with
 * *ret_error set; *ret_error is ERR_OK otherwise. */
/* What an accepted manifest links: the stored payloads its tree fetches
 * from suitd, and every dependency of its tree (issue 16). */
struct manifest_links {
	int64_t payload_ids[SUIT_MAX_IMAGES];
	unsigned payload_count;
	struct manifest_dependency_row dependencies[SUIT_MAX_DEPENDENCY_TREE];
	unsigned dependency_count;
	struct manifest_need_row needs[MANIFEST_NEEDS_MAX];
	unsigned need_count;
};
enum suit_check manifest_accept(struct storage *storage, const struct manifest_policy *p,
				const char *public_url, const uint8_t *data, size_t len,
				struct suit_facts *facts, struct manifest_links *links,
				enum err *ret_error, struct diag *d);
/* Policy in use now, with a reference; release with manifest_policy_put. */
struct manifest_policy *manifest_policy_get(struct manifest_policy_holder *h);
void manifest_policy_put(struct manifest_policy *p);

extern const struct api_upload api_manifests_upload;
enum err api_manifests_list(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_manifests_get(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_manifests_envelope(struct api_ctx *ctx, const struct request *req,
				struct response *res);
/* GET /device/v1/manifests/{digest}: a stored (dependency) envelope for a
 * device; counts towards its assignment's download. */
enum err api_manifests_device_envelope(struct api_ctx *ctx, const struct request *req,
				       struct response *res);
enum err api_manifests_delete(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
