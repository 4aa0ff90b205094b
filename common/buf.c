#include "common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void buf_clear(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static enum err buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return ERR_TOO_LARGE;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return ERR_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return ERR_OK;
}

enum err buf_append(struct buf *b, const void *data, size_t len)
{
	enum err e = buf_reserve(b, len);

	if (e)
		return e;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return ERR_OK;
}

enum err buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum err buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	enum err e;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return ERR_INTERNAL;
	e = buf_reserve(b, (size_t)n);
	if (e)
		return e;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return ERR_OK;
}

char *buf_take(struct buf *b, size_t *ret_len)
{
	char *p = b->data;

	if (ret_len)
		*ret_len = b->len;
	buf_init(b, b->max);
	return p;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}
