/* Parking for TLS handshakes that wait for the client: see tls_park.h. */
#include "server/tls_park.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

struct tls_park {
	int epfd;
	int stop_fd; /* eventfd: wakes the thread to exit */
	pthread_t thread;
	pthread_mutex_t lock; /* spots, parked flags, stopping */
	struct tls_park_spot *spots;
	unsigned count;
	bool stopping;
};

static void unlink_spot(struct tls_park *park, struct tls_park_spot *spot)
{
	if (spot->prev)
		spot->prev->next = spot->next;
	else
		park->spots = spot->next;
	if (spot->next)
		spot->next->prev = spot->prev;
	spot->prev = spot->next = NULL;
	spot->parked = false;
	park->count--;
}

/* Under the lock: out of our epoll set and back to libmicrohttpd. */
static void release_locked(struct tls_park *park, struct tls_park_spot *spot)
{
	epoll_ctl(park->epfd, EPOLL_CTL_DEL, spot->fd, NULL);
	unlink_spot(park, spot);
	MHD_resume_connection(spot->conn);
}

/* From the worker thread, inside gnutls_handshake(): the socket had nothing
 * for GnuTLS. The suspension happens under our lock, so tls_park_stop()
 * either sees the spot in its list or makes us skip parking. */
static void park_spot(struct tls_park_spot *spot)
{
	struct tls_park *park = spot->park;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = spot};

	pthread_mutex_lock(&park->lock);
	if (park->stopping || spot->parked) {
		pthread_mutex_unlock(&park->lock);
		return;
	}
	MHD_suspend_connection(spot->conn);
	spot->parked = true;
	spot->prev = NULL;
	spot->next = park->spots;
	if (park->spots)
		park->spots->prev = spot;
	park->spots = spot;
	park->count++;
	/* Data that came after the EAGAIN is reported by the ADD itself. */
	if (epoll_ctl(park->epfd, EPOLL_CTL_ADD, spot->fd, &ev) != 0) {
		log_warn("tls park: epoll_ctl: %s", strerror(errno));
		release_locked(park, spot);
	}
	pthread_mutex_unlock(&park->lock);
}

static ssize_t park_pull(gnutls_transport_ptr_t ptr, void *data, size_t size)
{
	struct tls_park_spot *spot = ptr;
	ssize_t n = recv(spot->fd, data, size, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !spot->handshake_done) {
		int saved = errno;
		park_spot(spot);
		errno = saved;
	}
	return n;
}

/* GnuTLS calls this only when a receive timeout is set; answer it like
 * its own default would, on the socket. */
static int park_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
	struct tls_park_spot *spot = ptr;

	return gnutls_system_recv_timeout((gnutls_transport_ptr_t)(intptr_t)spot->fd, ms);
}

static void *park_thread(void *cls)
{
	struct tls_park *park = cls;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(park->epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("tls park: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		pthread_mutex_lock(&park->lock);
		for (int i = 0; i < n; i++) {
			struct tls_park_spot *spot = evs[i].data.ptr;
			if (!spot) {
				pthread_mutex_unlock(&park->lock);
				return NULL; /* the stop eventfd */
			}
			if (spot->parked)
				release_locked(park, spot);
		}
		pthread_mutex_unlock(&park->lock);
	}
}

enum err tls_park_start(struct tls_park **ret_park)
{
	struct tls_park *park = calloc(1, sizeof(*park));
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	if (!park)
		return ERR_NOMEM;
	park->epfd = epoll_create1(EPOLL_CLOEXEC);
	park->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (park->epfd < 0 || park->stop_fd < 0 ||
	    epoll_ctl(park->epfd, EPOLL_CTL_ADD, park->stop_fd, &ev) != 0 ||
	    pthread_mutex_init(&park->lock, NULL) != 0)
		goto fail;
	if (pthread_create(&park->thread, NULL, park_thread, park) != 0) {
		pthread_mutex_destroy(&park->lock);
		goto fail;
	}
	*ret_park = park;
	return ERR_OK;
fail:
	if (park->epfd >= 0)
		close(park->epfd);
	if (park->stop_fd >= 0)
		close(park->stop_fd);
	free(park);
	return ERR_IO;
}

void tls_park_close(struct tls_park *park)
{
	uint64_t one = 1;

	if (!park)
		return;
	pthread_mutex_lock(&park->lock);
	if (park->stopping) {
		pthread_mutex_unlock(&park->lock);
		return;
	}
	park->stopping = true;
	while (park->spots)
		release_locked(park, park->spots);
	pthread_mutex_unlock(&park->lock);
	if (write(park->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		log_warn("tls park: cannot wake its thread: %s", strerror(errno));
	pthread_join(park->thread, NULL);
}

void tls_park_free(struct tls_park *park)
{
	if (!park)
		return;
	tls_park_close(park);
	pthread_mutex_destroy(&park->lock);
	close(park->epfd);
	close(park->stop_fd);
	free(park);
}

void tls_park_attach(struct tls_park *park, struct tls_park_spot *spot, gnutls_session_t session,
		     struct MHD_Connection *conn, int fd)
{
	spot->park = park;
	spot->conn = conn;
	spot->fd = fd;
	/* Receive through the spot; sending stays GnuTLS's own, on the fd
	 * libmicrohttpd set. */
	gnutls_transport_set_ptr2(session, spot, (gnutls_transport_ptr_t)(intptr_t)fd);
	gnutls_transport_set_pull_function(session, park_pull);
	gnutls_transport_set_pull_timeout_function(session, park_pull_timeout);
}

unsigned tls_park_count(struct tls_park *park)
{
	unsigned n;

	pthread_mutex_lock(&park->lock);
	n = park->count;
	pthread_mutex_unlock(&park->lock);
	return n;
}
