#include "api/ui_assets.h"

#include <stdio.h>
#include <string.h>

#define UI_CSP                                                                            \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* The first segment of every console page's URL (ui/app.js, routes). */
static const char *const pages[] = {
	"overview", "deployments", "devices", "manifests", "payloads", "keys", "audit", "signin",
};

void ui_headers_set(struct response *res)
{
	response_header_set(res, "Content-Security-Policy", "%s", UI_CSP);
	response_header_set(res, "X-Content-Type-Options", "nosniff");
	response_header_set(res, "Referrer-Policy", "no-referrer");
}

static enum err asset_send(const struct ui_asset *a, struct response *res)
{
	res->status = 200;
	res->content_type = a->type;
	buf_clear(&res->body);
	return buf_append(&res->body, a->data, a->size);
}

static enum err index_send(const struct api_ctx *ctx, const struct request *req,
			   struct response *res)
{
	const char *inm = req->header(req, "If-None-Match");
	char etag[64];

	ui_headers_set(res);
	if (!ctx->config->ui.enabled)
		return api_fail(res, ERR_NOT_FOUND, "the web console is off ([ui] enabled)");
	/* no-cache: revalidated on every load, so a new build's asset URLs
	 * are seen at once; the ETag makes that a 304 when nothing changed. */
	snprintf(etag, sizeof(etag), "\"%s\"", ui_assets_hash);
	response_header_set(res, "Cache-Control", "no-cache");
	response_header_set(res, "ETag", "%s", etag);
	if (inm && strcmp(inm, etag) == 0) {
		res->status = 304;
		return ERR_OK;
	}
	return asset_send(&ui_index, res);
}

enum err api_ui_index(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	return index_send(ctx, req, res);
}

enum err api_ui_page(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (strcmp(req->params[0], pages[i]) == 0)
			return index_send(ctx, req, res);
	ui_headers_set(res);
	return api_fail(res, ERR_NOT_FOUND, "no console page '%.64s'", req->params[0]);
}

enum err api_ui_asset(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	ui_headers_set(res);
	if (!ctx->config->ui.enabled)
		return api_fail(res, ERR_NOT_FOUND, "the web console is off ([ui] enabled)");
	/* Another build's hash: its files are not here; the page that asked
	 * is stale and its reload gets this build's index. */
	if (strcmp(req->params[0], ui_assets_hash) != 0)
		return api_fail(res, ERR_NOT_FOUND, "no console files of build '%.64s'",
				req->params[0]);
	for (unsigned i = 0; i < ui_assets_count; i++) {
		if (strcmp(req->params[1], ui_assets[i].name) == 0) {
			response_header_set(res, "Cache-Control",
					    "public, max-age=31536000, immutable");
			return asset_send(&ui_assets[i], res);
		}
	}
	return api_fail(res, ERR_NOT_FOUND, "no console file '%.64s'", req->params[1]);
}
