#include "tools/suit-sim/device.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/crypto.h"
#include "suit/suit.h"
#include "tools/suit-sim/certs.h"
#include "tools/suit-sim/ddi.h"
#include "tools/suit-sim/identity.h"
#include "tools/suit-sim/lines.h"
#include "tools/suit-sim/reportbody.h"
#include "tools/suit-sim/rng.h"
#include "tools/suit-sim/state.h"

#define ENVELOPE_MAX	 ((size_t)4 << 20)
#define ERROR_BODY_MAX	 ((size_t)16 << 10)
#define SUIT_REPORT_MAX	 256
#define STEP_RETRIES	 4     /* a failed request is tried again this often */
#define IMAGE_ATTEMPTS	 3     /* downloads of one image with a wrong digest */
#define PROGRESS_STEP	 25    /* percent between "downloading" reports */
#define DEFAULT_POLL_S	 300.0 /* before the server said (Cache-Control) */
#define START_SPREAD_S	 1.0   /* first check-ins spread over this */
#define BACKOFF_FIRST_US 500000u
#define BACKOFF_MAX_US	 30000000u
#define NONE		 UINT64_MAX

/* The request a device sends next. */
enum step {
	STEP_POLL,    /* GET /device/v1/manifest?seq=N */
	STEP_RESUME,  /* the same after a crash, with If-None-Match */
	STEP_CHUNK,   /* GET /device/v1/payloads/{sha256} with Range */
	STEP_REPORT,  /* POST /device/v1/reports, then `next` */
	STEP_CONFIRM, /* the check-in with the new sequence number */
};

/* What follows an accepted report. */
enum next {
	NEXT_CHUNK,	 /* go on downloading */
	NEXT_INSTALLING, /* report "installing" */
	NEXT_RESULT,	 /* install (a short wait), report installed or failed */
	NEXT_REBOOT,	 /* reboot (a short wait), confirm with the new seq */
	NEXT_POLL,	 /* the cycle ended with `pending`: poll again */
};

struct image {
	uint8_t sha256[SHA256_LEN];
	uint64_t size;
	bool has_size;
	bool integrated; /* "#key": in the envelope, nothing to fetch */
};

struct device {
	const struct sim_identity *who;
	uint64_t rng;
	uint64_t seq;	      /* the sequence number it runs */
	unsigned state_entry; /* its line of the state file */
	long max_age;	      /* the server's last Cache-Control max-age, -1 none */
	enum sim_phase phase;
	enum step step;
	unsigned attempts; /* failures of the current step in a row */
	bool finished;	   /* has had an outcome */
	/* The update cycle. */
	bool in_cycle, silent, fail;
	uint64_t new_seq;
	char etag[160];
	char digest_hex[2 * SUIT_MAX_DIGEST + 1];
	struct suit_digest digest;
	struct image *images;
	unsigned image_count, image, image_attempts;
	uint64_t offset;		  /* bytes of the image hashed so far */
	uint64_t chunk_start;		  /* the Range in flight starts here */
	uint64_t done_bytes, total_bytes; /* over all images, for progress */
	int next_progress;
	EVP_MD_CTX *sha;
	uint64_t corrupt_at, crash_at; /* image offsets, NONE when not injected */
	bool corrupted, crashed, bad_chunk, chunk_checked;
	/* The report in flight. */
	uint8_t *report_body;
	size_t report_len;
	bool report_suit;
	enum next next;
	enum sim_outcome pending;
};

struct sim_fleet {
	const struct sim_options *o;
	struct sim_stats *stats;
	struct sim_loop *loop;
	struct suit_keyring *keyring;
	struct suit_facts *facts; /* scratch for suit_envelope_check */
	struct sim_identities ids;
	struct device *dev; /* one per identity */
	unsigned count;
	bool has_state; /* --state */
	struct sim_state state;
	struct sim_ddi *ddi; /* --protocol ddi: the devices speak DDI (ddi.h) */
};

static void next_chunk(struct sim_fleet *f, struct device *d);
static void run_next(struct sim_fleet *f, struct device *d, enum next next);

/* ---- timing ---- */

/* The server's max-age (capped by --max-poll) ± 10 %. */
static uint64_t poll_delay(const struct sim_fleet *f, struct device *d)
{
	double s = d->max_age >= 0 ? (double)d->max_age : DEFAULT_POLL_S;

	if (f->o->max_poll > 0 && s > f->o->max_poll)
		s = f->o->max_poll;
	return sim_usec_of(s * (0.9 + 0.2 * sim_rng_unit(&d->rng))) + 1;
}

/* Installing, rebooting: 100 to 300 ms. */
static uint64_t short_delay(struct device *d)
{
	return 100000u + sim_rng_next(&d->rng) % 200000u;
}

static uint64_t backoff(const struct device *d)
{
	uint64_t us = (uint64_t)BACKOFF_FIRST_US << (d->attempts < 7 ? d->attempts : 7);

	return us < BACKOFF_MAX_US ? us : BACKOFF_MAX_US;
}

/* ---- state ---- */

static unsigned index_of(const struct sim_fleet *f, const struct device *d)
{
	return (unsigned)(d - f->dev);
}

static void set_phase(struct sim_fleet *f, struct device *d, enum sim_phase p)
{
	sim_stats_phase(f->stats, d->phase, p);
	d->phase = p;
}

static void send_step(struct sim_fleet *f, struct device *d, enum step step, uint64_t delay)
{
	d->step = step;
	sim_loop_send(f->loop, index_of(f, d), delay);
}

static void outcome(struct sim_fleet *f, struct device *d, enum sim_outcome o)
{
	sim_stats_outcome(f->stats, o, !d->finished);
	d->finished = true;
}

static void cycle_end(struct sim_fleet *f, struct device *d, enum sim_outcome o)
{
	if (!d->in_cycle)
		return;
	d->in_cycle = false;
	outcome(f, d, o);
	free(d->images);
	d->images = NULL;
	d->image_count = 0;
	EVP_MD_CTX_free(d->sha);
	d->sha = NULL;
}

static void go_poll(struct sim_fleet *f, struct device *d)
{
	set_phase(f, d, SIM_PHASE_IDLE);
	send_step(f, d, STEP_POLL, poll_delay(f, d));
}

/* The server refused the device's identity: it stops for good. */
static void device_stop(struct sim_fleet *f, struct device *d)
{
	if (d->in_cycle)
		cycle_end(f, d, SIM_OUTCOME_ERROR);
	else if (!d->finished)
		outcome(f, d, SIM_OUTCOME_ERROR);
	set_phase(f, d, SIM_PHASE_STOPPED);
}

static void failure_set(struct sim_failure *w, int64_t reason, int64_t section, int64_t code,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void failure_set(struct sim_failure *w, int64_t reason, int64_t section, int64_t code,
			const char *fmt, ...)
{
	va_list ap;

	w->reason = reason;
	w->section = section;
	w->code = code;
	va_start(ap, fmt);
	vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
}

/* POST a report after delay, then `next`. Silent devices never report. */
static void report(struct sim_fleet *f, struct device *d, const char *state, int progress,
		   const struct sim_failure *failure, enum next next, uint64_t delay)
{
	bool final = strcmp(state, "installed") == 0 || strcmp(state, "failed") == 0;

	if (d->silent) {
		run_next(f, d, next);
		return;
	}
	free(d->report_body);
	d->report_body = NULL;
	d->report_suit = final && f->o->report == SIM_REPORT_SUIT;
	if (d->report_suit) {
		d->report_body = malloc(SUIT_REPORT_MAX);
		if (d->report_body)
			d->report_len = sim_report_suit(&d->digest, failure, d->report_body,
							SUIT_REPORT_MAX);
	} else {
		d->report_body = (uint8_t *)sim_report_json(d->digest_hex, state, progress, failure,
							    &d->report_len);
	}
	if (!d->report_body || !d->report_len) {
		fputs("suit-sim: out of memory\n", stderr);
		abort();
	}
	d->next = next;
	send_step(f, d, STEP_REPORT, delay);
}

/* Give up the update cycle: say so to the server (unless reporting is what
 * failed) and go back to polling. */
static void abandon(struct sim_fleet *f, struct device *d, const struct sim_failure *why)
{
	d->attempts = 0;
	if (!d->in_cycle) {
		go_poll(f, d);
		return;
	}
	d->pending = SIM_OUTCOME_ERROR;
	if (d->step == STEP_REPORT)
		run_next(f, d, NEXT_POLL);
	else
		report(f, d, "failed", -1, why, NEXT_POLL, 0);
}

/* The "detail" of a problem+json answer, or "". */
static void problem_detail(const struct sim_response *res, char *out, size_t size)
{
	json_t *j;

	out[0] = '\0';
	if (!res->body_len || strncmp(res->content_type, "application/problem+json", 24) != 0)
		return;
	j = json_loadb((const char *)res->body, res->body_len, 0, NULL);
	if (j && json_is_string(json_object_get(j, "detail")))
		snprintf(out, size, ": %s", json_string_value(json_object_get(j, "detail")));
	json_decref(j);
}

/* A request failed or got an unexpected status: count it, then try the
 * step again (transport errors, 408, 429, 5xx; a few times with backoff,
 * polls for ever) or give up the cycle. */
static void step_failed(struct sim_fleet *f, struct device *d, const struct sim_response *res,
			const char *what)
{
	struct sim_failure why;
	bool retry;

	if (res->status == 0) {
		sim_stats_error(f->stats, SIM_ERROR_TRANSPORT, 0, d->who->id, "%s: %s", what,
				res->error);
		retry = true;
		failure_set(&why, SIM_REASON_OPERATION_FAILED, 20, -1, "%s failed: %s", what,
			    res->error);
	} else {
		char detail[200];
		problem_detail(res, detail, sizeof(detail));
		sim_stats_error(f->stats, SIM_ERROR_HTTP, res->status, d->who->id, "%s: HTTP %ld%s",
				what, res->status, detail);
		retry = res->status >= 500 || res->status == 408 || res->status == 429;
		failure_set(&why, SIM_REASON_OPERATION_FAILED, 20, res->status,
			    "%s failed: HTTP %ld", what, res->status);
	}
	if (res->status == 401 || res->status == 403) {
		device_stop(f, d);
		return;
	}
	d->attempts++;
	if (d->step == STEP_POLL) {
		set_phase(f, d, SIM_PHASE_IDLE);
		send_step(f, d, STEP_POLL, backoff(d));
	} else if (retry && d->attempts <= STEP_RETRIES) {
		send_step(f, d, d->step, backoff(d));
	} else {
		abandon(f, d, &why);
	}
}

/* ---- downloading ---- */

/* Start image d->image (or the next one that needs fetching) from byte 0,
 * drawing this download's injected faults. */
static void image_begin(struct sim_fleet *f, struct device *d)
{
	const struct image *img;
	double corrupt, crash;
	uint64_t corrupt_pos, crash_pos;

	while (d->image < d->image_count && d->images[d->image].integrated)
		d->image++;
	if (d->image == d->image_count)
		return;
	img = &d->images[d->image];
	d->offset = 0;
	d->corrupted = false;
	if (!d->sha)
		d->sha = EVP_MD_CTX_new();
	if (!d->sha || !EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL)) {
		fputs("suit-sim: out of memory\n", stderr);
		abort();
	}
	/* Always four draws, so that later draws do not depend on the rates. */
	corrupt = sim_rng_unit(&d->rng);
	crash = sim_rng_unit(&d->rng);
	corrupt_pos = sim_rng_next(&d->rng);
	crash_pos = sim_rng_next(&d->rng);
	d->corrupt_at = d->crash_at = NONE;
	/* Faults hit the first download of an image only: the retry is clean. */
	if (d->image_attempts || !img->has_size)
		return;
	if (img->size > 0 && corrupt < f->o->corrupt_rate)
		d->corrupt_at = corrupt_pos % img->size;
	if (img->size > 1 && crash < f->o->crash_rate)
		d->crash_at = 1 + crash_pos % (img->size - 1);
}

static void hash(struct device *d, const uint8_t *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(d->sha, data, len);
}

/* The bytes of a 2xx payload answer, as they arrive. */
static bool payload_sink(void *cls, unsigned i, const struct sim_response *res, const uint8_t *data,
			 size_t len)
{
	struct sim_fleet *f = cls;
	struct device *d = &f->dev[i];
	struct image *img;
	uint64_t limit;
	bool crash = false;

	if (d->step != STEP_CHUNK || !d->in_cycle || d->image >= d->image_count)
		return false;
	img = &d->images[d->image];
	if (!d->chunk_checked) {
		bool ok = (res->status == 206 && res->has_range &&
			   res->range_first == d->chunk_start &&
			   (!img->has_size || res->range_total == img->size)) ||
			  (res->status == 200 && d->chunk_start == 0);
		if (!ok) {
			d->bad_chunk = true;
			return false;
		}
		if (!img->has_size && res->status == 206) {
			img->has_size = true;
			img->size = res->range_total;
		}
		d->chunk_checked = true;
	}
	limit = res->status == 206 ? res->range_last + 1 : img->has_size ? img->size : NONE;
	if (len > limit - d->offset) {
		d->bad_chunk = true;
		return false;
	}
	/* A crash: what reached flash before it stays, the rest is lost. */
	if (d->crash_at != NONE && d->crash_at < d->offset + len) {
		crash = true;
		len = (size_t)(d->crash_at - d->offset);
	}
	if (d->corrupt_at != NONE && d->corrupt_at < d->offset + len) {
		size_t k = (size_t)(d->corrupt_at - d->offset);
		uint8_t flipped = (uint8_t)(data[k] ^ 0x01);
		hash(d, data, k);
		hash(d, &flipped, 1);
		hash(d, data + k + 1, len - k - 1);
		d->corrupt_at = NONE;
		d->corrupted = true;
		f->stats->corrupted++;
	} else {
		hash(d, data, len);
	}
	d->offset += len;
	f->stats->bytes_downloaded += len;
	if (crash) {
		d->crash_at = NONE;
		d->crashed = true;
		return false;
	}
	return true;
}

static bool progress_due(struct device *d, int *ret_percent)
{
	uint64_t done;
	int p;

	if (d->silent || !d->total_bytes)
		return false;
	done = d->done_bytes + (d->image < d->image_count ? d->offset : 0);
	p = (int)(done * 100 / d->total_bytes);
	if (p >= 100 || p < d->next_progress)
		return false;
	d->next_progress = p - p % PROGRESS_STEP + PROGRESS_STEP;
	*ret_percent = p;
	return true;
}

static void downloads_done(struct sim_fleet *f, struct device *d)
{
	if (d->silent) {
		/* Injected silence: no report, no check-in, for the rest of the run. */
		cycle_end(f, d, SIM_OUTCOME_SILENT);
		set_phase(f, d, SIM_PHASE_SILENT);
		return;
	}
	report(f, d, "downloaded", 100, NULL, NEXT_INSTALLING, 0);
}

static void next_chunk(struct sim_fleet *f, struct device *d)
{
	int percent;

	if (d->image >= d->image_count) {
		downloads_done(f, d);
		return;
	}
	if (progress_due(d, &percent)) {
		report(f, d, "downloading", percent, NULL, NEXT_CHUNK, 0);
		return;
	}
	send_step(f, d, STEP_CHUNK, 0);
}

static void image_done(struct sim_fleet *f, struct device *d)
{
	const struct image *img = &d->images[d->image];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	struct sim_failure why;

	EVP_DigestFinal_ex(d->sha, md, &md_len);
	if (d->offset == img->size && md_len == SHA256_LEN &&
	    memcmp(md, img->sha256, SHA256_LEN) == 0) {
		d->done_bytes += img->size;
		d->image++;
		d->image_attempts = 0;
		image_begin(f, d);
		next_chunk(f, d);
		return;
	}
	d->image_attempts++;
	if (d->corrupted) {
		/* What --corrupt-rate is for: detected, downloaded again. */
		f->stats->mismatches_detected++;
	} else {
		sim_stats_error(f->stats, SIM_ERROR_DIGEST, 0, d->who->id,
				"image %u: SHA-256 of the %llu bytes downloaded is not the "
				"manifest's",
				d->image, (unsigned long long)d->offset);
		if (d->image_attempts >= IMAGE_ATTEMPTS) {
			failure_set(&why, SIM_REASON_CONDITION_FAILED, 7, 3,
				    "image %u: SHA-256 mismatch after %u downloads", d->image,
				    d->image_attempts);
			abandon(f, d, &why);
			return;
		}
	}
	image_begin(f, d);
	next_chunk(f, d);
}

static void on_chunk(struct sim_fleet *f, struct device *d, const struct sim_response *res)
{
	struct image *img = &d->images[d->image];

	if (res->sink_stopped && d->crashed) {
		/* Injected crash: reboot, check in, resume from the bytes kept. */
		f->stats->crashes++;
		set_phase(f, d, SIM_PHASE_REBOOTING);
		send_step(f, d, STEP_RESUME, short_delay(d));
		return;
	}
	if (res->sink_stopped && d->bad_chunk) {
		struct sim_failure why;
		sim_stats_error(f->stats, SIM_ERROR_PROTOCOL, 0, d->who->id,
				"image %u: the answer to Range bytes=%llu- is not that range "
				"(HTTP %ld)",
				d->image, (unsigned long long)d->chunk_start, res->status);
		if (++d->image_attempts >= IMAGE_ATTEMPTS) {
			failure_set(&why, SIM_REASON_OPERATION_FAILED, 20, 4,
				    "image %u: the server does not answer ranges", d->image);
			abandon(f, d, &why);
			return;
		}
		image_begin(f, d);
		next_chunk(f, d);
		return;
	}
	if (res->status != 206 && res->status != 200) {
		/* Bytes that did arrive are kept: the retry resumes after them. */
		step_failed(f, d, res, "payload download");
		return;
	}
	d->attempts = 0;
	if (!img->has_size) { /* a 200 gives the whole image */
		img->has_size = true;
		img->size = d->offset;
	}
	if (d->offset >= img->size)
		image_done(f, d);
	else
		next_chunk(f, d);
}

/* ---- check-in ---- */

/* The manifest digest from the ETag ("<hex>"). */
static bool digest_from_etag(struct device *d)
{
	const char *e = d->etag;
	size_t n = strlen(e);

	if (n < 4 || e[0] != '"' || e[n - 1] != '"' || (n - 2) % 2 || (n - 2) / 2 > SUIT_MAX_DIGEST)
		return false;
	memcpy(d->digest_hex, e + 1, n - 2);
	d->digest_hex[n - 2] = '\0';
	d->digest.alg = COSE_ALG_SHA256;
	d->digest.len = (n - 2) / 2;
	return hex_decode(d->digest_hex, d->digest.bytes, d->digest.len);
}

static void refuse_envelope(struct sim_fleet *f, struct device *d, enum suit_check c,
			    const struct diag *dg)
{
	struct sim_failure why;
	int64_t reason = SIM_REASON_CONDITION_FAILED, section = 3;

	switch (c) {
	case SUIT_CBOR_PARSE:
	case SUIT_OBSOLETE_ENCODING:
		reason = SIM_REASON_CBOR_PARSE;
		break;
	case SUIT_UNSIGNED:
	case SUIT_SIGNATURE_INVALID:
	case SUIT_NO_TRUSTED_SIGNATURE:
		reason = SIM_REASON_UNAUTHORISED;
		section = 2;
		break;
	case SUIT_ALG_UNSUPPORTED:
	case SUIT_DIGEST_ALG_UNSUPPORTED:
		reason = SIM_REASON_ALG_UNSUPPORTED;
		section = 2;
		break;
	default:
		break;
	}
	sim_stats_error(f->stats, SIM_ERROR_VERIFY, 0, d->who->id,
			"manifest %.16s... refused: %s: %s", d->digest_hex, suit_check_slug(c),
			dg->text);
	failure_set(&why, reason, section, (int64_t)c, "manifest refused: %s: %s",
		    suit_check_slug(c), dg->text);
	d->pending = SIM_OUTCOME_ERROR;
	report(f, d, "failed", -1, &why, NEXT_POLL, 0);
}

/* Copy what the device needs from the facts; false (why filled) when an
 * image cannot be fetched and verified. */
static bool take_images(struct device *d, const struct suit_facts *facts, struct sim_failure *why)
{
	d->image_count = facts->image_count;
	d->images = calloc(facts->image_count ? facts->image_count : 1, sizeof(*d->images));
	if (!d->images) {
		fputs("suit-sim: out of memory\n", stderr);
		abort();
	}
	d->total_bytes = 0;
	for (unsigned i = 0; i < facts->image_count; i++) {
		const struct suit_image *s = &facts->images[i];
		struct image *img = &d->images[i];
		img->integrated = s->uri[0] == '#';
		if (img->integrated)
			continue;
		if (!s->has_digest || s->digest.alg != COSE_ALG_SHA256 ||
		    s->digest.len != SHA256_LEN) {
			failure_set(why, SIM_REASON_CONDITION_FAILED, 3, 5,
				    "image %u has no SHA-256 digest to verify it with", i);
			return false;
		}
		memcpy(img->sha256, s->digest.bytes, SHA256_LEN);
		img->has_size = s->has_size;
		img->size = s->size;
		d->total_bytes += s->has_size ? s->size : 0;
	}
	return true;
}

static void begin_cycle(struct sim_fleet *f, struct device *d, const struct sim_response *res)
{
	struct suit_verify_options vo = {.keyring = f->keyring, .require_signature = true};
	struct diag dg = {{0}, 0, {0}};
	struct sim_failure why;
	enum suit_check c;
	char hex[2 * SUIT_MAX_DIGEST + 1];

	f->stats->cycles++;
	d->in_cycle = true;
	d->image = d->image_attempts = 0;
	d->done_bytes = 0;
	d->next_progress = PROGRESS_STEP;
	d->attempts = 0;
	snprintf(d->etag, sizeof(d->etag), "%s", res->etag);
	/* Draw every cycle's decisions, used or not, to keep streams aligned. */
	d->silent = sim_rng_unit(&d->rng) < f->o->silent_rate;
	d->fail = sim_rng_unit(&d->rng) < f->o->fail_rate;
	set_phase(f, d, SIM_PHASE_DOWNLOADING);
	if (!digest_from_etag(d)) {
		sim_stats_error(f->stats, SIM_ERROR_PROTOCOL, 0, d->who->id,
				"the envelope comes without an ETag \"<digest>\" ('%s')", d->etag);
		cycle_end(f, d, SIM_OUTCOME_ERROR);
		go_poll(f, d);
		return;
	}
	c = suit_envelope_check(res->body, res->body_len, &vo, f->facts, &dg);
	if (c != SUIT_OK) {
		refuse_envelope(f, d, c, &dg);
		return;
	}
	d->digest = f->facts->manifest_digest;
	hex_encode(d->digest.bytes, d->digest.len, hex);
	if (strcmp(hex, d->digest_hex) != 0)
		sim_stats_error(f->stats, SIM_ERROR_PROTOCOL, 0, d->who->id,
				"the ETag %s is not the manifest digest %s", d->etag, hex);
	snprintf(d->digest_hex, sizeof(d->digest_hex), "%s", hex);
	d->new_seq = f->facts->sequence;
	bool usable = take_images(d, f->facts, &why);
	suit_facts_release(f->facts);
	if (usable && d->new_seq <= d->seq) {
		sim_stats_error(f->stats, SIM_ERROR_PROTOCOL, 0, d->who->id,
				"offered sequence %llu while running %llu",
				(unsigned long long)d->new_seq, (unsigned long long)d->seq);
		failure_set(&why, SIM_REASON_CONDITION_FAILED, 3, 6,
			    "sequence %llu is not newer than the running %llu",
			    (unsigned long long)d->new_seq, (unsigned long long)d->seq);
		usable = false;
	} else if (!usable) {
		sim_stats_error(f->stats, SIM_ERROR_VERIFY, 0, d->who->id, "%s", why.text);
	}
	if (!usable) {
		d->pending = SIM_OUTCOME_ERROR;
		report(f, d, "failed", -1, &why, NEXT_POLL, 0);
		return;
	}
	image_begin(f, d);
	report(f, d, "downloading", 0, NULL, NEXT_CHUNK, 0);
}

static void on_checkin(struct sim_fleet *f, struct device *d, const struct sim_response *res)
{
	bool same = d->in_cycle && strcmp(res->etag, d->etag) == 0;

	if (res->status == 200 && res->too_large) {
		sim_stats_error(f->stats, SIM_ERROR_PROTOCOL, 0, d->who->id,
				"the envelope is larger than %zu bytes", ENVELOPE_MAX);
		go_poll(f, d);
		return;
	}
	if (res->status != 200 && res->status != 204 && res->status != 304) {
		step_failed(f, d, res, "check-in");
		return;
	}
	d->attempts = 0;
	if (d->step == STEP_RESUME && (res->status == 304 || (res->status == 200 && same))) {
		f->stats->resumed++;
		set_phase(f, d, SIM_PHASE_DOWNLOADING);
		send_step(f, d, STEP_CHUNK, 0);
		return;
	}
	if (d->step == STEP_CONFIRM && res->status != 304 && !same) {
		/* 204: confirmed. 200 with another manifest: the next update. */
		cycle_end(f, d, SIM_OUTCOME_CONFIRMED);
	} else if (d->in_cycle) {
		sim_stats_error(f->stats, SIM_ERROR_WITHDRAWN, 0, d->who->id,
				"HTTP %ld to the %s check-in in the middle of manifest %.16s...",
				res->status, d->step == STEP_CONFIRM ? "confirming" : "resuming",
				d->digest_hex);
		cycle_end(f, d, SIM_OUTCOME_ERROR);
	} else if (res->status == 304) {
		sim_stats_error(f->stats, SIM_ERROR_PROTOCOL, 0, d->who->id,
				"304 to a check-in without If-None-Match");
	}
	if (res->status == 200)
		begin_cycle(f, d, res);
	else
		go_poll(f, d);
}

/* ---- the loop's callbacks ---- */

static void run_next(struct sim_fleet *f, struct device *d, enum next next)
{
	struct sim_failure why;

	switch (next) {
	case NEXT_CHUNK:
		next_chunk(f, d);
		break;
	case NEXT_INSTALLING:
		set_phase(f, d, SIM_PHASE_INSTALLING);
		report(f, d, "installing", -1, NULL, NEXT_RESULT, 0);
		break;
	case NEXT_RESULT:
		if (d->fail) {
			failure_set(&why, SIM_REASON_CONDITION_FAILED, 20, 1,
				    "injected install failure (suit-sim --fail-rate)");
			d->pending = SIM_OUTCOME_FAILED;
			report(f, d, "failed", -1, &why, NEXT_POLL, short_delay(d));
		} else {
			report(f, d, "installed", -1, NULL, NEXT_REBOOT, short_delay(d));
		}
		break;
	case NEXT_REBOOT:
		set_phase(f, d, SIM_PHASE_REBOOTING);
		d->seq = d->new_seq;
		if (f->has_state)
			sim_state_set(&f->state, d->state_entry, d->seq);
		send_step(f, d, STEP_CONFIRM, short_delay(d));
		break;
	case NEXT_POLL:
		cycle_end(f, d, d->pending);
		go_poll(f, d);
		break;
	}
}

static void fleet_fill(void *cls, unsigned i, struct sim_request *r)
{
	struct sim_fleet *f = cls;
	struct device *d = &f->dev[i];
	const struct image *img;
	char hex[SHA256_HEX_LEN + 1];
	uint64_t end;

	r->token = d->who->token;
	r->cert = d->who->cert;
	r->key = d->who->key;
	r->body_max = ERROR_BODY_MAX;
	switch (d->step) {
	case STEP_POLL:
	case STEP_RESUME:
	case STEP_CONFIRM:
		r->kind = SIM_KIND_CHECKIN;
		r->body_max = ENVELOPE_MAX;
		snprintf(r->path, sizeof(r->path), "/device/v1/manifest?seq=%llu",
			 (unsigned long long)d->seq);
		if (d->step == STEP_RESUME)
			snprintf(r->if_none_match, sizeof(r->if_none_match), "%s", d->etag);
		break;
	case STEP_CHUNK:
		img = &d->images[d->image];
		r->kind = SIM_KIND_PAYLOAD;
		hex_encode(img->sha256, SHA256_LEN, hex);
		snprintf(r->path, sizeof(r->path), "/device/v1/payloads/%s", hex);
		d->chunk_start = d->offset;
		end = d->offset + f->o->chunk;
		if (img->has_size && end > img->size)
			end = img->size;
		snprintf(r->range, sizeof(r->range), "bytes=%llu-%llu",
			 (unsigned long long)d->offset, (unsigned long long)(end - 1));
		r->sink = payload_sink;
		d->bad_chunk = d->crashed = d->chunk_checked = false;
		break;
	case STEP_REPORT:
		r->kind = SIM_KIND_REPORT;
		snprintf(r->path, sizeof(r->path), "/device/v1/reports");
		r->content_type =
			d->report_suit ? "application/suit-report+cose" : "application/json";
		r->body = d->report_body;
		r->body_len = d->report_len;
		break;
	}
}

static void fleet_done(void *cls, unsigned i, const struct sim_response *res)
{
	struct sim_fleet *f = cls;
	struct device *d = &f->dev[i];

	switch (d->step) {
	case STEP_POLL:
	case STEP_RESUME:
	case STEP_CONFIRM:
		if (res->max_age >= 0)
			d->max_age = res->max_age;
		on_checkin(f, d, res);
		break;
	case STEP_CHUNK:
		on_chunk(f, d, res);
		break;
	case STEP_REPORT:
		if (res->status == 204) {
			d->attempts = 0;
			run_next(f, d, d->next);
		} else {
			step_failed(f, d, res, "report");
		}
		break;
	}
}

static bool fleet_finished(void *cls)
{
	const struct sim_fleet *f = cls;

	return f->o->until_done && f->stats->finished == f->count;
}

static void fleet_tick(void *cls, uint64_t now_usec)
{
	struct sim_fleet *f = cls;

	if (f->has_state)
		sim_state_tick(&f->state, now_usec);
}

void sim_fleet_ops(struct sim_fleet *f, struct sim_loop_ops *ret)
{
	if (f->ddi) {
		sim_ddi_ops(f->ddi, ret);
		return;
	}
	*ret = (struct sim_loop_ops){.cls = f,
				     .fill = fleet_fill,
				     .done = fleet_done,
				     .finished = fleet_finished,
				     .tick = fleet_tick};
}

/* ---- set-up ---- */

/* The devices: the tokens file's, then the certificate folder's, the first
 * o->devices of them. */
static int load_identities(struct sim_fleet *f)
{
	const struct sim_options *o = f->o;
	int rc = SIM_EXIT_OK;

	if (o->tokens)
		rc = sim_tokens_load(&f->ids, o->tokens, o->devices);
	if (rc == SIM_EXIT_OK && o->certs && (!o->devices || f->ids.count < o->devices))
		rc = sim_certs_load(&f->ids, o->certs, o->devices);
	if (rc == SIM_EXIT_OK && !f->ids.count) /* only an empty tokens file gets here */
		rc = sim_file_error(o->tokens ? o->tokens : "--tokens", 0,
				    "no devices (want lines DEVICE_ID TOKEN)");
	if (rc == SIM_EXIT_OK && o->devices && f->ids.count < o->devices) {
		fprintf(stderr, "suit-sim: --devices %u, but %s%s%s hold%s only %u\n", o->devices,
			o->tokens ? o->tokens : "", o->tokens && o->certs ? " and " : "",
			o->certs ? o->certs : "", o->tokens && o->certs ? "" : "s", f->ids.count);
		rc = SIM_EXIT_USAGE;
	}
	if (rc == SIM_EXIT_OK)
		rc = sim_identities_unique(&f->ids);
	return rc;
}

/* Each device's sequence number from the state file; the file is written
 * at once, so that a path that cannot be written fails before a request. */
static int load_state(struct sim_fleet *f)
{
	int rc = sim_state_load(&f->state, f->o->state);

	if (rc != SIM_EXIT_OK)
		return rc;
	f->has_state = true;
	for (unsigned i = 0; i < f->count; i++) {
		struct device *d = &f->dev[i];
		if (!sim_state_entry(&f->state, d->who->id, &d->state_entry)) {
			fputs("suit-sim: out of memory\n", stderr);
			return SIM_EXIT_ERRORS;
		}
		d->seq = f->state.entries[d->state_entry].seq;
	}
	return sim_state_save(&f->state) ? SIM_EXIT_OK : SIM_EXIT_USAGE;
}

int sim_fleet_new(const struct sim_options *o, uint64_t seed, struct sim_fleet **ret)
{
	struct sim_fleet *f = calloc(1, sizeof(*f));
	struct diag dg = {{0}, 0, {0}};
	int rc;

	if (f)
		f->facts = calloc(1, sizeof(*f->facts));
	if (!f || !f->facts || suit_keyring_new(&f->keyring) != ERR_OK) {
		fputs("suit-sim: out of memory\n", stderr);
		sim_fleet_free(f);
		return SIM_EXIT_ERRORS;
	}
	f->o = o;
	for (unsigned i = 0; i < o->anchor_count; i++)
		if (suit_keyring_add_pem(f->keyring, o->anchors[i], &dg) != ERR_OK) {
			fprintf(stderr, "suit-sim: --trust-anchor %s: %s\n", o->anchors[i],
				dg.text);
			sim_fleet_free(f);
			return SIM_EXIT_USAGE;
		}
	rc = load_identities(f);
	if (rc == SIM_EXIT_OK) {
		f->count = f->ids.count;
		f->dev = calloc(f->count, sizeof(*f->dev));
		if (!f->dev) {
			fputs("suit-sim: out of memory\n", stderr);
			rc = SIM_EXIT_ERRORS;
		}
	}
	for (unsigned i = 0; rc == SIM_EXIT_OK && i < f->count; i++) {
		struct device *d = &f->dev[i];
		d->who = &f->ids.v[i];
		d->rng = sim_rng_seed(seed, i);
		d->max_age = -1;
		d->phase = SIM_PHASE_IDLE;
	}
	if (rc == SIM_EXIT_OK && o->state)
		rc = load_state(f);
	if (rc == SIM_EXIT_OK && o->protocol == SIM_PROTOCOL_DDI &&
	    !(f->ddi = sim_ddi_new(o, &f->ids, seed))) {
		fputs("suit-sim: out of memory\n", stderr);
		rc = SIM_EXIT_ERRORS;
	}
	if (rc != SIM_EXIT_OK) {
		sim_fleet_free(f);
		return rc;
	}
	*ret = f;
	return SIM_EXIT_OK;
}

unsigned sim_fleet_size(const struct sim_fleet *f)
{
	return f->count;
}

void sim_fleet_start(struct sim_fleet *f, struct sim_loop *loop, struct sim_stats *stats)
{
	double spread = f->o->max_poll > 0 && f->o->max_poll < START_SPREAD_S ? f->o->max_poll
									      : START_SPREAD_S;

	f->loop = loop;
	f->stats = stats;
	if (f->ddi) {
		sim_ddi_start(f->ddi, loop, stats);
		return;
	}
	for (unsigned i = 0; i < f->count; i++)
		send_step(f, &f->dev[i], STEP_POLL,
			  sim_usec_of(spread * sim_rng_unit(&f->dev[i].rng)));
}

bool sim_fleet_save(struct sim_fleet *f)
{
	return !f->has_state || sim_state_save(&f->state);
}

json_t *sim_fleet_sequences(const struct sim_fleet *f)
{
	json_t *o = json_object();
	char key[24];

	for (unsigned i = 0; o && i < f->count; i++) {
		json_t *n;
		snprintf(key, sizeof(key), "%llu", (unsigned long long)f->dev[i].seq);
		n = json_object_get(o, key);
		json_object_set_new(o, key, json_integer(n ? json_integer_value(n) + 1 : 1));
	}
	return o;
}

json_t *sim_fleet_identities(const struct sim_fleet *f)
{
	json_int_t certs = 0;

	for (unsigned i = 0; i < f->count; i++)
		certs += f->dev[i].who->cert != NULL;
	return json_pack("{s:I, s:I}", "token", (json_int_t)f->count - certs, "certificate", certs);
}

void sim_fleet_free(struct sim_fleet *f)
{
	if (!f)
		return;
	for (unsigned i = 0; f->dev && i < f->count; i++) {
		struct device *d = &f->dev[i];
		free(d->images);
		free(d->report_body);
		EVP_MD_CTX_free(d->sha);
	}
	free(f->dev);
	sim_ddi_free(f->ddi);
	sim_identities_release(&f->ids);
	sim_state_release(&f->state);
	suit_keyring_free(f->keyring);
	free(f->facts);
	free(f);
}
