#include "server/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/bounds.h"
#include "common/cleanup.h"
#include "common/file.h"

#define SELF_SIGNED_DAYS 825

static void cleanup_pkey(EVP_PKEY **p)
{
	EVP_PKEY_free(*p);
}
static void cleanup_x509(X509 **p)
{
	X509_free(*p);
}
#define CLEANUP_PKEY __attribute__((cleanup(cleanup_pkey)))
#define CLEANUP_X509 __attribute__((cleanup(cleanup_x509)))

static int mkdir_parent(const char *path)
{
	CLEANUP_FREE char *dir = strdup(path);
	char *slash;

	if (!dir)
		return -1;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

/* Write via a temporary file and rename, so a crash never leaves half a PEM. */
static enum err write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, struct diag *d)
{
	size_t n = strlen(path) + 16;
	CLEANUP_FREE char *tmp = malloc(n);
	FILE *f;
	int fd, ok;

	if (!tmp)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	if (mkdir_parent(path) != 0)
		return diag_set(d, ERR_IO, "", "cannot create the folder of '%s': %s", path,
				strerror(errno));
	snprintf(tmp, n, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return diag_set(d, ERR_IO, "", "cannot write '%s': %s", tmp, strerror(errno));
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_X509(f, cert);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return diag_set(d, ERR_IO, "", "cannot write '%s'", path);
	}
	return ERR_OK;
}

static enum err add_san(X509 *cert, const char *host)
{
	char san[512];
	unsigned char addr[16];
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	bool is_default = !host[0] || strcmp(host, "localhost") == 0 ||
			  strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
			  strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 ||
			  strcmp(host, "::") == 0;

	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s%s", is_default ? "" : ",",
		 is_default ? "" : (is_ip ? "IP:" : "DNS:"), is_default ? "" : host);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	if (!ext)
		return ERR_CRYPTO;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? ERR_OK : ERR_CRYPTO;
}

enum err tls_self_signed_ensure(const char *cert_path, const char *key_path, const char *host,
				int *ret_created, struct diag *d)
{
	bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
	CLEANUP_PKEY EVP_PKEY *key = NULL;
	CLEANUP_X509 X509 *cert = NULL;
	unsigned char serial[16];
	BIGNUM *bn;
	enum err e;

	*ret_created = 0;
	if (have_cert && have_key)
		return ERR_OK;
	if (have_cert != have_key)
		return diag_set(d, ERR_CONFIG, "", "'%s' exists but '%s' does not",
				have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
	key = EVP_EC_gen("P-256");
	cert = X509_new();
	if (!key || !cert || RAND_bytes(serial, sizeof(serial)) != 1)
		return diag_set(d, ERR_CRYPTO, "", "cannot generate a key");
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
		BN_free(bn);
		return diag_set(d, ERR_CRYPTO, "", "cannot set the serial number");
	}
	BN_free(bn);
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long)SELF_SIGNED_DAYS * 86400);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"suitd", -1, -1,
				   0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"suitd self-signed", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (add_san(cert, host) != ERR_OK || !X509_sign(cert, key, EVP_sha256()))
		return diag_set(d, ERR_CRYPTO, "", "cannot sign the certificate");
	e = write_pem(key_path, 0600, key, NULL, d);
	if (!e)
		e = write_pem(cert_path, 0644, NULL, cert, d);
	if (!e)
		*ret_created = 1;
	return e;
}

static enum err read_small_file(const char *path, char **ret, struct diag *d)
{
	return file_read_text(path, BOUND_PEM_FILE, ret, d);
}

enum err tls_files_load(const char *cert_path, const char *key_path, struct tls_files *ret,
			struct diag *d)
{
	struct tls_files f = {0};
	CLEANUP_PKEY EVP_PKEY *key = NULL;
	CLEANUP_X509 X509 *cert = NULL;
	BIO *bio;
	enum err e;
	int days = 0, secs = 0;

	/* d->field says which of the two did not read (check-config names the
	 * key and its line). */
	const char *failed = "tls_cert";
	e = read_small_file(cert_path, &f.cert_pem, d);
	if (!e) {
		failed = "tls_key";
		e = read_small_file(key_path, &f.key_pem, d);
	}
	if (e) {
		if (d)
			snprintf(d->field, sizeof(d->field), "%s", failed);
		tls_files_release(&f);
		return e;
	}
	bio = BIO_new_mem_buf(f.cert_pem, -1);
	cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	bio = BIO_new_mem_buf(f.key_pem, -1);
	key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!cert)
		e = diag_set(d, ERR_CONFIG, "tls_cert", "'%s' holds no PEM certificate", cert_path);
	else if (!key)
		e = diag_set(d, ERR_CONFIG, "tls_key", "'%s' holds no unencrypted PEM private key",
			     key_path);
	else if (X509_check_private_key(cert, key) != 1)
		e = diag_set(d, ERR_CONFIG, "tls_key", "'%s' is not the key of '%s'", key_path,
			     cert_path);
	else if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)))
		e = diag_set(d, ERR_CONFIG, "tls_cert", "'%s' has an unreadable expiry", cert_path);
	if (e) {
		tls_files_release(&f);
		return e;
	}
	/* Whole days, rounded down: a certificate that expired an hour ago
	 * (0 days, -3600 s) has -1, not 0, and check-config refuses it. */
	f.days_left = days - (secs < 0);
	*ret = f;
	return ERR_OK;
}

enum err tls_read_pem(const char *path, char **ret, struct diag *d)
{
	return read_small_file(path, ret, d);
}

void tls_files_release(struct tls_files *f)
{
	if (f->key_pem)
		OPENSSL_cleanse(f->key_pem, strlen(f->key_pem));
	free(f->cert_pem);
	free(f->key_pem);
	f->cert_pem = f->key_pem = NULL;
}
