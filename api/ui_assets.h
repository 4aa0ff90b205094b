/* The web console's files (ui/), embedded at build time by
 * tools/embed-ui.sh: index.html at / and at every page's URL, the rest under
 * /ui/assets/<hash of all files>/<name>, cached for a year (a new build is a
 * new hash, hence new URLs). */
#ifndef SUITD_API_UI_ASSETS_H
#define SUITD_API_UI_ASSETS_H

#include <stddef.h>

#include "api/api.h"

struct ui_asset {
	const char *name; /* "app.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t size;
};

/* Generated ($(BUILD)/gen/ui_assets.c). */
extern const struct ui_asset ui_assets[];
extern const unsigned ui_assets_count;
extern const char ui_assets_hash[];
extern const struct ui_asset ui_index;

/* The headers of every console response: a Content-Security-Policy that
 * allows this origin's scripts and styles only (no inline code, no eval),
 * no framing, no MIME sniffing, no Referer. */
void ui_headers_set(struct response *res);

/* GET /: index.html (Cache-Control: no-cache, ETag). */
enum err api_ui_index(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /ui/{page} and /ui/{page}/{id}: index.html for a console page (a
 * reload or a shared link), 404 for other names. */
enum err api_ui_page(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /ui/assets/{hash}/{file}: a file of this build (immutable). */
enum err api_ui_asset(struct api_ctx *ctx, const struct request *req, struct response *res);

#endif
