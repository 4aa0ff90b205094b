/* suitctl payload upload: the file is streamed to POST /api/v1/payloads
 * in 512 KiB reads, never loaded whole. The first attempt sends the bytes
 * and nothing else (TLS guards them in transit, the server hashes what it
 * stores): hashing them here too would cost a core-second per GiB on the
 * machine that also runs suitd in a CI job, and the rate of `curl -T` is
 * the goal (bench/suitctl_upload.sh). A failed attempt (connection, 5xx)
 * is retried idempotently by digest: the file is hashed, and if the server
 * already holds those bytes the upload is done, else they are sent again
 * with Content-Digest, which the server checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/crypto.h"
#include "tools/suitctl/ctl.h"

#define UPLOAD_BLOCK (512u << 10)
#define UPLOAD_TRIES 4

struct upload {
	struct ctl *c;
	int fd;
	uint64_t size, sent;
	EVP_MD_CTX *md;
	bool bar;
	double started, last_draw;
	const char *label;
};

static size_t on_read(char *out, size_t size, size_t n, void *user)
{
	struct upload *u = user;
	ssize_t got;

	do
		got = read(u->fd, out, size * n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return CURL_READFUNC_ABORT;
	u->sent += (uint64_t)got;
	return (size_t)got;
}

static void human(double bytes, char *out, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	unsigned i = 0;

	while (bytes >= 1024 && i < 4) {
		bytes /= 1024;
		i++;
	}
	snprintf(out, size, i ? "%.1f %s" : "%.0f %s", bytes, units[i]);
}

/* "  42% [########            ] 420.0 MiB/1.0 GiB  210.3 MiB/s  ETA 0:03" */
static void draw(struct upload *u, bool final)
{
	double t = ctl_now_s(), el = t - u->started, rate = el > 0 ? (double)u->sent / el : 0;
	unsigned pct = u->size ? (unsigned)(u->sent * 100 / u->size) : 100, fill = pct / 5;
	char done[32], total[32], r[32], eta[32] = "--:--", bar[21];

	if (!u->bar || (!final && t - u->last_draw < 0.2))
		return;
	u->last_draw = t;
	for (unsigned i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[20] = 0;
	human((double)u->sent, done, sizeof(done));
	human((double)u->size, total, sizeof(total));
	human(rate, r, sizeof(r));
	if (rate > 0 && u->sent < u->size) {
		long s = (long)((double)(u->size - u->sent) / rate);
		snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
	} else if (u->sent >= u->size) {
		snprintf(eta, sizeof(eta), "0:00");
	}
	fprintf(stderr, "\r%s %3u%% [%s] %s/%s  %s/s  ETA %s\033[K", u->label, pct, bar, done,
		total, r, eta);
	if (final)
		fputc('\n', stderr);
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	draw(user, false);
	return 0;
}

/* One POST of the whole file. digest_b64: Content-Digest, or NULL. */
static int attempt(struct upload *u, const char *name, const char *digest_b64, struct ctl_resp *r,
		   bool *transient)
{
	struct ctl *c = u->c;
	struct curl_slist *h = NULL;
	struct buf url;
	char cd[128], err[CURL_ERROR_SIZE] = "";
	CURLcode cc;

	*transient = false;
	if (lseek(u->fd, 0, SEEK_SET) != 0)
		return CTL_USAGE;
	u->sent = 0;
	buf_init(&url, 4096);
	buf_printf(&url, "%s/api/v1/payloads", c->url);
	if (name) {
		buf_append_str(&url, "?name=");
		ctl_escape(c, &url, name);
	}
	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	if (digest_b64) {
		snprintf(cd, sizeof(cd), "Content-Digest: sha-256=:%s:", digest_b64);
		h = curl_slist_append(h, cd);
	}
	h = ctl_curl_prepare(c, buf_str(&url), h);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)u->size);
	curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c->curl, CURLOPT_READDATA, u);
	curl_easy_setopt(c->curl, CURLOPT_UPLOAD_BUFFERSIZE, (long)UPLOAD_BLOCK);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, ctl_on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, ctl_on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, r);
	/* A stalled server: under 1 KiB/s for 60 s ends the attempt. */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 60L);
	if (u->bar) {
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, u);
	}
	u->started = ctl_now_s();
	u->last_draw = 0;
	buf_clear(&r->body);
	r->content_type[0] = 0;
	cc = curl_easy_perform(c->curl);
	curl_slist_free_all(h);
	if (cc != CURLE_OK) {
		if (u->bar)
			fputc('\n', stderr);
		fprintf(stderr, "suitctl: upload to %s: %s\n", buf_str(&url),
			err[0] ? err : curl_easy_strerror(cc));
		buf_release(&url);
		*transient = true;
		return CTL_TRANSPORT;
	}
	buf_release(&url);
	draw(u, true);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status == 200 || r->status == 201)
		return CTL_OK;
	*transient = r->status >= 500 && r->status != 507;
	return ctl_problem(r);
}

/* The digest of the whole file, in a pass of its own (after a failed
 * attempt that did not read it all). */
static int hash_file(struct upload *u, uint8_t out[32])
{
	uint8_t *block = malloc(UPLOAD_BLOCK);
	ssize_t got;
	unsigned n = 32;

	if (!block || lseek(u->fd, 0, SEEK_SET) != 0) {
		free(block);
		return CTL_USAGE;
	}
	EVP_DigestInit_ex(u->md, EVP_sha256(), NULL);
	while ((got = read(u->fd, block, UPLOAD_BLOCK)) > 0)
		EVP_DigestUpdate(u->md, block, (size_t)got);
	free(block);
	if (got < 0)
		return CTL_USAGE;
	EVP_DigestFinal_ex(u->md, out, &n);
	return CTL_OK;
}

int ctl_payload_upload(struct ctl *c, const char *path, const char *name, json_t **ret)
{
	struct upload u = {.c = c, .fd = -1, .label = "upload"};
	struct ctl_resp r;
	struct stat st;
	uint8_t digest[32];
	char hex[65] = "", b64[64] = "", probe[128];
	bool known = false, transient = false;
	int rc = CTL_USAGE;
	json_error_t je;

	u.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (u.fd < 0 || fstat(u.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "suitctl: cannot read '%s': %s\n", path,
			u.fd < 0 ? strerror(errno) : "not a regular file");
		if (u.fd >= 0)
			close(u.fd);
		return CTL_USAGE;
	}
	posix_fadvise(u.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	u.size = (uint64_t)st.st_size;
	u.md = EVP_MD_CTX_new();
	u.bar = c->progress;
	ctl_resp_init(&r);
	for (int t = 1; t <= UPLOAD_TRIES; t++) {
		rc = attempt(&u, name, known ? b64 : NULL, &r, &transient);
		if (rc == CTL_OK || !transient || t == UPLOAD_TRIES)
			break;
		if (!known) {
			if (hash_file(&u, digest) != CTL_OK) {
				fprintf(stderr, "suitctl: cannot read '%s'\n", path);
				break;
			}
			known = true;
		}
		hex_encode(digest, 32, hex);
		EVP_EncodeBlock((unsigned char *)b64, digest, 32);
		/* Idempotent by digest: did those bytes arrive after all? */
		snprintf(probe, sizeof(probe), "/api/v1/payloads/%s", hex);
		struct ctl_resp pr;
		ctl_resp_init(&pr);
		pr.quiet = true;
		int prc = ctl_call(c, "GET", probe, NULL, NULL, 0, &pr);
		if (prc == CTL_OK) {
			buf_clear(&r.body);
			buf_append(&r.body, pr.body.data, pr.body.len);
			r.status = 200;
			ctl_resp_release(&pr);
			rc = CTL_OK;
			break;
		}
		ctl_resp_release(&pr);
		fprintf(stderr, "suitctl: retrying the upload (%d of %d)\n", t + 1, UPLOAD_TRIES);
		sleep(1u << (t - 1));
	}
	if (rc == CTL_OK) {
		json_t *p = json_loadb(buf_str(&r.body), r.body.len, 0, &je);
		const char *got = json_string_value(json_object_get(p, "sha256"));
		if (known && !hex[0])
			hex_encode(digest, 32, hex);
		if (!got || (known && strcmp(got, hex) != 0)) {
			fprintf(stderr,
				"suitctl: the server stored %s but the file's SHA-256 is %s; "
				"was '%s' changed during the upload?\n",
				got ? got : "(no sha256 in the answer)", hex, path);
			json_decref(p);
			rc = CTL_TRANSPORT;
		} else {
			*ret = p;
		}
	}
	ctl_resp_release(&r);
	EVP_MD_CTX_free(u.md);
	close(u.fd);
	return rc;
}
