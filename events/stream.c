#include "events/stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/timeutil.h"

/* Events the hub thread reads from the log at once. */
#define HUB_BATCH 512
/* A drained stream buffer larger than this is freed. */
#define STREAM_KEEP 16384

struct event_stream {
	struct event_hub *hub;
	/* Its buffer and state: taken by its connection's reads and by the
	 * hub for a moment per batch, never for long. */
	pthread_mutex_t lock;
	struct event_stream *prev, *next; /* the hub's list */
	struct event_filter filter;
	int64_t cursor;	 /* the last id queued or passed over */
	bool replaying;	 /* still reading the log itself: the hub leaves it alone */
	bool ending;	 /* nothing more is queued: ends once the buffer is sent */
	bool overflowed; /* counted once */
	char *buf;	 /* queued text: [off, len) */
	size_t off, len, cap;
	void (*wake)(void *wake_cls); /* set while parked */
	void *wake_cls;
};

struct event_hub {
	struct storage *storage;
	struct event_hub_options o;
	pthread_t thread;
	/* The list of streams (not their buffers: each has its lock, taken
	 * inside this one). */
	pthread_mutex_t lock;
	struct event_stream *streams;
	unsigned count;
	atomic_uint streams_open; /* count, for the commit listener (no lock) */
	bool closing;
	/* The newest id the hub has queued on the live streams; set before
	 * it visits them, so that a stream ending its replay at or beyond
	 * it cannot miss a batch. */
	_Atomic int64_t head;
	/* The commits' signal to the thread. */
	pthread_mutex_t sig_lock;
	pthread_cond_t sig;
	bool pending, stop;
	atomic_ullong events, bytes, overflows, refused;
};

/* A stream's wake-up, called after the hub's lock is released: the server
 * takes locks of its own to resume a connection. */
struct wakeup {
	void (*fn)(void *cls);
	void *cls;
};

enum err event_filter_types(struct event_filter *f, const char *list, struct diag *d)
{
	const char *p = list;

	f->type_count = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *star = memchr(p, '*', n);
		if (n == 0 || n >= sizeof(f->types[0]))
			return diag_set(d, ERR_INVALID, "types",
					"each of 'types' is 1 to 63 characters");
		for (size_t i = 0; i < n; i++) {
			char c = p[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
			      c == '.' || c == '*'))
				return diag_set(d, ERR_INVALID, "types",
						"'types' takes event types such as "
						"deployment.paused or deployment.*");
		}
		/* '*' only as a whole last segment: "deployment.*" or "*". */
		if (star && !(star == p + n - 1 && (n == 1 || p[n - 2] == '.')))
			return diag_set(d, ERR_INVALID, "types",
					"a wildcard is a whole last segment: deployment.*");
		if (f->type_count == EVENT_FILTER_TYPES)
			return diag_set(d, ERR_INVALID, "types", "at most %d types",
					EVENT_FILTER_TYPES);
		memcpy(f->types[f->type_count], p, n);
		f->types[f->type_count++][n] = '\0';
		p += n;
		if (*p == ',') {
			p++;
			if (!*p)
				return diag_set(d, ERR_INVALID, "types",
						"an empty type in 'types'");
		}
	}
	return ERR_OK;
}

static bool type_match(const char *pattern, const char *type)
{
	size_t n = strlen(pattern);

	if (n && pattern[n - 1] == '*')
		return strncmp(pattern, type, n - 1) == 0;
	return strcmp(pattern, type) == 0;
}

bool event_filter_match(const struct event_filter *f, const struct event *ev)
{
	bool typed = f->type_count == 0;

	for (unsigned i = 0; i < f->type_count && !typed; i++)
		typed = type_match(f->types[i], ev->type);
	return typed && (!f->deployment || f->deployment == ev->deployment_id) &&
	       (!f->device[0] || strcmp(f->device, ev->device_id) == 0);
}

json_t *event_json(const struct event *ev)
{
	char ms[RFC3339_MS_LEN];
	json_t *data = json_loads(ev->data ? ev->data : "{}", 0, NULL);

	time_format_rfc3339_ms(ev->at_ms, ms);
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o}", "id", (json_int_t)ev->id, "type",
			      ev->type, "at", ms, "actor", ev->actor, "subject", ev->subject,
			      "data", data ? data : json_object());
	if (j && ev->deployment_id)
		json_object_set_new(j, "deployment", json_integer(ev->deployment_id));
	if (j && ev->device_id[0])
		json_object_set_new(j, "device", json_string(ev->device_id));
	return j;
}

/* "id: N\nevent: TYPE\ndata: JSON\n\n", malloc'ed; NULL when out of memory. */
static char *event_sse(const struct event *ev, size_t *ret_len)
{
	json_t *j = event_json(ev);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	char *out = NULL;
	size_t n;

	json_decref(j);
	if (!text)
		return NULL;
	n = strlen(text) + strlen(ev->type) + 64;
	out = malloc(n);
	if (out) {
		int len = snprintf(out, n, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)ev->id,
				   ev->type, text);
		*ret_len = len > 0 ? (size_t)len : 0;
	}
	free(text);
	return out;
}

/* Queue text on st (under the hub's lock); false when out of memory. */
static bool stream_append(struct event_stream *st, const char *text, size_t n)
{
	if (st->off && st->off == st->len)
		st->off = st->len = 0;
	if (st->len + n > st->cap && st->off) {
		memmove(st->buf, st->buf + st->off, st->len - st->off);
		st->len -= st->off;
		st->off = 0;
	}
	if (st->len + n > st->cap) {
		size_t cap = st->cap ? st->cap : 4096;
		while (cap < st->len + n)
			cap *= 2;
		char *b = realloc(st->buf, cap);
		if (!b)
			return false;
		st->buf = b;
		st->cap = cap;
	}
	memcpy(st->buf + st->len, text, n);
	st->len += n;
	return true;
}

/* Take st's wake-up, if parked, into w (under the hub's lock). */
static void stream_unpark(struct event_stream *st, struct wakeup *w, unsigned *n)
{
	if (!st->wake)
		return;
	w[(*n)++] = (struct wakeup){st->wake, st->wake_cls};
	st->wake = NULL;
	st->wake_cls = NULL;
}

/* Queue one live event on st, or end it when its buffer is full. */
static void stream_offer(struct event_hub *h, struct event_stream *st, const struct event *ev,
			 const char *text, size_t n, bool *ret_queued)
{
	*ret_queued = false;
	if (st->ending || ev->id <= st->cursor)
		return;
	if (!event_filter_match(&st->filter, ev)) {
		st->cursor = ev->id;
		return;
	}
	if (st->len - st->off + n > h->o.stream_buffer) {
		char last[96];
		int len = snprintf(last, sizeof(last),
				   "event: overflow\ndata: {\"last_id\":%lld}\n\n",
				   (long long)st->cursor);
		/* What is queued still goes out, then this, then the end. */
		(void)stream_append(st, last, (size_t)len);
		st->ending = true;
		if (!st->overflowed)
			atomic_fetch_add(&h->overflows, 1);
		st->overflowed = true;
		*ret_queued = true;
		return;
	}
	if (!stream_append(st, text, n)) {
		st->ending = true; /* the client resumes by id */
		*ret_queued = true;
		return;
	}
	st->cursor = ev->id;
	atomic_fetch_add(&h->events, 1);
	*ret_queued = true;
}

struct batch {
	struct event ev[HUB_BATCH];
	char *text[HUB_BATCH];
	size_t len[HUB_BATCH];
	unsigned n;
	bool nomem;
};

static bool batch_add(void *cls, const struct event *ev)
{
	struct batch *b = cls;
	struct event *copy = &b->ev[b->n];

	*copy = *ev;
	copy->data = NULL;
	b->text[b->n] = event_sse(ev, &b->len[b->n]);
	if (!b->text[b->n]) {
		b->nomem = true;
		return false;
	}
	b->n++;
	return b->n < HUB_BATCH;
}

/* Queue what the log holds after head on the live streams. */
static void hub_dispatch(struct event_hub *h, struct batch *b)
{
	for (;;) {
		int64_t head, oldest, newest;
		unsigned woken = 0;

		pthread_mutex_lock(&h->lock);
		head = atomic_load(&h->head);
		bool idle = h->count == 0;
		pthread_mutex_unlock(&h->lock);
		/* Nobody listens: skip to the end of the log. A stream opening
		 * now starts from the log itself, never from head. */
		if (idle) {
			if (storage_events_range(h->storage, &oldest, &newest) == ERR_OK) {
				pthread_mutex_lock(&h->lock);
				if (h->count == 0 && newest > atomic_load(&h->head))
					atomic_store(&h->head, newest);
				idle = h->count == 0;
				pthread_mutex_unlock(&h->lock);
			}
			if (idle)
				return;
		}
		b->n = 0;
		b->nomem = false;
		if (storage_events_after(h->storage, head, HUB_BATCH, batch_add, b) != ERR_OK ||
		    b->nomem) {
			log_warn("the event hub cannot read the event log");
			for (unsigned i = 0; i < b->n; i++)
				free(b->text[i]);
			return;
		}
		if (b->n == 0)
			return;
		pthread_mutex_lock(&h->lock);
		atomic_store(&h->head, b->ev[b->n - 1].id);
		struct wakeup *w = calloc(h->count ? h->count : 1, sizeof(*w));
		for (struct event_stream *st = h->streams; st; st = st->next) {
			bool any = false;
			pthread_mutex_lock(&st->lock);
			for (unsigned i = 0; i < b->n && !st->replaying; i++) {
				bool queued;
				stream_offer(h, st, &b->ev[i], b->text[i], b->len[i], &queued);
				any |= queued;
			}
			if (any && w)
				stream_unpark(st, w, &woken);
			pthread_mutex_unlock(&st->lock);
		}
		pthread_mutex_unlock(&h->lock);
		for (unsigned i = 0; i < woken; i++)
			w[i].fn(w[i].cls);
		free(w);
		for (unsigned i = 0; i < b->n; i++)
			free(b->text[i]);
		if (b->n < HUB_BATCH)
			return;
	}
}

/* ": hb" on every parked live stream. */
static void hub_heartbeat(struct event_hub *h)
{
	static const char hb[] = ": hb\n\n";
	unsigned woken = 0;

	pthread_mutex_lock(&h->lock);
	struct wakeup *w = calloc(h->count ? h->count : 1, sizeof(*w));
	for (struct event_stream *st = h->streams; st && w; st = st->next) {
		pthread_mutex_lock(&st->lock);
		if (st->wake && !st->ending) {
			(void)stream_append(st, hb, sizeof(hb) - 1);
			stream_unpark(st, w, &woken);
		}
		pthread_mutex_unlock(&st->lock);
	}
	pthread_mutex_unlock(&h->lock);
	for (unsigned i = 0; i < woken; i++)
		w[i].fn(w[i].cls);
	free(w);
}

static void *hub_thread(void *arg)
{
	struct event_hub *h = arg;
	struct batch *b = malloc(sizeof(*b));
	uint64_t beat = (uint64_t)h->o.heartbeat_ms * 1000u;
	uint64_t next_beat = time_mono_usec() + beat;

	if (!b) {
		log_err("the event hub is out of memory: no live events");
		return NULL;
	}
	for (;;) {
		bool run = false, stop;

		pthread_mutex_lock(&h->sig_lock);
		while (!h->pending && !h->stop && time_mono_usec() < next_beat) {
			uint64_t wait = next_beat - time_mono_usec();
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			wait = wait > beat ? beat : wait;
			ts.tv_sec += (time_t)(wait / 1000000u);
			ts.tv_nsec += (long)(wait % 1000000u) * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->sig, &h->sig_lock, &ts);
		}
		run = h->pending;
		h->pending = false;
		stop = h->stop;
		pthread_mutex_unlock(&h->sig_lock);
		if (stop)
			break;
		if (run)
			hub_dispatch(h, b);
		if (time_mono_usec() >= next_beat) {
			/* Signals are hints: read the log at each beat too. */
			hub_dispatch(h, b);
			hub_heartbeat(h);
			next_beat = time_mono_usec() + beat;
		}
	}
	free(b);
	return NULL;
}

static void hub_signal(struct event_hub *h)
{
	pthread_mutex_lock(&h->sig_lock);
	h->pending = true;
	pthread_cond_signal(&h->sig);
	pthread_mutex_unlock(&h->sig_lock);
}

/* From the committing thread, after COMMIT: only a signal. */
static void hub_listener(void *cls, int64_t newest_id)
{
	struct event_hub *h = cls;

	(void)newest_id;
	/* Nobody listens: the commit costs nothing more. A stream that
	 * opens reads the log itself and then signals (event_stream_open). */
	if (atomic_load(&h->streams_open) == 0)
		return;
	hub_signal(h);
}

enum err event_hub_new(struct storage *s, const struct event_hub_options *o,
		       struct event_hub **ret_hub)
{
	struct event_hub *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;
	int64_t oldest = 0, newest = 0;
	enum err e;

	if (!h)
		return ERR_NOMEM;
	h->storage = s;
	h->o = *o;
	if (!h->o.heartbeat_ms)
		h->o.heartbeat_ms = EVENT_HEARTBEAT_MS;
	if ((e = storage_events_range(s, &oldest, &newest))) {
		free(h);
		return e;
	}
	atomic_store(&h->head, newest);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->sig_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->sig, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = storage_events_listen(s, hub_listener, h)) ||
	    pthread_create(&h->thread, NULL, hub_thread, h) != 0) {
		/* A registered listener cannot be taken back: the storage
		 * is closed by the caller's error path before it fires. */
		pthread_cond_destroy(&h->sig);
		pthread_mutex_destroy(&h->sig_lock);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return e ? e : ERR_INTERNAL;
	}
	*ret_hub = h;
	return ERR_OK;
}

void event_hub_shutdown(struct event_hub *h)
{
	struct wakeup *w;
	unsigned woken = 0;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->closing = true;
	w = calloc(h->count ? h->count : 1, sizeof(*w));
	for (struct event_stream *st = h->streams; st; st = st->next) {
		pthread_mutex_lock(&st->lock);
		st->ending = true;
		if (w)
			stream_unpark(st, w, &woken);
		pthread_mutex_unlock(&st->lock);
	}
	pthread_mutex_unlock(&h->lock);
	for (unsigned i = 0; i < woken; i++)
		w[i].fn(w[i].cls);
	free(w);
}

void event_hub_free(struct event_hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->sig_lock);
	h->stop = true;
	pthread_cond_signal(&h->sig);
	pthread_mutex_unlock(&h->sig_lock);
	pthread_join(h->thread, NULL);
	/* The storage still calls the listener on commits until it is
	 * freed: keep the signal state valid, it is only a flag. */
	pthread_mutex_lock(&h->lock);
	while (h->streams) {
		struct event_stream *st = h->streams;
		h->streams = st->next;
		st->hub = NULL; /* a stream the daemon never closed (cannot happen) */
	}
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->sig);
	pthread_mutex_destroy(&h->sig_lock);
	free(h);
}

void event_hub_stats(struct event_hub *h, struct event_hub_stats *ret)
{
	pthread_mutex_lock(&h->lock);
	ret->streams = h->count;
	pthread_mutex_unlock(&h->lock);
	ret->events = atomic_load(&h->events);
	ret->bytes = atomic_load(&h->bytes);
	ret->overflows = atomic_load(&h->overflows);
	ret->refused = atomic_load(&h->refused);
}

enum err event_stream_open(struct event_hub *h, const struct event_filter *f, int64_t after,
			   struct event_stream **ret_stream)
{
	struct event_stream *st;
	int64_t oldest = 0, newest = 0;
	enum err e;

	/* Live only: from the end of the log as it is now; the end also
	 * moves the hub's head, which stands still while nobody listens. */
	if ((e = storage_events_range(h->storage, &oldest, &newest)))
		return e;
	st = calloc(1, sizeof(*st));
	if (!st)
		return ERR_NOMEM;
	st->hub = h;
	pthread_mutex_init(&st->lock, NULL);
	st->filter = *f;
	st->cursor = after < 0 ? newest : after;
	/* Replay first, also for "live only": the hub may be behind newest. */
	st->replaying = true;
	/* The client's reconnection delay; also gets the headers going. */
	if (!stream_append(st, "retry: 3000\n\n", 13)) {
		pthread_mutex_destroy(&st->lock);
		free(st);
		return ERR_NOMEM;
	}
	pthread_mutex_lock(&h->lock);
	if (h->closing || h->count >= h->o.max_streams) {
		bool closing = h->closing;
		pthread_mutex_unlock(&h->lock);
		if (!closing)
			atomic_fetch_add(&h->refused, 1);
		pthread_mutex_destroy(&st->lock);
		free(st->buf);
		free(st);
		return ERR_UNAVAILABLE;
	}
	/* Without streams the hub dispatched nothing: skip it to the end of
	 * the log (a stream behind it replays up to there before it joins). */
	if (h->count == 0 && newest > atomic_load(&h->head))
		atomic_store(&h->head, newest);
	st->next = h->streams;
	if (h->streams)
		h->streams->prev = st;
	h->streams = st;
	h->count++;
	atomic_store(&h->streams_open, h->count);
	pthread_mutex_unlock(&h->lock);
	/* A commit that found no stream open did not signal: look now. */
	hub_signal(h);
	*ret_stream = st;
	return ERR_OK;
}

struct replay {
	const struct event_filter *filter;
	char *text;
	size_t len, cap;
	int64_t last;
	unsigned n, queued;
	bool nomem;
};

static bool replay_add(void *cls, const struct event *ev)
{
	struct replay *r = cls;
	size_t n;
	char *one;

	r->n++;
	r->last = ev->id;
	if (!event_filter_match(r->filter, ev))
		return true;
	if (!(one = event_sse(ev, &n))) {
		r->nomem = true;
		return false;
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16384;
		while (cap < r->len + n)
			cap *= 2;
		char *t = realloc(r->text, cap);
		if (!t) {
			free(one);
			r->nomem = true;
			return false;
		}
		r->text = t;
		r->cap = cap;
	}
	memcpy(r->text + r->len, one, n);
	r->len += n;
	r->queued++;
	free(one);
	return true;
}

long event_stream_read(struct event_stream *st, char *buf, size_t max)
{
	struct event_hub *h = st->hub;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		if (st->len > st->off) {
			size_t n = st->len - st->off;
			if (n > max)
				n = max;
			memcpy(buf, st->buf + st->off, n);
			st->off += n;
			/* Drained after a burst: give the memory back, so that a
			 * thousand idle streams do not each keep their peak. */
			if (st->off == st->len && st->cap > STREAM_KEEP) {
				free(st->buf);
				st->buf = NULL;
				st->off = st->len = st->cap = 0;
			}
			pthread_mutex_unlock(&st->lock);
			atomic_fetch_add(&h->bytes, n);
			return (long)n;
		}
		if (st->ending) {
			pthread_mutex_unlock(&st->lock);
			return EVENT_STREAM_END;
		}
		if (!st->replaying) {
			pthread_mutex_unlock(&st->lock);
			return 0;
		}
		/* The log after the cursor, read without the stream's lock:
		 * the hub leaves a replaying stream alone. */
		struct replay r = {.filter = &st->filter, .last = st->cursor};
		int64_t from = st->cursor;
		pthread_mutex_unlock(&st->lock);
		enum err e =
			storage_events_after(h->storage, from, EVENT_REPLAY_BATCH, replay_add, &r);
		pthread_mutex_lock(&st->lock);
		if (e || r.nomem || (r.len && !stream_append(st, r.text, r.len))) {
			free(r.text);
			pthread_mutex_unlock(&st->lock);
			return -1;
		}
		free(r.text);
		st->cursor = r.last;
		/* At the end of the log and not behind the hub: live from here. */
		if (r.n < EVENT_REPLAY_BATCH && st->cursor >= atomic_load(&h->head))
			st->replaying = false;
		if (r.queued)
			atomic_fetch_add(&h->events, r.queued);
	}
}

void event_stream_park(struct event_stream *st, void (*wake)(void *wake_cls), void *wake_cls)
{
	bool now;

	pthread_mutex_lock(&st->lock);
	now = st->len > st->off || st->ending || st->replaying;
	if (!now) {
		st->wake = wake;
		st->wake_cls = wake_cls;
	}
	pthread_mutex_unlock(&st->lock);
	if (now)
		wake(wake_cls);
}

void event_stream_close(struct event_stream *st)
{
	struct event_hub *h = st->hub;

	if (h) {
		pthread_mutex_lock(&h->lock);
		if (st->prev)
			st->prev->next = st->next;
		else
			h->streams = st->next;
		if (st->next)
			st->next->prev = st->prev;
		h->count--;
		atomic_store(&h->streams_open, h->count);
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_destroy(&st->lock);
	free(st->buf);
	free(st);
}
