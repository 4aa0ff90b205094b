/* A connection to PostgreSQL (issue 21): a libpq URL, the password from a
 * file or from libpq's own PGPASSFILE / PG* environment, statement_timeout
 * per connection. */
#ifndef SUITD_STORAGE_POSTGRESQL_PG_CONN_H
#define SUITD_STORAGE_POSTGRESQL_PG_CONN_H

#include <libpq-fe.h>
#include <stddef.h>

#include "common/error.h"

/* The longest password a password_file may hold (bytes, newline excluded). */
#define PG_PASSWORD_MAX 1024

struct pg_conn_options {
	/* A libpq connection string or URL (postgresql://user@host/db?sslmode=...);
	 * every libpq parameter passes through as it is. */
	const char *url;
	/* NULL: libpq finds the password itself (URL, PGPASSWORD, PGPASSFILE,
	 * ~/.pgpass). Else a file holding the password; it must not be group-
	 * or world-accessible. */
	const char *password_file;
	/* statement_timeout of the session in milliseconds (0: the server's). */
	unsigned statement_timeout_ms;
};

/* Read a password file: at most PG_PASSWORD_MAX bytes, one trailing "\n"
 * (or "\r\n") stripped, no NUL; ERR_CONFIG when the file is readable or
 * writable by group or others, ERR_IO when it cannot be read, ERR_TOO_LARGE
 * when it is longer. The password is never put into d. */
enum err pg_password_file_read(const char *path, char *ret_password, size_t size, struct diag *d);

/* Connect and set up the session; ERR_STORAGE_UNAVAILABLE when the server
 * does not answer, ERR_CONFIG for a bad URL or refused credentials (the
 * diagnostic never holds the URL, which may carry a password). */
enum err pg_conn_open(const struct pg_conn_options *opt, PGconn **ret_conn, struct diag *d);

#endif
