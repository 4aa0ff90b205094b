/* Device tokens under concurrency (issue 23): after the 200 of a token
 * rotation or the 204 of a deletion, the old token gets 401 from then on.
 *
 * Pollers check in with the device's newest token, and with the token
 * revoked last, while one client rotates the token (every tenth time it
 * deletes and re-creates the device instead) and two others PATCH other
 * devices, which clears the token cache over and over. A check-in is a
 * stale acceptance when its token had been revoked before it was sent and
 * it still got in. The race this hunts: a lookup that read the device row
 * before the rotation's commit and filled the token cache after the
 * rotation cleared it (api/token_cache.c).
 *
 * SUITD_STRESS_ROTATIONS sets the number of revocations: 1000 by default
 * (about a second in `make check`); `make stress` runs 20000. Before the
 * fix (the token cache's generation), 1000 found stale acceptances in about
 * half the runs, 5000 in every run; the deterministic test of the same
 * interleaving is tests/unit/check_token_cache.c. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "fleet.h"
#include "tests/check_run.h"

#define DEVICE	     "polled-1"
#define POLLERS	     6
#define THREADS	     8 /* the daemon's */
#define PATCHERS     2
#define TOKEN_MAX    128
#define DELETE_EVERY 10 /* every tenth revocation is a deletion */
#define CREATE	     "{\"id\":\"" DEVICE "\",\"group\":\"g\"}"

static const char *const json_body[] = {"Content-Type: application/json", NULL};

/* Every token the device has had, in order, and how many of them are
 * revoked: tokens[0 .. revoked - 1] had their 200 or 204 already. */
static struct {
	pthread_mutex_t lock;
	char (*tokens)[TOKEN_MAX];
	uint64_t *revoked_at_us; /* when the answer that revoked tokens[i] arrived */
	unsigned count, revoked;
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_bool done;
static atomic_ulong checkins, patches, stale, unexpected;
static atomic_ulong latest_stale_ms; /* the longest a revoked token was still accepted */
static atomic_long unexpected_status;

static unsigned rotations_wanted(void)
{
	const char *v = getenv("SUITD_STRESS_ROTATIONS");
	long n = v ? strtol(v, NULL, 10) : 1000;

	return n > 0 && n <= 1000000 ? (unsigned)n : 1000;
}

/* The harness's 2 server threads become THREADS: with more requests in
 * the daemon at once, a lookup is more often caught between its read and
 * its put. On 2 CPUs, before the fix, 5000 revocations found the race in
 * every run with 8 threads, in fewer than half with 2. */
static void config_threads(void)
{
	size_t len;
	char *conf = (char *)read_all(P.conf, &len), *at;
	FILE *f;

	conf[len] = '\0'; /* read_all leaves room for it */
	at = strstr(conf, "threads = 2\n");
	f = fopen(P.conf, "w");
	ck_assert_msg(at != NULL, "the harness config has no 'threads = 2' line");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%.*sthreads = %d\n%s", (int)(at - conf), conf, THREADS,
		at + strlen("threads = 2\n"));
	fclose(f);
	free(conf);
}

static void setup(void)
{
	unsigned n = rotations_wanted() + 1;

	harness_setup(&P, "[devices]\nauth = token\n");
	config_threads();
	harness_admin_key(&P);
	harness_start(&P);
	T.tokens = calloc(n, sizeof(*T.tokens));
	T.revoked_at_us = calloc(n, sizeof(*T.revoked_at_us));
	ck_assert(T.tokens && T.revoked_at_us);
	T.count = T.revoked = 0;
	atomic_store(&done, false);
}

static void teardown(void)
{
	ck_assert_int_eq(harness_stop(&P), 0);
	harness_cleanup(&P);
	free(T.tokens);
	free(T.revoked_at_us);
}

/* The answer of a rotation, deletion or creation arrived: every token so
 * far is revoked from now on; replacement (NULL: none yet) is the newest. */
static void token_revoke(const char *replacement)
{
	pthread_mutex_lock(&T.lock);
	while (T.revoked < T.count)
		T.revoked_at_us[T.revoked++] = time_mono_usec();
	if (replacement)
		snprintf(T.tokens[T.count++], TOKEN_MAX, "%s", replacement);
	pthread_mutex_unlock(&T.lock);
}

/* The token "token" from a 200/201 body. */
static void token_of(const struct http_result *r, char token[TOKEN_MAX])
{
	json_t *j = body_json(r);
	const char *t = json_string_value(json_object_get(j, "token"));

	ck_assert_ptr_nonnull(t);
	snprintf(token, TOKEN_MAX, "%s", t);
	json_decref(j);
}

/* One check-in with tokens[i]; revoked is how many tokens were revoked
 * before it was sent. Worker threads: no ck_assert here, only counts. */
static void checkin_with(struct harness_conn *c, unsigned i, const char *token, unsigned revoked)
{
	struct http_result r;

	harness_conn_request(c, "GET", CHECKIN, token, NULL, NULL, 0, &r);
	atomic_fetch_add(&checkins, 1);
	if (r.status == 200 || r.status == 204) {
		if (i < revoked) {
			unsigned long late =
				(unsigned long)((time_mono_usec() - T.revoked_at_us[i]) / 1000);
			atomic_fetch_add(&stale, 1);
			unsigned long prev = atomic_load(&latest_stale_ms);
			while (late > prev &&
			       !atomic_compare_exchange_weak(&latest_stale_ms, &prev, late))
				;
		}
	} else if (r.status != 401) {
		atomic_fetch_add(&unexpected, 1);
		atomic_store(&unexpected_status, r.status);
	}
	http_result_release(&r);
}

static void *poll_loop(void *arg)
{
	struct harness_conn *c = arg;
	char newest[TOKEN_MAX], last[TOKEN_MAX];

	while (!atomic_load(&done)) {
		pthread_mutex_lock(&T.lock);
		unsigned n = T.count, revoked = T.revoked;
		memcpy(newest, T.tokens[n - 1], TOKEN_MAX);
		if (revoked)
			memcpy(last, T.tokens[revoked - 1], TOKEN_MAX);
		pthread_mutex_unlock(&T.lock);
		/* The newest token races the next rotation (and is refused
		 * once a deletion revoked it); the one revoked last must be
		 * refused whatever happens. */
		checkin_with(c, n - 1, newest, revoked);
		if (revoked)
			checkin_with(c, revoked - 1, last, revoked);
	}
	return NULL;
}

struct patcher {
	struct harness_conn *c;
	char path[64];
};

/* PATCH another device over and over: each one clears the token cache,
 * so lookups of the polled device's token keep missing it. */
static void *patch_loop(void *arg)
{
	struct patcher *p = arg;
	struct http_result r;
	char json[64];

	for (unsigned i = 0; !atomic_load(&done); i++) {
		snprintf(json, sizeof(json), "{\"attributes\":{\"n\":%u}}", i);
		harness_conn_request(p->c, "PATCH", p->path, P.admin_key, json_body, json,
				     strlen(json), &r);
		atomic_fetch_add(&patches, 1);
		if (r.status != 200) {
			atomic_fetch_add(&unexpected, 1);
			atomic_store(&unexpected_status, r.status);
		}
		http_result_release(&r);
	}
	return NULL;
}

START_TEST(test_revoked_tokens_refused)
{
	unsigned wanted = rotations_wanted(), deletions = 0;
	pthread_t pollers[POLLERS], patchers[PATCHERS];
	struct harness_conn *pc[POLLERS], *admin;
	struct patcher pa[PATCHERS];
	char token[TOKEN_MAX];
	struct http_result r;
	uint64_t start = time_mono_usec();

	add_device(DEVICE, "g", token, sizeof(token));
	token_revoke(token);
	for (unsigned i = 0; i < PATCHERS; i++) {
		snprintf(pa[i].path, sizeof(pa[i].path), "/api/v1/devices/other-%u", i);
		add_device(pa[i].path + strlen("/api/v1/devices/"), "g", NULL, 0);
		pa[i].c = harness_conn_open(&P, NULL);
		ck_assert_int_eq(pthread_create(&patchers[i], NULL, patch_loop, &pa[i]), 0);
	}
	for (unsigned i = 0; i < POLLERS; i++) {
		pc[i] = harness_conn_open(&P, NULL);
		ck_assert_int_eq(pthread_create(&pollers[i], NULL, poll_loop, pc[i]), 0);
	}

	admin = harness_conn_open(&P, NULL);
	for (unsigned k = 1; k <= wanted; k++) {
		if (k % DELETE_EVERY == 0) {
			harness_conn_request(admin, "DELETE", "/api/v1/devices/" DEVICE,
					     P.admin_key, NULL, NULL, 0, &r);
			assert_status(&r, 204);
			http_result_release(&r);
			token_revoke(NULL);
			harness_conn_request(admin, "POST", "/api/v1/devices", P.admin_key,
					     json_body, CREATE, strlen(CREATE), &r);
			assert_status(&r, 201);
			token_of(&r, token);
			token_revoke(token);
			deletions++;
		} else {
			harness_conn_request(admin, "POST", "/api/v1/devices/" DEVICE "/token",
					     P.admin_key, NULL, NULL, 0, &r);
			assert_status(&r, 200);
			token_of(&r, token);
			token_revoke(token);
		}
		http_result_release(&r);
	}
	atomic_store(&done, true);
	for (unsigned i = 0; i < POLLERS; i++)
		pthread_join(pollers[i], NULL);
	for (unsigned i = 0; i < PATCHERS; i++)
		pthread_join(patchers[i], NULL);
	double seconds = (double)(time_mono_usec() - start) / 1e6;

	/* Afterwards, quietly: no revoked token is still accepted, the newest is. */
	unsigned long during = atomic_load(&stale);
	for (unsigned i = 0; i < T.revoked; i++)
		checkin_with(admin, i, T.tokens[i], T.revoked);
	checkin_with(admin, T.count - 1, T.tokens[T.count - 1], T.revoked);
	ck_assert_uint_eq(T.revoked, T.count - 1);

	fprintf(stderr,
		"tokens: %u revocations (%u deletions) in %.1f s, %lu check-ins, %lu PATCHes; "
		"stale acceptances: %lu during, %lu after (latest %lu ms after its revocation)\n",
		wanted, deletions, seconds, atomic_load(&checkins), atomic_load(&patches), during,
		atomic_load(&stale) - during, atomic_load(&latest_stale_ms));
	harness_conn_close(admin);
	for (unsigned i = 0; i < POLLERS; i++)
		harness_conn_close(pc[i]);
	for (unsigned i = 0; i < PATCHERS; i++)
		harness_conn_close(pa[i].c);
	ck_assert_msg(atomic_load(&unexpected) == 0, "%lu unexpected answers (the last: %ld)",
		      atomic_load(&unexpected), atomic_load(&unexpected_status));
	ck_assert_msg(atomic_load(&stale) == 0,
		      "%lu check-ins with a revoked token were accepted (latest %lu ms after the "
		      "revocation)",
		      atomic_load(&stale), atomic_load(&latest_stale_ms));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-tokens");
	TCase *tc = tcase_create("revocation");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* About 1 ms a revocation on 2 CPUs; 20 ms allowed (sanitizers). */
	tcase_set_timeout(tc, 60.0 + rotations_wanted() / 50.0);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_revoked_tokens_refused);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
