#include "tools/suit-sim/ddi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tools/suit-sim/rng.h"

#define JSON_MAX       ((size_t)64 << 10)
#define ARTIFACTS_MAX  4
#define PATH_MAX_LEN   256
#define STEP_RETRIES   4
#define DEFAULT_POLL_S 300.0
#define START_SPREAD_S 1.0

enum ddi_step {
	DDI_POLL,	     /* GET {base} */
	DDI_DEPLOYMENT,	     /* GET the deploymentBase href */
	DDI_CHUNK,	     /* GET an artifact with Range */
	DDI_PROCEEDING,	     /* POST feedback proceeding */
	DDI_CLOSED,	     /* POST feedback closed (success or failure) */
	DDI_CANCEL,	     /* GET the cancelAction href */
	DDI_CANCEL_FEEDBACK, /* POST its feedback */
};

struct artifact {
	char path[PATH_MAX_LEN]; /* the download href, after the base URL */
	char sha1[41];
	uint64_t size;
};

struct ddi_device {
	const struct sim_identity *who;
	uint64_t rng;
	double sleep; /* the server's polling.sleep, seconds */
	enum ddi_step step;
	enum sim_phase phase;
	unsigned attempts;
	bool finished, in_cycle, fail;
	char action[24];
	char link[PATH_MAX_LEN]; /* deploymentBase or cancelAction, after the base URL */
	struct artifact art[ARTIFACTS_MAX];
	unsigned art_count, art_index;
	uint64_t offset, chunk_start;
	EVP_MD_CTX *sha1;
	char body[512]; /* the feedback in flight */
};

struct sim_ddi {
	const struct sim_options *o;
	struct sim_loop *loop;
	struct sim_stats *stats;
	struct ddi_device *dev;
	unsigned count;
	size_t base_len; /* of o->base_url */
};

/* ---- timing ---- */

/* The server's sleep, capped by --max-poll, with ±10 % so polls spread. */
static uint64_t poll_delay(const struct sim_ddi *x, struct ddi_device *d)
{
	double s = d->sleep;

	if (x->o->max_poll > 0 && s > x->o->max_poll)
		s = x->o->max_poll;
	return sim_usec_of(s * (0.9 + 0.2 * sim_rng_unit(&d->rng)));
}

static void set_phase(struct sim_ddi *x, struct ddi_device *d, enum sim_phase p)
{
	sim_stats_phase(x->stats, d->phase, p);
	d->phase = p;
}

static void send_step(struct sim_ddi *x, struct ddi_device *d, enum ddi_step step, uint64_t delay)
{
	d->step = step;
	sim_loop_send(x->loop, (unsigned)(d - x->dev), delay);
}

static void cycle_end(struct sim_ddi *x, struct ddi_device *d, enum sim_outcome o)
{
	sim_stats_outcome(x->stats, o, !d->finished);
	d->finished = true;
	d->in_cycle = false;
}

static void go_poll(struct sim_ddi *x, struct ddi_device *d)
{
	d->attempts = 0;
	set_phase(x, d, SIM_PHASE_IDLE);
	send_step(x, d, DDI_POLL, poll_delay(x, d));
}

/* An unexpected answer: counted; the step is tried again a few times
 * (transport errors, 5xx, 429), else the cycle ends as an error. */
static void step_failed(struct sim_ddi *x, struct ddi_device *d, const struct sim_response *res,
			enum sim_error kind, const char *what)
{
	bool retry = res->status == 0 || res->status >= 500 || res->status == 429;

	if (res->status == 0)
		sim_stats_error(x->stats, SIM_ERROR_TRANSPORT, 0, d->who->id, "%s: %s", what,
				res->error);
	else if (kind == SIM_ERROR_HTTP)
		sim_stats_error(x->stats, SIM_ERROR_HTTP, res->status, d->who->id, "%s: HTTP %ld",
				what, res->status);
	else
		sim_stats_error(x->stats, kind, 0, d->who->id, "%s", what);
	if (res->status == 401 || res->status == 403) {
		if (d->in_cycle || !d->finished)
			cycle_end(x, d, SIM_OUTCOME_ERROR);
		set_phase(x, d, SIM_PHASE_STOPPED);
		return;
	}
	if (kind == SIM_ERROR_HTTP && retry && ++d->attempts <= STEP_RETRIES) {
		send_step(x, d, d->step, sim_usec_of(0.5 * d->attempts));
		return;
	}
	if (d->in_cycle)
		cycle_end(x, d, SIM_OUTCOME_ERROR);
	go_poll(x, d);
}

/* The path of an absolute href of this server, or false. */
static bool href_path(const struct sim_ddi *x, json_t *link, char out[PATH_MAX_LEN])
{
	const char *href = json_string_value(json_object_get(link, "href"));

	if (!href || strncmp(href, x->o->base_url, x->base_len) != 0 || href[x->base_len] != '/' ||
	    strlen(href + x->base_len) >= PATH_MAX_LEN)
		return false;
	snprintf(out, PATH_MAX_LEN, "%s", href + x->base_len);
	return true;
}

static json_t *json_of(const struct sim_response *res)
{
	if (res->status != 200 || strncmp(res->content_type, "application/json", 16) != 0)
		return NULL;
	return json_loadb((const char *)res->body, res->body_len, 0, NULL);
}

/* ---- the cycle ---- */

static void feedback(struct sim_ddi *x, struct ddi_device *d, enum ddi_step step,
		     const char *execution, const char *finished, const char *detail)
{
	snprintf(d->body, sizeof(d->body),
		 "{\"id\":\"%s\",\"time\":\"20260101T000000\",\"status\":{\"execution\":\"%s\","
		 "\"result\":{\"finished\":\"%s\"},\"details\":[\"%s\"]}}",
		 d->action, execution, finished, detail);
	send_step(x, d, step, 0);
}

/* base poll: {config: {polling: {sleep: "HH:MM:SS"}}, _links: {...}} */
static void on_poll(struct sim_ddi *x, struct ddi_device *d, const struct sim_response *res)
{
	json_t *j = json_of(res), *links;
	const char *sleep = json_string_value(
		json_object_get(json_object_get(json_object_get(j, "config"), "polling"), "sleep"));
	unsigned h, m, s;
	int end = 0;

	if (res->status != 200) {
		json_decref(j);
		step_failed(x, d, res, SIM_ERROR_HTTP, "poll");
		return;
	}
	links = json_object_get(j, "_links");
	if (!sleep || sscanf(sleep, "%2u:%2u:%2u%n", &h, &m, &s, &end) != 3 || end != 8 || m > 59 ||
	    s > 59 || !json_is_object(links)) {
		json_decref(j);
		step_failed(x, d, res, SIM_ERROR_PROTOCOL, "poll: not a DDI controller base");
		return;
	}
	d->sleep = h * 3600.0 + m * 60.0 + s;
	d->attempts = 0;
	json_t *cancel = json_object_get(links, "cancelAction");
	json_t *deploy = json_object_get(links, "deploymentBase");
	if ((cancel && !href_path(x, cancel, d->link)) ||
	    (!cancel && deploy && !href_path(x, deploy, d->link))) {
		json_decref(j);
		step_failed(x, d, res, SIM_ERROR_PROTOCOL, "poll: a link is not on this server");
		return;
	}
	json_decref(j);
	if (cancel)
		send_step(x, d, DDI_CANCEL, 0);
	else if (deploy)
		send_step(x, d, DDI_DEPLOYMENT, 0);
	else
		go_poll(x, d);
}

/* One artifact of chunks[0] (what SWUpdate and RAUC read): filename, size,
 * hashes.sha1, _links.download. */
static bool take_artifact(struct sim_ddi *x, json_t *a, struct artifact *ret)
{
	json_t *size = json_object_get(a, "size");
	const char *sha1 = json_string_value(json_object_get(json_object_get(a, "hashes"), "sha1"));

	if (!json_is_string(json_object_get(a, "filename")) || !json_is_integer(size) ||
	    json_integer_value(size) < 0 || !sha1 || strlen(sha1) != 40 ||
	    !href_path(x, json_object_get(json_object_get(a, "_links"), "download"), ret->path))
		return false;
	ret->size = (uint64_t)json_integer_value(size);
	snprintf(ret->sha1, sizeof(ret->sha1), "%s", sha1);
	return true;
}

static void next_artifact(struct sim_ddi *x, struct ddi_device *d)
{
	while (d->art_index < d->art_count && d->art[d->art_index].size == 0)
		d->art_index++;
	if (d->art_index == d->art_count) {
		set_phase(x, d, SIM_PHASE_INSTALLING);
		feedback(x, d, DDI_PROCEEDING, "proceeding", "none", "installing");
		return;
	}
	d->offset = 0;
	if (!d->sha1)
		d->sha1 = EVP_MD_CTX_new();
	if (!d->sha1 || !EVP_DigestInit_ex(d->sha1, EVP_sha1(), NULL)) {
		fputs("suit-sim: out of memory\n", stderr);
		abort();
	}
	send_step(x, d, DDI_CHUNK, 0);
}

static void on_deployment(struct sim_ddi *x, struct ddi_device *d, const struct sim_response *res)
{
	json_t *j = json_of(res), *chunks, *arts, *a;
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *dl, *up;
	size_t i;

	if (res->status != 200) {
		json_decref(j);
		step_failed(x, d, res, SIM_ERROR_HTTP, "deploymentBase");
		return;
	}
	chunks = json_object_get(json_object_get(j, "deployment"), "chunks");
	arts = json_object_get(json_array_get(chunks, 0), "artifacts");
	dl = json_string_value(json_object_get(json_object_get(j, "deployment"), "download"));
	up = json_string_value(json_object_get(json_object_get(j, "deployment"), "update"));
	bool good = id && strlen(id) < sizeof(d->action) && dl && up &&
		    json_array_size(chunks) == 1 && json_array_size(arts) >= 1 &&
		    json_array_size(arts) <= ARTIFACTS_MAX &&
		    json_is_string(json_object_get(json_array_get(chunks, 0), "version"));
	d->art_count = 0;
	json_array_foreach(arts, i, a)
	{
		if (!good || !take_artifact(x, a, &d->art[d->art_count++]))
			good = false;
	}
	if (good)
		snprintf(d->action, sizeof(d->action), "%s", id);
	json_decref(j);
	if (!good) {
		step_failed(x, d, res, SIM_ERROR_PROTOCOL, "deploymentBase: not DDI's shape");
		return;
	}
	x->stats->cycles++;
	d->in_cycle = true;
	d->attempts = 0;
	d->art_index = 0;
	/* Drawn once per cycle, so that a run with a seed repeats. */
	d->fail = sim_rng_unit(&d->rng) < x->o->fail_rate;
	set_phase(x, d, SIM_PHASE_DOWNLOADING);
	next_artifact(x, d);
}

static bool chunk_sink(void *cls, unsigned i, const struct sim_response *res, const uint8_t *data,
		       size_t len)
{
	struct sim_ddi *x = cls;
	struct ddi_device *d = &x->dev[i];
	const struct artifact *a = &d->art[d->art_index];

	if (d->step != DDI_CHUNK || res->status != 206 || !res->has_range ||
	    res->range_first != d->chunk_start || res->range_total != a->size ||
	    len > a->size - d->offset)
		return false;
	EVP_DigestUpdate(d->sha1, data, len);
	d->offset += len;
	x->stats->bytes_downloaded += len;
	return true;
}

static void on_chunk(struct sim_ddi *x, struct ddi_device *d, const struct sim_response *res)
{
	struct artifact *a = &d->art[d->art_index];
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[41];
	unsigned n = 0;

	if (res->status != 206 || res->sink_stopped) {
		step_failed(x, d, res, res->status == 206 ? SIM_ERROR_PROTOCOL : SIM_ERROR_HTTP,
			    "artifact chunk");
		return;
	}
	d->attempts = 0;
	if (d->offset < a->size) {
		send_step(x, d, DDI_CHUNK, 0);
		return;
	}
	EVP_DigestFinal_ex(d->sha1, md, &n);
	for (unsigned k = 0; k < n && k < 20; k++)
		snprintf(hex + 2 * k, 3, "%02x", md[k]);
	if (strcmp(hex, a->sha1) != 0) {
		sim_stats_error(x->stats, SIM_ERROR_DIGEST, 0, d->who->id,
				"artifact %s: SHA-1 %s, deploymentBase says %s", a->path, hex,
				a->sha1);
		feedback(x, d, DDI_CLOSED, "closed", "failure", "SHA-1 mismatch");
		d->fail = true;
		return;
	}
	d->art_index++;
	next_artifact(x, d);
}

static void on_feedback(struct sim_ddi *x, struct ddi_device *d, const struct sim_response *res)
{
	if (res->status != 200) {
		step_failed(x, d, res, SIM_ERROR_HTTP, "feedback");
		return;
	}
	d->attempts = 0;
	if (d->step == DDI_PROCEEDING) {
		/* hawkBit clients report success after the reboot. */
		set_phase(x, d, SIM_PHASE_REBOOTING);
		feedback(x, d, DDI_CLOSED, "closed", d->fail ? "failure" : "success",
			 d->fail ? "install failed" : "rebooted into the new image");
		return;
	}
	cycle_end(x, d, d->fail ? SIM_OUTCOME_FAILED : SIM_OUTCOME_CONFIRMED);
	go_poll(x, d);
}

/* cancelAction: {"id": "N", "cancelAction": {"stopId": "N"}} */
static void on_cancel(struct sim_ddi *x, struct ddi_device *d, const struct sim_response *res)
{
	json_t *j = json_of(res);
	const char *stop =
		json_string_value(json_object_get(json_object_get(j, "cancelAction"), "stopId"));

	if (res->status != 200 || !stop || strlen(stop) >= sizeof(d->action) ||
	    !json_is_string(json_object_get(j, "id"))) {
		json_decref(j);
		step_failed(x, d, res, res->status == 200 ? SIM_ERROR_PROTOCOL : SIM_ERROR_HTTP,
			    "cancelAction");
		return;
	}
	snprintf(d->action, sizeof(d->action), "%s", stop);
	json_decref(j);
	feedback(x, d, DDI_CANCEL_FEEDBACK, "closed", "success", "canceled");
}

/* ---- the loop's callbacks ---- */

static void ddi_fill(void *cls, unsigned i, struct sim_request *r)
{
	struct sim_ddi *x = cls;
	struct ddi_device *d = &x->dev[i];
	const struct artifact *a;
	uint64_t end;

	r->token = d->who->token;
	r->auth_scheme = "TargetToken";
	r->cert = d->who->cert;
	r->key = d->who->key;
	r->body_max = JSON_MAX;
	switch (d->step) {
	case DDI_POLL:
		r->kind = SIM_KIND_CHECKIN;
		snprintf(r->path, sizeof(r->path), "/%s/controller/v1/%s", x->o->tenant,
			 d->who->id);
		break;
	case DDI_DEPLOYMENT:
	case DDI_CANCEL:
		r->kind = SIM_KIND_CHECKIN;
		snprintf(r->path, sizeof(r->path), "%s", d->link);
		break;
	case DDI_CHUNK:
		a = &d->art[d->art_index];
		r->kind = SIM_KIND_PAYLOAD;
		snprintf(r->path, sizeof(r->path), "%s", a->path);
		d->chunk_start = d->offset;
		end = d->offset + x->o->chunk;
		if (end > a->size)
			end = a->size;
		snprintf(r->range, sizeof(r->range), "bytes=%llu-%llu",
			 (unsigned long long)d->offset, (unsigned long long)(end - 1));
		r->sink = chunk_sink;
		break;
	case DDI_PROCEEDING:
	case DDI_CLOSED:
	case DDI_CANCEL_FEEDBACK:
		r->kind = SIM_KIND_REPORT;
		snprintf(r->path, sizeof(r->path), "/%s/controller/v1/%s/%s/%s/feedback",
			 x->o->tenant, d->who->id,
			 d->step == DDI_CANCEL_FEEDBACK ? "cancelAction" : "deploymentBase",
			 d->action);
		r->content_type = "application/json";
		r->body = d->body;
		r->body_len = strlen(d->body);
		break;
	}
}

static void ddi_done(void *cls, unsigned i, const struct sim_response *res)
{
	struct sim_ddi *x = cls;
	struct ddi_device *d = &x->dev[i];

	switch (d->step) {
	case DDI_POLL:
		on_poll(x, d, res);
		break;
	case DDI_DEPLOYMENT:
		on_deployment(x, d, res);
		break;
	case DDI_CHUNK:
		on_chunk(x, d, res);
		break;
	case DDI_PROCEEDING:
	case DDI_CLOSED:
		on_feedback(x, d, res);
		break;
	case DDI_CANCEL:
		on_cancel(x, d, res);
		break;
	case DDI_CANCEL_FEEDBACK:
		if (res->status != 200)
			step_failed(x, d, res, SIM_ERROR_HTTP, "cancel feedback");
		else
			go_poll(x, d);
		break;
	}
}

static bool ddi_finished(void *cls)
{
	const struct sim_ddi *x = cls;

	return x->o->until_done && x->stats->finished == x->count;
}

static void ddi_tick(void *cls, uint64_t now_usec)
{
	(void)cls;
	(void)now_usec;
}

void sim_ddi_ops(struct sim_ddi *x, struct sim_loop_ops *ret)
{
	*ret = (struct sim_loop_ops){.cls = x,
				     .fill = ddi_fill,
				     .done = ddi_done,
				     .finished = ddi_finished,
				     .tick = ddi_tick};
}

struct sim_ddi *sim_ddi_new(const struct sim_options *o, const struct sim_identities *ids,
			    uint64_t seed)
{
	struct sim_ddi *x = calloc(1, sizeof(*x));

	if (!x || !(x->dev = calloc(ids->count ? ids->count : 1, sizeof(*x->dev)))) {
		free(x);
		return NULL;
	}
	x->o = o;
	x->count = ids->count;
	x->base_len = strlen(o->base_url);
	for (unsigned i = 0; i < x->count; i++) {
		struct ddi_device *d = &x->dev[i];
		d->rng = sim_rng_seed(seed, i);
		d->who = &ids->v[i];
		d->sleep = DEFAULT_POLL_S;
		d->phase = SIM_PHASE_IDLE;
	}
	return x;
}

void sim_ddi_start(struct sim_ddi *x, struct sim_loop *loop, struct sim_stats *stats)
{
	double spread = x->o->max_poll > 0 && x->o->max_poll < START_SPREAD_S ? x->o->max_poll
									      : START_SPREAD_S;

	x->loop = loop;
	x->stats = stats;
	for (unsigned i = 0; i < x->count; i++)
		send_step(x, &x->dev[i], DDI_POLL,
			  sim_usec_of(spread * sim_rng_unit(&x->dev[i].rng)));
}

void sim_ddi_free(struct sim_ddi *x)
{
	if (!x)
		return;
	for (unsigned i = 0; i < x->count; i++)
		EVP_MD_CTX_free(x->dev[i].sha1);
	free(x->dev);
	free(x);
}
