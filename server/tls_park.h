/* TLS connections that wait for the client in the middle of a handshake,
 * parked outside libmicrohttpd's epoll loop until the client sends again.
 *
 * Why: in libmicrohttpd 0.9.75's epoll mode GnuTLS reads the socket itself
 * during a handshake; MHD never sees that read's EAGAIN, keeps the
 * connection on its ready list and spins the worker until the client
 * answers (a handshake waiting one round trip for the client's Finished,
 * or a client that connects and sends nothing, burns a core). poll() mode
 * does not spin but scans every connection on every wake-up, so idle
 * keep-alive connections make each request dearer (docs/design.md, TLS).
 * Parking keeps epoll and removes the spin: our GnuTLS pull function sees
 * the EAGAIN, suspends the connection (MHD_suspend_connection takes it off
 * MHD's ready list and epoll set) and hands its socket to one thread of
 * ours that waits on its own epoll set; when the socket becomes readable
 * (data, end of file, reset) the connection is resumed and MHD goes on
 * with the handshake. After the handshake MHD reads through GnuTLS's record
 * layer and handles EAGAIN itself: nothing is parked then. */
#ifndef SUITD_SERVER_TLS_PARK_H
#define SUITD_SERVER_TLS_PARK_H

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdbool.h>

#include "common/error.h"

struct tls_park;

/* One per TLS connection, owned by the caller (in its connection context):
 * zeroed, then tls_park_attach(). */
struct tls_park_spot {
	struct tls_park *park;
	struct MHD_Connection *conn;
	int fd;
	bool handshake_done; /* set by the caller once the handshake completed */
	bool parked;	     /* under the park's lock */
	struct tls_park_spot *prev, *next;
};

enum err tls_park_start(struct tls_park **ret_park);
/* Resume every parked connection and park none from now on: before
 * MHD_stop_daemon, which must not find suspended connections. A handshake
 * that waits after this spins until the daemon stops. */
void tls_park_close(struct tls_park *park);
/* After MHD_stop_daemon (no GnuTLS session reads through it any more). */
void tls_park_free(struct tls_park *park);

/* Read this connection's TLS records through the park: call after
 * gnutls_init() and before the handshake (MHD's NOTIFY_STARTED). */
void tls_park_attach(struct tls_park *park, struct tls_park_spot *spot, gnutls_session_t session,
		     struct MHD_Connection *conn, int fd);

/* Connections parked now (for a test's or a metric's eyes). */
unsigned tls_park_count(struct tls_park *park);

#endif
