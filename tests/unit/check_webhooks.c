/* events/webhooks.c: the rules a webhook follows (signature, targets,
 * type patterns), table-driven. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "events/webhooks.h"

#include "tests/check_run.h"

/* The Standard Webhooks reference vector (its libraries' tests). */
START_TEST(test_sign_vector)
{
	const char *body = "{\"test\": 2432232314}";
	char sig[128];

	ck_assert_int_eq(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				      "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
				      strlen(body), sig, sizeof(sig)),
			 ERR_OK);
	ck_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	ck_assert_int_eq(webhook_sign("whsec_abc", "1", 1, "", 0, sig, sizeof(sig)), ERR_INVALID);
}
END_TEST

START_TEST(test_secret_new)
{
	char a[WEBHOOK_SECRET_MAX], b[WEBHOOK_SECRET_MAX], sig[128];

	ck_assert_int_eq(webhook_secret_new(a), ERR_OK);
	ck_assert_int_eq(webhook_secret_new(b), ERR_OK);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(strncmp(a, "whsec_", 6), 0);
	ck_assert_uint_eq(strlen(a), 6 + 44);
	ck_assert_int_eq(webhook_sign(a, "1", 1, "{}", 2, sig, sizeof(sig)), ERR_OK);
}
END_TEST

static const struct {
	const char *addr;
	bool private;
} addrs[] = {
	{"127.0.0.1", true},
	{"127.255.0.9", true},
	{"10.0.0.1", true},
	{"172.16.0.1", true},
	{"172.31.255.255", true},
	{"172.32.0.1", false},
	{"192.168.0.1", true},
	{"169.254.169.254", true},
	{"100.64.0.1", true},
	{"100.128.0.1", false},
	{"0.0.0.0", true},
	{"224.0.0.1", true},
	{"255.255.255.255", true},
	{"8.8.8.8", false},
	{"93.184.215.14", false},
	{"::1", true},
	{"::", true},
	{"fe80::1", true},
	{"fd12::1", true},
	{"fc00::1", true},
	{"ff02::1", true},
	{"::ffff:127.0.0.1", true},
	{"::ffff:8.8.8.8", false},
	{"64:ff9b::a00:1", true},
	{"2001:4860:4860::8888", false},
};

START_TEST(test_address_private)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	const char *a = addrs[_i].addr;

	if (inet_pton(AF_INET, a, &s4.sin_addr) == 1)
		ck_assert_msg(webhook_address_private(&s4) == addrs[_i].private, "%s", a);
	else if (inet_pton(AF_INET6, a, &s6.sin6_addr) == 1)
		ck_assert_msg(webhook_address_private(&s6) == addrs[_i].private, "%s", a);
	else
		ck_abort_msg("bad test address %s", a);
}
END_TEST

static const struct {
	const char *url;
	bool http, private;
	bool ok;
} urls[] = {
	{"https://93.184.215.14/hook", false, false, true},
	{"https://93.184.215.14:8443/a?b=c", false, false, true},
	{"http://93.184.215.14/hook", false, false, false},
	{"http://93.184.215.14/hook", true, false, true},
	{"ftp://93.184.215.14/hook", true, true, false},
	{"https://127.0.0.1/", false, false, false},
	{"https://127.0.0.1/", false, true, true},
	{"https://localhost/", false, false, false},
	{"https://LOCALHOST./", false, false, false},
	{"https://x.localhost/", false, false, false},
	{"https://[::1]:8443/", false, false, false},
	{"https://[::ffff:10.0.0.1]/", false, false, false},
	{"https://10.0.0.1/", false, false, false},
	{"https://93.184.215.14/#frag", false, false, false},
	{"https://93.184.215.14/a b", false, false, false},
	{"/relative", false, false, false},
	{"", false, false, false},
};

START_TEST(test_url_check)
{
	char why[200] = "";
	enum err e = webhook_url_check(urls[_i].url, urls[_i].http, urls[_i].private, false, why,
				       sizeof(why));

	ck_assert_msg((e == ERR_OK) == urls[_i].ok, "%s: %d %s", urls[_i].url, e, why);
	if (e)
		ck_assert_msg(why[0], "%s: no reason", urls[_i].url);
}
END_TEST

static const struct {
	const char *types, *type;
	bool valid, match;
} types[] = {
	{"", "deployment.paused", true, true},
	{"*", "key.created", true, true},
	{"deployment.*", "deployment.paused", true, true},
	{"deployment.*", "deployments.paused", true, false},
	{"deployment.*", "deployment", true, false},
	{"assignment.failed", "assignment.failed", true, true},
	{"assignment.failed", "assignment.failed_x", true, false},
	{"key.*,assignment.failed", "assignment.failed", true, true},
	{"key.*,assignment.failed", "device.created", true, false},
	{"Key.*", "Key.x", false, false},
	{",key.created", "key.created", false, false},
	{"key.created,", "key.created", false, false},
	{"key.*.x", "key.a.x", false, false},
};

START_TEST(test_types)
{
	ck_assert_msg(webhook_types_valid(types[_i].types) == types[_i].valid, "%s",
		      types[_i].types);
	if (types[_i].valid)
		ck_assert_msg(webhook_types_match(types[_i].types, types[_i].type) ==
				      types[_i].match,
			      "%s ~ %s", types[_i].types, types[_i].type);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhooks");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_sign_vector);
	tcase_add_test(tc, test_secret_new);
	tcase_add_loop_test(tc, test_address_private, 0, sizeof(addrs) / sizeof(addrs[0]));
	tcase_add_loop_test(tc, test_url_check, 0, sizeof(urls) / sizeof(urls[0]));
	tcase_add_loop_test(tc, test_types, 0, sizeof(types) / sizeof(types[0]));
	suite_add_tcase(s, tc);
	return check_run(s);
}
