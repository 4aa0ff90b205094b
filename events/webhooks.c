#include "events/webhooks.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/version.h"
#include "events/stream.h"
#include "storage/cluster.h"
#include "storage/events.h"

/* Events read from the log per query. */
#define SCAN_BATCH 256
/* Manual redeliveries read per query. */
#define MANUAL_BATCH 64
/* Webhooks read per query when the set changed. */
#define RELOAD_BATCH 100

/* ---- Rules: URLs, addresses, types, secrets, signatures ---- */

static bool v4_private(uint32_t a)
{
	static const struct {
		uint32_t net, mask;
	} nets[] = {
		{0x00000000, 0xff000000}, /* 0/8 "this network" */
		{0x0a000000, 0xff000000}, /* 10/8 */
		{0x64400000, 0xffc00000}, /* 100.64/10 shared (CGNAT) */
		{0x7f000000, 0xff000000}, /* 127/8 loopback */
		{0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local (cloud metadata) */
		{0xac100000, 0xfff00000}, /* 172.16/12 */
		{0xc0000000, 0xffffff00}, /* 192.0.0/24 protocol assignments */
		{0xc0a80000, 0xffff0000}, /* 192.168/16 */
		{0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
		{0xe0000000, 0xf0000000}, /* 224/4 multicast */
		{0xf0000000, 0xf0000000}, /* 240/4 reserved, broadcast */
	};

	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if ((a & nets[i].mask) == nets[i].net)
			return true;
	return false;
}

static bool v6_private(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;
	static const uint8_t zero[16];

	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
		return true; /* :: and ::1 */
	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a) ||
	    (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)) /* 64:ff9b::/96 */
		return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
				  (uint32_t)b[14] << 8 | b[15]);
	if ((b[0] & 0xfe) == 0xfc)
		return true; /* fc00::/7 unique local */
	if (b[0] == 0xfe && (b[1] & 0x80) == 0x80)
		return true; /* fe80::/10 link-local, fec0::/10 site-local */
	if (b[0] == 0xff)
		return true; /* multicast */
	return false;
}

bool webhook_address_private(const void *sa)
{
	const struct sockaddr *s = sa;

	if (s->sa_family == AF_INET)
		return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (s->sa_family == AF_INET6)
		return v6_private(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return true; /* anything else is not a web server */
}

static void address_text(const struct sockaddr *sa, char *out, size_t size)
{
	const void *a = sa->sa_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (!inet_ntop(sa->sa_family, a, out, (socklen_t)size))
		snprintf(out, size, "?");
}

/* The host of a URL as curl parsed it: an IP literal is checked as it is,
 * "localhost" and its subdomains are loopback, other names are resolved
 * when resolve is set (a name that does not resolve now is left to the
 * check at delivery time). */
static enum err host_check(const char *host, bool resolve, char *why, size_t why_size)
{
	struct sockaddr_storage ss = {0};
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char h[256], addr[INET6_ADDRSTRLEN];
	size_t n = strlen(host);

	if (n >= sizeof(h) || n == 0) {
		snprintf(why, why_size, "the host name is empty or too long");
		return ERR_INVALID;
	}
	/* [v6] as curl gives it. */
	if (host[0] == '[' && host[n - 1] == ']')
		snprintf(h, sizeof(h), "%.*s", (int)(n - 2), host + 1);
	else
		snprintf(h, sizeof(h), "%s", host);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
	} else {
		n = strlen(h);
		if (h[n - 1] == '.')
			h[--n] = '\0';
		if (strcasecmp(h, "localhost") == 0 ||
		    (n > 10 && strcasecmp(h + n - 10, ".localhost") == 0)) {
			snprintf(why, why_size, "'%s' is a loopback host", host);
			return ERR_INVALID;
		}
		if (!resolve || getaddrinfo(h, NULL, &hints, &res) != 0)
			return ERR_OK;
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			if (webhook_address_private(ai->ai_addr)) {
				address_text(ai->ai_addr, addr, sizeof(addr));
				snprintf(why, why_size,
					 "'%s' resolves to %s, a loopback, private or link-local "
					 "address",
					 host, addr);
				freeaddrinfo(res);
				return ERR_INVALID;
			}
		}
		freeaddrinfo(res);
		return ERR_OK;
	}
	if (webhook_address_private(&ss)) {
		snprintf(why, why_size, "%s is a loopback, private or link-local address", host);
		return ERR_INVALID;
	}
	return ERR_OK;
}

enum err webhook_url_check(const char *url, bool allow_http, bool allow_private, bool resolve,
			   char *why, size_t why_size)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *frag = NULL;
	enum err e = ERR_INVALID;

	if (!u)
		return ERR_NOMEM;
	if (strlen(url) > WEBHOOK_URL_MAX) {
		snprintf(why, why_size, "the URL is longer than %d bytes", WEBHOOK_URL_MAX);
		goto out;
	}
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(why, why_size, "the URL contains a space or control character");
			goto out;
		}
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, why_size, "not an absolute URL");
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && !(allow_http && strcmp(scheme, "http") == 0)) {
		snprintf(why, why_size, "%s",
			 strcmp(scheme, "http") == 0 ? "the URL must be https (http needs [events] "
						       "allow_http_webhooks = "
						       "on)"
						     : "the URL must be https");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		snprintf(why, why_size, "the URL must not have a fragment");
		goto out;
	}
	e = allow_private ? ERR_OK : host_check(host, resolve, why, why_size);
	if (e && why[0] && strlen(why) + 48 < why_size) {
		size_t used = strlen(why);
		snprintf(why + used, why_size - used,
			 " (allowed with [events] allow_private_webhooks = on)");
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(frag);
	curl_url_cleanup(u);
	return e;
}

/* The type patterns are those of the event stream's ?types= (one parser
 * and one matcher: events/stream.h). */
bool webhook_types_valid(const char *types)
{
	struct event_filter f = {0};

	return strlen(types) <= WEBHOOK_TYPES_MAX && event_filter_types(&f, types, NULL) == ERR_OK;
}

bool webhook_types_match(const char *types, const char *type)
{
	struct event_filter f = {0};
	struct event ev = {0};

	snprintf(ev.type, sizeof(ev.type), "%s", type);
	return event_filter_types(&f, types, NULL) == ERR_OK && event_filter_match(&f, &ev);
}

#define SECRET_PREFIX "whsec_"

enum err webhook_secret_new(char out[WEBHOOK_SECRET_MAX])
{
	unsigned char raw[WEBHOOK_SECRET_BYTES];
	unsigned char b64[4 * ((WEBHOOK_SECRET_BYTES + 2) / 3) + 1];
	enum err e = crypto_random(raw, sizeof(raw));

	if (e)
		return e;
	EVP_EncodeBlock(b64, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	snprintf(out, WEBHOOK_SECRET_MAX, SECRET_PREFIX "%s", (const char *)b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	return ERR_OK;
}

enum err webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
		      size_t body_len, char *out, size_t out_size)
{
	unsigned char key[WEBHOOK_SECRET_MAX], mac[EVP_MAX_MD_SIZE];
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	const char *k = secret;
	unsigned int mac_len = 0;
	char head[96];
	int key_len, head_len;
	size_t k_len;

	if (strncmp(k, SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0)
		k += strlen(SECRET_PREFIX);
	k_len = strlen(k);
	if (k_len == 0 || k_len % 4 || k_len / 4 * 3 > sizeof(key))
		return ERR_INVALID;
	key_len = EVP_DecodeBlock(key, (const unsigned char *)k, (int)k_len);
	if (key_len < 0)
		return ERR_INVALID;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	for (size_t i = k_len; i > 0 && k[i - 1] == '='; i--)
		key_len--;
	head_len = snprintf(head, sizeof(head), "%s.%" PRId64 ".", msg_id, timestamp);
	if (head_len < 0 || (size_t)head_len >= sizeof(head))
		return ERR_INVALID;
	EVP_MAC *hm = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *mctx = hm ? EVP_MAC_CTX_new(hm) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	size_t mlen = 0;
	bool ok = mctx && EVP_MAC_init(mctx, key, (size_t)key_len, params) &&
		  EVP_MAC_update(mctx, (const unsigned char *)head, (size_t)head_len) &&
		  EVP_MAC_update(mctx, (const unsigned char *)body, body_len) &&
		  EVP_MAC_final(mctx, mac, &mlen, sizeof(mac));
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(hm);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
		return ERR_CRYPTO;
	mac_len = (unsigned)mlen;
	EVP_EncodeBlock(b64, mac, (int)mac_len);
	if ((size_t)snprintf(out, out_size, "v1,%s", (const char *)b64) >= out_size)
		return ERR_INVALID;
	return ERR_OK;
}

/* ---- The delivery thread ---- */

struct item {
	int64_t event_id;
	char type[64];
	char *body;
	size_t body_len;
	unsigned attempts; /* automatic attempts made */
	int64_t first_ms;  /* the first of them, 0: none */
	int64_t next_ms;   /* not before */
	bool loaded;	   /* attempts read from storage (a restart) */
	bool in_flight;
	bool done; /* its outcome is final */
};

struct hook {
	struct webhook w;
	struct event_filter filter; /* w.types parsed */
	int64_t cursor;		    /* the last event done with */
	int64_t written;	    /* the cursor as stored */
	int64_t scanned;	    /* the last event read from the log */
	struct item *q[WEBHOOK_WINDOW];
	unsigned qn;
	bool seen; /* during a reload */
};

struct transfer {
	struct webhook_worker *wk;
	CURL *easy;
	struct curl_slist *headers;
	int64_t hook_id;
	struct item *item; /* NULL: a manual redelivery */
	int64_t redelivery_id;
	int64_t event_id;
	char type[64];
	char *body; /* owned when manual */
	size_t body_len;
	int64_t at_ms;
	uint64_t started_usec;
	char errbuf[CURL_ERROR_SIZE];
	char refused[INET6_ADDRSTRLEN]; /* the address the SSRF guard refused */
	struct transfer *next;
};

struct webhook_worker {
	struct storage *storage;
	const struct config *config;
	struct metrics *metrics;
	CURLM *multi;
	pthread_t thread;
	atomic_bool stop, changed;
	atomic_uint enabled; /* enabled webhooks */
	_Atomic int64_t newest;
	struct hook **hooks;
	unsigned hook_count, hook_cap;
	struct transfer *transfers;
	unsigned running;
	struct webhook_redelivery manual[MANUAL_BATCH];
	unsigned manual_count;
	int64_t manual_after;
	bool manual_check; /* requests may wait in storage */
	/* Results waiting for their transaction. */
	struct webhook_delivery *attempts;
	unsigned attempt_count, attempt_cap;
	struct webhook_disable *disables;
	unsigned disable_count, disable_cap;
	int64_t *redeliveries_done;
	unsigned redelivery_count, redelivery_cap;
	uint64_t next_range_usec, next_sweep_usec;
	bool store_failing;
};

/* Grow *arr (of size elem) to hold one more; false when out of memory. */
static bool grow(void **arr, unsigned count, unsigned *cap, size_t elem)
{
	if (count < *cap)
		return true;
	unsigned n = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, (size_t)n * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

static void item_free(struct item *it)
{
	if (it) {
		free(it->body);
		free(it);
	}
}

static struct hook *hook_find(struct webhook_worker *wk, int64_t id)
{
	for (unsigned i = 0; i < wk->hook_count; i++)
		if (wk->hooks[i]->w.id == id)
			return wk->hooks[i];
	return NULL;
}

static void transfer_free(struct transfer *t)
{
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	if (!t->item)
		free(t->body);
	free(t);
}

/* Cut a transfer short (its webhook is gone, or the thread stops). */
static void transfer_abort(struct webhook_worker *wk, struct transfer *t)
{
	struct transfer **pp = &wk->transfers;

	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	curl_multi_remove_handle(wk->multi, t->easy);
	if (t->item)
		t->item->in_flight = false;
	wk->running--;
	transfer_free(t);
}

static void hook_free(struct webhook_worker *wk, struct hook *h)
{
	for (struct transfer *t = wk->transfers, *next; t; t = next) {
		next = t->next;
		if (t->hook_id == h->w.id)
			transfer_abort(wk, t);
	}
	for (unsigned i = 0; i < h->qn; i++)
		item_free(h->q[i]);
	OPENSSL_cleanse(h->w.secret, sizeof(h->w.secret));
	free(h);
}

/* Move the cursor past the events at the front whose outcome is final;
 * a disabled webhook drops what waits (it is read again from its cursor
 * when enabled). */
static void hook_settle(struct hook *h)
{
	unsigned k = 0, i;

	while (k < h->qn && h->q[k]->done && !h->q[k]->in_flight) {
		h->cursor = h->q[k]->event_id;
		item_free(h->q[k]);
		k++;
	}
	memmove(h->q, h->q + k, (h->qn - k) * sizeof(h->q[0]));
	h->qn -= k;
	if (!h->w.enabled) {
		for (i = k = 0; i < h->qn; i++) {
			if (h->q[i]->in_flight)
				h->q[k++] = h->q[i];
			else
				item_free(h->q[i]);
		}
		h->qn = k;
		if (k == 0)
			h->scanned = h->cursor;
	} else if (h->qn == 0 && h->scanned > h->cursor) {
		h->cursor = h->scanned; /* read, none of them matched */
	}
}

/* The webhooks as stored: new ones start at their cursor, changed ones
 * keep what is under way, deleted ones are dropped. */
static enum err reload_hooks(struct webhook_worker *wk)
{
	struct webhook *page = calloc(RELOAD_BATCH, sizeof(*page));
	int64_t after = 0;
	unsigned n = 0;
	enum err e = ERR_OK;

	if (!page)
		return ERR_NOMEM;
	for (unsigned i = 0; i < wk->hook_count; i++)
		wk->hooks[i]->seen = false;
	do {
		e = storage_webhook_list(wk->storage, after, RELOAD_BATCH, page, &n);
		for (unsigned i = 0; !e && i < n; i++) {
			struct webhook *row = &page[i];
			struct hook *h = hook_find(wk, row->id);
			after = row->id;
			if (!h) {
				if (!grow((void **)&wk->hooks, wk->hook_count, &wk->hook_cap,
					  sizeof(*wk->hooks)) ||
				    !(h = calloc(1, sizeof(*h)))) {
					e = ERR_NOMEM;
					break;
				}
				h->cursor = h->written = h->scanned = row->cursor;
				wk->hooks[wk->hook_count++] = h;
			} else if (!h->w.enabled && row->enabled) {
				h->scanned = h->cursor; /* enabled again: from its cursor */
			}
			h->w = *row;
			h->w.cursor = h->cursor;
			memset(&h->filter, 0, sizeof(h->filter));
			if (event_filter_types(&h->filter, h->w.types, NULL) != ERR_OK)
				h->w.enabled = false; /* the API lets no such list in */
			h->seen = true;
			hook_settle(h);
		}
	} while (!e && n == RELOAD_BATCH);
	for (unsigned i = 0; i < RELOAD_BATCH; i++)
		OPENSSL_cleanse(page[i].secret, sizeof(page[i].secret));
	free(page);
	if (e)
		return e;
	unsigned enabled = 0;
	for (unsigned i = 0; i < wk->hook_count;) {
		if (wk->hooks[i]->seen) {
			enabled += wk->hooks[i]->w.enabled;
			i++;
			continue;
		}
		hook_free(wk, wk->hooks[i]);
		wk->hooks[i] = wk->hooks[--wk->hook_count];
	}
	atomic_store(&wk->enabled, enabled);
	return ERR_OK;
}

/* The message body: the Standard Webhooks envelope (type, timestamp,
 * data) around the event as the stream sends it (events/stream.h). */
static char *event_body(const struct event *ev, size_t *ret_len)
{
	json_t *data = event_json(ev);
	json_t *at = data ? json_object_get(data, "at") : NULL;
	json_t *j = data ? json_pack("{s:I, s:s, s:O, s:o}", "id", (json_int_t)ev->id, "type",
				     ev->type, "timestamp", at ? at : json_null(), "data", data)
			 : NULL;
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (text)
		*ret_len = strlen(text);
	return text;
}

struct scan {
	struct hook *h;
	enum err e;
	unsigned rows;
	bool full; /* stopped: the window is full */
};

static bool scan_cb(void *cls, const struct event *ev)
{
	struct scan *sc = cls;
	struct hook *h = sc->h;
	struct item *it;

	if (h->qn >= WEBHOOK_WINDOW) {
		sc->full = true;
		return false;
	}
	sc->rows++;
	if (event_filter_match(&h->filter, ev)) {
		it = calloc(1, sizeof(*it));
		if (!it || !(it->body = event_body(ev, &it->body_len))) {
			free(it);
			sc->e = ERR_NOMEM;
			return false;
		}
		it->event_id = ev->id;
		snprintf(it->type, sizeof(it->type), "%s", ev->type);
		h->q[h->qn++] = it;
	}
	h->scanned = ev->id;
	return true;
}

static void scan(struct webhook_worker *wk, struct hook *h, int64_t newest)
{
	struct scan sc = {h, ERR_OK, 0, false};

	if (!h->w.enabled || h->qn >= WEBHOOK_WINDOW || h->scanned >= newest)
		return;
	if (storage_events_after(wk->storage, h->scanned, SCAN_BATCH, scan_cb, &sc) || sc.e)
		return; /* tried again on the next round */
	/* The whole log read: newest was a hint above what committed (an
	 * event rolled back). Writers are serialised, so no id up to it can
	 * still appear. */
	if (!sc.full && sc.rows < SCAN_BATCH && h->scanned < newest)
		h->scanned = newest;
	hook_settle(h);
}

static size_t discard(char *ptr, size_t size, size_t n, void *cls)
{
	(void)ptr;
	(void)cls;
	return size * n;
}

/* The SSRF guard after DNS resolution: every connection curl opens. */
static curl_socket_t open_socket(void *cls, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct transfer *t = cls;

	if (purpose == CURLSOCKTYPE_IPCXN && !t->wk->config->webhooks.allow_private &&
	    webhook_address_private(&addr->addr)) {
		address_text(&addr->addr, t->refused, sizeof(t->refused));
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

static bool header_add(struct transfer *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool header_add(struct transfer *t, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	struct curl_slist *l;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l = curl_slist_append(t->headers, line);
	if (!l)
		return false;
	t->headers = l;
	return true;
}

static enum err transfer_start(struct webhook_worker *wk, const struct hook *h, struct item *it,
			       const struct webhook_redelivery *manual, const char *type,
			       char *body, size_t body_len)
{
	const struct config *c = wk->config;
	struct transfer *t = calloc(1, sizeof(*t));
	char id[32], sig[128];
	int64_t now = time_now_ms();

	if (!t)
		return ERR_NOMEM;
	t->wk = wk;
	t->hook_id = h->w.id;
	t->item = it;
	t->event_id = it ? it->event_id : manual->event_id;
	t->redelivery_id = manual ? manual->id : 0;
	snprintf(t->type, sizeof(t->type), "%s", type);
	t->body = body;
	t->body_len = body_len;
	t->at_ms = now;
	snprintf(id, sizeof(id), "%" PRId64, t->event_id);
	if (webhook_sign(h->w.secret, id, now / 1000, body, body_len, sig, sizeof(sig)) ||
	    !(t->easy = curl_easy_init()) || !header_add(t, "Content-Type: application/json") ||
	    !header_add(t, "webhook-id: %s", id) ||
	    !header_add(t, "webhook-timestamp: %" PRId64, now / 1000) ||
	    !header_add(t, "webhook-signature: %s", sig) || !header_add(t, "Expect:")) {
		t->item = NULL;
		t->body = NULL; /* the caller's */
		transfer_free(t);
		return ERR_NOMEM;
	}
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, h->w.url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c->webhooks.allow_http ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never through the environment's proxy */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)WEBHOOK_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "suitd/" SUITD_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	if (c->webhooks.cacert[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, c->webhooks.cacert);
	if (curl_multi_add_handle(wk->multi, e) != CURLM_OK) {
		t->item = NULL;
		t->body = NULL;
		transfer_free(t);
		return ERR_INTERNAL;
	}
	t->started_usec = time_mono_usec();
	t->next = wk->transfers;
	wk->transfers = t;
	wk->running++;
	if (it)
		it->in_flight = true;
	return ERR_OK;
}

static void dispatch(struct webhook_worker *wk, int64_t now)
{
	for (unsigned i = 0; i < wk->hook_count && wk->running < WEBHOOK_CONCURRENCY; i++) {
		struct hook *h = wk->hooks[i];
		for (unsigned k = 0; h->w.enabled && k < h->qn; k++) {
			struct item *it = h->q[k];
			if (wk->running >= WEBHOOK_CONCURRENCY)
				return;
			if (it->done || it->in_flight || it->next_ms > now)
				continue;
			if (!it->loaded) {
				/* After a restart the schedule goes on where it was. */
				if (storage_webhook_attempts(wk->storage, h->w.id, it->event_id,
							     &it->attempts, &it->first_ms))
					return;
				it->loaded = true;
			}
			if (transfer_start(wk, h, it, NULL, it->type, it->body, it->body_len))
				return;
		}
	}
}

struct fetch {
	int64_t id;
	char type[64];
	char *body;
	size_t body_len;
};

static bool fetch_cb(void *cls, const struct event *ev)
{
	struct fetch *f = cls;

	if (ev->id == f->id) {
		snprintf(f->type, sizeof(f->type), "%s", ev->type);
		f->body = event_body(ev, &f->body_len);
	}
	return false;
}

static bool attempt_add(struct webhook_worker *wk, const struct webhook_delivery *d)
{
	if (!grow((void **)&wk->attempts, wk->attempt_count, &wk->attempt_cap,
		  sizeof(*wk->attempts)))
		return false;
	wk->attempts[wk->attempt_count++] = *d;
	if (wk->metrics)
		atomic_fetch_add_explicit(&wk->metrics->webhook_deliveries[d->result], 1,
					  memory_order_relaxed);
	return true;
}

static void redelivery_done(struct webhook_worker *wk, int64_t id)
{
	if (grow((void **)&wk->redeliveries_done, wk->redelivery_count, &wk->redelivery_cap,
		 sizeof(*wk->redeliveries_done)))
		wk->redeliveries_done[wk->redelivery_count++] = id;
}

/* Manual redeliveries: each one attempt, outside the cursor's order. */
static void dispatch_manual(struct webhook_worker *wk)
{
	unsigned k = 0;

	if (wk->manual_count == 0 && wk->manual_check &&
	    storage_webhook_redeliveries(wk->storage, wk->manual_after, MANUAL_BATCH, wk->manual,
					 &wk->manual_count) == ERR_OK) {
		/* Ids grow: those read are never read again. */
		if (wk->manual_count)
			wk->manual_after = wk->manual[wk->manual_count - 1].id;
		wk->manual_check = wk->manual_count == MANUAL_BATCH;
	}
	for (; k < wk->manual_count && wk->running < WEBHOOK_CONCURRENCY; k++) {
		const struct webhook_redelivery *r = &wk->manual[k];
		struct hook *h = hook_find(wk, r->webhook_id);
		struct fetch f = {r->event_id, "", NULL, 0};
		if (!h) {
			redelivery_done(wk, r->id); /* deleted meanwhile */
			continue;
		}
		storage_events_after(wk->storage, r->event_id - 1, 1, fetch_cb, &f);
		if (!f.body) {
			struct webhook_delivery d = {.webhook_id = h->w.id,
						     .event_id = r->event_id,
						     .manual = true,
						     .at_ms = time_now_ms(),
						     .result = WEBHOOK_FAILED};
			snprintf(d.event_type, sizeof(d.event_type), "%s", "unknown");
			snprintf(d.error, sizeof(d.error), "the event is no longer in the log");
			attempt_add(wk, &d);
			redelivery_done(wk, r->id);
			continue;
		}
		if (transfer_start(wk, h, NULL, r, f.type, f.body, f.body_len)) {
			free(f.body);
			break;
		}
	}
	memmove(wk->manual, wk->manual + k, (wk->manual_count - k) * sizeof(wk->manual[0]));
	wk->manual_count -= k;
}

static uint64_t backoff_ms(const struct webhook_worker *wk, unsigned attempts)
{
	uint64_t d = (uint64_t)wk->config->webhooks.retry_base * 1000;
	uint32_t r = 0;

	for (unsigned i = 1; i < attempts && d < WEBHOOK_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > WEBHOOK_BACKOFF_MAX_MS)
		d = WEBHOOK_BACKOFF_MAX_MS;
	/* Jitter: between half and all of it, so receivers coming back are
	 * not hit by every sender at once. */
	crypto_random(&r, sizeof(r));
	return d / 2 + (d / 2 + 1) * r / UINT32_MAX;
}

static void complete(struct webhook_worker *wk, struct transfer *t, CURLcode rc)
{
	struct webhook_delivery d = {.webhook_id = t->hook_id,
				     .event_id = t->event_id,
				     .manual = t->item == NULL,
				     .at_ms = t->at_ms};
	struct hook *h = hook_find(wk, t->hook_id);
	int64_t now = time_now_ms();
	long status = 0;

	snprintf(d.event_type, sizeof(d.event_type), "%s", t->type);
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	d.status = rc == CURLE_OK ? (unsigned)status : 0;
	d.latency_ms = (unsigned)((time_mono_usec() - t->started_usec) / 1000);
	if (t->refused[0])
		snprintf(d.error, sizeof(d.error),
			 "refused to connect to %s, a loopback, private or link-local address",
			 t->refused);
	else if (rc != CURLE_OK)
		snprintf(d.error, sizeof(d.error), "%.200s",
			 t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		snprintf(d.error, sizeof(d.error), "HTTP %ld", status);
	bool ok = rc == CURLE_OK && status >= 200 && status <= 299;
	if (!t->item) {
		d.result = ok ? WEBHOOK_OK : WEBHOOK_FAILED;
		attempt_add(wk, &d);
		redelivery_done(wk, t->redelivery_id);
		return;
	}
	struct item *it = t->item;
	it->in_flight = false;
	it->attempts++;
	if (!it->first_ms)
		it->first_ms = t->at_ms;
	int64_t deadline = it->first_ms + (int64_t)wk->config->webhooks.max_age * 1000;
	if (ok) {
		d.result = WEBHOOK_OK;
		it->done = true;
	} else if (now >= deadline) {
		d.result = WEBHOOK_FAILED;
		it->done = true;
		if (h && h->w.enabled &&
		    grow((void **)&wk->disables, wk->disable_count, &wk->disable_cap,
			 sizeof(*wk->disables))) {
			struct webhook_disable *x = &wk->disables[wk->disable_count++];
			x->webhook_id = h->w.id;
			snprintf(x->reason, sizeof(x->reason),
				 "event %" PRId64
				 " failed for %u s after %u attempts (last: %.100s)",
				 it->event_id, wk->config->webhooks.max_age, it->attempts, d.error);
			h->w.enabled = false;
		}
	} else {
		d.result = WEBHOOK_RETRY;
		int64_t next = now + (int64_t)backoff_ms(wk, it->attempts);
		it->next_ms = next < deadline ? next : deadline;
	}
	attempt_add(wk, &d);
	if (h)
		hook_settle(h);
}

static void collect(struct webhook_worker *wk)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(wk->multi, &left))) {
		struct transfer *t, **pp = &wk->transfers;
		char *priv = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURLcode rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		t = (struct transfer *)(void *)priv;
		while (*pp && *pp != t)
			pp = &(*pp)->next;
		if (*pp)
			*pp = t->next;
		curl_multi_remove_handle(wk->multi, t->easy);
		wk->running--;
		complete(wk, t, rc);
		transfer_free(t);
	}
}

/* One transaction for what the round produced; kept for the next round
 * when it fails. */
static void flush(struct webhook_worker *wk)
{
	struct webhook_cursor *cursors = NULL;
	unsigned n = 0, cap = 0;
	enum err e;

	for (unsigned i = 0; i < wk->hook_count; i++) {
		struct hook *h = wk->hooks[i];
		if (h->cursor <= h->written)
			continue;
		if (!grow((void **)&cursors, n, &cap, sizeof(*cursors)))
			break;
		cursors[n++] = (struct webhook_cursor){h->w.id, h->cursor};
	}
	if (!n && !wk->attempt_count && !wk->disable_count && !wk->redelivery_count)
		return;
	struct webhook_batch b = {wk->attempts,
				  wk->attempt_count,
				  cursors,
				  n,
				  wk->disables,
				  wk->disable_count,
				  wk->redeliveries_done,
				  wk->redelivery_count};
	e = storage_webhook_record(wk->storage, &b);
	if (e) {
		if (!wk->store_failing)
			log_err("webhooks: cannot record deliveries (%s); trying again",
				err_title(e));
		wk->store_failing = true;
		free(cursors);
		return;
	}
	if (wk->store_failing)
		log_notice("webhooks: deliveries recorded again");
	wk->store_failing = false;
	for (unsigned i = 0; i < n; i++) {
		struct hook *h = hook_find(wk, cursors[i].webhook_id);
		if (h)
			h->written = cursors[i].cursor;
	}
	for (unsigned i = 0; i < wk->disable_count; i++)
		log_warn("webhook %" PRId64 " disabled: %s", wk->disables[i].webhook_id,
			 wk->disables[i].reason);
	wk->attempt_count = wk->disable_count = wk->redelivery_count = 0;
	free(cursors);
}

static void lag_update(struct webhook_worker *wk, int64_t newest)
{
	int64_t lag = 0;

	for (unsigned i = 0; i < wk->hook_count; i++) {
		const struct hook *h = wk->hooks[i];
		if (h->w.enabled && newest - h->cursor > lag)
			lag = newest - h->cursor;
	}
	if (wk->metrics)
		atomic_store_explicit(&wk->metrics->webhook_lag, lag, memory_order_relaxed);
}

/* How long the thread may sleep: until the next attempt due, at most 1 s. */
static int wait_ms(const struct webhook_worker *wk, int64_t now, int64_t newest)
{
	int64_t next = now + 1000;

	for (unsigned i = 0; i < wk->hook_count; i++) {
		const struct hook *h = wk->hooks[i];
		for (unsigned k = 0; h->w.enabled && k < h->qn; k++) {
			const struct item *it = h->q[k];
			if (!it->done && !it->in_flight && it->next_ms < next)
				next = it->next_ms;
		}
	}
	if (wk->running >= WEBHOOK_CONCURRENCY)
		return 1000; /* a transfer ending wakes the poll */
	/* Room in a window and events to read: at once. */
	for (unsigned i = 0; i < wk->hook_count; i++) {
		const struct hook *h = wk->hooks[i];
		if (h->w.enabled && h->qn < WEBHOOK_WINDOW && h->scanned < newest)
			return 0;
	}
	if (wk->manual_count)
		return 0;
	return next <= now ? 0 : (int)(next - now);
}

static void listener(void *cls, int64_t newest_id)
{
	struct webhook_worker *wk = cls;
	int64_t cur = atomic_load(&wk->newest);

	while (newest_id > cur && !atomic_compare_exchange_weak(&wk->newest, &cur, newest_id))
		;
	/* Called after every commit with events (the report group commit
	 * too): without an enabled webhook, no system call. */
	if (atomic_load_explicit(&wk->enabled, memory_order_relaxed))
		curl_multi_wakeup(wk->multi);
}

/* Attempts older than [events] retention go, as the events do: a batch a
 * minute. */
static void sweep(struct webhook_worker *wk)
{
	unsigned n = 0;

	if (time_mono_usec() < wk->next_sweep_usec)
		return;
	wk->next_sweep_usec = time_mono_usec() + 60 * 1000000ull;
	storage_webhook_deliveries_sweep(
		wk->storage, time_now_ms() - (int64_t)wk->config->events.retention * 1000, 1000,
		&n);
}

/* On a shared database one node delivers: the housekeeper
 * (storage/cluster.h). Any other node cuts what it has in flight (the
 * housekeeper delivers it again from the stored cursor: at least once, as
 * after a crash), stores what it finished, and forgets its webhooks, to
 * read them anew with their stored cursors if the lease comes to it. True
 * while it waits so. */
static bool standby(struct webhook_worker *wk)
{
	if (storage_housekeeper(wk->storage))
		return false;
	while (wk->transfers)
		transfer_abort(wk, wk->transfers);
	flush(wk);
	if (!wk->attempt_count && !wk->disable_count) {
		while (wk->hook_count)
			hook_free(wk, wk->hooks[--wk->hook_count]);
		atomic_store(&wk->enabled, 0);
		atomic_store(&wk->changed, true);
	}
	curl_multi_poll(wk->multi, NULL, 0, STORAGE_HOUSEKEEPER_RETRY_MS, NULL);
	return true;
}

static void *worker_main(void *arg)
{
	struct webhook_worker *wk = arg;
	int still = 0;

	while (!atomic_load(&wk->stop)) {
		int64_t now = time_now_ms(), oldest, newest;
		if (standby(wk))
			continue;
		if (time_mono_usec() >= wk->next_range_usec) {
			/* The notifications are hints: look at the log itself too. */
			if (storage_events_range(wk->storage, &oldest, &newest) == ERR_OK)
				listener(wk, newest);
			wk->next_range_usec = time_mono_usec() + 1000000;
		}
		/* Results not yet stored first: the set is read after them. */
		if (!wk->attempt_count && !wk->disable_count &&
		    atomic_exchange(&wk->changed, false)) {
			if (reload_hooks(wk))
				atomic_store(&wk->changed, true);
			wk->manual_check = true;
		}
		newest = atomic_load(&wk->newest);
		for (unsigned i = 0; i < wk->hook_count; i++)
			scan(wk, wk->hooks[i], newest);
		dispatch_manual(wk);
		dispatch(wk, now);
		curl_multi_perform(wk->multi, &still);
		collect(wk);
		flush(wk);
		lag_update(wk, newest);
		sweep(wk);
		curl_multi_poll(wk->multi, NULL, 0, wait_ms(wk, time_now_ms(), newest), NULL);
	}
	/* Stop: what is in flight gets a moment, then is cut (and delivered
	 * again after the restart: its cursor has not moved). */
	uint64_t until = time_mono_usec() + (uint64_t)WEBHOOK_STOP_GRACE_MS * 1000;
	while (wk->running && time_mono_usec() < until) {
		curl_multi_perform(wk->multi, &still);
		collect(wk);
		if (wk->running)
			curl_multi_poll(wk->multi, NULL, 0, 100, NULL);
	}
	while (wk->transfers)
		transfer_abort(wk, wk->transfers);
	flush(wk);
	return NULL;
}

enum err webhook_worker_start(struct storage *s, const struct config *config, struct metrics *m,
			      struct webhook_worker **ret)
{
	struct webhook_worker *wk;
	enum err e;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ERR_INTERNAL;
	wk = calloc(1, sizeof(*wk));
	if (!wk)
		return ERR_NOMEM;
	wk->storage = s;
	wk->config = config;
	wk->metrics = m;
	atomic_init(&wk->stop, false);
	atomic_init(&wk->changed, true);
	atomic_init(&wk->newest, 0);
	atomic_init(&wk->enabled, 0);
	wk->multi = curl_multi_init();
	if (!wk->multi) {
		free(wk);
		return ERR_NOMEM;
	}
	curl_multi_setopt(wk->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)WEBHOOK_CONCURRENCY);
	curl_multi_setopt(wk->multi, CURLMOPT_MAXCONNECTS, (long)WEBHOOK_CONCURRENCY);
	e = storage_events_listen(s, listener, wk);
	if (!e && pthread_create(&wk->thread, NULL, worker_main, wk) != 0)
		e = ERR_INTERNAL;
	if (e) {
		curl_multi_cleanup(wk->multi);
		free(wk);
		return e;
	}
	*ret = wk;
	return ERR_OK;
}

void webhook_worker_stop(struct webhook_worker *wk)
{
	if (!wk)
		return;
	atomic_store(&wk->stop, true);
	curl_multi_wakeup(wk->multi);
	pthread_join(wk->thread, NULL);
	for (unsigned i = 0; i < wk->hook_count; i++)
		hook_free(wk, wk->hooks[i]);
	free(wk->hooks);
	free(wk->attempts);
	free(wk->disables);
	free(wk->redeliveries_done);
	curl_multi_cleanup(wk->multi);
	/* The listener stays registered (storage has no unregister): after
	 * this only the stopping main thread commits, and it no longer does
	 * so with events. */
	free(wk);
}

void webhook_worker_changed(struct webhook_worker *wk)
{
	if (!wk)
		return;
	atomic_store(&wk->changed, true);
	curl_multi_wakeup(wk->multi);
}
