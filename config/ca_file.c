#include "config/ca_file.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/bounds.h"
#include "common/cleanup.h"
#include "common/file.h"

static void cleanup_bio(BIO **b)
{
	BIO_free(*b);
}
#define CLEANUP_BIO __attribute__((cleanup(cleanup_bio)))

/* One PEM block, number n of the file. GnuTLS reads only "CERTIFICATE"
 * and "X509 CERTIFICATE" blocks from a trust file and skips the rest
 * silently, so anything else is refused here: a device CA file that also
 * holds a key has copied a secret to a place where it is read as public. */
static enum err block_check(const char *path, unsigned n, const char *name,
			    const unsigned char *data, long len, struct diag *d)
{
	X509 *cert;
	bool ca;

	if (strstr(name, "PRIVATE KEY"))
		return diag_set(d, ERR_CONFIG, "",
				"'%s' holds a private key (PEM block %u): keep keys out of it, it "
				"takes CA certificates only",
				path, n);
	if (strcmp(name, PEM_STRING_X509) != 0 && strcmp(name, PEM_STRING_X509_OLD) != 0)
		return diag_set(d, ERR_CONFIG, "",
				"'%s' holds a PEM '%.40s' block (%u); it takes CA certificates "
				"only",
				path, name, n);
	cert = d2i_X509(NULL, &data, len);
	if (!cert)
		return diag_set(d, ERR_CONFIG, "", "'%s': certificate %u does not parse", path, n);
	/* EXFLAG_CA: basicConstraints with cA TRUE. A device certificate in
	 * its place would make every certificate it signed a device's. */
	ca = X509_get_extension_flags(cert) & EXFLAG_CA;
	X509_free(cert);
	if (!ca)
		return diag_set(d, ERR_CONFIG, "",
				"'%s': certificate %u is not a CA certificate (no basicConstraints "
				"CA:TRUE)",
				path, n);
	return ERR_OK;
}

enum err config_ca_file_check(const char *path, struct diag *d)
{
	CLEANUP_FREE char *text = NULL;
	CLEANUP_BIO BIO *bio = NULL;
	unsigned n = 0;
	enum err e;

	if ((e = file_read_text(path, BOUND_PEM_FILE, &text, d)))
		return e;
	bio = BIO_new_mem_buf(text, -1);
	if (!bio)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long len = 0;

		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &data, &len)) {
			/* No further "-----BEGIN" line: the end of the file. */
			bool end = ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE;
			ERR_clear_error();
			if (!end)
				e = diag_set(d, ERR_CONFIG, "", "'%s': PEM block %u is damaged",
					     path, n + 1);
			break;
		}
		e = block_check(path, ++n, name, data, len, d);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(data, (size_t)len);
		if (e)
			break;
	}
	/* It may have held a private key. */
	OPENSSL_cleanse(text, strlen(text));
	if (!e && !n)
		e = diag_set(d, ERR_CONFIG, "", "'%s' holds no PEM certificate", path);
	return e;
}
