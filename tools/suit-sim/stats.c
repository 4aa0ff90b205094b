#include "tools/suit-sim/stats.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "common/timeutil.h"

/* Error lines printed before the rest are only counted. */
#define ERRORS_PRINTED_MAX 10

static const char *const kind_keys[] = {
#define SIM_KIND_KEY(name, key) key,
	SIM_KIND_LIST(SIM_KIND_KEY)
#undef SIM_KIND_KEY
};

static const char *const phase_keys[] = {
#define SIM_PHASE_KEY(name, key) key,
	SIM_PHASE_LIST(SIM_PHASE_KEY)
#undef SIM_PHASE_KEY
};

static const char *const error_keys[] = {
#define SIM_ERROR_KEY(name, key) key,
	SIM_ERROR_LIST(SIM_ERROR_KEY)
#undef SIM_ERROR_KEY
};

void sim_stats_init(struct sim_stats *s, unsigned devices, bool quiet, bool tty)
{
	memset(s, 0, sizeof(*s));
	s->start_usec = time_mono_usec();
	s->devices = devices;
	s->quiet = quiet;
	s->tty = tty;
	s->phase[SIM_PHASE_IDLE] = devices;
}

/* Values below 2 * SIM_HIST_SUB have their own bucket; above, the top 7
 * bits (the leading one and 6 more) pick one of SIM_HIST_SUB buckets
 * within the power of two. */
static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift, idx;

	if (v < (uint64_t)2 * SIM_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - 6u;
	idx = shift * SIM_HIST_SUB + (unsigned)(v >> shift);
	return idx < SIM_HIST_BUCKETS ? idx : SIM_HIST_BUCKETS - 1;
}

/* The middle of the bucket's value range. */
static uint64_t hist_value(unsigned idx)
{
	unsigned shift, sub;

	if (idx < 2 * SIM_HIST_SUB)
		return idx;
	shift = idx / SIM_HIST_SUB - 1u;
	sub = idx % SIM_HIST_SUB + SIM_HIST_SUB;
	return ((uint64_t)sub << shift) + ((uint64_t)1 << shift) / 2;
}

void sim_hist_add(struct sim_hist *h, uint64_t usec)
{
	h->buckets[hist_index(usec)]++;
	h->count++;
	if (usec > h->max)
		h->max = usec;
}

uint64_t sim_hist_percentile(const struct sim_hist *h, double p)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	rank = (uint64_t)ceil((double)h->count * p / 100.0);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < SIM_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t v = hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

void sim_stats_request(struct sim_stats *s, enum sim_kind kind, long status, int transport_code,
		       uint64_t usec)
{
	struct sim_kind_stats *k = &s->kind[kind];

	k->count++;
	if (status <= 0) {
		k->transport_failures++;
		k->transport_codes[transport_code > 0 && transport_code < SIM_TRANSPORT_CODES
					   ? transport_code
					   : 0]++;
		return;
	}
	k->status[status < SIM_STATUS_MAX ? status : 0]++;
	sim_hist_add(&k->latency, usec);
}

void sim_stats_phase(struct sim_stats *s, enum sim_phase from, enum sim_phase to)
{
	if (from == to)
		return;
	s->phase[from]--;
	s->phase[to]++;
}

void sim_stats_outcome(struct sim_stats *s, enum sim_outcome o, bool first)
{
	s->outcome[o]++;
	if (first)
		s->finished++;
}

void sim_stats_error(struct sim_stats *s, enum sim_error e, long status, const char *device,
		     const char *fmt, ...)
{
	va_list ap;

	if (!s->errors[e]++) {
		int n = snprintf(s->first_error[e], sizeof(s->first_error[e]), "%s: ", device);

		va_start(ap, fmt);
		if (n > 0 && (size_t)n < sizeof(s->first_error[e]))
			vsnprintf(s->first_error[e] + n, sizeof(s->first_error[e]) - (size_t)n, fmt,
				  ap);
		va_end(ap);
	}
	if (e == SIM_ERROR_HTTP)
		s->http_errors[status > 0 && status < SIM_STATUS_MAX ? status : 0]++;
	if (s->quiet || s->errors_printed > ERRORS_PRINTED_MAX)
		return;
	sim_stats_progress_clear(s, stderr);
	if (s->errors_printed++ == ERRORS_PRINTED_MAX) {
		fputs("suit-sim: more errors are only counted (see the summary)\n", stderr);
		return;
	}
	fprintf(stderr, "suit-sim: %s: ", device);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t sim_stats_error_total(const struct sim_stats *s)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < SIM_ERROR__COUNT; i++)
		n += s->errors[i];
	return n;
}

void sim_stats_progress(const struct sim_stats *s, FILE *out)
{
	double t = (double)(time_mono_usec() - s->start_usec) / 1e6;
	uint64_t requests = 0;

	for (unsigned k = 0; k < SIM_KIND__COUNT; k++)
		requests += s->kind[k].count;
	fprintf(out, "\r\033[K%6.1fs", t);
	for (unsigned p = 0; p < SIM_PHASE__COUNT; p++)
		if (s->phase[p] || p == SIM_PHASE_IDLE)
			fprintf(out, " %s %u", phase_keys[p], s->phase[p]);
	fprintf(out, " | confirmed %llu failed %llu silent %llu errors %llu | %llu req, %.1f MB",
		(unsigned long long)s->outcome[SIM_OUTCOME_CONFIRMED],
		(unsigned long long)s->outcome[SIM_OUTCOME_FAILED],
		(unsigned long long)s->outcome[SIM_OUTCOME_SILENT],
		(unsigned long long)sim_stats_error_total(s), (unsigned long long)requests,
		(double)s->bytes_downloaded / 1e6);
	fflush(out);
}

void sim_stats_progress_clear(const struct sim_stats *s, FILE *out)
{
	if (s->tty && !s->quiet)
		fputs("\r\033[K", out);
}

static json_t *ms(uint64_t usec)
{
	return json_real(round((double)usec / 1000.0 * 1000.0) / 1000.0);
}

static json_t *status_counts(const uint64_t *status)
{
	json_t *o = json_object();
	char key[16];

	for (unsigned i = 0; i < SIM_STATUS_MAX; i++) {
		if (!status[i])
			continue;
		if (i == 0)
			snprintf(key, sizeof(key), "other");
		else
			snprintf(key, sizeof(key), "%u", i);
		json_object_set_new(o, key, json_integer((json_int_t)status[i]));
	}
	return o;
}

/* Counts by code, keyed by the decimal code; only the codes seen. */
static json_t *code_counts(const uint64_t *counts, unsigned n)
{
	json_t *o = json_object();
	char key[16];

	for (unsigned i = 0; i < n; i++) {
		if (!counts[i])
			continue;
		snprintf(key, sizeof(key), "%u", i);
		json_object_set_new(o, key, json_integer((json_int_t)counts[i]));
	}
	return o;
}

static json_t *kind_json(const struct sim_kind_stats *k)
{
	const struct sim_hist *h = &k->latency;

	return json_pack("{s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o}", "count", (json_int_t)k->count,
			 "status", status_counts(k->status), "transport_errors",
			 (json_int_t)k->transport_failures, "transport_codes",
			 code_counts(k->transport_codes, SIM_TRANSPORT_CODES), "p50_ms",
			 ms(sim_hist_percentile(h, 50)), "p90_ms", ms(sim_hist_percentile(h, 90)),
			 "p99_ms", ms(sim_hist_percentile(h, 99)), "max_ms", ms(h->max));
}

json_t *sim_stats_json(const struct sim_stats *s, double wall_seconds)
{
	json_t *errors = json_object(), *requests = json_object(), *phases = json_object();

	json_t *first = json_object();

	json_object_set_new(errors, "total", json_integer((json_int_t)sim_stats_error_total(s)));
	for (unsigned e = 0; e < SIM_ERROR__COUNT; e++) {
		json_object_set_new(errors, error_keys[e],
				    e == SIM_ERROR_HTTP ? status_counts(s->http_errors)
							: json_integer((json_int_t)s->errors[e]));
		if (s->errors[e])
			json_object_set_new(first, error_keys[e], json_string(s->first_error[e]));
	}
	json_object_set_new(errors, "first", first);
	for (unsigned k = 0; k < SIM_KIND__COUNT; k++)
		json_object_set_new(requests, kind_keys[k], kind_json(&s->kind[k]));
	for (unsigned p = 0; p < SIM_PHASE__COUNT; p++)
		json_object_set_new(phases, phase_keys[p], json_integer(s->phase[p]));
	return json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:o, "
		"s:o, s:o, s:I, s:f}",
		"devices", (json_int_t)s->devices, "cycles_done",
		(json_int_t)s->outcome[SIM_OUTCOME_CONFIRMED], "failed",
		(json_int_t)s->outcome[SIM_OUTCOME_FAILED], "silent",
		(json_int_t)s->outcome[SIM_OUTCOME_SILENT], "errored_cycles",
		(json_int_t)s->outcome[SIM_OUTCOME_ERROR], "cycles_started", (json_int_t)s->cycles,
		"unfinished", (json_int_t)(s->devices - s->finished), "injected",
		"install_failures", (json_int_t)s->outcome[SIM_OUTCOME_FAILED], "silent",
		(json_int_t)s->outcome[SIM_OUTCOME_SILENT], "corrupted_downloads",
		(json_int_t)s->corrupted, "crashes", (json_int_t)s->crashes, "detected",
		"digest_mismatches", (json_int_t)s->mismatches_detected, "resumed_downloads",
		(json_int_t)s->resumed, "errors", errors, "requests", requests, "phases", phases,
		"bytes_downloaded", (json_int_t)s->bytes_downloaded, "wall_seconds",
		round(wall_seconds * 1000.0) / 1000.0);
}
