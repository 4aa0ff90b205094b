/* suitctl device import|export: NDJSON both ways, streamed. The file is
 * read as curl sends it (a million devices never sit in memory), and the
 * export is written to stdout as it arrives. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tools/suitctl/ctl.h"

static size_t on_read(char *out, size_t size, size_t n, void *user)
{
	FILE *in = user;
	size_t got = fread(out, 1, size * n, in);

	return got == 0 && ferror(in) ? CURL_READFUNC_ABORT : got;
}

/* The export: 200 goes to stdout as it comes; anything else is kept for
 * the problem. */
struct export_sink {
	struct ctl *c;
	struct ctl_resp *r;
	bool failed_write;
};

static size_t on_export(char *data, size_t size, size_t n, void *user)
{
	struct export_sink *s = user;
	long status = 0;

	curl_easy_getinfo(s->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return ctl_on_body(data, size, n, s->r);
	if (fwrite(data, 1, size * n, stdout) != size * n) {
		s->failed_write = true;
		return 0;
	}
	return size * n;
}

static int perform(struct ctl *c, const char *what, struct ctl_resp *r)
{
	char err[CURL_ERROR_SIZE] = "";
	CURLcode cc;

	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, ctl_on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, r);
	/* A stalled server: under 1 KiB/s for 60 s ends the transfer. */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 60L);
	cc = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	if (cc != CURLE_OK) {
		fprintf(stderr, "suitctl: %s: %s\n", what, err[0] ? err : curl_easy_strerror(cc));
		return CTL_TRANSPORT;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	return r->status == 200 ? CTL_OK : ctl_problem(r);
}

static void print_summary(json_t *s)
{
	size_t i;
	json_t *e;

	fprintf(stderr, "%s%lld lines: %lld created, %lld updated, %lld unchanged, %lld failed\n",
		json_is_true(json_object_get(s, "dry_run")) ? "dry run, nothing written: " : "",
		json_integer_value(json_object_get(s, "lines")),
		json_integer_value(json_object_get(s, "created")),
		json_integer_value(json_object_get(s, "updated")),
		json_integer_value(json_object_get(s, "unchanged")),
		json_integer_value(json_object_get(s, "failed")));
	json_array_foreach(json_object_get(s, "errors"), i, e)
	{
		const char *id = json_string_value(json_object_get(e, "id"));
		fprintf(stderr, "  line %lld%s%s%s: %s\n",
			json_integer_value(json_object_get(e, "line")), id ? " (" : "",
			id ? id : "", id ? ")" : "",
			json_string_value(json_object_get(e, "detail")));
	}
	if (json_is_true(json_object_get(s, "errors_truncated")))
		fputs("  (more errors: only the first 100 are listed)\n", stderr);
}

/* The answer's summary: the body, or its last NDJSON line's "summary". */
static json_t *summary_of(struct ctl_resp *r, bool generate, const char **ret_tokens,
			  size_t *ret_tokens_len)
{
	const char *body = buf_str(&r->body);
	size_t len = r->body.len;

	*ret_tokens = "";
	*ret_tokens_len = 0;
	if (!generate)
		return json_loadb(body, len, 0, NULL);
	while (len && body[len - 1] == '\n')
		len--;
	size_t last = len;
	while (last && body[last - 1] != '\n')
		last--;
	*ret_tokens = body;
	*ret_tokens_len = last;
	json_t *wrap = json_loadb(body + last, len - last, 0, NULL);
	json_t *s = json_incref(json_object_get(wrap, "summary"));
	json_decref(wrap);
	return s;
}

int ctl_device_import(struct ctl *c, const char *path, bool dry_run, bool generate)
{
	struct curl_slist *h = NULL;
	struct ctl_resp r;
	struct buf url;
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	int rc;

	if (!in) {
		fprintf(stderr, "suitctl: cannot open '%s': %s\n", path, strerror(errno));
		return CTL_USAGE;
	}
	ctl_resp_init(&r);
	buf_init(&url, 4096);
	buf_printf(&url, "%s/api/v1/devices/import%s%s", c->url, dry_run ? "?dry_run=1" : "",
		   generate ? (dry_run ? "&tokens=generate" : "?tokens=generate") : "");
	h = curl_slist_append(h, "Content-Type: application/x-ndjson");
	h = ctl_curl_prepare(c, buf_str(&url), h);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	/* Length unknown (stdin): sent chunked. */
	curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c->curl, CURLOPT_READDATA, in);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, ctl_on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r);
	rc = perform(c, buf_str(&url), &r);
	curl_slist_free_all(h);
	buf_release(&url);
	if (in != stdin)
		fclose(in);
	if (rc == CTL_OK) {
		const char *tokens;
		size_t tokens_len;
		json_t *s = summary_of(&r, generate, &tokens, &tokens_len);
		if (!s) {
			fputs("suitctl: the answer is not an import summary\n", stderr);
			rc = CTL_TRANSPORT;
		} else {
			fwrite(tokens, 1, tokens_len, stdout);
			if (c->output != CTL_OUT_TABLE && !generate) {
				json_dumpf(s, stdout,
					   c->output == CTL_OUT_JSON ? JSON_INDENT(2)
								     : JSON_COMPACT);
				fputc('\n', stdout);
			} else if (!c->quiet) {
				print_summary(s);
			}
			if (json_integer_value(json_object_get(s, "failed")))
				rc = CTL_API;
			json_decref(s);
		}
	}
	/* Generated tokens are secrets: the copy in memory goes. */
	if (r.body.data)
		explicit_bzero(r.body.data, r.body.cap);
	ctl_resp_release(&r);
	return rc;
}

int ctl_device_export(struct ctl *c, const char *path)
{
	struct ctl_resp r;
	struct buf url;
	struct export_sink sink = {.c = c, .r = &r};
	int rc;

	ctl_resp_init(&r);
	buf_init(&url, 8192);
	buf_printf(&url, "%s%s", c->url, path);
	struct curl_slist *h = ctl_curl_prepare(c, buf_str(&url), NULL);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_export);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sink);
	rc = perform(c, buf_str(&url), &r);
	curl_slist_free_all(h);
	if (sink.failed_write) {
		fprintf(stderr, "suitctl: cannot write the export: %s\n", strerror(errno));
		rc = CTL_USAGE;
	} else if (rc == CTL_OK && fflush(stdout) != 0) {
		rc = CTL_USAGE;
	}
	buf_release(&url);
	ctl_resp_release(&r);
	return rc;
}
