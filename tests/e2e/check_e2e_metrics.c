/* Fleet metrics end to end: devices, deployments and assignments moved by
 * check-ins, reports, a cancellation, a completion and an automatic pause;
 * /metrics must then show exactly the resulting counts, keep the database
 * ones across a restart (the counters start again from 0) and never write
 * to the database. Every metric the daemon exposes is documented in
 * docs/operations.md, every metric the shipped alert rules use exists, and
 * promtool accepts the exposition, the rules and their unit tests. Real
 * daemon, real TLS, loopback; keys are test-only. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet.h"
#include "tests/check_run.h"

/* poll_interval at its maximum: suitd_devices_seen counts the devices seen
 * within poll_interval + poll_jitter % + seen_flush = 103,740 s, so a device
 * that checked in during the test is in it however slow the run, and one
 * last seen LONG_AGO is not. */
#define DEVICES_CONF                                                                        \
	"auth = token\nseen_flush = 60\npoll_interval = 86400\npoll_interval_active = 10\n" \
	"poll_jitter = 20\nmax_report_size = 1K\n"
#define LONG_AGO "259200"

enum { A1, A2, B1, B2, C1, D1, OLD, NEVER, DEVICES };
static const char *const ids[DEVICES] = {"a1", "a2", "b1", "b2", "c1", "d1", "old", "never"};
static char tokens[DEVICES][128];

static void setup(void)
{
	fleet_setup_with(50000, false, DEVICES_CONF);
}

static const char *src_dir(void)
{
	return getenv("SUITD_SRC") ? getenv("SUITD_SRC") : ".";
}

/* GET /metrics: the body (NUL-terminated, the caller frees it). */
static char *scrape(void)
{
	struct http_result r;
	char *body;

	harness_request(&P, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
	assert_status(&r, 200);
	body = strdup(r.body ? r.body : "");
	ck_assert_ptr_nonnull(body);
	http_result_release(&r);
	return body;
}

/* The value of one series (name and labels as exposed); fails when absent. */
static unsigned long long value(const char *body, const char *series)
{
	char want[192];
	const char *at;

	snprintf(want, sizeof(want), "\n%s ", series);
	at = strstr(body, want);
	ck_assert_msg(at != NULL, "no %s in /metrics", series);
	return strtoull(at + strlen(want), NULL, 10);
}

struct expect {
	const char *series;
	unsigned long long value;
};

static void assert_values(const char *body, const struct expect *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(value(body, e[i].series) == e[i].value, "%s is %llu, want %llu",
			      e[i].series, value(body, e[i].series), e[i].value);
}

/* Poll /metrics until the series has this value: the housekeeping loop
 * pauses and completes deployments about once a second. A liveness bound
 * (60 s), not a timing assertion. */
static void wait_metric(const char *series, unsigned long long want)
{
	unsigned long long v = 0;

	for (int i = 0; i < 600; i++) {
		char *body = scrape();
		v = value(body, series);
		free(body);
		if (v == want)
			return;
		usleep(100 * 1000);
	}
	ck_abort_msg("%s is %llu, want %llu", series, v, want);
}

/* What the daemon's database says, compared with /metrics. */
static const struct expect database_gauges[] = {
	{"suitd_deployments{status=\"active\"}", 1},	/* b: b2 still pending */
	{"suitd_deployments{status=\"paused\"}", 1},	/* a: by itself */
	{"suitd_deployments{status=\"completed\"}", 1}, /* d */
	{"suitd_deployments{status=\"canceled\"}", 1},	/* c */
	{"suitd_deployments_auto_paused", 1},
	{"suitd_assignments{state=\"pending\"}", 1}, /* b2 */
	{"suitd_assignments{state=\"delivered\"}", 0},
	{"suitd_assignments{state=\"downloading\"}", 0},
	{"suitd_assignments{state=\"downloaded\"}", 1}, /* a2 */
	{"suitd_assignments{state=\"installing\"}", 0},
	{"suitd_assignments{state=\"installed\"}", 0},
	{"suitd_assignments{state=\"confirmed\"}", 2}, /* b1, d1 */
	{"suitd_assignments{state=\"failed\"}", 1},    /* a1 */
	{"suitd_assignments{state=\"timed_out\"}", 0},
	{"suitd_assignments{state=\"canceled\"}", 1}, /* c1 */
	{"suitd_assignments{state=\"skipped\"}", 0},
	{"suitd_database_max_size_bytes", 0},
};

/* The sum of suitd_reports_stored_total over every state a device can
 * report (each must be there). */
static unsigned long long stored_by_state(const char *body)
{
	static const char *const states[] = {"downloading", "downloaded", "installing",
					     "installed",   "confirmed",  "failed"};
	unsigned long long sum = 0;

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		char series[96];
		snprintf(series, sizeof(series), "suitd_reports_stored_total{state=\"%s\"}",
			 states[i]);
		sum += value(body, series);
	}
	return sum;
}

START_TEST(test_fleet_counts)
{
	struct http_result r;
	char json[512], path[96], *body;
	long a, c;

	for (unsigned i = 0; i < DEVICES; i++)
		add_device(ids[i], NULL, tokens[i], sizeof(tokens[i]));
	/* a pauses itself on its first failure (1 of 2 > 10 %); b keeps a
	 * pending device; c is canceled; d completes. */
	snprintf(json, sizeof(json),
		 "{\"manifest\":\"%s\",\"target\":{\"devices\":[\"a1\",\"a2\"]},"
		 "\"rollout\":{\"failure_threshold\":10}}",
		 F.m1.digest);
	a = deploy(json, NULL);
	deploy_devices(&F.m1, "[\"b1\",\"b2\"]");
	c = deploy_devices(&F.m1, "[\"c1\"]");
	deploy_devices(&F.m1, "[\"d1\"]");
	snprintf(path, sizeof(path), "/api/v1/deployments/%ld/cancel", c);
	api("POST", path, NULL, &r);
	assert_status(&r, 200);
	http_result_release(&r);

	expect_envelope(tokens[A1], NULL, &F.m1);
	expect_envelope(tokens[A2], NULL, &F.m1);
	report_ok(tokens[A2], rep(&F.m1, "downloading", "\"progress\":10"));
	report_ok(tokens[A2], rep(&F.m1, "downloaded", ""));
	/* Late progress: stored, counted as what it reports; the assignment
	 * stays downloaded. */
	report_ok(tokens[A2], rep(&F.m1, "downloading", "\"progress\":90"));
	report_ok(tokens[A1], rep(&F.m1, "failed", "\"reason\":\"flash write error\""));
	/* The same final state again: accepted, not stored. */
	report_ok(tokens[A1], rep(&F.m1, "failed", "\"reason\":\"flash write error\""));
	/* Nothing delivered yet: refused. */
	report_refused(tokens[B2], rep(&F.m1, "installed", ""), 409, "conflict", NULL);
	expect_envelope(tokens[B1], NULL, &F.m1);
	report_ok(tokens[B1], rep(&F.m1, "installed", ""));
	checkin(tokens[B1], "seq=1", NULL, &r); /* confirmed */
	assert_status(&r, 204);
	http_result_release(&r);
	expect_envelope(tokens[D1], NULL, &F.m1);
	report_ok(tokens[D1], rep(&F.m1, "installed", ""));
	checkin(tokens[D1], "seq=1", NULL, &r);
	assert_status(&r, 204);
	http_result_release(&r);
	checkin(tokens[OLD], NULL, NULL, &r); /* nothing to do, but seen */
	assert_status(&r, 204);
	http_result_release(&r);

	wait_metric("suitd_deployments_auto_paused", 1);
	wait_metric("suitd_deployments{status=\"completed\"}", 1);
	json_decref(deployment(a)); /* still there */
	body = scrape();
	assert_values(body, database_gauges, sizeof(database_gauges) / sizeof(database_gauges[0]));
	const struct expect counters[] = {
		{"suitd_reports_stored_total{state=\"downloading\"}", 2}, /* a2 */
		{"suitd_reports_stored_total{state=\"downloaded\"}", 1},  /* a2 */
		{"suitd_reports_stored_total{state=\"installing\"}", 0},
		{"suitd_reports_stored_total{state=\"installed\"}", 2}, /* b1, d1 */
		{"suitd_reports_stored_total{state=\"confirmed\"}", 0}, /* a check-in confirms */
		{"suitd_reports_stored_total{state=\"failed\"}", 1},	/* a1, once */
		{"suitd_reports_total{outcome=\"stored\"}", 6},
		{"suitd_reports_total{outcome=\"duplicate\"}", 1},
		{"suitd_reports_total{outcome=\"refused\"}", 1},
	};
	assert_values(body, counters, sizeof(counters) / sizeof(counters[0]));
	ck_assert_uint_eq(stored_by_state(body),
			  value(body, "suitd_reports_total{outcome=\"stored\"}"));
	ck_assert_uint_gt(value(body, "suitd_database_size_bytes"), 0);
	free(body);

	/* The stop writes the pending last-seen times; "old" is then made
	 * older than the window, and nobody else writes until the scrapes. */
	ck_assert_int_eq(harness_stop(&P), 0);
	ck_assert_int_eq(harness_sql_int(&P, "SELECT count(*) FROM devices "
					     "WHERE last_seen_at IS NOT NULL"),
			 6); /* a1, a2, b1, b2 (refused but authenticated), d1, old */
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "UPDATE devices SET last_seen_at = %lld - " LONG_AGO " WHERE id = 'old'",
		 (long long)time(NULL));
	ck_assert_int_eq(harness_sql_exec(&P, sql), 1);
	harness_start(&P);

	struct harness_writes *writes = harness_writes_watch(&P);
	body = scrape();
	/* Read from the database, so the same after a restart. */
	assert_values(body, database_gauges, sizeof(database_gauges) / sizeof(database_gauges[0]));
	const struct expect fresh[] = {
		{"suitd_devices", DEVICES},
		{"suitd_devices_seen", 5}, /* not c1 and never (never seen), not old */
		{"suitd_reports_total{outcome=\"stored\"}", 0},
		{"suitd_reports_total{outcome=\"duplicate\"}", 0},
		{"suitd_reports_total{outcome=\"refused\"}", 0},
	};
	assert_values(body, fresh, sizeof(fresh) / sizeof(fresh[0]));
	ck_assert_uint_eq(stored_by_state(body), 0); /* every state there, each 0 */
	free(body);
	free(scrape());
	free(scrape());
	/* Scrapes only read. */
	ck_assert(!harness_writes_seen(writes));
}
END_TEST

/* Length of the metric name at p (0: none). */
static size_t name_len(const char *p)
{
	return strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
}

/* The metric families /metrics declares ("# TYPE name type" lines), as
 * " name1 name2 ... " for lookups of " name ". */
static char *families(const char *body)
{
	size_t cap = strlen(body) + 2, len = 1;
	char *out = malloc(cap);

	ck_assert_ptr_nonnull(out);
	out[0] = ' ';
	out[1] = '\0';
	for (const char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "# TYPE ", 7) != 0)
			continue;
		const char *name = l + 7;
		size_t n = name_len(name);
		ck_assert_uint_gt(n, 0);
		memcpy(out + len, name, n);
		len += n;
		out[len++] = ' ';
		out[len] = '\0';
	}
	return out;
}

static bool declared(const char *families_list, const char *name, size_t n)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	char key[160];

	if (n + 3 > sizeof(key))
		return false;
	snprintf(key, sizeof(key), " %.*s ", (int)n, name);
	if (strstr(families_list, key))
		return true;
	/* A histogram's series. */
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t s = strlen(suffixes[i]);
		if (n > s && strncmp(name + n - s, suffixes[i], s) == 0)
			return declared(families_list, name, n - s);
	}
	return false;
}

/* Every "suitd_..." name in text[0..len) is a family the daemon declares. */
static void assert_names_exist(const char *families_list, const char *text, size_t len,
			       const char *where)
{
	unsigned seen = 0;

	for (const char *p = text; (p = strstr(p, "suitd_")) && p < text + len; p++) {
		size_t n = name_len(p);
		if (p > text && name_len(p - 1))
			continue; /* inside a longer word */
		if (n == strlen("suitd_"))
			continue; /* "suitd_ metric" in prose */
		/* The cluster's series exist only on PostgreSQL (a SQLite suitd
		 * is one node and runs no cluster thread): the docs name them
		 * as "PostgreSQL only", and this suite checks them in its
		 * PostgreSQL pass. */
		if (!harness_backend_is_pg() && strncmp(p, "suitd_cluster_", 14) == 0) {
			seen++;
			continue;
		}
		if (p[n] == '*') { /* suitd_database_*: a prefix of some */
			char key[160];
			snprintf(key, sizeof(key), " %.*s", (int)n, p);
			ck_assert_msg(strstr(families_list, key),
				      "%s names %.*s*, which /metrics lacks", where, (int)n, p);
		} else {
			ck_assert_msg(declared(families_list, p, n),
				      "%s names %.*s, which /metrics lacks", where, (int)n, p);
		}
		seen++;
	}
	ck_assert_uint_gt(seen, 0);
}

/* Every family /metrics exposes is documented in the Monitoring section of
 * docs/operations.md, every name that section gives exists, and so does
 * every metric the shipped alert rules use. */
START_TEST(test_metrics_documented)
{
	char path[512], *body, *list;
	unsigned char *doc, *rules;
	size_t doc_len, rules_len;
	const char *section, *end;

	body = scrape();
	list = families(body);
	snprintf(path, sizeof(path), "%s/docs/operations.md", src_dir());
	doc = read_all(path, &doc_len);
	doc[doc_len] = '\0';
	section = strstr((const char *)doc, "\n## Monitoring\n");
	ck_assert_ptr_nonnull(section);
	end = strstr(section + 1, "\n## ");
	if (!end)
		end = (const char *)doc + doc_len;
	for (const char *f = list + 1; *f; f += name_len(f) + 1) {
		size_t n = name_len(f);
		bool found = false;
		for (const char *p = section; (p = strstr(p, "`")) && p < end; p++) {
			if (strncmp(p + 1, f, n) == 0 && !name_len(p + 1 + n)) {
				found = true;
				break;
			}
		}
		ck_assert_msg(found,
			      "/metrics exposes %.*s, which the Monitoring section of "
			      "docs/operations.md does not mention (as `%.*s`)",
			      (int)n, f, (int)n, f);
	}
	assert_names_exist(list, section, (size_t)(end - section), "docs/operations.md");
	snprintf(path, sizeof(path), "%s/contrib/prometheus/suitd-alerts.yml", src_dir());
	rules = read_all(path, &rules_len);
	rules[rules_len] = '\0';
	assert_names_exist(list, (const char *)rules, rules_len, "suitd-alerts.yml");
	free(rules);
	free(doc);
	free(list);
	free(body);
}
END_TEST

/* Run a shell command; its exit status (output goes to our stderr). */
static int run(const char *cmd)
{
	int rc = system(cmd);

	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static void need_promtool(void)
{
	ck_assert_msg(run("command -v promtool >/dev/null") == 0,
		      "promtool not found: `tools/deps.sh check` installs it (Debian package "
		      "prometheus)");
}

/* promtool lints the exposition (names, types, HELP) and checks the shipped
 * rules and their unit tests. */
START_TEST(test_promtool)
{
	char cmd[1200], *body;
	FILE *f;

	need_promtool();
	body = scrape();
	f = popen("promtool check metrics >&2", "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(body, 1, strlen(body), f), strlen(body));
	int rc = pclose(f);
	ck_assert_msg(rc != -1 && WEXITSTATUS(rc) == 0, "promtool check metrics: exit %d",
		      rc == -1 ? -1 : WEXITSTATUS(rc));
	free(body);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s/contrib/prometheus' && promtool check rules suitd-alerts.yml >&2",
		 src_dir());
	ck_assert_msg(run(cmd) == 0, "promtool check rules suitd-alerts.yml failed");
	snprintf(cmd, sizeof(cmd),
		 "cd '%s/contrib/prometheus' && promtool test rules suitd-alerts.test.yml >&2",
		 src_dir());
	ck_assert_msg(run(cmd) == 0, "promtool test rules suitd-alerts.test.yml failed");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-metrics");
	TCase *tc = tcase_create("metrics");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 180);
	tcase_add_checked_fixture(tc, setup, fleet_teardown);
	tcase_add_test(tc, test_fleet_counts);
	tcase_add_test(tc, test_metrics_documented);
	tcase_add_test(tc, test_promtool);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
