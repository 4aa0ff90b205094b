/* How suitd listens (one libmicrohttpd daemon whose thread pool shares one
 * socket; issue 14 measured one daemon per core on SO_REUSEPORT sockets and
 * kept this, docs/design.md, TLS): many new connections at once are all
 * served, a TLS 1.2 session resumes whichever worker takes the connection,
 * SIGTERM under load is clean, socket activation works, and neither a
 * second suitd nor another program can share a port with a running one. */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#include "tests/check_run.h"

#define PARALLEL 64 /* new connections at once */
#define ROUNDS	 4
/* All clients are 127.0.0.1: the bursts would meet the per-address limit
 * (64) while the previous burst's connections are still being closed. */
#define NO_ADDRESS_LIMIT "[server]\nper_address_connection_limit = 0\n"

static unsigned url_port(const struct suitd_proc *p)
{
	return (unsigned)strtoul(strrchr(p->url, ':') + 1, NULL, 10);
}

static size_t discard(char *data, size_t size, size_t n, void *cls)
{
	(void)data;
	(void)cls;
	return size * n;
}

/* A handle for url, verified against the test CA, body discarded; fresh:
 * a new connection for each request, closed after it. */
static CURL *handle_new(const struct suitd_proc *p, const char *url, bool fresh)
{
	CURL *h = curl_easy_init();

	ck_assert_ptr_nonnull(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, p->ca);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (fresh) {
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	}
	return h;
}

/* PARALLEL requests at once, each on a new connection; all must be 200. */
static void burst(struct suitd_proc *p, const char *path)
{
	CURLM *m = curl_multi_init();
	CURL *h[PARALLEL];
	char url[256];
	int running = 1, left, ok = 0;
	CURLMsg *msg;

	snprintf(url, sizeof(url), "%s%s", p->url, path);
	for (unsigned i = 0; i < PARALLEL; i++) {
		h[i] = handle_new(p, url, true);
		curl_multi_add_handle(m, h[i]);
	}
	while (running) {
		ck_assert_int_eq(curl_multi_perform(m, &running), CURLM_OK);
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	while ((msg = curl_multi_info_read(m, &left))) {
		long status = 0;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		ok += msg->data.result == CURLE_OK && status == 200;
		if (msg->data.result != CURLE_OK || status != 200)
			fprintf(stderr, "burst: %s, status %ld\n",
				curl_easy_strerror(msg->data.result), status);
	}
	for (unsigned i = 0; i < PARALLEL; i++) {
		curl_multi_remove_handle(m, h[i]);
		curl_easy_cleanup(h[i]);
	}
	curl_multi_cleanup(m);
	ck_assert_int_eq(ok, PARALLEL);
}

/* Many new connections at once are all served and counted. */
START_TEST(test_connections_burst)
{
	struct suitd_proc p;

	harness_setup(&p, NO_ADDRESS_LIMIT);
	harness_start(&p);
	for (unsigned r = 0; r < ROUNDS; r++)
		burst(&p, "/healthz");
	ck_assert_uint_ge(harness_metric(&p, "suitd_http_connections_total"), ROUNDS * PARALLEL);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

/* A TLS 1.2 session ID (no ticket, libcurl's way) resumes 16 times in a
 * row, whichever worker thread takes each connection: the session cache
 * is one for all. */
START_TEST(test_session_cache_shared)
{
	struct suitd_proc p;
	char cmd[1024], line[512];
	unsigned reused = 0;

	harness_setup(&p, NO_ADDRESS_LIMIT);
	harness_start(&p);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl s_client -connect 127.0.0.1:%u -CAfile %s -tls1_2 -no_ticket "
		 "-sess_out sess.pem </dev/null >/dev/null 2>&1 && for i in $(seq 16); do "
		 "openssl s_client -connect 127.0.0.1:%u -CAfile %s -tls1_2 -no_ticket -sess_in "
		 "sess.pem </dev/null 2>&1 | grep -c '^Reused, TLSv1.2'; done",
		 p.dir, url_port(&p), p.ca, url_port(&p), p.ca);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		reused += (unsigned)strtoul(line, NULL, 10);
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_uint_eq(reused, 16);
	ck_assert_uint_ge(harness_metric(&p, "suitd_tls_handshakes_total{resumed=\"yes\"}"), 16);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

/* SIGTERM while 32 clients keep opening new connections: suitd exits 0
 * (under SANITIZE=1 without a leak, under SANITIZE=thread without a
 * race). */
START_TEST(test_stop_under_load)
{
	struct suitd_proc p;
	pid_t child;

	harness_setup(&p, NO_ADDRESS_LIMIT);
	harness_start(&p);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		char url[256];
		/* Gone with the test, even when one of its assertions ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(url, sizeof(url), "%s/healthz", p.url);
		for (;;) {
			CURLM *m = curl_multi_init();
			CURL *h[32];
			int running = 1;
			for (unsigned i = 0; i < 32; i++) {
				h[i] = handle_new(&p, url, true);
				curl_multi_add_handle(m, h[i]);
			}
			while (running && curl_multi_perform(m, &running) == CURLM_OK)
				if (running)
					curl_multi_poll(m, NULL, 0, 1000, NULL);
			for (unsigned i = 0; i < 32; i++) {
				curl_multi_remove_handle(m, h[i]);
				curl_easy_cleanup(h[i]);
			}
			curl_multi_cleanup(m);
		}
	}
	/* Wait until the load is on. */
	for (unsigned t = 0; t < 300 && harness_metric(&p, "suitd_http_connections_total") < 100;
	     t++)
		usleep(100 * 1000);
	ck_assert_uint_ge(harness_metric(&p, "suitd_http_connections_total"), 100);
	ck_assert_int_eq(harness_stop(&p), 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	harness_cleanup(&p);
}
END_TEST

/* systemd socket activation (LISTEN_FDS=1, the socket as descriptor 3):
 * the inherited socket serves every connection. */
START_TEST(test_socket_activation)
{
	struct suitd_proc p;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	struct http_result r = {0};
	const char *bin = getenv("SUITD_BIN") ? getenv("SUITD_BIN") : "build/suitd";
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, SOMAXCONN), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	harness_setup(&p, NO_ADDRESS_LIMIT);
	p.pid = fork();
	ck_assert_int_ge(p.pid, 0);
	if (p.pid == 0) {
		char pid[24];
		int logfd = open(p.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(logfd, 1);
		dup2(logfd, 2);
		dup2(fd, 3);
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		setenv("LISTEN_PID", pid, 1);
		setenv("LISTEN_FDS", "1", 1);
		execl(bin, bin, "-c", p.conf, (char *)NULL);
		_exit(127);
	}
	close(fd);
	snprintf(p.url, sizeof(p.url), "https://127.0.0.1:%u", ntohs(sa.sin_port));
	for (unsigned t = 0; t < 200 && r.status != 200; t++) {
		if (t)
			usleep(50 * 1000);
		http_result_release(&r);
		harness_request(&p, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
	}
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	burst(&p, "/healthz");
	ck_assert_msg(harness_log_contains(&p, "listening on https://127.0.0.1:"), "see %s", p.log);
	ck_assert_int_eq(harness_stop(&p), 0);
	harness_cleanup(&p);
}
END_TEST

/* A config like the harness's, on a fixed port. */
static void write_config_port(struct suitd_proc *p, unsigned port)
{
	char storage[512];
	FILE *f = fopen(p->conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[server]\nlisten = 127.0.0.1:%u\nthreads = 2\ntls_cert = server.pem\n"
		"tls_key = server.key\n%s",
		port, harness_storage_conf(p, storage, sizeof(storage)));
	fclose(f);
}

/* A second suitd on the port of a running one exits with an error, and
 * the first keeps serving every connection. */
START_TEST(test_second_suitd_refused)
{
	struct suitd_proc a, b;
	struct http_result r;

	harness_setup(&a, NO_ADDRESS_LIMIT);
	harness_start(&a);
	harness_setup(&b, "");
	write_config_port(&b, url_port(&a));
	ck_assert_int_ne(harness_cli(&b, NULL, 0, (char *)NULL), 0);
	ck_assert_msg(harness_log_contains(&b, "Address already in use"), "see %s", b.log);
	burst(&a, "/healthz");
	harness_request(&a, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_result_release(&r);
	ck_assert_int_eq(harness_stop(&a), 0);
	harness_cleanup(&a);
	harness_cleanup(&b);
}
END_TEST

/* Another program of the same user listening on the port with
 * SO_REUSEPORT: suitd refuses to start rather than share the port. */
START_TEST(test_stranger_on_port_refused)
{
	struct suitd_proc b;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	harness_setup(&b, "");
	write_config_port(&b, ntohs(sa.sin_port));
	ck_assert_int_ne(harness_cli(&b, NULL, 0, (char *)NULL), 0);
	ck_assert_msg(harness_log_contains(&b, "Address already in use"), "see %s", b.log);
	close(fd);
	harness_cleanup(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-listen");
	TCase *tc = tcase_create("listen");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_connections_burst);
	tcase_add_test(tc, test_session_cache_shared);
	tcase_add_test(tc, test_stop_under_load);
	tcase_add_test(tc, test_socket_activation);
	tcase_add_test(tc, test_second_suitd_refused);
	tcase_add_test(tc, test_stranger_on_port_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
