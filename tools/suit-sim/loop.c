#include "tools/suit-sim/loop.h"

#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/timeutil.h"

#define PROGRESS_USEC	   250000u
#define POLL_MAX_MS	   1000
#define CONNECT_TIMEOUT_S  10L
#define TRANSFER_TIMEOUT_S 120L

struct slot {
	struct sim_loop *loop;
	CURL *easy;
	unsigned dev;
	struct curl_slist *headers;
	enum sim_kind kind;
	sim_sink_fn sink;
	struct buf body;
	struct sim_response res;
	char error[CURL_ERROR_SIZE];
};

struct timer {
	uint64_t due;
	unsigned dev;
};

struct sim_loop {
	struct sim_loop_config c;
	char *base_url, *cacert;
	struct sim_loop_ops ops;
	struct sim_stats *stats;
	CURLM *multi;
	struct slot *slots;
	unsigned *free_slots, free_count;
	struct timer *heap;
	unsigned heap_len;
	unsigned *queue, queue_head, queue_len; /* ring of c.devices entries */
	bool *planned; /* the device has a request in the heap, queue or a slot */
	int sigfd;
	sigset_t old_mask;
};

/* ---- timer heap (min by due time) and ready queue ---- */

static void heap_push(struct sim_loop *l, uint64_t due, unsigned dev)
{
	unsigned i = l->heap_len++;

	while (i > 0) {
		unsigned parent = (i - 1) / 2;
		if (l->heap[parent].due <= due)
			break;
		l->heap[i] = l->heap[parent];
		i = parent;
	}
	l->heap[i] = (struct timer){due, dev};
}

static struct timer heap_pop(struct sim_loop *l)
{
	struct timer top = l->heap[0], last = l->heap[--l->heap_len];
	unsigned i = 0;

	for (;;) {
		unsigned child = 2 * i + 1;
		if (child >= l->heap_len)
			break;
		if (child + 1 < l->heap_len && l->heap[child + 1].due < l->heap[child].due)
			child++;
		if (last.due <= l->heap[child].due)
			break;
		l->heap[i] = l->heap[child];
		i = child;
	}
	if (l->heap_len)
		l->heap[i] = last;
	return top;
}

static void queue_push(struct sim_loop *l, unsigned dev)
{
	l->queue[(l->queue_head + l->queue_len++) % l->c.devices] = dev;
}

static unsigned queue_pop(struct sim_loop *l)
{
	unsigned dev = l->queue[l->queue_head];

	l->queue_head = (l->queue_head + 1) % l->c.devices;
	l->queue_len--;
	return dev;
}

void sim_loop_send(struct sim_loop *l, unsigned dev, uint64_t delay_usec)
{
	/* One request at a time per device keeps the heap and the ring within
	 * c.devices entries. */
	assert(dev < l->c.devices && !l->planned[dev]);
	l->planned[dev] = true;
	if (delay_usec == 0)
		queue_push(l, dev);
	else
		heap_push(l, time_mono_usec() + delay_usec, dev);
}

/* ---- libcurl callbacks ---- */

static bool header_is(const char *line, size_t len, const char *name, const char **ret_value)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	*ret_value = line + n + 1;
	while (**ret_value == ' ' || **ret_value == '\t')
		(*ret_value)++;
	return true;
}

/* Copy a header value up to the line end. */
static void header_copy(const char *v, const char *end, char *out, size_t size)
{
	size_t n = 0;

	while (v + n < end && v[n] != '\r' && v[n] != '\n' && n + 1 < size)
		n++;
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t count, void *userp)
{
	struct slot *s = userp;
	struct sim_response *r = &s->res;
	size_t len = size * count;
	const char *end = data + len, *v;
	char text[128];

	/* A new status line (after 100 Continue): forget what came before. */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		r->max_age = -1;
		r->etag[0] = r->content_type[0] = '\0';
		r->has_range = false;
		return len;
	}
	if (header_is(data, len, "Cache-Control", &v)) {
		header_copy(v, end, text, sizeof(text));
		const char *m = strstr(text, "max-age=");
		if (m) {
			char *e;
			long n = strtol(m + 8, &e, 10);
			if (e != m + 8 && n >= 0)
				r->max_age = n;
		}
	} else if (header_is(data, len, "ETag", &v)) {
		header_copy(v, end, r->etag, sizeof(r->etag));
	} else if (header_is(data, len, "Content-Type", &v)) {
		header_copy(v, end, r->content_type, sizeof(r->content_type));
	} else if (header_is(data, len, "Content-Range", &v)) {
		unsigned long long a, b, t;
		header_copy(v, end, text, sizeof(text));
		if (sscanf(text, "bytes %llu-%llu/%llu", &a, &b, &t) == 3 && a <= b && b < t) {
			r->has_range = true;
			r->range_first = a;
			r->range_last = b;
			r->range_total = t;
		}
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t count, void *userp)
{
	struct slot *s = userp;
	size_t len = size * count;
	long status = 0;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (s->sink && status >= 200 && status < 300) {
		s->res.status = status;
		if (!s->sink(s->loop->ops.cls, s->dev, &s->res, (const uint8_t *)data, len)) {
			s->res.sink_stopped = true;
			return 0;
		}
		return len;
	}
	if (buf_append(&s->body, data, len) != ERR_OK) {
		s->res.too_large = true;
		return 0;
	}
	return len;
}

/* ---- transfers ---- */

static bool slot_start(struct sim_loop *l, unsigned dev)
{
	struct slot *s = &l->slots[l->free_slots[l->free_count - 1]];
	struct sim_request req = {0};
	char url[1024], line[512];
	CURL *h = s->easy;

	l->ops.fill(l->ops.cls, dev, &req);
	s->dev = dev;
	s->kind = req.kind;
	s->sink = req.sink;
	buf_clear(&s->body);
	s->body.max = req.body_max;
	memset(&s->res, 0, sizeof(s->res));
	s->res.max_age = -1;
	s->error[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", l->base_url, req.path);
	/* Options go, connections and TLS sessions stay. */
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TRANSFER_TIMEOUT_S);
	if (l->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, l->cacert);
	curl_easy_setopt(h, CURLOPT_PRIVATE, s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->error);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	/* libcurl reuses a connection (and a TLS session) only for the same
	 * client certificate, so a device never speaks on another's. */
	if (req.cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, req.cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, req.key);
	}
	/* No "Expect: 100-continue" round trip for small report bodies. */
	s->headers = curl_slist_append(NULL, "Expect:");
	if (req.token) {
		snprintf(line, sizeof(line), "Authorization: %s %s",
			 req.auth_scheme ? req.auth_scheme : "Bearer", req.token);
		s->headers = curl_slist_append(s->headers, line);
	}
	if (req.range[0]) {
		snprintf(line, sizeof(line), "Range: %s", req.range);
		s->headers = curl_slist_append(s->headers, line);
	}
	if (req.if_none_match[0]) {
		snprintf(line, sizeof(line), "If-None-Match: %s", req.if_none_match);
		s->headers = curl_slist_append(s->headers, line);
	}
	if (req.content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", req.content_type);
		s->headers = curl_slist_append(s->headers, line);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req.body_len);
		curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, req.body);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
	if (!s->headers || curl_multi_add_handle(l->multi, h) != CURLM_OK) {
		curl_slist_free_all(s->headers);
		s->headers = NULL;
		return false;
	}
	l->free_count--;
	return true;
}

static void slot_finish(struct sim_loop *l, struct slot *s, CURLcode result)
{
	struct sim_response *r = &s->res;
	curl_off_t usec = 0;
	long status = 0;

	curl_multi_remove_handle(l->multi, s->easy);
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &usec);
	r->result = result;
	r->status = result == CURLE_OK || r->sink_stopped || r->too_large ? status : 0;
	r->usec = usec > 0 ? (uint64_t)usec : 0;
	r->error = s->error[0] ? s->error : curl_easy_strerror(result);
	r->body = (const uint8_t *)s->body.data;
	r->body_len = s->body.len;
	/* An abort by the device itself (crash injection) still got an answer. */
	sim_stats_request(l->stats, s->kind, r->status, (int)result, r->usec);
	l->planned[s->dev] = false;
	l->ops.done(l->ops.cls, s->dev, r);
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	l->free_slots[l->free_count++] = (unsigned)(s - l->slots);
}

/* Start due requests while slots are free. */
static bool pump(struct sim_loop *l)
{
	uint64_t now = time_mono_usec();

	while (l->heap_len && l->heap[0].due <= now)
		queue_push(l, heap_pop(l).dev);
	while (l->free_count && l->queue_len)
		if (!slot_start(l, queue_pop(l)))
			return false;
	return true;
}

static bool collect(struct sim_loop *l)
{
	CURLMsg *m;
	int left, running;

	if (curl_multi_perform(l->multi, &running) != CURLM_OK)
		return false;
	while ((m = curl_multi_info_read(l->multi, &left))) {
		char *priv = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		slot_finish(l, (struct slot *)(void *)priv, m->data.result);
	}
	return true;
}

static bool signalled(struct sim_loop *l)
{
	struct signalfd_siginfo si;

	return read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si);
}

enum sim_stop sim_loop_run(struct sim_loop *l)
{
	uint64_t start = time_mono_usec(), next_tick = start + PROGRESS_USEC;
	uint64_t deadline = l->c.duration > 0 ? start + (uint64_t)(l->c.duration * 1e6) : 0;
	struct curl_waitfd wfd = {.fd = l->sigfd, .events = CURL_WAIT_POLLIN};

	for (;;) {
		uint64_t now, wait_usec = (uint64_t)POLL_MAX_MS * 1000u;

		if (!pump(l) || !collect(l) || !pump(l))
			return SIM_STOP_FAILURE;
		now = time_mono_usec();
		l->ops.tick(l->ops.cls, now);
		if (l->ops.finished(l->ops.cls))
			return SIM_STOP_DONE;
		if (deadline && now >= deadline)
			return SIM_STOP_DURATION;
		if (l->c.progress && now >= next_tick) {
			sim_stats_progress(l->stats, stderr);
			next_tick = now + PROGRESS_USEC;
		}
		if (l->heap_len && l->free_count)
			wait_usec = l->heap[0].due > now ? l->heap[0].due - now : 0;
		if (l->c.progress && next_tick - now < wait_usec)
			wait_usec = next_tick > now ? next_tick - now : 0;
		if (deadline && deadline - now < wait_usec)
			wait_usec = deadline - now;
		if (wait_usec > (uint64_t)POLL_MAX_MS * 1000u)
			wait_usec = (uint64_t)POLL_MAX_MS * 1000u;
		wfd.revents = 0;
		/* Round up: a timer due in 300 us must not spin at 0 ms. */
		if (curl_multi_poll(l->multi, &wfd, 1, (int)((wait_usec + 999) / 1000), NULL) !=
		    CURLM_OK)
			return SIM_STOP_FAILURE;
		if (wfd.revents && signalled(l))
			return SIM_STOP_SIGNAL;
	}
}

/* ---- life cycle ---- */

enum err sim_loop_new(const struct sim_loop_config *c, const struct sim_loop_ops *ops,
		      struct sim_stats *stats, struct sim_loop **ret)
{
	struct sim_loop *l = calloc(1, sizeof(*l));
	sigset_t mask;

	if (!l)
		return ERR_NOMEM;
	l->c = *c;
	l->ops = *ops;
	l->stats = stats;
	l->sigfd = -1;
	l->base_url = strdup(c->base_url);
	l->cacert = c->cacert ? strdup(c->cacert) : NULL;
	l->multi = curl_multi_init();
	l->slots = calloc(c->concurrency, sizeof(*l->slots));
	l->free_slots = calloc(c->concurrency, sizeof(*l->free_slots));
	l->heap = calloc(c->devices, sizeof(*l->heap));
	l->queue = calloc(c->devices, sizeof(*l->queue));
	l->planned = calloc(c->devices, sizeof(*l->planned));
	if (!l->base_url || (c->cacert && !l->cacert) || !l->multi || !l->slots || !l->free_slots ||
	    !l->heap || !l->queue || !l->planned) {
		sim_loop_free(l);
		return ERR_NOMEM;
	}
	/* Idle connections are kept for the next device's request. */
	curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, (long)c->concurrency);
	for (unsigned i = 0; i < c->concurrency; i++) {
		struct slot *s = &l->slots[i];
		s->loop = l;
		buf_init(&s->body, 0);
		s->easy = curl_easy_init();
		if (!s->easy) {
			sim_loop_free(l);
			return ERR_NOMEM;
		}
		l->free_slots[l->free_count++] = c->concurrency - 1 - i;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &l->old_mask);
	l->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0) {
		sim_loop_free(l);
		return ERR_IO;
	}
	*ret = l;
	return ERR_OK;
}

void sim_loop_free(struct sim_loop *l)
{
	if (!l)
		return;
	for (unsigned i = 0; l->slots && i < l->c.concurrency; i++) {
		struct slot *s = &l->slots[i];
		if (s->headers) /* still running */
			curl_multi_remove_handle(l->multi, s->easy);
		curl_slist_free_all(s->headers);
		if (s->easy)
			curl_easy_cleanup(s->easy);
		buf_release(&s->body);
	}
	if (l->multi)
		curl_multi_cleanup(l->multi);
	if (l->sigfd >= 0) {
		close(l->sigfd);
		sigprocmask(SIG_SETMASK, &l->old_mask, NULL);
	}
	free(l->slots);
	free(l->free_slots);
	free(l->heap);
	free(l->queue);
	free(l->planned);
	free(l->base_url);
	free(l->cacert);
	free(l);
}
