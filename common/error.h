/* One error enum for the whole project (STYLE.md "Errors").
 * The X-macro list generates the enum, the strerror text and the problem
 * `type` slug; api/problem.c maps each code to an HTTP status in one switch. */
#ifndef SUITD_COMMON_ERROR_H
#define SUITD_COMMON_ERROR_H

#include <stddef.h>

/* X(name, slug, title) */
#define ERROR_LIST(X)                                                           \
	X(OK, "ok", "OK")                                                       \
	X(NOMEM, "out-of-memory", "Out of memory")                              \
	X(INVALID, "invalid-request", "Invalid request")                        \
	X(TOO_LARGE, "too-large", "Request too large")                          \
	X(NOT_FOUND, "not-found", "Not found")                                  \
	X(METHOD, "method-not-allowed", "Method not allowed")                   \
	X(UNAUTHORIZED, "unauthorized", "Authentication required")              \
	X(FORBIDDEN, "forbidden", "Insufficient role")                          \
	X(EXISTS, "already-exists", "Already exists")                           \
	X(CONFLICT, "conflict", "Conflict")                                     \
	X(MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")       \
	X(UNPROCESSABLE, "unprocessable", "Unprocessable content")              \
	X(RANGE, "range-not-satisfiable", "Range not satisfiable")              \
	X(GONE, "gone", "Gone")                                                 \
	X(RATE_LIMITED, "rate-limited", "Too many requests")                    \
	X(BUSY, "busy", "Service busy")                                         \
	X(NO_SPACE, "insufficient-storage", "Insufficient storage")             \
	X(UNAVAILABLE, "unavailable", "Service unavailable")                    \
	X(STORAGE_UNAVAILABLE, "storage-unavailable", "Storage unavailable")    \
	X(STORAGE_TIMEOUT, "storage-timeout", "Storage statement timed out")    \
	X(STORAGE, "storage", "Storage error")                                  \
	X(DB_TOO_NEW, "database-too-new", "Database is newer than this binary") \
	X(IO, "io", "I/O error")                                                \
	X(CRYPTO, "crypto", "Cryptography error")                               \
	X(CONFIG, "config", "Configuration error")                              \
	X(INTERNAL, "internal", "Internal error")

enum err {
#define ERROR_ENUM(name, slug, title) ERR_##name,
	ERROR_LIST(ERROR_ENUM)
#undef ERROR_ENUM
		ERR__COUNT
};

/* Human text for logs and problem titles ("Not found"). */
const char *err_title(enum err e);
/* Stable slug for the problem type URN ("not-found"). */
const char *err_slug(enum err e);

/* Optional bounded diagnostics a parser fills so a 4xx can say exactly what
 * was wrong (like jansson's json_error_t). */
struct diag {
	char field[64];
	size_t offset;
	char text[160];
};

/* Format into d->text (truncating) and copy field; NULL d is a no-op.
 * Returns e so callers can write `return diag_set(d, ERR_INVALID, ...)`. */
enum err diag_set(struct diag *d, enum err e, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
