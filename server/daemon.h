/* The HTTP daemon: libmicrohttpd with TLS, the request life cycle, access
 * log and metrics. Only server/ includes microhttpd.h. */
#ifndef SUITD_SERVER_DAEMON_H
#define SUITD_SERVER_DAEMON_H

#include <stdint.h>

#include "api/api.h"
#include "config/config.h"

struct daemon;

/* Start listening with this context (everything it points to outlives the
 * daemon; started_at is set here). */
enum err daemon_start(const struct api_ctx *ctx, struct daemon **ret_daemon, struct diag *d);
/* "https://127.0.0.1:8443" — where it really listens (port 0 resolved). */
const char *daemon_url(const struct daemon *dm);
/* Stop accepting, wait up to drain_ms for in-flight requests, close. */
void daemon_stop(struct daemon *dm, unsigned drain_ms);
/* Once a second from the main loop: forget idle rate-limit buckets. */
void daemon_housekeeping(struct daemon *dm);

#endif
