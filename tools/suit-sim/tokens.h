/* suit-sim: the tokens file, one simulated device a line: "DEVICE_ID TOKEN"
 * (blank lines and lines starting with # are skipped). */
#ifndef SUITD_TOOLS_SUIT_SIM_TOKENS_H
#define SUITD_TOOLS_SUIT_SIM_TOKENS_H

#define SIM_DEVICE_ID_MAX 128 /* as suitd's device ids */
#define SIM_TOKEN_MAX	  256 /* as suitd's bearer credentials */

struct sim_identity {
	char *id;
	char *token; /* sent as Authorization: Bearer */
};

/* The first `want` devices of the file (0: all; fewer is an error). On
 * failure the reason is printed on stderr ("suit-sim: FILE:LINE: ...") and
 * SIM_EXIT_USAGE returned. */
int sim_tokens_load(const char *path, unsigned want, struct sim_identity **ret,
		    unsigned *ret_count);
void sim_tokens_free(struct sim_identity *ids, unsigned count);

#endif
