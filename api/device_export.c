#include "api/device_export.h"

#include <stdlib.h>
#include <string.h>

#include "api/devices.h"
#include "common/log.h"

/* Devices read per page: one short read transaction each. */
#define EXPORT_PAGE 500

struct export_state {
	struct api_ctx *ctx;
	struct device_filter f;
	/* The filter's strings, copied: the stream outlives the request. */
	char *group, *tag;
	uint8_t class_id[16];
	struct device_cursor after;
	bool has_after, last_page;
	struct buf lines; /* the current page, as NDJSON */
	size_t sent;	  /* of lines */
};

enum page { PAGE_MORE, PAGE_END, PAGE_FAILED };

/* The next page into s->lines. */
static enum page page_next(struct export_state *s)
{
	struct device *items;
	unsigned n = 0;
	enum err e;

	buf_clear(&s->lines);
	s->sent = 0;
	if (s->last_page)
		return PAGE_END;
	if (!(items = calloc(EXPORT_PAGE, sizeof(*items))))
		return PAGE_FAILED;
	e = storage_device_list(s->ctx->storage, &s->f, s->has_after ? &s->after : NULL,
				EXPORT_PAGE, items, &n);
	if (e)
		log_err("device export: cannot read devices after %lld.%lld: %s",
			(long long)s->after.key, (long long)s->after.id, err_title(e));
	for (unsigned i = 0; i < n; i++) {
		json_t *j = device_import_json(&items[i]);
		char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (!text || buf_printf(&s->lines, "%s\n", text) != ERR_OK)
			e = ERR_NOMEM;
		free(text);
		json_decref(j);
		s->after = items[i].cursor;
		s->has_after = true;
		device_release(&items[i]);
	}
	free(items);
	s->last_page = n < EXPORT_PAGE;
	/* An error cuts the body: the client sees a broken chunked stream, never
	 * a short file that looks complete. */
	if (e)
		return PAGE_FAILED;
	return n ? PAGE_MORE : PAGE_END;
}

static long export_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct export_state *s = cls;
	size_t k;

	(void)pos;
	if (s->sent == s->lines.len) {
		enum page p = page_next(s);
		if (p != PAGE_MORE)
			return p == PAGE_END ? RESPONSE_STREAM_END : -1;
	}
	k = s->lines.len - s->sent < max ? s->lines.len - s->sent : max;
	memcpy(out, s->lines.data + s->sent, k);
	s->sent += k;
	return (long)k;
}

static void export_free(void *cls)
{
	struct export_state *s = cls;

	buf_release(&s->lines);
	free(s->group);
	free(s->tag);
	free(s);
}

enum err api_devices_export(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct export_state *s = calloc(1, sizeof(*s));
	enum err e;

	if (!s)
		return ERR_NOMEM;
	buf_init(&s->lines, (size_t)EXPORT_PAGE * 16 * 1024);
	e = device_filter_params(ctx, req, res, &s->f, s->class_id);
	if (!e && s->f.group && !(s->f.group = s->group = strdup(s->f.group)))
		e = ERR_NOMEM;
	if (!e && s->f.tag && !(s->f.tag = s->tag = strdup(s->f.tag)))
		e = ERR_NOMEM;
	if (e) {
		export_free(s);
		return e;
	}
	s->ctx = ctx;
	res->status = 200;
	res->content_type = "application/x-ndjson";
	res->stream = (struct response_stream){
		.size = RESPONSE_STREAM_LIVE, .read = export_read, .free = export_free, .cls = s};
	return ERR_OK;
}
