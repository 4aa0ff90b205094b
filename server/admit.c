/* Server-wide connection limits: see admit.h. */
#include "server/admit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/i64map.h"
#include "server/ratelimit.h"

struct admit {
	unsigned limit, per_address;
	_Atomic unsigned open;
	pthread_mutex_t lock;	 /* addresses */
	struct i64map addresses; /* address key -> unsigned connections */
};

enum err admit_new(unsigned limit, unsigned per_address, struct admit **ret_admit)
{
	struct admit *a = calloc(1, sizeof(*a));

	if (!a)
		return ERR_NOMEM;
	a->limit = limit;
	a->per_address = per_address;
	pthread_mutex_init(&a->lock, NULL);
	i64map_init(&a->addresses, sizeof(unsigned));
	*ret_admit = a;
	return ERR_OK;
}

void admit_free(struct admit *a)
{
	if (!a)
		return;
	i64map_release(&a->addresses);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* The whole address, as libmicrohttpd's own per-IP limit counts it. */
static int64_t address_key(const struct sockaddr *sa)
{
	if (sa && sa->sa_family == AF_INET)
		return ratelimit_key('c', &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				     4);
	if (sa && sa->sa_family == AF_INET6)
		return ratelimit_key(
			'c', &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	return ratelimit_key('c', "", 0);
}

bool admit_take(struct admit *a, const struct sockaddr *addr, int64_t *ret_key)
{
	int64_t key = 0;

	/* Add first, then look: two daemons admitting at once cannot both
	 * take the last slot. */
	if (atomic_fetch_add(&a->open, 1) >= a->limit) {
		atomic_fetch_sub(&a->open, 1);
		return false;
	}
	if (a->per_address) {
		bool fresh;
		unsigned *n;
		key = address_key(addr);
		pthread_mutex_lock(&a->lock);
		n = i64map_put(&a->addresses, key, &fresh);
		if (!n || *n >= a->per_address) {
			pthread_mutex_unlock(&a->lock);
			atomic_fetch_sub(&a->open, 1);
			return false;
		}
		(*n)++;
		pthread_mutex_unlock(&a->lock);
	}
	*ret_key = key;
	return true;
}

void admit_put(struct admit *a, int64_t key)
{
	atomic_fetch_sub(&a->open, 1);
	if (!a->per_address || key <= 0)
		return;
	pthread_mutex_lock(&a->lock);
	unsigned *n = i64map_get(&a->addresses, key);
	if (n && --*n == 0)
		i64map_del(&a->addresses, key);
	pthread_mutex_unlock(&a->lock);
}
