/*
 * loadgen: a small HTTP(S) load generator on libcurl's multi interface, for
 * bench/auth.sh and bench/reconnect.sh. Unlike wrk it can present a TLS
 * client certificate, and it can open a new connection per request without
 * ever resuming a TLS session.
 *
 *   loadgen [-c CONNS] [-d SECONDS] [-n REQUESTS] [-H 'Name: value']...
 *           [--cert PEM --key PEM] [--cacert PEM] [-k]
 *           [--reconnect [--no-resume]] [--tls12] URL
 *
 * CONNS easy handles (default 8) each issue GET URL, and re-issue it as soon
 * as the previous response is complete, for SECONDS (default 10). Without
 * --reconnect connections are kept alive (HTTP/1.1, no FORBID_REUSE, no
 * multiplexing, at most CONNS connections to the host), so after the first
 * request of each handle no new TLS handshake should happen; "connects" in
 * the output counts the connections libcurl had to open. When the time is up
 * no new request is started and the ones in flight are allowed to finish (at
 * most 10 s more; the ones still unfinished then count as errors). After 1000
 * transport errors it stops early. Responses are counted by HTTP status.
 *
 * -n REQUESTS: start no more than REQUESTS requests in all (the run ends when
 * they are done or SECONDS are up, whichever comes first); with -c 1, a fixed
 * number of sequential requests (bench/reconnect.sh counts syscalls per
 * connection over them).
 *
 * --reconnect: every request on a new TCP and TLS connection, closed after
 * the response (CURLOPT_FRESH_CONNECT + CURLOPT_FORBID_REUSE). libcurl still
 * keeps the TLS session it got, so each handle's later connections resume
 * it when the server allows (a ticket or a session ID), as a device that
 * keeps its session would. --no-resume also turns libcurl's session cache
 * off (CURLOPT_SSL_SESSIONID_CACHE = 0): every connection is a full
 * handshake. --tls12: TLS 1.2 only (CURLOPT_SSLVERSION, minimum and maximum).
 *
 * Output, one line on stdout:
 *   requests=N seconds=S rps=R non2xx=M errors=E connects=K cpu=C resumed=U
 * N counts every completed response (any status), S is the wall time from the
 * first request to the last response, R = N / S, M the responses with a
 * status outside 200-299, E the transfers that failed (libcurl error or
 * unfinished), K the connections opened and C the CPU seconds (user + system)
 * loadgen itself used, U the connections whose TLS session was resumed
 * (SSL_session_reused() / gnutls_session_is_resumed() of the TLS library
 * libcurl uses, found at run time; -1 when it cannot be asked: another
 * TLS library, or plain HTTP). Per-status counts and the first few errors go
 * to stderr.
 * Exit status: 0 when M = 0 and E = 0, 1 otherwise, 2 on a usage error.
 *
 * Only loopback URLs are accepted (127.0.0.0/8, ::1, localhost), proxies are
 * ignored and redirects are not followed.
 *
 * Build: cc -O2 -o build/bench/loadgen bench/loadgen.c $(pkg-config --cflags --libs libcurl)
 * (glibc >= 2.34 has dlopen() in libc; with an older one add -ldl).
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/resource.h>

#include <curl/curl.h>

#define MAX_CONNS	1024
#define MAX_SECONDS	3600
#define DRAIN_SECONDS	10
#define REQUEST_TIMEOUT 30000L /* ms, per request */
#define ERRORS_SHOWN	5
#define ERRORS_MAX	1000 /* stop early: the run has failed anyway */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	*(unsigned long long *)userdata += size * nmemb;
	return size * nmemb;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen [-c CONNS] [-d SECONDS] [-n REQUESTS] [-H 'Name: value']...\n"
		"               [--cert PEM --key PEM] [--cacert PEM] [-k]\n"
		"               [--reconnect [--no-resume]] [--tls12] URL\n");
	exit(2);
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < lo || v > hi) {
		fprintf(stderr, "loadgen: %s must be a number in %ld..%ld\n", what, lo, hi);
		exit(2);
	}
	return v;
}

/* Is the URL's host a loopback address? */
static int url_is_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		goto out;
	if (strncmp(host, "127.", 4) == 0) {
		unsigned a, b, c;
		char extra;
		ok = sscanf(host + 4, "%u.%u.%u%c", &a, &b, &c, &extra) == 3 && a < 256 &&
		     b < 256 && c < 256;
	} else {
		ok = strcmp(host, "[::1]") == 0 || strcasecmp(host, "localhost") == 0;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

struct conn {
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	int resumed; /* the current transfer's TLS session was resumed: 1, no: 0, unknown: -1 */
};

/* "Was this TLS session resumed?" of the TLS library under libcurl, looked
 * up in the process (libcurl links it): OpenSSL's SSL_session_reused(SSL *)
 * and GnuTLS's gnutls_session_is_resumed(gnutls_session_t) both take the
 * pointer CURLINFO_TLS_SSL_PTR gives and return nonzero when resumed. */
typedef int (*resumed_fn)(void *);
static resumed_fn openssl_reused, gnutls_resumed;

static void find_resumed_fns(void)
{
	void *self = dlopen(NULL, RTLD_LAZY);
	void *f;

	if (!self)
		return;
	/* POSIX: a function pointer converts from dlsym's void *. */
	if ((f = dlsym(self, "SSL_session_reused")))
		memcpy(&openssl_reused, &f, sizeof f);
	if ((f = dlsym(self, "gnutls_session_is_resumed")))
		memcpy(&gnutls_resumed, &f, sizeof f);
}

/* CURLOPT_PREREQFUNCTION: the connection is up (TLS handshake done), the
 * request not yet sent. */
static int on_prereq(void *clientp, char *conn_primary_ip, char *conn_local_ip,
		     int conn_primary_port, int conn_local_port)
{
	struct conn *c = clientp;
	struct curl_tlssessioninfo *info = NULL;

	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	c->resumed = -1;
	if (curl_easy_getinfo(c->easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info ||
	    !info->internals)
		return CURL_PREREQFUNC_OK;
	if (info->backend == CURLSSLBACKEND_OPENSSL && openssl_reused)
		c->resumed = openssl_reused(info->internals) != 0;
	else if (info->backend == CURLSSLBACKEND_GNUTLS && gnutls_resumed)
		c->resumed = gnutls_resumed(info->internals) != 0;
	return CURL_PREREQFUNC_OK;
}

int main(int argc, char **argv)
{
	long conns = 8, seconds = 10, total = 0;
	const char *url = NULL, *cert = NULL, *key = NULL, *cacert = NULL;
	int insecure = 0, reconnect = 0, no_resume = 0, tls12 = 0;
	struct curl_slist *headers = NULL;
	static struct conn conn[MAX_CONNS];
	static unsigned long long status_count[600];
	unsigned long long requests = 0, non2xx = 0, errors = 0, connects = 0, other_status = 0;
	unsigned long long body_bytes = 0, started = 0;
	long long resumed = 0; /* -1 once a connection could not be asked */
	long active = 0;
	double start, deadline, last_done;
	CURLM *multi;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has_next = i + 1 < argc;

		if (strcmp(a, "-c") == 0 && has_next)
			conns = parse_long(argv[++i], 1, MAX_CONNS, "-c");
		else if (strcmp(a, "-d") == 0 && has_next)
			seconds = parse_long(argv[++i], 1, MAX_SECONDS, "-d");
		else if (strcmp(a, "-n") == 0 && has_next)
			total = parse_long(argv[++i], 1, 1000000000L, "-n");
		else if (strcmp(a, "-H") == 0 && has_next) {
			struct curl_slist *h = curl_slist_append(headers, argv[++i]);
			if (!h) {
				fprintf(stderr, "loadgen: out of memory\n");
				return 2;
			}
			headers = h;
		} else if (strcmp(a, "--cert") == 0 && has_next)
			cert = argv[++i];
		else if (strcmp(a, "--key") == 0 && has_next)
			key = argv[++i];
		else if (strcmp(a, "--cacert") == 0 && has_next)
			cacert = argv[++i];
		else if (strcmp(a, "-k") == 0 || strcmp(a, "--insecure") == 0)
			insecure = 1;
		else if (strcmp(a, "--reconnect") == 0)
			reconnect = 1;
		else if (strcmp(a, "--no-resume") == 0)
			no_resume = 1;
		else if (strcmp(a, "--tls12") == 0)
			tls12 = 1;
		else if (a[0] == '-' || url)
			usage();
		else
			url = a;
	}
	if (!url)
		usage();
	if (key && !cert) {
		fprintf(stderr, "loadgen: --key needs --cert\n");
		return 2;
	}
	if (no_resume && !reconnect) {
		fprintf(stderr, "loadgen: --no-resume needs --reconnect\n");
		return 2;
	}
	if (total > 0 && conns > total)
		conns = total;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "loadgen: curl_global_init failed\n");
		return 2;
	}
	if (!url_is_loopback(url)) {
		fprintf(stderr, "loadgen: '%s' is not an http(s) URL on a loopback address\n", url);
		return 2;
	}
	find_resumed_fns();

	multi = curl_multi_init();
	if (!multi) {
		fprintf(stderr, "loadgen: curl_multi_init failed\n");
		return 2;
	}
	/* One connection per handle, kept alive; no HTTP/2 multiplexing. */
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, conns);
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);

	for (i = 0; i < conns; i++) {
		CURL *e = curl_easy_init();

		if (!e) {
			fprintf(stderr, "loadgen: curl_easy_init failed\n");
			return 2;
		}
		conn[i].easy = e;
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
#if LIBCURL_VERSION_NUM >= 0x075500
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
		curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, (long)reconnect);
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, (long)reconnect);
		curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, no_resume ? 0L : 1L);
		if (tls12)
			curl_easy_setopt(
				e, CURLOPT_SSLVERSION,
				(long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
		curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
		curl_easy_setopt(e, CURLOPT_PREREQDATA, &conn[i]);
		curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &body_bytes);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, conn[i].errbuf);
		curl_easy_setopt(e, CURLOPT_PRIVATE, &conn[i]);
		if (headers)
			curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
		if (cert) {
			curl_easy_setopt(e, CURLOPT_SSLCERT, cert);
			curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		}
		if (key) {
			curl_easy_setopt(e, CURLOPT_SSLKEY, key);
			curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		}
		if (cacert)
			curl_easy_setopt(e, CURLOPT_CAINFO, cacert);
		if (insecure) {
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
		}
	}

	start = now_s();
	deadline = start + (double)seconds;
	last_done = start;
	for (i = 0; i < conns; i++) {
		conn[i].errbuf[0] = '\0';
		conn[i].resumed = -1;
		if (curl_multi_add_handle(multi, conn[i].easy) != CURLM_OK) {
			fprintf(stderr, "loadgen: curl_multi_add_handle failed\n");
			return 2;
		}
		active++;
		started++;
	}

	while (active > 0) {
		int running = 0, queued;
		CURLMsg *msg;
		CURLMcode mc;
		double t;

		mc = curl_multi_perform(multi, &running);
		if (mc != CURLM_OK) {
			fprintf(stderr, "loadgen: curl_multi_perform: %s\n",
				curl_multi_strerror(mc));
			break;
		}
		while ((msg = curl_multi_info_read(multi, &queued))) {
			CURL *e;
			struct conn *c = NULL;
			long code = 0, nconn = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			e = msg->easy_handle;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c);
			curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconn);
			connects += (unsigned long long)nconn;
			/* Resumption is a property of a new connection. */
			if (nconn > 0 && c && resumed >= 0)
				resumed = c->resumed < 0 ? -1 : resumed + c->resumed;
			t = now_s();
			if (msg->data.result == CURLE_OK) {
				curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
				requests++;
				last_done = t;
				if (code >= 0 && code < 600)
					status_count[code]++;
				else
					other_status++;
				if (code < 200 || code > 299)
					non2xx++;
			} else {
				if (errors < ERRORS_SHOWN)
					fprintf(stderr, "loadgen: error: %s (%s)\n",
						curl_easy_strerror(msg->data.result),
						c && c->errbuf[0] ? c->errbuf : "-");
				errors++;
			}
			curl_multi_remove_handle(multi, e);
			active--;
			if (t < deadline && errors < ERRORS_MAX &&
			    (total == 0 || started < (unsigned long long)total)) {
				if (c) {
					c->errbuf[0] = '\0';
					c->resumed = -1;
				}
				started++;
				if (curl_multi_add_handle(multi, e) == CURLM_OK)
					active++;
				else
					errors++;
			}
		}
		if (active == 0)
			break;
		if (now_s() > deadline + DRAIN_SECONDS) {
			fprintf(stderr, "loadgen: %ld requests unfinished %d s after the end\n",
				active, DRAIN_SECONDS);
			errors += (unsigned long long)active;
			break;
		}
		mc = curl_multi_poll(multi, NULL, 0, 100, NULL);
		if (mc != CURLM_OK) {
			fprintf(stderr, "loadgen: curl_multi_poll: %s\n", curl_multi_strerror(mc));
			break;
		}
	}

	{
		double secs = last_done - start, cpu = 0;
		int first = 1;
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

		if (secs <= 0)
			secs = now_s() - start;
		fprintf(stderr, "loadgen: status");
		for (i = 0; i < 600; i++)
			if (status_count[i]) {
				fprintf(stderr, " %d=%llu", i, status_count[i]);
				first = 0;
			}
		if (other_status)
			fprintf(stderr, " other=%llu", other_status);
		if (first)
			fprintf(stderr, " (none)");
		fprintf(stderr, "; body bytes %llu\n", body_bytes);
		printf("requests=%llu seconds=%.3f rps=%.1f non2xx=%llu errors=%llu connects=%llu "
		       "cpu=%.2f resumed=%lld\n",
		       requests, secs, secs > 0 ? (double)requests / secs : 0.0, non2xx, errors,
		       connects, cpu, resumed);
		fflush(stdout);
	}

	for (i = 0; i < conns; i++) {
		curl_multi_remove_handle(multi, conn[i].easy);
		curl_easy_cleanup(conn[i].easy);
	}
	curl_multi_cleanup(multi);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	return (non2xx == 0 && errors == 0 && requests > 0) ? 0 : 1;
}
