/* Growable byte buffer with a hard maximum (curl's dynbuf): appending past the
 * maximum fails with ERR_TOO_LARGE instead of growing. The data is always
 * NUL-terminated so text can be used as a C string. */
#ifndef SUITD_COMMON_BUF_H
#define SUITD_COMMON_BUF_H

#include <stddef.h>

#include "common/error.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Keep the allocation, drop the contents. */
void buf_clear(struct buf *b);
enum err buf_append(struct buf *b, const void *data, size_t len);
enum err buf_append_str(struct buf *b, const char *s);
enum err buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data to the caller (NUL-terminated; NULL when empty) and reset. */
char *buf_take(struct buf *b, size_t *ret_len);
/* Never NULL. */
const char *buf_str(const struct buf *b);

#endif
