/* [devices] client_ca: the file GnuTLS trusts for device certificates. */
#ifndef SUITD_CONFIG_CA_FILE_H
#define SUITD_CONFIG_CA_FILE_H

#include "common/error.h"

/* PATH is a PEM file of at most BOUND_PEM_FILE bytes whose blocks are all
 * certificates with basicConstraints CA:TRUE, at least one. A private key
 * anywhere in it, an end-entity certificate or another kind of block is
 * ERR_CONFIG with the reason in *d. */
enum err config_ca_file_check(const char *path, struct diag *d);

#endif
