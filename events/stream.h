/* The event hub behind GET /api/v1/events (Server-Sent Events). One thread
 * follows the event log (storage/events.h) from the commits' signals, formats
 * each new event once and queues it on every live stream whose filter it
 * passes. A stream first replays the log after the client's id (pulled by
 * its own reads, in batches), then joins the live ones. A stream with
 * nothing to send says so (read returns 0) and is parked: its connection
 * holds no worker until the hub wakes it with more, with a heartbeat
 * (": hb" every 15 s) or to end it. A stream that falls more than its
 * buffer behind gets a last "event: overflow" and ends; the client resumes
 * by id. Nothing here knows of HTTP. */
#ifndef SUITD_EVENTS_STREAM_H
#define SUITD_EVENTS_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/events.h"

#define EVENT_FILTER_TYPES 16 /* entries of ?types= */
#define EVENT_HEARTBEAT_MS 15000
#define EVENT_STREAM_END   (-2) /* what event_stream_read returns at the end */
#define EVENT_REPLAY_BATCH 256	/* events a replaying read takes from the log */

struct event_hub;
struct event_stream;

struct event_hub_options {
	unsigned max_streams;  /* streams open at once; beyond: ERR_UNAVAILABLE */
	size_t stream_buffer;  /* bytes queued per stream before it overflows */
	unsigned heartbeat_ms; /* 0: EVENT_HEARTBEAT_MS */
};

/* What a stream wants: every field empty matches everything. */
struct event_filter {
	unsigned type_count;
	char types[EVENT_FILTER_TYPES][64]; /* exact, or "prefix.*" */
	int64_t deployment;		    /* 0: any */
	char device[129];		    /* "": any */
};

/* Parse ?types= ("deployment.*,assignment.failed"): ERR_INVALID with d. */
enum err event_filter_types(struct event_filter *f, const char *list, struct diag *d);
bool event_filter_match(const struct event_filter *f, const struct event *ev);

/* The JSON of an event as /api/v1/audit and the stream's data: lines show
 * it: id, type, at (RFC 3339 with milliseconds), actor, subject, deployment,
 * device (when set) and data. NULL when out of memory. */
json_t *event_json(const struct event *ev);

/* Starts the thread and registers with the storage's listeners. */
enum err event_hub_new(struct storage *s, const struct event_hub_options *o,
		       struct event_hub **ret_hub);
/* SIGTERM: every stream sends what it has queued and ends; no new one
 * opens. The daemon then drains them like any request. */
void event_hub_shutdown(struct event_hub *h);
/* After the daemon stopped (no stream is left). */
void event_hub_free(struct event_hub *h);

struct event_hub_stats {
	unsigned streams;	      /* open now */
	unsigned long long events;    /* queued on streams, all streams together */
	unsigned long long bytes;     /* of event text handed to the server */
	unsigned long long overflows; /* streams ended by their buffer */
	unsigned long long refused;   /* opens refused by max_streams */
};
void event_hub_stats(struct event_hub *h, struct event_hub_stats *ret);

/* A new stream after id after (-1: only what comes from now on). The
 * caller has checked after against the log's range (410). ERR_UNAVAILABLE:
 * max_streams are open, or the hub is shutting down. */
enum err event_stream_open(struct event_hub *h, const struct event_filter *f, int64_t after,
			   struct event_stream **ret_stream);
/* Up to max bytes of the stream: > 0 bytes, 0 nothing now (park it),
 * EVENT_STREAM_END at its end, -1 on error. From the connection's thread. */
long event_stream_read(struct event_stream *st, char *buf, size_t max);
/* After a read returned 0: wake(wake_cls) is called exactly once, from any
 * thread (perhaps at once), when a read has something to return. */
void event_stream_park(struct event_stream *st, void (*wake)(void *wake_cls), void *wake_cls);
/* Once, when the connection is done with it. */
void event_stream_close(struct event_stream *st);

#endif
