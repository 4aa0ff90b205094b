/* Admission of new connections over all of the daemon's listening sockets:
 * [server] connection_limit and per_address_limit are limits of the whole
 * server, while each libmicrohttpd daemon (one per socket, server/listen.h)
 * only counts its own connections and the kernel's hash does not spread
 * them evenly. Called from every daemon's accept-policy callback and
 * connection-closed notification; one atomic counter, and a mutex-guarded
 * map only when per_address_limit is set. */
#ifndef SUITD_SERVER_ADMIT_H
#define SUITD_SERVER_ADMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/error.h"

struct admit;

/* limit >= 1; per_address 0 = none. */
enum err admit_new(unsigned limit, unsigned per_address, struct admit **ret_admit);
void admit_free(struct admit *a);
/* A slot for a new connection from addr, or false when over a limit.
 * *ret_key (the address's, 0 without per_address) goes to admit_put. */
bool admit_take(struct admit *a, const struct sockaddr *addr, int64_t *ret_key);
/* The connection of admit_take's key closed (or never started). */
void admit_put(struct admit *a, int64_t key);

#endif
