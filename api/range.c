#include "api/range.h"

#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* 1*DIGIT without overflow; *p advanced past the digits. */
static bool parse_digits(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*ret = v;
	return true;
}

enum range_result range_parse(const char *value, uint64_t size, struct byte_range *ret_ranges,
			      unsigned *ret_count)
{
	const char *p = value;
	unsigned count = 0, specs = 0;

	if (!value || strncasecmp(p, "bytes=", 6) != 0)
		return RANGE_IGNORE;
	p += 6;
	for (;;) {
		uint64_t first = 0, last = UINT64_MAX;
		bool suffix = false;

		while (is_ows(*p))
			p++;
		if (*p == ',') { /* empty list elements are allowed */
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (*p == '-') {
			suffix = true;
			p++;
			if (!parse_digits(&p, &last))
				return RANGE_IGNORE;
		} else {
			if (!parse_digits(&p, &first) || *p++ != '-')
				return RANGE_IGNORE;
			if (*p >= '0' && *p <= '9') {
				if (!parse_digits(&p, &last) || last < first)
					return RANGE_IGNORE;
			}
		}
		while (is_ows(*p))
			p++;
		if (*p != ',' && *p != '\0')
			return RANGE_IGNORE;
		if (++specs > RANGE_MAX)
			return RANGE_IGNORE;
		/* Keep what overlaps the representation, clipped to it. */
		if (suffix) {
			if (last > 0 && size > 0) {
				ret_ranges[count].first = last >= size ? 0 : size - last;
				ret_ranges[count].last = size - 1;
				count++;
			}
		} else if (first < size) {
			ret_ranges[count].first = first;
			ret_ranges[count].last = last >= size ? size - 1 : last;
			count++;
		}
	}
	if (specs == 0)
		return RANGE_IGNORE;
	*ret_count = count;
	return count ? RANGE_SATISFIABLE : RANGE_UNSATISFIABLE;
}
