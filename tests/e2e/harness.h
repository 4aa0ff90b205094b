/* End-to-end harness: start the real build/suitd binary with a temporary
 * state folder, config and test CA on a free loopback port, talk to it over
 * real TLS with libcurl, stop it with SIGTERM. Reused by every e2e suite. */
#ifndef SUITD_TESTS_HARNESS_H
#define SUITD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct suitd_proc {
	pid_t pid;
	char dir[64];	/* temporary state folder */
	char conf[128]; /* config file */
	char ca[128];	/* test CA certificate (trust anchor for curl) */
	char log[128];	/* the daemon's stderr */
	char url[128];	/* https://127.0.0.1:PORT once started */
	char admin_key[96];
	char db_name[32]; /* PostgreSQL: the test's database ("" on SQLite) */
	char db_url[192]; /* PostgreSQL: its libpq URL (role suitd, password file) */
	bool db_shared;	  /* another node's database: not dropped with this one */
};

struct http_result {
	long status;
	char *body;
	size_t body_len;
	char headers[8192];
};

/* Temp folder, test CA and server certificate, config (extra lines are
 * appended verbatim, e.g. "[log]\nlevel = debug\n"). */
void harness_setup(struct suitd_proc *p, const char *extra_conf);
/* Rewrite the config file (same folder and certificates). */
void harness_write_config(struct suitd_proc *p, const char *extra_conf);
/* Create an admin key with the CLI into p->admin_key. */
void harness_admin_key(struct suitd_proc *p);
/* Run `suitd -c CONF args...` (NULL-terminated) and return its exit code;
 * stdout into out (may be NULL), stderr appended to the log file. */
int harness_cli(struct suitd_proc *p, char *out, size_t out_size, ...);
/* Start the daemon and wait until /readyz answers 200. */
void harness_start(struct suitd_proc *p);
/* SIGTERM and wait; returns the exit status (-1 if killed by a signal). */
int harness_stop(struct suitd_proc *p);
void harness_cleanup(struct suitd_proc *p);
/* True when the daemon's log contains text. */
bool harness_log_contains(struct suitd_proc *p, const char *text);

/* One request over TLS verified against the test CA. key may be NULL. */
void harness_request(struct suitd_proc *p, const char *method, const char *path, const char *key,
		     const char *content_type, const void *body, size_t body_len,
		     struct http_result *r);
/* The same with extra request headers (NULL-terminated list of "Name: value"). */
void harness_request_ex(struct suitd_proc *p, const char *method, const char *path, const char *key,
			const char *const *headers, const void *body, size_t body_len,
			struct http_result *r);
/* SIGKILL the daemon (crash simulation) and reap it. */
void harness_kill9(struct suitd_proc *p);
/* ---- Several nodes on one database (issue 22; PostgreSQL only) ----
 * Another node of first's database: a folder, certificates and port of its
 * own, first's config file (its relative paths are the node's own files)
 * and admin key. The database goes with first. Start it with
 * harness_start. */
void harness_setup_node(struct suitd_proc *p, const struct suitd_proc *first);
/* Restart the suite's PostgreSQL server at once (-m immediate: as after a
 * crash of the server; tests/pg/pg_tmp.sh restart) and wait until it
 * accepts connections again. */
void harness_pg_restart(void);
/* Take the suite's PostgreSQL server down (-m immediate) for seconds, then
 * start it again, in the background: returns at once. */
void harness_pg_outage(unsigned seconds);
/* ---- The backend (issue 21) ----
 * SUITD_TEST_BACKEND=postgresql runs a suite on PostgreSQL: the process
 * starts one throwaway server before main (tests/pg/pg_tmp.c; Check forks
 * every test from that process, so they all share it) and stops it at exit;
 * every harness_setup creates a database of its own on it. Unset or
 * "sqlite": the SQLite file DIR/suitd.db, as always. */
bool harness_backend_is_pg(void);
/* The [storage] section for p's config: SQLite's file, or the URL and
 * password file of p's PostgreSQL database. For tests that write a config
 * of their own. */
const char *harness_storage_conf(const struct suitd_proc *p, char *out, size_t size);
/* A test that is about SQLite itself (its file, WAL, PRAGMAs, `suitd
 * backup` of the file): registered on SQLite; on PostgreSQL it is not
 * registered (so it is not counted as a pass) and a SKIP line with the
 * reason is printed. docs/design.md lists every such test. */
#define harness_sqlite_only(tc, fn, reason)           \
	do {                                          \
		if (!harness_skip_on_pg(#fn, reason)) \
			tcase_add_test(tc, fn);       \
	} while (0)
bool harness_skip_on_pg(const char *test, const char *reason);
/* The converse: a test of PostgreSQL itself (its SQLSTATEs, TOAST, its
 * password file) is registered on PostgreSQL only; on SQLite a SKIP line
 * with the reason is printed. */
#define harness_pg_only(tc, fn, reason)                   \
	do {                                              \
		if (!harness_skip_on_sqlite(#fn, reason)) \
			tcase_add_test(tc, fn);           \
	} while (0)
bool harness_skip_on_sqlite(const char *test, const char *reason);
/* PostgreSQL only: a test-only BEFORE INSERT trigger on TABLE of p's
 * database running the plpgsql statements BODY for every row (NEW is the
 * row), e.g. a RAISE of the SQLSTATE a full disk gives, or a pg_sleep
 * longer than the statement_timeout; harness_pg_hook_drop removes it. */
void harness_pg_hook(struct suitd_proc *p, const char *table, const char *body);
void harness_pg_hook_drop(struct suitd_proc *p, const char *table);
/* PostgreSQL only: a new empty database (no schema: what a restore goes
 * into) as p's, into p->db_name and p->db_url; harness_cleanup drops it.
 * A database p had is left to whoever holds a copy of p. */
void harness_pg_database_empty(struct suitd_proc *p);
/* PostgreSQL only: run the server installation's client program NAME
 * (pg_dump, pg_restore) with ARGS (NULL-terminated) as the role suitd with
 * its password; returns its exit code, its output goes to p's log. */
int harness_pg_client(struct suitd_proc *p, const char *name, ...);

/* SQL on the daemon's database (the file, or the test's PostgreSQL database
 * over libpq as the superuser). The text must be valid in both dialects, or
 * chosen by the caller with harness_backend_is_pg(). */
/* One integer: column 0 of row 0 (NULL is 0, PostgreSQL's t/f are 1/0). */
long long harness_sql_int(struct suitd_proc *p, const char *sql);
/* A statement without result rows; returns the rows it changed. */
long long harness_sql_exec(struct suitd_proc *p, const char *sql);
/* Column 0 of row 0 as text into out ("" for NULL); the test fails without a row. */
const char *harness_sql_text(struct suitd_proc *p, const char *sql, char *out, size_t size);
/* SQL on another SQLite file (a backup, a file to restore), for the
 * SQLite-only tests: column 0 of row 0 as text, as harness_sql_text. */
const char *harness_sqlite_file_text(const char *path, const char *sql, char *out, size_t size);
/* Every row, as harness_sql_rows (fn NULL: a statement without rows). */
unsigned harness_sqlite_file_rows(const char *path, const char *sql,
				  void (*fn)(const char *const *cols, unsigned ncols, void *arg),
				  void *arg);
/* Has any write been committed to p's database since harness_writes_watch?
 * SQLite: PRAGMA data_version of a connection the watch keeps open;
 * PostgreSQL: the next transaction id (only a writing transaction takes
 * one; the test server runs without autovacuum). _seen ends the watch. */
struct harness_writes;
struct harness_writes *harness_writes_watch(struct suitd_proc *p);
bool harness_writes_seen(struct harness_writes *w);
/* The database is sound, or the test fails: SQLite's PRAGMA
 * integrity_check; on PostgreSQL amcheck's bt_index_check (heapallindexed)
 * on every B-tree index of the schema, i.e. the indexes and the rows agree. */
void harness_db_intact(struct suitd_proc *p);
/* SQL for member KEY of the JSON text in column COL, into out: as text
 * (COL ->> '$.KEY' on SQLite, COL::jsonb ->> 'KEY' on PostgreSQL; NULL when
 * absent), or as an integer (json_extract / a bigint cast). */
const char *harness_sql_json_text(const char *col, const char *key, char *out, size_t size);
const char *harness_sql_json_int(const char *col, const char *key, char *out, size_t size);
/* Every row in order: fn gets the columns as text (NULL for SQL NULL).
 * Returns the number of rows. */
unsigned harness_sql_rows(struct suitd_proc *p, const char *sql,
			  void (*fn)(const char *const *cols, unsigned ncols, void *arg),
			  void *arg);
/* A sample of GET /metrics: SERIES is the name with its labels, if any
 * (suitd_x_total{by="y"}); the test fails when it is missing. */
unsigned long long harness_metric(struct suitd_proc *p, const char *series);
/* The same sample from a /metrics response already read. */
unsigned long long harness_metric_of(const struct http_result *r, const char *series);

/* Value of a response header (case-insensitive name), or NULL. */
const char *http_header(const struct http_result *r, const char *name, char *out, size_t size);
void http_result_release(struct http_result *r);

/* ---- Client certificates (test-only PKI, generated per run) ---- */

/* What a device certificate holds. Zeroed fields take the defaults. */
struct harness_cert_opts {
	const char *cn;	       /* subject CN; NULL = no CN */
	const char *san;       /* subjectAltName, OpenSSL syntax ("URI:urn:x,DNS:y"); NULL = none */
	const char *eku;       /* extendedKeyUsage; NULL = "clientAuth", "" = none */
	const char *key_usage; /* keyUsage; NULL = "critical,digitalSignature", "" = none */
	bool window;	       /* use not_before/not_after (else one hour ago .. in 7 days) */
	long not_before;       /* seconds from now (negative: in the past) */
	long not_after;
};

/* A CA (P-256, self-signed, CN cn) as DIR/NAME.pem and DIR/NAME.key. */
void harness_make_ca(struct suitd_proc *p, const char *name, const char *cn);
/* A certificate issued by the CA named ca (from harness_make_ca), as
 * DIR/NAME.pem and DIR/NAME.key. */
void harness_make_cert(struct suitd_proc *p, const char *ca, const char *name,
		       const struct harness_cert_opts *o);
/* DIR/NAME.EXT into out. */
const char *harness_path(const struct suitd_proc *p, const char *name, const char *ext, char *out,
			 size_t size);

/* A connection: one CURL handle, so requests reuse one TLS connection
 * (keep-alive) while the server keeps it. cert names a certificate from
 * harness_make_cert presented as the client certificate (NULL = none). */
struct harness_conn;
struct harness_conn *harness_conn_open(struct suitd_proc *p, const char *cert);
void harness_conn_request(struct harness_conn *c, const char *method, const char *path,
			  const char *key, const char *const *headers, const void *body,
			  size_t body_len, struct http_result *r);
/* TLS connections opened by this handle so far. */
long harness_conn_connects(const struct harness_conn *c);
void harness_conn_close(struct harness_conn *c);
/* One request on a new connection presenting certificate cert (NULL = none). */
void harness_request_cert(struct suitd_proc *p, const char *cert, const char *method,
			  const char *path, const char *key, const char *const *headers,
			  const void *body, size_t body_len, struct http_result *r);

#endif
