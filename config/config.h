/* The configuration file (INI, read by libinih) turned into an immutable,
 * validated struct. One table of keys (config/config.c) says for each key its
 * section, type, default and range; docs/the example config follow it. */
#ifndef SUITD_CONFIG_CONFIG_H
#define SUITD_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/log.h"

#define CONFIG_DEFAULT_PATH "/etc/suitd/suitd.conf"

enum config_backend {
	CONFIG_BACKEND_SQLITE,
	CONFIG_BACKEND_POSTGRESQL,
};

enum config_synchronous {
	CONFIG_SYNC_NORMAL,
	CONFIG_SYNC_FULL,
};

/* [devices] auth bits, in the order of their names. */
#define CONFIG_DEVICE_AUTH_CERTIFICATE 1u
#define CONFIG_DEVICE_AUTH_TOKEN       2u

enum config_device_identity {
	CONFIG_IDENTITY_CN,
	CONFIG_IDENTITY_SAN_URI,
	CONFIG_IDENTITY_SAN_DNS,
};

/* A key that may be given several times, in file order. */
#define CONFIG_LIST_MAX 64
struct config_list {
	unsigned count;
	char *items[CONFIG_LIST_MAX];
	unsigned lines[CONFIG_LIST_MAX]; /* the line of the file that gave each */
};

/* Slots for the lines of the keys of config/config.c's table. */
#define CONFIG_KEYS_MAX 80

struct config {
	char *path; /* the file it was read from */
	/* Where each key of the table was set; 0: it has its default. Read it
	 * with config_key_line(). */
	unsigned key_line[CONFIG_KEYS_MAX];
	struct {
		char *listen_host; /* numeric address or host name */
		uint16_t listen_port;
		unsigned threads; /* 0 = one per core */
		bool tls;
		char *tls_cert;
		char *tls_key;
		bool tls_self_signed;
		char *public_url; /* "" = derived from listen; else an absolute http(s) URL */
		unsigned connection_limit;
		unsigned per_address_limit;  /* connections of one client address; 0: no limit */
		unsigned connection_timeout; /* seconds of inactivity */
		unsigned handshake_timeout;  /* seconds from accept to a first request */
		unsigned tls_session_cache;  /* TLS 1.2 sessions kept for resumption (0: none) */
		uint64_t max_body;	     /* bytes of a buffered request body */
		unsigned rate_limit;	     /* requests/s per identity, 0 = off */
		unsigned rate_burst;	     /* requests an idle identity may make at once */
	} server;
	struct {
		enum config_backend backend;
		char *database;
		enum config_synchronous synchronous;
		uint64_t mmap_size; /* bytes of the database file SQLite maps; 0 = none */
		uint64_t max_size;  /* bytes the database file may grow to; 0 = no cap */
		/* PostgreSQL (backend = postgresql): a libpq URL that may hold a
		 * password, so it is never logged; "" = none. */
		char *url;
		char *password_file;	    /* "" = libpq's PGPASSFILE / PG* */
		unsigned pool_size;	    /* connections at most; 0 = one per thread */
		unsigned statement_timeout; /* seconds; 0 = the server's */
	} storage;
	struct {
		unsigned auth;			      /* CONFIG_DEVICE_AUTH_* bits */
		char *client_ca;		      /* PEM CA certificates only ("" = none) */
		enum config_device_identity identity; /* where a certificate names the device */
		bool auto_register;
		char *default_group;
		unsigned seen_flush;	       /* seconds between last-seen flushes */
		unsigned poll_interval;	       /* seconds between polls when idle */
		unsigned poll_interval_active; /* ... while an assignment is under way */
		unsigned poll_jitter;	       /* percent of random spread */
		uint64_t max_report_size;      /* bytes of one POST /device/v1/reports body */
		unsigned report_retention;     /* seconds a report is kept (0 = forever) */
		unsigned report_history;       /* reports kept per device, newest first */
		uint64_t report_history_size;  /* bytes of report bodies kept per device */
	} devices;
	struct {
		struct config_list trust_anchors; /* PEM public keys or certificates */
		struct config_list hmac_keys;	  /* files of 32 raw bytes */
		bool require_signature;
		uint64_t max_size;
		bool allow_external_uri;
		unsigned dependency_max_depth; /* integrated dependencies, levels */
		uint64_t dependency_max_size;  /* their envelopes' bytes in all */
	} manifests;
	struct {
		uint64_t max_size;	 /* largest payload upload, bytes */
		bool anonymous_download; /* device payload route without identity */
		unsigned max_uploads;	 /* uploads in progress at once */
	} payloads;
	struct {
		enum log_level level;
	} log;
	/* The event log and its streams, [events] (storage/events.h,
	 * events/stream.h). */
	struct {
		unsigned retention;	/* seconds an event is kept */
		unsigned max_rows;	/* events kept at most, newest first (0: no cap) */
		unsigned max_streams;	/* GET /api/v1/events streams open at once */
		uint64_t stream_buffer; /* bytes queued per stream before it overflows */
	} events;
	/* The webhook keys of [events] (events/webhooks.h). */
	struct {
		bool allow_http;     /* http:// targets too */
		bool allow_private;  /* loopback, private and link-local targets too */
		char *cacert;	     /* PEM CAs receivers are verified with ("" = the system's) */
		unsigned retry_base; /* seconds before the second attempt; doubles */
		unsigned max_age;    /* seconds an event is retried before it fails */
	} webhooks;
	/* hawkBit DDI, [ddi] (api/ddi/, docs/ddi.md). */
	struct {
		bool enabled;
		char *tenant;		  /* compared case-insensitively */
		char *gateway_token_file; /* "" = no GatewayToken */
		bool anonymous;		  /* DDI requests without any identity */
	} ddi;
	/* The web console, [ui] (api/ui_session.h, api/ui_assets.h). */
	struct {
		bool enabled;		   /* / and /ui/... served, sessions accepted */
		unsigned session_idle;	   /* seconds a session lives unused */
		unsigned session_lifetime; /* seconds a session lives at most */
	} ui;
};

/* Read and validate FILE. On error *d is a config error: text "[section]
 * key: why", field "section.key", offset the line (0 when there is none);
 * config_diag_format() shows it as "FILE:LINE: [section] key: why". */
enum err config_load(const char *path, struct config **ret_config, struct diag *d);
void config_free(struct config *config);

/* The line of the file that set [section] name (for a repeatable key, its
 * value number item, from 0); 0 when the key has its default. */
unsigned config_key_line(const struct config *c, const char *section, const char *name,
			 unsigned item);

/* Make *d, an error about [section] name found after loading (a file the key
 * names does not load, two keys disagree), a config error as config_load
 * gives them: text "[section] name: <d's text>" at the key's line. A key
 * that has its default is shown as "[section] name (default)", at the line
 * of the key that needs it (tls_key and tls_cert: each other, then tls)
 * when that one is in the file. Returns ERR_CONFIG. */
enum err config_diag_key(const struct config *c, struct diag *d, const char *section,
			 const char *name, unsigned item);

/* A config error of the file PATH as shown to operators: "PATH:LINE: TEXT",
 * or "PATH: TEXT" without a line. */
void config_diag_format(const char *path, const struct diag *d, char *out, size_t out_size);

/* The table of known keys, for docs checks: name of key i and its section. */
unsigned config_key_count(void);
const char *config_key_name(unsigned i, const char **ret_section);

/* The keys whose values differ between a and b, as "[section] key" lines
 * joined by ", " into out; returns the number of differing keys. */
unsigned config_diff(const struct config *a, const struct config *b, char *out, size_t out_size);

#endif
