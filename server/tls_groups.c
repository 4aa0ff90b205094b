#include "server/tls_groups.h"

#include <stdio.h>
#include <string.h>

/* In the default order of preference, with their TLS NamedGroup ids
 * (RFC 8446 §4.2.7, RFC 7919). */
static const struct {
	const char *name; /* GnuTLS priority keyword */
	unsigned tls_id;
} groups[TLS_GROUP_COUNT] = {
	{"X25519", 0x001d},    {"SECP256R1", 0x0017}, {"SECP384R1", 0x0018},
	{"SECP521R1", 0x0019}, {"X448", 0x001e},
};

enum err tls_groups_init(struct tls_groups *g, const char *base, struct diag *d)
{
	char text[512];

	memset(g, 0, sizeof(*g));
	for (size_t first = 0; first < TLS_GROUP_COUNT; first++) {
		const char *err = NULL;
		int used = snprintf(text, sizeof(text), "%s:-GROUP-ALL:+GROUP-%s", base,
				    groups[first].name);
		for (size_t i = 0; i < TLS_GROUP_COUNT; i++)
			if (i != first && used > 0 && (size_t)used < sizeof(text))
				used += snprintf(text + used, sizeof(text) - (size_t)used,
						 ":+GROUP-%s", groups[i].name);
		if (used > 0 && (size_t)used < sizeof(text))
			used += snprintf(text + used, sizeof(text) - (size_t)used,
					 ":%%SERVER_PRECEDENCE");
		if (used <= 0 || (size_t)used >= sizeof(text)) {
			tls_groups_release(g);
			return diag_set(d, ERR_CONFIG, "tls", "TLS priority string too long");
		}
		if (gnutls_priority_init(&g->first[first], text, &err) != GNUTLS_E_SUCCESS) {
			tls_groups_release(g);
			return diag_set(d, ERR_CONFIG, "tls",
					"GnuTLS refuses the priorities at '%.40s'",
					err ? err : "?");
		}
	}
	return ERR_OK;
}

void tls_groups_release(struct tls_groups *g)
{
	for (size_t i = 0; i < TLS_GROUP_COUNT; i++) {
		if (g->first[i])
			gnutls_priority_deinit(g->first[i]);
		g->first[i] = NULL;
	}
}

struct share_pick {
	int group; /* index in groups[], -1: none yet */
};

static int read_u16(const unsigned char *p)
{
	return p[0] << 8 | p[1];
}

/* key_share (51) of a ClientHello: client_shares<0..2^16-1>, each
 * {NamedGroup group; opaque key_exchange<1..2^16-1>}, in the client's order
 * of preference. The first one we support wins. */
static int on_extension(void *ctx, unsigned tls_id, const unsigned char *data, unsigned size)
{
	struct share_pick *pick = ctx;

	if (tls_id != 51 || pick->group >= 0 || size < 2)
		return 0;
	unsigned total = (unsigned)read_u16(data), at = 2;
	if (total > size - 2)
		return 0;
	while (pick->group < 0 && at + 4 <= 2 + total) {
		unsigned id = (unsigned)read_u16(data + at),
			 len = (unsigned)read_u16(data + at + 2);
		for (int i = 0; i < TLS_GROUP_COUNT; i++)
			if (groups[i].tls_id == id)
				pick->group = i;
		at += 4 + len;
	}
	return 0;
}

gnutls_priority_t tls_groups_for_hello(const struct tls_groups *g, const gnutls_datum_t *hello)
{
	struct share_pick pick = {-1};

	if (gnutls_ext_raw_parse(&pick, on_extension, hello, GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO) <
	    0)
		return NULL;
	/* No key share we know (TLS 1.2, which has none): the default order,
	 * X25519 first. GnuTLS's own puts P-256 first, and a TLS 1.2 full
	 * handshake with it cost 20-29 % more CPU than nginx's X25519
	 * (bench/reconnect.sh). */
	return g->first[pick.group < 0 ? 0 : pick.group];
}
