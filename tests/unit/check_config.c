/* config/: every error path names file line and key; defaults; paths; and
 * the checks of the files the keys name (check-config and start). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config/config.h"
#include "server/commands.h"

#include "tests/check_run.h"

static char path[256];

static const char *write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/suitd-check-config-%ld.conf", (long)getpid());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	/* Readable by others whatever the umask (the url password check). */
	chmod(path, 0644);
	return path;
}

START_TEST(test_defaults)
{
	struct config *c = NULL;
	struct diag d = {0};

	ck_assert_int_eq(config_load(write_conf("# empty\n"), &c, &d), ERR_OK);
	ck_assert_str_eq(c->server.listen_host, "127.0.0.1");
	ck_assert_uint_eq(c->server.listen_port, 8443);
	ck_assert(c->server.tls);
	ck_assert(!c->server.tls_self_signed);
	ck_assert_uint_eq(c->server.connection_limit, 1024);
	ck_assert_uint_eq(c->server.connection_timeout, 30);
	ck_assert_uint_eq(c->server.per_address_limit, 64);
	ck_assert_uint_eq(c->server.handshake_timeout, 10);
	ck_assert_uint_eq(c->server.max_body, 1024 * 1024);
	ck_assert_str_eq(c->storage.database, "/var/lib/suitd/suitd.db");
	ck_assert_int_eq(c->storage.synchronous, CONFIG_SYNC_FULL);
	ck_assert_int_eq(c->log.level, LOG_LEVEL_INFO);
	config_free(c);
	unlink(path);
}
END_TEST

START_TEST(test_values_and_units)
{
	struct config *c = NULL;
	struct diag d = {0};

	ck_assert_int_eq(
		config_load(write_conf("[server]\nlisten = [::1]:0\nthreads = 4\n"
				       "tls = off\nmax_body = 64K\nconnection_timeout = 2m\n"
				       "[storage]\ndatabase = state/x.db\nsynchronous = normal\n"
				       "[log]\nlevel = debug\n"),
			    &c, &d),
		ERR_OK);
	ck_assert_str_eq(c->server.listen_host, "::1");
	ck_assert_uint_eq(c->server.listen_port, 0);
	ck_assert_uint_eq(c->server.threads, 4);
	ck_assert(!c->server.tls);
	ck_assert_uint_eq(c->server.max_body, 65536);
	ck_assert_uint_eq(c->server.connection_timeout, 120);
	/* Relative paths are taken from the config file's folder. */
	ck_assert_str_eq(c->storage.database, "/tmp/state/x.db");
	ck_assert_int_eq(c->storage.synchronous, CONFIG_SYNC_NORMAL);
	ck_assert_int_eq(c->log.level, LOG_LEVEL_DEBUG);
	config_free(c);
	unlink(path);
}
END_TEST

/* Each bad file must fail on the given line naming the given key, with a
 * reason containing `why`. */
static const struct bad_case {
	const char *text;
	unsigned line;
	const char *field;
	const char *why;
} bad_cases[] = {
	{"[nosuch]\nkey = 1\n", 2, "nosuch", "unknown section [nosuch]"},
	{"[server]\nlisten = 1.2.3.4:1\nfoo = 1\n", 3, "server.foo", "unknown key"},
	{"[server]\nthreads = 1\nthreads = 2\n", 3, "server.threads", "duplicate key"},
	{"[server]\ntls = maybe\n", 2, "server.tls", "is not on or off"},
	{"[server]\nthreads = many\n", 2, "server.threads", "is not a whole number"},
	{"[server]\nthreads = -1\n", 2, "server.threads", "is not a whole number"},
	{"[server]\nthreads = 1000\n", 2, "server.threads", "out of range 0..256"},
	{"[server]\nconnection_limit = 0\n", 2, "server.connection_limit", "out of range"},
	{"[server]\nconnection_timeout = 2d\n", 2, "server.connection_timeout", "not a duration"},
	{"[server]\nconnection_timeout = 2h\n", 2, "server.connection_timeout", "out of range"},
	{"[server]\nmax_body = 10P\n", 2, "server.max_body", "is not a size"},
	{"[server]\nmax_body = 1\n", 2, "server.max_body", "out of range"},
	{"[server]\nmax_body = 99999999999999999999\n", 2, "server.max_body", "is not a size"},
	{"[server]\nlisten = localhost\n", 2, "server.listen", "HOST:PORT"},
	{"[server]\nlisten = host:99999\n", 2, "server.listen", "HOST:PORT"},
	{"[server]\nlisten = ::1:80\n", 2, "server.listen", "HOST:PORT"},
	{"[server]\nlisten = :80\n", 2, "server.listen", "HOST:PORT"},
	{"[server]\nper_address_connection_limit = 70000\n", 2,
	 "server.per_address_connection_limit", "out of range 0..65536"},
	{"[server]\nhandshake_timeout = 0\n", 2, "server.handshake_timeout", "out of range 1..300"},
	/* Where devices fetch payloads from: an absolute https URL (issue 23). */
	{"[server]\npublic_url = firmware.example.com\n", 2, "server.public_url",
	 "is not an absolute URL"},
	{"[server]\npublic_url = /device\n", 2, "server.public_url", "is not an absolute URL"},
	{"[server]\ntls = off\npublic_url = ftp://firmware.example.com\n", 3, "server.public_url",
	 "is not an absolute URL"},
	{"[server]\n\npublic_url = http://firmware.example.com\n", 3, "server.public_url",
	 "plain http:// while [server] tls = on"},
	{"[server]\npublic_url = https://\n", 2, "server.public_url", "has no host"},
	{"[server]\npublic_url = https:///device\n", 2, "server.public_url", "has no host"},
	{"[server]\npublic_url = https://*:8443\n", 2, "server.public_url", "has no host"},
	{"[server]\npublic_url = https://user:pw@fw.example.com\n", 2, "server.public_url",
	 "user name"},
	{"[server]\npublic_url = https://fw.example.com/?a=1\n", 2, "server.public_url",
	 "query or fragment"},
	{"[server]\npublic_url = https://fw.example.com/a b\n", 2, "server.public_url",
	 "space or control"},
	/* Listening on every address names no host for the payload URIs. */
	{"[server]\nlisten = *:8443\n", 2, "server.listen", "needs [server] public_url"},
	{"[server]\nthreads = 1\nlisten = 0.0.0.0:8443\n", 3, "server.listen",
	 "needs [server] public_url"},
	{"[server]\nlisten = [::]:8443\n", 2, "server.listen", "needs [server] public_url"},
	{"[storage]\nsynchronous = off\n", 2, "storage.synchronous", "is not normal, full"},
	/* PostgreSQL (issue 21): a url, without a password others can read
	 * (the test's file is 0644). */
	{"[storage]\nbackend = mysql\n", 2, "storage.backend", "is not sqlite, postgresql"},
	{"[storage]\nbackend = postgresql\n", 2, "storage.backend",
	 "postgresql needs [storage] url"},
	{"[storage]\nbackend = postgresql\nurl = postgresql://suitd:s3cret@db/suitd\n", 3,
	 "storage.url", "holds a password while the file is readable"},
	{"[storage]\nbackend = postgresql\nurl = host=db password=s3cret\n", 3, "storage.url",
	 "password_file"},
	{"[storage]\npool_size = 20000\n", 2, "storage.pool_size", "out of range 0..10000"},
	{"[devices]\nauth = password\n", 2, "devices.auth", "is not certificate, token"},
	{"[devices]\ndefault_group = a b\n", 2, "devices.default_group", "is not up to 128"},
	{"[devices]\nauth = ,\n", 2, "devices.auth", "one or more"},
	{"[devices]\nidentity = serial\n", 2, "devices.identity", "is not cn, san-uri, san-dns"},
	/* A missing key: at the line of the key that needs it. */
	{"[devices]\nauth = certificate, token\n", 2, "devices.auth", "needs [devices] client_ca"},
	{"[devices]\nidentity = cn\n\nauth = certificate\n", 4, "devices.auth",
	 "[devices] auth: certificate needs [devices] client_ca"},
	{"[log]\nlevel = loud\n", 2, "log.level", "err, warning"},
	{"\n\n[log\n", 3, "", "syntax error"},
	{"[log]\nlevel\n", 2, "", "syntax error"},
	{"key = 1\n", 1, "", "unknown section []"},
	/* An indented line is a line of its own, with its own errors. */
	{"[server]\nthreads = 1\n  nosuch = 1\n", 3, "server.nosuch", "unknown key"},
	{"[server]\nthreads = 1\n\ttls = maybe\n", 3, "server.tls", "is not on or off"},
	{"[server]\nthreads = 1\n  threads = 2\n", 3, "server.threads", "duplicate key"},
	{"[log]\nlevel = info\n  [nosuch]\n  x = 1\n", 4, "nosuch", "unknown section [nosuch]"},
};

START_TEST(test_bad)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct config *c = NULL;
	struct diag d = {0};

	ck_assert_int_eq(config_load(write_conf(bc->text), &c, &d), ERR_CONFIG);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(d.offset, bc->line);
	if (bc->field[0])
		ck_assert_str_eq(d.field, bc->field);
	ck_assert_msg(strstr(d.text, bc->why), "'%s' lacks '%s'", d.text, bc->why);
	unlink(path);
}
END_TEST

/* Operators indent INI files. libinih, built with INI_ALLOW_MULTILINE, read
 * an indented line as more of the previous key's value: "  tls = off" after
 * "threads = 1" was "duplicate key", and after a trust_anchor it became a
 * second trust anchor named "hmac_key = ...". Indentation is now dropped. */
START_TEST(test_indented)
{
	struct config *c = NULL;
	struct diag d = {0};

	ck_assert_msg(config_load(write_conf("[server]\nthreads = 1\n  tls = off\n"
					     "\tconnection_limit = 5\n \t max_body = 2K\n"
					     "  # an indented comment\n"
					     "  [log]\n    level = debug\n"),
				  &c, &d) == ERR_OK,
		      "line %zu: %s", d.offset, d.text);
	ck_assert_uint_eq(c->server.threads, 1);
	ck_assert(!c->server.tls);
	ck_assert_uint_eq(c->server.connection_limit, 5);
	ck_assert_uint_eq(c->server.max_body, 2048);
	ck_assert_int_eq(c->log.level, LOG_LEVEL_DEBUG);
	ck_assert_uint_eq(config_key_line(c, "server", "tls", 0), 3);
	ck_assert_uint_eq(config_key_line(c, "log", "level", 0), 8);
	config_free(c);

	ck_assert_int_eq(config_load(write_conf("[manifests]\ntrust_anchor = a.pem\n"
						"  hmac_key = k.bin\n  trust_anchor = b.pem\n"),
				     &c, &d),
			 ERR_OK);
	ck_assert_uint_eq(c->manifests.trust_anchors.count, 2);
	ck_assert_str_eq(c->manifests.trust_anchors.items[0], "/tmp/a.pem");
	ck_assert_str_eq(c->manifests.trust_anchors.items[1], "/tmp/b.pem");
	ck_assert_uint_eq(c->manifests.hmac_keys.count, 1);
	ck_assert_str_eq(c->manifests.hmac_keys.items[0], "/tmp/k.bin");
	config_free(c);
	unlink(path);
}
END_TEST

/* Where each key was set: its line, each value of a repeatable key its own,
 * 0 for a key with its default. */
START_TEST(test_key_lines)
{
	struct config *c = NULL;
	struct diag d = {0};

	ck_assert_int_eq(config_load(write_conf("# lines\n[server]\nthreads = 2\n\n"
						"[manifests]\ntrust_anchor = a.pem\n"
						"require_signature = off\ntrust_anchor = b.pem\n"),
				     &c, &d),
			 ERR_OK);
	ck_assert_uint_eq(config_key_line(c, "server", "threads", 0), 3);
	ck_assert_uint_eq(config_key_line(c, "server", "listen", 0), 0);
	ck_assert_uint_eq(config_key_line(c, "manifests", "trust_anchor", 0), 6);
	ck_assert_uint_eq(config_key_line(c, "manifests", "trust_anchor", 1), 8);
	ck_assert_uint_eq(config_key_line(c, "manifests", "trust_anchor", 2), 0);
	ck_assert_uint_eq(config_key_line(c, "manifests", "hmac_key", 0), 0);
	ck_assert_uint_eq(config_key_line(c, "manifests", "require_signature", 0), 7);
	ck_assert_uint_eq(config_key_line(c, "nosuch", "threads", 0), 0);

	/* An error found after loading, as the loader words its own. */
	diag_set(&d, ERR_IO, "x", "'%s' is broken", "a.pem");
	ck_assert_int_eq(config_diag_key(c, &d, "manifests", "trust_anchor", 1), ERR_CONFIG);
	ck_assert_uint_eq(d.offset, 8);
	ck_assert_str_eq(d.field, "manifests.trust_anchor");
	ck_assert_str_eq(d.text, "[manifests] trust_anchor: 'a.pem' is broken");

	char out[256];
	config_diag_format("/etc/suitd/suitd.conf", &d, out, sizeof(out));
	ck_assert_str_eq(out,
			 "/etc/suitd/suitd.conf:8: [manifests] trust_anchor: 'a.pem' is broken");
	/* A key with its default that no other key in the file calls for. */
	diag_set(&d, ERR_IO, "", "cannot create 'x'");
	config_diag_key(c, &d, "storage", "database", 0);
	ck_assert_uint_eq(d.offset, 0);
	config_diag_format("/etc/suitd/suitd.conf", &d, out, sizeof(out));
	ck_assert_str_eq(out,
			 "/etc/suitd/suitd.conf: [storage] database (default): cannot create 'x'");
	config_free(c);
	unlink(path);
}
END_TEST

START_TEST(test_long_line)
{
	char text[400] = "[storage]\ndatabase = /";
	struct config *c = NULL;
	struct diag d = {0};

	memset(text + strlen(text), 'a', 300);
	text[strlen("[storage]\ndatabase = /") + 300] = '\0';
	ck_assert_int_eq(config_load(write_conf(text), &c, &d), ERR_CONFIG);
	ck_assert_uint_eq(d.offset, 2);
	ck_assert_ptr_nonnull(strstr(d.text, "line longer than"));
	unlink(path);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config *c = NULL;
	struct diag d = {0};

	ck_assert_int_eq(config_load("/nonexistent/suitd.conf", &c, &d), ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(d.text, "cannot open"));
	ck_assert_int_eq(config_load("/tmp", &c, &d), ERR_CONFIG);
}
END_TEST

START_TEST(test_diff)
{
	struct config *a = NULL, *b = NULL;
	struct diag d = {0};
	char out[256];

	ck_assert_int_eq(config_load(write_conf("[server]\nthreads = 1\n"), &a, &d), ERR_OK);
	ck_assert_int_eq(
		config_load(write_conf("[server]\nthreads = 2\n[log]\nlevel = err\n"), &b, &d),
		ERR_OK);
	ck_assert_uint_eq(config_diff(a, b, out, sizeof(out)), 2);
	ck_assert_str_eq(out, "[server] threads, [log] level");
	ck_assert_uint_eq(config_diff(a, a, out, sizeof(out)), 0);
	config_free(a);
	config_free(b);
	unlink(path);
}
END_TEST

START_TEST(test_public_url_accepted)
{
	static const char *const ok[] = {
		"[server]\npublic_url = https://fw.example.com\n",
		"[server]\npublic_url = https://fw.example.com:8443/suitd/\n",
		"[server]\npublic_url = https://[2001:db8::1]:8443\n",
		"[server]\nlisten = *:8443\npublic_url = https://fw.example.com:8443\n",
		"[server]\nlisten = [::]:8443\npublic_url = https://fw.example.com:8443\n",
		/* Plain HTTP only where suitd itself serves plain HTTP. */
		"[server]\ntls = off\npublic_url = http://fw.example.com\n",
		"[server]\ntls = off\npublic_url = https://proxy.example.com\n",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct config *c = NULL;
		struct diag d = {0};
		ck_assert_msg(config_load(write_conf(ok[i]), &c, &d) == ERR_OK, "%s: %s", ok[i],
			      d.text);
		config_free(c);
	}
	unlink(path);
}
END_TEST

/* ---- [devices] client_ca: CA certificates only (issue 23) ---- */

/* This run's keys and certificates, made with OpenSSL in a temp folder. */
static char pki[64];

static X509 *test_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
		       const char *basic_constraints)
{
	X509 *cert = X509_new();
	X509V3_CTX ctx;

	ck_assert_ptr_nonnull(cert);
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), issuer ? 2 : 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert));
	if (basic_constraints) {
		X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
		X509_EXTENSION *ext =
			X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, basic_constraints);
		ck_assert_ptr_nonnull(ext);
		X509_add_ext(cert, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ck_assert(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return cert;
}

/* PKI/NAME.pem holding, in order, the PEM blocks of certs and key. */
static void pem_file(const char *name, X509 *const *certs, size_t n, EVP_PKEY *key)
{
	char file[128];
	FILE *f;

	snprintf(file, sizeof(file), "%s/%s.pem", pki, name);
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++)
		ck_assert(PEM_write_X509(f, certs[i]));
	if (key)
		ck_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
}

static void pki_setup(void)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *leaf_key = EVP_EC_gen("P-256");
	X509 *ca, *leaf, *plain;

	snprintf(pki, sizeof(pki), "/tmp/suitd-check-config-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(pki));
	ck_assert(ca_key && leaf_key);
	ca = test_cert(ca_key, "device CA", NULL, NULL, "critical,CA:TRUE");
	leaf = test_cert(leaf_key, "device-1", ca, ca_key, "CA:FALSE");
	plain = test_cert(leaf_key, "no basic constraints", NULL, NULL, NULL);
	pem_file("ca", &ca, 1, NULL);
	pem_file("leaf", &leaf, 1, NULL);
	pem_file("plain", &plain, 1, NULL);
	pem_file("key", NULL, 0, ca_key);
	pem_file("ca-and-key", &ca, 1, ca_key);
	pem_file("ca-and-leaf", (X509 *const[]){ca, leaf}, 2, NULL);
	pem_file("empty", NULL, 0, NULL);
	/* For the file checks: leaf.pem's key, an expired certificate of it,
	 * a public key, HMAC keys of 32 and 31 bytes. */
	pem_file("leaf-key", NULL, 0, leaf_key);
	X509_gmtime_adj(X509_getm_notBefore(plain), -7200);
	X509_gmtime_adj(X509_getm_notAfter(plain), -3600);
	ck_assert(X509_sign(plain, leaf_key, EVP_sha256()) > 0);
	pem_file("expired", &plain, 1, NULL);
	char file[128];
	snprintf(file, sizeof(file), "%s/pub.pem", pki);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert(PEM_write_PUBKEY(f, ca_key));
	fclose(f);
	static const unsigned char secret[32] = {1, 2, 3};
	snprintf(file, sizeof(file), "%s/hmac32.bin", pki);
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(secret, 1, 32, f), 32);
	fclose(f);
	snprintf(file, sizeof(file), "%s/hmac31.bin", pki);
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(secret, 1, 31, f), 31);
	fclose(f);
	X509_free(ca);
	X509_free(leaf);
	X509_free(plain);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
}

static void pki_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
	ck_assert_int_eq(system(cmd), 0);
}

static const struct ca_case {
	const char *auth, *file;
	const char *why; /* NULL: loads */
} ca_cases[] = {
	{"certificate", "ca", NULL},
	{"certificate", "leaf", "certificate 1 is not a CA certificate"},
	{"certificate", "plain", "certificate 1 is not a CA certificate"},
	{"certificate", "ca-and-leaf", "certificate 2 is not a CA certificate"},
	{"certificate", "key", "holds a private key"},
	{"certificate", "ca-and-key", "holds a private key"},
	{"certificate", "empty", "holds no PEM certificate"},
	{"certificate", "missing", "cannot open"},
	/* Not used while auth is token, but a key there is still a secret in
	 * the wrong place. */
	{"token", "key", "holds a private key"},
};

START_TEST(test_client_ca)
{
	const struct ca_case *cc = &ca_cases[_i];
	struct config *c = NULL;
	struct diag d = {0};
	char text[256];

	snprintf(text, sizeof(text), "[devices]\nauth = %s\nclient_ca = %s/%s.pem\n", cc->auth, pki,
		 cc->file);
	if (!cc->why) {
		ck_assert_msg(config_load(write_conf(text), &c, &d) == ERR_OK, "%s: %s", cc->file,
			      d.text);
		config_free(c);
		unlink(path);
		return;
	}
	ck_assert_msg(config_load(write_conf(text), &c, &d) == ERR_CONFIG, "%s loaded", cc->file);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(d.offset, 3);
	ck_assert_str_eq(d.field, "devices.client_ca");
	ck_assert_msg(strstr(d.text, cc->why), "'%s' lacks '%s'", d.text, cc->why);
	unlink(path);
}
END_TEST

/* ---- The files the keys name: check-config and start ---- */

/* Each text (PKI in it stands for this run's folder) loads, and then the
 * file checks fail at this line, naming this key, with why in the text.
 * Every case has a database in the folder, so that only the case's own
 * error can fail. Cases with why NULL pass. */
static const struct file_case {
	const char *text;
	unsigned line;
	const char *field, *why;
} file_cases[] = {
	{"[server]\ntls_cert = PKI/leaf.pem\ntls_key = PKI/leaf-key.pem\n", 0, NULL, NULL},
	{"[server]\ntls = off\n[manifests]\ntrust_anchor = PKI/pub.pem\nhmac_key = "
	 "PKI/hmac32.bin\n",
	 0, NULL, NULL},
	/* tls_key and tls_cert, each set. */
	{"[server]\ntls_cert = PKI/leaf.pem\n\ntls_key = PKI/key.pem\n", 4, "server.tls_key",
	 "[server] tls_key: '"},
	{"[server]\ntls_cert = PKI/leaf.pem\n\ntls_key = PKI/key.pem\n", 4, "server.tls_key",
	 "/key.pem' is not the key of '"},
	{"[server]\ntls_key = PKI/leaf-key.pem\ntls_cert = PKI/leaf-key.pem\n", 3,
	 "server.tls_cert", "holds no PEM certificate"},
	{"[server]\ntls_cert = PKI/leaf.pem\ntls_key = PKI/leaf.pem\n", 3, "server.tls_key",
	 "holds no unencrypted PEM private key"},
	{"[server]\ntls_cert = PKI/missing.pem\ntls_key = PKI/leaf-key.pem\n", 2, "server.tls_cert",
	 "[server] tls_cert: cannot open"},
	/* Was reported as tls_cert. */
	{"[server]\ntls_cert = PKI/leaf.pem\ntls_key = PKI/missing.key\n", 3, "server.tls_key",
	 "[server] tls_key: cannot open"},
	{"[server]\ntls_key = PKI/leaf-key.pem\n\ntls_cert = PKI/expired.pem\n", 4,
	 "server.tls_cert", "has expired"},
	/* One of the pair has its default: the line of the other. */
	{"[server]\n\ntls_cert = PKI/leaf.pem\n", 3, "server.tls_key",
	 "[server] tls_key (default): cannot open '/var/lib/suitd/tls/key.pem'"},
	{"[server]\ntls = on\n", 2, "server.tls_cert",
	 "[server] tls_cert (default): cannot open '/var/lib/suitd/tls/cert.pem'"},
	/* A trust anchor or HMAC key that does not load: the line of that one. */
	{"[server]\ntls = off\n[manifests]\ntrust_anchor = PKI/pub.pem\n\ntrust_anchor = "
	 "PKI/key.pem\n",
	 6, "manifests.trust_anchor", "/key.pem' holds no PEM public key or certificate"},
	{"[server]\ntls = off\n[manifests]\ntrust_anchor = PKI/missing.pem\n", 4,
	 "manifests.trust_anchor", "[manifests] trust_anchor: cannot open"},
	{"[server]\ntls = off\n[manifests]\nhmac_key = PKI/hmac32.bin\ntrust_anchor = "
	 "PKI/pub.pem\nhmac_key = PKI/hmac31.bin\n",
	 6, "manifests.hmac_key", "must hold exactly 32 raw bytes"},
	{"[server]\ntls = off\n[storage]\ndatabase = /nonexistent/suitd.db\n", 4,
	 "storage.database", "[storage] database: cannot create '/nonexistent/suitd.db'"},
};

/* text with PKI replaced by the folder, and a [storage] database in it
 * unless the text has a [storage] section. */
static void file_case_text(const char *text, char *out, size_t size)
{
	size_t used = 0;

	for (const char *p = text; *p && used + 64 < size;) {
		if (strncmp(p, "PKI", 3) == 0) {
			used += (size_t)snprintf(out + used, size - used, "%s", pki);
			p += 3;
		} else {
			out[used++] = *p++;
		}
	}
	out[used] = '\0';
	if (!strstr(text, "[storage]"))
		snprintf(out + used, size - used, "[storage]\ndatabase = %s/suitd.db\n", pki);
}

START_TEST(test_files)
{
	const struct file_case *fc = &file_cases[_i];
	struct config *c = NULL;
	struct diag d = {0};
	char text[1024];

	file_case_text(fc->text, text, sizeof(text));
	ck_assert_msg(config_load(write_conf(text), &c, &d) == ERR_OK, "%s: %s", text, d.text);
	if (!fc->why) {
		ck_assert_msg(command_config_files(c, &d) == ERR_OK, "%s: %s", text, d.text);
	} else {
		ck_assert_msg(command_config_files(c, &d) == ERR_CONFIG, "%s: passed", text);
		ck_assert_msg(d.offset == fc->line, "%s: line %zu, want %u (%s)", text, d.offset,
			      fc->line, d.text);
		ck_assert_str_eq(d.field, fc->field);
		ck_assert_msg(strstr(d.text, fc->why), "'%s' lacks '%s'", d.text, fc->why);
	}
	config_free(c);
	unlink(path);
}
END_TEST

/* The shipped example must load and name every key the table knows. */
START_TEST(test_example_file_complete)
{
	char example[512], line[512];
	const char *src = getenv("SUITD_SRC");
	struct config *c = NULL;
	struct diag d = {0};

	snprintf(example, sizeof(example), "%s/config/suitd.conf", src ? src : ".");
	ck_assert_msg(config_load(example, &c, &d) == ERR_OK, "%s:%zu: %s", example, d.offset,
		      d.text);
	config_free(c);
	for (unsigned i = 0; i < config_key_count(); i++) {
		const char *section, *name = config_key_name(i, &section);
		char want[128], current[64] = "";
		bool found = false;
		FILE *f = fopen(example, "r");
		ck_assert_ptr_nonnull(f);
		snprintf(want, sizeof(want), "%s =", name);
		while (fgets(line, sizeof(line), f)) {
			if (line[0] == '[')
				snprintf(current, sizeof(current), "%.*s",
					 (int)strcspn(line + 1, "]"), line + 1);
			else if (strcmp(current, section) == 0 &&
				 (strncmp(line, want, strlen(want)) == 0 ||
				  (line[0] == '#' && strncmp(line + 1, want, strlen(want)) == 0)))
				found = true; /* "#key =" documents a key without default */
		}
		fclose(f);
		ck_assert_msg(found, "config/suitd.conf does not document [%s] %s", section, name);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	int rc;

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_values_and_units);
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_indented);
	tcase_add_test(tc, test_key_lines);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_diff);
	tcase_add_test(tc, test_public_url_accepted);
	tcase_add_test(tc, test_example_file_complete);
	suite_add_tcase(s, tc);
	TCase *ca = tcase_create("files");
	tcase_add_unchecked_fixture(ca, pki_setup, pki_teardown);
	tcase_add_loop_test(ca, test_client_ca, 0, (int)(sizeof(ca_cases) / sizeof(ca_cases[0])));
	tcase_add_loop_test(ca, test_files, 0, (int)(sizeof(file_cases) / sizeof(file_cases[0])));
	suite_add_tcase(s, ca);
	rc = check_run(s);
	return rc;
}
