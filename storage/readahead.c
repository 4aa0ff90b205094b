#include "storage/readahead.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define READAHEAD_THREADS_MAX 8u
/* Downloads with a read-ahead buffer at once (16 MiB): beyond them a
 * download reads in place, as before, rather than growing without bound
 * with [server] connection_limit. */
#define READAHEAD_BUFFERS_MAX 64u

struct readahead {
	struct storage *s;
	pthread_mutex_t lock; /* the queue and every cursor's state below */
	pthread_cond_t work;
	pthread_cond_t ready;		    /* every thread waits for work (start-up) */
	struct payload_cursor *head, *tail; /* reads to do, in order */
	unsigned buffers;
	unsigned idle, queued; /* threads waiting for work, reads waiting for a thread */
	uint64_t blocks;       /* reads served from a block read ahead */
	bool stopping;
	unsigned threads;
	pthread_t thread[READAHEAD_THREADS_MAX];
};

struct payload_cursor {
	struct readahead *ra; /* NULL: reads in place */
	struct storage *s;
	struct payload payload;
	/* Under ra->lock: */
	struct payload_cursor *next; /* in the queue */
	pthread_cond_t done;
	bool busy;   /* queued or being read: buf belongs to a worker */
	bool orphan; /* freed by its owner while busy: the worker frees it */
	uint64_t have_off, want_off;
	size_t have_len, want_len; /* have_len 0: nothing read ahead */
	char *buf;		   /* READAHEAD_BLOCK bytes, on the first read ahead */
};

/* Under ra->lock. */
static void cursor_release(struct payload_cursor *c)
{
	if (c->buf)
		c->ra->buffers--;
	pthread_cond_destroy(&c->done);
	free(c->buf);
	free(c);
}

static void *readahead_main(void *arg)
{
	struct readahead *ra = arg;

	pthread_mutex_lock(&ra->lock);
	for (;;) {
		struct payload_cursor *c;

		while (!ra->head && !ra->stopping) {
			if (++ra->idle == ra->threads)
				pthread_cond_signal(&ra->ready);
			pthread_cond_wait(&ra->work, &ra->lock);
			ra->idle--;
		}
		if (!(c = ra->head))
			break;
		ra->queued--;
		ra->head = c->next;
		if (!ra->head)
			ra->tail = NULL;
		pthread_mutex_unlock(&ra->lock);
		/* This thread's own connection: the owner's thread goes on
		 * sending the block before this one meanwhile. */
		enum err e =
			storage_payload_read(ra->s, &c->payload, c->want_off, c->buf, c->want_len);
		pthread_mutex_lock(&ra->lock);
		c->have_off = c->want_off;
		c->have_len = e ? 0 : c->want_len;
		c->busy = false;
		if (c->orphan)
			cursor_release(c);
		else
			pthread_cond_signal(&c->done);
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

enum err readahead_start(struct storage *s, unsigned threads, struct readahead **ret)
{
	struct readahead *ra = calloc(1, sizeof(*ra));

	if (!ra)
		return ERR_NOMEM;
	ra->s = s;
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->work, NULL);
	pthread_cond_init(&ra->ready, NULL);
	if (threads == 0)
		threads = 1;
	if (threads > READAHEAD_THREADS_MAX)
		threads = READAHEAD_THREADS_MAX;
	/* The threads count themselves idle against ra->threads: they wait
	 * for the lock until all are made. */
	pthread_mutex_lock(&ra->lock);
	for (; ra->threads < threads; ra->threads++)
		if (pthread_create(&ra->thread[ra->threads], NULL, readahead_main, ra) != 0)
			break;
	if (ra->threads < threads) {
		pthread_mutex_unlock(&ra->lock);
		readahead_stop(ra);
		return ERR_NOMEM;
	}
	/* Reads ahead start only on a free thread: the first download's too. */
	while (ra->idle < ra->threads)
		pthread_cond_wait(&ra->ready, &ra->lock);
	pthread_mutex_unlock(&ra->lock);
	*ret = ra;
	return ERR_OK;
}

void readahead_stop(struct readahead *ra)
{
	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ra->stopping = true;
	pthread_cond_broadcast(&ra->work);
	pthread_mutex_unlock(&ra->lock);
	for (unsigned i = 0; i < ra->threads; i++)
		pthread_join(ra->thread[i], NULL);
	pthread_cond_destroy(&ra->work);
	pthread_cond_destroy(&ra->ready);
	pthread_mutex_destroy(&ra->lock);
	free(ra);
}

enum err payload_cursor_new(struct readahead *ra, struct storage *s, const struct payload *p,
			    struct payload_cursor **ret)
{
	struct payload_cursor *c = calloc(1, sizeof(*c));

	if (!c)
		return ERR_NOMEM;
	c->ra = ra;
	c->s = s;
	c->payload = *p;
	pthread_cond_init(&c->done, NULL);
	*ret = c;
	return ERR_OK;
}

/* Queue the read of LEN bytes at OFFSET into the cursor's buffer, if a
 * thread is free to start it now and the cursor has a buffer or may get
 * one. A busy machine reads in place: when every thread is taken, the
 * daemon's threads have other downloads to send while they read, and the
 * copy out of the buffer would only add work. */
static void cursor_ahead(struct payload_cursor *c, uint64_t offset, size_t len)
{
	struct readahead *ra = c->ra;

	pthread_mutex_lock(&ra->lock);
	if (ra->stopping || ra->queued >= ra->idle) {
		pthread_mutex_unlock(&ra->lock);
		return;
	}
	if (!c->buf && ra->buffers < READAHEAD_BUFFERS_MAX && (c->buf = malloc(READAHEAD_BLOCK)))
		ra->buffers++;
	if (c->buf) {
		ra->queued++;
		c->want_off = offset;
		c->want_len = len;
		c->have_len = 0;
		c->busy = true;
		c->next = NULL;
		if (ra->tail)
			ra->tail->next = c;
		else
			ra->head = c;
		ra->tail = c;
		pthread_cond_signal(&ra->work);
	}
	pthread_mutex_unlock(&ra->lock);
}

enum err payload_cursor_read(struct payload_cursor *c, uint64_t offset, void *buf, size_t len,
			     uint64_t ahead_end)
{
	struct readahead *ra = c->ra;
	char *out = buf;
	size_t done = 0;
	enum err e;

	if (!ra)
		return storage_payload_read(c->s, &c->payload, offset, buf, len);
	pthread_mutex_lock(&ra->lock);
	while (c->busy)
		pthread_cond_wait(&c->done, &ra->lock);
	if (c->have_len && offset >= c->have_off && offset - c->have_off < c->have_len) {
		size_t from = (size_t)(offset - c->have_off);
		done = c->have_len - from < len ? c->have_len - from : len;
		memcpy(out, c->buf + from, done);
		ra->blocks++;
	}
	pthread_mutex_unlock(&ra->lock);
	/* Not read ahead (the first block, a jump, a failed read ahead). */
	if (done < len &&
	    (e = storage_payload_read(c->s, &c->payload, offset + done, out + done, len - done)))
		return e;
	uint64_t next = offset + len;
	if (ahead_end > c->payload.size)
		ahead_end = c->payload.size;
	if (next < ahead_end)
		cursor_ahead(c, next,
			     ahead_end - next < READAHEAD_BLOCK ? (size_t)(ahead_end - next)
								: READAHEAD_BLOCK);
	return ERR_OK;
}

uint64_t readahead_blocks(struct readahead *ra)
{
	uint64_t n;

	pthread_mutex_lock(&ra->lock);
	n = ra->blocks;
	pthread_mutex_unlock(&ra->lock);
	return n;
}

void payload_cursor_free(struct payload_cursor *c)
{
	struct readahead *ra;

	if (!c)
		return;
	if (!(ra = c->ra)) {
		pthread_cond_destroy(&c->done);
		free(c);
		return;
	}
	pthread_mutex_lock(&ra->lock);
	if (c->busy)
		c->orphan = true;
	else
		cursor_release(c);
	pthread_mutex_unlock(&ra->lock);
}
