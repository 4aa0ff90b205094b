/* api/token_cache.c: hits, misses, clears, the generation that keeps a
 * lookup which read the database before a token rotation from caching the
 * old token after the rotation's clear (issue 23), and the end of a previous
 * token's grace (issue 24). The interleavings are played step by step, and
 * times are passed in, so each run takes the same path. */
#include <check.h>
#include <string.h>

#include "api/token_cache.h"
#include "tests/check_run.h"

static struct token_cache *c;

static void setup(void)
{
	ck_assert_int_eq(token_cache_new(&c), ERR_OK);
}

static void teardown(void)
{
	token_cache_free(c);
}

static void hash_of(const char *token, uint8_t hash[SHA256_LEN])
{
	crypto_sha256(token, strlen(token), hash);
}

static const struct device_ident dev = {.num = 7, .id = "unit-7", .group = "fleet"};

#define NOW 1800000000 /* a time; the cache compares it, never reads a clock */

START_TEST(test_hit_and_miss)
{
	uint8_t a[SHA256_LEN], b[SHA256_LEN];
	struct device_ident got;

	hash_of("suitd_dt_a", a);
	ck_assert(!token_cache_get(c, a, NOW, &got));
	ck_assert(token_cache_put(c, token_cache_generation(c), a, &dev, 0));
	memset(&got, 0, sizeof(got));
	ck_assert(token_cache_get(c, a, NOW, &got));
	ck_assert_int_eq(got.num, 7);
	ck_assert_str_eq(got.id, "unit-7");
	ck_assert_str_eq(got.group, "fleet");
	/* The map is keyed by the first 63 bits: the rest must be compared. */
	memcpy(b, a, SHA256_LEN);
	b[SHA256_LEN - 1] ^= 1;
	ck_assert(!token_cache_get(c, b, NOW, &got));
	hash_of("suitd_dt_b", b);
	ck_assert(!token_cache_get(c, b, NOW, &got));
}
END_TEST

/* A clear (after a rotation, deletion or group change commits) drops what
 * was cached, and later lookups cache again. */
START_TEST(test_clear)
{
	uint8_t a[SHA256_LEN];
	struct device_ident got;

	hash_of("suitd_dt_a", a);
	ck_assert(token_cache_put(c, token_cache_generation(c), a, &dev, 0));
	token_cache_clear(c);
	ck_assert(!token_cache_get(c, a, NOW, &got));
	ck_assert(token_cache_put(c, token_cache_generation(c), a, &dev, 0));
	ck_assert(token_cache_get(c, a, NOW, &got));
	token_cache_clear(NULL); /* a context without a cache */
}
END_TEST

/* The race of issue 23, with the lookup held between its database read and
 * its put: it misses, reads the row (the old token is still valid), the
 * rotation commits and clears, then the lookup puts. The put must be
 * refused, or the old token stays valid until some other change clears the
 * cache. */
START_TEST(test_put_after_clear_refused)
{
	uint8_t old[SHA256_LEN];
	struct device_ident got;

	hash_of("suitd_dt_old", old);
	ck_assert(!token_cache_get(c, old, NOW, &got));
	uint64_t generation = token_cache_generation(c); /* before the read */
	/* ... storage_device_by_token() finds the row with the old token ... */
	/* ... the rotation commits its new token, then: */
	token_cache_clear(c);
	ck_assert(!token_cache_put(c, generation, old, &dev, 0));
	ck_assert_msg(!token_cache_get(c, old, NOW, &got),
		      "a token read before a rotation was cached after its clear");
	/* Any number of clears in between: still refused. */
	generation = token_cache_generation(c);
	token_cache_clear(c);
	token_cache_clear(c);
	ck_assert(!token_cache_put(c, generation, old, &dev, 0));
	ck_assert(!token_cache_get(c, old, NOW, &got));
}
END_TEST

/* A lookup that started after the clear read the committed row: it caches. */
START_TEST(test_put_after_own_generation)
{
	uint8_t a[SHA256_LEN], b[SHA256_LEN];
	struct device_ident got;

	hash_of("suitd_dt_a", a);
	hash_of("suitd_dt_b", b);
	token_cache_clear(c);
	uint64_t generation = token_cache_generation(c);
	ck_assert(token_cache_put(c, generation, a, &dev, 0));
	/* Another put of the same generation: no clear in between. */
	ck_assert(token_cache_put(c, generation, b, &dev, 0));
	ck_assert(token_cache_get(c, a, NOW, &got));
	ck_assert(token_cache_get(c, b, NOW, &got));
}
END_TEST

/* A previous token in its grace (POST .../token?grace=) is cached with its
 * end: a hit before it, a miss from that second on, with no clear in
 * between (nothing else happens when a grace runs out). A current token
 * (until 0) has no end. */
START_TEST(test_grace_ends_without_clear)
{
	uint8_t prev[SHA256_LEN], cur[SHA256_LEN];
	struct device_ident got;
	uint64_t generation = token_cache_generation(c);

	hash_of("suitd_dt_prev", prev);
	hash_of("suitd_dt_cur", cur);
	ck_assert(token_cache_put(c, generation, prev, &dev, NOW + 2));
	ck_assert(token_cache_put(c, generation, cur, &dev, 0));
	ck_assert(token_cache_get(c, prev, NOW, &got));
	ck_assert_str_eq(got.id, "unit-7");
	ck_assert(token_cache_get(c, prev, NOW + 1, &got));
	ck_assert_msg(!token_cache_get(c, prev, NOW + 2, &got),
		      "a previous token was served from the cache at the end of its grace");
	ck_assert(!token_cache_get(c, prev, NOW + 86400, &got));
	ck_assert(token_cache_get(c, cur, NOW + 86400, &got));
	ck_assert(token_cache_get(c, cur, INT64_MAX, &got));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("token_cache");
	TCase *tc = tcase_create("token_cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hit_and_miss);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_put_after_clear_refused);
	tcase_add_test(tc, test_put_after_own_generation);
	tcase_add_test(tc, test_grace_ends_without_clear);
	suite_add_tcase(s, tc);
	return check_run(s);
}
