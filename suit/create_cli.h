/* The options of `manifest create`, shared by suitd(8) (on the server, with
 * its configuration) and suitctl(1) (anywhere, with a profile's URL): one
 * getopt table, one parser, one builder, so both commands take the same
 * options and sign the same envelope. Messages go to stderr prefixed with
 * the program's name; functions return the process exit code (0, 1 error,
 * 2 usage). */
#ifndef SUITD_SUIT_CREATE_CLI_H
#define SUITD_SUIT_CREATE_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "suit/create.h"

/* What the caller knows that the options do not say. */
struct suit_create_env {
	const char *prog; /* "suitd", "suitctl": message prefix and usage */
	/* Default image URI: BASE/device/v1/payloads/HEX; NULL: --uri needed. */
	const char *payload_base;
	bool allow_external_uri; /* sign URIs that are not https:// with a host */
	uint64_t max_payload;	 /* bytes read from --payload */
	uint64_t max_manifest;	 /* bytes read from each --dependency */
};

struct suit_create_args {
	struct suit_create_options o;
	const char *payload_path, *out, *seq;
	const char *dep_paths[SUIT_CREATE_MAX_DEPENDENCIES];
	struct suit_create_dependency deps[SUIT_CREATE_MAX_DEPENDENCIES];
	char dep_uris[SUIT_CREATE_MAX_DEPENDENCIES][1200];
	unsigned dep_count;
	char uri[1200];
	char hex[65]; /* the image's SHA-256, once built */
	uint8_t *payload;
	size_t payload_len;
};

/* The long options (NULL-terminated; codes below 256) and the short ones. */
extern const struct option suit_create_longopts[];
#define SUIT_CREATE_LONGOPT_COUNT 14
#define SUIT_CREATE_SHORTOPTS	  "o:"

/* "usage: PROG manifest create ..." to stderr. */
void suit_create_usage(const char *prog);
/* One option from getopt_long: 0 taken, -1 not one of these, 2 usage error. */
int suit_create_args_option(struct suit_create_args *a, const char *prog, int c, const char *arg);
/* After the options: the required ones are there and --sequence is a
 * number (need_output: -o is required). 0 or 2 (usage printed). */
int suit_create_args_check(struct suit_create_args *a, const char *prog, bool need_output);
/* Read the payload and dependencies, complete the URIs, refuse unsignable
 * ones, sign: the envelope into *ret (malloc'ed). 0 or 1. */
int suit_create_args_build(struct suit_create_args *a, const struct suit_create_env *env,
			   uint8_t **ret, size_t *ret_len);
void suit_create_args_release(struct suit_create_args *a);
/* A whole regular file of at most max bytes into *ret (malloc'ed). 0 or 1. */
int suit_create_read_file(const char *prog, const char *path, uint64_t max, uint8_t **ret,
			  size_t *ret_len);
/* path.tmp, fsync, rename. 0 or 1. */
int suit_create_write(const char *prog, const char *path, const uint8_t *data, size_t len);
/* The whole command: parse argv (argv[0] is "create"), build, write -o. */
int suit_create_main(const struct suit_create_env *env, int argc, char **argv);

#endif
