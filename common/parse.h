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
/* Bytes: a number, or with K, M, G, T (or KiB …: powers of 1024). */
bool parse_size(const char *s, uint64_t *ret);
/* Seconds: a number, or with s, m, h. */
bool parse_duration(const char *s, uint64_t *ret);

#endif
