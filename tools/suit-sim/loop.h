/* suit-sim: the one event loop. One libcurl multi handle runs every
 * transfer; a timer heap holds each device's next request; a FIFO holds
 * devices whose request is due while all transfer slots are busy
 * (--concurrency). No thread per device: a device is a state machine that
 * asks for its next request (sim_loop_send) and is called back with the
 * answer. SIGINT and SIGTERM stop the loop (signalfd, no handler). */
#ifndef SUITD_TOOLS_SUIT_SIM_LOOP_H
#define SUITD_TOOLS_SUIT_SIM_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "common/error.h"
#include "tools/suit-sim/stats.h"

struct sim_loop;
struct sim_response;

/* Payload bytes of a 2xx answer (headers already in res), in order.
 * Returning false aborts the transfer (res->sink_stopped). */
typedef bool (*sim_sink_fn)(void *cls, unsigned dev, const struct sim_response *res,
			    const uint8_t *data, size_t len);

/* The request a device sends, filled by its fill callback. */
struct sim_request {
	enum sim_kind kind;
	char path[256];		  /* after the base URL, query included */
	const char *token;	  /* Authorization: Bearer, or NULL */
	const char *auth_scheme;  /* instead of "Bearer" (DDI: "TargetToken") */
	const char *cert, *key;	  /* TLS client certificate and key (PEM files), or NULL */
	char range[64];		  /* "bytes=a-b" or "" */
	char if_none_match[160];  /* or "" */
	const char *content_type; /* non-NULL: POST this body */
	const void *body;	  /* copied */
	size_t body_len;
	size_t body_max;  /* largest answer body kept (bigger: too_large) */
	sim_sink_fn sink; /* NULL: keep the body */
};

struct sim_response {
	CURLcode result;
	const char *error; /* libcurl's message when result != CURLE_OK */
	long status;	   /* 0 without an answer */
	uint64_t usec;	   /* total time of the transfer */
	long max_age;	   /* Cache-Control max-age, -1 absent */
	char etag[160];
	char content_type[96];
	bool has_range; /* Content-Range: bytes first-last/total */
	uint64_t range_first, range_last, range_total;
	bool sink_stopped; /* the sink returned false */
	bool too_large;	   /* the body passed body_max */
	const uint8_t *body;
	size_t body_len;
};

struct sim_loop_ops {
	void *cls;
	/* dev's request is due and a slot is free: describe it. */
	void (*fill)(void *cls, unsigned dev, struct sim_request *req);
	/* dev's transfer finished (res and its body are valid only here). */
	void (*done)(void *cls, unsigned dev, const struct sim_response *res);
	/* Stop now? (--until-done) */
	bool (*finished)(void *cls);
	/* Once per turn of the loop, at least once a second. */
	void (*tick)(void *cls, uint64_t now_usec);
};

struct sim_loop_config {
	const char *base_url; /* scheme://host:port */
	const char *cacert;   /* NULL: the system store */
	unsigned concurrency;
	unsigned devices;
	double duration; /* seconds, 0 = none */
	bool progress;	 /* a live line on stderr every 250 ms */
};

enum sim_stop {
	SIM_STOP_DONE,	   /* ops->finished said so */
	SIM_STOP_DURATION, /* --duration passed */
	SIM_STOP_SIGNAL,   /* SIGINT or SIGTERM */
	SIM_STOP_FAILURE,  /* libcurl failed as a whole */
};

/* SIGINT and SIGTERM are blocked from here on (read through a signalfd). */
enum err sim_loop_new(const struct sim_loop_config *c, const struct sim_loop_ops *ops,
		      struct sim_stats *stats, struct sim_loop **ret);
/* Transfers still running are abandoned (and not counted). */
void sim_loop_free(struct sim_loop *l);
/* dev's next request, after delay_usec (0: as soon as a slot is free). A
 * device has at most one request planned or running. */
void sim_loop_send(struct sim_loop *l, unsigned dev, uint64_t delay_usec);
enum sim_stop sim_loop_run(struct sim_loop *l);

#endif
