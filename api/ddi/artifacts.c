/* DDI artifact downloads: the payload serving path of the device API
 * (Range, If-Range, ETag, downloading/downloaded observed), reached by
 * hawkBit's URL shape, and the .MD5SUM file next to each artifact. */
#include <stdio.h>
#include <string.h>

#include "api/ddi/common.h"
#include "api/payloads.h"
#include "common/parse.h"
#include "storage/ddi.h"

#define MD5SUM_SUFFIX ".MD5SUM"

static bool artifact_named(const struct ddi_artifact *a, const char *name, size_t len)
{
	char own[PAYLOAD_NAME_MAX + 1];

	ddi_artifact_name(a, own);
	return strlen(own) == len && memcmp(own, name, len) == 0;
}

enum err api_ddi_artifact(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct ddi_artifact arts[DDI_ARTIFACTS_MAX];
	const char *file = req->params[3];
	size_t len = strlen(file), sfx = strlen(MD5SUM_SUFFIX);
	unsigned n = 0;
	uint64_t module;
	enum err e;

	if (!parse_u64(req->params[2], &module) || module == 0 || module > (uint64_t)INT64_MAX)
		return api_fail(res, ERR_NOT_FOUND, "a software module id is a positive number");
	/* hawkBit: only a module of an action the device was given. */
	if (!storage_ddi_module_allowed(ctx->storage, req->device->num, (int64_t)module))
		return api_fail(res, ERR_NOT_FOUND, "this controller was given no such module");
	if ((e = storage_ddi_artifacts(ctx->storage, (int64_t)module, arts, DDI_ARTIFACTS_MAX, &n)))
		return api_fail(res, e, "cannot read the module's artifacts");
	for (unsigned i = 0; i < n; i++) {
		if (artifact_named(&arts[i], file, len)) {
			/* The device API's payload route, by SHA-256. */
			char hex[2 * SHA256_LEN + 1];
			struct request by_sha = *req;
			hex_encode(arts[i].sha256, SHA256_LEN, hex);
			by_sha.params[0] = hex;
			by_sha.param_count = 1;
			return api_payloads_content(ctx, &by_sha, res);
		}
	}
	for (unsigned i = 0; len > sfx && i < n; i++) {
		if (strcmp(file + len - sfx, MD5SUM_SUFFIX) != 0 ||
		    !artifact_named(&arts[i], file, len - sfx))
			continue;
		char md5[2 * MD5_LEN + 1], text[2 * MD5_LEN + PAYLOAD_NAME_MAX + 8];
		hex_encode(arts[i].md5, MD5_LEN, md5);
		snprintf(text, sizeof(text), "%s  %.*s\n", md5, (int)(len - sfx), file);
		/* The name is a stored payload name: no quote or CR/LF can be
		 * in it (checked at upload). */
		response_header_set(res, "Content-Disposition", "attachment;filename=%.200s", file);
		return response_text(res, 200, "text/plain", text);
	}
	return api_fail(res, ERR_NOT_FOUND, "module %llu has no artifact of this name",
			(unsigned long long)module);
}
