/* The listening sockets of one daemon per core: COUNT TCP sockets bound to
 * [server] listen with SO_REUSEPORT, so the kernel spreads new connections
 * over them and each libmicrohttpd daemon waits on its own socket only (a
 * shared socket wakes every worker for every connection; docs/design.md,
 * TLS).
 *
 * SO_REUSEPORT would also let a second suitd of the same user join the
 * group silently and take half the connections. So the set refuses to
 * open when anything listens on the address already (a probe bind without
 * SO_REUSEPORT), and holds, for the daemon's life, a lock named by the
 * address (an abstract Unix socket: it goes away with the process, even
 * after SIGKILL) that closes the window between two starts at once. */
#ifndef SUITD_SERVER_LISTEN_H
#define SUITD_SERVER_LISTEN_H

#include <stdbool.h>

#include "common/error.h"
#include "config/config.h"

#define LISTEN_SOCKETS_MAX 256 /* [server] threads' range */

struct listen_set {
	int fds[LISTEN_SOCKETS_MAX]; /* -1 once taken */
	unsigned count;
	int lock_fd;
	unsigned port; /* the bound port (port 0 resolved) */
	bool any;      /* listen = * (dual stack) */
};

/* Open count (1..LISTEN_SOCKETS_MAX) listening sockets on c's address. */
enum err listen_set_open(const struct config *c, unsigned count, struct listen_set *ret,
			 struct diag *d);
/* Hand socket i to its owner (libmicrohttpd closes it at MHD_stop_daemon). */
int listen_set_take(struct listen_set *s, unsigned i);
/* Close the sockets not taken and drop the lock (after the daemons stop). */
void listen_set_release(struct listen_set *s);

#endif
