/* The TLS 1.3 key-exchange group, chosen per connection so that no common
 * client needs a HelloRetryRequest.
 *
 * With %SERVER_PRECEDENCE (kept: it makes AES-GCM win over ChaCha20 where
 * the CPU has AES-NI), GnuTLS picks its own first group among those the
 * client supports, and when the client sent no key share for that group it
 * asks for one: a HelloRetryRequest, one more round trip and a second
 * ClientHello per connection. Whatever the one order, X25519-first clients
 * (curl, OpenSSL, Go, most device stacks) or P-256-first ones would pay it.
 * So the server keeps one priority set per group, each with that group
 * first, and a ClientHello hook switches the session to the set whose first
 * group is the client's first key share (read with GnuTLS's own extension
 * parser). Ciphers and versions are the same in every set. */
#ifndef SUITD_SERVER_TLS_GROUPS_H
#define SUITD_SERVER_TLS_GROUPS_H

#include <gnutls/gnutls.h>

#include "common/error.h"

#define TLS_GROUP_COUNT 5

struct tls_groups {
	gnutls_priority_t first[TLS_GROUP_COUNT]; /* [i]: group i first, then the default order */
};

/* base: the priority string without groups and without %SERVER_PRECEDENCE
 * ("NORMAL:-VERS-ALL:..."). */
enum err tls_groups_init(struct tls_groups *g, const char *base, struct diag *d);
void tls_groups_release(struct tls_groups *g);

/* For a ClientHello as GnuTLS hands it to a handshake hook: the priorities
 * that put the client's first supported key share first; without one (TLS
 * 1.2) the default order, X25519 first; NULL when the hello does not parse
 * (GnuTLS then refuses it itself). */
gnutls_priority_t tls_groups_for_hello(const struct tls_groups *g, const gnutls_datum_t *hello);

#endif
