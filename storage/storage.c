/* storage.h's calls that are the same for every backend, and the hand-over
 * to the backend (backend.h) for those that are not: SQLite or PostgreSQL
 * (issue 21). */
#include "storage/storage.h"

#include <stdio.h>

#include "storage/backend.h"
#include "storage/cluster.h"
#include "storage/db.h"
#include "storage/events.h"

enum err storage_open(const struct storage_options *opt, struct storage **ret_storage,
		      struct diag *d)
{
	const struct storage_backend *b = opt->backend == STORAGE_POSTGRESQL
						  ? &postgresql_storage_backend
						  : &sqlite_storage_backend;

	enum err e = b->open(opt, ret_storage, d);

	if (!e) {
		turnstile_init(&(*ret_storage)->writers);
		pthread_mutex_init(&(*ret_storage)->state_lock, NULL);
	}
	return e;
}

void storage_free(struct storage *s)
{
	if (s) {
		turnstile_destroy(&s->writers);
		pthread_mutex_destroy(&s->state_lock);
		s->backend->free(s);
	}
}

void storage_unavailable_set(struct storage *s, const char *why)
{
	pthread_mutex_lock(&s->state_lock);
	snprintf(s->unavailable_why, sizeof(s->unavailable_why), "%s", why ? why : "");
	pthread_mutex_unlock(&s->state_lock);
}

void storage_unavailable_why(struct storage *s, char *out, size_t size)
{
	pthread_mutex_lock(&s->state_lock);
	snprintf(out, size, "%s", s->unavailable_why);
	pthread_mutex_unlock(&s->state_lock);
}

enum err db_get(struct storage *s, struct db **ret_db)
{
	return s->backend->connection(s, ret_db);
}

enum err storage_schema_version(struct storage *s, unsigned *ret_have, unsigned *ret_want)
{
	return s->backend->schema_version(s, ret_have, ret_want);
}

void storage_wal_stats(struct storage *s, struct storage_wal_stats *ret)
{
	s->backend->wal_stats(s, ret);
}

enum err storage_backup(struct storage *s, const char *out, struct diag *d)
{
	return s->backend->backup(s, out, d);
}

enum err storage_integrity_check(struct storage *s, bool *ret_ok)
{
	return s->backend->integrity_check(s, ret_ok);
}

enum err storage_nodes_alone(struct storage *s, bool *ret)
{
	struct db *db;
	enum err e = db_get(s, &db);

	if (e)
		return e;
	CLEANUP_STMT struct sql_stmt *st = db_stmt(db, STMT_NODES_ALONE);
	if (!(e = db_step_row(st)))
		*ret = sql_col_int(st, 0) != 0;
	return e;
}

bool storage_shared(struct storage *s)
{
	return s->backend->cluster_start != NULL;
}

enum err storage_cluster_start(struct storage *s, storage_resync_cb resync, void *cls)
{
	return s->backend->cluster_start ? s->backend->cluster_start(s, resync, cls) : ERR_OK;
}

void storage_cluster_stop(struct storage *s)
{
	if (s->backend->cluster_stop)
		s->backend->cluster_stop(s);
}

void storage_cluster_stats(struct storage *s, struct storage_cluster_stats *ret)
{
	if (s->backend->cluster_stats) {
		s->backend->cluster_stats(s, ret);
		return;
	}
	*ret = (struct storage_cluster_stats){.housekeeper = true, .listening = true};
}

bool storage_housekeeper(struct storage *s)
{
	struct storage_cluster_stats st;

	storage_cluster_stats(s, &st);
	return st.housekeeper;
}

enum err storage_events_listen(struct storage *s, storage_events_listener fn, void *cls)
{
	unsigned n = atomic_load(&s->listener_count);

	if (n >= STORAGE_EVENTS_LISTENERS)
		return ERR_INTERNAL;
	s->listeners[n] = fn;
	s->listener_cls[n] = cls;
	atomic_store(&s->listener_count, n + 1);
	return ERR_OK;
}

void db_events_notify(struct storage *s, int64_t newest_id)
{
	unsigned n = atomic_load(&s->listener_count);

	for (unsigned i = 0; i < n; i++)
		s->listeners[i](s->listener_cls[i], newest_id);
}
