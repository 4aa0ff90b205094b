#include "common/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static bool parse_scaled(const char *value, const char *const *suffixes, const uint64_t *mult,
			 uint64_t *ret)
{
	const char *end;
	uint64_t v;

	if (!parse_u64_prefix(value, &v, &end))
		return false;
	if (*end == '\0') {
		*ret = v;
		return true;
	}
	for (size_t i = 0; suffixes[i]; i++) {
		if (strcmp(end, suffixes[i]) == 0) {
			if (v > UINT64_MAX / mult[i])
				return false;
			*ret = v * mult[i];
			return true;
		}
	}
	return false;
}

bool parse_size(const char *value, uint64_t *ret)
{
	static const char *const sfx[] = {"K", "KiB", "M", "MiB", "G", "GiB", "T", "TiB", NULL};
	static const uint64_t mul[] = {1ull << 10, 1ull << 10, 1ull << 20, 1ull << 20,
				       1ull << 30, 1ull << 30, 1ull << 40, 1ull << 40};
	return parse_scaled(value, sfx, mul, ret);
}

bool parse_duration(const char *value, uint64_t *ret)
{
	static const char *const sfx[] = {"s", "m", "h", NULL};
	static const uint64_t mul[] = {1, 60, 3600};
	return parse_scaled(value, sfx, mul, ret);
}
