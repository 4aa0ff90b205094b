/* Server certificate handling: the dev self-signed certificate (OpenSSL) and
 * loading/validating the PEM files handed to libmicrohttpd. */
#ifndef SUITD_SERVER_TLS_H
#define SUITD_SERVER_TLS_H

#include <stddef.h>

#include "common/error.h"

struct tls_files {
	char *cert_pem; /* NUL-terminated, as MHD wants them */
	char *key_pem;
	long days_left; /* until the certificate expires */
};

/* When neither file exists, write a new self-signed P-256 certificate for
 * host (and localhost, 127.0.0.1, ::1), the key 0600. Both present: nothing.
 * One missing: error. *ret_created tells whether files were written. */
enum err tls_self_signed_ensure(const char *cert_path, const char *key_path, const char *host,
				int *ret_created, struct diag *d);

/* Read both files, check that they parse and that the key matches. */
enum err tls_files_load(const char *cert_path, const char *key_path, struct tls_files *ret,
			struct diag *d);
void tls_files_release(struct tls_files *f);

/* A PEM file (at most 256 KiB) into a NUL-terminated string. */
enum err tls_read_pem(const char *path, char **ret, struct diag *d);

#endif
