/* Every hard limit of the daemon in one place (STYLE.md "Memory"). Values a
 * operator may tune live in the config; these are the compiled-in ceilings. */
#ifndef SUITD_COMMON_BOUNDS_H
#define SUITD_COMMON_BOUNDS_H

/* Request line + path handed to the router. */
#define BOUND_PATH_MAX 1024
/* Path parameters captured by one route pattern. */
#define BOUND_ROUTE_PARAMS 4
/* Extra response headers a handler may set. */
#define BOUND_RESPONSE_HEADERS 8
/* Bearer credentials longer than this are rejected without hashing. */
#define BOUND_BEARER_MAX 256
/* Name of an API key. */
#define BOUND_KEY_NAME_MAX 64
/* Lifetime of an expiring API key: 10 years (87600h). Longer is "never"
 * (leave expires_in out), and now + lifetime stays far from overflow. */
#define BOUND_KEY_LIFETIME_MAX 315360000 /* 10 * 365 days */
/* Grace of a rotated device token: 7 days (168h). The overlap is the time
 * to install the new token on the device without an outage, and a week
 * covers a device reached once a week. The replaced token is a credential
 * being retired (a leaked one is rotated without grace): much longer, and
 * the rotation retires nothing. */
#define BOUND_TOKEN_GRACE_MAX 604800 /* 7 days */
/* Problem `detail` strings. */
#define BOUND_DETAIL_MAX 256
/* JSON response bodies built by handlers. */
#define BOUND_JSON_RESPONSE_MAX ((size_t)8 << 20)
/* One config file line (inih's compiled-in buffer is 200 bytes). */
#define BOUND_CONFIG_LINE 200
/* Config files larger than this are refused before parsing. */
#define BOUND_CONFIG_FILE (1L << 20)
/* MHD per-connection memory pool: headers must fit in it (431/413 beyond).
 * At most 32 KiB: libmicrohttpd 0.9.75 mmaps a larger pool for every
 * connection (an mmap, a munmap and 16 page faults each; docs/design.md,
 * "The connection pool"), and a smaller one comes from malloc. */
#define BOUND_CONNECTION_MEMORY (32u * 1024u)
/* PEM files read at start: the server certificate and key, device CAs. */
#define BOUND_PEM_FILE (256L * 1024)
/* Listing pages. */
#define BOUND_PAGE_DEFAULT 100
#define BOUND_PAGE_MAX	   1000
/* Query parameters in one request (no route reads more than six). */
#define BOUND_QUERY_PARAMS	8
#define BOUND_QUERY_PARAMS_TEXT "8"
/* Report bodies on one page of a device's reports: the page ends early
 * (with a `next` cursor) rather than grow past it, so a listing's memory is
 * bounded whatever `limit` asked for (base64 and JSON add about 2.5×). */
#define BOUND_REPORT_PAGE_BYTES ((size_t)1 << 20)

#endif
