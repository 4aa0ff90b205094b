/* suit-sim: what the simulated fleet did — requests by kind with latency
 * histograms, update cycles, injected faults, unexpected errors — the live
 * progress line and the JSON summary. Single-threaded: no locks. */
#ifndef SUITD_TOOLS_SUIT_SIM_STATS_H
#define SUITD_TOOLS_SUIT_SIM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Request kinds, each with its own latency histogram. X(name, json key) */
#define SIM_KIND_LIST(X)            \
	X(CHECKIN, "checkin")       \
	X(PAYLOAD, "payload_chunk") \
	X(REPORT, "report")

enum sim_kind {
#define SIM_KIND_ENUM(name, key) SIM_KIND_##name,
	SIM_KIND_LIST(SIM_KIND_ENUM)
#undef SIM_KIND_ENUM
		SIM_KIND__COUNT
};

/* What a device is doing now (the progress line). */
#define SIM_PHASE_LIST(X)             \
	X(IDLE, "idle")               \
	X(DOWNLOADING, "downloading") \
	X(INSTALLING, "installing")   \
	X(REBOOTING, "rebooting")     \
	X(SILENT, "silent")           \
	X(STOPPED, "stopped")

enum sim_phase {
#define SIM_PHASE_ENUM(name, key) SIM_PHASE_##name,
	SIM_PHASE_LIST(SIM_PHASE_ENUM)
#undef SIM_PHASE_ENUM
		SIM_PHASE__COUNT
};

/* How an update cycle ended. */
enum sim_outcome {
	SIM_OUTCOME_CONFIRMED, /* installed, rebooted, confirmed by the check-in */
	SIM_OUTCOME_FAILED,    /* injected install failure, reported */
	SIM_OUTCOME_SILENT,    /* injected silence: downloaded, then nothing */
	SIM_OUTCOME_ERROR,     /* ended by an unexpected error */
	SIM_OUTCOME__COUNT
};

/* Unexpected errors: any of them makes the exit status 1. X(name, json key) */
#define SIM_ERROR_LIST(X)                                                  \
	X(HTTP, "http")		     /* an unexpected status, by status */ \
	X(TRANSPORT, "transport")    /* connect, TLS, timeout, reset */    \
	X(DIGEST, "digest_mismatch") /* not caused by --corrupt-rate */    \
	X(VERIFY, "verify")	     /* envelope refused by suit/ */       \
	X(PROTOCOL, "protocol")	     /* an answer that breaks the API */   \
	X(WITHDRAWN, "withdrawn")    /* the server dropped an update mid-way */

enum sim_error {
#define SIM_ERROR_ENUM(name, key) SIM_ERROR_##name,
	SIM_ERROR_LIST(SIM_ERROR_ENUM)
#undef SIM_ERROR_ENUM
		SIM_ERROR__COUNT
};

/* Log-linear histogram of microseconds: 64 sub-buckets per power of two
 * (under 1.6 % error), values up to 2^40 us. */
#define SIM_HIST_SUB	 64
#define SIM_HIST_BUCKETS (SIM_HIST_SUB * 36)

struct sim_hist {
	uint64_t count, max;
	uint64_t buckets[SIM_HIST_BUCKETS];
};

#define SIM_STATUS_MAX 600
/* libcurl's CURLcode values are below this (curl 7.88 stops at 99). */
#define SIM_TRANSPORT_CODES 128

struct sim_kind_stats {
	uint64_t count;
	uint64_t transport_failures;
	/* By CURLcode: which transport error (28 timeout, 56 receive, ...). */
	uint64_t transport_codes[SIM_TRANSPORT_CODES];
	uint64_t status[SIM_STATUS_MAX];
	struct sim_hist latency; /* completed requests (a status), not failures */
};

struct sim_stats {
	uint64_t start_usec;
	unsigned devices;
	bool quiet, tty;
	unsigned phase[SIM_PHASE__COUNT];
	uint64_t outcome[SIM_OUTCOME__COUNT];
	unsigned finished; /* devices with at least one outcome */
	uint64_t cycles;   /* update cycles begun (a verified or refused envelope) */
	uint64_t errors[SIM_ERROR__COUNT];
	uint64_t http_errors[SIM_STATUS_MAX];
	/* Faults injected and what the devices made of them. */
	uint64_t corrupted, mismatches_detected, crashes, resumed;
	uint64_t bytes_downloaded;
	unsigned errors_printed;
	/* The first message of each error class, for the summary. */
	char first_error[SIM_ERROR__COUNT][200];
	struct sim_kind_stats kind[SIM_KIND__COUNT];
};

/* Every device starts idle. quiet: no error lines on stderr. */
void sim_stats_init(struct sim_stats *s, unsigned devices, bool quiet, bool tty);
/* One finished request: status 0 when the transfer failed (no answer),
 * transport_code then libcurl's CURLcode. */
void sim_stats_request(struct sim_stats *s, enum sim_kind kind, long status, int transport_code,
		       uint64_t usec);
void sim_stats_phase(struct sim_stats *s, enum sim_phase from, enum sim_phase to);
/* first: the device's first outcome (it counts as finished). */
void sim_stats_outcome(struct sim_stats *s, enum sim_outcome o, bool first);
/* Count an unexpected error (status for SIM_ERROR_HTTP), keep the first
 * message of its class for the summary and, for the first few, print one
 * line "suit-sim: DEVICE: TEXT" on stderr. */
void sim_stats_error(struct sim_stats *s, enum sim_error e, long status, const char *device,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
uint64_t sim_stats_error_total(const struct sim_stats *s);
/* Value at percentile p (0..100) of h in microseconds; 0 when empty. */
uint64_t sim_hist_percentile(const struct sim_hist *h, double p);
void sim_hist_add(struct sim_hist *h, uint64_t usec);
/* The live line (carriage return, no newline). */
void sim_stats_progress(const struct sim_stats *s, FILE *out);
/* Clear the live line before other output on the terminal. */
void sim_stats_progress_clear(const struct sim_stats *s, FILE *out);
/* The summary (new reference); the caller adds its own members. */
json_t *sim_stats_json(const struct sim_stats *s, double wall_seconds);

#endif
