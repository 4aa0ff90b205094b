/*
 * sse_fanout: N Server-Sent Events streams on libcurl's multi interface (one
 * thread), for bench/events.sh.
 *
 *   sse_fanout -n STREAMS -H 'Authorization: Bearer KEY' --cacert PEM
 *              [--quiet SECONDS] [--max SECONDS] URL
 *
 * Opens STREAMS connections to URL (GET, text/event-stream) and counts, per
 * stream, the events (blocks with an "id:" line), heartbeats (": hb") and
 * overflows ("event: overflow"). Prints "ready streams=N" on stdout (and
 * flushes) once every stream has its first bytes (suitd's "retry:" line),
 * so the caller can start the load. Ends --quiet seconds (default 3) after
 * the last event, or after --max seconds (default 300), and prints one line:
 *   streams=N events=E seconds=S eps=R min=A max=B overflows=O errors=X cpu=C
 * E counts every event of every stream, S runs from the first event to the
 * last (any stream), R = E / S, A and B the fewest and most events of one
 * stream, O the overflow events, X the streams that ended with an error or
 * early, C the CPU seconds (user + system) sse_fanout itself used.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct stream {
	CURL *h;
	unsigned long events, heartbeats, overflows;
	int started, ended;
	char tail[8]; /* the last bytes of the previous piece: "\nid: " across pieces */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double first_event, last_event;

/* Count "\nid: " (and a stream's first "id: " after "retry: ...\n\n"). */
static size_t on_data(char *data, size_t size, size_t nmemb, void *cls)
{
	struct stream *s = cls;
	size_t n = size * nmemb;
	char buf[8 + 16384];
	size_t off = 0;

	s->started = 1;
	while (off < n) {
		size_t take = n - off > 16384 ? 16384 : n - off, tl = strlen(s->tail);
		memcpy(buf, s->tail, tl);
		memcpy(buf + tl, data + off, take);
		buf[tl + take] = '\0';
		unsigned long before = s->events;
		for (char *p = buf; (p = strstr(p, "\nid: ")); p += 5)
			s->events++;
		for (char *p = buf; (p = strstr(p, "\n: hb")); p += 5)
			s->heartbeats++;
		for (char *p = buf; (p = strstr(p, "event: overflow")); p += 15)
			s->overflows++;
		if (s->events != before) {
			last_event = now();
			if (first_event == 0)
				first_event = last_event;
		}
		/* Keep the last 5 bytes: a pattern cut across two pieces. */
		size_t total = tl + take, keep = total < 5 ? total : 5;
		memcpy(s->tail, buf + total - keep, keep);
		s->tail[keep] = '\0';
		off += take;
	}
	return n;
}

int main(int argc, char **argv)
{
	const char *url = NULL, *cacert = NULL;
	struct curl_slist *headers = NULL;
	unsigned n = 100, ready = 0;
	double quiet = 3, max = 300, t0;
	int running = 0;
	CURLM *m;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-H") && i + 1 < argc)
			headers = curl_slist_append(headers, argv[++i]);
		else if (!strcmp(argv[i], "--cacert") && i + 1 < argc)
			cacert = argv[++i];
		else if (!strcmp(argv[i], "--quiet") && i + 1 < argc)
			quiet = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--max") && i + 1 < argc)
			max = strtod(argv[++i], NULL);
		else
			url = argv[i];
	}
	if (!url || !n) {
		fprintf(stderr, "usage: sse_fanout -n STREAMS -H HEADER --cacert PEM URL\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	struct stream *s = calloc(n, sizeof(*s));
	for (unsigned i = 0; i < n; i++) {
		s[i].h = curl_easy_init();
		curl_easy_setopt(s[i].h, CURLOPT_URL, url);
		curl_easy_setopt(s[i].h, CURLOPT_HTTPHEADER, headers);
		if (cacert)
			curl_easy_setopt(s[i].h, CURLOPT_CAINFO, cacert);
		else
			curl_easy_setopt(s[i].h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(s[i].h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(s[i].h, CURLOPT_WRITEDATA, &s[i]);
		curl_easy_setopt(s[i].h, CURLOPT_PRIVATE, &s[i]);
		curl_multi_add_handle(m, s[i].h);
	}
	t0 = now();
	for (;;) {
		int numfds;
		CURLMsg *msg;
		int left;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg == CURLMSG_DONE) {
				struct stream *st;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&st);
				st->ended = 1;
			}
		}
		if (ready < n) {
			unsigned r = 0;
			for (unsigned i = 0; i < n; i++)
				r += (unsigned)s[i].started;
			if (r == n) {
				ready = n;
				printf("ready streams=%u\n", n);
				fflush(stdout);
			}
		}
		double t = now();
		if (!running || t - t0 > max || (last_event > 0 && t - last_event > quiet))
			break;
		curl_multi_poll(m, NULL, 0, 100, &numfds);
	}
	unsigned long total = 0, min = (unsigned long)-1, maxe = 0, overflows = 0;
	unsigned errors = 0;
	for (unsigned i = 0; i < n; i++) {
		total += s[i].events;
		overflows += s[i].overflows;
		min = s[i].events < min ? s[i].events : min;
		maxe = s[i].events > maxe ? s[i].events : maxe;
		errors += (unsigned)s[i].ended;
		curl_multi_remove_handle(m, s[i].h);
		curl_easy_cleanup(s[i].h);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double secs = last_event > first_event ? last_event - first_event : 0;
	printf("streams=%u events=%lu seconds=%.3f eps=%.0f min=%lu max=%lu overflows=%lu "
	       "errors=%u cpu=%.2f\n",
	       n, total, secs, secs > 0 ? (double)total / secs : 0, min, maxe, overflows, errors,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
		       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6);
	curl_multi_cleanup(m);
	curl_slist_free_all(headers);
	free(s);
	curl_global_cleanup();
	return 0;
}
