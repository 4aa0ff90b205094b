/* suit-sim: who the simulated devices are. A device proves its identity
 * with a bearer token, a line "DEVICE_ID TOKEN" of the tokens file (here),
 * or with a TLS client certificate, DIR/DEVICE_ID.pem and DIR/DEVICE_ID.key
 * of the certificate folder (certs.h). */
#ifndef SUITD_TOOLS_SUIT_SIM_IDENTITY_H
#define SUITD_TOOLS_SUIT_SIM_IDENTITY_H

#include <stdbool.h>

#define SIM_DEVICE_ID_MAX 128 /* as suitd's device ids */
#define SIM_TOKEN_MAX	  256 /* as suitd's bearer credentials */

struct sim_identity {
	char *id;
	char *token;	  /* sent as Authorization: Bearer; NULL with a certificate */
	char *cert, *key; /* PEM files of the client certificate; NULL with a token */
	unsigned line;	  /* of the tokens file; 0 for a certificate */
};

/* The fleet in order: the tokens file's devices, then the certificates'. */
struct sim_identities {
	struct sim_identity *v;
	unsigned count, alloc;
	const char *tokens; /* the tokens file, for messages */
};

/* Append the devices of the tokens file until ids holds want (0: all of
 * them). On failure the reason is printed on stderr ("suit-sim: FILE:LINE:
 * ...") and SIM_EXIT_USAGE returned. */
int sim_tokens_load(struct sim_identities *ids, const char *path, unsigned want);
/* A new identity at the end, every field zero; NULL when out of memory. */
struct sim_identity *sim_identities_add(struct sim_identities *ids);
/* SIM_EXIT_USAGE (printed) when two devices have the same id. */
int sim_identities_unique(const struct sim_identities *ids);
/* [A-Za-z0-9._:@-]{1,128}, as suitd's device ids. */
bool sim_device_id_valid(const char *id);
void sim_identities_release(struct sim_identities *ids);

#endif
