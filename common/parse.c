#include "common/parse.h"

#include <errno.h>
#include <stdlib.h>

bool parse_u64_prefix(const char *s, uint64_t *ret, const char **rest)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	*ret = v;
	*rest = end;
	return true;
}

bool parse_u64(const char *s, uint64_t *ret)
{
	const char *rest;
	uint64_t v;

	if (!parse_u64_prefix(s, &v, &rest) || *rest)
		return false;
	*ret = v;
	return true;
}
