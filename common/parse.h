/* Strict unsigned decimals for headers, query parameters, config values and
 * command-line options: at least one digit first (no sign, no blanks), and
 * no value beyond UINT64_MAX. */
#ifndef SUITD_COMMON_PARSE_H
#define SUITD_COMMON_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* The number at the start of S (NULL: none); *REST points after its digits
 * (a unit suffix, say). */
bool parse_u64_prefix(const char *s, uint64_t *ret, const char **rest);
/* S is exactly such a number. */
bool parse_u64(const char *s, uint64_t *ret);

#endif
