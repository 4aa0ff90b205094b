/* suitctl connection settings (flags, SUITD_* environment, profiles of
 * ~/.config/suitctl/config) and the HTTP calls (libcurl). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ini.h>

#include "tools/suitctl/ctl.h"

void ctl_resp_init(struct ctl_resp *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, CTL_MAX_BODY);
}

void ctl_resp_release(struct ctl_resp *r)
{
	buf_release(&r->body);
}

/* A profile: what [profile NAME] (or [default]) says. */
struct profile {
	const char *want; /* the section wanted */
	const char *path;
	bool found;
	char url[1024], key[256], key_file[1024], cacert[1024];
	char error[256];
};

static void trim_copy(char *out, size_t size, const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	snprintf(out, size, "%.*s", (int)n, s);
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct profile *p = user;
	char want[160];
	size_t size;
	char *dst;

	snprintf(want, sizeof(want), "profile %s", p->want);
	if (strcmp(section, want) != 0 &&
	    !(strcmp(p->want, "default") == 0 && strcmp(section, "default") == 0))
		return 1;
	p->found = true;
	if (!name) /* the section header itself (INI_CALL_HANDLER_ON_NEW_SECTION) */
		return 1;
	if (strcmp(name, "url") == 0) {
		dst = p->url;
		size = sizeof(p->url);
	} else if (strcmp(name, "api_key") == 0) {
		dst = p->key;
		size = sizeof(p->key);
	} else if (strcmp(name, "api_key_file") == 0) {
		dst = p->key_file;
		size = sizeof(p->key_file);
	} else if (strcmp(name, "cacert") == 0) {
		dst = p->cacert;
		size = sizeof(p->cacert);
	} else {
		snprintf(p->error, sizeof(p->error),
			 "unknown key '%.60s' (url, api_key, api_key_file, cacert)", name);
		return 0;
	}
	if (dst[0]) {
		snprintf(p->error, sizeof(p->error), "'%.60s' given twice", name);
		return 0;
	}
	trim_copy(dst, size, value);
	return 1;
}

static void config_path(char *out, size_t size)
{
	const char *s = getenv("SUITCTL_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (s && *s)
		snprintf(out, size, "%s", s);
	else if (xdg && *xdg)
		snprintf(out, size, "%s/suitctl/config", xdg);
	else
		snprintf(out, size, "%s/.config/suitctl/config", home ? home : "");
}

/* Read the profile; a missing file is no profile. Refuses a file that
 * others may read or write (it may hold keys), like ssh. */
static int profile_load(struct profile *p, bool explicit)
{
	FILE *f = fopen(p->path, "r");
	struct stat st;
	int line;

	if (!f) {
		if (errno == ENOENT && !explicit)
			return CTL_OK;
		fprintf(stderr, "suitctl: cannot read '%s': %s\n", p->path, strerror(errno));
		return CTL_USAGE;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "suitctl: '%s' is not a regular file\n", p->path);
		fclose(f);
		return CTL_USAGE;
	}
	if (st.st_mode & 077) {
		fprintf(stderr,
			"suitctl: '%s' has mode %04o: it may hold API keys, so it must be "
			"readable by its owner only; run: chmod 600 '%s'\n",
			p->path, (unsigned)(st.st_mode & 07777), p->path);
		fclose(f);
		return CTL_USAGE;
	}
	if (st.st_uid != geteuid()) {
		fprintf(stderr, "suitctl: '%s' belongs to another user; refused\n", p->path);
		fclose(f);
		return CTL_USAGE;
	}
	line = ini_parse_file(f, on_ini, p);
	fclose(f);
	if (line) {
		fprintf(stderr, "suitctl: %s:%d: %s\n", p->path, line,
			p->error[0] ? p->error : "not an INI line");
		return CTL_USAGE;
	}
	if (explicit && !p->found) {
		fprintf(stderr, "suitctl: no [profile %s] in '%s'\n", p->want, p->path);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* The first line of a key file, trimmed. */
static int key_read(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	char line[512];

	if (!f) {
		fprintf(stderr, "suitctl: cannot read the API key file '%s': %s\n", path,
			strerror(errno));
		return CTL_USAGE;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	trim_copy(out, size, line);
	explicit_bzero(line, sizeof(line));
	if (!out[0]) {
		fprintf(stderr, "suitctl: the API key file '%s' is empty\n", path);
		return CTL_USAGE;
	}
	return CTL_OK;
}

int ctl_connect(struct ctl *c, const char *url, const char *key_file, const char *cacert,
		const char *profile)
{
	struct profile p = {0};
	char path[1024];
	const char *env_profile = getenv("SUITCTL_PROFILE");
	int rc;

	config_path(path, sizeof(path));
	p.path = path;
	p.want = profile ? profile : (env_profile && *env_profile ? env_profile : "default");
	rc = profile_load(&p, profile != NULL || (env_profile && *env_profile));
	if (rc)
		return rc;
	/* Flags, then the environment, then the profile. */
	const char *e_url = getenv("SUITD_URL"), *e_key = getenv("SUITD_API_KEY"),
		   *e_key_file = getenv("SUITD_API_KEY_FILE"), *e_ca = getenv("SUITD_CACERT");
	if (!url)
		url = e_url && *e_url ? e_url : p.url;
	snprintf(c->url, sizeof(c->url), "%s", url);
	size_t n = strlen(c->url);
	while (n && c->url[n - 1] == '/')
		c->url[--n] = 0;
	if (!cacert)
		cacert = e_ca && *e_ca ? e_ca : p.cacert;
	snprintf(c->cacert, sizeof(c->cacert), "%s", cacert);
	if (key_file)
		rc = key_read(key_file, c->key, sizeof(c->key));
	else if (e_key && *e_key)
		trim_copy(c->key, sizeof(c->key), e_key);
	else if (e_key_file && *e_key_file)
		rc = key_read(e_key_file, c->key, sizeof(c->key));
	else if (p.key[0])
		snprintf(c->key, sizeof(c->key), "%s", p.key);
	else if (p.key_file[0])
		rc = key_read(p.key_file, c->key, sizeof(c->key));
	explicit_bzero(p.key, sizeof(p.key));
	if (rc)
		return rc;
	if (!c->url[0]) {
		fprintf(stderr,
			"suitctl: no server: pass --url https://HOST:PORT, set SUITD_URL, "
			"or add url = ... to a profile in '%s'\n",
			path);
		return CTL_USAGE;
	}
	if (strncmp(c->url, "https://", 8) != 0 && strncmp(c->url, "http://", 7) != 0) {
		fprintf(stderr, "suitctl: --url '%s' is not an http(s):// URL\n", c->url);
		return CTL_USAGE;
	}
	if (!c->key[0]) {
		fprintf(stderr,
			"suitctl: no API key: pass --api-key-file FILE, set SUITD_API_KEY "
			"(or SUITD_API_KEY_FILE), or add api_key_file = ... to a profile\n");
		return CTL_USAGE;
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		fprintf(stderr, "suitctl: cannot start libcurl\n");
		return CTL_TRANSPORT;
	}
	return CTL_OK;
}

void ctl_release(struct ctl *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	explicit_bzero(c->key, sizeof(c->key));
}

size_t ctl_on_body(char *data, size_t size, size_t n, void *user)
{
	struct ctl_resp *r = user;

	if (buf_append(&r->body, data, size * n) != ERR_OK)
		return 0;
	return size * n;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(out, size, "%.*s", (int)len, line);
}

size_t ctl_on_header(char *data, size_t size, size_t n, void *user)
{
	struct ctl_resp *r = user;
	size_t len = size * n;

	header_value(data, len, "content-type", r->content_type, sizeof(r->content_type));
	header_value(data, len, "location", r->location, sizeof(r->location));
	header_value(data, len, "retry-after", r->retry_after, sizeof(r->retry_after));
	return len;
}

void *ctl_curl_prepare(struct ctl *c, const char *url, void *headers)
{
	struct curl_slist *h = headers;
	char auth[300];
	CURL *curl = c->curl;

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "suitctl");
	if (c->cacert[0])
		curl_easy_setopt(curl, CURLOPT_CAINFO, c->cacert);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->key);
	h = curl_slist_append(h, auth);
	explicit_bzero(auth, sizeof(auth));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	return h;
}

int ctl_problem(const struct ctl_resp *r)
{
	json_error_t je;
	json_t *p = NULL;
	const char *title = NULL, *detail = NULL, *type = NULL;
	int rc = r->status >= 400 && r->status < 500 ? CTL_API : CTL_TRANSPORT;

	if (strncasecmp(r->content_type, "application/problem+json", 24) == 0 ||
	    strncasecmp(r->content_type, "application/json", 16) == 0)
		p = json_loadb(buf_str(&r->body), r->body.len, 0, &je);
	if (p) {
		title = json_string_value(json_object_get(p, "title"));
		detail = json_string_value(json_object_get(p, "detail"));
		type = json_string_value(json_object_get(p, "type"));
	}
	fprintf(stderr, "suitctl: %s (HTTP %ld%s%s)%s%s\n", title ? title : "error", r->status,
		type ? ", " : "", type ? type : "", detail ? ": " : "", detail ? detail : "");
	if (r->status == 401)
		fputs("suitctl: check the API key (--api-key-file, SUITD_API_KEY or the "
		      "profile's api_key_file)\n",
		      stderr);
	else if (r->status == 403)
		fputs("suitctl: this API key's role is too low for that; ask an admin\n", stderr);
	else if (r->status == 429 || r->status == 503)
		fprintf(stderr, "suitctl: try again later%s%s%s\n",
			r->retry_after[0] ? " (Retry-After: " : "", r->retry_after,
			r->retry_after[0] ? " s)" : "");
	json_decref(p);
	return rc;
}

int ctl_call(struct ctl *c, const char *method, const char *path, const char *content_type,
	     const void *body, size_t len, struct ctl_resp *r)
{
	struct curl_slist *h = NULL;
	char url[4096], ct[160], err[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	int tries = 0;

again:
	buf_clear(&r->body);
	r->status = 0;
	r->content_type[0] = r->location[0] = r->retry_after[0] = 0;
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	if (content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		h = curl_slist_append(h, ct);
	}
	h = ctl_curl_prepare(c, url, h);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	if (body || strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
	}
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, ctl_on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, ctl_on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, r);
	cc = curl_easy_perform(c->curl);
	curl_slist_free_all(h);
	h = NULL;
	if (cc != CURLE_OK) {
		fprintf(stderr, "suitctl: %s %s: %s\n", method, url,
			err[0] ? err : curl_easy_strerror(cc));
		return CTL_TRANSPORT;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	/* Rate limited or busy: a read (or any request the server refused
	 * before acting on it) is tried again, a few times. */
	if ((r->status == 429 || r->status == 503) && tries++ < 3) {
		long s = r->retry_after[0] ? strtol(r->retry_after, NULL, 10) : 1;
		sleep((unsigned)(s < 1 ? 1 : s > 5 ? 5 : s));
		goto again;
	}
	if (r->status >= 200 && r->status < 300)
		return CTL_OK;
	if (r->status == 304)
		return CTL_OK;
	if (r->quiet)
		return r->status >= 400 && r->status < 500 ? CTL_API : CTL_TRANSPORT;
	return ctl_problem(r);
}

int ctl_json(struct ctl *c, const char *method, const char *path, json_t *body, json_t **ret)
{
	struct ctl_resp r;
	char *text = NULL;
	json_error_t je;
	int rc;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			fprintf(stderr, "suitctl: out of memory\n");
			return CTL_USAGE;
		}
	}
	ctl_resp_init(&r);
	rc = ctl_call(c, method, path, body ? "application/json" : NULL, text,
		      text ? strlen(text) : 0, &r);
	free(text);
	if (rc == CTL_OK && ret) {
		if (r.status == 204 || !r.body.len) {
			*ret = json_null();
		} else {
			*ret = json_loadb(buf_str(&r.body), r.body.len, 0, &je);
			if (!*ret) {
				fprintf(stderr, "suitctl: %s %s: the answer is not JSON: %s\n",
					method, path, je.text);
				rc = CTL_TRANSPORT;
			}
		}
	}
	ctl_resp_release(&r);
	return rc;
}

void ctl_escape(struct ctl *c, struct buf *b, const char *s)
{
	char *e = curl_easy_escape(c->curl, s, 0);

	if (e)
		buf_append_str(b, e);
	curl_free(e);
}
