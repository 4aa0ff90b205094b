#include "api/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/input.h"
#include "common/bounds.h"
#include "common/parse.h"
#include "events/stream.h"
#include "storage/events.h"

/* A decimal from MIN (>= 0) to MAX. */
static bool parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v < (uint64_t)min || v > (uint64_t)max)
		return false;
	*ret = (int64_t)v;
	return true;
}

/* RFC 3339 UTC ("2026-11-25T20:00:00Z") or seconds since the epoch, as
 * milliseconds. */
static bool time_param(const char *text, int64_t *ret_ms)
{
	struct tm tm = {0};
	const char *end;
	int64_t v;

	if (text[0] >= '0' && text[0] <= '9' && !strchr(text, '-')) {
		if (!parse_int64(text, 0, INT64_MAX / 1000, &v))
			return false;
		*ret_ms = v * 1000;
		return true;
	}
	end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return false;
	*ret_ms = (int64_t)timegm(&tm) * 1000;
	return true;
}

/* An optional id parameter: 0 when absent. */
static enum err id_param(const struct request *req, struct response *res, const char *name,
			 int64_t *ret)
{
	const char *text = req->query(req, name);

	*ret = 0;
	if (text && !parse_int64(text, 0, INT64_MAX, ret))
		return api_fail(res, ERR_INVALID, "%s must be an event id", name);
	return ERR_OK;
}

struct audit_page {
	json_t *items;
	unsigned n, limit;
	int64_t last;
	bool nomem;
};

static bool audit_add(void *cls, const struct event *ev)
{
	struct audit_page *p = cls;
	json_t *j;

	if (++p->n > p->limit)
		return false;
	j = event_json(ev);
	if (!j || json_array_append_new(p->items, j) != 0) {
		p->nomem = true;
		return false;
	}
	p->last = ev->id;
	return true;
}

enum err api_audit_list(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct audit_filter f = {.actor = req->query(req, "actor"),
				 .action = req->query(req, "action"),
				 .subject = req->query(req, "subject")};
	const char *since = req->query(req, "since"), *until = req->query(req, "until"),
		   *limit_text = req->query(req, "limit");
	struct audit_page p = {.limit = BOUND_PAGE_DEFAULT};
	int64_t v;
	enum err e;

	if (limit_text) {
		if (!parse_int64(limit_text, 1, BOUND_PAGE_MAX, &v))
			return api_fail(res, ERR_INVALID, "limit must be a number from 1 to %d",
					BOUND_PAGE_MAX);
		p.limit = (unsigned)v;
	}
	if ((e = id_param(req, res, "before", &f.before)) ||
	    (e = id_param(req, res, "after", &f.after)))
		return e;
	if (since && !time_param(since, &f.since_ms))
		return api_fail(res, ERR_INVALID,
				"since must be RFC 3339 UTC (2026-11-25T20:00:00Z) or seconds "
				"since the epoch");
	if (until && !time_param(until, &f.until_ms))
		return api_fail(res, ERR_INVALID,
				"until must be RFC 3339 UTC (2026-11-25T20:00:00Z) or seconds "
				"since the epoch");
	if (f.action) {
		const char *star = strchr(f.action, '*');
		if (!f.action[0] || (star && (star[1] || star == f.action || star[-1] != '.')))
			return api_fail(res, ERR_INVALID,
					"action is an event type (key.created) or a prefix "
					"(deployment.*)");
	}
	if (!(p.items = json_array()))
		return ERR_NOMEM;
	e = storage_audit_list(ctx->storage, &f, p.limit + 1, audit_add, &p);
	if (!e && p.nomem)
		e = ERR_NOMEM;
	if (e) {
		json_decref(p.items);
		return api_fail(res, e, "cannot read the audit log");
	}
	/* Newest first: the next page is the events before the last one. */
	return response_json(res, 200, api_page_json(p.items, p.n > p.limit, p.last));
}

static long stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	long n = event_stream_read(cls, buf, max);

	(void)pos;
	return n == EVENT_STREAM_END ? RESPONSE_STREAM_END : n;
}

static void stream_free(void *cls)
{
	event_stream_close(cls);
}

static void stream_park(void *cls, void (*wake)(void *wake_cls), void *wake_cls)
{
	event_stream_park(cls, wake, wake_cls);
}

/* 410 with the oldest id the log still has, so that the client knows
 * exactly what it lost. */
static enum err gone(const struct request *req, struct response *res, int64_t after, int64_t oldest)
{
	json_t *j;

	api_fail_type(res, ERR_GONE, "events:expired",
		      "events after %lld are no longer kept: the oldest is %lld; reload the "
		      "state and follow from there",
		      (long long)after, (long long)oldest);
	api_problem_render(res, req->path);
	j = json_loads(buf_str(&res->body), 0, NULL);
	if (j && json_object_set_new(j, "oldest_id", json_integer(oldest)) == 0) {
		buf_clear(&res->body);
		if (response_json(res, 410, j) == ERR_OK) {
			res->content_type = "application/problem+json";
			res->problem = ERR_OK; /* rendered */
		}
		return ERR_OK;
	}
	json_decref(j);
	return ERR_OK;
}

enum err api_events_stream(struct api_ctx *ctx, const struct request *req, struct response *res)
{
	struct event_filter f = {0};
	const char *types = req->query(req, "types"), *device = req->query(req, "device"),
		   *deployment = req->query(req, "deployment"),
		   *last = req->header(req, "Last-Event-ID"),
		   *after_text = req->query(req, "after");
	struct event_stream *st = NULL;
	struct diag d = {0};
	int64_t after = -1, oldest = 0, newest = 0;
	enum err e;

	if (!ctx->events)
		return api_fail(res, ERR_UNAVAILABLE, "event streams are not running");
	if (types && event_filter_types(&f, types, &d))
		return api_fail(res, ERR_INVALID, "%s", d.text);
	if (deployment && !parse_int64(deployment, 1, INT64_MAX, &f.deployment))
		return api_fail(res, ERR_INVALID, "deployment must be a deployment id");
	if (device) {
		if (!device[0] || strlen(device) >= sizeof(f.device))
			return api_fail(res, ERR_INVALID, "device must be a device id");
		snprintf(f.device, sizeof(f.device), "%s", device);
	}
	/* A reconnecting EventSource sends Last-Event-ID with the URL it
	 * first used: the header is the newer news. */
	if (last && last[0]) {
		if (!parse_int64(last, 0, INT64_MAX, &after))
			return api_fail(res, ERR_INVALID, "Last-Event-ID must be an event id");
	} else if (after_text && !parse_int64(after_text, 0, INT64_MAX, &after)) {
		return api_fail(res, ERR_INVALID, "after must be an event id");
	}
	if (after >= 0) {
		if ((e = storage_events_range(ctx->storage, &oldest, &newest)))
			return api_fail(res, e, "cannot read the event log");
		if (oldest > 0 && after < oldest - 1)
			return gone(req, res, after, oldest);
		/* An id this log never gave (a database restored from an
		 * older backup): from its end. */
		if (after > newest)
			after = newest;
	}
	e = event_stream_open(ctx->events, &f, after, &st);
	if (e == ERR_UNAVAILABLE) {
		response_header_set(res, "Retry-After", "5");
		return api_fail(res, e,
				"too many event streams are open ([events] max_streams = "
				"%u): try again later",
				ctx->config->events.max_streams);
	}
	if (e)
		return api_fail(res, e, "cannot open an event stream");
	res->status = 200;
	res->content_type = "text/event-stream";
	response_header_set(res, "Cache-Control", "no-store");
	/* Proxies such as nginx would otherwise hold events back. */
	response_header_set(res, "X-Accel-Buffering", "no");
	res->stream = (struct response_stream){.size = RESPONSE_STREAM_LIVE,
					       .read = stream_read,
					       .free = stream_free,
					       .park = stream_park,
					       .cls = st};
	return ERR_OK;
}
