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
/* One integer from SQL run on the daemon's database file. */
long long harness_sql_int(struct suitd_proc *p, const char *sql);
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
