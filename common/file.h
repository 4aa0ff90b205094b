/* Small whole files named by the configuration (PEM certificates and keys). */
#ifndef SUITD_COMMON_FILE_H
#define SUITD_COMMON_FILE_H

#include "common/error.h"

/* The regular file PATH, at most MAX bytes, as a NUL-terminated string in
 * *ret (the caller frees it). ERR_CONFIG when it cannot be opened, is not
 * a regular file or is larger; ERR_IO when reading fails. */
enum err file_read_text(const char *path, long max, char **ret, struct diag *d);

#endif
