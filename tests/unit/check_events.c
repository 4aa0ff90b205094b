/* The event log below HTTP: the ?types= parser and the filter, the JSON of
 * an event, and the log itself on a temp database (ids, listeners,
 * retention by age and by row cap, never the newest). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/stream.h"
#include "storage/events.h"
#include "storage/storage.h"

#include "tests/check_run.h"

static const struct {
	const char *list;
	bool ok;
	unsigned count;
} type_cases[] = {
	{"deployment.*", true, 1},
	{"deployment.*,assignment.failed", true, 2},
	{"*", true, 1},
	{"assignment.timed_out", true, 1},
	{"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", true, 16},
	{"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", false, 0},
	{"", true, 0},
	{"Deployment.*", false, 0},
	{"a*b", false, 0},
	{"deployment*", false, 0},
	{"*.paused", false, 0},
	{"a,,b", false, 0},
	{"a,", false, 0},
	{",a", false, 0},
	{"a b", false, 0},
	{"0123456789012345678901234567890123456789012345678901234567890123", false, 0},
};

START_TEST(test_filter_types)
{
	struct event_filter f = {0};
	struct diag d = {0};
	enum err e = event_filter_types(&f, type_cases[_i].list, &d);

	ck_assert_msg((e == ERR_OK) == type_cases[_i].ok, "'%s': %s", type_cases[_i].list, d.text);
	if (!e)
		ck_assert_uint_eq(f.type_count, type_cases[_i].count);
}
END_TEST

START_TEST(test_filter_match)
{
	struct event ev = {.id = 7, .deployment_id = 3};
	struct event_filter f = {0};

	snprintf(ev.type, sizeof(ev.type), "deployment.paused");
	snprintf(ev.device_id, sizeof(ev.device_id), "d-1");
	ck_assert(event_filter_match(&f, &ev));
	ck_assert_int_eq(event_filter_types(&f, "assignment.*,deployment.paused", NULL), ERR_OK);
	ck_assert(event_filter_match(&f, &ev));
	ck_assert_int_eq(event_filter_types(&f, "deployment.*", NULL), ERR_OK);
	ck_assert(event_filter_match(&f, &ev));
	ck_assert_int_eq(event_filter_types(&f, "deploy.*", NULL), ERR_OK);
	ck_assert(!event_filter_match(&f, &ev)); /* a family is a whole segment */
	ck_assert_int_eq(event_filter_types(&f, "deployment.paused", NULL), ERR_OK);
	f.deployment = 4;
	ck_assert(!event_filter_match(&f, &ev));
	f.deployment = 3;
	ck_assert(event_filter_match(&f, &ev));
	snprintf(f.device, sizeof(f.device), "d-2");
	ck_assert(!event_filter_match(&f, &ev));
	snprintf(f.device, sizeof(f.device), "d-1");
	ck_assert(event_filter_match(&f, &ev));
}
END_TEST

START_TEST(test_event_json)
{
	struct event ev = {.id = 42, .at_ms = 1796426949123LL, .deployment_id = 5};
	json_t *j;

	snprintf(ev.type, sizeof(ev.type), "assignment.failed");
	snprintf(ev.actor, sizeof(ev.actor), "device:d-1");
	snprintf(ev.subject, sizeof(ev.subject), "assignment:9");
	snprintf(ev.device_id, sizeof(ev.device_id), "d-1");
	ev.data = strdup("{\"reason\":\"flash\\nerror\"}");
	j = event_json(&ev);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(j, "at")), "2026-12-04T23:29:09.123Z");
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "assignment.failed");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "deployment")), 5);
	ck_assert_str_eq(json_string_value(json_object_get(j, "device")), "d-1");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "reason")),
			 "flash\nerror");
	/* The SSE data: line is one line: a newline in a value is escaped. */
	char *text = json_dumps(j, JSON_COMPACT);
	ck_assert_ptr_null(strchr(text, '\n'));
	free(text);
	json_decref(j);
	event_clear(&ev);
	ck_assert_ptr_null(ev.data);
}
END_TEST

static char dir[64], db_path[256];

static void db_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/suitd-check-events-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/t.db", dir);
}

static void db_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct storage *open_db(void)
{
	struct storage_options opt = {.path = db_path, .migrate = true};
	struct storage *s = NULL;
	struct diag d = {0};

	ck_assert_int_eq(storage_open(&opt, &s, &d), ERR_OK);
	return s;
}

static unsigned heard;
static int64_t heard_newest;

static void listener(void *cls, int64_t newest)
{
	(void)cls;
	heard++;
	heard_newest = newest;
}

struct collected {
	int64_t ids[64];
	unsigned n;
};

static bool collect(void *cls, const struct event *ev)
{
	struct collected *c = cls;

	c->ids[c->n++] = ev->id;
	return c->n < 64;
}

START_TEST(test_log_listen_and_sweep)
{
	struct storage *s = open_db();
	struct collected c = {0};
	int64_t oldest, newest;
	unsigned deleted = 0;

	ck_assert_int_eq(storage_events_range(s, &oldest, &newest), ERR_OK);
	ck_assert_int_eq(oldest, 0);
	ck_assert_int_eq(newest, 0);
	ck_assert_int_eq(storage_events_listen(s, listener, NULL), ERR_OK);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(storage_event_append(s, "test.happened", "t", "test:x", i % 2 == 0,
						      "{\"n\":1}"),
				 ERR_OK);
	ck_assert_int_eq(storage_event_append(s, "test.bad", "t", "x", true, "not json"),
			 ERR_INVALID);
	/* One signal per committed transaction that wrote events. */
	ck_assert_uint_eq(heard, 10);
	ck_assert_int_eq(heard_newest, 10);
	ck_assert_int_eq(storage_events_after(s, 3, 4, collect, &c), ERR_OK);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_int_eq(c.ids[0], 4);
	ck_assert_int_eq(c.ids[3], 7);
	/* Retention by age: a cutoff after them all keeps only the newest. */
	ck_assert_int_eq(storage_events_sweep(s, INT64_MAX, 0, 3, &deleted), ERR_OK);
	ck_assert_uint_eq(deleted, 3); /* a batch of 3 */
	ck_assert_int_eq(storage_events_sweep(s, INT64_MAX, 0, 100, &deleted), ERR_OK);
	ck_assert_uint_eq(deleted, 6);
	ck_assert_int_eq(storage_events_range(s, &oldest, &newest), ERR_OK);
	ck_assert_int_eq(oldest, 10);
	ck_assert_int_eq(newest, 10);
	/* Ids are never reused; the row cap keeps the newest max_rows. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(
			storage_event_append(s, "test.happened", "t", "test:x", true, NULL),
			ERR_OK);
	ck_assert_int_eq(storage_events_sweep(s, 0, 4, 100, &deleted), ERR_OK);
	ck_assert_uint_eq(deleted, 7);
	ck_assert_int_eq(storage_events_range(s, &oldest, &newest), ERR_OK);
	ck_assert_int_eq(oldest, 17);
	ck_assert_int_eq(newest, 20);
	/* Nothing older than the cutoff, nothing beyond the cap: no change. */
	ck_assert_int_eq(storage_events_sweep(s, 0, 4, 100, &deleted), ERR_OK);
	ck_assert_uint_eq(deleted, 0);
	storage_free(s);
}
END_TEST

START_TEST(test_audit_list)
{
	struct storage *s = open_db();
	struct collected c = {0};
	struct audit_filter f = {0};

	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(storage_event_append(s, i < 3 ? "key.created" : "device.created",
						      i % 2 ? "ops" : "ci", "x:1", i != 5, NULL),
				 ERR_OK);
	ck_assert_int_eq(storage_audit_list(s, &f, 10, collect, &c), ERR_OK);
	ck_assert_uint_eq(c.n, 5); /* admin only, newest first */
	ck_assert_int_eq(c.ids[0], 5);
	ck_assert_int_eq(c.ids[4], 1);
	c.n = 0;
	f.action = "key.*";
	ck_assert_int_eq(storage_audit_list(s, &f, 10, collect, &c), ERR_OK);
	ck_assert_uint_eq(c.n, 3);
	c.n = 0;
	f.action = NULL;
	f.actor = "ops";
	f.before = 5;
	ck_assert_int_eq(storage_audit_list(s, &f, 10, collect, &c), ERR_OK);
	ck_assert_uint_eq(c.n, 2); /* 4 and 2 */
	ck_assert_int_eq(c.ids[0], 4);
	c.n = 0;
	f.after = 2;
	ck_assert_int_eq(storage_audit_list(s, &f, 10, collect, &c), ERR_OK);
	ck_assert_uint_eq(c.n, 1);
	storage_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("filter");
	TCase *db = tcase_create("log");

	tcase_add_loop_test(tc, test_filter_types, 0,
			    (int)(sizeof(type_cases) / sizeof(type_cases[0])));
	tcase_add_test(tc, test_filter_match);
	tcase_add_test(tc, test_event_json);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(db, db_setup, db_teardown);
	tcase_add_test(db, test_log_listen_and_sweep);
	tcase_add_test(db, test_audit_list);
	suite_add_tcase(s, db);
	return check_run(s);
}
