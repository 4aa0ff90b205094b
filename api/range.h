/* HTTP Range header (RFC 9110 §14.1.2) for byte ranges. Pure parsing: no
 * I/O, no allocation, so it is unit-tested and fuzzed on its own. */
#ifndef SUITD_API_RANGE_H
#define SUITD_API_RANGE_H

#include <stdint.h>

/* More ranges than this in one header: the header is ignored (RFC 9110
 * allows it) and the whole representation is sent, so that a request with
 * thousands of tiny ranges costs no more than one download. */
#define RANGE_MAX 16

struct byte_range {
	uint64_t first;
	uint64_t last; /* inclusive */
};

enum range_result {
	RANGE_IGNORE,	     /* absent, malformed, other unit, too many: send 200 */
	RANGE_SATISFIABLE,   /* *ret_count >= 1 ranges, clipped to the size */
	RANGE_UNSATISFIABLE, /* well-formed but no range overlaps: send 416 */
};

enum range_result range_parse(const char *value, uint64_t size, struct byte_range *ret_ranges,
			      unsigned *ret_count);

#endif
