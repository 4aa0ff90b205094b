/* Listening sockets with SO_REUSEPORT: see listen.h. */
#include "server/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Where to bind: the resolved [server] listen, or [::] (dual stack) for
 * "*", falling back to 0.0.0.0 where the kernel has no IPv6. */
struct where {
	struct sockaddr_storage addr;
	socklen_t len;
};

static enum err where_resolve(const struct config *c, bool any, int family, struct where *ret,
			      struct diag *d)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
			*ai = NULL;
	char port[8];
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (any && family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ret->addr;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_any;
		a->sin6_port = htons(c->server.listen_port);
		ret->len = sizeof(*a);
		return ERR_OK;
	}
	if (any) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ret->addr;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		a->sin_port = htons(c->server.listen_port);
		ret->len = sizeof(*a);
		return ERR_OK;
	}
	snprintf(port, sizeof(port), "%u", c->server.listen_port);
	rc = getaddrinfo(c->server.listen_host, port, &hints, &ai);
	if (rc != 0 || !ai)
		return diag_set(d, ERR_CONFIG, "listen", "cannot resolve '%s': %s",
				c->server.listen_host, gai_strerror(rc));
	memcpy(&ret->addr, ai->ai_addr, ai->ai_addrlen);
	ret->len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return ERR_OK;
}

static void where_set_port(struct where *w, unsigned port)
{
	if (w->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&w->addr)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&w->addr)->sin_port = htons((uint16_t)port);
}

/* A TCP socket bound to w; listening unless probe. SO_REUSEADDR as
 * libmicrohttpd sets it (a restart does not wait for TIME_WAIT); a probe
 * without SO_REUSEPORT fails with EADDRINUSE when anything listens there. */
static int socket_bind(const struct where *w, bool any, bool probe)
{
	int fd = socket(w->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0, saved;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (!probe && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    (w->addr.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, any ? &zero : &one, sizeof(one)) != 0) ||
	    bind(fd, (const struct sockaddr *)&w->addr, w->len) != 0 ||
	    (!probe && listen(fd, SOMAXCONN) != 0)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* socket_bind, and for listen = * on a kernel without IPv6 the same on
 * 0.0.0.0 (w is changed to it). */
static int socket_bind_fallback(const struct config *c, struct where *w, bool any, bool probe,
				struct diag *d)
{
	int fd = socket_bind(w, any, probe);

	if (fd < 0 && any && errno == EAFNOSUPPORT && w->addr.ss_family == AF_INET6) {
		unsigned port = ntohs(((struct sockaddr_in6 *)&w->addr)->sin6_port);
		where_resolve(c, true, AF_INET, w, d);
		where_set_port(w, port);
		fd = socket_bind(w, any, probe);
	}
	return fd;
}

static unsigned socket_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

/* The lock: an abstract Unix socket "suitd listen HOST PORT". Its name
 * lives in the network namespace, as ports do, and the kernel drops it
 * with the last descriptor, so a crash leaves nothing to clean up. */
static int lock_take(const char *host, unsigned port)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n, saved;

	if (fd < 0)
		return -1;
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "suitd listen %s %u", host, port);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path) - 1 ||
	    bind(fd, (struct sockaddr *)&sun,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) != 0) {
		saved = n < 0 || (size_t)n >= sizeof(sun.sun_path) - 1 ? ENAMETOOLONG : errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static enum err fail(const struct config *c, unsigned port, const char *why, int err,
		     struct diag *d)
{
	return diag_set(d, ERR_IO, "listen", "cannot listen on %s:%u: %s%s%s%s",
			c->server.listen_host, port, strerror(err), why ? " (" : "", why ? why : "",
			why ? ")" : "");
}

enum err listen_set_open(const struct config *c, unsigned count, struct listen_set *ret,
			 struct diag *d)
{
	struct listen_set s = {.count = 0, .lock_fd = -1};
	struct where w;
	enum err e;
	int fd;

	if (count == 0 || count > LISTEN_SOCKETS_MAX)
		return diag_set(d, ERR_CONFIG, "threads", "%u listening sockets", count);
	for (unsigned i = 0; i < LISTEN_SOCKETS_MAX; i++)
		s.fds[i] = -1;
	s.any = strcmp(c->server.listen_host, "*") == 0;
	if ((e = where_resolve(c, s.any, AF_INET6, &w, d)))
		return e;
	s.port = c->server.listen_port;
	/* Port 0 (tests): the first socket's port is fresh, so nobody else
	 * can be on it; lock it before the others join. */
	if (s.port) {
		if ((s.lock_fd = lock_take(c->server.listen_host, s.port)) < 0)
			return fail(c, s.port,
				    errno == EADDRINUSE ? "another suitd is listening there" : NULL,
				    errno, d);
		fd = socket_bind_fallback(c, &w, s.any, true, d);
		if (fd < 0) {
			e = fail(c, s.port, NULL, errno, d);
			listen_set_release(&s);
			return e;
		}
		close(fd);
	}
	for (unsigned i = 0; i < count; i++) {
		fd = socket_bind_fallback(c, &w, s.any, false, d);
		if (fd < 0) {
			e = fail(c, s.port, NULL, errno, d);
			listen_set_release(&s);
			return e;
		}
		s.fds[s.count++] = fd;
		if (i == 0 && !s.port) {
			s.port = socket_port(fd);
			where_set_port(&w, s.port);
			if ((s.lock_fd = lock_take(c->server.listen_host, s.port)) < 0) {
				e = fail(c, s.port, "another suitd is listening there", errno, d);
				listen_set_release(&s);
				return e;
			}
		}
	}
	*ret = s;
	return ERR_OK;
}

int listen_set_take(struct listen_set *s, unsigned i)
{
	int fd = s->fds[i];

	s->fds[i] = -1;
	return fd;
}

void listen_set_release(struct listen_set *s)
{
	for (unsigned i = 0; i < s->count; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	s->count = 0;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}
