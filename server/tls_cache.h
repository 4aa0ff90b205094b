/* The server's TLS 1.2 session cache: resumption by session ID for the
 * clients that do not take tickets (libcurl over TLS 1.2 turns tickets off,
 * as do many embedded stacks' defaults). TLS 1.3 resumes by ticket only.
 * libmicrohttpd sets no cache of its own; GnuTLS asks ours through its
 * gnutls_db_* callbacks. Bounded: a ring of `entries` sessions, the oldest
 * overwritten first; GnuTLS itself refuses an entry older than its session
 * lifetime. Shared by every worker thread (one mutex). */
#ifndef SUITD_SERVER_TLS_CACHE_H
#define SUITD_SERVER_TLS_CACHE_H

#include <gnutls/gnutls.h>

#include "common/error.h"

struct tls_cache;

/* entries 0: no cache (*ret_cache = NULL). */
enum err tls_cache_new(unsigned entries, struct tls_cache **ret_cache);
void tls_cache_free(struct tls_cache *cache);
/* Store and look up this session's state in the cache (no-op when NULL). */
void tls_cache_attach(struct tls_cache *cache, gnutls_session_t session);

#endif
