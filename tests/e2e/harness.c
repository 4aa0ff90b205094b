#include "harness.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "tests/pg/pg_tmp.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const char *suitd_bin(void)
{
	const char *b = getenv("SUITD_BIN");

	return b ? b : "build/suitd";
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
		       long serial)
{
	X509 *cert = X509_new();

	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 7 * 86400);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert));
	if (ca) {
		add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(cert, issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
		add_ext(cert, issuer, NID_ext_key_usage, "serverAuth");
	}
	ck_assert(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return cert;
}

static void write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	if (key)
		ck_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	else
		ck_assert(PEM_write_X509(f, cert));
	fclose(f);
}

/* Test-only CA and server certificate, generated fresh for every setup. */
static void make_test_pki(struct suitd_proc *p)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *srv_key = EVP_EC_gen("P-256");
	X509 *ca = make_cert(ca_key, "suitd test CA (test only)", NULL, NULL, true, 1);
	X509 *srv = make_cert(srv_key, "localhost", ca, ca_key, false, 2);
	char path[192];

	snprintf(p->ca, sizeof(p->ca), "%s/ca.pem", p->dir);
	write_pem(p->ca, NULL, ca);
	snprintf(path, sizeof(path), "%s/server.pem", p->dir);
	write_pem(path, NULL, srv);
	snprintf(path, sizeof(path), "%s/server.key", p->dir);
	write_pem(path, srv_key, NULL);
	X509_free(ca);
	X509_free(srv);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
}

/* ---- The backend: SQLite's file or a throwaway PostgreSQL ---- */

static struct pg_tmp pg_server; /* started before main, in the parent */
static pid_t pg_owner;		/* the process that started it (stops it) */
static bool pg_failed;

bool harness_backend_is_pg(void)
{
	const char *b = getenv("SUITD_TEST_BACKEND");

	return b && strcmp(b, "postgresql") == 0;
}

bool harness_skip_on_pg(const char *test, const char *reason)
{
	if (!harness_backend_is_pg())
		return false;
	printf("SKIP %s on postgresql (not run, not a pass): %s\n", test, reason);
	fflush(stdout);
	return true;
}

bool harness_skip_on_sqlite(const char *test, const char *reason)
{
	if (harness_backend_is_pg())
		return false;
	printf("SKIP %s on sqlite (not run, not a pass): %s\n", test, reason);
	fflush(stdout);
	return true;
}

static void pg_server_stop(void)
{
	/* Check's forked test processes run atexit too: only the owner stops. */
	if (getpid() == pg_owner)
		pg_tmp_stop(&pg_server);
}

/* libpq URL of database db as the superuser over the server's socket (no
 * ck_assert here: the constructor runs it outside any test; 256 bytes hold
 * the 64 of the folder and the 32 of a name). */
static void pg_admin_url(const char *db, char *out, size_t size)
{
	snprintf(out, size, "postgresql://pgtmp@/%s?host=%s&port=%u", db, pg_server.dir,
		 pg_server.port);
}

/* One statement as the superuser on database db of the test server. */
static bool pg_admin_exec(const char *db, const char *sql)
{
	char url[256];
	PGconn *c;
	PGresult *r;
	bool ok;

	pg_admin_url(db, url, sizeof(url));
	c = PQconnectdb(url);
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok;
}

/* The database every test's database is copied from: migrated once by the
 * binary under test (`suitd migrate`), so a test does not pay the schema's
 * 0.3 s. Its log is DIR/template.log of the server. */
static bool pg_template_make(void)
{
	char conf[128], cmd[512];
	FILE *f;

	if (!pg_admin_exec("postgres", "CREATE DATABASE e2e_template OWNER suitd"))
		return false;
	snprintf(conf, sizeof(conf), "%s/template.conf", pg_server.dir);
	f = fopen(conf, "w");
	if (!f)
		return false;
	fprintf(f,
		"[storage]\nbackend = postgresql\nurl = postgresql://suitd@127.0.0.1:%u/"
		"e2e_template\npassword_file = %s\n",
		pg_server.port, pg_server.password_file);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' migrate >'%s/template.log' 2>&1", suitd_bin(),
		 conf, pg_server.dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "harness: '%s' failed\n", cmd);
		return false;
	}
	return true;
}

/* One server per test process, started here rather than in the first
 * harness_setup: that runs in a test process Check forks (and reaps) per
 * test, so a server started there would serve one test only. initdb and a
 * start take about 2 s, a database of its own per test about 0.1 s
 * (docs/design.md). */
__attribute__((constructor)) static void pg_server_start(void)
{
	if (!harness_backend_is_pg())
		return;
	if (!pg_tmp_start(&pg_server)) {
		pg_failed = true;
		return;
	}
	pg_owner = getpid();
	atexit(pg_server_stop);
	/* Test databases live seconds: autovacuum would only add transactions
	 * of its own at random moments (harness_writes_seen counts them). */
	pg_failed = !pg_admin_exec("postgres", "ALTER SYSTEM SET autovacuum = off") ||
		    !pg_admin_exec("postgres", "SELECT pg_reload_conf()") || !pg_template_make();
}

/* A database of its own for p, a copy of TEMPLATE, owned by the role. */
static void pg_database_create(struct suitd_proc *p, const char *template)
{
	static unsigned made;
	char sql[128];

	ck_assert_msg(!pg_failed, "no PostgreSQL test server (SUITD_TEST_BACKEND=postgresql); "
				  "see the reason above");
	snprintf(p->db_name, sizeof(p->db_name), "e2e_%ld_%u", (long)getpid(), made++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" TEMPLATE %s OWNER suitd", p->db_name,
		 template);
	ck_assert_msg(pg_admin_exec("postgres", sql), "CREATE DATABASE %s failed", p->db_name);
	snprintf(p->db_url, sizeof(p->db_url), "postgresql://suitd@127.0.0.1:%u/%s", pg_server.port,
		 p->db_name);
}

/* The database goes with the test (the server lives as long as the suite). */
static void pg_database_drop(struct suitd_proc *p)
{
	char sql[96];

	/* From "postgres": a database cannot drop itself. */
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", p->db_name);
	pg_admin_exec("postgres", sql);
	p->db_name[0] = '\0';
}

const char *harness_storage_conf(const struct suitd_proc *p, char *out, size_t size)
{
	int n;

	if (p->db_name[0])
		n = snprintf(out, size,
			     "[storage]\nbackend = postgresql\nurl = %s\npassword_file = %s\n",
			     p->db_url, pg_server.password_file);
	else
		n = snprintf(out, size, "[storage]\ndatabase = suitd.db\nsynchronous = normal\n");
	ck_assert(n > 0 && (size_t)n < size);
	return out;
}

void harness_write_config(struct suitd_proc *p, const char *extra_conf)
{
	FILE *f = fopen(p->conf, "w");
	char storage[512];

	ck_assert_ptr_nonnull(f);
	/* Suites drive one API key hard: no rate limit unless a test sets one
	 * (in a [server] section of its own); a short connection_timeout
	 * unless a test sets its own. */
	fprintf(f,
		"[server]\nlisten = 127.0.0.1:0\nthreads = 2\ntls_cert = server.pem\n"
		"tls_key = server.key\n%s%s%s%s",
		extra_conf && strstr(extra_conf, "connection_timeout") ? ""
								       : "connection_timeout = 5\n",
		extra_conf && strstr(extra_conf, "rate_limit") ? "" : "rate_limit = 0\n",
		harness_storage_conf(p, storage, sizeof(storage)), extra_conf ? extra_conf : "");
	fclose(f);
}

/* A zeroed p with a temporary folder, its file names and its PKI. */
static void proc_folder(struct suitd_proc *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/suitd-e2e-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p->dir));
	snprintf(p->conf, sizeof(p->conf), "%s/suitd.conf", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/suitd.log", p->dir);
	make_test_pki(p);
}

void harness_setup(struct suitd_proc *p, const char *extra_conf)
{
	proc_folder(p);
	if (harness_backend_is_pg())
		pg_database_create(p, "e2e_template");
	harness_write_config(p, extra_conf);
}

void harness_setup_node(struct suitd_proc *p, const struct suitd_proc *first)
{
	char from[160];
	FILE *in, *out;
	size_t n;

	ck_assert_msg(first->db_name[0], "several nodes need SUITD_TEST_BACKEND=postgresql");
	proc_folder(p);
	memcpy(p->db_name, first->db_name, sizeof(p->db_name));
	memcpy(p->db_url, first->db_url, sizeof(p->db_url));
	memcpy(p->admin_key, first->admin_key, sizeof(p->admin_key));
	p->db_shared = true;
	snprintf(from, sizeof(from), "%s", first->conf);
	in = fopen(from, "r");
	out = fopen(p->conf, "w");
	ck_assert(in && out);
	for (char buf[4096]; (n = fread(buf, 1, sizeof(buf), in)) > 0;)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

void harness_pg_restart(void)
{
	ck_assert_msg(harness_backend_is_pg() && !pg_failed, "no PostgreSQL test server");
	ck_assert_msg(pg_tmp_restart(&pg_server), "the PostgreSQL restart failed");
}

void harness_pg_outage(unsigned seconds)
{
	ck_assert_msg(harness_backend_is_pg() && !pg_failed, "no PostgreSQL test server");
	ck_assert_msg(pg_tmp_outage(&pg_server, seconds), "the PostgreSQL outage did not start");
}

static int run_child(struct suitd_proc *p, char *const argv[], char *out, size_t out_size)
{
	int pipefd[2], status;
	size_t used = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int logfd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(pipefd[1], 1);
		dup2(logfd, 2);
		close(pipefd[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char tmp[4096];
		ssize_t n = read(pipefd[0], tmp, sizeof(tmp));
		if (n <= 0)
			break;
		if (out && used + 1 < out_size) {
			size_t take =
				(size_t)n < out_size - 1 - used ? (size_t)n : out_size - 1 - used;
			memcpy(out + used, tmp, take);
			used += take;
		}
	}
	if (out)
		out[used] = '\0';
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void harness_pg_database_empty(struct suitd_proc *p)
{
	ck_assert(harness_backend_is_pg());
	pg_database_create(p, "template0");
}

/* BIN/NAME of the newest installed PostgreSQL (as pg_tmp.sh picks its
 * server), into out. */
static void pg_client_path(const char *name, char *out, size_t size)
{
	char pattern[96];
	long best = -1;
	glob_t g;

	snprintf(pattern, sizeof(pattern), "/usr/lib/postgresql/*/bin/%s", name);
	ck_assert_msg(glob(pattern, 0, NULL, &g) == 0, "no %s", pattern);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
		if (v > best) {
			best = v;
			snprintf(out, size, "%s", g.gl_pathv[i]);
		}
	}
	globfree(&g);
}

int harness_pg_client(struct suitd_proc *p, const char *name, ...)
{
	char *argv[32], bin[128], password[160] = "";
	int argc = 0, rc;
	va_list ap;
	FILE *f;

	ck_assert(harness_backend_is_pg());
	pg_client_path(name, bin, sizeof(bin));
	argv[argc++] = bin;
	va_start(ap, name);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	/* The role's password as libpq's ~/.pgpass would give it (this test
	 * process is Check's fork: the variable goes with it). */
	f = fopen(pg_server.password_file, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(password, sizeof(password), f));
	fclose(f);
	password[strcspn(password, "\n")] = '\0';
	setenv("PGPASSWORD", password, 1);
	explicit_bzero(password, sizeof(password));
	rc = run_child(p, argv, NULL, 0);
	unsetenv("PGPASSWORD");
	return rc;
}

int harness_cli(struct suitd_proc *p, char *out, size_t out_size, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)suitd_bin();
	argv[argc++] = (char *)"-c";
	argv[argc++] = p->conf;
	va_start(ap, out_size);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return run_child(p, argv, out, out_size);
}

void harness_admin_key(struct suitd_proc *p)
{
	char out[512], *last;

	ck_assert_int_eq(harness_cli(p, out, sizeof(out), "key", "create", "--name", "test-admin",
				     "--role", "admin", (char *)NULL),
			 0);
	out[strcspn(out, "\n")] = '\0';
	last = strrchr(out, '\n');
	snprintf(p->admin_key, sizeof(p->admin_key), "%s", last ? last + 1 : out);
	ck_assert_uint_gt(strlen(p->admin_key), 20);
}

bool harness_log_contains(struct suitd_proc *p, const char *text)
{
	FILE *f = fopen(p->log, "r");
	char line[2048];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The port is read from the "listening on" log line (we listen on port 0). */
static bool read_url(struct suitd_proc *p)
{
	FILE *f = fopen(p->log, "r");
	char line[2048];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *u = strstr(line, "listening on ");
		if (u) {
			u += strlen("listening on ");
			u[strcspn(u, " \n")] = '\0';
			snprintf(p->url, sizeof(p->url), "%s", u);
		}
	}
	fclose(f);
	return p->url[0] != '\0';
}

void harness_start(struct suitd_proc *p)
{
	struct http_result r;
	int status;

	p->url[0] = '\0';
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		int logfd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execl(suitd_bin(), suitd_bin(), "-c", p->conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		ck_assert_msg(waitpid(p->pid, &status, WNOHANG) == 0,
			      "suitd exited at start; see %s", p->log);
		if (read_url(p)) {
			harness_request(p, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
			long code = r.status;
			http_result_release(&r);
			if (code == 200)
				return;
		}
		sleep_ms(50);
	}
	ck_abort_msg("suitd did not become ready; see %s", p->log);
}

int harness_stop(struct suitd_proc *p)
{
	int status;

	if (p->pid <= 0)
		return 0;
	kill(p->pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		pid_t w = waitpid(p->pid, &status, WNOHANG);
		if (w == p->pid) {
			p->pid = 0;
			if (WIFSIGNALED(status)) {
				/* Say which signal and keep the state folder to look at. */
				fprintf(stderr, "suitd died of signal %d at stop; log kept in %s\n",
					WTERMSIG(status), p->log);
				setenv("SUITD_KEEP", "1", 1);
				return -1;
			}
			return WEXITSTATUS(status);
		}
		sleep_ms(50);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	ck_abort_msg("suitd did not stop within 15 s of SIGTERM");
	return -1;
}

void harness_cleanup(struct suitd_proc *p)
{
	char cmd[128];

	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	if (p->db_name[0] && getenv("SUITD_KEEP"))
		fprintf(stderr, "PostgreSQL database %s kept (until the suite ends)\n", p->db_name);
	else if (p->db_name[0] && !p->db_shared)
		pg_database_drop(p);
	if (p->dir[0] && !getenv("SUITD_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", p->dir);
	}
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct http_result *r = userp;
	size_t len = size * n;
	char *grown = realloc(r->body, r->body_len + len + 1);

	if (!grown)
		return 0;
	r->body = grown;
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct http_result *r = userp;
	size_t len = size * n, used = strlen(r->headers);

	if (used + len < sizeof(r->headers)) {
		memcpy(r->headers + used, data, len);
		r->headers[used + len] = '\0';
	}
	return len;
}

void harness_request(struct suitd_proc *p, const char *method, const char *path, const char *key,
		     const char *content_type, const void *body, size_t body_len,
		     struct http_result *r)
{
	char line[256];
	const char *headers[2] = {NULL, NULL};

	if (content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		headers[0] = line;
	}
	harness_request_ex(p, method, path, key, headers, body, body_len, r);
}

void harness_request_ex(struct suitd_proc *p, const char *method, const char *path, const char *key,
			const char *const *headers, const void *body, size_t body_len,
			struct http_result *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], line[1200];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	ck_assert_ptr_nonnull(c);
	snprintf(url, sizeof(url), "%s%s", p->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, p->ca);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (key) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", key);
		h = curl_slist_append(h, line);
	}
	bool expect = false;
	for (unsigned i = 0; headers && headers[i]; i++) {
		h = curl_slist_append(h, headers[i]);
		expect = expect || strncasecmp(headers[i], "Expect:", 7) == 0;
	}
	if (!expect)
		h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -(long)rc;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

void harness_kill9(struct suitd_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

/* ---- SQL on the test's database ---- */

/* Run sql; rows into fn (NULL: none expected). Returns the rows seen, or
 * for a statement without rows the rows it changed. */
static unsigned long long sql_sqlite(const char *db, int flags, const char *sql,
				     void (*fn)(const char *const *, unsigned, void *), void *arg)
{
	const char *cols[16];
	unsigned long long rows = 0;
	sqlite3 *h;
	sqlite3_stmt *st;
	int rc;

	ck_assert_msg(sqlite3_open_v2(db, &h, flags, NULL) == SQLITE_OK, "%s: %s", db,
		      sqlite3_errmsg(h));
	sqlite3_busy_timeout(h, 5000);
	ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(h));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		unsigned n = (unsigned)sqlite3_column_count(st);

		ck_assert_uint_le(n, sizeof(cols) / sizeof(cols[0]));
		for (unsigned i = 0; i < n; i++)
			cols[i] = (const char *)sqlite3_column_text(st, (int)i);
		ck_assert_msg(fn != NULL, "%s: returned rows", sql);
		fn(cols, n, arg);
		rows++;
	}
	ck_assert_msg(rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_column_count(st) == 0)
		rows = (unsigned long long)sqlite3_changes(h);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rows;
}

static unsigned long long sql_pg(struct suitd_proc *p, const char *sql,
				 void (*fn)(const char *const *, unsigned, void *), void *arg)
{
	char url[256];
	const char *cols[16];
	unsigned long long rows;
	PGconn *c;
	PGresult *r;

	pg_admin_url(p->db_name, url, sizeof(url));
	c = PQconnectdb(url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
		      "%s: %s", sql, PQerrorMessage(c));
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		unsigned n = (unsigned)PQnfields(r);

		ck_assert_uint_le(n, sizeof(cols) / sizeof(cols[0]));
		rows = (unsigned long long)PQntuples(r);
		ck_assert_msg(fn != NULL || rows == 0, "%s: returned rows", sql);
		for (int row = 0; row < PQntuples(r); row++) {
			for (unsigned i = 0; i < n; i++)
				cols[i] = PQgetisnull(r, row, (int)i) ? NULL
								      : PQgetvalue(r, row, (int)i);
			fn(cols, n, arg);
		}
	} else {
		rows = strtoull(PQcmdTuples(r), NULL, 10);
	}
	PQclear(r);
	PQfinish(c);
	return rows;
}

static unsigned long long sql_run(struct suitd_proc *p, const char *sql,
				  void (*fn)(const char *const *, unsigned, void *), void *arg)
{
	char db[192];

	if (p->db_name[0])
		return sql_pg(p, sql, fn, arg);
	snprintf(db, sizeof(db), "%s/suitd.db", p->dir);
	return sql_sqlite(db, SQLITE_OPEN_READWRITE, sql, fn, arg);
}

struct first {
	bool seen;
	char text[1024];
};

static void keep_first(const char *const *cols, unsigned n, void *arg)
{
	struct first *f = arg;

	if (f->seen)
		return;
	f->seen = true;
	snprintf(f->text, sizeof(f->text), "%s", n > 0 && cols[0] ? cols[0] : "");
}

long long harness_sql_int(struct suitd_proc *p, const char *sql)
{
	struct first f = {0};
	char *end;
	long long v;

	sql_run(p, sql, keep_first, &f);
	ck_assert_msg(f.seen, "%s: no row", sql);
	/* PostgreSQL's text form of a boolean. */
	if (strcmp(f.text, "t") == 0 || strcmp(f.text, "f") == 0)
		return f.text[0] == 't';
	if (!f.text[0])
		return 0;
	errno = 0;
	v = strtoll(f.text, &end, 10);
	ck_assert_msg(errno == 0 && *end == '\0', "%s: '%s' is not an integer", sql, f.text);
	return v;
}

long long harness_sql_exec(struct suitd_proc *p, const char *sql)
{
	return (long long)sql_run(p, sql, NULL, NULL);
}

void harness_pg_hook(struct suitd_proc *p, const char *table, const char *body)
{
	char sql[1024];
	int n;

	ck_assert(harness_backend_is_pg());
	n = snprintf(sql, sizeof(sql),
		     "CREATE FUNCTION test_hook_%s() RETURNS trigger LANGUAGE plpgsql AS $hook$ "
		     "BEGIN %s RETURN NEW; END $hook$",
		     table, body);
	ck_assert(n > 0 && (size_t)n < sizeof(sql));
	harness_sql_exec(p, sql);
	snprintf(sql, sizeof(sql),
		 "CREATE TRIGGER test_hook BEFORE INSERT ON %s FOR EACH ROW "
		 "EXECUTE FUNCTION test_hook_%s()",
		 table, table);
	harness_sql_exec(p, sql);
}

void harness_pg_hook_drop(struct suitd_proc *p, const char *table)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "DROP TRIGGER test_hook ON %s", table);
	harness_sql_exec(p, sql);
	snprintf(sql, sizeof(sql), "DROP FUNCTION test_hook_%s()", table);
	harness_sql_exec(p, sql);
}

const char *harness_sql_text(struct suitd_proc *p, const char *sql, char *out, size_t size)
{
	struct first f = {0};

	sql_run(p, sql, keep_first, &f);
	ck_assert_msg(f.seen, "%s: no row", sql);
	snprintf(out, size, "%s", f.text);
	return out;
}

unsigned harness_sqlite_file_rows(const char *path, const char *sql,
				  void (*fn)(const char *const *cols, unsigned ncols, void *arg),
				  void *arg)
{
	return (unsigned)sql_sqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, sql, fn, arg);
}

const char *harness_sqlite_file_text(const char *path, const char *sql, char *out, size_t size)
{
	struct first f = {0};

	sql_sqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, sql, keep_first, &f);
	ck_assert_msg(f.seen, "%s: no row", sql);
	snprintf(out, size, "%s", f.text);
	return out;
}

const char *harness_sql_json_text(const char *col, const char *key, char *out, size_t size)
{
	int n = harness_backend_is_pg() ? snprintf(out, size, "((%s)::jsonb ->> '%s')", col, key)
					: snprintf(out, size, "(%s ->> '$.%s')", col, key);

	ck_assert(n > 0 && (size_t)n < size);
	return out;
}

const char *harness_sql_json_int(const char *col, const char *key, char *out, size_t size)
{
	int n = harness_backend_is_pg()
			? snprintf(out, size, "((%s)::jsonb ->> '%s')::bigint", col, key)
			: snprintf(out, size, "json_extract(%s, '$.%s')", col, key);

	ck_assert(n > 0 && (size_t)n < size);
	return out;
}

struct harness_writes {
	struct suitd_proc *p;
	sqlite3 *h; /* SQLite: the connection data_version is about */
	long long mark;
};

static long long writes_mark(struct harness_writes *w)
{
	sqlite3_stmt *st;
	long long v;

	if (!w->h)
		return harness_sql_int(w->p, "SELECT txid_snapshot_xmax(txid_current_snapshot())");
	ck_assert_int_eq(sqlite3_prepare_v2(w->h, "PRAGMA data_version", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

struct harness_writes *harness_writes_watch(struct suitd_proc *p)
{
	struct harness_writes *w = calloc(1, sizeof(*w));
	char db[192];

	ck_assert_ptr_nonnull(w);
	w->p = p;
	if (!p->db_name[0]) {
		snprintf(db, sizeof(db), "%s/suitd.db", p->dir);
		ck_assert_int_eq(sqlite3_open_v2(db, &w->h, SQLITE_OPEN_READWRITE, NULL),
				 SQLITE_OK);
	}
	w->mark = writes_mark(w);
	return w;
}

bool harness_writes_seen(struct harness_writes *w)
{
	bool seen = writes_mark(w) != w->mark;

	sqlite3_close(w->h);
	free(w);
	return seen;
}

void harness_db_intact(struct suitd_proc *p)
{
	if (!p->db_name[0]) {
		ck_assert_int_eq(harness_sql_int(p, "SELECT count(*) FROM pragma_integrity_check "
						    "WHERE integrity_check != 'ok'"),
				 0);
		return;
	}
	/* bt_index_check raises an error (the test fails with it) on a fault. */
	harness_sql_exec(p, "CREATE EXTENSION IF NOT EXISTS amcheck");
	ck_assert_int_gt(harness_sql_int(p, "SELECT count(bt_index_check(c.oid, true)) FROM "
					    "pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
					    "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = "
					    "'btree' AND c.relnamespace = 'public'::regnamespace"),
			 0);
}

unsigned harness_sql_rows(struct suitd_proc *p, const char *sql,
			  void (*fn)(const char *const *cols, unsigned ncols, void *arg), void *arg)
{
	return (unsigned)sql_run(p, sql, fn, arg);
}

unsigned long long harness_metric_of(const struct http_result *r, const char *series)
{
	char want[160];

	snprintf(want, sizeof(want), "\n%s ", series);
	const char *at = r->body ? strstr(r->body, want) : NULL;
	ck_assert_msg(at != NULL, "no %s in /metrics", series);
	return strtoull(at + strlen(want), NULL, 10);
}

unsigned long long harness_metric(struct suitd_proc *p, const char *series)
{
	struct http_result r;
	unsigned long long v;

	harness_request(p, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	v = harness_metric_of(&r, series);
	http_result_release(&r);
	return v;
}

const char *http_header(const struct http_result *r, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	for (const char *l = r->headers; l && *l;
	     l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
			const char *v = l + n + 1;
			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)strcspn(v, "\r\n"), v);
			return out;
		}
	}
	return NULL;
}

void http_result_release(struct http_result *r)
{
	free(r->body);
	r->body = NULL;
}

/* ---- Client certificates and reusable connections ---- */

const char *harness_path(const struct suitd_proc *p, const char *name, const char *ext, char *out,
			 size_t size)
{
	int n = snprintf(out, size, "%s/%s.%s", p->dir, name, ext);

	ck_assert(n > 0 && (size_t)n < size);
	return out;
}

static long next_serial = 1000;

void harness_make_ca(struct suitd_proc *p, const char *name, const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *ca;
	char path[256];

	ck_assert_ptr_nonnull(key);
	ca = make_cert(key, cn, NULL, NULL, true, next_serial++);
	write_pem(harness_path(p, name, "pem", path, sizeof(path)), NULL, ca);
	write_pem(harness_path(p, name, "key", path, sizeof(path)), key, NULL);
	X509_free(ca);
	EVP_PKEY_free(key);
}

void harness_make_cert(struct suitd_proc *p, const char *ca_name, const char *name,
		       const struct harness_cert_opts *o)
{
	static const struct harness_cert_opts defaults = {0};
	EVP_PKEY *key = EVP_EC_gen("P-256"), *ca_key;
	X509 *cert = X509_new(), *ca;
	char path[256];
	FILE *f;

	if (!o)
		o = &defaults;
	ck_assert_ptr_nonnull(key);
	f = fopen(harness_path(p, ca_name, "pem", path, sizeof(path)), "r");
	ck_assert_ptr_nonnull(f);
	ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	f = fopen(harness_path(p, ca_name, "key", path, sizeof(path)), "r");
	ck_assert_ptr_nonnull(f);
	ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(ca);
	ck_assert_ptr_nonnull(ca_key);

	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), next_serial++);
	X509_gmtime_adj(X509_getm_notBefore(cert), o->window ? o->not_before : -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), o->window ? o->not_after : 7 * 86400);
	X509_set_pubkey(cert, key);
	if (o->cn)
		X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
					   (const unsigned char *)o->cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(ca));
	add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE");
	if (!o->key_usage || o->key_usage[0])
		add_ext(cert, ca, NID_key_usage,
			o->key_usage ? o->key_usage : "critical,digitalSignature");
	if (!o->eku || o->eku[0])
		add_ext(cert, ca, NID_ext_key_usage, o->eku ? o->eku : "clientAuth");
	if (o->san)
		add_ext(cert, ca, NID_subject_alt_name, o->san);
	ck_assert(X509_sign(cert, ca_key, EVP_sha256()) > 0);
	write_pem(harness_path(p, name, "pem", path, sizeof(path)), NULL, cert);
	write_pem(harness_path(p, name, "key", path, sizeof(path)), key, NULL);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

struct harness_conn {
	struct suitd_proc *p;
	CURL *curl;
	long connects;
	char cert[256], key[256];
};

struct harness_conn *harness_conn_open(struct suitd_proc *p, const char *cert)
{
	struct harness_conn *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->p = p;
	c->curl = curl_easy_init();
	ck_assert_ptr_nonnull(c->curl);
	if (cert) {
		harness_path(p, cert, "pem", c->cert, sizeof(c->cert));
		harness_path(p, cert, "key", c->key, sizeof(c->key));
	}
	return c;
}

void harness_conn_request(struct harness_conn *c, const char *method, const char *path,
			  const char *key, const char *const *headers, const void *body,
			  size_t body_len, struct http_result *r)
{
	CURL *h = c->curl;
	struct curl_slist *list = NULL;
	char url[512], line[1200];
	bool expect = false;
	long connects = 0;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	/* Options from the previous request are cleared, the connection kept. */
	curl_easy_reset(h);
	snprintf(url, sizeof(url), "%s%s", c->p->url, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, c->p->ca);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->cert[0]) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (key) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", key);
		list = curl_slist_append(list, line);
	}
	for (unsigned i = 0; headers && headers[i]; i++) {
		list = curl_slist_append(list, headers[i]);
		expect = expect || strncasecmp(headers[i], "Expect:", 7) == 0;
	}
	if (!expect)
		list = curl_slist_append(list, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -(long)rc;
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
		c->connects += connects;
	curl_slist_free_all(list);
}

long harness_conn_connects(const struct harness_conn *c)
{
	return c->connects;
}

void harness_conn_close(struct harness_conn *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void harness_request_cert(struct suitd_proc *p, const char *cert, const char *method,
			  const char *path, const char *key, const char *const *headers,
			  const void *body, size_t body_len, struct http_result *r)
{
	struct harness_conn *c = harness_conn_open(p, cert);

	harness_conn_request(c, method, path, key, headers, body, body_len, r);
	harness_conn_close(c);
}
