#include "tools/suit-sim/certs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tools/suit-sim/cli.h"
#include "tools/suit-sim/lines.h"

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* NAME ends with EXT: the length before it, else 0. */
static size_t stem_len(const char *name, const char *ext)
{
	size_t n = strlen(name), e = strlen(ext);

	return n > e && strcmp(name + n - e, ext) == 0 ? n - e : 0;
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* No pass phrase: an encrypted key fails to load instead of prompting. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The certificate and the key load, and the key is the certificate's. */
static int check_pair(const char *cert, const char *key)
{
	FILE *f = fopen(cert, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, no_passphrase, NULL) : NULL;
	EVP_PKEY *k = NULL;
	int rc = SIM_EXIT_OK;

	if (f)
		fclose(f);
	if (!x)
		return sim_file_error(cert, 0, "not a PEM certificate");
	f = fopen(key, "r");
	k = f ? PEM_read_PrivateKey(f, NULL, no_passphrase, NULL) : NULL;
	if (f)
		fclose(f);
	if (!k)
		rc = sim_file_error(key, 0,
				    "not a PEM private key (encrypted keys are not "
				    "supported)");
	else if (X509_check_private_key(x, k) != 1)
		rc = sim_file_error(key, 0, "not the key of %s", cert);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* DIR/STEM.EXT, malloc'ed. */
static char *join(const char *dir, const char *stem, size_t len, const char *ext)
{
	size_t n = strlen(dir) + 1 + len + strlen(ext) + 1;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%.*s%s", dir, (int)len, stem, ext);
	return p;
}

int sim_certs_load(struct sim_identities *ids, const char *dir, unsigned want)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, by_name), rc = SIM_EXIT_OK;
	unsigned added = 0;

	if (n < 0)
		return sim_file_error(dir, 0, "%s", strerror(errno));
	for (int i = 0; i < n && rc == SIM_EXIT_OK && (!want || ids->count < want); i++) {
		const char *name = names[i]->d_name;
		size_t pem = stem_len(name, ".pem"), key = stem_len(name, ".key");
		char *other = NULL, *cert = NULL;
		struct sim_identity *d;

		if (!pem && !key)
			continue;
		other = join(dir, name, pem ? pem : key, pem ? ".key" : ".pem");
		cert = join(dir, name, pem ? pem : key, ".pem");
		if (!other || !cert) {
			rc = sim_file_error(dir, 0, "out of memory");
		} else if (!is_file(other)) {
			rc = sim_file_error(other, 0,
					    "missing: a device needs both %.*s.pem and "
					    "%.*s.key",
					    (int)(pem ? pem : key), name, (int)(pem ? pem : key),
					    name);
		} else if (pem) {
			/* A device at its .pem; its .key was or will be seen. */
			char *id = strndup(name, pem);
			if (!id)
				rc = sim_file_error(dir, 0, "out of memory");
			else if (!sim_device_id_valid(id))
				rc = sim_file_error(cert, 0,
						    "'%s' is not a device id ([A-Za-z0-9._:@-], "
						    "1 to %d characters)",
						    id, SIM_DEVICE_ID_MAX);
			else
				rc = check_pair(cert, other);
			d = rc == SIM_EXIT_OK ? sim_identities_add(ids) : NULL;
			if (d) {
				d->id = id;
				d->cert = cert;
				d->key = other;
				id = cert = other = NULL;
				added++;
			} else if (rc == SIM_EXIT_OK) {
				rc = sim_file_error(dir, 0, "out of memory");
			}
			free(id);
		}
		free(other);
		free(cert);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == SIM_EXIT_OK && !added)
		rc = sim_file_error(dir, 0, "no devices (want DEVICE_ID.pem and DEVICE_ID.key)");
	return rc;
}
