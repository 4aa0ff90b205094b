/* The device simulator end to end: the real suitd, a handful of devices
 * with tokens or client certificates, a signed manifest of a 300 KiB
 * payload deployed to them, and build/suit-sim driving the whole update
 * cycle (check-in, Range download, reports, reboot, confirming check-in).
 * Asserted from the API, /metrics and the simulator's JSON summary: JSON
 * and SUIT reports, injected install failures, corrupted downloads detected
 * and fetched again, crashes resumed by Range, silence timed out, an
 * untrusted signer refused, a state file carried from a killed run to the
 * next, devices identified by their TLS client certificates. Real daemon,
 * real TLS, loopback; keys and certificates are test-only. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "tests/check_run.h"

#define GROUP	 "fleet"
#define DEVICES	 6
#define FW_SIZE	 307200LL /* 300 KiB */
#define CHUNK	 65536LL
#define CHUNKS	 ((FW_SIZE + CHUNK - 1) / CHUNK)
#define SIM_WAIT 30 /* seconds a run may take */
/* Payload ranges served (GET /metrics). */
#define PAYLOAD_206                                                                        \
	"suitd_http_requests_total{method=\"GET\",route=\"/device/v1/payloads/{sha256}\"," \
	"status=\"206\"}"

struct device {
	char id[32];
	char token[128];
};

static struct device dev[DEVICES];

/* SUITSIM_BIN, else suit-sim next to SUITD_BIN, else build/suit-sim. */
static const char *sim_bin(void)
{
	static char path[512];
	const char *b = getenv("SUITSIM_BIN"), *d = getenv("SUITD_BIN");
	char *slash;

	if (b)
		return b;
	if (!d)
		return "build/suit-sim";
	snprintf(path, sizeof(path), "%s", d);
	slash = strrchr(path, '/');
	if (!slash)
		return "suit-sim";
	snprintf(slash + 1, sizeof(path) - (size_t)(slash + 1 - path), "suit-sim");
	return path;
}

/* Short polls: [devices] poll_interval 2 s, active 1 s. */
static void sim_setup(void)
{
	fleet_setup_with((size_t)FW_SIZE, true,
			 "auth = token\nseen_flush = 1\npoll_interval = 2\n"
			 "poll_interval_active = 1\npoll_jitter = 10\n");
	for (unsigned i = 0; i < DEVICES; i++) {
		snprintf(dev[i].id, sizeof(dev[i].id), "sim-%02u", i);
		add_device(dev[i].id, GROUP, dev[i].token, sizeof(dev[i].token));
	}
}

/* Devices first .. first + n - 1 into DIR/NAME, one "ID TOKEN" a line. */
static const char *tokens_file(const char *name, unsigned first, unsigned n)
{
	static char path[4][256];
	static unsigned k;
	char *p = path[k++ % 4];
	FILE *f;

	snprintf(p, sizeof(path[0]), "%s/%s", P.dir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# suit-sim tokens: DEVICE_ID TOKEN\n", f);
	for (unsigned i = first; i < first + n; i++)
		fprintf(f, "%s %s\n", dev[i].id, dev[i].token);
	fclose(f);
	return p;
}

/* The deployment to the group; failures never pause it. */
static long deploy_group(const char *rollout_extra)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"group\":\"" GROUP "\"},"
		 "\"rollout\":{\"failure_threshold\":100%s}}",
		 F.m1.digest, rollout_extra);
	return deploy(json, NULL);
}

/* Start suit-sim with the common options, this tokens file (NULL: none),
 * --until-done or not, and the extra arguments (NULL-terminated). Output
 * goes to DIR/sim.log, the summary to DIR/summary.json. */
static pid_t sim_spawn(const char *tokens, const char *anchor, bool until_done, va_list ap)
{
	char summary[256], log[256], *argv[48];
	int argc = 0;
	pid_t pid;

	snprintf(summary, sizeof(summary), "%s/summary.json", P.dir);
	snprintf(log, sizeof(log), "%s/sim.log", P.dir);
	unlink(summary);
	argv[argc++] = (char *)sim_bin();
	argv[argc++] = (char *)"--url";
	argv[argc++] = P.url;
	argv[argc++] = (char *)"--cacert";
	argv[argc++] = P.ca;
	argv[argc++] = (char *)"--trust-anchor";
	argv[argc++] = (char *)anchor;
	if (tokens) {
		argv[argc++] = (char *)"--tokens";
		argv[argc++] = (char *)tokens;
	}
	if (until_done)
		argv[argc++] = (char *)"--until-done";
	argv[argc++] = (char *)"--max-poll";
	argv[argc++] = (char *)"1";
	argv[argc++] = (char *)"--chunk";
	argv[argc++] = (char *)"64K";
	argv[argc++] = (char *)"--seed";
	argv[argc++] = (char *)"7";
	argv[argc++] = (char *)"--duration";
	argv[argc++] = (char *)"25";
	argv[argc++] = (char *)"--summary";
	argv[argc++] = summary;
	for (char *a; (a = va_arg(ap, char *)) && argc < 47;)
		argv[argc++] = a;
	argv[argc] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		FILE *out = freopen(log, "a", stdout);
		if (!out || dup2(fileno(stdout), 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait for suit-sim: its exit status, the summary in *ret (when not NULL). */
static int sim_wait(pid_t pid, json_t **ret)
{
	char summary[256], log[256];
	int status;

	snprintf(summary, sizeof(summary), "%s/summary.json", P.dir);
	snprintf(log, sizeof(log), "%s/sim.log", P.dir);
	for (int i = 0; i < SIM_WAIT * 20; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		ck_assert_int_ge(w, 0);
		if (w == pid) {
			ck_assert_msg(WIFEXITED(status), "suit-sim died (see %s)", log);
			ck_assert_msg(WEXITSTATUS(status) != 127, "cannot run %s", sim_bin());
			if (ret) {
				*ret = json_load_file(summary, 0, NULL);
				ck_assert_msg(*ret != NULL, "no summary from suit-sim (see %s)",
					      log);
			}
			return WEXITSTATUS(status);
		}
		usleep(50 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_abort_msg("suit-sim ran longer than %d s (see %s)", SIM_WAIT, log);
	return -1;
}

/* Run suit-sim --until-done with these tokens (NULL: none) and extra
 * arguments (NULL-terminated); its exit status, the summary in *ret. */
static int run_sim(const char *tokens, json_t **ret, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, ret);
	pid = sim_spawn(tokens, F.pub, true, ap);
	va_end(ap);
	return sim_wait(pid, ret);
}

static int run_sim_anchor(const char *tokens, const char *anchor, json_t **ret, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, ret);
	pid = sim_spawn(tokens, anchor, true, ap);
	va_end(ap);
	return sim_wait(pid, ret);
}

/* suit-sim without --until-done: it runs until its --duration or a signal. */
static pid_t sim_start(const char *tokens, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, tokens);
	pid = sim_spawn(tokens, F.pub, false, ap);
	va_end(ap);
	return pid;
}

/* Whether suit-sim's output (DIR/sim.log) contains text. */
static bool sim_log_contains(const char *text)
{
	char path[256];
	size_t len;
	unsigned char *log;
	bool found;

	snprintf(path, sizeof(path), "%s/sim.log", P.dir);
	log = read_all(path, &len);
	log[len] = '\0';
	found = strstr((char *)log, text) != NULL;
	free(log);
	return found;
}

/* summary.a.b...: a member (path "injected.crashes"), NULL when absent. */
static json_t *member(json_t *s, const char *path)
{
	char copy[128], *part, *save = NULL;
	json_t *v = s;

	snprintf(copy, sizeof(copy), "%s", path);
	for (part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save))
		v = json_object_get(v, part);
	return v;
}

/* An integer member. */
static long long num(json_t *s, const char *path)
{
	json_t *v = member(s, path);

	ck_assert_msg(json_is_integer(v), "summary: %s is not an integer", path);
	return (long long)json_integer_value(v);
}

static void assert_num(json_t *s, const char *path, long long want)
{
	ck_assert_msg(num(s, path) == want, "summary: %s = %lld, want %lld", path, num(s, path),
		      want);
}

/* The summary of a run where every device confirmed, without a single
 * unexpected error. */
static void assert_clean(json_t *s, unsigned devices)
{
	assert_num(s, "devices", devices);
	assert_num(s, "cycles_done", devices);
	assert_num(s, "unfinished", 0);
	assert_num(s, "errors.total", 0);
	ck_assert_str_eq(json_string_value(json_object_get(s, "stopped")), "done");
	ck_assert(json_is_real(json_object_get(s, "wall_seconds")));
	for (const char *k = "checkin"; k; k = strcmp(k, "checkin") == 0 ? "report" : NULL) {
		json_t *kind = json_object_get(json_object_get(s, "requests"), k);
		ck_assert(json_is_real(json_object_get(kind, "p50_ms")));
		ck_assert(json_is_real(json_object_get(kind, "p90_ms")));
		ck_assert(json_is_real(json_object_get(kind, "p99_ms")));
	}
}

/* The states of a device's reports, newest first, as "a,b,c", and the
 * media type of the newest. */
static void reports_of(const char *device, char *states, size_t size, char *type, size_t type_size)
{
	struct http_result r;
	char path[128];
	json_t *j, *it;
	size_t i, used = 0;

	snprintf(path, sizeof(path), "/api/v1/devices/%s/reports", device);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	states[0] = '\0';
	json_array_foreach(json_object_get(j, "items"), i, it)
	{
		int n = snprintf(states + used, size - used, "%s%s", i ? "," : "",
				 json_string_value(json_object_get(it, "state")));
		if (n > 0 && (size_t)n < size - used)
			used += (size_t)n;
		if (i == 0)
			snprintf(type, type_size, "%s",
				 json_string_value(json_object_get(it, "media_type")));
	}
	json_decref(j);
	http_result_release(&r);
}

static long long reported_sequence(const char *device)
{
	struct http_result r;
	char path[128];
	json_t *j;
	long long v;

	snprintf(path, sizeof(path), "/api/v1/devices/%s", device);
	api("GET", path, NULL, &r);
	assert_status(&r, 200);
	j = body_json(&r);
	ck_assert(json_is_integer(json_object_get(j, "reported_sequence")));
	v = (long long)json_integer_value(json_object_get(j, "reported_sequence"));
	json_decref(j);
	http_result_release(&r);
	return v;
}

/* The whole cycle with JSON reports: every device confirmed. */
START_TEST(test_json_cycle)
{
	char states[512], type[64];
	json_t *s;
	long id = deploy_group("");

	ck_assert_int_eq(run_sim(tokens_file("tokens", 0, DEVICES), &s, (char *)NULL), 0);
	assert_counts(id, "confirmed=6");
	assert_clean(s, DEVICES);
	assert_num(s, "failed", 0);
	assert_num(s, "silent", 0);
	assert_num(s, "bytes_downloaded", DEVICES * FW_SIZE);
	assert_num(s, "requests.payload_chunk.count", DEVICES * CHUNKS);
	assert_num(s, "requests.payload_chunk.status.206", DEVICES * CHUNKS);
	/* Offered once, then confirmed by the check-in with seq=1 (204). */
	assert_num(s, "requests.checkin.status.200", DEVICES);
	ck_assert_int_ge(num(s, "requests.checkin.status.204"), DEVICES);
	json_decref(s);
	/* downloading at 0, 42, 64 and 85 % (64 KiB chunks of 300 KiB),
	 * downloaded, installing, installed. */
	reports_of("sim-00", states, sizeof(states), type, sizeof(type));
	ck_assert_str_eq(states, "installed,installing,downloaded,downloading,downloading,"
				 "downloading,downloading");
	ck_assert_str_eq(type, "application/json");
	ck_assert_int_eq(reported_sequence("sim-00"), 1);
	ck_assert_int_eq(reported_sequence("sim-05"), 1);
}
END_TEST

/* The final report as a SUIT_Report: the tracker reads it as installed. */
START_TEST(test_suit_reports)
{
	char states[512], type[64];
	json_t *s;
	long id = deploy_group("");

	ck_assert_int_eq(
		run_sim(tokens_file("tokens", 0, DEVICES), &s, "--report", "suit", (char *)NULL),
		0);
	assert_counts(id, "confirmed=6");
	assert_clean(s, DEVICES);
	ck_assert_str_eq(json_string_value(json_object_get(s, "report")), "suit");
	json_decref(s);
	reports_of("sim-03", states, sizeof(states), type, sizeof(type));
	ck_assert_str_eq(type, "application/suit-report+cose");
	ck_assert_msg(strncmp(states, "installed,installing,downloaded,", 32) == 0, "%s", states);
}
END_TEST

/* --fail-rate 1 on some devices: failed in the tracker with the device's
 * reason (JSON) or the SUIT_Report's record (SUIT); the others confirm.
 * Injected failures are not errors: exit status 0. */
START_TEST(test_injected_failures)
{
	json_t *s;
	long id = deploy_group("");

	ck_assert_int_eq(
		run_sim(tokens_file("json-fail", 0, 2), &s, "--fail-rate", "1", (char *)NULL), 0);
	assert_num(s, "failed", 2);
	assert_num(s, "injected.install_failures", 2);
	assert_num(s, "cycles_done", 0);
	assert_num(s, "errors.total", 0);
	json_decref(s);
	ck_assert_int_eq(run_sim(tokens_file("suit-fail", 2, 2), &s, "--fail-rate", "1", "--report",
				 "suit", (char *)NULL),
			 0);
	assert_num(s, "failed", 2);
	json_decref(s);
	ck_assert_int_eq(run_sim(tokens_file("rest", 4, 2), &s, (char *)NULL), 0);
	assert_clean(s, 2);
	json_decref(s);
	assert_counts(id, "failed=4,confirmed=2");
	assert_assignment(id, "sim-00", "failed",
			  "injected install failure (suit-sim --fail-rate)");
	assert_assignment(id, "sim-03", "failed",
			  "condition-failed at section 20 offset 0 component 0");
	assert_assignment(id, "sim-05", "confirmed", "");
	/* A failed device stays on its sequence number. */
	ck_assert_int_eq(reported_sequence("sim-00"), 0);
}
END_TEST

/* A flipped byte in every first download: the digest check finds it, the
 * image is fetched again, every device confirms. */
START_TEST(test_corruption_detected)
{
	json_t *s;
	long id = deploy_group("");

	ck_assert_int_eq(
		run_sim(tokens_file("tokens", 0, DEVICES), &s, "--corrupt-rate", "1", (char *)NULL),
		0);
	assert_counts(id, "confirmed=6");
	assert_clean(s, DEVICES);
	assert_num(s, "injected.corrupted_downloads", DEVICES);
	assert_num(s, "detected.digest_mismatches", DEVICES);
	assert_num(s, "errors.digest_mismatch", 0);
	assert_num(s, "bytes_downloaded", FW_SIZE * 2 * DEVICES);
	assert_num(s, "requests.payload_chunk.count", CHUNKS * 2 * DEVICES);
	json_decref(s);
}
END_TEST

/* A crash in the middle of every download: after the reboot the device
 * checks in (304 for the envelope it has) and resumes by Range from the
 * bytes it kept — not one byte twice. */
START_TEST(test_crash_resumes)
{
	json_t *s;
	long id = deploy_group("");

	ck_assert_int_eq(
		run_sim(tokens_file("tokens", 0, DEVICES), &s, "--crash-rate", "1", (char *)NULL),
		0);
	assert_counts(id, "confirmed=6");
	assert_clean(s, DEVICES);
	assert_num(s, "injected.crashes", DEVICES);
	assert_num(s, "detected.resumed_downloads", DEVICES);
	assert_num(s, "requests.checkin.status.304", DEVICES);
	assert_num(s, "bytes_downloaded", DEVICES * FW_SIZE);
	ck_assert_int_gt(num(s, "requests.payload_chunk.count"), DEVICES * CHUNKS);
	json_decref(s);
}
END_TEST

/* Silent devices download and never report: the server times them out. */
START_TEST(test_silence_times_out)
{
	json_t *s, *dep = NULL;
	long id = deploy_group(",\"device_timeout\":1");

	ck_assert_int_eq(
		run_sim(tokens_file("silent", 0, 2), &s, "--silent-rate", "1", (char *)NULL), 0);
	assert_num(s, "silent", 2);
	assert_num(s, "injected.silent", 2);
	assert_num(s, "requests.report.count", 0);
	assert_num(s, "errors.total", 0);
	json_decref(s);
	for (int i = 0; i < 100; i++) {
		dep = deployment(id);
		if (count_of(dep, "timed_out") == 2)
			break;
		json_decref(dep);
		dep = NULL;
		usleep(100 * 1000);
	}
	ck_assert_msg(dep != NULL, "the silent devices were not timed out within 10 s");
	json_decref(dep);
	assert_counts(id, "timed_out=2,pending=4");
}
END_TEST

/* A trust anchor that did not sign the manifest: every device refuses the
 * envelope, reports failed with the reason, and the run exits 1. */
START_TEST(test_untrusted_signer)
{
	char anchor[512], state[32], reason[256];
	const char *src = getenv("SUITD_SRC");
	json_t *s;
	long id = deploy_group("");

	snprintf(anchor, sizeof(anchor), "%s/tests/data/suit/suit-spec-examples-p256.pub.pem",
		 src ? src : ".");
	ck_assert_int_eq(
		run_sim_anchor(tokens_file("tokens", 0, DEVICES), anchor, &s, "-q", (char *)NULL),
		1);
	assert_num(s, "errors.verify", DEVICES);
	assert_num(s, "errors.total", DEVICES);
	assert_num(s, "errored_cycles", DEVICES);
	assert_num(s, "requests.payload_chunk.count", 0);
	json_decref(s);
	assert_counts(id, "failed=6");
	assignment(id, "sim-02", state, sizeof(state), reason, sizeof(reason));
	ck_assert_msg(strncmp(reason, "manifest refused: no-trusted-signature: ", 40) == 0,
		      "reason '%s'", reason);
}
END_TEST

/* DEVICE's sequence number in the state file PATH, -1 when it is not
 * there. */
static long long state_seq(const char *path, const char *device)
{
	char line[256], id[160];
	unsigned long long v;
	long long found = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%159s %llu", id, &v) == 2 && strcmp(id, device) == 0)
			found = (long long)v;
	fclose(f);
	return found;
}

/* A state file carries each device's sequence number from one run to the
 * next. The first run is killed (SIGKILL, as by a crash) once its state
 * file, saved within a second of a change, says every device runs sequence
 * 1 — whether or not each confirming check-in went out. The second run
 * checks in with seq=1, which confirms whatever was only installed, and
 * downloads nothing. The server then knows every device runs 1: a new
 * deployment of the same manifest skips them all (with seq=0 it would
 * offer it again). A device the runs do not play keeps its line. */
START_TEST(test_state_continues)
{
	static const char earlier[] = "# from an earlier run\nold-device 7\n";
	const char *tokens = tokens_file("tokens", 0, DEVICES);
	char state[256];
	long id = deploy_group(""), again;
	bool all = false;
	json_t *s;
	pid_t pid;

	snprintf(state, sizeof(state), "%s/fleet.state", P.dir);
	write_file(state, earlier, strlen(earlier));
	pid = sim_start(tokens, "--state", state, (char *)NULL);
	for (int i = 0; i < 200 && !all; i++) {
		usleep(100 * 1000);
		ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "suit-sim ended (see sim.log)");
		all = true;
		for (unsigned d = 0; d < DEVICES; d++)
			all = all && state_seq(state, dev[d].id) == 1;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_msg(all, "the state file did not reach sequence 1 for every device in 20 s");
	ck_assert_int_eq(state_seq(state, "old-device"), 7);
	ck_assert_uint_eq(harness_metric(&P, PAYLOAD_206), DEVICES * CHUNKS);

	ck_assert_int_eq(
		sim_wait(sim_start(tokens, "--state", state, "--duration", "3", (char *)NULL), &s),
		0);
	ck_assert_str_eq(json_string_value(json_object_get(s, "stopped")), "duration");
	ck_assert_uint_eq(json_object_size(member(s, "sequences.start")), 1);
	assert_num(s, "sequences.start.1", DEVICES);
	assert_num(s, "sequences.end.1", DEVICES);
	assert_num(s, "cycles_started", 0);
	assert_num(s, "errors.total", 0);
	assert_num(s, "requests.payload_chunk.count", 0);
	ck_assert_ptr_null(member(s, "requests.checkin.status.200"));
	ck_assert_int_ge(num(s, "requests.checkin.status.204"), DEVICES);
	json_decref(s);
	assert_counts(id, "confirmed=6");
	ck_assert_uint_eq(harness_metric(&P, PAYLOAD_206), DEVICES * CHUNKS);
	for (unsigned d = 0; d < DEVICES; d++)
		ck_assert_int_eq(state_seq(state, dev[d].id), 1);
	ck_assert_int_eq(state_seq(state, "old-device"), 7);
	again = deploy_group("");
	assert_counts(again, "skipped=6");
}
END_TEST

/* Client certificates in DIR/certs, ID.pem and ID.key, CN = ID, issued by
 * device-ca; the devices FIRST .. FIRST + N - 1. */
static const char *make_certs(unsigned first, unsigned n)
{
	static char dir[256];
	struct harness_cert_opts co = {0};
	char name[64];

	harness_make_ca(&P, "device-ca", "suit-sim device CA (test only)");
	snprintf(dir, sizeof(dir), "%s/certs", P.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	for (unsigned i = first; i < first + n; i++) {
		snprintf(name, sizeof(name), "certs/%s", dev[i].id);
		co.cn = dev[i].id;
		harness_make_cert(&P, "device-ca", name, &co);
	}
	return dir;
}

/* mTLS: the server takes device identities from client certificates only
 * ([devices] auth = certificate), and suit-sim --certs gives each device
 * its own. Every device confirms under its own name (a device speaking
 * with another's certificate would leave its own assignment pending), with
 * a state file that did not exist before; a token is no identity here. */
START_TEST(test_certificates)
{
	const char *certs = make_certs(0, DEVICES);
	char conf[1024], state[256];
	json_t *s;
	long id;

	ck_assert_int_eq(harness_stop(&P), 0);
	snprintf(conf, sizeof(conf),
		 "[devices]\nauth = certificate\nclient_ca = device-ca.pem\nseen_flush = 1\n"
		 "poll_interval = 2\npoll_interval_active = 1\npoll_jitter = 10\n"
		 "[manifests]\ntrust_anchor = %s\n",
		 F.pub);
	harness_write_config(&P, conf);
	harness_start(&P);
	id = deploy_group("");
	snprintf(state, sizeof(state), "%s/certs.state", P.dir);
	ck_assert_int_eq(run_sim(NULL, &s, "--certs", certs, "--state", state, (char *)NULL), 0);
	assert_clean(s, DEVICES);
	assert_num(s, "identities.certificate", DEVICES);
	assert_num(s, "identities.token", 0);
	assert_num(s, "bytes_downloaded", DEVICES * FW_SIZE);
	assert_num(s, "sequences.start.0", DEVICES);
	assert_num(s, "sequences.end.1", DEVICES);
	json_decref(s);
	assert_counts(id, "confirmed=6");
	for (unsigned d = 0; d < DEVICES; d++) {
		ck_assert_int_eq(reported_sequence(dev[d].id), 1);
		ck_assert_int_eq(state_seq(state, dev[d].id), 1);
	}
	ck_assert_int_eq(run_sim(tokens_file("tokens", 0, 1), &s, "-q", (char *)NULL), 1);
	assert_num(s, "errors.http.401", 1);
	json_decref(s);
}
END_TEST

/* Usage errors exit 2 before any request: other hosts than loopback,
 * unknown options, a missing tokens file, a malformed state file, a
 * certificate folder with a key missing or a key of another certificate,
 * a device with both a token and a certificate. */
START_TEST(test_usage_errors)
{
	static const char bad_seq[] = "sim-00 1\nsim-01 one\n", twice[] = "sim-00 1\nsim-00 2\n";
	char tokens[256], path[256], other[256];
	const char *certs;

	snprintf(tokens, sizeof(tokens), "%s/none", P.dir);
	ck_assert_int_eq(run_sim_anchor(tokens, F.pub, NULL, (char *)NULL), 2);
	ck_assert_int_eq(run_sim(tokens_file("tokens", 0, 1), NULL, "--bogus", (char *)NULL), 2);
	ck_assert_int_eq(run_sim(tokens_file("tokens", 0, 1), NULL, "--url",
				 "https://192.0.2.1:8443", (char *)NULL),
			 2);
	ck_assert_int_eq(run_sim(tokens_file("tokens", 0, 1), NULL, "--devices", "2", (char *)NULL),
			 2);
	ck_assert_int_eq(
		run_sim(tokens_file("tokens", 0, 1), NULL, "--fail-rate", "1.5", (char *)NULL), 2);
	ck_assert_int_eq(run_sim(NULL, NULL, (char *)NULL), 2);

	snprintf(path, sizeof(path), "%s/bad.state", P.dir);
	write_file(path, bad_seq, strlen(bad_seq));
	ck_assert_int_eq(run_sim(tokens_file("tokens", 0, 1), NULL, "--state", path, (char *)NULL),
			 2);
	snprintf(other, sizeof(other), "%s:2: sequence 'one' is not a number", path);
	ck_assert_msg(sim_log_contains(other), "no '%s' in sim.log", other);
	write_file(path, twice, strlen(twice));
	ck_assert_int_eq(run_sim(tokens_file("tokens", 0, 1), NULL, "--state", path, (char *)NULL),
			 2);
	snprintf(other, sizeof(other), "%s:2: device 'sim-00' is already on line 1", path);
	ck_assert_msg(sim_log_contains(other), "no '%s' in sim.log", other);

	certs = make_certs(0, 2);
	ck_assert_int_eq(run_sim(tokens_file("tokens", 1, 1), NULL, "--certs", certs, (char *)NULL),
			 2);
	ck_assert(sim_log_contains("device 'sim-01' has a certificate too"));
	snprintf(path, sizeof(path), "%s/sim-01.key", certs);
	snprintf(other, sizeof(other), "%s/sim-00.key", certs);
	ck_assert_int_eq(rename(other, path), 0);
	ck_assert_int_eq(run_sim(NULL, NULL, "--certs", certs, (char *)NULL), 2);
	snprintf(other, sizeof(other), "%s/sim-00.key: missing", certs);
	ck_assert_msg(sim_log_contains(other), "no '%s' in sim.log", other);
	snprintf(other, sizeof(other), "%s/sim-00.pem", certs);
	ck_assert_int_eq(unlink(other), 0);
	ck_assert_int_eq(run_sim(NULL, NULL, "--certs", certs, (char *)NULL), 2);
	snprintf(other, sizeof(other), "%s: not the key of %s/sim-01.pem", path, certs);
	ck_assert_msg(sim_log_contains(other), "no '%s' in sim.log", other);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-sim");
	TCase *tc = tcase_create("sim");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, sim_setup, fleet_teardown);
	tcase_add_test(tc, test_json_cycle);
	tcase_add_test(tc, test_suit_reports);
	tcase_add_test(tc, test_injected_failures);
	tcase_add_test(tc, test_corruption_detected);
	tcase_add_test(tc, test_crash_resumes);
	tcase_add_test(tc, test_silence_times_out);
	tcase_add_test(tc, test_untrusted_signer);
	tcase_add_test(tc, test_state_continues);
	tcase_add_test(tc, test_certificates);
	tcase_add_test(tc, test_usage_errors);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
