/* suitctl: the remote command line of suitd (man/suitctl.1). One context
 * per run: the connection (URL, API key, CA), the output mode and one
 * libcurl handle that keeps its TLS connection between requests. */
#ifndef SUITD_TOOLS_SUITCTL_CTL_H
#define SUITD_TOOLS_SUITCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/timeutil.h"

/* Exit codes (suitctl(1) EXIT STATUS). */
enum ctl_exit {
	CTL_OK = 0,
	CTL_USAGE = 1,	   /* bad command line, config or local file */
	CTL_API = 2,	   /* the API answered 4xx */
	CTL_PAUSED = 3,	   /* watch/--wait: the deployment paused or was canceled */
	CTL_TIMEOUT = 4,   /* watch/--wait: --timeout passed */
	CTL_TRANSPORT = 5, /* 5xx, connection, TLS or a reply that is not the API's */
};

enum ctl_output { CTL_OUT_TABLE, CTL_OUT_JSON, CTL_OUT_NDJSON };

struct ctl {
	char url[1024];	   /* without a trailing '/' */
	char key[256];	   /* API key (never from argv) */
	char cacert[1024]; /* "" = the system store */
	enum ctl_output output;
	bool quiet;
	long limit;	    /* --limit: items at most (0 = all) */
	unsigned page_size; /* ?limit= of each page */
	bool tty_out;	    /* stdout is a terminal */
	bool progress;	    /* stderr is a terminal and NO_COLOR unset */
	void *curl;	    /* CURL * */
};

/* A response: the body up to CTL_MAX_BODY. */
#define CTL_MAX_BODY (64u << 20)
struct ctl_resp {
	long status;
	struct buf body;
	char content_type[128];
	char location[512];
	char retry_after[32];
	bool quiet; /* set by the caller: a 4xx is an answer, not an error to print */
};

/* Monotonic seconds, for rates and timeouts. */
static inline double ctl_now_s(void)
{
	return (double)time_mono_usec() / 1e6;
}

void ctl_resp_init(struct ctl_resp *r);
void ctl_resp_release(struct ctl_resp *r);

/* ---- conn.c: connection settings and HTTP ---- */

/* Fill url, key, cacert from the flags (NULL: not given), SUITD_* and the
 * profile. Prints the reason and returns CTL_USAGE on error. */
int ctl_connect(struct ctl *c, const char *url, const char *key_file, const char *cacert,
		const char *profile);
void ctl_release(struct ctl *c);
/* One request; body/len for POST/PATCH (content_type required then). The
 * exit code: CTL_OK for 2xx/304; else the problem+json was printed. */
int ctl_call(struct ctl *c, const char *method, const char *path, const char *content_type,
	     const void *body, size_t len, struct ctl_resp *r);
/* The same with a JSON body (may be NULL) and a JSON answer into *ret
 * (may be NULL; json null for 204). */
int ctl_json(struct ctl *c, const char *method, const char *path, json_t *body, json_t **ret);
/* Print the error of a non-2xx answer; its exit code. */
int ctl_problem(const struct ctl_resp *r);
/* Query-escape s onto b ("?"/"&" are the caller's). */
void ctl_escape(struct ctl *c, struct buf *b, const char *s);
/* libcurl callbacks filling a struct ctl_resp: the body (up to
 * CTL_MAX_BODY), and content-type, location, retry-after. */
size_t ctl_on_body(char *data, size_t size, size_t n, void *user);
size_t ctl_on_header(char *data, size_t size, size_t n, void *user);
/* Configure the shared handle for url (TLS, key, timeouts); headers out. */
void *ctl_curl_prepare(struct ctl *c, const char *url, void *headers);

/* ---- output.c ---- */

/* A column: header, member path ("digest.value", "counts.confirmed"). */
struct ctl_col {
	const char *header;
	const char *path;
};
struct ctl_view {
	const char *id; /* the member -q prints */
	const struct ctl_col *cols;
	size_t ncols;
};

/* A list: pages of path (with its own query, or none) until next is null
 * or --limit items; cursor_param: "after" or "before" (audit). */
int ctl_list(struct ctl *c, const char *path, const char *cursor_param, const struct ctl_view *v);
/* One object: table = "member: value" lines, json, ndjson, -q = id. */
void ctl_show(struct ctl *c, json_t *obj, const struct ctl_view *v);
/* A member by dotted path, or NULL. */
json_t *ctl_member(json_t *obj, const char *path);
/* A value as text for tables ("-" for null). */
void ctl_value_text(json_t *v, char *out, size_t size);
/* Columns of the terminal on stdout (0 when not a terminal and no COLUMNS). */
unsigned ctl_term_width(const struct ctl *c);

/* ---- commands ---- */
int ctl_cmd_status(struct ctl *c, int argc, char **argv);
int ctl_cmd_payload(struct ctl *c, int argc, char **argv);
int ctl_cmd_manifest(struct ctl *c, int argc, char **argv);
int ctl_cmd_device(struct ctl *c, int argc, char **argv);
int ctl_cmd_deploy(struct ctl *c, int argc, char **argv);
int ctl_cmd_deployment(struct ctl *c, int argc, char **argv);
int ctl_cmd_key(struct ctl *c, int argc, char **argv);
int ctl_cmd_events(struct ctl *c, int argc, char **argv);
int ctl_cmd_audit(struct ctl *c, int argc, char **argv);
int ctl_cmd_webhook(struct ctl *c, int argc, char **argv);
int ctl_cmd_release(struct ctl *c, int argc, char **argv);

/* POST an envelope to /api/v1/manifests; *ret the Manifest. */
int ctl_manifest_upload(struct ctl *c, const uint8_t *env, size_t len, json_t **ret);

/* upload.c: stream FILE to POST /api/v1/payloads; *ret the Payload. */
int ctl_payload_upload(struct ctl *c, const char *path, const char *name, json_t **ret);
/* bulk.c: stream FILE ("-": stdin) to POST /api/v1/devices/import and
 * show the summary; generated tokens go to stdout as NDJSON. CTL_API when
 * a line failed. */
int ctl_device_import(struct ctl *c, const char *path, bool dry_run, bool generate);
/* GET path (the export with its query) to stdout as it arrives. */
int ctl_device_export(struct ctl *c, const char *path);
/* deployments: wait until deployment id completes (0), pauses or is
 * canceled (3) or timeout_s passes (4; 0 = no timeout). watch: bars. */
int ctl_deployment_wait(struct ctl *c, long long id, long timeout_s, bool bars);

#endif
