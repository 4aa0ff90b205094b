/* libFuzzer target: every JSON request body, through the real handlers and
 * a real (temporary) database: device create and update, deployment create,
 * pause and resume, device reports (JSON and SUIT, through the group
 * commit), and API key creation. The first input byte picks the route,
 * the rest is the body.
 *
 * The database is a SQLite file in a temporary folder, or with
 * SUITD_FUZZ_PG_URL (a libpq URL of an empty database; its password in
 * SUITD_FUZZ_PG_PASSWORD_FILE) PostgreSQL: tests/fuzz/replay.sh replays the
 * corpus on both (issue 21). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api/api.h"
#include "api/deployments.h"
#include "api/devices.h"
#include "api/keys.h"
#include "api/reports.h"
#include "api/seen.h"
#include "api/token_cache.h"
#include "common/log.h"
#include "storage/batch.h"
#include "storage/devices.h"
#include "storage/storage.h"
#include "tracker/assignments.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_ctx ctx;
static struct api_key admin = {.id = 1, .name = "fuzz", .role = ROLE_ADMIN};
static struct device_ident device;
static const char *content_type = "application/json";

static const char *header(const struct request *req, const char *name)
{
	(void)req;
	return strcasecmp(name, "Content-Type") == 0 ? content_type : NULL;
}

static const char *query(const struct request *req, const char *name)
{
	(void)req;
	(void)name;
	return NULL;
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_api_json: %s\n", what);
	abort();
}

static char dir[] = "/tmp/suitd-fuzz-api-XXXXXX";

/* The database goes with the process (open files stay valid until exit). */
static void remove_dir(void)
{
	static const char *const files[] = {"suitd.db", "suitd.db-wal", "suitd.db-shm"};
	char path[sizeof(dir) + 16];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct storage_options so = {.migrate = true};
	struct device_new dn = {.id = "fuzz-dev", .attributes = "{}"};
	struct config *config = NULL;
	struct diag d = {0};
	const char *pg_url = getenv("SUITD_FUZZ_PG_URL");
	const char *pg_password = getenv("SUITD_FUZZ_PG_PASSWORD_FILE");
	char conf[1024], path[64];
	int fd, n;

	(void)argc;
	(void)argv;
	log_level_set(LOG_LEVEL_ERR);
	if (!mkdtemp(dir))
		die("mkdtemp");
	atexit(remove_dir);
	/* A config of defaults; only the database is placed. */
	fd = memfd_create("suitd-fuzz.conf", 0);
	if (pg_url && pg_url[0])
		n = snprintf(conf, sizeof(conf),
			     "[storage]\nbackend = postgresql\nurl = %s\npassword_file = %s\n",
			     pg_url, pg_password ? pg_password : "");
	else
		n = snprintf(conf, sizeof(conf),
			     "[storage]\ndatabase = %s/suitd.db\nsynchronous = normal\n", dir);
	if (n < 0 || (size_t)n >= sizeof(conf))
		die("config: SUITD_FUZZ_PG_URL or SUITD_FUZZ_PG_PASSWORD_FILE too long");
	if (fd < 0 || write(fd, conf, (size_t)n) != n)
		die("config");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load(path, &config, &d) != ERR_OK)
		die(d.text);
	close(fd);
	so.path = config->storage.database;
	if (config->storage.backend == CONFIG_BACKEND_POSTGRESQL) {
		so.backend = STORAGE_POSTGRESQL;
		so.url = config->storage.url;
		so.password_file =
			config->storage.password_file[0] ? config->storage.password_file : NULL;
	}
	if (storage_open(&so, &ctx.storage, &d) != ERR_OK)
		die(d.text);
	ctx.config = config;
	if (seen_tracker_new(&ctx.seen) || assignment_index_new(&ctx.assignments) ||
	    token_cache_new(&ctx.tokens) || batcher_start(ctx.storage, BATCH_MAX, &ctx.reports))
		die("context");
	enum err e = storage_device_insert(ctx.storage, &dn, "fuzz", &device);
	if (e)
		die(err_title(e));
	return 0;
}

/* A deferred answer (the group commit of a report), waited for here. */
struct wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void resume(void *cls)
{
	struct wait *w = cls;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void finish_deferred(struct response *res)
{
	struct wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};

	res->defer.start(res->defer.cls, resume, &w);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		enum http_method method;
		const char *param;
		api_handler handler;
		bool device;
		const char *type;
	} routes[] = {
		{HTTP_POST, NULL, api_devices_create, false, "application/json"},
		{HTTP_PATCH, "fuzz-dev", api_devices_update, false, "application/json"},
		{HTTP_POST, NULL, api_deployments_create, false, "application/json"},
		{HTTP_POST, "1", api_deployments_pause, false, "application/json"},
		{HTTP_POST, "1", api_deployments_resume, false, "application/json"},
		{HTTP_POST, NULL, api_reports_post, true, "application/json"},
		{HTTP_POST, NULL, api_reports_post, true, "application/suit-report+cose"},
		{HTTP_POST, NULL, api_keys_create, false, "application/json"},
	};
	struct request req = {0};
	struct response res;

	if (size < 1)
		return 0;
	unsigned pick = data[0] % (sizeof(routes) / sizeof(routes[0]));
	/* A copy: handlers may rely on the buffered body being NUL-terminated
	 * one past its length, as the server's buffer is. */
	char *body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	req.method = routes[pick].method;
	req.path = "/fuzz";
	req.params[0] = routes[pick].param;
	req.param_count = routes[pick].param ? 1 : 0;
	req.body = size > 1 ? body : NULL;
	req.body_len = size - 1;
	req.key = routes[pick].device ? NULL : &admin;
	req.device = routes[pick].device ? &device : NULL;
	req.header = header;
	req.query = query;
	content_type = routes[pick].type;
	response_init(&res);
	enum err e = routes[pick].handler(&ctx, &req, &res);
	if (!e && !res.problem && res.defer.start)
		finish_deferred(&res);
	if (e && !res.problem)
		api_fail(&res, e, "%s", err_title(e));
	/* Invariants: a problem has an error status; an answer has a status. */
	if (res.problem && api_http_status(res.problem) < 400)
		abort();
	if (!res.problem && (res.status < 200 || res.status > 299))
		abort();
	if (res.problem)
		api_problem_render(&res, "/fuzz");
	response_release(&res);
	free(body);
	return 0;
}
