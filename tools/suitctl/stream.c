/* suitctl over the event stream (GET /api/v1/events, Server-Sent
 * Events): `events` prints each event as one JSON line; `deployment
 * watch` and `deploy --wait` follow one deployment until it completes,
 * pauses or is canceled, redrawing per-stage bars from the deployment's
 * own counts after each of its events. Without the stream (an old server,
 * too many streams) they poll the deployment every 2 s. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tools/suitctl/ctl.h"

/* ---- SSE framing ---- */

struct sse {
	struct buf line;
	char event[64];
	char id[32];
	struct buf data;
	/* One complete event; false ends the stream. */
	bool (*on_event)(struct sse *s, void *user);
	/* The stream is open (its first bytes came); false ends it. */
	bool (*on_open)(struct sse *s, void *user);
	void *user;
	bool opened, stop;
	struct ctl_resp *resp; /* status and errors */
};

static void sse_field(struct sse *s, const char *line)
{
	const char *colon = strchr(line, ':');
	size_t n = colon ? (size_t)(colon - line) : strlen(line);
	const char *v = colon ? colon + 1 : "";

	if (*v == ' ')
		v++;
	if (n == 5 && strncmp(line, "event", 5) == 0)
		snprintf(s->event, sizeof(s->event), "%s", v);
	else if (n == 2 && strncmp(line, "id", 2) == 0)
		snprintf(s->id, sizeof(s->id), "%s", v);
	else if (n == 4 && strncmp(line, "data", 4) == 0) {
		if (s->data.len)
			buf_append_str(&s->data, "\n");
		buf_append_str(&s->data, v);
	}
}

static size_t sse_write(char *p, size_t size, size_t n, void *user)
{
	struct sse *s = user;
	size_t len = size * n;

	if (s->resp->status >= 300 ||
	    (s->resp->content_type[0] &&
	     strncmp(s->resp->content_type, "text/event-stream", 17) != 0)) {
		/* An error body: kept for ctl_problem. */
		buf_append(&s->resp->body, p, len);
		return len;
	}
	if (!s->opened) {
		s->opened = true;
		if (s->on_open && !s->on_open(s, s->user)) {
			s->stop = true;
			return 0;
		}
	}
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		if (ch == '\r')
			continue;
		if (ch != '\n') {
			if (buf_append(&s->line, &ch, 1) != ERR_OK)
				return 0;
			continue;
		}
		if (s->line.len == 0) {
			if (s->data.len || s->event[0]) {
				bool go = s->on_event(s, s->user);
				buf_clear(&s->data);
				s->event[0] = 0;
				if (!go) {
					s->stop = true;
					return 0;
				}
			}
		} else if (s->line.data[0] != ':') {
			sse_field(s, buf_str(&s->line));
		}
		buf_clear(&s->line);
	}
	return len;
}

static size_t sse_header(char *data, size_t size, size_t n, void *user)
{
	struct sse *s = user;
	size_t len = size * n;

	if (len > 9 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = strchr(data, ' ');
		if (sp)
			s->resp->status = strtol(sp + 1, NULL, 10);
	}
	if (len > 13 && strncasecmp(data, "content-type:", 13) == 0) {
		const char *v = data + 13;
		while (*v == ' ')
			v++;
		snprintf(s->resp->content_type, sizeof(s->resp->content_type), "%.*s",
			 (int)strcspn(v, "\r\n"), v);
	}
	if (len > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
		const char *v = data + 12;
		while (*v == ' ')
			v++;
		snprintf(s->resp->retry_after, sizeof(s->resp->retry_after), "%.*s",
			 (int)strcspn(v, "\r\n"), v);
	}
	return len;
}

/* Follow path (GET, SSE) until on_event says stop, the server ends it,
 * or timeout_ms (0 = none). Its own handle, so callbacks may use c->curl.
 * CTL_OK: stopped by on_event or ended by the server (s->stop tells);
 * CTL_TIMEOUT; else an error (printed unless the answer was not a
 * stream, then resp holds it). */
static int sse_follow(struct ctl *c, const char *path, const char *last_id, struct sse *s,
		      long timeout_ms)
{
	CURL *saved = c->curl, *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	char url[4096], lei[64], err[CURL_ERROR_SIZE] = "";
	CURLcode cc;

	if (!h)
		return CTL_TRANSPORT;
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	hd = curl_slist_append(hd, "Accept: text/event-stream");
	if (last_id && *last_id) {
		snprintf(lei, sizeof(lei), "Last-Event-ID: %s", last_id);
		hd = curl_slist_append(hd, lei);
	}
	c->curl = h;
	hd = ctl_curl_prepare(c, url, hd);
	c->curl = saved;
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sse_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, sse_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* Heartbeats come every 15 s: a minute of silence is a dead link. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	s->resp->status = 0;
	s->opened = s->stop = false;
	cc = curl_easy_perform(h);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	if (s->stop)
		return CTL_OK;
	if (cc == CURLE_OPERATION_TIMEDOUT && s->opened && timeout_ms)
		return CTL_TIMEOUT;
	if (s->resp->status >= 300)
		return -1; /* not a stream: the caller decides */
	if (cc != CURLE_OK) {
		if (cc == CURLE_OPERATION_TIMEDOUT && timeout_ms)
			return CTL_TIMEOUT;
		fprintf(stderr, "suitctl: GET %s: %s\n", url,
			err[0] ? err : curl_easy_strerror(cc));
		return CTL_TRANSPORT;
	}
	return CTL_OK;
}

/* ---- events ---- */

struct follow {
	char last_id[32];
	bool overflow;
};

static bool print_event(struct sse *s, void *user)
{
	struct follow *f = user;
	json_error_t je;

	if (strcmp(s->event, "overflow") == 0) {
		json_t *d = json_loadb(buf_str(&s->data), s->data.len, 0, &je);
		json_int_t last = json_integer_value(json_object_get(d, "last_id"));
		if (last)
			snprintf(f->last_id, sizeof(f->last_id), "%lld", (long long)last);
		json_decref(d);
		f->overflow = true;
		return false;
	}
	if (s->id[0])
		snprintf(f->last_id, sizeof(f->last_id), "%s", s->id);
	printf("%s\n", buf_str(&s->data));
	fflush(stdout);
	return true;
}

int ctl_cmd_events(struct ctl *c, int argc, char **argv)
{
	static const struct option o[] = {{"types", required_argument, NULL, 't'},
					  {"deployment", required_argument, NULL, 'd'},
					  {"device", required_argument, NULL, 'v'},
					  {"after", required_argument, NULL, 'a'},
					  {NULL, 0, NULL, 0}};
	struct follow f = {0};
	struct ctl_resp resp;
	struct sse s = {.on_event = print_event, .user = &f};
	struct buf path;
	int opt, rc = CTL_OK;
	bool q = false;

	buf_init(&path, 4096);
	buf_append_str(&path, "/api/v1/events");
	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		const char *name = opt == 't' ? "types" : opt == 'd' ? "deployment" : "device";
		if (opt == '?' || opt == ':') {
			buf_release(&path);
			fputs("usage: suitctl events [--types T,T] [--deployment ID] [--device ID] "
			      "[--after EVENT_ID]\n",
			      stderr);
			return CTL_USAGE;
		}
		if (opt == 'a') {
			snprintf(f.last_id, sizeof(f.last_id), "%s", optarg);
			continue;
		}
		buf_printf(&path, "%c%s=", q ? '&' : '?', name);
		ctl_escape(c, &path, optarg);
		q = true;
	}
	if (optind != argc) {
		buf_release(&path);
		fputs("usage: suitctl events [--types T,T] [--deployment ID] [--device ID] "
		      "[--after EVENT_ID]\n",
		      stderr);
		return CTL_USAGE;
	}
	ctl_resp_init(&resp);
	buf_init(&s.line, 1 << 20);
	buf_init(&s.data, 4 << 20);
	s.resp = &resp;
	/* Follows until interrupted; a dropped stream is resumed after the
	 * last event seen (Last-Event-ID), so none is lost or repeated. */
	for (;;) {
		buf_clear(&resp.body);
		f.overflow = false;
		rc = sse_follow(c, buf_str(&path), f.last_id, &s, 0);
		if (rc < 0) {
			rc = ctl_problem(&resp);
			if (resp.status != 503 && resp.status != 429)
				break;
		} else if (rc == CTL_OK && !f.overflow) {
			fputs("suitctl: the server ended the stream; reconnecting\n", stderr);
		} else if (rc != CTL_OK) {
			fputs("suitctl: reconnecting\n", stderr);
		}
		sleep(1);
	}
	buf_release(&s.line);
	buf_release(&s.data);
	ctl_resp_release(&resp);
	buf_release(&path);
	return rc;
}

/* ---- deployment watch / deploy --wait ---- */

struct watch {
	struct ctl *c;
	long long id;
	bool bars;
	int result;	/* -1 until final */
	unsigned drawn; /* lines of the last drawing (tty) */
	char last[512]; /* the last summary line (pipe) */
	double last_fetch;
	char status[32];
};

static void draw_bar(char *out, size_t size, long done, long failed, long total)
{
	char bar[31];
	unsigned w = 30, d = total ? (unsigned)(done * w / total) : 0,
		 f = total ? (unsigned)(failed * w / total) : 0;

	for (unsigned i = 0; i < w; i++)
		bar[i] = (char)(i < d ? '#' : i < d + f ? 'x' : '.');
	bar[w] = 0;
	snprintf(out, size, "[%s]", bar);
}

static long count(json_t *counts, const char *state)
{
	return (long)json_integer_value(json_object_get(counts, state));
}

/* Fetch the deployment, draw it, and decide. */
static void watch_refresh(struct watch *w)
{
	char path[64], line[512], bar[40];
	json_t *d = NULL, *stage;
	size_t i;

	snprintf(path, sizeof(path), "/api/v1/deployments/%lld", w->id);
	if (ctl_json(w->c, "GET", path, NULL, &d) != CTL_OK) {
		w->result = CTL_API;
		return;
	}
	w->last_fetch = ctl_now_s();
	const char *status = json_string_value(json_object_get(d, "status"));
	json_t *stages = json_object_get(d, "stages"), *counts = json_object_get(d, "counts");
	long devices = (long)json_integer_value(json_object_get(d, "devices"));
	snprintf(w->status, sizeof(w->status), "%s", status ? status : "?");
	if (w->bars) {
		if (w->drawn)
			fprintf(stderr, "\033[%uA", w->drawn);
		w->drawn = 0;
		fprintf(stderr, "\rdeployment %lld: %s, %ld devices\033[K\n", w->id, w->status,
			devices);
		w->drawn++;
		json_array_foreach(stages, i, stage)
		{
			json_t *sc = json_object_get(stage, "counts");
			long n = (long)json_integer_value(json_object_get(stage, "devices"));
			long done = count(sc, "confirmed") + count(sc, "skipped");
			long bad = count(sc, "failed") + count(sc, "timed_out");
			draw_bar(bar, sizeof(bar), done, bad, n);
			fprintf(stderr,
				"  stage %zu %3lld%% %s %s %ld/%ld done, %ld failed, %ld in "
				"progress\033[K\n",
				i + 1,
				(long long)json_integer_value(json_object_get(stage, "percent")),
				json_is_true(json_object_get(stage, "open")) ? "open  " : "closed",
				bar, done, n, bad,
				n - done - bad - count(sc, "pending") - count(sc, "canceled"));
			w->drawn++;
		}
	} else {
		snprintf(line, sizeof(line),
			 "deployment %lld: %s, stage %lld of %zu; %ld confirmed, %ld failed, %ld "
			 "timed out, %ld pending of %ld",
			 w->id, w->status,
			 (long long)json_integer_value(json_object_get(d, "current_stage")),
			 json_array_size(stages), count(counts, "confirmed"),
			 count(counts, "failed"), count(counts, "timed_out"),
			 count(counts, "pending"), devices);
		if (strcmp(line, w->last) != 0) {
			fprintf(stderr, "%s\n", line);
			snprintf(w->last, sizeof(w->last), "%s", line);
		}
	}
	if (strcmp(w->status, "completed") == 0)
		w->result = CTL_OK;
	else if (strcmp(w->status, "paused") == 0 || strcmp(w->status, "canceled") == 0) {
		json_t *p = json_object_get(d, "paused");
		const char *why = json_string_value(json_object_get(p, "reason"));
		fprintf(stderr, "deployment %lld is %s%s%s\n", w->id, w->status, why ? ": " : "",
			why ? why : "");
		w->result = CTL_PAUSED;
	}
	json_decref(d);
}

static bool watch_open(struct sse *s, void *user)
{
	struct watch *w = user;

	(void)s;
	watch_refresh(w);
	return w->result < 0;
}

static bool watch_event(struct sse *s, void *user)
{
	struct watch *w = user;

	(void)s;
	/* Bursts of assignment events: at most 4 fetches a second, and
	 * always on a deployment event. */
	if (strncmp(s->event, "deployment.", 11) == 0 || ctl_now_s() - w->last_fetch >= 0.25)
		watch_refresh(w);
	return w->result < 0;
}

int ctl_deployment_wait(struct ctl *c, long long id, long timeout_s, bool bars)
{
	struct watch w = {.c = c, .id = id, .bars = bars && c->progress, .result = -1};
	struct ctl_resp resp;
	struct sse s = {.on_event = watch_event, .on_open = watch_open, .user = &w};
	double deadline = timeout_s ? ctl_now_s() + (double)timeout_s : 0;
	char path[96];
	int rc = CTL_OK;

	ctl_resp_init(&resp);
	buf_init(&s.line, 1 << 20);
	buf_init(&s.data, 4 << 20);
	s.resp = &resp;
	snprintf(path, sizeof(path), "/api/v1/events?deployment=%lld", id);
	bool stream = true;
	while (w.result < 0) {
		long left_ms = deadline ? (long)((deadline - ctl_now_s()) * 1000) : 0;
		if (deadline && left_ms <= 0) {
			rc = CTL_TIMEOUT;
			break;
		}
		if (stream) {
			buf_clear(&resp.body);
			rc = sse_follow(c, path, NULL, &s, left_ms);
			if (rc < 0) {
				/* No stream here: poll. */
				stream = false;
				rc = CTL_OK;
			} else if (rc == CTL_TIMEOUT) {
				break;
			} else if (rc != CTL_OK || w.result < 0) {
				sleep(1);
			}
			continue;
		}
		watch_refresh(&w);
		if (w.result < 0)
			sleep(2);
	}
	if (rc == CTL_TIMEOUT)
		fprintf(stderr, "suitctl: deployment %lld is still %s after %ld s (--timeout)\n",
			id, w.status[0] ? w.status : "running", timeout_s);
	else if (w.result >= 0)
		rc = w.result;
	buf_release(&s.line);
	buf_release(&s.data);
	ctl_resp_release(&resp);
	return rc;
}
