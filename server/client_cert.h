/* Device client certificates over GnuTLS: libmicrohttpd only *requests* a
 * certificate when given a trust store, so suitd verifies it itself
 * (PLATFORM.md §2b): chain and dates against [devices] client_ca, extended
 * key usage clientAuth and key usage digitalSignature when present, then
 * the identity from CN or a subjectAltName. */
#ifndef SUITD_SERVER_CLIENT_CERT_H
#define SUITD_SERVER_CLIENT_CERT_H

#include <gnutls/gnutls.h>

#include "api/auth.h"
#include "config/config.h"

/* Fill out from the session; out->presented is false without a certificate,
 * out->valid false with one that does not pass; *why says why (for logs). */
void client_cert_check(gnutls_session_t session, enum config_device_identity identity,
		       struct device_cert *out, const char **why);

#endif
