#include "server/client_cert.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/x509.h>

static bool usage_ok(gnutls_x509_crt_t crt, const char **why)
{
	unsigned int usage = 0, critical = 0;
	bool any_purpose = false, client_auth = false;
	char oid[128];

	if (gnutls_x509_crt_get_key_usage(crt, &usage, &critical) >= 0 &&
	    !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE)) {
		*why = "key usage lacks digitalSignature";
		return false;
	}
	for (unsigned i = 0;; i++) {
		size_t size = sizeof(oid);
		int rc = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, NULL);
		if (rc < 0)
			break;
		any_purpose = true;
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0 || strcmp(oid, GNUTLS_KP_ANY) == 0)
			client_auth = true;
	}
	if (any_purpose && !client_auth) {
		*why = "extended key usage lacks clientAuth";
		return false;
	}
	return true;
}

static bool identity_of(gnutls_x509_crt_t crt, enum config_device_identity identity, char *out,
			size_t size)
{
	if (identity == CONFIG_IDENTITY_CN) {
		size_t n = size;
		return gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, out,
						     &n) >= 0 &&
		       n < size && strlen(out) == n;
	}
	unsigned int want =
		identity == CONFIG_IDENTITY_SAN_URI ? GNUTLS_SAN_URI : GNUTLS_SAN_DNSNAME;
	for (unsigned seq = 0; seq < 64; seq++) {
		size_t n = size;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, out, &n, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type >= 0 && (unsigned)type == want && n < size)
			return strlen(out) == n; /* no embedded NUL */
	}
	return false;
}

void client_cert_check(gnutls_session_t session, enum config_device_identity identity,
		       struct device_cert *out, const char **why)
{
	const gnutls_datum_t *certs;
	unsigned int count = 0, status = 0;
	gnutls_x509_crt_t crt;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	certs = gnutls_certificate_get_peers(session, &count);
	if (!certs || count == 0)
		return;
	out->presented = true;
	if (gnutls_certificate_verify_peers2(session, &status) < 0 || status != 0) {
		*why = status & GNUTLS_CERT_EXPIRED	       ? "certificate expired"
		       : status & GNUTLS_CERT_NOT_ACTIVATED    ? "certificate not yet valid"
		       : status & GNUTLS_CERT_SIGNER_NOT_FOUND ? "issuer is not a device CA"
							       : "certificate does not verify";
		return;
	}
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
		*why = "certificate does not parse";
	} else if (usage_ok(crt, why)) {
		if (identity_of(crt, identity, out->name, sizeof(out->name)))
			out->valid = true;
		else
			*why = "certificate names no device identity of the configured kind";
	}
	gnutls_x509_crt_deinit(crt);
}
