/* suit-sim: command-line options (man/suit-sim.1). */
#ifndef SUITD_TOOLS_SUIT_SIM_CLI_H
#define SUITD_TOOLS_SUIT_SIM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_EXIT_OK	   0
#define SIM_EXIT_ERRORS	   1
#define SIM_EXIT_USAGE	   2
#define SIM_MAX_ANCHORS	   8
#define SIM_DEFAULT_CHUNK  131072u
#define SIM_DEFAULT_CONCUR 256u

enum sim_report_format {
	SIM_REPORT_JSON,
	SIM_REPORT_SUIT,
};

/* What the devices speak: suitd's device API, or hawkBit DDI (ddi.h). */
enum sim_protocol {
	SIM_PROTOCOL_SUIT,
	SIM_PROTOCOL_DDI,
};

#define SIM_TENANT_MAX 64

struct sim_options {
	enum sim_protocol protocol;
	char tenant[SIM_TENANT_MAX + 1]; /* DDI: the tenant of the paths */
	char base_url[512];		 /* scheme://host[:port] of --url, checked loopback */
	const char *cacert;
	const char *anchors[SIM_MAX_ANCHORS];
	unsigned anchor_count;
	const char *tokens; /* NULL: none */
	const char *certs;  /* the certificate folder; NULL: none */
	const char *state;  /* the state file; NULL: none */
	unsigned devices;   /* 0: every device */
	uint64_t chunk;
	enum sim_report_format report;
	double fail_rate, silent_rate, corrupt_rate, crash_rate;
	double max_poll; /* seconds; 0: no cap */
	double duration; /* seconds; 0: none */
	bool until_done;
	unsigned concurrency;
	const char *summary; /* NULL: stdout */
	bool has_seed;
	uint64_t seed;
	bool quiet;
};

/* SIM_EXIT_OK: run with *o. -1: --help or --version was printed (exit 0).
 * SIM_EXIT_USAGE: the error was printed on stderr. */
int sim_options_parse(int argc, char **argv, struct sim_options *o);

/* Whether url is http(s) on a loopback host (127.0.0.0/8, ::1, localhost)
 * with no path, query or credentials; on success its origin goes to base,
 * otherwise why says what is wrong. */
bool sim_url_loopback(const char *url, char *base, size_t base_size, char *why, size_t why_size);

#endif
