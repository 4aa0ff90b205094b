/* The cluster thread of the PostgreSQL backend (storage/cluster.h, issue
 * 22): one connection of its own that LISTENs for the events other nodes
 * commit and holds the housekeeper lease, a session advisory lock that the
 * server releases when the connection ends, whatever ended it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "storage/postgresql/pg.h"

/* The lease's key: the bytes of "suitdhk!", distinct from the writer lock
 * and the migration lock. A session lock: held until released or until the
 * session ends (a node killed, its machine gone once the server's TCP
 * keepalive notices, the server restarted). */
#define PG_HOUSEKEEPER_KEY "8319671835258546977" /* 0x7375697464686b21 */
/* Held shared by every running node: see NODES_ALONE in statements.h. */
#define PG_PRESENCE_KEY "8319671835258938401" /* "suitdnd!" */

struct pg_cluster {
	struct pg_storage *s;
	storage_resync_cb resync;
	void *cls;
	pthread_t thread;
	int stop_pipe[2]; /* written once at stop: wakes the poll */
	PGconn *conn;	  /* the thread's; NULL while down */
	atomic_bool housekeeper, listening;
	_Atomic uint64_t notifications, reconnects, gained;
};

/* The connection ends: lost (a warning when it held the lease), or
 * closed at stop (the lease is handed back, a notice). */
static void conn_end(struct pg_cluster *c, bool stopping)
{
	bool held = atomic_exchange(&c->housekeeper, false);

	if (held && !stopping)
		log_warn("cluster: lost the housekeeper lease with the database connection");
	else if (held)
		log_notice("cluster: stopping: the housekeeper lease is released");
	atomic_store(&c->listening, false);
	PQfinish(c->conn);
	c->conn = NULL;
}

/* Connect and LISTEN; then read the newest event id, so that whatever
 * committed while nobody listened is read by the listeners now. */
static bool conn_up(struct pg_cluster *c)
{
	struct diag d = {0};
	PGresult *r;
	int64_t newest = 0;

	if (pg_conn_open(&c->s->conn, &c->conn, &d) != ERR_OK) {
		c->conn = NULL;
		return false;
	}
	r = PQexec(c->conn, "LISTEN suitd_events; SELECT pg_advisory_lock_shared(" PG_PRESENCE_KEY
			    "); SELECT coalesce(max(id), 0) FROM events");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		log_warn("cluster: LISTEN failed: %s", PQerrorMessage(c->conn));
		PQclear(r);
		conn_end(c, false);
		return false;
	}
	newest = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (PQsetnonblocking(c->conn, 1) != 0) {
		conn_end(c, false);
		return false;
	}
	atomic_store(&c->listening, true);
	if (newest > 0)
		db_events_notify(&c->s->base, newest);
	return true;
}

/* Try the lease once; false only when the connection failed. */
static bool lease_try(struct pg_cluster *c)
{
	PGresult *r;
	bool ok, got;

	/* A blocking exchange on the listening connection: notifications
	 * that arrive meanwhile wait in libpq for PQnotifies(). */
	if (PQsetnonblocking(c->conn, 0) != 0)
		return false;
	r = PQexec(c->conn, "SELECT pg_try_advisory_lock(" PG_HOUSEKEEPER_KEY ")");
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	got = ok && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!ok || PQsetnonblocking(c->conn, 1) != 0)
		return false;
	if (got) {
		atomic_store(&c->housekeeper, true);
		atomic_fetch_add(&c->gained, 1);
		log_notice("cluster: this node is the housekeeper (stages, timeouts, retention, "
			   "webhooks)");
	}
	return true;
}

/* The newest id among the pending notifications (0: none). */
static int64_t notifications_drain(struct pg_cluster *c)
{
	PGnotify *n;
	int64_t newest = 0;

	while ((n = PQnotifies(c->conn))) {
		int64_t id = strtoll(n->extra, NULL, 10);
		if (id > newest)
			newest = id;
		atomic_fetch_add(&c->notifications, 1);
		PQfreemem(n);
	}
	return newest;
}

static void *cluster_main(void *arg)
{
	struct pg_cluster *c = arg;
	int64_t next_try = 0;
	bool ever = false;

	for (;;) {
		struct pollfd p[2] = {{.fd = c->stop_pipe[0], .events = POLLIN}, {.fd = -1}};
		int64_t now = pg_now_ms(), newest;
		int timeout = STORAGE_HOUSEKEEPER_RETRY_MS;

		if (!c->conn) {
			if (conn_up(c)) {
				if (ever) {
					atomic_fetch_add(&c->reconnects, 1);
					log_notice(
						"cluster: listening again; reloading what is kept "
						"in memory");
					c->resync(c->cls);
				}
				ever = true;
				next_try = now;
			}
		}
		if (c->conn && !atomic_load(&c->housekeeper) && now >= next_try) {
			if (!lease_try(c))
				conn_end(c, false);
			next_try = now + STORAGE_HOUSEKEEPER_RETRY_MS;
		}
		if (c->conn) {
			p[1].fd = PQsocket(c->conn);
			p[1].events = POLLIN;
			if (!atomic_load(&c->housekeeper) && next_try - now < timeout)
				timeout = next_try - now > 0 ? (int)(next_try - now) : 0;
		}
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (!c->conn || !p[1].revents)
			continue;
		if (!PQconsumeInput(c->conn)) {
			log_warn("cluster: the database connection broke: %s",
				 PQerrorMessage(c->conn));
			conn_end(c, false);
			continue;
		}
		if ((newest = notifications_drain(c)) > 0)
			db_events_notify(&c->s->base, newest);
	}
	if (c->conn)
		conn_end(c, true); /* the session ends: the server releases the lease */
	return NULL;
}

enum err pg_cluster_start(struct storage *base, storage_resync_cb resync, void *cls)
{
	struct pg_storage *s = (struct pg_storage *)(void *)base;
	struct pg_cluster *c;

	if (atomic_load(&s->cluster))
		return ERR_OK;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ERR_NOMEM;
	c->s = s;
	c->resync = resync;
	c->cls = cls;
	if (pipe2(c->stop_pipe, O_CLOEXEC) != 0) {
		free(c);
		return ERR_IO;
	}
	if (pthread_create(&c->thread, NULL, cluster_main, c) != 0) {
		close(c->stop_pipe[0]);
		close(c->stop_pipe[1]);
		free(c);
		return ERR_NOMEM;
	}
	atomic_store(&s->cluster, c);
	return ERR_OK;
}

/* Stop the thread (its session ends: the lease is released). The struct
 * stays until pg_cluster_free(): other threads may still ask
 * storage_housekeeper() (now false). */
void pg_cluster_stop(struct storage *base)
{
	struct pg_storage *s = (struct pg_storage *)(void *)base;
	struct pg_cluster *c = atomic_load(&s->cluster);

	if (!c || c->stop_pipe[1] < 0)
		return;
	(void)!write(c->stop_pipe[1], "x", 1);
	pthread_join(c->thread, NULL);
	close(c->stop_pipe[0]);
	close(c->stop_pipe[1]);
	c->stop_pipe[0] = c->stop_pipe[1] = -1;
}

void pg_cluster_free(struct pg_storage *s)
{
	pg_cluster_stop(&s->base);
	free(atomic_exchange(&s->cluster, NULL));
}

void pg_cluster_stats(struct storage *base, struct storage_cluster_stats *ret)
{
	struct pg_cluster *c = atomic_load(&((struct pg_storage *)(void *)base)->cluster);

	*ret = (struct storage_cluster_stats){.shared = true};
	if (!c)
		return;
	ret->housekeeper = atomic_load(&c->housekeeper);
	ret->listening = atomic_load(&c->listening);
	ret->notifications = atomic_load(&c->notifications);
	ret->reconnects = atomic_load(&c->reconnects);
	ret->housekeeper_gained = atomic_load(&c->gained);
}
