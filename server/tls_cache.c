/* TLS 1.2 session-ID cache: see tls_cache.h. */
#include "server/tls_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/i64map.h"

#define ID_MAX 32 /* TLS session IDs are at most 32 bytes */

struct slot {
	unsigned char id[ID_MAX];
	unsigned id_len;
	gnutls_datum_t data; /* NULL data: free slot */
};

struct tls_cache {
	pthread_mutex_t lock;
	struct slot *ring;
	unsigned entries, next;
	struct i64map index; /* key of an id -> slot number */
};

/* A positive map key from the id's first bytes (GnuTLS's IDs are random;
 * the full id is compared on lookup). */
static int64_t id_key(const gnutls_datum_t *id)
{
	uint64_t k = 0;

	memcpy(&k, id->data, id->size < sizeof(k) ? id->size : sizeof(k));
	k &= INT64_MAX;
	return k ? (int64_t)k : 1;
}

static struct slot *find_locked(struct tls_cache *c, const gnutls_datum_t *id)
{
	const unsigned *n = i64map_get(&c->index, id_key(id));
	struct slot *s = n ? &c->ring[*n] : NULL;

	if (!s || !s->data.data || s->id_len != id->size || memcmp(s->id, id->data, id->size) != 0)
		return NULL;
	return s;
}

static void clear_locked(struct tls_cache *c, struct slot *s)
{
	const unsigned *n;
	gnutls_datum_t id = {s->id, s->id_len};

	if (!s->data.data)
		return;
	n = i64map_get(&c->index, id_key(&id));
	if (n && &c->ring[*n] == s)
		i64map_del(&c->index, id_key(&id));
	free(s->data.data);
	s->data.data = NULL;
	s->data.size = 0;
}

static int cache_store(void *ptr, gnutls_datum_t key, gnutls_datum_t data)
{
	struct tls_cache *c = ptr;
	struct slot *s, *old;
	unsigned char *copy;
	unsigned *n;
	bool fresh;

	if (key.size == 0 || key.size > ID_MAX || data.size == 0)
		return -1;
	copy = malloc(data.size);
	if (!copy)
		return -1;
	memcpy(copy, data.data, data.size);
	pthread_mutex_lock(&c->lock);
	old = find_locked(c, &key);
	if (old)
		clear_locked(c, old);
	s = &c->ring[c->next];
	clear_locked(c, s);
	n = i64map_put(&c->index, id_key(&key), &fresh);
	if (!n) {
		pthread_mutex_unlock(&c->lock);
		free(copy);
		return -1;
	}
	*n = c->next;
	memcpy(s->id, key.data, key.size);
	s->id_len = key.size;
	s->data.data = copy;
	s->data.size = data.size;
	c->next = (c->next + 1) % c->entries;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static gnutls_datum_t cache_retrieve(void *ptr, gnutls_datum_t key)
{
	struct tls_cache *c = ptr;
	gnutls_datum_t out = {NULL, 0};
	struct slot *s;

	if (key.size == 0 || key.size > ID_MAX)
		return out;
	pthread_mutex_lock(&c->lock);
	s = find_locked(c, &key);
	/* GnuTLS frees what it gets with gnutls_free. */
	if (s && (out.data = gnutls_malloc(s->data.size)) != NULL) {
		memcpy(out.data, s->data.data, s->data.size);
		out.size = s->data.size;
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}

static int cache_remove(void *ptr, gnutls_datum_t key)
{
	struct tls_cache *c = ptr;
	struct slot *s;

	if (key.size == 0 || key.size > ID_MAX)
		return -1;
	pthread_mutex_lock(&c->lock);
	s = find_locked(c, &key);
	if (s)
		clear_locked(c, s);
	pthread_mutex_unlock(&c->lock);
	return s ? 0 : -1;
}

enum err tls_cache_new(unsigned entries, struct tls_cache **ret_cache)
{
	struct tls_cache *c;

	*ret_cache = NULL;
	if (entries == 0)
		return ERR_OK;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ERR_NOMEM;
	c->ring = calloc(entries, sizeof(*c->ring));
	if (!c->ring || pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->ring);
		free(c);
		return ERR_NOMEM;
	}
	c->entries = entries;
	i64map_init(&c->index, sizeof(unsigned));
	*ret_cache = c;
	return ERR_OK;
}

void tls_cache_free(struct tls_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->entries; i++)
		free(c->ring[i].data.data);
	free(c->ring);
	i64map_release(&c->index);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void tls_cache_attach(struct tls_cache *c, gnutls_session_t session)
{
	if (!c)
		return;
	gnutls_db_set_ptr(session, c);
	gnutls_db_set_store_function(session, cache_store);
	gnutls_db_set_retrieve_function(session, cache_retrieve);
	gnutls_db_set_remove_function(session, cache_remove);
}
