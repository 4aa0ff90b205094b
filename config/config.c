#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bounds.h"
#include "common/cleanup.h"
#include "common/parse.h"
#include "config/ca_file.h"

enum key_type {
	KEY_STRING,
	KEY_PATH, /* relative paths are taken from the config file's folder */
	KEY_BOOL,
	KEY_UINT,
	KEY_SIZE,     /* bytes, with optional K/M/G (binary) suffix */
	KEY_DURATION, /* seconds, with optional s/m/h suffix */
	KEY_LISTEN,
	KEY_LOG_LEVEL,
	KEY_PATH_LIST, /* repeatable; each a path */
	KEY_ENUM,      /* one of choices, stored as its index (int) */
	KEY_FLAGS,     /* comma-separated choices, stored as a bit mask (unsigned) */
	KEY_NAME,      /* a string of [A-Za-z0-9._:@-], at most max characters */
};

static const char *const backend_choices[] = {"sqlite", "postgresql", NULL};
static const char *const sync_choices[] = {"normal", "full", NULL};
static const char *const auth_choices[] = {"certificate", "token", NULL};
static const char *const identity_choices[] = {"cn", "san-uri", "san-dns", NULL};

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	const char *def;
	uint64_t min, max;	    /* for UINT, SIZE, DURATION */
	const char *const *choices; /* for ENUM (index) and FLAGS (bit per choice) */
};

#define OFF(field) offsetof(struct config, field)

/* Keep in step with config/suitd.conf and man/suitd.conf.5 (a test checks
 * that the example file names every key). */
static const struct key keys[] = {
	{"server", "listen", KEY_LISTEN, OFF(server.listen_host), "127.0.0.1:8443", 0, 0, NULL},
	{"server", "threads", KEY_UINT, OFF(server.threads), "0", 0, 256, NULL},
	{"server", "tls", KEY_BOOL, OFF(server.tls), "on", 0, 0, NULL},
	{"server", "tls_cert", KEY_PATH, OFF(server.tls_cert), "/var/lib/suitd/tls/cert.pem", 0, 0,
	 NULL},
	{"server", "tls_key", KEY_PATH, OFF(server.tls_key), "/var/lib/suitd/tls/key.pem", 0, 0,
	 NULL},
	{"server", "tls_self_signed", KEY_BOOL, OFF(server.tls_self_signed), "off", 0, 0, NULL},
	{"server", "public_url", KEY_STRING, OFF(server.public_url), "", 0, 0, NULL},
	{"server", "connection_limit", KEY_UINT, OFF(server.connection_limit), "1024", 1, 65536,
	 NULL},
	/* 64: a device, a browser or a script needs a handful at once, and
	 * filling the default connection_limit then takes 16 addresses. */
	{"server", "per_address_connection_limit", KEY_UINT, OFF(server.per_address_limit), "64", 0,
	 65536, NULL},
	{"server", "connection_timeout", KEY_DURATION, OFF(server.connection_timeout), "30", 1,
	 3600, NULL},
	{"server", "handshake_timeout", KEY_DURATION, OFF(server.handshake_timeout), "10", 1, 300,
	 NULL},
	/* TLS 1.2 sessions kept for resumption by session ID (a few hundred
	 * bytes each): 10,000 is a few MiB. */
	{"server", "tls_session_cache", KEY_UINT, OFF(server.tls_session_cache), "10000", 0,
	 1000000, NULL},
	{"server", "max_body", KEY_SIZE, OFF(server.max_body), "1M", 1024, (uint64_t)64 << 20,
	 NULL},
	{"server", "rate_limit", KEY_UINT, OFF(server.rate_limit), "100", 0, 1000000, NULL},
	{"server", "rate_burst", KEY_UINT, OFF(server.rate_burst), "200", 1, 1000000, NULL},
	{"storage", "backend", KEY_ENUM, OFF(storage.backend), "sqlite", 0, 0, backend_choices},
	{"storage", "database", KEY_PATH, OFF(storage.database), "/var/lib/suitd/suitd.db", 0, 0,
	 NULL},
	{"storage", "synchronous", KEY_ENUM, OFF(storage.synchronous), "full", 0, 0, sync_choices},
	{"storage", "mmap_size", KEY_SIZE, OFF(storage.mmap_size), "0", 0, (uint64_t)16 << 30,
	 NULL},
	{"storage", "max_size", KEY_SIZE, OFF(storage.max_size), "0", 0, (uint64_t)1 << 44, NULL},
	{"storage", "url", KEY_STRING, OFF(storage.url), "", 0, 0, NULL},
	{"storage", "password_file", KEY_PATH, OFF(storage.password_file), "", 0, 0, NULL},
	/* 0: one connection per thread that uses the database, as SQLite's
	 * (docs/design.md "Storage: PostgreSQL backend"). */
	{"storage", "pool_size", KEY_UINT, OFF(storage.pool_size), "0", 0, 10000, NULL},
	{"storage", "statement_timeout", KEY_DURATION, OFF(storage.statement_timeout), "30s", 0,
	 86400, NULL},
	{"devices", "auth", KEY_FLAGS, OFF(devices.auth), "token", 0, 0, auth_choices},
	{"devices", "client_ca", KEY_PATH, OFF(devices.client_ca), "", 0, 0, NULL},
	{"devices", "identity", KEY_ENUM, OFF(devices.identity), "cn", 0, 0, identity_choices},
	{"devices", "auto_register", KEY_BOOL, OFF(devices.auto_register), "off", 0, 0, NULL},
	{"devices", "default_group", KEY_NAME, OFF(devices.default_group), "", 0, 128, NULL},
	{"devices", "seen_flush", KEY_DURATION, OFF(devices.seen_flush), "5", 1, 60, NULL},
	{"devices", "poll_interval", KEY_DURATION, OFF(devices.poll_interval), "5m", 1, 86400,
	 NULL},
	{"devices", "poll_interval_active", KEY_DURATION, OFF(devices.poll_interval_active), "30",
	 1, 86400, NULL},
	{"devices", "poll_jitter", KEY_UINT, OFF(devices.poll_jitter), "10", 0, 50, NULL},
	{"devices", "max_report_size", KEY_SIZE, OFF(devices.max_report_size), "64K", 256, 1 << 20,
	 NULL},
	{"devices", "report_retention", KEY_DURATION, OFF(devices.report_retention), "2160h", 0,
	 315360000, NULL},
	{"devices", "report_history", KEY_UINT, OFF(devices.report_history), "100", 1, 100000,
	 NULL},
	{"devices", "report_history_size", KEY_SIZE, OFF(devices.report_history_size), "1M", 1024,
	 (uint64_t)1 << 30, NULL},
	{"payloads", "max_size", KEY_SIZE, OFF(payloads.max_size), "4G", 1, (uint64_t)1 << 40,
	 NULL},
	{"payloads", "anonymous_download", KEY_BOOL, OFF(payloads.anonymous_download), "off", 0, 0,
	 NULL},
	{"payloads", "max_uploads", KEY_UINT, OFF(payloads.max_uploads), "8", 1, 1024, NULL},
	{"manifests", "trust_anchor", KEY_PATH_LIST, OFF(manifests.trust_anchors), "", 0, 0, NULL},
	{"manifests", "hmac_key", KEY_PATH_LIST, OFF(manifests.hmac_keys), "", 0, 0, NULL},
	{"manifests", "require_signature", KEY_BOOL, OFF(manifests.require_signature), "on", 0, 0,
	 NULL},
	{"manifests", "max_size", KEY_SIZE, OFF(manifests.max_size), "1M", 64, (uint64_t)16 << 20,
	 NULL},
	{"manifests", "allow_external_uri", KEY_BOOL, OFF(manifests.allow_external_uri), "off", 0,
	 0, NULL},
	{"manifests", "dependency_max_depth", KEY_UINT, OFF(manifests.dependency_max_depth), "4", 1,
	 16, NULL},
	{"manifests", "dependency_max_size", KEY_SIZE, OFF(manifests.dependency_max_size), "4M",
	 1024, (uint64_t)64 << 20, NULL},
	{"log", "level", KEY_LOG_LEVEL, OFF(log.level), "info", 0, 0, NULL},
	{"events", "retention", KEY_DURATION, OFF(events.retention), "720h", 60, 315360000, NULL},
	{"events", "max_rows", KEY_UINT, OFF(events.max_rows), "10000000", 0, 2000000000, NULL},
	{"events", "max_streams", KEY_UINT, OFF(events.max_streams), "256", 0, 65536, NULL},
	{"events", "stream_buffer", KEY_SIZE, OFF(events.stream_buffer), "256K", 4096,
	 (uint64_t)64 << 20, NULL},
	{"events", "allow_http_webhooks", KEY_BOOL, OFF(webhooks.allow_http), "off", 0, 0, NULL},
	{"events", "allow_private_webhooks", KEY_BOOL, OFF(webhooks.allow_private), "off", 0, 0,
	 NULL},
	{"events", "webhook_cacert", KEY_PATH, OFF(webhooks.cacert), "", 0, 0, NULL},
	{"events", "webhook_retry_base", KEY_DURATION, OFF(webhooks.retry_base), "30", 1, 3600,
	 NULL},
	{"events", "webhook_max_age", KEY_DURATION, OFF(webhooks.max_age), "24h", 1, 604800, NULL},
	/* Off by default: a second device door is opened on purpose, by an
	 * operator taking over a hawkBit fleet (docs/ddi.md). */
	{"ddi", "enabled", KEY_BOOL, OFF(ddi.enabled), "off", 0, 0, NULL},
	{"ddi", "tenant", KEY_NAME, OFF(ddi.tenant), "DEFAULT", 1, 64, NULL},
	{"ddi", "gateway_token_file", KEY_PATH, OFF(ddi.gateway_token_file), "", 0, 0, NULL},
	{"ddi", "anonymous", KEY_BOOL, OFF(ddi.anonymous), "off", 0, 0, NULL},
	{"ui", "enabled", KEY_BOOL, OFF(ui.enabled), "on", 0, 0, NULL},
	{"ui", "session_idle", KEY_DURATION, OFF(ui.session_idle), "30m", 1, 86400, NULL},
	{"ui", "session_lifetime", KEY_DURATION, OFF(ui.session_lifetime), "12h", 1, 2592000, NULL},
};

#define KEY_COUNT (sizeof(keys) / sizeof(keys[0]))
_Static_assert(KEY_COUNT <= CONFIG_KEYS_MAX, "raise CONFIG_KEYS_MAX");

/* An error about a key that has its default names the line of the key that
 * makes it matter, when that one is in the file: the other half of the TLS
 * pair, then tls. */
static const struct key_need {
	const char *section, *name, *by[2];
} key_needs[] = {
	{"server", "tls_cert", {"tls_key", "tls"}},
	{"server", "tls_key", {"tls_cert", "tls"}},
};

struct loader {
	struct config *config; /* its key_line[]: where each key was set */
	const char *dir;       /* folder of the config file, for relative paths */
	unsigned line;	       /* line being read */
	bool line_too_long;
	struct diag *diag;
	bool failed;
	FILE *file;
};

unsigned config_key_count(void)
{
	return KEY_COUNT;
}

const char *config_key_name(unsigned i, const char **ret_section)
{
	if (i >= KEY_COUNT)
		return NULL;
	*ret_section = keys[i].section;
	return keys[i].name;
}

static const struct key *key_find(const char *section, const char *name, size_t *ret_index)
{
	for (size_t i = 0; i < KEY_COUNT; i++) {
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0) {
			*ret_index = i;
			return &keys[i];
		}
	}
	return NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < KEY_COUNT; i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

/* Unsigned decimal with an optional unit suffix from units[] (multipliers). */
static bool parse_bool(const char *value, bool *ret)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(value, yes[i]) == 0) {
			*ret = true;
			return true;
		}
		if (strcmp(value, no[i]) == 0) {
			*ret = false;
			return true;
		}
	}
	return false;
}

/* "HOST:PORT", "[V6]:PORT" or "*:PORT" (any address). */
static bool parse_listen(const char *value, char **ret_host, uint16_t *ret_port)
{
	const char *colon, *host_start = value, *host_end;
	char *end;
	unsigned long port;

	if (value[0] == '[') {
		host_start = value + 1;
		host_end = strchr(value, ']');
		if (!host_end || host_end[1] != ':')
			return false;
		colon = host_end + 1;
	} else {
		colon = strrchr(value, ':');
		if (!colon || memchr(value, ':', (size_t)(colon - value)))
			return false;
		host_end = colon;
	}
	if (host_end == host_start)
		return false;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port > 65535 || colon[1] == '-')
		return false;
	char *host = strndup(host_start, (size_t)(host_end - host_start));
	if (!host)
		return false;
	free(*ret_host);
	*ret_host = host;
	*ret_port = (uint16_t)port;
	return true;
}

static char *path_resolve(const char *dir, const char *value)
{
	char *out;

	if (value[0] == '/' || !dir)
		return strdup(value);
	size_t n = strlen(dir) + 1 + strlen(value) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", dir, value);
	return out;
}

static void choices_text(const struct key *k, const char *value, char *why, size_t why_size)
{
	size_t used = (size_t)snprintf(why, why_size, "'%s' is not ", value);

	for (int i = 0; k->choices[i] && used < why_size; i++)
		used += (size_t)snprintf(why + used, why_size - used, "%s%s", i ? ", " : "",
					 k->choices[i]);
	if (k->type == KEY_FLAGS && used < why_size)
		snprintf(why + used, why_size - used, " (one or more, comma-separated)");
}

/* Store one value; on error fill *why and return false. */
static bool key_apply(struct loader *l, const struct key *k, const char *value, char *why,
		      size_t why_size)
{
	char *base = (char *)l->config + k->offset;
	uint64_t n;

	switch (k->type) {
	case KEY_NAME:
		if (strlen(value) > k->max || strspn(value, "abcdefghijklmnopqrstuvwxyz"
							    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							    "0123456789._:@-") != strlen(value)) {
			snprintf(why, why_size,
				 "'%s' is not up to %" PRIu64
				 " characters of A-Z a-z 0-9 . _ : @ -",
				 value, k->max);
			return false;
		}
		/* fall through */
	case KEY_STRING:
	case KEY_PATH: {
		char *s = k->type == KEY_PATH && value[0] ? path_resolve(l->dir, value)
							  : strdup(value);
		if (!s) {
			snprintf(why, why_size, "out of memory");
			return false;
		}
		free(*(char **)base);
		*(char **)base = s;
		return true;
	}
	case KEY_BOOL:
		if (!parse_bool(value, (bool *)base)) {
			snprintf(why, why_size, "'%s' is not on or off", value);
			return false;
		}
		return true;
	case KEY_UINT:
	case KEY_SIZE:
	case KEY_DURATION: {
		bool ok = k->type == KEY_UINT	? parse_u64(value, &n)
			  : k->type == KEY_SIZE ? parse_size(value, &n)
						: parse_duration(value, &n);
		if (!ok) {
			snprintf(why, why_size, "'%s' is not a %s", value,
				 k->type == KEY_UINT   ? "whole number"
				 : k->type == KEY_SIZE ? "size (bytes, or with K, M, G, T)"
						       : "duration (seconds, or with s, m, h)");
			return false;
		}
		if (n < k->min || n > k->max) {
			snprintf(why, why_size, "%s is out of range %" PRIu64 "..%" PRIu64, value,
				 k->min, k->max);
			return false;
		}
		if (k->type == KEY_SIZE)
			*(uint64_t *)base = n;
		else
			*(unsigned *)base = (unsigned)n;
		return true;
	}
	case KEY_PATH_LIST: {
		struct config_list *list = (struct config_list *)(void *)base;
		if (!value[0])
			return true; /* the default: no entries */
		if (list->count >= CONFIG_LIST_MAX) {
			snprintf(why, why_size, "given more than %d times", CONFIG_LIST_MAX);
			return false;
		}
		char *item = path_resolve(l->dir, value);
		if (!item) {
			snprintf(why, why_size, "out of memory");
			return false;
		}
		list->lines[list->count] = l->line;
		list->items[list->count++] = item;
		return true;
	}
	case KEY_LISTEN:
		if (!parse_listen(value, (char **)base, &l->config->server.listen_port)) {
			snprintf(why, why_size, "'%s' is not HOST:PORT or [IPV6]:PORT", value);
			return false;
		}
		return true;
	case KEY_LOG_LEVEL:
		if (!log_level_parse(value, (enum log_level *)base)) {
			snprintf(why, why_size,
				 "'%s' is not one of err, warning, notice, info, debug", value);
			return false;
		}
		return true;
	case KEY_ENUM:
		for (int i = 0; k->choices[i]; i++) {
			if (strcmp(value, k->choices[i]) == 0) {
				*(int *)(void *)base = i;
				return true;
			}
		}
		choices_text(k, value, why, why_size);
		return false;
	case KEY_FLAGS: {
		unsigned mask = 0;
		for (const char *p = value; *p;) {
			size_t word;
			bool found = false;
			while (*p == ' ' || *p == ',')
				p++;
			word = strcspn(p, " ,");
			for (unsigned i = 0; word && k->choices[i]; i++) {
				if (strlen(k->choices[i]) == word &&
				    strncmp(p, k->choices[i], word) == 0) {
					mask |= 1u << i;
					found = true;
				}
			}
			if (word && !found) {
				choices_text(k, value, why, why_size);
				return false;
			}
			p += word;
		}
		if (!mask) {
			choices_text(k, value, why, why_size);
			return false;
		}
		*(unsigned *)(void *)base = mask;
		return true;
	}
	}
	snprintf(why, why_size, "unhandled key type");
	return false;
}

static void loader_fail(struct loader *l, const char *section, const char *name, const char *why)
{
	if (l->failed)
		return; /* the first error is the one reported */
	l->failed = true;
	if (name)
		diag_set(l->diag, ERR_CONFIG, "", "[%s] %s: %s", section, name, why);
	else
		diag_set(l->diag, ERR_CONFIG, "", "%s", why);
	if (l->diag) {
		snprintf(l->diag->field, sizeof(l->diag->field), "%s%s%s", section, name ? "." : "",
			 name ? name : "");
		l->diag->offset = l->line;
	}
}

unsigned config_key_line(const struct config *c, const char *section, const char *name,
			 unsigned item)
{
	size_t idx;
	const struct key *k = key_find(section, name, &idx);

	if (!k)
		return 0;
	if (k->type == KEY_PATH_LIST) {
		const struct config_list *list = (const void *)((const char *)c + k->offset);
		return item < list->count ? list->lines[item] : 0;
	}
	return c->key_line[idx];
}

enum err config_diag_key(const struct config *c, struct diag *d, const char *section,
			 const char *name, unsigned item)
{
	unsigned own = config_key_line(c, section, name, item), line = own;
	char why[sizeof(d->text)];

	if (!d)
		return ERR_CONFIG;
	for (size_t i = 0; !line && i < sizeof(key_needs) / sizeof(key_needs[0]); i++) {
		const struct key_need *n = &key_needs[i];
		if (strcmp(n->section, section) != 0 || strcmp(n->name, name) != 0)
			continue;
		for (size_t j = 0; !line && j < sizeof(n->by) / sizeof(n->by[0]) && n->by[j]; j++)
			line = config_key_line(c, section, n->by[j], 0);
	}
	snprintf(why, sizeof(why), "%s", d->text);
	diag_set(d, ERR_CONFIG, "", "[%s] %s%s: %s", section, name, own ? "" : " (default)", why);
	snprintf(d->field, sizeof(d->field), "%s.%s", section, name);
	d->offset = line;
	return ERR_CONFIG;
}

void config_diag_format(const char *path, const struct diag *d, char *out, size_t out_size)
{
	if (d->offset)
		snprintf(out, out_size, "%s:%zu: %s", path, d->offset, d->text);
	else
		snprintf(out, out_size, "%s: %s", path, d->text);
}

/* loader_fail() for a key whose value was read (or has its default): at its
 * line, as config_diag_key() names it. */
static void loader_fail_key(struct loader *l, const char *section, const char *name,
			    const char *why)
{
	if (l->failed)
		return;
	l->failed = true;
	diag_set(l->diag, ERR_CONFIG, "", "%s", why);
	config_diag_key(l->config, l->diag, section, name, 0);
}

/* [server] public_url is the base of the payload URIs that `suitd manifest
 * create` signs into manifests and that uploads must use; devices fetch
 * from it. So: an absolute URL with a host, https whenever suitd itself
 * serves TLS, and nothing after the path that the appended
 * /device/v1/payloads/<sha256> would land behind. */
static bool public_url_valid(const char *url, bool tls, char *why, size_t why_size)
{
	size_t scheme = strncmp(url, "https://", 8) == 0  ? 8
			: strncmp(url, "http://", 7) == 0 ? 7
							  : 0;
	const char *host = url + scheme;
	size_t host_len = strcspn(host, "/");

	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(why, why_size, "'%.60s' holds a space or control character", url);
			return false;
		}
	}
	if (!scheme)
		snprintf(why, why_size,
			 "'%.60s' is not an absolute URL (https://HOST[:PORT][/PATH])", url);
	else if (scheme == 7 && tls)
		snprintf(why, why_size,
			 "'%.60s' is plain http:// while [server] tls = on: use https://", url);
	else if (strpbrk(url, "?#"))
		snprintf(why, why_size, "'%.60s' has a query or fragment", url);
	else if (memchr(host, '@', host_len))
		snprintf(why, why_size,
			 "'%.60s' holds a user name; credentials do not belong there", url);
	else if (!host_len || host[0] == ':' || memchr(host, '*', host_len))
		snprintf(why, why_size, "'%.60s' has no host for devices to fetch payloads from",
			 url);
	else
		return true;
	return false;
}

/* "*", 0.0.0.0 and :: listen on every address and name none of them. */
static bool listen_host_unspecified(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcmp(host, "*") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return a4.s_addr == htonl(INADDR_ANY);
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&a6);
}

/* Whether a libpq URL or connection string holds a password:
 * postgresql://user:secret@host or password=secret. */
static bool url_has_password(const char *url)
{
	const char *auth = strstr(url, "://");

	if (strstr(url, "password="))
		return true;
	if (!auth)
		return false;
	auth += 3;
	size_t n = strcspn(auth, "/?");
	const char *at = memchr(auth, '@', n);
	return at && memchr(auth, ':', (size_t)(at - auth));
}

/* [storage] for PostgreSQL: a url, and no password in a file others can
 * read (issue 21). */
static void loader_check_storage(struct loader *l, mode_t mode)
{
	const struct config *c = l->config;

	if (c->storage.backend != CONFIG_BACKEND_POSTGRESQL)
		return;
	if (!c->storage.url[0])
		loader_fail_key(l, "storage", "backend",
				"postgresql needs [storage] url (postgresql://USER@HOST:PORT/DB)");
	else if (url_has_password(c->storage.url) && (mode & (S_IRWXG | S_IRWXO)))
		loader_fail_key(l, "storage", "url",
				"holds a password while the file is readable by group or others: "
				"put it into [storage] password_file (mode 0600) instead");
}

/* Values that are wrong together or whose files are wrong (issue 23). */
static void loader_check_values(struct loader *l)
{
	const struct config *c = l->config;
	struct diag d = {0};
	char why[160];

	if (c->server.public_url[0] &&
	    !public_url_valid(c->server.public_url, c->server.tls, why, sizeof(why)))
		loader_fail_key(l, "server", "public_url", why);
	else if (!c->server.public_url[0] && listen_host_unspecified(c->server.listen_host))
		loader_fail_key(l, "server", "listen",
				"every address needs [server] public_url, the https:// URL "
				"devices fetch payloads from (manifests name it)");
	else if (c->devices.client_ca[0] && config_ca_file_check(c->devices.client_ca, &d))
		loader_fail_key(l, "devices", "client_ca", d.text);
}

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *l = user;
	const struct key *k;
	size_t idx;
	char why[160];

	if (l->failed)
		return 0;
	if (!section_known(section)) {
		snprintf(why, sizeof(why), "unknown section [%s]", section);
		loader_fail(l, section, NULL, why);
		return 0;
	}
	k = key_find(section, name, &idx);
	if (!k) {
		loader_fail(l, section, name, "unknown key");
		return 0;
	}
	if (l->config->key_line[idx] && k->type != KEY_PATH_LIST) {
		loader_fail(l, section, name, "duplicate key");
		return 0;
	}
	l->config->key_line[idx] = l->line;
	if (!key_apply(l, k, value, why, sizeof(why))) {
		loader_fail(l, section, name, why);
		return 0;
	}
	return 1;
}

/* fgets-like reader that counts lines, refuses lines inih would split and
 * drops indentation. */
static char *config_line_reader(char *str, int num, void *stream)
{
	struct loader *l = stream;
	char *r = fgets(str, num, l->file);
	size_t n, indent = 0;

	if (!r)
		return NULL;
	l->line++;
	n = strlen(r);
	if (n == (size_t)num - 1 && r[n - 1] != '\n' && !feof(l->file)) {
		l->line_too_long = true;
		return NULL;
	}
	/* libinih (built with INI_ALLOW_MULTILINE, as Debian's is) reads an
	 * indented line as one more line of the previous key's value: "  tls =
	 * off" after "threads = 1" was a second threads, "duplicate key", and
	 * after a trust_anchor it became another trust anchor. No key takes a
	 * value of several lines, so an indented line is read as if it were
	 * not indented. (Debian's libinih also has ini_allow_multiline, a
	 * global of the library; upstream's has no such switch.) */
	while (indent < n && r[indent] != '\n' && isspace((unsigned char)r[indent]))
		indent++;
	if (indent)
		memmove(r, r + indent, n - indent + 1);
	return r;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

enum err config_load(const char *path, struct config **ret_config, struct diag *d)
{
	struct loader l = {.diag = d};
	CLEANUP_FREE char *dir = NULL;
	struct stat st = {0};
	char why[160];
	int rc;

	l.config = calloc(1, sizeof(*l.config));
	dir = dir_of(path);
	if (!l.config || !dir) {
		free(l.config);
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	}
	l.config->path = strdup(path);
	/* Defaults go through the same parsers as file values. */
	l.dir = NULL;
	for (size_t i = 0; i < KEY_COUNT; i++) {
		if (!key_apply(&l, &keys[i], keys[i].def, why, sizeof(why))) {
			config_free(l.config);
			return diag_set(d, ERR_INTERNAL, keys[i].name, "bad default: %s", why);
		}
	}
	l.dir = dir;

	l.file = fopen(path, "re");
	if (!l.file) {
		config_free(l.config);
		return diag_set(d, ERR_CONFIG, "", "cannot open: %s", strerror(errno));
	}
	if (fstat(fileno(l.file), &st) == 0 &&
	    (!S_ISREG(st.st_mode) || st.st_size > BOUND_CONFIG_FILE)) {
		fclose(l.file);
		config_free(l.config);
		return diag_set(d, ERR_CONFIG, "", "not a regular file of at most %ld bytes",
				BOUND_CONFIG_FILE);
	}
	rc = ini_parse_stream(config_line_reader, &l, config_ini_handler, &l);
	fclose(l.file);
	if (l.line_too_long) {
		l.failed = false;
		loader_fail(&l, "", NULL, "line too long");
		if (d)
			snprintf(d->text, sizeof(d->text), "line longer than %d characters",
				 BOUND_CONFIG_LINE - 2);
	} else if (rc != 0 && !l.failed) {
		/* A syntax error inih found by itself (no '=', unclosed '['). */
		l.line = (unsigned)rc;
		loader_fail(&l, "", NULL, "syntax error (expected [section] or key = value)");
	}
	if (!l.failed && (l.config->devices.auth & CONFIG_DEVICE_AUTH_CERTIFICATE) &&
	    !l.config->devices.client_ca[0])
		loader_fail_key(&l, "devices", "auth",
				"certificate needs [devices] client_ca (the device CA "
				"certificates)");
	if (!l.failed)
		loader_check_values(&l);
	if (!l.failed)
		loader_check_storage(&l, st.st_mode);
	if (l.failed) {
		config_free(l.config);
		return ERR_CONFIG;
	}
	*ret_config = l.config;
	return ERR_OK;
}

void config_free(struct config *config)
{
	if (!config)
		return;
	for (size_t i = 0; i < KEY_COUNT; i++) {
		if (keys[i].type == KEY_STRING || keys[i].type == KEY_PATH ||
		    keys[i].type == KEY_NAME || keys[i].type == KEY_LISTEN)
			free(*(char **)((char *)config + keys[i].offset));
		if (keys[i].type == KEY_PATH_LIST) {
			struct config_list *list =
				(struct config_list *)(void *)((char *)config + keys[i].offset);
			for (unsigned j = 0; j < list->count; j++)
				free(list->items[j]);
		}
	}
	free(config->path);
	free(config);
}

static bool key_equal(const struct key *k, const struct config *a, const struct config *b)
{
	const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;

	switch (k->type) {
	case KEY_STRING:
	case KEY_NAME:
	case KEY_PATH:
		return strcmp(*(char *const *)pa, *(char *const *)pb) == 0;
	case KEY_LISTEN:
		return strcmp(*(char *const *)pa, *(char *const *)pb) == 0 &&
		       a->server.listen_port == b->server.listen_port;
	case KEY_BOOL:
		return *(const bool *)pa == *(const bool *)pb;
	case KEY_SIZE:
		return *(const uint64_t *)pa == *(const uint64_t *)pb;
	case KEY_UINT:
	case KEY_DURATION:
		return *(const unsigned *)pa == *(const unsigned *)pb;
	case KEY_LOG_LEVEL:
		return *(const enum log_level *)pa == *(const enum log_level *)pb;
	case KEY_ENUM:
		return *(const int *)(const void *)pa == *(const int *)(const void *)pb;
	case KEY_FLAGS:
		return *(const unsigned *)(const void *)pa == *(const unsigned *)(const void *)pb;
	case KEY_PATH_LIST: {
		const struct config_list *la = (const void *)pa, *lb = (const void *)pb;
		if (la->count != lb->count)
			return false;
		for (unsigned i = 0; i < la->count; i++)
			if (strcmp(la->items[i], lb->items[i]) != 0)
				return false;
		return true;
	}
	}
	return false;
}

unsigned config_diff(const struct config *a, const struct config *b, char *out, size_t out_size)
{
	unsigned count = 0;
	size_t used = 0;

	if (out_size)
		out[0] = '\0';
	for (size_t i = 0; i < KEY_COUNT; i++) {
		if (key_equal(&keys[i], a, b))
			continue;
		count++;
		if (used < out_size) {
			int n = snprintf(out + used, out_size - used, "%s[%s] %s",
					 count > 1 ? ", " : "", keys[i].section, keys[i].name);
			if (n > 0)
				used += (size_t)n;
		}
	}
	return count;
}
