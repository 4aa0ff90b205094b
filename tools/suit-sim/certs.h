/* suit-sim: the certificate folder (--certs DIR): a device per pair
 * DIR/DEVICE_ID.pem (its client certificate, PEM, optionally followed by
 * the intermediate CA certificates) and DIR/DEVICE_ID.key (its private key,
 * PEM, not encrypted), in the byte order of the names. Other files are
 * ignored; a .pem without its .key, or the other way round, is an error. */
#ifndef SUITD_TOOLS_SUIT_SIM_CERTS_H
#define SUITD_TOOLS_SUIT_SIM_CERTS_H

#include "tools/suit-sim/identity.h"

/* Append the folder's devices until ids holds want (0: all of them), each
 * certificate checked against its key. On failure the reason is printed on
 * stderr ("suit-sim: PATH: ...") and SIM_EXIT_USAGE returned. */
int sim_certs_load(struct sim_identities *ids, const char *dir, unsigned want);

#endif
