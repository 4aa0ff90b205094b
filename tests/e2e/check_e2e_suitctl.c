/* suitctl, the remote command line, end to end: the real suitd (the fleet
 * fixture: an author key, a payload, manifest m1), build/suitctl run as a
 * user would (through sh, with SUITD_* in the environment or a profile),
 * its stdout, stderr and exit status asserted. Connection settings and the
 * 0600 rule of the config file, no key in argv, every noun and verb in
 * table, json, ndjson and -q output, pagination across pages, the exit
 * codes (1 usage, 2 API, 3 paused, 4 timeout, 5 transport), the progress
 * bar under a pseudo-terminal (script) and not in a pipe, the one-shot
 * release with suit-sim as the fleet, and the bash completion. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "fleet.h"
#include "tests/check_run.h"

#define GROUP "fleet"
#define SIMS  4

static char out[1 << 20], err[1 << 16];
static char sim_tokens[256];

/* A binary next to SUITD_BIN. */
static const char *bin(const char *name)
{
	static char path[2][512];
	static unsigned k;
	char *p = path[k++ % 2], *slash;
	const char *d = getenv("SUITD_BIN");

	snprintf(p, sizeof(path[0]), "%s", d ? d : "build/suitd");
	slash = strrchr(p, '/');
	snprintf(slash ? slash + 1 : p, sizeof(path[0]) - (size_t)(slash ? slash + 1 - p : 0), "%s",
		 name);
	return p;
}

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = 0;
	if (f)
		fclose(f);
}

/* Run `ENV suitctl ARGS` through sh in P.dir (ARGS are shell words);
 * stdout into out, stderr into err; the exit status. env: extra
 * assignments before the command ("" for none); with_conn: SUITD_URL,
 * SUITD_CACERT and SUITD_API_KEY_FILE set. */
static int run(bool with_conn, const char *env, const char *fmt, ...)
{
	char args[4096], cmd[8192], o[300], e[300];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(o, sizeof(o), "%s/ctl.out", P.dir);
	snprintf(e, sizeof(e), "%s/ctl.err", P.dir);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && unset NO_COLOR SUITD_URL SUITD_API_KEY SUITD_API_KEY_FILE SUITD_CACERT "
		 "SUITCTL_PROFILE; export HOME=%s SUITCTL_CONFIG=%s/no-config SUITCTL=%s; "
		 "%s%s%s%s%s%s%s { %s \"$SUITCTL\" %s ; } </dev/null >%s 2>%s",
		 P.dir, P.dir, P.dir, bin("suitctl"), with_conn ? "export SUITD_URL=" : "",
		 with_conn ? P.url : "", with_conn ? " SUITD_CACERT=" : "", with_conn ? P.ca : "",
		 with_conn ? " SUITD_API_KEY_FILE=" : "", with_conn ? P.dir : "",
		 with_conn ? "/admin.key; " : "", env, args, o, e);
	st = system(cmd);
	slurp(o, out, sizeof(out));
	slurp(e, err, sizeof(err));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define CTL(want, ...)                                                                   \
	do {                                                                             \
		int rc_ = run(true, "", __VA_ARGS__);                                    \
		ck_assert_msg(rc_ == (want), "suitctl %s: exit %d, want %d; stderr: %s", \
			      #__VA_ARGS__, rc_, (want), err);                           \
	} while (0)

static json_t *out_json(void)
{
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);

	ck_assert_msg(j, "not JSON (%s): %s", je.text, out);
	return j;
}

static unsigned lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void setup(void)
{
	char path[256], token[128];
	FILE *f;

	fleet_setup_with(200000, true,
			 "auth = token\nseen_flush = 1\npoll_interval = 2\n"
			 "poll_interval_active = 1\npoll_jitter = 10\n");
	snprintf(path, sizeof(path), "%s/admin.key", P.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", P.admin_key);
	fclose(f);
	chmod(path, 0600);
	snprintf(sim_tokens, sizeof(sim_tokens), "%s/fleet.txt", P.dir);
	f = fopen(sim_tokens, "w");
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < SIMS; i++) {
		char id[32];
		snprintf(id, sizeof(id), "sim-%02u", i);
		add_device(id, GROUP, token, sizeof(token));
		fprintf(f, "%s %s\n", id, token);
	}
	fclose(f);
}

/* ---- connection ---- */

START_TEST(test_connection)
{
	char conf[256], text[1024];

	/* Nothing configured: usage (1), with what to do. */
	ck_assert_int_eq(run(false, "", "status"), 1);
	ck_assert_ptr_nonnull(strstr(err, "--url"));
	/* Flags. */
	ck_assert_int_eq(
		run(false, "", "--url %s --cacert %s --api-key-file admin.key status", P.url, P.ca),
		0);
	ck_assert_ptr_nonnull(strstr(out, "admin"));
	/* The key itself from the environment. */
	snprintf(text, sizeof(text), "SUITD_URL=%s SUITD_CACERT=%s SUITD_API_KEY=%s", P.url, P.ca,
		 P.admin_key);
	ck_assert_int_eq(run(false, text, "-o json status"), 0);
	json_t *j = out_json();
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "key"), "role")),
			 "admin");
	json_decref(j);
	/* A profile; the config must be 0600. */
	snprintf(conf, sizeof(conf), "%s/suitctl.conf", P.dir);
	snprintf(text, sizeof(text),
		 "# test\n[profile lab]\nurl = %s\ncacert = %s\napi_key_file = %s/admin.key\n"
		 "[profile other]\nurl = https://192.0.2.1:1\ncacert = %s\napi_key_file = "
		 "%s/admin.key\n",
		 P.url, P.ca, P.dir, P.ca, P.dir);
	write_file(conf, text, strlen(text));
	chmod(conf, 0644);
	snprintf(text, sizeof(text), "SUITCTL_CONFIG=%s", conf);
	ck_assert_int_eq(run(false, text, "--profile lab status"), 1);
	ck_assert_msg(strstr(err, "mode 0644") && strstr(err, "chmod 600"), "%s", err);
	chmod(conf, 0600);
	ck_assert_int_eq(run(false, text, "--profile lab status"), 0);
	ck_assert_int_eq(run(false, text, "--profile nope status"), 1);
	ck_assert_ptr_nonnull(strstr(err, "no [profile nope]"));
	/* Flags win over the profile. */
	ck_assert_int_eq(run(false, text, "--profile other --url %s status", P.url), 0);
	/* An unknown key: file:line. */
	write_file(conf, "[profile lab]\npassword = x\n", 27);
	ck_assert_int_eq(run(false, text, "--profile lab status"), 1);
	ck_assert_msg(strstr(err, "suitctl.conf:2: unknown key 'password'"), "%s", err);
	/* A wrong key: the API's 401 problem, exit 2. */
	write_file(conf, "suitd_ak_wrong\n", 15);
	snprintf(text, sizeof(text), "--api-key-file %s status", conf);
	ck_assert_int_eq(run(true, "", "%s", text), 2);
	ck_assert_msg(strstr(err, "HTTP 401") && strstr(err, "API key"), "%s", err);
	/* No server there: transport, exit 5. */
	ck_assert_int_eq(run(true, "", "--url https://127.0.0.1:1 status"), 5);
	/* Usage errors: 1. */
	CTL(1, "payload frobnicate");
	CTL(1, "nosuchnoun");
	CTL(1, "-o yaml status");
	CTL(0, "--help");
	ck_assert_ptr_nonnull(strstr(out, "Examples:"));
	CTL(0, "deployment list --help");
	ck_assert_ptr_nonnull(strstr(out, "Examples:"));
}
END_TEST

/* The key never reaches argv: suitctl following the event stream (it
 * waits) is looked at in /proc. */
START_TEST(test_key_not_in_argv)
{
	char cmd[1024], path[128], buf[4096];
	FILE *f;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		snprintf(path, sizeof(path), "%s/admin.key", P.dir);
		setenv("SUITCTL_CONFIG", "/nonexistent", 1);
		unsetenv("SUITD_API_KEY");
		int fd = open("/dev/null", 0);
		dup2(fd, 1);
		execl(bin("suitctl"), "suitctl", "--url", P.url, "--cacert", P.ca, "--api-key-file",
		      path, "events", (char *)NULL);
		_exit(127);
	}
	usleep(700 * 1000);
	snprintf(cmd, sizeof(cmd), "/proc/%d/cmdline", (int)pid);
	f = fopen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	ck_assert_msg(strstr(buf, "events") && strstr(buf, "admin.key"), "cmdline: %s", buf);
	ck_assert_msg(!memmem(buf, n, P.admin_key, strlen(P.admin_key)), "key in argv");
	/* Still following (the stream is open). */
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}
END_TEST

/* ---- payloads, progress ---- */

START_TEST(test_payloads)
{
	char path[256];
	json_t *j;

	/* Uploaded in table mode: sha256 of the fixture's payload? a new one. */
	snprintf(path, sizeof(path), "%s/new.bin", P.dir);
	write_file(path, "0123456789abcdef", 16);
	CTL(0, "payload upload new.bin --name new-fw");
	ck_assert_ptr_nonnull(strstr(out, "new-fw"));
	CTL(0, "-o json payload upload new.bin");
	j = out_json();
	ck_assert_str_eq(json_string_value(json_object_get(j, "sha256")),
			 "9f9f5111f7b27a781f1f1ddde5ebc2dd2b796bfc7365c9c28b548e564176929f");
	/* Idempotent: the original name stays. */
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "new-fw");
	json_decref(j);
	/* Lists: table, json, ndjson, -q. */
	CTL(0, "payload list");
	ck_assert_msg(strncmp(out, "SHA256", 6) == 0 && lines(out) == 3, "%s", out);
	CTL(0, "payload list -o json");
	j = out_json();
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 2);
	ck_assert(json_is_null(json_object_get(j, "next")));
	json_decref(j);
	CTL(0, "-o ndjson payload list");
	ck_assert_uint_eq(lines(out), 2);
	CTL(0, "payload list -q");
	ck_assert_uint_eq(lines(out), 2);
	ck_assert_ptr_nonnull(strstr(out, F.fw_sha));
	CTL(0, "payload show %s", F.fw_sha);
	ck_assert_ptr_nonnull(strstr(out, "200000"));
	CTL(2, "payload show %064d", 0);
	ck_assert_msg(strstr(err, "HTTP 404"), "%s", err);
	/* In use by m1: 409, exit 2; a free one goes. */
	CTL(2, "payload delete %s", F.fw_sha);
	CTL(0, "payload delete 9f9f5111f7b27a781f1f1ddde5ebc2dd2b796bfc7365c9c28b548e564176929f");
	CTL(0, "payload list -q");
	ck_assert_uint_eq(lines(out), 1);
	CTL(1, "payload upload no-such-file");
}
END_TEST

/* Retried idempotently by digest: the server is busy ([payloads]
 * max_uploads = 1 and a slow upload holds the slot) and answers 503; once
 * the slot is free the retry, with Content-Digest, stores the file. */
START_TEST(test_upload_retry)
{
	char path[256], cmd[2048];

	ck_assert_int_eq(harness_stop(&P), 0);
	harness_write_config(&P, "[payloads]\nmax_uploads = 1\n");
	harness_start(&P);
	snprintf(path, sizeof(path), "%s/slow.bin", P.dir);
	char *junk = calloc(1, 1 << 20);
	ck_assert_ptr_nonnull(junk);
	write_file(path, junk, 1 << 20);
	free(junk);
	snprintf(path, sizeof(path), "%s/new.bin", P.dir);
	write_file(path, "0123456789abcdef", 16);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && { curl -s --cacert %s -H 'Authorization: Bearer %s' "
		 "-H 'Content-Type: application/octet-stream' --limit-rate 8k -X POST -T slow.bin "
		 "%s/api/v1/payloads >/dev/null 2>&1 & echo $! >slow.pid; }",
		 P.dir, P.ca, P.admin_key, P.url);
	ck_assert_int_eq(system(cmd), 0);
	usleep(500 * 1000);
	CTL(0, "-q payload upload new.bin & sleep 1.5; kill $(cat slow.pid); wait $!");
	ck_assert_msg(strstr(err, "HTTP 503") && strstr(err, "retrying the upload (2 of 4)"), "%s",
		      err);
	ck_assert_str_eq(out, "9f9f5111f7b27a781f1f1ddde5ebc2dd2b796bfc7365c9c28b548e564176929f\n");
}
END_TEST

START_TEST(test_progress)
{
	char path[256], text[8192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/big.bin", P.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 4096; i++)
		fprintf(f, "%01023d\n", i);
	fclose(f);
	/* A pipe: no bar. */
	CTL(0, "payload upload big.bin");
	ck_assert_msg(!strstr(err, "ETA") && !strchr(err, '\r'), "%s", err);
	/* A terminal (script gives a pseudo-tty): the bar with rate and ETA. */
	snprintf(text, sizeof(text), "SUITD_URL=%s SUITD_CACERT=%s SUITD_API_KEY_FILE=admin.key",
		 P.url, P.ca);
	ck_assert_int_eq(run(false, "", "--version"), 0);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && env -u NO_COLOR %s SUITCTL_CONFIG=/nonexistent script -qec "
		 "'%s payload upload big.bin' /dev/null >tty.out 2>&1",
		 P.dir, text, bin("suitctl"));
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/tty.out", P.dir);
	slurp(path, out, sizeof(out));
	ck_assert_msg(strstr(out, "100% [####################]") && strstr(out, "/s  ETA") &&
			      strstr(out, "4.0 MiB/4.0 MiB"),
		      "%s", out);
	/* NO_COLOR: none either. */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && NO_COLOR=1 %s SUITCTL_CONFIG=/nonexistent script -qec "
		 "'%s payload upload big.bin' /dev/null >tty.out 2>&1",
		 P.dir, text, bin("suitctl"));
	ck_assert_int_eq(system(cmd), 0);
	slurp(path, out, sizeof(out));
	ck_assert_msg(!strstr(out, "ETA"), "%s", out);
}
END_TEST

/* ---- pagination ---- */

START_TEST(test_pagination)
{
	unsigned long long before, after;
	json_t *j;

	for (int i = 0; i < 7; i++)
		CTL(0, "device add page-%d --tag paged -q", i);
	CTL(0, "device list -q"); /* the series exists from the first GET */
	before = harness_metric(&P, "suitd_http_requests_total{method=\"GET\",route=\"/api/v1/"
				    "devices\",status=\"200\"}");
	CTL(0, "--page-size 2 -o ndjson device list --tag paged");
	ck_assert_uint_eq(lines(out), 7);
	after = harness_metric(&P, "suitd_http_requests_total{method=\"GET\",route=\"/api/v1/"
				   "devices\",status=\"200\"}");
	ck_assert_uint_eq(after - before, 4); /* 2 + 2 + 2 + 1 */
	CTL(0, "device list --tag paged --page-size 3 -o json");
	j = out_json();
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 7);
	ck_assert(json_is_null(json_object_get(j, "next")));
	json_decref(j);
	/* --limit stops early: json keeps the cursor to go on. */
	CTL(0, "device list --tag paged --page-size 2 --limit 3 -o json");
	j = out_json();
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 3);
	ck_assert(json_is_string(json_object_get(j, "next")));
	json_decref(j);
	CTL(0, "device list --tag paged --limit 5 -q");
	ck_assert_uint_eq(lines(out), 5);
	ck_assert_msg(strncmp(out, "page-0\npage-1\n", 14) == 0, "%s", out);
	CTL(0, "device list --tag paged");
	ck_assert_uint_eq(lines(out), 8);
	ck_assert_ptr_nonnull(strstr(out, "page-6"));
	/* Tables fit the terminal: COLUMNS=40 cuts cells. */
	ck_assert_int_eq(run(true, "COLUMNS=40", "device list --tag paged"), 0);
	for (char *l = out; *l; l = strchr(l, '\n') + 1)
		ck_assert_int_le((long)(strchr(l, '\n') - l), 40);
	CTL(1, "device list --bogus x");
	CTL(2, "device list --seen-since yesterday");
	ck_assert_msg(strstr(err, "seen_since"), "%s", err);
}
END_TEST

/* ---- manifests ---- */

START_TEST(test_manifests)
{
	char path[256];
	json_t *j;
	unsigned char *a, *b;
	size_t alen, blen;

	/* create: local, the same options as suitd's, no server needed. */
	ck_assert_int_eq(run(false, "",
			     "manifest create --key %s --payload %s --vendor-domain example.com "
			     "--class-info sensor-v1 --sequence 5 --uri %s/device/v1/payloads/%s "
			     "--description 'five' -o m5.suit",
			     F.key, F.fw, P.url, F.fw_sha),
			 0);
	ck_assert_msg(strstr(err, "wrote 'm5.suit'") && strstr(err, "sequence 5"), "%s", err);
	ck_assert_int_eq(
		run(false, "", "manifest create --key %s --payload %s -o x.suit", F.key, F.fw), 1);
	ck_assert_ptr_nonnull(strstr(err, "usage: suitctl manifest create"));
	/* upload, list, show, envelope, delete. */
	CTL(0, "-o json manifest upload m5.suit");
	j = out_json();
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sequence_number")), 5);
	char digest[65];
	snprintf(digest, sizeof(digest), "%s",
		 json_string_value(json_object_get(json_object_get(j, "digest"), "value")));
	json_decref(j);
	CTL(0, "manifest list");
	ck_assert_uint_eq(lines(out), 3);
	ck_assert_ptr_nonnull(strstr(out, digest));
	CTL(0, "manifest list --class-id %s -q", F.m1.class_id);
	ck_assert_uint_eq(lines(out), 2);
	CTL(0, "manifest list --class-id 00000000-0000-0000-0000-000000000000 -q");
	ck_assert_uint_eq(lines(out), 0);
	CTL(0, "manifest show %s", digest);
	ck_assert_ptr_nonnull(strstr(out, "sequence_number"));
	CTL(0, "manifest envelope %s --file back.suit", digest);
	snprintf(path, sizeof(path), "%s/m5.suit", P.dir);
	a = read_all(path, &alen);
	snprintf(path, sizeof(path), "%s/back.suit", P.dir);
	b = read_all(path, &blen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_int_eq(memcmp(a, b, alen), 0);
	free(b);
	CTL(0, "manifest envelope %s --sever text", digest);
	/* The same again: 200, said on stderr; garbage: 4xx, exit 2. */
	CTL(0, "manifest upload m5.suit");
	ck_assert_ptr_nonnull(strstr(err, "already had"));
	write_file(path, "not cbor", 8);
	CTL(2, "manifest upload back.suit");
	ck_assert_msg(strstr(err, "HTTP 4"), "%s", err);
	CTL(0, "manifest delete %s", digest);
	CTL(2, "manifest show %s", digest);
	free(a);
}
END_TEST

/* ---- devices ---- */

START_TEST(test_devices)
{
	char path[256];
	json_t *j;

	CTL(0, "device add d1 --group g1 --tag a --tag b --attributes '{\"site\":\"x\"}'");
	ck_assert_msg(strstr(out, "token") && strstr(out, "suitd_dt_"), "%s", out);
	CTL(0, "device add d2 -q");
	ck_assert_msg(strncmp(out, "d2 suitd_dt_", 12) == 0, "%s", out);
	CTL(2, "device add d2");
	ck_assert_msg(strstr(err, "HTTP 409"), "%s", err);
	CTL(1, "device add d3 --attributes 'nope'");
	CTL(0, "-o json device show d1");
	j = out_json();
	ck_assert_str_eq(json_string_value(json_object_get(j, "group")), "g1");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "tags")), 2);
	json_decref(j);
	CTL(0, "device update d1 --no-group --tag c -o json");
	j = out_json();
	ck_assert(json_is_null(json_object_get(j, "group")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "tags")), 1);
	json_decref(j);
	CTL(0, "device token d1 --grace 60 -q");
	ck_assert_msg(strncmp(out, "d1 suitd_dt_", 12) == 0, "%s", out);
	CTL(0, "device reports sim-00");
	ck_assert_uint_eq(lines(out), 1); /* the header */
	CTL(0, "device list --group g1 -q");
	ck_assert_uint_eq(lines(out), 0);
	CTL(0, "device delete d1");
	CTL(2, "device show d1");

	/* Bulk: NDJSON in (a bad line fails alone, exit 2), NDJSON out. */
	snprintf(path, sizeof(path), "%s/devices.ndjson", P.dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"id\":\"b1\",\"group\":\"bulk\"}\n{\"id\":\"b 2\"}\n"
		   "{\"id\":\"b3\",\"group\":\"bulk\",\"tags\":[\"t\"]}\n");
	fclose(f);
	CTL(2, "device import devices.ndjson --dry-run -o json");
	j = out_json();
	ck_assert(json_is_true(json_object_get(j, "dry_run")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "created")), 2);
	json_decref(j);
	CTL(2, "device import devices.ndjson");
	ck_assert_msg(strstr(err, "3 lines: 2 created, 0 updated, 0 unchanged, 1 failed") &&
			      strstr(err, "line 2"),
		      "%s", err);
	CTL(2, "-o json device import - <devices.ndjson");
	j = out_json();
	ck_assert_int_eq(json_integer_value(json_object_get(j, "unchanged")), 2);
	json_decref(j);
	CTL(0, "device export --group bulk >bulk.ndjson");
	slurp(path, out, sizeof(out)); /* devices.ndjson, to compare with */
	snprintf(path, sizeof(path), "%s/bulk.ndjson", P.dir);
	slurp(path, out, sizeof(out));
	ck_assert_uint_eq(lines(out), 2);
	ck_assert_msg(strstr(out, "{\"id\":\"b3\",\"group\":\"bulk\",\"tags\":[\"t\"]"), "%s", out);
	CTL(0, "device import bulk.ndjson");
	ck_assert_msg(strstr(err, "2 unchanged, 0 failed"), "%s", err);
	f = fopen(path, "w");
	fprintf(f, "{\"id\":\"b4\"}\n");
	fclose(f);
	CTL(0, "device import --generate-tokens bulk.ndjson");
	ck_assert_msg(strncmp(out, "{\"id\":\"b4\",\"token\":\"suitd_dt_", 29) == 0, "%s", out);
	ck_assert_uint_eq(lines(out), 1);
	CTL(1, "device import no-such-file");
	CTL(1, "device export --colour red");
}
END_TEST

/* ---- keys, audit, events, webhooks ---- */

START_TEST(test_keys_audit_webhooks)
{
	char path[256], key[128];
	json_t *j;

	CTL(0, "key create ci-reader --role reader -q");
	ck_assert_msg(strncmp(out, "suitd_ak_", 9) == 0, "%s", out);
	snprintf(key, sizeof(key), "%s", out);
	key[strcspn(key, "\n")] = 0;
	snprintf(path, sizeof(path), "%s/reader.key", P.dir);
	write_file(path, key, strlen(key));
	CTL(0, "key list -q");
	ck_assert_ptr_nonnull(strstr(out, "ci-reader"));
	/* The reader reads, and may not write: 403, exit 2. */
	CTL(0, "--api-key-file reader.key device list");
	CTL(2, "--api-key-file reader.key device add nope");
	ck_assert_msg(strstr(err, "HTTP 403"), "%s", err);
	CTL(0, "key revoke ci-reader");
	CTL(2, "--api-key-file reader.key status");
	/* audit: newest first, before-cursor pages. */
	CTL(0, "audit --page-size 2 -o ndjson");
	ck_assert_uint_ge(lines(out), 5);
	CTL(0, "audit --action key.revoked -o json");
	j = out_json();
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	CTL(0, "audit --limit 3");
	ck_assert_uint_eq(lines(out), 4);
	/* events --after 0: the log replayed, one JSON line each (then it
	 * would follow: timeout ends it). */
	ck_assert_int_eq(run(true, "", "events --after 0 --types 'key.*' & sleep 1; kill $!"), 0);
	ck_assert_msg(lines(out) >= 2 && strstr(out, "\"type\":\"key.created\""), "%s", out);
	/* webhooks. */
	CTL(0, "-o json webhook create https://93.184.216.34/hook --types 'deployment.*' "
	       "--description ci");
	j = out_json();
	long id = (long)json_integer_value(json_object_get(j, "id"));
	ck_assert_int_gt(id, 0);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "secret")));
	json_decref(j);
	CTL(0, "webhook list -q");
	ck_assert_uint_eq(lines(out), 1);
	CTL(0, "webhook update %ld --disable -o json", id);
	j = out_json();
	ck_assert(json_is_false(json_object_get(j, "enabled")));
	json_decref(j);
	CTL(0, "webhook show %ld", id);
	CTL(0, "webhook deliveries %ld", id);
	CTL(0, "webhook delete %ld", id);
	CTL(2, "webhook show %ld", id);
}
END_TEST

/* ---- deployments ---- */

static pid_t sim_start(const char *extra)
{
	char cmd[2048];
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		snprintf(cmd, sizeof(cmd),
			 "exec %s --url %s --cacert %s --trust-anchor %s --tokens %s --max-poll 1 "
			 "-q --summary %s/sim.json --duration 40 %s >%s/sim.log 2>&1",
			 bin("suit-sim"), P.url, P.ca, F.pub, sim_tokens, P.dir, extra, P.dir);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void sim_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

START_TEST(test_deploy_wait)
{
	pid_t sim = sim_start("");
	json_t *j;

	CTL(1, "deploy %s", F.m1.digest); /* no target */
	CTL(1, "deploy %s --group a --tag b", F.m1.digest);
	CTL(1, "deploy %s --group a --stages 0,100", F.m1.digest);
	CTL(0, "deploy %s --group " GROUP " --stages 50,100 --name first --wait --timeout 30",
	    F.m1.digest);
	sim_stop(sim);
	ck_assert_msg(strstr(out, "completed"), "%s", out);
	ck_assert_msg(strstr(err, "completed"), "%s", err);
	CTL(0, "deployment list -o json");
	j = out_json();
	ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	CTL(0, "deployment list --status completed -q");
	ck_assert_str_eq(out, "1\n");
	CTL(0, "deployment devices 1 --state confirmed -q");
	ck_assert_uint_eq(lines(out), SIMS);
	CTL(0, "-o ndjson deployment devices 1");
	ck_assert_uint_eq(lines(out), SIMS);
	CTL(0, "deployment watch 1");
	CTL(2, "deployment pause 1");
	CTL(2, "deployment show 99");
}
END_TEST

/* A rollout that pauses itself: every install fails, failure threshold
 * 0: watch exits 3; resume --acknowledge, cancel; watch of a deployment
 * nobody moves: 4 after --timeout. */
START_TEST(test_watch_codes)
{
	pid_t sim = sim_start("--fail-rate 1");
	json_t *j;

	CTL(0, "deploy %s --group " GROUP " --failure-threshold 0 -q", F.m1.digest);
	ck_assert_str_eq(out, "1\n");
	CTL(3, "deployment watch 1 --timeout 30");
	sim_stop(sim);
	ck_assert_msg(strstr(err, "paused"), "%s", err);
	CTL(2, "deployment resume 1");
	ck_assert_msg(strstr(err, "HTTP 409"), "%s", err);
	CTL(0, "deployment resume 1 --acknowledge -o json");
	/* Nobody checks in: --timeout. */
	CTL(0, "device add lonely -q");
	CTL(0, "deploy %s --device lonely -q", F.m1.digest);
	ck_assert_str_eq(out, "2\n");
	CTL(4, "deployment watch 2 --timeout 2");
	ck_assert_ptr_nonnull(strstr(err, "--timeout"));
	CTL(0, "deployment pause 2 --reason 'by hand' -o json");
	j = out_json();
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "paused"), "reason")),
			 "by hand");
	json_decref(j);
	CTL(3, "deployment watch 2");
	CTL(0, "deployment resume 2");
	CTL(0, "deployment cancel 2");
	CTL(3, "deployment watch 2");
	ck_assert_ptr_nonnull(strstr(err, "canceled"));
	CTL(0, "deployment delete 2");
}
END_TEST

/* The CI example: one command from the payload file to a completed
 * rollout, the next sequence number of the class asked from the server. */
START_TEST(test_release)
{
	pid_t sim = sim_start("");
	char path[256];
	json_t *j;

	snprintf(path, sizeof(path), "%s/fw2.bin", P.dir);
	write_file(path, "firmware two", 12);
	CTL(0,
	    "release fw2.bin --key %s --vendor-domain example.com --class-info sensor-v1 "
	    "--group " GROUP " --stages 50,100 --wait --timeout 30 -o json",
	    F.key);
	sim_stop(sim);
	ck_assert_msg(strstr(err, "this release 2"), "%s", err);
	j = out_json();
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "completed");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sequence_number")), 2);
	json_decref(j);
	CTL(0, "manifest list -q");
	ck_assert_uint_eq(lines(out), 2);
	CTL(1, "release fw2.bin --key %s --vendor-domain example.com", F.key);
}
END_TEST

/* The README's CI example, run as it stands there (extracted from
 * README.md), with suit-sim playing the canary group (2 devices) and the
 * fleet (2): the canary release completes, then the same manifest is
 * deployed to the fleet. */
START_TEST(test_readme_ci)
{
	const char *src = getenv("SUITD_SRC");
	char cmd[4096], path[256];
	pid_t sim;
	json_t *j;

	CTL(0, "device update sim-00 --group canary -q");
	CTL(0, "device update sim-01 --group canary -q");
	snprintf(cmd, sizeof(cmd),
		 "awk '/^A release from CI/ { f = 1 } f && /^```$/ && b { exit } b { print } "
		 "f && /^```sh$/ { b = 1 }' %s/README.md >%s/ci.sh && mkdir -p %s/build && "
		 "printf 'firmware for CI' >%s/build/fw.bin",
		 src ? src : ".", P.dir, P.dir, P.dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/ci.sh", P.dir);
	slurp(path, out, sizeof(out));
	ck_assert_msg(strstr(out, "suitctl -q release build/fw.bin") && strstr(out, "esac"), "%s",
		      out);
	sim = sim_start("");
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", bin("suitctl"));
	*strrchr(dir, '/') = 0;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && PATH=%s:$PATH SUITD_URL=%s SUITD_CACERT=%s "
		 "SUITD_API_KEY_FILE=%s/admin.key AUTHOR_KEY=%s SUITCTL_CONFIG=/nonexistent "
		 "bash ci.sh >ci.out 2>ci.err",
		 P.dir, dir, P.url, P.ca, P.dir, F.key);
	int st = system(cmd);
	sim_stop(sim);
	snprintf(path, sizeof(path), "%s/ci.err", P.dir);
	slurp(path, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ci.sh failed: %s", err);
	/* sensor-v2: a class of its own, so sequence 1. */
	ck_assert_msg(strstr(err, "highest stored sequence 0, this release 1"), "%s", err);
	CTL(0, "-o json deployment show 1");
	j = out_json();
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "completed");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "target"), "group")),
			 "canary");
	char manifest[129];
	snprintf(manifest, sizeof(manifest), "%s",
		 json_string_value(json_object_get(j, "manifest")));
	json_decref(j);
	CTL(0, "-o json deployment show 2");
	j = out_json();
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "target"), "group")),
			 "fleet");
	ck_assert_str_eq(json_string_value(json_object_get(j, "manifest")), manifest);
	json_decref(j);
}
END_TEST

/* ---- bash completion ---- */

START_TEST(test_completion)
{
	char cmd[2048], path[256];
	const char *src = getenv("SUITD_SRC");

	snprintf(cmd, sizeof(cmd),
		 "cd %s && bash -c 'source tools/suitctl/suitctl.bash; "
		 "COMP_WORDS=(suitctl dep); COMP_CWORD=1; _suitctl; echo \"${COMPREPLY[*]}\"; "
		 "COMP_WORDS=(suitctl deployment p); COMP_CWORD=2; _suitctl; "
		 "echo \"${COMPREPLY[*]}\"; "
		 "COMP_WORDS=(suitctl -o json payload \"\"); COMP_CWORD=4; _suitctl; "
		 "echo \"${COMPREPLY[*]}\"; "
		 "COMP_WORDS=(suitctl -o \"\"); COMP_CWORD=2; _suitctl; echo \"${COMPREPLY[*]}\"' "
		 ">%s/comp.out 2>&1",
		 src ? src : ".", P.dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/comp.out", P.dir);
	slurp(path, out, sizeof(out));
	ck_assert_msg(strcmp(out, "deploy deployment\npause\nupload list show delete\n"
				  "json ndjson table\n") == 0,
		      "%s", out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-suitctl");
	TCase *tc = tcase_create("suitctl");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, fleet_teardown);
	tcase_add_test(tc, test_connection);
	tcase_add_test(tc, test_key_not_in_argv);
	tcase_add_test(tc, test_payloads);
	tcase_add_test(tc, test_upload_retry);
	tcase_add_test(tc, test_progress);
	tcase_add_test(tc, test_pagination);
	tcase_add_test(tc, test_manifests);
	tcase_add_test(tc, test_devices);
	tcase_add_test(tc, test_keys_audit_webhooks);
	tcase_add_test(tc, test_deploy_wait);
	tcase_add_test(tc, test_watch_codes);
	tcase_add_test(tc, test_release);
	tcase_add_test(tc, test_readme_ci);
	tcase_add_test(tc, test_completion);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
