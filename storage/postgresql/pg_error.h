/* PostgreSQL errors in the project's terms (issue 21): SQLSTATE -> enum err.
 *
 *   08xxx (connection), 57P01 admin_shutdown, 57P02 crash_shutdown,
 *   57P03 cannot_connect_now, 53300 too_many_connections (max_connections
 *   or the role's CONNECTION LIMIT used up: slots free up as other clients
 *   leave), or a result without SQLSTATE on a broken
 *   connection  -> ERR_STORAGE_UNAVAILABLE (503 + Retry-After; reconnect)
 *   53200 out_of_memory               -> ERR_NOMEM (503 + Retry-After, type
 *         out-of-memory, as SQLite's NOMEM: the server's memory at that
 *         moment, not the request; pg_stmt.c's SQL_NOMEM says the same)
 *   53100 disk_full                   -> ERR_NO_SPACE (507, as SQLite's FULL):
 *         PostgreSQL's ENOSPC (and short writes) on a relation file. Not
 *         53000 insufficient_resources, which file access raises for
 *         ENFILE/EMFILE, nor XX000, which EFBIG (RLIMIT_FSIZE) and EDQUOT
 *         give: ERR_STORAGE (500), measured in docs/design.md.
 *   57014 query_canceled (statement_timeout) -> ERR_STORAGE_TIMEOUT (503)
 *   23505 unique_violation            -> ERR_EXISTS (409)
 *   23503 foreign_key_violation       -> ERR_CONFLICT (409: still referenced)
 *   40001 serialization_failure, 40P01 deadlock_detected -> ERR_BUSY
 *   28xxx (authentication)            -> ERR_CONFIG (the url or password)
 *   anything else                     -> ERR_STORAGE (500)
 *
 * ERR_BUSY is what SQLite's SQLITE_BUSY maps to: "retry". For PostgreSQL
 * the transaction was rolled back by the server, so a caller retries the
 * whole transaction from its BEGIN (not the statement), a bounded number of
 * times (pg_error_retryable() says which SQLSTATEs), and passes ERR_BUSY up
 * (503 with Retry-After) when the attempts are used up. */
#ifndef SUITD_STORAGE_POSTGRESQL_PG_ERROR_H
#define SUITD_STORAGE_POSTGRESQL_PG_ERROR_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "common/error.h"

/* The error for a SQLSTATE (5 characters; NULL or "" is ERR_STORAGE). */
enum err pg_error_from_sqlstate(const char *sqlstate);
/* Whether the SQLSTATE asks for the transaction to be run again. */
bool pg_error_retryable(const char *sqlstate);
/* ERR_OK for PGRES_COMMAND_OK, _TUPLES_OK (and the pipeline/copy states
 * that are not failures), else the mapped error with the server's primary
 * message in d (never the connection string or a password). A NULL result
 * or one without SQLSTATE on a connection that is gone is
 * ERR_STORAGE_UNAVAILABLE. */
enum err pg_error_result(PGconn *c, const PGresult *r, struct diag *d);

#endif
